//! The pipeline's review step, run by the pinned binary. It trusts nothing the pushed commit or the Plan
//! role wrote but what it checks:
//! - what Plan and Source exported (the plan file's digest, the pushed commit), read from CodePipeline's
//!   record of this execution (`ListActionExecutions`, parsed by the API) and checked for their form:
//!   never pasted into this build's configuration, where a value Plan chose could add settings;
//! - the commit Plan built (its CodeBuild build's resolved source version), only if it is the commit
//!   pushed, so a Source artifact redirected in the artifact store is refused;
//! - the plan file, only if its SHA-256 is the one Plan exported (so a file swapped in the artifact store
//!   after Plan is refused), and then only for its change set ARNs;
//! - each change set, read from CloudFormation, only if it is of the stage's data or api stack, was made
//!   by this run (named `xtask-<execution>`), imports nothing and carries no notification, rollback or
//!   nested-stack settings, and every role it makes carries the stage's boundary and runs its functions;
//! - each function's code, only if the change set pins an object version under the stage's prefix of the
//!   artifact bucket whose SHA-256, as S3 holds it, is the one the key is named by.
//!
//! It reviews each change set's template against the deployed one, as `deploy`'s gates do, writes the
//! reviewed list and prints what the approval stage reads. The decisions are pure: [`bound_to_run`],
//! [`code_pins`], [`danger`], [`approval_message`].

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use serde_json::Value;
use synth::review::{Effect, Row};

use crate::aws::Clients;

use super::{ActionRun, StageNames, action_runs, clients_for, deployable_stack, read_file};
use crate::BadInput;
use crate::aws::AwsResultExt as _;
use crate::deploy::changes::{self, IamDiff};
use crate::deploy::plan::{self, CodePin, Plan, PlannedStack};
use crate::deploy::{Outcome, Report, apply, artifacts, gates};
use synth::stacks::pipeline::{PLAN_STAGE, PLAN_VARIABLES};

#[derive(Debug, Clone, Args)]
pub struct ReviewArgs {
    #[command(flatten)]
    pub on: StageNames,
    /// The plan the plan step wrote (`deploy --no-execute --summary-file`)
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// The pipeline whose record of this execution says what Plan and Source exported
    #[arg(long)]
    pub pipeline: String,
    /// This pipeline execution: every change set must be named `xtask-<EXECUTION>`
    #[arg(long)]
    pub execution: String,
    /// The artifact bucket the stage's code must come from
    #[arg(long)]
    pub artifact_bucket: String,
    /// The review build's id (`$CODEBUILD_BUILD_ID`): the approval links its log, the full review
    #[arg(long)]
    pub build_id: Option<String>,
    /// Where to write the reviewed list of change sets
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

pub use crate::deploy::changes::bound_to_run;

fn is_hex(text: &str, lengths: &[usize]) -> bool {
    lengths.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The one action of stage `stage` that succeeded in this execution: none, or two, is refused.
fn succeeded<'a>(runs: &'a [ActionRun], stage: &str) -> Result<&'a ActionRun, String> {
    let found: Vec<&ActionRun> = runs.iter().filter(|r| r.stage == stage && r.status == "Succeeded").collect();
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("CodePipeline records no succeeded {stage} action for this execution")),
        more => Err(format!("CodePipeline records {} succeeded {stage} actions for this execution", more.len())),
    }
}

/// What Plan exported and which build it ran, as CodePipeline recorded them: the plan file's SHA-256
/// (64 lowercase hex digits, nothing else) and the CodeBuild build id.
pub fn plan_outputs(runs: &[ActionRun]) -> Result<(String, String), String> {
    let plan = succeeded(runs, PLAN_STAGE)?;
    let digest = plan.variables.get(PLAN_VARIABLES[0]).cloned().unwrap_or_default();
    if !is_hex(&digest, &[64]) {
        return Err(format!(
            "Plan exported {}={digest:?}, which is not a SHA-256: a pushed commit tried to pass something else on",
            PLAN_VARIABLES[0]
        ));
    }
    let build = plan.external_id.clone().ok_or("CodePipeline records no build for the Plan action")?;
    Ok((digest, build))
}

