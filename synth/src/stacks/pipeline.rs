//! The pipeline stack of a stage (`<project>-<stage>-pipeline`): a CodePipeline V2 pipeline that a push
//! to the stage's branch starts, three CodeBuild projects, and the roles they and CloudFormation act as.
//!
//! One stack per stage, in the stage's own account and region, as the stages themselves: a pipeline
//! deploys with roles of the account it deploys to, so no role trusts another account, and a stage in
//! its own account (prod, with `account`) keeps its pipeline there too.
//!
//! The pushed commit is not trusted to judge itself. Its code (tests, build scripts, its own xtask)
//! runs in the Plan build only, whose role can create change sets (as the deploy role) and execute none.
//! What a person approves, and what runs, is decided by the xtask of a commit the pipeline pins
//! (`reviewer` in stages.toml), built from the same clone:
//! - **Plan** (`<prefix>-ci-plan`, the pushed commit): the README's test command, then `cargo xtask
//!   deploy --no-execute --summary-file plan.json`: code built and uploaded, change sets created.
//! - **Review** (`<prefix>-ci-review`, the pinned xtask, a read-only role): reads each change set the plan
//!   names, checks it belongs to this stage's stacks, and reviews its template against the deployed
//!   one (IAM rows, data loss; any change to the pipeline stack itself is risky). It exports whether a
//!   person must approve, the message they read, a link to the change set, and the SHA-256 of the
//!   reviewed list it writes.
//! - **Approve** (manual): entered only when the review says so (an entry condition on `RISKY` whose
//!   `SKIP` result passes the stage by), or always when the stage asks for it.
//! - **Apply** (`<prefix>-ci-apply`, the pinned xtask): executes exactly the reviewed change sets, by ARN,
//!   after checking the list against the digest CodePipeline carried from Review, each change set's
//!   template against the reviewed hash, and each stack against the state Review saw.
//!
//! CloudFormation makes every change as the deploy role (`<prefix>-ci-deploy`), whose actions are the
//! ones CloudFormation's handlers need for the types this project emits, scoped to this stage's names.

use std::collections::BTreeMap;

use contract::Function;

// The bootstrap stack's logging role carries AWS's managed policy; the deploy role may attach it alone.
use super::bootstrap::PUSH_TO_CLOUDWATCH;
use crate::config::{Approval, Stage};
use crate::model::iam::{PolicyDocument, Principal, Statement};
use crate::model::resources::{
    ArtifactName, ArtifactStore, BeforeEntry, BranchFilter, BuildEnvironment, BuildVariable, CloudWatchLogs,
    GitConfiguration, GitPush, InlinePolicy, LogGroup, Pipeline, PipelineAction, PipelineStage, Project,
    ProjectArtifacts, ProjectCache, ProjectLogs, ProjectSource, Role, StageCondition, StageRule, Trigger, TypeId,
    tag_list,
};
use crate::model::{Expr, Handle, Part, Pseudo, Template};
use crate::names::Names;

/// The README's test command: every check, run before anything is planned.
pub const TEST_COMMAND: &str = "cargo xtask test";

/// The Rust toolchain the builds install, pinned so that a commit builds the same way on every run.
pub const RUST_TOOLCHAIN: &str = "1.95.0";

/// The plan's summary file, in the plan build's output artifact.
pub const PLAN_FILE: &str = "plan.json";

/// The reviewed list of change sets, in the review build's output artifact.
pub const REVIEWED_FILE: &str = "reviewed.json";

/// The review build's exported variables, read by the Approve and Apply stages as `#{Review.<NAME>}`.
pub const REVIEW_VARIABLES: [&str; 4] = ["RISKY", "APPROVAL", "REVIEW_URL", "REVIEW_DIGEST"];

const REVIEW_NAMESPACE: &str = "Review";
/// Output artifacts; a build finds a secondary one in `$CODEBUILD_SRC_DIR_<name>`.
const SOURCE_ARTIFACT: &str = "Source";
const PLAN_ARTIFACT: &str = "Plan";
const REVIEWED_ARTIFACT: &str = "Reviewed";

/// Where the review and apply builds put the pinned commit's tree and build its xtask (under the
/// cached `target/`, so a run rebuilds only what changed since the last).
const REVIEWER_DIR: &str = "/tmp/reviewer";
const REVIEWER_TARGET: &str = "target/reviewer";

