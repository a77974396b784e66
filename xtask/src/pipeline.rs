//! `cargo xtask pipeline`: the set-up of a stage's delivery pipeline (`deploy`, by a person), the
//! reviewer binary it runs (`reviewer`, built and uploaded once by a person), the two steps the pipeline
//! runs with that binary (`review`, `apply`), and the whole pipeline run on this machine against the
//! emulator (`run --local`).
//!
//! Only a person's credentials change the pipeline stack and the bootstrap stack: the pipeline's deploy
//! role can touch neither, and the review refuses a plan that would. So what judges every change (the
//! pinned binary, the roles, the builds, the boundary) changes only when someone deploys it from their
//! own machine, through the same change set review and gates as every stack.
//!
//! The decisions are pure: [`connection_gate`] (whether the connection can be used yet, and what to
//! click if not), [`deployable_stack`], and those of `review` and `apply`.

pub mod apply;
pub mod local;
pub mod review;
pub mod reviewer;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use crate::aws::{AwsArgs, AwsResultExt as _, Clients, StageArgs};
use crate::deploy::session::{Opening, Session};
use crate::deploy::{StackStep, StepOptions, StepResult, gates};
use crate::{BadInput, EXIT_BAD_INPUT, EXIT_DIFFERENCE, Target, cfn};

#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Deploy a stage's pipeline stack (templates/<stage>/pipeline.yaml) and the region's bootstrap stack
    /// through reviewed change sets: by a person, whenever the pipeline changes
    Deploy(PipelineDeployArgs),
    /// Build the xtask of the commit the pipeline pins (`reviewer`), print its SHA-256 and upload it where
    /// the review and apply builds fetch it
    Reviewer(reviewer::ReviewerArgs),
    /// The pipeline's review step: review the change sets a plan names, write the reviewed list, and
    /// print RISKY, APPROVAL, REVIEW_URL and REVIEW_DIGEST as shell `export` lines
    Review(review::ReviewArgs),
    /// The pipeline's apply step: execute exactly the reviewed change sets, if the list is the reviewed one
    /// and a person approved it when one had to
    Apply(apply::ApplyArgs),
    /// Run the stage's deployed pipeline on this machine against an emulator: Source a clone of a commit,
    /// Plan, Review and Apply the buildspecs' own commands with their roles' credentials, Approve given here
    Run(local::RunArgs),
}

/// Which stage a review or apply acts on, from the pipeline's own template (not from any stages.toml).
#[derive(Debug, Clone, Args)]
pub struct StageNames {
    #[arg(long)]
    pub project: String,
    #[arg(long)]
    pub stage: String,
    #[command(flatten)]
    pub aws: AwsArgs,
}

#[derive(Debug, Clone, Args)]
pub struct PipelineDeployArgs {
    #[command(flatten)]
    pub on: StageArgs,
    /// Execute without asking (required when there is no terminal to ask on)
    #[arg(long, short)]
    pub yes: bool,
    /// Allow new grants: a first deploy creates the pipeline's roles, which are all new
    #[arg(long)]
    pub approve_iam: bool,
    /// Allow weakening a defence of the pipeline stack (its build logs' retention)
    #[arg(long)]
    pub approve_weakening: bool,
    /// Create and show the change sets but leave them unexecuted
    #[arg(long)]
    pub no_execute: bool,
}

pub fn run(config_path: &Path, command: PipelineCommand) -> anyhow::Result<ExitCode> {
    let runtime = crate::aws::runtime()?;
    match command {
        PipelineCommand::Review(args) => Ok(runtime.block_on(review::review(&args))?.exit_code()),
        PipelineCommand::Apply(args) => Ok(runtime.block_on(apply::apply_reviewed(&args))?.exit_code()),
        PipelineCommand::Reviewer(args) => runtime.block_on(reviewer::run(config_path, &args)),
        PipelineCommand::Run(args) => runtime.block_on(local::run(config_path, &args)),
        PipelineCommand::Deploy(args) => match runtime.block_on(deploy(config_path, &args))? {
            Done::Deployed | Done::Unchanged | Done::LeftForReview => Ok(ExitCode::SUCCESS),
            Done::Refused(reason) => {
                eprintln!("error: {reason}");
                Ok(ExitCode::from(EXIT_BAD_INPUT))
            }
            Done::NotReady(what) => {
                eprintln!("error: {what}");
                Ok(ExitCode::from(EXIT_DIFFERENCE))
            }
            Done::Failed => Ok(ExitCode::from(EXIT_DIFFERENCE)),
        },
    }
}

/// Whether the pipeline may plan and apply `stack`: the stage's data and api stacks only. The bootstrap
/// and pipeline stacks are a person's to deploy; another stage's are out of bounds.
pub fn deployable_stack(names: &synth::Names, stack: &str) -> Result<(), String> {
    if stack == names.data_stack() || stack == names.api_stack() {
        Ok(())
    } else if crate::deploy::person_only(names, stack) {
        Err(format!(
            "the plan changes {stack}, which only a person deploys (`cargo xtask pipeline deploy`): the pipeline's roles \
             cannot change what judges the pipeline"
        ))
    } else {
        Err(format!(
            "the plan names stack {stack}, which is not one of this stage's: {}, {}",
            names.data_stack(),
            names.api_stack()
        ))
    }
}

