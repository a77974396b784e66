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
        let resources: Vec<String> = if !implied_resource.is_empty() {
            vec![implied_resource.to_owned()]
        } else if statement.get("Resource").is_none() && statement.get("NotResource").is_none() {
            vec![String::new()]
        } else {
            negatable(statement, "Resource")
        };
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

/// `{"Service": ...}` / `{"AWS": ...}` (a value or a list) as display strings.
pub fn principals(p: &Value) -> Vec<String> {
    match p {
        Value::Object(m) => m.values().flat_map(list).collect(),
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

fn condition_text(c: &Value) -> String {
    let mut parts = Vec::new();
    for (operator, keys) in c.as_object().into_iter().flatten() {
        for (key, values) in keys.as_object().into_iter().flatten() {
            parts.push(format!("{operator} {key} = {}", list(values).join(", ")));
        }
    }
    parts.join("; ")
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
