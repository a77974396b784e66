//! `cargo xtask bench load`: a bounded run of requests against the local API on loopback, reporting
//! latency percentiles and throughput: authorized `GET /hello`, `POST /signin`, or `POST /refresh`
//! (each worker with a session of its own, refreshing along its chain). It signs a fresh user up first.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use contract::Function;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::EXIT_DIFFERENCE;
use crate::local::{Local, Options};
use crate::package::Profile;

type Http = Client<HttpConnector, Full<Bytes>>;

/// Which route a load run sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Route {
    Hello,
    Signin,
    Refresh,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Load {
    pub route: Route,
    pub stage: String,
    pub requests: usize,
    pub concurrency: usize,
    /// A local API that is already running; otherwise one is started for the run.
    pub url: Option<String>,
    pub profile: Profile,
}

pub fn run(config_path: &Path, load: &Load) -> anyhow::Result<ExitCode> {
    if let Some(url) = &load.url
        && !(url.starts_with("http://127.") || url.starts_with("http://localhost") || url.starts_with("http://[::1]"))
    {
        return Err(crate::BadInput(format!(
            "--url {url} is not on this machine; the load run only targets loopback (http://127.0.0.1:PORT)"
        ))
        .into());
    }
    let functions = crate::functions(&crate::workspace()?)?;
    crate::local::server_runtime()?.block_on(async {
        let (url, local) = match &load.url {
            Some(url) => (url.trim_end_matches('/').to_owned(), None),
            None => {
                let config = crate::load_config(config_path)?;
                let options = Options {
                    profile: load.profile,
                    // Every request comes from one address: the web ACL's per-IP limits would turn the
                    // run into a measurement of WAF's 429s. `--url` at a `cargo xtask local
                    // --no-rate-limits` does the same for an API that is already running.
                    rate_limits: false,
                    ..Options::quiet(&load.stage)
                };
                let local = Local::start(&config, &options).await?;
                (local.url(), Some(local))
            }
        };
        let result = hammer(&url, &functions, load).await;
        if let Some(local) = local {
            local.stop().await;
        }
        result
    })
}

/// `signup` for `/signup`: the path `name` declares, without its leading slash.
fn path_of<'a>(functions: &'a [Function], name: &str) -> anyhow::Result<&'a str> {
    Function::find(functions, name)
        .and_then(Function::route)
        .map(|r| r.path.trim_start_matches('/'))
        .with_context(|| format!("no route serves a function named {name}"))
}

async fn call(
    client: &Http,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> anyhow::Result<(u16, Bytes)> {
    let mut req = hyper::Request::builder().method(method).uri(url);
    if let Some(token) = token {
        req = req.header(contract::AUTHORIZATION_HEADER, token);
    }
    let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
    let res = client
        .request(req.body(Full::new(body)).context("building a request")?)
        .await
        .with_context(|| format!("{method} {url}"))?;
    let status = res.status().as_u16();
    let bytes =
        res.into_body().collect().await.with_context(|| format!("reading the answer to {method} {url}"))?.to_bytes();
    Ok((status, bytes))
}

fn refresh_token_of(body: &Bytes) -> Option<String> {
    serde_json::from_slice::<Value>(body).ok().and_then(|v| v["refresh_token"].as_str().map(str::to_owned))
}

async fn hammer(url: &str, functions: &[Function], load: &Load) -> anyhow::Result<ExitCode> {
    let client: Http = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(load.concurrency).build_http();
    let nonce = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let credentials = json!({"email": format!("bench-{nonce}@example.com"), "password": "plum harbor quietly juggles"});
    let (status, body) =
        call(&client, "POST", &format!("{url}/{}", path_of(functions, "signup")?), None, Some(&credentials)).await?;
    if status != 201 {
        bail!("signing the bench user up answered {status}: {}", String::from_utf8_lossy(&body));
    }
    let (status, body) =
        call(&client, "POST", &format!("{url}/{}", path_of(functions, "signin")?), None, Some(&credentials)).await?;
    let token = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["token"].as_str().map(str::to_owned));
    let Some(token) = token.filter(|_| status == 200) else {
        bail!("signing the bench user in answered {status}: {}", String::from_utf8_lossy(&body));
    };
    let hello = format!("{url}/{}", path_of(functions, "hello")?);
    let signin = format!("{url}/{}", path_of(functions, "signin")?);
    let refresh = format!("{url}/{}", path_of(functions, "refresh")?);
    // One call first, so the run measures the cached authorizer policy, as a warm API serves it.
    let (status, _) = call(&client, "GET", &hello, Some(&token), None).await?;
    if status != 200 {
        bail!("the first authorized GET {hello} answered {status}");
    }

    let target = match load.route {
        Route::Hello => format!("authorized GET {hello}"),
        Route::Signin => format!("POST {signin}"),
        Route::Refresh => format!("POST {refresh}, each worker along its own session's chain"),
    };
    println!("load: {} {target} at concurrency {}", load.requests, load.concurrency);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..load.concurrency.max(1) {
        let (client, next, total, route) = (client.clone(), next.clone(), load.requests, load.route);
        let (hello, signin, refresh, token, credentials) =
            (hello.clone(), signin.clone(), refresh.clone(), token.clone(), credentials.clone());
        workers.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = Vec::new();
            // A refresh worker's session: signed in once, untimed, then refreshed along its chain.
            let mut chain = match route {
                Route::Refresh => match call(&client, "POST", &signin, None, Some(&credentials)).await {
                    Ok((200, body)) => refresh_token_of(&body),
                    Ok((status, body)) => {
                        errors.push(format!("signing in: {status}: {}", String::from_utf8_lossy(&body)));
                        None
                    }
                    Err(e) => {
                        errors.push(format!("signing in: {e:#}"));
                        None
                    }
                },
                _ => None,
            };
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let t = Instant::now();
                let answer = match route {
                    Route::Hello => call(&client, "GET", &hello, Some(&token), None).await,
                    Route::Signin => call(&client, "POST", &signin, None, Some(&credentials)).await,
                    Route::Refresh => {
                        let Some(current) = chain.take() else { break };
                        call(&client, "POST", &refresh, None, Some(&json!({ "refresh_token": current }))).await
                    }
                };
                match answer {
                    Ok((200, body)) => {
                        latencies.push(t.elapsed());
                        if route == Route::Refresh {
                            chain = refresh_token_of(&body);
                        }
                    }
                    Ok((status, body)) => errors.push(format!("{status}: {}", String::from_utf8_lossy(&body))),
                    Err(e) => errors.push(format!("{e:#}")),
                }
            }
            (latencies, errors)
        });
    }
    let (mut latencies, mut errors) = (Vec::with_capacity(load.requests), Vec::new());
    while let Some(done) = workers.join_next().await {
        let (l, e) = done.context("a load worker panicked")?;
        latencies.extend(l);
        errors.extend(e);
    }
    let wall = started.elapsed();
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let at = |q: f64| {
        latencies
            .get(((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "{} ok, {} errors in {:.2} s: {:.0} requests/s; latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        errors.len(),
        wall.as_secs_f64(),
        latencies.len() as f64 / wall.as_secs_f64(),
        ms(at(0.50)),
        ms(at(0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
    );
    if let Some(first) = errors.first() {
        eprintln!("error: {} requests failed; the first: {first}", errors.len());
        return Ok(ExitCode::from(EXIT_DIFFERENCE));
    }
    Ok(ExitCode::SUCCESS)
}
