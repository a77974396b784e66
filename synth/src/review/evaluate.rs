//! IAM's decision for one request, over identity policies and an optional permissions boundary, as
//! AWS's policy evaluation logic states it: an explicit `Deny` anywhere wins; otherwise the request is
//! allowed only if an identity policy allows it and, when the principal has a boundary, the boundary
//! allows it too.
//!
//! It reads resolved policy documents (no intrinsics left) and knows the condition operators this
//! project writes and their negations, `IfExists`, `ForAnyValue:` and `ForAllValues:`. An operator it
//! does not know makes its statement not match, which for an `Allow` refuses and for a `Deny` would
//! allow: so it is used to show what a role may not do only with policies it fully reads, which the
//! tests check ([`unknown_operators`]). It answers what a role may do; the pipeline's tests ask it
//! what each role can reach.

use std::collections::BTreeMap;

use serde_json::Value;

use super::policy::{statements_of, wildcard};

/// One request: an action on a resource, with the request's condition keys and their values.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub action: String,
    pub resource: String,
    pub context: BTreeMap<String, Vec<String>>,
}

impl Request {
    pub fn new(action: &str, resource: &str) -> Request {
        Request { action: action.to_owned(), resource: resource.to_owned(), context: BTreeMap::new() }
    }

    /// The request with condition key `key` set to `value`.
    pub fn with(mut self, key: &str, value: &str) -> Request {
        self.context.entry(key.to_owned()).or_default().push(value.to_owned());
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// No statement allows it (or the boundary does not).
    ImplicitDeny,
    /// A `Deny` statement matches.
    ExplicitDeny,
}

/// IAM's answer for `request` made by a principal with `policies`, capped by `boundary` if any.
pub fn decide(policies: &[&Value], boundary: Option<&Value>, request: &Request) -> Decision {
    let all = policies.iter().copied().chain(boundary);
    if all.clone().any(|p| matches(p, "Deny", request)) {
        return Decision::ExplicitDeny;
    }
    let allowed = policies.iter().any(|p| matches(p, "Allow", request));
    let within = boundary.is_none_or(|b| matches(b, "Allow", request));
    if allowed && within { Decision::Allowed } else { Decision::ImplicitDeny }
}

/// The condition operators of `policies` that [`decide`] does not evaluate.
pub fn unknown_operators(policy: &Value) -> Vec<String> {
    statements_of(policy)
        .into_iter()
        .flat_map(|s| s["Condition"].as_object().into_iter().flatten().map(|(op, _)| op.clone()))
        .filter(|op| operator(op).is_none())
        .collect()
}

fn matches(policy: &Value, effect: &str, request: &Request) -> bool {
    statements_of(policy).into_iter().any(|s| s["Effect"] == effect && statement_matches(s, request))
}

fn statement_matches(s: &Value, request: &Request) -> bool {
    // Actions are case-insensitive; resources are not.
    let action = |pattern: &str| wildcard(&pattern.to_ascii_lowercase(), &request.action.to_ascii_lowercase());
    let action_ok = match (&s["Action"], &s["NotAction"]) {
        (Value::Null, not) if !not.is_null() => !strings(not).iter().any(|p| action(p)),
        (a, _) => strings(a).iter().any(|p| action(p)),
    };
    let resource_ok = match (&s["Resource"], &s["NotResource"]) {
        (Value::Null, not) if !not.is_null() => !strings(not).iter().any(|p| wildcard(p, &request.resource)),
        (r, _) => strings(r).iter().any(|p| wildcard(p, &request.resource)),
    };
    action_ok && resource_ok && conditions_hold(&s["Condition"], &request.context)
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Bool(b) => vec![b.to_string()],
        Value::Number(n) => vec![n.to_string()],
        _ => Vec::new(),
    }
}

/// How an operator compares one request value with one policy value, and whether it is negated.
#[derive(Debug, Clone, Copy)]
struct Operator {
    compare: fn(&str, &str) -> bool,
    negated: bool,
}

fn operator(name: &str) -> Option<(Operator, Set, bool)> {
    let (set, rest) = match name.split_once(':') {
        Some(("ForAnyValue", rest)) => (Set::Any, rest),
        Some(("ForAllValues", rest)) => (Set::All, rest),
        Some(_) => return None,
        None => (Set::Single, name),
    };
    let (base, if_exists) = match rest.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (rest, false),
    };
    let equals: fn(&str, &str) -> bool = |value, pattern| value == pattern;
    let ignore_case: fn(&str, &str) -> bool = |value, pattern| value.eq_ignore_ascii_case(pattern);
    let like: fn(&str, &str) -> bool = |value, pattern| wildcard(pattern, value);
    let op = |compare, negated| Some(Operator { compare, negated });
    let found = match base {
        "StringEquals" | "ArnEquals" => op(equals, false),
        "Bool" => op(ignore_case, false),
        "StringNotEquals" | "ArnNotEquals" => op(equals, true),
        "StringEqualsIgnoreCase" => op(ignore_case, false),
        "StringNotEqualsIgnoreCase" => op(ignore_case, true),
        "StringLike" | "ArnLike" => op(like, false),
        "StringNotLike" | "ArnNotLike" => op(like, true),
        "Null" => op(equals, false),
        _ => None,
    };
    found.map(|o| (o, set, if_exists))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Set {
    Single,
    Any,
    All,
}