/// The commit pushed, as the Source action exported it (40 or 64 hex digits).
pub fn pushed_commit(runs: &[ActionRun]) -> Result<String, String> {
    let commit = succeeded(runs, "Source")?.variables.get("CommitId").cloned().unwrap_or_default();
    if is_hex(&commit, &[40, 64]) {
        Ok(commit)
    } else {
        Err(format!("the Source action exported {commit:?}, not a commit id"))
    }
}

/// Whether Plan built the commit that was pushed.
pub fn same_source(built: Option<&str>, pushed: &str) -> Result<(), String> {
    match built {
        Some(b) if b == pushed => Ok(()),
        other => Err(format!(
            "Plan built commit {}, not the pushed {pushed}: its source was redirected (the Source artifact rewritten?); \
             nothing it planned is reviewed",
            other.unwrap_or("(unknown)")
        )),
    }
}

/// A change set's settings other than its template, as the review reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    pub imports: Vec<String>,
    pub import_existing: bool,
    pub notification_arns: Vec<String>,
    pub rollback_triggers: usize,
    pub nested: bool,
    pub on_failure_delete: bool,
}

/// Why a change set's settings are refused, if they are: a change set may only update or create the
/// resources its template declares. An import brings a resource of the account under the stage's
/// stacks; notifications send every event elsewhere; rollback triggers and nested stacks act beyond
/// the template the review reads.
pub fn settings_refusal(s: &Settings) -> Result<(), String> {
    let why = if !s.imports.is_empty() || s.import_existing {
        format!("it imports existing resources ({})", s.imports.join(", "))
    } else if !s.notification_arns.is_empty() {
        format!("it sends its events to {}", s.notification_arns.join(", "))
    } else if s.rollback_triggers > 0 {
        "it carries rollback triggers".to_owned()
    } else if s.nested {
        "it includes nested stacks".to_owned()
    } else if s.on_failure_delete {
        "it deletes its stack on failure".to_owned()
    } else {
        return Ok(());
    };
    Err(format!("the change set is refused: {why}; the pipeline's change sets only apply their template"))
}

pub fn settings_of(d: &aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput) -> Settings {
    use aws_sdk_cloudformation::types::{ChangeAction, OnStackFailure};
    Settings {
        imports: d
            .changes()
            .iter()
            .filter_map(|c| c.resource_change.as_ref())
            .filter(|r| r.action == Some(ChangeAction::Import))
            .map(|r| r.logical_resource_id.clone().unwrap_or_default())
            .collect(),
        import_existing: d.import_existing_resources == Some(true),
        notification_arns: d.notification_arns().to_vec(),
        rollback_triggers: d.rollback_configuration().map_or(0, |r| r.rollback_triggers().len()),
        nested: d.include_nested_stacks == Some(true),
        on_failure_delete: d.on_stack_failure == Some(OnStackFailure::Delete),
    }
}

