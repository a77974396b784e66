//! The REST API's proxy events (payload format 1.0) on their way to a handler and back, without a panic.
//!
//! `lambda_http` 1.3 converts an event into an `http::Request` with `unwrap` and `expect` on what the client
//! sent: the request URL is parsed from the `X-Forwarded-Proto` and `Host` headers and the path (`::::` as the
//! scheme panics), the `http::Uri` of that URL with the query string must fit in 64 KiB, a base64 body must
//! decode, and a header map holds at most 24,576 names. Its own event type fails to deserialize on a header
//! that HTTP does not allow, which the runtime turns into a function error (502) without calling the handler.
//!
//! So the three HTTP functions take the event as plain JSON, which nothing a client sends can fail, and
//! [`serve`] refuses with a 400 what lambda_http could not convert: it reads the event with lambda_http's own
//! types, points `X-Forwarded-Proto` at `https` unless it says `http` or `https`, rebuilds the URL the way
//! lambda_http will but fallibly, and checks the base64. Only then does lambda_http convert the event, so the
//! handler sees the same `Request` (extensions, request context) as it did under `lambda_http::run`.

use std::convert::Infallible;
use std::fmt;

use base64::Engine as _;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::http::header::{HOST, HeaderName};
use lambda_http::http::{HeaderMap, HeaderValue, Uri};
use lambda_http::lambda_runtime::{self, Context, LambdaEvent, service_fn};
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Request, RequestExt as _, Response};
use serde_json::Value;
use url::Url;

use crate::error::{ApiError, ErrorCode};

/// The most header names and values an event may carry, over `headers` and `multiValueHeaders` together.
/// API Gateway accepts 10,240 bytes of request line and headers, so a real event cannot come close; past
/// 24,576 names `http::HeaderMap` panics.
pub const MAX_HEADER_FIELDS: usize = 10_240;

const X_FORWARDED_PROTO: &str = "x-forwarded-proto";
const X_AMZN_TRACE_ID: &str = "x-amzn-trace-id";

/// Why an event was refused before its handler. The reasons name the part at fault, never its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    TooManyHeaders,
    /// Not a REST proxy event: a header name or value HTTP does not allow, or a method that is none.
    Unreadable,
    /// The host, path and query make no URL (or one longer than `http::Uri` holds).
    Url,
    /// `isBase64Encoded` with a body that is not standard base64.
    Base64,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rejection::TooManyHeaders => "the request has too many headers",
            Rejection::Unreadable => "the request's method or headers cannot be read",
            Rejection::Url => "the request's host, path or query does not make a valid URL",
            Rejection::Base64 => "the request's body is not the base64 it claims to be",
        })
    }
}

impl Rejection {
    fn response(self) -> Response<Body> {
        ApiError::new(ErrorCode::InvalidRequest, self.to_string()).into_response()
    }
}

/// Serves REST proxy events with `handler` until the runtime stops: `lambda_http::run`, without its panics.
pub async fn run<F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<_, Infallible>(serve(event.payload, event.context, handler).await)
    }))
    .await
}

/// One event, as Lambda delivers it, through `handler`: the whole path [`run`] takes, for tests too.
pub async fn serve<F, Fut>(event: Value, context: Context, handler: F) -> ApiGatewayProxyResponse
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    let response = match request(event) {
        Ok(mut request) => {
            // As lambda_http's adapter does: the invocation's X-Ray trace id replaces the client's header.
            if let Some(trace) = context.xray_trace_id.as_deref().and_then(|t| HeaderValue::from_str(t).ok()) {
                request.headers_mut().insert(X_AMZN_TRACE_ID, trace);
            }
            handler(request.with_lambda_context(context)).await
        }
        Err(rejection) => {
            tracing::info!(reason = %rejection, "request refused before its handler");
            rejection.response()
        }
    };
    proxy_response(response)
}

/// The event as lambda_http's `Request`, or why it cannot be one.
pub fn request(event: Value) -> Result<Request, Rejection> {
    if header_fields(&event) > MAX_HEADER_FIELDS {
        return Err(Rejection::TooManyHeaders);
    }
    let mut event: ApiGatewayProxyRequest = serde_json::from_value(event).map_err(|_| Rejection::Unreadable)?;
    normalize_forwarded_proto(&mut event.headers);
    request_uri(&event)?;
    if event.is_base64_encoded
        && let Some(body) = &event.body
        && base64::engine::general_purpose::STANDARD.decode(body).is_err()
    {
        return Err(Rejection::Base64);
    }
    Ok(Request::from(LambdaRequest::ApiGatewayV1(event)))
}

