//! `POST /signup`: always `202 {"status": "check_your_email"}`, and one mail to the address.
//!
//! - A new address is mailed a verification code, kept with the password's hash (Argon2id, encrypted
//!   under KMS bound to the email) as a *pending* signup in the codes table. No account exists until
//!   `POST /signup/verify` ([`crate::verify`]) brings the code and the same password: signin finds no
//!   row, and refuses exactly as for an unknown email.
//! - An address that has an account is mailed "someone tried to sign up with your address", with a
//!   reset code ([`crate::mail::already_registered`]).
//! - Both paths do the same work: the policy check, one Argon2id hash, one KMS `Encrypt`, one consistent
//!   `GetItem` of the users table, the outbox's calls ([`crate::outbox`]), and a decoy code of the other
//!   purpose, never sent, so that the codes table holds the same for the address either way. The answer is the same,
//!   byte for byte, headers included. Over the address's mail limits, both paths send nothing and
//!   answer the same.
//! - A signup for an address whose signup is pending replaces it: the newest code and password win,
//!   and the earlier code stops working. Whoever signed up first (a squatter typing someone else's
//!   address) holds nothing: the pending signup becomes an account only with the code, which only the
//!   mailbox's owner reads, and with the password it was made with, which the owner does not know if
//!   someone else chose it: the owner signs up again (the newest wins) and verifies their own.
//! - A weak password is refused before anything else, for any address: it says nothing about accounts.

use std::sync::Arc;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::clock::{Clock, SystemClock};
use crate::codes::quota::MailQuota;
use crate::codes::{CodeStore, Purpose};
use crate::error::{ApiError, ErrorCode, failed, json_ok};
use crate::keys::{KeyCache, SecretSource};
use crate::mail::{self, Mailer};
use crate::outbox::{Letter, Outbox, Sent};
use crate::password::policy::{Blocklist, PasswordPolicy};
use crate::password::{Cipher, PasswordScheme};
use crate::store::UserStore;
use crate::validate::{Email, Password, credentials_from_body};

/// What signup needs: the users table (read only), the key service, the password scheme and policy,
/// the code secret, the outbox and a clock.
#[derive(Debug)]
pub struct Deps<S, C, K, CS, M> {
    pub store: S,
    pub cipher: C,
    pub passwords: PasswordScheme,
    /// What a new password must be, and must not be.
    pub rules: Passwords,
    /// The key that tags codes ([`crate::codes`]).
    pub keys: KeyCache<K>,
    pub outbox: Outbox<CS, M>,
    pub clock: Arc<dyn Clock>,
}

/// What a new password must be, and must not be (signup, reset).
#[derive(Debug)]
pub struct Passwords {
    pub policy: PasswordPolicy,
    pub blocklist: Blocklist,
}

impl Passwords {
    /// `password` as the policy normalizes it, or `400 weak_password` saying why not (logged for `route`).
    pub fn check(&self, password: &Password, email: &Email, route: &'static str) -> Result<Password, ApiError> {
        self.policy.check(password, email, &self.blocklist).map_err(|weak| {
            tracing::info!(reason = %weak, "{route} refused: weak password");
            ApiError::new(ErrorCode::WeakPassword, weak.to_string())
        })
    }
}

impl<S, C, K: SecretSource, CS, M> Deps<S, C, K, CS, M> {
    /// Production dependencies: OWASP Argon2id parameters, the code secret re-read every
    /// [`crate::keys::MAX_AGE_SECONDS`], and the system clock.
    pub fn new(
        (store, cipher): (S, C),
        passwords: Passwords,
        secret: K,
        outbox: Outbox<CS, M>,
    ) -> Deps<S, C, K, CS, M> {
        Deps {
            store,
            cipher,
            passwords: PasswordScheme::owasp(),
            rules: passwords,
            keys: KeyCache::aged(secret),
            outbox,
            clock: Arc::new(SystemClock),
        }
    }
}

/// Every answer that is not an error: the same for every address.
#[derive(Debug, Serialize)]
pub struct Status {
    pub status: &'static str,
}

/// What signup, and forgot, answer whatever the address.
pub const CHECK_YOUR_EMAIL: Status = Status { status: "check_your_email" };

/// Answers `202 {"status": "check_your_email"}`, `4xx` for bad input or a weak password, and `500` only
/// if a dependency fails.
pub async fn handle<S: UserStore, C: Cipher, K: SecretSource, CS: CodeStore + MailQuota, M: Mailer>(
    req: Request,
    deps: &Deps<S, C, K, CS, M>,
) -> Response<Body> {
    match signup(req.body(), deps).await {
        Ok(()) => json_ok(StatusCode::ACCEPTED, &CHECK_YOUR_EMAIL),
        Err(error) => error.into_response(),
    }
}

async fn signup<S: UserStore, C: Cipher, K: SecretSource, CS: CodeStore + MailQuota, M: Mailer>(
    body: &Body,
    deps: &Deps<S, C, K, CS, M>,
) -> Result<(), ApiError> {
    let credentials = credentials_from_body(body).map_err(|error| {
        tracing::info!(reason = %error, "signup refused: invalid request");
        ApiError::from(error)
    })?;
    let password = deps.rules.check(&credentials.password, &credentials.email, "signup")?;
    // The hash and its encryption come first, on both paths: an address with an account pays them too.
    let phc = deps.passwords.hash(&password).map_err(failed("hashing the password"))?;
    let encrypted_hash = deps
        .cipher
        .encrypt(phc.as_bytes(), &credentials.email)
        .await
        .map_err(failed("encrypting the password hash"))?;
    let known = deps.store.get(&credentials.email).await.map_err(failed("reading the user"))?.is_some();
    let now = deps.clock.now();
    let keys = deps.keys.get(now).await.map_err(failed("reading the code secret"))?;
    // Each path keeps a code of both purposes, one of them never sent: what the codes table holds for the
    // address afterwards, and so how a wrong guess at either route fares in it, is the same.
    let (letter, decoy) = if known {
        (Letter { purpose: Purpose::Reset, payload: None, write: mail::already_registered }, Purpose::Verify)
    } else {
        (
            Letter { purpose: Purpose::Verify, payload: Some(&encrypted_hash), write: mail::verify_address },
            Purpose::Reset,
        )
    };
    let email = &credentials.email;
    let sent = deps.outbox.send(&keys, email, letter, now).await.map_err(failed("mailing the signup's code"))?;
    if sent == Sent::Sent {
        deps.outbox.keep_decoy(&keys, email, decoy, now).await.map_err(failed("keeping the signup's decoy code"))?;
    }
    match (sent, known) {
        (Sent::OverLimit, _) => tracing::info!("signup: the address has had its mails for now; none sent"),
        (Sent::Sent, true) => tracing::info!("signup for an address with an account: told its owner"),
        (Sent::Sent, false) => tracing::info!("signup pending: verification code sent"),
    }
    Ok(())
}

#[cfg(test)]
mod tests;
