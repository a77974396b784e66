//! The pipeline stack of a stage (`<project>-<stage>-pipeline`): a CodePipeline V2 pipeline that a push
//! to the stage's branch starts, three CodeBuild projects, the roles they and CloudFormation act as, and
//! the stage's permissions boundary.
//!
//! One stack per stage, in the stage's own account and region, as the stages themselves: a pipeline
//! deploys with roles of the account it deploys to, so no role trusts another account.
//!
//! **Nothing the pushed commit or the Plan role can write is executed, read as configuration or trusted
//! by Review or Apply.** The pushed commit runs in Plan only. Review and Apply run one binary, the xtask
//! of the commit the pipeline pins (`reviewer`), built once outside any run and fetched by the SHA-256
//! this template names (`reviewer_sha256`); they start in an empty directory, restore no cache, build
//! nothing and never see the pushed clone. What they read of Plan's is data, each piece bound to the run:
//! - **Plan** (`<prefix>-ci-plan`, the pushed commit): the README's test command, then `cargo xtask
//!   deploy --no-execute --summary-file plan.json --run-id <execution>`: code built and uploaded to
//!   write-once keys, change sets named after the execution created as the deploy role, executed none.
//!   It exports `PLAN_DIGEST`, the plan file's SHA-256, which CodePipeline carries to Review.
//! - **Review** (`<prefix>-ci-review`, the pinned binary, a read-only role): refuses a plan file whose
//!   digest is not Plan's, a change set not named after this execution or not of the stage's data and
//!   api stacks, and a function's code not pinned to an object version whose SHA-256 is its key's. It
//!   reviews each change set's template against the deployed one (IAM rows, data loss) and exports
//!   whether a person must approve, the message they read (most dangerous rows first), a link to the
//!   full review, and the SHA-256 of the reviewed list it writes.
//! - **Approve** (manual): skipped only when the review says `RISKY=false`, exactly; always entered when
//!   the stage asks for it.
//! - **Apply** (`<prefix>-ci-apply`, the pinned binary): checks the reviewed list against the digest
//!   CodePipeline carried from Review, derives the risk again from it, and when a person had to approve,
//!   asks CodePipeline whether this execution's Approve succeeded. Then it executes exactly the reviewed
//!   change sets, by ARN, each checked against the reviewed template hash and the stack's state.
//!
//! CloudFormation makes every change to the stage's data and api stacks as the deploy role
//! (`<prefix>-ci-deploy`, roles.rs): the actions CloudFormation's handlers need for those stacks' types,
//! on this stage's names, and roles only with the stage's boundary. It cannot touch the pipeline's roles,
//! projects or pipeline, the boundary, or the bootstrap stack: those change only when a person deploys
//! the pipeline stack (`cargo xtask pipeline deploy`) with their own credentials.

mod roles;

use std::collections::BTreeMap;

use crate::config::{Approval, Pipeline as PipelineSettings, Stage};
use crate::model::iam::PolicyDocument;
use crate::model::resources::{
    ArtifactName, ArtifactStore, BeforeEntry, BranchFilter, BuildEnvironment, BuildVariable, CloudWatchLogs,
    GitConfiguration, GitPush, LogGroup, ManagedPolicy, Pipeline, PipelineAction, PipelineStage, Project,
    ProjectArtifacts, ProjectCache, ProjectLogs, ProjectSource, Role, StageCondition, StageRule, Trigger, TypeId,
    tag_list,
};
use crate::model::{Expr, Handle, Part, Pseudo, Template};
use crate::names::Names;
pub use roles::{
    DEPLOY_CODE_ACTIONS, DEPLOY_DYNAMODB_ACTIONS, DEPLOY_LAMBDA_ACTIONS, DEPLOY_LOGS_ACTIONS, DEPLOY_ROLE_READS,
    DEPLOY_ROLE_WRITES, DEPLOY_SECRETS_ACTIONS, DEPLOY_WAF_ACTIONS, ROLE_BOUNDARY_ACTIONS, deploy_kms_actions,
};

/// The README's test command: every check, run before anything is planned.
pub const TEST_COMMAND: &str = "cargo xtask test";

