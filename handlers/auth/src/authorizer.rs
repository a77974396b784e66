//! The REST API's REQUEST authorizer: verifies the bearer token and answers an IAM policy.
//!
//! On success the policy allows every method of the stage (`.../STAGE/*/*`), not just the method
//! called: API Gateway caches the policy per token for the authorizer's TTL and applies it to every
//! route, so a policy naming one method would deny the next route from cache.
//!
//! A token that is wrong (missing, malformed, expired, badly signed, too long-lived) gets an explicit
//! Deny: API Gateway answers 403 and caches the Deny for the token. When the token cannot be checked
//! because a dependency failed (Secrets Manager unreachable or throttling), the invocation fails
//! instead: API Gateway answers 500 and caches nothing, so the user's next request is checked afresh
//! rather than denied for the cache's TTL.
//!
//! A verified token is also refused when the session it names (`sid`) no longer stands (signed out,
//! ended by reuse detection, expired, or not the token's user's) or its user signed out everywhere at or
//! after the time it was issued (`iat`): the authorizer reads both from the sessions table, side by
//! side, and keeps each for [`RevocationCache`]'s max age, so an ended session's tokens stop working
//! within API Gateway's cache of the Allow plus that max age: the stage's authorizer cache TTL, which
//! synth splits between the two.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};

use contract::{AUTHORIZATION_HEADER, claims};
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayCustomAuthorizerResponse,
};
use lambda_http::aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use lambda_http::http::HeaderMap;
use serde_json::{Map, Value};

use crate::clock::{Clock, SystemClock};
use crate::keys::{KeyCache, SecretSource};
use crate::session::{Ended, SessionError, SessionId, SessionStore, Standing};
use crate::token::{self, Claims, TokenError, TokenSettings};

/// The principal of a Deny policy: there is no authenticated user to name.
pub const ANONYMOUS_PRINCIPAL: &str = "anonymous";
const POLICY_VERSION: &str = "2012-10-17";
const INVOKE_ACTION: &str = "execute-api:Invoke";

/// How long a warm authorizer verifies with the secret it read before reading it again.
pub const KEY_MAX_AGE_SECONDS: u64 = crate::keys::MAX_AGE_SECONDS;

/// What the authorizer needs.
#[derive(Debug)]
pub struct Deps<K, S> {
    pub keys: KeyCache<K>,
    pub tokens: TokenSettings,
    pub sessions: S,
    pub revocations: RevocationCache,
    pub clock: Arc<dyn Clock>,
}

impl<K: SecretSource, S> Deps<K, S> {
    /// Production dependencies: a key cache that refreshes for unknown key ids and after
    /// [`KEY_MAX_AGE_SECONDS`], users' "signed out everywhere" times kept `revocation_max_age` seconds,
    /// and the system clock.
    pub fn new(secrets: K, tokens: TokenSettings, sessions: S, revocation_max_age: u64) -> Deps<K, S> {
        Deps {
            keys: KeyCache::new(secrets).with_max_age(KEY_MAX_AGE_SECONDS),
            tokens,
            sessions,
            revocations: RevocationCache::new(revocation_max_age),
            clock: Arc::new(SystemClock),
        }
    }
}

/// What the authorizer last read of users' "signed out everywhere" times and of sessions, each reused
/// for at most `max_age` seconds (0: read every time), and at most [`RevocationCache::MAX_USERS`] of each.
#[derive(Debug, Default)]
pub struct RevocationCache {
    max_age: u64,
    users: Mutex<HashMap<String, (Option<u64>, u64)>>,
    sessions: Mutex<HashMap<SessionId, (Option<Standing>, u64)>>,
}

/// A value read at a time, from `cache` if read less than `max_age` ago and still `usable` then, else by
/// `read`.
async fn cached<Key, Value, Read>(
    cache: &Mutex<HashMap<Key, (Value, u64)>>,
    key: Key,
    (now, max_age): (u64, u64),
    usable: impl Fn(&Value) -> bool,
    read: Read,
) -> Result<Value, SessionError>
where
    Key: Eq + std::hash::Hash,
    Value: Clone,
    Read: Future<Output = Result<Value, SessionError>>,
{
    let lock = || cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((value, read_at)) = lock().get(&key)
        && now < read_at.saturating_add(max_age)
        && usable(value)
    {
        return Ok(value.clone());
    }
    let value = read.await?;
    if max_age > 0 {
        let mut entries = lock();
        if entries.len() >= RevocationCache::MAX_USERS {
            entries.clear();
        }
        entries.insert(key, (value.clone(), now));
    }
    Ok(value)
}

