//! The real function binaries against abuse: hostile requests through `cargo xtask local` get a 4xx or a
//! normal answer, never a 502; and at the most verbose log level a client or an operator can set, the
//! functions write no password, password hash, token or signing secret to their output.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth::password::Cipher as _;
use auth::store::UserStore as _;
use base64::Engine as _;
use contract::Function;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt as _;
use xtask::local::event::{self, Decision, Deployment};
use xtask::local::runtime::{Answer, RuntimeApi};
use xtask::local::{Local, Options, Prepared};
use xtask::package::Profile;

fn config() -> synth::Config {
    xtask::load_config(&xtask::default_config_path().unwrap_or_else(|e| panic!("{e:#}")))
        .unwrap_or_else(|e| panic!("{e:#}"))
}

/// The code in the newest mail the emulator holds for `to`.
async fn mailed_code(endpoint: &str, to: &str) -> String {
    let mail = xtask::local::mailbox::emulator_mail(endpoint).await.unwrap_or_else(|e| panic!("{e:#}"));
    xtask::local::mailbox::last_code(&mail, to).unwrap_or_else(|| panic!("no code mailed to {to}: {mail:?}"))
}

/// An HTTP call whose headers are sent as given, `Host` included.
async fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&Value>) -> (u16, Value) {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut req = hyper::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
    let req = req.body(Full::new(body)).unwrap_or_else(|e| panic!("{e}"));
    let res = client.request(req).await.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.unwrap_or_else(|e| panic!("{e}")).to_bytes();
    let body =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_headers_get_an_answer_never_a_502() {
    let options = Options { rate_limits: false, ..Options::quiet("dev") };
    let local = Local::start(&config(), &options).await.unwrap_or_else(|e| panic!("{e:#}"));
    let url = local.url();
    let credentials = json!({"email": "mallory@example.com", "password": "plum harbor quietly juggles"});

    // The attack: curl -H 'X-Forwarded-Proto: ::::' -X POST localhost:3000/signup -d ...
    let hostile = [("X-Forwarded-Proto", "::::")];
    let (status, body) = call("POST", &format!("{url}/signup"), &hostile, Some(&credentials)).await;
    assert_eq!((status, &body), (202, &json!({"status": "check_your_email"})));
    let code = mailed_code(&local.moto_endpoint, "mallory@example.com").await;
    let verify = json!({"email": "mallory@example.com", "password": "plum harbor quietly juggles", "code": code});
    let (status, body) = call("POST", &format!("{url}/signup/verify"), &hostile, Some(&verify)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call("POST", &format!("{url}/signin"), &hostile, Some(&credentials)).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().unwrap_or_else(|| panic!("no token in {body}")).to_owned();
    let (status, body) = call("GET", &format!("{url}/hello"), &[hostile[0], ("Authorization", &token)], None).await;
    assert_eq!((status, &body), (200, &json!({"message": "Hello, mallory@example.com!"})));

    // A Host that makes no URL: the function refuses it, where lambda_http panicked.
    for host in ["localhost:99999", "exa mple.com", "[::1", "1.2.3.999"] {
        for (path, body) in [("/signup", Some(&credentials)), ("/signin", Some(&credentials))] {
            let (status, answer) = call("POST", &format!("{url}{path}"), &[("Host", host)], body).await;
            assert_eq!(status, 400, "Host {host:?} on {path}: {answer}");
            assert_eq!(answer["error"]["code"], "invalid_request", "Host {host:?} on {path}");
        }
        let headers = [("Host", host), ("Authorization", token.as_str())];
        let (status, answer) = call("GET", &format!("{url}/hello"), &headers, None).await;
        assert_eq!(status, 400, "Host {host:?} on /hello: {answer}");
    }
    // And the functions still serve.
    let (status, body) = call("POST", &format!("{url}/signin"), &[], Some(&credentials)).await;
    assert_eq!(status, 200, "{body}");
    local.stop().await;
}

/// A function process started by the test, its whole output kept.
struct Running {
    function: Function,
    runtime: RuntimeApi,
    child: tokio::process::Child,
    output: Vec<tokio::task::JoinHandle<String>>,
}

/// Starts `function`'s binary as `xtask local` does, with the most verbose log settings there are.
async fn start(prepared: &Prepared, binaries: &Path, function: Function) -> Running {
    let spec = &prepared.api.functions[&function];
    let arn = format!("arn:aws:lambda:{}:{}:function:{}", prepared.aws.region, prepared.account, spec.name);
    let runtime = RuntimeApi::start(&spec.name, &arn, spec.timeout).await.unwrap_or_else(|e| panic!("{e:#}"));
    let binary = binaries.join(function.name());
    let mut child = tokio::process::Command::new(&binary)
        .env_clear()
        .envs(xtask::local::process::environment(spec, &runtime, &prepared.aws, binaries))
        .env("RUST_LOG", "trace")
        .env("AWS_LAMBDA_LOG_LEVEL", "TRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
    let mut output = Vec::new();
    if let Some(mut out) = child.stdout.take() {
        output.push(tokio::spawn(async move {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text).await;
            text
        }));
    }
    if let Some(mut err) = child.stderr.take() {
        output.push(tokio::spawn(async move {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text).await;
            text
        }));
    }
    runtime.ready(Duration::from_secs(30)).await.unwrap_or_else(|why| panic!("{why}"));
    Running { function, runtime, child, output }
}

impl Running {
    async fn invoke(&self, payload: &Value) -> Value {
        match self.runtime.invoke(payload.to_string().into_bytes()).await {
            Ok(Answer::Response(bytes)) => serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}")),
            other => panic!("{} failed: {other:?}", self.function),
        }
    }

    /// Stops the process and returns everything it wrote.
    async fn stop(mut self) -> String {
        let _ = self.child.kill().await;
        let mut all = String::new();
        for reader in self.output {
            all.push_str(&reader.await.unwrap_or_default());
        }
        all
    }
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> event::Request {
    let epoch_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    event::Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query: Vec::new(),
        headers: headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
        body: body.map(|b| b.to_string().into_bytes()).unwrap_or_default(),
        source_ip: "203.0.113.7".to_owned(),
        host: "127.0.0.1".to_owned(),
        request_id: xtask::local::request_id(),
        epoch_ms: u64::try_from(epoch_ms).unwrap_or(u64::MAX),
    }
}

