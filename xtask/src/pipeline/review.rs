//! The pipeline's review step, run by the pinned binary. It trusts nothing the pushed commit or the Plan
//! role wrote but what it checks:
//! - the plan file, only if its SHA-256 is the `PLAN_DIGEST` CodePipeline carried from Plan (so a file
//!   swapped in the artifact store after Plan is refused), and then only for its change set ARNs;
//! - each change set, read from CloudFormation, only if it is of the stage's data or api stack and was
//!   made by this run (named `xtask-<execution>`);
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

use super::{StageNames, clients_for, deployable_stack, read_file};
use crate::BadInput;
use crate::aws::AwsResultExt as _;
use crate::deploy::changes::{self, IamDiff};
use crate::deploy::plan::{self, CodePin, Plan, PlannedStack};
use crate::deploy::{Outcome, Report, apply, gates};

#[derive(Debug, Clone, Args)]
pub struct ReviewArgs {
    #[command(flatten)]
    pub on: StageNames,
    /// The plan the plan step wrote (`deploy --no-execute --summary-file`)
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// The plan file's SHA-256 as the plan step exported it (CodePipeline's `#{Plan.PLAN_DIGEST}`)
    #[arg(long, value_name = "SHA256")]
    pub plan_digest: String,
    /// This pipeline execution: every change set must be named `xtask-<EXECUTION>`
    #[arg(long)]
    pub execution: String,
    /// The pushed commit under review, named in the approval message
    #[arg(long)]
    pub commit: String,
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

/// Why a change set was not made by this run, if it was not: its name must be `xtask-<execution>`.
pub fn bound_to_run(name: Option<&str>, execution: &str) -> Result<(), String> {
    let wanted = format!("xtask-{execution}");
    match name {
        Some(n) if n == wanted => Ok(()),
        other => Err(format!(
            "the change set {} was not made by this run: its name must be {wanted} (pipeline execution {execution}); \
             a change set made outside the run, or by an earlier one, never runs",
            other.unwrap_or("(unnamed)")
        )),
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
        format!(
            "commit {short}: {} to approve in {} change set(s) ({}); most dangerous first, all in the review linked",
            findings.len(),
            stacks.len(),
            stacks.join(", ")
        )
    };
    let lines: Vec<String> =
        findings.iter().map(|f| format!("{}: {}: {}", f.danger.label(), f.stack, f.text)).collect();
    fit(&head, &lines, APPROVAL_LIMIT)
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
    let first = plan.stacks.iter().find(|s| !s.grants.is_empty() || !s.data_loss.is_empty()).or(plan.stacks.first());
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
        let head = clients
            .s3
            .head_object()
            .bucket(bucket)
            .key(&pin.key)
            .version_id(&pin.version)
            .expected_bucket_owner(account)
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await
            .aws()
            .with_context(|| format!("reading s3://{bucket}/{} version {}", pin.key, pin.version))?;
        let wanted = crate::deploy::artifacts::s3_checksum(&pin.sha256).ok();
        if head.checksum_sha256.is_none() || head.checksum_sha256 != wanted {
            return Ok(Some(format!(
                "s3://{bucket}/{} version {} is not the code its key names (S3's SHA-256 {}, the key's {}): refused",
                pin.key,
                pin.version,
                head.checksum_sha256.as_deref().unwrap_or("missing"),
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
        if let Err(why) = bound_to_run(described.change_set_name.as_deref(), &self.args.execution) {
            return Ok(Err(why));
        }
        let template = apply::change_set_template(cfn, &stack.change_set, &stack.stack).await?;
        let new: Value = serde_yaml::from_str(&template)
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
        let finding = |danger, text: String| Finding { danger, stack: stack.stack.clone(), text };
        let findings = grants
            .iter()
            .map(|r| finding(danger(r, &self.account, self.names.prefix()), changes::line(r)))
            .chain(data_loss.iter().map(|d| finding(Danger::DataLoss, d.clone())))
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

/// The review step: see the module's documentation.
pub async fn review(args: &ReviewArgs) -> anyhow::Result<Outcome> {
    let bytes = read_file(&args.plan, "plan")?;
    let digest = crate::package::hex_sha256(&bytes);
    if !digest.eq_ignore_ascii_case(args.plan_digest.trim()) {
        return Ok(Outcome::Refused(format!(
            "the plan file's SHA-256 is {digest}, not the {} the plan step of this run exported: it is not the plan this \
             run made (swapped in the artifact store?)",
            args.plan_digest.trim()
        )));
    }
    let planned: Plan =
        serde_json::from_slice(&bytes).map_err(|e| BadInput(format!("{} is not a plan: {e}", args.plan.display())))?;
    let clients = clients_for(&args.on).await?;
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
        match context.stack(stack).await {
            Ok(Ok((stack, found))) => {
                reviewed.push(stack);
                findings.extend(found);
            }
            Ok(Err(why)) => return Ok(Outcome::Refused(why)),
            Err(e) => return Err(e),
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
    std::fs::write(&args.out, &bytes).with_context(|| format!("writing {}", args.out.display()))?;
    findings.sort();
    eprintln!("\nto approve, most dangerous first ({}):", findings.len());
    for f in &findings {
        eprintln!("  {}: {}: {}", f.danger.label(), f.stack, f.text);
    }
    let mut vars = variables(&reviewed, &findings, &args.commit, args.build_id.as_deref());
    eprintln!("\n{}", vars[1].1);
    vars.push(("REVIEW_DIGEST", crate::package::hex_sha256(&bytes)));
    print!("{}", exports(&vars));
    Ok(Outcome::Done(Report::default()))
}

#[cfg(test)]
mod tests;
