//! Sign-in lockout: too many failed sign-ins for one email lock it for a while, known or not.
//!
//! Each email that fails to sign in gets an item in the attempts table: failures in the current
//! window, when the window began, until when the email is locked, and when DynamoDB may delete the
//! item (its time to live). After [`LockoutPolicy::max_failures`] failures within the window, signin
//! refuses the email until the cooldown has passed, even with the right password, and answers before
//! any password work. An unknown email is counted and locked exactly like a known one, so the lockout
//! answer says nothing about who has an account. A successful sign-in resets the count. A lock is per
//! email: it never slows anyone else down.
//!
//! The rules are [`LockoutPolicy`]'s pure functions; [`AttemptStore`] keeps the counts. Its DynamoDB
//! implementation makes every change one conditional `UpdateItem`, so concurrent failures all count.

pub mod dynamo;
pub mod memory;

use std::future::Future;
use std::sync::Arc;

use crate::validate::Email;

/// When failed sign-ins lock an email, from the stage's `lockout` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures within the window that lock the email.
    pub max_failures: u32,
    /// How long failures are counted together, from the first of them.
    pub window_seconds: u64,
    /// How long a locked email stays locked.
    pub cooldown_seconds: u64,
}

/// What the attempts table holds for one email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempts {
    /// Failed sign-ins in the window that began at `window_start`.
    pub failures: u32,
    /// Unix seconds.
    pub window_start: u64,
    /// Unix seconds; sign-ins are refused before then.
    pub locked_until: Option<u64>,
}

impl LockoutPolicy {
    /// Seconds until `record`'s lock ends, if the email is locked at `now`.
    pub fn locked_for(&self, record: Option<&Attempts>, now: u64) -> Option<u64> {
        record.and_then(|r| r.locked_until).filter(|&until| until > now).map(|until| until - now)
    }

    /// Whether a failure at `now` still falls in `record`'s window.
    pub fn in_window(&self, record: &Attempts, now: u64) -> bool {
        now < record.window_start.saturating_add(self.window_seconds)
    }

    /// The earliest window start still open at `now`: windows that began at or before it are over.
    pub fn window_cutoff(&self, now: u64) -> u64 {
        now.saturating_sub(self.window_seconds)
    }

    /// Whether this many failures lock the email.
    pub fn locks(&self, failures: u32) -> bool {
        failures >= self.max_failures
    }

    /// When an item written at `now` may be deleted: after both its window and any lock set now.
    pub fn expires_at(&self, now: u64) -> u64 {
        now.saturating_add(self.window_seconds.max(self.cooldown_seconds)).saturating_add(60)
    }

    /// The record after one more failure at `now`: counted in the open window or the first of a new
    /// one, and locked for the cooldown once it reaches the limit. An existing lock is never shortened.
    pub fn after_failure(&self, record: Option<Attempts>, now: u64) -> Attempts {
        let mut next = match record {
            Some(r) if self.in_window(&r, now) => Attempts { failures: r.failures.saturating_add(1), ..r },
            Some(r) => Attempts { failures: 1, window_start: now, locked_until: r.locked_until },
            None => Attempts { failures: 1, window_start: now, locked_until: None },
        };
        if self.locks(next.failures) {
            let until = now.saturating_add(self.cooldown_seconds);
            next.locked_until = Some(next.locked_until.map_or(until, |current| current.max(until)));
        }
        next
    }

    /// Whether a successful sign-in needs to write a reset.
    pub fn needs_reset(&self, record: Option<&Attempts>) -> bool {
        record.is_some_and(|r| r.failures > 0 || r.locked_until.is_some())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttemptsError {
    /// The table failed; the request may be retried.
    #[error("the attempts table failed: {0}")]
    Unavailable(String),
    /// An item lacks an attribute or has one of the wrong type.
    #[error("an attempts item is malformed: {0}")]
    Corrupt(String),
}

/// Failed sign-ins per normalized email.
pub trait AttemptStore: Send + Sync {
    /// The record for `email`, read consistently.
    fn get(&self, email: &Email) -> impl Future<Output = Result<Option<Attempts>, AttemptsError>> + Send;

    /// Counts one failure at `now` as [`LockoutPolicy::after_failure`] says, atomically: of any number
    /// of concurrent failures, each is counted once. Returns the record after this failure.
    fn record_failure(
        &self,
        email: &Email,
        now: u64,
        policy: &LockoutPolicy,
    ) -> impl Future<Output = Result<Attempts, AttemptsError>> + Send;

    /// After a successful sign-in: no failures, no lock.
    fn reset(&self, email: &Email) -> impl Future<Output = Result<(), AttemptsError>> + Send;
}

/// A shared store is a store, so a test can look at the counts a handler wrote.
impl<T: AttemptStore + ?Sized> AttemptStore for Arc<T> {
    fn get(&self, email: &Email) -> impl Future<Output = Result<Option<Attempts>, AttemptsError>> + Send {
        (**self).get(email)
    }

    fn record_failure(
        &self,
        email: &Email,
        now: u64,
        policy: &LockoutPolicy,
    ) -> impl Future<Output = Result<Attempts, AttemptsError>> + Send {
        (**self).record_failure(email, now, policy)
    }

    fn reset(&self, email: &Email) -> impl Future<Output = Result<(), AttemptsError>> + Send {
        (**self).reset(email)
    }
}

#[cfg(test)]
mod tests;
