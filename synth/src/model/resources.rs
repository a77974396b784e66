//! The resource types this project emits, typed after the CloudFormation resource reference.
//!
//! Required properties are plain fields and optional ones are `Option`s, so a resource cannot be built
//! without what CloudFormation requires. Only the properties we use are modelled.

use std::collections::BTreeMap;

use serde::Serialize;

use super::iam::PolicyDocument;
use super::{Expr, Handle, HasArn};

/// Defines the `Resource` enum over the typed resource structs, with each one's type name.
macro_rules! resources {
    ($($variant:ident => $kind:literal),* $(,)?) => {
        /// The properties of one resource, by type.
        #[derive(Debug, Clone, Serialize)]
        #[serde(untagged)]
        pub enum Resource {
            $($variant($variant),)*
        }

        impl Resource {
            /// The CloudFormation type name, e.g. `AWS::IAM::Role`.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Resource::$variant(_) => $kind,)*
                }
            }
        }

        $(
            impl From<$variant> for Resource {
                fn from(r: $variant) -> Resource {
                    Resource::$variant(r)
                }
            }
        )*
    };
}

resources! {
    Table => "AWS::DynamoDB::Table",
    Key => "AWS::KMS::Key",
    Secret => "AWS::SecretsManager::Secret",
    EmailIdentity => "AWS::SES::EmailIdentity",
    SecretResourcePolicy => "AWS::SecretsManager::ResourcePolicy",
    Role => "AWS::IAM::Role",
    ManagedPolicy => "AWS::IAM::ManagedPolicy",
    LogGroup => "AWS::Logs::LogGroup",
    Function => "AWS::Lambda::Function",
    Permission => "AWS::Lambda::Permission",
    RestApi => "AWS::ApiGateway::RestApi",
    ApiResource => "AWS::ApiGateway::Resource",
    Method => "AWS::ApiGateway::Method",
    Authorizer => "AWS::ApiGateway::Authorizer",
    Deployment => "AWS::ApiGateway::Deployment",
    Stage => "AWS::ApiGateway::Stage",
    GatewayResponse => "AWS::ApiGateway::GatewayResponse",
    DomainName => "AWS::ApiGateway::DomainName",
    BasePathMapping => "AWS::ApiGateway::BasePathMapping",
    ApiGatewayAccount => "AWS::ApiGateway::Account",
    WebAcl => "AWS::WAFv2::WebACL",
    WebAclAssociation => "AWS::WAFv2::WebACLAssociation",
    Project => "AWS::CodeBuild::Project",
    Pipeline => "AWS::CodePipeline::Pipeline",
}

impl HasArn for Table {}
impl HasArn for Key {}
impl HasArn for Role {}
impl HasArn for LogGroup {}
impl HasArn for Function {}
impl HasArn for WebAcl {}
impl HasArn for Project {}

impl Handle<RestApi> {
    pub fn root_resource_id(&self) -> Expr {
        self.attr("RootResourceId")
    }
}

impl Handle<EmailIdentity> {
    /// The `(name, value)` of the three DKIM CNAME records that the identity's domain must publish before
    /// SES verifies it (Easy DKIM).
    pub fn dkim_records(&self) -> [(Expr, Expr); 3] {
        [
            (self.attr("DkimDNSTokenName1"), self.attr("DkimDNSTokenValue1")),
            (self.attr("DkimDNSTokenName2"), self.attr("DkimDNSTokenValue2")),
            (self.attr("DkimDNSTokenName3"), self.attr("DkimDNSTokenValue3")),
        ]
    }
}

