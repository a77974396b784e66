//! The [`SecretSource`] on AWS Secrets Manager: `GetSecretValue` for `AWSCURRENT` and `AWSPREVIOUS`.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use aws_sdk_secretsmanager::primitives::Blob;

use super::{CURRENT_STAGE, PREVIOUS_STAGE, SecretError, SecretSource, SecretVersion, SecretVersions};

/// The signing secret (`AUTH_SECRET_ARN`).
#[derive(Debug, Clone)]
pub struct SecretsManagerSource {
    client: Client,
    secret_id: String,
}

impl SecretsManagerSource {
    pub fn new(client: Client, secret_id: impl Into<String>) -> SecretsManagerSource {
        SecretsManagerSource { client, secret_id: secret_id.into() }
    }

    /// The version with staging label `stage`, or `None` if no version has it.
    async fn version(&self, stage: &str) -> Result<Option<SecretVersion>, SecretError> {
        let result = self.client.get_secret_value().secret_id(&self.secret_id).version_stage(stage).send().await;
        let output = match result {
            Ok(output) => output,
            Err(error) if error.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => {
                return Ok(None);
            }
            Err(error) => {
                return Err(SecretError::Unavailable(format!(
                    "GetSecretValue {stage}: {}",
                    DisplayErrorContext(&error)
                )));
            }
        };
        let version_id =
            output.version_id.ok_or_else(|| SecretError::Invalid(format!("the {stage} version has no version id")))?;
        let value = match (output.secret_string, output.secret_binary) {
            (Some(text), _) => text.into_bytes(),
            (None, Some(binary)) => Blob::into_inner(binary),
            (None, None) => return Err(SecretError::Invalid(format!("the {stage} version has no value"))),
        };
        Ok(Some(SecretVersion { version_id, value }))
    }
}

impl SecretSource for SecretsManagerSource {
    async fn fetch(&self) -> Result<SecretVersions, SecretError> {
        let (current, previous) = tokio::join!(self.version(CURRENT_STAGE), self.version(PREVIOUS_STAGE));
        let current =
            current?.ok_or_else(|| SecretError::Invalid(format!("the secret has no {CURRENT_STAGE} version")))?;
        // No AWSPREVIOUS is the normal state of a secret never rotated; `version` answered None for it.
        Ok(SecretVersions { current, previous: previous? })
    }
}
