//! `cargo xtask pipeline`: the set-up of a stage's delivery pipeline (`deploy`, once, from a laptop),
//! and what its plan build hands to its approval stage (`variables`).
//!
//! The pipeline stack goes through the same change set, review and gates as every stack; after its
//! first deploy the pipeline's own plan includes it, so changes to its roles and steps wait for a
//! person like any other new grant.
//!
//! The decisions are pure: [`connection_gate`] (whether the connection can be used yet, and what to
//! click if not) and [`variables`] (what the approval stage reads of a plan).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use crate::aws::{AwsResultExt as _, Clients, StageArgs};
use crate::deploy::plan::Plan;
use crate::deploy::{DeployArgs, StackStep, StepResult, artifacts, gates};
use crate::{BadInput, EXIT_BAD_INPUT, EXIT_DIFFERENCE, Target, cfn, templates};

#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Deploy a stage's pipeline stack (templates/<stage>/pipeline.yaml) through a reviewed change set;
    /// once, to set the pipeline up: after that it deploys itself
    Deploy(PipelineDeployArgs),
    /// Print a plan's variables for the approval stage as shell `export` lines (the plan build runs it)
    Variables {
        /// The plan written by `deploy --no-execute --summary-file`
        plan: PathBuf,
    },
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
    /// Create and show the change set but leave it unexecuted
    #[arg(long)]
    pub no_execute: bool,
}