/// `cargo xtask deploy --no-execute ...` as the plan build runs it.
pub fn plan_command(stage: &str) -> String {
    format!(
        "cargo xtask deploy --stage {stage} --no-execute --summary-file {PLAN_FILE} --cfn-role \"$DEPLOY_ROLE_ARN\""
    )
}

/// The pinned commit's xtask, built from the clone: the commands every review and apply build runs first.
pub fn reviewer_commands() -> [String; 3] {
    [
        format!(
            "mkdir -p {REVIEWER_DIR} && git -C \"$CODEBUILD_SRC_DIR\" archive \"$REVIEWER_COMMIT\" | tar -x -C {REVIEWER_DIR}"
        ),
        format!(
            "cargo build --locked -p xtask --manifest-path {REVIEWER_DIR}/Cargo.toml --target-dir \"$CODEBUILD_SRC_DIR/{REVIEWER_TARGET}\""
        ),
        format!("cd {REVIEWER_DIR}"),
    ]
}

/// The pinned xtask's review of the plan, as the review build runs it.
pub fn review_command(project: &str, stage: &str) -> String {
    format!(
        "\"$CODEBUILD_SRC_DIR/{REVIEWER_TARGET}/debug/xtask\" pipeline review --project {project} --stage {stage} --plan \
         \"$CODEBUILD_SRC_DIR_{PLAN_ARTIFACT}/{PLAN_FILE}\" --out \"$CODEBUILD_SRC_DIR/{REVIEWED_FILE}\" > /tmp/review.env \
         && . /tmp/review.env"
    )
}

/// The pinned xtask's execution of the reviewed change sets, as the apply build runs it (`--protect`: the
/// data stack of a protected stage gets termination protection).
pub fn apply_command(project: &str, stage: &str, protect: bool) -> String {
    format!(
        "\"$CODEBUILD_SRC_DIR/{REVIEWER_TARGET}/debug/xtask\" pipeline apply --project {project} --stage {stage} --reviewed \
         \"$CODEBUILD_SRC_DIR_{REVIEWED_ARTIFACT}/{REVIEWED_FILE}\" --digest \"$REVIEW_DIGEST\"{}",
        if protect { " --protect" } else { "" }
    )
}

/// A buildspec: the pinned toolchain, the commands, the exported variables and output file, and what
/// the S3 cache keeps between runs (cargo's registry and git checkouts, the toolchain, and the target
/// directory with the test tools' virtualenv), so a run compiles what changed and not the world.
fn buildspec(commands: &[String], exported: &[&str], artifact: Option<&str>) -> String {
    let mut out = String::from("version: 0.2\nenv:\n  shell: bash\n  variables:\n");
    out.push_str("    CARGO_TERM_COLOR: never\n    CARGO_INCREMENTAL: '0'\n");
    if !exported.is_empty() {
        out.push_str("  exported-variables:\n");
        for v in exported {
            out.push_str(&format!("    - {v}\n"));
        }
    }
    out.push_str("phases:\n  install:\n    commands:\n");
    out.push_str(&format!(
        "      - curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal \
         --default-toolchain {RUST_TOOLCHAIN}\n"
    ));
    out.push_str("      - . \"$HOME/.cargo/env\"\n");
    out.push_str("  build:\n    commands:\n");
    for c in commands {
        out.push_str(&format!("      - {}\n", quote(c)));
    }
    if let Some(file) = artifact {
        out.push_str(&format!("artifacts:\n  files:\n    - {file}\n"));
    }
    out.push_str("cache:\n  paths:\n");
    for p in ["/root/.cargo/registry/**/*", "/root/.cargo/git/**/*", "/root/.rustup/**/*", "target/**/*"] {
        out.push_str(&format!("    - '{p}'\n"));
    }
    out
}

/// A buildspec command as a YAML scalar: single-quoted, so that `: `, `#` and `"` stay the command's.
fn quote(command: &str) -> String {
    format!("'{}'", command.replace('\'', "''"))
}

/// The plan build's buildspec: the pushed commit's code.
pub fn plan_buildspec(stage: &str) -> String {
    buildspec(&[TEST_COMMAND.to_owned(), plan_command(stage)], &[], Some(PLAN_FILE))
}

/// The review build's buildspec: the pinned xtask.
pub fn review_buildspec(project: &str, stage: &str) -> String {
    let mut commands = reviewer_commands().to_vec();
    commands.push(review_command(project, stage));
    buildspec(&commands, &REVIEW_VARIABLES, Some(REVIEWED_FILE))
}

