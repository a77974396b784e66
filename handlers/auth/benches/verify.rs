//! Token verification speed: the authorizer's lean verifier against `jsonwebtoken::decode`.
//!
//! Target: at least 500,000 verifications a second on one core (at most 2 µs each) for a realistic
//! token of about 350 bytes. The bare HMAC-SHA256 is the floor no verifier can beat.

use std::hint::black_box;

use auth::clock::{Clock, SystemClock};
use auth::keys::SecretVersion;
use auth::token::{self, Claims, KeyRing, TokenSettings};
use auth::validate::Email;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

const SECRET: &[u8] = b"Zq8d3LmT0vXk5sR2wY7nB4hJ9cF1gP6aE0uI3oK8zM5xN2bV7tQ4rW1yS6dH9jL0";
const KID: &str = "6f1c2b9e-3d4a-4c5b-9e8f-0a1b2c3d4e5f";

fn verification(c: &mut Criterion) {
    let settings =
        TokenSettings { issuer: "auth-prod/signin".into(), audience: "auth-prod/api".into(), lifetime_seconds: 3600 };
    let keys = KeyRing::new(&SecretVersion { version_id: KID.into(), value: SECRET.to_vec() }, None)
        .unwrap_or_else(|e| panic!("{e}"));
    let now = SystemClock.now();
    let email = Email::parse("alice.smith+newsletter@example-company.com").unwrap_or_else(|e| panic!("{e}"));
    let session = auth::session::SessionId::from_bytes([0x5a; 16]);
    let claims = Claims::new(&email, *session.as_bytes(), [0xc3; 16], &settings, now);
    let token = token::issue(&claims, &keys).unwrap_or_else(|e| panic!("{e}"));
    assert!((400..=550).contains(&token.len()), "the token is {} bytes, not about 480", token.len());
    assert!(token::verify(&token, &keys, &settings, now).is_ok());

    let decoding = DecodingKey::from_secret(SECRET);
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = token::LEEWAY_SECONDS;
    validation.validate_nbf = true;
    validation.set_issuer(&[&settings.issuer]);
    validation.set_audience(&[&settings.audience]);
    assert!(jsonwebtoken::decode::<Claims>(&token, &decoding, &validation).is_ok());

    let (signing_input, signature) = token.rsplit_once('.').unwrap_or_else(|| panic!("no signature"));
    let hmac_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET);
    let tag = {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(signature).unwrap_or_else(|e| panic!("{e}"))
    };

    let mut group = c.benchmark_group(format!("verify a {}-byte HS256 token", token.len()));
    group.throughput(Throughput::Elements(1));
    group.bench_function("auth::token::verify (lean, chosen)", |b| {
        b.iter(|| token::verify(black_box(&token), &keys, &settings, now))
    });
    group.bench_function("jsonwebtoken::decode (full)", |b| {
        b.iter(|| jsonwebtoken::decode::<Claims>(black_box(&token), &decoding, &validation))
    });
    group.bench_function("ring hmac::verify only (floor)", |b| {
        b.iter(|| ring::hmac::verify(&hmac_key, black_box(signing_input.as_bytes()), black_box(&tag)))
    });
    group.finish();
}

criterion_group!(benches, verification);
criterion_main!(benches);
