//! The HTTP front end: API Gateway's REST behaviour on 127.0.0.1, driven by the api template.
//!
//! Each request is first counted against the rate-based rules of the stage's web ACL by its TCP peer
//! address (never a header, which the client writes), and answered as WAF would when over a limit.
//! Then it is matched against the template's routes (at `/<path>` and at `/<stage>/<path>`, path
//! parameters included, as routing.rs describes), put through the REQUEST authorizer when its method
//! has one (identity source check, result cache per identity value for the TTL, policy evaluation),
//! turned into a proxy event for its function, and the function's proxy response turned back into HTTP.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use contract::Function;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::cache::AuthorizerCache;
use super::event::{self, Answer, Decision, Deployment, GatewayError};
use super::routing;
use super::runtime::{self, Failure, RuntimeApi};
use super::template::{Api, Authorizer, IdentitySource, Route};
use super::waf::{Limiter, Verdict};

/// API Gateway's payload limit for REST APIs.
const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// API Gateway's limit on a REST request's line and header values together.
pub const MAX_HEADER_BYTES: usize = 10_240;

/// What one client can hold of the local API: the server's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; more wait in the kernel's backlog until one closes.
    pub max_connections: usize,
    /// How long a connection may take to send a request's headers (also bounds an idle keep-alive).
    pub header_timeout: Duration,
    /// How long a request may take to send its body once its headers are in.
    pub body_timeout: Duration,
    /// Authorizer answers kept at once.
    pub authorizer_cache_entries: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 256,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            authorizer_cache_entries: 1_000,
        }
    }
}

/// Everything a request needs: the API, where it pretends to be deployed, and the functions.
#[derive(Debug)]
pub struct Gateway {
    api: Api,
    at: Deployment,
    functions: BTreeMap<Function, RuntimeApi>,
    /// Authorizer answers by (authorizer, identity source values), each until its TTL, bounded.
    cache: Mutex<AuthorizerCache>,
    limits: Limits,
    /// The web ACL's per source IP counts, when it has one and its limits apply.
    limiter: Option<Mutex<Limiter>>,
    log_requests: bool,
    /// Collects the mail a function sent before its answer goes back (see [`super::mailbox`]).
    mailbox: Option<super::mailbox::Mailbox>,
}

impl Gateway {
    /// `rate_limits`: apply the rate-based rules of the stage's web ACL, if the template has one.
    pub fn new(
        api: Api,
        at: Deployment,
        functions: BTreeMap<Function, RuntimeApi>,
        log_requests: bool,
        rate_limits: bool,
        limits: Limits,
    ) -> Gateway {
        let limiter = api.web_acl.as_ref().filter(|_| rate_limits).map(|acl| Mutex::new(Limiter::new(acl)));
        let cache = Mutex::new(AuthorizerCache::new(limits.authorizer_cache_entries));
        Gateway { api, at, functions, cache, limits, limiter, log_requests, mailbox: None }
    }

    /// Shows the mail each function granted the stage's mail identity sends, before its answer returns.
    pub fn with_mailbox(self, mailbox: super::mailbox::Mailbox) -> Gateway {
        Gateway { mailbox: Some(mailbox), ..self }
    }

    /// The mail file, when mail is collected.
    pub fn mail_file(&self) -> Option<&std::path::Path> {
        self.mailbox.as_ref().map(super::mailbox::Mailbox::file)
    }

    async fn collect_mail(&self, function: &Function, trace: &mut Trace) {
        let Some(mailbox) = &self.mailbox else { return };
        if !function.grants().iter().any(|g| g.on == contract::Target::MailIdentity) {
            return;
        }
        if let Err(error) = mailbox.collect().await {
            trace.problem = Some(format!("collecting the mail {function} sent: {error:#}"));
        }
    }

