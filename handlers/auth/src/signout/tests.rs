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

/// Whether the authorizer allows `token`, or why not.
async fn authorized(authorizer: &testing::AuthorizerDeps, token: &Value) -> Result<(), crate::authorizer::Denial> {
    let event = testing::bearer_event(token.as_str().unwrap_or_default());
    crate::authorizer::authorize(&event.headers, authorizer).await.map(|_| ())
}

#[tokio::test]
async fn a_sessions_end_ends_its_access_tokens_within_the_bound_and_no_others() {
    use crate::authorizer::Denial;
    use crate::session::Ended;
    let world = World::new();
    let authorizer = world.authorizer();
    let (signed_out, reused, kept) =
        (signed_in(&world, "a@b.co").await, signed_in(&world, "a@b.co").await, signed_in(&world, "a@b.co").await);
    for session in [&signed_out, &reused, &kept] {
        assert_eq!(authorized(&authorizer, &session["token"]).await, Ok(()), "cached as standing");
    }
    // One session signed out; another ended by reuse detection, with the thief's fresh token minted in it.
    let (status, _) = sign_out(&world, "a@b.co", &json!({"refresh_token": signed_out["refresh_token"]})).await;
    assert_eq!(status, StatusCode::OK);
    let body = |token: &Value| json!({ "refresh_token": token }).to_string();
    let rotate = |token: &Value| {
        let request = request_with_body("signin-request.json", Some(&body(token)));
        let deps = world.refresh_with(crate::session::SessionSettings { grace_seconds: 0, ..testing::SESSIONS });
        async move { json_body(&crate::refresh::handle(request, &deps).await) }
    };
    let thief = rotate(&reused["refresh_token"]).await;
    assert!(thief["token"].is_string(), "{thief}");
    assert!(rotate(&reused["refresh_token"]).await["token"].is_null(), "the spent token is reuse");
    // The authorizer read each session as standing before it ended; after its cache's max age it reads again.
    world.clock.advance(testing::REVOCATION_CACHE_SECONDS);
    for (token, what) in
        [(&signed_out["token"], "signed out"), (&reused["token"], "reused"), (&thief["token"], "thief")]
    {
        assert_eq!(authorized(&authorizer, token).await, Err(Denial::SessionEnded(Ended::Revoked)), "{what}");
    }
    assert_eq!(authorized(&authorizer, &kept["token"]).await, Ok(()), "the user's other session stands");
}

#[tokio::test]
async fn a_token_naming_an_unknown_expired_or_another_users_session_is_denied() {
    use crate::authorizer::Denial;
    use crate::session::{Ended, SessionStore as _};
    let world = World::new();
    let authorizer = world.authorizer();
    let keys = world.refresh().keys.get(world.clock.now()).await.unwrap_or_else(|e| panic!("{e}"));
    let issue =
        |claims: &crate::token::Claims| json!(crate::token::issue(claims, &keys).unwrap_or_else(|e| panic!("{e}")));
    let mut unknown = testing::session_claims(&world, "a@b.co", world.clock.now()).await;
    unknown.sid = "00".repeat(16);
    assert_eq!(authorized(&authorizer, &issue(&unknown)).await, Err(Denial::SessionEnded(Ended::Unknown)));
    // Mallory's token, validly signed (a leaked key), naming Alice's session.
    let alice = testing::session_claims(&world, "alice@b.co", world.clock.now()).await;
    let mallory = crate::token::Claims { sub: "mallory@b.co".into(), email: "mallory@b.co".into(), ..alice.clone() };
    assert_eq!(authorized(&authorizer, &issue(&mallory)).await, Err(Denial::SessionEnded(Ended::OtherUser)));
    // A session past its end that DynamoDB has not deleted yet.
    let id = crate::session::SessionId::of(&alice).unwrap_or_else(|| panic!("no sid"));
    let (session, _) = world.sessions.stored(&id).unwrap_or_else(|| panic!("not stored"));
    world.clock.advance(testing::SESSIONS.lifetimes.idle_seconds + 1);
    let later = crate::token::Claims { iat: world.clock.now(), exp: world.clock.now() + 60, ..alice };
    assert!(world.sessions.standing(&session.id).await.is_ok_and(|s| s.is_some()));
    assert_eq!(authorized(&authorizer, &issue(&later)).await, Err(Denial::SessionEnded(Ended::Expired)));
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