/// One action of a pipeline execution as CodePipeline records it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionRun {
    pub stage: String,
    pub action: String,
    pub status: String,
    /// Who ended it (for a manual approval, the person who approved).
    pub updated_by: Option<String>,
    /// The variables it exported, as CodePipeline parsed them.
    pub variables: std::collections::BTreeMap<String, String>,
    /// The build (or other job) it ran: a CodeBuild build id.
    pub external_id: Option<String>,
}

/// Every action CodePipeline recorded for `execution` of `pipeline`, every page of them. What a build
/// exported is read here, parsed by the API, never pasted into another action's configuration, where a
/// value could add settings of its own.
pub async fn action_runs(clients: &Clients, pipeline: &str, execution: &str) -> anyhow::Result<Vec<ActionRun>> {
    use aws_sdk_codepipeline::types::ActionExecutionFilter;
    let filter = ActionExecutionFilter::builder().pipeline_execution_id(execution).build();
    let mut pages =
        clients.codepipeline.list_action_executions().pipeline_name(pipeline).filter(filter).into_paginator().send();
    let mut runs = Vec::new();
    while let Some(page) = pages.next().await {
        let page =
            page.aws().with_context(|| format!("asking CodePipeline about execution {execution} of {pipeline}"))?;
        for d in page.action_execution_details() {
            let output = d.output();
            runs.push(ActionRun {
                stage: d.stage_name.clone().unwrap_or_default(),
                action: d.action_name.clone().unwrap_or_default(),
                status: d.status.as_ref().map_or("", |s| s.as_str()).to_owned(),
                updated_by: d.updated_by.clone(),
                variables: output
                    .and_then(|o| o.output_variables())
                    .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default(),
                external_id: output
                    .and_then(|o| o.execution_result())
                    .and_then(|r| r.external_execution_id())
                    .map(str::to_owned),
            });
        }
    }
    Ok(runs)
}

fn read_file(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    // A link or a device in an artifact is refused: only a file the build wrote is read.
    let meta =
        std::fs::symlink_metadata(path).map_err(|e| BadInput(format!("reading the {what} {}: {e}", path.display())))?;
    if !meta.file_type().is_file() {
        return Err(BadInput(format!("the {what} {} is not a plain file", path.display())).into());
    }
    std::fs::read(path).map_err(|e| BadInput(format!("reading the {what} {}: {e}", path.display())).into())
}

fn clients_for(on: &StageNames) -> impl std::future::Future<Output = anyhow::Result<Clients>> + '_ {
    let region = on.aws.region.clone().or_else(|| std::env::var("AWS_REGION").ok()).unwrap_or_default();
    async move {
        if region.is_empty() {
            return Err(BadInput("no region: pass --region or set AWS_REGION (CodeBuild sets it)".into()).into());
        }
        Clients::for_region(&on.aws, &region).await
    }
}

/// How `pipeline deploy` ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Done {
    Deployed,
    Unchanged,
    LeftForReview,
    /// A change needed a flag that was not given, or a confirmation was declined.
    Refused(String),
    /// The connection cannot be used yet; what to do about it.
    NotReady(String),
    Failed,
}

/// Whether a connection in `status` can serve the pipeline's source action, and if not, what to do.
/// CloudFormation and the API can only make a connection `PENDING`; its OAuth hand-shake with the
/// provider happens in the console.
pub fn connection_gate(arn: &str, status: &str, region: &str) -> Result<(), String> {
    let console = format!("https://{region}.console.aws.amazon.com/codesuite/settings/connections?region={region}");
    match status {
        "AVAILABLE" => Ok(()),
        "PENDING" => Err(format!(
            "the connection {arn} is PENDING: its hand-shake with the repository's provider is not done, and only \
             the console can do it. Open {console}, choose the connection, choose \"Update pending connection\", \
             and authorize the app for the repository; then run this command again"
        )),
        "ERROR" => Err(format!(
            "the connection {arn} is in ERROR (its authorization was revoked or the app uninstalled): open {console}, \
             choose the connection and update it, or make a new one and put its ARN in stages.toml"
        )),
        other => Err(format!("the connection {arn} is {other}, not AVAILABLE: open {console} and check it")),
    }
}

