//! API Gateway's REST conversions, as pure functions: an HTTP request into a proxy event (v1) or a
//! REQUEST authorizer event, a proxy response back into HTTP, an authorizer's policy into a decision,
//! and API Gateway's own error answers (its gateway responses, customized by the template or not).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value, json};
use synth::review::wildcard;

use super::template::{GatewayResponse, Route};

/// An HTTP request as the gateway received it, stage prefix already removed from `path`.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path without the stage prefix, `/orders/42`, whether the client asked for `/orders/42` or
    /// `/dev/orders/42`; percent-encoding kept, as API Gateway passes it.
    pub path: String,
    /// Query parameters in order, decoded.
    pub query: Vec<(String, String)>,
    /// Headers in order, names as received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub source_ip: String,
    pub host: String,
    pub request_id: String,
    /// Milliseconds since the Unix epoch when the request arrived.
    pub epoch_ms: u64,
}

impl Request {
    /// The last value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().rev().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The last value of a query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// Where the gateway pretends to be: what `requestContext` and `methodArn` say about the API.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub region: String,
    pub account: String,
    pub api_id: String,
    pub stage: String,
}

impl Deployment {
    /// `arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH`, the `methodArn` of an authorizer event
    /// and what its policy is evaluated against: the path is the request's (`/orders/42`), not the
    /// resource's template (`/orders/{id}`).
    pub fn method_arn(&self, req: &Request) -> String {
        format!(
            "arn:aws:execute-api:{}:{}:{}/{}/{}{}",
            self.region, self.account, self.api_id, self.stage, req.method, req.path
        )
    }
}

/// `{"k": "last value"}` and `{"k": ["v1", "v2"]}`, or nulls when empty, as API Gateway sends them.
fn single_and_multi(pairs: &[(String, String)]) -> (Value, Value) {
    if pairs.is_empty() {
        return (Value::Null, Value::Null);
    }
    let mut single = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in pairs {
        single.insert(name.clone(), Value::String(value.clone()));
        match multi.get_mut(name) {
            Some(Value::Array(values)) => values.push(Value::String(value.clone())),
            _ => {
                multi.insert(name.clone(), json!([value]));
            }
        }
    }
    (Value::Object(single), Value::Object(multi))
}

fn request_context(req: &Request, route: &Route, at: &Deployment) -> Value {
    json!({
        "resourceId": route.resource,
        "resourcePath": route.path,
        "httpMethod": route.method,
        "extendedRequestId": req.request_id,
        "requestTime": request_time(req.epoch_ms),
        "path": format!("/{}{}", at.stage, req.path),
        "accountId": at.account,
        "protocol": "HTTP/1.1",
        "stage": at.stage,
        "domainPrefix": at.api_id,
        "requestTimeEpoch": req.epoch_ms,
        "requestId": req.request_id,
        "identity": {
            "cognitoIdentityPoolId": null, "accountId": null, "cognitoIdentityId": null, "caller": null,
            "sourceIp": req.source_ip, "principalOrgId": null, "accessKey": null,
            "cognitoAuthenticationType": null, "cognitoAuthenticationProvider": null, "userArn": null,
            "userAgent": req.header("user-agent"), "user": null
        },
        "domainName": req.host,
        "deploymentId": "local",
        "apiId": at.api_id,
    })
}

/// `pathParameters`: the request path's segments at the `{name}` positions of the route's resource path,
/// or `None` when it has none (or the path does not match it).
fn path_parameters(req: &Request, route: &Route) -> Option<Map<String, Value>> {
    let values = super::routing::path_parameters(&route.path, &req.path)?;
    (!values.is_empty()).then(|| values.into_iter().map(|(name, value)| (name, Value::String(value))).collect())
}

/// The body as API Gateway passes it without binary media types: text, or null when empty.
fn body_text(body: &[u8]) -> Value {
    if body.is_empty() { Value::Null } else { Value::String(String::from_utf8_lossy(body).into_owned()) }
}

/// The REST proxy event (payload format 1.0): `resource` is the route's resource path (`/orders/{id}`),
/// `path` the request's. `authorizer` is the authorizer's context with `principalId`, for routes behind
/// one.
pub fn proxy_event(req: &Request, route: &Route, at: &Deployment, authorizer: Option<&Map<String, Value>>) -> Value {
    let (headers, multi_headers) = single_and_multi(&req.headers);
    let (query, multi_query) = single_and_multi(&req.query);
    let mut context = request_context(req, route, at);
    if let (Some(auth), Value::Object(ctx)) = (authorizer, &mut context) {
        ctx.insert("authorizer".into(), Value::Object(auth.clone()));
    }
    json!({
        "resource": route.path,
        "path": req.path,
        "httpMethod": route.method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": path_parameters(req, route),
        "stageVariables": null,
        "requestContext": context,
        "body": body_text(&req.body),
        "isBase64Encoded": false,
    })
}