/// The code a template's functions run, read off the template and the change set's parameters: each
/// `AWS::Lambda::Function` must take its code from `bucket` by key and object version, under
/// `code_prefix/`, at a key named `<sha256>.zip`. Returns each pin with the SHA-256 its key names, or
/// why the code is not pinned.
pub fn code_pins(
    template: &Value,
    parameters: &[(String, String)],
    bucket: &str,
    code_prefix: &str,
) -> Result<Vec<CodePin>, String> {
    let value_of = |v: &Value, what: &str, id: &str| -> Result<(String, String), String> {
        let name = v["Ref"].as_str().ok_or_else(|| {
            format!("function {id} takes its {what} from {v}, not from a template parameter the review can check")
        })?;
        let value = parameters.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        value.map(|v| (name.to_owned(), v)).ok_or_else(|| format!("the change set gives no {name} for function {id}"))
    };
    let mut pins = Vec::new();
    for (id, r) in template["Resources"].as_object().into_iter().flatten() {
        if r["Type"] != "AWS::Lambda::Function" {
            continue;
        }
        let code = &r["Properties"]["Code"];
        if code["S3ObjectVersion"].is_null() {
            return Err(format!(
                "function {id}'s code is not pinned to an object version (Code.S3ObjectVersion): what runs could be \
                 written after the review"
            ));
        }
        let (_, actual_bucket) = value_of(&code["S3Bucket"], "bucket", id)?;
        let (parameter, key) = value_of(&code["S3Key"], "key", id)?;
        let (_, version) = value_of(&code["S3ObjectVersion"], "version", id)?;
        if actual_bucket != bucket {
            return Err(format!("function {id}'s code comes from bucket {actual_bucket}, not the stage's {bucket}"));
        }
        let sha256 = key
            .strip_prefix(&format!("{code_prefix}/"))
            .and_then(|rest| rest.rsplit_once('/'))
            .and_then(|(_, file)| file.strip_suffix(".zip"))
            .filter(|sha| sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| {
                format!("function {id}'s code key {key} is not a content-addressed key under {code_prefix}/")
            })?;
        if version.is_empty() || version == "null" {
            return Err(format!("function {id}'s code has no object version"));
        }
        pins.push(CodePin { parameter, key: key.clone(), version, sha256: sha256.to_ascii_lowercase() });
    }
    Ok(pins)
}

/// Whether every role `template` makes carries the stage's permissions boundary (`boundary`, an ARN),
/// and it makes no other IAM identity: the pipeline's deploy role may make nothing else, so a change set
/// that does would fail in AWS after the approval; it is refused before.
pub fn roles_bounded(template: &Value, boundary: &str, account: &str, partition: &str) -> Result<(), String> {
    let resolved = |v: &Value| -> Option<String> {
        let text = match v {
            Value::String(s) => s.clone(),
            other => other["Fn::Sub"].as_str()?.to_owned(),
        };
        Some(text.replace("${AWS::Partition}", partition).replace("${AWS::AccountId}", account))
    };
    for (id, r) in template["Resources"].as_object().into_iter().flatten() {
        let kind = r["Type"].as_str().unwrap_or_default();
        if kind == "AWS::IAM::Role" {
            if resolved(&r["Properties"]["PermissionsBoundary"]).as_deref() != Some(boundary) {
                return Err(format!(
                    "role {id} does not carry the stage's permissions boundary {boundary}: the pipeline's deploy role \
                     makes roles only with it"
                ));
            }
        } else if kind == "AWS::Lambda::Function" {
            // A function runs as a role of this template (bounded above), never as one made elsewhere.
            let role = &r["Properties"]["Role"]["Fn::GetAtt"];
            let own = role[0].as_str().is_some_and(|id| template["Resources"][id]["Type"] == "AWS::IAM::Role");
            if !own || role[1] != "Arn" {
                return Err(format!(
                    "function {id} runs as {}, not as a role of this template carrying the stage's boundary",
                    r["Properties"]["Role"]
                ));
            }
        } else if kind.starts_with("AWS::IAM::") {
            return Err(format!(
                "{id} is an {kind}: through the pipeline the stage's stacks make roles with the stage's boundary, and \
                 no other IAM identity or policy"
            ));
        }
    }
    Ok(())
}

/// How dangerous a new grant is, most dangerous first: an approver reads them in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Danger {
    /// Who may become a role (a trust policy, a role a service runs as).
    Trust,
    /// A wildcard or negated action, resource or principal.
    Wildcard,
    /// An account other than the stage's.
    OtherAccount,
    /// The pipeline's own roles.
    CiRole,
    DataLoss,
    /// A defence weakened: a WAF rule, throttling, lockout, logging.
    Weakening,
    Grant,
}

impl Danger {
    fn label(self) -> &'static str {
        match self {
            Danger::Trust => "trust",
            Danger::Wildcard => "wildcard",
            Danger::OtherAccount => "other account",
            Danger::CiRole => "pipeline role",
            Danger::DataLoss => "data",
            Danger::Weakening => "weakens",
            Danger::Grant => "grant",
        }
    }
}

