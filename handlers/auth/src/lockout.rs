//! Brute-force protection for sign-in: throttle the attacker, not the owner.
//!
//! Three counts, each an item of the attempts table ([`CounterKey`]):
//! - per email and source address: [`Protection::max_failures`] attempts within the window lock that
//!   pair for the cooldown. An attacker's address is locked; the owner's address is not.
//! - per email and source address and day: at most [`Protection::daily_per_address`] a day, so that
//!   guessing just under the window's limit does not go on forever.
//! - per email and day, across every address: once [`Protection::daily_per_email`] failures are made,
//!   every address that has already made [`GRACE_ATTEMPTS`] attempts at this email today is refused
//!   for the rest of the day. An address that has not (the owner's phone, a new network, an owner who
//!   mistyped once) still gets its attempts, and signing in clears its own counts: the owner is never
//!   locked out from an address that has not failed.
//!
//! An attempt is counted against its address before its password is checked (a *claim*), so a burst of
//! concurrent guesses gets no more than the limits either. The email's day counts failures only: an
//! address within its grace has its failure counted after the check, and an address past it takes its
//! place in the day before the check (a claim too, so concurrent guesses at the day's edge get exactly
//! the places left), which a right password gives back. An unknown email is counted exactly like a
//! known one, and a success resets only the counts of the address it came from and leaves the email's
//! day as it was, so no answer depends on whether an account exists or whether its owner signed in
//! meanwhile.
//!
//! The rules are [`LockoutPolicy`]'s and [`Protection`]'s pure functions; [`AttemptStore`] keeps the
//! counts. Its DynamoDB implementation makes every change a conditional `UpdateItem`, so concurrent
//! attempts each count once and none slips past a limit between a read and a write.

pub mod dynamo;
pub mod memory;

use std::future::Future;
use std::sync::Arc;

use crate::validate::Email;

/// Which count an attempts item holds: its partition key. Emails never contain a space, so the parts
/// cannot run together.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CounterKey(String);

impl CounterKey {
    /// Attempts at `email` from `source` (an IP address) in the current window.
    pub fn address(email: &Email, source: &str) -> CounterKey {
        CounterKey(format!("address {} {source}", email.as_str()))
    }

    /// Attempts at `email` from `source` in the current day.
    pub fn address_day(email: &Email, source: &str) -> CounterKey {
        CounterKey(format!("address-day {} {source}", email.as_str()))
    }

