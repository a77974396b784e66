//! The signup Lambda function, `POST /signup`: builds the AWS clients once, then serves requests.

use anyhow::Context as _;
use auth::config::SignupConfig;
use auth::password::kms::KmsCipher;
use auth::signup;
use auth::store::dynamo::DynamoStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    auth::logging::init(env!("CARGO_CRATE_NAME"));
    let config = SignupConfig::from_env().context("reading the signup function's configuration")?;
    let aws = auth::config::load_aws().await;
    let deps = &signup::Deps::new(
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), config.table_name),
        KmsCipher::new(aws_sdk_kms::Client::new(&aws), config.key_arn),
        config.passwords,
    );
    auth::proxy::run(|req| signup::handle(req, deps))
        .await
        .map_err(|e| anyhow::anyhow!(e).context("running the signup function"))
}
