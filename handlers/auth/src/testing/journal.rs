//! Dependencies that note each call they pass on, so a test can compare what two requests did: the
//! enumeration tests hold an address with an account and one without to the same calls, in order.

use std::sync::{Arc, Mutex};

use crate::codes::quota::{MailQuota, Window};
use crate::codes::{CodeError, CodeStore, Issued, Kept, Purpose};
use crate::mail::{Mail, MailError, Mailer};
use crate::password::{Cipher, CipherError};
use crate::store::{CreateOutcome, StoreError, StoredUser, UserStore};
use crate::validate::Email;

/// The calls made, by name (`users.get`, `codes.put`, `mail.send`, ...), oldest first.
#[derive(Debug, Default)]
pub struct Journal(Mutex<Vec<&'static str>>);

impl Journal {
    fn note(&self, call: &'static str) {
        if let Ok(mut calls) = self.0.lock() {
            calls.push(call);
        }
    }

    /// The calls noted since the last take.
    pub fn take(&self) -> Vec<&'static str> {
        self.0.lock().map(|mut calls| std::mem::take(&mut *calls)).unwrap_or_default()
    }
}

/// `inner`, noting each call in `journal`.
#[derive(Debug, Clone)]
pub struct Logged<T> {
    pub inner: T,
    pub journal: Arc<Journal>,
}

impl<T: UserStore> UserStore for Logged<T> {
    async fn create(&self, user: &StoredUser) -> Result<CreateOutcome, StoreError> {
        self.journal.note("users.create");
        self.inner.create(user).await
    }

    async fn get(&self, email: &Email) -> Result<Option<StoredUser>, StoreError> {
        self.journal.note("users.get");
        self.inner.get(email).await
    }

    async fn set_password(&self, user: &StoredUser) -> Result<bool, StoreError> {
        self.journal.note("users.set_password");
        self.inner.set_password(user).await
    }
}

impl<T: Cipher> Cipher for Logged<T> {
    async fn encrypt(&self, plaintext: &[u8], email: &Email) -> Result<Vec<u8>, CipherError> {
        self.journal.note("kms.encrypt");
        self.inner.encrypt(plaintext, email).await
    }

    async fn decrypt(&self, ciphertext: &[u8], email: &Email) -> Result<Vec<u8>, CipherError> {
        self.journal.note("kms.decrypt");
        self.inner.decrypt(ciphertext, email).await
    }

    /// The same KMS call as `decrypt`, so noted the same.
    async fn decoy(&self, email: &Email) -> Result<(), CipherError> {
        self.journal.note("kms.decrypt");
        self.inner.decoy(email).await
    }
}

impl<T: CodeStore> CodeStore for Logged<T> {
    async fn put(&self, email: &str, issued: &Issued, payload: Option<&[u8]>) -> Result<(), CodeError> {
        self.journal.note("codes.put");
        self.inner.put(email, issued, payload).await
    }

    async fn get(&self, email: &str, purpose: Purpose) -> Result<Option<Kept>, CodeError> {
        self.journal.note("codes.get");
        self.inner.get(email, purpose).await
    }

    async fn spend_try(&self, email: &str, purpose: Purpose, tag: &[u8; 32]) -> Result<bool, CodeError> {
        self.journal.note("codes.spend_try");
        self.inner.spend_try(email, purpose, tag).await
    }

    async fn consume(
        &self,
        email: &str,
        purpose: Purpose,
        tag: &[u8; 32],
        now: u64,
    ) -> Result<Option<Option<Vec<u8>>>, CodeError> {
        self.journal.note("codes.consume");
        self.inner.consume(email, purpose, tag, now).await
    }
}

impl<T: MailQuota> MailQuota for Logged<T> {
    async fn take(&self, window: &Window) -> Result<bool, CodeError> {
        self.journal.note("codes.count_mail");
        self.inner.take(window).await
    }
}

impl<T: Mailer> Mailer for Logged<T> {
    async fn send(&self, to: &Email, mail: &Mail) -> Result<(), MailError> {
        self.journal.note("mail.send");
        self.inner.send(to, mail).await
    }
}
