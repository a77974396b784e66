//! Tests of forgot and reset with fakes: one answer whatever the address, a code that works once, and a
//! reset that ends every session and clears the resetting address's lockout.

use std::sync::Arc;

use lambda_http::http::StatusCode;
use serde_json::json;

use super::*;
use crate::testing::{self, FIXTURE_SOURCE, World, json_body, request_from_address, request_with_body};

const OLD: &str = "velvet tractor orbit one";
const NEW: &str = "another harbor of lemonade";

async fn forgot(world: &World, address: &str) -> Response<Body> {
    let body = json!({"email": address}).to_string();
    crate::forgot::handle(request_with_body("signup-request.json", Some(&body)), &world.forgot()).await
}

async fn reset_from(world: &World, address: &str, code: &str, password: &str, source: &str) -> Response<Body> {
    let body = testing::code_body(address, code, password);
    handle(request_from_address("signin-request.json", Some(&body), source), &world.reset()).await
}

async fn reset(world: &World, address: &str, code: &str, password: &str) -> Response<Body> {
    reset_from(world, address, code, password, FIXTURE_SOURCE).await
}

async fn sign_in_from(world: &World, address: &str, password: &str, source: &str) -> Response<Body> {
    let body = testing::credentials_body(address, password);
    crate::signin::handle(request_from_address("signin-request.json", Some(&body), source), &world.signin()).await
}

#[tokio::test]
async fn forgot_answers_and_works_alike_for_every_address() {
    let world = World::new();
    testing::registered(&world, "ann@example.com", OLD).await;
    world.journal.take();
    let mut seen = Vec::new();
    for address in ["ann@example.com", "nobody@example.com"] {
        let response = forgot(&world, address).await;
        let headers = format!("{:?}", response.headers());
        seen.push((response.status(), headers, json_body(&response), world.journal.take()));
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[0].2, json!({"status": "check_your_email"}));
    assert_eq!(seen[0].3, ["users.get", "codes.count_mail", "codes.count_mail", "codes.put", "mail.send"]);
    assert!(world.mailer.last_code("ann@example.com").is_some());
    let sent = world.mailer.sent();
    let (to, note) = &sent[sent.len() - 1];
    assert_eq!((to.as_str(), note.subject.as_str()), ("nobody@example.com", "Password reset requested"));
    assert!(world.mailer.last_code("nobody@example.com").is_none());
}

/// The attack: a thief holds a session; the owner resets the password. Every session and access token
/// of the user ends, the new password works and the old does not.
#[tokio::test]
async fn a_reset_ends_every_session_and_changes_the_password() {
    let world = World::new();
    let stolen = testing::signed_in(&world, "ann@example.com").await;
    forgot(&world, "ann@example.com").await;
    let code = world.mailer.last_code("ann@example.com").unwrap_or_default();
    world.clock.advance(1);
    let response = reset(&world, "ann@example.com", &code, NEW).await;
    assert_eq!((response.status(), json_body(&response)), (StatusCode::OK, json!({"status": "password_reset"})));

    let refresh = json!({"refresh_token": stolen["refresh_token"]}).to_string();
    let refreshed =
        crate::refresh::handle(request_with_body("signin-request.json", Some(&refresh)), &world.refresh()).await;
    assert_eq!(refreshed.status(), StatusCode::UNAUTHORIZED, "the old session's refresh token");
    let token = stolen["token"].as_str().unwrap_or_default();
    let denied = crate::authorizer::handle(testing::bearer_event(token), &world.authorizer()).await;
    assert!(format!("{denied:?}").contains("Deny"), "the old access token: {denied:?}");

    world.clock.advance(1);
    assert_eq!(sign_in_from(&world, "ann@example.com", testing::SESSION_PASSWORD, FIXTURE_SOURCE).await.status(), 401);
    assert_eq!(sign_in_from(&world, "ann@example.com", NEW, FIXTURE_SOURCE).await.status(), StatusCode::OK);
    testing::assert_invalid_code(&reset(&world, "ann@example.com", &code, "a third password for today").await);
}

/// A signup with an address that has an account mails its owner a reset code, which works.
#[tokio::test]
async fn the_code_mailed_on_a_signup_for_a_known_address_resets_its_password() {
    let world = World::new();
    testing::registered(&world, "ann@example.com", OLD).await;
    let body = testing::credentials_body("ann@example.com", NEW);
    crate::signup::handle(request_with_body("signup-request.json", Some(&body)), &world.signup()).await;
    let code = world.mailer.last_code("ann@example.com").unwrap_or_default();
    assert_eq!(reset(&world, "ann@example.com", &code, NEW).await.status(), StatusCode::OK);
}

/// The attacks: guessing, a code for another address, a late code; and telling known addresses from
/// unknown ones through the refusals.
#[tokio::test]
async fn every_refused_code_is_one_answer_after_the_same_calls() {
    let world = World::new();
    testing::registered(&world, "ann@example.com", OLD).await;
    forgot(&world, "ann@example.com").await;
    forgot(&world, "nobody@example.com").await;
    let code = world.mailer.last_code("ann@example.com").unwrap_or_default();
    world.journal.take();
    let mut seen = Vec::new();
    for address in ["ann@example.com", "nobody@example.com", "never@example.com"] {
        let response = reset(&world, address, testing::wrong_code(&code), NEW).await;
        seen.push((response.status(), format!("{:?}", response.headers()), json_body(&response), world.journal.take()));
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[1], seen[2]);
    assert_eq!(seen[0].3, ["codes.get", "codes.spend_try"]);
    testing::assert_invalid_code(&reset(&world, "nobody@example.com", &code, NEW).await);
    for _ in 1..crate::codes::TRIES {
        testing::assert_invalid_code(&reset(&world, "ann@example.com", testing::wrong_code(&code), NEW).await);
    }
    testing::assert_invalid_code(&reset(&world, "ann@example.com", &code, NEW).await);
    assert_eq!(sign_in_from(&world, "ann@example.com", OLD, FIXTURE_SOURCE).await.status(), StatusCode::OK);

    forgot(&world, "ann@example.com").await;
    let late = world.mailer.last_code("ann@example.com").unwrap_or_default();
    world.clock.advance(crate::codes::LIFETIME_SECONDS);
    testing::assert_invalid_code(&reset(&world, "ann@example.com", &late, NEW).await);
}

