//! `cargo xtask deploy --stage S`: from source to running stacks, through reviewed change sets.
//!
//! What is deployed is what was reviewed: the templates are synthesized in process and must match the
//! committed `templates/`. Each stack (data, then api) gets a change set whose resource changes and IAM
//! changes are shown before anything runs; broadening IAM and losing data each need their own flag.

pub mod apply;
pub mod artifacts;
pub mod changes;
pub mod gates;
pub mod plan;
pub mod session;

use std::collections::BTreeMap;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::Value;

use crate::aws::{Clients, StageArgs};
use crate::cfn;
use crate::package::{self, Artifact, Profile};
use crate::{EXIT_BAD_INPUT, EXIT_DIFFERENCE, Target};
use aws_sdk_cloudformation::types::StackStatus;
use cfn::Body;
use changes::{IamDiff, Prepared};
use gates::{Approvals, Preflight, Refusal};
use session::{Opening, Session};

#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub on: StageArgs,
    /// Execute without asking (required when there is no terminal to ask on)
    #[arg(long, short)]
    pub yes: bool,
    /// Allow a change that grants access not granted before (a new action, resource or principal, a
    /// function's role, a route's callers, a role API Gateway assumes)
    #[arg(long)]
    pub approve_iam: bool,
    /// Allow losing or exposing stored data (removing or replacing the table, key or secret, lifting
    /// retention or deletion protection, TTL on, point-in-time recovery off, a key disabled)
    #[arg(long)]
    pub approve_data_loss: bool,
    /// Allow weakening a defence (a WAF rule removed, loosened or switched to Count, its association gone,
    /// a rate limit raised, throttling lowered, lockout, session or token lifetimes loosened, an access or
    /// audit log turned off or kept shorter); templates/<stage>/defences.md lists them
    #[arg(long)]
    pub approve_weakening: bool,
    /// Create and show the change sets but leave them unexecuted, for review in the console
    #[arg(long)]
    pub no_execute: bool,
    /// With --no-execute: write the plan (stacks, change set ARNs, IAM and data-loss rows, template hashes)
    /// as JSON to this file, for `--execute-plan` and for a pipeline's approval step
    #[arg(long, value_name = "FILE", requires = "no_execute")]
    pub summary_file: Option<PathBuf>,
    /// Execute exactly the change sets a plan lists, by ARN, refusing any whose stack changed since the
    /// plan; nothing is built, uploaded or created
    #[arg(long, value_name = "FILE", conflicts_with_all = ["no_execute", "artifacts"])]
    pub execute_plan: Option<PathBuf>,
    /// The role CloudFormation assumes to make the changes (a pipeline's deploy role), instead of the
    /// caller's credentials. Such a role may change the data and api stacks only: the bootstrap and
    /// pipeline stacks are checked, and left to a person (`cargo xtask pipeline deploy`)
    #[arg(long, value_name = "ARN")]
    pub cfn_role: Option<String>,
    /// Name the change sets `xtask-<ID>` (a pipeline passes its execution id, so that its review can
    /// tell the change sets of its run from any other)
    #[arg(long, value_name = "ID", value_parser = run_id)]
    pub run_id: Option<String>,
    /// Write the stacks' outputs as a JSON object to this file
    #[arg(long, value_name = "FILE")]
    pub outputs_file: Option<PathBuf>,
    /// Deploy even though templates/ differs from what stages.toml synthesizes
    #[arg(long)]
    pub allow_stale: bool,
    /// Deploy a protected stage even though its stacks drifted from their templates (a change made
    /// outside CloudFormation, which the change sets may undo); `cargo xtask drift` shows the drift
    #[arg(long)]
    pub allow_drift: bool,
    /// Deploy the zips of an earlier `cargo xtask build` from this directory instead of building
    #[arg(long, value_name = "DIR")]
    pub artifacts: Option<PathBuf>,
}

/// A run id for change set names: letters, digits and hyphens (a UUID, as CodePipeline's execution ids are).
fn run_id(text: &str) -> Result<String, String> {
    let ok = !text.is_empty() && text.len() <= 100 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!("`{text}` is not a run id: up to 100 letters, digits and hyphens"))
    }
}

/// The name of a change set deploy creates: `xtask-<run id>` when the run has one, else `xtask-<seconds>`.
pub fn change_set_name(run: Option<&str>) -> String {
    match run {
        Some(run) => format!("xtask-{run}"),
        None => format!("xtask-{}", SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())),
    }
}

