//! An in-memory [`SecretSource`] for tests that can be rotated and counts its fetches.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use super::{SecretError, SecretSource, SecretVersion, SecretVersions};

#[derive(Debug)]
pub struct FakeSecretSource {
    versions: Mutex<SecretVersions>,
    fetches: AtomicUsize,
    unavailable: AtomicBool,
}

impl FakeSecretSource {
    /// A secret with one version, as after creation.
    pub fn new(version_id: &str, value: &[u8]) -> FakeSecretSource {
        let current = SecretVersion { version_id: version_id.to_owned(), value: value.to_vec() };
        FakeSecretSource {
            versions: Mutex::new(SecretVersions { current, previous: None }),
            fetches: AtomicUsize::new(0),
            unavailable: AtomicBool::new(false),
        }
    }

    /// Makes `version_id` current and the current version previous, as a rotation does.
    pub fn rotate(&self, version_id: &str, value: &[u8]) {
        let mut versions = self.versions.lock().unwrap_or_else(PoisonError::into_inner);
        let next = SecretVersion { version_id: version_id.to_owned(), value: value.to_vec() };
        let previous = std::mem::replace(&mut versions.current, next);
        versions.previous = Some(previous);
    }

    /// How many times [`SecretSource::fetch`] was called.
    pub fn fetch_count(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// Makes every fetch fail with [`SecretError::Unavailable`].
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }
}

impl SecretSource for FakeSecretSource {
    async fn fetch(&self) -> Result<SecretVersions, SecretError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(SecretError::Unavailable("the fake secret store is switched off".into()));
        }
        Ok(self.versions.lock().unwrap_or_else(PoisonError::into_inner).clone())
    }
}
