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
//! - [`Class::Inert`]: neither (sizes, names of logs, descriptions, tags, WAF rules).

/// What a property is to the review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Reviewed,
    Data,
    Inert,
}

use Class::{Data, Inert, Reviewed};

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
            ("DeploymentCanarySettings", Inert),
            ("Description", Inert),
            ("RestApiId", Inert),
            ("StageDescription", Inert),
            ("StageName", Inert),
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
            ("SecurityPolicy", Inert),
            ("Tags", Inert),
            ("Version", Inert),
        ],
    ),
    (
        "AWS::ApiGateway::Stage",
        &[
            ("AccessLogSetting", Inert),
            ("CacheClusterEnabled", Inert),
            ("CacheClusterSize", Inert),
            ("CanarySetting", Reviewed),
            ("ClientCertificateId", Inert),
            ("DeploymentId", Inert),
            ("Description", Inert),
            ("DocumentationVersion", Inert),
            ("MethodSettings", Inert),
            ("RestApiId", Inert),
            ("StageName", Inert),
            ("Tags", Inert),
            ("TracingEnabled", Inert),
            ("Variables", Inert),
        ],
    ),
    (
        "AWS::CodeBuild::Project",
        &[
            ("Artifacts", Inert),
            ("AutoRetryLimit", Inert),
            ("BadgeEnabled", Inert),
            ("BuildBatchConfig", Reviewed),
            ("Cache", Inert),
            ("ConcurrentBuildLimit", Inert),
            ("Description", Inert),
            ("EncryptionKey", Inert),
            ("Environment", Reviewed),
            ("FileSystemLocations", Reviewed),
            ("LogsConfig", Inert),
            ("Name", Inert),
            ("QueuedTimeoutInMinutes", Inert),
            ("ResourceAccessRole", Reviewed),
            ("SecondaryArtifacts", Reviewed),
            ("SecondarySourceVersions", Inert),
            ("SecondarySources", Reviewed),
            ("ServiceRole", Reviewed),
            ("Source", Reviewed),
            ("SourceVersion", Inert),
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
            ("ArtifactStore", Inert),
            ("ArtifactStores", Reviewed),
            ("DisableInboundStageTransitions", Inert),
            ("ExecutionMode", Inert),
            ("Name", Inert),
            ("PipelineType", Inert),
            ("RestartExecutionOnUpdate", Inert),
            ("RoleArn", Reviewed),
            ("Stages", Reviewed),
            ("Tags", Inert),
            ("Triggers", Reviewed),
            ("Variables", Inert),
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
            ("EnableKeyRotation", Inert),
            ("Enabled", Data),
            ("KeyPolicy", Reviewed),
            ("KeySpec", Data),
            ("KeyUsage", Data),
            ("MultiRegion", Data),
            ("Origin", Data),
            ("PendingWindowInDays", Data),
            ("RotationPeriodInDays", Inert),
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
            ("Environment", Inert),
            ("EphemeralStorage", Inert),
            ("FileSystemConfigs", Inert),
            ("FunctionName", Inert),
            ("FunctionScalingConfig", Inert),
            ("Handler", Inert),
            ("ImageConfig", Inert),
            ("KmsKeyArn", Inert),
            ("Layers", Reviewed),
            ("LoggingConfig", Inert),
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
    (
        "AWS::SecretsManager::ResourcePolicy",
        &[("BlockPublicPolicy", Reviewed), ("ResourcePolicy", Reviewed), ("SecretId", Reviewed)],
    ),
    (
        "AWS::SecretsManager::Secret",
        &[
            ("Description", Inert),
            ("GenerateSecretString", Inert),
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
            ("AssociationConfig", Inert),
            ("CaptchaConfig", Inert),
            ("ChallengeConfig", Inert),
            ("CustomResponseBodies", Inert),
            ("DataProtectionConfig", Inert),
            ("DefaultAction", Inert),
            ("Description", Inert),
            ("MonetizationConfig", Inert),
            ("Name", Inert),
            ("OnSourceDDoSProtectionConfig", Inert),
            ("Rules", Inert),
            ("Scope", Inert),
            ("Tags", Inert),
            ("TokenDomains", Inert),
            ("VisibilityConfig", Inert),
        ],
    ),
    ("AWS::WAFv2::WebACLAssociation", &[("ResourceArn", Inert), ("WebACLArn", Inert)]),
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
}