/// The apply build's buildspec: the pinned xtask.
pub fn apply_buildspec(project: &str, stage: &str, protect: bool) -> String {
    let mut commands = reviewer_commands().to_vec();
    commands.push(apply_command(project, stage, protect));
    buildspec(&commands, &[], None)
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
/// the stage's `artifact_bucket`); the pipeline keeps its artifacts and cache there too.
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

fn cfn_stacks(project: &str, names: &Names) -> Vec<Expr> {
    [format!("stack/{}-*/*", names.prefix()), format!("stack/{project}-bootstrap/*")]
        .into_iter()
        .map(|s| Expr::arn("cloudformation", true, [s.into()]))
        .collect()
}

fn trust(service: &'static str, source_account: bool) -> PolicyDocument {
    let mut s = Statement::allow(&["sts:AssumeRole"], vec![]).principal(Principal::Service(service));
    if source_account {
        // Only on behalf of this account: the confused-deputy guard both services document.
        s = s.condition("StringEquals", "aws:SourceAccount", vec![Pseudo::AccountId.into()]);
    }
    PolicyDocument::new(vec![s])
}

/// A role named `<prefix>-ci-<what>` with one inline policy of `statements`.
struct RoleSpec {
    id: &'static str,
    what: &'static str,
    description: &'static str,
    trust: PolicyDocument,
    statements: Vec<Statement>,
}

fn role(t: &mut Template, names: &Names, stage: &Stage, spec: RoleSpec) -> Handle<Role> {
    let name = names.ci(spec.what);
    t.add(
        spec.id,
        Role {
            policies: vec![InlinePolicy {
                policy_name: name.clone(),
                policy_document: PolicyDocument::new(spec.statements),
            }],
            role_name: Some(name),
            description: format!("{}: {}", names.prefix(), spec.description),
            assume_role_policy_document: spec.trust,
            managed_policy_arns: Vec::new(),
            tags: tag_list(&stage.tags),
        },
    )
}

/// A CodeBuild project of the pipeline: `<prefix>-ci-<what>`.
struct ProjectSpec<'a> {
    id: &'static str,
    what: &'static str,
    role: &'a Handle<Role>,
    logs: &'a Handle<LogGroup>,
    buildspec: String,
    variables: Vec<BuildVariable>,
}

