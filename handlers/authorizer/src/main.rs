//! The REST API's JWT authorizer Lambda function: reads its secret lazily, once, then serves events.

// The runtime's layered service future around the handler's nests deeper than rustc's default limit
// when it computes the layout of `main`'s future.
#![recursion_limit = "256"]

use anyhow::Context as _;
use auth::authorizer;
use auth::config::AuthorizerConfig;
use auth::keys::secrets_manager::SecretsManagerSource;
use auth::session::dynamo::DynamoSessions;
use lambda_http::aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest as Event;
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    auth::logging::init(env!("CARGO_CRATE_NAME"));
    let config = AuthorizerConfig::from_env().context("reading the authorizer's configuration")?;
    let aws = auth::config::load_aws().await;
    let secrets = SecretsManagerSource::new(aws_sdk_secretsmanager::Client::new(&aws), config.secret_arn);
    let sessions = DynamoSessions::new(aws_sdk_dynamodb::Client::new(&aws), config.sessions_table_name);
    let deps = &authorizer::Deps::new(secrets, config.tokens, sessions, config.revocation_cache_seconds);
    // A wrong token is a Deny; a dependency failure fails the invocation (API Gateway answers 500 and,
    // unlike a Deny, caches nothing).
    let handler = move |event: LambdaEvent<Event>| async move { authorizer::handle(event.payload, deps).await };
    lambda_runtime::run(service_fn(handler)).await.map_err(|e| anyhow::anyhow!(e).context("running the authorizer"))
}
