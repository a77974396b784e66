//! The handlers against AWS APIs for real: DynamoDB, KMS, Secrets Manager and SES served by moto's server on
//! 127.0.0.1 (started here on a free port), reached through the real AWS SDK over HTTP, driven with
//! API Gateway event fixtures.

use std::sync::{Arc, OnceLock};

use auth::codes::dynamo::DynamoCodes;
use auth::codes::quota::DEFAULT_MAIL_LIMITS;
use auth::keys::secrets_manager::SecretsManagerSource;
use auth::lockout::dynamo::DynamoAttempts;
use auth::lockout::{AttemptStore, CounterKey, LockoutPolicy, Protection};
use auth::mail::memory::MemoryMailer;
use auth::mail::ses::SesMailer;
use auth::mail::{Mail, MailError, Mailer};
use auth::outbox::Outbox;
use auth::password::kms::KmsCipher;
use auth::session::SessionSettings;
use auth::session::dynamo::DynamoSessions;
use auth::store::dynamo::DynamoStore;
use auth::token::TokenSettings;
use auth::validate::Email;
use auth::{authorizer, forgot, hello, refresh, reset, signin, signout, signup, verify};
use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayCustomAuthorizerResponse,
};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

/// One emulator for this test binary; each test makes its own table, key and secret.
fn moto() -> &'static devenv::Moto {
    static MOTO: OnceLock<devenv::Moto> = OnceLock::new();
    MOTO.get_or_init(|| {
        let venv = devenv::ensure(&mut |line| eprintln!("{line}")).unwrap_or_else(|e| panic!("{e}"));
        devenv::Moto::start(&venv).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// A unique name per call, so tests sharing the emulator do not meet.
fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

struct World {
    dynamodb: aws_sdk_dynamodb::Client,
    secrets: aws_sdk_secretsmanager::Client,
    table: String,
    attempts_table: String,
    secret_arn: String,
    key_arn: String,
    signup: signup::Deps<DynamoStore, KmsCipher, SecretsManagerSource, DynamoCodes, Tee>,
    codes_table: String,
    code_secret_arn: String,
    /// Every mail sent through SES, as sent: where the tests read their codes.
    mail: Arc<MemoryMailer>,
    signin: signin::Deps<DynamoStore, KmsCipher, SecretsManagerSource, DynamoAttempts, DynamoSessions>,
    sessions_table: String,
    tokens: TokenSettings,
    config: aws_config::SdkConfig,
}

impl World {
    async fn new() -> World {
        // The functions' own loader (their HTTPS client), without their one-second timeouts on a loaded machine.
        let config = auth::config::aws_loader()
            .timeout_config(aws_sdk_dynamodb::config::timeout::TimeoutConfig::disabled())
            .endpoint_url(moto().endpoint())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "static"))
            .load()
            .await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&config);
        let kms = aws_sdk_kms::Client::new(&config);
        let secrets = aws_sdk_secretsmanager::Client::new(&config);

        let table = unique("users");
        create_table(&dynamodb, &table, contract::table::PARTITION_KEY).await;
        let attempts_table = unique("attempts");
        create_table(&dynamodb, &attempts_table, contract::attempts::PARTITION_KEY).await;
        let sessions_table = unique("sessions");
        create_table(&dynamodb, &sessions_table, contract::sessions::PARTITION_KEY).await;
        let key = kms.create_key().send().await.unwrap_or_else(|e| panic!("create key: {e:?}"));
        let key_arn = key.key_metadata.and_then(|m| m.arn).unwrap_or_else(|| panic!("no key arn"));
        let secret = secrets
            .create_secret()
            .name(unique("jwt"))
            .secret_string(random_key())
            .send()
            .await
            .unwrap_or_else(|e| panic!("create secret: {e:?}"));
        let secret_arn = secret.arn.unwrap_or_else(|| panic!("no secret arn"));
        let codes_table = unique("codes");
        create_table(&dynamodb, &codes_table, contract::codes::PARTITION_KEY).await;
        let code_secret = secrets
            .create_secret()
            .name(unique("codes"))
            .secret_string(random_key())
            .send()
            .await
            .unwrap_or_else(|e| panic!("create secret: {e:?}"));
        let code_secret_arn = code_secret.arn.unwrap_or_else(|| panic!("no secret arn"));
        // The sender's domain as an SES identity, which moto requires of a sender, as SES does.
        let ses = aws_sdk_sesv2::Client::new(&config);
        if let Err(error) = ses.create_email_identity().email_identity(SENDER_DOMAIN).send().await {
            let exists = error.as_service_error().is_some_and(|e| e.is_already_exists_exception());
            assert!(exists, "create the sender's identity: {error:?}");
        }
        let mail = Arc::new(MemoryMailer::new());

        let tokens = TokenSettings {
            issuer: "auth-test/signin".into(),
            audience: "auth-test/api".into(),
            lifetime_seconds: 3600,
        };
        let store = || DynamoStore::new(dynamodb.clone(), table.clone());
        let cipher = || KmsCipher::new(kms.clone(), key_arn.clone());
        let (signup_deps, signin_deps) = (
            signup::Deps::new(
                (store(), cipher()),
                signup::Passwords {
                    policy: auth::password::policy::PasswordPolicy::default(),
                    blocklist: auth::password::policy::Blocklist {
                        breached: auth::password::breached::leaked(&["password1234567"])
                            .unwrap_or_else(|e| panic!("{e}")),
                        service_names: vec!["auth".to_owned()],
                    },
                },
                SecretsManagerSource::new(secrets.clone(), code_secret_arn.clone()),
                Outbox {
                    codes: DynamoCodes::new(dynamodb.clone(), codes_table.clone()),
                    mailer: Tee(SesMailer::new(ses, format!("no-reply@{SENDER_DOMAIN}")), mail.clone()),
                    limits: DEFAULT_MAIL_LIMITS,
                },
            ),
            signin::Deps::new(
                (store(), cipher(), SecretsManagerSource::new(secrets.clone(), secret_arn.clone())),
                tokens.clone(),
                DynamoAttempts::new(dynamodb.clone(), attempts_table.clone()),
                DynamoSessions::new(dynamodb.clone(), sessions_table.clone()),
                signin::Settings { protection: LOCKOUT, lifetimes: SESSIONS.lifetimes },
            ),
        );
        World {
            signup: signup_deps,
            codes_table,
            code_secret_arn,
            mail,
            signin: signin_deps,
            sessions_table,
            dynamodb,
            secrets,
            table,
            attempts_table,
            secret_arn,
            key_arn,
            tokens,
            config,
        }
    }

    fn authorizer(&self) -> authorizer::Deps<SecretsManagerSource, DynamoSessions> {
        authorizer::Deps::new(
            SecretsManagerSource::new(self.secrets.clone(), self.secret_arn.clone()),
            self.tokens.clone(),
            self.sessions(),
            REVOCATION_CACHE_SECONDS,
        )
    }

    fn verify(&self) -> verify::Deps<DynamoStore, KmsCipher, SecretsManagerSource, DynamoCodes> {
        let kms = aws_sdk_kms::Client::new(&self.config);
        verify::Deps::new(
            DynamoStore::new(self.dynamodb.clone(), self.table.clone()),
            KmsCipher::new(kms, self.key_arn.clone()),
            SecretsManagerSource::new(self.secrets.clone(), self.code_secret_arn.clone()),
            DynamoCodes::new(self.dynamodb.clone(), self.codes_table.clone()),
        )
    }

    /// The code in the newest mail to `email`.
    fn code_for(&self, email: &str) -> String {
        let normalized = Email::parse(email).unwrap_or_else(|e| panic!("{e}"));
        self.mail.last_code(normalized.as_str()).unwrap_or_else(|| panic!("no code mailed to {email}"))
    }

    fn sessions(&self) -> DynamoSessions {
        DynamoSessions::new(self.dynamodb.clone(), self.sessions_table.clone())
    }
}

