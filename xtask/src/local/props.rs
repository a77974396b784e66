//! Reading a synthesized template's resources as JSON: what `template` and `waf` both take from it.

use serde_json::Value;

/// What a missing property reads as.
pub(super) static EMPTY: Value = Value::Null;

/// A resource's `Properties`, or null.
pub(super) fn props(resource: &Value) -> &Value {
    resource.get("Properties").unwrap_or(&EMPTY)
}

pub(super) fn str_prop<'a>(props: &'a Value, key: &str) -> Option<&'a str> {
    props.get(key).and_then(Value::as_str)
}

/// A number as CloudFormation takes one: a JSON number or a string of digits.
pub(super) fn number(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}
