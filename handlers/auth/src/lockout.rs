//! Sign-in lockout: too many failed sign-ins for one email lock it for a while, known or not.
//!
//! Each email that tries to sign in gets an item in the attempts table: attempts counted in the
//! current window, when the window began, until when the email is locked, and when DynamoDB may delete
//! the item (its time to live).
//!
//! An attempt is counted before its password is checked (a *claim*): at most
//! [`LockoutPolicy::max_failures`] claims succeed per window, however many requests arrive at once,
//! and the rest are refused before any password work. A wrong password at the limit locks the email
//! for the cooldown, even against the right password, after which counting starts again from zero. A
//! right password resets the count. An unknown email is counted and locked exactly like a known one,
//! so the lockout answer says nothing about who has an account, and a lock never slows another email.
//!
//! The rules are [`LockoutPolicy`]'s pure functions; [`AttemptStore`] keeps the counts. Its DynamoDB
//! implementation makes every change a conditional `UpdateItem`, so concurrent attempts each count
//! once and none slips past the limit between a read and a write.

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

/// What claiming an attempt decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The attempt is counted; the record after counting it.
    Count(Attempts),
    /// The email is locked for this many more seconds.
    Locked(u64),
    /// The window is full but the lock was not written (its writer failed): lock the email now.
    LockNow,
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

    /// What claiming an attempt at `now` does to `record`.
    pub fn claim(&self, record: Option<Attempts>, now: u64) -> Claim {
        if let Some(seconds) = self.locked_for(record.as_ref(), now) {
            return Claim::Locked(seconds);
        }
        match record {
            Some(r) if self.in_window(&r, now) && self.locks(r.failures) => Claim::LockNow,
            Some(r) if self.in_window(&r, now) => {
                Claim::Count(Attempts { failures: r.failures.saturating_add(1), ..r })
            }
            other => Claim::Count(Attempts {
                failures: 1,
                window_start: now,
                locked_until: other.and_then(|r| r.locked_until),
            }),
        }
    }

    /// The record of an email locked at `now`: refused until the cooldown ends, then counted afresh in
    /// a window that starts when the lock ends.
    pub fn locked(&self, now: u64) -> Attempts {
        let until = now.saturating_add(self.cooldown_seconds);
        Attempts { failures: 0, window_start: until, locked_until: Some(until) }
    }

    /// When a locked record may be deleted: after its lock and the window that follows it.
    pub fn lock_expires_at(&self, now: u64) -> u64 {
        self.locked(now).window_start.saturating_add(self.window_seconds).saturating_add(60)
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

    /// Counts an attempt at `now` before its password is checked, as [`LockoutPolicy::claim`] says,
    /// atomically: of any number of concurrent claims at most the limit succeed. `Ok(Err(seconds))`
    /// means the email is locked for that long (a full window is locked here).
    fn claim(
        &self,
        email: &Email,
        now: u64,
        policy: &LockoutPolicy,
    ) -> impl Future<Output = Result<Result<Attempts, u64>, AttemptsError>> + Send;

    /// Locks `email` at `now` ([`LockoutPolicy::locked`]); an existing lock is never shortened.
    fn lock(
        &self,
        email: &Email,
        now: u64,
        policy: &LockoutPolicy,
    ) -> impl Future<Output = Result<(), AttemptsError>> + Send;

    /// After a successful sign-in: no failures, no lock.
    fn reset(&self, email: &Email) -> impl Future<Output = Result<(), AttemptsError>> + Send;
}

/// A shared store is a store, so a test can look at the counts a handler wrote.
impl<T: AttemptStore + ?Sized> AttemptStore for Arc<T> {
    fn get(&self, email: &Email) -> impl Future<Output = Result<Option<Attempts>, AttemptsError>> + Send {
        (**self).get(email)
    }

    fn claim(
        &self,
        email: &Email,
        now: u64,
        policy: &LockoutPolicy,
    ) -> impl Future<Output = Result<Result<Attempts, u64>, AttemptsError>> + Send {
        (**self).claim(email, now, policy)
    }

    fn lock(
        &self,
        email: &Email,
        now: u64,
        policy: &LockoutPolicy,
    ) -> impl Future<Output = Result<(), AttemptsError>> + Send {
        (**self).lock(email, now, policy)
    }

    fn reset(&self, email: &Email) -> impl Future<Output = Result<(), AttemptsError>> + Send {
        (**self).reset(email)
    }
}

#[cfg(test)]
mod tests;
