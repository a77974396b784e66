//! An in-memory [`AttemptStore`] for tests: one lock around the whole map, so each update is atomic
//! as DynamoDB's conditional writes are.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{AttemptStore, Attempts, AttemptsError, Claim, CounterKey, LockoutPolicy};

#[derive(Debug, Default)]
pub struct MemoryAttempts {
    records: Mutex<BTreeMap<CounterKey, Attempts>>,
    unavailable: AtomicBool,
}

impl MemoryAttempts {
    pub fn new() -> MemoryAttempts {
        MemoryAttempts::default()
    }

    /// The record of `key`, without going through the trait.
    pub fn peek(&self, key: &CounterKey) -> Option<Attempts> {
        self.records().get(key).copied()
    }

    /// Makes every call fail with [`AttemptsError::Unavailable`], as during a DynamoDB outage.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    fn records(&self) -> MutexGuard<'_, BTreeMap<CounterKey, Attempts>> {
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
    async fn get(&self, key: &CounterKey) -> Result<Option<Attempts>, AttemptsError> {
        self.check_available()?;
        Ok(self.peek(key))
    }

    async fn claim(
        &self,
        key: &CounterKey,
        now: u64,
        policy: &LockoutPolicy,
    ) -> Result<Result<Attempts, u64>, AttemptsError> {
        self.check_available()?;
        let mut records = self.records();
        match policy.claim(records.get(key).copied(), now) {
            Claim::Count(next) => {
                records.insert(key.clone(), next);
                Ok(Ok(next))
            }
            Claim::Locked(seconds) => Ok(Err(seconds)),
            Claim::LockNow => {
                records.insert(key.clone(), policy.locked(now));
                Ok(Err(policy.cooldown_seconds))
            }
        }
    }

    async fn lock(&self, key: &CounterKey, now: u64, policy: &LockoutPolicy) -> Result<(), AttemptsError> {
        self.check_available()?;
        let locked = policy.locked(now);
        let mut records = self.records();
        let longer = records.get(key).and_then(|r| r.locked_until).is_none_or(|until| until < locked.window_start);
        if longer {
            records.insert(key.clone(), locked);
        }
        Ok(())
    }

    async fn reset(&self, key: &CounterKey) -> Result<(), AttemptsError> {
        self.check_available()?;
        if let Some(record) = self.records().get_mut(key) {
            record.failures = 0;
            record.locked_until = None;
        }
        Ok(())
    }

    async fn release(&self, key: &CounterKey, window_start: u64) -> Result<(), AttemptsError> {
        self.check_available()?;
        if let Some(record) = self.records().get_mut(key)
            && record.window_start == window_start
            && record.failures > 0
        {
            record.failures -= 1;
        }
        Ok(())
    }
}
