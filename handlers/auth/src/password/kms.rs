//! The [`Cipher`] on AWS KMS: `Encrypt` and `Decrypt` under the auth key with the email as context.

use aws_sdk_kms::Client;
use aws_sdk_kms::error::DisplayErrorContext;
use aws_sdk_kms::primitives::Blob;
use contract::kms::CONTEXT_KEY;

use super::{Cipher, CipherError};
use crate::validate::Email;

/// KMS encryption under one key (`AUTH_KEY_ARN`).
#[derive(Debug, Clone)]
pub struct KmsCipher {
    client: Client,
    key_id: String,
}

impl KmsCipher {
    pub fn new(client: Client, key_id: impl Into<String>) -> KmsCipher {
        KmsCipher { client, key_id: key_id.into() }
    }
}

/// Whether a KMS error code is KMS refusing the request itself (an answer about the ciphertext, the key
/// or the caller), not KMS being unable to answer (throttled, failing, its key store unreachable).
fn refusal(code: &str) -> bool {
    !matches!(
        code,
        "ThrottlingException"
            | "KMSInternalException"
            | "DependencyTimeoutException"
            | "KeyUnavailableException"
            | "DisabledException"
            | "KMSInvalidStateException"
    )
}

fn error_code<T, E: aws_sdk_kms::error::ProvideErrorMetadata>(
    result: &Result<T, aws_sdk_kms::error::SdkError<E, aws_sdk_kms::config::http::HttpResponse>>,
) -> Option<String> {
    result.as_ref().err()?.as_service_error().and_then(|e| e.code()).map(str::to_owned)
}

/// What the decoy asks KMS to decrypt: the size of an encrypted PHC string, but no ciphertext.
const DECOY_CIPHERTEXT: &[u8] = &[0; 256];

impl Cipher for KmsCipher {
    async fn decoy(&self, email: &Email) -> Result<(), CipherError> {
        let result = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(DECOY_CIPHERTEXT))
            .encryption_context(CONTEXT_KEY, email.as_str())
            .send()
            .await;
        // KMS refuses it (InvalidCiphertextException on AWS; the emulator answers AccessDenied): the round trip
        // made, as for a real hash. What would fail a real decrypt too (no answer, throttling, KMS's own
        // trouble) fails this one, so that an attacker who can make KMS throttle learns nothing either.
        let code = error_code(&result);
        match result {
            Ok(_) => Ok(()),
            Err(_) if code.as_deref().is_some_and(refusal) => Ok(()),
            Err(error) => Err(CipherError::Unavailable(format!("KMS Decrypt: {}", DisplayErrorContext(&error)))),
        }
    }

    async fn encrypt(&self, plaintext: &[u8], email: &Email) -> Result<Vec<u8>, CipherError> {
        let output = self
            .client
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(plaintext))
            .encryption_context(CONTEXT_KEY, email.as_str())
            .send()
            .await
            .map_err(|e| CipherError::Unavailable(format!("KMS Encrypt: {}", DisplayErrorContext(&e))))?;
        output
            .ciphertext_blob
            .map(Blob::into_inner)
            .ok_or_else(|| CipherError::Unavailable("KMS Encrypt returned no ciphertext".into()))
    }

    async fn decrypt(&self, ciphertext: &[u8], email: &Email) -> Result<Vec<u8>, CipherError> {
        // Naming the key on Decrypt makes KMS refuse a ciphertext made under any other key, instead of
        // trusting the key id embedded in the ciphertext.
        let result = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(ciphertext))
            .encryption_context(CONTEXT_KEY, email.as_str())
            .send()
            .await;
        match result {
            Ok(output) => output
                .plaintext
                .map(Blob::into_inner)
                .ok_or_else(|| CipherError::Unavailable("KMS Decrypt returned no plaintext".into())),
            Err(error) => match error.as_service_error() {
                Some(e) if e.is_invalid_ciphertext_exception() || e.is_incorrect_key_exception() => {
                    Err(CipherError::Rejected)
                }
                _ => Err(CipherError::Unavailable(format!("KMS Decrypt: {}", DisplayErrorContext(&error)))),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    /// The attack: making KMS throttle, so that a known email's sign-in fails (500) where an unknown
    /// one's decoy would be taken as answered (401). What fails a real decrypt fails the decoy.
    #[test]
    fn only_kms_refusing_the_request_counts_as_the_decoys_answer() {
        for refused in
            ["InvalidCiphertextException", "IncorrectKeyException", "AccessDeniedException", "NotFoundException"]
        {
            assert!(super::refusal(refused), "{refused}");
        }
        for unavailable in
            ["ThrottlingException", "KMSInternalException", "DependencyTimeoutException", "KeyUnavailableException"]
        {
            assert!(!super::refusal(unavailable), "{unavailable}");
        }
    }
}
