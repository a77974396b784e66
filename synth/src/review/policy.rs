//! Policy documents read row by row: statements, negated lists as one value, principals, conditions.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Effect, Row, display};

/// The statements of a policy document: its `Statement` list, or the one statement it holds.
pub fn statements_of(doc: &Value) -> Vec<&Value> {
    match &doc["Statement"] {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        one => vec![one],
    }
}

/// Adds a row per principal, action and resource of each statement. Identity policies have no
/// principal in their statements (`principal` names the role); `*` in a key or secret policy means
/// that resource itself and trust policies have no resource, so `implied_resource` names it.
pub(super) fn statements(
    rows: &mut Vec<Row>,
    doc: &Value,
    principal: Option<&str>,
    implied_resource: &str,
    granted_by: &str,
) {
    for statement in statements_of(doc) {
        let effect = if statement["Effect"] == "Deny" { Effect::Deny } else { Effect::Allow };
        let who: Vec<String> = match (principal, &statement["NotPrincipal"]) {
            (Some(p), _) => vec![p.to_owned()],
            (None, Value::Null) => principals(&statement["Principal"]),
            (None, not) => vec![negation(principals(not))],
        };
        let actions = negatable(statement, "Action");
        let resources = resources_of(statement, implied_resource);
        let condition = condition_text(&statement["Condition"]);
        for who in &who {
            for action in &actions {
                for resource in &resources {
                    rows.push(Row {
                        principal: who.clone(),
                        effect,
                        action: action.clone(),
                        resource: resource.clone(),
                        condition: condition.clone(),
                        granted_by: granted_by.to_owned(),
                    });
                }
            }
        }
    }
}

/// What a statement's `Resource` or `NotResource` covers, as IAM reads it. In a key or secret policy
/// (`implied` names that key or secret) `*` means the resource itself, and any other value is shown as
/// written: a statement pointed at another ARN, or a `NotResource`, no longer covers its own resource,
/// and the changed row says so. A trust policy has no resource: `implied` is the role.
fn resources_of(statement: &Value, implied: &str) -> Vec<String> {
    if statement.get("Resource").is_none() && statement.get("NotResource").is_none() {
        return vec![implied.to_owned()];
    }
    let mut out = negatable(statement, "Resource");
    if !implied.is_empty() {
        for r in &mut out {
            if r == "*" {
                implied.clone_into(r);
            }
        }
    }
    out
}

/// The values of `Action` (or `Resource`), or `NotAction` as one value `NOT a, b`: the complement of
/// the whole list, compared as a set (an Allow of everything but one action is as broad as it gets and
/// must read so; shortening the list widens it).
fn negatable(statement: &Value, key: &str) -> Vec<String> {
    match &statement[format!("Not{key}").as_str()] {
        Value::Null => list(&statement[key]),
        not => vec![negation(list(not))],
    }
}

/// `NOT a, b` for a negated list, its members sorted so that the same set reads the same.
fn negation(mut members: Vec<String>) -> String {
    members.sort();
    members.dedup();
    format!("{NOT}{}", members.join(", "))
}

/// The prefix of a negated list's value in a row.
pub const NOT: &str = "NOT ";

/// The members of a row's value: `Some` of the set for a negated list (`NOT a, b`), `None` for a plain one.
pub fn negated(value: &str) -> Option<BTreeSet<&str>> {
    value.strip_prefix(NOT).map(|rest| rest.split(", ").collect())
}

/// `{"AWS": ...}` / `{"Service": ...}` (a value or a list) as display strings, each typed: an `AWS`
/// principal as written (`*` for anyone, `{"AWS": "*"}` alike), any other type prefixed with it
/// (`Service:lambda.amazonaws.com`), so that a service and an account of the same name never read alike.
pub fn principals(p: &Value) -> Vec<String> {
    match p {
        Value::Object(m) => m
            .iter()
            .flat_map(|(kind, values)| {
                list(values).into_iter().map(move |v| if kind == "AWS" { v } else { format!("{kind}:{v}") })
            })
            .collect(),
        other => list(other),
    }
}

/// A value that may be one item or a list of them.
pub(crate) fn list(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().map(display).collect(),
        Value::Null => Vec::new(),
        one => vec![display(one)],
    }
}

/// A statement's condition on one line. One value is shown as it is, several as `[a, b]`, and a value
/// that holds a separator or bracket is quoted, so that `"a, b"` and `["a", "b"]` never read alike.
fn condition_text(c: &Value) -> String {
    let mut parts = Vec::new();
    for (operator, keys) in c.as_object().into_iter().flatten() {
        for (key, values) in keys.as_object().into_iter().flatten() {
            let shown: Vec<String> = list(values)
                .into_iter()
                .map(|v| if needs_quotes(&v) { Value::String(v).to_string() } else { v })
                .collect();
            let value =
                if values.is_array() && shown.len() != 1 { format!("[{}]", shown.join(", ")) } else { shown.concat() };
            let key = if needs_quotes(key) { Value::String(key.clone()).to_string() } else { key.clone() };
            parts.push(format!("{operator} {key} = {value}"));
        }
    }
    parts.join("; ")
}

/// Whether a condition key or value must be quoted to read unambiguously: it holds a separator, a
/// bracket, a quote, `=` or a space, or is empty.
fn needs_quotes(v: &str) -> bool {
    v.is_empty() || v.contains([',', '[', ']', '"', ';', '=', ' '])
}

/// IAM's matching: `*` is any run of characters, `?` any one; case-sensitive.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}