/// The accounts named by ARNs in `text` (`arn:<partition>:<service>:<region>:<account>:...`), or by a
/// bare 12-digit account id.
fn accounts_in(text: &str) -> Vec<&str> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == '"')
        .filter_map(|token| {
            if token.len() == 12 && token.bytes().all(|b| b.is_ascii_digit()) {
                return Some(token);
            }
            let fields: Vec<&str> = token.strip_prefix("arn:")?.splitn(5, ':').collect();
            let account = *fields.get(3)?;
            (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(account)
        })
        .collect()
}

/// Where a new grant row ranks for the approver (`prefix` is the stage's `<project>-<stage>`).
pub fn danger(row: &Row, account: &str, prefix: &str) -> Danger {
    let wild = |s: &str| s.contains('*') || s.starts_with(synth::review::NOT);
    if row.granted_by.ends_with("trust policy") || row.action.starts_with("sts:AssumeRole") || row.action == "(runs as)"
    {
        Danger::Trust
    } else if wild(&row.action) || wild(&row.resource) || (row.principal == "*" && row.effect == Effect::Allow) {
        Danger::Wildcard
    } else if [&row.principal, &row.resource, &row.condition]
        .iter()
        .any(|t| accounts_in(t).iter().any(|a| *a != account))
    {
        Danger::OtherAccount
    } else if [&row.principal, &row.resource].iter().any(|t| t.contains(&format!("{prefix}-ci-"))) {
        Danger::CiRole
    } else {
        Danger::Grant
    }
}

/// One line an approver reads: what, in which stack, how dangerous.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub danger: Danger,
    pub stack: String,
    pub text: String,
}

/// CodePipeline's manual approval shows at most this many characters of its message.
pub const APPROVAL_LIMIT: usize = 500;

/// What an approver reads, within CodePipeline's 500 characters: the commit, how many findings in how
/// many change sets, then the findings most dangerous first (trust, wildcards, other accounts, the
/// pipeline's roles, data), each cut to fit, and how many more the full review (the link) has. The
/// order is the review's, never the plan's: a pushed plan cannot bury a dangerous row under harmless ones.
pub fn approval_message(commit: &str, plan: &Plan, findings: &[Finding]) -> String {
    let mut findings = findings.to_vec();
    findings.sort();
    let stacks: Vec<&str> = plan.stacks.iter().map(|s| s.stack.as_str()).collect();
    let short: String = commit.chars().take(12).collect();
    let head = if findings.is_empty() {
        format!(
            "commit {short}: no new IAM grant and no data at risk in {} change set(s) ({})",
            stacks.len(),
            stacks.join(", ")
        )
    } else {
        let mut tiers: Vec<(Danger, usize)> = Vec::new();
        for f in &findings {
            match tiers.last_mut() {
                Some((d, n)) if *d == f.danger => *n += 1,
                _ => tiers.push((f.danger, 1)),
            }
        }
        let tiers: Vec<String> = tiers.iter().map(|(d, n)| format!("{n} {}", d.label())).collect();
        format!(
            "commit {short}: {} to approve ({}) in {} change set(s) ({}); most dangerous first, all in the review linked",
            findings.len(),
            tiers.join(", "),
            stacks.len(),
            stacks.join(", ")
        )
    };
    let lines: Vec<String> =
        findings.iter().map(|f| format!("{}: {}: {}", f.danger.label(), f.stack, printable(&f.text))).collect();
    fit(&head, &lines, APPROVAL_LIMIT)
}

/// `text` with every character but printable ASCII shown as an escape: a value in a template can neither
/// start a line of its own in the message (a forged "... and 0 more") nor reorder what the approver
/// reads (bidirectional overrides, line and paragraph separators).
pub fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| if (' '..='~').contains(&c) { vec![c] } else { c.escape_default().collect::<Vec<_>>() })
        .collect()
}

