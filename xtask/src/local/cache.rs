//! The authorizer's result cache, bounded: each entry expires at its TTL and is dropped once expired,
//! and the cache never holds more than its cap (the oldest entries go first), however many distinct
//! identity values a client sends. API Gateway's own cache is per stage and bounded the same way.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::Value;

/// `(authorizer id, identity source values)`.
pub type Key = (String, String);

#[derive(Debug)]
pub struct AuthorizerCache {
    /// The answer and when it expires.
    entries: HashMap<Key, (Instant, Value)>,
    cap: usize,
}

impl AuthorizerCache {
    pub fn new(cap: usize) -> AuthorizerCache {
        AuthorizerCache { entries: HashMap::new(), cap: cap.max(1) }
    }

    /// The cached answer for `key` at `now`, if it has not expired.
    pub fn get(&mut self, key: &Key, now: Instant) -> Option<Value> {
        match self.entries.get(key) {
            Some((expires, value)) if *expires > now => Some(value.clone()),
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `value` for `ttl` from `now`. A full cache first drops what has expired, then its oldest.
    pub fn insert(&mut self, key: Key, value: Value, ttl: Duration, now: Instant) {
        if ttl.is_zero() {
            return;
        }
        if self.entries.len() >= self.cap && !self.entries.contains_key(&key) {
            self.entries.retain(|_, (expires, _)| *expires > now);
            while self.entries.len() >= self.cap {
                let oldest = self.entries.iter().min_by_key(|(_, (expires, _))| *expires).map(|(k, _)| k.clone());
                match oldest {
                    Some(k) => self.entries.remove(&k),
                    None => break,
                };
            }
        }
        self.entries.insert(key, (now + ttl, value));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attack_distinct_identity_values_cannot_grow_the_cache_past_its_cap() {
        let mut cache = AuthorizerCache::new(100);
        let now = Instant::now();
        for i in 0..2_500 {
            cache.insert(("jwt".into(), format!("Bearer junk-{i}")), Value::Null, Duration::from_secs(300), now);
        }
        assert_eq!(cache.len(), 100);
        // The newest are kept.
        assert!(cache.get(&("jwt".into(), "Bearer junk-2499".into()), now).is_some());
    }

    #[test]
    fn entries_expire_at_their_ttl_and_expired_ones_are_dropped_first() {
        let mut cache = AuthorizerCache::new(2);
        let now = Instant::now();
        let ttl = Duration::from_secs(10);
        cache.insert(("a".into(), "1".into()), Value::from(1), ttl, now);
        assert_eq!(cache.get(&("a".into(), "1".into()), now + Duration::from_secs(9)), Some(Value::from(1)));
        assert_eq!(cache.get(&("a".into(), "1".into()), now + ttl), None, "expired at its TTL");
        assert!(cache.is_empty(), "and dropped");
        cache.insert(("a".into(), "2".into()), Value::from(2), ttl, now);
        cache.insert(("a".into(), "3".into()), Value::from(3), Duration::from_secs(100), now);
        // Full: the expired entry goes before any live one.
        cache.insert(("a".into(), "4".into()), Value::from(4), ttl, now + Duration::from_secs(20));
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&("a".into(), "3".into()), now + Duration::from_secs(20)).is_some());
        // A zero TTL caches nothing.
        let mut off = AuthorizerCache::new(2);
        off.insert(("a".into(), "1".into()), Value::Null, Duration::ZERO, now);
        assert!(off.is_empty());
    }
}
