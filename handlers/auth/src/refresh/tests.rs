//! The refresh handler over fakes: rotation, the grace window, reuse detection, expiry, one answer
//! for every refusal, the concurrent race, and bad bodies.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use lambda_http::http::StatusCode;
use serde_json::{Value, json};

use super::*;
use crate::session::RefreshToken;
use crate::testing::{self, NOW, World, json_body, request_with_body, signed_in};

async fn refresh_with(deps: &testing::RefreshDeps, token: &str) -> (StatusCode, Value) {
    let body = json!({ "refresh_token": token }).to_string();
    let response = handle(request_with_body("signin-request.json", Some(&body)), deps).await;
    (response.status(), json_body(&response))
}

fn refresh_token(body: &Value) -> String {
    body["refresh_token"].as_str().unwrap_or_else(|| panic!("no refresh token in {body}")).to_owned()
}

fn session_of(token: &str) -> crate::session::SessionId {
    RefreshToken::parse(token).unwrap_or_else(|| panic!("not a refresh token")).session
}

#[tokio::test]
async fn each_refresh_rotates_and_answers_a_new_access_token() {
    let world = World::new();
    let deps = world.refresh();
    let first = signed_in(&world, "a@b.co").await;
    world.clock.advance(60);
    let (status, second) = refresh_with(&deps, &refresh_token(&first)).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(refresh_token(&second), refresh_token(&first));
    assert_eq!(second["expires_in"], testing::settings().lifetime_seconds);
    // The new access token is the user's, and the authorizer takes it.
    let access = second["token"].as_str().unwrap_or_default();
    let claims = crate::authorizer::authorize(&testing::bearer_event(access).headers, &world.authorizer()).await;
    assert_eq!(claims.map(|c| (c.sub, c.iat)), Ok(("a@b.co".to_owned(), NOW + 60)));
    world.clock.advance(60);
    let (status, third) = refresh_with(&deps, &refresh_token(&second)).await;
    assert_eq!(status, StatusCode::OK, "{third}");
    let (stored, expires_at) = world.sessions.stored(&session_of(&refresh_token(&third))).unwrap_or_else(|| panic!());
    assert_eq!((stored.generation, stored.last_used), (3, NOW + 120));
    assert_eq!(expires_at, NOW + 120 + testing::SESSIONS.lifetimes.idle_seconds);
}

