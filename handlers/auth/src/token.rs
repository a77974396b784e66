//! HS256 session tokens: issued and verified with the ring HMAC key each secret version is turned into
//! once. `jsonwebtoken` is a dev-dependency only: the independent oracle that accepts our tokens and
//! whose tokens we accept (`token/tests.rs`), so production carries no JWT library and none of the
//! RSA, ECDSA and Ed25519 code one brings.
//!
//! Verification is `verify(token, &KeyRing, &TokenSettings, now)`: no I/O, no clock, no globals. It
//! checks, in this order, so that nothing about an attacker's payload is parsed before its signature
//! holds: the size, the three-part shape, the header (`alg` exactly `HS256`, no `crit`, a known `kid`),
//! the HMAC-SHA256 signature in constant time (ring), then the claims (`exp` and `nbf` with at most
//! [`LEEWAY_SECONDS`], `iat` present and not in the future, `exp - iat` at most the stage's token
//! lifetime, `iss`, `aud`). The lifetime check means a token signed with the real key (a leaked key, a
//! bug, an old build) still cannot be valid for ten years: it lives at most as long as signin issues.
//!
//! Why not `jsonwebtoken::decode`: it is correct but rebuilds the HMAC key on every call and parses a
//! general header. Measured with `cargo bench -p auth --bench verify` on a 389-byte token (2-core x86
//! development machine): this verifier 1.01 µs (990,000 a second on one core), `jsonwebtoken::decode`
//! 1.84 µs, the bare HMAC-SHA256 0.35 µs. The target is 500,000 a second.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use contract::claims;
use ring::hmac;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use crate::validate::Email;

/// The only algorithm accepted or produced.
pub const ALGORITHM: &str = "HS256";
/// Tokens longer than this are refused before any decoding.
pub const MAX_TOKEN_BYTES: usize = 4096;
/// The largest decoded header accepted; ours is about 80 bytes.
pub const MAX_HEADER_BYTES: usize = 512;
/// Clock skew tolerated on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECONDS: u64 = 30;
/// The shortest HS256 key accepted: the hash's output size (RFC 7518 §3.2).
pub const MIN_KEY_BYTES: usize = 32;
/// A session id's and a token id's bytes (`sid`, `jti`: 32 hex digits each).
pub const ID_BYTES: usize = 16;
/// An HMAC-SHA256 tag is 32 bytes.
const SIGNATURE_BYTES: usize = 32;

/// One version of the secret: its version id (a UUID, used as the JWT `kid`) and its value. `Debug`
/// never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretVersion {
    pub version_id: String,
    pub value: Vec<u8>,
}

impl fmt::Debug for SecretVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretVersion")
            .field("version_id", &self.version_id)
            .field("value", &format_args!("<{} bytes>", self.value.len()))
            .finish()
    }
}

/// What a token must say about where it comes from and whom it is for, and how long it lives.
/// Stage-specific, from the environment (`AUTH_TOKEN_ISSUER`, `AUTH_TOKEN_AUDIENCE`,
/// `AUTH_TOKEN_LIFETIME_SECONDS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSettings {
    pub issuer: String,
    pub audience: String,
    /// Signin issues tokens valid this long; verification refuses any whose `exp - iat` is longer
    /// (plus [`LEEWAY_SECONDS`]).
    pub lifetime_seconds: u64,
}

/// A token's claims. `sub` and the `email` claim (named by [`contract::claims::EMAIL`]) are both the
/// normalized email; `sid` is the session the token was issued in (32 hex digits), which the authorizer
/// checks still stands, and `jti` the token's own random id (32 hex digits), so no two tokens are alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub email: String,
    pub sid: String,
    pub jti: String,
    pub iat: u64,
    pub exp: u64,
    pub nbf: Option<u64>,
    pub iss: String,
    pub aud: String,
}

