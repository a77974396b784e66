//! Values read as CloudFormation reads them. An intrinsic whose result is a literal (`Fn::Sub` with no
//! variable, `Fn::Join` or `Fn::Select` of literals) is folded into that literal before anything is
//! judged, and scalars are coerced the way CloudFormation coerces them (`"true"` is a boolean, `"35"`
//! a number). What cannot be folded to a literal stays an intrinsic, and a judged scalar that is still
//! one is refused ([`scalar_problem`]): the review never guesses what CloudFormation will compute.

use serde_json::{Map, Value};

/// `value` with every intrinsic whose result is a literal replaced by that literal, recursively.
pub fn fold(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(fold).collect()),
        Value::Object(map) => {
            let folded: Map<String, Value> = map.iter().map(|(k, v)| (k.clone(), fold(v))).collect();
            if folded.len() == 1 {
                let (key, arg) = folded.iter().next().map(|(k, v)| (k.as_str(), v)).unwrap_or(("", &Value::Null));
                if let Some(literal) = literal_result(key, arg) {
                    return literal;
                }
            }
            Value::Object(folded)
        }
        other => other.clone(),
    }
}

/// The literal an intrinsic evaluates to, when its arguments (already folded) are literals.
fn literal_result(key: &str, arg: &Value) -> Option<Value> {
    match (key, arg) {
        ("Fn::Sub", Value::String(text)) => substitute(text, &Map::new()).map(Value::String),
        ("Fn::Sub", Value::Array(parts)) if parts.len() == 2 => {
            let vars = parts[1].as_object()?;
            if vars.values().any(|v| !v.is_string()) {
                return None;
            }
            substitute(parts[0].as_str()?, vars).map(Value::String)
        }
        ("Fn::Join", Value::Array(parts)) if parts.len() == 2 => {
            let separator = parts[0].as_str()?;
            let items = parts[1].as_array()?;
            let texts: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
            Some(Value::String(texts?.join(separator)))
        }
        ("Fn::Select", Value::Array(parts)) if parts.len() == 2 => {
            let index = whole(&parts[0])?;
            let item = parts[1].as_array()?.get(usize::try_from(index).ok()?)?;
            (!is_intrinsic(item)).then(|| item.clone())
        }
        _ => None,
    }
}

/// An `Fn::Sub` text with `vars` substituted, when every `${...}` in it is one of `vars` or a literal
/// `${!...}`; `None` when it names anything else (a resource, a parameter, a pseudo parameter).
fn substitute(text: &str, vars: &Map<String, Value>) -> Option<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}')?;
        let name = &after[..end];
        if let Some(literal) = name.strip_prefix('!') {
            out.push_str("${");
            out.push_str(literal);
            out.push('}');
        } else {
            out.push_str(vars.get(name)?.as_str()?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

/// `value` with every object's keys in sorted order, so that the same content serializes alike whatever
/// order it was written in (with serde_json's `preserve_order`, maps keep their input order).
pub fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&m[k]))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Whether `value` is an intrinsic function (`Ref` or `Fn::...`), a value only CloudFormation computes.
pub fn is_intrinsic(value: &Value) -> bool {
    matches!(value, Value::Object(m) if m.len() == 1 && m.keys().any(|k| k == "Ref" || k.starts_with("Fn::")))
}

/// A boolean as CloudFormation takes it: `true`, or the string `"true"` in any case.
pub fn flag(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A whole number as CloudFormation takes it: a non-negative integer, or a string of decimal digits.
/// Anything looser (a sign, spaces, an exponent) is not taken, so it is refused rather than guessed.
pub fn whole(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        _ => None,
    }
}

/// A number as CloudFormation takes it: a finite, non-negative number, or a string of digits with at
/// most one decimal point.
pub fn number(value: &Value) -> Option<f64> {
    let n = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s)
            if !s.is_empty()
                && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && s.bytes().filter(|b| *b == b'.').count() <= 1
                && s.bytes().any(|b| b.is_ascii_digit()) =>
        {
            s.parse().ok()?
        }
        _ => return None,
    };
    (n.is_finite() && n >= 0.0).then_some(n)
}

