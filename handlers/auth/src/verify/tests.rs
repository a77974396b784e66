//! Tests of verify with fakes: the code and the password bring a pending signup to life, and nothing
//! else does.

use lambda_http::http::StatusCode;
use serde_json::json;

use super::*;
use crate::codes::{LIFETIME_SECONDS, TRIES};
use crate::testing::{self, World, json_body, request_with_body};

const PASSWORD: &str = "velvet tractor orbit one";

async fn sign_up(world: &World, address: &str, password: &str) -> String {
    let body = testing::credentials_body(address, password);
    let response = crate::signup::handle(request_with_body("signup-request.json", Some(&body)), &world.signup()).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    world.mailer.last_code(address).unwrap_or_else(|| panic!("no code mailed to {address}"))
}

async fn verify(world: &World, address: &str, code: &str, password: &str) -> Response<Body> {
    let body = testing::code_body(address, code, password);
    handle(request_with_body("signup-request.json", Some(&body)), &world.verify()).await
}

async fn sign_in(world: &World, address: &str, password: &str) -> Response<Body> {
    let body = testing::credentials_body(address, password);
    crate::signin::handle(request_with_body("signin-request.json", Some(&body)), &world.signin()).await
}

#[tokio::test]
async fn the_code_and_the_password_make_the_account_which_then_signs_in() {
    let world = World::new();
    let code = sign_up(&world, "ann@example.com", PASSWORD).await;
    // Typed as the mail groups it.
    let response = verify(&world, " Ann@Example.com", &format!("{} {}", &code[..4], &code[4..]), PASSWORD).await;
    assert_eq!((response.status(), json_body(&response)), (StatusCode::OK, json!({"status": "verified"})));
    assert_eq!(world.store.len(), 1);
    assert_eq!(sign_in(&world, "ann@example.com", PASSWORD).await.status(), StatusCode::OK);
}

/// The attack: signing in to an account whose address nobody verified. It gets exactly the refusal of a
/// wrong password.
#[tokio::test]
async fn nobody_signs_in_before_verifying_and_the_refusal_is_a_wrong_passwords() {
    let world = World::new();
    sign_up(&world, "pending@example.com", PASSWORD).await;
    testing::registered(&world, "ann@example.com", PASSWORD).await;
    let pending = sign_in(&world, "pending@example.com", PASSWORD).await;
    let wrong_password = sign_in(&world, "ann@example.com", "not the password at all").await;
    assert_eq!(pending.status(), StatusCode::UNAUTHORIZED);
    assert_eq!((pending.status(), json_body(&pending)), (wrong_password.status(), json_body(&wrong_password)));
}

/// The attack: a squatter signs up with someone else's address and their own password, hoping the
/// owner types in the code they are mailed. The code alone is nothing: verifying needs the password the
/// signup was made with. The owner signs up again, and their own password is the account's.
#[tokio::test]
async fn a_squatters_pending_signup_cannot_be_activated_by_the_owner_or_the_squatter() {
    let world = World::new();
    let squatters = sign_up(&world, "owner@example.com", "squatter chooses this one").await;
    testing::assert_invalid_code(&verify(&world, "owner@example.com", &squatters, PASSWORD).await);
    testing::assert_invalid_code(
        &verify(&world, "owner@example.com", testing::wrong_code(&squatters), "squatter chooses this one").await,
    );
    let owners = sign_up(&world, "owner@example.com", PASSWORD).await;
    assert_eq!(verify(&world, "owner@example.com", &owners, PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(
        sign_in(&world, "owner@example.com", "squatter chooses this one").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(sign_in(&world, "owner@example.com", PASSWORD).await.status(), StatusCode::OK);
}

/// The attack: guessing a code. Each code takes [`TRIES`] wrong guesses, then the right one fails too;
/// a wrong password with the right code is a wrong guess.
#[tokio::test]
async fn a_code_allows_its_tries_then_is_spent() {
    let world = World::new();
    let code = sign_up(&world, "ann@example.com", PASSWORD).await;
    testing::assert_invalid_code(&verify(&world, "ann@example.com", &code, "not the password at all").await);
    for _ in 1..TRIES {
        testing::assert_invalid_code(&verify(&world, "ann@example.com", testing::wrong_code(&code), PASSWORD).await);
    }
    testing::assert_invalid_code(&verify(&world, "ann@example.com", &code, PASSWORD).await);
    assert!(world.store.is_empty());
}

/// The attack: a code used twice, or late, or for another address than it was mailed to.
#[tokio::test]
async fn a_code_works_once_for_its_address_within_its_lifetime() {
    let world = World::new();
    let code = sign_up(&world, "ann@example.com", PASSWORD).await;
    let bobs = sign_up(&world, "bob@example.com", PASSWORD).await;
    testing::assert_invalid_code(&verify(&world, "bob@example.com", &code, PASSWORD).await);
    assert_eq!(verify(&world, "ann@example.com", &code, PASSWORD).await.status(), StatusCode::OK);
    testing::assert_invalid_code(&verify(&world, "ann@example.com", &code, PASSWORD).await);
    world.clock.advance(LIFETIME_SECONDS);
    testing::assert_invalid_code(&verify(&world, "bob@example.com", &bobs, PASSWORD).await);
}

/// The attack: telling, through verify, an address with an account, one with a pending signup and one
/// with neither. A guess at each gets the same answer after the same calls.
#[tokio::test]
async fn every_refusal_is_the_same_answer_after_the_same_calls() {
    let world = World::new();
    testing::registered(&world, "ann@example.com", PASSWORD).await;
    let pending = sign_up(&world, "pending@example.com", PASSWORD).await;
    world.journal.take();
    let mut seen = Vec::new();
    for address in ["ann@example.com", "pending@example.com", "nobody@example.com"] {
        let response = verify(&world, address, testing::wrong_code(&pending), PASSWORD).await;
        let headers = format!("{:?}", response.headers());
        seen.push((response.status(), headers, json_body(&response), world.journal.take()));
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[1], seen[2]);
    assert_eq!(seen[0].3, ["codes.get", "codes.spend_try"]);
}

#[test]
fn concurrent_verifications_with_the_code_make_one_account() {
    let world = World::new();
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|e| panic!("{e}"));
    let code = runtime.block_on(sign_up(&world, "race@example.com", PASSWORD));
    let statuses: Vec<StatusCode> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let runtime =
                        tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|e| panic!("{e}"));
                    runtime.block_on(verify(&world, "race@example.com", &code, PASSWORD)).status()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap_or_else(|_| panic!("a verify panicked"))).collect()
    });
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::OK).count(), 1, "{statuses:?}");
    assert_eq!(world.store.len(), 1);
}

#[tokio::test]
async fn bad_input_is_a_4xx_that_touches_nothing() {
    let world = World::new();
    for (body, code) in [
        (r#"{"email": "a@b.co", "password": "velvet tractor"}"#, "invalid_body"),
        (r#"{"email": "a@b.co", "code": 12345678, "password": "velvet tractor"}"#, "invalid_body"),
        (r#"{"email": "a@b.co", "code": "1", "password": "velvet tractor", "extra": 1}"#, "invalid_body"),
        (r#"{"email": "a", "code": "12345678", "password": "velvet tractor"}"#, "invalid_email"),
    ] {
        let response = handle(request_with_body("signup-request.json", Some(body)), &world.verify()).await;
        assert_eq!(json_body(&response)["error"]["code"], code, "{body}");
    }
    assert!(world.journal.take().is_empty());
}