/// The REQUEST authorizer event for a call to `route`.
pub fn authorizer_event(req: &Request, route: &Route, at: &Deployment) -> Value {
    let (headers, multi_headers) = single_and_multi(&req.headers);
    let (query, multi_query) = single_and_multi(&req.query);
    json!({
        "type": "REQUEST",
        "methodArn": at.method_arn(req),
        "resource": route.path,
        "path": req.path,
        "httpMethod": route.method,
        "headers": if headers.is_null() { json!({}) } else { headers },
        "multiValueHeaders": if multi_headers.is_null() { json!({}) } else { multi_headers },
        "queryStringParameters": if query.is_null() { json!({}) } else { query },
        "multiValueQueryStringParameters": if multi_query.is_null() { json!({}) } else { multi_query },
        "pathParameters": path_parameters(req, route).unwrap_or_default(),
        "stageVariables": {},
        "requestContext": request_context(req, route, at),
    })
}

/// An HTTP answer, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A function's proxy response as HTTP; `Err` with the reason when API Gateway would call it
/// malformed (and answer 502).
pub fn proxy_response(payload: &[u8]) -> Result<Answer, String> {
    let value: Value = serde_json::from_slice(payload).map_err(|e| format!("the response is not JSON: {e}"))?;
    let object = value.as_object().ok_or("the response is not a JSON object")?;
    let status = match object.get("statusCode") {
        Some(v) => {
            v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).ok_or("statusCode is not a number")?
        }
        None => 200,
    };
    let status =
        u16::try_from(status).ok().filter(|s| (100..600).contains(s)).ok_or("statusCode is not an HTTP status")?;
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(map) = object.get("headers").filter(|h| !h.is_null()) {
        for (name, value) in map.as_object().ok_or("headers is not an object")? {
            headers.push((name.clone(), scalar(value).ok_or_else(|| format!("header {name} is not a string"))?));
        }
    }
    if let Some(map) = object.get("multiValueHeaders").filter(|h| !h.is_null()) {
        for (name, values) in map.as_object().ok_or("multiValueHeaders is not an object")? {
            // A name in both maps: API Gateway keeps the multi-value list.
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            for value in values.as_array().ok_or_else(|| format!("multiValueHeaders.{name} is not a list"))? {
                headers.push((
                    name.clone(),
                    scalar(value).ok_or_else(|| format!("a value of header {name} is not a string"))?,
                ));
            }
        }
    }
    let body = match object.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) if object.get("isBase64Encoded") == Some(&Value::Bool(true)) => {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| format!("body is not valid base64: {e}"))?
        }
        Some(Value::String(text)) => text.clone().into_bytes(),
        Some(_) => return Err("body is not a string".into()),
    };
    Ok(Answer { status, headers, body })
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// What an authorizer's answer means for one method.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// `requestContext.authorizer`: the context plus `principalId`.
    Allow(Map<String, Value>),
    /// A statement denies the method explicitly.
    ExplicitDeny,
    /// No statement allows it.
    NotAllowed,
}

/// Evaluates an authorizer's policy for `method_arn` as API Gateway does: an explicit Deny wins, then
/// an Allow; `Err` when the answer is not a valid authorizer response (API Gateway answers 500).
pub fn decide(response: &Value, method_arn: &str) -> Result<Decision, String> {
    let principal =
        response.get("principalId").and_then(Value::as_str).ok_or("the answer has no principalId string")?;
    let statements = response
        .get("policyDocument")
        .and_then(|p| p.get("Statement"))
        .ok_or("the answer has no policyDocument.Statement")?;
    let statements: Vec<&Value> = match statements {
        Value::Array(list) => list.iter().collect(),
        single @ Value::Object(_) => vec![single],
        _ => return Err("policyDocument.Statement is neither a statement nor a list".into()),
    };
    let mut allowed = false;
    for statement in statements {
        let effect = statement.get("Effect").and_then(Value::as_str).ok_or("a statement has no Effect")?;
        let applies = strings(statement.get("Action")).iter().any(|a| wildcard(a, "execute-api:Invoke"))
            && strings(statement.get("Resource")).iter().any(|r| wildcard(r, method_arn));
        match (effect, applies) {
            (_, false) => {}
            ("Deny", true) => return Ok(Decision::ExplicitDeny),
            ("Allow", true) => allowed = true,
            (other, true) => return Err(format!("a statement has Effect {other}")),
        }
    }
    if !allowed {
        return Ok(Decision::NotAllowed);
    }
    let mut context = Map::new();
    match response.get("context") {
        None | Some(Value::Null) => {}
        Some(Value::Object(values)) => {
            for (key, value) in values {
                if value.is_object() || value.is_array() {
                    return Err(format!("context value {key} is not a string, number or boolean"));
                }
                context.insert(key.clone(), value.clone());
            }
        }
        Some(_) => return Err("context is not an object".into()),
    }
    context.insert("principalId".into(), Value::String(principal.to_owned()));
    Ok(Decision::Allow(context))
}

