//! The session rules case by case, and the refresh token's format.

use super::*;
use crate::keys::SecretVersion;

const SETTINGS: SessionSettings = SessionSettings::DEFAULT;
const T0: u64 = 1_800_000_000;

fn ring(id: &str, key: &[u8]) -> KeyRing {
    KeyRing::new(&SecretVersion { version_id: id.into(), value: key.to_vec() }, None).unwrap_or_else(|e| panic!("{e}"))
}

const SEED: [u8; SEED_BYTES] = [5; SEED_BYTES];

fn session(generation: u64, rotated_at: u64) -> Session {
    Session {
        id: SessionId::from_bytes([9; 16]),
        user: "a@b.co".into(),
        generation,
        created_at: T0,
        last_used: rotated_at,
        rotated_at,
        revoked: false,
        seed: SEED,
        token_hash: String::new(),
        previous_hash: None,
    }
}

#[test]
fn a_token_names_its_session_and_generation_and_only_our_key_with_its_seed_makes_one() {
    let keys = ring("v1", crate::testing::KEY_V1);
    let id = SessionId::random().unwrap_or_else(|e| panic!("{e}"));
    let text = RefreshToken::mint(&keys, &id, 7, &SEED);
    assert_eq!(text.len(), TOKEN_CHARS);
    let token = RefreshToken::parse(&text).unwrap_or_else(|| panic!("{text}"));
    assert_eq!((token.session, token.generation), (id, 7));
    assert!(token.authentic(&keys, &SEED));
    // Another stage's secret, another session's seed (the key alone is not enough), or a generation
    // changed in the token, does not verify.
    assert!(!token.authentic(&ring("v9", crate::testing::KEY_V2), &SEED));
    assert!(!token.authentic(&keys, &[6; SEED_BYTES]));
    let mut bytes = URL_SAFE_NO_PAD.decode(&text).unwrap_or_default();
    bytes[1 + ID_BYTES + 7] ^= 1;
    let forged = RefreshToken::parse(&URL_SAFE_NO_PAD.encode(&bytes)).unwrap_or_else(|| panic!("shape kept"));
    assert_eq!(forged.generation, 6);
    assert!(!forged.authentic(&keys, &SEED));
    // The previous secret still verifies tokens made before a rotation.
    let rotated = KeyRing::new(
        &SecretVersion { version_id: "v2".into(), value: crate::testing::KEY_V2.to_vec() },
        Some(&SecretVersion { version_id: "v1".into(), value: crate::testing::KEY_V1.to_vec() }),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(token.authentic(&rotated, &SEED));
    // Two sessions never share a token; the Debug form shows no tag.
    let other = SessionId::random().unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(RefreshToken::mint(&keys, &other, 7, &SEED), text);
    assert!(!format!("{token:?}").contains(&text[40..]));
}

#[test]
fn malformed_tokens_are_not_tokens() {
    let keys = ring("v1", crate::testing::KEY_V1);
    let good = RefreshToken::mint(&keys, &SessionId::from_bytes([1; 16]), 1, &SEED);
    let wrong_version = {
        let mut bytes = URL_SAFE_NO_PAD.decode(&good).unwrap_or_default();
        bytes[0] = 2;
        URL_SAFE_NO_PAD.encode(bytes)
    };
    for bad in ["", "x", &good[1..], &format!("{good}A"), &good.replace('A', "="), &wrong_version, &"é".repeat(38)] {
        assert!(RefreshToken::parse(bad).is_none(), "{bad:?}");
    }
    assert_eq!(from_hex::<16>(&SessionId::from_bytes([0xab; 16]).to_string()), Some([0xab; 16]));
    assert_eq!(from_hex::<1>("zz"), None);
    assert_eq!(from_hex::<2>("abc"), None);
    // `u8::from_str_radix` took a sign: "+f" read as 15. Only hex digits are hex.
    assert_eq!(from_hex::<1>("+f"), None);
    assert_eq!(from_hex::<2>("+f+f"), None);
    assert_eq!(from_hex::<1>(" f"), None);
}

#[test]
fn the_current_token_rotates_and_its_predecessor_gets_the_same_answer_within_the_grace_window() {
    let s = session(3, T0 + 100);
    assert_eq!(judge(3, Some(&s), None, T0 + 100, &SETTINGS), Verdict::Rotate { from: 3 });
    assert_eq!(judge(2, Some(&s), None, T0 + 105, &SETTINGS), Verdict::Replay { current: 3 });
    assert_eq!(judge(2, Some(&s), None, T0 + 110, &SETTINGS), Verdict::Replay { current: 3 });
    // One second past the window, or any older token, is reuse.
    assert_eq!(judge(2, Some(&s), None, T0 + 111, &SETTINGS), Verdict::Reuse);
    assert_eq!(judge(1, Some(&s), None, T0 + 101, &SETTINGS), Verdict::Reuse);
    // A generation never issued is refused, not taken for reuse.
    assert_eq!(judge(4, Some(&s), None, T0 + 101, &SETTINGS), Verdict::Refuse(Refusal::NotIssued));
    // No grace: any repeat is reuse.
    let strict = SessionSettings { grace_seconds: 0, ..SETTINGS };
    assert_eq!(judge(2, Some(&s), None, T0 + 100, &strict), Verdict::Reuse);
}

#[test]
fn ended_expired_idle_and_signed_out_sessions_are_refused_before_anything_else() {
    let s = session(3, T0 + 100);
    assert_eq!(judge(3, None, None, T0, &SETTINGS), Verdict::Refuse(Refusal::Unknown));
    let revoked = Session { revoked: true, ..s.clone() };
    assert_eq!(judge(3, Some(&revoked), None, T0 + 100, &SETTINGS), Verdict::Refuse(Refusal::Revoked));
    // Signed out everywhere at or after the session began; one signed out before it began lives.
    assert_eq!(judge(3, Some(&s), Some(T0), T0 + 100, &SETTINGS), Verdict::Refuse(Refusal::SignedOutEverywhere));
    assert_eq!(judge(3, Some(&s), Some(T0 - 1), T0 + 100, &SETTINGS), Verdict::Rotate { from: 3 });
    // Idle: seven days after the last use. Absolute: thirty days after sign-in, however recently used.
    let idle = SETTINGS.lifetimes.idle_seconds;
    assert_eq!(judge(3, Some(&s), None, T0 + 100 + idle - 1, &SETTINGS), Verdict::Rotate { from: 3 });
    assert_eq!(judge(3, Some(&s), None, T0 + 100 + idle, &SETTINGS), Verdict::Refuse(Refusal::Idle));
    let absolute = SETTINGS.lifetimes.absolute_seconds;
    let busy = Session { last_used: T0 + absolute - 10, rotated_at: T0 + absolute - 10, ..s.clone() };
    assert_eq!(judge(3, Some(&busy), None, T0 + absolute - 1, &SETTINGS), Verdict::Rotate { from: 3 });
    assert_eq!(judge(3, Some(&busy), None, T0 + absolute, &SETTINGS), Verdict::Refuse(Refusal::Expired));
    // A spent token of a dead session is refused as dead, not counted as reuse.
    assert_eq!(judge(1, Some(&revoked), None, T0 + 100, &SETTINGS), Verdict::Refuse(Refusal::Revoked));
}

#[test]
fn a_session_ends_at_its_idle_timeout_never_past_its_absolute_lifetime() {
    let lifetimes = SETTINGS.lifetimes;
    let fresh = session(1, T0);
    assert_eq!(fresh.ends_at(&lifetimes), T0 + lifetimes.idle_seconds);
    let late = Session { last_used: T0 + lifetimes.absolute_seconds - 60, ..fresh };
    assert_eq!(late.ends_at(&lifetimes), T0 + lifetimes.absolute_seconds);
}

#[test]
fn user_refs_are_stable_and_name_no_email() {
    let r = user_ref("alice@example.com");
    assert_eq!(r, user_ref("alice@example.com"));
    assert_eq!(r.len(), 16);
    assert!(!r.contains("alice") && r != user_ref("bob@example.com"));
}

#[test]
fn a_session_keeps_its_tokens_hashes_and_never_a_token() {
    let keys = ring("v1", crate::testing::KEY_V1);
    let (session, token) = Session::begin(SessionId::from_bytes([2; 16]), "a@b.co", T0, SEED, &keys);
    assert!(session.holds(&token));
    assert!(!format!("{session:?}").contains(&token), "the session holds the token itself");
    assert_eq!(session.token_hash, token_hash(&token));
    let next = RefreshToken::mint(&keys, &session.id, 2, &SEED);
    let rotated = Session { previous_hash: Some(session.token_hash.clone()), token_hash: token_hash(&next), ..session };
    assert!(rotated.holds(&token) && rotated.holds(&next));
    assert!(!rotated.holds(&RefreshToken::mint(&keys, &rotated.id, 3, &SEED)));
}