/// The domain the tests send from, an SES identity in the emulator.
const SENDER_DOMAIN: &str = "auth-test.example.com";

/// SES's mailer, with a copy of each mail the tests read their codes from.
struct Tee(SesMailer, Arc<MemoryMailer>);

impl Mailer for Tee {
    async fn send(&self, to: &Email, mail: &Mail) -> Result<(), MailError> {
        self.0.send(to, mail).await?;
        self.1.send(to, mail).await
    }
}

/// `email` signed up with `password` and verified with the code SES was asked to send.
async fn register(world: &World, email: &str, password: &str) {
    let signed_up =
        signup::handle(proxy_request("signup-request.json", &credentials(email, password)), &world.signup).await;
    assert_eq!(signed_up.status(), 202, "{:?}", signed_up.body());
    let verified = verify_with(world, email, &world.code_for(email), password).await;
    assert_eq!(verified.status(), 200, "{:?}", verified.body());
}

async fn verify_with(world: &World, email: &str, code: &str, password: &str) -> Response<Body> {
    let body = json!({"email": email, "code": code, "password": password});
    verify::handle(proxy_request("signup-request.json", &body), &world.verify()).await
}

/// The stage defaults: 30 days, a week idle, 10 seconds of grace.
const SESSIONS: SessionSettings = SessionSettings::DEFAULT;
const REVOCATION_CACHE_SECONDS: u64 = 10;

const LOCKOUT: Protection = Protection {
    max_failures: 4,
    window_seconds: 600,
    cooldown_seconds: 900,
    daily_per_address: 10,
    daily_per_email: 40,
};

async fn create_table(dynamodb: &aws_sdk_dynamodb::Client, name: &str, partition_key: &str) {
    dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(partition_key)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(partition_key)
                .key_type(KeyType::Hash)
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("create table {name}: {e:?}"));
}

/// The authorizer's verdict, when it could reach one.
async fn verdict(
    event: ApiGatewayCustomAuthorizerRequestTypeRequest,
    deps: &authorizer::Deps<SecretsManagerSource, DynamoSessions>,
) -> ApiGatewayCustomAuthorizerResponse {
    authorizer::handle(event, deps).await.unwrap_or_else(|e| panic!("no verdict: {e}"))
}

fn random_key() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    (0..4).map(|_| format!("{:016x}", RandomState::new().build_hasher().finish())).collect()
}

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn proxy_request(fixture_name: &str, body: &Value) -> Request {
    let mut event = fixture(fixture_name);
    event["body"] = Value::String(body.to_string());
    event["isBase64Encoded"] = Value::Bool(false);
    lambda_http::request::from_str(&event.to_string()).unwrap_or_else(|e| panic!("{e}"))
}

fn credentials(email: &str, password: &str) -> Value {
    json!({"email": email, "password": password})
}

