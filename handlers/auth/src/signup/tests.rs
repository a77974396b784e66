//! Tests of the signup handler with fakes, driven by API Gateway proxy fixtures.

use lambda_http::http::StatusCode;
use serde_json::json;

use super::*;
use crate::codes::memory::MemoryCodes;
use crate::codes::quota::DEFAULT_MAIL_LIMITS;
use crate::error::ErrorCode;
use crate::keys::fake::FakeSecretSource;
use crate::mail::memory::MemoryMailer;
use crate::password::CipherError;
use crate::store::memory::MemoryStore;
use crate::testing::{self, FIXTURE_EMAIL, FIXTURE_PASSWORD, World, json_body, request_with_body};
use crate::validate::Email;

fn email(text: &str) -> Email {
    Email::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

async fn sign_up(world: &World, address: &str, password: &str) -> Response<Body> {
    let body = testing::credentials_body(address, password);
    handle(request_with_body("signup-request.json", Some(&body)), &world.signup()).await
}

#[tokio::test]
async fn the_fixture_gets_202_check_your_email_a_code_and_no_account_yet() {
    let world = World::new();
    let response = handle(testing::request_from(&testing::fixture("signup-request.json")), &world.signup()).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(json_body(&response), json!({"status": "check_your_email"}));
    assert_eq!(response.headers()["content-type"], "application/json");
    assert!(world.store.is_empty(), "no account before the address is verified");
    let sent = world.mailer.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, FIXTURE_EMAIL, "to the normalized address");
    assert_eq!(sent[0].1.subject, "Your verification code");
    assert!(world.mailer.last_code(FIXTURE_EMAIL).is_some());
}

#[tokio::test]
async fn the_pending_signup_holds_an_encrypted_argon2id_hash_bound_to_the_email() {
    let world = World::new();
    handle(testing::request_from(&testing::fixture("signup-request.json")), &world.signup()).await;
    let kept = world.codes.get(FIXTURE_EMAIL, Purpose::Verify).await.unwrap_or_else(|e| panic!("{e}"));
    let pending = kept.and_then(|k| k.payload).unwrap_or_else(|| panic!("no pending signup"));
    let stored = String::from_utf8_lossy(&pending);
    assert!(!stored.contains("argon2") && !stored.contains(FIXTURE_PASSWORD), "{stored}");
    let phc = world.cipher.decrypt(&pending, &email(FIXTURE_EMAIL)).await.unwrap_or_else(|e| panic!("{e}"));
    let phc = crate::password::PhcString::from_bytes(phc).unwrap_or_else(|e| panic!("{e}"));
    assert!(phc.as_str().starts_with("$argon2id$"));
    let password = crate::validate::Password::parse(FIXTURE_PASSWORD.into()).unwrap_or_else(|e| panic!("{e}"));
    assert!(world.signup().passwords.verify(&password, &phc));
    assert_eq!(world.cipher.decrypt(&pending, &email("bob@example.com")).await, Err(CipherError::Rejected));
}

#[tokio::test]
async fn a_base64_encoded_body_is_read() {
    let world = World::new();
    let response =
        handle(testing::request_from(&testing::fixture("signup-request-base64.json")), &world.signup()).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
}