pub fn run(config_path: &Path, command: PipelineCommand) -> anyhow::Result<ExitCode> {
    match command {
        PipelineCommand::Variables { plan } => {
            let text = std::fs::read_to_string(&plan)
                .map_err(|e| BadInput(format!("reading the plan {}: {e}", plan.display())))?;
            let plan: Plan = serde_json::from_str(&text).map_err(|e| {
                BadInput(format!("{} is not a plan written by `deploy --summary-file`: {e}", plan.display()))
            })?;
            print!("{}", exports(&variables(&plan)));
            Ok(ExitCode::SUCCESS)
        }
        PipelineCommand::Deploy(args) => {
            let runtime = crate::aws::runtime()?;
            match runtime.block_on(deploy(config_path, &args))? {
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
            }
        }
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

/// CodePipeline's manual approval shows at most this many characters of its message.
pub const APPROVAL_LIMIT: usize = 500;

/// The plan build's exported variables, in the order `synth::stacks::pipeline::PLAN_VARIABLES` names
/// them: whether the plan is risky, the approval message (cut to what CodePipeline shows, saying how
/// much more the plan build's log has), and a link to the change set to review first.
pub fn variables(plan: &Plan) -> Vec<(&'static str, String)> {
    let risky = plan.risky();
    let message = plan.approval_message();
    let approval = if message.chars().count() <= APPROVAL_LIMIT {
        message
    } else {
        let lines: Vec<&str> = message.lines().collect();
        let mut kept = String::new();
        let mut shown = 0;
        for line in &lines {
            let more = lines.len() - shown - 1;
            let tail = format!("\n... and {more} more in the plan build's log");
            if kept.chars().count() + line.chars().count() + 1 + tail.chars().count() > APPROVAL_LIMIT {
                break;
            }
            if !kept.is_empty() {
                kept.push('\n');
            }
            kept.push_str(line);
            shown += 1;
        }
        let rest = lines.len() - shown;
        format!("{kept}\n... and {rest} more in the plan build's log")
    };
    // The change set an approver must read first: the first with a new grant or data at risk.
    let first = plan.stacks.iter().find(|s| !s.grants.is_empty() || !s.data_loss.is_empty()).or(plan.stacks.first());
    let url = match first {
        Some(s) => {
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("stackId", &s.stack)
                .append_pair("changeSetId", &s.change_set)
                .finish();
            format!(
                "https://{region}.console.aws.amazon.com/cloudformation/home?region={region}#/stacks/changesets/changes?{query}",
                region = plan.region
            )
        }
        None => format!(
            "https://{region}.console.aws.amazon.com/cloudformation/home?region={region}#/stacks",
            region = plan.region
        ),
    };
    vec![("RISKY", risky.to_string()), ("APPROVAL", approval), ("REVIEW_URL", url)]
}

/// `export NAME='value'` lines a POSIX shell reads back exactly, whatever the value holds.
pub fn exports(variables: &[(&str, String)]) -> String {
    variables.iter().map(|(name, value)| format!("export {name}='{}'\n", value.replace('\'', "'\\''"))).collect()
}

async fn deploy(config_path: &Path, args: &PipelineDeployArgs) -> anyhow::Result<Done> {
    let root = crate::root_of(config_path);
    let target = Target::load(config_path, &args.on.stage)?;
    let (config, stage, names) = (&target.config, target.stage(), &target.names);
    let Some(pipeline) = &stage.pipeline else {
        return Err(BadInput(format!(
            "stage {} has no pipeline: add [pipeline] with connection_arn and repository to stages.toml (the README's \
             \"Delivery pipelines\")",
            stage.name
        ))
        .into());
    };
    let Some(template) = &target.stacks.pipeline else {
        return Err(BadInput(format!("stage {} synthesizes no pipeline stack", stage.name)).into());
    };
    let interactive =
        std::io::IsTerminal::is_terminal(&std::io::stdin()) && std::io::IsTerminal::is_terminal(&std::io::stdout());
    if !args.yes && !args.no_execute && !interactive {
        return Err(BadInput(
            "no terminal to confirm on; pass --yes to deploy without asking (or --no-execute to review only)".into(),
        )
        .into());
    }
    let files = synth::files(config, stage).map_err(crate::refused)?;
    let drift: Vec<String> = templates::compare(&root, &files, false)?.iter().map(ToString::to_string).collect();
    for d in &drift {
        eprintln!("{d}");
    }
    gates::stale(&stage.name, &drift, false).map_err(BadInput)?;

    let clients = Clients::new(&args.on.aws, stage).await?;
    let identity =
        clients.sts.get_caller_identity().send().await.aws().context("asking STS who the credentials belong to")?;
    let account = identity.account.unwrap_or_default();
    gates::account(&stage.name, stage.account.as_deref(), &account).map_err(BadInput)?;

    let connection =
        clients
            .connections
            .get_connection()
            .connection_arn(&pipeline.connection_arn)
            .send()
            .await
            .aws()
            .with_context(|| format!("reading the connection {} named in stages.toml", pipeline.connection_arn))?;
    let status = connection.connection.and_then(|c| c.connection_status).map(|s| s.as_str().to_owned());
    if let Err(what) = connection_gate(&pipeline.connection_arn, status.as_deref().unwrap_or("unknown"), &stage.region)
    {
        return Ok(Done::NotReady(what));
    }
    println!("connection {} is AVAILABLE", pipeline.connection_arn);

    // The pipeline keeps its artifacts and build cache in the stage's artifact bucket.
    let bucket = artifacts::bucket_name(&config.project, &account, &stage.region, stage.artifact_bucket.as_deref());
    if artifacts::ensure_bucket(&clients.s3, &bucket, &stage.region, &account, &stage.name).await? {
        println!("created artifact bucket {bucket} (versioned, encrypted, not public, TLS only)");
    }

    let stack = names.pipeline_stack();
    let json = template.to_json();
    let text = synth::render(template);
    let deploy_args = DeployArgs {
        on: args.on.clone(),
        yes: args.yes,
        approve_iam: args.approve_iam,
        approve_data_loss: false,
        no_execute: args.no_execute,
        summary_file: None,
        execute_plan: None,
        cfn_role: None,
        outputs_file: None,
        allow_stale: false,
        artifacts: None,
    };
    let step = StackStep {
        clients: &clients,
        stack: &stack,
        json: &json,
        text: &text,
        parameters: &[],
        termination_protection: None,
    };
    let done = match step.run(&deploy_args, interactive, (&bucket, &account), clients.poll).await? {
        StepResult::Executed => Done::Deployed,
        StepResult::Unchanged => Done::Unchanged,
        StepResult::LeftForReview(_) => Done::LeftForReview,
        StepResult::Refused(reason) => return Ok(Done::Refused(reason)),
        StepResult::Failed => return Ok(Done::Failed),
    };
    if done != Done::LeftForReview {
        let outputs = cfn::outputs(&clients.cfn, &stack).await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::plan::{PlannedStack, VERSION};

    fn plan(grants: usize, data: usize) -> Plan {
        let stack = |name: &str, grants: usize, data: usize| PlannedStack {
            stack: name.into(),
            change_set: format!("arn:aws:cloudformation:us-east-1:123456789012:changeSet/xtask-1/{name}"),
            creating: false,
            baseline: None,
            template_sha256: "00".into(),
            changes: Vec::new(),
            iam: Vec::new(),
            grants: (0..grants)
                .map(|i| format!("role/auth-dev-signin  s3:GetObject  arn:aws:s3:::bucket-{i}/*"))
                .collect(),
            data_loss: (0..data).map(|i| format!("removes Table{i} (AWS::DynamoDB::Table)")).collect(),
        };
        Plan {
            version: VERSION,
            stage: "dev".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            stacks: vec![stack("auth-dev-data", 0, data), stack("auth-dev-api", grants, 0)],
        }
    }

    fn get<'a>(vars: &'a [(&str, String)], name: &str) -> &'a str {
        vars.iter().find(|(n, _)| *n == name).map_or("", |(_, v)| v.as_str())
    }

    #[test]
    fn a_plan_with_a_new_grant_or_data_loss_stops_the_pipeline_and_one_without_does_not() {
        // The Approve stage is entered only when RISKY is "true" (synth's entry condition).
        assert_eq!(get(&variables(&plan(0, 0)), "RISKY"), "false");
        assert_eq!(get(&variables(&plan(1, 0)), "RISKY"), "true");
        assert_eq!(get(&variables(&plan(0, 1)), "RISKY"), "true");
        let risky = variables(&plan(1, 0));
        assert!(get(&risky, "APPROVAL").contains("auth-dev-api: new grant role/auth-dev-signin"), "{risky:?}");
        // The link opens the change set with the grant, not the first one.
        assert!(get(&risky, "REVIEW_URL").contains("stackId=auth-dev-api"), "{risky:?}");
        assert!(get(&risky, "REVIEW_URL").contains("changeSetId=arn%3Aaws%3Acloudformation"), "{risky:?}");
    }

    #[test]
    fn the_variables_are_the_ones_the_pipeline_reads() {
        let names: Vec<&str> = variables(&plan(0, 0)).iter().map(|(n, _)| *n).collect();
        assert_eq!(names, synth::stacks::pipeline::PLAN_VARIABLES);
    }

    #[test]
    fn the_approval_message_fits_codepipeline_and_says_how_much_is_left_out() {
        let vars = variables(&plan(40, 3));
        let message = get(&vars, "APPROVAL");
        assert!(message.chars().count() <= APPROVAL_LIMIT, "{} characters", message.chars().count());
        assert!(message.contains("more in the plan build's log"), "{message}");
        assert!(message.starts_with("auth-dev-data: data removes Table0"), "{message}");
    }

    #[test]
    fn exports_read_back_exactly_in_a_shell() {
        let tricky = vec![("APPROVAL", "it's $HOME `id` \"q\"\nline 2".to_owned()), ("RISKY", "true".to_owned())];
        let script = format!("{}printf '%s' \"$APPROVAL\"", exports(&tricky));
        let out = std::process::Command::new("sh").arg("-c").arg(&script).output().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(String::from_utf8_lossy(&out.stdout), tricky[0].1);
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