impl RevocationCache {
    /// A warm authorizer keeps at most this many users (and sessions); past it, it starts over.
    pub const MAX_USERS: usize = 10_000;

    pub fn new(max_age: u64) -> RevocationCache {
        RevocationCache { max_age, ..RevocationCache::default() }
    }

    /// When `user` last signed out everywhere, from the cache if read less than `max_age` ago.
    pub async fn valid_after<S: SessionStore>(
        &self,
        user: &str,
        now: u64,
        sessions: &S,
    ) -> Result<Option<u64>, SessionError> {
        cached(&self.users, user.to_owned(), (now, self.max_age), |_| true, sessions.valid_after(user)).await
    }

    /// Whether session `id` stands, from the cache if read less than `max_age` ago. A session the cache
    /// has as expired by now is read again: a refresh since may have moved its end.
    pub async fn standing<S: SessionStore>(
        &self,
        id: &SessionId,
        now: u64,
        sessions: &S,
    ) -> Result<Option<Standing>, SessionError> {
        let unexpired = |standing: &Option<Standing>| standing.as_ref().is_none_or(|s| now < s.expires_at);
        cached(&self.sessions, *id, (now, self.max_age), unexpired, sessions.standing(id)).await
    }
}

/// Why a request was denied; logged, never returned to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    MissingHeader,
    RepeatedHeader,
    UnreadableHeader,
    UnsupportedScheme,
    MalformedMethodArn,
    KeysUnavailable,
    SessionsUnavailable,
    SignedOutEverywhere,
    SessionEnded(Ended),
    Token(TokenError),
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Denial::MissingHeader => f.write_str("no Authorization header or an empty one"),
            Denial::RepeatedHeader => f.write_str("more than one Authorization header"),
            Denial::UnreadableHeader => f.write_str("the Authorization header is not visible ASCII"),
            Denial::UnsupportedScheme => f.write_str("the Authorization scheme is not Bearer"),
            Denial::MalformedMethodArn => f.write_str("the methodArn is missing or malformed"),
            Denial::KeysUnavailable => f.write_str("the signing secret could not be read"),
            Denial::SessionsUnavailable => f.write_str("the sessions table could not be read"),
            Denial::SignedOutEverywhere => f.write_str("the user signed out everywhere after the token was issued"),
            Denial::SessionEnded(ended) => ended.fmt(f),
            Denial::Token(error) => error.fmt(f),
        }
    }
}

/// The token could not be checked because a dependency failed; the invocation fails with this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the token could not be checked: the signing secret or the sessions table could not be read")]
pub struct Unavailable;

/// How the runtime reports the failed invocation to Lambda (and so to API Gateway).
impl From<Unavailable> for lambda_http::lambda_runtime::Diagnostic {
    fn from(error: Unavailable) -> Self {
        lambda_http::lambda_runtime::Diagnostic {
            error_type: String::from("DependencyUnavailable"),
            error_message: error.to_string(),
        }
    }
}

/// Decides one request: Allow or Deny for the token, or [`Unavailable`] when a dependency failed.
pub async fn handle<K: SecretSource, S: SessionStore>(
    event: ApiGatewayCustomAuthorizerRequestTypeRequest,
    deps: &Deps<K, S>,
) -> Result<ApiGatewayCustomAuthorizerResponse, Unavailable> {
    let Some(resource) = event.method_arn.as_deref().and_then(stage_resource) else {
        tracing::info!(reason = %Denial::MalformedMethodArn, "denied");
        return Ok(deny(String::from("*")));
    };
    match authorize(request_headers(&event), deps).await {
        Ok(verified) => {
            tracing::info!("allowed");
            Ok(allow(verified, resource))
        }
        Err(denial @ (Denial::KeysUnavailable | Denial::SessionsUnavailable)) => {
            tracing::error!(reason = %denial, "failing the invocation: the token cannot be checked");
            Err(Unavailable)
        }
        Err(denial) => {
            tracing::info!(reason = %denial, "denied");
            Ok(deny(resource))
        }
    }
}

/// Every value of the request's headers: a REQUEST authorizer's event carries them in
/// `multiValueHeaders` (API Gateway and `cargo xtask local` both send it); `headers` keeps one value per
/// name, the last, so two `Authorization` headers would pass unseen there.
pub fn request_headers(event: &ApiGatewayCustomAuthorizerRequestTypeRequest) -> &HeaderMap {
    if event.multi_value_headers.is_empty() { &event.headers } else { &event.multi_value_headers }
}

