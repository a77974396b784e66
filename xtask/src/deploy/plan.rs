//! A deploy in two steps: the plan creates the change sets without executing them and writes what they
//! will do (`deploy --no-execute --summary-file F`); the apply executes exactly those change sets, by
//! ARN, and nothing else (`deploy --execute-plan F`). What a person approves is what runs: no change set
//! is created between the two, and one whose stack changed since the plan (another execution, a manual
//! edit) is refused rather than run over a state nobody reviewed.
//!
//! The decisions are pure: [`Plan::risky`] (whether a person must approve) and [`stale`] (whether a
//! planned change set may still run).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The plan's format version; an apply refuses a plan of another.
pub const VERSION: u32 = 1;

/// What `deploy --no-execute --summary-file` found and left for review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub version: u32,
    pub stage: String,
    pub account: String,
    pub region: String,
    /// The run that made the change sets (`deploy --run-id`, a pipeline's execution): each is named
    /// `xtask-<run>`, and one of another name is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// Stacks with a change set left for review, in deploy order.
    pub stacks: Vec<PlannedStack>,
}

/// One stack's change set as planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedStack {
    pub stack: String,
    /// The change set's ARN: the apply executes this one and no other.
    pub change_set: String,
    pub creating: bool,
    /// The stack as the plan saw it; `None` when it did not exist yet.
    pub baseline: Option<Baseline>,
    /// [`template_digest`] of the template the change set deploys.
    pub template_sha256: String,
    /// `action logical-id (type) replacement`, one per resource change.
    pub changes: Vec<String>,
    /// IAM rows added (`+ ...`) and removed (`- ...`).
    pub iam: Vec<String>,
    /// The IAM rows that are new grants: `--approve-iam` (a person) is needed.
    pub grants: Vec<String>,
    /// What loses or exposes data: `--approve-data-loss` (a person) is needed.
    pub data_loss: Vec<String>,
    /// Defences weakened: `--approve-weakening` (a person) is needed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weakening: Vec<String>,
    /// Each function's code the change set deploys, as the review found it pinned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub code: Vec<CodePin>,
}

impl PlannedStack {
    /// Whether this stack's change set needs a person: a new grant, data at risk, a defence weakened.
    pub fn risky(&self) -> bool {
        !self.grants.is_empty() || !self.data_loss.is_empty() || !self.weakening.is_empty()
    }
}

/// A function's code as a change set pins it: the key, the object version, and the SHA-256 S3 holds
/// for that version (the key's name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodePin {
    pub parameter: String,
    pub key: String,
    pub version: String,
    pub sha256: String,
}

/// A stack's state at a moment: enough to tell whether anything ran on it since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Baseline {
    pub status: String,
    /// Its last update (or its creation), as CloudFormation reports it.
    pub last_change: String,
}

impl Plan {
    /// Whether a person must approve before the apply: a new IAM grant, data at risk or a defence
    /// weakened in any stack.
    pub fn risky(&self) -> bool {
        self.stacks.iter().any(PlannedStack::risky)
    }

    /// What an approver reads: each stack's grants and data risks, then its change set.
    pub fn approval_message(&self) -> String {
        let mut out = Vec::new();
        for s in &self.stacks {
            for g in &s.grants {
                out.push(format!("{}: new grant {g}", s.stack));
            }
            for d in &s.data_loss {
                out.push(format!("{}: data {d}", s.stack));
            }
            for w in &s.weakening {
                out.push(format!("{}: weakens {w}", s.stack));
            }
        }
        if out.is_empty() {
            out.push("no new IAM grant, no data at risk and no defence weakened".to_owned());
        }
        for s in &self.stacks {
            out.push(format!("{}: change set {}", s.stack, s.change_set));
        }
        out.join("\n")
    }
}

/// SHA-256 of a template's content, whatever its form: the YAML or JSON text parsed, its keys sorted,
/// written as compact JSON. The text CloudFormation gives back for a change set hashes alike.
pub fn template_digest(text: &str) -> Result<String, String> {
    let value: Value = yaml_serde::from_str(text).map_err(|e| format!("the template does not parse: {e}"))?;
    Ok(crate::package::hex_sha256(synth::review::value::sorted(&value).to_string().as_bytes()))
}