impl Claims {
    /// The claims of a token issued to `email` in session `sid` at `now`, valid for the settings'
    /// lifetime, with the token id `jti` (from [`random_jti`]).
    pub fn new(email: &Email, sid: [u8; ID_BYTES], jti: [u8; ID_BYTES], settings: &TokenSettings, now: u64) -> Claims {
        Claims {
            sub: email.as_str().to_owned(),
            email: email.as_str().to_owned(),
            sid: hex::encode(sid),
            jti: hex::encode(jti),
            iat: now,
            exp: now.saturating_add(settings.lifetime_seconds),
            nbf: None,
            iss: settings.issuer.clone(),
            aud: settings.audience.clone(),
        }
    }
}

/// Why a token was refused. The messages never contain the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no token")]
    Empty,
    #[error("token is longer than {MAX_TOKEN_BYTES} bytes")]
    TooLarge,
    #[error("token is not a well-formed JWT")]
    Malformed,
    #[error("token algorithm is not HS256")]
    AlgorithmNotAllowed,
    #[error("token header names no key id")]
    MissingKid,
    #[error("token names a key id that is not current or previous")]
    UnknownKid,
    #[error("token signature does not verify")]
    BadSignature,
    #[error("token claims are malformed")]
    InvalidClaims,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token is valid for longer than this stage issues tokens for")]
    LifetimeTooLong,
    #[error("token was issued by someone else")]
    WrongIssuer,
    #[error("token is meant for another audience")]
    WrongAudience,
}

/// Why a key ring could not be built from the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRingError {
    #[error("a signing key version has an empty version id")]
    EmptyVersionId,
    #[error("signing key version {version_id} is {len} bytes; HS256 needs at least {MIN_KEY_BYTES}")]
    TooShort { version_id: String, len: usize },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signing the token failed: {0}")]
pub struct IssueError(String);

/// A new token id from the operating system's random source.
pub fn random_jti() -> Result<[u8; ID_BYTES], IssueError> {
    let mut id = [0u8; ID_BYTES];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id)
        .map_err(|_| IssueError("the system's random source failed".to_owned()))?;
    Ok(id)
}

/// One version of the signing secret, ready to use: the HMAC key is computed once, not per token.
struct SigningKey {
    kid: String,
    verify: hmac::Key,
    /// The key of refresh-token tags, derived from the secret so that no tag can pass for a JWT
    /// signature or the other way round.
    refresh: hmac::Key,
    /// The key of one-time codes' tags ([`crate::codes`]), derived likewise under its own label.
    code: hmac::Key,
}

/// What the one-time code key is derived with: HMAC-SHA256(secret, this).
const CODE_KEY_LABEL: &[u8] = b"auth one-time code tag key v1";

/// What the refresh-token key is derived with: HMAC-SHA256(secret, this).
const REFRESH_KEY_LABEL: &[u8] = b"auth refresh token tag key v1";

impl SigningKey {
    fn new(version: &SecretVersion) -> Result<SigningKey, KeyRingError> {
        if version.version_id.is_empty() {
            return Err(KeyRingError::EmptyVersionId);
        }
        if version.value.len() < MIN_KEY_BYTES {
            return Err(KeyRingError::TooShort { version_id: version.version_id.clone(), len: version.value.len() });
        }
        let verify = hmac::Key::new(hmac::HMAC_SHA256, &version.value);
        let refresh = hmac::Key::new(hmac::HMAC_SHA256, hmac::sign(&verify, REFRESH_KEY_LABEL).as_ref());
        let code = hmac::Key::new(hmac::HMAC_SHA256, hmac::sign(&verify, CODE_KEY_LABEL).as_ref());
        Ok(SigningKey { kid: version.version_id.clone(), verify, refresh, code })
    }
}

/// The keys tokens may be signed with: Secrets Manager's `AWSCURRENT` version, which signs new tokens,
/// and `AWSPREVIOUS`, which keeps tokens issued before a rotation valid until they expire. Each is
/// known by its version id, the token header's `kid`.
pub struct KeyRing {
    current: SigningKey,
    previous: Option<SigningKey>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("current", &self.current.kid)
            .field("previous", &self.previous.as_ref().map(|k| &k.kid))
            .finish()
    }
}

