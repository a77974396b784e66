//! Whether the review can read a property's value: literals, references to resources and pseudo
//! parameters, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join` and `Fn::ImportValue` of a literal name are read as
//! they are; anything whose value only CloudFormation knows at deploy time (a template parameter, a
//! mapping, a condition, a dynamic reference, a transform) is refused, since the review would show a
//! permission that is not the one deployed.

use std::collections::BTreeSet;

use serde_json::Value;

/// Intrinsics the review reads: their result is visible in the template (`${X}` stands for a resource).
const READ: &[&str] = &["Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::ImportValue"];

/// The first dynamic reference (`{{resolve:...}}`) anywhere in `value`, in a literal or an `Fn::Sub` text.
fn dynamic_reference(value: &Value) -> Option<&str> {
    match value {
        Value::String(s) if s.contains("{{resolve:") => Some(s),
        Value::Array(items) => items.iter().find_map(dynamic_reference),
        Value::Object(map) => map.values().find_map(dynamic_reference),
        _ => None,
    }
}

/// Why an inert property's value is still refused, if it is: a dynamic reference or a function whose
/// result CloudFormation decides at deploy time (`Fn::If`, `Fn::FindInMap`, ...). An inert value
/// changes nothing the gates judge, but it must still be what the reviewer reads.
pub fn inert_unreadable(value: &Value) -> Option<String> {
    if let Some(s) = dynamic_reference(value) {
        return Some(format!("holds a dynamic reference ({s}), resolved only at deploy time"));
    }
    match value {
        Value::Array(items) => items.iter().find_map(inert_unreadable),
        Value::Object(map) => {
            if let Some(k) = map.keys().find(|k| k.starts_with("Fn::") && !READ.contains(&k.as_str())) {
                return Some(format!("uses {k}, whose value the review does not evaluate"));
            }
            map.values().find_map(inert_unreadable)
        }
        _ => None,
    }
}

/// Why `value` cannot be read, if it cannot. `parameters` are the template's parameter names.
pub fn unreadable(value: &Value, parameters: &BTreeSet<String>) -> Option<String> {
    if let Some(s) = dynamic_reference(value) {
        return Some(format!("holds a dynamic reference ({s}), resolved only at deploy time"));
    }
    match value {
        Value::Array(items) => items.iter().find_map(|v| unreadable(v, parameters)),
        Value::Object(map) if map.len() == 1 && map.keys().any(|k| k == "Ref" || k.starts_with("Fn::")) => {
            let (key, arg) = map.iter().next()?;
            if !READ.contains(&key.as_str()) {
                return Some(format!("uses {key}, whose value the review does not evaluate"));
            }
            match (key.as_str(), arg) {
                ("Ref", Value::String(name)) if parameters.contains(name) => {
                    Some(format!("refers to the template parameter {name}, whose value the review cannot see"))
                }
                ("Ref", Value::String(_)) => None,
                ("Fn::ImportValue", Value::String(_)) => None,
                ("Fn::Sub", Value::String(text)) => sub_variables(text, parameters, &BTreeSet::new()),
                ("Fn::Sub", Value::Array(parts)) if parts.len() == 2 => {
                    let local: BTreeSet<String> =
                        parts[1].as_object().into_iter().flatten().map(|(k, _)| k.clone()).collect();
                    let text = parts[0].as_str().unwrap_or_default();
                    unreadable(&parts[1], parameters).or_else(|| sub_variables(text, parameters, &local))
                }
                ("Fn::GetAtt" | "Fn::Join", arg) => unreadable(arg, parameters),
                _ => Some(format!("uses {key} in a form the review does not read")),
            }
        }
        Value::Object(map) => {
            if let Some(k) = map.keys().find(|k| k.starts_with("Fn::")) {
                return Some(format!("uses {k}, whose value the review does not evaluate"));
            }
            map.values().find_map(|v| unreadable(v, parameters))
        }
        _ => None,
    }
}

/// Why an `Fn::Sub` text cannot be read: a `${Name}` that is a template parameter.
fn sub_variables(text: &str, parameters: &BTreeSet<String>, local: &BTreeSet<String>) -> Option<String> {
    text.split("${").skip(1).filter(|v| !v.starts_with('!')).find_map(|v| {
        let name = v.split('}').next().unwrap_or_default();
        (parameters.contains(name) && !local.contains(name))
            .then(|| format!("substitutes the template parameter {name}, whose value the review cannot see"))
    })
}

/// The keys IAM reads in a policy document and in a statement, spelled as IAM spells them.
const DOCUMENT_KEYS: &[&str] = &["Id", "Statement", "Version"];
const STATEMENT_KEYS: &[&str] =
    &["Action", "Condition", "Effect", "NotAction", "NotPrincipal", "NotResource", "Principal", "Resource", "Sid"];
const PRINCIPAL_KEYS: &[&str] = &["AWS", "CanonicalUser", "Federated", "Service"];

