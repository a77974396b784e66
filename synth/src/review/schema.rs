//! Every property of every resource type the review accepts, classified, so that the review is
//! complete by construction: a type or a property outside this table is refused by name, never read
//! past.
//!
//! The lists are CloudFormation's resource schemas (the writable properties of each type, as cfn-lint
//! ships them); `xtask/tests/schema.rs` fails when a schema has a property this table does not
//! classify, or when synth emits a type it does not list, so a schema update or a new resource cannot
//! slip by. Each property is one of:
//! - [`Class::Reviewed`]: it grants or routes access (a policy, a role a function runs as, who may call a
//!   route); the review turns it into rows, or refuses a shape it cannot read (a policy given as a
//!   string, `Fn::If`, a parameter, a mapping, a dynamic reference);
//! - [`Class::Data`]: it decides whether stored data survives or stays ours. Deploy's data-loss gate
//!   judges the changes that lose or expose data in place (TTL, point-in-time recovery, deletion
//!   protection, a disabled key, a shortened retained log, a Kinesis stream, a policy to another
//!   account); the others (key schema, names, key spec, a secret's key) replace the resource when they
//!   change, which the change set reports and the gate refuses as a replacement;
//! - [`Class::Defence`]: it holds back an attacker without granting anything (a WAF rule or its
//!   association, stage throttling, the lockout and session settings in a function's environment, access
//!   and audit logging, key rotation). Deploy's third gate reads each as a setting with a direction
//!   (`super::defences`) and refuses a weakening without its own flag;
//! - [`Class::Inert`]: none of these (sizes, descriptions, tags, a deployment's id). An inert value is
//!   still refused when it is a dynamic reference or a function decided at deploy time.
//!
//! [`EFFECTS`] lists, for the types synth emits, what an update of a property does in CloudFormation's
//! handlers (replaces the resource, regenerates secret material, re-routes traffic, shortens a recovery
//! or retention window, or weakens a defence), and a test holds every class to it.

/// What a property is to the review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Reviewed,
    Data,
    Defence,
    Inert,
}

use Class::{Data, Defence, Inert, Reviewed};

/// What an update of a property does, beyond changing a setting in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// CloudFormation replaces the resource (the schema's create-only property): a stateful one loses
    /// its data.
    Replaces,
    /// The handler makes new secret or key material in place: what the old material protected is gone,
    /// and weaker generation makes it guessable.
    Regenerates,
    /// Traffic or trust goes somewhere else: another function, role, account or code.
    Reroutes,
    /// A recovery or retention window gets shorter, or the data stops being protected.
    Shortens,
    /// A defence gets weaker: a rule, a limit, throttling, a lockout or session setting, logging.
    Weakens,
}

