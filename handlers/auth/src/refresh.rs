//! `POST /refresh`: a refresh token for a new access token and the next refresh token.
//!
//! The rules are [`crate::session::judge`]'s. Every refusal, whatever its reason (not ours, unknown,
//! expired, idle, revoked, signed out everywhere, spent), gets the same 401 body after the same calls:
//! the session read, its user's "signed out everywhere" time read, and one write (the session ended,
//! or a decoy's, which does not exist). Only the success path differs, and it answers 200.
//! A spent token presented outside the grace window ends the whole session and is logged as the
//! security event `refresh_token_reuse` (user ref and session id, never a token).

use std::sync::Arc;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::clock::{Clock, SystemClock};
use crate::error::{ApiError, json_ok};
use crate::keys::{KeyCache, SecretSource};
use crate::session::{
    Lifetimes, RefreshToken, Refusal, Session, SessionError, SessionId, SessionSettings, SessionStore, Verdict,
    token_hash,
};
use crate::token::{self, Claims, KeyRing, TokenSettings};
use crate::validate::{Email, refresh_token_from_body};

/// The user whose "signed out everywhere" time a decoy reads: no email can be this.
const DECOY_USER: &str = "-";

/// What refresh needs.
#[derive(Debug)]
pub struct Deps<S, K> {
    pub sessions: S,
    pub keys: KeyCache<K>,
    pub tokens: TokenSettings,
    pub settings: SessionSettings,
    pub clock: Arc<dyn Clock>,
}

impl<S, K: SecretSource> Deps<S, K> {
    /// Production dependencies: a key cache that re-reads the secret as signin's does, the system clock.
    pub fn new(sessions: S, secrets: K, tokens: TokenSettings, settings: SessionSettings) -> Deps<S, K> {
        Deps { sessions, keys: KeyCache::aged(secrets), tokens, settings, clock: Arc::new(SystemClock) }
    }
}

/// What signin and refresh answer: the access token (`token`, as signin always answered), the next
/// refresh token and the access token's lifetime in seconds.
#[derive(Debug, Serialize)]
pub struct Issued {
    pub token: String,
    pub refresh_token: String,
    pub expires_in: u64,
}

/// An access token of `session` next to `refresh_token`: it names the session (`sid`, which the
/// authorizer checks still stands) and has its own random id (`jti`); it is valid for the stage's lifetime,
/// but never past the session's absolute end, so that no access token outlives its session.
pub fn issue(
    session: &Session,
    refresh_token: String,
    keys: &KeyRing,
    tokens: &TokenSettings,
    lifetimes: &Lifetimes,
    now: u64,
) -> Result<Issued, ApiError> {
    let email = Email::parse(&session.user).map_err(|_| {
        tracing::error!("a session's user is not a valid email: the item was altered");
        ApiError::internal()
    })?;
    let lifetime = tokens.lifetime_seconds.min(session.absolute_end(lifetimes).saturating_sub(now)).max(1);
    let bounded = TokenSettings { lifetime_seconds: lifetime, ..tokens.clone() };
    let signed = token::random_jti()
        .and_then(|jti| token::issue(&Claims::new(&email, *session.id.as_bytes(), jti, &bounded, now), keys));
    let access = signed.map_err(|error| {
        tracing::error!(%error, "signing the token");
        ApiError::internal()
    })?;
    Ok(Issued { token: access, refresh_token, expires_in: lifetime })
}

fn unavailable(error: SessionError) -> ApiError {
    tracing::error!(%error, "using the sessions table");
    ApiError::internal()
}

/// Answers `200 {"token", "refresh_token", "expires_in"}`, one `401 invalid_refresh_token` for every
/// token that does not continue a session, `4xx` for a bad body, `500` if a dependency fails.
pub async fn handle<S: SessionStore, K: SecretSource>(req: Request, deps: &Deps<S, K>) -> Response<Body> {
    match refresh(req.body(), deps).await {
        Ok(issued) => json_ok(StatusCode::OK, &issued),
        Err(error) => error.into_response(),
    }
}

