//! The signin Lambda function, `POST /signin`: builds the AWS clients once, then serves requests.
// The handler's future nests three counted attempts, a KMS call and a key read: deeper than the default
// limit of the layout query, not of any runtime stack.
#![recursion_limit = "256"]

use anyhow::Context as _;
use auth::config::SigninConfig;
use auth::keys::secrets_manager::SecretsManagerSource;
use auth::lockout::dynamo::DynamoAttempts;
use auth::password::kms::KmsCipher;
use auth::session::dynamo::DynamoSessions;
use auth::signin;
use auth::store::dynamo::DynamoStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    auth::logging::init(env!("CARGO_CRATE_NAME"));
    let config = SigninConfig::from_env().context("reading the signin function's configuration")?;
    let aws = auth::config::load_aws().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let deps = &signin::Deps::new(
        (
            DynamoStore::new(dynamodb.clone(), config.table_name),
            KmsCipher::new(aws_sdk_kms::Client::new(&aws), config.key_arn),
            SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(&aws), config.secret_arn),
        ),
        config.tokens,
        DynamoAttempts::new(dynamodb.clone(), config.attempts_table_name),
        DynamoSessions::new(dynamodb, config.sessions_table_name),
        signin::Settings { protection: config.protection, lifetimes: config.lifetimes },
    );
    auth::proxy::run(|req| signin::handle(req, deps))
        .await
        .map_err(|e| anyhow::anyhow!(e).context("running the signin function"))
}
