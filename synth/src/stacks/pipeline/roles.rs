//! The pipeline stack's roles and the stage's permissions boundary: what each build may do, what
//! CloudFormation may do as the deploy role, and the most any role the deploy role makes may do.
//!
//! The CI roles' sessions last an hour, the least IAM allows, so that credentials a pushed commit copies
//! out of Plan expire soon after. What they still allow is bound by the review: a change set or plan
//! made outside the run, or a zip written after it, is refused or never runs.

use contract::{Target, kms};

use super::{PLAN_ARTIFACT, Places, Projects, REVIEWED_ARTIFACT, SOURCE_ARTIFACT};
use crate::config::{MailIdentity, Provision, Stage};
use crate::model::iam::{PolicyDocument, Principal, Statement};
use crate::model::resources::{InlinePolicy, LogGroup, ManagedPolicy, Role, tag_list};
use crate::model::{Expr, Handle, Part, Pseudo, Template};
use crate::names::Names;

/// The shortest session IAM allows a role (seconds); CodeBuild renews its build's credentials itself.
pub const SHORTEST_SESSION_SECONDS: u32 = 3600;

pub(super) fn trust(service: &'static str, source_account: bool) -> PolicyDocument {
    let mut s = Statement::allow(&["sts:AssumeRole"], vec![]).principal(Principal::Service(service));
    if source_account {
        // Only on behalf of this account: the confused-deputy guard both services document.
        s = s.condition("StringEquals", "aws:SourceAccount", vec![Pseudo::AccountId.into()]);
    }
    PolicyDocument::new(vec![s])
}

/// A role named `<prefix>-ci-<what>` with one inline policy of `statements`.
pub(super) struct RoleSpec {
    pub id: &'static str,
    pub what: &'static str,
    pub description: &'static str,
    pub trust: PolicyDocument,
    pub statements: Vec<Statement>,
}

pub(super) fn role(t: &mut Template, names: &Names, stage: &Stage, spec: RoleSpec) -> Handle<Role> {
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
            permissions_boundary: None,
            max_session_duration: Some(SHORTEST_SESSION_SECONDS),
            tags: tag_list(&stage.tags),
        },
    )
}

fn arn(service: &str, regional: bool, rest: String) -> Expr {
    Expr::arn(service, regional, [rest.into()])
}

/// `stack/<name>/*` of each stack, and `changeSet/xtask-*/*`: what a statement on change sets names.
fn stacks_and_change_sets(stacks: &[String]) -> Vec<Expr> {
    stacks
        .iter()
        .map(|s| arn("cloudformation", true, format!("stack/{s}/*")))
        .chain([arn("cloudformation", true, "changeSet/xtask-*/*".into())])
        .collect()
}

/// The roles of the three builds.
pub(super) struct CiRoles {
    pub plan: Handle<Role>,
    pub review: Handle<Role>,
    pub apply: Handle<Role>,
}

/// What every build's statements name: the stacks it may read and the stacks a pipeline deploys.
struct Scope<'a> {
    names: &'a Names,
    places: &'a Places,
    /// The stage's stacks and the region's bootstrap stack (Plan checks it is current).
    readable: Vec<Expr>,
    /// The data and api stacks: the only ones planned and applied through the pipeline.
    deployable: Vec<Expr>,
}

