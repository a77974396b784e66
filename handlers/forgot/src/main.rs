//! The forgot Lambda function, `POST /password/forgot`: builds the AWS clients once, then serves requests.

use anyhow::Context as _;
use auth::codes::dynamo::DynamoCodes;
use auth::codes::quota::DEFAULT_MAIL_LIMITS;
use auth::config::ForgotConfig;
use auth::forgot;
use auth::keys::secrets_manager::SecretsManagerSource;
use auth::mail::ses::SesMailer;
use auth::outbox::Outbox;
use auth::store::dynamo::DynamoStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    auth::logging::init(env!("CARGO_CRATE_NAME"));
    let config = ForgotConfig::from_env().context("reading the forgot function's configuration")?;
    let aws = auth::config::load_aws().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let deps = &forgot::Deps::new(
        DynamoStore::new(dynamodb.clone(), config.table_name),
        SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(&aws), config.codes.code_secret_arn),
        Outbox {
            codes: DynamoCodes::new(dynamodb, config.codes.codes_table_name),
            mailer: SesMailer::new(aws_sdk_sesv2::Client::new(&aws), config.mail_sender),
            limits: DEFAULT_MAIL_LIMITS,
        },
    );
    auth::proxy::run(|req| forgot::handle(req, deps))
        .await
        .map_err(|e| anyhow::anyhow!(e).context("running the forgot function"))
}
