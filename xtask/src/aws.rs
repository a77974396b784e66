//! AWS clients for deploy, diff, status and destroy: the standard credential chain, `--profile`, the
//! stage's region, and an endpoint override for emulators.

use aws_config::{BehaviorVersion, Region};
use clap::Args;

use crate::BadInput;

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
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(Region::new(stage.region.clone()));
        if let Some(profile) = &args.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &args.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        // With an endpoint override (an emulator) S3 must be addressed by path, not by bucket subdomain.
        let custom_endpoint = args.endpoint_url.is_some() || std::env::var_os("AWS_ENDPOINT_URL").is_some();
        let s3_config = aws_sdk_s3::config::Builder::from(&config).force_path_style(custom_endpoint).build();
        Ok(Clients {
            cfn: aws_sdk_cloudformation::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            sts: aws_sdk_sts::Client::new(&config),
            region: stage.region.clone(),
            poll: std::time::Duration::from_millis(if custom_endpoint { 200 } else { 2000 }),
        })
    }
}

/// The message of an SDK error, with its code, for people (`{:#}` of the SDK's error is verbose).
pub fn describe<E>(
    err: &aws_sdk_cloudformation::error::SdkError<E, aws_sdk_cloudformation::config::http::HttpResponse>,
) -> String
where
    E: aws_sdk_cloudformation::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_cloudformation::error::SdkError;
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            match (e.code(), e.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_owned(),
                _ => {
                    // An answer the SDK could not parse (an emulator's crash page, a proxy): show it.
                    let raw = service.raw();
                    let body = raw.body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
                    let body: String =
                        body.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(300).collect();
                    format!("HTTP {} from the service: {body}", raw.status().as_u16())
                }
            }
        }
        SdkError::DispatchFailure(_) => {
            format!("could not reach AWS ({err:?}); check the network, region and endpoint")
        }
        SdkError::TimeoutError(_) => "the request to AWS timed out".to_owned(),
        other => format!("{other}"),
    }
}
