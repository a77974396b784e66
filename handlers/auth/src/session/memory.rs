//! An in-memory [`SessionStore`] for tests: one lock around every operation, so each conditional
//! update is atomic as DynamoDB's are. It can also be told to fail, or to answer slowly.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use super::{Session, SessionError, SessionId, SessionStore, Standing};

#[derive(Debug, Default)]
pub struct MemorySessions {
    sessions: Mutex<HashMap<SessionId, (Session, u64)>>,
    valid_after: Mutex<HashMap<String, (u64, u64)>>,
    failing: AtomicBool,
    /// Reads and writes so far, for tests that count what a path costs.
    pub calls: AtomicUsize,
}

impl MemorySessions {
    pub fn new() -> MemorySessions {
        MemorySessions::default()
    }

    /// From now on every call fails as an unreachable table does.
    pub fn fail(&self) {
        self.failing.store(true, Ordering::SeqCst);
    }

    /// The stored session and its time to live, as a test inspects it.
    pub fn stored(&self, id: &SessionId) -> Option<(Session, u64)> {
        self.lock().get(id).cloned()
    }

    fn check(&self) -> Result<(), SessionError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            return Err(SessionError::Unavailable("the test made the store fail".into()));
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, (Session, u64)>> {
        self.sessions.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SessionStore for MemorySessions {
    async fn create(&self, session: &Session, expires_at: u64) -> Result<(), SessionError> {
        self.check()?;
        let mut sessions = self.lock();
        if sessions.contains_key(&session.id) {
            return Err(SessionError::Exists);
        }
        sessions.insert(session.id, (session.clone(), expires_at));
        Ok(())
    }

    async fn get(&self, id: &SessionId) -> Result<Option<Session>, SessionError> {
        self.check()?;
        Ok(self.lock().get(id).map(|(s, _)| s.clone()))
    }

    async fn rotate(
        &self,
        id: &SessionId,
        from: u64,
        next_hash: &str,
        now: u64,
        expires_at: u64,
    ) -> Result<bool, SessionError> {
        self.check()?;
        let mut sessions = self.lock();
        match sessions.get_mut(id) {
            Some((session, ttl)) if session.generation == from && !session.revoked => {
                session.generation = from + 1;
                session.previous_hash = Some(std::mem::replace(&mut session.token_hash, next_hash.to_owned()));
                session.last_used = now;
                session.rotated_at = now;
                *ttl = expires_at;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn revoke(&self, id: &SessionId) -> Result<bool, SessionError> {
        self.check()?;
        match self.lock().get_mut(id) {
            Some((session, _)) => {
                session.revoked = true;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn standing(&self, id: &SessionId) -> Result<Option<Standing>, SessionError> {
        self.check()?;
        Ok(self.lock().get(id).map(|(s, expires_at)| Standing {
            user: s.user.clone(),
            revoked: s.revoked,
            expires_at: *expires_at,
        }))
    }

    async fn valid_after(&self, user: &str) -> Result<Option<u64>, SessionError> {
        self.check()?;
        let users = self.valid_after.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(users.get(user).map(|(at, _)| *at))
    }

    async fn end_all(&self, user: &str, now: u64, expires_at: u64) -> Result<(), SessionError> {
        self.check()?;
        let mut users = self.valid_after.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = users.entry(user.to_owned()).or_insert((now, expires_at));
        if entry.0 <= now {
            *entry = (now, expires_at.max(entry.1));
        }
        Ok(())
    }
}