fn body_json(response: &Response<Body>) -> Value {
    match response.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or_else(|e| panic!("{e}: {t}")),
        other => panic!("not text: {other:?}"),
    }
}

async fn sign_in(world: &World, email: &str, password: &str) -> Response<Body> {
    signin::handle(proxy_request("signin-request.json", &credentials(email, password)), &world.signin).await
}

fn authorizer_event(token: &str) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
    let mut event = fixture("authorizer-request.json");
    event["headers"]["Authorization"] = Value::String(format!("Bearer {token}"));
    event["multiValueHeaders"]["Authorization"] = json!([format!("Bearer {token}")]);
    serde_json::from_value(event).unwrap_or_else(|e| panic!("{e}"))
}

fn effect(response: &ApiGatewayCustomAuthorizerResponse) -> String {
    let json = serde_json::to_value(response).unwrap_or_else(|e| panic!("{e}"));
    json["policyDocument"]["Statement"][0]["Effect"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn signup_signin_authorize_hello() {
    let world = World::new().await;
    let email = format!("{}@example.com", unique("Alice"));
    let normalized = email.to_ascii_lowercase();

    let created = signup::handle(
        proxy_request("signup-request.json", &credentials(&format!("  {email} "), "plum harbor quietly juggles")),
        &world.signup,
    )
    .await;
    assert_eq!(created.status(), 202, "{:?}", created.body());
    let early = sign_in(&world, &normalized, "plum harbor quietly juggles").await;
    assert_eq!(early.status(), 401, "no signing in before verifying");
    let verified = verify_with(&world, &normalized, &world.code_for(&normalized), "plum harbor quietly juggles").await;
    assert_eq!(verified.status(), 200, "{:?}", verified.body());
    let again = signup::handle(
        proxy_request("signup-request.json", &credentials(&normalized, "another velvet orbit one")),
        &world.signup,
    )
    .await;
    assert_eq!((again.status().as_u16(), body_json(&again)), (202, body_json(&created)), "no word of the account");

    // The row holds a KMS ciphertext, not the password or a bare hash.
    let item = world
        .dynamodb
        .get_item()
        .table_name(&world.table)
        .key(contract::table::PARTITION_KEY, aws_sdk_dynamodb::types::AttributeValue::S(normalized.clone()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .item
        .unwrap_or_else(|| panic!("no item for {normalized}"));
    let stored = format!("{item:?}");
    assert!(!stored.contains("correct horse") && !stored.contains("$argon2id$"), "{stored}");

    let signed_in = sign_in(&world, &normalized, "plum harbor quietly juggles").await;
    assert_eq!(signed_in.status(), 200);
    let token = body_json(&signed_in)["token"].as_str().unwrap_or_default().to_owned();

    let wrong = sign_in(&world, &normalized, "wrong horse!").await;
    let nobody = sign_in(&world, "nobody@example.com", "correct horse").await;
    assert_eq!((wrong.status().as_u16(), nobody.status().as_u16()), (401, 401));
    assert_eq!(body_json(&wrong), body_json(&nobody), "unknown email and wrong password look alike");

    let decision = verdict(authorizer_event(&token), &world.authorizer()).await;
    assert_eq!(effect(&decision), "Allow");
    let context = serde_json::to_value(&decision).unwrap_or_default()["context"].clone();
    assert_eq!(context[contract::claims::EMAIL], normalized.as_str());
    let denied = verdict(authorizer_event("garbage"), &world.authorizer()).await;
    assert_eq!(effect(&denied), "Deny");

    // API Gateway passes the Allow's context to the route; hello greets that email.
    let mut event = fixture("hello-request.json");
    event["requestContext"]["authorizer"] = json!({"principalId": normalized, contract::claims::EMAIL: normalized});
    let greeting = hello::handle(&lambda_http::request::from_str(&event.to_string()).unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(greeting.status(), 200);
    assert_eq!(body_json(&greeting)["message"], format!("Hello, {normalized}!"));
}

#[tokio::test]
async fn twenty_concurrent_verifications_with_the_code_create_one_user() {
    let world = Arc::new(World::new().await);
    let email = format!("{}@example.com", unique("race")).to_ascii_lowercase();
    let password = "velvet guess number one orbit";
    let signed_up =
        signup::handle(proxy_request("signup-request.json", &credentials(&email, password)), &world.signup).await;
    assert_eq!(signed_up.status(), 202);
    let code = world.code_for(&email);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (world, email, code) = (Arc::clone(&world), email.clone(), code.clone());
        tasks.spawn(async move { verify_with(&world, &email, &code, password).await.status().as_u16() });
    }
    let mut statuses = Vec::new();
    while let Some(status) = tasks.join_next().await {
        statuses.push(status.unwrap_or_else(|e| panic!("{e}")));
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 19, "{statuses:?}");
    assert_eq!(sign_in(&world, &email, password).await.status(), 200);
}

#[tokio::test]
async fn a_ciphertext_moved_to_another_users_row_does_not_decrypt() {
    let world = World::new().await;
    let mallory = format!("{}@example.com", unique("mallory"));
    let victim = format!("{}@example.com", unique("victim"));
    for (email, password) in [(&mallory, "he keeps an orbit lemonade"), (&victim, "her own velvet tractor")] {
        register(&world, email, password).await;
    }
    // The attacker can write the table and copies their own encrypted hash into the victim's row.
    let key = |email: &str| aws_sdk_dynamodb::types::AttributeValue::S(email.to_owned());
    let mut item = world
        .dynamodb
        .get_item()
        .table_name(&world.table)
        .key(contract::table::PARTITION_KEY, key(&mallory))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .item
        .unwrap_or_default();
    item.insert(contract::table::PARTITION_KEY.to_owned(), key(&victim));
    world
        .dynamodb
        .put_item()
        .table_name(&world.table)
        .set_item(Some(item))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));

    // KMS refuses: the ciphertext is bound to mallory's email by the encryption context.
    assert_eq!(sign_in(&world, &victim, "he keeps an orbit lemonade").await.status(), 401);
    assert_eq!(sign_in(&world, &victim, "her own velvet tractor").await.status(), 401);
    assert_eq!(sign_in(&world, &mallory, "he keeps an orbit lemonade").await.status(), 200);
}

#[tokio::test]
async fn tokens_signed_before_a_rotation_stay_valid() {
    let world = World::new().await;
    let email = format!("{}@example.com", unique("rotate"));
    register(&world, &email, "rotation safe velvet tractor").await;
    let before = body_json(&sign_in(&world, &email, "rotation safe velvet tractor").await)["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let clock = Arc::new(auth::clock::ManualClock::new(now));
    let mut warm = world.authorizer();
    warm.clock = clock.clone();
    assert_eq!(effect(&verdict(authorizer_event(&before), &warm).await), "Allow");

    // Rotate: the new value becomes AWSCURRENT and the old one AWSPREVIOUS.
    rotate(&world).await;
    // A signin that starts now reads the new version (a warm one keeps the old for up to 5 minutes).
    let after = cold_token(&world, &email).await;
    assert_ne!(kid(&before), kid(&after));

    // A cold authorizer knows both versions.
    let cold = world.authorizer();
    assert_eq!(effect(&verdict(authorizer_event(&before), &cold).await), "Allow");
    assert_eq!(effect(&verdict(authorizer_event(&after), &cold).await), "Allow");
    // The warm one meets an unknown kid and reads the secret again; old tokens stay valid.
    assert_eq!(effect(&verdict(authorizer_event(&after), &warm).await), "Allow");
    assert_eq!(effect(&verdict(authorizer_event(&before), &warm).await), "Allow");
    // Another rotation within the minute is not seen: unknown key ids fetch at most once a minute.
    rotate(&world).await;
    let newest = cold_token(&world, &email).await;
    clock.advance(30);
    assert_eq!(effect(&verdict(authorizer_event(&newest), &warm).await), "Deny");
    clock.advance(31);
    assert_eq!(effect(&verdict(authorizer_event(&newest), &warm).await), "Allow");
}

/// Rotates the signing secret: a new value becomes AWSCURRENT and the last one AWSPREVIOUS.
async fn rotate(world: &World) {
    world
        .secrets
        .put_secret_value()
        .secret_id(&world.secret_arn)
        .secret_string(random_key())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
}

/// A token for `email` from a signin that starts now, so it signs with the current version.
async fn cold_token(world: &World, email: &str) -> String {
    let signed_in = signin::handle(
        proxy_request("signin-request.json", &credentials(email, "rotation safe velvet tractor")),
        &cold_signin_after(world),
    )
    .await;
    body_json(&signed_in)["token"].as_str().unwrap_or_default().to_owned()
}

/// A signin function that starts now, so it reads the secret's current version.
fn cold_signin_after(
    world: &World,
) -> signin::Deps<DynamoStore, KmsCipher, SecretsManagerSource, DynamoAttempts, DynamoSessions> {
    signin::Deps::new(
        (
            DynamoStore::new(world.dynamodb.clone(), world.table.clone()),
            KmsCipher::new(aws_sdk_kms::Client::new(&world.config), world.key_arn.clone()),
            SecretsManagerSource::new(world.secrets.clone(), world.secret_arn.clone()),
        ),
        world.tokens.clone(),
        DynamoAttempts::new(world.dynamodb.clone(), world.attempts_table.clone()),
        world.sessions(),
        signin::Settings { protection: LOCKOUT, lifetimes: SESSIONS.lifetimes },
    )
}

/// Concurrent attempts for one email are each counted once, and no more than the limit get through:
/// the count is a conditional update in DynamoDB, not a read followed by a write.
#[tokio::test]
async fn concurrent_attempts_all_count_and_stop_at_the_limit() {
    let world = World::new().await;
    let store = DynamoAttempts::new(world.dynamodb.clone(), world.attempts_table.clone());
    let email = auth::validate::Email::parse("target@example.com").unwrap_or_else(|e| panic!("{e}"));
    let email = CounterKey::address(&email, "203.0.113.9");
    let policy = LockoutPolicy { max_failures: 12, window_seconds: 600, cooldown_seconds: 900 };
    let now = 1_700_000_000;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..30 {
        let (store, email) = (store.clone(), email.clone());
        tasks.spawn(async move { store.claim(&email, now, &policy).await });
    }
    let mut admitted = 0;
    while let Some(result) = tasks.join_next().await {
        match result.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("{e}")) {
            Ok(_) => admitted += 1,
            Err(seconds) => assert_eq!(seconds, 900),
        }
    }
    assert_eq!(admitted, 12, "exactly the limit of 30 concurrent attempts get through");
    let record = store.get(&email).await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("no record"));
    assert_eq!(record.locked_until, Some(now + 900), "the full window was locked");

    // The item carries its time to live, past the lock and the window after it.
    let item = world
        .dynamodb
        .get_item()
        .table_name(&world.attempts_table)
        .key(contract::attempts::PARTITION_KEY, aws_sdk_dynamodb::types::AttributeValue::S(email.as_str().into()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .item
        .unwrap_or_default();
    let expires = item.get(contract::attempts::EXPIRES_AT).and_then(|v| v.as_n().ok()).cloned().unwrap_or_default();
    assert!(expires.parse::<u64>().is_ok_and(|t| t > now + 900 + 600), "{item:?}");

    // After the cooldown the count starts afresh; a reset clears it; a reset of nobody creates nothing.
    assert_eq!(
        store.claim(&email, now + 900, &policy).await.unwrap_or_else(|e| panic!("{e}")).map(|a| a.failures),
        Ok(1)
    );
    store.reset(&email).await.unwrap_or_else(|e| panic!("{e}"));
    let reset = store.get(&email).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(reset.map(|r| (r.failures, r.locked_until)), Some((0, None)));
    let nobody = auth::validate::Email::parse("nobody@example.com").unwrap_or_else(|e| panic!("{e}"));
    let nobody = CounterKey::email_day(&nobody);
    store.reset(&nobody).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.get(&nobody).await.unwrap_or_else(|e| panic!("{e}")), None, "a reset creates nothing");
}

/// A burst of guesses fired at once, as a botnet would, gets no more tries than a patient guesser:
/// every attempt is counted before its password is checked.
#[tokio::test]
async fn a_burst_of_concurrent_guesses_gets_no_more_than_the_limit() {
    let world = Arc::new(World::new().await);
    let email = format!("{}@example.com", unique("burst")).to_ascii_lowercase();
    register(&world, &email, "the real password is lemonade").await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..LOCKOUT.max_failures + 8 {
        let (world, email) = (Arc::clone(&world), email.clone());
        tasks.spawn(async move { sign_in(&world, &email, &format!("guess number {i}")).await.status().as_u16() });
    }
    let mut statuses = Vec::new();
    while let Some(status) = tasks.join_next().await {
        statuses.push(status.unwrap_or_else(|e| panic!("{e}")));
    }
    statuses.sort_unstable();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert_eq!(checked, LOCKOUT.max_failures as usize, "passwords checked: {statuses:?}");
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
    assert_eq!(
        sign_in(&world, &email, "the real password is lemonade").await.status(),
        429,
        "locked, right password or not"
    );
}

/// Guessing one email's password against the real tables: locked after the limit, the right password
/// refused, and an unknown email answered the same way.
#[tokio::test]
async fn password_guessing_is_locked_out_for_known_and_unknown_emails_alike() {
    let world = World::new().await;
    let known = format!("{}@example.com", unique("victim")).to_ascii_lowercase();
    register(&world, &known, "the real password is lemonade").await;
    let unknown = format!("{}@example.com", unique("ghost")).to_ascii_lowercase();
    for email in [&known, &unknown] {
        for i in 0..LOCKOUT.max_failures {
            assert_eq!(sign_in(&world, email, &format!("guess number {i}")).await.status(), 401);
        }
    }
    let a = sign_in(&world, &known, "the real password is lemonade").await;
    let b = sign_in(&world, &unknown, "the real password is lemonade").await;
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (429, 429));
    assert_eq!(body_json(&a), body_json(&b));
    assert_eq!(a.headers().get("retry-after").is_some(), b.headers().get("retry-after").is_some());
}

fn kid(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).unwrap_or_default();
    serde_json::from_slice::<Value>(&bytes).unwrap_or_default()["kid"].as_str().unwrap_or_default().to_owned()
}

