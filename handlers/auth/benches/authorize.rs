//! What the session checks cost the authorizer: `authorize` (verify the token, then look up whether its
//! session stands and its user's valid-after time) against `token::verify` alone, with both in the
//! authorizer's cache (the warm path: at most one read of each per cache period) and without (the cold
//! path: two store reads side by side, here in-memory ones, so the figure is the checks' own CPU cost and
//! not DynamoDB's round trip).

use std::hint::black_box;
use std::sync::Arc;

use auth::authorizer::{self, RevocationCache};
use auth::clock::{Clock, SystemClock};
use auth::keys::fake::FakeSecretSource;
use auth::keys::{KeyCache, SecretVersion};
use auth::session::memory::MemorySessions;
use auth::session::{Session, SessionId, SessionStore as _};
use auth::token::{self, Claims, KeyRing, TokenSettings};
use auth::validate::Email;
use criterion::{Criterion, criterion_group, criterion_main};
use lambda_http::http::{HeaderMap, HeaderValue};

const SECRET: &[u8] = b"Zq8d3LmT0vXk5sR2wY7nB4hJ9cF1gP6aE0uI3oK8zM5xN2bV7tQ4rW1yS6dH9jL0";

fn revocation_check(c: &mut Criterion) {
    let settings =
        TokenSettings { issuer: "auth-prod/signin".into(), audience: "auth-prod/api".into(), lifetime_seconds: 900 };
    let keys = KeyRing::new(&SecretVersion { version_id: "v1".into(), value: SECRET.to_vec() }, None)
        .unwrap_or_else(|e| panic!("{e}"));
    let now = SystemClock.now();
    let email = Email::parse("alice.smith@example.com").unwrap_or_else(|e| panic!("{e}"));
    let sessions = Arc::new(MemorySessions::new());
    let id = SessionId::random().unwrap_or_else(|e| panic!("{e}"));
    let seed = auth::session::random_seed().unwrap_or_else(|e| panic!("{e}"));
    let (session, _) = Session::begin(id, email.as_str(), now, seed, &keys);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(sessions.create(&session, now + 3600)).unwrap_or_else(|e| panic!("{e}"));
    let claims = Claims::new(&email, *id.as_bytes(), [0xc3; 16], &settings, now);
    let jwt = token::issue(&claims, &keys).unwrap_or_else(|e| panic!("{e}"));
    let mut headers = HeaderMap::new();
    headers.insert("authorization", HeaderValue::from_str(&format!("Bearer {jwt}")).unwrap_or_else(|e| panic!("{e}")));
    let deps = |max_age| authorizer::Deps {
        keys: KeyCache::new(FakeSecretSource::new("v1", SECRET)),
        tokens: settings.clone(),
        sessions: sessions.clone(),
        revocations: RevocationCache::new(max_age),
        clock: Arc::new(SystemClock),
    };
    let (warm, cold) = (deps(10), deps(0));
    for d in [&warm, &cold] {
        assert!(runtime.block_on(authorizer::authorize(&headers, d)).is_ok());
    }

    let mut group = c.benchmark_group("authorizer");
    group.bench_function("token::verify alone", |b| {
        b.iter(|| token::verify(black_box(&jwt), &keys, &settings, now).is_ok())
    });
    group.bench_function("authorize, session and valid-after cached", |b| {
        b.iter(|| runtime.block_on(authorizer::authorize(black_box(&headers), &warm)).is_ok())
    });
    group.bench_function("authorize, session and valid-after read (in-memory store)", |b| {
        b.iter(|| runtime.block_on(authorizer::authorize(black_box(&headers), &cold)).is_ok())
    });
    group.finish();
}

criterion_group!(benches, revocation_check);
criterion_main!(benches);
