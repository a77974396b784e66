//! A local Lambda Runtime API, one listener per function: the `bootstrap` binary asks it for work
//! (`GET /2018-06-01/runtime/invocation/next`) and posts each answer back, exactly as on Lambda.
//!
//! Invocations wait in a queue until the function asks for the next one, so a function serves one
//! at a time, like one Lambda execution environment. The function's timeout runs from the moment an
//! invocation is handed out, as Lambda's does.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

const PREFIX: &str = "/2018-06-01/runtime/";

/// How long an invocation may wait for the function to ask for it: API Gateway's integration limit.
pub const QUEUE_LIMIT: Duration = Duration::from_secs(29);

/// What a function answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `POST .../invocation/{id}/response`: the handler's result.
    Response(Bytes),
    /// `POST .../invocation/{id}/error`: the handler failed; the body is Lambda's error JSON.
    Error(Bytes),
}

/// Why an invocation got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("{function} did not answer within its timeout of {} s", .timeout.as_secs())]
    Timeout { function: String, timeout: Duration },
    #[error("{function} did not ask for work within {} s (is it stuck on an earlier invocation?)", QUEUE_LIMIT.as_secs())]
    Queued { function: String },
    #[error("{0}")]
    NotRunning(String),
}

struct Invocation {
    payload: Bytes,
    /// Told when the function takes the invocation, with its request id.
    dispatched: oneshot::Sender<String>,
    answer: oneshot::Sender<Answer>,
}

struct Shared {
    function: String,
    arn: String,
    timeout: Duration,
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    pending: Mutex<HashMap<String, oneshot::Sender<Answer>>>,
    /// How many times the function has asked for work: its first ask means it finished init.
    polls: watch::Sender<u64>,
    /// Why the function cannot serve, once it cannot: it exited, or reported an init error.
    down: watch::Sender<Option<String>>,
}

/// A running Runtime API for one function.
#[derive(Clone)]
pub struct RuntimeApi {
    addr: SocketAddr,
    queue: mpsc::UnboundedSender<Invocation>,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RuntimeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeApi")
            .field("function", &self.shared.function)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl RuntimeApi {
    /// Listens on a free port of 127.0.0.1 for `function` (its deployed name), whose invocations
    /// carry `arn` and may run for `timeout`. The server runs until the runtime is dropped.
    pub async fn start(function: &str, arn: &str, timeout: Duration) -> anyhow::Result<RuntimeApi> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("binding a port on 127.0.0.1 for the Lambda Runtime API")?;
        let addr = listener.local_addr().context("reading the Runtime API's address")?;
        let (queue, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            function: function.to_owned(),
            arn: arn.to_owned(),
            timeout,
            queue: tokio::sync::Mutex::new(rx),
            pending: Mutex::new(HashMap::new()),
            polls: watch::channel(0).0,
            down: watch::channel(None).0,
        });
        let serving = shared.clone();
        // The accept loop ends when the last RuntimeApi handle (and so the queue sender) is gone.
        let closed = queue.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    () = closed.closed() => return,
                };
                let Ok((stream, _)) = accepted else { continue };
                let shared = serving.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| serve(shared.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(RuntimeApi { addr, queue, shared })
    }

    /// `127.0.0.1:PORT`, the value of the function's `AWS_LAMBDA_RUNTIME_API`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn function(&self) -> &str {
        &self.shared.function
    }

    /// Waits until the function has asked for work once (its init is done), or fails with why it
    /// never will.
    pub async fn ready(&self, limit: Duration) -> Result<(), String> {
        let mut polls = self.shared.polls.subscribe();
        let mut down = self.shared.down.subscribe();
        let wait = async {
            loop {
                if *polls.borrow_and_update() > 0 {
                    return Ok(());
                }
                if let Some(why) = down.borrow_and_update().clone() {
                    return Err(why);
                }
                tokio::select! {
                    _ = polls.changed() => {}
                    _ = down.changed() => {}
                }
            }
        };
        match tokio::time::timeout(limit, wait).await {
            Ok(result) => result,
            Err(_) => {
                Err(format!("{} did not ask for work within {} s of starting", self.shared.function, limit.as_secs()))
            }
        }
    }

    /// Marks the function as unable to serve: queued and running invocations fail with `why`.
    pub fn mark_down(&self, why: String) {
        self.shared.down.send_replace(Some(why));
        // Dropping the answer senders wakes every waiting caller.
        self.shared.pending.lock().unwrap_or_else(PoisonError::into_inner).clear();
        if let Ok(mut queue) = self.shared.queue.try_lock() {
            while queue.try_recv().is_ok() {}
        }
    }

    /// Whether the function is down, and why.
    pub fn down(&self) -> Option<String> {
        self.shared.down.borrow().clone()
    }

    /// Invokes the function with `payload` and waits for its answer.
    pub async fn invoke(&self, payload: Vec<u8>) -> Result<Answer, Failure> {
        if let Some(why) = self.down() {
            return Err(Failure::NotRunning(why));
        }
        let (dispatched, dispatched_rx) = oneshot::channel();
        let (answer, answer_rx) = oneshot::channel();
        let not_running =
            || Failure::NotRunning(self.down().unwrap_or_else(|| format!("{} stopped", self.shared.function)));
        self.queue.send(Invocation { payload: Bytes::from(payload), dispatched, answer }).map_err(|_| not_running())?;
        let id = match tokio::time::timeout(QUEUE_LIMIT, dispatched_rx).await {
            Ok(Ok(id)) => id,
            Ok(Err(_)) => return Err(not_running()),
            Err(_) => return Err(Failure::Queued { function: self.shared.function.clone() }),
        };
        match tokio::time::timeout(self.shared.timeout, answer_rx).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err(not_running()),
            Err(_) => {
                self.shared.pending.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
                Err(Failure::Timeout { function: self.shared.function.clone(), timeout: self.shared.timeout })
            }
        }
    }
}

