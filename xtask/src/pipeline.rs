//! `cargo xtask pipeline`: the set-up of a stage's delivery pipeline (`deploy`, once, from a laptop), and
//! the two steps the pipeline runs with the xtask of the commit it pins (`review`, `apply`).
//!
//! The pipeline stack goes through the same change set, review and gates as every stack; after its
//! first deploy the pipeline's own plan includes it, and the review sends every change to it to a
//! person: its roles, its steps and the commit it trusts to review.
//!
//! `review` trusts nothing the pushed commit wrote but the change set ARNs of its plan: it reads each
//! change set from CloudFormation, checks that it belongs to one of the stage's stacks, and reviews the
//! template it would deploy against the deployed one. `apply` executes the reviewed list only if its
//! SHA-256 is the digest the review exported (CodePipeline carries it; no build can change it).
//!
//! The decisions are pure: [`connection_gate`] (whether the connection can be used yet, and what to
//! click if not), [`variables`] (what the approval stage reads of a review), [`allowed_stack`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use crate::aws::{AwsArgs, AwsResultExt as _, Clients, StageArgs};
use crate::deploy::changes::IamDiff;
use crate::deploy::plan::{self, Plan, PlannedStack};
use crate::deploy::{DeployArgs, Outcome, StackStep, StepResult, apply, artifacts, changes, gates};
use crate::{BadInput, EXIT_BAD_INPUT, EXIT_DIFFERENCE, Target, cfn, templates};