fn strings(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The errors API Gateway answers itself, each with its gateway response type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayError {
    /// The identity source is missing: the authorizer is not called.
    Unauthorized,
    ExplicitDeny,
    NotAllowed,
    /// The authorizer failed, timed out or answered something that is not a policy.
    AuthorizerFailure,
    /// No such resource or method.
    MissingAuthenticationToken,
    /// The function failed or answered a malformed response.
    IntegrationFailure,
    IntegrationTimeout,
}

impl GatewayError {
    /// (response type, default status, message, `x-amzn-ErrorType`).
    fn facts(self) -> (&'static str, u16, Option<&'static str>, &'static str) {
        match self {
            GatewayError::Unauthorized => ("UNAUTHORIZED", 401, Some("Unauthorized"), "UnauthorizedException"),
            GatewayError::ExplicitDeny => (
                "ACCESS_DENIED",
                403,
                Some("User is not authorized to access this resource with an explicit deny"),
                "AccessDeniedException",
            ),
            GatewayError::NotAllowed => {
                ("ACCESS_DENIED", 403, Some("User is not authorized to access this resource"), "AccessDeniedException")
            }
            GatewayError::AuthorizerFailure => ("AUTHORIZER_FAILURE", 500, None, "AuthorizerConfigurationException"),
            GatewayError::MissingAuthenticationToken => (
                "MISSING_AUTHENTICATION_TOKEN",
                403,
                Some("Missing Authentication Token"),
                "MissingAuthenticationTokenException",
            ),
            GatewayError::IntegrationFailure => {
                ("DEFAULT_5XX", 502, Some("Internal server error"), "InternalServerErrorException")
            }
            GatewayError::IntegrationTimeout => {
                ("INTEGRATION_TIMEOUT", 504, Some("Endpoint request timed out"), "InternalServerErrorException")
            }
        }
    }

    /// The answer, shaped by the template's gateway response of this type (or `DEFAULT_4XX` /
    /// `DEFAULT_5XX`) when it has one, else API Gateway's built-in body.
    pub fn answer(self, responses: &BTreeMap<String, GatewayResponse>, request_id: &str) -> Answer {
        let (kind, default_status, message, error_type) = self.facts();
        let family = if default_status >= 500 { "DEFAULT_5XX" } else { "DEFAULT_4XX" };
        let custom = responses.get(kind).or_else(|| responses.get(family));
        let quoted = message.map_or_else(|| "null".to_owned(), |m| Value::String(m.to_owned()).to_string());
        let body = match custom.and_then(|c| c.template.as_deref()) {
            Some(template) => template
                .replace("$context.error.messageString", &quoted)
                .replace("$context.error.message", message.unwrap_or(""))
                .replace("$context.requestId", request_id),
            // API Gateway's explicit-deny body really does capitalize "Message".
            None if matches!(self, GatewayError::ExplicitDeny | GatewayError::NotAllowed) => {
                format!("{{\"Message\":{quoted}}}")
            }
            None => format!("{{\"message\":{quoted}}}"),
        };
        let mut headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-amzn-RequestId".to_owned(), request_id.to_owned()),
            ("x-amzn-ErrorType".to_owned(), error_type.to_owned()),
        ];
        headers.extend(custom.map(|c| c.headers.clone()).unwrap_or_default());
        Answer { status: custom.and_then(|c| c.status).unwrap_or(default_status), headers, body: body.into_bytes() }
    }
}

/// `25/Nov/2024:10:15:42 +0000`, API Gateway's `requestTime`.
pub fn request_time(epoch_ms: u64) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let secs = epoch_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days, for days since 1970-01-01 (never negative here).
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    let month = MONTHS[usize::try_from(month - 1).unwrap_or(0)];
    format!("{day:02}/{month}/{year}:{:02}:{:02}:{:02} +0000", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests;