async fn refresh<S: SessionStore, K: SecretSource>(body: &Body, deps: &Deps<S, K>) -> Result<Issued, ApiError> {
    let presented = refresh_token_from_body(body).map_err(|error| {
        tracing::info!(reason = %error, "refresh refused: invalid request");
        ApiError::from(error)
    })?;
    let now = deps.clock.now();
    let keys = deps.keys.get(now).await.map_err(|error| {
        tracing::error!(%error, "reading the signing secret");
        ApiError::internal()
    })?;
    // Every refusal costs what any other does: the session read, its user's time read, one write.
    let decoy = || async {
        let decoy = SessionId::random().map_err(unavailable)?;
        deps.sessions.revoke(&decoy).await.map_err(unavailable)
    };
    let Some(token) = RefreshToken::parse(&presented) else {
        let unknown = SessionId::random().map_err(unavailable)?;
        deps.sessions.get(&unknown).await.map_err(unavailable)?;
        deps.sessions.valid_after(DECOY_USER).await.map_err(unavailable)?;
        decoy().await?;
        tracing::info!(reason = %Refusal::NotOurs, "refresh refused");
        return Err(ApiError::invalid_refresh_token());
    };
    let id = token.session;
    let mut session = deps.sessions.get(&id).await.map_err(unavailable)?;
    let user = session.as_ref().map_or(DECOY_USER, |s| s.user.as_str()).to_owned();
    let valid_after = deps.sessions.valid_after(&user).await.map_err(unavailable)?;
    if session.as_ref().is_some_and(|s| !token.authentic(&keys, &s.seed)) {
        // Not a token of this session (forged, or another stage's): the session is left alone, or anyone
        // who saw a session id in a log could end it.
        decoy().await?;
        tracing::info!(session = %id, reason = %Refusal::NotOurs, "refresh refused");
        return Err(ApiError::invalid_refresh_token());
    }
    // At most two rounds: a rotation loses only to a concurrent one, whose result the second read sees.
    for _ in 0..2 {
        match crate::session::judge(token.generation, session.as_ref(), valid_after, now, &deps.settings) {
            Verdict::Rotate { from } => {
                let current = session.clone().ok_or_else(ApiError::internal)?;
                let used = Session { last_used: now, ..current.clone() };
                let ends_at = used.ends_at(&deps.settings.lifetimes);
                let next = RefreshToken::mint(&keys, &id, from + 1, &current.seed);
                if deps.sessions.rotate(&id, from, &token_hash(&next), now, ends_at).await.map_err(unavailable)? {
                    tracing::info!(session = %id, generation = from + 1, "refreshed");
                    return issue(&current, next, &keys, &deps.tokens, &deps.settings.lifetimes, now);
                }
                // Another refresh with this token rotated first: judge what it left.
                session = deps.sessions.get(&id).await.map_err(unavailable)?;
            }
            Verdict::Replay { current } => {
                let s = session.as_ref().ok_or_else(ApiError::internal)?;
                tracing::info!(session = %id, generation = current, "refresh repeated within the grace window");
                let again = RefreshToken::mint(&keys, &id, current, &s.seed);
                return issue(s, again, &keys, &deps.tokens, &deps.settings.lifetimes, now);
            }
            Verdict::Reuse => {
                deps.sessions.revoke(&id).await.map_err(unavailable)?;
                tracing::warn!(
                    event = contract::events::REFRESH_TOKEN_REUSE,
                    user = %crate::session::user_ref(&user),
                    session = %id,
                    presented = token.generation,
                    current = session.as_ref().map_or(0, |s| s.generation),
                    "a spent refresh token came back: the session is ended"
                );
                return Err(ApiError::invalid_refresh_token());
            }
            Verdict::Refuse(reason) => {
                deps.sessions.revoke(&id).await.map_err(unavailable)?;
                tracing::info!(session = %id, reason = %reason, "refresh refused");
                return Err(ApiError::invalid_refresh_token());
            }
        }
    }
    tracing::error!(session = %id, "a rotation kept losing to concurrent ones");
    Err(ApiError::internal())
}

#[cfg(test)]
mod tests;