impl Scope<'_> {
    /// What every build needs: its own log group, the bucket, the stacks it reads.
    fn common(&self, group: &Handle<LogGroup>) -> Vec<Statement> {
        vec![
            Statement::allow(&["logs:CreateLogStream", "logs:PutLogEvents"], vec![group.arn()]).sid("WriteOwnLogs"),
            Statement::allow(
                &["s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketAcl"],
                vec![self.places.bucket_arn.clone()],
            )
            .sid("FindBucket"),
            Statement::allow(
                &[
                    "cloudformation:DescribeStacks",
                    "cloudformation:DescribeStackEvents",
                    "cloudformation:DescribeChangeSet",
                ],
                self.readable.clone(),
            )
            .sid("ReadStageStacks"),
        ]
    }

    /// Reading the run's `input` artifact and, for a build with one, writing its own `output`.
    fn artifacts(&self, input: &str, output: Option<&str>) -> Vec<Statement> {
        let mut statements = vec![
            Statement::allow(&["s3:GetObject", "s3:GetObjectVersion"], vec![self.places.artifact(input)])
                .sid("ReadInputArtifact"),
        ];
        if let Some(output) = output {
            statements.push(
                Statement::allow(&["s3:PutObject"], vec![self.places.artifact(output)]).sid("WriteOutputArtifact"),
            );
        }
        statements
    }

    fn reviewer(&self) -> Statement {
        Statement::allow(&["s3:GetObject"], vec![self.places.reviewer.clone()]).sid("ReviewerBinary")
    }

    /// The pushed commit's build: tests, builds, uploads, change sets as the deploy role.
    fn plan(&self, logs: &Handle<LogGroup>, deploy: &Handle<Role>, connection: &str) -> Vec<Statement> {
        let mut statements = self.common(logs);
        statements.extend(self.artifacts(SOURCE_ARTIFACT, Some(PLAN_ARTIFACT)));
        statements.extend([
            // Plan's own cache: what it writes there only its own later runs restore.
            Statement::allow(&["s3:GetObject", "s3:PutObject"], vec![self.places.plan_cache.clone()]).sid("PlanCache"),
            // The source is a full clone, made by CodeBuild through the connection.
            Statement::allow(
                &["codeconnections:UseConnection", "codestar-connections:UseConnection"],
                vec![connection.to_owned().into()],
            )
            .sid("CloneRepository"),
            // Only CreateChangeSet takes a role: the condition would refuse any action without one.
            Statement::allow(&["cloudformation:CreateChangeSet"], self.deployable.clone())
                .sid("PlanAsDeployRole")
                .condition("StringEquals", "cloudformation:RoleArn", vec![deploy.arn()]),
            // A change set that imports brings an existing resource of the account under the stage's stacks.
            Statement::deny(&["cloudformation:CreateChangeSet"], self.deployable.clone()).sid("NoImports").condition(
                "Null",
                "cloudformation:ImportResourceTypes",
                vec!["false".into()],
            ),
            // The deployed templates, for the IAM diff; an empty change set (nothing to do) is deleted.
            Statement::allow(&["cloudformation:GetTemplate", "cloudformation:DeleteChangeSet"], self.readable.clone())
                .sid("ReadTemplatesTidyChangeSets"),
            Statement::allow(&["iam:PassRole"], vec![deploy.arn()]).sid("PassDeployRole").condition(
                "StringEquals",
                "iam:PassedToService",
                vec!["cloudformation.amazonaws.com".into()],
            ),
            // This stage's code and templates only: another stage's, and the reviewer, are out of reach.
            Statement::allow(
                &["s3:GetObject", "s3:PutObject"],
                vec![
                    self.places.code.clone(),
                    pipeline_s3(self.places, &format!("/templates/{}-*", self.names.prefix())),
                ],
            )
            .sid("UploadCodeAndTemplates"),
        ]);
        statements
    }

    /// The pinned binary reviewing: reads, and writes its own artifact.
    fn review(&self, logs: &Handle<LogGroup>) -> Vec<Statement> {
        let mut statements = self.common(logs);
        // Plan's artifact in, the reviewed list out.
        statements.extend(self.artifacts(PLAN_ARTIFACT, Some(REVIEWED_ARTIFACT)));
        statements.extend([
            self.reviewer(),
            Statement::allow(&["cloudformation:GetTemplate"], self.readable.clone()).sid("ReadTemplates"),
            // What Source and Plan exported, as CodePipeline recorded it, and the commit Plan built.
            Statement::allow(
                &["codepipeline:ListActionExecutions"],
                vec![arn("codepipeline", true, self.names.pipeline())],
            )
            .sid("ReadRunRecord"),
            Statement::allow(
                &["codebuild:BatchGetBuilds"],
                vec![arn("codebuild", true, format!("project/{}", self.names.ci("plan")))],
            )
            .sid("ReadPlanBuild"),
            // Each function's pinned code object, whose SHA-256 must be its key's.
            Statement::allow(&["s3:GetObject", "s3:GetObjectVersion"], vec![self.places.code.clone()]).sid("ReadCode"),
        ]);
        statements
    }

    /// The pinned binary applying: executes change sets of the data and api stacks, reads approvals.
    fn apply(&self, logs: &Handle<LogGroup>) -> Vec<Statement> {
        let mut statements = self.common(logs);
        statements.extend(self.artifacts(REVIEWED_ARTIFACT, None));
        statements.extend([
            self.reviewer(),
            Statement::allow(
                &[
                    "cloudformation:GetTemplate",
                    "cloudformation:ExecuteChangeSet",
                    "cloudformation:UpdateTerminationProtection",
                ],
                self.deployable.clone(),
            )
            .sid("ExecuteReviewedChangeSets"),
            // Whether a person approved this execution, when the reviewed list needs one.
            Statement::allow(
                &["codepipeline:ListActionExecutions"],
                vec![arn("codepipeline", true, self.names.pipeline())],
            )
            .sid("ReadApproval"),
        ]);
        statements
    }
}

