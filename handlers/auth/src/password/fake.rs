//! An in-memory [`Cipher`] for tests that enforces the encryption context as KMS does.
//!
//! A ciphertext is an opaque handle (`fake-kms:` and a counter); the plaintext and the email it was
//! bound to stay inside the fake. `decrypt` answers [`CipherError::Rejected`] for a handle it did not
//! make or for any other email, which is what KMS answers, so the "ciphertext moved to another user's
//! row" attack fails here exactly as it fails against KMS.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use super::{Cipher, CipherError};
use crate::validate::Email;

const PREFIX: &[u8] = b"fake-kms:";

#[derive(Default)]
pub struct FakeCipher {
    /// Each encryption's (email, plaintext); the ciphertext is the index.
    entries: Mutex<Vec<(Email, Vec<u8>)>>,
    unavailable: AtomicBool,
}

impl fmt::Debug for FakeCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.entries.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("FakeCipher").field("ciphertexts", &count).finish_non_exhaustive()
    }
}

impl FakeCipher {
    pub fn new() -> FakeCipher {
        FakeCipher::default()
    }

    /// Makes every call fail with [`CipherError::Unavailable`], as during a KMS outage.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    fn check_available(&self) -> Result<(), CipherError> {
        if self.unavailable.load(Ordering::SeqCst) {
            Err(CipherError::Unavailable("the fake key service is switched off".into()))
        } else {
            Ok(())
        }
    }
}

impl Cipher for FakeCipher {
    async fn decoy(&self, _email: &Email) -> Result<(), CipherError> {
        self.check_available()
    }

    async fn encrypt(&self, plaintext: &[u8], email: &Email) -> Result<Vec<u8>, CipherError> {
        self.check_available()?;
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let index = entries.len() as u64;
        entries.push((email.clone(), plaintext.to_vec()));
        let mut ciphertext = PREFIX.to_vec();
        ciphertext.extend_from_slice(&index.to_be_bytes());
        Ok(ciphertext)
    }

    async fn decrypt(&self, ciphertext: &[u8], email: &Email) -> Result<Vec<u8>, CipherError> {
        self.check_available()?;
        let index = ciphertext
            .strip_prefix(PREFIX)
            .and_then(|rest| <[u8; 8]>::try_from(rest).ok())
            .and_then(|bytes| usize::try_from(u64::from_be_bytes(bytes)).ok())
            .ok_or(CipherError::Rejected)?;
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match entries.get(index) {
            Some((bound_to, plaintext)) if bound_to == email => Ok(plaintext.clone()),
            _ => Err(CipherError::Rejected),
        }
    }
}
