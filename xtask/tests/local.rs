//! `cargo xtask local` end to end: the real functions behind the local API Gateway and Runtime API,
//! with moto holding the data stack, driven over HTTP on free ports of 127.0.0.1.

mod support;

use std::io::{BufRead as _, BufReader};
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth::keys::SecretVersion;
use auth::token::{Claims, KeyRing, TokenSettings};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use xtask::local::{Local, Options};

struct Reply {
    status: u16,
    headers: hyper::HeaderMap,
    body: Value,
}

async fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<Value>) -> Reply {
    call_from(None, method, url, headers, body).await
}

/// [`call`] from a connection bound to `source`: on Linux every 127.x.y.z is this machine, so the
/// server sees another peer address, as it would another client.
async fn call_from(
    source: Option<IpAddr>,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let mut connector = HttpConnector::new();
    connector.set_local_address(source);
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let mut req = hyper::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
    let req = req.body(Full::new(body)).unwrap_or_else(|e| panic!("{e}"));
    let res = client.request(req).await.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.unwrap_or_else(|e| panic!("{e}")).to_bytes();
    let body =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Reply { status: parts.status.as_u16(), headers: parts.headers, body }
}

fn config() -> synth::Config {
    xtask::load_config(&xtask::default_config_path().unwrap_or_else(|e| panic!("{e:#}")))
        .unwrap_or_else(|e| panic!("{e:#}"))
}