    /// Attempts at `email` from anywhere in the current day.
    pub fn email_day(email: &Email) -> CounterKey {
        CounterKey(format!("email-day {}", email.as_str()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A day, for the daily bounds: a rolling 24 hours from the first attempt counted.
pub const DAY_SECONDS: u64 = 86_400;

/// The stage's `lockout` setting: how many sign-in attempts each count allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Protection {
    /// Attempts from one address at one email within the window that lock the pair.
    pub max_failures: u32,
    pub window_seconds: u64,
    /// How long a locked pair stays locked.
    pub cooldown_seconds: u64,
    /// Attempts from one address at one email in a day.
    pub daily_per_address: u32,
    /// Failed attempts at one email from every address in a day, after which the addresses that have
    /// used their grace are refused for the rest of the day.
    pub daily_per_email: u32,
}

impl Protection {
    /// The count per email and address, within the window.
    pub fn address(&self) -> LockoutPolicy {
        LockoutPolicy {
            max_failures: self.max_failures,
            window_seconds: self.window_seconds,
            cooldown_seconds: self.cooldown_seconds,
        }
    }

    /// The count per email and address, in a day; full, it locks the pair until the day is over.
    pub fn address_day(&self) -> LockoutPolicy {
        LockoutPolicy {
            max_failures: self.daily_per_address,
            window_seconds: DAY_SECONDS,
            cooldown_seconds: DAY_SECONDS,
        }
    }

    /// The count per email, in a day.
    pub fn email_day(&self) -> LockoutPolicy {
        LockoutPolicy { max_failures: self.daily_per_email, window_seconds: DAY_SECONDS, cooldown_seconds: DAY_SECONDS }
    }
}

/// An attempt let through: what the address's counts say after counting it, and the place it took in
/// the email's day when it was past its grace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    address: Attempts,
    address_day: Attempts,
    email_day: Option<Attempts>,
}

/// Attempts an address may still make at an email whose day is full: a few, so that an owner who
/// mistypes once or twice from their own address is not held until the day is over.
pub const GRACE_ATTEMPTS: u32 = 3;

/// Counts an attempt at `email` from `source` at `now` against the address's counts, before the
/// password is checked, and consults the email's day; `Ok(Err(seconds))` when one of them refuses it.
pub async fn admit<A: AttemptStore>(
    store: &A,
    protection: &Protection,
    email: &Email,
    source: &str,
    now: u64,
) -> Result<Result<Admitted, u64>, AttemptsError> {
    let address = match store.claim(&CounterKey::address(email, source), now, &protection.address()).await? {
        Ok(counted) => counted,
        Err(seconds) => return Ok(Err(seconds)),
    };
    let address_day = match store.claim(&CounterKey::address_day(email, source), now, &protection.address_day()).await?
    {
        Ok(counted) => counted,
        Err(seconds) => return Ok(Err(seconds)),
    };
    // The email's day counts failures only (a success gives back its place), and binds only addresses
    // that have used their grace today. Such an address's attempt takes its place in the day before its
    // password is checked, in one conditional write: of any number of concurrent attempts, no more get a
    // password check than the day has places left.
    if address_day.failures <= GRACE_ATTEMPTS {
        return Ok(Ok(Admitted { address, address_day, email_day: None }));
    }
    match store.claim(&CounterKey::email_day(email), now, &protection.email_day()).await? {
        Ok(email_day) => Ok(Ok(Admitted { address, address_day, email_day: Some(email_day) })),
        Err(seconds) => Ok(Err(seconds)),
    }
}

/// After a wrong password: counts the failure in the email's day, and locks each count it filled.
/// Returns whether one was locked.
pub async fn failed<A: AttemptStore>(
    store: &A,
    protection: &Protection,
    email: &Email,
    source: &str,
    admitted: &Admitted,
    now: u64,
) -> Result<bool, AttemptsError> {
    // An attempt past its grace counted its failure in the email's day when it was admitted.
    let email_day = match admitted.email_day {
        Some(reserved) => Some(reserved),
        None => store.claim(&CounterKey::email_day(email), now, &protection.email_day()).await?.ok(),
    };
    let counts = [
        (CounterKey::address(email, source), protection.address(), Some(admitted.address)),
        (CounterKey::address_day(email, source), protection.address_day(), Some(admitted.address_day)),
        (CounterKey::email_day(email), protection.email_day(), email_day),
    ];
    let mut locked = false;
    for (key, policy, counted) in counts {
        if counted.is_some_and(|c| policy.locks(c.failures)) {
            store.lock(&key, now, &policy).await?;
            locked = true;
        }
    }
    Ok(locked)
}

/// After a right password: the counts of this address at this email start again, and a place it took in
/// the email's day is given back: the day counts failures only, and a success must not change what
/// anyone else is told.
pub async fn succeeded<A: AttemptStore>(
    store: &A,
    email: &Email,
    source: &str,
    admitted: &Admitted,
) -> Result<(), AttemptsError> {
    // Each is tried whatever the others did; the first failure is reported.
    let address = store.reset(&CounterKey::address(email, source)).await;
    let address_day = store.reset(&CounterKey::address_day(email, source)).await;
    let email_day = match admitted.email_day {
        Some(reserved) => store.release(&CounterKey::email_day(email), reserved.window_start).await,
        None => Ok(()),
    };
    address.and(address_day).and(email_day)
}

/// After a password reset completed from `source`: that address's counts at `email` start again, as after
/// a right password. The email's day, which binds the other addresses that tried it, is left: a reset
/// proves the mailbox, not that those addresses were the owner's.
pub async fn cleared<A: AttemptStore>(store: &A, email: &Email, source: &str) -> Result<(), AttemptsError> {
    let address = store.reset(&CounterKey::address(email, source)).await;
    let address_day = store.reset(&CounterKey::address_day(email, source)).await;
    address.and(address_day)
}

/// When one count locks, from [`Protection`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures within the window that lock the count.
    pub max_failures: u32,
    /// How long failures are counted together, from the first of them.
    pub window_seconds: u64,
    /// How long a locked count stays locked.
    pub cooldown_seconds: u64,
}

/// What claiming an attempt decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The attempt is counted; the record after counting it.
    Count(Attempts),
    /// The email is locked for this many more seconds.
    Locked(u64),
    /// The window is full but the lock was not written (its writer failed): lock it now.
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

