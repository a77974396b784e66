//! The lockout rules, case by case, and the in-memory store that follows them.

use super::memory::MemoryAttempts;
use super::*;

const NOW: u64 = 1_700_000_000;
const POLICY: LockoutPolicy = LockoutPolicy { max_failures: 3, window_seconds: 900, cooldown_seconds: 600 };

fn failures(n: u32, at: u64) -> Option<Attempts> {
    (0..n).fold(None, |record, _| Some(POLICY.after_failure(record, at)))
}

#[test]
fn failures_in_one_window_add_up_and_the_limit_locks_for_the_cooldown() {
    let two = failures(2, NOW);
    assert_eq!(two, Some(Attempts { failures: 2, window_start: NOW, locked_until: None }));
    assert_eq!(POLICY.locked_for(two.as_ref(), NOW), None, "below the limit nothing is locked");
    let three = POLICY.after_failure(two, NOW + 10);
    assert_eq!(three.locked_until, Some(NOW + 10 + 600));
    assert_eq!(POLICY.locked_for(Some(&three), NOW + 10), Some(600));
    assert_eq!(POLICY.locked_for(Some(&three), NOW + 609), Some(1));
    assert_eq!(POLICY.locked_for(Some(&three), NOW + 610), None, "the lock ends with the cooldown");
}

#[test]
fn a_failure_after_the_window_starts_a_new_one() {
    let two = failures(2, NOW);
    let later = POLICY.after_failure(two, NOW + 900);
    assert_eq!(later, Attempts { failures: 1, window_start: NOW + 900, locked_until: None });
    let just_inside = POLICY.after_failure(two, NOW + 899);
    assert_eq!(just_inside.failures, 3);
}

#[test]
fn a_lock_is_never_shortened() {
    let locked = Attempts { failures: 5, window_start: NOW, locked_until: Some(NOW + 5000) };
    assert_eq!(POLICY.after_failure(Some(locked), NOW + 1).locked_until, Some(NOW + 5000));
}

#[test]
fn the_item_lives_past_its_window_and_its_lock() {
    assert!(POLICY.expires_at(NOW) > NOW + POLICY.window_seconds.max(POLICY.cooldown_seconds));
}

#[test]
fn only_a_record_with_failures_or_a_lock_needs_a_reset() {
    assert!(!POLICY.needs_reset(None));
    assert!(!POLICY.needs_reset(Some(&Attempts { failures: 0, window_start: NOW, locked_until: None })));
    assert!(POLICY.needs_reset(failures(1, NOW).as_ref()));
}

fn email(s: &str) -> Email {
    Email::parse(s).unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn the_memory_store_counts_per_email_and_resets() {
    let store = MemoryAttempts::new();
    let (alice, bob) = (email("alice@example.com"), email("bob@example.com"));
    for _ in 0..3 {
        store.record_failure(&alice, NOW, &POLICY).await.unwrap_or_else(|e| panic!("{e}"));
    }
    let record = store.get(&alice).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(POLICY.locked_for(record.as_ref(), NOW).is_some());
    assert_eq!(store.get(&bob).await.unwrap_or_else(|e| panic!("{e}")), None, "another email is untouched");
    store.reset(&alice).await.unwrap_or_else(|e| panic!("{e}"));
    let record = store.get(&alice).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(record.map(|r| (r.failures, r.locked_until)), Some((0, None)));
}