/// Why `planned` must not run now, if it must not: the stack changed since the plan (or appeared, or
/// went), or its change set is no longer the one to execute. `now` is the stack's state now;
/// `change_set` is the change set's `(Status, ExecutionStatus)` as CloudFormation reports them now.
pub fn stale(planned: &PlannedStack, now: Option<&Baseline>, change_set: (&str, &str)) -> Option<String> {
    let stack = &planned.stack;
    match (&planned.baseline, now) {
        (Some(then), Some(now)) if then.last_change != now.last_change => {
            return Some(format!(
                "{stack} changed since the plan (last change {} then, {} now, {}): plan again and review what \
                 the new change set does",
                then.last_change, now.last_change, now.status
            ));
        }
        (Some(_), None) => return Some(format!("{stack} was deleted since the plan: plan again")),
        // A CREATE change set makes the stack, in REVIEW_IN_PROGRESS, at plan time.
        (None, Some(now)) if now.status != "REVIEW_IN_PROGRESS" => {
            return Some(format!("{stack} was created since the plan ({}): plan again", now.status));
        }
        _ => {}
    }
    match change_set {
        ("CREATE_COMPLETE", "AVAILABLE") => None,
        (status, execution) => Some(format!(
            "the planned change set of {stack} is {status}, {execution}: it cannot run as planned (executed, \
             deleted or outdated); plan again"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(baseline: Option<Baseline>) -> PlannedStack {
        PlannedStack {
            stack: "auth-dev-api".into(),
            change_set: "arn:aws:cloudformation:us-east-1:1:changeSet/xtask-1/abc".into(),
            creating: baseline.is_none(),
            baseline,
            template_sha256: "00".into(),
            changes: vec!["Modify HelloFunction (AWS::Lambda::Function) False".into()],
            iam: Vec::new(),
            grants: Vec::new(),
            data_loss: Vec::new(),
            weakening: Vec::new(),
            code: Vec::new(),
        }
    }

    fn at(time: &str, status: &str) -> Baseline {
        Baseline { status: status.into(), last_change: time.into() }
    }

    const READY: (&str, &str) = ("CREATE_COMPLETE", "AVAILABLE");

    #[test]
    fn a_change_set_runs_only_over_the_stack_the_plan_saw() {
        let then = at("2026-12-03T10:00:00Z", "UPDATE_COMPLETE");
        let p = planned(Some(then.clone()));
        assert_eq!(stale(&p, Some(&then), READY), None);
        let moved = at("2026-12-03T10:05:00Z", "UPDATE_COMPLETE");
        assert!(stale(&p, Some(&moved), READY).is_some_and(|w| w.contains("changed since the plan")));
        assert!(stale(&p, None, READY).is_some_and(|w| w.contains("deleted")));
        // Executed already, or made obsolete by another execution.
        assert!(stale(&p, Some(&then), ("CREATE_COMPLETE", "EXECUTE_COMPLETE")).is_some());
        assert!(stale(&p, Some(&then), ("CREATE_COMPLETE", "OBSOLETE")).is_some());
        // A first deploy's stack exists only as the change set's REVIEW_IN_PROGRESS shell.
        let first = planned(None);
        assert_eq!(stale(&first, Some(&at("t", "REVIEW_IN_PROGRESS")), READY), None);
        assert!(stale(&first, Some(&at("t", "CREATE_COMPLETE")), READY).is_some());
    }

    #[test]
    fn a_templates_digest_is_its_content_not_its_spelling() {
        let yaml = "Resources:\n  B: {Type: x}\n  A:\n    Type: y\n";
        let json = r#"{"Resources": {"A": {"Type": "y"}, "B": {"Type": "x"}}}"#;
        assert_eq!(template_digest(yaml), template_digest(json));
        assert_ne!(template_digest(yaml), template_digest(&yaml.replace('y', "z")));
        assert!(template_digest("{").is_err());
    }

    #[test]
    fn a_plan_with_a_grant_or_data_at_risk_needs_a_person() {
        let mut plan = Plan {
            version: VERSION,
            stage: "dev".into(),
            account: "1".into(),
            region: "us-east-1".into(),
            run: None,
            stacks: vec![planned(None)],
        };
        assert!(!plan.risky());
        assert!(plan.approval_message().contains("no new IAM grant"));
        plan.stacks[0].grants.push("role/x  s3:GetObject  *".into());
        assert!(plan.risky());
        assert!(plan.approval_message().contains("auth-dev-api: new grant role/x  s3:GetObject  *"));
        plan.stacks[0].grants.clear();
        plan.stacks[0].data_loss.push("removes UsersTable (AWS::DynamoDB::Table)".into());
        assert!(plan.risky());
        assert!(plan.approval_message().contains("change set arn:aws:cloudformation"));
    }
}
