//! Tests of the authorizer with the REQUEST event fixture: policies, header forms, rotation, failures.

use lambda_http::aws_lambda_events::apigw::ApiGatewayCustomAuthorizerResponse;
use serde_json::{Value, json};

use super::*;
use crate::testing::{self, KEY_V2, NOW, World, authorizer_event, bearer_event};
use crate::token::issue;

const STAGE_RESOURCE: &str = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/dev/*/*";

/// A token for alice@example.com in a new session, signed with the world's current secret version.
async fn token(world: &World, now: u64) -> String {
    let keys = KeyCache::new(world.secrets.clone()).get(now).await.unwrap_or_else(|e| panic!("{e}"));
    issue(&testing::session_claims(world, "alice@example.com", now).await, &keys).unwrap_or_else(|e| panic!("{e}"))
}

/// The authorizer's verdict, when it could reach one.
async fn decide(
    event: ApiGatewayCustomAuthorizerRequestTypeRequest,
    deps: &testing::AuthorizerDeps,
) -> ApiGatewayCustomAuthorizerResponse {
    handle(event, deps).await.unwrap_or_else(|e| panic!("no verdict: {e}"))
}

fn wire(response: &ApiGatewayCustomAuthorizerResponse) -> Value {
    serde_json::to_value(response).unwrap_or_else(|e| panic!("{e}"))
}

fn effect(response: &ApiGatewayCustomAuthorizerResponse) -> Value {
    wire(response)["policyDocument"]["Statement"][0]["Effect"].clone()
}

fn assert_denied(response: &ApiGatewayCustomAuthorizerResponse, case: &str) {
    assert_eq!(effect(response), "Deny", "{case}");
    assert_eq!(wire(response)["context"], json!({}), "{case}");
}

#[tokio::test]
async fn a_valid_bearer_token_is_allowed_on_the_whole_stage() {
    let world = World::new();
    let response = decide(bearer_event(&token(&world, NOW).await), &world.authorizer()).await;
    assert_eq!(
        wire(&response),
        json!({
            "principalId": "alice@example.com",
            "policyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Action": ["execute-api:Invoke"], "Effect": "Allow", "Resource": [STAGE_RESOURCE]}]
            },
            "context": {"email": "alice@example.com"},
            "usageIdentifierKey": null
        })
    );
}

#[tokio::test]
async fn bare_tokens_and_any_header_or_scheme_case_are_accepted() {
    let world = World::new();
    let deps = world.authorizer();
    let token = token(&world, NOW).await;
    for (name, value) in [
        ("Authorization", token.clone()),
        ("authorization", format!("Bearer {token}")),
        ("AUTHORIZATION", format!("bearer {token}")),
        ("Authorization", format!("BEARER   {token}  ")),
        ("authorization", format!(" {token} ")),
    ] {
        let response = decide(authorizer_event(Some((name, &value))), &deps).await;
        assert_eq!(effect(&response), "Allow", "{name}: {value}");
    }
}

#[tokio::test]
async fn missing_empty_or_foreign_authorization_is_denied() {
    let world = World::new();
    let deps = world.authorizer();
    let token = token(&world, NOW).await;
    let basic = format!("Basic {token}");
    let cases: [(&str, Option<(&str, &str)>); 6] = [
        ("no header", None),
        ("empty", Some(("Authorization", ""))),
        ("scheme only", Some(("Authorization", "Bearer"))),
        ("scheme and spaces", Some(("Authorization", "Bearer    "))),
        ("basic", Some(("Authorization", &basic))),
        ("garbage", Some(("Authorization", "Bearer not.a.jwt"))),
    ];
    for (case, header) in cases {
        assert_denied(&decide(authorizer_event(header), &deps).await, case);
    }
}

#[tokio::test]
async fn two_authorization_headers_are_denied() {
    let world = World::new();
    let token = token(&world, NOW).await;
    let mut event = testing::fixture("authorizer-request.json");
    event["headers"]["Authorization"] = json!(format!("Bearer {token}"));
    event["headers"]["authorization"] = json!("Bearer forged");
    let response = decide(testing::authorizer_event_from(&event), &world.authorizer()).await;
    assert_denied(&response, "two headers");
}

#[tokio::test]
async fn two_authorization_headers_are_denied_as_api_gateway_sends_them() {
    // API Gateway's event keeps the last value in `headers` and every value in `multiValueHeaders`:
    // a valid token after another one must not pass on the strength of the last alone (a cache keyed on
    // one value and a check on another is how two layers come to disagree).
    let world = World::new();
    let token = token(&world, NOW).await;
    let mut event = testing::fixture("authorizer-request.json");
    event["headers"]["Authorization"] = json!(format!("Bearer {token}"));
    event["multiValueHeaders"]["Authorization"] = json!(["Bearer forged", format!("Bearer {token}")]);
    let response = decide(testing::authorizer_event_from(&event), &world.authorizer()).await;
    assert_denied(&response, "two headers, the valid one last");
    // One header, in both places: allowed.
    event["multiValueHeaders"]["Authorization"] = json!([format!("Bearer {token}")]);
    let response = decide(testing::authorizer_event_from(&event), &world.authorizer()).await;
    assert_eq!(effect(&response), "Allow");
}

#[tokio::test]
async fn an_expired_token_is_denied_as_the_clock_moves() {
    let world = World::new();
    let deps = world.authorizer();
    let token = token(&world, NOW).await;
    world.clock.set(NOW + 3600 + LEEWAY_TEST - 1);
    assert_eq!(effect(&decide(bearer_event(&token), &deps).await), "Allow");
    world.clock.set(NOW + 3600 + LEEWAY_TEST);
    assert_denied(&decide(bearer_event(&token), &deps).await, "expired");
}

const LEEWAY_TEST: u64 = crate::token::LEEWAY_SECONDS;

#[tokio::test]
async fn a_deny_covers_the_stage_and_a_bad_method_arn_denies_everything() {
    let world = World::new();
    let deps = world.authorizer();
    let denied = decide(authorizer_event(None), &deps).await;
    assert_eq!(wire(&denied)["policyDocument"]["Statement"][0]["Resource"], json!([STAGE_RESOURCE]));
    assert_eq!(wire(&denied)["principalId"], ANONYMOUS_PRINCIPAL);

    let token = token(&world, NOW).await;
    for arn in [Value::Null, json!("not-an-arn"), json!("arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5")] {
        let mut event = testing::fixture("authorizer-request.json");
        event["methodArn"] = arn.clone();
        event["headers"]["Authorization"] = json!(format!("Bearer {token}"));
        let response = decide(testing::authorizer_event_from(&event), &deps).await;
        assert_denied(&response, &arn.to_string());
        assert_eq!(wire(&response)["policyDocument"]["Statement"][0]["Resource"], json!(["*"]));
    }
}

#[tokio::test]
async fn after_a_rotation_old_and_new_tokens_are_allowed() {
    let world = World::new();
    let deps = world.authorizer();
    let old = token(&world, NOW).await;
    assert_eq!(effect(&decide(bearer_event(&old), &deps).await), "Allow");
    // One fetch by the test's signer, one by the authorizer's cold start.
    assert_eq!(world.secrets.fetch_count(), 2);

    world.secrets.rotate("v2", KEY_V2);
    world.clock.advance(60);
    let new = token(&world, NOW + 60).await;
    assert_eq!(effect(&decide(bearer_event(&new), &deps).await), "Allow", "the unknown kid refreshed the ring");
    assert_eq!(effect(&decide(bearer_event(&old), &deps).await), "Allow", "the previous version still verifies");
    assert_eq!(world.secrets.fetch_count(), 4, "one more fetch by the test's signer, one refresh");
}

#[tokio::test]
async fn a_new_kid_within_a_minute_of_the_last_fetch_is_denied_without_fetching() {
    let world = World::new();
    let deps = world.authorizer();
    decide(bearer_event(&token(&world, NOW).await), &deps).await;
    // Right after the cold start, the first unknown kid is looked up.
    world.secrets.rotate("v2", KEY_V2);
    assert_eq!(effect(&decide(bearer_event(&token(&world, NOW).await), &deps).await), "Allow", "first unknown kid");
    // Within the minute after that lookup, another unknown kid costs no fetch and is denied.
    world.secrets.rotate("v3", b"Wm4Xq7Yr0Zs3At6Bu9Cv2Dw5Ex8Fy1Gz4Ha7Ib0Jc3Kd6Le9Mf2Ng5Oh8Pi1Qj4R");
    let newest = token(&world, NOW).await;
    let fetches = world.secrets.fetch_count();
    assert_denied(&decide(bearer_event(&newest), &deps).await, "refresh too soon");
    assert_eq!(world.secrets.fetch_count(), fetches);
}

/// API Gateway caches a Deny for the token for the authorizer's TTL, but nothing for a failed
/// invocation: an outage must fail the call, or every user who arrives during it is locked out for
/// the TTL after it ends.
#[tokio::test]
async fn attack_a_secrets_manager_outage_fails_the_invocation_instead_of_a_cached_deny() {
    let world = World::new();
    let token = token(&world, NOW).await;
    world.secrets.set_unavailable(true);
    let deps = world.authorizer();
    assert_eq!(handle(bearer_event(&token), &deps).await, Err(Unavailable), "cold start during an outage");
    // What needs no key is still judged: a request without a token is a Deny.
    assert_denied(&decide(authorizer_event(None), &deps).await, "no token");

    world.secrets.set_unavailable(false);
    assert_eq!(effect(&decide(bearer_event(&token), &deps).await), "Allow", "the next call is checked afresh");
    // A wrong token is still a (cacheable) Deny, outage or not, once the keys are known.
    world.secrets.set_unavailable(true);
    assert_denied(&decide(bearer_event(&format!("{token}x")), &deps).await, "bad signature");
}

#[tokio::test]
async fn attack_an_unknown_kid_during_an_outage_is_an_error_not_a_deny() {
    let world = World::new();
    let deps = world.authorizer();
    assert_eq!(effect(&decide(bearer_event(&token(&world, NOW).await), &deps).await), "Allow");
    world.secrets.rotate("v2", KEY_V2);
    let rotated = token(&world, NOW).await;
    world.secrets.set_unavailable(true);
    assert_eq!(handle(bearer_event(&rotated), &deps).await, Err(Unavailable));
    // Within the minute the refresh is not retried, and still no Deny is cached for a token that may
    // well be good.
    world.clock.advance(30);
    assert_eq!(handle(bearer_event(&rotated), &deps).await, Err(Unavailable));
    world.secrets.set_unavailable(false);
    world.clock.advance(31);
    assert_eq!(effect(&decide(bearer_event(&rotated), &deps).await), "Allow");
}

#[tokio::test]
async fn attack_a_ten_year_token_signed_with_the_real_key_is_denied() {
    let world = World::new();
    let keys = KeyCache::new(world.secrets.clone()).get(NOW).await.unwrap_or_else(|e| panic!("{e}"));
    let mut claims = testing::session_claims(&world, "alice@example.com", NOW).await;
    claims.exp = NOW + 10 * 365 * 86_400;
    let token = issue(&claims, &keys).unwrap_or_else(|e| panic!("{e}"));
    assert_denied(&decide(bearer_event(&token), &world.authorizer()).await, "ten-year token");
    assert_eq!(
        authorize(&bearer_event(&token).headers, &world.authorizer()).await.err(),
        Some(Denial::Token(TokenError::LifetimeTooLong))
    );
}

#[tokio::test]
async fn a_rotated_out_key_stops_verifying_within_the_max_age() {
    let world = World::new();
    let deps = world.authorizer();
    let v1 = token(&world, NOW).await;
    assert_eq!(effect(&decide(bearer_event(&v1), &deps).await), "Allow");
    // Two rotations retire v1 entirely; the warm authorizer only learns of it by re-reading.
    world.secrets.rotate("v2", KEY_V2);
    world.secrets.rotate("v3", b"Wm4Xq7Yr0Zs3At6Bu9Cv2Dw5Ex8Fy1Gz4Ha7Ib0Jc3Kd6Le9Mf2Ng5Oh8Pi1Qj4R");
    world.clock.advance(KEY_MAX_AGE_SECONDS - 1);
    assert_eq!(effect(&decide(bearer_event(&v1), &deps).await), "Allow", "still within the max age");
    world.clock.advance(1);
    assert_denied(&decide(bearer_event(&v1), &deps).await, "v1 is no longer current or previous");
}

#[tokio::test]
async fn the_fixture_itself_is_denied_for_its_placeholder_token() {
    let world = World::new();
    let event = testing::authorizer_event_from(&testing::fixture("authorizer-request.json"));
    assert_eq!(
        event.method_arn.as_deref(),
        Some("arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/dev/GET/hello")
    );
    assert_denied(&decide(event, &world.authorizer()).await, "placeholder");
}

#[test]
fn stage_resource_covers_every_method_of_the_stage() {
    let cases = [
        ("arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/dev/GET/hello", Some(STAGE_RESOURCE)),
        (
            "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/POST/a/b/c",
            Some("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*/*"),
        ),
        (
            "arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/my_stage-2/GET/",
            Some("arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/my_stage-2/*/*"),
        ),
        ("arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5", None),
        ("arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5//GET/hello", None),
        ("arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/*/GET/hello", None),
        ("arn:aws:lambda:eu-west-1:123456789012:a1b2c3d4e5/dev/GET/hello", None),
        ("arn:aws:execute-api:eu-west-1::a1b2c3d4e5/dev/GET/hello", None),
        ("arn:aws:execute-api:eu-west-1:1:2:a1b2c3d4e5/dev/GET/hello", None),
        ("", None),
    ];
    for (arn, expected) in cases {
        assert_eq!(stage_resource(arn).as_deref(), expected, "{arn}");
    }
}

