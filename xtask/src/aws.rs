//! AWS clients for deploy, diff, status and destroy: the standard credential chain, `--profile`, the
//! stage's region, and an endpoint override for emulators.

use aws_config::{BehaviorVersion, ConfigLoader, Region};
use aws_sdk_cloudformation::config::http::HttpResponse;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};
use clap::Args;

use crate::BadInput;

/// The standard credential chain in `region`, with [`https_client`]; every command's SDK configuration
/// starts here (the workspace turns off the SDKs' default client, so one built elsewhere cannot call out).
pub fn loader(region: &str) -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_owned())).http_client(https_client())
}

/// The SDKs' HTTPS client: rustls on ring, where the SDKs' default would bring aws-lc-rs as a second
/// crypto library (the handlers build theirs the same way, in `auth::config::https_client`).
pub fn https_client() -> aws_sdk_cloudformation::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// Where and as whom to call AWS.
#[derive(Debug, Clone, Default, Args)]
pub struct AwsArgs {
    /// Named profile from ~/.aws/config (otherwise the standard chain: environment, SSO, instance role...)
    #[arg(long)]
    pub profile: Option<String>,
    /// Region; must match the stage's region in stages.toml, which is the default
    #[arg(long)]
    pub region: Option<String>,
    /// Send every AWS call to this endpoint (an emulator such as moto); AWS_ENDPOINT_URL works too
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
}

/// The stage a command acts on, and how to reach its AWS account.
#[derive(Debug, Clone, Args)]
pub struct StageArgs {
    /// The stage, as named in stages.toml
    #[arg(long, short)]
    pub stage: String,
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// The clients one command needs, built once.
#[derive(Debug, Clone)]
pub struct Clients {
    pub cfn: aws_sdk_cloudformation::Client,
    pub s3: aws_sdk_s3::Client,
    pub sts: aws_sdk_sts::Client,
    pub connections: aws_sdk_codeconnections::Client,
    pub codepipeline: aws_sdk_codepipeline::Client,
    pub codebuild: aws_sdk_codebuild::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub region: String,
    /// How often to ask CloudFormation about progress: an emulator answers at once, AWS takes seconds.
    pub poll: std::time::Duration,
}

/// The async runtime of a command: one thread, as the calls are sequential.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context as _;
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")
}

impl Clients {
    pub async fn new(args: &AwsArgs, stage: &synth::Stage) -> anyhow::Result<Clients> {
        if let Some(region) = &args.region
            && region != &stage.region
        {
            return Err(BadInput(format!(
                "--region {region} does not match stage {}'s region {} in stages.toml; drop --region or change the stage",
                stage.name, stage.region
            ))
            .into());
        }
        Clients::for_region(args, &stage.region).await
    }

    /// The account the credentials belong to, as STS says.
    pub async fn account(&self) -> anyhow::Result<String> {
        use anyhow::Context as _;
        let identity =
            self.sts.get_caller_identity().send().await.aws().context("asking STS who the credentials belong to")?;
        Ok(identity.account.unwrap_or_default())
    }

    /// Clients of `region`, for a command that knows its region but no stage (a pipeline's reviewer).
    pub async fn for_region(args: &AwsArgs, region: &str) -> anyhow::Result<Clients> {
        let mut loader = loader(region);
        if let Some(profile) = &args.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &args.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        Ok(Clients::from_config(&config, region))
    }

    /// Clients of an SDK configuration already loaded (an emulator's, with its own credentials).
    pub fn from_config(config: &aws_config::SdkConfig, region: &str) -> Clients {
        // With an endpoint override (an emulator) S3 must be addressed by path, not by bucket subdomain.
        let custom_endpoint = config.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL").is_some();
        let s3_config = aws_sdk_s3::config::Builder::from(config).force_path_style(custom_endpoint).build();
        let config = config.clone();
        Clients {
            cfn: aws_sdk_cloudformation::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            sts: aws_sdk_sts::Client::new(&config),
            connections: aws_sdk_codeconnections::Client::new(&config),
            codepipeline: aws_sdk_codepipeline::Client::new(&config),
            codebuild: aws_sdk_codebuild::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            region: region.to_owned(),
            poll: std::time::Duration::from_millis(if custom_endpoint { 200 } else { 2000 }),
        }
    }
}

