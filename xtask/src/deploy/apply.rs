//! `cargo xtask deploy --execute-plan F`: runs exactly the change sets a plan lists, by ARN, after
//! checking that each stack is as the plan saw it ([`super::plan::stale`]) and that the flags a person
//! gives cover what the plan says needs them, and that each change set deploys the template the plan
//! hashed. Nothing is built, uploaded or synthesized: the change sets already hold the templates and the
//! code keys of the plan. [`execute`] is shared with the pipeline's apply step.

use std::path::Path;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::types::Stack;

use super::plan::{self, Baseline, Plan};
use super::{Outcome, Report};
use crate::aws::Clients;
use crate::{BadInput, Target, cfn};

/// The stack's state now, `None` when it does not exist.
pub async fn baseline(cfn: &Client, stack: &str) -> anyhow::Result<Option<Baseline>> {
    Ok(cfn::describe(cfn, stack).await?.as_ref().and_then(baseline_of))
}

/// The state a stack's description shows, `None` for a deleted stack.
pub fn baseline_of(described: &Stack) -> Option<Baseline> {
    let status = described.stack_status.as_ref().map_or("", |s| s.as_str()).to_owned();
    if status == "DELETE_COMPLETE" {
        return None;
    }
    let when = described.last_updated_time.or(described.creation_time);
    Some(Baseline { status, last_change: when.map(|t| t.to_string()).unwrap_or_default() })
}

pub async fn run(config_path: &Path, args: &super::DeployArgs, plan_path: &Path) -> anyhow::Result<Outcome> {
    let text = std::fs::read_to_string(plan_path)
        .map_err(|e| BadInput(format!("reading the plan {}: {e}", plan_path.display())))?;
    let plan: Plan = serde_json::from_str(&text).map_err(|e| {
        BadInput(format!("{} is not a plan written by `deploy --summary-file`: {e}", plan_path.display()))
    })?;
    if plan.version != plan::VERSION {
        return Err(BadInput(format!(
            "the plan is version {}, this xtask reads version {}",
            plan.version,
            plan::VERSION
        ))
        .into());
    }
    let target = Target::load(config_path, &args.on.stage)?;
    let stage = target.stage();
    if plan.stage != stage.name || plan.region != stage.region {
        return Err(BadInput(format!(
            "the plan is for stage {} in {}, not stage {} in {}",
            plan.stage, plan.region, stage.name, stage.region
        ))
        .into());
    }
    if !args.yes {
        return Err(BadInput("executing a plan needs --yes: the plan is what was reviewed".into()).into());
    }
    let clients = Clients::new(&args.on.aws, stage).await?;
    let account = clients.account().await?;
    if account != plan.account {
        return Ok(Outcome::Refused(format!(
            "the plan was made in account {} but these credentials are for {account}",
            plan.account
        )));
    }
    // The flags a person gives must cover what the plan says needs them.
    if plan.stacks.iter().any(|s| !s.grants.is_empty()) && !args.approve_iam {
        return Ok(Outcome::Refused(format!(
            "the plan grants IAM access that was not granted before; re-run with --approve-iam to allow it:\n{}",
            plan.approval_message()
        )));
    }
    if plan.stacks.iter().any(|s| !s.data_loss.is_empty()) && !args.approve_data_loss {
        return Ok(Outcome::Refused(format!(
            "the plan risks data; re-run with --approve-data-loss to allow it:\n{}",
            plan.approval_message()
        )));
    }
    if plan.stacks.iter().any(|s| !s.weakening.is_empty()) && !args.approve_weakening {
        return Ok(Outcome::Refused(format!(
            "the plan weakens a defence; re-run with --approve-weakening to allow it:\n{}",
            plan.approval_message()
        )));
    }
    let protected = (stage.protect).then(|| target.names.data_stack());
    execute(&clients, &plan, protected.as_deref()).await
}

/// A change set as CloudFormation describes it, or why it is not one of `stack`'s.
pub async fn change_set_of(
    cfn: &Client,
    change_set: &str,
    stack: &str,
) -> anyhow::Result<Result<DescribeChangeSetOutput, String>> {
    let described = crate::cfn::describe_all(cfn, change_set).await?;
    if described.stack_name.as_deref() != Some(stack) {
        return Ok(Err(format!(
            "the change set {change_set} belongs to stack {}, not {stack}",
            described.stack_name.as_deref().unwrap_or("?")
        )));
    }
    Ok(Ok(described))
}

/// Executes exactly the change sets `plan` lists, in order, once every one of them is checked: it names
/// its own stack, it is still available, its stack is as the plan saw it, and it deploys the template
/// the plan hashed. Nothing runs when any check fails. `protected` names the data stack that gets
/// termination protection afterwards.
pub async fn execute(clients: &Clients, plan: &Plan, protected: Option<&str>) -> anyhow::Result<Outcome> {
    for planned in &plan.stacks {
        let now = baseline(&clients.cfn, &planned.stack).await?;
        let described = match change_set_of(&clients.cfn, &planned.change_set, &planned.stack).await? {
            Ok(described) => described,
            Err(why) => return Ok(Outcome::Refused(why)),
        };
        if let Some(run) = &plan.run
            && let Err(why) = super::changes::bound_to_run(described.change_set_name.as_deref(), run)
        {
            return Ok(Outcome::Refused(why));
        }
        let status = described.status.as_ref().map_or("", |s| s.as_str());
        let execution = described.execution_status.as_ref().map_or("", |s| s.as_str());
        if let Some(why) = plan::stale(planned, now.as_ref(), (status, execution)) {
            return Ok(Outcome::Refused(why));
        }
        let template = cfn::change_set_template(&clients.cfn, &planned.change_set, &planned.stack).await?;
        let digest = plan::template_digest(&template)
            .map_err(|e| anyhow::anyhow!("the template of change set {}: {e}", planned.change_set))?;
        if digest != planned.template_sha256 {
            return Ok(Outcome::Refused(format!(
                "the change set of {} deploys a template other than the one planned (sha256 {} planned, {digest} \
                 now): plan again",
                planned.stack, planned.template_sha256
            )));
        }
    }
    let mut report = Report::default();
    for planned in &plan.stacks {
        let stack = &planned.stack;
        println!("\n== {stack}: executing the planned change set {}", planned.change_set);
        let Some(settled) =
            cfn::execute_and_watch(&clients.cfn, stack, &planned.change_set, &plan.stage, clients.poll).await?
        else {
            return Ok(Outcome::Failed);
        };
        if !settled.succeeded() {
            let cause = settled.root_cause.unwrap_or_else(|| "CloudFormation gave no reason".into());
            eprintln!("\nerror: deploying {stack} failed: {cause}");
            return Ok(Outcome::Failed);
        }
        println!("{stack}: {}", settled.status.as_str());
        if protected == Some(stack.as_str()) {
            cfn::set_termination_protection(&clients.cfn, stack, true).await?;
        }
        report.executed.push(stack.clone());
    }
    Ok(Outcome::Done(report))
}