/// RustSec's advisories, checked where the advisory database can be fetched: a dependency with a known
/// vulnerability (or a yanked one) stops the plan, so nothing is deployed with it.
pub const ADVISORIES_COMMAND: &str = "cargo xtask deny --advisories";

/// The Rust toolchain the plan build installs, pinned so that a commit builds the same way on every run.
pub const RUST_TOOLCHAIN: &str = "1.95.0";

/// The plan's summary file, in the plan build's output artifact.
pub const PLAN_FILE: &str = "plan.json";

/// The reviewed list of change sets, in the review build's output artifact.
pub const REVIEWED_FILE: &str = "reviewed.json";

/// The plan build's exported variable: the SHA-256 of the plan file, carried by CodePipeline to Review.
pub const PLAN_VARIABLES: [&str; 1] = ["PLAN_DIGEST"];

/// The review build's exported variables, read by the Approve and Apply stages as `#{Review.<NAME>}`.
pub const REVIEW_VARIABLES: [&str; 4] = ["RISKY", "APPROVAL", "REVIEW_URL", "REVIEW_DIGEST"];

/// Action namespaces: `#{<namespace>.<VARIABLE>}` in a later action's configuration; the Source and Plan
/// namespaces also name what Review reads back through `ListActionExecutions`.
pub const SOURCE_NAMESPACE: &str = "Source";
pub const PLAN_NAMESPACE: &str = "Plan";
pub const REVIEW_NAMESPACE: &str = "Review";

/// Output artifacts; a build finds its primary input in `$CODEBUILD_SRC_DIR`. Each build may write only
/// its own output's folder, so copied-out Plan credentials cannot rewrite a run's Source or Reviewed.
pub const SOURCE_ARTIFACT: &str = "Source";
pub const PLAN_ARTIFACT: &str = "Plan";
pub const REVIEWED_ARTIFACT: &str = "Reviewed";

/// The stage whose action's exported variables Review reads back from CodePipeline.
pub const PLAN_STAGE: &str = "Plan";

/// The stage and action names Apply looks for when it asks CodePipeline whether a person approved.
pub const APPROVE_STAGE: &str = "Approve";
pub const APPROVE_ACTION: &str = "Approve";

/// Where the reviewer binary lives in the artifact bucket: content-addressed, written once by a
/// person's `cargo xtask pipeline reviewer`, never by a pipeline role.
pub fn reviewer_key(sha256: &str) -> String {
    format!("reviewer/{sha256}/xtask")
}

/// `cargo xtask deploy --no-execute ...` as the plan build runs it: change sets named after the run.
pub fn plan_command(stage: &str) -> String {
    format!(
        "cargo xtask deploy --stage {stage} --no-execute --summary-file {PLAN_FILE} --cfn-role \"$DEPLOY_ROLE_ARN\" \
         --run-id \"$PIPELINE_EXECUTION_ID\""
    )
}

/// The plan build's last command: the plan file's SHA-256, exported for CodePipeline to carry to Review.
pub fn plan_digest_command() -> String {
    format!("export PLAN_DIGEST=\"$(sha256sum {PLAN_FILE} | cut -d \" \" -f 1)\"")
}

/// The commands every review and apply build runs first: into an empty directory of their own, then the
/// pinned reviewer binary fetched and checked against the SHA-256 this template names. Nothing else runs
/// before it: no toolchain, no cache, no build, no file of the pushed commit's.
pub fn reviewer_commands() -> [String; 4] {
    [
        "cd \"$(mktemp -d)\"".to_owned(),
        "aws s3api get-object --bucket \"$ARTIFACT_BUCKET\" --key \"reviewer/$REVIEWER_SHA256/xtask\" \
         --expected-bucket-owner \"$ARTIFACT_BUCKET_OWNER\" xtask > /dev/null"
            .to_owned(),
        "echo \"$REVIEWER_SHA256  xtask\" | sha256sum --check --strict -".to_owned(),
        "chmod 0500 xtask".to_owned(),
    ]
}