#[tokio::test]
async fn a_spent_token_after_the_grace_window_ends_the_session_for_its_holder_too() {
    let world = World::new();
    let deps = world.refresh();
    let first = refresh_token(&signed_in(&world, "a@b.co").await);
    let (_, second) = refresh_with(&deps, &first).await;
    let (_, third) = refresh_with(&deps, &refresh_token(&second)).await;
    let newest = refresh_token(&third);
    world.clock.advance(testing::SESSIONS.grace_seconds + 1);
    // The thief (or a replayed copy) presents the first token again.
    let (status, body) = refresh_with(&deps, &first).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_refresh_token")));
    let (stored, _) = world.sessions.stored(&session_of(&newest)).unwrap_or_else(|| panic!());
    assert!(stored.revoked, "reuse ends the session");
    // The legitimate holder's newest token is dead too: they sign in again.
    assert_eq!(refresh_with(&deps, &newest).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_retry_inside_the_grace_window_gets_the_same_answer_and_the_session_lives() {
    let world = World::new();
    let deps = world.refresh();
    let first = refresh_token(&signed_in(&world, "a@b.co").await);
    let (_, answer) = refresh_with(&deps, &first).await;
    world.clock.advance(testing::SESSIONS.grace_seconds);
    // The response was lost; the client retries with the same token.
    let (status, retry) = refresh_with(&deps, &first).await;
    assert_eq!(status, StatusCode::OK, "{retry}");
    assert_eq!(refresh_token(&retry), refresh_token(&answer), "the same new refresh token, not another one");
    let (stored, _) = world.sessions.stored(&session_of(&first)).unwrap_or_else(|| panic!());
    assert_eq!((stored.generation, stored.revoked), (2, false));
    // The chain goes on from there.
    assert_eq!(refresh_with(&deps, &refresh_token(&retry)).await.0, StatusCode::OK);
    // With the grace window off, the same retry ends the session.
    let strict = world.refresh_with(SessionSettings { grace_seconds: 0, ..testing::SESSIONS });
    let other = refresh_token(&signed_in(&world, "c@d.co").await);
    let (_, next) = refresh_with(&strict, &other).await;
    assert_eq!(refresh_with(&strict, &other).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh_with(&strict, &refresh_token(&next)).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sessions_end_at_their_absolute_lifetime_and_after_their_idle_timeout() {
    let world = World::new();
    let deps = world.refresh();
    let lifetimes = testing::SESSIONS.lifetimes;
    // Idle: a week without a refresh.
    let idle = refresh_token(&signed_in(&world, "a@b.co").await);
    world.clock.advance(lifetimes.idle_seconds);
    assert_eq!(refresh_with(&deps, &idle).await.0, StatusCode::UNAUTHORIZED);
    // Absolute: refreshed every six days, it still ends thirty days after sign-in.
    let start = world.clock.now();
    let mut token = refresh_token(&signed_in(&world, "a@b.co").await);
    loop {
        world.clock.advance(6 * 86_400);
        let (status, body) = refresh_with(&deps, &token).await;
        if world.clock.now() >= start + lifetimes.absolute_seconds {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "refreshed past its absolute lifetime");
            break;
        }
        assert_eq!(status, StatusCode::OK, "{body}");
        token = refresh_token(&body);
    }
}

#[tokio::test]
async fn every_refusal_gets_one_answer_after_the_same_work() {
    let world = World::new();
    let deps = world.refresh();
    let alive = refresh_token(&signed_in(&world, "a@b.co").await);
    // Spent: rotated, then presented after the grace window.
    let spent = refresh_token(&signed_in(&world, "b@b.co").await);
    refresh_with(&deps, &spent).await;
    // Revoked: signed out.
    let revoked = refresh_token(&signed_in(&world, "c@b.co").await);
    world.sessions.revoke(&session_of(&revoked)).await.unwrap_or_else(|e| panic!("{e}"));
    // Unknown: a well-made token of a session that does not exist (deleted by its time to live).
    let keys = deps.keys.get(world.clock.now()).await.unwrap_or_else(|e| panic!("{e}"));
    let unknown = RefreshToken::mint(&keys, &crate::session::SessionId::from_bytes([3; 16]), 1, &[3; 32]);
    // Forged: the right shape, another key. Malformed: not a token at all.
    let other_keys = crate::token::KeyRing::new(
        &crate::keys::SecretVersion { version_id: "x".into(), value: testing::KEY_V2.to_vec() },
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // Forged for a live session whose id a log showed: with another key, or with ours but not its seed.
    let forged = RefreshToken::mint(&other_keys, &session_of(&alive), 1, &[0; 32]);
    let seedless = RefreshToken::mint(&keys, &session_of(&alive), 1, &[0; 32]);
    world.clock.advance(testing::SESSIONS.grace_seconds + 1);
    // Expired: idle for a week (the others are judged first, before this advance matters to them).
    let mut answers = Vec::new();
    for (what, token) in [
        ("spent", spent.as_str()),
        ("revoked", revoked.as_str()),
        ("unknown", unknown.as_str()),
        ("forged", forged.as_str()),
        ("made without the seed", seedless.as_str()),
        ("malformed", "not-a-refresh-token"),
    ] {
        let before = world.sessions.calls.load(Ordering::SeqCst);
        let answer = refresh_with(&deps, token).await;
        let work = world.sessions.calls.load(Ordering::SeqCst) - before;
        answers.push((what, answer, work));
    }
    // The forgeries left the live session alone: whoever saw its id in a log cannot end it.
    let (stored, _) = world.sessions.stored(&session_of(&alive)).unwrap_or_else(|| panic!());
    assert!(!stored.revoked, "a forged token ended the session it named");
    world.clock.advance(testing::SESSIONS.lifetimes.idle_seconds);
    let before = world.sessions.calls.load(Ordering::SeqCst);
    let expired = refresh_with(&deps, &alive).await;
    answers.push(("expired", expired, world.sessions.calls.load(Ordering::SeqCst) - before));
    let (_, first, _) = &answers[0];
    for (what, answer, work) in &answers {
        assert_eq!(answer, first, "{what} is told apart");
        assert_eq!(*work, 3, "{what}: two reads and a write, as every refusal");
    }
    assert_eq!(first.0, StatusCode::UNAUTHORIZED);
    assert_eq!(first.1["error"]["code"], "invalid_refresh_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_refreshes_with_one_token_give_one_chain() {
    for grace in [testing::SESSIONS.grace_seconds, 0] {
        let world = World::new();
        let deps = Arc::new(world.refresh_with(SessionSettings { grace_seconds: grace, ..testing::SESSIONS }));
        let token = refresh_token(&signed_in(&world, "a@b.co").await);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (deps, token) = (Arc::clone(&deps), token.clone());
            tasks.spawn(async move { refresh_with(&deps, &token).await });
        }
        let mut answers = Vec::new();
        while let Some(answer) = tasks.join_next().await {
            answers.push(answer.unwrap_or_else(|e| panic!("{e}")));
        }
        let successes: Vec<String> =
            answers.iter().filter(|(s, _)| *s == StatusCode::OK).map(|(_, body)| refresh_token(body)).collect();
        let (stored, _) = world.sessions.stored(&session_of(&token)).unwrap_or_else(|| panic!());
        assert_eq!(stored.generation, 2, "one rotation, whatever the race");
        if grace > 0 {
            assert_eq!(successes.len(), 20, "every caller inside the window is answered");
            assert!(successes.iter().all(|t| *t == successes[0]), "one new token for all");
            assert!(!stored.revoked);
        } else {
            assert_eq!(successes.len(), 1, "one success, the rest refused");
            assert!(stored.revoked, "without grace the repeats are reuse");
        }
    }
}

#[tokio::test]
async fn a_user_who_signed_out_everywhere_cannot_refresh_sessions_begun_before() {
    let world = World::new();
    let deps = world.refresh();
    let token = refresh_token(&signed_in(&world, "a@b.co").await);
    world.clock.advance(5);
    world.sessions.end_all("a@b.co", world.clock.now(), u64::MAX).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(refresh_with(&deps, &token).await.0, StatusCode::UNAUTHORIZED);
    // A session begun afterwards is not touched.
    world.clock.advance(1);
    let later = refresh_token(&signed_in(&world, "a@b.co").await);
    assert_eq!(refresh_with(&deps, &later).await.0, StatusCode::OK);
}

#[tokio::test]
async fn bad_bodies_get_a_json_4xx_and_a_failing_table_a_500() {
    let world = World::new();
    let deps = world.refresh();
    for (body, code) in [
        (None, "missing_body"),
        (Some("{"), "invalid_json"),
        (Some("[]"), "invalid_body"),
        (Some(r#"{"refresh_token": 5}"#), "invalid_body"),
        (Some(r#"{"refresh_token": "a", "refresh_token": "b"}"#), "invalid_body"),
        (Some(r#"{"token": "a"}"#), "invalid_body"),
        (Some("{}"), "invalid_body"),
    ] {
        let response = handle(request_with_body("signin-request.json", body), &deps).await;
        assert!(response.status().is_client_error(), "{body:?}");
        assert_eq!(json_body(&response)["error"]["code"], code, "{body:?}");
    }
    let huge = json!({ "refresh_token": "a".repeat(5000) }).to_string();
    let response = handle(request_with_body("signin-request.json", Some(&huge)), &deps).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let token = refresh_token(&signed_in(&world, "a@b.co").await);
    world.sessions.fail();
    assert_eq!(refresh_with(&deps, &token).await.0, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn reuse_is_logged_as_a_security_event_with_the_session_and_no_token() {
    let world = World::new();
    let deps = world.refresh();
    let ((first, second), log) = testing::with_logs(async {
        let first = refresh_token(&signed_in(&world, "a@b.co").await);
        let (_, second) = refresh_with(&deps, &first).await;
        world.clock.advance(testing::SESSIONS.grace_seconds + 1);
        assert_eq!(refresh_with(&deps, &first).await.0, StatusCode::UNAUTHORIZED);
        (first, second)
    })
    .await;
    let event = log.lines().find(|l| l.contains("refresh_token_reuse")).unwrap_or_else(|| panic!("no event in {log}"));
    assert!(event.contains(&session_of(&first).to_string()), "{event}");
    assert!(event.contains(&crate::session::user_ref("a@b.co")), "{event}");
    assert!(event.contains("\"level\":\"WARN\""), "{event}");
    for secret in [first.as_str(), refresh_token(&second).as_str(), "a@b.co"] {
        assert!(!log.contains(secret), "the log holds {secret}:\n{log}");
    }
}

#[tokio::test]
async fn no_access_token_outlives_its_session() {
    let world = World::new();
    let deps = world.refresh();
    let lifetimes = testing::SESSIONS.lifetimes;
    let mut token = refresh_token(&signed_in(&world, "a@b.co").await);
    // Refreshed every six days (to day 24), then a minute before the session's absolute end.
    for _ in 0..4 {
        world.clock.advance(6 * 86_400);
        token = refresh_token(&refresh_with(&deps, &token).await.1);
    }
    world.clock.set(NOW + lifetimes.absolute_seconds - 60);
    let (status, last) = refresh_with(&deps, &token).await;
    assert_eq!(status, StatusCode::OK, "{last}");
    assert_eq!(last["expires_in"], 60, "cut to the session's end");
}
