//! `POST /signin`: check the password against the stored hash and answer a signed token.
//!
//! An unknown email and a wrong password get the same 401 body, and both pay one KMS `Decrypt` round
//! trip and one Argon2id verification (for an unknown email, KMS is asked to decrypt a decoy it
//! refuses, and the password is verified against a dummy hash), so neither the answer nor its time
//! tells who has an account; nor does a KMS outage, which fails both paths alike.
//!
//! Repeated attempts are throttled per email and source address, per day, and per email across
//! addresses ([`crate::lockout`]): each attempt is counted first, and one a count refuses, known email
//! or not, gets `429 too_many_attempts` before any password work. A success resets only the counts of
//! the address it came from.

use std::sync::Arc;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::clock::{Clock, SystemClock};
use crate::error::{ApiError, ErrorCode, json_ok};
use crate::keys::{KeyCache, SecretSource};
use crate::lockout::{self, AttemptStore, Protection};
use crate::password::policy::nfkc;
use crate::password::{Cipher, CipherError, PasswordScheme, PhcString};
use crate::refresh::Issued;
use crate::session::{Lifetimes, Session, SessionId, SessionStore};
use crate::store::UserStore;
use crate::token::TokenSettings;
use crate::validate::{Credentials, Password, credentials_from_body};

/// How long a warm signin may sign with the secret it read before reading it again, so that it never
/// signs with a version that rotations have retired.
pub const KEY_MAX_AGE_SECONDS: u64 = crate::keys::MAX_AGE_SECONDS;

/// What signin needs.
#[derive(Debug)]
pub struct Deps<S, C, K, A, SS> {
    pub store: S,
    pub cipher: C,
    pub passwords: PasswordScheme,
    pub keys: KeyCache<K>,
    pub tokens: TokenSettings,
    pub attempts: A,
    pub protection: Protection,
    pub sessions: SS,
    pub lifetimes: Lifetimes,
    pub clock: Arc<dyn Clock>,
}

/// What a signin is configured with besides its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub protection: Protection,
    pub lifetimes: Lifetimes,
}

impl<S, C, K: SecretSource, A, SS> Deps<S, C, K, A, SS> {
    /// Production dependencies: OWASP Argon2id parameters, the system clock, and a key cache that
    /// re-reads the secret every [`KEY_MAX_AGE_SECONDS`].
    pub fn new(
        (store, cipher, secrets): (S, C, K),
        tokens: TokenSettings,
        attempts: A,
        sessions: SS,
        settings: Settings,
    ) -> Deps<S, C, K, A, SS> {
        Deps {
            store,
            cipher,
            passwords: PasswordScheme::owasp(),
            keys: KeyCache::new(secrets).with_max_age(KEY_MAX_AGE_SECONDS),
            tokens,
            attempts,
            protection: settings.protection,
            sessions,
            lifetimes: settings.lifetimes,
            clock: Arc::new(SystemClock),
        }
    }
}

/// Answers `200 {"token", "refresh_token", "expires_in"}` (a new session), one `401` for any wrong
/// email/password pair, `429` for a locked-out email, `4xx` for bad input, and `500` only if a
/// dependency fails.
pub async fn handle<S: UserStore, C: Cipher, K: SecretSource, A: AttemptStore, SS: SessionStore>(
    req: Request,
    deps: &Deps<S, C, K, A, SS>,
) -> Response<Body> {
    let source = crate::request::source_ip(&req).unwrap_or("unknown").to_owned();
    match signin(req.body(), &source, deps).await {
        Ok(issued) => json_ok(StatusCode::OK, &issued),
        Err(error) => error.into_response(),
    }
}

