//! The deploy gates, as pure decisions over values: the stack's status, the change set, the deployed
//! and the new template, the account, the flags. The code that calls AWS gathers these values and
//! acts on the verdict, so every refusal is tested here without an emulator.

use std::fmt;

use aws_sdk_cloudformation::types::StackStatus;
use serde_json::{Value, json};
use synth::review::{Row, Unreviewed};

use super::changes::{Change, IamDiff, line};

/// What the command line allows beyond the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Approvals {
    /// `--approve-iam`
    pub iam: bool,
    /// `--approve-data-loss`
    pub data_loss: bool,
    /// `--approve-weakening`
    pub weakening: bool,
}

/// Why a stack's change set may not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The review cannot account for these resources: no flag lets them through.
    Unreviewed(Vec<Unreviewed>),
    /// New grants (an added `Allow`, a lifted `Deny`), without `--approve-iam`.
    Iam(Vec<Row>),
    /// Data that would be lost or left unprotected, without `--approve-data-loss`.
    DataLoss(Vec<String>),
    /// Defences that would be weakened (a WAF rule, throttling, lockout, logging), without
    /// `--approve-weakening`.
    Weakening(Vec<String>),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Unreviewed(what) => write!(
                f,
                "the IAM review cannot account for {}; no flag allows an unreviewed policy-bearing resource",
                what.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
            ),
            Refusal::Iam(rows) => write!(
                f,
                "it grants IAM access that was not granted before: {}; re-run with --approve-iam to allow it",
                rows.iter().map(line).collect::<Vec<_>>().join("; ")
            ),
            Refusal::DataLoss(reasons) => {
                write!(f, "it risks data: {}; re-run with --approve-data-loss to allow it", reasons.join("; "))
            }
            Refusal::Weakening(what) => {
                write!(f, "it weakens a defence: {}; re-run with --approve-weakening to allow it", what.join("; "))
            }
        }
    }
}

/// Every refusal that applies to one stack's change set under `approvals`; empty means go.
pub fn judge(
    changes: &[Change],
    iam: &IamDiff,
    (deployed, new): (Option<&Value>, &Value),
    account: &str,
    approvals: Approvals,
) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    if !iam.unreviewed.is_empty() {
        refusals.push(Refusal::Unreviewed(iam.unreviewed.clone()));
    }
    let grants: Vec<Row> = iam.grants().into_iter().cloned().collect();
    if !grants.is_empty() && !approvals.iam {
        refusals.push(Refusal::Iam(grants));
    }
    let losses = data_loss(changes, deployed, new, account);
    if !losses.is_empty() && !approvals.data_loss {
        refusals.push(Refusal::DataLoss(losses));
    }
    let weakened = weakening(deployed, new);
    if !weakened.is_empty() && !approvals.weakening {
        refusals.push(Refusal::Weakening(weakened));
    }
    refusals
}

/// Every defence the change weakens (see `synth::review::defences`); a first deploy weakens nothing.
pub fn weakening(deployed: Option<&Value>, new: &Value) -> Vec<String> {
    synth::review::defences::weakened("", deployed, new).into_iter().map(|w| w.trim_start().to_owned()).collect()
}

/// Resource types that hold data: removing or replacing one loses it.
pub use synth::review::schema::STATEFUL;

