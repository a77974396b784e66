//! `POST /signup/verify`: `{"email", "code", "password"}` turns a pending signup into an account.
//!
//! The code must be the newest one mailed to the address for verification, alive and unspent, and the
//! password the one the signup was made with (checked against the pending hash before the code is
//! spent): a mailbox owner who never signed up cannot be made to activate a password someone else
//! chose, by typing in a code they were mailed. Every refusal (wrong, expired, spent or unknown code,
//! another password, no pending signup, an account already there) is the same `400 invalid_code`, and
//! makes the same two calls (a read and a conditional try-spend of the codes table); a wrong guess
//! spends one of the code's [`crate::codes::TRIES`].

use std::sync::Arc;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::clock::{Clock, SystemClock};
use crate::codes::{self, CodeStore, Purpose, Redeemed};
use crate::error::{ApiError, failed, json_ok};
use crate::keys::{KeyCache, SecretSource};
use crate::password::policy::nfkc;
use crate::password::{Cipher, PasswordScheme, PhcString};
use crate::signup::Status;
use crate::store::{CreateOutcome, StoredUser, UserStore};
use crate::validate::{CodeRequest, Password, code_request_from_body};

/// What verify needs: the users table (create only), the key service (decrypt), the password scheme,
/// the code secret and the codes table.
#[derive(Debug)]
pub struct Deps<S, C, K, CS> {
    pub store: S,
    pub cipher: C,
    pub passwords: PasswordScheme,
    pub keys: KeyCache<K>,
    pub codes: CS,
    pub clock: Arc<dyn Clock>,
}

impl<S, C, K: SecretSource, CS> Deps<S, C, K, CS> {
    /// Production dependencies: OWASP Argon2id parameters (verifying what signup hashed), the code
    /// secret re-read every [`crate::keys::MAX_AGE_SECONDS`], and the system clock.
    pub fn new(store: S, cipher: C, secret: K, codes: CS) -> Deps<S, C, K, CS> {
        Deps {
            store,
            cipher,
            passwords: PasswordScheme::owasp(),
            keys: KeyCache::aged(secret),
            codes,
            clock: Arc::new(SystemClock),
        }
    }
}

/// Answers `200 {"status": "verified"}` (the account exists; sign in), one `400 invalid_code` for any
/// refusal, `4xx` for bad input, and `500` only if a dependency fails.
pub async fn handle<S: UserStore, C: Cipher, K: SecretSource, CS: CodeStore>(
    req: Request,
    deps: &Deps<S, C, K, CS>,
) -> Response<Body> {
    match verify(req.body(), deps).await {
        Ok(()) => json_ok(StatusCode::OK, &Status { status: "verified" }),
        Err(error) => error.into_response(),
    }
}

async fn verify<S: UserStore, C: Cipher, K: SecretSource, CS: CodeStore>(
    body: &Body,
    deps: &Deps<S, C, K, CS>,
) -> Result<(), ApiError> {
    let request = code_request_from_body(body).map_err(|error| {
        tracing::info!(reason = %error, "verify refused: invalid request");
        ApiError::from(error)
    })?;
    let now = deps.clock.now();
    let keys = deps.keys.get(now).await.map_err(failed("reading the code secret"))?;
    let at = (Purpose::Verify, request.email.as_str());
    let judged =
        codes::judge(&deps.codes, &keys, at, request.code.as_ref(), now).await.map_err(failed("reading the code"))?;
    let matches = match judged.payload() {
        Some(pending) => signed_up_with(pending, &request, deps).await?,
        None => false,
    };
    if !matches {
        judged.refuse(&deps.codes, at).await.map_err(failed("spending a try of the code"))?;
        tracing::info!(right_code = judged.accepted(), "verify refused");
        return Err(ApiError::invalid_code());
    }
    let Redeemed::Accepted(Some(encrypted_hash)) =
        judged.consume(&deps.codes, at, now).await.map_err(failed("spending the code"))?
    else {
        tracing::info!("verify refused: the code was spent by a concurrent request");
        return Err(ApiError::invalid_code());
    };
    let user = StoredUser { email: request.email, encrypted_hash, created_at: now, normalized: true };
    match deps.store.create(&user).await.map_err(failed("writing the user"))? {
        CreateOutcome::Created => {
            tracing::info!("account created: the address is verified");
            Ok(())
        }
        CreateOutcome::AlreadyExists => {
            // Only a pending signup that outlived an account made meanwhile gets here: the account keeps its
            // own password.
            tracing::warn!("verify refused: the address already has an account");
            Err(ApiError::invalid_code())
        }
    }
}

/// Whether `request.password` is the password the pending signup hashed (`pending`: the encrypted PHC
/// string, bound to the email).
async fn signed_up_with<S, C: Cipher, K, CS>(
    pending: &[u8],
    request: &CodeRequest,
    deps: &Deps<S, C, K, CS>,
) -> Result<bool, ApiError> {
    let plaintext =
        deps.cipher.decrypt(pending, &request.email).await.map_err(failed("decrypting the pending hash"))?;
    let phc = PhcString::from_bytes(plaintext).map_err(failed("reading the pending hash"))?;
    // Signup hashed the password as the policy normalized it.
    Ok(match Password::parse(nfkc(request.password.expose())) {
        Ok(password) => deps.passwords.verify(&password, &phc),
        Err(_) => false,
    })
}

#[cfg(test)]
mod tests;