#[tokio::test]
async fn a_weak_new_password_is_refused_before_the_code_is_read() {
    let world = World::new();
    let response = reset(&world, "ann@example.com", "12345678", "password12345678").await;
    assert_eq!(json_body(&response)["error"]["code"], "weak_password");
    assert!(world.journal.take().is_empty());
}

/// The owner locked out by an attacker's guesses from their own address resets the password and signs in
/// from there; the attacker's address, which tried the same email, stays locked.
#[tokio::test]
async fn a_reset_clears_the_lockout_of_the_address_that_completed_it_only() {
    let world = World::new();
    testing::registered(&world, "ann@example.com", OLD).await;
    let (owner, attacker) = (FIXTURE_SOURCE, "198.51.100.9");
    for source in [owner, attacker] {
        for i in 0..testing::LOCKOUT.max_failures {
            sign_in_from(&world, "ann@example.com", &format!("guess number {i} of many"), source).await;
        }
        assert_eq!(sign_in_from(&world, "ann@example.com", OLD, source).await.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    forgot(&world, "ann@example.com").await;
    let code = world.mailer.last_code("ann@example.com").unwrap_or_default();
    assert_eq!(reset_from(&world, "ann@example.com", &code, NEW, owner).await.status(), StatusCode::OK);
    world.clock.advance(1);
    assert_eq!(sign_in_from(&world, "ann@example.com", NEW, owner).await.status(), StatusCode::OK);
    assert_eq!(sign_in_from(&world, "ann@example.com", NEW, attacker).await.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_reset_is_logged_as_a_security_event_without_the_email() {
    let world = World::new();
    testing::registered(&world, "ann@example.com", OLD).await;
    forgot(&world, "ann@example.com").await;
    let code = world.mailer.last_code("ann@example.com").unwrap_or_default();
    let (response, logs) = testing::with_logs(reset(&world, "ann@example.com", &code, NEW)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(logs.contains("password_reset") && logs.contains(&crate::session::user_ref("ann@example.com")), "{logs}");
    assert!(!logs.contains("ann@example.com"), "{logs}");
    let valid_after =
        crate::session::SessionStore::valid_after(&world.sessions, "ann@example.com").await.unwrap_or_default();
    assert_eq!(valid_after, Some(testing::NOW));
}

/// A users table that, as the reset writes the new password, lets a sign-in with the old one in first
/// (a second later), as a thief polling signin during the reset would.
struct SignInMidReset {
    inner: testing::Users,
    signin: testing::SigninDeps,
    clock: Arc<crate::clock::ManualClock>,
    slipped_in: std::sync::Mutex<Option<serde_json::Value>>,
}

impl crate::store::UserStore for SignInMidReset {
    async fn create(&self, user: &StoredUser) -> Result<crate::store::CreateOutcome, crate::store::StoreError> {
        self.inner.create(user).await
    }

    async fn get(&self, email: &crate::validate::Email) -> Result<Option<StoredUser>, crate::store::StoreError> {
        self.inner.get(email).await
    }

    async fn set_password(&self, user: &StoredUser) -> Result<bool, crate::store::StoreError> {
        self.clock.advance(1);
        let body = testing::credentials_body(user.email.as_str(), OLD);
        let response = crate::signin::handle(request_with_body("signin-request.json", Some(&body)), &self.signin).await;
        assert_eq!(response.status(), StatusCode::OK, "the old password still works until it is replaced");
        *self.slipped_in.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(json_body(&response));
        self.inner.set_password(user).await
    }
}

/// The attack: a thief who holds the password signs in while the owner's reset is hashing the new one.
/// The session begun in between ends too.
#[tokio::test]
async fn a_sign_in_with_the_old_password_during_the_reset_ends_with_the_others() {
    let world = World::new();
    testing::registered(&world, "ann@example.com", OLD).await;
    forgot(&world, "ann@example.com").await;
    let code = world.mailer.last_code("ann@example.com").unwrap_or_default();
    let racing = SignInMidReset {
        inner: world.reset().store,
        signin: world.signin(),
        clock: world.clock.clone(),
        slipped_in: std::sync::Mutex::new(None),
    };
    let base = world.reset();
    let deps = Deps {
        store: racing,
        cipher: base.cipher,
        passwords: base.passwords,
        rules: base.rules,
        keys: base.keys,
        codes: base.codes,
        sessions: base.sessions,
        keep_signed_out_seconds: base.keep_signed_out_seconds,
        attempts: base.attempts,
        clock: base.clock,
    };
    let body = testing::code_body("ann@example.com", &code, NEW);
    let response = handle(request_from_address("signin-request.json", Some(&body), FIXTURE_SOURCE), &deps).await;
    assert_eq!(response.status(), StatusCode::OK);
    let thief = deps.store.slipped_in.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    let thief = thief.unwrap_or_else(|| panic!("no sign-in slipped in"));
    let refresh = json!({"refresh_token": thief["refresh_token"]}).to_string();
    let refreshed =
        crate::refresh::handle(request_with_body("signin-request.json", Some(&refresh)), &world.refresh()).await;
    assert_eq!(refreshed.status(), StatusCode::UNAUTHORIZED, "the session begun mid-reset");
}