impl Handle<DomainName> {
    pub fn regional_domain_name(&self) -> Expr {
        self.attr("RegionalDomainName")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// Tags as most resources take them: a list of key/value pairs, sorted by key.
pub fn tag_list(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag { key: k.clone(), value: v.clone() }).collect()
}

// ---- DynamoDB ------------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Table {
    pub table_name: String,
    pub attribute_definitions: Vec<AttributeDefinition>,
    pub key_schema: Vec<KeySchema>,
    pub billing_mode: &'static str,
    #[serde(rename = "SSESpecification")]
    pub sse_specification: SseSpecification,
    pub point_in_time_recovery_specification: PointInTimeRecovery,
    pub deletion_protection_enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_to_live_specification: Option<TimeToLive>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// DynamoDB deletes an item some time (typically within days) after the Unix time in this attribute.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimeToLive {
    pub attribute_name: &'static str,
    pub enabled: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDefinition {
    pub attribute_name: &'static str,
    pub attribute_type: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeySchema {
    pub attribute_name: &'static str,
    pub key_type: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct SseSpecification {
    #[serde(rename = "SSEEnabled")]
    pub sse_enabled: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PointInTimeRecovery {
    pub point_in_time_recovery_enabled: bool,
}

// ---- KMS -----------------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Key {
    pub description: String,
    pub enable_key_rotation: bool,
    pub key_spec: &'static str,
    pub key_usage: &'static str,
    pub key_policy: PolicyDocument,
    pub pending_window_in_days: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

// ---- Secrets Manager -----------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Secret {
    pub name: String,
    pub description: String,
    pub generate_secret_string: GenerateSecretString,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// `AWS::SecretsManager::ResourcePolicy`: who may use a secret, beyond what IAM policies say.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SecretResourcePolicy {
    pub secret_id: Expr,
    pub resource_policy: PolicyDocument,
    /// Refuse any policy that would make the secret public.
    pub block_public_policy: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateSecretString {
    pub password_length: u32,
    pub exclude_punctuation: bool,
}

// ---- SES -----------------------------------------------------------------------------------------

/// `AWS::SES::EmailIdentity`: a domain SES may send from once its DNS publishes the DKIM records. Its
/// `Ref` is the domain; it has no `Arn` attribute (the ARN is `...:ses:<region>:<account>:identity/<domain>`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EmailIdentity {
    pub email_identity: String,
    pub dkim_attributes: DkimAttributes,
    pub dkim_signing_attributes: DkimSigningAttributes,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DkimAttributes {
    pub signing_enabled: bool,
}

/// Easy DKIM's key length (SES makes and rotates the key); bring-your-own-DKIM is not modelled: its
/// private key would sit in the template.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DkimSigningAttributes {
    /// `RSA_2048_BIT` or `RSA_1024_BIT`.
    pub next_signing_key_length: &'static str,
}

// ---- IAM -----------------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Role {
    /// A fixed name, which IAM keeps account-wide; `None` lets CloudFormation generate a unique one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    pub description: String,
    pub assume_role_policy_document: PolicyDocument,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub managed_policy_arns: Vec<Expr>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<InlinePolicy>,
    /// The managed policy that caps what the role may do, whatever its own policies say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions_boundary: Option<Expr>,
    /// How long one session of the role lasts, in seconds (3600 to 43200; 3600 when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_session_duration: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// `AWS::IAM::ManagedPolicy`: here only a permissions boundary, attached to nothing (its `Ref` is its ARN).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManagedPolicy {
    pub managed_policy_name: String,
    pub description: String,
    pub policy_document: PolicyDocument,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InlinePolicy {
    pub policy_name: String,
    pub policy_document: PolicyDocument,
}

// ---- Logs ----------------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogGroup {
    pub log_group_name: String,
    pub retention_in_days: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

// ---- Lambda --------------------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Function {
    pub function_name: String,
    pub description: String,
    pub runtime: &'static str,
    pub handler: &'static str,
    pub architectures: Vec<&'static str>,
    pub memory_size: u32,
    pub timeout: u32,
    pub reserved_concurrent_executions: u32,
    pub role: Expr,
    pub code: Code,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    pub logging_config: LoggingConfig,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Code {
    pub s3_bucket: Expr,
    pub s3_key: Expr,
    /// The object version: the code that runs is the version that was reviewed, whatever is written to
    /// the key later.
    pub s3_object_version: Expr,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Environment {
    pub variables: BTreeMap<&'static str, Expr>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoggingConfig {
    pub log_format: &'static str,
    pub log_group: Expr,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Permission {
    pub action: &'static str,
    pub function_name: Expr,
    pub principal: &'static str,
    pub source_arn: Expr,
}

// ---- API Gateway (REST) --------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestApi {
    pub name: String,
    pub description: String,
    pub endpoint_configuration: EndpointConfiguration,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointConfiguration {
    pub types: Vec<&'static str>,
}

/// `AWS::ApiGateway::Resource`: one path segment.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiResource {
    pub parent_id: Expr,
    /// `orders` or `{id}`.
    pub path_part: String,
    pub rest_api_id: Expr,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Method {
    pub rest_api_id: Expr,
    pub resource_id: Expr,
    pub http_method: &'static str,
    pub authorization_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorizer_id: Option<Expr>,
    /// `method.request.path.<name>: true` for each path parameter: required, and mapped by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub request_parameters: BTreeMap<String, bool>,
    pub integration: Integration,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Integration {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub integration_http_method: &'static str,
    pub uri: Expr,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Authorizer {
    pub name: String,
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub rest_api_id: Expr,
    pub authorizer_uri: Expr,
    pub identity_source: String,
    pub authorizer_result_ttl_in_seconds: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Deployment {
    pub rest_api_id: Expr,
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Stage {
    pub stage_name: String,
    pub description: String,
    pub rest_api_id: Expr,
    pub deployment_id: Expr,
    pub access_log_setting: AccessLogSetting,
    pub method_settings: Vec<MethodSetting>,
    /// X-Ray traces that split a request's latency into authorizer, integration and function time.
    pub tracing_enabled: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessLogSetting {
    pub destination_arn: Expr,
    pub format: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MethodSetting {
    pub resource_path: &'static str,
    pub http_method: &'static str,
    pub metrics_enabled: bool,
    pub throttling_rate_limit: f64,
    pub throttling_burst_limit: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GatewayResponse {
    pub rest_api_id: Expr,
    pub response_type: &'static str,
    pub status_code: &'static str,
    pub response_parameters: BTreeMap<&'static str, &'static str>,
    pub response_templates: BTreeMap<&'static str, &'static str>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DomainName {
    pub domain_name: String,
    pub regional_certificate_arn: String,
    pub endpoint_configuration: EndpointConfiguration,
    pub security_policy: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// The region's API Gateway account settings: the role API Gateway writes logs with.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiGatewayAccount {
    pub cloud_watch_role_arn: Expr,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BasePathMapping {
    pub domain_name: Expr,
    pub rest_api_id: Expr,
    pub stage: Expr,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_path: Option<String>,
}

// ---- WAF -----------------------------------------------------------------------------------------

/// `{}`: the value of a property whose presence alone says something, such as `Allow: {}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Empty {}

/// `AWS::WAFv2::WebACL`: the rules AWS WAF applies to each request before API Gateway sees it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WebAcl {
    pub name: String,
    pub description: String,
    /// `REGIONAL` for API Gateway, ALB and the like; `CLOUDFRONT` for distributions.
    pub scope: &'static str,
    pub default_action: WafAction,
    pub rules: Vec<WafRule>,
    /// Bodies a rule's `CustomResponse` names by key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_response_bodies: BTreeMap<String, CustomResponseBody>,
    pub visibility_config: VisibilityConfig,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

/// A rule's (or the web ACL's default) action: `{"Allow": {}}` or `{"Block": {...}}`.
#[derive(Debug, Clone, Serialize)]
pub enum WafAction {
    Allow(Empty),
    Block(BlockAction),
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BlockAction {
    /// Without one, WAF answers 403 with its own body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_response: Option<CustomResponse>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResponse {
    pub response_code: u16,
    /// A key of the web ACL's `CustomResponseBodies`.
    pub custom_response_body_key: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResponseBody {
    /// `APPLICATION_JSON`, `TEXT_PLAIN` or `TEXT_HTML`.
    pub content_type: &'static str,
    pub content: String,
}

/// Whether WAF keeps CloudWatch metrics and a sample of matching requests, and under which name.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VisibilityConfig {
    pub sampled_requests_enabled: bool,
    pub cloud_watch_metrics_enabled: bool,
    pub metric_name: String,
}

/// One rule: a statement, and either an action (own statements) or an override (rule groups).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WafRule {
    pub name: String,
    pub priority: u32,
    pub statement: WafStatement,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<WafAction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub override_action: Option<OverrideAction>,
    pub visibility_config: VisibilityConfig,
}

/// What a rule group's own actions become; `None: {}` keeps them.
#[derive(Debug, Clone, Serialize)]
pub enum OverrideAction {
    #[serde(rename = "None")]
    KeepGroupActions(Empty),
}

/// A WAF statement: exactly one kind per object, as CloudFormation's union type has it.
#[derive(Debug, Clone, Serialize)]
pub enum WafStatement {
    #[serde(rename = "RateBasedStatement")]
    RateBased(Box<RateBasedStatement>),
    #[serde(rename = "ByteMatchStatement")]
    ByteMatch(ByteMatchStatement),
    #[serde(rename = "OrStatement")]
    Or(OrStatement),
    #[serde(rename = "ManagedRuleGroupStatement")]
    ManagedRuleGroup(ManagedRuleGroupStatement),
}

/// Counts requests per aggregation key over a window; the rule's action applies above `Limit`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RateBasedStatement {
    pub limit: u32,
    /// 60, 120, 300 or 600 seconds.
    pub evaluation_window_sec: u32,
    /// `IP`: the request's source address as WAF sees it, not a header the client can write.
    pub aggregate_key_type: &'static str,
    /// Only requests this statement matches are counted (and acted on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope_down_statement: Option<WafStatement>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ByteMatchStatement {
    pub search_string: String,
    pub field_to_match: FieldToMatch,
    pub text_transformations: Vec<TextTransformation>,
    /// `EXACTLY`, `STARTS_WITH`, `ENDS_WITH`, `CONTAINS` or `CONTAINS_WORD`.
    pub positional_constraint: &'static str,
}

/// The part of the request a match inspects; only the URI path is modelled.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FieldToMatch {
    pub uri_path: Empty,
}

/// Applied in `Priority` order to the inspected part before matching.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TextTransformation {
    pub priority: u32,
    #[serde(rename = "Type")]
    pub kind: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrStatement {
    /// At least two.
    pub statements: Vec<WafStatement>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManagedRuleGroupStatement {
    pub vendor_name: &'static str,
    pub name: &'static str,
}

/// `AWS::WAFv2::WebACLAssociation`: puts a web ACL in front of a resource, here an API stage.
#[derive(Debug, Clone, Serialize)]
pub struct WebAclAssociation {
    #[serde(rename = "ResourceArn")]
    pub resource_arn: Expr,
    #[serde(rename = "WebACLArn")]
    pub web_acl_arn: Expr,
}

// ---- CodeBuild -----------------------------------------------------------------------------------

/// `AWS::CodeBuild::Project`: a build that a pipeline action starts, its commands in `Source.BuildSpec`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Project {
    pub name: String,
    pub description: String,
    pub service_role: Expr,
    pub source: ProjectSource,
    pub artifacts: ProjectArtifacts,
    pub environment: BuildEnvironment,
    pub cache: ProjectCache,
    pub logs_config: ProjectLogs,
    pub timeout_in_minutes: u32,
    pub queued_timeout_in_minutes: u32,
    /// At most this many builds at once.
    pub concurrent_build_limit: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectSource {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub build_spec: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectArtifacts {
    #[serde(rename = "Type")]
    pub kind: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BuildEnvironment {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub image: &'static str,
    pub compute_type: &'static str,
    pub image_pull_credentials_type: &'static str,
    pub privileged_mode: bool,
    pub environment_variables: Vec<BuildVariable>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BuildVariable {
    pub name: &'static str,
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub value: Expr,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectCache {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    /// `bucket/prefix`; none for `NO_CACHE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Expr>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectLogs {
    pub cloud_watch_logs: CloudWatchLogs,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CloudWatchLogs {
    pub status: &'static str,
    pub group_name: Expr,
}

// ---- CodePipeline --------------------------------------------------------------------------------

/// `AWS::CodePipeline::Pipeline`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Pipeline {
    pub name: String,
    pub pipeline_type: &'static str,
    pub execution_mode: &'static str,
    pub role_arn: Expr,
    pub artifact_store: ArtifactStore,
    pub restart_execution_on_update: bool,
    pub triggers: Vec<Trigger>,
    pub stages: Vec<PipelineStage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArtifactStore {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub location: Expr,
}

/// Which pushes start the pipeline.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Trigger {
    pub provider_type: &'static str,
    pub git_configuration: GitConfiguration,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GitConfiguration {
    pub source_action_name: &'static str,
    pub push: Vec<GitPush>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GitPush {
    pub branches: BranchFilter,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BranchFilter {
    pub includes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PipelineStage {
    pub name: &'static str,
    pub actions: Vec<PipelineAction>,
    /// Checked before the stage starts; when a condition is not met, its result (skip or fail) engages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before_entry: Option<BeforeEntry>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BeforeEntry {
    pub conditions: Vec<StageCondition>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StageCondition {
    pub result: &'static str,
    pub rules: Vec<StageRule>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StageRule {
    pub name: &'static str,
    pub rule_type_id: TypeId,
    pub configuration: BTreeMap<&'static str, Expr>,
}

/// An action's or a rule's type: category, owner, provider, version.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TypeId {
    pub category: &'static str,
    pub owner: &'static str,
    pub provider: &'static str,
    pub version: &'static str,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PipelineAction {
    pub name: &'static str,
    pub action_type_id: TypeId,
    pub configuration: BTreeMap<&'static str, Expr>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub input_artifacts: Vec<ArtifactName>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub output_artifacts: Vec<ArtifactName>,
    /// Where the action's output variables are read: `#{<namespace>.NAME}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<&'static str>,
    pub run_order: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArtifactName {
    pub name: &'static str,
}