#[test]
fn bearer_token_parsing() {
    let mut headers = HeaderMap::new();
    assert_eq!(bearer_token(&headers), Err(Denial::MissingHeader));
    headers.insert("authorization", "Bearer abc".parse().unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(bearer_token(&headers), Ok("abc"));
    headers.insert("authorization", "abc".parse().unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(bearer_token(&headers), Ok("abc"));
    headers.insert("authorization", "Token abc".parse().unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(bearer_token(&headers), Err(Denial::UnsupportedScheme));
    let non_ascii = lambda_http::http::HeaderValue::from_bytes(b"Bearer \xff").unwrap_or_else(|e| panic!("{e}"));
    headers.insert("authorization", non_ascii);
    assert_eq!(bearer_token(&headers), Err(Denial::UnreadableHeader));
}

#[test]
fn denial_reasons_never_contain_the_token() {
    let reasons = [
        Denial::MissingHeader,
        Denial::RepeatedHeader,
        Denial::UnreadableHeader,
        Denial::UnsupportedScheme,
        Denial::MalformedMethodArn,
        Denial::KeysUnavailable,
        Denial::Token(TokenError::BadSignature),
    ];
    for reason in reasons {
        let text = reason.to_string();
        assert!(!text.is_empty() && !text.contains("eyJ"), "{text}");
    }
}

#[test]
fn production_deps_bound_the_key_age() {
    let secrets = crate::keys::fake::FakeSecretSource::new("v1", testing::KEY_V1);
    let deps = Deps::new(secrets, testing::settings(), crate::session::memory::MemorySessions::new(), 10);
    let debug = format!("{:?}", deps.keys);
    assert!(debug.contains(&format!("max_age: Some({KEY_MAX_AGE_SECONDS})")), "{debug}");
}

/// A session the authorizer cached with an end that has passed is read again, not denied from the cache:
/// a refresh since may have moved its end (an idle timeout shorter than the token's lifetime).
#[tokio::test]
async fn a_session_cached_as_ending_is_read_again_after_a_refresh_moved_its_end() {
    use crate::session::{Session, SessionId, SessionStore as _};
    let world = World::new();
    let deps = world.authorizer();
    let keys = KeyCache::new(world.secrets.clone()).get(NOW).await.unwrap_or_else(|e| panic!("{e}"));
    let id = SessionId::random().unwrap_or_else(|e| panic!("{e}"));
    let (session, _) = Session::begin(id, "alice@example.com", NOW, [3; 32], &keys);
    world.sessions.create(&session, NOW + 5).await.unwrap_or_else(|e| panic!("{e}"));
    let email = crate::validate::Email::parse("alice@example.com").unwrap_or_else(|e| panic!("{e}"));
    let claims = crate::token::Claims::new(&email, *id.as_bytes(), [1; 16], &testing::settings(), NOW);
    let token = issue(&claims, &keys).unwrap_or_else(|e| panic!("{e}"));
    assert!(authorize(&bearer_event(&token).headers, &deps).await.is_ok(), "cached: ends at NOW + 5");
    world.clock.advance(6);
    let moved = world.sessions.rotate(&id, 1, "next", NOW + 6, NOW + 600).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(moved);
    assert!(authorize(&bearer_event(&token).headers, &deps).await.is_ok(), "denied from a stale cache");
}