/// `(type, property, effect)` for the types synth emits; checked against [`TABLE`] by
/// [`agrees`], and the create-only ones against CloudFormation's schemas in `xtask/tests/schema.rs`.
pub const EFFECTS: &[(&str, &str, Effect)] = &[
    ("AWS::ApiGateway::Authorizer", "AuthorizerResultTtlInSeconds", Effect::Weakens),
    ("AWS::ApiGateway::Authorizer", "AuthorizerUri", Effect::Reroutes),
    ("AWS::ApiGateway::Deployment", "DeploymentCanarySettings", Effect::Reroutes),
    ("AWS::ApiGateway::Deployment", "StageDescription", Effect::Reroutes),
    ("AWS::ApiGateway::Method", "Integration", Effect::Reroutes),
    ("AWS::ApiGateway::RestApi", "Body", Effect::Reroutes),
    ("AWS::ApiGateway::RestApi", "SecurityPolicy", Effect::Weakens),
    ("AWS::ApiGateway::Stage", "AccessLogSetting", Effect::Weakens),
    ("AWS::ApiGateway::Stage", "CacheClusterEnabled", Effect::Weakens),
    ("AWS::ApiGateway::Stage", "CanarySetting", Effect::Reroutes),
    ("AWS::ApiGateway::Stage", "MethodSettings", Effect::Weakens),
    ("AWS::ApiGateway::Stage", "StageName", Effect::Weakens),
    ("AWS::ApiGateway::Stage", "TracingEnabled", Effect::Weakens),
    ("AWS::ApiGateway::Stage", "Variables", Effect::Reroutes),
    ("AWS::CodeBuild::Project", "Cache", Effect::Reroutes),
    ("AWS::CodeBuild::Project", "EncryptionKey", Effect::Reroutes),
    ("AWS::CodeBuild::Project", "LogsConfig", Effect::Weakens),
    ("AWS::CodeBuild::Project", "Source", Effect::Reroutes),
    ("AWS::CodePipeline::Pipeline", "ArtifactStore", Effect::Reroutes),
    ("AWS::CodePipeline::Pipeline", "ExecutionMode", Effect::Reroutes),
    ("AWS::CodePipeline::Pipeline", "Stages", Effect::Reroutes),
    ("AWS::DynamoDB::Table", "DeletionProtectionEnabled", Effect::Shortens),
    ("AWS::DynamoDB::Table", "KeySchema", Effect::Replaces),
    ("AWS::DynamoDB::Table", "LocalSecondaryIndexes", Effect::Replaces),
    ("AWS::DynamoDB::Table", "PointInTimeRecoverySpecification", Effect::Shortens),
    ("AWS::DynamoDB::Table", "TableName", Effect::Replaces),
    ("AWS::DynamoDB::Table", "TimeToLiveSpecification", Effect::Shortens),
    ("AWS::KMS::Key", "EnableKeyRotation", Effect::Weakens),
    ("AWS::KMS::Key", "Enabled", Effect::Shortens),
    ("AWS::KMS::Key", "KeySpec", Effect::Regenerates),
    ("AWS::KMS::Key", "MultiRegion", Effect::Replaces),
    ("AWS::KMS::Key", "Origin", Effect::Regenerates),
    ("AWS::KMS::Key", "PendingWindowInDays", Effect::Shortens),
    ("AWS::KMS::Key", "RotationPeriodInDays", Effect::Weakens),
    ("AWS::Lambda::Function", "Environment", Effect::Weakens),
    ("AWS::Lambda::Function", "Layers", Effect::Reroutes),
    ("AWS::Lambda::Function", "LoggingConfig", Effect::Weakens),
    ("AWS::Lambda::Function", "Role", Effect::Reroutes),
    ("AWS::Logs::LogGroup", "LogGroupName", Effect::Replaces),
    ("AWS::Logs::LogGroup", "RetentionInDays", Effect::Shortens),
    ("AWS::SES::EmailIdentity", "ConfigurationSetAttributes", Effect::Reroutes),
    ("AWS::SES::EmailIdentity", "DkimAttributes", Effect::Weakens),
    ("AWS::SES::EmailIdentity", "DkimSigningAttributes", Effect::Weakens),
    ("AWS::SES::EmailIdentity", "EmailIdentity", Effect::Replaces),
    ("AWS::SES::EmailIdentity", "MailFromAttributes", Effect::Weakens),
    ("AWS::SecretsManager::Secret", "GenerateSecretString", Effect::Regenerates),
    ("AWS::SecretsManager::Secret", "Name", Effect::Replaces),
    ("AWS::SecretsManager::Secret", "SecretString", Effect::Regenerates),
    ("AWS::WAFv2::WebACL", "DefaultAction", Effect::Weakens),
    ("AWS::WAFv2::WebACL", "Name", Effect::Replaces),
    ("AWS::WAFv2::WebACL", "Rules", Effect::Weakens),
    ("AWS::WAFv2::WebACL", "Scope", Effect::Replaces),
    ("AWS::WAFv2::WebACL", "VisibilityConfig", Effect::Weakens),
    ("AWS::WAFv2::WebACLAssociation", "ResourceArn", Effect::Reroutes),
    ("AWS::WAFv2::WebACLAssociation", "WebACLArn", Effect::Reroutes),
];

/// The resource types whose replacement loses data (the data-loss gate refuses their replacement). An SES
/// identity holds no items, but its verification does: a new one has new DKIM tokens, and the stage sends
/// no mail until its domain's DNS publishes them.
pub const STATEFUL: [&str; 4] =
    ["AWS::DynamoDB::Table", "AWS::KMS::Key", "AWS::SES::EmailIdentity", "AWS::SecretsManager::Secret"];