/// The session an access token names (its `sid` claim).
fn sid_of(token: &str) -> String {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap_or_else(|| panic!("not a JWT: {token}"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap_or_else(|e| panic!("{e}"));
    let claims: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"));
    claims["sid"].as_str().unwrap_or_else(|| panic!("no sid in {claims}")).to_owned()
}

/// A token for `email` in session `sid`, valid from `iat` to `exp`, signed with the stage's real secret
/// read from moto.
async fn minted_token(local: &Local, email: &str, sid: &str, iat: u64, exp: u64) -> String {
    let config = config();
    let stage = config.stage("dev").unwrap_or_else(|e| panic!("{e}"));
    let names = synth::Names::new(&config.project, stage);
    let sdk = xtask::local::data::sdk_config(&local.moto_endpoint, &local.region).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let current = secrets
        .get_secret_value()
        .secret_id(names.secret())
        .version_stage("AWSCURRENT")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let version = SecretVersion {
        version_id: current.version_id.unwrap_or_default(),
        value: current.secret_string.unwrap_or_default().into_bytes(),
    };
    let keys = KeyRing::new(&version, None).unwrap_or_else(|e| panic!("{e}"));
    let settings =
        TokenSettings { issuer: names.token_issuer(), audience: names.token_audience(), lifetime_seconds: 3600 };
    let claims = Claims {
        sub: email.to_owned(),
        email: email.to_owned(),
        sid: sid.to_owned(),
        jti: "c3".repeat(16),
        iat,
        exp,
        nbf: None,
        iss: settings.issuer,
        aud: settings.audience,
    };
    auth::token::issue(&claims, &keys).unwrap_or_else(|e| panic!("{e}"))
}

fn listening(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Whether a process is gone: no /proc entry, or a zombie waiting for init to reap it.
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// The code in the newest mail to `to` in the server's mail file.
fn mailed_code(local: &Local, to: &str) -> String {
    let file = local.mail_file().unwrap_or_else(|| panic!("the server keeps no mail file"));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    xtask::local::mailbox::last_code_in(&text, to).unwrap_or_else(|| panic!("no code mailed to {to} in:\n{text}"))
}

fn moto_port(endpoint: &str) -> u16 {
    endpoint.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("no port in {endpoint}"))
}

/// `cargo xtask logs`, pointed at the emulator that received the local functions' output as CloudWatch
/// Logs would: the reset the walkthrough made is found as a security event, in both renderings.
fn the_logs_command_finds_what_the_functions_wrote(local: &Local) {
    let scratch = std::env::temp_dir();
    let logs = |extra: &[&str]| {
        let mut args = vec!["logs", "--stage", "dev", "--endpoint-url", &local.moto_endpoint, "--since", "1h"];
        args.extend(extra);
        let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
        let out = support::person::as_person(command.args(&args), &scratch).output();
        let out = out.unwrap_or_else(|e| panic!("running xtask logs: {e}"));
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // The functions' lines reach the emulator a moment after they are written.
    let mut shown = String::new();
    for _ in 0..20 {
        shown = logs(&["--function", "reset", "--filter", "password_reset"]);
        if !shown.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(shown.contains("     reset | !! SECURITY password_reset !! WARN  the password was reset"), "{shown}");
    assert!(!shown.contains("alice@example.com"), "{shown}");
    let json = logs(&["--filter", "password_reset", "--json"]);
    let events: Vec<Value> =
        json.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(!events.is_empty() && events.iter().all(|e| e["fields"]["event"] == "password_reset"), "{json}");
    let refused = logs(&["--function", "signin", "--filter", "signin refused"]);
    assert!(
        refused.lines().count() >= 2 && refused.lines().all(|l| l.contains("    signin | INFO  signin refused")),
        "{refused}"
    );
}

/// The walkthrough the command prints (and the README shows) works as printed: sign up, read the code
/// from the mail the server printed, verify, sign in, refresh, forget and reset the password (the old
/// session is gone), sign in with the new one and sign out.
async fn the_printed_walkthrough_runs(local: &Local) {
    let banner = local.banner();
    let script: String = banner
        .split("try it:\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").next())
        .unwrap_or_else(|| panic!("no walkthrough in {banner}"))
        .lines()
        .map(|l| format!("{}\n", l.trim_start()))
        .collect();
    let ran = tokio::process::Command::new("bash")
        .args(["-euc", &script])
        .output()
        .await
        .unwrap_or_else(|e| panic!("running the walkthrough: {e}"));
    let said = String::from_utf8_lossy(&ran.stdout);
    assert!(ran.status.success(), "{script}\n{said}{}", String::from_utf8_lossy(&ran.stderr));
    for answer in [
        r#"{"status":"verified"}"#,
        "Hello, alice@example.com!",
        r#"{"status":"password_reset"}"#,
        "invalid_refresh_token",
        r#""signed_out":"session""#,
    ] {
        assert!(said.contains(answer), "the walkthrough did not answer {answer}:\n{script}\n{said}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walkthrough_works_over_http_and_stop_leaves_nothing_running() {
    let options = Options { log_requests: true, ..Options::quiet("dev") };
    let local = Local::start(&config(), &options).await.unwrap_or_else(|e| panic!("{e:#}"));
    let url = local.url();
    // Not the walkthrough's alice, whom the walkthrough at the end signs up afresh.
    let (email, password) = ("ann@example.com", "plum harbor quietly juggles");
    let credentials = json!({"email": email, "password": password});

    let signup =
        call("POST", &format!("{url}/signup"), &[("content-type", "application/json")], Some(credentials.clone()))
            .await;
    assert_eq!((signup.status, &signup.body), (202, &json!({"status": "check_your_email"})));
    let code = mailed_code(&local, email);
    let verify = json!({"email": email, "code": code, "password": password});
    let verified = call("POST", &format!("{url}/signup/verify"), &[], Some(verify)).await;
    assert_eq!((verified.status, &verified.body), (200, &json!({"status": "verified"})));
    let again = call("POST", &format!("{url}/signup"), &[], Some(credentials.clone())).await;
    assert_eq!((again.status, &again.body), (202, &json!({"status": "check_your_email"})), "no word of the account");

    let signin = call("POST", &format!("{url}/signin"), &[], Some(credentials)).await;
    assert_eq!(signin.status, 200, "{}", signin.body);
    let token = signin.body["token"].as_str().unwrap_or_else(|| panic!("no token in {}", signin.body)).to_owned();
    let wrong =
        call("POST", &format!("{url}/signin"), &[], Some(json!({"email": email, "password": "not the password"})))
            .await;
    assert_eq!(wrong.status, 401);

    // No token: API Gateway answers from the identity source check, with the template's response.
    let anonymous = call("GET", &format!("{url}/hello"), &[], None).await;
    assert_eq!((anonymous.status, &anonymous.body), (401, &json!({"message": "Unauthorized"})));
    assert_eq!(anonymous.headers.get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"));

    let denied = json!({"message": "User is not authorized to access this resource with an explicit deny"});
    let garbage = call("GET", &format!("{url}/hello"), &[("Authorization", "not-a-token")], None).await;
    assert_eq!((garbage.status, &garbage.body), (403, &denied));
    // A token minted like signin's passes, so the same token expired an hour ago fails for its age.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let sid = sid_of(&token);
    let minted = minted_token(&local, email, &sid, now - 60, now + 600).await;
    let fresh = call("GET", &format!("{url}/hello"), &[("Authorization", &minted)], None).await;
    assert_eq!(fresh.status, 200, "{}", fresh.body);
    let expired = minted_token(&local, email, &sid, now - 7200, now - 3600).await;
    let stale = call("GET", &format!("{url}/hello"), &[("Authorization", &expired)], None).await;
    assert_eq!((stale.status, &stale.body), (403, &denied));
    // Signed with the real key but valid for ten years: longer than the stage issues tokens for.
    let decade = minted_token(&local, email, &sid, now - 60, now + 10 * 365 * 86_400).await;
    let long_lived = call("GET", &format!("{url}/hello"), &[("Authorization", &decade)], None).await;
    assert_eq!((long_lived.status, &long_lived.body), (403, &denied));

    let hello = call("GET", &format!("{url}/hello"), &[("Authorization", &token)], None).await;
    assert_eq!((hello.status, &hello.body), (200, &json!({"message": format!("Hello, {email}!")})));
    // The stage-prefixed path of the execute-api URL, a Bearer scheme, and the cached policy.
    let bearer = format!("Bearer {token}");
    let staged = call("GET", &format!("{url}/dev/hello"), &[("Authorization", &bearer)], None).await;
    assert_eq!((staged.status, &staged.body), (200, &json!({"message": format!("Hello, {email}!")})));
    let cached = call("GET", &format!("{url}/hello"), &[("Authorization", &token)], None).await;
    assert_eq!(cached.status, 200);
    assert!(cached.headers.contains_key("x-amzn-requestid"));

    let unknown = call("GET", &format!("{url}/nowhere"), &[], None).await;
    assert_eq!((unknown.status, &unknown.body), (403, &json!({"message": "Missing Authentication Token"})));
    let wrong_method = call("DELETE", &format!("{url}/signup"), &[], None).await;
    assert_eq!(wrong_method.status, 403);

    // Guessing passwords: after the stage's limit an email is locked, the right password refused, and
    // an email without an account gets the very same answer.
    let limit = config().stage("dev").unwrap_or_else(|e| panic!("{e}")).lockout.max_failures;
    let victim = json!({"email": "victim@example.com", "password": password});
    assert_eq!(call("POST", &format!("{url}/signup"), &[], Some(victim)).await.status, 202);
    let code = mailed_code(&local, "victim@example.com");
    let verify = json!({"email": "victim@example.com", "code": code, "password": password});
    assert_eq!(call("POST", &format!("{url}/signup/verify"), &[], Some(verify)).await.status, 200);
    let mut answers = Vec::new();
    for target in ["victim@example.com", "nobody@example.com"] {
        for i in 0..limit {
            let guess = json!({"email": target, "password": format!("guess number {i}")});
            assert_eq!(call("POST", &format!("{url}/signin"), &[], Some(guess)).await.status, 401);
        }
        let right = json!({"email": target, "password": password});
        answers.push(call("POST", &format!("{url}/signin"), &[], Some(right)).await);
    }
    for answer in &answers {
        assert_eq!((answer.status, &answer.body["error"]["code"]), (429, &json!("too_many_attempts")));
        assert!(answer.headers.contains_key("retry-after"));
    }
    assert_eq!(answers[0].body, answers[1].body, "a known and an unknown email are locked alike");

    the_printed_walkthrough_runs(&local).await;
    // A blocking wait for another process: off the runtime's worker.
    tokio::task::block_in_place(|| the_logs_command_finds_what_the_functions_wrote(&local));

    let pids = local.pids();
    assert_eq!(pids.len(), config().functions.len());
    let (api_port, moto) = (local.addr.port(), moto_port(&local.moto_endpoint));
    local.stop().await;
    assert!(!listening(api_port), "the API still listens after stop");
    assert!(!listening(moto), "moto still listens after stop");
    for (function, pid) in pids {
        assert!(gone(pid), "{function} (pid {pid}) still runs after stop");
    }
}

/// The attack of issue 25: a thief's access tokens, and a signed-out session's, kept working on private
/// routes until they expired. Now a session's end ends them within the stage's authorizer cache TTL (here
/// 2 s, so the test can wait it out), through the real authorizer and the emulated API Gateway's cache.
/// Its requests come from their own address, so they take nothing from another test's WAF budget.
async fn an_ended_sessions_access_tokens_stop_working_on_a_private_route_within_the_bound(
    url: &str,
    moto: &str,
    bound: Duration,
) {
    let from = Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)));
    let call = |method: &'static str, path: &'static str, token: Option<String>, body: Option<Value>| {
        let url = format!("{url}{path}");
        async move {
            let bearer = token.unwrap_or_default();
            let headers: Vec<(&str, &str)> =
                if bearer.is_empty() { Vec::new() } else { vec![("Authorization", bearer.as_str())] };
            call_from(from, method, &url, &headers, body).await
        }
    };
    let credentials = json!({"email": "grace@example.com", "password": "velvet tractor orbit lemonade"});
    assert_eq!(call("POST", "/signup", None, Some(credentials.clone())).await.status, 202);
    let mail = xtask::local::mailbox::emulator_mail(moto).await.unwrap_or_else(|e| panic!("{e:#}"));
    let code = xtask::local::mailbox::last_code(&mail, "grace@example.com").unwrap_or_else(|| panic!("no code"));
    let mut confirm = credentials.clone();
    confirm["code"] = json!(code);
    assert_eq!(call("POST", "/signup/verify", None, Some(confirm)).await.status, 200);
    let mut sessions = Vec::new();
    for _ in 0..3 {
        let signin = call("POST", "/signin", None, Some(credentials.clone())).await;
        assert_eq!(signin.status, 200, "{}", signin.body);
        sessions.push(signin.body);
    }
    let [signed_out, stolen, kept] = <[Value; 3]>::try_from(sessions).unwrap_or_else(|_| panic!("three sessions"));
    let text = |v: &Value, field: &str| v[field].as_str().unwrap_or_else(|| panic!("no {field} in {v}")).to_owned();
    for session in [&signed_out, &stolen, &kept] {
        assert_eq!(call("GET", "/hello", Some(text(session, "token")), None).await.status, 200);
    }
    // Sign out of one session; the thief refreshes the stolen one twice, then its owner's spent token
    // comes back: reuse, which ends that session.
    let out = json!({"refresh_token": text(&signed_out, "refresh_token")});
    assert_eq!(call("POST", "/signout", Some(text(&signed_out, "token")), Some(out)).await.status, 200);
    let refresh = |token: String| call("POST", "/refresh", None, Some(json!({"refresh_token": token})));
    let first = refresh(text(&stolen, "refresh_token")).await;
    let second = refresh(text(&first.body, "refresh_token")).await;
    assert_eq!((first.status, second.status), (200, 200), "{} {}", first.body, second.body);
    assert_eq!(refresh(text(&stolen, "refresh_token")).await.status, 401, "reuse");

    tokio::time::sleep(bound + Duration::from_millis(500)).await;
    for (token, what) in [
        (text(&signed_out, "token"), "the signed-out session's"),
        (text(&stolen, "token"), "the owner's, in the reused session"),
        (text(&first.body, "token"), "the thief's first"),
        (text(&second.body, "token"), "the thief's latest"),
    ] {
        assert_eq!(
            call("GET", "/hello", Some(token), None).await.status,
            403,
            "{what} access token still works after the bound"
        );
    }
    assert_eq!(call("GET", "/hello", Some(text(&kept, "token")), None).await.status, 200, "the other session stands");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ip_flood_on_signin_gets_wafs_429_and_other_addresses_do_not() {
    // The dev stage with a 2 s authorizer cache TTL, so that the session test below can wait its bound out;
    // the flood does not depend on it.
    let mut config = config();
    let stage = config.stages.get_mut("dev").unwrap_or_else(|| panic!("no dev stage"));
    stage.authorizer_cache_ttl_seconds = 2;
    let bound = Duration::from_secs(u64::from(stage.authorizer_cache_ttl_seconds));
    let limits = stage.ip_rate_limits.unwrap_or_else(|| panic!("the dev stage in stages.toml has per-IP limits"));
    let options = Options::quiet("dev");
    let local = Local::start(&config, &options).await.unwrap_or_else(|e| panic!("{e:#}"));
    let url = local.url();
    // One emulator start serves two tests: the session's end first, from its own address.
    an_ended_sessions_access_tokens_stop_working_on_a_private_route_within_the_bound(&url, &local.moto_endpoint, bound)
        .await;
    // Refused by signin's validation, so the flood is cheap: no Argon2id, no lookup.
    let cheap = json!({"email": "flood"});
    let signin = format!("{url}/signin");
    for i in 1..=limits.auth {
        let reply = call("POST", &signin, &[], Some(cheap.clone())).await;
        assert_eq!(reply.status, 400, "request {i} of {}, within the limit: {}", limits.auth, reply.body);
    }
    let over = call("POST", &signin, &[], Some(cheap.clone())).await;
    assert_eq!((over.status, &over.body), (429, &json!({"message": "Too Many Requests"})));
    assert_eq!(over.headers.get("content-type").and_then(|v| v.to_str().ok()), Some("application/json"));

    // The same address stays blocked however it spells the path or whatever it claims to be.
    let forged = [("X-Forwarded-For", "203.0.113.7"), ("X-Real-IP", "203.0.113.7")];
    for path in ["/signin", "/dev/signin", "/dev/signin/", "/SIGNIN", "/signup"] {
        let reply = call("POST", &format!("{url}{path}"), &forged, Some(cheap.clone())).await;
        assert_eq!(reply.status, 429, "POST {path} from the flooding address: {}", reply.body);
    }
    // Its other requests are under the looser limit on every path: hello answers as ever.
    let hello = call("GET", &format!("{url}/hello"), &[], None).await;
    assert_eq!(hello.status, 401, "{}", hello.body);
    // Another client is not held back by this one's flood.
    let other = Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    let reply = call_from(other, "POST", &signin, &[], Some(cheap)).await;
    assert_eq!(reply.status, 400, "another address: {}", reply.body);
    local.stop().await;
}

#[test]
fn the_command_prints_its_url_and_ctrl_c_stops_everything() {
    // In a process group of its own, so that signalling the group is what Ctrl-C in a terminal does.
    let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["local", "--port", "0", "--quiet"])
        .process_group(0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting xtask local: {e}"));
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    let errors = std::thread::spawn(move || {
        BufReader::new(stderr).lines().map_while(Result::ok).collect::<Vec<String>>().join("\n")
    });
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut lines = BufReader::new(stdout).lines();
    let (mut url, mut moto, mut pids) = (None, None, Vec::new());
    let mut seen = String::new();
    for line in lines.by_ref().map_while(Result::ok) {
        seen.push_str(&line);
        seen.push('\n');
        if let Some(endpoint) = line.split("AWS emulator at ").nth(1) {
            moto = Some(moto_port(endpoint.trim_end_matches(')')));
        }
        if let Some(list) = line.trim().strip_prefix("function processes: ") {
            pids = list.split(", ").filter_map(|p| p.rsplit(' ').next()?.parse::<u32>().ok()).collect();
        }
        if let Some(u) = line.strip_prefix("listening on ") {
            url = Some(u.trim().to_owned());
            break;
        }
    }
    let Some(url) = url else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("xtask local never printed its URL:\n{seen}\n{}", errors.join().unwrap_or_default());
    };
    assert!(seen.contains("curl") && seen.contains("/signup") && seen.contains("Authorization: $TOKEN"), "{seen}");
    assert_eq!(pids.len(), config().functions.len(), "{seen}");
    let moto = moto.unwrap_or_else(|| panic!("no emulator port in:\n{seen}"));

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    let anonymous = runtime.block_on(call("GET", &format!("{url}/hello"), &[], None));
    assert_eq!(anonymous.status, 401);

    let status = Command::new("kill")
        .args(["-INT", "--", &format!("-{}", child.id())])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success());
    // The command finishes its stop report, then exits 0.
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let exit = child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(exit.code(), Some(0), "{}", rest.join("\n"));
    assert!(rest.iter().any(|l| l.contains("/hello") && l.contains(" 401 ")), "the request was not logged: {rest:?}");
    assert!(rest.iter().any(|l| l.starts_with("stopped")), "{rest:?}");
    let errors = errors.join().unwrap_or_default();
    assert!(
        !errors.contains("exited with") && !errors.contains("error:"),
        "Ctrl-C was reported as a failure:\n{errors}"
    );
    let port = url.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or(0);
    assert!(!listening(port), "the API still listens after Ctrl-C");
    assert!(!listening(moto), "moto still listens after Ctrl-C");
    for pid in pids {
        assert!(gone(pid), "function pid {pid} still runs after Ctrl-C");
    }
}
