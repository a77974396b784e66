//! Tests of the signin handler with fakes: tokens, identical refusals, tampering and failures.

use lambda_http::http::StatusCode;

use super::*;
use crate::authorizer;
use crate::error::ErrorCode;
use crate::password::fake::FakeCipher;
use crate::store::StoredUser;
use crate::store::memory::MemoryStore;
use crate::testing::{
    self, FIXTURE_EMAIL, FIXTURE_PASSWORD, FIXTURE_SOURCE, NOW, World, json_body, request_from_address,
    request_with_body,
};
use crate::validate::Email;

async fn sign_up(world: &World, email: &str, password: &str) {
    testing::registered(world, email, password).await;
}

async fn sign_in(deps: &testing::SigninDeps, email: &str, password: &str) -> Response<Body> {
    let body = testing::credentials_body(email, password);
    handle(request_with_body("signin-request.json", Some(&body)), deps).await
}

fn token_of(response: &Response<Body>) -> String {
    assert_eq!(response.status(), StatusCode::OK, "{:?}", response.body());
    match json_body(response)["token"].as_str() {
        Some(token) => token.to_owned(),
        None => panic!("no token in {:?}", response.body()),
    }
}

#[tokio::test]
async fn the_fixture_signs_in_and_the_authorizer_accepts_the_token() {
    let world = World::new();
    sign_up(&world, FIXTURE_EMAIL, FIXTURE_PASSWORD).await;
    // The signin fixture is the original's curl call: no JSON content type, mixed-case email.
    let response = handle(testing::request_from(&testing::fixture("signin-request.json")), &world.signin()).await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    let token = token_of(&response);

    let claims = authorizer::authorize(&testing::bearer_event(&token).headers, &world.authorizer()).await;
    let claims = claims.unwrap_or_else(|denial| panic!("the authorizer refused a fresh token: {denial}"));
    assert_eq!(claims.sub, FIXTURE_EMAIL);
    assert_eq!(claims.email, FIXTURE_EMAIL);
    assert_eq!((claims.iat, claims.exp), (NOW, NOW + 3600));
    assert_eq!((claims.iss.as_str(), claims.aud.as_str()), ("auth-dev/signin", "auth-dev/api"));
}

