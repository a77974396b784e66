//! `POST /password/reset`: `{"email", "code", "password"}` sets a new password with a code mailed by
//! `POST /password/forgot` (or by a signup with an address that has an account).
//!
//! - The new password meets the same policy as signup's; a weak one is refused before the code is
//!   looked at, for any address.
//! - Every refusal of the code (wrong, expired, spent, unknown, no account) is one `400 invalid_code`
//!   and makes the same two calls; a wrong guess spends one of the code's tries.
//! - A reset ends every session of the user and every access token issued until now, as signing out
//!   everywhere does, *before* the new password is written (if the write fails, the sessions are still
//!   ended: fail closed) and again after it (a sign-in with the old password that slipped in between
//!   ends too). It is logged as the security event `password_reset` (user ref, never an
//!   email).
//! - It clears the lockout of the address that completed it, as a right password would: the owner an
//!   attacker locked out by guessing is the very person who resets, and after the reset the old
//!   guesses are worth nothing. The email's day count, which holds the other addresses that tried it,
//!   stays: a reset proves the mailbox, not that those addresses were the owner's.

use std::sync::Arc;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::clock::{Clock, SystemClock};
use crate::codes::{self, CodeStore, Purpose, Redeemed};
use crate::error::{ApiError, failed, json_ok};
use crate::keys::{KeyCache, SecretSource};
use crate::lockout::{self, AttemptStore};
use crate::password::{Cipher, PasswordScheme};
use crate::session::{SessionStore, user_ref};
use crate::signup::{Passwords, Status};
use crate::store::{StoredUser, UserStore};
use crate::validate::code_request_from_body;

/// What reset needs.
#[derive(Debug)]
pub struct Deps<S, C, K, CS, SS, A> {
    pub store: S,
    pub cipher: C,
    pub passwords: PasswordScheme,
    /// What the new password must be, as at signup.
    pub rules: Passwords,
    pub keys: KeyCache<K>,
    pub codes: CS,
    pub sessions: SS,
    /// How long the user's "signed out everywhere" time is kept ([`crate::session::keep_signed_out_seconds`]).
    pub keep_signed_out_seconds: u64,
    pub attempts: A,
    pub clock: Arc<dyn Clock>,
}

/// The tables reset writes besides the users table.
#[derive(Debug)]
pub struct Tables<CS, SS, A> {
    pub codes: CS,
    pub sessions: SS,
    pub attempts: A,
}

impl<S, C, K: SecretSource, CS, SS, A> Deps<S, C, K, CS, SS, A> {
    /// Production dependencies: OWASP Argon2id parameters, the code secret re-read every
    /// [`crate::keys::MAX_AGE_SECONDS`], and the system clock.
    pub fn new(
        (store, cipher, secret): (S, C, K),
        passwords: Passwords,
        tables: Tables<CS, SS, A>,
        keep_signed_out_seconds: u64,
    ) -> Deps<S, C, K, CS, SS, A> {
        Deps {
            store,
            cipher,
            passwords: PasswordScheme::owasp(),
            rules: passwords,
            keys: KeyCache::aged(secret),
            codes: tables.codes,
            sessions: tables.sessions,
            keep_signed_out_seconds,
            attempts: tables.attempts,
            clock: Arc::new(SystemClock),
        }
    }
}

/// Answers `200 {"status": "password_reset"}` (every session ended; sign in with the new password), one
/// `400 invalid_code` for any refused code, `400 weak_password`, `4xx` for bad input, and `500` only if
/// a dependency fails.
pub async fn handle<S: UserStore, C: Cipher, K: SecretSource, CS: CodeStore, SS: SessionStore, A: AttemptStore>(
    req: Request,
    deps: &Deps<S, C, K, CS, SS, A>,
) -> Response<Body> {
    let source = crate::request::source_ip(&req).unwrap_or("unknown").to_owned();
    match reset(req.body(), &source, deps).await {
        Ok(()) => json_ok(StatusCode::OK, &Status { status: "password_reset" }),
        Err(error) => error.into_response(),
    }
}

async fn reset<S: UserStore, C: Cipher, K: SecretSource, CS: CodeStore, SS: SessionStore, A: AttemptStore>(
    body: &Body,
    source: &str,
    deps: &Deps<S, C, K, CS, SS, A>,
) -> Result<(), ApiError> {
    let request = code_request_from_body(body).map_err(|error| {
        tracing::info!(reason = %error, "reset refused: invalid request");
        ApiError::from(error)
    })?;
    let email = &request.email;
    let password = deps.rules.check(&request.password, email, "reset")?;
    let now = deps.clock.now();
    let keys = deps.keys.get(now).await.map_err(failed("reading the code secret"))?;
    let at = (Purpose::Reset, email.as_str());
    let judged =
        codes::judge(&deps.codes, &keys, at, request.code.as_ref(), now).await.map_err(failed("reading the code"))?;
    if !judged.accepted() {
        judged.refuse(&deps.codes, at).await.map_err(failed("spending a try of the code"))?;
        tracing::info!("reset refused: not the code mailed");
        return Err(ApiError::invalid_code());
    }
    if judged.consume(&deps.codes, at, now).await.map_err(failed("spending the code"))? == Redeemed::Refused {
        tracing::info!("reset refused: the code was spent by a concurrent request");
        return Err(ApiError::invalid_code());
    }
    let phc = deps.passwords.hash(&password).map_err(failed("hashing the password"))?;
    let encrypted_hash =
        deps.cipher.encrypt(phc.as_bytes(), email).await.map_err(failed("encrypting the password hash"))?;
    // Sessions first: if what follows fails, the user is signed out and keeps the old password, never the
    // reverse.
    let keep_until = now.saturating_add(deps.keep_signed_out_seconds);
    deps.sessions.end_all(email.as_str(), now, keep_until).await.map_err(failed("ending the user's sessions"))?;
    let user = StoredUser { email: email.clone(), encrypted_hash, created_at: now, normalized: true };
    if !deps.store.set_password(&user).await.map_err(failed("writing the new password"))? {
        // The code of an address without an account is kept but never mailed: nobody should hold it.
        tracing::warn!("reset refused: the address has no account");
        return Err(ApiError::invalid_code());
    }
    // And again once the new password is written: a sign-in with the old one that began after the first
    // end, while the new hash was being made, holds a session begun later than it.
    let written = deps.clock.now();
    let keep_until = written.saturating_add(deps.keep_signed_out_seconds);
    deps.sessions.end_all(email.as_str(), written, keep_until).await.map_err(failed("ending the user's sessions"))?;
    tracing::warn!(event = contract::events::PASSWORD_RESET, user = %user_ref(email.as_str()), "the password was reset; every session and access token of the user ends");
    if let Err(error) = lockout::cleared(&deps.attempts, email, source).await {
        // The new password works regardless; the counts left behind only expire later.
        tracing::warn!(%error, "clearing the address's sign-in lockout after a reset");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