pub fn build(project: &str, names: &Names, stage: &Stage, functions: &[Function]) -> Option<Template> {
    let pipeline = stage.pipeline.as_ref()?;
    let mut t = Template::new(format!(
        "{}: delivery pipeline of stage {} from {}@{} (generated by cargo xtask synth)",
        names.prefix(),
        stage.name,
        pipeline.repository,
        pipeline.branch
    ));
    let bucket = artifact_bucket(project, stage);
    let artifacts = s3(&bucket, &format!("/{}/*", names.pipeline_artifacts()));
    let cache_prefix = format!("cache/{}", names.prefix());
    let cache = s3(&bucket, &format!("/{cache_prefix}/*"));
    let bucket_arn = s3(&bucket, "");
    let stacks = cfn_stacks(project, names);
    let change_sets = Expr::arn("cloudformation", true, ["changeSet/xtask-*/*".into()]);
    let stacks_and_change_sets = [stacks.clone(), vec![change_sets.clone()]].concat();
    let connection: Expr = pipeline.connection_arn.clone().into();

    // CloudFormation's role: every change to the stage's stacks is made as this role.
    let deploy = role(
        &mut t,
        names,
        stage,
        RoleSpec {
            id: "DeployRole",
            what: "deploy",
            description: "CloudFormation makes the stage's changes as this role",
            trust: trust("cloudformation.amazonaws.com", false),
            statements: deploy_statements(project, names, stage, functions, &bucket, &pipeline.connection_arn),
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
    let plan_logs = logs(&mut t, "PlanLogGroup", "plan");
    let review_logs = logs(&mut t, "ReviewLogGroup", "review");
    let apply_logs = logs(&mut t, "ApplyLogGroup", "apply");
    // What every build needs: its own log group, the pipeline's artifacts, the cache, the clone.
    let common = |group: &Handle<LogGroup>| {
        vec![
            Statement::allow(&["logs:CreateLogStream", "logs:PutLogEvents"], vec![group.arn()]).sid("WriteOwnLogs"),
            Statement::allow(&["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], vec![artifacts.clone()])
                .sid("PipelineArtifacts"),
            Statement::allow(&["s3:GetObject", "s3:PutObject"], vec![cache.clone()]).sid("BuildCache"),
            Statement::allow(&["s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketAcl"], vec![bucket_arn.clone()])
                .sid("FindBucket"),
            // The source is a full clone (the review and apply builds check out the pinned commit).
            Statement::allow(
                &["codeconnections:UseConnection", "codestar-connections:UseConnection"],
                vec![connection.clone()],
            )
            .sid("CloneRepository"),
        ]
    };
    let read_stacks = Statement::allow(
        &["cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents", "cloudformation:DescribeChangeSet"],
        stacks_and_change_sets.clone(),
    )
    .sid("ReadStageStacks");

    let mut plan_statements = common(&plan_logs);
    plan_statements.extend([
        read_stacks.clone(),
        // Only CreateChangeSet takes a role: the condition would refuse any action without one.
        Statement::allow(&["cloudformation:CreateChangeSet"], stacks_and_change_sets.clone())
            .sid("PlanAsDeployRole")
            .condition("StringEquals", "cloudformation:RoleArn", vec![deploy.arn()]),
        // The deployed template, for the IAM diff; an empty change set (nothing to do) is deleted.
        Statement::allow(
            &["cloudformation:GetTemplate", "cloudformation:DeleteChangeSet"],
            stacks_and_change_sets.clone(),
        )
        .sid("ReadTemplatesTidyChangeSets"),
        Statement::allow(&["iam:PassRole"], vec![deploy.arn()]).sid("PassDeployRole").condition(
            "StringEquals",
            "iam:PassedToService",
            vec!["cloudformation.amazonaws.com".into()],
        ),
        // This stage's code and templates only: another stage's are out of reach.
        Statement::allow(
            &["s3:GetObject", "s3:PutObject"],
            vec![
                s3(&bucket, &format!("/{project}/{}/*", stage.name)),
                s3(&bucket, &format!("/templates/{}-*", names.prefix())),
                s3(&bucket, &format!("/templates/{project}-bootstrap/*")),
            ],
        )
        .sid("UploadCodeAndTemplates"),
    ]);
    let plan_role = role(
        &mut t,
        names,
        stage,
        RoleSpec {
            id: "PlanRole",
            what: "plan",
            description: "runs the pushed commit: tests, builds, uploads, creates change sets, executes none",
            trust: trust("codebuild.amazonaws.com", true),
            statements: plan_statements,
        },
    );
    let mut review_statements = common(&review_logs);
    review_statements.extend([
        read_stacks.clone(),
        Statement::allow(&["cloudformation:GetTemplate"], stacks_and_change_sets.clone()).sid("ReadTemplates"),
    ]);
    let review_role = role(
        &mut t,
        names,
        stage,
        RoleSpec {
            id: "ReviewRole",
            what: "review",
            description: "runs the pinned xtask: reviews the planned change sets, changes nothing",
            trust: trust("codebuild.amazonaws.com", true),
            statements: review_statements,
        },
    );
    let mut apply_statements = common(&apply_logs);
    apply_statements.extend([
        read_stacks,
        Statement::allow(
            &[
                "cloudformation:GetTemplate",
                "cloudformation:ExecuteChangeSet",
                "cloudformation:UpdateTerminationProtection",
            ],
            stacks_and_change_sets,
        )
        .sid("ExecuteReviewedChangeSets"),
    ]);
    let apply_role = role(
        &mut t,
        names,
        stage,
        RoleSpec {
            id: "ApplyRole",
            what: "apply",
            description: "runs the pinned xtask: executes the reviewed change sets, and nothing else",
            trust: trust("codebuild.amazonaws.com", true),
            statements: apply_statements,
        },
    );

    let plain = |name: &'static str, value: Expr| BuildVariable { name, kind: "PLAINTEXT", value };
    let project_of = |t: &mut Template, spec: ProjectSpec<'_>| {
        let (kind, image) = build_image(stage.architecture);
        t.add(
            spec.id,
            Project {
                name: names.ci(spec.what),
                description: format!("{}: the pipeline's {} step", names.prefix(), spec.what),
                service_role: spec.role.arn(),
                source: ProjectSource { kind: "CODEPIPELINE", build_spec: spec.buildspec },
                artifacts: ProjectArtifacts { kind: "CODEPIPELINE" },
                environment: BuildEnvironment {
                    kind,
                    image,
                    compute_type: "BUILD_GENERAL1_LARGE",
                    image_pull_credentials_type: "CODEBUILD",
                    privileged_mode: false,
                    environment_variables: spec.variables,
                },
                cache: ProjectCache { kind: "S3", location: cache_location(&bucket, &cache_prefix) },
                logs_config: ProjectLogs {
                    cloud_watch_logs: CloudWatchLogs { status: "ENABLED", group_name: spec.logs.reference() },
                },
                timeout_in_minutes: 120,
                queued_timeout_in_minutes: 60,
                concurrent_build_limit: 1,
                tags: tag_list(&stage.tags),
            },
        )
    };
    let reviewer = || plain("REVIEWER_COMMIT", pipeline.reviewer.clone().into());
    let plan = project_of(
        &mut t,
        ProjectSpec {
            id: "PlanProject",
            what: "plan",
            role: &plan_role,
            logs: &plan_logs,
            buildspec: plan_buildspec(&stage.name),
            variables: vec![plain("DEPLOY_ROLE_ARN", deploy.arn())],
        },
    );
    let review = project_of(
        &mut t,
        ProjectSpec {
            id: "ReviewProject",
            what: "review",
            role: &review_role,
            logs: &review_logs,
            buildspec: review_buildspec(project, &stage.name),
            variables: vec![reviewer()],
        },
    );
    let apply = project_of(
        &mut t,
        ProjectSpec {
            id: "ApplyProject",
            what: "apply",
            role: &apply_role,
            logs: &apply_logs,
            buildspec: apply_buildspec(project, &stage.name, stage.protect),
            variables: vec![reviewer()],
        },
    );

    let pipeline_role = role(
        &mut t,
        names,
        stage,
        RoleSpec {
            id: "PipelineRole",
            what: "pipeline",
            description: "fetches the source and starts the plan, review and apply builds",
            trust: trust("codepipeline.amazonaws.com", true),
            statements: vec![
                Statement::allow(&["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], vec![artifacts])
                    .sid("PipelineArtifacts"),
                Statement::allow(&["s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketAcl"], vec![bucket_arn])
                    .sid("FindBucket"),
                Statement::allow(
                    &["codeconnections:UseConnection", "codestar-connections:UseConnection"],
                    vec![connection.clone()],
                )
                .sid("UseConnection"),
                Statement::allow(
                    &["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
                    vec![plan.arn(), review.arn(), apply.arn()],
                )
                .sid("RunBuilds"),
            ],
        },
    );

    let action_type = |category, owner, provider| TypeId { category, owner, provider, version: "1" };
    let artifact = |name| ArtifactName { name };
    let build_action = |name, project: &Handle<Project>, inputs: Vec<ArtifactName>, output: Option<&'static str>| {
        let mut configuration = BTreeMap::from([("ProjectName", project.reference())]);
        if inputs.len() > 1 {
            configuration.insert("PrimarySource", SOURCE_ARTIFACT.into());
        }
        PipelineAction {
            name,
            action_type_id: action_type("Build", "AWS", "CodeBuild"),
            configuration,
            input_artifacts: inputs,
            output_artifacts: output.map(artifact).into_iter().collect(),
            namespace: None,
            run_order: 1,
        }
    };
    let source = PipelineAction {
        name: "Source",
        action_type_id: action_type("Source", "AWS", "CodeStarSourceConnection"),
        configuration: BTreeMap::from([
            ("ConnectionArn", connection),
            ("FullRepositoryId", pipeline.repository.clone().into()),
            ("BranchName", pipeline.branch.clone().into()),
            // A full clone: the review and apply builds check out the pinned commit from it.
            ("OutputArtifactFormat", "CODEBUILD_CLONE_REF".into()),
        ]),
        input_artifacts: Vec::new(),
        output_artifacts: vec![artifact(SOURCE_ARTIFACT)],
        namespace: None,
        run_order: 1,
    };
    let plan_action = build_action("Plan", &plan, vec![artifact(SOURCE_ARTIFACT)], Some(PLAN_ARTIFACT));
    let review_action = PipelineAction {
        namespace: Some(REVIEW_NAMESPACE),
        ..build_action(
            "Review",
            &review,
            vec![artifact(SOURCE_ARTIFACT), artifact(PLAN_ARTIFACT)],
            Some(REVIEWED_ARTIFACT),
        )
    };
    let approve_action = PipelineAction {
        name: "Approve",
        action_type_id: action_type("Approval", "AWS", "Manual"),
        configuration: BTreeMap::from([
            ("CustomData", format!("#{{{REVIEW_NAMESPACE}.APPROVAL}}").into()),
            ("ExternalEntityLink", format!("#{{{REVIEW_NAMESPACE}.REVIEW_URL}}").into()),
        ]),
        input_artifacts: Vec::new(),
        output_artifacts: Vec::new(),
        namespace: None,
        run_order: 1,
    };
    let mut apply_action =
        build_action("Apply", &apply, vec![artifact(SOURCE_ARTIFACT), artifact(REVIEWED_ARTIFACT)], None);
    // The digest travels in CodePipeline's variables, out of reach of the builds that write artifacts.
    apply_action.configuration.insert(
        "EnvironmentVariables",
        format!(r##"[{{"name":"REVIEW_DIGEST","value":"#{{{REVIEW_NAMESPACE}.REVIEW_DIGEST}}","type":"PLAINTEXT"}}]"##)
            .into(),
    );
    let stages = vec![
        PipelineStage { name: "Source", actions: vec![source], before_entry: None },
        PipelineStage { name: "Plan", actions: vec![plan_action], before_entry: None },
        PipelineStage { name: "Review", actions: vec![review_action], before_entry: None },
        PipelineStage {
            name: "Approve",
            actions: vec![approve_action],
            before_entry: approval_condition(pipeline.approval),
        },
        PipelineStage { name: "Apply", actions: vec![apply_action], before_entry: None },
    ];
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
            artifact_store: ArtifactStore { kind: "S3", location: bucket.clone() },
            restart_execution_on_update: false,
            triggers: vec![Trigger {
                provider_type: "CodeStarSourceConnection",
                git_configuration: GitConfiguration {
                    source_action_name: "Source",
                    push: vec![GitPush { branches: BranchFilter { includes: vec![pipeline.branch.clone()] } }],
                },
            }],
            stages,
            tags: tag_list(&stage.tags),
        },
    );
    t.output("PipelineName", "The stage's delivery pipeline", pipe.reference());
    t.output("DeployRoleArn", "The role CloudFormation deploys the stage's stacks as", deploy.arn());
    Some(t)
}

/// `bucket/cache/<prefix>`, CodeBuild's form of an S3 cache location.
fn cache_location(bucket: &Expr, prefix: &str) -> Expr {
    match bucket {
        Expr::Str(b) => format!("{b}/{prefix}").into(),
        Expr::Sub(parts) => Expr::sub(parts.iter().cloned().chain([Part::from(format!("/{prefix}"))])),
        other => panic!("artifact bucket must be a name or an Fn::Sub, not {other:?}"),
    }
}

/// The Approve stage's entry condition: for `approval = "risky"`, entered only when the review says so
/// (the rule fails on `RISKY = false` and the `SKIP` result passes the stage by); for `"always"`, none.
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
                        ("Variable", format!("#{{{REVIEW_NAMESPACE}.RISKY}}").into()),
                        ("Value", "true".into()),
                        ("Operator", "EQ".into()),
                    ]),
                }],
            }],
        }),
    }
}

