//! A [`Mailer`] that keeps what it is given, for tests.

use std::sync::Mutex;

use super::{Mail, MailError, Mailer};
use crate::validate::Email;

#[derive(Debug, Default)]
pub struct MemoryMailer {
    sent: Mutex<Vec<(String, Mail)>>,
}

impl MemoryMailer {
    pub fn new() -> MemoryMailer {
        MemoryMailer::default()
    }

    /// Every mail sent so far, with its recipient, oldest first.
    pub fn sent(&self) -> Vec<(String, Mail)> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The code in the newest mail to `to`, if it has one.
    pub fn last_code(&self, to: &str) -> Option<String> {
        let sent = self.sent();
        let (_, mail) = sent.iter().rev().find(|(recipient, _)| recipient == to)?;
        super::code_in(&mail.text)
    }
}

impl Mailer for MemoryMailer {
    async fn send(&self, to: &Email, mail: &Mail) -> Result<(), MailError> {
        let mut sent = self.sent.lock().map_err(|_| MailError("the memory mailer's lock".into()))?;
        sent.push((to.as_str().to_owned(), mail.clone()));
        Ok(())
    }
}