/// The pinned xtask's review of the plan, as the review build runs it. What Plan exported it reads from
/// CodePipeline's record of the execution, never from this build's configuration.
pub fn review_command(project: &str, names: &Names, stage: &str) -> String {
    format!(
        "./xtask pipeline review --project {project} --stage {stage} --pipeline {} --execution \"$PIPELINE_EXECUTION_ID\" \
         --plan \"$CODEBUILD_SRC_DIR/{PLAN_FILE}\" --artifact-bucket \"$ARTIFACT_BUCKET\" --build-id \"$CODEBUILD_BUILD_ID\" \
         --out \"$CODEBUILD_SRC_DIR/{REVIEWED_FILE}\" > review.env && . ./review.env",
        names.pipeline()
    )
}

/// The pinned xtask's execution of the reviewed change sets, as the apply build runs it (`--protect`: the
/// data stack of a protected stage gets termination protection).
pub fn apply_command(project: &str, names: &Names, stage: &str, approval: Approval, protect: bool) -> String {
    format!(
        "./xtask pipeline apply --project {project} --stage {stage} --reviewed \"$CODEBUILD_SRC_DIR/{REVIEWED_FILE}\" \
         --digest \"$REVIEW_DIGEST\" --pipeline {} --execution \"$PIPELINE_EXECUTION_ID\" --approval {}{}",
        names.pipeline(),
        approval.as_str(),
        if protect { " --protect" } else { "" }
    )
}

/// What the plan build's S3 cache keeps between its runs: cargo's registry and git checkouts, the
/// toolchain, and the target directory with the test tools' virtualenv. Only Plan restores it.
pub const PLAN_CACHE_PATHS: [&str; 4] =
    ["/root/.cargo/registry/**/*", "/root/.cargo/git/**/*", "/root/.rustup/**/*", "target/**/*"];

/// A buildspec: the commands, the exported variables, the output file and, for Plan, the pinned
/// toolchain and the cache.
fn buildspec(commands: &[String], exported: &[&str], artifact: Option<&str>, plan: bool) -> String {
    let mut out = String::from("version: 0.2\nenv:\n  shell: bash\n  variables:\n");
    out.push_str("    CARGO_TERM_COLOR: never\n    CARGO_INCREMENTAL: '0'\n");
    if !exported.is_empty() {
        out.push_str("  exported-variables:\n");
        for v in exported {
            out.push_str(&format!("    - {v}\n"));
        }
    }
    out.push_str("phases:\n");
    if plan {
        out.push_str("  install:\n    commands:\n");
        out.push_str(&format!(
            "      - curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal \
             --default-toolchain {RUST_TOOLCHAIN}\n"
        ));
        out.push_str("      - . \"$HOME/.cargo/env\"\n");
    }
    out.push_str("  build:\n    commands:\n");
    for c in commands {
        out.push_str(&format!("      - {}\n", quote(c)));
    }
    if let Some(file) = artifact {
        out.push_str(&format!("artifacts:\n  files:\n    - {file}\n"));
    }
    if plan {
        out.push_str("cache:\n  paths:\n");
        for p in PLAN_CACHE_PATHS {
            out.push_str(&format!("    - '{p}'\n"));
        }
    }
    out
}

/// A buildspec command as a YAML scalar: single-quoted, so that `: `, `#` and `"` stay the command's.
fn quote(command: &str) -> String {
    format!("'{}'", command.replace('\'', "''"))
}

/// The plan build's buildspec: the pushed commit's code.
pub fn plan_buildspec(stage: &str) -> String {
    buildspec(
        &[TEST_COMMAND.to_owned(), ADVISORIES_COMMAND.to_owned(), plan_command(stage), plan_digest_command()],
        &PLAN_VARIABLES,
        Some(PLAN_FILE),
        true,
    )
}

/// The review build's buildspec: the pinned binary.
pub fn review_buildspec(project: &str, names: &Names, stage: &str) -> String {
    let mut commands = reviewer_commands().to_vec();
    commands.push(review_command(project, names, stage));
    buildspec(&commands, &REVIEW_VARIABLES, Some(REVIEWED_FILE), false)
}

/// The apply build's buildspec: the pinned binary.
pub fn apply_buildspec(project: &str, names: &Names, stage: &str, approval: Approval, protect: bool) -> String {
    let mut commands = reviewer_commands().to_vec();
    commands.push(apply_command(project, names, stage, approval, protect));
    buildspec(&commands, &[], None, false)
}

