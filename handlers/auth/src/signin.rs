//! `POST /signin`: check the password against the stored hash and answer a signed token.
//!
//! An unknown email and a wrong password get the same 401 body, and both pay one Argon2id
//! verification (against a dummy hash when there is no account), so neither the answer nor its time
//! tells who has an account. What remains is one KMS `Decrypt` round trip on the known-email path,
//! a few milliseconds against Argon2id's 12 ms (measured on the development machine; more on Lambda,
//! where 1024 MB is a fraction of a vCPU).

use std::sync::Arc;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::clock::{Clock, SystemClock};
use crate::error::{ApiError, json_ok};
use crate::keys::{KeyCache, SecretSource};
use crate::password::{Cipher, CipherError, PasswordScheme, PhcString};
use crate::store::UserStore;
use crate::token::{self, Claims, TokenSettings};
use crate::validate::{Credentials, credentials_from_body};

/// How long a warm signin may sign with the secret it read before reading it again, so that it never
/// signs with a version that rotations have retired.
pub const KEY_MAX_AGE_SECONDS: u64 = 300;

/// What signin needs.
#[derive(Debug)]
pub struct Deps<S, C, K> {
    pub store: S,
    pub cipher: C,
    pub passwords: PasswordScheme,
    pub keys: KeyCache<K>,
    pub tokens: TokenSettings,
    pub token_lifetime_seconds: u64,
    pub clock: Arc<dyn Clock>,
}

impl<S, C, K: SecretSource> Deps<S, C, K> {
    /// Production dependencies: OWASP Argon2id parameters, the system clock, and a key cache that
    /// re-reads the secret every [`KEY_MAX_AGE_SECONDS`].
    pub fn new(store: S, cipher: C, secrets: K, tokens: TokenSettings, token_lifetime_seconds: u64) -> Deps<S, C, K> {
        Deps {
            store,
            cipher,
            passwords: PasswordScheme::owasp(),
            keys: KeyCache::new(secrets).with_max_age(KEY_MAX_AGE_SECONDS),
            tokens,
            token_lifetime_seconds,
            clock: Arc::new(SystemClock),
        }
    }
}

#[derive(Serialize)]
struct TokenBody {
    token: String,
}

/// Answers `200 {"token": ...}`, one `401` for any wrong email/password pair, `4xx` for bad input,
/// and `500` only if a dependency fails.
pub async fn handle<S: UserStore, C: Cipher, K: SecretSource>(req: Request, deps: &Deps<S, C, K>) -> Response<Body> {
    match signin(req.body(), deps).await {
        Ok(token) => {
            tracing::info!("signed in");
            json_ok(StatusCode::OK, &TokenBody { token })
        }
        Err(error) => error.into_response(),
    }
}

async fn signin<S: UserStore, C: Cipher, K: SecretSource>(
    body: &Body,
    deps: &Deps<S, C, K>,
) -> Result<String, ApiError> {
    let credentials = credentials_from_body(body).map_err(|error| {
        tracing::info!(reason = %error, "signin refused: invalid request");
        ApiError::from(error)
    })?;
    check_password(&credentials, deps).await?;

    let now = deps.clock.now();
    let keys = deps.keys.get(now).await.map_err(|error| {
        tracing::error!(%error, "reading the signing secret");
        ApiError::internal()
    })?;
    let claims = Claims::new(&credentials.email, &deps.tokens, now, deps.token_lifetime_seconds);
    token::issue(&claims, &keys).map_err(|error| {
        tracing::error!(%error, "signing the token");
        ApiError::internal()
    })
}

async fn check_password<S: UserStore, C: Cipher, K>(
    credentials: &Credentials,
    deps: &Deps<S, C, K>,
) -> Result<(), ApiError> {
    let user = deps.store.get(&credentials.email).await.map_err(|error| {
        tracing::error!(%error, "reading the user");
        ApiError::internal()
    })?;
    let Some(user) = user else {
        deps.passwords.verify_dummy(&credentials.password);
        tracing::info!(reason = "unknown email", "signin refused");
        return Err(ApiError::invalid_credentials());
    };
    let plaintext = match deps.cipher.decrypt(&user.encrypted_hash, &credentials.email).await {
        Ok(plaintext) => plaintext,
        Err(CipherError::Rejected) => {
            // Only a row altered outside the service gets here, e.g. a hash copied from another user.
            deps.passwords.verify_dummy(&credentials.password);
            tracing::error!("the stored password hash does not decrypt under its own email: the row was tampered with");
            return Err(ApiError::invalid_credentials());
        }
        Err(error) => {
            tracing::error!(%error, "decrypting the password hash");
            return Err(ApiError::internal());
        }
    };
    let phc = PhcString::from_bytes(plaintext).map_err(|error| {
        tracing::error!(%error, "reading the decrypted password hash");
        ApiError::internal()
    })?;
    if deps.passwords.verify(&credentials.password, &phc) {
        Ok(())
    } else {
        tracing::info!(reason = "wrong password", "signin refused");
        Err(ApiError::invalid_credentials())
    }
}

#[cfg(test)]
mod tests;
