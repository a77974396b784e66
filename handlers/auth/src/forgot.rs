//! `POST /password/forgot`: `{"email"}`, always `202 {"status": "check_your_email"}`.
//!
//! An address with an account is mailed a reset code; one without is mailed "this address has no
//! account" (and a reset code is kept for it that nobody is sent, so both paths write alike). Both make
//! the same calls: a consistent `GetItem` of the users table, the code secret (cached), and the outbox's
//! ([`crate::outbox`]); over the address's mail limits both send nothing and answer the same.

use std::sync::Arc;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::clock::{Clock, SystemClock};
use crate::codes::quota::MailQuota;
use crate::codes::{Code, CodeStore, Purpose};
use crate::error::{ApiError, failed, json_ok};
use crate::keys::{KeyCache, SecretSource};
use crate::mail::{self, Mail, Mailer};
use crate::outbox::{Letter, Outbox, Sent};
use crate::signup::CHECK_YOUR_EMAIL;
use crate::store::UserStore;
use crate::validate::email_from_body;

/// What forgot needs: the users table (read only), the code secret, the outbox and a clock.
#[derive(Debug)]
pub struct Deps<S, K, CS, M> {
    pub store: S,
    pub keys: KeyCache<K>,
    pub outbox: Outbox<CS, M>,
    pub clock: Arc<dyn Clock>,
}

impl<S, K: SecretSource, CS, M> Deps<S, K, CS, M> {
    pub fn new(store: S, secret: K, outbox: Outbox<CS, M>) -> Deps<S, K, CS, M> {
        Deps { store, keys: KeyCache::aged(secret), outbox, clock: Arc::new(SystemClock) }
    }
}

/// The letter to an address without an account: its code is kept, never sent.
fn no_account(_: &Code) -> Mail {
    mail::no_account()
}

/// Answers `202 {"status": "check_your_email"}` for every address, `4xx` for bad input, and `500` only
/// if a dependency fails.
pub async fn handle<S: UserStore, K: SecretSource, CS: CodeStore + MailQuota, M: Mailer>(
    req: Request,
    deps: &Deps<S, K, CS, M>,
) -> Response<Body> {
    match forgot(req.body(), deps).await {
        Ok(()) => json_ok(StatusCode::ACCEPTED, &CHECK_YOUR_EMAIL),
        Err(error) => error.into_response(),
    }
}

async fn forgot<S: UserStore, K: SecretSource, CS: CodeStore + MailQuota, M: Mailer>(
    body: &Body,
    deps: &Deps<S, K, CS, M>,
) -> Result<(), ApiError> {
    let email = email_from_body(body).map_err(|error| {
        tracing::info!(reason = %error, "forgot refused: invalid request");
        ApiError::from(error)
    })?;
    let known = deps.store.get(&email).await.map_err(failed("reading the user"))?.is_some();
    let now = deps.clock.now();
    let keys = deps.keys.get(now).await.map_err(failed("reading the code secret"))?;
    let write = if known { mail::reset_password } else { no_account };
    let letter = Letter { purpose: Purpose::Reset, payload: None, write };
    let sent = deps.outbox.send(&keys, &email, letter, now).await.map_err(failed("mailing the reset code"))?;
    match (sent, known) {
        (Sent::OverLimit, _) => tracing::info!("forgot: the address has had its mails for now; none sent"),
        (Sent::Sent, true) => tracing::info!("forgot: reset code sent"),
        (Sent::Sent, false) => tracing::info!("forgot for an address without an account: told its owner"),
    }
    Ok(())
}
