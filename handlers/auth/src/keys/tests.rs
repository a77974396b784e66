//! Tests of the key cache's fetch-once and refresh-at-most-once-a-minute rules.

use super::fake::FakeSecretSource;
use super::*;

const KEY_A: &[u8] = b"a-secret-of-sixty-four-alphanumeric-characters-aaaaaaaaaaaaaaaaa";
const KEY_B: &[u8] = b"b-secret-of-sixty-four-alphanumeric-characters-bbbbbbbbbbbbbbbbb";
const KEY_C: &[u8] = b"c-secret-of-sixty-four-alphanumeric-characters-ccccccccccccccccc";
const T0: u64 = 1_700_000_000;

fn cache() -> KeyCache<FakeSecretSource> {
    KeyCache::new(FakeSecretSource::new("v1", KEY_A))
}

async fn get(cache: &KeyCache<FakeSecretSource>, now: u64) -> Arc<KeyRing> {
    cache.get(now).await.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn fetches_once_then_serves_from_memory() {
    let cache = cache();
    assert_eq!(cache.source().fetch_count(), 0, "nothing is fetched before first use");
    let first = get(&cache, T0).await;
    assert_eq!(first.current_kid(), "v1");
    assert_eq!(first.previous_kid(), None);
    for later in [T0 + 1, T0 + 3600, T0 + 86_400 * 30] {
        let again = get(&cache, later).await;
        assert!(Arc::ptr_eq(&first, &again));
    }
    assert_eq!(cache.source().fetch_count(), 1);
}

#[tokio::test]
async fn unknown_kid_refreshes_at_most_once_a_minute() {
    let cache = cache();
    get(&cache, T0).await;
    cache.source().rotate("v2", KEY_B);

    // The first unknown kid fetches at once, even right after the cold-start fetch: a token signed
    // just after a rotation is not denied for the instance's first minute.
    let fresh = cache.refresh_for_unknown_kid(T0 + 1).await.unwrap_or_else(|e| panic!("{e}"));
    let fresh = fresh.unwrap_or_else(|| panic!("no refresh for the first unknown kid"));
    assert_eq!(fresh.current_kid(), "v2");
    assert_eq!(fresh.previous_kid(), Some("v1"), "tokens signed before the rotation stay valid");
    assert_eq!(cache.source().fetch_count(), 2);
    assert_eq!(get(&cache, T0 + 2).await.current_kid(), "v2", "the refreshed ring is kept");

    // A flood of unknown kids within the minute after costs nothing more.
    for t in T0 + 1..T0 + 61 {
        assert!(cache.refresh_for_unknown_kid(t).await.unwrap_or_else(|e| panic!("{e}")).is_none());
    }
    assert_eq!(cache.source().fetch_count(), 2);
    assert!(cache.refresh_for_unknown_kid(T0 + 61).await.unwrap_or_else(|e| panic!("{e}")).is_some());
    assert_eq!(cache.source().fetch_count(), 3);
}

#[tokio::test]
async fn a_failed_refresh_also_waits_a_minute_and_keeps_the_old_ring() {
    let cache = cache();
    get(&cache, T0).await;
    cache.source().set_unavailable(true);
    assert!(matches!(cache.refresh_for_unknown_kid(T0 + 60).await, Err(SecretError::Unavailable(_))));
    // Too soon to fetch again, and the last fetch failed: an error, not "nothing new".
    assert!(matches!(cache.refresh_for_unknown_kid(T0 + 61).await, Err(SecretError::Unavailable(_))));
    assert_eq!(cache.source().fetch_count(), 2);
    assert_eq!(get(&cache, T0 + 62).await.current_kid(), "v1");
    cache.source().set_unavailable(false);
    assert!(cache.refresh_for_unknown_kid(T0 + 120).await.unwrap_or_else(|e| panic!("{e}")).is_some());
    assert!(cache.refresh_for_unknown_kid(T0 + 121).await.unwrap_or_else(|e| panic!("{e}")).is_none());
}

#[tokio::test]
async fn a_failed_cold_start_fetch_is_retried_on_the_next_call() {
    let cache = cache();
    cache.source().set_unavailable(true);
    assert!(cache.get(T0).await.is_err());
    cache.source().set_unavailable(false);
    assert_eq!(get(&cache, T0 + 1).await.current_kid(), "v1");
    assert_eq!(cache.source().fetch_count(), 2);
}

#[tokio::test]
async fn max_age_refreshes_and_falls_back_to_the_cached_ring() {
    let cache = cache().with_max_age(300);
    get(&cache, T0).await;
    cache.source().rotate("v2", KEY_B);
    assert_eq!(get(&cache, T0 + 299).await.current_kid(), "v1");
    assert_eq!(get(&cache, T0 + 300).await.current_kid(), "v2");
    assert_eq!(cache.source().fetch_count(), 2);

    cache.source().rotate("v3", KEY_C);
    cache.source().set_unavailable(true);
    assert_eq!(get(&cache, T0 + 600).await.current_kid(), "v2", "an outage keeps the last good ring");
    let fetches = cache.source().fetch_count();
    assert_eq!(get(&cache, T0 + 629).await.current_kid(), "v2");
    assert_eq!(cache.source().fetch_count(), fetches, "a failed refresh is not retried for 30 s");
    assert_eq!(get(&cache, T0 + 899).await.current_kid(), "v2", "for less than twice the max age");
    assert_eq!(cache.source().fetch_count(), fetches + 1, "then it is");
    assert!(
        matches!(cache.get(T0 + 900).await, Err(SecretError::Unavailable(_))),
        "a ring twice the max age old is not used: rotated-out keys stop verifying"
    );
    cache.source().set_unavailable(false);
    assert_eq!(get(&cache, T0 + 901).await.current_kid(), "v3");
}

#[tokio::test]
async fn a_short_secret_is_refused() {
    let cache = KeyCache::new(FakeSecretSource::new("v1", b"too short"));
    assert!(matches!(cache.get(T0).await, Err(SecretError::KeyRing(KeyRingError::TooShort { len: 9, .. }))));
}

#[test]
fn secret_values_never_show_in_debug_output() {
    let source = FakeSecretSource::new("v1", KEY_A);
    source.rotate("v2", KEY_B);
    let debug = format!("{source:?}");
    assert!(!debug.contains("sixty-four"), "{debug}");
    assert!(debug.contains("v1") && debug.contains("v2"), "{debug}");
}