/// Whether only a person's credentials may change `stack`: the bootstrap stack (one per account and
/// region, its role attached to AWS's logging policy) and the pipeline stack (the roles, builds and
/// boundary that judge every other change). A pipeline's deploy role may change neither.
pub fn person_only(names: &synth::Names, stack: &str) -> bool {
    stack == names.bootstrap_stack() || stack == names.pipeline_stack()
}

/// What one run did, for callers and tests.
#[derive(Debug, Default)]
pub struct Report {
    pub uploaded: usize,
    pub executed: Vec<String>,
    pub unchanged: Vec<String>,
    pub outputs: BTreeMap<String, String>,
}

pub fn run(config_path: &Path, args: &DeployArgs) -> anyhow::Result<ExitCode> {
    let runtime = crate::aws::runtime()?;
    let outcome = match &args.execute_plan {
        Some(plan) => runtime.block_on(apply::run(config_path, args, plan)),
        None => runtime.block_on(deploy(config_path, args)),
    };
    Ok(outcome?.exit_code())
}

/// How a deploy ended when it did not error out.
#[derive(Debug)]
pub enum Outcome {
    Done(Report),
    /// A change needed a flag that was not given, or a confirmation was declined.
    Refused(String),
    /// A stack operation failed; the root cause was printed.
    Failed,
}

impl Outcome {
    /// 0 done; 2 refused, with the reason printed; 1 failed.
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Done(_) => ExitCode::SUCCESS,
            Outcome::Refused(reason) => {
                eprintln!("error: {reason}");
                ExitCode::from(EXIT_BAD_INPUT)
            }
            Outcome::Failed => ExitCode::from(EXIT_DIFFERENCE),
        }
    }
}

pub async fn deploy(config_path: &Path, args: &DeployArgs) -> anyhow::Result<Outcome> {
    let target = Target::load(config_path, &args.on.stage)?;
    let opening = Opening { unattended: args.yes || args.no_execute, allow_stale: args.allow_stale };
    let session = Session::open(config_path, target, &args.on.aws, opening).await?;
    let (config, stage, names) = (&session.target.config, session.target.stage(), &session.target.names);
    println!("deploying {} to account {}, region {}", names.prefix(), session.account, stage.region);
    if let Some(refused) = check_drift(&session, args).await? {
        return Ok(refused);
    }

    // Build and upload.
    let artifacts: Vec<Artifact> = match &args.artifacts {
        Some(dir) => package::existing(dir, &config.functions, stage.architecture)?,
        None => package::build(&crate::workspace()?, &config.functions, stage.architecture, Profile::Release)?,
    };
    // A pipeline's plan may not change the bucket's policy; a person's deploy brings an older bucket's up to date.
    let bucket = session.artifact_bucket(args.cfn_role.is_none()).await?;
    let (uploaded, parameters) = upload(&session, &bucket, &artifacts).await?;
    let mut report = Report { uploaded, ..Report::default() };

    // Each stack in order: change set, review, execute, watch.
    let planned = match each_stack(&session, args, &bucket, &parameters, &mut report).await? {
        Walked::Planned(planned) => planned,
        Walked::Stopped(outcome) => return Ok(outcome),
    };
    if args.no_execute {
        let plan = plan::Plan {
            version: plan::VERSION,
            stage: stage.name.clone(),
            account: session.account.clone(),
            region: stage.region.clone(),
            run: args.run_id.clone(),
            stacks: planned,
        };
        leave_for_review(&plan, args.summary_file.as_deref())?;
        return Ok(Outcome::Done(report));
    }
    for (stack, _) in session.target.stacks.named(names) {
        report.outputs.extend(cfn::outputs(&session.clients.cfn, &stack).await?);
    }
    show_outputs(&report.outputs, args.outputs_file.as_deref())?;
    if report.executed.is_empty() {
        println!("no changes: every stack is up to date");
    }
    Ok(Outcome::Done(report))
}

