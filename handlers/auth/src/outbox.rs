//! Mailing a one-time code: within the address's mail limits, keep the code's tag (and what it
//! unlocks), then send the letter. The routes that mail (signup, forgot) call [`Outbox::send`] once
//! per request on every path, known address or not, with a different letter and purpose: the same
//! calls (two counter updates, one `PutItem`, one `SendEmail`) in the same order, so neither the answer nor
//! its time tells which letter went out.
//!
//! Why the same calls rather than a queue between the API and the mail: a queue would hide SES's
//! latency, but the route would still have to decide, on the request's time, what to enqueue; and it
//! adds a service, a consumer function and their grants. Sending on both paths keeps one function per
//! route, and what differs between the paths is only the text of the mail.

use crate::codes::quota::{self, MailLimits, MailQuota};
use crate::codes::{self, Code, CodeError, CodeStore, Purpose, RandomError};
use crate::mail::{Mail, MailError, Mailer};
use crate::token::KeyRing;
use crate::validate::Email;

/// The codes table (which also counts mails per address), the mailer and the limits.
#[derive(Debug)]
pub struct Outbox<CS, M> {
    pub codes: CS,
    pub mailer: M,
    pub limits: MailLimits,
}

/// What one request mails: a new code for `purpose`, kept with `payload`, in `letter`.
#[derive(Debug, Clone, Copy)]
pub struct Letter<'a> {
    pub purpose: Purpose,
    pub payload: Option<&'a [u8]>,
    pub write: fn(&Code) -> Mail,
}

/// What [`Outbox::send`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Sent,
    /// The address had its hour's or its day's mails: nothing was kept or sent.
    OverLimit,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Codes(#[from] CodeError),
    #[error(transparent)]
    Random(#[from] RandomError),
    #[error(transparent)]
    Mail(#[from] MailError),
}

impl<CS: CodeStore + MailQuota, M: Mailer> Outbox<CS, M> {
    /// Counts the mail against `email`'s limits, keeps a new code's tag for `letter.purpose` (replacing
    /// the code before it) and mails the letter.
    pub async fn send(&self, keys: &KeyRing, email: &Email, letter: Letter<'_>, now: u64) -> Result<Sent, OutboxError> {
        if !quota::may_send(&self.codes, email.as_str(), now, self.limits).await? {
            return Ok(Sent::OverLimit);
        }
        let (code, issued) = codes::issue(keys, letter.purpose, email.as_str(), now)?;
        self.codes.put(email.as_str(), &issued, letter.payload).await?;
        self.mailer.send(email, &(letter.write)(&code)).await?;
        Ok(Sent::Sent)
    }

    /// Keeps a code for `purpose` that is never sent, replacing the address's last: so that what the
    /// table holds for an address (and so whether a guess's conditional write succeeds) is the same
    /// whether it has an account or not.
    pub async fn keep_decoy(
        &self,
        keys: &KeyRing,
        email: &Email,
        purpose: Purpose,
        now: u64,
    ) -> Result<(), OutboxError> {
        let (_, issued) = codes::issue(keys, purpose, email.as_str(), now)?;
        self.codes.put(email.as_str(), &issued, None).await?;
        Ok(())
    }
}