    /// Whether this many failures lock the count.
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

    /// The record of a count locked at `now`: refused until the cooldown ends, then counted afresh in
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

/// Sign-in attempts per [`CounterKey`].
pub trait AttemptStore: Send + Sync {
    /// The record for `key`, read consistently.
    fn get(&self, key: &CounterKey) -> impl Future<Output = Result<Option<Attempts>, AttemptsError>> + Send;

    /// Counts an attempt at `now` before its password is checked, as [`LockoutPolicy::claim`] says,
    /// atomically: of any number of concurrent claims at most the limit succeed. `Ok(Err(seconds))`
    /// means the email is locked for that long (a full window is locked here).
    fn claim(
        &self,
        key: &CounterKey,
        now: u64,
        policy: &LockoutPolicy,
    ) -> impl Future<Output = Result<Result<Attempts, u64>, AttemptsError>> + Send;

    /// Locks `key` at `now` ([`LockoutPolicy::locked`]); an existing lock is never shortened.
    fn lock(
        &self,
        key: &CounterKey,
        now: u64,
        policy: &LockoutPolicy,
    ) -> impl Future<Output = Result<(), AttemptsError>> + Send;

    /// After a successful sign-in: no failures, no lock.
    fn reset(&self, key: &CounterKey) -> impl Future<Output = Result<(), AttemptsError>> + Send;

    /// Gives back one attempt [`AttemptStore::claim`] counted in the window that began at `window_start`
    /// (a reservation the password turned out right for); nothing when the window has moved on.
    fn release(&self, key: &CounterKey, window_start: u64) -> impl Future<Output = Result<(), AttemptsError>> + Send;
}

/// A shared store is a store, so a test can look at the counts a handler wrote.
impl<T: AttemptStore + ?Sized> AttemptStore for Arc<T> {
    fn get(&self, key: &CounterKey) -> impl Future<Output = Result<Option<Attempts>, AttemptsError>> + Send {
        (**self).get(key)
    }

    fn claim(
        &self,
        key: &CounterKey,
        now: u64,
        policy: &LockoutPolicy,
    ) -> impl Future<Output = Result<Result<Attempts, u64>, AttemptsError>> + Send {
        (**self).claim(key, now, policy)
    }

    fn lock(
        &self,
        key: &CounterKey,
        now: u64,
        policy: &LockoutPolicy,
    ) -> impl Future<Output = Result<(), AttemptsError>> + Send {
        (**self).lock(key, now, policy)
    }

    fn reset(&self, key: &CounterKey) -> impl Future<Output = Result<(), AttemptsError>> + Send {
        (**self).reset(key)
    }

    fn release(&self, key: &CounterKey, window_start: u64) -> impl Future<Output = Result<(), AttemptsError>> + Send {
        (**self).release(key, window_start)
    }
}

#[cfg(test)]
mod tests;