/// Verifies the request's token, refreshing the key ring once if the token names an unknown key, then
/// refuses it if its session no longer stands (signed out, ended by reuse detection, expired) or its user
/// signed out everywhere at or after it was issued. The session and the user are read side by side.
pub async fn authorize<K: SecretSource, S: SessionStore>(
    headers: &HeaderMap,
    deps: &Deps<K, S>,
) -> Result<Claims, Denial> {
    let claims = verify_token(headers, deps).await?;
    let now = deps.clock.now();
    let session = SessionId::of(&claims).ok_or(Denial::Token(TokenError::InvalidClaims))?;
    let (after, standing) = tokio::join!(
        deps.revocations.valid_after(&claims.sub, now, &deps.sessions),
        deps.revocations.standing(&session, now, &deps.sessions),
    );
    let unavailable = |error: SessionError| {
        tracing::error!(%error, "reading the token's session and when its user last signed out everywhere");
        Denial::SessionsUnavailable
    };
    let (after, standing) = (after.map_err(unavailable)?, standing.map_err(unavailable)?);
    if after.is_some_and(|at| claims.iat <= at) {
        return Err(Denial::SignedOutEverywhere);
    }
    crate::session::standing(standing.as_ref(), &claims.sub, now).map_err(Denial::SessionEnded)?;
    Ok(claims)
}

async fn verify_token<K: SecretSource, S>(headers: &HeaderMap, deps: &Deps<K, S>) -> Result<Claims, Denial> {
    let token = bearer_token(headers)?;
    let now = deps.clock.now();
    let keys = deps.keys.get(now).await.map_err(|error| {
        tracing::error!(%error, "reading the signing secret");
        Denial::KeysUnavailable
    })?;
    match token::verify(token, &keys, &deps.tokens, now) {
        Err(TokenError::UnknownKid) => match deps.keys.refresh_for_unknown_kid(now).await {
            Ok(Some(fresh)) => token::verify(token, &fresh, &deps.tokens, now).map_err(Denial::Token),
            Ok(None) => Err(Denial::Token(TokenError::UnknownKid)),
            Err(error) => {
                tracing::error!(%error, "refreshing the signing secret for an unknown key id");
                Err(Denial::KeysUnavailable)
            }
        },
        verified => verified.map_err(Denial::Token),
    }
}

/// The token from `Authorization: Bearer <jwt>` or a bare `Authorization: <jwt>` (what the original
/// service's curl calls send). Header names are matched case-insensitively.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, Denial> {
    let mut values = headers.get_all(AUTHORIZATION_HEADER).iter();
    let value = values.next().ok_or(Denial::MissingHeader)?;
    if values.next().is_some() {
        return Err(Denial::RepeatedHeader);
    }
    let value = value.to_str().map_err(|_| Denial::UnreadableHeader)?.trim();
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => return Err(Denial::UnsupportedScheme),
        None => value,
    };
    if token.is_empty() {
        return Err(Denial::MissingHeader);
    }
    Ok(token)
}

/// From `arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH`, the resource that covers every
/// method and path of the stage: `arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/*/*`.
pub fn stage_resource(method_arn: &str) -> Option<String> {
    let (api, rest) = method_arn.split_once('/')?;
    let stage = rest.split('/').next()?;
    let parts: Vec<&str> = api.split(':').collect();
    let well_formed = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "execute-api"
        && parts.iter().all(|part| !part.is_empty())
        && !stage.is_empty()
        && stage.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    well_formed.then(|| format!("{api}/{stage}/*/*"))
}

fn policy(effect: IamPolicyEffect, resource: String) -> ApiGatewayCustomAuthorizerPolicy {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec![INVOKE_ACTION.to_owned()];
    statement.effect = effect;
    statement.resource = vec![resource];
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some(POLICY_VERSION.to_owned());
    policy.statement = vec![statement];
    policy
}

/// Allow on the whole stage, principal `sub`, context `{"email": ...}` for the route handlers.
pub fn allow(verified: Claims, resource: String) -> ApiGatewayCustomAuthorizerResponse {
    let mut response = ApiGatewayCustomAuthorizerResponse::default();
    response.principal_id = Some(verified.sub);
    response.policy_document = policy(IamPolicyEffect::Allow, resource);
    response.context = Value::Object(Map::from_iter([(claims::EMAIL.to_owned(), Value::String(verified.email))]));
    response
}

/// An explicit Deny with an empty context.
pub fn deny(resource: String) -> ApiGatewayCustomAuthorizerResponse {
    let mut response = ApiGatewayCustomAuthorizerResponse::default();
    response.principal_id = Some(ANONYMOUS_PRINCIPAL.to_owned());
    response.policy_document = policy(IamPolicyEffect::Deny, resource);
    response.context = Value::Object(Map::new());
    response
}

#[cfg(test)]
mod tests;
