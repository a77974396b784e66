//! The signout Lambda function, `POST /signout`: builds the AWS clients once, then serves requests.
// Like signin's, the handler's future nests deeper than the layout query's default limit.
#![recursion_limit = "256"]

use anyhow::Context as _;
use auth::config::SignoutConfig;
use auth::session::dynamo::DynamoSessions;
use auth::signout;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    auth::logging::init(env!("CARGO_CRATE_NAME"));
    let config = SignoutConfig::from_env().context("reading the signout function's configuration")?;
    let aws = auth::config::load_aws().await;
    let deps = &signout::Deps::new(
        DynamoSessions::new(aws_sdk_dynamodb::Client::new(&aws), config.sessions_table_name),
        config.keep_signed_out_seconds,
    );
    auth::proxy::run(|req| signout::handle(req, deps))
        .await
        .map_err(|e| anyhow::anyhow!(e).context("running the signout function"))
}