/// CodeBuild's Amazon Linux 2023 image for the stage's architecture (the functions run on AL2023 too,
/// so the glibc they link against is the one they find), built natively: no cross-compiler.
pub fn build_image(architecture: crate::config::Architecture) -> (&'static str, &'static str) {
    match architecture {
        crate::config::Architecture::X86_64 => ("LINUX_CONTAINER", "aws/codebuild/amazonlinux-x86_64-standard:5.0"),
        crate::config::Architecture::Arm64 => ("ARM_CONTAINER", "aws/codebuild/amazonlinux-aarch64-standard:3.0"),
    }
}

/// The artifact bucket `cargo xtask deploy` uploads to (`<project>-artifacts-<account>-<region>`, or
/// the stage's `artifact_bucket`); the pipeline keeps its artifacts and Plan's cache there too.
pub fn artifact_bucket(project: &str, stage: &Stage) -> Expr {
    match &stage.artifact_bucket {
        Some(b) => b.clone().into(),
        None => Expr::sub([
            Part::from(format!("{project}-artifacts-")),
            Pseudo::AccountId.into(),
            "-".into(),
            Pseudo::Region.into(),
        ]),
    }
}

/// `arn:<partition>:s3:::<bucket><key>`.
fn s3(bucket: &Expr, key: &str) -> Expr {
    let mut parts = vec![Part::from("arn:"), Pseudo::Partition.into(), ":s3:::".into()];
    match bucket {
        Expr::Str(b) => parts.push(b.clone().into()),
        Expr::Sub(p) => parts.extend(p.iter().cloned()),
        other => panic!("artifact bucket must be a name or an Fn::Sub, not {other:?}"),
    }
    parts.push(key.into());
    Expr::sub(parts)
}

/// `bucket/<prefix>`, CodeBuild's form of an S3 cache location.
fn cache_location(bucket: &Expr, prefix: &str) -> Expr {
    match bucket {
        Expr::Str(b) => format!("{b}/{prefix}").into(),
        Expr::Sub(parts) => Expr::sub(parts.iter().cloned().chain([Part::from(format!("/{prefix}"))])),
        other => panic!("artifact bucket must be a name or an Fn::Sub, not {other:?}"),
    }
}

/// Where each piece of the pipeline lives in the artifact bucket, as ARNs for the roles' statements.
struct Places {
    bucket: Expr,
    bucket_arn: Expr,
    /// Every run's artifacts: `<first 20 characters of the pipeline>/...` (CodePipeline's own role).
    artifacts: Expr,
    /// The pipeline's artifact key prefix, for one artifact's folder.
    artifact_prefix: String,
    /// Plan's build cache, which no other build restores.
    plan_cache_prefix: String,
    plan_cache: Expr,
    /// The stage's function code: `<project>/<stage>/...`.
    code: Expr,
    /// The pinned reviewer binary.
    reviewer: Expr,
}

impl Places {
    /// One artifact's folder of every run: CodePipeline keys an artifact under the first 20 characters of
    /// the pipeline's name and the first 10 of the artifact's (`Source`, `Plan`, `Reviewed` are shorter).
    fn artifact(&self, name: &str) -> Expr {
        let folder: String = name.chars().take(10).collect();
        s3(&self.bucket, &format!("/{}/{folder}/*", self.artifact_prefix))
    }

    fn of(project: &str, names: &Names, stage: &Stage, pipeline: &PipelineSettings) -> Places {
        let bucket = artifact_bucket(project, stage);
        let plan_cache_prefix = format!("cache/{}", names.ci("plan"));
        Places {
            bucket_arn: s3(&bucket, ""),
            artifacts: s3(&bucket, &format!("/{}/*", names.pipeline_artifacts())),
            artifact_prefix: names.pipeline_artifacts(),
            plan_cache: s3(&bucket, &format!("/{plan_cache_prefix}/*")),
            plan_cache_prefix,
            code: s3(&bucket, &format!("/{project}/{}/*", stage.name)),
            reviewer: s3(&bucket, &format!("/{}", reviewer_key(&pipeline.reviewer_sha256))),
            bucket,
        }
    }
}

