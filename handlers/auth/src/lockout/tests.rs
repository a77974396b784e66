//! The lockout rules, case by case, and the in-memory store that follows them.

use super::memory::MemoryAttempts;
use super::*;

const NOW: u64 = 1_700_000_000;
const POLICY: LockoutPolicy = LockoutPolicy { max_failures: 3, window_seconds: 900, cooldown_seconds: 600 };

fn counted(claim: Claim) -> Attempts {
    match claim {
        Claim::Count(a) => a,
        other => panic!("not counted: {other:?}"),
    }
}

#[test]
fn attempts_in_one_window_add_up_to_the_limit_and_no_further() {
    let one = counted(POLICY.claim(None, NOW));
    assert_eq!(one, Attempts { failures: 1, window_start: NOW, locked_until: None });
    let three = counted(POLICY.claim(Some(counted(POLICY.claim(Some(one), NOW + 1))), NOW + 2));
    assert_eq!(three.failures, 3);
    assert!(POLICY.locks(three.failures));
    assert_eq!(POLICY.claim(Some(three), NOW + 3), Claim::LockNow, "a full window admits no fourth attempt");
}

#[test]
fn a_lock_refuses_until_the_cooldown_then_counts_afresh() {
    let locked = POLICY.locked(NOW);
    assert_eq!(locked, Attempts { failures: 0, window_start: NOW + 600, locked_until: Some(NOW + 600) });
    assert_eq!(POLICY.claim(Some(locked), NOW), Claim::Locked(600));
    assert_eq!(POLICY.claim(Some(locked), NOW + 599), Claim::Locked(1));
    let after = counted(POLICY.claim(Some(locked), NOW + 600));
    assert_eq!(after.failures, 1, "the attempts before the lock no longer count");
    assert!(POLICY.lock_expires_at(NOW) > NOW + 600 + POLICY.window_seconds);
}

#[test]
fn an_attempt_after_the_window_starts_a_new_one() {
    let two = counted(POLICY.claim(Some(counted(POLICY.claim(None, NOW))), NOW));
    assert_eq!(
        counted(POLICY.claim(Some(two), NOW + 900)),
        Attempts { failures: 1, window_start: NOW + 900, locked_until: None }
    );
    assert_eq!(counted(POLICY.claim(Some(two), NOW + 899)).failures, 3);
}

#[test]
fn the_item_lives_past_its_window() {
    assert!(POLICY.expires_at(NOW) > NOW + POLICY.window_seconds.max(POLICY.cooldown_seconds));
}

fn email(s: &str) -> CounterKey {
    CounterKey::email_day(&Email::parse(s).unwrap_or_else(|e| panic!("{e}")))
}

#[tokio::test]
async fn the_memory_store_counts_per_key_locks_and_resets() {
    let store = MemoryAttempts::new();
    let (alice, bob) = (email("alice@example.com"), email("bob@example.com"));
    for _ in 0..3 {
        assert!(store.claim(&alice, NOW, &POLICY).await.unwrap_or_else(|e| panic!("{e}")).is_ok());
    }
    assert_eq!(store.claim(&alice, NOW, &POLICY).await.unwrap_or_else(|e| panic!("{e}")), Err(600), "full: locked");
    assert_eq!(store.get(&bob).await.unwrap_or_else(|e| panic!("{e}")), None, "another email is untouched");
    store.lock(&alice, NOW - 100, &POLICY).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.peek(&alice).and_then(|r| r.locked_until), Some(NOW + 600), "a lock is never shortened");
    store.reset(&alice).await.unwrap_or_else(|e| panic!("{e}"));
    let record = store.get(&alice).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(record.map(|r| (r.failures, r.locked_until)), Some((0, None)));
}

/// An address past its grace takes its place in the email's day before the check; a right password gives
/// it back (the day counts failures only), a wrong one keeps it as the failure, counted once.
#[tokio::test]
async fn a_place_taken_in_the_emails_day_is_given_back_on_success_and_counted_once_on_failure() {
    let store = MemoryAttempts::new();
    let protection = Protection {
        max_failures: 10,
        window_seconds: 900,
        cooldown_seconds: 600,
        daily_per_address: 50,
        daily_per_email: 20,
    };
    let email = Email::parse("owner@example.com").unwrap_or_else(|e| panic!("{e}"));
    let day = CounterKey::email_day(&email);
    let failures = |store: &MemoryAttempts| store.peek(&day).map_or(0, |r| r.failures);
    for _ in 0..GRACE_ATTEMPTS {
        let admitted = admit(&store, &protection, &email, "192.0.2.1", NOW).await.unwrap_or_else(|e| panic!("{e}"));
        let admitted = admitted.unwrap_or_else(|s| panic!("refused for {s} s"));
        failed(&store, &protection, &email, "192.0.2.1", &admitted, NOW).await.unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(failures(&store), GRACE_ATTEMPTS, "within grace, failures are counted after the check");
    let past = admit(&store, &protection, &email, "192.0.2.1", NOW).await.unwrap_or_else(|e| panic!("{e}"));
    let past = past.unwrap_or_else(|s| panic!("refused for {s} s"));
    assert_eq!(failures(&store), GRACE_ATTEMPTS + 1, "past its grace, the place is taken before the check");
    succeeded(&store, &email, "192.0.2.1", &past).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(failures(&store), GRACE_ATTEMPTS, "a success leaves no trace in the email's day");
    for _ in 0..=GRACE_ATTEMPTS {
        let admitted = admit(&store, &protection, &email, "192.0.2.2", NOW).await.unwrap_or_else(|e| panic!("{e}"));
        let admitted = admitted.unwrap_or_else(|s| panic!("refused for {s} s"));
        failed(&store, &protection, &email, "192.0.2.2", &admitted, NOW).await.unwrap_or_else(|e| panic!("{e}"));
    }
    assert_eq!(failures(&store), 2 * GRACE_ATTEMPTS + 1, "each failure counted once");
}
