//! The signin Lambda function, `POST /signin`: builds the AWS clients once, then serves requests.

use std::convert::Infallible;

use anyhow::Context as _;
use auth::config::SigninConfig;
use auth::keys::secrets_manager::SecretsManagerSource;
use auth::password::kms::KmsCipher;
use auth::signin;
use auth::store::dynamo::DynamoStore;
use aws_config::BehaviorVersion;
use lambda_http::{run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    lambda_http::tracing::init_default_subscriber();
    let config = SigninConfig::from_env().context("reading the signin function's configuration")?;
    let aws = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let deps = &signin::Deps::new(
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), config.table_name),
        KmsCipher::new(aws_sdk_kms::Client::new(&aws), config.key_arn),
        SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(&aws), config.secret_arn),
        config.tokens,
        config.token_lifetime_seconds,
    );
    run(service_fn(move |req| async move { Ok::<_, Infallible>(signin::handle(req, deps).await) }))
        .await
        .map_err(|e| anyhow::anyhow!(e).context("running the signin function"))
}