pub fn build(project: &str, names: &Names, stage: &Stage) -> Option<Template> {
    let pipeline = stage.pipeline.as_ref()?;
    let mut t = Template::new(format!(
        "{}: delivery pipeline of stage {} from {}@{} (generated by cargo xtask synth)",
        names.prefix(),
        stage.name,
        pipeline.repository,
        pipeline.branch
    ));
    let places = Places::of(project, names, stage, pipeline);
    let boundary = t.add(
        "PermissionsBoundary",
        ManagedPolicy {
            managed_policy_name: names.boundary(),
            description: format!(
                "{}: the most any role the pipeline's deploy role makes may do (the stage's functions)",
                names.prefix()
            ),
            policy_document: PolicyDocument::new(roles::boundary_statements(names, stage)),
        },
    );
    let deploy = roles::role(
        &mut t,
        names,
        stage,
        roles::RoleSpec {
            id: "DeployRole",
            what: "deploy",
            description: "CloudFormation makes the changes to the stage's data and api stacks as this role",
            trust: roles::trust("cloudformation.amazonaws.com", false),
            statements: roles::deploy_statements(project, names, stage, &places.bucket, &boundary),
        },
    );
    let logs = |t: &mut Template, id: &str, what: &str| {
        t.add(
            id,
            LogGroup {
                log_group_name: format!("/aws/codebuild/{}", names.ci(what)),
                retention_in_days: stage.log_retention_days,
                tags: tag_list(&stage.tags),
            },
        )
    };
    let build_logs = [
        logs(&mut t, "PlanLogGroup", "plan"),
        logs(&mut t, "ReviewLogGroup", "review"),
        logs(&mut t, "ApplyLogGroup", "apply"),
    ];
    let [plan_logs, review_logs, apply_logs] = &build_logs;
    let ci = roles::CiRoles::add(&mut t, names, stage, &places, &deploy, [plan_logs, review_logs, apply_logs]);
    let projects =
        projects(&mut t, project, names, stage, pipeline, &places, &ci, &deploy, [plan_logs, review_logs, apply_logs]);
    let pipeline_role = roles::pipeline_role(&mut t, names, stage, &places, &pipeline.connection_arn, &projects);
    let pipe = t.add(
        "Pipeline",
        Pipeline {
            name: names.pipeline(),
            pipeline_type: "V2",
            // A newer push supersedes an older run waiting between stages; a run inside Approve holds the
            // stage, and the runs behind it wait. A plan made before another run applied is stale by the
            // time it reaches Apply, which refuses it with nothing executed: release the change again.
            execution_mode: "SUPERSEDED",
            role_arn: pipeline_role.arn(),
            artifact_store: ArtifactStore { kind: "S3", location: places.bucket.clone() },
            restart_execution_on_update: false,
            triggers: vec![Trigger {
                provider_type: "CodeStarSourceConnection",
                git_configuration: GitConfiguration {
                    source_action_name: "Source",
                    push: vec![GitPush { branches: BranchFilter { includes: vec![pipeline.branch.clone()] } }],
                },
            }],
            stages: stages(pipeline, &projects),
            tags: tag_list(&stage.tags),
        },
    );
    t.output("PipelineName", "The stage's delivery pipeline", pipe.reference());
    t.output("DeployRoleArn", "The role CloudFormation deploys the stage's data and api stacks as", deploy.arn());
    t.output("PermissionsBoundaryArn", "The boundary every role the deploy role makes carries", boundary.reference());
    Some(t)
}

/// The three CodeBuild projects, in the order Plan, Review, Apply.
struct Projects {
    plan: Handle<Project>,
    review: Handle<Project>,
    apply: Handle<Project>,
}

