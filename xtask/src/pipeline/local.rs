//! `cargo xtask pipeline run --local --stage S`: a stage's delivery pipeline, as deployed in an emulator,
//! run on this machine. This command plays CodePipeline, and CodeBuild for each build:
//! - the pipeline and its build projects are read back from the emulator (`GetPipeline`,
//!   `BatchGetProjects`): what runs is what was deployed, as on AWS;
//! - **Source** is a clone of a commit of a repository on this machine;
//! - each **build** (local/build.rs) runs its project's buildspec, every phase, with bash in a directory of
//!   its own (a fresh `HOME`, `TMPDIR` and `$CODEBUILD_SRC_DIR`, nothing else of this machine's but `PATH`,
//!   which stands for the image's tools), with credentials of its own role (STS `AssumeRole` of the
//!   project's service role), downloading its input artifacts from the artifact store and restoring its
//!   S3 cache with those credentials, uploading its output artifact and cache after, and exporting the
//!   variables its buildspec names; its processes are ended with it, as a container's are;
//! - **Approve** is entered or skipped by the stage's entry condition, as CodePipeline evaluates it; when
//!   entered, the approval is given (or refused) on this command line and recorded through
//!   `PutApprovalResult`, so that Apply's question to CodePipeline gets the answer AWS would give.
//!
//! CodePipeline's record of each action (which Apply reads with `ListActionExecutions`) lives in the
//! emulator's harness (`moto_launcher.py`); this runner reports to it what it ran. What this cannot show:
//! IAM's enforcement of the roles' policies (moto evaluates none of them; `synth/tests/pipeline_access.rs`
//! asks IAM's logic instead), CodeBuild's own S3 cache format, and the connection's clone.
//!
//! The decisions are pure: [`resolve`] (CodePipeline's `#{namespace.variable}`), [`rule_holds`] and
//! [`enters`] (a stage's entry condition).

mod build;

pub use build::post_harness;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Args;

use crate::aws::{AwsResultExt as _, Clients, StageArgs};
use crate::{BadInput, EXIT_DIFFERENCE, Target};

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub on: StageArgs,
    /// Run against an emulator (moto, with the project's harness): the only way this command runs. The
    /// pipeline must be deployed there (`cargo xtask pipeline deploy`) and its reviewer binary uploaded
    /// (`cargo xtask pipeline reviewer`)
    #[arg(long, required = true)]
    pub local: bool,
    /// The commit the Source stage clones
    #[arg(long, default_value = "HEAD")]
    pub commit: String,
    /// The git repository the Source stage clones (default: the workspace's)
    #[arg(long, value_name = "DIR")]
    pub repository: Option<PathBuf>,
    /// Approve when the run reaches Approve; without it the approval is refused and the run stops there
    #[arg(long)]
    pub approve: bool,
}

/// How one stage of a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageResult {
    Succeeded,
    /// Its entry condition's rule failed and the condition's result is SKIP.
    Skipped,
    /// A person refused the approval.
    Rejected,
    Failed(String),
}

/// What the person at the command line says at Approve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Approval {
    Give,
    Refuse,
}

/// Where an artifact is: an object in the artifact store (for Source, a reference to the commit the
/// build clones, as `CODEBUILD_CLONE_REF` is on AWS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Artifact {
    Stored { bucket: String, key: String },
}

/// Where a run's artifacts go: `<first 20 characters of the pipeline>/<first 10 of the artifact>/<id>`.
pub fn artifact_key(pipeline: &str, artifact: &str) -> String {
    format!(
        "{}/{}/{}",
        pipeline.chars().take(synth::config::ARTIFACT_PREFIX_CHARS).collect::<String>(),
        artifact.chars().take(10).collect::<String>(),
        &uuid::Uuid::new_v4().simple().to_string()[..7]
    )
}

/// One action of the deployed pipeline, as this runner needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub name: String,
    pub category: String,
    pub configuration: BTreeMap<String, String>,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub namespace: Option<String>,
}