impl KeyRing {
    pub fn new(current: &SecretVersion, previous: Option<&SecretVersion>) -> Result<KeyRing, KeyRingError> {
        let current = SigningKey::new(current)?;
        let previous = match previous {
            Some(version) if version.version_id != current.kid => Some(SigningKey::new(version)?),
            _ => None,
        };
        Ok(KeyRing { current, previous })
    }

    /// The version id new tokens are signed with.
    pub fn current_kid(&self) -> &str {
        &self.current.kid
    }

    pub fn previous_kid(&self) -> Option<&str> {
        self.previous.as_ref().map(|k| k.kid.as_str())
    }

    pub fn contains(&self, kid: &str) -> bool {
        self.find(kid).is_some()
    }

    /// A refresh token's tag over `data`, under the current secret.
    pub fn refresh_tag(&self, data: &[u8]) -> [u8; 32] {
        let mut tag = [0u8; 32];
        tag.copy_from_slice(hmac::sign(&self.current.refresh, data).as_ref());
        tag
    }

    /// Whether `tag` is a refresh token's tag over `data` under the current or the previous secret,
    /// compared in constant time.
    pub fn verify_refresh_tag(&self, data: &[u8], tag: &[u8]) -> bool {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .any(|key| hmac::verify(&key.refresh, data, tag).is_ok())
    }

    /// A one-time code's tag over `data`, under the current secret.
    pub fn code_tag(&self, data: &[u8]) -> [u8; 32] {
        let mut tag = [0u8; 32];
        tag.copy_from_slice(hmac::sign(&self.current.code, data).as_ref());
        tag
    }

    /// Whether `tag` is a one-time code's tag over `data` under the current or the previous secret (a
    /// code mailed just before a rotation still works), compared in constant time.
    pub fn verify_code_tag(&self, data: &[u8], tag: &[u8]) -> bool {
        std::iter::once(&self.current)
            .chain(self.previous.as_ref())
            .any(|key| hmac::verify(&key.code, data, tag).is_ok())
    }

    fn find(&self, kid: &str) -> Option<&SigningKey> {
        if self.current.kid == kid { Some(&self.current) } else { self.previous.as_ref().filter(|k| k.kid == kid) }
    }
}

/// The header of every token issued: the algorithm, the type and the key's version id.
#[derive(Serialize)]
struct IssuedHeader<'a> {
    typ: &'static str,
    alg: &'static str,
    kid: &'a str,
}

/// Signs `claims` with the ring's current key (RFC 7515's compact form: base64url of the header and of
/// the claims, joined by a dot, then the HMAC-SHA256 of those bytes); the header carries `kid` = the
/// key's version id.
pub fn issue(claims: &Claims, keys: &KeyRing) -> Result<String, IssueError> {
    let key = &keys.current;
    let header = IssuedHeader { typ: "JWT", alg: ALGORITHM, kid: &key.kid };
    let header = serde_json::to_vec(&header).map_err(|e| IssueError(e.to_string()))?;
    let payload = serde_json::to_vec(claims).map_err(|e| IssueError(e.to_string()))?;
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(payload, &mut token);
    let tag = hmac::sign(&key.verify, token.as_bytes());
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(tag.as_ref(), &mut token);
    Ok(token)
}

/// The header fields we read. Unknown fields (`typ`, `cty`, ...) are ignored; `crit` means the token
/// relies on an extension we do not implement, so its presence alone refuses the token (RFC 7515
/// §4.1.11). A field given twice is an error, as serde's derive makes it.
#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    alg: &'a str,
    #[serde(borrow, default)]
    kid: Option<&'a str>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