/// `head`, then as many of `lines` as fit in `limit` characters (each cut to 160), then how many were
/// left out; never more than `limit` characters, never without the head or the count.
pub fn fit(head: &str, lines: &[String], limit: usize) -> String {
    let cut = |line: &str, room: usize| -> String {
        if line.chars().count() <= room {
            line.to_owned()
        } else {
            let kept: String = line.chars().take(room.saturating_sub(3)).collect();
            format!("{kept}...")
        }
    };
    let mut out = vec![cut(head, limit / 2)];
    let used = |out: &[String]| out.iter().map(|l| l.chars().count() + 1).sum::<usize>();
    let mut shown = 0;
    for line in lines {
        let tail = format!("... and {} more in the full review", lines.len() - shown - 1);
        let line = cut(line, 160);
        let after = used(&out) + line.chars().count() + 1;
        let last = shown + 1 == lines.len();
        if after > limit || (!last && after + tail.len() > limit) {
            break;
        }
        out.push(line);
        shown += 1;
    }
    if shown < lines.len() {
        out.push(format!("... and {} more in the full review", lines.len() - shown));
    }
    out.join("\n").chars().take(limit).collect()
}

/// The link an approver opens: the review build's log (every change and IAM row), or without one the
/// first risky change set in the CloudFormation console.
pub fn review_url(plan: &Plan, build_id: Option<&str>) -> String {
    let region = &plan.region;
    if let Some(id) = build_id.filter(|b| !b.is_empty()) {
        let project = id.split(':').next().unwrap_or_default();
        let encoded: String = form_urlencoded::byte_serialize(id.as_bytes()).collect();
        return format!(
            "https://{region}.console.aws.amazon.com/codesuite/codebuild/{}/projects/{project}/build/{encoded}/log?region={region}",
            plan.account
        );
    }
    let first = plan.stacks.iter().find(|s| s.risky()).or(plan.stacks.first());
    match first {
        Some(s) => {
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("stackId", &s.stack)
                .append_pair("changeSetId", &s.change_set)
                .finish();
            format!(
                "https://{region}.console.aws.amazon.com/cloudformation/home?region={region}#/stacks/changesets/changes?{query}"
            )
        }
        None => format!("https://{region}.console.aws.amazon.com/cloudformation/home?region={region}#/stacks"),
    }
}

/// The review's exported variables but its digest, in the order `synth::stacks::pipeline::REVIEW_VARIABLES`
/// names them.
pub fn variables(
    plan: &Plan,
    findings: &[Finding],
    commit: &str,
    build_id: Option<&str>,
) -> Vec<(&'static str, String)> {
    vec![
        ("RISKY", plan.risky().to_string()),
        ("APPROVAL", approval_message(commit, plan, findings)),
        ("REVIEW_URL", review_url(plan, build_id)),
    ]
}

/// `export NAME='value'` lines a POSIX shell reads back exactly, whatever the value holds.
pub fn exports(variables: &[(&str, String)]) -> String {
    variables.iter().map(|(name, value)| format!("export {name}='{}'\n", value.replace('\'', "'\\''"))).collect()
}

/// Whether S3 holds, for each pinned version, the bytes its key is named by (its SHA-256 checksum).
async fn check_code(
    clients: &Clients,
    bucket: &str,
    account: &str,
    pins: &[CodePin],
) -> anyhow::Result<Option<String>> {
    for pin in pins {
        let Some((found, _)) = artifacts::head(&clients.s3, (bucket, account), &pin.key, Some(&pin.version)).await?
        else {
            anyhow::bail!("reading s3://{bucket}/{} version {}: there is no such object", pin.key, pin.version);
        };
        if found.is_none() || found != artifacts::s3_checksum(&pin.sha256).ok() {
            return Ok(Some(format!(
                "s3://{bucket}/{} version {} is not the code its key names (S3's SHA-256 {}, the key's {}): refused",
                pin.key,
                pin.version,
                found.as_deref().unwrap_or("missing"),
                pin.sha256
            )));
        }
    }
    Ok(None)
}