/// How many header names and values the event carries, counted before anything is built from them.
fn header_fields(event: &Value) -> usize {
    let count = |field: &str| match event.get(field) {
        Some(Value::Object(map)) => map.values().map(|v| v.as_array().map_or(1, Vec::len).max(1)).sum(),
        _ => 0,
    };
    count("headers") + count("multiValueHeaders")
}

/// lambda_http takes the URL's scheme from the first `X-Forwarded-Proto` of `headers`, and panics when it
/// makes no URL. Anything but `http` or `https` becomes `https`, what API Gateway serves.
fn normalize_forwarded_proto(headers: &mut HeaderMap) {
    let name = HeaderName::from_static(X_FORWARDED_PROTO);
    let usable = headers
        .get(&name)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.eq_ignore_ascii_case("http") || v.eq_ignore_ascii_case("https"));
    if !usable {
        headers.insert(name, HeaderValue::from_static("https"));
    }
}

/// The request URI exactly as lambda_http 1.3's `build_request_uri` makes it (which `unwrap`s the URL parse
/// and `expect`s the `http::Uri`), but as a `Result`. The property tests in `proxy/tests.rs` run the real
/// conversion on whatever this accepts, so a lambda_http that builds its URI differently fails them.
fn request_uri(event: &ApiGatewayProxyRequest) -> Result<Uri, Rejection> {
    let path = path_with_stage(event.request_context.stage.as_deref(), event.path.as_deref().unwrap_or_default());
    let host = event.headers.get(HOST).and_then(|h| h.to_str().ok()).or(event.request_context.domain_name.as_deref());
    let mut uri = match host {
        None => Url::parse(&format!("http://localhost{path}")).map(|url| url.path().to_owned()),
        Some(host) => {
            let scheme = event.headers.get(X_FORWARDED_PROTO).and_then(|s| s.to_str().ok()).unwrap_or("https");
            Url::parse(&format!("{scheme}://{host}{path}")).map(String::from)
        }
    }
    .map_err(|_| Rejection::Url)?;
    let query = query_string(&event.multi_value_query_string_parameters, &event.query_string_parameters);
    if let Some(query) = query {
        uri.push('?');
        uri.push_str(&query);
    }
    Uri::try_from(uri).map_err(|_| Rejection::Url)
}

/// The multi-value parameters when there are any, else the single ones, as lambda_http prefers them.
fn query_string(multi: &QueryMap, single: &QueryMap) -> Option<String> {
    if !multi.is_empty() {
        Some(multi.to_query_string())
    } else if !single.is_empty() {
        Some(single.to_query_string())
    } else {
        None
    }
}

/// The path with the stage in front, as lambda_http puts it unless told not to.
fn path_with_stage(stage: Option<&str>, path: &str) -> String {
    if std::env::var("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_ok() {
        return path.to_owned();
    }
    match stage {
        None | Some("$default") => path.to_owned(),
        Some(stage) if path.starts_with(&format!("/{stage}/")) => path.to_owned(),
        Some(stage) => format!("/{stage}{path}"),
    }
}

/// The handler's response as API Gateway takes it, as lambda_http builds it: every header in
/// `multiValueHeaders` (API Gateway merges the two maps, so filling both would repeat each header), and a
/// binary body base64-encoded.
fn proxy_response(response: Response<Body>) -> ApiGatewayProxyResponse {
    let (parts, body) = response.into_parts();
    let mut out = ApiGatewayProxyResponse::default();
    out.status_code = i64::from(parts.status.as_u16());
    out.multi_value_headers = parts.headers;
    (out.is_base64_encoded, out.body) = match body {
        Body::Empty => (false, None),
        text @ Body::Text(_) => (false, Some(text)),
        binary @ Body::Binary(_) => (true, Some(binary)),
        _ => (false, None),
    };
    out
}

#[cfg(test)]
mod tests;
