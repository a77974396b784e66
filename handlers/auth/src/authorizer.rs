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
//! A verified token is also refused when its user signed out everywhere at or after the time it was
//! issued (`iat`): the authorizer reads that time from the sessions table and keeps it for
//! [`RevocationCache`]'s max age, so a signed-out token stops working within the stage's authorizer
//! cache TTL (API Gateway's cached Allow) plus that max age.

use std::collections::HashMap;
use std::fmt;
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
use crate::session::{SessionError, SessionStore};
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

/// Users' "signed out everywhere" times as the authorizer last read them, each reused for at most
/// `max_age` seconds (0: read every time), and at most [`RevocationCache::MAX_USERS`] of them.
#[derive(Debug, Default)]
pub struct RevocationCache {
    max_age: u64,
    entries: Mutex<HashMap<String, (Option<u64>, u64)>>,
}

impl RevocationCache {
    /// A warm authorizer keeps at most this many users; past it, it starts over.
    pub const MAX_USERS: usize = 10_000;

    pub fn new(max_age: u64) -> RevocationCache {
        RevocationCache { max_age, entries: Mutex::new(HashMap::new()) }
    }

    /// When `user` last signed out everywhere, from the cache if read less than `max_age` ago.
    pub async fn valid_after<S: SessionStore>(
        &self,
        user: &str,
        now: u64,
        sessions: &S,
    ) -> Result<Option<u64>, SessionError> {
        let lock = || self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((after, read_at)) = lock().get(user).copied()
            && now < read_at.saturating_add(self.max_age)
        {
            return Ok(after);
        }
        let after = sessions.valid_after(user).await?;
        if self.max_age > 0 {
            let mut entries = lock();
            if entries.len() >= RevocationCache::MAX_USERS {
                entries.clear();
            }
            entries.insert(user.to_owned(), (after, now));
        }
        Ok(after)
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
/// refuses it if its user signed out everywhere at or after it was issued.
pub async fn authorize<K: SecretSource, S: SessionStore>(
    headers: &HeaderMap,
    deps: &Deps<K, S>,
) -> Result<Claims, Denial> {
    let claims = verify_token(headers, deps).await?;
    let now = deps.clock.now();
    let after = deps.revocations.valid_after(&claims.sub, now, &deps.sessions).await.map_err(|error| {
        tracing::error!(%error, "reading when the user last signed out everywhere");
        Denial::SessionsUnavailable
    })?;
    if after.is_some_and(|at| claims.iat <= at) {
        return Err(Denial::SignedOutEverywhere);
    }
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