    /// How many authorizer answers are cached now.
    pub fn cached_answers(&self) -> usize {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    pub fn api(&self) -> &Api {
        &self.api
    }

    /// Whether the web ACL's rate limits are applied.
    pub fn rate_limits(&self) -> bool {
        self.limiter.is_some()
    }

    /// WAF's answer when `remote` is over a limit for this path, else `None`.
    fn screen(&self, remote: SocketAddr, path: &str, trace: &mut Trace) -> Option<Answer> {
        let limiter = self.limiter.as_ref()?;
        let verdict = limiter.lock().unwrap_or_else(PoisonError::into_inner).check(remote.ip(), path, Instant::now());
        match verdict {
            Verdict::Allow => None,
            Verdict::Block { rule, response } => {
                trace.steps.push(format!("web ACL rule {rule}"));
                Some(Answer {
                    status: response.status,
                    headers: vec![("content-type".into(), response.content_type)],
                    body: response.body,
                })
            }
        }
    }
}

/// Serves `listener` until the returned task is aborted; aborting it also closes every connection. At
/// most [`Limits::max_connections`] are served at once, each must send its headers within
/// [`Limits::header_timeout`], and its read buffer is bounded.
pub fn serve(listener: TcpListener, gateway: Arc<Gateway>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        let permits = Arc::new(tokio::sync::Semaphore::new(gateway.limits.max_connections.max(1)));
        loop {
            // A connection is accepted only with a permit: past the cap, clients wait in the backlog.
            let Ok(permit) = permits.clone().acquire_owned().await else { return };
            let Ok((stream, remote)) = listener.accept().await else { continue };
            // Reap finished connections so the set does not grow without bound.
            while connections.try_join_next().is_some() {}
            let gateway = gateway.clone();
            connections.spawn(async move {
                let _permit = permit;
                let header_timeout = gateway.limits.header_timeout;
                let service = hyper::service::service_fn(move |req| {
                    let gateway = gateway.clone();
                    async move { Ok::<_, Infallible>(gateway.handle(req, remote).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(header_timeout)
                    .max_buf_size(64 * 1024)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

/// What ran for one request, for the request log.
#[derive(Default)]
struct Trace {
    steps: Vec<String>,
    problem: Option<String>,
}

impl Gateway {
    async fn handle(&self, req: Request<Incoming>, remote: SocketAddr) -> Response<Full<Bytes>> {
        let started = Instant::now();
        let method = req.method().as_str().to_owned();
        let shown_path =
            req.uri().path_and_query().map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
        let request_id = super::request_id();
        let mut trace = Trace::default();
        // WAF sees the request before API Gateway: a blocked one is neither read nor routed.
        let blocked = self.screen(remote, req.uri().path(), &mut trace);
        let answer = match blocked {
            Some(answer) => answer,
            None => match self.read(req, remote, &request_id).await {
                Ok(request) => self.route(request, &mut trace).await,
                Err((status, problem)) => {
                    let message = match status {
                        408 => "Request Timeout",
                        413 => "Request Too Long",
                        431 => "Request Header Fields Too Large",
                        _ => "Bad request",
                    };
                    trace.problem = Some(problem);
                    Answer {
                        status,
                        headers: vec![("content-type".into(), "application/json".into())],
                        body: serde_json::json!({ "message": message }).to_string().into_bytes(),
                    }
                }
            },
        };
        if self.log_requests {
            let ran = if trace.steps.is_empty() { "-".to_owned() } else { trace.steps.join(" > ") };
            let problem = trace.problem.map(|p| format!("  ({p})")).unwrap_or_default();
            println!(
                "{method:<6} {shown_path:<24} {} {:>8.1} ms  {ran}{problem}",
                answer.status,
                started.elapsed().as_secs_f64() * 1000.0
            );
        }
        let mut response = Response::new(Full::new(Bytes::from(answer.body)));
        *response.status_mut() = hyper::StatusCode::from_u16(answer.status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
        let headers = response.headers_mut();
        for (name, value) in answer.headers {
            if let (Ok(name), Ok(value)) =
                (hyper::header::HeaderName::from_bytes(name.as_bytes()), hyper::header::HeaderValue::from_str(&value))
            {
                headers.append(name, value);
            }
        }
        if !headers.contains_key("x-amzn-requestid")
            && let Ok(value) = hyper::header::HeaderValue::from_str(&request_id)
        {
            headers.insert("x-amzn-requestid", value);
        }
        response
    }

    /// The request as the event builders see it; the stage prefix is dropped from the path. Refused
    /// with its status: headers over API Gateway's limit (431), a body over its limit (413), a body not
    /// sent in time (408).
    async fn read(
        &self,
        req: Request<Incoming>,
        remote: SocketAddr,
        request_id: &str,
    ) -> Result<event::Request, (u16, String)> {
        let (parts, body) = req.into_parts();
        let header_bytes: usize = parts.uri.to_string().len()
            + parts.headers.iter().map(|(n, v)| n.as_str().len() + v.as_bytes().len()).sum::<usize>();
        if header_bytes > MAX_HEADER_BYTES {
            return Err((
                431,
                format!("{header_bytes} bytes of request line and headers; API Gateway takes {MAX_HEADER_BYTES}"),
            ));
        }
        let collected = tokio::time::timeout(self.limits.body_timeout, Limited::new(body, MAX_BODY_BYTES).collect())
            .await
            .map_err(|_| (408, format!("the body did not arrive within {:?}", self.limits.body_timeout)))?;
        let body = collected
            .map_err(|e| {
                // Over API Gateway's 10 MiB payload limit: 413, as API Gateway answers (REQUEST_TOO_LARGE).
                if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                    (413, format!("a body over {MAX_BODY_BYTES} bytes; API Gateway takes at most that"))
                } else {
                    (400, format!("reading the body: {e}"))
                }
            })?
            .to_bytes();
        let path = routing::request_path(&self.api.routes, &self.api.stage, parts.uri.path());
        let query =
            parts.uri.query().map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let host = parts.headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1").to_owned();
        let epoch_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        Ok(event::Request {
            method: parts.method.as_str().to_owned(),
            path,
            query,
            headers,
            body: body.to_vec(),
            source_ip: remote.ip().to_string(),
            host,
            request_id: request_id.to_owned(),
            epoch_ms: u64::try_from(epoch_ms).unwrap_or(u64::MAX),
        })
    }

    async fn route(&self, req: event::Request, trace: &mut Trace) -> Answer {
        let fail = |error: GatewayError| error.answer(&self.api.responses, &req.request_id);
        // API Gateway answers an unknown path or method with 403 "Missing Authentication Token".
        let Some(route) = routing::find(&self.api.routes, &req.method, &req.path) else {
            return fail(GatewayError::MissingAuthenticationToken);
        };
        let mut context = None;
        if let Some(authorizer) = &route.authorizer {
            match self.authorize(authorizer, route, &req, trace).await {
                Ok(allowed) => context = Some(allowed),
                Err(error) => return fail(error),
            }
        }
        let payload = event::proxy_event(&req, route, &self.at, context.as_ref());
        trace.steps.push(route.function.name().to_owned());
        let invoked = self.invoke(&route.function, &payload).await;
        self.collect_mail(&route.function, trace).await;
        match invoked {
            Ok(runtime::Answer::Response(bytes)) => match event::proxy_response(&bytes) {
                Ok(mut answer) => {
                    answer.headers.push(("x-amzn-RequestId".into(), req.request_id.clone()));
                    answer
                }
                Err(why) => {
                    trace.problem = Some(format!("malformed Lambda proxy response: {why}"));
                    fail(GatewayError::IntegrationFailure)
                }
            },
            Ok(runtime::Answer::Error(bytes)) => {
                trace.problem = Some(format!("the function failed: {}", String::from_utf8_lossy(&bytes)));
                fail(GatewayError::IntegrationFailure)
            }
            Err(failure @ Failure::Queued { .. }) => {
                trace.problem = Some(failure.to_string());
                fail(GatewayError::IntegrationTimeout)
            }
            Err(failure) => {
                trace.problem = Some(failure.to_string());
                fail(GatewayError::IntegrationFailure)
            }
        }
    }

    async fn invoke(&self, function: &Function, payload: &Value) -> Result<runtime::Answer, Failure> {
        let runtime =
            self.functions.get(function).ok_or_else(|| Failure::NotRunning(format!("{function} is not running")))?;
        runtime.invoke(payload.to_string().into_bytes()).await
    }

    /// The authorizer context for `requestContext.authorizer`, or the error API Gateway answers.
    async fn authorize(
        &self,
        authorizer: &Authorizer,
        route: &Route,
        req: &event::Request,
        trace: &mut Trace,
    ) -> Result<Map<String, Value>, GatewayError> {
        let mut identity = Vec::new();
        for source in &authorizer.identity_sources {
            let value = match source {
                IdentitySource::Header(name) => req.header(name),
                IdentitySource::Query(name) => req.query(name),
            };
            match value.map(str::trim).filter(|v| !v.is_empty()) {
                Some(v) => identity.push(v.to_owned()),
                // Without its identity source the authorizer is never called.
                None => return Err(GatewayError::Unauthorized),
            }
        }
        let key = (authorizer.id.clone(), identity.join(","));
        let cached = self.cached(&key);
        let started = Instant::now();
        let response = match cached {
            Some(response) => {
                trace.steps.push(format!("{} (cached)", authorizer.function));
                response
            }
            None => {
                trace.steps.push(authorizer.function.name().to_owned());
                let payload = event::authorizer_event(req, route, &self.at);
                let answer = self.invoke(&authorizer.function, &payload).await;
                let response = match answer {
                    Ok(runtime::Answer::Response(bytes)) => serde_json::from_slice::<Value>(&bytes)
                        .map_err(|e| format!("the authorizer's answer is not JSON: {e}")),
                    Ok(runtime::Answer::Error(bytes)) => {
                        Err(format!("the authorizer failed: {}", String::from_utf8_lossy(&bytes)))
                    }
                    Err(failure) => Err(failure.to_string()),
                };
                let response = response.map_err(|why| {
                    trace.problem = Some(why);
                    GatewayError::AuthorizerFailure
                })?;
                self.cache.lock().unwrap_or_else(PoisonError::into_inner).insert(
                    key,
                    response.clone(),
                    authorizer.ttl,
                    Instant::now(),
                );
                response
            }
        };
        match event::decide(&response, &self.at.method_arn(req)) {
            Ok(Decision::Allow(mut context)) => {
                let latency = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                context.insert("integrationLatency".into(), Value::from(latency));
                Ok(context)
            }
            Ok(Decision::ExplicitDeny) => Err(GatewayError::ExplicitDeny),
            Ok(Decision::NotAllowed) => Err(GatewayError::NotAllowed),
            Err(why) => {
                trace.problem = Some(format!("the authorizer's answer is not a valid policy: {why}"));
                Err(GatewayError::AuthorizerFailure)
            }
        }
    }

    fn cached(&self, key: &(String, String)) -> Option<Value> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner).get(key, Instant::now())
    }
}

#[cfg(test)]
mod tests;