/// Drift first, before anything is built: a change set over a drifted stack can silently undo a hand-made
/// fix, or fail halfway. A pipeline's deploy (`--cfn-role`) skips it: detection reads every resource, which
/// the pipeline's plan and deploy roles may not.
async fn check_drift(session: &Session, args: &DeployArgs) -> anyhow::Result<Option<Outcome>> {
    if args.cfn_role.is_some() {
        return Ok(None);
    }
    let stage = session.target.stage();
    println!("checking the deployed stacks for drift");
    let drifts = match crate::drift::detect(&session.clients, &session.target).await {
        Ok(drifts) => drifts,
        // A protected stage is not deployed unchecked, unless told to; any other is deployed with a warning.
        Err(error) if stage.protect && !args.allow_drift => {
            return Err(error.context(
                "detecting drift on a protected stage; fix the cause, or pass --allow-drift to deploy unchecked",
            ));
        }
        Err(error) => {
            println!("warning: drift could not be detected ({error:#}); deploying unchecked");
            return Ok(None);
        }
    };
    match crate::drift::gate(&drifts, stage.protect, args.allow_drift) {
        crate::drift::Gate::Clear => Ok(None),
        gate => {
            for drift in drifts.iter().filter(|d| d.drifted() || !d.complete) {
                print!("{}", crate::drift::render(drift));
            }
            if gate == crate::drift::Gate::Refuse {
                return Ok(Some(Outcome::Refused(format!(
                    "stage {} is protected and its stacks drifted from their templates (or could not all be \
                     checked): the change sets may undo a hand-made fix or fail halfway; bring the change into \
                     stages.toml or the declarations (or undo it), or pass --allow-drift to deploy over it",
                    stage.name
                ))));
            }
            println!("warning: deploying over drift (the change sets may undo the changes above)");
            Ok(None)
        }
    }
}

/// Uploads each function's zip under the stage's code prefix, and returns how many were new and the api
/// stack's parameters: the bucket, and each function's code by key and by the version just stored, so
/// that the change set pins the bytes.
async fn upload(
    session: &Session,
    bucket: &str,
    artifacts: &[Artifact],
) -> anyhow::Result<(usize, Vec<(String, String)>)> {
    let (config, stage) = (&session.target.config, session.target.stage());
    // Each stage's code under its own prefix, so that no stage's pipeline can write another's.
    let code_prefix = artifacts::code_prefix(&config.project, &stage.name);
    println!("artifacts in s3://{bucket}:");
    let (uploaded, stored) =
        artifacts::upload(&session.clients.s3, bucket, &session.account, &code_prefix, artifacts).await?;
    let mut parameters = vec![("ArtifactBucket".to_owned(), bucket.to_owned())];
    for (a, s) in artifacts.iter().zip(&stored) {
        parameters.push((synth::stacks::api::code_key_parameter(&a.function), s.key.clone()));
        parameters.push((synth::stacks::api::code_version_parameter(&a.function), s.version.clone()));
    }
    Ok((uploaded, parameters))
}

/// How the walk over a stage's stacks ended.
enum Walked {
    /// Every stack was deployed, unchanged or left for review (those are listed, for the plan).
    Planned(Vec<plan::PlannedStack>),
    /// A stack was refused or failed: the deploy ends here.
    Stopped(Outcome),
}

/// Takes each of the stage's stacks through its step, in order, recording what was executed or unchanged in
/// `report`.
async fn each_stack(
    session: &Session,
    args: &DeployArgs,
    bucket: &str,
    parameters: &[(String, String)],
    report: &mut Report,
) -> anyhow::Result<Walked> {
    let (stage, names, clients) = (session.target.stage(), &session.target.names, &session.clients);
    let mut planned = Vec::new();
    for (stack, template) in session.target.stacks.named(names) {
        // One description per stack serves every check below and the step's preflight.
        let described = cfn::describe(&clients.cfn, &stack).await?;
        // The pipeline stack is set up once with `cargo xtask pipeline deploy` (it checks the connection
        // first); after that every deploy, the pipeline's own among them, keeps it up to date.
        // A stack left in REVIEW_IN_PROGRESS (a `pipeline deploy --no-execute`) is not set up either: only
        // `pipeline deploy` creates it, after checking the connection.
        if stack == names.pipeline_stack() && !described.as_ref().is_some_and(set_up) {
            println!("\n== {stack}\nnot set up yet: `cargo xtask pipeline deploy --stage {}` creates it", stage.name);
            continue;
        }
        // A pipeline's deploy role changes the data and api stacks only: the others are checked here,
        // and a person deploys them.
        if args.cfn_role.is_some() && person_only(names, &stack) {
            if let Some(refused) =
                check_person_stack(&clients.cfn, (&stack, described.as_ref()), template, session).await?
            {
                return Ok(Walked::Stopped(refused));
            }
            continue;
        }
        let is_api = stack == names.api_stack();
        let json = template.to_json();
        let text = synth::render(template);
        let step = StackStep {
            clients,
            stack: &stack,
            json: &json,
            text: &text,
            parameters: if is_api { parameters } else { &[] },
            termination_protection: (stack == names.data_stack()).then_some(stage.protect),
        };
        let at = (bucket, session.account.as_str());
        match step.run(described, &args.step_options(), session.interactive, at, clients.poll).await? {
            StepResult::Executed => report.executed.push(stack.clone()),
            StepResult::Unchanged => report.unchanged.push(stack.clone()),
            StepResult::LeftForReview(left) if !left.creating => planned.push(*left),
            StepResult::LeftForReview(left) => {
                planned.push(*left);
                // A stack that does not exist yet exports what the next one imports: stop here.
                println!("the next stacks depend on {stack}, which does not exist until this change set is executed");
                break;
            }
            StepResult::Refused(reason) => return Ok(Walked::Stopped(Outcome::Refused(reason))),
            StepResult::Failed => return Ok(Walked::Stopped(Outcome::Failed)),
        }
    }
    Ok(Walked::Planned(planned))
}