/// Why a policy document cannot be read row by row, if it cannot: given as a JSON string, its
/// statements are not objects, or a key is not one IAM reads as spelled (`effect`, `Actions`): such a
/// key would be skipped by the review while IAM rejects or reads it otherwise, so it is refused.
pub fn policy(doc: &Value) -> Option<String> {
    let statements: Vec<&Value> = match doc {
        Value::Null => return None,
        Value::String(_) => return Some("is a policy given as a JSON string; write it as an object".to_owned()),
        Value::Object(map) => {
            if let Some(k) = map.keys().find(|k| !DOCUMENT_KEYS.contains(&k.as_str())) {
                return Some(format!(
                    "has the key {k:?}, which is not a policy document key ({})",
                    DOCUMENT_KEYS.join(", ")
                ));
            }
            match map.get("Statement") {
                None | Some(Value::Null) => return None,
                Some(Value::Array(items)) if items.iter().all(Value::is_object) => items.iter().collect(),
                Some(one @ Value::Object(m)) if !m.keys().any(|k| k.starts_with("Fn::")) => vec![one],
                Some(_) => return Some("has a Statement the review cannot read as a list of statements".to_owned()),
            }
        }
        _ => return Some("is not a policy document".to_owned()),
    };
    statements.into_iter().find_map(statement)
}

fn statement(s: &Value) -> Option<String> {
    let map = s.as_object()?;
    if let Some(k) = map.keys().find(|k| !STATEMENT_KEYS.contains(&k.as_str())) {
        return Some(format!(
            "has a statement with the key {k:?}, which is not a statement key ({})",
            STATEMENT_KEYS.join(", ")
        ));
    }
    if !matches!(map.get("Effect").and_then(Value::as_str), Some("Allow" | "Deny")) {
        return Some(format!(
            "has a statement whose Effect is {}, not \"Allow\" or \"Deny\"",
            map.get("Effect").unwrap_or(&Value::Null)
        ));
    }
    for key in ["Principal", "NotPrincipal"] {
        match map.get(key) {
            None => {}
            Some(Value::String(s)) if s == "*" => {}
            Some(Value::Object(p)) => {
                if let Some(k) = p.keys().find(|k| !PRINCIPAL_KEYS.contains(&k.as_str())) {
                    return Some(format!(
                        "has a {key} of type {k:?}, which is not a principal type ({})",
                        PRINCIPAL_KEYS.join(", ")
                    ));
                }
            }
            Some(other) => {
                return Some(format!("has a {key} {other} that is neither \"*\" nor a map of principal types"));
            }
        }
    }
    if let Some(c) = map.get("Condition") {
        let well_formed = c.as_object().is_some_and(|ops| ops.values().all(Value::is_object));
        if !well_formed {
            return Some(format!("has a Condition {c} that is not a map of operators to keys"));
        }
    }
    None
}

/// Whether a transform (`Fn::Transform`, e.g. `AWS::Include`) appears anywhere in `value`: it rewrites the
/// template after the review read it.
pub fn has_transform(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| k == "Fn::Transform" || has_transform(v)),
        Value::Array(items) => items.iter().any(has_transform),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn what_the_template_shows_is_read_and_what_only_deploy_knows_is_not() {
        let params: BTreeSet<String> = ["Who".to_owned()].into();
        for ok in [
            json!("arn:aws:s3:::b"),
            json!({"Ref": "Role"}),
            json!({"Fn::GetAtt": ["Role", "Arn"]}),
            json!({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/x"}),
            json!({"Fn::Sub": ["arn:${X}", {"X": "y"}]}),
            json!({"Fn::ImportValue": "auth-dev-table-arn"}),
            json!({"Fn::Join": ["", ["a", {"Ref": "B"}]]}),
            json!({"Statement": [{"Effect": "Allow"}]}),
        ] {
            assert_eq!(unreadable(&ok, &params), None, "{ok}");
        }
        for (bad, why) in [
            (json!({"Fn::If": ["C", "a", "b"]}), "Fn::If"),
            (json!({"Fn::FindInMap": ["M", "a", "b"]}), "Fn::FindInMap"),
            (json!({"Ref": "Who"}), "template parameter Who"),
            (json!({"Fn::Sub": "arn:aws:iam::1:role/${Who}"}), "template parameter Who"),
            (json!({"Fn::ImportValue": {"Ref": "Who"}}), "form the review does not read"),
            (json!("{{resolve:ssm:/role}}"), "dynamic reference"),
            (json!({"Statement": [{"Fn::If": ["C", {}, {}]}]}), "Fn::If"),
            (json!({"Statement": {"Fn::If": ["C", [], []]}, "Version": "2012-10-17"}), "Fn::If"),
        ] {
            let got = unreadable(&bad, &params).unwrap_or_default();
            assert!(got.contains(why), "{bad}: {got}");
        }
    }

    #[test]
    fn policies_are_objects_of_statement_objects() {
        assert!(policy(&json!("{\"Statement\": []}")).is_some_and(|w| w.contains("JSON string")));
        assert!(policy(&json!({"Statement": [{"Effect": "Allow"}]})).is_none());
        assert!(policy(&json!({"Statement": "x"})).is_some());
        assert!(has_transform(&json!({"A": [{"Fn::Transform": {"Name": "AWS::Include"}}]})));
        assert!(!has_transform(&json!({"A": [{"Ref": "x"}]})));
    }
}
