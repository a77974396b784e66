//! The refresh Lambda function, `POST /refresh`: builds the AWS clients once, then serves requests.
// Like signin's, the handler's future nests deeper than the layout query's default limit.
#![recursion_limit = "256"]

use anyhow::Context as _;
use auth::config::RefreshConfig;
use auth::keys::secrets_manager::SecretsManagerSource;
use auth::refresh;
use auth::session::dynamo::DynamoSessions;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    auth::logging::init(env!("CARGO_CRATE_NAME"));
    let config = RefreshConfig::from_env().context("reading the refresh function's configuration")?;
    let aws = auth::config::load_aws().await;
    let deps = &refresh::Deps::new(
        DynamoSessions::new(aws_sdk_dynamodb::Client::new(&aws), config.sessions_table_name),
        SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(&aws), config.secret_arn),
        config.tokens,
        config.sessions,
    );
    auth::proxy::run(|req| refresh::handle(req, deps))
        .await
        .map_err(|e| anyhow::anyhow!(e).context("running the refresh function"))
}