/// Checks a token against the key ring and the expected issuer and audience at Unix time `now`.
pub fn verify(token: &str, keys: &KeyRing, expected: &TokenSettings, now: u64) -> Result<Claims, TokenError> {
    if token.is_empty() {
        return Err(TokenError::Empty);
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge);
    }
    let (signing_input, signature) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
    let (header, payload) = signing_input.split_once('.').ok_or(TokenError::Malformed)?;
    if payload.contains('.') {
        return Err(TokenError::Malformed);
    }

    // base64url of MAX_HEADER_BYTES is at most 4/3 as long; checking first keeps the buffer fixed.
    if header.len() > MAX_HEADER_BYTES * 4 / 3 + 1 {
        return Err(TokenError::Malformed);
    }
    let mut header_buf = [0u8; MAX_HEADER_BYTES];
    let header_len = URL_SAFE_NO_PAD.decode_slice(header, &mut header_buf).map_err(|_| TokenError::Malformed)?;
    let header_json = &header_buf[..header_len];
    // serde's derive would also take a JSON array; a JOSE header is an object.
    if header_json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(TokenError::Malformed);
    }
    let header: Header<'_> = serde_json::from_slice(header_json).map_err(|_| TokenError::Malformed)?;
    if header.alg != ALGORITHM {
        return Err(TokenError::AlgorithmNotAllowed);
    }
    if header.crit.is_some() {
        return Err(TokenError::Malformed);
    }
    let key = keys.find(header.kid.ok_or(TokenError::MissingKid)?).ok_or(TokenError::UnknownKid)?;

    // 32 bytes are 43 base64url characters; anything else cannot be an HS256 tag.
    if signature.len() != 43 {
        return Err(TokenError::BadSignature);
    }
    let mut tag = [0u8; SIGNATURE_BYTES + 1];
    let tag_len = URL_SAFE_NO_PAD.decode_slice(signature, &mut tag).map_err(|_| TokenError::BadSignature)?;
    hmac::verify(&key.verify, signing_input.as_bytes(), &tag[..tag_len]).map_err(|_| TokenError::BadSignature)?;

    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| TokenError::Malformed)?;
    let claims: Claims = serde_json::from_slice(&payload).map_err(|_| TokenError::InvalidClaims)?;
    check_claims(&claims, expected, now)?;
    Ok(claims)
}

fn check_claims(claims: &Claims, expected: &TokenSettings, now: u64) -> Result<(), TokenError> {
    // RFC 7519: valid while now < exp, and from nbf on; the leeway stretches both by at most 30 s.
    if now >= claims.exp.saturating_add(LEEWAY_SECONDS) {
        return Err(TokenError::Expired);
    }
    let earliest = claims.nbf.unwrap_or(0).max(claims.iat);
    if earliest > now.saturating_add(LEEWAY_SECONDS) {
        return Err(TokenError::NotYetValid);
    }
    if claims.exp.saturating_sub(claims.iat) > expected.lifetime_seconds.saturating_add(LEEWAY_SECONDS) {
        return Err(TokenError::LifetimeTooLong);
    }
    if claims.iss != expected.issuer {
        return Err(TokenError::WrongIssuer);
    }
    if claims.aud != expected.audience {
        return Err(TokenError::WrongAudience);
    }
    if claims.sub.is_empty() || claims.email.is_empty() {
        return Err(TokenError::InvalidClaims);
    }
    // Every token names its session and its own id, as 32 lowercase hex digits each.
    let id = |text: &str| {
        let mut bytes = [0u8; ID_BYTES];
        hex::decode_to_slice(text, &mut bytes).is_ok() && hex::encode(bytes) == text
    };
    if !id(&claims.sid) || !id(&claims.jti) {
        return Err(TokenError::InvalidClaims);
    }
    Ok(())
}

// Claims are (de)serialized by hand so that the email claim's name is `contract::claims::EMAIL`, the
// one the authorizer's context also uses, rather than a string typed again in a serde attribute.