/// What in a change set loses data or lifts a protection of it:
/// - removing or replacing a stateful resource, or any resource the deployed template retains (an
///   audit log group of a protected stage);
/// - a retained resource no longer retained (`DeletionPolicy` or `UpdateReplacePolicy` `Retain` to
///   anything else), and a table's deletion protection turned off: the first steps of turning a
///   stage's `protect` off, after which a destroy deletes what was kept;
/// - the quiet losses, where nothing is removed ([`quiet_losses`]): Time to Live turned on or moved on a
///   table, point-in-time recovery off, a key disabled, a retained log's retention shortened, and a
///   table or its stream shared with another account (`account` is the deploying one).
pub fn data_loss(changes: &[Change], deployed: Option<&Value>, new: &Value, account: &str) -> Vec<String> {
    // Values read as CloudFormation reads them: `{"Fn::Sub": "true"}` is `true`.
    let deployed = deployed.map(synth::review::value::fold);
    let deployed = deployed.as_ref();
    let new = &synth::review::value::fold(new);
    let old = |id: &str| deployed.map(|d| &d["Resources"][id]).filter(|r| !r.is_null());
    let retained = |id: &str| old(id).is_some_and(|r| r["DeletionPolicy"] == "Retain");
    let mut out = Vec::new();
    // A log group goes with the function that writes to it; otherwise removing or replacing it deletes its
    // logs (a new name replaces it).
    let new_has = |id: &str| !new["Resources"][id].is_null();
    let orphaned_log = |id: &str| {
        let writer = deployed.and_then(|d| d["Resources"].as_object()).into_iter().flatten().find(|(_, r)| {
            r["Type"] == "AWS::Lambda::Function" && r["Properties"]["LoggingConfig"]["LogGroup"] == json!({"Ref": id})
        });
        writer.is_none_or(|(function, _)| new_has(function))
    };
    for c in changes {
        let removed = c.action == "Remove";
        let losing = removed || matches!(c.replacement.as_str(), "True" | "Conditional");
        let log = c.resource_type == "AWS::Logs::LogGroup"
            && old(&c.logical_id).is_some()
            && (!removed || orphaned_log(&c.logical_id));
        if losing && (STATEFUL.contains(&c.resource_type.as_str()) || retained(&c.logical_id) || log) {
            let how = if removed { "removes" } else { "may replace" };
            out.push(format!("{how} {} ({})", c.logical_id, c.resource_type));
        }
    }
    let empty = serde_json::Map::new();
    let resources = new["Resources"].as_object().unwrap_or(&empty);
    for (id, resource) in resources {
        let Some(before) = old(id) else { continue };
        for policy in ["DeletionPolicy", "UpdateReplacePolicy"] {
            if before[policy] == "Retain" && resource[policy] != "Retain" {
                let now = resource[policy].as_str().unwrap_or("Delete");
                out.push(format!("{id} would no longer be retained ({policy} Retain -> {now})"));
            }
        }
        let protection = |r: &Value| flag(&r["Properties"]["DeletionProtectionEnabled"]) == Some(true);
        if protection(before) && !protection(resource) {
            out.push(format!("{id} would lose its deletion protection (DeletionProtectionEnabled true -> false)"));
        }
        if before["Type"] == resource["Type"] {
            out.extend(quiet_losses(id, before, resource));
        }
    }
    for (id, resource) in resources.iter().filter(|(_, r)| r["Type"] == "AWS::DynamoDB::Table") {
        out.extend(shared_elsewhere(id, &resource["Properties"], account));
    }
    out.sort();
    out.dedup();
    out
}

use synth::review::value::{flag, whole};

/// Changes to a resource that lose or expose its data without removing it.
fn quiet_losses(id: &str, before: &Value, after: &Value) -> Vec<String> {
    let (old, new) = (&before["Properties"], &after["Properties"]);
    let mut out = Vec::new();
    match after["Type"].as_str().unwrap_or_default() {
        "AWS::DynamoDB::Table" => {
            let ttl = |p: &Value| {
                let spec = &p["TimeToLiveSpecification"];
                (flag(&spec["Enabled"]) == Some(true))
                    .then(|| spec["AttributeName"].as_str().unwrap_or_default().to_owned())
            };
            // A table that had no TTL, or had it on another attribute, is not an expiry table for this one.
            if let Some(attribute) = ttl(new)
                && ttl(old).as_deref() != Some(attribute.as_str())
            {
                out.push(format!(
                    "{id} would get Time to Live on `{attribute}`: DynamoDB deletes every item whose `{attribute}` is an \
                     epoch time in the past"
                ));
            }
            let pitr =
                |p: &Value| flag(&p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]) == Some(true);
            if pitr(old) && !pitr(new) {
                out.push(format!("{id} would lose point-in-time recovery: no restore to before a bad write"));
            }
            // DynamoDB keeps 35 days of recovery points unless told fewer.
            let period =
                |p: &Value| whole(&p["PointInTimeRecoverySpecification"]["RecoveryPeriodInDays"]).unwrap_or(35);
            if pitr(old) && pitr(new) && period(new) < period(old) {
                out.push(format!(
                    "{id} would keep {} days of point-in-time recovery instead of {}: no restore to before that",
                    period(new),
                    period(old)
                ));
            }
            if new["KinesisStreamSpecification"] != old["KinesisStreamSpecification"]
                && !new["KinesisStreamSpecification"].is_null()
            {
                out.push(format!("{id} would stream every change to a Kinesis stream (KinesisStreamSpecification)"));
            }
        }
        "AWS::SecretsManager::Secret" if new["GenerateSecretString"] != old["GenerateSecretString"] => {
            out.push(format!(
                "{id} would be generated again (GenerateSecretString changed): CloudFormation replaces the secret's \
                 value in place, so every token it signed stops verifying, and a weaker generator makes it guessable"
            ));
        }
        "AWS::KMS::Key" => {
            let enabled = |p: &Value| flag(&p["Enabled"]) != Some(false);
            if enabled(old) && !enabled(new) {
                out.push(format!("{id} would be disabled: nothing it encrypted can be decrypted until it is enabled"));
            }
        }
        "AWS::Logs::LogGroup" if before["DeletionPolicy"] == "Retain" => {
            let days = |p: &Value| whole(&p["RetentionInDays"]).unwrap_or(u64::MAX);
            if days(new) < days(old) {
                out.push(format!(
                    "{id} would keep its logs for {} days instead of {}: older entries are deleted",
                    days(new),
                    days(old)
                ));
            }
        }
        _ => {}
    }
    out
}