// ---- sessions --------------------------------------------------------------------------------------

/// Refresh and signout against the world's sessions table, on a clock the test moves.
struct SessionWorld {
    signin: signin::Deps<DynamoStore, KmsCipher, SecretsManagerSource, DynamoAttempts, DynamoSessions>,
    refresh: refresh::Deps<DynamoSessions, SecretsManagerSource>,
    signout: signout::Deps<DynamoSessions>,
    authorizer: authorizer::Deps<SecretsManagerSource, DynamoSessions>,
    clock: Arc<auth::clock::ManualClock>,
}

fn session_world(world: &World, settings: SessionSettings) -> SessionWorld {
    let clock = Arc::new(auth::clock::ManualClock::new(now()));
    let secrets = || SecretsManagerSource::new(world.secrets.clone(), world.secret_arn.clone());
    let mut refresh = refresh::Deps::new(world.sessions(), secrets(), world.tokens.clone(), settings);
    refresh.clock = clock.clone();
    let keep =
        auth::session::keep_signed_out_seconds(settings.lifetimes.absolute_seconds, world.tokens.lifetime_seconds);
    let mut signout = signout::Deps::new(world.sessions(), keep);
    signout.clock = clock.clone();
    let mut authorizer = world.authorizer();
    authorizer.clock = clock.clone();
    // Sign-ins on the same clock, so that "before" and "after" a sign-out everywhere are the test's to say.
    let mut signin = cold_signin_after(world);
    signin.clock = clock.clone();
    SessionWorld { signin, refresh, signout, authorizer, clock }
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Signs up (once) and signs in `email` on the session world's clock: the signin body.
async fn session_for(world: &World, s: &SessionWorld, email: &str) -> Value {
    let password = "velvet orbit lemonade session";
    if world.mail.last_code(email).is_none() {
        register(world, email, password).await;
    }
    let response = signin::handle(proxy_request("signin-request.json", &credentials(email, password)), &s.signin).await;
    assert_eq!(response.status(), 200, "{:?}", response.body());
    body_json(&response)
}

async fn refresh_with(s: &SessionWorld, token: &Value) -> (u16, Value) {
    let response =
        refresh::handle(proxy_request("signin-request.json", &json!({"refresh_token": token})), &s.refresh).await;
    (response.status().as_u16(), body_json(&response))
}

async fn sign_out_as(s: &SessionWorld, email: &str, body: Value) -> u16 {
    let mut event = fixture("hello-request.json");
    event["httpMethod"] = json!("POST");
    event["body"] = json!(body.to_string());
    event["requestContext"]["authorizer"] = json!({"principalId": email, "email": email});
    let request = lambda_http::request::from_str(&event.to_string()).unwrap_or_else(|e| panic!("{e}"));
    signout::handle(request, &s.signout).await.status().as_u16()
}

#[tokio::test]
async fn refresh_rotates_answers_a_retry_alike_and_ends_the_session_on_reuse() {
    let world = World::new().await;
    let s = session_world(&world, SESSIONS);
    let email = format!("{}@example.com", unique("rotate"));
    let first = session_for(&world, &s, &email).await;
    let (status, second) = refresh_with(&s, &first["refresh_token"]).await;
    assert_eq!(status, 200, "{second}");
    // A lost response: the retry inside the grace window gets the same refresh token.
    s.clock.advance(SESSIONS.grace_seconds);
    let (status, retry) = refresh_with(&s, &first["refresh_token"]).await;
    assert_eq!((status, &retry["refresh_token"]), (200, &second["refresh_token"]));
    let (status, third) = refresh_with(&s, &second["refresh_token"]).await;
    assert_eq!(status, 200, "{third}");
    // The first token again, after the window: the whole session ends, the newest token with it.
    s.clock.advance(SESSIONS.grace_seconds + 1);
    let (status, body) = refresh_with(&s, &first["refresh_token"]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (401, Some("invalid_refresh_token")));
    assert_eq!(refresh_with(&s, &third["refresh_token"]).await.0, 401);
}

#[tokio::test]
async fn sessions_end_at_their_absolute_lifetime_and_idle_timeout() {
    let world = World::new().await;
    let s = session_world(&world, SESSIONS);
    let email = format!("{}@example.com", unique("expiry"));
    let idle = session_for(&world, &s, &email).await;
    let busy = session_for(&world, &s, &email).await;
    // Six days: both alive; the busy one refreshes.
    s.clock.advance(6 * 86_400);
    let (status, mut token) = refresh_with(&s, &busy["refresh_token"]).await;
    assert_eq!(status, 200);
    // Eight days: the idle one has gone a week without a refresh.
    s.clock.advance(2 * 86_400);
    assert_eq!(refresh_with(&s, &idle["refresh_token"]).await.0, 401);
    // Refreshed on days 8, 14, 20 and 26, the busy one still ends thirty days after sign-in.
    for _ in 0..4 {
        let (status, next) = refresh_with(&s, &token["refresh_token"]).await;
        assert_eq!(status, 200, "{next}");
        token = next;
        s.clock.advance(6 * 86_400);
    }
    assert_eq!(refresh_with(&s, &token["refresh_token"]).await.0, 401, "32 days after sign-in");
}

#[tokio::test]
async fn signing_out_ends_a_session_and_everywhere_ends_every_token_within_the_cache_ttl() {
    let world = World::new().await;
    let s = session_world(&world, SESSIONS);
    let email = format!("{}@example.com", unique("signout"));
    let (laptop, phone, tablet) = (
        session_for(&world, &s, &email).await,
        session_for(&world, &s, &email).await,
        session_for(&world, &s, &email).await,
    );
    assert_eq!(sign_out_as(&s, &email, json!({"refresh_token": laptop["refresh_token"]})).await, 200);
    assert_eq!(refresh_with(&s, &laptop["refresh_token"]).await.0, 401);
    assert_eq!(refresh_with(&s, &phone["refresh_token"]).await.0, 200);

    // Each session's access token works, and the authorizer has read that the user never signed out.
    for session in [&phone, &tablet] {
        let event = authorizer_event(session["token"].as_str().unwrap_or_default());
        assert_eq!(effect(&verdict(event, &s.authorizer).await), "Allow");
    }
    s.clock.advance(1);
    assert_eq!(sign_out_as(&s, &email, json!({"everywhere": true})).await, 200);
    assert_eq!(refresh_with(&s, &tablet["refresh_token"]).await.0, 401);
    s.clock.advance(REVOCATION_CACHE_SECONDS);
    for session in [&phone, &tablet] {
        let event = authorizer_event(session["token"].as_str().unwrap_or_default());
        assert_eq!(effect(&verdict(event, &s.authorizer).await), "Deny", "within the cache TTL, not at expiry");
    }
}

#[tokio::test]
async fn twenty_concurrent_refreshes_through_dynamodb_give_one_chain() {
    let world = Arc::new(World::new().await);
    for grace in [SESSIONS.grace_seconds, 0] {
        let s = Arc::new(session_world(&world, SessionSettings { grace_seconds: grace, ..SESSIONS }));
        let email = format!("{}@example.com", unique("race"));
        let token = session_for(&world, &s, &email).await["refresh_token"].clone();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (s, token) = (Arc::clone(&s), token.clone());
            tasks.spawn(async move { refresh_with(&s, &token).await });
        }
        let mut tokens = Vec::new();
        let mut refused = 0;
        while let Some(answer) = tasks.join_next().await {
            match answer.unwrap_or_else(|e| panic!("{e}")) {
                (200, body) => tokens.push(body["refresh_token"].clone()),
                (401, _) => refused += 1,
                (status, body) => panic!("{status}: {body}"),
            }
        }
        if grace > 0 {
            assert_eq!(tokens.len(), 20, "every caller inside the window is answered");
            assert!(tokens.iter().all(|t| *t == tokens[0]), "one new token for all");
            assert_eq!(refresh_with(&s, &tokens[0]).await.0, 200, "and the chain goes on");
        } else {
            assert_eq!((tokens.len(), refused), (1, 19), "one success, the rest refused");
        }
    }
}

