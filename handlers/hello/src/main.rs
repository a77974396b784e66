//! The hello Lambda function, `GET /hello`: no AWS client, no configuration; greets the caller.

use auth::hello;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    auth::logging::init(env!("CARGO_CRATE_NAME"));
    auth::proxy::run(|req| async move { hello::handle(&req) })
        .await
        .map_err(|e| anyhow::anyhow!(e).context("running the hello function"))
}