/// A table or its stream whose resource policy lets a principal outside `account` in.
fn shared_elsewhere(id: &str, properties: &Value, account: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (what, doc) in [
        ("resource policy", &properties["ResourcePolicy"]["PolicyDocument"]),
        ("stream's resource policy", &properties["StreamSpecification"]["ResourcePolicy"]["PolicyDocument"]),
    ] {
        for s in synth::review::statements_of(doc).into_iter().filter(|s| s["Effect"] == "Allow") {
            // Each principal on its own: one of ours beside another account's is still another account.
            let outside: Vec<String> = synth::review::principals(&s["Principal"])
                .into_iter()
                .filter(|p| !synth::review::arn::principal_in_account(p, account))
                .collect();
            if !outside.is_empty() {
                out.push(format!(
                    "{id}'s {what} lets a principal outside account {account} in ({})",
                    outside.join(", ")
                ));
            }
        }
    }
    out
}

/// What to do with a stack, given its status before anything is changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preflight {
    /// Not there: a CREATE change set.
    Create,
    /// Settled: an UPDATE change set.
    Update,
    /// A failed first create left it in `ROLLBACK_COMPLETE`: it can only be deleted, then created.
    DeleteFailedCreate,
    /// Only an unexecuted CREATE change set (`REVIEW_IN_PROGRESS`): no resources; start afresh.
    ReplaceUnexecuted,
    /// Nothing can be done now; the sentence says what to do.
    Stop(String),
}

pub fn preflight(stack: &str, stage: &str, status: Option<&StackStatus>) -> Preflight {
    let Some(status) = status else { return Preflight::Create };
    match status {
        StackStatus::RollbackComplete => Preflight::DeleteFailedCreate,
        StackStatus::ReviewInProgress => Preflight::ReplaceUnexecuted,
        StackStatus::UpdateRollbackFailed => Preflight::Stop(format!(
            "{stack} is in UPDATE_ROLLBACK_FAILED: a rollback could not finish. Fix the cause shown by `cargo xtask \
             status --stage {stage}`, then run `aws cloudformation continue-update-rollback --stack-name {stack}` and \
             deploy again"
        )),
        StackStatus::RollbackFailed | StackStatus::DeleteFailed => Preflight::Stop(format!(
            "{stack} is in {}: delete it by hand (see `cargo xtask status --stage {stage}` for why it failed) and \
             deploy again",
            status.as_str()
        )),
        s if s.as_str().ends_with("_IN_PROGRESS") => Preflight::Stop(format!(
            "{stack} is busy ({}); wait for it with `cargo xtask status --stage {stage}` and deploy again",
            s.as_str()
        )),
        _ => Preflight::Update,
    }
}

/// The credentials must belong to the account the stage names, when it names one.
pub fn account(stage: &str, expected: Option<&str>, actual: &str) -> Result<(), String> {
    match expected {
        Some(expected) if expected != actual => Err(format!(
            "the credentials are for account {actual}, but stage {stage} deploys to {expected}; use --profile for the \
             right account"
        )),
        _ => Ok(()),
    }
}

/// What is deployed is what was reviewed: stale templates stop the deploy unless `--allow-stale`.
pub fn stale(stage: &str, drift: &[String], allow_stale: bool) -> Result<Option<String>, String> {
    match (drift.is_empty(), allow_stale) {
        (true, _) => Ok(None),
        (false, true) => Ok(Some("deploying templates that differ from the committed ones (--allow-stale)".into())),
        (false, false) => Err(format!(
            "templates/{stage} differs from what stages.toml synthesizes; run `cargo xtask synth`, review and commit, \
             or pass --allow-stale"
        )),
    }
}

#[cfg(test)]
mod tests;