/// What CloudFormation needs to create, update and delete this stage's resources, as the deploy role:
/// the actions of CloudFormation's resource handlers for each type the stage's stacks emit
/// (`xtask/tests/schema.rs` checks them against the schemas), each on this stage's names.
fn deploy_statements(
    project: &str,
    names: &Names,
    stage: &Stage,
    functions: &[Function],
    bucket: &Expr,
    connection: &str,
) -> Vec<Statement> {
    let prefix = names.prefix();
    let arn = |service: &str, regional: bool, rest: String| Expr::arn(service, regional, [rest.into()]);
    let roles =
        vec![arn("iam", false, format!("role/{prefix}-*")), arn("iam", false, format!("role/{project}-bootstrap-*"))];
    let push_to_cloudwatch =
        Expr::sub([Part::from("arn:"), Pseudo::Partition.into(), format!(":{PUSH_TO_CLOUDWATCH}").into()]);
    let pass = |sid: &str, roles: Vec<Expr>, service: &'static str| {
        Statement::allow(&["iam:PassRole"], roles).sid(sid).condition(
            "StringEquals",
            "iam:PassedToService",
            vec![service.into()],
        )
    };
    let function_roles: Vec<Expr> =
        functions.iter().map(|f| arn("iam", false, format!("role/{}", names.role(f)))).collect();
    let apigateway = |path: &str| {
        Expr::sub([
            Part::from("arn:"),
            Pseudo::Partition.into(),
            ":apigateway:".into(),
            Pseudo::Region.into(),
            format!("::{path}").into(),
        ])
    };
    let mut statements = vec![
        Statement::allow(DEPLOY_ROLE_ACTIONS, roles.clone()).sid("StageRoles"),
        Statement::allow(&["iam:AttachRolePolicy", "iam:DetachRolePolicy"], roles)
            .sid("AttachOnlyApiGatewayLogging")
            .condition("ArnEquals", "iam:PolicyARN", vec![push_to_cloudwatch]),
        pass("PassFunctionRoles", function_roles, "lambda.amazonaws.com"),
        pass(
            "PassApiGatewayLoggingRole",
            vec![arn("iam", false, format!("role/{project}-bootstrap-*"))],
            "apigateway.amazonaws.com",
        ),
        pass(
            "PassBuildRoles",
            ["plan", "review", "apply"].iter().map(|w| arn("iam", false, format!("role/{}", names.ci(w)))).collect(),
            "codebuild.amazonaws.com",
        ),
        pass(
            "PassPipelineRole",
            vec![arn("iam", false, format!("role/{}", names.ci("pipeline")))],
            "codepipeline.amazonaws.com",
        ),
        Statement::allow(DEPLOY_LAMBDA_ACTIONS, vec![arn("lambda", true, format!("function:{prefix}-*"))])
            .sid("StageFunctions"),
        Statement::allow(
            &["s3:GetObject", "s3:GetObjectVersion"],
            vec![s3(bucket, &format!("/{project}/{}/*", stage.name))],
        )
        .sid("FunctionCode"),
        Statement::allow(
            DEPLOY_LOGS_ACTIONS,
            ["/aws/lambda/", "/aws/apigateway/", "/aws/codebuild/"]
                .iter()
                .map(|p| arn("logs", true, format!("log-group:{p}{prefix}-*")))
                .collect(),
        )
        .sid("StageLogGroups"),
        Statement::allow(&["logs:DescribeLogGroups"], vec![arn("logs", true, "log-group:*".into())])
            .sid("ListLogGroups"),
        Statement::allow(DEPLOY_DYNAMODB_ACTIONS, vec![arn("dynamodb", true, format!("table/{prefix}-*"))])
            .sid("StageTables"),
        // A key's ARN is made by KMS: CreateKey takes no resource, and the stage's keys are known by
        // their account and region only.
        Statement::allow(&["kms:CreateKey"], vec!["*".into()]).sid("CreateKeys"),
        Statement::allow(DEPLOY_KMS_ACTIONS, vec![arn("kms", true, "key/*".into())]).sid("ManageKeys"),
        Statement::allow(DEPLOY_SECRETS_ACTIONS, vec![arn("secretsmanager", true, format!("secret:{prefix}/*"))])
            .sid("StageSecrets"),
        // GenerateSecretString asks Secrets Manager for a random value; the action takes no resource.
        Statement::allow(&["secretsmanager:GetRandomPassword"], vec!["*".into()]).sid("GenerateSecrets"),
        Statement::allow(
            &["apigateway:GET", "apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE"],
            ["/restapis", "/restapis/*", "/account", "/domainnames", "/domainnames/*", "/tags/*"]
                .iter()
                .map(|p| apigateway(p))
                .collect(),
        )
        .sid("StageApi"),
        Statement::allow(&["apigateway:SetWebACL"], vec![apigateway("/restapis/*/stages/*")]).sid("ProtectStageApi"),
        Statement::allow(
            DEPLOY_WAF_ACTIONS,
            vec![
                arn("wafv2", true, format!("regional/webacl/{}/*", names.web_acl())),
                arn("wafv2", true, "regional/managedruleset/*/*".into()),
                apigateway("/restapis/*/stages/*"),
            ],
        )
        .sid("StageWebAcl"),
        Statement::allow(DEPLOY_CODEBUILD_ACTIONS, vec![arn("codebuild", true, format!("project/{prefix}-ci-*"))])
            .sid("PipelineProjects"),
        Statement::allow(DEPLOY_CODEPIPELINE_ACTIONS, vec![arn("codepipeline", true, names.pipeline())])
            .sid("Pipeline"),
        Statement::allow(
            &["codeconnections:PassConnection", "codestar-connections:PassConnection"],
            vec![connection.to_owned().into()],
        )
        .sid("PassConnection"),
    ];
    if stage.domain.as_ref().is_some_and(|d| d.certificate_arn.is_some()) {
        let certificate = stage.domain.as_ref().and_then(|d| d.certificate_arn.clone()).unwrap_or_default();
        statements
            .push(Statement::allow(&["acm:DescribeCertificate"], vec![certificate.into()]).sid("DomainCertificate"));
    }
    statements
}

