//! Tests of issuing and verifying tokens, one per attack the verifier must refuse.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde_json::{Value, json};

use super::*;

const SECRET: &[u8] = b"k3yOfSixtyFourAlphanumericCharactersGeneratedBySecretsManager0123";
const PREVIOUS_SECRET: &[u8] = b"olderKeyOfSixtyFourAlphanumericCharactersFromBeforeTheRotation012";
const CURRENT_KID: &str = "6f1c2b9e-3d4a-4c5b-9e8f-0a1b2c3d4e5f";
const PREVIOUS_KID: &str = "0d9c8b7a-6f5e-4d3c-2b1a-0f9e8d7c6b5a";
const NOW: u64 = 1_700_000_000;

fn version(kid: &str, value: &[u8]) -> SecretVersion {
    SecretVersion { version_id: kid.to_owned(), value: value.to_vec() }
}

fn ring() -> KeyRing {
    KeyRing::new(&version(CURRENT_KID, SECRET), Some(&version(PREVIOUS_KID, PREVIOUS_SECRET)))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn settings() -> TokenSettings {
    TokenSettings { issuer: "auth-dev/signin".into(), audience: "auth-dev/api".into(), lifetime_seconds: 3600 }
}

fn email() -> Email {
    Email::parse("alice@example.com").unwrap_or_else(|e| panic!("{e}"))
}

fn claims() -> Claims {
    Claims::new(&email(), [7; 16], [9; 16], &settings(), NOW)
}

fn valid_token() -> String {
    issue(&claims(), &ring()).unwrap_or_else(|e| panic!("{e}"))
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with any header and payload, HMAC-SHA256-signed with `secret`.
fn craft(header: &Value, payload: &Value, secret: &[u8]) -> String {
    let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(payload.to_string().as_bytes()));
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

fn header() -> Value {
    json!({"typ": "JWT", "alg": "HS256", "kid": CURRENT_KID})
}

fn payload() -> Value {
    serde_json::to_value(claims()).unwrap_or_else(|e| panic!("{e}"))
}

fn check(token: &str) -> Result<Claims, TokenError> {
    verify(token, &ring(), &settings(), NOW)
}

#[test]
fn an_issued_token_verifies_and_round_trips_its_claims() {
    let token = valid_token();
    assert_eq!(check(&token), Ok(claims()));
    // With its session and its own id: about 480 bytes.
    assert!(token.len() < 560, "{} bytes", token.len());
}

#[test]
fn issued_tokens_carry_the_current_kid_and_hs256() {
    let header = jsonwebtoken::decode_header(&valid_token()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(header.alg, Algorithm::HS256);
    assert_eq!(header.kid.as_deref(), Some(CURRENT_KID));
}

#[test]
fn the_email_claim_is_named_by_the_contract() {
    let json = payload();
    assert_eq!(json[claims::EMAIL], "alice@example.com");
    assert_eq!(json["sub"], "alice@example.com");
    assert_eq!(json["exp"], NOW + 3600);
    assert!(json.get("nbf").is_none(), "no nbf unless set");
}

#[test]
fn jsonwebtoken_accepts_our_tokens_too() {
    // An independent implementation agrees with ours on a valid token.
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_issuer(&["auth-dev/signin"]);
    validation.set_audience(&["auth-dev/api"]);
    validation.validate_exp = false;
    let decoded = jsonwebtoken::decode::<Claims>(&valid_token(), &DecodingKey::from_secret(SECRET), &validation)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(decoded.claims, claims());
}

#[test]
fn a_token_signed_with_the_previous_version_verifies() {
    let token = craft(&json!({"alg": "HS256", "kid": PREVIOUS_KID}), &payload(), PREVIOUS_SECRET);
    assert_eq!(check(&token), Ok(claims()));
    let without_previous = KeyRing::new(&version(CURRENT_KID, SECRET), None).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(verify(&token, &without_previous, &settings(), NOW), Err(TokenError::UnknownKid));
}

#[test]
fn attack_alg_none() {
    for alg in ["none", "None", "NONE", "nOnE"] {
        let h = json!({"alg": alg, "kid": CURRENT_KID});
        let unsigned = format!("{}.{}.", b64(h.to_string().as_bytes()), b64(payload().to_string().as_bytes()));
        assert_eq!(check(&unsigned), Err(TokenError::AlgorithmNotAllowed), "{alg}");
    }
}

#[test]
fn attack_another_algorithm_hs512_with_the_right_key() {
    let mut h = jsonwebtoken::Header::new(Algorithm::HS512);
    h.kid = Some(CURRENT_KID.into());
    let token =
        jsonwebtoken::encode(&h, &claims(), &EncodingKey::from_secret(SECRET)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(check(&token), Err(TokenError::AlgorithmNotAllowed));
}

#[test]
fn attack_another_algorithm_rs256_and_friends() {
    for alg in ["RS256", "ES256", "PS256", "HS384", "EdDSA", "hs256", "HS256 ", ""] {
        let token = craft(&json!({"alg": alg, "kid": CURRENT_KID}), &payload(), SECRET);
        assert_eq!(check(&token), Err(TokenError::AlgorithmNotAllowed), "{alg:?}");
    }
    let token = craft(&json!({"alg": ["HS256"], "kid": CURRENT_KID}), &payload(), SECRET);
    assert_eq!(check(&token), Err(TokenError::Malformed));
    let token = craft(&json!({"kid": CURRENT_KID}), &payload(), SECRET);
    assert_eq!(check(&token), Err(TokenError::Malformed));
}

#[test]
fn attack_tampered_payload() {
    let token = valid_token();
    let parts: Vec<&str> = token.split('.').collect();
    let mut evil = payload();
    evil[claims::EMAIL] = json!("admin@example.com");
    evil["sub"] = json!("admin@example.com");
    let forged = format!("{}.{}.{}", parts[0], b64(evil.to_string().as_bytes()), parts[2]);
    assert_eq!(check(&forged), Err(TokenError::BadSignature));

    // A single flipped character in the payload is enough to fail.
    let mut flipped = token.clone().into_bytes();
    let i = parts[0].len() + 5;
    flipped[i] = if flipped[i] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(check(&flipped), Err(TokenError::BadSignature));
}

#[test]
fn attack_tampered_header_or_signature() {
    let token = valid_token();
    let (_, rest) = token.split_once('.').unwrap_or_else(|| panic!("no dot"));
    let other_header = b64(json!({"alg": "HS256", "kid": CURRENT_KID, "typ": "jwt"}).to_string().as_bytes());
    assert_eq!(check(&format!("{other_header}.{rest}")), Err(TokenError::BadSignature));

    let (input, signature) = token.rsplit_once('.').unwrap_or_else(|| panic!("no dot"));
    let mut tag = URL_SAFE_NO_PAD.decode(signature).unwrap_or_else(|e| panic!("{e}"));
    tag[0] ^= 1;
    assert_eq!(check(&format!("{input}.{}", b64(&tag))), Err(TokenError::BadSignature));
    assert_eq!(check(&format!("{input}.{}", b64(&tag[..31]))), Err(TokenError::BadSignature));
    assert_eq!(check(&format!("{input}.{}", &signature[..42])), Err(TokenError::BadSignature));
    assert_eq!(check(&format!("{input}.{signature}A")), Err(TokenError::BadSignature));
    assert_eq!(check(&format!("{input}.")), Err(TokenError::BadSignature));
}

#[test]
fn attack_wrong_key() {
    let token = craft(&header(), &payload(), b"an-attacker-chosen-key-of-more-than-thirty-two-bytes-long!!");
    assert_eq!(check(&token), Err(TokenError::BadSignature));
    // Signed with the previous key but claiming the current kid: the kid picks the key, not the signer.
    let token = craft(&header(), &payload(), PREVIOUS_SECRET);
    assert_eq!(check(&token), Err(TokenError::BadSignature));
}

#[test]
fn attack_expired() {
    let mut p = payload();
    p["iat"] = json!(NOW - 3600 - 31);
    p["exp"] = json!(NOW - 31);
    assert_eq!(check(&craft(&header(), &p, SECRET)), Err(TokenError::Expired));
    p["exp"] = json!(NOW - 30);
    assert_eq!(check(&craft(&header(), &p, SECRET)), Err(TokenError::Expired), "leeway is under 30 s");
    p["exp"] = json!(NOW - 29);
    assert!(check(&craft(&header(), &p, SECRET)).is_ok(), "29 s of clock skew is tolerated");
    p["exp"] = json!(0);
    assert_eq!(check(&craft(&header(), &p, SECRET)), Err(TokenError::Expired));
}

#[test]
fn attack_not_yet_valid() {
    let mut p = payload();
    p["nbf"] = json!(NOW + 31);
    assert_eq!(check(&craft(&header(), &p, SECRET)), Err(TokenError::NotYetValid));
    p["nbf"] = json!(NOW + 30);
    assert!(check(&craft(&header(), &p, SECRET)).is_ok(), "30 s of clock skew is tolerated");

    let mut p = payload();
    p["iat"] = json!(NOW + 3600);
    p["exp"] = json!(NOW + 7200);
    assert_eq!(check(&craft(&header(), &p, SECRET)), Err(TokenError::NotYetValid), "issued in the future");
}

#[test]
fn attack_ten_year_token_signed_with_the_real_key() {
    let mut p = payload();
    p["exp"] = json!(NOW + 10 * 365 * 86_400);
    assert_eq!(check(&craft(&header(), &p, SECRET)), Err(TokenError::LifetimeTooLong));
    // Moving iat up to an hour before that exp makes the lifetime look right, but then the token was
    // issued in the future, which is refused too.
    p["iat"] = json!(NOW + 10 * 365 * 86_400 - 3600);
    assert_eq!(check(&craft(&header(), &p, SECRET)), Err(TokenError::NotYetValid));
    // The stage's lifetime plus the leeway is accepted, one second more is not.
    let mut p = payload();
    p["exp"] = json!(NOW + 3600 + 30);
    assert!(check(&craft(&header(), &p, SECRET)).is_ok());
    p["exp"] = json!(NOW + 3600 + 31);
    assert_eq!(check(&craft(&header(), &p, SECRET)), Err(TokenError::LifetimeTooLong));
}

#[test]
fn attack_token_without_iat() {
    let mut p = payload();
    p.as_object_mut().map(|o| o.remove("iat"));
    assert_eq!(check(&craft(&header(), &p, SECRET)), Err(TokenError::InvalidClaims));
    p["iat"] = Value::Null;
    assert_eq!(check(&craft(&header(), &p, SECRET)), Err(TokenError::InvalidClaims));
}

#[test]
fn attack_wrong_issuer() {
    for iss in [json!("auth-prod/signin"), json!(""), json!("AUTH-DEV/SIGNIN")] {
        let mut p = payload();
        p["iss"] = iss;
        assert_eq!(check(&craft(&header(), &p, SECRET)), Err(TokenError::WrongIssuer));
    }
}

#[test]
fn attack_wrong_audience() {
    let mut p = payload();
    p["aud"] = json!("auth-prod/api");
    assert_eq!(check(&craft(&header(), &p, SECRET)), Err(TokenError::WrongAudience));
    // We issue a single audience string; an array is not a token we made.
    p["aud"] = json!(["auth-dev/api"]);
    assert_eq!(check(&craft(&header(), &p, SECRET)), Err(TokenError::InvalidClaims));
}

#[test]
fn attack_unknown_or_missing_kid() {
    let token = craft(&json!({"alg": "HS256", "kid": "not-a-version-we-know"}), &payload(), SECRET);
    assert_eq!(check(&token), Err(TokenError::UnknownKid));
    let token = craft(&json!({"alg": "HS256"}), &payload(), SECRET);
    assert_eq!(check(&token), Err(TokenError::MissingKid));
    let token = craft(&json!({"alg": "HS256", "kid": 7}), &payload(), SECRET);
    assert_eq!(check(&token), Err(TokenError::Malformed));
}

#[test]
fn attack_garbage() {
    for garbage in [
        "garbage",
        "a.b",
        "a.b.c",
        "...",
        "a.b.c.d",
        "eyJhbGciOiJIUzI1NiJ9",
        "Bearer x.y.z",
        "\u{0}\u{0}.\u{0}.\u{0}",
        "====.====.====",
        "eyJhbGciOiJIUzI1NiJ9.e30.",
    ] {
        let refused = check(garbage);
        assert!(
            matches!(refused, Err(TokenError::Malformed | TokenError::MissingKid | TokenError::BadSignature)),
            "{garbage:?}: {refused:?}"
        );
    }
    let token = valid_token();
    assert_eq!(check(&format!("{token}.extra")), Err(TokenError::Malformed));
    let padded = token.replacen('.', "==.", 1);
    assert_eq!(check(&padded), Err(TokenError::Malformed), "base64 padding is not base64url");
}

#[test]
fn attack_empty() {
    assert_eq!(check(""), Err(TokenError::Empty));
}

#[test]
fn attack_10_kb_header() {
    let big = json!({"alg": "HS256", "kid": CURRENT_KID, "x": "a".repeat(10 * 1024)});
    assert_eq!(check(&craft(&big, &payload(), SECRET)), Err(TokenError::TooLarge));
    // Under the token limit but with a header far larger than ours: refused before parsing.
    let large = json!({"alg": "HS256", "kid": CURRENT_KID, "x": "a".repeat(2000)});
    assert_eq!(check(&craft(&large, &payload(), SECRET)), Err(TokenError::Malformed));
    assert_eq!(check(&"a".repeat(MAX_TOKEN_BYTES + 1)), Err(TokenError::TooLarge));
}

#[test]
fn a_crit_header_is_refused() {
    let token = craft(&json!({"alg": "HS256", "kid": CURRENT_KID, "crit": ["b64"], "b64": false}), &payload(), SECRET);
    assert_eq!(check(&token), Err(TokenError::Malformed));
}

#[test]
fn validly_signed_but_malformed_claims_are_refused() {
    let cases = [
        json!({}),
        json!([]),
        json!({"sub": "a@b.co", "iat": NOW, "exp": NOW + 60, "iss": "auth-dev/signin", "aud": "auth-dev/api"}),
        json!({"sub": "a@b.co", "email": "a@b.co", "iat": NOW, "exp": "soon", "iss": "auth-dev/signin", "aud": "auth-dev/api"}),
        json!({"sub": "a@b.co", "email": "a@b.co", "iat": NOW, "exp": 1.7e9, "iss": "auth-dev/signin", "aud": "auth-dev/api"}),
        json!({"sub": "", "email": "", "iat": NOW, "exp": NOW + 60, "iss": "auth-dev/signin", "aud": "auth-dev/api"}),
    ];
    for p in cases {
        assert_eq!(check(&craft(&header(), &p, SECRET)), Err(TokenError::InvalidClaims), "{p}");
    }
    let duplicate = format!(
        r#"{{"sub":"a@b.co","sub":"admin@b.co","email":"a@b.co","iat":{NOW},"exp":{},"iss":"auth-dev/signin","aud":"auth-dev/api"}}"#,
        NOW + 60
    );
    let input = format!("{}.{}", b64(header().to_string().as_bytes()), b64(duplicate.as_bytes()));
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, SECRET), input.as_bytes());
    assert_eq!(check(&format!("{input}.{}", b64(tag.as_ref()))), Err(TokenError::InvalidClaims));
}

#[test]
fn unknown_claims_and_header_fields_are_ignored() {
    let mut p = payload();
    p["role"] = json!({"admin": true});
    let h = json!({"alg": "HS256", "kid": CURRENT_KID, "typ": "JWT", "cty": "x"});
    assert_eq!(check(&craft(&h, &p, SECRET)), Ok(claims()));
}

#[test]
fn key_ring_refuses_short_keys_and_empty_ids() {
    assert_eq!(
        KeyRing::new(&version("v1", &[7; 31]), None).err(),
        Some(KeyRingError::TooShort { version_id: "v1".into(), len: 31 })
    );
    assert!(KeyRing::new(&version("v1", &[7; 32]), None).is_ok());
    assert_eq!(KeyRing::new(&version("", SECRET), None).err(), Some(KeyRingError::EmptyVersionId));
    assert!(KeyRing::new(&version("v1", SECRET), Some(&version("v0", b"short"))).is_err());
}

#[test]
fn key_ring_knows_current_and_previous_and_hides_secrets() {
    let ring = ring();
    assert!(ring.contains(CURRENT_KID) && ring.contains(PREVIOUS_KID) && !ring.contains("other"));
    let same = KeyRing::new(&version("v1", SECRET), Some(&version("v1", SECRET))).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(same.previous_kid(), None);
    let debug = format!("{ring:?}");
    assert!(debug.contains(CURRENT_KID) && !debug.contains("SixtyFour"), "{debug}");
}
