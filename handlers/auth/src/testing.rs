//! Test support: API Gateway event fixtures and a world of fakes that the handlers share.

use std::path::PathBuf;
use std::sync::Arc;

use lambda_http::aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use lambda_http::{Body, Request, Response};
use serde_json::Value;

use crate::clock::ManualClock;
use crate::codes::memory::MemoryCodes;
use crate::codes::quota::DEFAULT_MAIL_LIMITS;
use crate::keys::KeyCache;
use crate::keys::fake::FakeSecretSource;
use crate::lockout::Protection;
use crate::lockout::memory::MemoryAttempts;
use crate::mail::memory::MemoryMailer;
use crate::outbox::Outbox;
use crate::password::PasswordScheme;
use crate::password::fake::FakeCipher;
use crate::session::SessionSettings;
use crate::session::memory::MemorySessions;
use crate::store::memory::MemoryStore;
use crate::token::TokenSettings;
use crate::{authorizer, forgot, refresh, reset, signin, signout, signup, verify};

pub mod journal;

use journal::{Journal, Logged};

/// The fixtures' request time, in Unix seconds.
pub const NOW: u64 = 1_732_529_742;
pub const KEY_V1: &[u8] = b"Zq8d3LmT0vXk5sR2wY7nB4hJ9cF1gP6aE0uI3oK8zM5xN2bV7tQ4rW1yS6dH9jL0";
/// The code secret's value: another secret than the signing key's.
pub const CODE_KEY: &[u8] = b"Cd7Rt2Yu9Io4Pa1Sd6Fg3Hj8Kl5Zx0Cv7Bn2Mq9We4Rt1Yu6Io3Pa8Sd5Fg0Hj7K";
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
    /// The codes table (codes and mail counters), the code secret and the mail sent.
    pub codes: Arc<MemoryCodes>,
    pub code_secret: Arc<FakeSecretSource>,
    pub mailer: Arc<MemoryMailer>,
    /// The calls the signup, verify, forgot and reset dependencies made.
    pub journal: Arc<Journal>,
}

/// The fixtures' sessions: the defaults (30 days, 7 idle, 10 seconds of grace).
pub const SESSIONS: SessionSettings = SessionSettings::DEFAULT;
/// How long the fixtures' authorizer reuses a user's "signed out everywhere" time.
pub const REVOCATION_CACHE_SECONDS: u64 = 10;