async fn deploy(config_path: &Path, args: &PipelineDeployArgs) -> anyhow::Result<Done> {
    let target = Target::load(config_path, &args.on.stage)?;
    let stage = target.stage();
    let Some(pipeline) = stage.pipeline.clone() else {
        return Err(BadInput(format!(
            "stage {} has no pipeline: add [pipeline] with connection_arn and repository to stages.toml (the README's \
             \"Delivery pipelines\")",
            stage.name
        ))
        .into());
    };
    if target.stacks.pipeline.is_none() {
        return Err(BadInput(format!("stage {} synthesizes no pipeline stack", stage.name)).into());
    }
    let opening = Opening { unattended: args.yes || args.no_execute, allow_stale: false };
    let session = Session::open(config_path, target, &args.on.aws, opening).await?;
    let (stage, names, clients) = (session.target.stage(), &session.target.names, &session.clients);
    if let Err(what) = connection_ready(clients, &pipeline.connection_arn, &stage.region).await? {
        return Ok(Done::NotReady(what));
    }
    println!("connection {} is AVAILABLE", pipeline.connection_arn);

    // The pipeline keeps its artifacts, Plan's cache and the reviewer binary in the stage's artifact bucket.
    let bucket = session.artifact_bucket(true).await?;
    let at = (bucket.as_str(), session.account.as_str());
    if let Some(missing) = reviewer::missing(clients, at, &pipeline.reviewer_sha256).await? {
        return Ok(Done::NotReady(format!(
            "{missing}: the review and apply builds would have nothing to run. Run `cargo xtask pipeline reviewer \
             --stage {}` (it builds the reviewer commit's xtask and uploads it), then this again",
            stage.name
        )));
    }

    // The pipeline's stacks are a person's to approve: no data-loss approval, no CloudFormation role, no run.
    let options = StepOptions {
        stage: &stage.name,
        yes: args.yes,
        approvals: gates::Approvals { iam: args.approve_iam, data_loss: false, weakening: args.approve_weakening },
        plan_only: args.no_execute,
        cfn_role: None,
        run_id: None,
    };
    // The region's bootstrap stack first (the stage's API logs through it), then the pipeline's own.
    let stacks = &session.target.stacks;
    let mut done = Done::Unchanged;
    for (stack, template) in
        [(names.bootstrap_stack(), Some(&stacks.bootstrap)), (names.pipeline_stack(), stacks.pipeline.as_ref())]
    {
        let Some(template) = template else { continue };
        let json = template.to_json();
        let text = synth::render(template);
        let step = StackStep {
            clients,
            stack: &stack,
            json: &json,
            text: &text,
            parameters: &[],
            termination_protection: None,
        };
        let described = cfn::describe(&clients.cfn, &stack).await?;
        done = match step.run(described, &options, session.interactive, at, clients.poll).await? {
            StepResult::Executed => Done::Deployed,
            StepResult::Unchanged if done == Done::Deployed => Done::Deployed,
            StepResult::Unchanged => Done::Unchanged,
            StepResult::LeftForReview(_) => Done::LeftForReview,
            StepResult::Refused(reason) => return Ok(Done::Refused(reason)),
            StepResult::Failed => return Ok(Done::Failed),
        };
    }
    if done != Done::LeftForReview {
        let outputs = cfn::outputs(&clients.cfn, &names.pipeline_stack()).await?;
        for (key, value) in &outputs {
            println!("  {key} = {value}");
        }
        println!(
            "\nthe pipeline {} deploys stage {} on every push to {} of {}; watch it at \
             https://{region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/{}/view?region={region}",
            names.pipeline(),
            stage.name,
            pipeline.branch,
            pipeline.repository,
            names.pipeline(),
            region = stage.region
        );
    }
    Ok(done)
}

/// Whether the connection the stage names can serve the pipeline ([`connection_gate`]), and if not, what to do.
async fn connection_ready(clients: &Clients, arn: &str, region: &str) -> anyhow::Result<Result<(), String>> {
    let connection = clients
        .connections
        .get_connection()
        .connection_arn(arn)
        .send()
        .await
        .aws()
        .with_context(|| format!("reading the connection {arn} named in stages.toml"))?;
    let status = connection.connection.and_then(|c| c.connection_status).map(|s| s.as_str().to_owned());
    Ok(connection_gate(arn, status.as_deref().unwrap_or("unknown"), region))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_stages_data_and_api_stacks_go_through_the_pipeline() {
        let names = synth::Names::of("auth", "dev");
        for ok in ["auth-dev-data", "auth-dev-api"] {
            assert_eq!(deployable_stack(&names, ok), Ok(()), "{ok}");
        }
        for person in ["auth-bootstrap", "auth-dev-pipeline"] {
            let why = deployable_stack(&names, person).unwrap_err();
            assert!(why.contains("only a person deploys"), "{why}");
        }
        for not in ["auth-prod-data", "auth-dev-eu-api", "other-bootstrap", "auth-dev-data2"] {
            assert!(deployable_stack(&names, not).unwrap_err().contains("not one of this stage's"), "{not}");
        }
    }

    #[test]
    fn only_an_available_connection_lets_the_pipeline_deploy() {
        let arn = "arn:aws:codeconnections:us-east-1:123456789012:connection/x";
        assert_eq!(connection_gate(arn, "AVAILABLE", "us-east-1"), Ok(()));
        let pending = connection_gate(arn, "PENDING", "eu-west-1").err().unwrap_or_default();
        assert!(pending.contains("Update pending connection"), "{pending}");
        assert!(
            pending.contains("https://eu-west-1.console.aws.amazon.com/codesuite/settings/connections"),
            "{pending}"
        );
        assert!(connection_gate(arn, "ERROR", "us-east-1").is_err());
        assert!(connection_gate(arn, "unknown", "us-east-1").is_err());
    }
}