/// What a judged scalar must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Whole,
    Number,
    Text,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Bool => "a boolean (true or false)",
            Kind::Whole => "a whole number",
            Kind::Number => "a number",
            Kind::Text => "a literal string",
        }
    }

    /// Whether `value` (folded) is read as this kind.
    pub fn reads(self, value: &Value) -> bool {
        match self {
            Kind::Bool => flag(value).is_some(),
            Kind::Whole => whole(value).is_some(),
            Kind::Number => number(value).is_some(),
            Kind::Text => value.is_string() && !value.as_str().is_some_and(|s| s.contains("{{resolve:")),
        }
    }
}

/// Every scalar a gate judges, by type and path below `Properties` (`*` stands for each item of a
/// list): each must be a literal of its kind once folded, or the resource is refused, whatever the flags.
/// A boolean given as an intrinsic the review cannot evaluate must not read as "not set".
pub const SCALARS: &[(&str, &str, Kind)] = &[
    ("AWS::ApiGateway::Authorizer", "AuthorizerResultTtlInSeconds", Kind::Whole),
    ("AWS::ApiGateway::Method", "ApiKeyRequired", Kind::Bool),
    ("AWS::ApiGateway::Method", "AuthorizationType", Kind::Text),
    ("AWS::ApiGateway::RestApi", "DisableExecuteApiEndpoint", Kind::Bool),
    ("AWS::ApiGateway::Stage", "MethodSettings.*.DataTraceEnabled", Kind::Bool),
    ("AWS::ApiGateway::Stage", "MethodSettings.*.HttpMethod", Kind::Text),
    ("AWS::ApiGateway::Stage", "MethodSettings.*.LoggingLevel", Kind::Text),
    ("AWS::ApiGateway::Stage", "MethodSettings.*.MetricsEnabled", Kind::Bool),
    ("AWS::ApiGateway::Stage", "MethodSettings.*.ResourcePath", Kind::Text),
    ("AWS::ApiGateway::Stage", "MethodSettings.*.ThrottlingBurstLimit", Kind::Whole),
    ("AWS::ApiGateway::Stage", "MethodSettings.*.ThrottlingRateLimit", Kind::Number),
    ("AWS::ApiGateway::Stage", "TracingEnabled", Kind::Bool),
    ("AWS::CodeBuild::Project", "Environment.PrivilegedMode", Kind::Bool),
    ("AWS::CodeBuild::Project", "Visibility", Kind::Text),
    ("AWS::DynamoDB::Table", "DeletionProtectionEnabled", Kind::Bool),
    ("AWS::DynamoDB::Table", "PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled", Kind::Bool),
    ("AWS::DynamoDB::Table", "PointInTimeRecoverySpecification.RecoveryPeriodInDays", Kind::Whole),
    ("AWS::DynamoDB::Table", "TimeToLiveSpecification.AttributeName", Kind::Text),
    ("AWS::DynamoDB::Table", "TimeToLiveSpecification.Enabled", Kind::Bool),
    ("AWS::KMS::Key", "BypassPolicyLockoutSafetyCheck", Kind::Bool),
    ("AWS::KMS::Key", "EnableKeyRotation", Kind::Bool),
    ("AWS::KMS::Key", "Enabled", Kind::Bool),
    ("AWS::KMS::Key", "PendingWindowInDays", Kind::Whole),
    ("AWS::KMS::Key", "RotationPeriodInDays", Kind::Whole),
    ("AWS::Lambda::Function", "LoggingConfig.ApplicationLogLevel", Kind::Text),
    ("AWS::Lambda::Function", "LoggingConfig.LogFormat", Kind::Text),
    ("AWS::Logs::LogGroup", "BearerTokenAuthenticationEnabled", Kind::Bool),
    ("AWS::Logs::LogGroup", "DeletionProtectionEnabled", Kind::Bool),
    ("AWS::Logs::LogGroup", "RetentionInDays", Kind::Whole),
    ("AWS::SecretsManager::ResourcePolicy", "BlockPublicPolicy", Kind::Bool),
    ("AWS::WAFv2::WebACL", "Rules.*.Name", Kind::Text),
    ("AWS::WAFv2::WebACL", "Rules.*.Priority", Kind::Whole),
    ("AWS::WAFv2::WebACL", "Rules.*.Statement.RateBasedStatement.EvaluationWindowSec", Kind::Whole),
    ("AWS::WAFv2::WebACL", "Rules.*.Statement.RateBasedStatement.Limit", Kind::Whole),
    ("AWS::WAFv2::WebACL", "VisibilityConfig.CloudWatchMetricsEnabled", Kind::Bool),
    ("AWS::WAFv2::WebACL", "VisibilityConfig.SampledRequestsEnabled", Kind::Bool),
];