/// Whether a property's class agrees with what its update does: re-routing is reviewed; regenerating
/// material and shortening recovery are data; weakening is a defence (or data, whose gate is stricter);
/// replacing a stateful resource is data (or reviewed). `None` when it agrees, else why not.
pub fn agrees(resource_type: &str, property: &str, effect: Effect) -> Option<String> {
    let class = class(resource_type, property)?;
    (!fits(class, resource_type, effect))
        .then(|| format!("{resource_type}.{property} {effect:?} but is classed {class:?}"))
}

/// Whether a property of `class` on `resource_type` may have `effect` (see [`agrees`]).
pub fn fits(class: Class, resource_type: &str, effect: Effect) -> bool {
    match effect {
        Effect::Reroutes => matches!(class, Reviewed | Defence),
        Effect::Regenerates | Effect::Shortens => matches!(class, Data | Reviewed),
        Effect::Weakens => matches!(class, Defence | Data | Reviewed),
        Effect::Replaces => !STATEFUL.contains(&resource_type) || matches!(class, Data | Reviewed),
    }
}

/// `(type, [(property, class)])`, sorted by type, then property.
pub const TABLE: &[(&str, &[(&str, Class)])] = &[
    ("AWS::ApiGateway::Account", &[("CloudWatchRoleArn", Reviewed)]),
    (
        "AWS::ApiGateway::Authorizer",
        &[
            ("AuthType", Inert),
            ("AuthorizerCredentials", Reviewed),
            ("AuthorizerResultTtlInSeconds", Reviewed),
            ("AuthorizerUri", Reviewed),
            ("IdentitySource", Reviewed),
            ("IdentityValidationExpression", Inert),
            ("Name", Inert),
            ("ProviderARNs", Reviewed),
            ("RestApiId", Reviewed),
            ("Type", Reviewed),
        ],
    ),
    (
        "AWS::ApiGateway::BasePathMapping",
        &[("BasePath", Inert), ("DomainName", Inert), ("RestApiId", Inert), ("Stage", Inert)],
    ),
    (
        "AWS::ApiGateway::Deployment",
        &[
            ("DeploymentCanarySettings", Reviewed),
            ("Description", Inert),
            ("RestApiId", Inert),
            ("StageDescription", Reviewed),
            ("StageName", Reviewed),
        ],
    ),
    (
        "AWS::ApiGateway::DomainName",
        &[
            ("CertificateArn", Inert),
            ("DomainName", Inert),
            ("EndpointAccessMode", Inert),
            ("EndpointConfiguration", Inert),
            ("MutualTlsAuthentication", Inert),
            ("OwnershipVerificationCertificateArn", Inert),
            ("RegionalCertificateArn", Inert),
            ("RoutingMode", Inert),
            ("SecurityPolicy", Inert),
            ("Tags", Inert),
        ],
    ),
    (
        "AWS::ApiGateway::GatewayResponse",
        &[
            ("ResponseParameters", Inert),
            ("ResponseTemplates", Inert),
            ("ResponseType", Inert),
            ("RestApiId", Inert),
            ("StatusCode", Inert),
        ],
    ),
    (
        "AWS::ApiGateway::Method",
        &[
            ("ApiKeyRequired", Reviewed),
            ("AuthorizationScopes", Reviewed),
            ("AuthorizationType", Reviewed),
            ("AuthorizerId", Reviewed),
            ("HttpMethod", Reviewed),
            ("Integration", Reviewed),
            ("MethodResponses", Inert),
            ("OperationName", Inert),
            ("RequestModels", Inert),
            ("RequestParameters", Inert),
            ("RequestValidatorId", Inert),
            ("ResourceId", Reviewed),
            ("RestApiId", Reviewed),
        ],
    ),
    ("AWS::ApiGateway::Resource", &[("ParentId", Reviewed), ("PathPart", Reviewed), ("RestApiId", Reviewed)]),
    (
        "AWS::ApiGateway::RestApi",
        &[
            ("ApiKeySourceType", Inert),
            ("BinaryMediaTypes", Inert),
            ("Body", Reviewed),
            ("BodyS3Location", Reviewed),
            ("CloneFrom", Reviewed),
            ("Description", Inert),
            ("DisableExecuteApiEndpoint", Reviewed),
            ("EndpointAccessMode", Reviewed),
            ("EndpointConfiguration", Reviewed),
            ("FailOnWarnings", Inert),
            ("MinimumCompressionSize", Inert),
            ("Mode", Inert),
            ("Name", Inert),
            ("Parameters", Reviewed),
            ("Policy", Reviewed),
            ("SecurityPolicy", Defence),
            ("Tags", Inert),
            ("Version", Inert),
        ],
    ),
    (
        "AWS::ApiGateway::Stage",
        &[
            ("AccessLogSetting", Defence),
            ("CacheClusterEnabled", Defence),
            ("CacheClusterSize", Defence),
            ("CanarySetting", Reviewed),
            ("ClientCertificateId", Inert),
            ("DeploymentId", Inert),
            ("Description", Inert),
            ("DocumentationVersion", Inert),
            ("MethodSettings", Defence),
            ("RestApiId", Inert),
            ("StageName", Defence),
            ("Tags", Inert),
            ("TracingEnabled", Defence),
            ("Variables", Reviewed),
        ],
    ),
    (
        "AWS::CodeBuild::Project",
        &[
            ("Artifacts", Reviewed),
            ("AutoRetryLimit", Inert),
            ("BadgeEnabled", Inert),
            ("BuildBatchConfig", Reviewed),
            ("Cache", Reviewed),
            ("ConcurrentBuildLimit", Inert),
            ("Description", Inert),
            ("EncryptionKey", Reviewed),
            ("Environment", Reviewed),
            ("FileSystemLocations", Reviewed),
            ("LogsConfig", Reviewed),
            ("Name", Inert),
            ("QueuedTimeoutInMinutes", Inert),
            ("ResourceAccessRole", Reviewed),
            ("SecondaryArtifacts", Reviewed),
            ("SecondarySourceVersions", Reviewed),
            ("SecondarySources", Reviewed),
            ("ServiceRole", Reviewed),
            ("Source", Reviewed),
            ("SourceVersion", Reviewed),
            ("Tags", Inert),
            ("TimeoutInMinutes", Inert),
            ("Triggers", Reviewed),
            ("Visibility", Reviewed),
            ("VpcConfig", Reviewed),
        ],
    ),
    (
        "AWS::CodePipeline::Pipeline",
        &[
            ("ArtifactStore", Reviewed),
            ("ArtifactStores", Reviewed),
            ("DisableInboundStageTransitions", Reviewed),
            ("ExecutionMode", Reviewed),
            ("Name", Inert),
            ("PipelineType", Reviewed),
            ("RestartExecutionOnUpdate", Reviewed),
            ("RoleArn", Reviewed),
            ("Stages", Reviewed),
            ("Tags", Inert),
            ("Triggers", Reviewed),
            ("Variables", Reviewed),
        ],
    ),
    (
        "AWS::DynamoDB::Table",
        &[
            ("AttributeDefinitions", Data),
            ("BillingMode", Inert),
            ("ContributorInsightsSpecification", Inert),
            ("DeletionProtectionEnabled", Data),
            ("GlobalSecondaryIndexes", Data),
            ("ImportSourceSpecification", Data),
            ("KeySchema", Data),
            ("KinesisStreamSpecification", Data),
            ("LocalSecondaryIndexes", Data),
            ("OnDemandThroughput", Inert),
            ("PointInTimeRecoverySpecification", Data),
            ("ProvisionedThroughput", Inert),
            ("ResourcePolicy", Reviewed),
            ("SSESpecification", Data),
            ("StreamSpecification", Reviewed),
            ("TableClass", Inert),
            ("TableName", Data),
            ("Tags", Inert),
            ("TimeToLiveSpecification", Data),
            ("VectorIndexes", Inert),
            ("WarmThroughput", Inert),
        ],
    ),
    (
        "AWS::IAM::ManagedPolicy",
        &[
            ("Description", Inert),
            ("Groups", Reviewed),
            ("ManagedPolicyName", Reviewed),
            ("Path", Reviewed),
            ("PolicyDocument", Reviewed),
            ("Roles", Reviewed),
            ("Users", Reviewed),
        ],
    ),
    (
        "AWS::IAM::Policy",
        &[
            ("Groups", Reviewed),
            ("PolicyDocument", Reviewed),
            ("PolicyName", Reviewed),
            ("Roles", Reviewed),
            ("Users", Reviewed),
        ],
    ),
    (
        "AWS::IAM::Role",
        &[
            ("AssumeRolePolicyDocument", Reviewed),
            ("Description", Inert),
            ("ManagedPolicyArns", Reviewed),
            ("MaxSessionDuration", Inert),
            ("Path", Reviewed),
            ("PermissionsBoundary", Reviewed),
            ("Policies", Reviewed),
            ("RoleName", Reviewed),
            ("Tags", Inert),
        ],
    ),
    ("AWS::IAM::RolePolicy", &[("PolicyDocument", Reviewed), ("PolicyName", Reviewed), ("RoleName", Reviewed)]),
    (
        "AWS::KMS::Key",
        &[
            ("BypassPolicyLockoutSafetyCheck", Reviewed),
            ("Description", Inert),
            ("EnableKeyRotation", Defence),
            ("Enabled", Data),
            ("KeyPolicy", Reviewed),
            ("KeySpec", Data),
            ("KeyUsage", Data),
            ("MultiRegion", Data),
            ("Origin", Data),
            ("PendingWindowInDays", Data),
            ("RotationPeriodInDays", Defence),
            ("Tags", Inert),
        ],
    ),
    (
        "AWS::Lambda::Function",
        &[
            ("Architectures", Inert),
            ("CapacityProviderConfig", Inert),
            ("Code", Inert),
            ("CodeSigningConfigArn", Inert),
            ("DeadLetterConfig", Inert),
            ("Description", Inert),
            ("DurableConfig", Inert),
            ("Environment", Defence),
            ("EphemeralStorage", Inert),
            ("FileSystemConfigs", Inert),
            ("FunctionName", Inert),
            ("FunctionScalingConfig", Inert),
            ("Handler", Inert),
            ("ImageConfig", Inert),
            ("KmsKeyArn", Inert),
            ("Layers", Reviewed),
            ("LoggingConfig", Defence),
            ("MemorySize", Inert),
            ("PackageType", Inert),
            ("PublishToLatestPublished", Inert),
            ("RecursiveLoop", Inert),
            ("ReservedConcurrentExecutions", Inert),
            ("Role", Reviewed),
            ("Runtime", Inert),
            ("RuntimeManagementConfig", Inert),
            ("SnapStart", Inert),
            ("Tags", Inert),
            ("TenancyConfig", Inert),
            ("Timeout", Inert),
            ("TracingConfig", Inert),
            ("VpcConfig", Inert),
        ],
    ),
    (
        "AWS::Lambda::Permission",
        &[
            ("Action", Reviewed),
            ("EventSourceToken", Reviewed),
            ("FunctionName", Reviewed),
            ("FunctionUrlAuthType", Reviewed),
            ("InvokedViaFunctionUrl", Reviewed),
            ("Principal", Reviewed),
            ("PrincipalOrgID", Reviewed),
            ("SourceAccount", Reviewed),
            ("SourceArn", Reviewed),
        ],
    ),
    (
        "AWS::Logs::LogGroup",
        &[
            ("BearerTokenAuthenticationEnabled", Reviewed),
            ("DataProtectionPolicy", Inert),
            ("DeletionProtectionEnabled", Data),
            ("FieldIndexPolicies", Inert),
            ("KmsKeyId", Inert),
            ("LogGroupClass", Inert),
            ("LogGroupName", Data),
            ("ResourcePolicyDocument", Reviewed),
            ("RetentionInDays", Data),
            ("Tags", Inert),
        ],
    ),
    // An identity lets whoever is granted `ses:SendEmail` on it send as its domain; the grants are the
    // roles' policies, reviewed there. Of its own properties, a configuration set sends every mail's
    // events (recipients among them) to destinations the review does not see, and is refused; DKIM
    // signing, its key and the MAIL FROM domain are what let recipients tell our mail from a forgery
    // (defences); feedback forwarding only mails bounces and complaints to the sender's address.
    (
        "AWS::SES::EmailIdentity",
        &[
            ("ConfigurationSetAttributes", Reviewed),
            ("DkimAttributes", Defence),
            ("DkimSigningAttributes", Defence),
            ("EmailIdentity", Data),
            ("FeedbackAttributes", Inert),
            ("MailFromAttributes", Defence),
            ("Tags", Inert),
        ],
    ),
    (
        "AWS::SecretsManager::ResourcePolicy",
        &[("BlockPublicPolicy", Reviewed), ("ResourcePolicy", Reviewed), ("SecretId", Reviewed)],
    ),
    (
        "AWS::SecretsManager::Secret",
        &[
            ("Description", Inert),
            ("GenerateSecretString", Data),
            ("KmsKeyId", Data),
            ("Name", Data),
            ("ReplicaRegions", Reviewed),
            ("SecretString", Reviewed),
            ("Tags", Inert),
            ("Type", Inert),
        ],
    ),
    (
        "AWS::WAFv2::WebACL",
        &[
            ("ApplicationConfig", Inert),
            ("AssociationConfig", Defence),
            ("CaptchaConfig", Defence),
            ("ChallengeConfig", Defence),
            ("CustomResponseBodies", Inert),
            ("DataProtectionConfig", Inert),
            ("DefaultAction", Defence),
            ("Description", Inert),
            ("MonetizationConfig", Inert),
            ("Name", Inert),
            ("OnSourceDDoSProtectionConfig", Defence),
            ("Rules", Defence),
            ("Scope", Defence),
            ("Tags", Inert),
            ("TokenDomains", Inert),
            ("VisibilityConfig", Defence),
        ],
    ),
    ("AWS::WAFv2::WebACLAssociation", &[("ResourceArn", Defence), ("WebACLArn", Defence)]),
];

