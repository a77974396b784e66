//! The JWT signing secret: where its versions come from, and the cache that holds them across warm
//! invocations.
//!
//! The secret is read once per cold start. After that, it is refreshed when a token names a `kid` the
//! ring does not know (the secret was rotated since the cold start), at most once every
//! [`UNKNOWN_KID_REFRESH_SECONDS`], so a flood of tokens with made-up key ids costs at most one Secrets
//! Manager call a minute; and when the ring is older than [`MAX_AGE_SECONDS`], so neither a warm
//! signin signs, nor a warm authorizer verifies, with a version that rotations have retired. If that
//! refresh fails the old ring serves on, but only until it is twice the maximum age: a rotated-out key
//! stops verifying within a bounded time even while Secrets Manager is unreachable.

pub mod fake;
pub mod secrets_manager;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::token::{KeyRing, KeyRingError};

/// Secrets Manager's staging label of the version that signs new tokens.
pub const CURRENT_STAGE: &str = "AWSCURRENT";
/// Secrets Manager's staging label of the version before the last rotation.
pub const PREVIOUS_STAGE: &str = "AWSPREVIOUS";
/// The shortest time between two refreshes caused by unknown key ids.
pub const UNKNOWN_KID_REFRESH_SECONDS: u64 = 60;
/// How long signin and the authorizer use a ring before reading the secret again.
pub const MAX_AGE_SECONDS: u64 = 300;

pub use crate::token::SecretVersion;

/// The versions a token may be signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretVersions {
    pub current: SecretVersion,
    /// Absent until the secret is first rotated; that is normal.
    pub previous: Option<SecretVersion>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Reading the secret failed; a later attempt may succeed.
    #[error("reading the signing secret failed: {0}")]
    Unavailable(String),
    /// The secret was read but cannot be used as a key.
    #[error("the signing secret is unusable: {0}")]
    Invalid(String),
    #[error(transparent)]
    KeyRing(#[from] KeyRingError),
}

/// Where the signing secret's versions come from.
pub trait SecretSource: Send + Sync {
    /// The current version and, if there is one, the previous version.
    fn fetch(&self) -> impl Future<Output = Result<SecretVersions, SecretError>> + Send;
}

/// A shared source is a source, so a test can rotate the secret that a handler's cache reads.
impl<T: SecretSource + ?Sized> SecretSource for Arc<T> {
    fn fetch(&self) -> impl Future<Output = Result<SecretVersions, SecretError>> + Send {
        (**self).fetch()
    }
}

/// The key ring, fetched from a [`SecretSource`] on first use and kept across invocations.
pub struct KeyCache<S> {
    source: S,
    max_age: Option<u64>,
    state: tokio::sync::Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    ring: Option<Arc<KeyRing>>,
    /// When the ring in `ring` was fetched.
    fetched_at: u64,
    /// When an unknown key id last made the cache fetch, successfully or not. The cold-start fetch
    /// does not count: a token signed just after a rotation must not be denied (and that Deny cached
    /// by API Gateway) because the function happened to start less than a minute before.
    refreshed_at: Option<u64>,
    /// Whether that refresh failed: until the next one may run, an unknown key id is then an error
    /// (nothing cached), not a verdict on the token.
    refresh_failed: bool,
    /// When a max-age refresh last failed: during an outage a stale ring is served without asking
    /// Secrets Manager again for [`FAILED_REFRESH_BACKOFF_SECONDS`], so an outage or a throttle does
    /// not cost every invocation a call that times out.
    failed_at: Option<u64>,
}

/// How long a failed max-age refresh is not retried while the stale ring may still serve.
pub const FAILED_REFRESH_BACKOFF_SECONDS: u64 = 30;

impl<S: fmt::Debug> fmt::Debug for KeyCache<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyCache").field("source", &self.source).field("max_age", &self.max_age).finish_non_exhaustive()
    }
}

impl<S: SecretSource> KeyCache<S> {
    /// A cache that fetches once and then refreshes only for unknown key ids.
    pub fn new(source: S) -> KeyCache<S> {
        KeyCache { source, max_age: None, state: tokio::sync::Mutex::new(CacheState::default()) }
    }

    /// A cache that also refreshes a ring older than [`MAX_AGE_SECONDS`]: what every function but the
    /// authorizer and signin (which name their own bound) uses.
    pub fn aged(source: S) -> KeyCache<S> {
        KeyCache::new(source).with_max_age(MAX_AGE_SECONDS)
    }

    /// Also refresh, on the next [`KeyCache::get`], a ring older than `seconds`. If that refresh fails
    /// the older ring is used while it is younger than twice `seconds`, and then the error returned.
    pub fn with_max_age(mut self, seconds: u64) -> KeyCache<S> {
        self.max_age = Some(seconds);
        self
    }

    pub fn source(&self) -> &S {
        &self.source
    }

    /// The key ring at Unix time `now`, fetched on first use (and when older than the maximum age).
    pub async fn get(&self, now: u64) -> Result<Arc<KeyRing>, SecretError> {
        let mut state = self.state.lock().await;
        let Some(ring) = state.ring.clone() else {
            return self.load(&mut state, now).await;
        };
        let stale = self.max_age.is_some_and(|max| now.saturating_sub(state.fetched_at) >= max);
        if !stale {
            return Ok(ring);
        }
        let age = now.saturating_sub(state.fetched_at);
        let usable = self.max_age.is_some_and(|max| age < max.saturating_mul(2));
        if usable && state.failed_at.is_some_and(|at| now < at.saturating_add(FAILED_REFRESH_BACKOFF_SECONDS)) {
            return Ok(ring);
        }
        match self.load(&mut state, now).await {
            Ok(fresh) => Ok(fresh),
            Err(error) => {
                state.failed_at = Some(now);
                if !usable {
                    return Err(error);
                }
                tracing::warn!(%error, age, "refreshing the signing secret failed; using the cached versions");
                Ok(ring)
            }
        }
    }

    /// Called when a token names a key id the ring lacks: fetches again unless an unknown key id
    /// already did less than [`UNKNOWN_KID_REFRESH_SECONDS`] ago. `Ok(None)` means "too soon, use
    /// what you have".
    pub async fn refresh_for_unknown_kid(&self, now: u64) -> Result<Option<Arc<KeyRing>>, SecretError> {
        let mut state = self.state.lock().await;
        if state.refreshed_at.is_some_and(|at| now < at.saturating_add(UNKNOWN_KID_REFRESH_SECONDS)) {
            if state.refresh_failed {
                return Err(SecretError::Unavailable(
                    "the last refresh for an unknown key id failed less than a minute ago".into(),
                ));
            }
            return Ok(None);
        }
        state.refreshed_at = Some(now);
        let loaded = self.load(&mut state, now).await;
        state.refresh_failed = loaded.is_err();
        loaded.map(Some)
    }

    async fn load(&self, state: &mut CacheState, now: u64) -> Result<Arc<KeyRing>, SecretError> {
        let versions = self.source.fetch().await?;
        let ring = Arc::new(KeyRing::new(&versions.current, versions.previous.as_ref())?);
        tracing::info!(current = ring.current_kid(), previous = ring.previous_kid(), "loaded the signing secret");
        state.ring = Some(ring.clone());
        state.fetched_at = now;
        state.failed_at = None;
        state.refresh_failed = false;
        Ok(ring)
    }
}

#[cfg(test)]
mod tests;