#[tokio::test]
async fn the_token_is_signed_with_the_current_secret_version() {
    let world = World::new();
    sign_up(&world, "a@b.co", "velvet tractor orbit one").await;
    let token = token_of(&sign_in(&world.signin(), "a@b.co", "velvet tractor orbit one").await);
    let header = jsonwebtoken::decode_header(&token).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(header.kid.as_deref(), Some("v1"));
    assert_eq!(header.alg, jsonwebtoken::Algorithm::HS256);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_identical_401s() {
    let world = World::new();
    let deps = world.signin();
    sign_up(&world, "a@b.co", "velvet tractor orbit one").await;
    let wrong_password = sign_in(&deps, "a@b.co", "velvet tractor orbit two").await;
    let unknown_email = sign_in(&deps, "nobody@b.co", "velvet tractor orbit one").await;
    assert_eq!(wrong_password.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_email.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_password.body().as_ref(), unknown_email.body().as_ref(), "the bodies differ");
    assert_eq!(wrong_password.headers(), unknown_email.headers());
    assert_eq!(json_body(&wrong_password)["error"]["code"], ErrorCode::InvalidCredentials.as_str());
}

/// An unknown email pays an Argon2id verification too, against the dummy hash, so that it takes as
/// long as a known email with a wrong password. Counted, not timed: a timing test flakes on a busy
/// machine, and the work per verification is fixed by the hash's parameters.
#[tokio::test]
async fn an_unknown_email_costs_a_verification() {
    use std::sync::atomic::Ordering;
    let world = World::new();
    let deps = world.signin();
    sign_up(&world, "a@b.co", "velvet tractor orbit one").await;
    let count = || deps.passwords.verifications.load(Ordering::Relaxed);

    let before = count();
    assert_eq!(sign_in(&deps, "a@b.co", "velvet tractor orbit two").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(count(), before + 1, "a wrong password is one verification");
    assert_eq!(sign_in(&deps, "nobody@b.co", "velvet tractor orbit two").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(count(), before + 2, "an unknown email is one verification too");
    // A password that normalizing moves out of bounds (8 decomposed characters shrink below 8, 8 ligatures
    // grow past 128) cannot match, and still costs one verification, as for an unknown email.
    for odd in ["e\u{301}".repeat(8), "\u{fdfa}".repeat(8)] {
        let before = count();
        assert_eq!(sign_in(&deps, "a@b.co", &odd).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(count(), before + 1, "{odd:?} skipped the verification");
        assert_eq!(sign_in(&deps, "nobody@b.co", &odd).await.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(count(), before + 2);
    }
}

/// The attack: telling accounts apart by how long a refusal takes, or by a KMS outage. A wrong password
/// and an unknown email make the same calls (a KMS decrypt of a decoy for the unknown one), and an
/// unavailable KMS fails both alike.
#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_make_the_same_calls_and_fail_alike() {
    let world = World::new();
    let deps = world.signin();
    sign_up(&world, "a@b.co", "velvet tractor orbit one").await;
    world.journal.take();
    assert_eq!(sign_in(&deps, "a@b.co", "velvet tractor orbit two").await.status(), StatusCode::UNAUTHORIZED);
    let known = world.journal.take();
    assert_eq!(sign_in(&deps, "nobody@b.co", "velvet tractor orbit two").await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(known, world.journal.take());
    assert_eq!(known, ["users.get", "kms.decrypt"]);
    world.cipher.set_unavailable(true);
    for email in ["a@b.co", "nobody@b.co"] {
        let response = sign_in(&deps, email, "velvet tractor orbit two").await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR, "{email}");
    }
}

#[tokio::test]
async fn a_hash_moved_to_another_users_row_does_not_sign_in() {
    let world = World::new();
    let deps = world.signin();
    sign_up(&world, "alice@example.com", "she keeps a velvet tractor").await;
    sign_up(&world, "mallory@example.com", "he keeps an orbit lemonade").await;
    let mallory = Email::parse("mallory@example.com").unwrap_or_else(|e| panic!("{e}"));
    let alice = Email::parse("alice@example.com").unwrap_or_else(|e| panic!("{e}"));
    let mallory_row = world.store.get(&mallory).await.unwrap_or_else(|e| panic!("{e}"));
    let Some(mallory_row) = mallory_row else { panic!("mallory has no row") };

    // With write access to the table, Mallory copies her own encrypted hash into Alice's row...
    world.store.put_unchecked(StoredUser { email: alice, ..mallory_row });
    // ...but it was encrypted under Mallory's email, so her password does not open Alice's account.
    let response = sign_in(&deps, "alice@example.com", "he keeps an orbit lemonade").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let wrong_password = sign_in(&deps, "mallory@example.com", "not her password").await;
    assert_eq!(response.body().as_ref(), wrong_password.body().as_ref());
    assert_eq!(sign_in(&deps, "mallory@example.com", "he keeps an orbit lemonade").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_email_is_normalized_before_lookup() {
    let world = World::new();
    sign_up(&world, "a@b.co", "velvet tractor orbit one").await;
    let token = token_of(&sign_in(&world.signin(), "  A@B.Co\t", "velvet tractor orbit one").await);
    let claims = authorizer::authorize(&testing::bearer_event(&token).headers, &world.authorizer()).await;
    assert_eq!(claims.map(|c| c.email), Ok("a@b.co".to_owned()));
}

#[tokio::test]
async fn bad_input_is_a_4xx_json_error() {
    let world = World::new();
    let deps = world.signin();
    for body in [
        None,
        Some("{"),
        Some("[]"),
        Some(r#"{"email": "a@b.co", "password": ["x"]}"#),
        Some(r#"{"email": "x", "password": "12345678"}"#),
    ] {
        let response = handle(request_with_body("signin-request.json", body), &deps).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body:?}");
        assert!(json_body(&response)["error"]["code"].is_string(), "{body:?}");
    }
    let huge = "x".repeat(64 * 1024);
    let response = handle(request_with_body("signin-request.json", Some(&huge)), &deps).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn failing_dependencies_are_500s_not_401s() {
    let world = World::new();
    let deps = world.signin();
    sign_up(&world, "a@b.co", "velvet tractor orbit one").await;

    world.secrets.set_unavailable(true);
    let response = sign_in(&deps, "a@b.co", "velvet tractor orbit one").await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(json_body(&response)["error"]["code"], "internal_error");
    world.secrets.set_unavailable(false);

    world.cipher.set_unavailable(true);
    assert_eq!(sign_in(&deps, "a@b.co", "velvet tractor orbit one").await.status(), StatusCode::INTERNAL_SERVER_ERROR);
    world.cipher.set_unavailable(false);

    world.store.set_unavailable(true);
    assert_eq!(sign_in(&deps, "a@b.co", "velvet tractor orbit one").await.status(), StatusCode::INTERNAL_SERVER_ERROR);
    world.store.set_unavailable(false);

    // Without the failure count the lockout cannot hold: fail closed, for right and wrong passwords.
    world.attempts.set_unavailable(true);
    assert_eq!(sign_in(&deps, "a@b.co", "velvet tractor orbit one").await.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(sign_in(&deps, "a@b.co", "velvet tractor orbit two").await.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

/// Runs `n` failed sign-ins for `email` and returns the statuses.
async fn guess(deps: &testing::SigninDeps, email: &str, n: u32) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for i in 0..n {
        statuses.push(sign_in(deps, email, &format!("guess-number-{i}")).await.status());
    }
    statuses
}

#[tokio::test]
async fn attack_password_guessing_against_one_email_is_locked_out_even_with_the_right_password() {
    let world = World::new();
    let deps = world.signin();
    sign_up(&world, "victim@b.co", "the real password is lemonade").await;
    let max = testing::LOCKOUT.max_failures;

    let statuses = guess(&deps, "victim@b.co", max).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED), "{statuses:?}");
    let locked = sign_in(&deps, "victim@b.co", "the real password is lemonade").await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS, "the right password is refused while locked");
    assert_eq!(json_body(&locked)["error"]["code"], "too_many_attempts");
    assert_eq!(locked.headers()["retry-after"], testing::LOCKOUT.cooldown_seconds.to_string().as_str());

    // While locked, guesses cost no password work.
    use std::sync::atomic::Ordering;
    let before = deps.passwords.verifications.load(Ordering::Relaxed);
    assert_eq!(guess(&deps, "victim@b.co", 20).await, vec![StatusCode::TOO_MANY_REQUESTS; 20]);
    assert_eq!(deps.passwords.verifications.load(Ordering::Relaxed), before);

    // Other users are not slowed down.
    sign_up(&world, "other@b.co", "a second harbor of lemonade").await;
    assert_eq!(sign_in(&deps, "other@b.co", "a second harbor of lemonade").await.status(), StatusCode::OK);

    // After the cooldown the right password works again, and resets the count.
    world.clock.advance(testing::LOCKOUT.cooldown_seconds);
    assert_eq!(sign_in(&deps, "victim@b.co", "the real password is lemonade").await.status(), StatusCode::OK);
    let victim = Email::parse("victim@b.co").unwrap_or_else(|e| panic!("{e}"));
    let pair = crate::lockout::CounterKey::address(&victim, FIXTURE_SOURCE);
    assert_eq!(world.attempts.peek(&pair).map(|r| (r.failures, r.locked_until)), Some((0, None)));
}

#[tokio::test]
async fn attack_the_lockout_answer_does_not_tell_unknown_emails_from_known_ones() {
    let world = World::new();
    let deps = world.signin();
    sign_up(&world, "known@b.co", "the real password is lemonade").await;
    let max = testing::LOCKOUT.max_failures;
    let known = guess(&deps, "known@b.co", max + 1).await;
    let unknown = guess(&deps, "unknown@b.co", max + 1).await;
    assert_eq!(known, unknown, "the same statuses in the same order");
    assert_eq!(known.last(), Some(&StatusCode::TOO_MANY_REQUESTS));

    let a = sign_in(&deps, "known@b.co", "again").await;
    let b = sign_in(&deps, "unknown@b.co", "again").await;
    assert_eq!(a.status(), b.status());
    assert_eq!(a.headers(), b.headers());
    assert_eq!(a.body().as_ref(), b.body().as_ref());
}

#[tokio::test]
async fn a_success_resets_the_count_so_failures_must_be_consecutive() {
    let world = World::new();
    let deps = world.signin();
    sign_up(&world, "a@b.co", "velvet tractor orbit one").await;
    let max = testing::LOCKOUT.max_failures;
    for _ in 0..3 {
        guess(&deps, "a@b.co", max - 1).await;
        assert_eq!(sign_in(&deps, "a@b.co", "velvet tractor orbit one").await.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn failures_outside_the_window_do_not_add_up() {
    let world = World::new();
    let deps = world.signin();
    let max = testing::LOCKOUT.max_failures;
    guess(&deps, "a@b.co", max - 1).await;
    world.clock.advance(testing::LOCKOUT.window_seconds);
    assert_eq!(guess(&deps, "a@b.co", max - 1).await, vec![StatusCode::UNAUTHORIZED; (max - 1) as usize]);
    assert_eq!(guess(&deps, "a@b.co", 1).await, vec![StatusCode::UNAUTHORIZED], "the limit-th failure answers 401");
    assert_eq!(guess(&deps, "a@b.co", 1).await, vec![StatusCode::TOO_MANY_REQUESTS]);
}

#[tokio::test]
async fn a_decrypted_value_that_is_not_a_hash_is_a_500() {
    let world = World::new();
    let deps = world.signin();
    let email = Email::parse("a@b.co").unwrap_or_else(|e| panic!("{e}"));
    let ciphertext = world.cipher.encrypt(b"plaintext-password", &email).await.unwrap_or_else(|e| panic!("{e}"));
    world.store.put_unchecked(StoredUser { email, encrypted_hash: ciphertext, created_at: NOW, normalized: true });
    let response = sign_in(&deps, "a@b.co", "plaintext-password").await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn a_warm_signin_picks_up_a_rotation_within_the_key_max_age() {
    let world = World::new();
    let deps = world.signin();
    sign_up(&world, "a@b.co", "velvet tractor orbit one").await;
    let kid = |token: &str| jsonwebtoken::decode_header(token).ok().and_then(|h| h.kid);
    assert_eq!(kid(&token_of(&sign_in(&deps, "a@b.co", "velvet tractor orbit one").await)).as_deref(), Some("v1"));
    world.secrets.rotate("v2", testing::KEY_V2);
    world.clock.advance(KEY_MAX_AGE_SECONDS);
    assert_eq!(kid(&token_of(&sign_in(&deps, "a@b.co", "velvet tractor orbit one").await)).as_deref(), Some("v2"));
}

#[test]
fn production_deps_use_owasp_and_a_bounded_key_age() {
    let secrets = crate::keys::fake::FakeSecretSource::new("v1", testing::KEY_V1);
    let deps = Deps::new(
        (MemoryStore::new(), FakeCipher::new(), secrets),
        testing::settings(),
        crate::lockout::memory::MemoryAttempts::new(),
        crate::session::memory::MemorySessions::new(),
        super::Settings { protection: testing::LOCKOUT, lifetimes: testing::SESSIONS.lifetimes },
    );
    assert_eq!(deps.passwords.params(), (19_456, 2, 1));
    let debug = format!("{:?}", deps.keys);
    assert!(debug.contains("max_age: Some(300)"), "{debug}");
}

#[tokio::test]
async fn signin_keeps_its_token_field_and_begins_a_session() {
    let world = World::new();
    let deps = world.signin();
    sign_up(&world, "a@b.co", "velvet tractor orbit one").await;
    let response = sign_in(&deps, "a@b.co", "velvet tractor orbit one").await;
    assert_eq!(response.status(), 200);
    let body = testing::json_body(&response);
    let fields: Vec<&str> = body.as_object().into_iter().flatten().map(|(k, _)| k.as_str()).collect();
    assert_eq!(fields, ["token", "refresh_token", "expires_in"], "{body}");
    assert_eq!(body["expires_in"], testing::settings().lifetime_seconds);
    let refresh = crate::session::RefreshToken::parse(body["refresh_token"].as_str().unwrap_or_default())
        .unwrap_or_else(|| panic!("not a refresh token: {body}"));
    let (session, expires_at) =
        world.sessions.stored(&refresh.session).unwrap_or_else(|| panic!("no session was stored"));
    assert_eq!((session.user.as_str(), session.generation, refresh.generation), ("a@b.co", 1, 1));
    assert_eq!(expires_at, testing::NOW + testing::SESSIONS.lifetimes.idle_seconds, "idle, within the absolute");
    // A failed sign-in begins none.
    let calls = world.sessions.calls.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(sign_in(&deps, "a@b.co", "velvet tractor orbit two").await.status(), 401);
    assert_eq!(world.sessions.calls.load(std::sync::atomic::Ordering::SeqCst), calls);
}

/// A sign-in from `source`.
async fn sign_in_from(deps: &testing::SigninDeps, source: &str, email: &str, password: &str) -> Response<Body> {
    let body = testing::credentials_body(email, password);
    handle(request_from_address("signin-request.json", Some(&body), source), deps).await
}

/// `n` wrong guesses at `email` from `source`: the statuses.
async fn guess_from(deps: &testing::SigninDeps, source: &str, email: &str, n: u32) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for i in 0..n {
        statuses.push(sign_in_from(deps, source, email, &format!("a wrong guess number {i}")).await.status());
    }
    statuses
}

const OWNER: &str = "198.51.100.20";
const ATTACKER: &str = "203.0.113.66";

#[tokio::test]
async fn attack_locking_the_victim_out_from_another_address_fails_the_owner_signs_in() {
    let world = World::new();
    let deps = world.signin();
    sign_up(&world, "victim@b.co", "the real password is lemonade").await;
    let max = testing::LOCKOUT.max_failures;
    // Enough wrong guesses from one address to lock it, and more.
    let statuses = guess_from(&deps, ATTACKER, "victim@b.co", max + 5).await;
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS), "the attacker's address is locked");
    // The owner, from an address that has not failed, signs in.
    let owner = sign_in_from(&deps, OWNER, "victim@b.co", "the real password is lemonade").await;
    assert_eq!(owner.status(), StatusCode::OK, "{:?}", owner.body());
    // Even the attacker's right password is refused at the locked address.
    let locked = sign_in_from(&deps, ATTACKER, "victim@b.co", "the real password is lemonade").await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn attack_guessing_just_under_the_window_for_a_day_hits_the_daily_bound() {
    let world = World::new();
    let deps = world.signin();
    sign_up(&world, "victim@b.co", "the real password is lemonade").await;
    let (max, window) = (testing::LOCKOUT.max_failures, testing::LOCKOUT.window_seconds);
    let mut admitted = 0;
    let mut refused = 0;
    // One less than the window's limit, then a wait past the window, for a simulated day.
    let rounds = crate::lockout::DAY_SECONDS / (window + 5);
    for _ in 0..rounds {
        for status in guess_from(&deps, ATTACKER, "victim@b.co", max - 1).await {
            match status {
                StatusCode::UNAUTHORIZED => admitted += 1,
                StatusCode::TOO_MANY_REQUESTS => refused += 1,
                other => panic!("{other}"),
            }
        }
        world.clock.advance(window + 5);
    }
    assert_eq!(admitted, testing::LOCKOUT.daily_per_address, "guesses that reached a password check in a day");
    assert!(refused > 0);
    // Before: (max - 1) per window, all day long.
    assert!(u64::from(admitted) < rounds * u64::from(max - 1));
}

#[tokio::test]
async fn attack_many_addresses_hit_the_emails_daily_bound_but_the_owner_does_not() {
    let world = World::new();
    let deps = world.signin();
    sign_up(&world, "victim@b.co", "the real password is lemonade").await;
    let per_address = testing::LOCKOUT.max_failures - 1;
    let mut admitted = 0;
    for n in 0..40 {
        let source = format!("192.0.2.{n}");
        admitted += guess_from(&deps, &source, "victim@b.co", per_address)
            .await
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count() as u32;
    }
    // Each address after the email's daily bound gets its grace and no more.
    let bound = testing::LOCKOUT.daily_per_email;
    let grace = crate::lockout::GRACE_ATTEMPTS * 40;
    assert!(admitted <= bound + grace, "{admitted} guesses; bound {bound} + {grace} grace attempts");
    assert!(admitted < 40 * per_address, "the bound held nobody back");
    // An address that tried and failed today is refused now; the owner's is not.
    assert_eq!(guess_from(&deps, "192.0.2.1", "victim@b.co", 1).await, [StatusCode::TOO_MANY_REQUESTS]);
    let owner = sign_in_from(&deps, OWNER, "victim@b.co", "the real password is lemonade").await;
    assert_eq!(owner.status(), StatusCode::OK);
}

#[tokio::test]
async fn attack_a_success_is_no_oracle_the_same_answers_whether_the_owner_signed_in_or_not() {
    // The outside test's probe: max - 1 guesses, then two more, with and without the owner signing in
    // between, for an account and for an unknown email.
    let probe = |owner_signs_in: bool, email: &'static str| async move {
        let world = World::new();
        let deps = world.signin();
        sign_up(&world, "victim@b.co", "the real password is lemonade").await;
        let max = testing::LOCKOUT.max_failures;
        guess_from(&deps, ATTACKER, email, max - 1).await;
        if owner_signs_in {
            let owner = sign_in_from(&deps, OWNER, "victim@b.co", "the real password is lemonade").await;
            assert_eq!(owner.status(), StatusCode::OK);
        }
        let answers = [
            sign_in_from(&deps, ATTACKER, email, "one more guess").await,
            sign_in_from(&deps, ATTACKER, email, "and another guess").await,
        ];
        answers.map(|a| (a.status(), a.headers().get("retry-after").cloned(), json_body(&a)))
    };
    let idle = probe(false, "victim@b.co").await;
    assert_eq!(probe(true, "victim@b.co").await, idle, "the owner's sign-in changed what the attacker is told");
    assert_eq!(probe(false, "nobody@b.co").await, idle, "an unknown email is answered alike");
    assert_eq!(idle.map(|a| a.0), [StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS]);
}

#[tokio::test]
async fn attack_the_emails_daily_count_is_no_oracle_either() {
    // The attacker spends the email's daily bound from several addresses, then probes; the owner signs in
    // k times meanwhile (or the email has no account). Every answer must be the same.
    let probe = |owner_sign_ins: u32, email: &'static str| async move {
        let world = World::new();
        let deps = world.signin();
        sign_up(&world, "victim@b.co", "the real password is lemonade").await;
        for _ in 0..owner_sign_ins {
            let owner = sign_in_from(&deps, OWNER, "victim@b.co", "the real password is lemonade").await;
            assert_eq!(owner.status(), StatusCode::OK);
        }
        let mut answers = Vec::new();
        for n in 0..8 {
            let source = format!("192.0.2.{n}");
            for status in guess_from(&deps, &source, email, testing::LOCKOUT.max_failures - 1).await {
                answers.push(status);
            }
        }
        answers
    };
    let idle = probe(0, "victim@b.co").await;
    assert!(idle.contains(&StatusCode::TOO_MANY_REQUESTS), "the probe reaches the email's bound: {idle:?}");
    assert_eq!(probe(8, "victim@b.co").await, idle, "the owner's sign-ins moved the email's bound");
    assert_eq!(probe(0, "nobody@b.co").await, idle, "an unknown email is answered alike");
}

#[tokio::test]
async fn an_owner_who_mistypes_once_under_attack_still_signs_in() {
    let world = World::new();
    let deps = world.signin();
    sign_up(&world, "victim@b.co", "the real password is lemonade").await;
    // Enough addresses to fill the email's day.
    for n in 0..10 {
        guess_from(&deps, &format!("192.0.2.{n}"), "victim@b.co", testing::LOCKOUT.max_failures).await;
    }
    assert_eq!(guess_from(&deps, "192.0.2.1", "victim@b.co", 1).await, [StatusCode::TOO_MANY_REQUESTS]);
    assert_eq!(guess_from(&deps, OWNER, "victim@b.co", 1).await, [StatusCode::UNAUTHORIZED], "a typo");
    let owner = sign_in_from(&deps, OWNER, "victim@b.co", "the real password is lemonade").await;
    assert_eq!(owner.status(), StatusCode::OK, "{:?}", owner.body());
}