/// Issue 25's race: with the email's day one failure short of full, concurrent guesses from addresses past
/// their grace each read the day as open and each got a password check. The place in the day is now
/// taken before the check, in one conditional write: exactly one of them gets a check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_the_emails_daily_bound_raced_at_its_edge_gets_one_password_check() {
    let world = Arc::new(World::new().await);
    let email = format!("{}@example.com", unique("edge")).to_ascii_lowercase();
    register(&world, &email, "the real password is lemonade").await;
    let store = DynamoAttempts::new(world.dynamodb.clone(), world.attempts_table.clone());
    let parsed = auth::validate::Email::parse(&email).unwrap_or_else(|e| panic!("{e}"));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    // The email's day one short of full, and 16 addresses that each used their grace today.
    for _ in 1..LOCKOUT.daily_per_email {
        let claimed = store.claim(&CounterKey::email_day(&parsed), now, &LOCKOUT.email_day()).await;
        assert!(claimed.is_ok_and(|c| c.is_ok()));
    }
    let addresses: Vec<String> = (10..26).map(|i| format!("198.51.100.{i}")).collect();
    for address in &addresses {
        for _ in 0..=auth::lockout::GRACE_ATTEMPTS {
            let key = CounterKey::address_day(&parsed, address);
            assert!(store.claim(&key, now, &LOCKOUT.address_day()).await.is_ok_and(|c| c.is_ok()));
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, address) in addresses.iter().enumerate() {
        let (world, email, address) = (Arc::clone(&world), email.clone(), address.clone());
        tasks.spawn(async move {
            let mut event = fixture("signin-request.json");
            event["body"] = Value::String(credentials(&email, &format!("guess number {i}")).to_string());
            event["requestContext"]["identity"]["sourceIp"] = Value::String(address);
            let request = lambda_http::request::from_str(&event.to_string()).unwrap_or_else(|e| panic!("{e}"));
            signin::handle(request, &world.signin).await.status().as_u16()
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = tasks.join_next().await {
        statuses.push(status.unwrap_or_else(|e| panic!("{e}")));
    }
    statuses.sort_unstable();
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 1, "password checks: {statuses:?}");
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
}

/// One-time codes on DynamoDB through the real SDK: of eight concurrent redemptions of the right code
/// exactly one gets what it unlocks; wrong guesses spend the code; a new code replaces the old.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_is_redeemed_once_under_a_race_and_guessing_spends_it() {
    use auth::codes::dynamo::DynamoCodes;
    use auth::codes::{self, Code, CodeStore as _, Purpose, Redeemed, TRIES};
    let world = World::new().await;
    let table = unique("codes");
    create_table(&world.dynamodb, &table, contract::codes::PARTITION_KEY).await;
    let store = Arc::new(DynamoCodes::new(world.dynamodb.clone(), &table));
    let version = auth::keys::SecretVersion { version_id: "v1".into(), value: random_key().into_bytes() };
    let keys = Arc::new(auth::token::KeyRing::new(&version, None).unwrap_or_else(|e| panic!("{e}")));
    let now = 1_800_000_000;
    let at = (Purpose::Verify, "race@example.com");

    let (code, issued) =
        codes::issue(&keys, Purpose::Verify, "race@example.com", now).unwrap_or_else(|e| panic!("{e}"));
    store.put("race@example.com", &issued, Some(b"pending hash")).await.unwrap_or_else(|e| panic!("{e}"));
    let mut racers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (store, keys, code) = (store.clone(), keys.clone(), code.clone());
        racers.spawn(async move { codes::redeem(&*store, &keys, at, Some(&code), now).await });
    }
    let mut accepted = Vec::new();
    while let Some(done) = racers.join_next().await {
        if let Redeemed::Accepted(payload) = done.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("{e}")) {
            accepted.push(payload);
        }
    }
    assert_eq!(accepted, [Some(b"pending hash".to_vec())], "exactly one redemption");

    let (code, issued) =
        codes::issue(&keys, Purpose::Verify, "race@example.com", now).unwrap_or_else(|e| panic!("{e}"));
    store.put("race@example.com", &issued, None).await.unwrap_or_else(|e| panic!("{e}"));
    let wrong = Code::parse(if code.expose() == "00000000" { "00000001" } else { "00000000" });
    for _ in 0..TRIES {
        let refused = codes::redeem(&*store, &keys, at, wrong.as_ref(), now).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(refused, Redeemed::Refused);
    }
    let late = codes::redeem(&*store, &keys, at, Some(&code), now).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(late, Redeemed::Refused, "guessing spent the code");
    let kept = store.get("race@example.com", Purpose::Verify).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(kept.map(|k| k.issued.tries_left), Some(0));
}