async fn signin<S: UserStore, C: Cipher, K: SecretSource, A: AttemptStore, SS: SessionStore>(
    body: &Body,
    source: &str,
    deps: &Deps<S, C, K, A, SS>,
) -> Result<Issued, ApiError> {
    let credentials = credentials_from_body(body).map_err(|error| {
        tracing::info!(reason = %error, "signin refused: invalid request");
        ApiError::from(error)
    })?;
    let now = deps.clock.now();
    // Fail closed: without the count, a guesser could not be stopped.
    let email = &credentials.email;
    let admitted = lockout::admit(&deps.attempts, &deps.protection, email, source, now).await.map_err(|error| {
        tracing::error!(%error, "counting the sign-in attempt");
        ApiError::internal()
    })?;
    let admitted = match admitted {
        Ok(admitted) => admitted,
        Err(seconds) => {
            tracing::info!(reason = "locked out", "signin refused");
            return Err(ApiError::too_many_attempts(seconds));
        }
    };
    if let Err(error) = check_password(&credentials, deps).await {
        if error.code() == ErrorCode::InvalidCredentials {
            let locked = lockout::failed(&deps.attempts, &deps.protection, email, source, &admitted, now).await;
            if locked.map_err(|error| {
                tracing::error!(%error, "locking after repeated failed sign-ins");
                ApiError::internal()
            })? {
                tracing::warn!(
                    event = contract::events::SIGNIN_LOCKOUT,
                    user = %crate::session::user_ref(email.as_str()),
                    %source,
                    "sign-ins from an address are locked out after repeated failures"
                );
            }
        }
        return Err(error);
    }
    if let Err(error) = lockout::succeeded(&deps.attempts, email, source, &admitted).await {
        // The password was right; the counts left behind only expire later.
        tracing::warn!(%error, "resetting the sign-in attempts after a success");
    }

    let keys = deps.keys.get(now).await.map_err(|error| {
        tracing::error!(%error, "reading the signing secret");
        ApiError::internal()
    })?;
    // A new session: its first refresh token is generation 1.
    let session_error = |error: crate::session::SessionError| {
        tracing::error!(%error, "beginning the session");
        ApiError::internal()
    };
    let id = SessionId::random().map_err(session_error)?;
    let seed = crate::session::random_seed().map_err(session_error)?;
    let (session, refresh_token) = Session::begin(id, credentials.email.as_str(), now, seed, &keys);
    deps.sessions.create(&session, session.ends_at(&deps.lifetimes)).await.map_err(session_error)?;
    tracing::info!(session = %session.id, "signed in");
    crate::refresh::issue(&session, refresh_token, &keys, &deps.tokens, &deps.lifetimes, now)
}

async fn check_password<S: UserStore, C: Cipher, K, A, SS>(
    credentials: &Credentials,
    deps: &Deps<S, C, K, A, SS>,
) -> Result<(), ApiError> {
    let user = deps.store.get(&credentials.email).await.map_err(|error| {
        tracing::error!(%error, "reading the user");
        ApiError::internal()
    })?;
    let Some(user) = user else {
        if let Err(error) = deps.cipher.decoy(&credentials.email).await {
            tracing::error!(%error, "decrypting the password hash");
            return Err(ApiError::internal());
        }
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
    // A password set under the policy was normalized before hashing; one set before was not.
    let normalized;
    let password = if user.normalized {
        match Password::parse(nfkc(credentials.password.expose())) {
            Ok(password) => {
                normalized = password;
                &normalized
            }
            Err(_) => {
                // Normalizing moved its length out of bounds, so it cannot be the password; still pay a
                // verification, as for an unknown email, so that the time tells nothing.
                deps.passwords.verify_dummy(&credentials.password);
                tracing::info!(reason = "wrong password", "signin refused");
                return Err(ApiError::invalid_credentials());
            }
        }
    } else {
        &credentials.password
    };
    if deps.passwords.verify(password, &phc) {
        Ok(())
    } else {
        tracing::info!(reason = "wrong password", "signin refused");
        Err(ApiError::invalid_credentials())
    }
}

#[cfg(test)]
mod tests;