/// Why an AWS call failed, told apart so that each cause gets its own sentence and exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// No credentials anywhere in the chain (environment, profile, SSO, instance role).
    NoCredentials,
    /// Credentials that were good once: an expired session or SSO token.
    ExpiredCredentials,
    /// Credentials AWS does not recognize (a wrong key id or secret).
    InvalidCredentials,
    /// The credentials are fine but lack the permission.
    AccessDenied,
    /// Too many requests: transient.
    Throttled,
    /// The endpoint could not be reached (DNS, connection refused, TLS).
    Network,
    Timeout,
    /// The service answered with an error of its own.
    Service,
}

impl Cause {
    /// Bad input (exit 2) is what the user must fix before running again; the rest may pass on retry.
    pub fn is_users_to_fix(self) -> bool {
        matches!(
            self,
            Cause::NoCredentials | Cause::ExpiredCredentials | Cause::InvalidCredentials | Cause::AccessDenied
        )
    }
}

/// How the request failed before or after reaching the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The service answered (with an error code, perhaps).
    Answered,
    /// The credential chain gave nothing to sign with.
    NoCredentials,
    /// Connection or I/O failure.
    Unreachable,
    TimedOut,
}

/// The cause of a failure, from the error code the service sent and how the request went.
pub fn cause_of(code: Option<&str>, transport: Transport) -> Cause {
    match transport {
        Transport::NoCredentials => return Cause::NoCredentials,
        Transport::Unreachable => return Cause::Network,
        Transport::TimedOut => return Cause::Timeout,
        Transport::Answered => {}
    }
    match code.unwrap_or_default() {
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" | "TokenRefreshRequired" => {
            Cause::ExpiredCredentials
        }
        "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "SignatureDoesNotMatch"
        | "InvalidAccessKeyId"
        | "IncompleteSignature" => Cause::InvalidCredentials,
        "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation" | "AuthorizationError" => {
            Cause::AccessDenied
        }
        "Throttling"
        | "ThrottlingException"
        | "TooManyRequestsException"
        | "RequestLimitExceeded"
        | "SlowDown"
        | "RequestThrottled"
        | "ProvisionedThroughputExceededException" => Cause::Throttled,
        _ => Cause::Service,
    }
}

/// The sentence a person reads for a failure: what happened and what to do.
pub fn sentence(cause: Cause, code: Option<&str>, message: &str) -> String {
    let detail = match (code, message) {
        (Some(code), "") => code.to_owned(),
        (Some(code), message) => format!("{code}: {message}"),
        (None, message) => message.to_owned(),
    };
    match cause {
        Cause::NoCredentials => {
            "no AWS credentials found: pass --profile or set AWS_PROFILE (or run `aws sso login`)".to_owned()
        }
        Cause::ExpiredCredentials => format!(
            "the AWS credentials have expired ({detail}); refresh them (`aws sso login`, or new temporary keys) and \
             run again"
        ),
        Cause::InvalidCredentials => format!(
            "AWS does not recognize these credentials ({detail}); check AWS_ACCESS_KEY_ID and the secret, or pass \
             --profile"
        ),
        Cause::AccessDenied => format!(
            "AWS denied the request ({detail}); the credentials lack this permission: use --profile for a role that \
             has it"
        ),
        Cause::Throttled => format!("AWS is throttling these requests ({detail}); wait a minute and run again"),
        Cause::Network => format!(
            "could not reach AWS ({detail}); check the network, the region and --endpoint-url / AWS_ENDPOINT_URL"
        ),
        Cause::Timeout => format!("the request to AWS timed out ({detail}); check the network and run again"),
        Cause::Service => detail,
    }
}

/// A failed AWS call, classified. It keeps its code, so callers can tell "does not exist" apart.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{text}")]
pub struct AwsError {
    pub cause: Cause,
    pub code: Option<String>,
    pub message: String,
    text: String,
}

impl AwsError {
    /// CloudFormation's answer for a stack that is not there (ValidationError "... does not exist").
    pub fn is_missing_stack(&self) -> bool {
        self.cause == Cause::Service && self.message.contains("does not exist")
    }

    /// S3's answer for a key or bucket that is not there.
    pub fn is_not_found(&self) -> bool {
        matches!(self.code.as_deref(), Some("NotFound" | "NoSuchKey" | "NoSuchBucket" | "404"))
    }
}

