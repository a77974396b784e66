//! The pipeline stack of a stage (`<project>-<stage>-pipeline`): a CodePipeline V2 pipeline that a push
//! to the stage's branch starts, two CodeBuild projects, and the roles they and CloudFormation act as.
//!
//! One stack per stage, in the stage's own account and region, as the stages themselves: a pipeline
//! deploys with roles of the account it deploys to, so no role trusts another account, and a stage in
//! its own account (prod, with `account`) keeps its pipeline there too.
//!
//! What a person approves is what runs:
//! - **Plan** (CodeBuild, `<prefix>-ci-plan`) runs the README's test command, then `cargo xtask deploy
//!   --no-execute --summary-file plan.json`: change sets are created, not executed, and the plan lists
//!   their ARNs, IAM rows, data-loss rows and template hashes. Its exported variables say whether the
//!   plan is risky and what an approver must read.
//! - **Approve** (manual) is entered only when the plan is risky (an entry condition on the plan's
//!   `RISKY` variable, whose `SKIP` result passes the stage by), or always when the stage asks for it.
//! - **Apply** (CodeBuild, `<prefix>-ci-apply`) runs `cargo xtask deploy --execute-plan plan.json`: the
//!   planned change sets by ARN, refused if any stack changed since the plan.
//!
//! CloudFormation makes every change as the deploy role (`<prefix>-ci-deploy`), whose actions are the
//! ones CloudFormation's handlers need for the types this project emits, scoped to this stage's names.
//! The build roles can only create (plan) or execute (apply) change sets of this stage's stacks, and pass
//! only the deploy role; the pipeline role can only start these two builds and use the connection. The
//! pipeline stack deploys itself through the same plan and gate when it changes.

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

/// The plan build's exported variables, read by the approval stage as `#{Plan.<NAME>}`.
pub const PLAN_VARIABLES: [&str; 3] = ["RISKY", "APPROVAL", "REVIEW_URL"];

/// The namespace of the plan action's variables.
const PLAN_NAMESPACE: &str = "Plan";

/// The plan action's output artifact; the apply build finds it in `$CODEBUILD_SRC_DIR_Plan`.
const PLAN_ARTIFACT: &str = "Plan";

const SOURCE_ARTIFACT: &str = "Source";

/// `cargo xtask deploy --no-execute ...` as the plan build runs it.
pub fn plan_command(stage: &str) -> String {
    format!(
        "cargo xtask deploy --stage {stage} --no-execute --summary-file {PLAN_FILE} --cfn-role \"$DEPLOY_ROLE_ARN\""
    )
}

/// `cargo xtask deploy --execute-plan ...` as the apply build runs it. The approve flags stand for the
/// Approve stage this build comes after: it ran for a risky plan, and a plan that is not risky needs
/// neither flag.
pub fn apply_command(stage: &str) -> String {
    format!(
        "cargo xtask deploy --stage {stage} --execute-plan \"$CODEBUILD_SRC_DIR_{PLAN_ARTIFACT}/{PLAN_FILE}\" --yes \
         --approve-iam --approve-data-loss"
    )
}

/// The plan build's commands after the plan: its variables, for the approval stage.
pub fn variables_command() -> String {
    format!("cargo xtask pipeline variables {PLAN_FILE} > plan.env && . ./plan.env")
}

/// The first part of both buildspecs: the pinned toolchain, and what the S3 cache keeps between runs
/// (cargo's registry and git checkouts, the toolchain, and the target directory with the test tools'
/// virtualenv), so a run compiles what changed and not the world.
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

/// The plan build's buildspec.
pub fn plan_buildspec(stage: &str) -> String {
    buildspec(&[TEST_COMMAND.to_owned(), plan_command(stage), variables_command()], &PLAN_VARIABLES, Some(PLAN_FILE))
}

