//! The mails the service sends, and where they go: a [`Mailer`] (Amazon SES's v2 `SendEmail` in
//! Lambda, memory in tests).
//!
//! Every mail is plain text with a code when there is one. Each route that mails sends exactly one
//! mail per request whether the address has an account or not (a different letter, the same call), so
//! neither the answer nor its time tells an observer which letter went out: see [`crate::outbox`].

pub mod memory;
pub mod ses;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::codes::{Code, LIFETIME_SECONDS};
use crate::validate::Email;

/// One plain-text mail. Its `Debug` never shows the body, which may hold a code.
#[derive(Clone, PartialEq, Eq)]
pub struct Mail {
    pub subject: String,
    pub text: String,
}

impl fmt::Debug for Mail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mail").field("subject", &self.subject).field("text", &"<redacted>").finish()
    }
}

/// Sending failed: the route answers 500.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sending mail failed: {0}")]
pub struct MailError(pub String);

/// Where mail goes.
pub trait Mailer: Send + Sync {
    /// Sends `mail` to `to`, from the stage's sender.
    fn send(&self, to: &Email, mail: &Mail) -> impl Future<Output = Result<(), MailError>> + Send;
}

impl<T: Mailer + ?Sized> Mailer for Arc<T> {
    fn send(&self, to: &Email, mail: &Mail) -> impl Future<Output = Result<(), MailError>> + Send {
        (**self).send(to, mail)
    }
}

fn minutes() -> u64 {
    LIFETIME_SECONDS / 60
}

/// The code in a mail's text, as the letters below write it (a line `code: 1234 5678`), spaces taken
/// out: for whoever reads the mail back (tests, the local mail catcher).
pub fn code_in(text: &str) -> Option<String> {
    let line = text.lines().find_map(|l| l.trim().strip_prefix("code: "))?;
    Some(line.replace(' ', ""))
}

/// The code, grouped for reading (`1234 5678`); typed back with or without the space.
fn grouped(code: &Code) -> String {
    let digits = code.expose();
    let (first, second) = digits.split_at(digits.len() / 2);
    format!("{first} {second}")
}

/// To a new address after `POST /signup`: the code that completes the signup.
pub fn verify_address(code: &Code) -> Mail {
    Mail {
        subject: "Your verification code".to_owned(),
        text: format!(
            "Your verification code is:\n\n    code: {}\n\nEnter it with your email address and the password you \
             chose to finish signing up. It works once, for {} minutes.\n\nIf you did not sign up, ignore this mail: \
             no account is made without the code.\n",
            grouped(code),
            minutes()
        ),
    }
}

/// To an address that has an account, after `POST /signup` with it: a reset code, since the one who
/// signed up may have forgotten they have an account.
pub fn already_registered(code: &Code) -> Mail {
    Mail {
        subject: "Someone tried to sign up with your address".to_owned(),
        text: format!(
            "Someone tried to sign up with this address, which already has an account.\n\nIf it was you, sign in \
             with your password, or reset it with this code:\n\n    code: {}\n\nIt works once, for {} minutes. If it \
             was not you, ignore this mail: your account is unchanged.\n",
            grouped(code),
            minutes()
        ),
    }
}

/// To an address that has an account, after `POST /password/forgot`.
pub fn reset_password(code: &Code) -> Mail {
    Mail {
        subject: "Your password reset code".to_owned(),
        text: format!(
            "Someone asked to reset the password of the account at this address. Your reset code is:\n\n    code: \
             {}\n\nIt works once, for {} minutes. Resetting signs you out everywhere. If you did not ask, ignore this \
             mail: your password is unchanged.\n",
            grouped(code),
            minutes()
        ),
    }
}

/// To an address without an account, after `POST /password/forgot` with it.
pub fn no_account() -> Mail {
    Mail {
        subject: "Password reset requested".to_owned(),
        text: "Someone asked to reset the password of an account at this address, but this address has no \
               account.\n\nIf it was you, you may have signed up with another address, or you can sign up with this \
               one. If it was not you, ignore this mail.\n"
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_letter_with_a_code_shows_it_once_and_debug_never() {
        let code = Code::parse("12345678").unwrap_or_else(|| panic!("a code"));
        for mail in [verify_address(&code), already_registered(&code), reset_password(&code)] {
            assert_eq!(mail.text.matches("code: 1234 5678").count(), 1, "{}", mail.text);
            assert_eq!(code_in(&mail.text).as_deref(), Some("12345678"), "read back as written");
            assert!(!format!("{mail:?}").contains("1234"));
        }
        assert!(!no_account().text.contains("code:"));
        assert_eq!(code_in(&no_account().text), None);
    }
}
