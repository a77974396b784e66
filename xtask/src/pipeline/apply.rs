//! The pipeline's apply step, run by the pinned binary. It executes the reviewed list only when:
//! - its SHA-256 is the `REVIEW_DIGEST` CodePipeline carried from this run's Review (no build can change
//!   that variable; anyone who can write the artifact store can change the file);
//! - it is this run's (`run` is this execution) and of this stage, account and region;
//! - a person approved this execution, whenever one had to: Apply derives the risk again from the list
//!   itself, never from a variable, and asks CodePipeline (`ListActionExecutions`, every page) whether
//!   this execution's Approve action succeeded, and who approved it.
//!
//! Then every change set is checked against the reviewed template hash and its stack's state, and run by
//! ARN ([`crate::deploy::apply::execute`]). The decision is pure: [`approval_gate`].

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::{ActionRun, StageNames, action_runs, clients_for, deployable_stack, read_file};
use crate::BadInput;
use crate::deploy::plan::Plan;
use crate::deploy::{Outcome, apply};
use synth::stacks::pipeline::{APPROVE_ACTION, APPROVE_STAGE};

/// When the stage's pipeline stops for a person (stages.toml's `approval`, as the pipeline template
/// passes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApprovalMode {
    Risky,
    Always,
}

#[derive(Debug, Clone, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub on: StageNames,
    /// The reviewed list the review step wrote
    #[arg(long, value_name = "FILE")]
    pub reviewed: PathBuf,
    /// The review's REVIEW_DIGEST: the SHA-256 the list must have
    #[arg(long)]
    pub digest: String,
    /// The pipeline whose approval is checked
    #[arg(long)]
    pub pipeline: String,
    /// This pipeline execution: the list must be its, and so must the approval
    #[arg(long)]
    pub execution: String,
    /// When a person must have approved: only a risky list, or every one
    #[arg(long, value_enum)]
    pub approval: ApprovalMode,
    /// Turn on termination protection of the data stack after it changes (a protected stage)
    #[arg(long)]
    pub protect: bool,
}

/// Whether the list may run: when no person had to approve, yes; otherwise only if this execution's
/// Approve action succeeded. Returns who approved, if anyone had to.
pub fn approval_gate(needed: bool, execution: &str, runs: &[ActionRun]) -> Result<Option<String>, String> {
    if !needed {
        return Ok(None);
    }
    // A rejected approval can be retried within the execution: any attempt that succeeded counts.
    let attempts: Vec<&ActionRun> =
        runs.iter().filter(|r| r.stage == APPROVE_STAGE && r.action == APPROVE_ACTION).collect();
    let approved = attempts.iter().find(|r| r.status == "Succeeded");
    match (approved, attempts.last()) {
        (Some(r), _) => Ok(Some(r.updated_by.clone().unwrap_or_else(|| "unknown".into()))),
        (None, Some(r)) => Err(format!(
            "the reviewed list needs a person's approval, and execution {execution}'s Approve action is {}, not \
             Succeeded: nothing was executed",
            r.status
        )),
        (None, None) => Err(format!(
            "the reviewed list needs a person's approval, and execution {execution} has no Approve action (skipped?): \
             nothing was executed"
        )),
    }
}

/// The apply step: see the module's documentation.
pub async fn apply_reviewed(args: &ApplyArgs) -> anyhow::Result<Outcome> {
    let bytes = read_file(&args.reviewed, "reviewed list")?;
    let digest = crate::package::hex_sha256(&bytes);
    if !digest.eq_ignore_ascii_case(args.digest.trim()) {
        return Ok(Outcome::Refused(format!(
            "the reviewed list's SHA-256 is {digest}, not the {} the review exported: it is not the list that was \
             reviewed",
            args.digest.trim()
        )));
    }
    let reviewed: Plan = serde_json::from_slice(&bytes)
        .map_err(|e| BadInput(format!("{} is not a reviewed list: {e}", args.reviewed.display())))?;
    let names = synth::Names::of(&args.on.project, &args.on.stage);
    if reviewed.stage != args.on.stage {
        return Ok(Outcome::Refused(format!("the reviewed list is not stage {}'s", args.on.stage)));
    }
    for s in &reviewed.stacks {
        if let Err(why) = deployable_stack(&names, &s.stack) {
            return Ok(Outcome::Refused(why));
        }
    }
    if reviewed.run.as_deref() != Some(args.execution.as_str()) {
        return Ok(Outcome::Refused(format!(
            "the reviewed list is of run {}, not of this execution {}",
            reviewed.run.as_deref().unwrap_or("(none)"),
            args.execution
        )));
    }
    let clients = clients_for(&args.on).await?;
    if clients.account().await? != reviewed.account || clients.region != reviewed.region {
        return Ok(Outcome::Refused("the reviewed list is for another account or region".into()));
    }
    // The risk as the list itself says, not as any variable or stage condition did.
    let needed = reviewed.risky() || args.approval == ApprovalMode::Always;
    let runs = if needed { action_runs(&clients, &args.pipeline, &args.execution).await? } else { Vec::new() };
    match approval_gate(needed, &args.execution, &runs) {
        Ok(Some(by)) => println!("approved by {by}"),
        Ok(None) => println!("no new IAM grant and no data at risk: no approval needed"),
        Err(why) => return Ok(Outcome::Refused(why)),
    }
    let protected = args.protect.then(|| names.data_stack());
    apply::execute(&clients, &reviewed, protected.as_deref()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stage: &str, status: &str) -> ActionRun {
        ActionRun {
            stage: stage.into(),
            action: stage.into(),
            status: status.into(),
            updated_by: Some("arn:me".into()),
            ..ActionRun::default()
        }
    }

    #[test]
    fn a_risky_list_runs_only_after_this_executions_approval_succeeded() {
        let built = [run("Source", "Succeeded"), run("Plan", "Succeeded"), run("Review", "Succeeded")];
        // Not risky: nothing to check.
        assert_eq!(approval_gate(false, "e", &[]), Ok(None));
        // Risky, and Approve skipped (its condition misread, or forced): refused.
        let skipped = approval_gate(true, "e", &built).unwrap_err();
        assert!(skipped.contains("has no Approve action") && skipped.contains("nothing was executed"), "{skipped}");
        // Entered but rejected, or still waiting: refused.
        for status in ["Failed", "InProgress", "Abandoned"] {
            let mut runs = built.to_vec();
            runs.push(run("Approve", status));
            let why = approval_gate(true, "e", &runs).unwrap_err();
            assert!(why.contains(status), "{why}");
        }
        let mut runs = built.to_vec();
        runs.push(run("Approve", "Failed"));
        runs.push(run("Approve", "Succeeded"));
        assert_eq!(approval_gate(true, "e", &runs), Ok(Some("arn:me".into())), "rejected, retried, approved");
        // A build action named like the approval in another stage does not count.
        let impostor = ActionRun { stage: "Review".into(), action: "Approve".into(), ..run("x", "Succeeded") };
        assert!(approval_gate(true, "e", &[impostor]).is_err());
    }
}