/// For a pipeline's deploy: says whether a stack only a person deploys is current, and refuses to go on
/// when the bootstrap stack, which the stage's API logs through, does not exist.
async fn check_person_stack(
    cfn: &aws_sdk_cloudformation::Client,
    (stack, described): (&str, Option<&aws_sdk_cloudformation::types::Stack>),
    template: &synth::Template,
    session: &Session,
) -> anyhow::Result<Option<Outcome>> {
    let (stage, names) = (session.target.stage(), &session.target.names);
    match person_stack(cfn, (stack, described), template).await? {
        PersonStack::Current => println!("\n== {stack}\nup to date"),
        PersonStack::Differs => println!(
            "\n== {stack}\nnote: differs from this commit's; only a person deploys it: `cargo xtask pipeline deploy \
             --stage {}`",
            stage.name
        ),
        PersonStack::Missing if stack == names.bootstrap_stack() => {
            return Ok(Some(Outcome::Refused(format!(
                "{stack} does not exist, and the stage's API logs through it: a person deploys it once per account and \
                 region with `cargo xtask pipeline deploy --stage {}`",
                stage.name
            ))));
        }
        PersonStack::Missing => println!("\n== {stack}\nnot set up: a person deploys it"),
    }
    Ok(None)
}

/// Says that the change sets are left for review and whether a person must approve them, and writes the
/// plan to `summary_file` when there is one.
fn leave_for_review(plan: &plan::Plan, summary_file: Option<&Path>) -> anyhow::Result<()> {
    println!("change sets left for review; nothing was executed");
    println!(
        "{}",
        if plan.risky() {
            "risky: a person must approve (--approve-iam, --approve-data-loss or --approve-weakening)"
        } else {
            "not risky: no new grant, no data at risk, no defence weakened"
        }
    );
    if let Some(file) = summary_file {
        let json = serde_json::to_string_pretty(plan).context("encoding the plan")?;
        std::fs::write(file, json + "\n").with_context(|| format!("writing {}", file.display()))?;
        println!(
            "plan written to {}; `cargo xtask deploy --stage {} --execute-plan {}` runs exactly it",
            file.display(),
            plan.stage,
            file.display()
        );
    }
    Ok(())
}

/// Prints the stacks' outputs, the API URL first, and writes them to `outputs_file` when there is one.
fn show_outputs(outputs: &BTreeMap<String, String>, outputs_file: Option<&Path>) -> anyhow::Result<()> {
    if let Some(url) = outputs.get("ApiUrl") {
        println!("\nAPI URL: {url}");
    }
    for (key, value) in outputs.iter().filter(|(k, _)| *k != "ApiUrl") {
        println!("  {key} = {value}");
    }
    if let Some(file) = outputs_file {
        let json = serde_json::to_string_pretty(outputs).context("encoding the outputs")?;
        std::fs::write(file, json + "\n").with_context(|| format!("writing {}", file.display()))?;
        println!("outputs written to {}", file.display());
    }
    Ok(())
}

