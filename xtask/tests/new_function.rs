//! `cargo xtask new function` for real, in a scratch copy of the workspace: endpoints added, the
//! templates synthesized and linted, the new crates formatted, linted with clippy and tested, the
//! functions built and served by `cargo xtask local`, then removed again.
//!
//! The copy (outside this workspace, see below) builds into this workspace's own target directory. Cargo names a workspace member's
//! artifacts by its path inside its workspace, so the copy's crates get this workspace's hashes; and
//! with declarations as data, the copy's existing crates are byte-identical to this checkout's (copied
//! with their modification times), so cargo finds them fresh and builds nothing but the new crates.
//! The copy's `cargo xtask` is this workspace's binary; no dependency is compiled again.
use std::io::{BufRead as _, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// `cargo <args>` in the copy, building into `target` (this workspace's target directory).
fn cargo(workspace: &Path, target: &Path, args: &[&str]) -> Command {
    let mut command = xtask::bench::scaffold::cargo(workspace, target);
    command.args(args);
    command
}

fn succeed(mut command: Command, what: &str) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{what} failed:\n{text}");
    text
}

fn git(workspace: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .current_dir(workspace)
        .args(["-c", "user.name=test", "-c", "user.email=test@example.com"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("git {args:?}: {e}"));
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `cargo xtask local` in its own process group, stopped as Ctrl-C would when dropped, also when the
/// test fails half-way: nothing it started is left running.
struct Served(std::process::Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-INT", "--", &format!("-{}", self.0.id())]).status();
        let _ = self.0.wait();
    }
}

async fn call(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut req = hyper::Request::builder().method(method).uri(url);
    if let Some(token) = token {
        req = req.header("Authorization", format!("Bearer {token}"));
    }
    let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
    let res = client.request(req.body(Full::new(body)).unwrap_or_else(|e| panic!("{e}"))).await;
    let res = res.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await.unwrap_or_else(|e| panic!("{e}")).to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// The functions the test adds: a private route with snake_case and camelCase parameters, a public
/// one, one that reads the caller's user, and one whose path is far longer than a line of code.
const ADDED: [(&str, &[&str]); 4] = [
    ("orders", &["--method", "GET", "--path", "/orders/{order_id}"]),
    ("status", &["--method", "GET", "--path", "/status", "--public"]),
    ("me", &["--method", "GET", "--path", "/me", "--reads-users"]),
    (
        "reports",
        &[
            "--method",
            "PUT",
            "--path",
            "/organizations/{organizationId}/reporting-periods/{reporting_period_id}/line-items/{line_item_identifier}",
        ],
    ),
];

fn status(workspace: &Path) -> Vec<String> {
    let mut lines: Vec<String> =
        git(workspace, &["status", "--porcelain", "--untracked-files=normal"]).lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

#[test]
fn new_endpoints_are_declared_synthesized_linted_built_and_served() {
    let main = devenv::workspace_root().unwrap_or_else(|e| panic!("{e}"));
    let target = devenv::target_dir().unwrap_or_else(|e| panic!("{e}"));
    // Outside this workspace: cargo records a source under the target directory's parent by that path,
    // so a copy inside target/ would make this workspace's artifacts depend on the copy's files. Outside,
    // each source is recorded relative to its crate, the same in both trees.
    let scratch = std::env::temp_dir().join(format!("xtask-new-function-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let workspace = scratch.join("workspace");
    xtask::bench::scaffold::copy_workspace(&main, &workspace).unwrap_or_else(|e| panic!("{e:#}"));
    let venv = devenv::ensure(&mut |line| eprintln!("{line}")).unwrap_or_else(|e| panic!("{e}"));

    git(&workspace, &["init", "--quiet"]);
    git(&workspace, &["add", "--all"]);
    git(&workspace, &["commit", "--quiet", "--message", "copy"]);

    // One crate, and the lock file's entry for it: nothing else is written.
    let (name, args) = ADDED[0];
    let mut command = cargo(&workspace, &target, &["xtask", "new", "function", name]);
    command.args(args);
    let added = succeed(command, "new function orders");
    assert!(added.contains("added orders at GET /orders/{order_id} (behind the JWT authorizer)"), "{added}");
    assert_eq!(status(&workspace), [" M Cargo.lock", "?? handlers/orders/"]);
    for (name, args) in &ADDED[1..] {
        let mut command = cargo(&workspace, &target, &["xtask", "new", "function", name]);
        command.args(*args);
        succeed(command, &format!("new function {name}"));
    }
    let mut expected: Vec<String> =
        ADDED.iter().map(|(f, _)| format!("?? handlers/{f}/")).chain([" M Cargo.lock".to_owned()]).collect();
    expected.sort();
    assert_eq!(status(&workspace), expected, "the new crates and the lock file, nothing else");

    refused_writes_nothing(&workspace, &target);
    synthesized_and_linted(&workspace, &target, &venv);
    generated_code_passes_the_checks(&workspace, &target);
    served(&workspace, &target);

    // Settings in stages.toml, in any spelling, keep a function from being removed (exit 2, nothing
    // touched), naming the place.
    let stages_path = workspace.join("stages.toml");
    let stages = std::fs::read_to_string(&stages_path).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(&stages_path, format!("{stages}\n[stages.dev.functions.\"orders\"]\nmemory_mb = 512\n")).unwrap();
    let refused = cargo(&workspace, &target, &["xtask", "remove", "function", "orders"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("still configures `orders`") && stderr.contains("stages.toml:"), "{stderr}");
    assert!(workspace.join("handlers/orders/Cargo.toml").exists());
    std::fs::write(&stages_path, stages).unwrap();

    // Removed again and synthesized, leaving the tree exactly as it was, lock file included.
    for (name, _) in ADDED {
        succeed(cargo(&workspace, &target, &["xtask", "remove", "function", name]), "remove function");
    }
    succeed(cargo(&workspace, &target, &["xtask", "synth"]), "synth after removal");
    assert_eq!(git(&workspace, &["status", "--porcelain"]), "", "remove leaves nothing behind");
    let _ = std::fs::remove_dir_all(&scratch);
}

/// Bad input to `new function` writes nothing.
fn refused_writes_nothing(workspace: &Path, target: &Path) {
    // Bad input writes nothing.
    let state = || {
        let untracked = git(workspace, &["ls-files", "--others", "--exclude-standard"]);
        let contents: Vec<Vec<u8>> =
            untracked.lines().map(|f| std::fs::read(workspace.join(f)).unwrap_or_default()).collect();
        (git(workspace, &["diff"]), untracked, contents)
    };
    let before = state();
    for (args, why) in [
        (["orders", "--method", "GET", "--path", "/x"], "already declared"),
        (["items", "--method", "GET", "--path", "/orders/{key}"], "clashes with orders"),
        (["items", "--method", "TRACE", "--path", "/items"], "not one of"),
        (["Items", "--method", "GET", "--path", "/items"], "cannot name a function"),
    ] {
        let mut command = cargo(workspace, target, &["xtask", "new", "function"]);
        let refused = command.args(args).output().unwrap_or_else(|e| panic!("{e}"));
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
    }
    assert!(state() == before, "a refused `new function` changed the tree");
}

/// synth takes the new declarations in; the templates lint clean with cfn-lint and checkov.
fn synthesized_and_linted(workspace: &Path, target: &Path, venv: &devenv::Venv) {
    // synth takes the new declarations in; the templates lint clean with cfn-lint and checkov.
    succeed(cargo(workspace, target, &["xtask", "synth"]), "synth");
    succeed(cargo(workspace, target, &["xtask", "synth", "--check"]), "synth --check");
    let templates: Vec<PathBuf> =
        ["dev", "staging", "prod"].iter().map(|s| workspace.join("templates").join(s).join("api.yaml")).collect();
    let lint = xtask::lint::cfn_lint(venv, "us-east-1", &templates).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(lint.success, "cfn-lint:\n{}", lint.output);
    let checkov = xtask::lint::checkov(venv, &templates).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(checkov.success, "checkov:\n{}", checkov.output);
    let iam = std::fs::read_to_string(workspace.join("templates/dev/iam.md")).unwrap_or_default();
    assert!(iam.contains("role/auth-dev-orders") && iam.contains("role/auth-dev-reports"), "{iam}");
}

/// The generated code passes what the test command enforces, long path and all, and its unit tests.
fn generated_code_passes_the_checks(workspace: &Path, target: &Path) {
    // The generated code passes what the test command enforces, long path and all, and its unit tests.
    let packages: Vec<&str> = ADDED.iter().flat_map(|(f, _)| ["-p", *f]).collect();
    let mut fmt = cargo(workspace, target, &["fmt", "--check"]);
    fmt.args(&packages);
    succeed(fmt, "cargo fmt --check on the new crates");
    let mut clippy = cargo(workspace, target, &["clippy", "--quiet", "--all-targets"]);
    clippy.args(&packages).args(["--", "-D", "warnings"]);
    succeed(clippy, "cargo clippy -D warnings on the new crates");
    let mut tests = cargo(workspace, target, &["test", "--quiet"]);
    tests.args(&packages);
    succeed(tests, "the new crates' tests");
}

/// Served: 401 without a token, the caller and the parameters with one; the public route open.
fn served(workspace: &Path, target: &Path) {
    // Served: 401 without a token, the caller and the parameters with one; the public route open.
    let mut local = cargo(workspace, target, &["xtask", "local", "--port", "0", "--quiet"]);
    let mut served = Served(
        local
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting xtask local: {e}")),
    );
    let stdout = served.0.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut lines = BufReader::new(stdout).lines();
    let (mut url, mut moto) = (None, None);
    for line in lines.by_ref().map_while(Result::ok) {
        if let Some(endpoint) = line.split("AWS emulator at ").nth(1) {
            moto = Some(endpoint.trim_end_matches(')').to_owned());
        }
        if let Some(u) = line.strip_prefix("listening on ") {
            url = Some(u.trim().to_owned());
            break;
        }
    }
    // Keep reading: the command logs every request, and a closed pipe would end it.
    let drain = std::thread::spawn(move || lines.map_while(Result::ok).count());
    let (Some(url), Some(moto)) = (url, moto) else { panic!("xtask local never printed its URL and emulator") };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    let outcome = runtime.block_on(async {
        let credentials = json!({"email": "carol@example.com", "password": "plum harbor quietly juggles"});
        let (signed_up, _) = call("POST", &format!("{url}/signup"), None, Some(credentials.clone())).await;
        let mail = xtask::local::mailbox::emulator_mail(&moto).await.unwrap_or_else(|e| panic!("{e:#}"));
        let code = xtask::local::mailbox::last_code(&mail, "carol@example.com").unwrap_or_else(|| panic!("no code"));
        let mut confirm = credentials.clone();
        confirm["code"] = json!(code);
        let (verified, _) = call("POST", &format!("{url}/signup/verify"), None, Some(confirm)).await;
        let (signed_in, body) = call("POST", &format!("{url}/signin"), None, Some(credentials)).await;
        let token = body["token"].as_str().unwrap_or_default().to_owned();
        let anonymous = call("GET", &format!("{url}/orders/42"), None, None).await;
        let private = call("GET", &format!("{url}/orders/42"), Some(&token), None).await;
        let public = call("GET", &format!("{url}/status"), None, None).await;
        let me = call("GET", &format!("{url}/me"), Some(&token), None).await;
        let long = format!("{url}/organizations/o1/reporting-periods/2026q4/line-items/7");
        let report = call("PUT", &long, Some(&token), None).await;
        ((signed_up, verified, signed_in), anonymous, private, public, me, report)
    });
    drop(served);
    let _ = drain.join();
    let (signed_up, anonymous, private, public, me, report) = outcome;
    assert_eq!(signed_up, (202, 200, 200));
    assert_eq!(anonymous.0, 401, "{}", anonymous.1);
    assert_eq!(private, (200, json!({"message": "Hello, carol@example.com!", "path": {"order_id": "42"}})));
    assert_eq!(public, (200, json!({"message": "Hello!"})));
    // `me` read the caller's own row from the users table (in the emulator): when they signed up.
    assert_eq!(me.0, 200, "{}", me.1);
    assert_eq!(me.1["message"], "Hello, carol@example.com!");
    assert!(me.1["member_since"].as_u64().is_some_and(|t| t > 1_700_000_000), "{}", me.1);
    assert_eq!(
        report.1["path"],
        json!({"organizationId": "o1", "reporting_period_id": "2026q4", "line_item_identifier": "7"}),
        "{}",
        report.1
    );
}