/// The attack: telling which addresses have an account by signing them up. Both answers are the same
/// (status, headers, body) and so are the calls behind them; only the mail differs, which only the
/// mailbox's owner reads.
#[tokio::test]
async fn an_address_with_an_account_gets_the_same_answer_and_calls_as_a_new_one() {
    let world = World::new();
    testing::registered(&world, "ann@example.com", "velvet tractor orbit one").await;
    world.journal.take();
    let mut seen = Vec::new();
    for address in ["ann@example.com", "nobody@example.com"] {
        let response = sign_up(&world, address, "another harbor of lemonade").await;
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect();
        seen.push((response.status(), headers, json_body(&response), world.journal.take()));
    }
    assert_eq!(seen[0], seen[1], "an address with an account and one without");
    assert_eq!(
        seen[0].3,
        ["kms.encrypt", "users.get", "codes.count_mail", "codes.count_mail", "codes.put", "mail.send", "codes.put"],
        "the work both do"
    );
    let sent = world.mailer.sent();
    let (owner, newcomer) = (&sent[sent.len() - 2].1, &sent[sent.len() - 1].1);
    assert_eq!(owner.subject, "Someone tried to sign up with your address");
    assert!(owner.text.contains("code: "), "the owner gets a reset code: {}", owner.text);
    assert_eq!(newcomer.subject, "Your verification code");
    assert_eq!(world.store.len(), 1, "nothing was written to the users table");
    // And the codes table holds a code of each purpose for both, so that a wrong guess at verify or reset
    // spends a try (a conditional write that succeeds) for both alike.
    for address in ["ann@example.com", "nobody@example.com"] {
        for purpose in [Purpose::Verify, Purpose::Reset] {
            let kept = world.codes.get(address, purpose).await.unwrap_or_else(|e| panic!("{e}"));
            assert!(kept.is_some_and(|k| k.issued.tries_left == crate::codes::TRIES), "{address} {purpose:?}");
        }
    }
}

#[tokio::test]
async fn signing_up_again_replaces_a_pending_signup_and_its_code() {
    let world = World::new();
    sign_up(&world, "ann@example.com", "velvet tractor orbit one").await;
    let first = world.mailer.last_code("ann@example.com").unwrap_or_default();
    sign_up(&world, "ann@example.com", "another harbor of lemonade").await;
    let second = world.mailer.last_code("ann@example.com").unwrap_or_default();
    let verify = |code: &str, password: &str| {
        let body = testing::code_body("ann@example.com", code, password);
        let deps = world.verify();
        async move { crate::verify::handle(request_with_body("signup-request.json", Some(&body)), &deps).await.status() }
    };
    assert_eq!(verify(&first, "velvet tractor orbit one").await, StatusCode::BAD_REQUEST, "the first code is dead");
    assert_eq!(verify(&second, "velvet tractor orbit one").await, StatusCode::BAD_REQUEST, "the newest password wins");
    assert_eq!(verify(&second, "another harbor of lemonade").await, StatusCode::OK);
}

/// The attack: flooding someone's inbox through signup. Every request is answered alike; only the
/// hour's mails go out.
#[tokio::test]
async fn an_address_is_sent_at_most_its_hours_mails_however_often_it_is_signed_up() {
    let world = World::new();
    for _ in 0..20 {
        let response = sign_up(&world, "victim@example.com", "velvet tractor orbit one").await;
        assert_eq!(
            (response.status(), json_body(&response)),
            (StatusCode::ACCEPTED, json!({"status": "check_your_email"}))
        );
    }
    assert_eq!(world.mailer.sent().len(), DEFAULT_MAIL_LIMITS.per_hour as usize);
}

#[tokio::test]
async fn bad_input_is_a_4xx_json_error_and_sends_nothing() {
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
        (
            Some(r#"{"email": "a@b.co", "password": "password12345678"}"#),
            StatusCode::BAD_REQUEST,
            ErrorCode::WeakPassword,
        ),
    ];
    for (body, status, code) in cases {
        let response = handle(request_with_body("signup-request.json", body), &deps).await;
        assert_eq!(response.status(), status, "{body:?}");
        assert_eq!(json_body(&response)["error"]["code"], code.as_str(), "{body:?}");
    }
    assert!(world.store.is_empty());
    assert!(world.mailer.sent().is_empty());
    assert!(world.journal.take().is_empty(), "refused before any call");
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
fn production_deps_use_the_owasp_scheme() {
    let outbox = Outbox { codes: MemoryCodes::new(), mailer: MemoryMailer::new(), limits: DEFAULT_MAIL_LIMITS };
    let deps = Deps::new(
        (MemoryStore::new(), crate::password::fake::FakeCipher::new()),
        Passwords { policy: Default::default(), blocklist: crate::testing::blocklist() },
        FakeSecretSource::new("c1", testing::CODE_KEY),
        outbox,
    );
    assert_eq!(deps.passwords.params(), (19_456, 2, 1));
}