/// A stage's entry condition: one VariableCheck rule and the result applied when it fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRule {
    pub variable: String,
    pub operator: String,
    pub value: String,
    pub result: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub name: String,
    pub actions: Vec<Action>,
    pub entry: Option<EntryRule>,
}

/// CodePipeline's variable syntax resolved: `#{namespace.NAME}` from the variables actions exported so
/// far, `#{codepipeline.PipelineExecutionId}` from the run. A variable nobody exported stays as written,
/// as CodePipeline leaves an unresolvable one (it then fails the action; here the build sees the text).
pub fn resolve(text: &str, variables: &BTreeMap<String, BTreeMap<String, String>>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("#{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let name = &after[..end];
        let value = name.split_once('.').and_then(|(ns, var)| variables.get(ns).and_then(|v| v.get(var)));
        match value {
            Some(v) => out.push_str(v),
            None => out.push_str(&rest[start..start + 2 + end + 1]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Whether a VariableCheck rule holds for `actual`, as CodePipeline compares: strings, or numbers for the
/// ordering operators.
pub fn rule_holds(operator: &str, actual: &str, value: &str) -> bool {
    let numbers = || Some((actual.trim().parse::<f64>().ok()?, value.trim().parse::<f64>().ok()?));
    match operator {
        "EQ" => actual == value,
        "NE" => actual != value,
        "CONTAINS" => actual.contains(value),
        "GT" => numbers().is_some_and(|(a, v)| a > v),
        "GTE" => numbers().is_some_and(|(a, v)| a >= v),
        "LT" => numbers().is_some_and(|(a, v)| a < v),
        "LTE" => numbers().is_some_and(|(a, v)| a <= v),
        _ => false,
    }
}

/// Whether a stage is entered: with no condition, yes; otherwise if its rule holds, and if not, unless the
/// condition's result (applied when the rule fails) is SKIP. A FAIL result fails the run instead.
pub fn enters(
    entry: Option<&EntryRule>,
    variables: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<bool, String> {
    let Some(rule) = entry else { return Ok(true) };
    let actual = resolve(&rule.variable, variables);
    if rule_holds(&rule.operator, &actual, &rule.value) {
        return Ok(true);
    }
    match rule.result.as_str() {
        "SKIP" => Ok(false),
        other => {
            Err(format!("the entry condition failed ({} {} {}), result {other}", actual, rule.operator, rule.value))
        }
    }
}

/// How to run: where the emulator is and what to clone.
#[derive(Debug, Clone)]
pub struct Options {
    /// The person's SDK configuration (credentials, the emulator's endpoint, the region): they start the
    /// run and give the approval; each build assumes its own role with it.
    pub sdk: aws_config::SdkConfig,
    pub pipeline: String,
    pub repository: PathBuf,
    pub commit: String,
    /// Where the builds' directories go.
    pub work: PathBuf,
    /// The builds' `PATH`: the tools of the image.
    pub path: OsString,
}

impl Options {
    /// The emulator's endpoint, as the SDK configuration names it.
    pub fn endpoint(&self) -> String {
        self.sdk.endpoint_url().unwrap_or_default().to_owned()
    }

    pub fn region(&self) -> String {
        self.sdk.region().map(ToString::to_string).unwrap_or_default()
    }
}

/// One execution of a pipeline, stage by stage (tests drive it stage by stage to act between them).
#[derive(Debug)]
pub struct Run {
    options: Options,
    clients: Clients,
    execution: String,
    stages: Vec<Stage>,
    artifact_bucket: String,
    projects: BTreeMap<String, aws_sdk_codebuild::types::Project>,
    variables: BTreeMap<String, BTreeMap<String, String>>,
    artifacts: BTreeMap<String, Artifact>,
    commit: String,
}

impl Run {
    /// Reads the deployed pipeline and its projects, and starts an execution.
    pub async fn start(options: Options) -> anyhow::Result<Run> {
        let clients = Clients::from_config(&options.sdk, &options.region());
        let declared = clients
            .codepipeline
            .get_pipeline()
            .name(&options.pipeline)
            .send()
            .await
            .aws()
            .with_context(|| {
                format!("reading the pipeline {} (deploy it first: `cargo xtask pipeline deploy`)", options.pipeline)
            })?
            .pipeline
            .context("the pipeline has no declaration")?;
        let artifact_bucket = declared.artifact_store().map(|s| s.location().to_owned()).unwrap_or_default();
        let stages: Vec<Stage> = declared.stages().iter().map(stage_of).collect();
        let names: Vec<String> = stages
            .iter()
            .flat_map(|s| &s.actions)
            .filter_map(|a| a.configuration.get("ProjectName").cloned())
            .collect();
        let found = clients
            .codebuild
            .batch_get_projects()
            .set_names(Some(names))
            .send()
            .await
            .aws()
            .context("reading the build projects")?;
        let projects = found.projects().iter().map(|p| (p.name().unwrap_or_default().to_owned(), p.clone())).collect();
        let execution = clients
            .codepipeline
            .start_pipeline_execution()
            .name(&options.pipeline)
            .send()
            .await
            .aws()
            .context("starting a pipeline execution")?
            .pipeline_execution_id
            .context("CodePipeline gave no execution id")?;
        let commit = git(&options.repository, &["rev-parse", "--verify", &format!("{}^{{commit}}", options.commit)])?;
        let variables = BTreeMap::from([(
            "codepipeline".to_owned(),
            BTreeMap::from([("PipelineExecutionId".to_owned(), execution.clone())]),
        )]);
        Ok(Run {
            options,
            clients,
            execution,
            stages,
            artifact_bucket,
            projects,
            variables,
            artifacts: BTreeMap::new(),
            commit,
        })
    }

    pub fn execution(&self) -> &str {
        &self.execution
    }

    pub fn commit(&self) -> &str {
        &self.commit
    }

    pub fn stage_names(&self) -> Vec<String> {
        self.stages.iter().map(|s| s.name.clone()).collect()
    }

    /// Where an artifact of this run is.
    pub fn artifact(&self, name: &str) -> Option<&Artifact> {
        self.artifacts.get(name)
    }

    /// A variable an action of this run exported (`namespace`, `name`).
    pub fn variable(&self, namespace: &str, name: &str) -> Option<&str> {
        self.variables.get(namespace).and_then(|v| v.get(name)).map(String::as_str)
    }

    /// Runs one stage.
    pub async fn stage(&mut self, name: &str, approval: Approval) -> anyhow::Result<StageResult> {
        let stage = self.stages.iter().find(|s| s.name == name).cloned().with_context(|| format!("no stage {name}"))?;
        println!("\n== stage {name}");
        match enters(stage.entry.as_ref(), &self.variables) {
            Ok(true) => {}
            Ok(false) => {
                println!("skipped: its entry condition's rule failed and the result is SKIP");
                return Ok(StageResult::Skipped);
            }
            Err(why) => return Ok(StageResult::Failed(why)),
        }
        for action in &stage.actions {
            let result = match action.category.as_str() {
                "Source" => self.source(&stage, action).await?,
                "Build" => self.build(&stage, action).await?,
                "Approval" => self.approve(&stage, action, approval).await?,
                other => StageResult::Failed(format!("action {} of category {other} is not emulated", action.name)),
            };
            if result != StageResult::Succeeded {
                return Ok(result);
            }
        }
        Ok(StageResult::Succeeded)
    }

    /// Runs every stage in order until one does not succeed (a skipped stage is passed by).
    pub async fn all(&mut self, approval: Approval) -> anyhow::Result<StageResult> {
        for name in self.stage_names() {
            match self.stage(&name, approval).await? {
                StageResult::Succeeded | StageResult::Skipped => {}
                other => return Ok(other),
            }
        }
        Ok(StageResult::Succeeded)
    }

    /// Source: the commit, as a reference CodeBuild clones (the artifact store holds the reference, not
    /// the tree).
    async fn source(&mut self, stage: &Stage, action: &Action) -> anyhow::Result<StageResult> {
        self.record(stage, action, "InProgress", &BTreeMap::new(), false).await?;
        let repository = self.options.repository.to_string_lossy().into_owned();
        let reference = serde_json::json!({"cloneRef": {"repository": repository, "commit": self.commit}});
        println!("commit {} of {repository}", self.commit);
        let mut exported = BTreeMap::from([
            ("CommitId".to_owned(), self.commit.clone()),
            ("BranchName".to_owned(), action.configuration.get("BranchName").cloned().unwrap_or_default()),
            (
                "FullRepositoryName".to_owned(),
                action.configuration.get("FullRepositoryId").cloned().unwrap_or_default(),
            ),
        ]);
        exported
            .insert("ConnectionArn".to_owned(), action.configuration.get("ConnectionArn").cloned().unwrap_or_default());
        for output in &action.outputs {
            let key = artifact_key(&self.options.pipeline, output);
            self.clients
                .s3
                .put_object()
                .bucket(&self.artifact_bucket)
                .key(&key)
                .body(reference.to_string().into_bytes().into())
                .send()
                .await
                .aws()
                .with_context(|| format!("storing the Source artifact {output}"))?;
            self.artifacts.insert(output.clone(), Artifact::Stored { bucket: self.artifact_bucket.clone(), key });
        }
        self.finish(stage, action, &exported, None).await?;
        Ok(StageResult::Succeeded)
    }

    async fn build(&mut self, stage: &Stage, action: &Action) -> anyhow::Result<StageResult> {
        self.record(stage, action, "InProgress", &BTreeMap::new(), false).await?;
        let (outcome, build) = build::run(self, stage, action).await?;
        match outcome {
            Ok(exported) => {
                self.finish(stage, action, &exported, Some(&build)).await?;
                Ok(StageResult::Succeeded)
            }
            Err(why) => {
                self.report(stage, action, ("Failed", Some(&build)), &BTreeMap::new(), false).await?;
                Ok(StageResult::Failed(why))
            }
        }
    }

    async fn approve(&mut self, stage: &Stage, action: &Action, approval: Approval) -> anyhow::Result<StageResult> {
        self.record(stage, action, "InProgress", &BTreeMap::new(), true).await?;
        let message = resolve(action.configuration.get("CustomData").map_or("", String::as_str), &self.variables);
        let link = resolve(action.configuration.get("ExternalEntityLink").map_or("", String::as_str), &self.variables);
        println!("waiting for approval:\n{message}\nreview: {link}");
        let state = self
            .clients
            .codepipeline
            .get_pipeline_state()
            .name(&self.options.pipeline)
            .send()
            .await
            .aws()
            .context("reading the pipeline's state")?;
        let token = state
            .stage_states()
            .iter()
            .filter(|s| s.stage_name() == Some(stage.name.as_str()))
            .flat_map(|s| s.action_states())
            .filter(|a| a.action_name() == Some(action.name.as_str()))
            .find_map(|a| a.latest_execution().and_then(|e| e.token().map(str::to_owned)))
            .context("CodePipeline gave no approval token")?;
        let (status, summary) = match approval {
            Approval::Give => (aws_sdk_codepipeline::types::ApprovalStatus::Approved, "approved on the command line"),
            Approval::Refuse => (aws_sdk_codepipeline::types::ApprovalStatus::Rejected, "refused on the command line"),
        };
        let result = aws_sdk_codepipeline::types::ApprovalResult::builder()
            .status(status)
            .summary(summary)
            .build()
            .context("approval result")?;
        self.clients
            .codepipeline
            .put_approval_result()
            .pipeline_name(&self.options.pipeline)
            .stage_name(&stage.name)
            .action_name(&action.name)
            .token(token)
            .result(result)
            .send()
            .await
            .aws()
            .context("giving the approval")?;
        println!("{summary}");
        Ok(if approval == Approval::Give { StageResult::Succeeded } else { StageResult::Rejected })
    }

    async fn finish(
        &mut self,
        stage: &Stage,
        action: &Action,
        exported: &BTreeMap<String, String>,
        build: Option<&str>,
    ) -> anyhow::Result<()> {
        if let Some(ns) = &action.namespace {
            self.variables.insert(ns.clone(), exported.clone());
        }
        self.report(stage, action, ("Succeeded", build), exported, false).await
    }

    async fn record(
        &self,
        stage: &Stage,
        action: &Action,
        status: &str,
        exported: &BTreeMap<String, String>,
        approval: bool,
    ) -> anyhow::Result<()> {
        self.report(stage, action, (status, None), exported, approval).await
    }

    /// Tells the emulator's CodePipeline what this run did (the harness-only call CodePipeline needs none
    /// of, since on AWS it runs the actions itself): the status, the variables exported, the build run.
    async fn report(
        &self,
        stage: &Stage,
        action: &Action,
        (status, build): (&str, Option<&str>),
        exported: &BTreeMap<String, String>,
        approval: bool,
    ) -> anyhow::Result<()> {
        let body = serde_json::json!({
            "pipelineName": self.options.pipeline,
            "pipelineExecutionId": self.execution,
            "stageName": stage.name,
            "actionName": action.name,
            "status": status,
            "outputVariables": exported,
            "approval": approval,
            "externalExecutionId": build,
        });
        build::post_harness(&self.options.endpoint(), "CodePipeline_20150709.HarnessRecordActionExecution", &body).await
    }
}

fn stage_of(s: &aws_sdk_codepipeline::types::StageDeclaration) -> Stage {
    let names = |a: &[aws_sdk_codepipeline::types::InputArtifact]| a.iter().map(|i| i.name().to_owned()).collect();
    let actions = s
        .actions()
        .iter()
        .map(|a| Action {
            name: a.name().to_owned(),
            category: a.action_type_id().map(|t| t.category().as_str().to_owned()).unwrap_or_default(),
            configuration: a
                .configuration()
                .map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            inputs: names(a.input_artifacts()),
            outputs: a.output_artifacts().iter().map(|o| o.name().to_owned()).collect(),
            namespace: a.namespace().map(str::to_owned),
        })
        .collect();
    let entry = s.before_entry().and_then(|b| b.conditions().first()).and_then(|c| {
        let rule = c.rules().first()?;
        let config = rule.configuration()?;
        Some(EntryRule {
            variable: config.get("Variable")?.clone(),
            operator: config.get("Operator")?.clone(),
            value: config.get("Value")?.clone(),
            result: c.result().map(|r| r.as_str().to_owned()).unwrap_or_default(),
        })
    });
    Stage { name: s.name().to_owned(), actions, entry }
}

/// `git -C dir args...`, its trimmed output.
fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = std::process::Command::new("git").arg("-C").arg(dir).args(args).output().context("running git")?;
    if !out.status.success() {
        bail!("git {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

pub async fn run(config_path: &Path, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let target = Target::load(config_path, &args.on.stage)?;
    let stage = target.stage();
    if stage.pipeline.is_none() {
        return Err(BadInput(format!("stage {} has no pipeline: add [pipeline] to stages.toml", stage.name)).into());
    }
    let Some(endpoint) = args.on.aws.endpoint_url.clone().or_else(|| std::env::var("AWS_ENDPOINT_URL").ok()) else {
        return Err(BadInput(
            "--local runs against an emulator: pass --endpoint-url (or set AWS_ENDPOINT_URL) of one where the stage's \
             pipeline is deployed (`cargo xtask pipeline deploy`) and its reviewer uploaded (`cargo xtask pipeline \
             reviewer`)"
                .into(),
        )
        .into());
    };
    let repository = match &args.repository {
        Some(r) => r.clone(),
        None => crate::workspace()?,
    };
    let work =
        crate::target_dir()?.join("pipeline-runs").join(format!("{}-{}", target.names.pipeline(), std::process::id()));
    let mut loader = crate::aws::loader(&stage.region).endpoint_url(&endpoint);
    if let Some(profile) = &args.on.aws.profile {
        loader = loader.profile_name(profile);
    }
    let options = Options {
        sdk: loader.load().await,
        pipeline: target.names.pipeline(),
        repository,
        commit: args.commit.clone(),
        work,
        path: std::env::var_os("PATH").unwrap_or_default(),
    };
    let mut run = Run::start(options).await?;
    println!("pipeline {} execution {} of commit {}", target.names.pipeline(), run.execution(), run.commit());
    let approval = if args.approve { Approval::Give } else { Approval::Refuse };
    match run.all(approval).await? {
        StageResult::Succeeded | StageResult::Skipped => {
            println!("\nexecution {} succeeded", run.execution());
            Ok(ExitCode::SUCCESS)
        }
        StageResult::Rejected => {
            eprintln!("\nexecution {} stopped at Approve: refused (pass --approve to approve)", run.execution());
            Ok(ExitCode::from(EXIT_DIFFERENCE))
        }
        StageResult::Failed(why) => {
            eprintln!("\nerror: execution {} failed: {why}", run.execution());
            Ok(ExitCode::from(EXIT_DIFFERENCE))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str, &str)]) -> BTreeMap<String, BTreeMap<String, String>> {
        let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (ns, k, v) in pairs {
            out.entry((*ns).to_owned()).or_default().insert((*k).to_owned(), (*v).to_owned());
        }
        out
    }

    #[test]
    fn variables_resolve_as_codepipeline_resolves_them() {
        let v = vars(&[("Review", "RISKY", "true"), ("codepipeline", "PipelineExecutionId", "e-1")]);
        assert_eq!(resolve("#{Review.RISKY}", &v), "true");
        assert_eq!(resolve(r##"[{"value":"#{codepipeline.PipelineExecutionId}"}]"##, &v), r#"[{"value":"e-1"}]"#);
        assert_eq!(resolve("#{Plan.PLAN_DIGEST} and #{", &v), "#{Plan.PLAN_DIGEST} and #{");
    }

    #[test]
    fn approve_is_skipped_only_on_exactly_false() {
        let rule = EntryRule {
            variable: "#{Review.RISKY}".into(),
            operator: "NE".into(),
            value: "false".into(),
            result: "SKIP".into(),
        };
        assert_eq!(enters(Some(&rule), &vars(&[("Review", "RISKY", "false")])), Ok(false));
        for risky in ["true", "", "False", "no"] {
            assert_eq!(enters(Some(&rule), &vars(&[("Review", "RISKY", risky)])), Ok(true), "{risky:?}");
        }
        // Not exported at all: the text stays, which is not "false": entered.
        assert_eq!(enters(Some(&rule), &vars(&[])), Ok(true));
        // The condition this project had before: EQ true, so anything but "true" skipped the approval.
        let old = EntryRule { operator: "EQ".into(), value: "true".into(), ..rule.clone() };
        assert_eq!(enters(Some(&old), &vars(&[("Review", "RISKY", "True")])), Ok(false));
        assert_eq!(enters(None, &vars(&[])), Ok(true));
        let fail = EntryRule { result: "FAIL".into(), ..rule };
        assert!(enters(Some(&fail), &vars(&[("Review", "RISKY", "false")])).is_err());
        assert!(rule_holds("GT", "10", "9") && !rule_holds("GT", "x", "9") && rule_holds("CONTAINS", "abc", "b"));
    }
}