/// One stack's way through deploy: preflight, change set, review, gates, execution. Public so that
/// tests can put any template through the same gates against the emulator.
#[derive(Debug)]
pub struct StackStep<'a> {
    pub clients: &'a Clients,
    pub stack: &'a str,
    pub json: &'a Value,
    /// The template as sent: YAML for ours, any CloudFormation text for a test's.
    pub text: &'a str,
    pub parameters: &'a [(String, String)],
    /// For the data stack: whether CloudFormation must refuse to delete it (a `protect` stage).
    pub termination_protection: Option<bool>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum StepResult {
    Executed,
    Unchanged,
    /// The change set was left for review (`--no-execute`): what it will do, for the plan.
    LeftForReview(Box<plan::PlannedStack>),
    Refused(String),
    Failed,
}

/// What a deploy step is told to do: plain options, whichever command runs it (`deploy` from its flags,
/// `pipeline deploy` from its own).
#[derive(Debug, Clone, Copy, Default)]
pub struct StepOptions<'a> {
    /// The stage, for messages that say what to run next.
    pub stage: &'a str,
    /// Execute without asking.
    pub yes: bool,
    pub approvals: Approvals,
    /// Create and show the change set, and leave it for review (`--no-execute`).
    pub plan_only: bool,
    /// The role CloudFormation assumes to make the changes.
    pub cfn_role: Option<&'a str>,
    /// The run whose change sets these are: they are named `xtask-<id>`.
    pub run_id: Option<&'a str>,
}

impl DeployArgs {
    /// The options each stack's step takes from the command line.
    pub fn step_options(&self) -> StepOptions<'_> {
        StepOptions {
            stage: &self.on.stage,
            yes: self.yes,
            approvals: Approvals {
                iam: self.approve_iam,
                data_loss: self.approve_data_loss,
                weakening: self.approve_weakening,
            },
            plan_only: self.no_execute,
            cfn_role: self.cfn_role.as_deref(),
            run_id: self.run_id.as_deref(),
        }
    }
}