/// Turns an SDK error of any service into an [`AwsError`].
pub fn classify<E>(err: SdkError<E, HttpResponse>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (transport, code, message) = match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let raw = service.raw();
            let code = e.code().map(str::to_owned).or_else(|| {
                // A HEAD request has no body to carry a code: its status is all there is.
                match raw.status().as_u16() {
                    404 => Some("NotFound".to_owned()),
                    403 => Some("Forbidden".to_owned()),
                    _ => None,
                }
            });
            let message = match (e.message(), &code) {
                (Some(m), _) => m.to_owned(),
                (None, Some(_)) => String::new(),
                (None, None) => {
                    // An answer the SDK could not parse (an emulator's crash page, a proxy): show it.
                    let body = raw.body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
                    let body: String =
                        body.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(300).collect();
                    format!("HTTP {} from the service: {body}", raw.status().as_u16())
                }
            };
            (Transport::Answered, code, message)
        }
        SdkError::DispatchFailure(failure) => {
            let transport = if chain_has_missing_credentials(&err) {
                Transport::NoCredentials
            } else if failure.is_timeout() {
                Transport::TimedOut
            } else {
                Transport::Unreachable
            };
            (transport, None, innermost(&err))
        }
        SdkError::TimeoutError(_) => (Transport::TimedOut, None, innermost(&err)),
        _ => {
            let transport =
                if chain_has_missing_credentials(&err) { Transport::NoCredentials } else { Transport::Answered };
            (transport, None, innermost(&err))
        }
    };
    let cause = cause_of(code.as_deref(), transport);
    let text = sentence(cause, code.as_deref(), &message);
    AwsError { cause, code, message, text }
}

fn chain_has_missing_credentials(err: &(dyn std::error::Error + 'static)) -> bool {
    use aws_credential_types::provider::error::CredentialsError;
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(CredentialsError::CredentialsNotLoaded(_)) = e.downcast_ref::<CredentialsError>() {
            return true;
        }
        next = e.source();
    }
    false
}

/// The last message of an error's source chain: the one that says what actually went wrong.
fn innermost(err: &(dyn std::error::Error + 'static)) -> String {
    let mut last = err.to_string();
    let mut next = err.source();
    while let Some(e) = next {
        last = e.to_string();
        next = e.source();
    }
    last
}

/// `.aws()` on the result of an SDK call: its error, classified.
pub trait AwsResultExt<T> {
    fn aws(self) -> Result<T, AwsError>;
}

impl<T, E> AwsResultExt<T> for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    fn aws(self) -> Result<T, AwsError> {
        self.map_err(classify)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cause_has_its_own_sentence_and_exit() {
        let no_creds = cause_of(None, Transport::NoCredentials);
        assert_eq!(
            sentence(no_creds, None, "ignored"),
            "no AWS credentials found: pass --profile or set AWS_PROFILE (or run `aws sso login`)"
        );
        assert!(no_creds.is_users_to_fix());
        let expired = cause_of(Some("ExpiredToken"), Transport::Answered);
        assert_eq!(expired, Cause::ExpiredCredentials);
        assert!(
            sentence(expired, Some("ExpiredToken"), "The security token included in the request is expired")
                .starts_with("the AWS credentials have expired (ExpiredToken: The security token")
        );
        assert_eq!(cause_of(Some("InvalidClientTokenId"), Transport::Answered), Cause::InvalidCredentials);
        let denied = cause_of(Some("AccessDenied"), Transport::Answered);
        assert_eq!(denied, Cause::AccessDenied);
        assert!(
            sentence(denied, Some("AccessDenied"), "not authorized to perform: cloudformation:CreateChangeSet")
                .contains("cloudformation:CreateChangeSet); the credentials lack this permission")
        );
        let throttled = cause_of(Some("Throttling"), Transport::Answered);
        assert_eq!(throttled, Cause::Throttled);
        assert!(!throttled.is_users_to_fix());
        assert!(sentence(throttled, Some("Throttling"), "Rate exceeded").contains("wait a minute"));
        let down = cause_of(None, Transport::Unreachable);
        assert_eq!(down, Cause::Network);
        assert!(sentence(down, None, "connection refused").starts_with("could not reach AWS (connection refused)"));
        assert!(!down.is_users_to_fix());
        assert_eq!(cause_of(None, Transport::TimedOut), Cause::Timeout);
        assert_eq!(cause_of(Some("ValidationError"), Transport::Answered), Cause::Service);
        assert_eq!(
            sentence(Cause::Service, Some("ValidationError"), "Stack x does not exist"),
            "ValidationError: Stack x does not exist"
        );
    }
}
