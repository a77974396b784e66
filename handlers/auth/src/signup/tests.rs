//! Tests of the signup handler with fakes, driven by API Gateway proxy fixtures.

use lambda_http::http::StatusCode;
use serde_json::json;

use super::*;
use crate::error::ErrorCode;
use crate::password::CipherError;
use crate::store::memory::MemoryStore;
use crate::testing::{self, FIXTURE_EMAIL, FIXTURE_PASSWORD, NOW, World, json_body, request_with_body};

#[tokio::test]
async fn the_fixture_signs_up_with_201_and_a_normalized_email() {
    let world = World::new();
    let response = handle(testing::request_from(&testing::fixture("signup-request.json")), &world.signup()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(json_body(&response), json!({"email": FIXTURE_EMAIL}));
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(world.store.len(), 1);
}

#[tokio::test]
async fn the_row_holds_an_encrypted_argon2id_hash_bound_to_the_email() {
    let world = World::new();
    let deps = world.signup();
    handle(testing::request_from(&testing::fixture("signup-request.json")), &deps).await;
    let email = Email::parse(FIXTURE_EMAIL).unwrap_or_else(|e| panic!("{e}"));
    let user = world.store.get(&email).await.unwrap_or_else(|e| panic!("{e}"));
    let user = user.unwrap_or_else(|| panic!("no row for {FIXTURE_EMAIL}"));
    assert_eq!(user.created_at, NOW);
    let stored = String::from_utf8_lossy(&user.encrypted_hash);
    assert!(!stored.contains("argon2") && !stored.contains(FIXTURE_PASSWORD), "{stored}");

    let phc = world.cipher.decrypt(&user.encrypted_hash, &email).await.unwrap_or_else(|e| panic!("{e}"));
    let phc = crate::password::PhcString::from_bytes(phc).unwrap_or_else(|e| panic!("{e}"));
    assert!(phc.as_str().starts_with("$argon2id$"));
    let password = crate::validate::Password::parse(FIXTURE_PASSWORD.into()).unwrap_or_else(|e| panic!("{e}"));
    assert!(deps.passwords.verify(&password, &phc));
    let other = Email::parse("bob@example.com").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(world.cipher.decrypt(&user.encrypted_hash, &other).await, Err(CipherError::Rejected));
}

#[tokio::test]
async fn a_base64_encoded_body_is_read() {
    let world = World::new();
    let response =
        handle(testing::request_from(&testing::fixture("signup-request-base64.json")), &world.signup()).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_duplicate_signup_is_409_even_spelled_differently() {
    let world = World::new();
    let deps = world.signup();
    let first = handle(
        request_with_body(
            "signup-request.json",
            Some(&testing::credentials_body("a@b.co", "velvet tractor orbit one")),
        ),
        &deps,
    )
    .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    for spelling in ["a@b.co", " A@B.CO "] {
        let body = testing::credentials_body(spelling, "another harbor of lemonade");
        let again = handle(request_with_body("signup-request.json", Some(&body)), &deps).await;
        assert_eq!(again.status(), StatusCode::CONFLICT);
        assert_eq!(json_body(&again)["error"]["code"], "email_taken");
    }
    assert_eq!(world.store.len(), 1);
}

#[tokio::test]
async fn bad_input_is_a_4xx_json_error_and_writes_nothing() {
    let world = World::new();
    let deps = world.signup();
    let too_big = format!(r#"{{"email": "a@b.co", "password": "{}"}}"#, "p".repeat(5000));
    let cases: Vec<(Option<&str>, StatusCode, ErrorCode)> = vec![
        (None, StatusCode::BAD_REQUEST, ErrorCode::MissingBody),
        (Some(""), StatusCode::BAD_REQUEST, ErrorCode::MissingBody),
        (Some("email=a@b.co&password=12345678"), StatusCode::BAD_REQUEST, ErrorCode::InvalidJson),
        (Some(&too_big), StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::BodyTooLarge),
        (Some(r#"{"email": "a@b.co"}"#), StatusCode::BAD_REQUEST, ErrorCode::InvalidBody),
        (Some(r#"{"email": 1, "password": "12345678"}"#), StatusCode::BAD_REQUEST, ErrorCode::InvalidBody),
        (
            Some(r#"{"email": {"x": "a@b.co"}, "password": "12345678"}"#),
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidBody,
        ),
        (Some(r#"["a@b.co", "12345678"]"#), StatusCode::BAD_REQUEST, ErrorCode::InvalidBody),
        (
            Some(r#"{"email": "not-an-email", "password": "12345678"}"#),
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidEmail,
        ),
        (Some(r#"{"email": "a@b.co", "password": "short"}"#), StatusCode::BAD_REQUEST, ErrorCode::InvalidPassword),
    ];
    for (body, status, code) in cases {
        let response = handle(request_with_body("signup-request.json", body), &deps).await;
        assert_eq!(response.status(), status, "{body:?}");
        assert_eq!(json_body(&response)["error"]["code"], code.as_str(), "{body:?}");
    }
    assert!(world.store.is_empty());
}

#[tokio::test]
async fn a_failing_dependency_is_a_500_json_error() {
    let world = World::new();
    let deps = world.signup();
    let body = testing::credentials_body("a@b.co", "velvet tractor orbit one");

    world.cipher.set_unavailable(true);
    let response = handle(request_with_body("signup-request.json", Some(&body)), &deps).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(json_body(&response)["error"]["code"], "internal_error");
    world.cipher.set_unavailable(false);

    world.store.set_unavailable(true);
    let response = handle(request_with_body("signup-request.json", Some(&body)), &deps).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let text = format!("{:?}", response.body());
    assert!(!text.contains("switched off"), "internal causes stay in the logs: {text}");
}

#[test]
fn concurrent_signups_of_one_email_give_one_201() {
    let world = World::new();
    let deps = world.signup();
    let body = testing::credentials_body("race@example.com", "velvet tractor orbit one");
    let statuses: Vec<StatusCode> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    let runtime =
                        tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|e| panic!("{e}"));
                    runtime.block_on(handle(request_with_body("signup-request.json", Some(&body)), &deps)).status()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap_or_else(|_| panic!("a signup panicked"))).collect()
    });
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    let conflicts = statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count();
    assert_eq!((created, conflicts), (1, 7), "{statuses:?}");
}

#[test]
fn production_deps_use_the_owasp_scheme() {
    let deps = Deps::new(
        MemoryStore::new(),
        crate::password::fake::FakeCipher::new(),
        Default::default(),
        crate::testing::blocklist(),
    );
    assert_eq!(deps.passwords.params(), (19_456, 2, 1));
}