type Reply = Response<Full<Bytes>>;

fn reply(status: StatusCode, body: &'static str) -> Reply {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
}

async fn serve(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Reply, Infallible> {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return Ok(reply(StatusCode::NOT_FOUND, r#"{"errorType":"InvalidRequest","errorMessage":"unknown path"}"#));
    };
    let method = req.method().clone();
    if method == Method::GET && rest == "invocation/next" {
        return Ok(next(&shared).await);
    }
    if method != Method::POST {
        return Ok(reply(
            StatusCode::METHOD_NOT_ALLOWED,
            r#"{"errorType":"InvalidRequest","errorMessage":"method not allowed"}"#,
        ));
    }
    let body = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Ok(reply(
                StatusCode::BAD_REQUEST,
                r#"{"errorType":"InvalidRequest","errorMessage":"unreadable body"}"#,
            ));
        }
    };
    if rest == "init/error" {
        let why = format!("{} failed to initialize: {}", shared.function, String::from_utf8_lossy(&body));
        shared.down.send_replace(Some(why));
        return Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#));
    }
    let answer = match rest.strip_prefix("invocation/").and_then(|r| r.rsplit_once('/')) {
        Some((id, "response")) => Some((id, Answer::Response(body))),
        Some((id, "error")) => Some((id, Answer::Error(body))),
        _ => None,
    };
    let Some((id, answer)) = answer else {
        return Ok(reply(StatusCode::NOT_FOUND, r#"{"errorType":"InvalidRequest","errorMessage":"unknown path"}"#));
    };
    let waiting = shared.pending.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
    match waiting {
        Some(sender) => {
            let _ = sender.send(answer);
            Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#))
        }
        // Lambda answers 400 for an id it is not waiting on (answered already, or timed out).
        None => Ok(reply(
            StatusCode::BAD_REQUEST,
            r#"{"errorType":"InvalidStateTransition","errorMessage":"no invocation is waiting for this id"}"#,
        )),
    }
}

/// Hands out the next invocation, waiting for one as long as the function keeps the connection.
async fn next(shared: &Shared) -> Reply {
    shared.polls.send_modify(|n| *n += 1);
    let mut queue = shared.queue.lock().await;
    loop {
        let Some(invocation) = queue.recv().await else {
            return reply(
                StatusCode::GONE,
                r#"{"errorType":"ShuttingDown","errorMessage":"the local API is stopping"}"#,
            );
        };
        // A caller that gave up while the invocation was queued no longer wants it.
        if invocation.answer.is_closed() {
            continue;
        }
        let id = super::request_id();
        if invocation.dispatched.send(id.clone()).is_err() {
            continue;
        }
        shared.pending.lock().unwrap_or_else(PoisonError::into_inner).insert(id.clone(), invocation.answer);
        let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + shared.timeout;
        let trace = format!("Root=1-{:08x}-{};Sampled=0", deadline.as_secs(), &id.replace('-', "")[..24]);
        let mut response = Response::new(Full::new(invocation.payload));
        let headers = response.headers_mut();
        for (name, value) in [
            ("content-type", "application/json".to_owned()),
            ("lambda-runtime-aws-request-id", id),
            ("lambda-runtime-deadline-ms", deadline.as_millis().to_string()),
            ("lambda-runtime-invoked-function-arn", shared.arn.clone()),
            ("lambda-runtime-trace-id", trace),
        ] {
            if let Ok(value) = value.parse() {
                headers.insert(name, value);
            }
        }
        return response;
    }
}

#[cfg(test)]
mod tests;
