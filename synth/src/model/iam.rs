//! IAM policy documents: identity policies, trust policies and KMS key policies.

use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::Expr;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    pub version: &'static str,
    pub statement: Vec<Statement>,
}

impl PolicyDocument {
    pub fn new(statement: Vec<Statement>) -> PolicyDocument {
        PolicyDocument { version: "2012-10-17", statement }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// Who a resource-based or trust policy statement applies to.
#[derive(Debug, Clone, PartialEq)]
pub enum Principal {
    /// An AWS service, such as `lambda.amazonaws.com`.
    Service(&'static str),
    /// An AWS account or IAM principal ARN.
    Aws(Expr),
    /// Everyone (`"*"`); in a `Deny`, narrowed by a condition.
    Anyone,
}

impl Serialize for Principal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if matches!(self, Principal::Anyone) {
            return s.serialize_str("*");
        }
        let mut map = s.serialize_map(Some(1))?;
        match self {
            Principal::Anyone => {}
            Principal::Service(service) => map.serialize_entry("Service", service)?,
            Principal::Aws(arn) => map.serialize_entry("AWS", arn)?,
        }
        map.end()
    }
}

/// `{operator: {key: values}}`, e.g. `{"StringEquals": {"aws:PrincipalArn": [...]}}`.
pub type Conditions = BTreeMap<&'static str, BTreeMap<&'static str, Vec<Expr>>>;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    pub effect: Effect,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<Principal>,
    pub action: Vec<String>,
    /// Absent in trust policies, which apply to the role they are attached to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resource: Vec<Expr>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub condition: Conditions,
}

impl Statement {
    /// A `Deny` of `actions` on `resources`.
    pub fn deny(actions: &[&str], resources: Vec<Expr>) -> Statement {
        Statement { effect: Effect::Deny, ..Statement::allow(actions, resources) }
    }

    /// An `Allow` of `actions` on `resources`, for an identity policy.
    pub fn allow(actions: &[&str], resources: Vec<Expr>) -> Statement {
        Statement {
            sid: None,
            effect: Effect::Allow,
            principal: None,
            action: actions.iter().map(|a| (*a).to_owned()).collect(),
            resource: resources,
            condition: Conditions::new(),
        }
    }

    pub fn sid(mut self, sid: impl Into<String>) -> Statement {
        self.sid = Some(sid.into());
        self
    }

    pub fn principal(mut self, principal: Principal) -> Statement {
        self.principal = Some(principal);
        self
    }

    pub fn condition(mut self, operator: &'static str, key: &'static str, values: Vec<Expr>) -> Statement {
        self.condition.entry(operator).or_default().insert(key, values);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statement_serializes_with_principal_and_condition() {
        let s = Statement::allow(&["kms:Encrypt"], vec!["*".into()])
            .sid("Use")
            .principal(Principal::Aws("arn:aws:iam::1:root".into()))
            .condition("StringEquals", "aws:PrincipalArn", vec!["arn:aws:iam::1:role/r".into()]);
        let v = serde_json::to_value(PolicyDocument::new(vec![s])).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            v,
            json!({"Version": "2012-10-17", "Statement": [{
                "Sid": "Use", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"},
                "Action": ["kms:Encrypt"], "Resource": ["*"],
                "Condition": {"StringEquals": {"aws:PrincipalArn": ["arn:aws:iam::1:role/r"]}}
            }]})
        );
    }

    #[test]
    fn trust_statement_has_no_resource() {
        let s = Statement::allow(&["sts:AssumeRole"], vec![]).principal(Principal::Service("lambda.amazonaws.com"));
        let v = serde_json::to_value(&s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            v,
            json!({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": ["sts:AssumeRole"]})
        );
    }
}
