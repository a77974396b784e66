//! Test support: API Gateway event fixtures and a world of fakes that the handlers share.

use std::path::PathBuf;
use std::sync::Arc;

use lambda_http::aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use lambda_http::{Body, Request, Response};
use serde_json::Value;

use crate::clock::ManualClock;
use crate::keys::KeyCache;
use crate::keys::fake::FakeSecretSource;
use crate::lockout::Protection;
use crate::lockout::memory::MemoryAttempts;
use crate::password::PasswordScheme;
use crate::password::fake::FakeCipher;
use crate::session::SessionSettings;
use crate::session::memory::MemorySessions;
use crate::store::memory::MemoryStore;
use crate::token::TokenSettings;
use crate::{authorizer, refresh, signin, signout, signup};

/// The fixtures' request time, in Unix seconds.
pub const NOW: u64 = 1_732_529_742;
pub const KEY_V1: &[u8] = b"Zq8d3LmT0vXk5sR2wY7nB4hJ9cF1gP6aE0uI3oK8zM5xN2bV7tQ4rW1yS6dH9jL0";
pub const KEY_V2: &[u8] = b"Hk2Jm9Qp4Rs7Tv0Wx3Yz6Ab1Cd8Ef5Gh2Ij9Kl4Mn7Op0Qr3St6Uv1Wx8Yz5Ab2Cd";

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// A fixture file as JSON.
pub fn fixture(name: &str) -> Value {
    let path = fixture_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// A REST proxy event as lambda_http hands it to a handler.
pub fn request_from(event: &Value) -> Request {
    lambda_http::request::from_str(&event.to_string()).unwrap_or_else(|e| panic!("not a proxy event: {e}"))
}

/// A REST proxy fixture with its body replaced (`None`: no body).
/// The source address of the signin fixture (`requestContext.identity.sourceIp`).
pub const FIXTURE_SOURCE: &str = "203.0.113.7";

/// [`request_with_body`] from another source address.
pub fn request_from_address(name: &str, body: Option<&str>, source: &str) -> Request {
    let mut event = fixture(name);
    event["body"] = body.map_or(Value::Null, |b| Value::String(b.to_owned()));
    event["isBase64Encoded"] = Value::Bool(false);
    event["requestContext"]["identity"]["sourceIp"] = Value::String(source.to_owned());
    request_from(&event)
}

pub fn request_with_body(name: &str, body: Option<&str>) -> Request {
    let mut event = fixture(name);
    event["body"] = body.map_or(Value::Null, |b| Value::String(b.to_owned()));
    event["isBase64Encoded"] = Value::Bool(false);
    request_from(&event)
}

/// The REQUEST authorizer fixture with the Authorization header set to `value` under the header name
/// `name`, or removed.
pub fn authorizer_event(header: Option<(&str, &str)>) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
    let mut event = fixture("authorizer-request.json");
    for field in ["headers", "multiValueHeaders"] {
        let Some(headers) = event[field].as_object_mut() else { panic!("the fixture has no {field}") };
        headers.remove("Authorization");
        if let Some((name, value)) = header {
            let value = if field == "headers" { Value::from(value) } else { Value::from(vec![value]) };
            headers.insert(name.to_owned(), value);
        }
    }
    authorizer_event_from(&event)
}

pub fn authorizer_event_from(event: &Value) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
    serde_json::from_value(event.clone()).unwrap_or_else(|e| panic!("not an authorizer event: {e}"))
}

/// The authorizer fixture carrying `Authorization: Bearer <token>`.
pub fn bearer_event(token: &str) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
    authorizer_event(Some(("Authorization", &format!("Bearer {token}"))))
}

/// A response body as JSON.
pub fn json_body(response: &Response<Body>) -> Value {
    match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")),
        other => panic!("expected a text body, got {other:?}"),
    }
}

/// Small Argon2id parameters: the handlers' logic does not depend on the cost.
pub fn cheap_passwords() -> PasswordScheme {
    PasswordScheme::with_params(256, 1, 1).unwrap_or_else(|e| panic!("{e}"))
}

pub fn settings() -> TokenSettings {
    TokenSettings { issuer: "auth-dev/signin".into(), audience: "auth-dev/api".into(), lifetime_seconds: 3600 }
}

/// The fixtures' lockout: five failures in ten minutes lock an email for fifteen.
pub const LOCKOUT: Protection = Protection {
    max_failures: 5,
    window_seconds: 600,
    cooldown_seconds: 900,
    daily_per_address: 12,
    daily_per_email: 30,
};

/// What the fixtures' breached-password filter lists: a stand-in for the corpus, which the xtask tests
/// check in full.
pub const BREACHED: [&str; 4] =
    ["password1234567", "correcthorsebatterystaple", "welcome123456789", "thequickbrownfoxjumpsoverthelazydog"];

/// The fixtures' blocklist: [`BREACHED`], and the dev stage's service names.
pub fn blocklist() -> crate::password::policy::Blocklist {
    crate::password::policy::Blocklist {
        breached: crate::password::breached::leaked(&BREACHED).unwrap_or_else(|e| panic!("{e}")),
        service_names: vec!["auth".to_owned(), "auth-dev".to_owned()],
    }
}

/// One table, one key, one secret and one clock, shared by every handler's dependencies.
#[derive(Debug)]
pub struct World {
    pub store: Arc<MemoryStore>,
    pub attempts: Arc<MemoryAttempts>,
    pub cipher: Arc<FakeCipher>,
    pub secrets: Arc<FakeSecretSource>,
    pub sessions: Arc<MemorySessions>,
    pub clock: Arc<ManualClock>,
}