/// Mail flooding through the real SDK: twenty concurrent requests to mail one address get exactly the
/// hour's three, and another address is counted on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_mails_to_one_address_stop_at_its_limit() {
    use auth::codes::dynamo::DynamoCodes;
    use auth::codes::quota::{DEFAULT_MAIL_LIMITS, may_send};
    let world = World::new().await;
    let table = unique("codes");
    create_table(&world.dynamodb, &table, contract::codes::PARTITION_KEY).await;
    let store = Arc::new(DynamoCodes::new(world.dynamodb.clone(), &table));
    let now = 1_800_000_000;
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let store = store.clone();
        senders.spawn(async move { may_send(&*store, "flood@example.com", now, DEFAULT_MAIL_LIMITS).await });
    }
    let mut sent = 0;
    while let Some(done) = senders.join_next().await {
        sent += u32::from(done.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("{e}")));
    }
    assert_eq!(sent, DEFAULT_MAIL_LIMITS.per_hour);
    let other = may_send(&*store, "other@example.com", now, DEFAULT_MAIL_LIMITS).await;
    assert_eq!(other, Ok(true));
}

/// Forgot and reset through the real SDK: the reset code SES was asked to send sets the new password in
/// the users table (a conditional UpdateItem), ends the session begun before it, and clears nothing it
/// should not; a wrong code and an unknown address get the same refusal.
#[tokio::test]
async fn a_reset_through_dynamodb_and_ses_sets_the_password_and_ends_the_session() {
    let world = World::new().await;
    let s = session_world(&world, SESSIONS);
    let email = format!("{}@example.com", unique("reset")).to_ascii_lowercase();
    let before = session_for(&world, &s, &email).await;
    let secret = || SecretsManagerSource::new(world.secrets.clone(), world.code_secret_arn.clone());
    let outbox = || Outbox {
        codes: DynamoCodes::new(world.dynamodb.clone(), world.codes_table.clone()),
        mailer: Tee(
            SesMailer::new(aws_sdk_sesv2::Client::new(&world.config), format!("no-reply@{SENDER_DOMAIN}")),
            world.mail.clone(),
        ),
        limits: DEFAULT_MAIL_LIMITS,
    };
    let forgot = forgot::Deps::new(DynamoStore::new(world.dynamodb.clone(), world.table.clone()), secret(), outbox());
    for address in [email.as_str(), "nobody-at-all@example.com"] {
        let asked = forgot::handle(proxy_request("signup-request.json", &json!({"email": address})), &forgot).await;
        assert_eq!(
            (asked.status().as_u16(), body_json(&asked)),
            (202, json!({"status": "check_your_email"})),
            "{address}"
        );
    }
    let mut reset = reset::Deps::new(
        (
            DynamoStore::new(world.dynamodb.clone(), world.table.clone()),
            KmsCipher::new(aws_sdk_kms::Client::new(&world.config), world.key_arn.clone()),
            secret(),
        ),
        signup::Passwords {
            policy: auth::password::policy::PasswordPolicy::default(),
            blocklist: auth::password::policy::Blocklist {
                breached: auth::password::breached::leaked(&["password1234567"]).unwrap_or_else(|e| panic!("{e}")),
                service_names: vec!["auth".to_owned()],
            },
        },
        reset::Tables {
            codes: DynamoCodes::new(world.dynamodb.clone(), world.codes_table.clone()),
            sessions: world.sessions(),
            attempts: DynamoAttempts::new(world.dynamodb.clone(), world.attempts_table.clone()),
        },
        auth::session::keep_signed_out_seconds(SESSIONS.lifetimes.absolute_seconds, world.tokens.lifetime_seconds),
    );
    reset.clock = s.clock.clone();
    let new = "seven lanterns over the bay";
    let with = |address: &str, code: &str| {
        proxy_request("signin-request.json", &json!({"email": address, "code": code, "password": new}))
    };
    let code = world.code_for(&email);
    let wrong = if code == "00000000" { "00000001" } else { "00000000" };
    let refused = reset::handle(with(&email, wrong), &reset).await;
    let stranger = reset::handle(with("nobody-at-all@example.com", wrong), &reset).await;
    assert_eq!((refused.status(), body_json(&refused)), (stranger.status(), body_json(&stranger)));
    assert_eq!(refused.status(), 400);

    s.clock.advance(1);
    let done = reset::handle(with(&email, &code), &reset).await;
    assert_eq!((done.status().as_u16(), body_json(&done)), (200, json!({"status": "password_reset"})));
    assert_eq!(refresh_with(&s, &before["refresh_token"]).await.0, 401, "the session begun before the reset");
    s.clock.advance(1);
    let signed_in = signin::handle(proxy_request("signin-request.json", &credentials(&email, new)), &s.signin).await;
    assert_eq!(signed_in.status(), 200, "{:?}", signed_in.body());
    let old = signin::handle(
        proxy_request("signin-request.json", &credentials(&email, "velvet orbit lemonade session")),
        &s.signin,
    )
    .await;
    assert_eq!(old.status(), 401);
}