/// The class of `property` of `resource_type`; `None` for a type or a property outside the table.
pub fn class(resource_type: &str, property: &str) -> Option<Class> {
    let (_, properties) = TABLE.iter().find(|(t, _)| *t == resource_type)?;
    properties.iter().find(|(p, _)| *p == property).map(|(_, c)| *c)
}

/// Whether the review accepts `resource_type` at all.
pub fn knows(resource_type: &str) -> bool {
    TABLE.iter().any(|(t, _)| *t == resource_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_has_no_duplicates() {
        assert!(TABLE.windows(2).all(|w| w[0].0 < w[1].0));
        for (t, properties) in TABLE {
            assert!(properties.windows(2).all(|w| w[0].0 < w[1].0), "{t}");
        }
        assert_eq!(class("AWS::IAM::Role", "Policies"), Some(Reviewed));
        assert_eq!(class("AWS::DynamoDB::Table", "TimeToLiveSpecification"), Some(Data));
        assert_eq!(class("AWS::Logs::LogGroup", "Tags"), Some(Inert));
        assert_eq!(class("AWS::IAM::User", "Groups"), None);
    }

    #[test]
    fn every_class_agrees_with_what_an_update_of_the_property_does() {
        assert!(EFFECTS.windows(2).all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)), "EFFECTS is sorted");
        let wrong: Vec<String> = EFFECTS
            .iter()
            .filter_map(|(t, p, e)| {
                assert!(class(t, p).is_some(), "{t}.{p} is in EFFECTS but not in TABLE");
                agrees(t, p, *e)
            })
            .collect();
        assert!(wrong.is_empty(), "{wrong:#?}");
        // What the outside review found classed inert, each held to its effect.
        assert!(agrees("AWS::SecretsManager::Secret", "GenerateSecretString", Effect::Regenerates).is_none());
        assert_eq!(class("AWS::ApiGateway::Stage", "Variables"), Some(Reviewed));
        assert_eq!(class("AWS::WAFv2::WebACLAssociation", "WebACLArn"), Some(Defence));
        // The check bites: each class the outside review found is refused for its effect.
        assert!(!fits(Inert, "AWS::SecretsManager::Secret", Effect::Regenerates));
        assert!(!fits(Inert, "AWS::ApiGateway::Stage", Effect::Reroutes));
        assert!(!fits(Inert, "AWS::WAFv2::WebACL", Effect::Weakens));
        assert!(!fits(Defence, "AWS::DynamoDB::Table", Effect::Shortens));
        assert!(!fits(Inert, "AWS::DynamoDB::Table", Effect::Replaces));
    }
}