/// Every value at `path` (dotted, `*` for each item of a list) below `value`, with its concrete path.
pub fn at_path<'a>(value: &'a Value, path: &str) -> Vec<(String, &'a Value)> {
    let mut found = vec![(String::new(), value)];
    for part in path.split('.') {
        let mut next = Vec::new();
        for (at, v) in found {
            let join = |p: &str| if at.is_empty() { p.to_owned() } else { format!("{at}.{p}") };
            if part == "*" {
                for (i, item) in v.as_array().into_iter().flatten().enumerate() {
                    next.push((join(&i.to_string()), item));
                }
            } else if let Some(child) = v.get(part).filter(|c| !c.is_null()) {
                next.push((join(part), child));
            }
        }
        found = next;
    }
    found
}

/// Why a judged scalar of a resource of type `kind` (its properties folded) cannot be read, if one cannot.
pub fn scalar_problem(kind: &str, properties: &Value) -> Option<String> {
    for (_, path, want) in SCALARS.iter().filter(|(t, _, _)| *t == kind) {
        for (at, v) in at_path(properties, path) {
            if !want.reads(v) {
                return Some(format!(
                    "{at} is {v}, which the review cannot read as {}; write the literal value, as CloudFormation \
                     would evaluate it",
                    want.name()
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn intrinsics_with_a_literal_result_are_folded() {
        assert_eq!(fold(&json!({"Fn::Sub": "true"})), json!("true"));
        assert_eq!(fold(&json!({"Fn::Sub": ["${A}-${!B}", {"A": "x"}]})), json!("x-${B}"));
        assert_eq!(fold(&json!({"Fn::Join": ["", ["fal", {"Fn::Sub": "se"}]]})), json!("false"));
        assert_eq!(fold(&json!({"Fn::Select": ["1", ["a", "7"]]})), json!("7"));
        assert_eq!(fold(&json!({"X": [{"Fn::Sub": "1"}]})), json!({"X": ["1"]}));
        // What only CloudFormation knows stays as written.
        for kept in [
            json!({"Fn::Sub": "arn:${AWS::Partition}:x"}),
            json!({"Fn::Join": ["", ["a", {"Ref": "B"}]]}),
            json!({"Fn::If": ["C", "true", "false"]}),
            json!({"Fn::Sub": ["${A}", {"A": {"Ref": "B"}}]}),
        ] {
            assert_eq!(fold(&kept), kept);
        }
    }

    #[test]
    fn scalars_are_coerced_as_cloudformation_does_and_nothing_looser() {
        assert_eq!(flag(&fold(&json!({"Fn::Sub": "TRUE"}))), Some(true));
        assert_eq!(flag(&json!("no")), None);
        assert_eq!(whole(&fold(&json!({"Fn::Sub": "35"}))), Some(35));
        for loose in [json!(" 1"), json!("-1"), json!("1e3"), json!(1.5), json!("")] {
            assert_eq!(whole(&loose), None, "{loose}");
        }
        assert_eq!(number(&json!("500.5")), Some(500.5));
        assert_eq!(number(&json!("1.2.3")), None);
        assert_eq!(number(&json!(-1)), None);
    }

    #[test]
    fn a_judged_scalar_that_is_not_a_literal_is_named() {
        let table = |ttl: Value| json!({"TimeToLiveSpecification": {"Enabled": ttl, "AttributeName": "t"}});
        assert_eq!(scalar_problem("AWS::DynamoDB::Table", &fold(&table(json!({"Fn::Sub": "true"})))), None);
        let why =
            scalar_problem("AWS::DynamoDB::Table", &table(json!({"Fn::If": ["C", true, false]}))).unwrap_or_default();
        assert!(why.starts_with("TimeToLiveSpecification.Enabled is {\"Fn::If\""), "{why}");
        let rules = json!({"Rules": [{"Name": "a", "Priority": 0}, {"Name": "b", "Priority": {"Ref": "P"}}]});
        assert!(scalar_problem("AWS::WAFv2::WebACL", &rules).is_some_and(|w| w.starts_with("Rules.1.Priority")));
    }
}
