//! An in-memory [`AttemptStore`] for tests: one lock around the whole map, so each update is atomic
//! as DynamoDB's conditional writes are.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{AttemptStore, Attempts, AttemptsError, LockoutPolicy};
use crate::validate::Email;

#[derive(Debug, Default)]
pub struct MemoryAttempts {
    records: Mutex<BTreeMap<Email, Attempts>>,
    unavailable: AtomicBool,
}

impl MemoryAttempts {
    pub fn new() -> MemoryAttempts {
        MemoryAttempts::default()
    }

    /// The record of `email`, without going through the trait.
    pub fn peek(&self, email: &Email) -> Option<Attempts> {
        self.lock().get(email).copied()
    }

    /// Makes every call fail with [`AttemptsError::Unavailable`], as during a DynamoDB outage.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<Email, Attempts>> {
        self.records.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_available(&self) -> Result<(), AttemptsError> {
        if self.unavailable.load(Ordering::SeqCst) {
            Err(AttemptsError::Unavailable("the fake attempts table is switched off".into()))
        } else {
            Ok(())
        }
    }
}

impl AttemptStore for MemoryAttempts {
    async fn get(&self, email: &Email) -> Result<Option<Attempts>, AttemptsError> {
        self.check_available()?;
        Ok(self.peek(email))
    }

    async fn record_failure(&self, email: &Email, now: u64, policy: &LockoutPolicy) -> Result<Attempts, AttemptsError> {
        self.check_available()?;
        let mut records = self.lock();
        let next = policy.after_failure(records.get(email).copied(), now);
        records.insert(email.clone(), next);
        Ok(next)
    }

    async fn reset(&self, email: &Email) -> Result<(), AttemptsError> {
        self.check_available()?;
        if let Some(record) = self.lock().get_mut(email) {
            record.failures = 0;
            record.locked_until = None;
        }
        Ok(())
    }
}
