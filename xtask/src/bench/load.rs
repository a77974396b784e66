//! `cargo xtask bench load`: a bounded run of requests against the local API on loopback, reporting
//! latency percentiles and throughput for each declared function's route, or one (`--function`). Each
//! request is made from the declaration: its method, its path (parameters filled in), and a token when the
//! route is private. The built-in walkthrough's functions get the bodies the walkthrough sends them
//! ([`walkthrough_body`]): `refresh` refreshes along each worker's own session's chain, and `signout`
//! ends a session signed in, untimed, for each request. It signs a fresh user up first.

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

pub(super) type Http = Client<HttpConnector, Full<Bytes>>;

/// What to run.
#[derive(Debug, Clone)]
pub struct Load {
    /// The declared function whose route is loaded; every routed function, one after another, when `None`.
    pub function: Option<String>,
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

pub(super) async fn call(
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

/// The body a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// None: a function outside the walkthrough, and `hello`.
    Empty,
    /// The bench user's email and password.
    Credentials,
    /// A new user's email and password each time.
    NewUser,
    /// The worker's refresh token, along its own session's chain.
    Chain,
    /// The refresh token of a session signed in, untimed, for this request alone (its end is what is timed).
    OwnSession,
    /// The bench user's email alone.
    Email,
    /// The bench user's email and password with a wrong verification code: the refusal a guesser meets,
    /// `400 invalid_code`, is the expected answer.
    WrongVerification,
    /// The same with a wrong reset code.
    WrongReset,
}

/// The body each function of the built-in walkthrough takes, by name: the one place the bench names
/// functions. Any other function is called without one.
fn walkthrough_body(function: &Function) -> Body {
    match function.name() {
        "signup" => Body::NewUser,
        "signin" => Body::Credentials,
        "refresh" => Body::Chain,
        "signout" => Body::OwnSession,
        "forgot" => Body::Email,
        "verify" => Body::WrongVerification,
        "reset" => Body::WrongReset,
        _ => Body::Empty,
    }
}

/// One function's route as the run calls it.
#[derive(Debug, Clone)]
struct Target {
    function: String,
    method: &'static str,
    url: String,
    private: bool,
    body: Body,
    /// A built-in function, whose answer must be a success; a team's function is called without the
    /// body it may need, so any answer short of a 5xx counts (the run reports latency, not behaviour).
    walkthrough: bool,
}

/// The functions to load: the one `--function` names, or every function with a route.
fn targets(functions: &[Function], chosen: Option<&str>, url: &str) -> anyhow::Result<Vec<Target>> {
    let routed: Vec<&Function> = functions.iter().filter(|f| f.route().is_some()).collect();
    let picked: Vec<&Function> = match chosen {
        None => routed.clone(),
        Some(name) => match routed.iter().find(|f| f.name() == name) {
            Some(f) => vec![*f],
            None => {
                let known: Vec<&str> = routed.iter().map(|f| f.name()).collect();
                return Err(crate::BadInput(format!(
                    "no function with a route is named {name}; the declared ones are {}",
                    known.join(", ")
                ))
                .into());
            }
        },
    };
    Ok(picked
        .into_iter()
        .filter_map(|f| {
            let route = f.route()?;
            // A path parameter is filled with `1`, which a text and a number parameter both read.
            let path: Vec<String> =
                route.path.split('/').map(|s| if s.starts_with('{') { "1".to_owned() } else { s.to_owned() }).collect();
            Some(Target {
                function: f.name().to_owned(),
                method: route.method.as_str(),
                url: format!("{url}{}", path.join("/")),
                private: route.authorized(),
                body: walkthrough_body(f),
                walkthrough: f.is_built_in(),
            })
        })
        .collect())
}

/// The bench user, signed up, verified with the code the local server kept from its mail, and signed
/// in, through the walkthrough's routes: its credentials and access token.
async fn bench_user(client: &Http, url: &str, functions: &[Function]) -> anyhow::Result<(Value, String)> {
    let (signup, signin) =
        (walkthrough_url(functions, url, Body::NewUser)?, walkthrough_url(functions, url, Body::Credentials)?);
    let credentials = new_user();
    let (status, body) = call(client, "POST", &signup, None, Some(&credentials)).await?;
    if status != 202 {
        bail!("signing the bench user up answered {status}: {}", String::from_utf8_lossy(&body));
    }
    let port = url.rsplit(':').next().and_then(|p| p.parse().ok()).context("the API's URL has no port")?;
    let file = crate::local::mailbox::file_for(&crate::target_dir()?, port);
    let mail =
        std::fs::read_to_string(&file).with_context(|| format!("reading the local API's mail, {}", file.display()))?;
    let email = credentials["email"].as_str().unwrap_or_default();
    let code = crate::local::mailbox::last_code_in(&mail, email)
        .with_context(|| format!("no code was mailed to the bench user in {}", file.display()))?;
    let verify = walkthrough_url(functions, url, Body::WrongVerification)?;
    let mut confirmed = credentials.clone();
    confirmed["code"] = Value::String(code);
    let (status, body) = call(client, "POST", &verify, None, Some(&confirmed)).await?;
    if status != 200 {
        bail!("verifying the bench user answered {status}: {}", String::from_utf8_lossy(&body));
    }
    let (status, body) = call(client, "POST", &signin, None, Some(&credentials)).await?;
    let token = serde_json::from_slice::<Value>(&body).ok().and_then(|v| v["token"].as_str().map(str::to_owned));
    let Some(token) = token.filter(|_| status == 200) else {
        bail!("signing the bench user in answered {status}: {}", String::from_utf8_lossy(&body));
    };
    Ok((credentials, token))
}

/// A user no one has signed up yet.
fn new_user() -> Value {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let nonce = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    json!({"email": format!("bench-{nonce}-{n}@example.com"), "password": "plum harbor quietly juggles"})
}

async fn hammer(url: &str, functions: &[Function], load: &Load) -> anyhow::Result<ExitCode> {
    let client: Http = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(load.concurrency).build_http();
    let targets = targets(functions, load.function.as_deref(), url)?;
    let (credentials, token) = bench_user(&client, url, functions).await?;
    let signin = walkthrough_url(functions, url, Body::Credentials)?;
    let mut failed = false;
    for target in &targets {
        let user = User { credentials: credentials.clone(), token: token.clone(), signin: signin.clone() };
        failed |= !run_one(&client, target, &user, load).await?;
    }
    Ok(if failed { ExitCode::from(EXIT_DIFFERENCE) } else { ExitCode::SUCCESS })
}

/// The URL of the walkthrough's function that takes `body` (signup: a new user, signin: credentials).
fn walkthrough_url(functions: &[Function], url: &str, body: Body) -> anyhow::Result<String> {
    let f = functions
        .iter()
        .find(|f| walkthrough_body(f) == body)
        .context("the built-in walkthrough's functions are not all declared")?;
    Ok(format!("{url}/{}", path_of(functions, f.name())?))
}

/// The bench user as each worker uses it.
#[derive(Debug, Clone)]
struct User {
    credentials: Value,
    token: String,
    signin: String,
}

/// Signs the bench user in and returns the session's access and refresh tokens.
async fn sign_in(client: &Http, user: &User) -> anyhow::Result<(String, String)> {
    let (status, body) = call(client, "POST", &user.signin, None, Some(&user.credentials)).await?;
    let answer = serde_json::from_slice::<Value>(&body).unwrap_or_default();
    match (status, answer["token"].as_str(), answer["refresh_token"].as_str()) {
        (200, Some(token), Some(refresh)) => Ok((token.to_owned(), refresh.to_owned())),
        _ => bail!("signing in: {status}: {}", String::from_utf8_lossy(&body)),
    }
}

/// One request of a worker: what it sends, and the refresh token its chain goes on with.
async fn request(
    client: &Http,
    target: &Target,
    user: &User,
    chain: &mut Option<String>,
) -> anyhow::Result<Option<(Duration, u16, Bytes)>> {
    let mut token = target.private.then(|| user.token.clone());
    let body = match target.body {
        Body::Empty => None,
        Body::Credentials => Some(user.credentials.clone()),
        Body::NewUser => Some(new_user()),
        Body::Email => Some(json!({"email": user.credentials["email"]})),
        Body::WrongVerification | Body::WrongReset => Some(json!({
            "email": user.credentials["email"],
            "password": user.credentials["password"],
            "code": "00000000",
        })),
        Body::Chain => {
            let Some(current) = chain.take() else { return Ok(None) };
            Some(json!({ "refresh_token": current }))
        }
        Body::OwnSession => {
            let (access, refresh) = sign_in(client, user).await?;
            token = Some(access);
            Some(json!({ "refresh_token": refresh }))
        }
    };
    let started = Instant::now();
    let (status, answer) = call(client, target.method, &target.url, token.as_deref(), body.as_ref()).await?;
    if target.body == Body::Chain {
        *chain = refresh_token_of(&answer);
    }
    Ok(Some((started.elapsed(), status, answer)))
}

/// Loads one function's route and prints its figures; whether every request succeeded.
async fn run_one(client: &Http, target: &Target, user: &User, load: &Load) -> anyhow::Result<bool> {
    // One call first, so the run measures the cached authorizer policy, as a warm API serves it.
    if target.private && target.body == Body::Empty {
        let (status, _) = call(client, target.method, &target.url, Some(&user.token), None).await?;
        if status >= 300 {
            bail!("the first authorized {} {} answered {status}", target.method, target.url);
        }
    }
    let what = match target.body {
        Body::Chain => ", each worker along its own session's chain",
        Body::OwnSession => ", each request ending a session signed in for it (untimed)",
        Body::NewUser => ", each request a new user",
        Body::WrongVerification | Body::WrongReset => ", each request a wrong code for the bench user (400 expected)",
        _ => "",
    };
    let auth = if target.private { "authorized " } else { "" };
    println!(
        "\n{}: {} {auth}{} {}{what} at concurrency {}",
        target.function, load.requests, target.method, target.url, load.concurrency
    );
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..load.concurrency.max(1) {
        let (client, next, total) = (client.clone(), next.clone(), load.requests);
        let (target, user) = (target.clone(), user.clone());
        workers.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = Vec::new();
            // A chain worker's session: signed in once, untimed, then refreshed along its chain.
            let mut chain = None;
            if target.body == Body::Chain {
                match sign_in(&client, &user).await {
                    Ok((_, refresh)) => chain = Some(refresh),
                    Err(e) => errors.push(format!("{e:#}")),
                }
            }
            while next.fetch_add(1, Ordering::Relaxed) < total {
                match request(&client, &target, &user, &mut chain).await {
                    Ok(None) => break,
                    Ok(Some((took, status, _)))
                        if status < 300
                            || (matches!(target.body, Body::WrongVerification | Body::WrongReset) && status == 400)
                            || (!target.walkthrough && status < 500) =>
                    {
                        latencies.push(took);
                    }
                    Ok(Some((_, status, body))) => errors.push(format!("{status}: {}", String::from_utf8_lossy(&body))),
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
    report(&mut latencies, &errors, started.elapsed());
    Ok(errors.is_empty())
}

/// Prints the run's throughput and latency percentiles, and its first error.
fn report(latencies: &mut [Duration], errors: &[String], wall: Duration) {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_routed_function_is_loaded_from_its_declaration() {
        let functions = crate::declared::functions();
        let loaded = targets(&functions, None, "http://127.0.0.1:3000").unwrap_or_else(|e| panic!("{e:#}"));
        let routed: Vec<&str> = functions.iter().filter(|f| f.route().is_some()).map(Function::name).collect();
        assert_eq!(loaded.iter().map(|t| t.function.as_str()).collect::<Vec<_>>(), routed);
        for (t, f) in loaded.iter().zip(functions.iter().filter(|f| f.route().is_some())) {
            let route = f.route().unwrap_or_else(|| panic!("{f} has no route"));
            assert_eq!((t.method, t.private), (route.method.as_str(), route.authorized()), "{f}");
            assert!(t.url.starts_with("http://127.0.0.1:3000/") && !t.url.contains('{'), "{}", t.url);
            assert_eq!(t.walkthrough, f.is_built_in(), "{f}");
        }
    }

    #[test]
    fn a_function_that_is_not_declared_is_bad_input() {
        let functions = crate::declared::functions();
        let err =
            targets(&functions, Some("orders"), "http://127.0.0.1:3000").err().unwrap_or_else(|| panic!("took it"));
        assert!(err.downcast_ref::<crate::BadInput>().is_some(), "{err:#}");
    }
}