#[allow(clippy::too_many_arguments)]
fn projects(
    t: &mut Template,
    project: &str,
    names: &Names,
    stage: &Stage,
    pipeline: &PipelineSettings,
    places: &Places,
    ci: &roles::CiRoles,
    deploy: &Handle<Role>,
    [plan_logs, review_logs, apply_logs]: [&Handle<LogGroup>; 3],
) -> Projects {
    let plain = |name: &'static str, value: Expr| BuildVariable { name, kind: "PLAINTEXT", value };
    let mut add = |id: &str,
                   what: &str,
                   role: &Handle<Role>,
                   logs: &Handle<LogGroup>,
                   buildspec: String,
                   cache: ProjectCache,
                   variables: Vec<BuildVariable>| {
        let (kind, image) = build_image(stage.architecture);
        t.add(
            id,
            Project {
                name: names.ci(what),
                description: format!("{}: the pipeline's {what} step", names.prefix()),
                service_role: role.arn(),
                source: ProjectSource { kind: "CODEPIPELINE", build_spec: buildspec },
                artifacts: ProjectArtifacts { kind: "CODEPIPELINE" },
                environment: BuildEnvironment {
                    kind,
                    image,
                    compute_type: "BUILD_GENERAL1_LARGE",
                    image_pull_credentials_type: "CODEBUILD",
                    privileged_mode: false,
                    environment_variables: variables,
                },
                cache,
                logs_config: ProjectLogs {
                    cloud_watch_logs: CloudWatchLogs { status: "ENABLED", group_name: logs.reference() },
                },
                timeout_in_minutes: 120,
                queued_timeout_in_minutes: 60,
                concurrent_build_limit: 1,
                tags: tag_list(&stage.tags),
            },
        )
    };
    // What the trusted builds need to fetch and check the pinned binary.
    let pinned = || {
        vec![
            plain("REVIEWER_COMMIT", pipeline.reviewer.clone().into()),
            plain("REVIEWER_SHA256", pipeline.reviewer_sha256.clone().into()),
            plain("ARTIFACT_BUCKET", places.bucket.clone()),
            plain("ARTIFACT_BUCKET_OWNER", Expr::sub([Pseudo::AccountId.into()])),
        ]
    };
    let no_cache = || ProjectCache { kind: "NO_CACHE", location: None };
    let plan = add(
        "PlanProject",
        "plan",
        &ci.plan,
        plan_logs,
        plan_buildspec(&stage.name),
        ProjectCache { kind: "S3", location: Some(cache_location(&places.bucket, &places.plan_cache_prefix)) },
        vec![plain("DEPLOY_ROLE_ARN", deploy.arn())],
    );
    let review = add(
        "ReviewProject",
        "review",
        &ci.review,
        review_logs,
        review_buildspec(project, names, &stage.name),
        no_cache(),
        pinned(),
    );
    let apply = add(
        "ApplyProject",
        "apply",
        &ci.apply,
        apply_logs,
        apply_buildspec(project, names, &stage.name, pipeline.approval, stage.protect),
        no_cache(),
        pinned(),
    );
    Projects { plan, review, apply }
}

/// `EnvironmentVariables` of a build action: CodePipeline's variables, resolved by CodePipeline, out of
/// reach of the builds that write artifacts.
fn action_variables(variables: &[(&str, String)]) -> Expr {
    let list: Vec<serde_json::Value> = variables
        .iter()
        .map(|(name, value)| serde_json::json!({"name": name, "value": value, "type": "PLAINTEXT"}))
        .collect();
    serde_json::Value::Array(list).to_string().into()
}

fn variable(namespace: &str, name: &str) -> String {
    format!("#{{{namespace}.{name}}}")
}

const EXECUTION_ID: &str = "#{codepipeline.PipelineExecutionId}";

