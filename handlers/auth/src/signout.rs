//! `POST /signout`, behind the authorizer: `{"refresh_token": ...}` ends that session (the caller's
//! own, and the token its current or previous one: anything else gets the same 401), and
//! `{"everywhere": true}` ends every session of the caller and every access token issued to them until
//! now. The authorizer refuses those tokens once it reads the new time: within the stage's authorizer
//! cache TTL plus its own cache of that time ([`crate::authorizer::RevocationCache`]).
//!
//! Signing out everywhere is logged as the security event `signout_everywhere` (user ref, never an
//! email or a token).

use std::sync::Arc;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::clock::{Clock, SystemClock};
use crate::error::{ApiError, json_ok};
use crate::session::{RefreshToken, SessionError, SessionStore, user_ref};
use crate::validate::{Signout, signout_from_body};

/// What signout needs.
#[derive(Debug)]
pub struct Deps<S> {
    pub sessions: S,
    /// How long a user's "signed out everywhere" time is kept ([`crate::session::keep_signed_out_seconds`]).
    pub keep_signed_out_seconds: u64,
    pub clock: Arc<dyn Clock>,
}

impl<S> Deps<S> {
    pub fn new(sessions: S, keep_signed_out_seconds: u64) -> Deps<S> {
        Deps { sessions, keep_signed_out_seconds, clock: Arc::new(SystemClock) }
    }
}

#[derive(Serialize)]
struct SignedOut {
    signed_out: &'static str,
}

fn unavailable(error: SessionError) -> ApiError {
    tracing::error!(%error, "using the sessions table");
    ApiError::internal()
}

/// Answers `200 {"signed_out": "session" | "everywhere"}`, `401` for a refresh token that is not one
/// of the caller's sessions (or no authorizer context), `4xx` for a bad body, `500` if a dependency fails.
pub async fn handle<S: SessionStore>(req: Request, deps: &Deps<S>) -> Response<Body> {
    let Some(caller) = crate::request::caller_email(&req) else {
        tracing::warn!("signout reached without an authorizer context");
        return ApiError::unauthorized().into_response();
    };
    match signout(req.body(), caller, deps).await {
        Ok(what) => json_ok(StatusCode::OK, &SignedOut { signed_out: what }),
        Err(error) => error.into_response(),
    }
}

async fn signout<S: SessionStore>(body: &Body, caller: &str, deps: &Deps<S>) -> Result<&'static str, ApiError> {
    let request = signout_from_body(body).map_err(|error| {
        tracing::info!(reason = %error, "signout refused: invalid request");
        ApiError::from(error)
    })?;
    let now = deps.clock.now();
    match request {
        Signout::Everywhere => {
            let keep_until = now.saturating_add(deps.keep_signed_out_seconds);
            deps.sessions.end_all(caller, now, keep_until).await.map_err(unavailable)?;
            tracing::warn!(
                event = contract::events::SIGNOUT_EVERYWHERE,
                user = %user_ref(caller),
                "every session and access token of the user ends"
            );
            Ok("everywhere")
        }
        Signout::Session(presented) => {
            // No key needed: the table holds the hash of the session's current (and previous) token.
            let Some(token) = RefreshToken::parse(&presented) else {
                tracing::info!("signout refused: not a refresh token of this service");
                return Err(ApiError::invalid_refresh_token());
            };
            let session = deps.sessions.get(&token.session).await.map_err(unavailable)?;
            if session.is_none_or(|s| s.user != caller || !s.holds(&presented)) {
                tracing::info!(session = %token.session, "signout refused: not a token of the caller's sessions");
                return Err(ApiError::invalid_refresh_token());
            }
            deps.sessions.revoke(&token.session).await.map_err(unavailable)?;
            tracing::info!(event = "signout", session = %token.session, "session ended");
            Ok("session")
        }
    }
}

#[cfg(test)]
mod tests;
