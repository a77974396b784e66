//! The verify Lambda function, `POST /signup/verify`: builds the AWS clients once, then serves requests.
// The handler's future nests the code's read and spend, a KMS call and a conditional write: deeper than the default
// limit of the layout query, not of any runtime stack.
#![recursion_limit = "256"]

use anyhow::Context as _;
use auth::codes::dynamo::DynamoCodes;
use auth::config::VerifyConfig;
use auth::keys::secrets_manager::SecretsManagerSource;
use auth::password::kms::KmsCipher;
use auth::store::dynamo::DynamoStore;
use auth::verify;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    auth::logging::init(env!("CARGO_CRATE_NAME"));
    let config = VerifyConfig::from_env().context("reading the verify function's configuration")?;
    let aws = auth::config::load_aws().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let deps = &verify::Deps::new(
        DynamoStore::new(dynamodb.clone(), config.table_name),
        KmsCipher::new(aws_sdk_kms::Client::new(&aws), config.key_arn),
        SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(&aws), config.codes.code_secret_arn),
        DynamoCodes::new(dynamodb, config.codes.codes_table_name),
    );
    auth::proxy::run(|req| verify::handle(req, deps))
        .await
        .map_err(|e| anyhow::anyhow!(e).context("running the verify function"))
}
