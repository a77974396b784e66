//! The signout handler over fakes: one session, every session, and what it refuses.

use lambda_http::http::StatusCode;
use serde_json::{Value, json};

use super::*;
use crate::testing::{self, World, fixture, json_body, request_from, request_with_body, signed_in};

/// `POST /signout` as `caller` (the authorizer's context), with `body`.
async fn sign_out(world: &World, caller: &str, body: &Value) -> (StatusCode, Value) {
    let mut event = fixture("hello-request.json");
    event["httpMethod"] = json!("POST");
    event["body"] = json!(body.to_string());
    event["requestContext"]["authorizer"] = json!({"principalId": caller, "email": caller});
    let response = handle(request_from(&event), &world.signout()).await;
    (response.status(), json_body(&response))
}

async fn refresh(world: &World, token: &Value) -> StatusCode {
    let body = json!({ "refresh_token": token }).to_string();
    crate::refresh::handle(request_with_body("signin-request.json", Some(&body)), &world.refresh()).await.status()
}

#[tokio::test]
async fn signing_out_ends_that_session_and_no_other() {
    let world = World::new();
    let (laptop, phone) = (signed_in(&world, "a@b.co").await, signed_in(&world, "a@b.co").await);
    let (status, body) = sign_out(&world, "a@b.co", &json!({"refresh_token": laptop["refresh_token"]})).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"signed_out": "session"})));
    assert_eq!(refresh(&world, &laptop["refresh_token"]).await, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&world, &phone["refresh_token"]).await, StatusCode::OK);
}

#[tokio::test]
async fn another_users_session_or_a_token_not_ours_is_refused_and_left_alone() {
    let world = World::new();
    let victim = signed_in(&world, "victim@b.co").await;
    let (status, body) = sign_out(&world, "mallory@b.co", &json!({"refresh_token": victim["refresh_token"]})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_refresh_token")));
    assert_eq!(refresh(&world, &victim["refresh_token"]).await, StatusCode::OK);
    let (status, _) = sign_out(&world, "victim@b.co", &json!({"refresh_token": "forged"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A well-made token for the victim's session id that is not one of its tokens.
    let id = crate::session::RefreshToken::parse(victim["refresh_token"].as_str().unwrap_or_default())
        .unwrap_or_else(|| panic!("not a refresh token"))
        .session;
    let keys = world.refresh().keys.get(world.clock.now()).await.unwrap_or_else(|e| panic!("{e}"));
    let made = crate::session::RefreshToken::mint(&keys, &id, 1, &[0; 32]);
    assert_eq!(sign_out(&world, "victim@b.co", &json!({"refresh_token": made})).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(refresh(&world, &victim["refresh_token"]).await, StatusCode::OK);
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session_and_every_access_token_issued_before() {
    let world = World::new();
    let sessions = [signed_in(&world, "a@b.co").await, signed_in(&world, "a@b.co").await];
    let other_user = signed_in(&world, "z@b.co").await;
    let authorizer = world.authorizer();
    let allowed = |token: &Value| {
        let event = testing::bearer_event(token.as_str().unwrap_or_default());
        let authorizer = &authorizer;
        async move { crate::authorizer::authorize(&event.headers, authorizer).await }
    };
    // The authorizer has read (and cached) that the user never signed out.
    assert!(allowed(&sessions[0]["token"]).await.is_ok());
    world.clock.advance(1);
    let (status, body) = sign_out(&world, "a@b.co", &json!({"everywhere": true})).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"signed_out": "everywhere"})));
    for session in &sessions {
        assert_eq!(refresh(&world, &session["refresh_token"]).await, StatusCode::UNAUTHORIZED);
    }
    // Within its cache's max age the authorizer may still allow; after it, never.
    world.clock.advance(testing::REVOCATION_CACHE_SECONDS);
    for session in &sessions {
        assert_eq!(
            allowed(&session["token"]).await.err(),
            Some(crate::authorizer::Denial::SignedOutEverywhere),
            "an access token issued before signing out everywhere"
        );
    }
    // Another user, and a sign-in afterwards, are untouched.
    assert!(allowed(&other_user["token"]).await.is_ok());
    assert_eq!(refresh(&world, &other_user["refresh_token"]).await, StatusCode::OK);
    world.clock.advance(1);
    let after = signed_in(&world, "a@b.co").await;
    assert!(allowed(&after["token"]).await.is_ok());
    assert_eq!(refresh(&world, &after["refresh_token"]).await, StatusCode::OK);
}

#[tokio::test]
async fn bodies_must_ask_for_exactly_one_thing() {
    let world = World::new();
    for body in [
        json!({}),
        json!({"everywhere": false}),
        json!({"everywhere": "yes"}),
        json!({"refresh_token": 1}),
        json!({"refresh_token": "a", "everywhere": true}),
        json!({"session": "a"}),
    ] {
        let (status, answer) = sign_out(&world, "a@b.co", &body).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_body")),
            "{body}"
        );
    }
    // Without the authorizer's context (a misconfigured route), nothing is signed out.
    let mut event = fixture("hello-request.json");
    event["body"] = json!(json!({"everywhere": true}).to_string());
    event["requestContext"].as_object_mut().and_then(|c| c.remove("authorizer"));
    assert_eq!(handle(request_from(&event), &world.signout()).await.status(), StatusCode::UNAUTHORIZED);
}