/// Source, Plan, Review, Approve and Apply. Review takes only Plan's artifact and Apply only Review's:
/// neither sees the pushed clone.
fn stages(pipeline: &PipelineSettings, projects: &Projects) -> Vec<PipelineStage> {
    let action_type = |category, owner, provider| TypeId { category, owner, provider, version: "1" };
    let artifact = |name| ArtifactName { name };
    let build_action =
        |name, project: &Handle<Project>, input: &'static str, output: Option<&'static str>, env: &[(&str, String)]| {
            PipelineAction {
                name,
                action_type_id: action_type("Build", "AWS", "CodeBuild"),
                configuration: BTreeMap::from([
                    ("ProjectName", project.reference()),
                    ("EnvironmentVariables", action_variables(env)),
                ]),
                input_artifacts: vec![artifact(input)],
                output_artifacts: output.map(artifact).into_iter().collect(),
                namespace: None,
                run_order: 1,
            }
        };
    let source = PipelineAction {
        name: "Source",
        action_type_id: action_type("Source", "AWS", "CodeStarSourceConnection"),
        configuration: BTreeMap::from([
            ("ConnectionArn", pipeline.connection_arn.clone().into()),
            ("FullRepositoryId", pipeline.repository.clone().into()),
            ("BranchName", pipeline.branch.clone().into()),
            // A full clone, so that the pushed commit's build sees its history (CodeBuild clones it).
            ("OutputArtifactFormat", "CODEBUILD_CLONE_REF".into()),
        ]),
        input_artifacts: Vec::new(),
        output_artifacts: vec![artifact(SOURCE_ARTIFACT)],
        namespace: Some(SOURCE_NAMESPACE),
        run_order: 1,
    };
    let execution = ("PIPELINE_EXECUTION_ID", EXECUTION_ID.to_owned());
    let plan_action = PipelineAction {
        namespace: Some(PLAN_NAMESPACE),
        ..build_action("Plan", &projects.plan, SOURCE_ARTIFACT, Some(PLAN_ARTIFACT), std::slice::from_ref(&execution))
    };
    // Review's configuration takes no variable an untrusted action exported: CodePipeline pastes a value
    // into the text as it is, so one could close the JSON and add settings. It reads them from
    // CodePipeline's record instead, parsed, and checks their form.
    let review_action = PipelineAction {
        namespace: Some(REVIEW_NAMESPACE),
        ..build_action(
            "Review",
            &projects.review,
            PLAN_ARTIFACT,
            Some(REVIEWED_ARTIFACT),
            std::slice::from_ref(&execution),
        )
    };
    let approve_action = PipelineAction {
        name: APPROVE_ACTION,
        action_type_id: action_type("Approval", "AWS", "Manual"),
        configuration: BTreeMap::from([
            ("CustomData", variable(REVIEW_NAMESPACE, "APPROVAL").into()),
            ("ExternalEntityLink", variable(REVIEW_NAMESPACE, "REVIEW_URL").into()),
        ]),
        input_artifacts: Vec::new(),
        output_artifacts: Vec::new(),
        namespace: None,
        run_order: 1,
    };
    let apply_action = build_action(
        "Apply",
        &projects.apply,
        REVIEWED_ARTIFACT,
        None,
        &[("REVIEW_DIGEST", variable(REVIEW_NAMESPACE, "REVIEW_DIGEST")), execution],
    );
    vec![
        PipelineStage { name: "Source", actions: vec![source], before_entry: None },
        PipelineStage { name: "Plan", actions: vec![plan_action], before_entry: None },
        PipelineStage { name: "Review", actions: vec![review_action], before_entry: None },
        PipelineStage {
            name: APPROVE_STAGE,
            actions: vec![approve_action],
            before_entry: approval_condition(pipeline.approval),
        },
        PipelineStage { name: "Apply", actions: vec![apply_action], before_entry: None },
    ]
}

/// The Approve stage's entry condition. For `approval = "risky"` the stage is skipped only when the
/// review says `RISKY` is exactly `false`: the rule fails, and its `SKIP` result passes the stage by,
/// on that one value, so a missing, empty or misspelt value enters Approve. For `"always"`, none.
/// Apply does not rely on it: it derives the risk again and asks CodePipeline who approved.
pub fn approval_condition(approval: Approval) -> Option<BeforeEntry> {
    match approval {
        Approval::Always => None,
        Approval::Risky => Some(BeforeEntry {
            conditions: vec![StageCondition {
                result: "SKIP",
                rules: vec![StageRule {
                    name: "ReviewFoundRisk",
                    rule_type_id: TypeId { category: "Rule", owner: "AWS", provider: "VariableCheck", version: "1" },
                    configuration: BTreeMap::from([
                        ("Variable", variable(REVIEW_NAMESPACE, "RISKY").into()),
                        ("Value", "false".into()),
                        ("Operator", "NE".into()),
                    ]),
                }],
            }],
        }),
    }
}