#[derive(Debug, Subcommand)]
pub enum PipelineCommand {
    /// Deploy a stage's pipeline stack (templates/<stage>/pipeline.yaml) through a reviewed change set;
    /// once, to set the pipeline up: after that it deploys itself
    Deploy(PipelineDeployArgs),
    /// The pipeline's review step: review the change sets a plan names, write the reviewed list, and
    /// print RISKY, APPROVAL, REVIEW_URL and REVIEW_DIGEST as shell `export` lines
    Review(ReviewArgs),
    /// The pipeline's apply step: execute exactly the reviewed change sets, if the list is the reviewed one
    Apply(ApplyArgs),
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
pub struct ReviewArgs {
    #[command(flatten)]
    pub on: StageNames,
    /// The plan the plan step wrote (`deploy --no-execute --summary-file`)
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// Where to write the reviewed list of change sets
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
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
    /// Turn on termination protection of the data stack after it changes (a protected stage)
    #[arg(long)]
    pub protect: bool,
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
        PipelineCommand::Review(args) => {
            let runtime = crate::aws::runtime()?;
            Ok(runtime.block_on(review(&args))?.exit_code())
        }
        PipelineCommand::Apply(args) => {
            let runtime = crate::aws::runtime()?;
            Ok(runtime.block_on(apply_reviewed(&args))?.exit_code())
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

/// Whether a plan may touch `stack` at all: only the stage's own stacks and the region's bootstrap.
pub fn allowed_stack(names: &synth::Names, stack: &str) -> bool {
    names.stacks().iter().any(|s| s == stack)
}

/// What a change to the pipeline stack is to the review: always a person's call, since it may change
/// who reviews (the pinned commit), what the builds may do, and whether Approve is ever entered.
pub const PIPELINE_CHANGES_ITSELF: &str =
    "the pipeline changes itself (its reviewer, roles or steps): a person approves every such change";

fn read_file(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
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

/// The review step: every change set the plan names, read from CloudFormation and reviewed by this
/// (pinned) xtask; the reviewed list written to `args.out`; the approval stage's variables printed.
async fn review(args: &ReviewArgs) -> anyhow::Result<Outcome> {
    let names = synth::Names::of(&args.on.project, &args.on.stage);
    let planned: Plan = serde_json::from_slice(&read_file(&args.plan, "plan")?)
        .map_err(|e| BadInput(format!("{} is not a plan: {e}", args.plan.display())))?;
    let clients = clients_for(&args.on).await?;
    let account = clients.account().await?;
    let mut reviewed = Vec::new();
    for stack in &planned.stacks {
        if !allowed_stack(&names, &stack.stack) {
            return Ok(Outcome::Refused(format!(
                "the plan names stack {}, which is not one of stage {}'s: {}",
                stack.stack,
                args.on.stage,
                names.stacks().join(", ")
            )));
        }
        let described = match apply::change_set_of(&clients.cfn, &stack.change_set, &stack.stack).await? {
            Ok(described) => described,
            Err(why) => return Ok(Outcome::Refused(why)),
        };
        let template = apply::change_set_template(&clients.cfn, &stack.change_set, &stack.stack).await?;
        let new: serde_json::Value = serde_yaml::from_str(&template)
            .map_err(|e| BadInput(format!("the template of {} does not parse: {e}", stack.change_set)))?;
        let baseline = apply::baseline(&clients.cfn, &stack.stack).await?;
        let creating = baseline.as_ref().is_none_or(|b| b.status == "REVIEW_IN_PROGRESS");
        let deployed = if creating { None } else { cfn::deployed_template(&clients.cfn, &stack.stack).await? };
        let found = changes::changes_of(&described);
        let iam = IamDiff::between(&stack.stack, deployed.as_ref(), &new);
        if !iam.unreviewed.is_empty() {
            let why: Vec<String> = iam.unreviewed.iter().map(ToString::to_string).collect();
            return Ok(Outcome::Refused(format!("the review cannot read {}: {}", stack.stack, why.join("; "))));
        }
        let mut grants: Vec<String> = iam.grants().into_iter().map(changes::line).collect();
        if stack.stack == names.pipeline_stack() && !found.is_empty() {
            grants.push(PIPELINE_CHANGES_ITSELF.to_owned());
        }
        eprintln!("\n== {} ({} change(s)), change set {}", stack.stack, found.len(), stack.change_set);
        eprint!("{}", changes::table(&found));
        if !iam.is_empty() {
            eprint!("{}", iam.render());
        }
        reviewed.push(PlannedStack {
            stack: stack.stack.clone(),
            change_set: stack.change_set.clone(),
            creating,
            baseline,
            template_sha256: plan::template_digest(&template).map_err(BadInput)?,
            changes: found
                .iter()
                .map(|c| format!("{} {} ({}) {}", c.action, c.logical_id, c.resource_type, c.replacement))
                .collect(),
            iam: iam.render().lines().map(|l| l.trim().to_owned()).collect(),
            grants,
            data_loss: gates::data_loss(&found, deployed.as_ref(), &new, &account),
        });
    }
    let reviewed = Plan {
        version: plan::VERSION,
        stage: args.on.stage.clone(),
        account,
        region: clients.region.clone(),
        stacks: reviewed,
    };
    let bytes = serde_json::to_vec_pretty(&reviewed).context("encoding the reviewed list")?;
    std::fs::write(&args.out, &bytes).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!("\n{}", reviewed.approval_message());
    let mut vars = variables(&reviewed);
    vars.push(("REVIEW_DIGEST", crate::package::hex_sha256(&bytes)));
    print!("{}", exports(&vars));
    Ok(Outcome::Done(super::deploy::Report::default()))
}

/// The apply step: the reviewed list, if its SHA-256 is the review's digest, executed change set by
/// change set after the same checks as `deploy --execute-plan`.
async fn apply_reviewed(args: &ApplyArgs) -> anyhow::Result<Outcome> {
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
    if reviewed.stage != args.on.stage || reviewed.stacks.iter().any(|s| !allowed_stack(&names, &s.stack)) {
        return Ok(Outcome::Refused(format!("the reviewed list is not stage {}'s", args.on.stage)));
    }
    let clients = clients_for(&args.on).await?;
    if clients.account().await? != reviewed.account || clients.region != reviewed.region {
        return Ok(Outcome::Refused("the reviewed list is for another account or region".into()));
    }
    let protected = args.protect.then(|| names.data_stack());
    apply::execute(&clients, &reviewed, protected.as_deref()).await
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

/// The review's exported variables but its digest, in the order `synth::stacks::pipeline::REVIEW_VARIABLES`
/// names them: whether the plan is risky, the approval message (cut to what CodePipeline shows, saying
/// how much more the review build's log has), and a link to the change set to review first.
pub fn variables(plan: &Plan) -> Vec<(&'static str, String)> {
    let risky = plan.risky();
    let approval = fit(&plan.approval_message(), APPROVAL_LIMIT);
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

/// What fits in `limit` characters of `message`: each line cut to a share of the room, the change set
/// lines kept (they name what runs), and how many lines were left out, so that an approver never sees an
/// empty message or a message without its change sets.
pub fn fit(message: &str, limit: usize) -> String {
    if message.chars().count() <= limit {
        return message.to_owned();
    }
    let cut = |line: &str, room: usize| -> String {
        if line.chars().count() <= room {
            line.to_owned()
        } else {
            let kept: String = line.chars().take(room.saturating_sub(3)).collect();
            format!("{kept}...")
        }
    };
    let (sets, rows): (Vec<&str>, Vec<&str>) = message.lines().partition(|l| l.contains(": change set "));
    // The change set lines first, shortened to the ARN's tail if need be, then as many rows as fit.
    let mut out: Vec<String> = sets.iter().map(|l| cut(l, limit / (sets.len().max(1) * 2))).collect();
    let used = |out: &[String]| out.iter().map(|l| l.chars().count() + 1).sum::<usize>();
    let mut shown = 0;
    for row in &rows {
        let tail = format!("... and {} more in the review build's log", rows.len() - shown);
        let line = cut(row, 120);
        if used(&out) + line.chars().count() + 1 + tail.len() + 1 > limit {
            break;
        }
        out.insert(shown, line);
        shown += 1;
    }
    if shown < rows.len() {
        out.insert(shown, format!("... and {} more in the review build's log", rows.len() - shown));
    }
    out.join("\n").chars().take(limit).collect()
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
    let account = clients.account().await?;
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
        let mut names: Vec<&str> = variables(&plan(0, 0)).iter().map(|(n, _)| *n).collect();
        names.push("REVIEW_DIGEST");
        assert_eq!(names, synth::stacks::pipeline::REVIEW_VARIABLES);
    }

    #[test]
    fn only_the_stages_own_stacks_may_be_planned() {
        let names = synth::Names::of("auth", "dev");
        for ok in ["auth-bootstrap", "auth-dev-data", "auth-dev-api", "auth-dev-pipeline"] {
            assert!(allowed_stack(&names, ok), "{ok}");
        }
        for not in ["auth-prod-data", "auth-dev-eu-api", "other-bootstrap", "auth-dev-data2"] {
            assert!(!allowed_stack(&names, not), "{not}");
        }
    }

    #[test]
    fn a_long_first_line_still_leaves_the_change_sets_and_a_count() {
        let mut p = plan(3, 0);
        p.stacks[1].grants[0] = format!("pipeline auth-dev stage 3 Approve (runs action) {}", "x".repeat(900));
        let message = get(&variables(&p), "APPROVAL").to_owned();
        assert!(message.chars().count() <= APPROVAL_LIMIT, "{message}");
        assert!(message.contains("auth-dev-api: change set arn:aws:cloudformation"), "{message}");
        assert!(message.contains("auth-dev-api: new grant pipeline auth-dev stage 3"), "{message}");
        assert!(message.contains("more in the review build's log"), "{message}");
    }

    #[test]
    fn the_approval_message_fits_codepipeline_and_says_how_much_is_left_out() {
        let vars = variables(&plan(40, 3));
        let message = get(&vars, "APPROVAL");
        assert!(message.chars().count() <= APPROVAL_LIMIT, "{} characters", message.chars().count());
        assert!(message.contains("more in the review build's log"), "{message}");
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
