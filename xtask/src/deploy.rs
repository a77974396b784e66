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

use std::collections::BTreeMap;
use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use clap::Args;
use serde_json::Value;

use crate::aws::{Clients, StageArgs};
use crate::cfn;
use crate::package::{self, Artifact, Profile};
use crate::{BadInput, EXIT_BAD_INPUT, EXIT_DIFFERENCE, Target, templates};
use aws_sdk_cloudformation::types::StackStatus;
use changes::{Body, IamDiff, Prepared};
use gates::{Approvals, Preflight, Refusal};

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
    let root = crate::root_of(config_path);
    let target = Target::load(config_path, &args.on.stage)?;
    let (config, stage, names, stacks) = (&target.config, target.stage(), &target.names, &target.stacks);
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if !args.yes && !args.no_execute && !interactive {
        return Err(BadInput(
            "no terminal to confirm on; pass --yes to deploy without asking (or --no-execute to review only)".into(),
        )
        .into());
    }

    // 1. What is deployed is what was reviewed.
    let files = synth::files(config, stage).map_err(crate::refused)?;
    let drift: Vec<String> = templates::compare(&root, &files, false)?.iter().map(ToString::to_string).collect();
    for d in &drift {
        eprintln!("{d}");
    }
    if let Some(warning) = gates::stale(&stage.name, &drift, args.allow_stale).map_err(BadInput)? {
        eprintln!("warning: {warning}");
    }

    // 2. The right account.
    let clients = Clients::new(&args.on.aws, stage).await?;
    let account = clients.account().await?;
    gates::account(&stage.name, stage.account.as_deref(), &account).map_err(BadInput)?;
    println!("deploying {} to account {account}, region {}", names.prefix(), stage.region);

    // 3. Build and upload.
    let artifacts: Vec<Artifact> = match &args.artifacts {
        Some(dir) => package::existing(dir, &config.functions, stage.architecture)?,
        None => package::build(&crate::workspace()?, &config.functions, stage.architecture, Profile::Release)?,
    };
    let bucket = artifacts::bucket_name(&config.project, &account, &stage.region, stage.artifact_bucket.as_deref());
    if artifacts::ensure_bucket(&clients.s3, &bucket, &stage.region, &account, (&config.project, &stage.name)).await? {
        println!("created artifact bucket {bucket} (versioned, encrypted, not public, TLS only, code written once)");
    } else if args.cfn_role.is_none()
        && artifacts::ensure_policy(&clients.s3, &bucket, &account, &config.project).await?
    {
        // A pipeline's plan may not change the policy; a person's deploy brings an older bucket's up to date.
        println!("artifact bucket {bucket}: policy updated (code keys are written once)");
    }
    // Each stage's code under its own prefix, so that no stage's pipeline can write another's.
    let code_prefix = artifacts::code_prefix(&config.project, &stage.name);
    println!("artifacts in s3://{bucket}:");
    let (uploaded, stored) = artifacts::upload(&clients.s3, &bucket, &account, &code_prefix, &artifacts).await?;
    let mut report = Report { uploaded, ..Report::default() };

    // Each function's code by key and by the version just stored: the change set pins the bytes.
    let mut parameters = vec![("ArtifactBucket".to_owned(), bucket.clone())];
    for (a, s) in artifacts.iter().zip(&stored) {
        parameters.push((synth::stacks::api::code_key_parameter(&a.function), s.key.clone()));
        parameters.push((synth::stacks::api::code_version_parameter(&a.function), s.version.clone()));
    }

    // 4 and 5. Each stack in order: change set, review, execute, watch.
    let poll = clients.poll;
    let mut planned = Vec::new();
    for (stack, template) in stacks.named(names) {
        // The pipeline stack is set up once with `cargo xtask pipeline deploy` (it checks the connection
        // first); after that every deploy, the pipeline's own among them, keeps it up to date.
        // A stack left in REVIEW_IN_PROGRESS (a `pipeline deploy --no-execute`) is not set up either: only
        // `pipeline deploy` creates it, after checking the connection.
        if stack == names.pipeline_stack() && !cfn::describe(&clients.cfn, &stack).await?.as_ref().is_some_and(set_up) {
            println!("\n== {stack}\nnot set up yet: `cargo xtask pipeline deploy --stage {}` creates it", stage.name);
            continue;
        }
        // A pipeline's deploy role changes the data and api stacks only: the others are checked here,
        // and a person deploys them.
        if args.cfn_role.is_some() && person_only(names, &stack) {
            match person_stack(&clients.cfn, &stack, template).await? {
                PersonStack::Current => println!("\n== {stack}\nup to date"),
                PersonStack::Differs => println!(
                    "\n== {stack}\nnote: differs from this commit's; only a person deploys it: `cargo xtask pipeline \
                     deploy --stage {}`",
                    stage.name
                ),
                PersonStack::Missing if stack == names.bootstrap_stack() => {
                    return Ok(Outcome::Refused(format!(
                        "{stack} does not exist, and the stage's API logs through it: a person deploys it once per account \
                         and region with `cargo xtask pipeline deploy --stage {}`",
                        stage.name
                    )));
                }
                PersonStack::Missing => println!("\n== {stack}\nnot set up: a person deploys it"),
            }
            continue;
        }
        let is_api = stack == names.api_stack();
        let stack_parameters: &[(String, String)] = if is_api { &parameters } else { &[] };
        let json = template.to_json();
        let text = synth::render(template);
        let termination_protection = (stack == names.data_stack()).then_some(stage.protect);
        let step = StackStep {
            clients: &clients,
            stack: &stack,
            json: &json,
            text: &text,
            parameters: stack_parameters,
            termination_protection,
        };
        match step.run(&args.step_options(), interactive, (&bucket, &account), poll).await? {
            StepResult::Executed => report.executed.push(stack.clone()),
            StepResult::Unchanged => report.unchanged.push(stack.clone()),
            StepResult::LeftForReview(left) if !left.creating => planned.push(*left),
            StepResult::LeftForReview(left) => {
                planned.push(*left);
                // A stack that does not exist yet exports what the next one imports: stop here.
                println!("the next stacks depend on {stack}, which does not exist until this change set is executed");
                break;
            }
            StepResult::Refused(reason) => return Ok(Outcome::Refused(reason)),
            StepResult::Failed => return Ok(Outcome::Failed),
        }
    }
    if args.no_execute {
        let plan = plan::Plan {
            version: plan::VERSION,
            stage: stage.name.clone(),
            account: account.clone(),
            region: stage.region.clone(),
            run: args.run_id.clone(),
            stacks: planned,
        };
        println!("change sets left for review; nothing was executed");
        println!(
            "{}",
            if plan.risky() {
                "risky: a person must approve (--approve-iam, --approve-data-loss or --approve-weakening)"
            } else {
                "not risky: no new grant, no data at risk, no defence weakened"
            }
        );
        if let Some(file) = &args.summary_file {
            let json = serde_json::to_string_pretty(&plan).context("encoding the plan")?;
            std::fs::write(file, json + "\n").with_context(|| format!("writing {}", file.display()))?;
            println!(
                "plan written to {}; `cargo xtask deploy --stage {} --execute-plan {}` runs exactly it",
                file.display(),
                stage.name,
                file.display()
            );
        }
        return Ok(Outcome::Done(report));
    }

    // Outputs, the API URL first.
    for (stack, _) in stacks.named(names) {
        report.outputs.extend(cfn::outputs(&clients.cfn, &stack).await?);
    }
    if let Some(url) = report.outputs.get("ApiUrl") {
        println!("\nAPI URL: {url}");
    }
    for (key, value) in report.outputs.iter().filter(|(k, _)| *k != "ApiUrl") {
        println!("  {key} = {value}");
    }
    if let Some(file) = &args.outputs_file {
        let json = serde_json::to_string_pretty(&report.outputs).context("encoding the outputs")?;
        std::fs::write(file, json + "\n").with_context(|| format!("writing {}", file.display()))?;
        println!("outputs written to {}", file.display());
    }
    if report.executed.is_empty() {
        println!("no changes: every stack is up to date");
    }
    Ok(Outcome::Done(report))
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
    pub async fn run(
        &self,
        options: &StepOptions<'_>,
        interactive: bool,
        (bucket, account): (&str, &str),
        poll: Duration,
    ) -> anyhow::Result<StepResult> {
        let cfn = &self.clients.cfn;
        let stack = self.stack;
        println!("\n== {stack}");
        // One description serves the preflight and, for an update, the plan's baseline.
        let described = cfn::describe(cfn, stack).await?;
        let status =
            described.as_ref().and_then(|s| s.stack_status.clone()).filter(|s| *s != StackStatus::DeleteComplete);
        let creating = match gates::preflight(stack, options.stage, status.as_ref()) {
            Preflight::Create => true,
            Preflight::Update => false,
            Preflight::DeleteFailedCreate => {
                println!(
                    "{stack} is in ROLLBACK_COMPLETE after a failed first create; it must be deleted before it can be \
                     created again"
                );
                if !(options.yes || ask(interactive, &format!("delete {stack} and create it again?"))?) {
                    return Ok(StepResult::Refused(format!(
                        "{stack} is in ROLLBACK_COMPLETE; delete it (answer yes, or pass --yes) to deploy"
                    )));
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
        };
        let deployed = if creating { None } else { cfn::deployed_template(cfn, stack).await? };
        let baseline = if creating { None } else { described.as_ref().and_then(apply::baseline_of) };

        let body = if self.text.len() > changes::INLINE_LIMIT {
            let key = format!("templates/{stack}/{}.yaml", sha_hex(self.text));
            let url =
                artifacts::upload_template(&self.clients.s3, bucket, account, &key, self.text, &self.clients.region)
                    .await?;
            println!(
                "template is {} bytes, over the {} CloudFormation takes inline: passed as {url}",
                self.text.len(),
                changes::INLINE_LIMIT
            );
            Body::Url(url)
        } else {
            Body::Inline(self.text.to_owned())
        };
        let name = change_set_name(options.run_id);
        let (id, changes) = match changes::create(
            cfn,
            stack,
            &name,
            &body,
            self.parameters,
            (creating, options.cfn_role),
            changes::CHANGE_SET_DEADLINE,
        )
        .await?
        {
            Prepared::NoChanges => {
                println!("no changes");
                self.protect(options).await?;
                return Ok(StepResult::Unchanged);
            }
            Prepared::Ready { id, changes } => (id, changes),
        };
        println!("{} change(s):", changes.len());
        print!("{}", changes::table(&changes));
        let iam = IamDiff::between(stack, deployed.as_ref(), self.json);
        if !iam.is_empty() {
            println!("\nIAM changes ({} added, {} removed):", iam.added.len(), iam.removed.len());
            print!("{}", iam.render());
        }
        let weakened = gates::weakening(deployed.as_ref(), self.json);
        if !weakened.is_empty() {
            println!("\nDefences weakened ({}):", weakened.len());
            for w in &weakened {
                println!("  ! {w}");
            }
        }

        let refusals = gates::judge(&changes, &iam, (deployed.as_ref(), self.json), account, options.approvals);
        let unreviewable = refusals.iter().any(|r| matches!(r, Refusal::Unreviewed(_)));
        if options.plan_only && !unreviewable {
            for r in &refusals {
                println!("note: executing it needs a flag: {r}");
            }
            println!("change set left for review: {id}");
            let rows = |rows: Vec<&synth::review::Row>| rows.into_iter().map(changes::line).collect();
            return Ok(StepResult::LeftForReview(Box::new(plan::PlannedStack {
                stack: stack.to_owned(),
                change_set: id,
                creating,
                baseline,
                template_sha256: plan::template_digest(self.text).map_err(|e| anyhow::anyhow!("{stack}: {e}"))?,
                changes: changes
                    .iter()
                    .map(|c| format!("{} {} ({}) {}", c.action, c.logical_id, c.resource_type, c.replacement))
                    .collect(),
                iam: iam.render().lines().map(|l| l.trim().to_owned()).collect(),
                grants: rows(iam.grants()),
                data_loss: gates::data_loss(&changes, deployed.as_ref(), self.json, account),
                weakening: weakened,
                code: Vec::new(),
            })));
        }
        if !refusals.is_empty() {
            discard(cfn, stack, &id, creating).await;
            let reasons: Vec<String> = refusals.iter().map(ToString::to_string).collect();
            return Ok(StepResult::Refused(format!("not deploying {stack}: {}", reasons.join("; and "))));
        }
        if !options.yes && !ask(interactive, &format!("execute this change set on {stack}?"))? {
            discard(cfn, stack, &id, creating).await;
            return Ok(StepResult::Refused(format!("not deploying {stack}: declined")));
        }

        let Some(settled) = cfn::execute_and_watch(cfn, stack, &id, options.stage, poll).await? else {
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

/// Whether `stack` is deployed with the template this commit synthesizes.
async fn person_stack(
    cfn: &aws_sdk_cloudformation::Client,
    stack: &str,
    template: &synth::Template,
) -> anyhow::Result<PersonStack> {
    if !cfn::describe(cfn, stack).await?.as_ref().is_some_and(set_up) {
        return Ok(PersonStack::Missing);
    }
    let deployed = cfn::deployed_template(cfn, stack).await?;
    Ok(if deployed.as_ref() == Some(&template.to_json()) { PersonStack::Current } else { PersonStack::Differs })
}

/// Drops an unexecuted change set, and the empty stack a CREATE change set made, so that nothing is
/// left half-made.
async fn discard(cfn: &aws_sdk_cloudformation::Client, stack: &str, id: &str, creating: bool) {
    let _ = cfn.delete_change_set().change_set_name(id).send().await;
    if creating {
        let _ = cfn.delete_stack().stack_name(stack).send().await;
    }
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