/// The fixtures' sessions: the defaults (30 days, 7 idle, 10 seconds of grace).
pub const SESSIONS: SessionSettings = SessionSettings::DEFAULT;
/// How long the fixtures' authorizer reuses a user's "signed out everywhere" time.
pub const REVOCATION_CACHE_SECONDS: u64 = 10;

pub type SignupDeps = signup::Deps<Arc<MemoryStore>, Arc<FakeCipher>>;
pub type SigninDeps =
    signin::Deps<Arc<MemoryStore>, Arc<FakeCipher>, Arc<FakeSecretSource>, Arc<MemoryAttempts>, Arc<MemorySessions>>;
pub type AuthorizerDeps = authorizer::Deps<Arc<FakeSecretSource>, Arc<MemorySessions>>;
pub type RefreshDeps = refresh::Deps<Arc<MemorySessions>, Arc<FakeSecretSource>>;
pub type SignoutDeps = signout::Deps<Arc<MemorySessions>>;

impl World {
    pub fn new() -> World {
        World {
            store: Arc::new(MemoryStore::new()),
            attempts: Arc::new(MemoryAttempts::new()),
            cipher: Arc::new(FakeCipher::new()),
            secrets: Arc::new(FakeSecretSource::new("v1", KEY_V1)),
            sessions: Arc::new(MemorySessions::new()),
            clock: Arc::new(ManualClock::new(NOW)),
        }
    }

    pub fn signup(&self) -> SignupDeps {
        signup::Deps {
            store: self.store.clone(),
            cipher: self.cipher.clone(),
            passwords: cheap_passwords(),
            policy: crate::password::policy::PasswordPolicy::default(),
            blocklist: blocklist(),
            clock: self.clock.clone(),
        }
    }

    pub fn signin(&self) -> SigninDeps {
        signin::Deps {
            store: self.store.clone(),
            cipher: self.cipher.clone(),
            passwords: cheap_passwords(),
            keys: KeyCache::new(self.secrets.clone()).with_max_age(signin::KEY_MAX_AGE_SECONDS),
            tokens: settings(),
            attempts: self.attempts.clone(),
            protection: LOCKOUT,
            sessions: self.sessions.clone(),
            lifetimes: SESSIONS.lifetimes,
            clock: self.clock.clone(),
        }
    }

    pub fn authorizer(&self) -> AuthorizerDeps {
        authorizer::Deps {
            keys: KeyCache::new(self.secrets.clone()).with_max_age(authorizer::KEY_MAX_AGE_SECONDS),
            tokens: settings(),
            sessions: self.sessions.clone(),
            revocations: authorizer::RevocationCache::new(REVOCATION_CACHE_SECONDS),
            clock: self.clock.clone(),
        }
    }

    pub fn refresh(&self) -> RefreshDeps {
        self.refresh_with(SESSIONS)
    }

    pub fn refresh_with(&self, settings: SessionSettings) -> RefreshDeps {
        refresh::Deps {
            sessions: self.sessions.clone(),
            keys: KeyCache::new(self.secrets.clone()).with_max_age(crate::keys::MAX_AGE_SECONDS),
            tokens: self::settings(),
            settings,
            clock: self.clock.clone(),
        }
    }

    pub fn signout(&self) -> SignoutDeps {
        signout::Deps {
            sessions: self.sessions.clone(),
            keep_signed_out_seconds: crate::session::keep_signed_out_seconds(
                SESSIONS.lifetimes.absolute_seconds,
                settings().lifetime_seconds,
            ),
            clock: self.clock.clone(),
        }
    }
}

/// The credentials in the signup and signin fixtures.
pub const FIXTURE_EMAIL: &str = "alice@example.com";
pub const FIXTURE_PASSWORD: &str = "plum harbor quietly juggles";

pub fn credentials_body(email: &str, password: &str) -> String {
    serde_json::json!({"email": email, "password": password}).to_string()
}

/// The password [`signed_in`] gives its users.
pub const SESSION_PASSWORD: &str = "velvet tractor orbit one";

/// `email` signed up (once) and signed in through the handlers: the signin body, with its access token,
/// refresh token and lifetime.
pub async fn signed_in(world: &World, email: &str) -> Value {
    let body = credentials_body(email, SESSION_PASSWORD);
    let up = crate::signup::handle(request_with_body("signup-request.json", Some(&body)), &world.signup()).await;
    assert!(up.status() == 201 || up.status() == 409, "{:?}", up.body());
    let response = crate::signin::handle(request_with_body("signin-request.json", Some(&body)), &world.signin()).await;
    assert_eq!(response.status(), 200, "{:?}", response.body());
    json_body(&response)
}

/// Claims for `email` issued at `now` in a new session stored in the world (as signin stores one), so
/// the authorizer finds the session standing.
pub async fn session_claims(world: &World, email: &str, now: u64) -> crate::token::Claims {
    use crate::session::{Session, SessionId, SessionStore as _};
    // The refresh token this session would hand out is never used: any key will do for it.
    let version = crate::keys::SecretVersion { version_id: "session-claims".into(), value: KEY_V1.to_vec() };
    let keys = crate::token::KeyRing::new(&version, None).unwrap_or_else(|e| panic!("{e}"));
    let id = SessionId::random().unwrap_or_else(|e| panic!("{e}"));
    let seed = crate::session::random_seed().unwrap_or_else(|e| panic!("{e}"));
    let (session, _) = Session::begin(id, email, now, seed, &keys);
    world.sessions.create(&session, session.ends_at(&SESSIONS.lifetimes)).await.unwrap_or_else(|e| panic!("{e}"));
    let email = crate::validate::Email::parse(email).unwrap_or_else(|e| panic!("{e}"));
    let jti = crate::token::random_jti().unwrap_or_else(|e| panic!("{e}"));
    crate::token::Claims::new(&email, *id.as_bytes(), jti, &settings(), now)
}
