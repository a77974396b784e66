//! The hello Lambda function, `GET /hello`: no AWS client, no configuration; greets the caller.

use std::convert::Infallible;

use auth::hello;
use lambda_http::{run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    lambda_http::tracing::init_default_subscriber();
    run(service_fn(|req| async move { Ok::<_, Infallible>(hello::handle(&req)) }))
        .await
        .map_err(|e| anyhow::anyhow!(e).context("running the hello function"))
}