impl CiRoles {
    pub fn add(
        t: &mut Template,
        names: &Names,
        stage: &Stage,
        places: &Places,
        deploy: &Handle<Role>,
        [plan_logs, review_logs, apply_logs]: [&Handle<LogGroup>; 3],
    ) -> CiRoles {
        let scope = Scope {
            names,
            places,
            readable: stacks_and_change_sets(&[format!("{}-*", names.prefix()), names.bootstrap_stack()]),
            deployable: stacks_and_change_sets(&[names.data_stack(), names.api_stack()]),
        };
        let connection = stage.pipeline.as_ref().map(|p| p.connection_arn.as_str()).unwrap_or_default();
        let mut build_role = |id, what, description, statements| {
            let trust = trust("codebuild.amazonaws.com", true);
            role(t, names, stage, RoleSpec { id, what, description, trust, statements })
        };
        CiRoles {
            plan: build_role(
                "PlanRole",
                "plan",
                "runs the pushed commit: tests, builds, uploads, creates change sets, executes none",
                scope.plan(plan_logs, deploy, connection),
            ),
            review: build_role(
                "ReviewRole",
                "review",
                "runs the pinned xtask: reviews the planned change sets, changes nothing",
                scope.review(review_logs),
            ),
            apply: build_role(
                "ApplyRole",
                "apply",
                "runs the pinned xtask: executes the reviewed change sets, and nothing else",
                scope.apply(apply_logs),
            ),
        }
    }
}

/// An object ARN in the artifact bucket.
fn pipeline_s3(places: &Places, key: &str) -> Expr {
    super::s3(&places.bucket, key)
}

