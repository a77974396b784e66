//! The stage's data stack in the AWS emulator: created through CloudFormation from the synthesized
//! template, so the table, key and secret the functions use are exactly the ones the template
//! describes, and its exports are what the api template's `Fn::ImportValue`s resolve to.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, bail};
use aws_config::SdkConfig;
use aws_sdk_cloudformation::types::StackStatus;
use serde_json::Value;

use crate::aws::AwsResultExt as _;
use crate::cfn;

/// How often to ask the emulator whether the stack is done.
const POLL: Duration = Duration::from_millis(200);

/// SDK configuration for the emulator at `endpoint`, with dummy credentials (it accepts any).
pub async fn sdk_config(endpoint: &str, region: &str) -> SdkConfig {
    crate::aws::loader(region)
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_cloudformation::config::Credentials::new(
            "local",
            "local",
            None,
            None,
            "xtask-local",
        ))
        .load()
        .await
}

/// The account the emulator acts as (moto's is 123456789012).
pub async fn account(config: &SdkConfig) -> anyhow::Result<String> {
    let sts = aws_sdk_sts::Client::new(config);
    let identity =
        sts.get_caller_identity().send().await.aws().context("asking the AWS emulator for its account id")?;
    identity.account.context("the AWS emulator answered no account id")
}

/// Creates `stack` from `template` unless it exists already (an emulator that was reused), and
/// returns the exports its template declares, by export name.
pub async fn ensure(config: &SdkConfig, stack: &str, template: &Value) -> anyhow::Result<BTreeMap<String, String>> {
    let cfn = aws_sdk_cloudformation::Client::new(config);
    match cfn::status(&cfn, stack).await? {
        None => {
            println!("creating {stack} in the AWS emulator from the synthesized data template");
            let body = serde_json::to_string(template).context("encoding the data template")?;
            let seen = cfn::seen(&cfn, stack).await?;
            cfn::create_stack(&cfn, stack, body)
                .await
                .with_context(|| format!("creating {stack} in the AWS emulator"))?;
            let settled = cfn::watch(&cfn, stack, seen, POLL).await?;
            if !settled.succeeded() {
                bail!(
                    "the AWS emulator could not create {stack} ({}): {}; its log is under target/moto-logs",
                    settled.status.as_str(),
                    settled.root_cause.unwrap_or_else(|| "no reason given".into())
                );
            }
        }
        Some(StackStatus::CreateComplete | StackStatus::UpdateComplete) => {
            println!("reusing {stack}, which the AWS emulator already holds")
        }
        Some(other) => bail!(
            "{stack} is {} in the AWS emulator; stop whatever else uses it, or leave out --moto-port to start a fresh one",
            other.as_str()
        ),
    }
    let outputs = cfn::outputs(&cfn, stack).await?;
    exports_of(template, &outputs)
}

/// Export name to value, from the template's `Outputs.*.Export.Name` and the stack's outputs.
pub fn exports_of(template: &Value, outputs: &BTreeMap<String, String>) -> anyhow::Result<BTreeMap<String, String>> {
    let mut exports = BTreeMap::new();
    for (key, output) in template.get("Outputs").and_then(Value::as_object).into_iter().flatten() {
        let Some(name) = output.get("Export").and_then(|e| e.get("Name")) else { continue };
        let name = name.as_str().with_context(|| format!("output {key}'s export name is not a literal"))?;
        let value =
            outputs.get(key).with_context(|| format!("the data stack in the AWS emulator has no output {key}"))?;
        exports.insert(name.to_owned(), value.clone());
    }
    Ok(exports)
}