pub type Users = Logged<Arc<MemoryStore>>;
pub type Kms = Logged<Arc<FakeCipher>>;
pub type Codes = Logged<Arc<MemoryCodes>>;
pub type SignupDeps = signup::Deps<Users, Kms, Arc<FakeSecretSource>, Codes, Logged<Arc<MemoryMailer>>>;
pub type VerifyDeps = verify::Deps<Users, Kms, Arc<FakeSecretSource>, Codes>;
pub type ForgotDeps = forgot::Deps<Users, Arc<FakeSecretSource>, Codes, Logged<Arc<MemoryMailer>>>;
pub type ResetDeps = reset::Deps<Users, Kms, Arc<FakeSecretSource>, Codes, Arc<MemorySessions>, Arc<MemoryAttempts>>;
pub type SigninDeps = signin::Deps<Users, Kms, Arc<FakeSecretSource>, Arc<MemoryAttempts>, Arc<MemorySessions>>;
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
            codes: Arc::new(MemoryCodes::new()),
            code_secret: Arc::new(FakeSecretSource::new("c1", CODE_KEY)),
            mailer: Arc::new(MemoryMailer::new()),
            journal: Arc::new(Journal::default()),
        }
    }

    fn logged<T: Clone>(&self, inner: &T) -> Logged<T> {
        Logged { inner: inner.clone(), journal: self.journal.clone() }
    }

    fn outbox(&self) -> Outbox<Codes, Logged<Arc<MemoryMailer>>> {
        Outbox { codes: self.logged(&self.codes), mailer: self.logged(&self.mailer), limits: DEFAULT_MAIL_LIMITS }
    }

    fn code_keys(&self) -> KeyCache<Arc<FakeSecretSource>> {
        KeyCache::aged(self.code_secret.clone())
    }

    pub fn signup(&self) -> SignupDeps {
        signup::Deps {
            store: self.logged(&self.store),
            cipher: self.logged(&self.cipher),
            passwords: cheap_passwords(),
            rules: signup::Passwords {
                policy: crate::password::policy::PasswordPolicy::default(),
                blocklist: blocklist(),
            },
            keys: self.code_keys(),
            outbox: self.outbox(),
            clock: self.clock.clone(),
        }
    }

    pub fn verify(&self) -> VerifyDeps {
        verify::Deps {
            store: self.logged(&self.store),
            cipher: self.logged(&self.cipher),
            passwords: cheap_passwords(),
            keys: self.code_keys(),
            codes: self.logged(&self.codes),
            clock: self.clock.clone(),
        }
    }

    pub fn forgot(&self) -> ForgotDeps {
        forgot::Deps {
            store: self.logged(&self.store),
            keys: self.code_keys(),
            outbox: self.outbox(),
            clock: self.clock.clone(),
        }
    }

    pub fn reset(&self) -> ResetDeps {
        reset::Deps {
            store: self.logged(&self.store),
            cipher: self.logged(&self.cipher),
            passwords: cheap_passwords(),
            rules: signup::Passwords {
                policy: crate::password::policy::PasswordPolicy::default(),
                blocklist: blocklist(),
            },
            keys: self.code_keys(),
            codes: self.logged(&self.codes),
            sessions: self.sessions.clone(),
            keep_signed_out_seconds: crate::session::keep_signed_out_seconds(
                SESSIONS.lifetimes.absolute_seconds,
                settings().lifetime_seconds,
            ),
            attempts: self.attempts.clone(),
            clock: self.clock.clone(),
        }
    }

    pub fn signin(&self) -> SigninDeps {
        signin::Deps {
            store: self.logged(&self.store),
            cipher: self.logged(&self.cipher),
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
            keys: KeyCache::aged(self.secrets.clone()),
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

/// The body of a verify or reset request.
pub fn code_body(email: &str, code: &str, password: &str) -> String {
    serde_json::json!({"email": email, "code": code, "password": password}).to_string()
}

/// `email` signed up with `password` and verified with the code mailed, through the handlers, unless it
/// has an account already.
pub async fn registered(world: &World, email: &str, password: &str) {
    let normalized = crate::validate::Email::parse(email).unwrap_or_else(|e| panic!("{e}"));
    if crate::store::UserStore::get(&world.store, &normalized).await.unwrap_or_else(|e| panic!("{e}")).is_some() {
        return;
    }
    let body = credentials_body(email, password);
    let up = signup::handle(request_with_body("signup-request.json", Some(&body)), &world.signup()).await;
    assert_eq!(up.status(), 202, "{:?}", up.body());
    let code = world.mailer.last_code(normalized.as_str()).unwrap_or_else(|| panic!("no code mailed to {email}"));
    let body = code_body(email, &code, password);
    let verified = verify::handle(request_with_body("signup-request.json", Some(&body)), &world.verify()).await;
    assert_eq!(verified.status(), 200, "{:?}", verified.body());
}

/// `email` signed up (once) and signed in through the handlers: the signin body, with its access token,
/// refresh token and lifetime.
pub async fn signed_in(world: &World, email: &str) -> Value {
    registered(world, email, SESSION_PASSWORD).await;
    let body = credentials_body(email, SESSION_PASSWORD);
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

/// Everything logged while a test runs, as the functions' JSON lines.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `work` on this thread with a JSON subscriber and returns its output and what it logged.
pub async fn with_logs<T>(work: impl std::future::Future<Output = T>) -> (T, String) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = lambda_http::tracing::subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let output = {
        let _guard = tracing::subscriber::set_default(subscriber);
        work.await
    };
    let log =
        String::from_utf8_lossy(&captured.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)).into_owned();
    (output, log)
}

/// Another code than `code`.
pub fn wrong_code(code: &str) -> &'static str {
    if code == "00000000" { "00000001" } else { "00000000" }
}

/// The one refusal of a code: `400 invalid_code`.
pub fn assert_invalid_code(response: &Response<Body>) {
    assert_eq!(response.status(), 400, "{:?}", response.body());
    assert_eq!(json_body(response)["error"]["code"], "invalid_code");
}