/// What every stack's review is checked against: this run and this stage.
struct Context<'a> {
    args: &'a ReviewArgs,
    clients: Clients,
    names: synth::Names,
    account: String,
    code_prefix: String,
    partition: &'static str,
}

impl Context<'_> {
    /// The stage's permissions boundary, as an ARN.
    fn boundary(&self) -> String {
        format!("arn:{}:iam::{}:policy/{}", self.partition, self.account, self.names.boundary())
    }

    /// One planned stack reviewed: `Ok(Err(why))` when it is refused.
    async fn stack(&self, stack: &PlannedStack) -> anyhow::Result<Result<(PlannedStack, Vec<Finding>), String>> {
        let cfn = &self.clients.cfn;
        if let Err(why) = deployable_stack(&self.names, &stack.stack) {
            return Ok(Err(why));
        }
        let described = match apply::change_set_of(cfn, &stack.change_set, &stack.stack).await? {
            Ok(described) => described,
            Err(why) => return Ok(Err(why)),
        };
        if let Err(why) = bound_to_run(described.change_set_name.as_deref(), &self.args.execution)
            .and_then(|()| settings_refusal(&settings_of(&described)))
        {
            return Ok(Err(format!("{}: {why}", stack.stack)));
        }
        let template = crate::cfn::change_set_template(cfn, &stack.change_set, &stack.stack).await?;
        let new: Value = yaml_serde::from_str(&template)
            .map_err(|e| BadInput(format!("the template of {} does not parse: {e}", stack.change_set)))?;
        let parameters: Vec<(String, String)> = described
            .parameters()
            .iter()
            .map(|p| (p.parameter_key.clone().unwrap_or_default(), p.parameter_value.clone().unwrap_or_default()))
            .collect();
        let code = roles_bounded(&new, &self.boundary(), &self.account, self.partition)
            .and_then(|()| code_pins(&new, &parameters, &self.args.artifact_bucket, &self.code_prefix))
            .map_err(|why| format!("{}: {why}", stack.stack));
        let code = match code {
            Ok(code) => code,
            Err(why) => return Ok(Err(why)),
        };
        if let Some(why) = check_code(&self.clients, &self.args.artifact_bucket, &self.account, &code).await? {
            return Ok(Err(why));
        }
        let baseline = apply::baseline(cfn, &stack.stack).await?;
        let creating = baseline.as_ref().is_none_or(|b| b.status == "REVIEW_IN_PROGRESS");
        let deployed = if creating { None } else { crate::cfn::deployed_template(cfn, &stack.stack).await? };
        let found = changes::changes_of(&described);
        let iam = IamDiff::between(&stack.stack, deployed.as_ref(), &new);
        if !iam.unreviewed.is_empty() {
            let why: Vec<String> = iam.unreviewed.iter().map(ToString::to_string).collect();
            return Ok(Err(format!("the review cannot read {}: {}", stack.stack, why.join("; "))));
        }
        let mut grants = iam.grants();
        grants.sort_by_key(|r| danger(r, &self.account, self.names.prefix()));
        let data_loss = gates::data_loss(&found, deployed.as_ref(), &new, &self.account);
        let weakening = gates::weakening(deployed.as_ref(), &new);
        let finding = |danger, text: String| Finding { danger, stack: stack.stack.clone(), text };
        let findings = grants
            .iter()
            .map(|r| finding(danger(r, &self.account, self.names.prefix()), changes::line(r)))
            .chain(data_loss.iter().map(|d| finding(Danger::DataLoss, d.clone())))
            .chain(weakening.iter().map(|w| finding(Danger::Weakening, w.clone())))
            .collect();
        eprintln!("\n== {} ({} change(s)), change set {}", stack.stack, found.len(), stack.change_set);
        eprint!("{}", changes::table(&found));
        for pin in &code {
            eprintln!(
                "  code {} = s3://{}/{} version {}",
                pin.parameter, self.args.artifact_bucket, pin.key, pin.version
            );
        }
        if !iam.is_empty() {
            eprint!("{}", iam.render());
        }
        for w in &weakening {
            eprintln!("  ! weakens {w}");
        }
        let reviewed = PlannedStack {
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
            grants: grants.into_iter().map(changes::line).collect(),
            data_loss,
            weakening,
            code,
        };
        Ok(Ok((reviewed, findings)))
    }
}

