//! `POST /signup`: validate, hash with Argon2id, encrypt bound to the email, write only if new.

use std::sync::Arc;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::clock::{Clock, SystemClock};
use crate::error::ErrorCode;
use crate::error::{ApiError, json_ok};
use crate::password::policy::{Blocklist, PasswordPolicy};
use crate::password::{Cipher, PasswordScheme};
use crate::store::{CreateOutcome, StoredUser, UserStore};
use crate::validate::{Email, credentials_from_body};

/// What signup needs: the table, the key service, the password scheme and a clock.
#[derive(Debug)]
pub struct Deps<S, C> {
    pub store: S,
    pub cipher: C,
    pub passwords: PasswordScheme,
    /// What a new password must be, and must not be.
    pub policy: PasswordPolicy,
    pub blocklist: Blocklist,
    pub clock: Arc<dyn Clock>,
}

impl<S, C> Deps<S, C> {
    /// Production dependencies: OWASP Argon2id parameters and the system clock.
    pub fn new(store: S, cipher: C, policy: PasswordPolicy, blocklist: Blocklist) -> Deps<S, C> {
        Deps { store, cipher, passwords: PasswordScheme::owasp(), policy, blocklist, clock: Arc::new(SystemClock) }
    }
}

/// The 201 body: the account's email as stored, after normalization.
#[derive(Debug, Serialize)]
struct Created<'a> {
    email: &'a str,
}

/// Answers `201 {"email": ...}`, `409` if the email has an account, `4xx` for bad input, and `500`
/// only if a dependency fails.
pub async fn handle<S: UserStore, C: Cipher>(req: Request, deps: &Deps<S, C>) -> Response<Body> {
    match signup(req.body(), deps).await {
        Ok(email) => {
            tracing::info!("account created");
            json_ok(StatusCode::CREATED, &Created { email: email.as_str() })
        }
        Err(error) => error.into_response(),
    }
}

async fn signup<S: UserStore, C: Cipher>(body: &Body, deps: &Deps<S, C>) -> Result<Email, ApiError> {
    let credentials = credentials_from_body(body).map_err(|error| {
        tracing::info!(reason = %error, "signup refused: invalid request");
        ApiError::from(error)
    })?;
    let password = deps.policy.check(&credentials.password, &credentials.email, &deps.blocklist).map_err(|weak| {
        tracing::info!(reason = %weak, "signup refused: weak password");
        ApiError::new(ErrorCode::WeakPassword, weak.to_string())
    })?;
    let phc = deps.passwords.hash(&password).map_err(|error| {
        tracing::error!(%error, "hashing the password");
        ApiError::internal()
    })?;
    let encrypted_hash = deps.cipher.encrypt(phc.as_bytes(), &credentials.email).await.map_err(|error| {
        tracing::error!(%error, "encrypting the password hash");
        ApiError::internal()
    })?;
    let user = StoredUser { email: credentials.email, encrypted_hash, created_at: deps.clock.now(), normalized: true };
    match deps.store.create(&user).await {
        Ok(CreateOutcome::Created) => Ok(user.email),
        Ok(CreateOutcome::AlreadyExists) => {
            tracing::info!("signup refused: email already registered");
            Err(ApiError::email_taken())
        }
        Err(error) => {
            tracing::error!(%error, "writing the user");
            Err(ApiError::internal())
        }
    }
}

#[cfg(test)]
mod tests;