/// The apply build's buildspec.
pub fn apply_buildspec(stage: &str) -> String {
    buildspec(&[apply_command(stage)], &[], None)
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

fn role(
    t: &mut Template,
    id: &str,
    name: String,
    description: String,
    trust: PolicyDocument,
    statements: Vec<Statement>,
    stage: &Stage,
) -> Handle<Role> {
    t.add(
        id,
        Role {
            policies: vec![InlinePolicy {
                policy_name: name.clone(),
                policy_document: PolicyDocument::new(statements),
            }],
            role_name: Some(name),
            description,
            assume_role_policy_document: trust,
            managed_policy_arns: Vec::new(),
            tags: tag_list(&stage.tags),
        },
    )
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
    let connection: Expr = pipeline.connection_arn.clone().into();

    // CloudFormation's role: every change to the stage's stacks is made as this role.
    let deploy = role(
        &mut t,
        "DeployRole",
        names.ci("deploy"),
        format!("{}: CloudFormation makes the stage's changes as this role", names.prefix()),
        trust("cloudformation.amazonaws.com", false),
        deploy_statements(project, names, stage, functions, &bucket, &pipeline.connection_arn),
        stage,
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
    let apply_logs = logs(&mut t, "ApplyLogGroup", "apply");
    let write_logs = |group: &Handle<LogGroup>| {
        Statement::allow(&["logs:CreateLogStream", "logs:PutLogEvents"], vec![group.arn()]).sid("WriteOwnLogs")
    };
    let read_stacks = Statement::allow(
        &["cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents", "cloudformation:DescribeChangeSet"],
        [stacks.clone(), vec![change_sets.clone()]].concat(),
    )
    .sid("ReadStageStacks");
    let cache_rw = Statement::allow(&["s3:GetObject", "s3:PutObject"], vec![cache.clone()]).sid("BuildCache");
    let list_bucket =
        Statement::allow(&["s3:ListBucket", "s3:GetBucketLocation"], vec![bucket_arn.clone()]).sid("FindBucket");

    let plan_role = role(
        &mut t,
        "PlanRole",
        names.ci("plan"),
        format!("{}: tests, builds, uploads and plans (creates change sets, runs none)", names.prefix()),
        trust("codebuild.amazonaws.com", true),
        vec![
            write_logs(&plan_logs),
            read_stacks.clone(),
            // Only CreateChangeSet takes a role: the condition would refuse any action without one.
            Statement::allow(&["cloudformation:CreateChangeSet"], [stacks.clone(), vec![change_sets.clone()]].concat())
                .sid("PlanAsDeployRole")
                .condition("StringEquals", "cloudformation:RoleArn", vec![deploy.arn()]),
            // The deployed template, for the IAM diff; an empty change set (nothing to do) is deleted.
            Statement::allow(
                &["cloudformation:GetTemplate", "cloudformation:DeleteChangeSet"],
                [stacks.clone(), vec![change_sets.clone()]].concat(),
            )
            .sid("ReadTemplatesTidyChangeSets"),
            Statement::allow(&["iam:PassRole"], vec![deploy.arn()]).sid("PassDeployRole").condition(
                "StringEquals",
                "iam:PassedToService",
                vec!["cloudformation.amazonaws.com".into()],
            ),
            Statement::allow(
                &["s3:GetObject", "s3:PutObject"],
                vec![
                    s3(&bucket, &format!("/{project}/*")),
                    s3(&bucket, &format!("/templates/{}-*", names.prefix())),
                    s3(&bucket, &format!("/templates/{project}-bootstrap/*")),
                ],
            )
            .sid("UploadCodeAndTemplates"),
            Statement::allow(&["s3:GetObject", "s3:PutObject"], vec![artifacts.clone()]).sid("PipelineArtifacts"),
            cache_rw.clone(),
            list_bucket.clone(),
        ],
        stage,
    );
    let apply_role = role(
        &mut t,
        "ApplyRole",
        names.ci("apply"),
        format!("{}: executes the planned change sets, and nothing else", names.prefix()),
        trust("codebuild.amazonaws.com", true),
        vec![
            write_logs(&apply_logs),
            read_stacks,
            Statement::allow(
                &["cloudformation:ExecuteChangeSet", "cloudformation:UpdateTerminationProtection"],
                [stacks.clone(), vec![change_sets.clone()]].concat(),
            )
            .sid("ExecutePlannedChangeSets"),
            Statement::allow(&["s3:GetObject"], vec![artifacts.clone()]).sid("PipelineArtifacts"),
            cache_rw,
            list_bucket.clone(),
        ],
        stage,
    );

    let project_of = |t: &mut Template,
                      id: &str,
                      what: &str,
                      role: &Handle<Role>,
                      logs: &Handle<LogGroup>,
                      spec: String,
                      deploy_role: Option<Expr>| {
        let (kind, image) = build_image(stage.architecture);
        let mut variables = vec![BuildVariable { name: "STAGE", kind: "PLAINTEXT", value: stage.name.clone().into() }];
        if let Some(arn) = deploy_role {
            variables.push(BuildVariable { name: "DEPLOY_ROLE_ARN", kind: "PLAINTEXT", value: arn });
        }
        t.add(
            id,
            Project {
                name: names.ci(what),
                description: format!("{}: the pipeline's {what} step", names.prefix()),
                service_role: role.arn(),
                source: ProjectSource { kind: "CODEPIPELINE", build_spec: spec },
                artifacts: ProjectArtifacts { kind: "CODEPIPELINE" },
                environment: BuildEnvironment {
                    kind,
                    image,
                    compute_type: "BUILD_GENERAL1_LARGE",
                    image_pull_credentials_type: "CODEBUILD",
                    privileged_mode: false,
                    environment_variables: variables,
                },
                cache: ProjectCache { kind: "S3", location: cache_location(&bucket, &cache_prefix) },
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
    let plan = project_of(
        &mut t,
        "PlanProject",
        "plan",
        &plan_role,
        &plan_logs,
        plan_buildspec(&stage.name),
        Some(deploy.arn()),
    );
    let apply =
        project_of(&mut t, "ApplyProject", "apply", &apply_role, &apply_logs, apply_buildspec(&stage.name), None);

    let pipeline_role = role(
        &mut t,
        "PipelineRole",
        names.ci("pipeline"),
        format!("{}: fetches the source and starts the plan and apply builds", names.prefix()),
        trust("codepipeline.amazonaws.com", true),
        vec![
            Statement::allow(&["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], vec![artifacts])
                .sid("PipelineArtifacts"),
            list_bucket,
            Statement::allow(
                &["codeconnections:UseConnection", "codestar-connections:UseConnection"],
                vec![connection.clone()],
            )
            .sid("UseConnection"),
            Statement::allow(&["codebuild:StartBuild", "codebuild:BatchGetBuilds"], vec![plan.arn(), apply.arn()])
                .sid("RunBuilds"),
        ],
        stage,
    );

    let action_type = |category, owner, provider| TypeId { category, owner, provider, version: "1" };
    let source = PipelineAction {
        name: "Source",
        action_type_id: action_type("Source", "AWS", "CodeStarSourceConnection"),
        configuration: BTreeMap::from([
            ("ConnectionArn", connection),
            ("FullRepositoryId", pipeline.repository.clone().into()),
            ("BranchName", pipeline.branch.clone().into()),
            ("OutputArtifactFormat", "CODE_ZIP".into()),
        ]),
        input_artifacts: Vec::new(),
        output_artifacts: vec![ArtifactName { name: SOURCE_ARTIFACT }],
        namespace: None,
        run_order: 1,
    };
    let plan_action = PipelineAction {
        name: "Plan",
        action_type_id: action_type("Build", "AWS", "CodeBuild"),
        configuration: BTreeMap::from([("ProjectName", plan.reference())]),
        input_artifacts: vec![ArtifactName { name: SOURCE_ARTIFACT }],
        output_artifacts: vec![ArtifactName { name: PLAN_ARTIFACT }],
        namespace: Some(PLAN_NAMESPACE),
        run_order: 1,
    };
    let approve_action = PipelineAction {
        name: "Approve",
        action_type_id: action_type("Approval", "AWS", "Manual"),
        configuration: BTreeMap::from([
            ("CustomData", format!("#{{{PLAN_NAMESPACE}.APPROVAL}}").into()),
            ("ExternalEntityLink", format!("#{{{PLAN_NAMESPACE}.REVIEW_URL}}").into()),
        ]),
        input_artifacts: Vec::new(),
        output_artifacts: Vec::new(),
        namespace: None,
        run_order: 1,
    };
    let apply_action = PipelineAction {
        name: "Apply",
        action_type_id: action_type("Build", "AWS", "CodeBuild"),
        configuration: BTreeMap::from([("ProjectName", apply.reference()), ("PrimarySource", SOURCE_ARTIFACT.into())]),
        input_artifacts: vec![ArtifactName { name: SOURCE_ARTIFACT }, ArtifactName { name: PLAN_ARTIFACT }],
        output_artifacts: Vec::new(),
        namespace: None,
        run_order: 1,
    };
    let stages = vec![
        PipelineStage { name: "Source", actions: vec![source], before_entry: None },
        PipelineStage { name: "Plan", actions: vec![plan_action], before_entry: None },
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
            // A newer push replaces an older run waiting for approval: only the latest plan is approved.
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

/// The Approve stage's entry condition: for `approval = "risky"`, entered only when the plan says so
/// (the rule fails on `RISKY = false` and the `SKIP` result passes the stage by); for `"always"`, none.
pub fn approval_condition(approval: Approval) -> Option<BeforeEntry> {
    match approval {
        Approval::Always => None,
        Approval::Risky => Some(BeforeEntry {
            conditions: vec![StageCondition {
                result: "SKIP",
                rules: vec![StageRule {
                    name: "PlanIsRisky",
                    rule_type_id: TypeId { category: "Rule", owner: "AWS", provider: "VariableCheck", version: "1" },
                    configuration: BTreeMap::from([
                        ("Variable", format!("#{{{PLAN_NAMESPACE}.RISKY}}").into()),
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
            ["plan", "apply"].iter().map(|w| arn("iam", false, format!("role/{}", names.ci(w)))).collect(),
            "codebuild.amazonaws.com",
        ),
        pass(
            "PassPipelineRole",
            vec![arn("iam", false, format!("role/{}", names.ci("pipeline")))],
            "codepipeline.amazonaws.com",
        ),
        Statement::allow(DEPLOY_LAMBDA_ACTIONS, vec![arn("lambda", true, format!("function:{prefix}-*"))])
            .sid("StageFunctions"),
        Statement::allow(&["s3:GetObject", "s3:GetObjectVersion"], vec![s3(bucket, &format!("/{project}/*"))])
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