impl StackStep<'_> {
    /// Takes the stack, as `described` by CloudFormation just before (`None`: it does not exist), through
    /// its change set and the gates.
    pub async fn run(
        &self,
        described: Option<aws_sdk_cloudformation::types::Stack>,
        options: &StepOptions<'_>,
        interactive: bool,
        (bucket, account): (&str, &str),
        poll: Duration,
    ) -> anyhow::Result<StepResult> {
        let cfn = &self.clients.cfn;
        let stack = self.stack;
        println!("\n== {stack}");
        // One description serves the preflight and, for an update, the plan's baseline.
        let creating = match self.preflight(described.as_ref(), options, interactive, poll).await? {
            Ok(creating) => creating,
            Err(refused) => return Ok(refused),
        };
        let deployed = if creating { None } else { cfn::deployed_template(cfn, stack).await? };
        let baseline = if creating { None } else { described.as_ref().and_then(apply::baseline_of) };

        let body = self.body(bucket, account).await?;
        let name = change_set_name(options.run_id);
        let creating_as = (creating, options.cfn_role);
        let deadline = changes::CHANGE_SET_DEADLINE;
        let (id, changes) =
            match changes::create(cfn, stack, &name, &body, self.parameters, creating_as, deadline).await? {
                Prepared::NoChanges => {
                    println!("no changes");
                    self.protect(options).await?;
                    return Ok(StepResult::Unchanged);
                }
                Prepared::Ready { id, changes } => (id, changes),
            };
        let review = Review::show(stack, changes, deployed.as_ref(), self.json);
        let refusals =
            gates::judge(&review.changes, &review.iam, (deployed.as_ref(), self.json), account, options.approvals);
        let unreviewable = refusals.iter().any(|r| matches!(r, Refusal::Unreviewed(_)));
        if options.plan_only && !unreviewable {
            for r in &refusals {
                println!("note: executing it needs a flag: {r}");
            }
            println!("change set left for review: {id}");
            let data_loss = gates::data_loss(&review.changes, deployed.as_ref(), self.json, account);
            let planned = review.planned(stack, (id, creating), baseline, (self.text, data_loss))?;
            return Ok(StepResult::LeftForReview(Box::new(planned)));
        }
        if !refusals.is_empty() {
            cfn::discard(cfn, stack, &id, creating).await;
            let reasons: Vec<String> = refusals.iter().map(ToString::to_string).collect();
            return Ok(StepResult::Refused(format!("not deploying {stack}: {}", reasons.join("; and "))));
        }
        if !options.yes && !ask(interactive, &format!("execute this change set on {stack}?"))? {
            cfn::discard(cfn, stack, &id, creating).await;
            return Ok(StepResult::Refused(format!("not deploying {stack}: declined")));
        }
        self.execute(&id, options, poll).await
    }

    /// Whether the step creates the stack (`Ok(true)`) or updates it, after clearing what a failed first
    /// create or an unexecuted change set left; or why it stops.
    async fn preflight(
        &self,
        described: Option<&aws_sdk_cloudformation::types::Stack>,
        options: &StepOptions<'_>,
        interactive: bool,
        poll: Duration,
    ) -> anyhow::Result<Result<bool, StepResult>> {
        let (cfn, stack) = (&self.clients.cfn, self.stack);
        let status = described.and_then(|s| s.stack_status.clone()).filter(|s| *s != StackStatus::DeleteComplete);
        Ok(Ok(match gates::preflight(stack, options.stage, status.as_ref()) {
            Preflight::Create => true,
            Preflight::Update => false,
            Preflight::DeleteFailedCreate => {
                println!(
                    "{stack} is in ROLLBACK_COMPLETE after a failed first create; it must be deleted before it can be \
                     created again"
                );
                if !(options.yes || ask(interactive, &format!("delete {stack} and create it again?"))?) {
                    return Ok(Err(StepResult::Refused(format!(
                        "{stack} is in ROLLBACK_COMPLETE; delete it (answer yes, or pass --yes) to deploy"
                    ))));
                }
                let settled = cfn::delete(cfn, stack, poll).await?;
                if !settled.succeeded() {
                    bail!("deleting {stack} failed ({}); see `cargo xtask status`", settled.status.as_str());
                }
                true
            }
            Preflight::ReplaceUnexecuted => {
                println!("{stack} holds only an unexecuted change set from an earlier run; replacing it");
                cfn::delete_empty(cfn, stack).await?;
                true
            }
            Preflight::Stop(why) => bail!("{why}"),
        }))
    }

    /// The template as the change set takes it: inline, or uploaded to the artifact bucket when it is over
    /// CloudFormation's inline limit.
    async fn body(&self, bucket: &str, account: &str) -> anyhow::Result<Body> {
        if self.text.len() <= cfn::INLINE_LIMIT {
            return Ok(Body::Inline(self.text.to_owned()));
        }
        let key = format!("templates/{}/{}.yaml", self.stack, sha_hex(self.text));
        let clients = self.clients;
        let url = artifacts::upload_template(&clients.s3, bucket, account, &key, self.text, &clients.region).await?;
        println!(
            "template is {} bytes, over the {} CloudFormation takes inline: passed as {url}",
            self.text.len(),
            cfn::INLINE_LIMIT
        );
        Ok(Body::Url(url))
    }

    /// Executes the change set and watches it settle; on failure, says why and what the next deploy does.
    async fn execute(&self, id: &str, options: &StepOptions<'_>, poll: Duration) -> anyhow::Result<StepResult> {
        let (cfn, stack) = (&self.clients.cfn, self.stack);
        let Some(settled) = cfn::execute_and_watch(cfn, stack, id, options.stage, poll).await? else {
            return Ok(StepResult::Failed);
        };
        if settled.succeeded() {
            println!("{stack}: {}", settled.status.as_str());
            self.protect(options).await?;
            return Ok(StepResult::Executed);
        }
        let cause = match settled.root_cause {
            Some(c) => c,
            None => cfn::status_reason(cfn, stack).await.unwrap_or_else(|| "CloudFormation gave no reason".into()),
        };
        eprintln!("\nerror: deploying {stack} failed: {cause}");
        eprintln!("{stack} is now {}", settled.status.as_str());
        if settled.status == StackStatus::RollbackComplete {
            eprintln!("the next deploy will offer to delete it and create it again");
        }
        Ok(StepResult::Failed)
    }

    /// Makes the stack's termination protection what the stage asks for. Turning it on needs nothing;
    /// turning it off (a stage no longer `protect`) is part of lifting protection and so needs
    /// `--approve-data-loss`, like the template changes that go with it.
    async fn protect(&self, options: &StepOptions<'_>) -> anyhow::Result<()> {
        // A plan changes nothing: the apply (or the next deploy) sets protection.
        if options.plan_only {
            return Ok(());
        }
        let Some(want) = self.termination_protection else { return Ok(()) };
        let cfn = &self.clients.cfn;
        let Some(current) = cfn::termination_protected(cfn, self.stack).await? else { return Ok(()) };
        match (current, want) {
            (false, true) => {
                cfn::set_termination_protection(cfn, self.stack, true).await?;
                println!("{}: termination protection on (a protected stage)", self.stack);
            }
            (true, false) if options.approvals.data_loss => {
                cfn::set_termination_protection(cfn, self.stack, false).await?;
                println!("{}: termination protection off (the stage is no longer protected)", self.stack);
            }
            (true, false) => println!(
                "{}: termination protection left on although the stage is not protected; pass --approve-data-loss to \
                 turn it off",
                self.stack
            ),
            _ => {}
        }
        Ok(())
    }
}

