//! The signup Lambda function, `POST /signup`: builds the AWS clients once, then serves requests.

use anyhow::Context as _;
use auth::config::SignupConfig;
use auth::password::breached::{Aligned, Breached};
use auth::password::kms::KmsCipher;
use auth::password::policy::Blocklist;
use auth::signup;
use auth::store::dynamo::DynamoStore;

/// The breached-password filter, built by `cargo xtask` from the pinned lists (`build.rs`), aligned so
/// that lookups read it in place.
static BREACHED: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/breached-passwords.bin")));

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    auth::logging::init(env!("CARGO_CRATE_NAME"));
    let config = SignupConfig::from_env().context("reading the signup function's configuration")?;
    let breached = Breached::from_bytes(&BREACHED.0).context("reading the embedded breached-password filter")?;
    let aws = auth::config::load_aws().await;
    let deps = &signup::Deps::new(
        DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), config.table_name),
        KmsCipher::new(aws_sdk_kms::Client::new(&aws), config.key_arn),
        config.passwords,
        Blocklist { breached, service_names: config.service_names },
    );
    auth::proxy::run(|req| signup::handle(req, deps))
        .await
        .map_err(|e| anyhow::anyhow!(e).context("running the signup function"))
}

#[cfg(test)]
mod tests {
    /// The filter this binary embeds is one this code reads, built from the whole corpus.
    #[test]
    fn the_embedded_breached_password_filter_is_read_and_finds_the_corpus() {
        let breached = super::Breached::from_bytes(&super::BREACHED.0).unwrap_or_else(|e| panic!("{e}"));
        assert!(breached.entries() > 4_000_000, "{} passwords", breached.entries());
        assert!(breached.contains("Password1234567!"));
    }
}