/// The partition of a region's ARNs.
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// What this run's Plan and Source said, as CodePipeline and CodeBuild recorded them: the plan file's
/// digest and the commit pushed, once Plan is shown to have built that commit.
async fn run_record(clients: &Clients, args: &ReviewArgs) -> anyhow::Result<Result<(String, String), String>> {
    let runs = action_runs(clients, &args.pipeline, &args.execution).await?;
    let (digest, build, commit) = match plan_outputs(&runs).and_then(|(d, b)| Ok((d, b, pushed_commit(&runs)?))) {
        Ok(found) => found,
        Err(why) => return Ok(Err(why)),
    };
    let builds = clients
        .codebuild
        .batch_get_builds()
        .ids(&build)
        .send()
        .await
        .aws()
        .with_context(|| format!("reading the Plan build {build}"))?;
    let built = builds.builds().first().and_then(|b| b.resolved_source_version());
    Ok(same_source(built, &commit).map(|()| (digest, commit)))
}

/// Writes the reviewed list as a new file: a link or file already there (an artifact Plan wrote) is
/// removed, not followed.
pub fn write_new(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes).with_context(|| format!("writing {}", path.display()))
}

/// The review step: see the module's documentation.
pub async fn review(args: &ReviewArgs) -> anyhow::Result<Outcome> {
    let bytes = read_file(&args.plan, "plan")?;
    let clients = clients_for(&args.on).await?;
    let (plan_digest, commit) = match run_record(&clients, args).await? {
        Ok(record) => record,
        Err(why) => return Ok(Outcome::Refused(why)),
    };
    let digest = crate::package::hex_sha256(&bytes);
    if digest != plan_digest {
        return Ok(Outcome::Refused(format!(
            "the plan file's SHA-256 is {digest}, not the {plan_digest} the plan step of this run exported: it is not \
             the plan this run made (swapped in the artifact store?)"
        )));
    }
    let planned: Plan =
        serde_json::from_slice(&bytes).map_err(|e| BadInput(format!("{} is not a plan: {e}", args.plan.display())))?;
    let context = Context {
        args,
        account: clients.account().await?,
        partition: partition(&clients.region),
        names: synth::Names::of(&args.on.project, &args.on.stage),
        code_prefix: crate::deploy::artifacts::code_prefix(&args.on.project, &args.on.stage),
        clients,
    };
    let mut reviewed = Vec::new();
    let mut findings = Vec::new();
    for stack in &planned.stacks {
        match context.stack(stack).await? {
            Ok((stack, found)) => {
                reviewed.push(stack);
                findings.extend(found);
            }
            Err(why) => return Ok(Outcome::Refused(why)),
        }
    }
    let reviewed = Plan {
        version: plan::VERSION,
        stage: args.on.stage.clone(),
        account: context.account.clone(),
        region: context.clients.region.clone(),
        run: Some(args.execution.clone()),
        stacks: reviewed,
    };
    let bytes = serde_json::to_vec_pretty(&reviewed).context("encoding the reviewed list")?;
    write_new(&args.out, &bytes)?;
    findings.sort();
    eprintln!("\ncommit {commit}: to approve, most dangerous first ({}):", findings.len());
    for f in &findings {
        eprintln!("  {}: {}: {}", f.danger.label(), f.stack, printable(&f.text));
    }
    let mut vars = variables(&reviewed, &findings, &commit, args.build_id.as_deref());
    eprintln!("\n{}", vars[1].1);
    vars.push(("REVIEW_DIGEST", crate::package::hex_sha256(&bytes)));
    print!("{}", exports(&vars));
    Ok(Outcome::Done(Report::default()))
}

#[cfg(test)]
mod tests;
