//! The reset Lambda function, `POST /password/reset`: builds the AWS clients once, then serves requests.
// The handler's future nests the code's reads and writes, a KMS call, the sessions' and the lockout's
// updates: deeper than the default limit of the layout query, not of any runtime stack.
#![recursion_limit = "256"]

use anyhow::Context as _;
use auth::codes::dynamo::DynamoCodes;
use auth::config::ResetConfig;
use auth::keys::secrets_manager::SecretsManagerSource;
use auth::lockout::dynamo::DynamoAttempts;
use auth::password::kms::KmsCipher;
use auth::password::policy::Blocklist;
use auth::reset;
use auth::session::dynamo::DynamoSessions;
use auth::signup::Passwords;
use auth::store::dynamo::DynamoStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    auth::logging::init(env!("CARGO_CRATE_NAME"));
    let config = ResetConfig::from_env().context("reading the reset function's configuration")?;
    let breached = breached::filter().context("reading the embedded breached-password filter")?;
    let aws = auth::config::load_aws().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let deps = &reset::Deps::new(
        (
            DynamoStore::new(dynamodb.clone(), config.table_name),
            KmsCipher::new(aws_sdk_kms::Client::new(&aws), config.key_arn),
            SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(&aws), config.codes.code_secret_arn),
        ),
        Passwords {
            policy: config.policy.passwords,
            blocklist: Blocklist { breached, service_names: config.policy.service_names },
        },
        reset::Tables {
            codes: DynamoCodes::new(dynamodb.clone(), config.codes.codes_table_name),
            sessions: DynamoSessions::new(dynamodb.clone(), config.sessions_table_name),
            attempts: DynamoAttempts::new(dynamodb, config.attempts_table_name),
        },
        config.keep_signed_out_seconds,
    );
    auth::proxy::run(|req| reset::handle(req, deps))
        .await
        .map_err(|e| anyhow::anyhow!(e).context("running the reset function"))
}