pub const DEPLOY_ROLE_ACTIONS: &[&str] = &[
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:DeleteRolePolicy",
    "iam:GetRole",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListRolePolicies",
    "iam:PutRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
];

pub const DEPLOY_LAMBDA_ACTIONS: &[&str] = &[
    "lambda:AddPermission",
    "lambda:CreateFunction",
    "lambda:DeleteFunction",
    "lambda:DeleteFunctionConcurrency",
    "lambda:GetFunction",
    "lambda:GetFunctionCodeSigningConfig",
    "lambda:GetFunctionRecursionConfig",
    "lambda:GetPolicy",
    "lambda:GetRuntimeManagementConfig",
    "lambda:PutFunctionConcurrency",
    "lambda:PutFunctionRecursionConfig",
    "lambda:PutRuntimeManagementConfig",
    "lambda:RemovePermission",
    "lambda:TagResource",
    "lambda:UntagResource",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
];

pub const DEPLOY_LOGS_ACTIONS: &[&str] = &[
    "logs:CreateLogGroup",
    "logs:DeleteLogGroup",
    "logs:DeleteRetentionPolicy",
    "logs:ListTagsForResource",
    "logs:PutLogGroupDeletionProtection",
    "logs:PutRetentionPolicy",
    "logs:TagResource",
    "logs:UntagResource",
];