/// Each way a secret could be written: as it is, base64 (how the SDK's JSON bodies carry bytes), and for
/// a PHC string its salt and hash alone.
fn forms(name: &str, secret: &[u8]) -> Vec<(String, String)> {
    let mut forms = vec![
        (name.to_owned(), String::from_utf8_lossy(secret).into_owned()),
        (format!("{name} (base64)"), base64::engine::general_purpose::STANDARD.encode(secret)),
        // The SDK's `Debug` of a `Blob`, which it traces.
        (format!("{name} (a byte list)"), format!("{secret:?}").trim_matches(['[', ']']).to_owned()),
    ];
    let text = String::from_utf8_lossy(secret).into_owned();
    if let Some(phc) = text.strip_prefix("$argon2id$") {
        for (part, value) in ["salt", "hash"].iter().zip(phc.rsplit('$').take(2).collect::<Vec<_>>().into_iter().rev())
        {
            forms.push((format!("{name} ({part})"), value.to_owned()));
        }
    }
    forms
}

/// The dev stage's debug binaries, its data stack in a fresh emulator, and where events say they come from.
async fn deployed(config: &synth::Config) -> (std::path::PathBuf, Prepared, Deployment) {
    let binaries =
        xtask::local::build_functions(&config.functions, Profile::Debug).await.unwrap_or_else(|e| panic!("{e:#}"));
    let prepared = xtask::local::prepare(config, "dev", None).await.unwrap_or_else(|e| panic!("{e:#}"));
    let at = Deployment {
        region: prepared.aws.region.clone(),
        account: prepared.account.clone(),
        api_id: "local".to_owned(),
        stage: prepared.api.stage.clone(),
    };
    (binaries, prepared, at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(
    clippy::too_many_lines,
    reason = "one flow through every function at trace level, read top to bottom: each call uses the tokens the \
              calls before it returned, and the logs are checked once at the end"
)]
async fn at_trace_the_functions_log_no_password_hash_or_token() {
    let config = config();
    let (binaries, prepared, at) = deployed(&config).await;
    let named = |name: &str| Function::find(&config.functions, name).cloned().unwrap_or_else(|| panic!("no {name}"));
    let route = |f: Function| {
        prepared.api.routes.iter().find(|r| r.function == f).unwrap_or_else(|| panic!("no route for {f}")).clone()
    };
    let mut running = BTreeMap::new();
    for function in &config.functions {
        running.insert(function.clone(), start(&prepared, &binaries, function.clone()).await);
    }

    // A password no other test uses, so that finding it means this run logged it.
    let email = "trace@example.com";
    let password = format!("canary {}", xtask::local::request_id());
    let credentials = json!({"email": email, "password": password});
    let json_headers = [("content-type", "application/json")];
    let signup = event::proxy_event(
        &request("POST", "/signup", &json_headers, Some(&credentials)),
        &route(named("signup")),
        &at,
        None,
    );
    let created = running[&named("signup")].invoke(&signup).await;
    assert_eq!(created["statusCode"], 202, "{created}");
    let mut confirm = credentials.clone();
    let verification_code = mailed_code(&prepared.aws.endpoint, email).await;
    confirm["code"] = json!(verification_code);
    let verify = event::proxy_event(
        &request("POST", "/signup/verify", &json_headers, Some(&confirm)),
        &route(named("verify")),
        &at,
        None,
    );
    let verified = running[&named("verify")].invoke(&verify).await;
    assert_eq!(verified["statusCode"], 200, "{verified}");
    let signin = event::proxy_event(
        &request("POST", "/signin", &json_headers, Some(&credentials)),
        &route(named("signin")),
        &at,
        None,
    );
    let signed_in = running[&named("signin")].invoke(&signin).await;
    assert_eq!(signed_in["statusCode"], 200, "{signed_in}");
    let body: Value = serde_json::from_str(signed_in["body"].as_str().unwrap_or_default()).unwrap_or_default();
    let token = body["token"].as_str().unwrap_or_else(|| panic!("no token in {signed_in}")).to_owned();

    // The token through the authorizer and hello, as API Gateway passes it.
    let hello = route(named("hello"));
    let authorized = request("GET", "/hello", &[("Authorization", &token)], None);
    let policy = running[&named("authorizer")].invoke(&event::authorizer_event(&authorized, &hello, &at)).await;
    let context = match event::decide(&policy, &at.method_arn(&authorized)) {
        Ok(Decision::Allow(context)) => context,
        other => panic!("the authorizer did not allow the token: {other:?} {policy}"),
    };
    let greeted = running[&named("hello")].invoke(&event::proxy_event(&authorized, &hello, &at, Some(&context))).await;
    assert_eq!(greeted["statusCode"], 200, "{greeted}");

    // A refresh and both sign-outs (sign-out everywhere is a logged security event): none may log a token
    // that could replay a session.
    let first_refresh = body["refresh_token"].as_str().unwrap_or_else(|| panic!("no refresh token")).to_owned();
    let refresh_with = |token: &str| {
        event::proxy_event(
            &request("POST", "/refresh", &json_headers, Some(&json!({ "refresh_token": token }))),
            &route(named("refresh")),
            &at,
            None,
        )
    };
    let refreshed = running[&named("refresh")].invoke(&refresh_with(&first_refresh)).await;
    assert_eq!(refreshed["statusCode"], 200, "{refreshed}");
    let next: Value = serde_json::from_str(refreshed["body"].as_str().unwrap_or_default()).unwrap_or_default();
    let second_refresh = next["refresh_token"].as_str().unwrap_or_default().to_owned();
    let signout = route(named("signout"));
    let out_of_session = request(
        "POST",
        "/signout",
        &[("Authorization", &token), ("content-type", "application/json")],
        Some(&json!({ "refresh_token": second_refresh })),
    );
    let ended =
        running[&named("signout")].invoke(&event::proxy_event(&out_of_session, &signout, &at, Some(&context))).await;
    assert_eq!(ended["statusCode"], 200, "{ended}");
    let everywhere = request("POST", "/signout", &[("Authorization", &token)], Some(&json!({ "everywhere": true })));
    let all = running[&named("signout")].invoke(&event::proxy_event(&everywhere, &signout, &at, Some(&context))).await;
    assert_eq!(all["statusCode"], 200, "{all}");

    // A forgotten password and its reset (a logged security event): neither may log the code.
    let asked = event::proxy_event(
        &request("POST", "/password/forgot", &json_headers, Some(&json!({"email": email}))),
        &route(named("forgot")),
        &at,
        None,
    );
    assert_eq!(running[&named("forgot")].invoke(&asked).await["statusCode"], 202);
    let reset_code = mailed_code(&prepared.aws.endpoint, email).await;
    let new_password = format!("canary reset {}", xtask::local::request_id());
    let resetting = json!({"email": email, "code": reset_code, "password": new_password});
    let reset = event::proxy_event(
        &request("POST", "/password/reset", &json_headers, Some(&resetting)),
        &route(named("reset")),
        &at,
        None,
    );
    let was_reset = running[&named("reset")].invoke(&reset).await;
    assert_eq!(was_reset["statusCode"], 200, "{was_reset}");

    let mut output = BTreeMap::new();
    for (function, process) in running {
        output.insert(function, process.stop().await);
    }

    // What was stored: the password's Argon2id hash, encrypted with KMS bound to the email.
    let sdk = xtask::local::data::sdk_config(&prepared.aws.endpoint, &prepared.aws.region).await;
    let signup_env = &prepared.api.functions[&named("signup")].env;
    let stored =
        auth::config::SignupConfig::from_lookup(|name| signup_env.get(name).cloned()).unwrap_or_else(|e| panic!("{e}"));
    let email = auth::validate::Email::parse(email).unwrap_or_else(|e| panic!("{e}"));
    let store = auth::store::dynamo::DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), stored.table_name);
    let user = store.get(&email).await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|| panic!("no user"));
    let cipher = auth::password::kms::KmsCipher::new(aws_sdk_kms::Client::new(&sdk), stored.key_arn);
    let phc = cipher.decrypt(&user.encrypted_hash, &email).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(phc.starts_with(b"$argon2id$"), "{}", String::from_utf8_lossy(&phc));
    let authorizer_env = &prepared.api.functions[&named("authorizer")].env;
    let secret_arn = auth::config::AuthorizerConfig::from_lookup(|name| authorizer_env.get(name).cloned())
        .unwrap_or_else(|e| panic!("{e}"))
        .secret_arn;
    let secret = aws_sdk_secretsmanager::Client::new(&sdk)
        .get_secret_value()
        .secret_id(secret_arn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .secret_string
        .unwrap_or_default();

    let code_secret_arn = stored.codes.code_secret_arn.clone();
    let code_secret = aws_sdk_secretsmanager::Client::new(&sdk)
        .get_secret_value()
        .secret_id(code_secret_arn)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"))
        .secret_string
        .unwrap_or_default();

    let secrets: Vec<(String, String)> = [
        forms("the password", password.as_bytes()),
        forms("the password hash", &phc),
        forms("the encrypted password hash", &user.encrypted_hash),
        forms("the token", token.as_bytes()),
        forms("the token's signature", token.rsplit('.').next().unwrap_or_default().as_bytes()),
        forms("the first refresh token", first_refresh.as_bytes()),
        forms("the second refresh token", second_refresh.as_bytes()),
        forms("the signing secret", secret.as_bytes()),
        forms("the verification code", verification_code.as_bytes()),
        forms("the reset code", reset_code.as_bytes()),
        forms("the new password", new_password.as_bytes()),
        forms("the code secret", code_secret.as_bytes()),
    ]
    .concat();
    for (function, text) in &output {
        // The settings took: each function says so at DEBUG, which only a raised level shows (our crates
        // at trace, the dependencies at info).
        let announced = text.lines().any(|l| l.contains("log levels") && l.contains("trace") && l.contains("info"));
        assert!(announced, "{function} did not log at TRACE:\n{text}");
        for (what, value) in &secrets {
            assert!(value.len() >= 8, "{what} is too short to look for: {value:?}");
            assert!(!text.contains(value.as_str()), "{function} logged {what} at TRACE:\n{text}");
        }
    }
    drop(prepared);
}