/// CodePipeline's role: the source, the artifacts, and starting the three builds.
pub(super) fn pipeline_role(
    t: &mut Template,
    names: &Names,
    stage: &Stage,
    places: &Places,
    connection: &str,
    projects: &Projects,
) -> Handle<Role> {
    role(
        t,
        names,
        stage,
        RoleSpec {
            id: "PipelineRole",
            what: "pipeline",
            description: "fetches the source and starts the plan, review and apply builds",
            trust: trust("codepipeline.amazonaws.com", true),
            statements: vec![
                Statement::allow(
                    &["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
                    vec![places.artifacts.clone()],
                )
                .sid("PipelineArtifacts"),
                Statement::allow(
                    &["s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketAcl"],
                    vec![places.bucket_arn.clone()],
                )
                .sid("FindBucket"),
                Statement::allow(
                    &["codeconnections:UseConnection", "codestar-connections:UseConnection"],
                    vec![connection.to_owned().into()],
                )
                .sid("UseConnection"),
                Statement::allow(
                    &["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
                    vec![projects.plan.arn(), projects.review.arn(), projects.apply.arn()],
                )
                .sid("RunBuilds"),
            ],
        },
    )
}

/// The stage's permissions boundary: what the stage's functions may do at most, whatever their roles
/// say. Every action a declaration may grant (`contract::Target::actions`) on the stage's own
/// resources, and writing to the stage's function log groups. Adding a function, or a grant of a kind
/// the contract already knows, leaves it unchanged.
pub(super) fn boundary_statements(names: &Names, stage: &Stage) -> Vec<Statement> {
    let mut statements = vec![
        Statement::allow(
            &["logs:CreateLogStream", "logs:PutLogEvents"],
            vec![arn("logs", true, format!("log-group:/aws/lambda/{}-*:*", names.prefix()))],
        )
        .sid("FunctionLogs"),
    ];
    let provisioned = |p: &Provision, created: Expr| match p {
        Provision::Create => created,
        Provision::Import { arn, .. } => arn.clone().into(),
    };
    for target in Target::ALL {
        let resource = match target {
            Target::UsersTable => provisioned(&stage.table, arn("dynamodb", true, format!("table/{}", names.table()))),
            Target::AttemptsTable => arn("dynamodb", true, format!("table/{}", names.attempts_table())),
            Target::SessionsTable => arn("dynamodb", true, format!("table/{}", names.sessions_table())),
            Target::CodesTable => arn("dynamodb", true, format!("table/{}", names.codes_table())),
            Target::CodeSecret => arn("secretsmanager", true, format!("secret:{}-*", names.code_secret())),
            // A key's ARN is made by KMS; the key policy names the roles that may use it.
            Target::PasswordKey => provisioned(&stage.key, arn("kms", true, "key/*".into())),
            // Secrets Manager adds six random characters to the name.
            Target::SigningSecret => {
                provisioned(&stage.secret, arn("secretsmanager", true, format!("secret:{}-*", names.secret())))
            }
            // A stage that names no mail has no identity: none of its functions may send.
            Target::MailIdentity => match stage.mail.as_ref().map(|m| &m.identity) {
                None => continue,
                Some(MailIdentity::Domain(domain)) => arn("ses", true, format!("identity/{domain}")),
                Some(MailIdentity::Import { arn, .. }) => arn.clone().into(),
            },
        };
        let statement = Statement::allow(target.actions(), vec![resource]).sid(boundary_sid(target));
        statements.push(match target {
            Target::PasswordKey => statement.condition(
                "ForAnyValue:StringEquals",
                "kms:EncryptionContextKeys",
                vec![kms::CONTEXT_KEY.into()],
            ),
            Target::MailIdentity => statement.condition(
                "StringEquals",
                "ses:FromAddress",
                stage.mail.iter().map(|m| m.sender.as_str().into()).collect(),
            ),
            _ => statement,
        });
    }
    statements
}

fn boundary_sid(target: Target) -> String {
    target.key().split('-').map(|w| w[..1].to_uppercase() + &w[1..]).collect()
}

/// The deploy role's IAM: the stage's roles read and changed, made or given a policy only with the
/// stage's boundary on them, passed to Lambda only; and, whatever else a policy allows, never the
/// pipeline's own roles, the boundary policy, or a boundary's removal.
fn role_statements(prefix: &str, boundary: &Handle<ManagedPolicy>) -> Vec<Statement> {
    let stage_roles = vec![arn("iam", false, format!("role/{prefix}-*"))];
    let ci_roles = vec![arn("iam", false, format!("role/{prefix}-ci-*"))];
    let all_roles = vec![arn("iam", false, "role/*".into())];
    let ci_denied: Vec<&str> = DEPLOY_ROLE_WRITES
        .iter()
        .chain(ROLE_BOUNDARY_ACTIONS)
        .chain(&["iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:DeleteRolePermissionsBoundary", "iam:PassRole"])
        .copied()
        .collect();
    vec![
        Statement::allow(DEPLOY_ROLE_READS, stage_roles.clone()).sid("ReadStageRoles"),
        Statement::allow(DEPLOY_ROLE_WRITES, stage_roles.clone()).sid("ChangeStageRoles"),
        // A role is made, or given a policy, only with the stage's boundary on it.
        Statement::allow(ROLE_BOUNDARY_ACTIONS, stage_roles.clone()).sid("BoundedStageRoles").condition(
            "StringEquals",
            "iam:PermissionsBoundary",
            vec![boundary.reference()],
        ),
        Statement::allow(&["iam:PassRole"], stage_roles).sid("PassFunctionRoles").condition(
            "StringEquals",
            "iam:PassedToService",
            vec!["lambda.amazonaws.com".into()],
        ),
        // Whatever else allows: the pipeline's own roles, the boundary and boundaries on any role are
        // out of reach. Only a person deploying the pipeline stack changes them.
        Statement::deny(&ci_denied, ci_roles).sid("NeverCiRoles"),
        Statement::deny(&["iam:DeleteRolePermissionsBoundary"], all_roles.clone()).sid("NeverLiftABoundary"),
        Statement::deny(&["iam:PutRolePermissionsBoundary"], all_roles).sid("NoOtherBoundary").condition(
            "StringNotEquals",
            "iam:PermissionsBoundary",
            vec![boundary.reference()],
        ),
        Statement::deny(
            &["iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:DeletePolicyVersion", "iam:SetDefaultPolicyVersion"],
            vec![boundary.reference()],
        )
        .sid("NeverTheBoundary"),
    ]
}

/// What CloudFormation needs to create, update and delete the stage's data and api stacks, as the
/// deploy role: the actions of CloudFormation's resource handlers for each type those stacks emit
/// (`xtask/tests/schema.rs` checks them against the schemas), each on this stage's names. Roles only
/// with the stage's boundary; never a CI role, the boundary itself, or a boundary's removal.
pub(super) fn deploy_statements(
    project: &str,
    names: &Names,
    stage: &Stage,
    bucket: &Expr,
    boundary: &Handle<ManagedPolicy>,
) -> Vec<Statement> {
    let prefix = names.prefix();
    let apigateway = |path: &str| {
        Expr::sub([
            Part::from("arn:"),
            Pseudo::Partition.into(),
            ":apigateway:".into(),
            Pseudo::Region.into(),
            format!("::{path}").into(),
        ])
    };
    let mut statements = role_statements(prefix, boundary);
    statements.extend([
        Statement::allow(DEPLOY_LAMBDA_ACTIONS, vec![arn("lambda", true, format!("function:{prefix}-*"))])
            .sid("StageFunctions"),
        Statement::allow(DEPLOY_CODE_ACTIONS, vec![super::s3(bucket, &format!("/{project}/{}/*", stage.name))])
            .sid("FunctionCode"),
        Statement::allow(
            DEPLOY_LOGS_ACTIONS,
            ["/aws/lambda/", "/aws/apigateway/"]
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
        Statement::allow(&deploy_kms_actions(), vec![arn("kms", true, "key/*".into())]).sid("ManageKeys"),
        Statement::allow(DEPLOY_SECRETS_ACTIONS, vec![arn("secretsmanager", true, format!("secret:{prefix}/*"))])
            .sid("StageSecrets"),
        // GenerateSecretString asks Secrets Manager for a random value; the action takes no resource.
        Statement::allow(&["secretsmanager:GetRandomPassword"], vec!["*".into()]).sid("GenerateSecrets"),
        Statement::allow(
            &["apigateway:GET", "apigateway:POST", "apigateway:PUT", "apigateway:PATCH", "apigateway:DELETE"],
            ["/restapis", "/restapis/*", "/domainnames", "/domainnames/*", "/tags/*"]
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
    ]);
    if let Some(MailIdentity::Domain(domain)) = stage.mail.as_ref().map(|m| &m.identity) {
        statements.push(
            Statement::allow(DEPLOY_SES_ACTIONS, vec![arn("ses", true, format!("identity/{domain}"))])
                .sid("StageMailIdentity"),
        );
    }
    if let Some(certificate) = stage.domain.as_ref().and_then(|d| d.certificate_arn.clone()) {
        statements
            .push(Statement::allow(&["acm:DescribeCertificate"], vec![certificate.into()]).sid("DomainCertificate"));
    }
    statements
}

/// What the deploy role may read of the stage's roles.
pub const DEPLOY_ROLE_READS: &[&str] =
    &["iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies"];

/// What it may change of them without a condition (IAM offers no boundary key for these).
pub const DEPLOY_ROLE_WRITES: &[&str] = &[
    "iam:DeleteRole",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
];

/// What it may do to a role only when the role carries the stage's boundary (`iam:PermissionsBoundary`).
pub const ROLE_BOUNDARY_ACTIONS: &[&str] =
    &["iam:CreateRole", "iam:DeleteRolePolicy", "iam:PutRolePermissionsBoundary", "iam:PutRolePolicy"];

/// The function code CloudFormation hands Lambda, by object version.
pub const DEPLOY_CODE_ACTIONS: &[&str] = &["s3:GetObject", "s3:GetObjectVersion"];

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

/// What CloudFormation's `AWS::KMS::Key` handler never calls: aliases (another resource type), grants and
/// cancelling a deletion.
const NOT_DEPLOYS_KMS: &[&str] = &[
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:DeleteAlias",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:RevokeGrant",
    "kms:UpdateAlias",
];

/// What the deploy role may do to the stage's keys: the administration each key's policy delegates to the
/// account ([`crate::stacks::data::KEY_ADMIN_ACTIONS`]), less [`NOT_DEPLOYS_KMS`]. One list, so the role is
/// never granted what the key policy would refuse it.
pub fn deploy_kms_actions() -> Vec<&'static str> {
    crate::stacks::data::KEY_ADMIN_ACTIONS.iter().copied().filter(|a| !NOT_DEPLOYS_KMS.contains(a)).collect()
}

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

/// The stage's SES identity, as CloudFormation's `AWS::SES::EmailIdentity` handlers manage it.
pub const DEPLOY_SES_ACTIONS: &[&str] = &[
    "ses:CreateEmailIdentity",
    "ses:DeleteEmailIdentity",
    "ses:GetEmailIdentity",
    "ses:ListTagsForResource",
    "ses:PutEmailIdentityConfigurationSetAttributes",
    "ses:PutEmailIdentityDkimAttributes",
    "ses:PutEmailIdentityDkimSigningAttributes",
    "ses:PutEmailIdentityFeedbackAttributes",
    "ses:PutEmailIdentityMailFromAttributes",
    "ses:TagResource",
    "ses:UntagResource",
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