const SUB: &str = "sub";
const SID: &str = "sid";
const JTI: &str = "jti";
const IAT: &str = "iat";
const EXP: &str = "exp";
const NBF: &str = "nbf";
const ISS: &str = "iss";
const AUD: &str = "aud";

impl Serialize for Claims {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Claims", 8 + usize::from(self.nbf.is_some()))?;
        s.serialize_field(SUB, &self.sub)?;
        s.serialize_field(claims::EMAIL, &self.email)?;
        s.serialize_field(SID, &self.sid)?;
        s.serialize_field(JTI, &self.jti)?;
        s.serialize_field(IAT, &self.iat)?;
        s.serialize_field(EXP, &self.exp)?;
        if let Some(nbf) = self.nbf {
            s.serialize_field(NBF, &nbf)?;
        }
        s.serialize_field(ISS, &self.iss)?;
        s.serialize_field(AUD, &self.aud)?;
        s.end()
    }
}

enum Field {
    Sub,
    Email,
    Sid,
    Jti,
    Iat,
    Exp,
    Nbf,
    Iss,
    Aud,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Field, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a claim name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
                Ok(match name {
                    SUB => Field::Sub,
                    SID => Field::Sid,
                    JTI => Field::Jti,
                    IAT => Field::Iat,
                    EXP => Field::Exp,
                    NBF => Field::Nbf,
                    ISS => Field::Iss,
                    AUD => Field::Aud,
                    _ if name == claims::EMAIL => Field::Email,
                    _ => Field::Other,
                })
            }
        }
        deserializer.deserialize_identifier(FieldVisitor)
    }
}

impl<'de> Deserialize<'de> for Claims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Claims, D::Error> {
        struct ClaimsVisitor;
        impl<'de> Visitor<'de> for ClaimsVisitor {
            type Value = Claims;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JWT claims object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Claims, A::Error> {
                fn set<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
                    map: &mut A,
                    slot: &mut Option<T>,
                    name: &'static str,
                ) -> Result<(), A::Error> {
                    if slot.is_some() {
                        return Err(de::Error::duplicate_field(name));
                    }
                    *slot = Some(map.next_value()?);
                    Ok(())
                }
                let (mut sub, mut email, mut iss, mut aud) = (None, None, None, None);
                let (mut sid, mut jti) = (None, None);
                let (mut iat, mut exp, mut nbf) = (None, None, None);
                while let Some(field) = map.next_key::<Field>()? {
                    match field {
                        Field::Sub => set(&mut map, &mut sub, SUB)?,
                        Field::Email => set(&mut map, &mut email, claims::EMAIL)?,
                        Field::Sid => set(&mut map, &mut sid, SID)?,
                        Field::Jti => set(&mut map, &mut jti, JTI)?,
                        Field::Iat => set(&mut map, &mut iat, IAT)?,
                        Field::Exp => set(&mut map, &mut exp, EXP)?,
                        Field::Nbf => set(&mut map, &mut nbf, NBF)?,
                        Field::Iss => set(&mut map, &mut iss, ISS)?,
                        Field::Aud => set(&mut map, &mut aud, AUD)?,
                        Field::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(Claims {
                    sub: sub.ok_or_else(|| de::Error::missing_field(SUB))?,
                    email: email.ok_or_else(|| de::Error::missing_field(claims::EMAIL))?,
                    sid: sid.ok_or_else(|| de::Error::missing_field(SID))?,
                    jti: jti.ok_or_else(|| de::Error::missing_field(JTI))?,
                    iat: iat.ok_or_else(|| de::Error::missing_field(IAT))?,
                    exp: exp.ok_or_else(|| de::Error::missing_field(EXP))?,
                    nbf,
                    iss: iss.ok_or_else(|| de::Error::missing_field(ISS))?,
                    aud: aud.ok_or_else(|| de::Error::missing_field(AUD))?,
                })
            }
        }
        deserializer.deserialize_map(ClaimsVisitor)
    }
}

#[cfg(test)]
mod tests;