/// Issue 25's race at the full concurrency of the real function: several signin processes, as Lambda runs
/// them side by side, against the emulator's tables. With the email's day one failure short of full,
/// 16 guesses from addresses past their grace get one password check between them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attack_the_emails_daily_bound_raced_across_signin_processes_gets_one_password_check() {
    use auth::lockout::{AttemptStore as _, CounterKey, GRACE_ATTEMPTS, Protection};
    const PROCESSES: usize = 8;
    // The day's bound lowered from the stage's 200 to 20: the race is at its edge, whatever the edge.
    let mut config = config();
    config.stages.get_mut("dev").unwrap_or_else(|| panic!("no dev stage")).lockout.daily_per_email = 20;
    let stage = config.stage("dev").unwrap_or_else(|e| panic!("{e}"));
    let lockout = &stage.lockout;
    let protection = Protection {
        max_failures: lockout.max_failures,
        window_seconds: u64::from(lockout.window_seconds),
        cooldown_seconds: u64::from(lockout.cooldown_seconds),
        daily_per_address: lockout.daily_per_address,
        daily_per_email: lockout.daily_per_email,
    };
    let (binaries, prepared, at) = deployed(&config).await;
    let named = |name: &str| Function::find(&config.functions, name).cloned().unwrap_or_else(|| panic!("no {name}"));
    let (signin, signup) = (named("signin"), named("signup"));
    let route = |f: &Function| {
        prepared.api.routes.iter().find(|r| r.function == *f).unwrap_or_else(|| panic!("no route for {f}")).clone()
    };
    let json_headers = [("content-type", "application/json")];
    let email = format!("edge-{}@example.com", xtask::local::request_id()).to_ascii_lowercase();
    let signup_process = start(&prepared, &binaries, signup.clone()).await;
    let credentials = json!({"email": email, "password": "plum harbor quietly juggles"});
    let created = signup_process
        .invoke(&event::proxy_event(
            &request("POST", "/signup", &json_headers, Some(&credentials)),
            &route(&signup),
            &at,
            None,
        ))
        .await;
    assert_eq!(created["statusCode"], 202, "{created}");
    signup_process.stop().await;
    let verify = named("verify");
    let verify_process = start(&prepared, &binaries, verify.clone()).await;
    let mut confirm = credentials.clone();
    confirm["code"] = json!(mailed_code(&prepared.aws.endpoint, &email).await);
    let verified = verify_process
        .invoke(&event::proxy_event(
            &request("POST", "/signup/verify", &json_headers, Some(&confirm)),
            &route(&verify),
            &at,
            None,
        ))
        .await;
    assert_eq!(verified["statusCode"], 200, "{verified}");
    verify_process.stop().await;

    // The email's day one short of full, and 16 addresses that each used their grace today, written to
    // the emulator's attempts table as the functions would have.
    let table = prepared.api.functions[&signin].env["AUTH_ATTEMPTS_TABLE_NAME"].clone();
    let sdk = xtask::local::data::sdk_config(&prepared.aws.endpoint, &prepared.aws.region).await;
    let store = auth::lockout::dynamo::DynamoAttempts::new(aws_sdk_dynamodb::Client::new(&sdk), table);
    let parsed = auth::validate::Email::parse(&email).unwrap_or_else(|e| panic!("{e}"));
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    for _ in 1..protection.daily_per_email {
        let claimed = store.claim(&CounterKey::email_day(&parsed), now, &protection.email_day()).await;
        assert!(claimed.is_ok_and(|c| c.is_ok()));
    }
    let addresses: Vec<String> = (10..26).map(|i| format!("198.51.100.{i}")).collect();
    for address in &addresses {
        for _ in 0..=GRACE_ATTEMPTS {
            let claimed = store.claim(&CounterKey::address_day(&parsed, address), now, &protection.address_day()).await;
            assert!(claimed.is_ok_and(|c| c.is_ok()));
        }
    }

    let mut processes = Vec::new();
    for _ in 0..PROCESSES {
        processes.push(std::sync::Arc::new(start(&prepared, &binaries, signin.clone()).await));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, address) in addresses.iter().enumerate() {
        let process = std::sync::Arc::clone(&processes[i % PROCESSES]);
        let guess = json!({"email": email, "password": format!("guess number {i}")});
        let mut attempt = request("POST", "/signin", &json_headers, Some(&guess));
        attempt.source_ip.clone_from(address);
        let payload = event::proxy_event(&attempt, &route(&signin), &at, None);
        tasks.spawn(async move { process.invoke(&payload).await["statusCode"].as_u64().unwrap_or(0) });
    }
    let mut statuses = Vec::new();
    while let Some(status) = tasks.join_next().await {
        statuses.push(status.unwrap_or_else(|e| panic!("{e}")));
    }
    statuses.sort_unstable();
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 1, "password checks: {statuses:?}");
    assert!(statuses.iter().all(|s| *s == 401 || *s == 429), "{statuses:?}");
    for process in processes {
        if let Ok(process) = std::sync::Arc::try_unwrap(process) {
            process.stop().await;
        }
    }
}