/// What a change set will do, as shown to the person deploying: its changes, the IAM it grants and takes
/// away, and the defences it weakens.
struct Review {
    changes: Vec<changes::Change>,
    iam: IamDiff,
    weakened: Vec<String>,
}

impl Review {
    /// Prints the change set's rows, its IAM changes and the defences it weakens.
    fn show(stack: &str, changes: Vec<changes::Change>, deployed: Option<&Value>, json: &Value) -> Review {
        println!("{} change(s):", changes.len());
        print!("{}", changes::table(&changes));
        let iam = IamDiff::between(stack, deployed, json);
        if !iam.is_empty() {
            println!("\nIAM changes ({} added, {} removed):", iam.added.len(), iam.removed.len());
            print!("{}", iam.render());
        }
        let weakened = gates::weakening(deployed, json);
        if !weakened.is_empty() {
            println!("\nDefences weakened ({}):", weakened.len());
            for w in &weakened {
                println!("  ! {w}");
            }
        }
        Review { changes, iam, weakened }
    }

    /// The stack's entry in a plan: the change set, the baseline it was made against, the hash of the
    /// template it deploys, and what it will do.
    fn planned(
        self,
        stack: &str,
        (change_set, creating): (String, bool),
        baseline: Option<plan::Baseline>,
        (text, data_loss): (&str, Vec<String>),
    ) -> anyhow::Result<plan::PlannedStack> {
        let rows = |rows: Vec<&synth::review::Row>| rows.into_iter().map(changes::line).collect();
        Ok(plan::PlannedStack {
            stack: stack.to_owned(),
            change_set,
            creating,
            baseline,
            template_sha256: plan::template_digest(text).map_err(|e| anyhow::anyhow!("{stack}: {e}"))?,
            changes: self
                .changes
                .iter()
                .map(|c| format!("{} {} ({}) {}", c.action, c.logical_id, c.resource_type, c.replacement))
                .collect(),
            iam: self.iam.render().lines().map(|l| l.trim().to_owned()).collect(),
            grants: rows(self.iam.grants()),
            data_loss,
            weakening: self.weakened,
            code: Vec::new(),
        })
    }
}

/// What a person-only stack is to a pipeline's plan.
#[derive(Debug, PartialEq, Eq)]
enum PersonStack {
    Current,
    Differs,
    Missing,
}

/// Whether a stack is set up: neither deleted nor only the shell of an unexecuted first change set.
fn set_up(s: &aws_sdk_cloudformation::types::Stack) -> bool {
    !matches!(s.stack_status, Some(StackStatus::DeleteComplete | StackStatus::ReviewInProgress))
}

/// Whether `stack`, as `described`, is deployed with the template this commit synthesizes.
async fn person_stack(
    cfn: &aws_sdk_cloudformation::Client,
    (stack, described): (&str, Option<&aws_sdk_cloudformation::types::Stack>),
    template: &synth::Template,
) -> anyhow::Result<PersonStack> {
    if !described.is_some_and(set_up) {
        return Ok(PersonStack::Missing);
    }
    let deployed = cfn::deployed_template(cfn, stack).await?;
    Ok(if deployed.as_ref() == Some(&template.to_json()) { PersonStack::Current } else { PersonStack::Differs })
}

fn sha_hex(text: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(text.as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Asks a yes/no question on the terminal; without one the answer is no.
pub fn ask(interactive: bool, question: &str) -> anyhow::Result<bool> {
    if !interactive {
        return Ok(false);
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush().context("writing to the terminal")?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).context("reading the answer")?;
    Ok(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}