pub const DEPLOY_DYNAMODB_ACTIONS: &[&str] = &[
    "dynamodb:CreateTable",
    "dynamodb:DeleteTable",
    "dynamodb:DescribeContinuousBackups",
    "dynamodb:DescribeContributorInsights",
    "dynamodb:DescribeKinesisStreamingDestination",
    "dynamodb:DescribeTable",
    "dynamodb:DescribeTimeToLive",
    "dynamodb:GetResourcePolicy",
    "dynamodb:ListTagsOfResource",
    "dynamodb:TagResource",
    "dynamodb:UntagResource",
    "dynamodb:UpdateContinuousBackups",
    "dynamodb:UpdateContributorInsights",
    "dynamodb:UpdateTable",
    "dynamodb:UpdateTimeToLive",
];

pub const DEPLOY_KMS_ACTIONS: &[&str] = &[
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateKeyDescription",
];

pub const DEPLOY_SECRETS_ACTIONS: &[&str] = &[
    "secretsmanager:CreateSecret",
    "secretsmanager:DeleteResourcePolicy",
    "secretsmanager:DeleteSecret",
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetResourcePolicy",
    // CloudFormation's read handler asks for the value; the role can set it anyway (UpdateSecret).
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutResourcePolicy",
    "secretsmanager:TagResource",
    "secretsmanager:UntagResource",
    "secretsmanager:UpdateSecret",
];

pub const DEPLOY_WAF_ACTIONS: &[&str] = &[
    "wafv2:AssociateWebACL",
    "wafv2:CreateWebACL",
    "wafv2:DeleteWebACL",
    "wafv2:DisassociateWebACL",
    "wafv2:GetWebACL",
    "wafv2:GetWebACLForResource",
    "wafv2:ListTagsForResource",
    "wafv2:TagResource",
    "wafv2:UntagResource",
    "wafv2:UpdateWebACL",
];

pub const DEPLOY_CODEBUILD_ACTIONS: &[&str] =
    &["codebuild:BatchGetProjects", "codebuild:CreateProject", "codebuild:DeleteProject", "codebuild:UpdateProject"];

pub const DEPLOY_CODEPIPELINE_ACTIONS: &[&str] = &[
    "codepipeline:CreatePipeline",
    "codepipeline:DeletePipeline",
    "codepipeline:DisableStageTransition",
    "codepipeline:EnableStageTransition",
    "codepipeline:GetPipeline",
    "codepipeline:GetPipelineState",
    "codepipeline:ListTagsForResource",
    "codepipeline:StartPipelineExecution",
    "codepipeline:TagResource",
    "codepipeline:UntagResource",
    "codepipeline:UpdatePipeline",
];
