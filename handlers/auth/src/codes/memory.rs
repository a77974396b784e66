//! The [`CodeStore`] in memory, for unit tests and fakes: one lock makes each operation atomic, as
//! DynamoDB's conditions do.

use std::collections::HashMap;
use std::sync::Mutex;

use super::quota::{MailQuota, Window};
use super::{CodeError, CodeStore, Issued, Kept, Purpose};

#[derive(Debug, Default)]
pub struct MemoryCodes {
    items: Mutex<HashMap<(Purpose, String), Kept>>,
    counters: Mutex<HashMap<String, u32>>,
}

impl MailQuota for MemoryCodes {
    async fn take(&self, window: &Window) -> Result<bool, CodeError> {
        let mut counters =
            self.counters.lock().map_err(|_| CodeError::Unavailable("the memory store's lock".into()))?;
        let count = counters.entry(window.key.clone()).or_default();
        if *count >= window.limit {
            return Ok(false);
        }
        *count += 1;
        Ok(true)
    }
}

impl MemoryCodes {
    pub fn new() -> MemoryCodes {
        MemoryCodes::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<(Purpose, String), Kept>) -> T) -> Result<T, CodeError> {
        let mut items = self.items.lock().map_err(|_| CodeError::Unavailable("the memory store's lock".into()))?;
        Ok(f(&mut items))
    }
}

impl CodeStore for MemoryCodes {
    async fn put(&self, email: &str, issued: &Issued, payload: Option<&[u8]>) -> Result<(), CodeError> {
        let kept = Kept { issued: issued.clone(), payload: payload.map(<[u8]>::to_vec) };
        self.with(|items| {
            items.insert((issued.purpose, email.to_owned()), kept);
        })
    }

    async fn get(&self, email: &str, purpose: Purpose) -> Result<Option<Kept>, CodeError> {
        self.with(|items| items.get(&(purpose, email.to_owned())).cloned())
    }

    async fn spend_try(&self, email: &str, purpose: Purpose, tag: &[u8; 32]) -> Result<bool, CodeError> {
        self.with(|items| match items.get_mut(&(purpose, email.to_owned())) {
            Some(kept) if kept.issued.tag == *tag && kept.issued.tries_left > 0 => {
                kept.issued.tries_left -= 1;
                true
            }
            _ => false,
        })
    }

    async fn consume(
        &self,
        email: &str,
        purpose: Purpose,
        tag: &[u8; 32],
        now: u64,
    ) -> Result<Option<Option<Vec<u8>>>, CodeError> {
        self.with(|items| {
            let key = (purpose, email.to_owned());
            let live = items
                .get(&key)
                .is_some_and(|k| k.issued.tag == *tag && k.issued.tries_left > 0 && now < k.issued.expires_at);
            if live { items.remove(&key).map(|k| k.payload) } else { None }
        })
    }
}