fn conditions_hold(conditions: &Value, context: &BTreeMap<String, Vec<String>>) -> bool {
    let Some(blocks) = conditions.as_object() else { return true };
    blocks.iter().all(|(name, keys)| {
        let Some((op, set, if_exists)) = operator(name) else { return false };
        keys.as_object().into_iter().flatten().all(|(key, wanted)| {
            let wanted = strings(wanted);
            let present = context.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.as_slice());
            if name == "Null" {
                // `Null: true` holds when the key is absent, `false` when it is present.
                let absent = present.is_none_or(<[String]>::is_empty);
                return wanted.iter().any(|w| w.eq_ignore_ascii_case(&absent.to_string()));
            }
            let values = match present {
                Some(v) if !v.is_empty() => v,
                // A missing key: IfExists and the negated operators hold, the others do not;
                // ForAllValues holds vacuously.
                _ => return if_exists || op.negated || set == Set::All,
            };
            let hit = |v: &String| wanted.iter().any(|w| (op.compare)(v, w));
            let positive = match set {
                Set::Single | Set::Any => values.iter().any(hit),
                Set::All => values.iter().all(hit),
            };
            positive != op.negated
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(statements: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": statements})
    }

    #[test]
    fn an_explicit_deny_wins_and_nothing_is_allowed_by_default() {
        let p = policy(json!([
            {"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*"},
            {"Effect": "Deny", "Action": ["s3:PutObject"], "Resource": "arn:aws:s3:::b/reviewer/*"}
        ]));
        assert_eq!(decide(&[&p], None, &Request::new("s3:GetObject", "arn:aws:s3:::b/x")), Decision::Allowed);
        assert_eq!(decide(&[&p], None, &Request::new("S3:getobject", "arn:aws:s3:::b/x")), Decision::Allowed);
        assert_eq!(
            decide(&[&p], None, &Request::new("s3:PutObject", "arn:aws:s3:::b/reviewer/1/xtask")),
            Decision::ExplicitDeny
        );
        assert_eq!(decide(&[&p], None, &Request::new("s3:GetObject", "arn:aws:s3:::c/x")), Decision::ImplicitDeny);
    }

    #[test]
    fn a_boundary_caps_what_the_policy_allows() {
        let broad = policy(json!([{"Effect": "Allow", "Action": "*", "Resource": "*"}]));
        let boundary = policy(json!([{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "arn:t/users"}]));
        let get = Request::new("dynamodb:GetItem", "arn:t/users");
        assert_eq!(decide(&[&broad], Some(&boundary), &get), Decision::Allowed);
        assert_eq!(decide(&[&broad], Some(&boundary), &Request::new("iam:CreateUser", "x")), Decision::ImplicitDeny);
        assert_eq!(decide(&[&broad], None, &Request::new("iam:CreateUser", "x")), Decision::Allowed);
        // The boundary grants nothing by itself.
        assert_eq!(decide(&[], Some(&boundary), &get), Decision::ImplicitDeny);
    }

    #[test]
    fn conditions_read_as_iam_reads_them() {
        let p = policy(json!([
            {"Effect": "Allow", "Action": "iam:CreateRole", "Resource": "*",
             "Condition": {"StringEquals": {"iam:PermissionsBoundary": "arn:b"}}},
            {"Effect": "Deny", "Action": "iam:PutRolePermissionsBoundary", "Resource": "*",
             "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": "arn:b"}}},
            {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
             "Condition": {"ForAnyValue:StringEquals": {"kms:EncryptionContextKeys": "email"}}},
            {"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*",
             "Condition": {"Null": {"s3:if-none-match": "true"}}},
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}
        ]));
        let create = Request::new("iam:CreateRole", "r");
        assert_eq!(decide(&[&p], None, &create), Decision::ImplicitDeny, "no boundary given");
        assert_eq!(decide(&[&p], None, &create.clone().with("iam:PermissionsBoundary", "arn:b")), Decision::Allowed);
        assert_eq!(decide(&[&p], None, &create.with("iam:PermissionsBoundary", "arn:c")), Decision::ImplicitDeny);
        let put_boundary = Request::new("iam:PutRolePermissionsBoundary", "r");
        assert_eq!(decide(&[&p], None, &put_boundary), Decision::ExplicitDeny, "a missing key is not equal");
        let decrypt = Request::new("kms:Decrypt", "k");
        assert_eq!(decide(&[&p], None, &decrypt), Decision::ImplicitDeny);
        assert_eq!(decide(&[&p], None, &decrypt.with("kms:EncryptionContextKeys", "email")), Decision::Allowed);
        let put = Request::new("s3:PutObject", "o");
        assert_eq!(decide(&[&p], None, &put), Decision::ExplicitDeny);
        assert_eq!(decide(&[&p], None, &put.with("s3:if-none-match", "*")), Decision::Allowed);
    }

    #[test]
    fn an_operator_it_cannot_read_is_named() {
        let p = policy(json!([{"Effect": "Deny", "Action": "*", "Resource": "*",
            "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}}]));
        assert_eq!(unknown_operators(&p), ["DateGreaterThan"]);
        let known = policy(json!([{"Effect": "Allow", "Action": "x:Y", "Resource": "*",
            "Condition": {"ForAnyValue:StringLikeIfExists": {"k": "v"}}}]));
        assert!(unknown_operators(&known).is_empty());
    }
}
