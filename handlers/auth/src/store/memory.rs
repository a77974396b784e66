//! An in-memory [`UserStore`] for tests, atomic like DynamoDB's conditional write.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use super::{CreateOutcome, StoreError, StoredUser, UserStore};
use crate::validate::Email;

#[derive(Debug, Default)]
pub struct MemoryStore {
    users: Mutex<BTreeMap<Email, StoredUser>>,
    unavailable: AtomicBool,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// Writes a row unconditionally, as someone with direct write access to the table could: tests use
    /// it to plant tampered rows.
    pub fn put_unchecked(&self, user: StoredUser) {
        self.lock().insert(user.email.clone(), user);
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Makes every call fail with [`StoreError::Unavailable`], as during a DynamoDB outage.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Email, StoredUser>> {
        self.users.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_available(&self) -> Result<(), StoreError> {
        if self.unavailable.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("the fake table is switched off".into()))
        } else {
            Ok(())
        }
    }
}

impl UserStore for MemoryStore {
    async fn create(&self, user: &StoredUser) -> Result<CreateOutcome, StoreError> {
        self.check_available()?;
        let mut users = self.lock();
        if users.contains_key(&user.email) {
            return Ok(CreateOutcome::AlreadyExists);
        }
        users.insert(user.email.clone(), user.clone());
        Ok(CreateOutcome::Created)
    }

    async fn get(&self, email: &Email) -> Result<Option<StoredUser>, StoreError> {
        self.check_available()?;
        Ok(self.lock().get(email).cloned())
    }

    async fn set_password(&self, user: &StoredUser) -> Result<bool, StoreError> {
        self.check_available()?;
        let mut users = self.lock();
        let Some(stored) = users.get_mut(&user.email) else { return Ok(false) };
        stored.encrypted_hash.clone_from(&user.encrypted_hash);
        stored.normalized = user.normalized;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(email: &str, hash: &[u8]) -> StoredUser {
        let email = Email::parse(email).unwrap_or_else(|e| panic!("{e}"));
        StoredUser { email, encrypted_hash: hash.to_vec(), created_at: 1, normalized: true }
    }

    #[test]
    fn create_is_first_writer_wins() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|e| panic!("{e}"));
        runtime.block_on(async {
            let store = MemoryStore::new();
            assert_eq!(store.create(&user("a@b.co", b"first")).await, Ok(CreateOutcome::Created));
            assert_eq!(store.create(&user("a@b.co", b"second")).await, Ok(CreateOutcome::AlreadyExists));
            let email = Email::parse("a@b.co").unwrap_or_else(|e| panic!("{e}"));
            let stored = store.get(&email).await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(stored.map(|u| u.encrypted_hash), Some(b"first".to_vec()));
            assert_eq!(store.len(), 1);
        });
    }

    #[test]
    fn concurrent_creates_of_one_email_yield_one_created() {
        let store = std::sync::Arc::new(MemoryStore::new());
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    let runtime =
                        tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|e| panic!("{e}"));
                    runtime.block_on(store.create(&user("race@example.com", &[i])))
                })
            })
            .collect();
        let created = threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|_| panic!("a thread panicked")))
            .filter(|outcome| *outcome == Ok(CreateOutcome::Created))
            .count();
        assert_eq!(created, 1);
    }

    #[test]
    fn debug_hides_the_encrypted_hash() {
        let debug = format!("{:?}", user("a@b.co", b"ciphertext-bytes"));
        assert!(!debug.contains("99, 105"), "{debug}");
        assert!(debug.contains("<16 bytes>"), "{debug}");
    }
}
