//! `cargo xtask new function` for real, in a scratch copy of the workspace: two endpoints added, the
//! templates synthesized and linted, the functions built, and the API served by `cargo xtask local`.
//!
//! The copy builds into a target directory of its own (`target/scratch-target`). Sharing this
//! workspace's would be wrong: cargo names a workspace member's artifacts by the member's path inside
//! its workspace, so the copy's members would get this workspace's hashes, and building the copy's
//! changed sources would overwrite artifacts this workspace then takes as fresh. The separate
//! directory is kept between runs, so only the first run on a machine (and every CI run, from a clean
//! clone) builds the copy from nothing; the Python tools are shared (a link to this workspace's venv).

#[path = "support/scratch.rs"]
mod scratch;

use std::io::{BufRead as _, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// The workspace's files as git knows them (tracked, and new files not ignored), copied to `to`.
fn copy_workspace(from: &Path, to: &Path) {
    let listed = Command::new("git")
        .current_dir(from)
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .output()
        .unwrap_or_else(|e| panic!("git ls-files: {e}"));
    assert!(listed.status.success(), "git ls-files failed");
    for path in listed.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let relative = Path::new(std::str::from_utf8(path).unwrap_or_else(|e| panic!("{e}")));
        let source = from.join(relative);
        if !source.is_file() {
            continue; // deleted in the work tree, not yet in the index
        }
        let target = to.join(relative);
        std::fs::create_dir_all(target.parent().unwrap_or(to)).unwrap_or_else(|e| panic!("{e}"));
        std::fs::copy(&source, &target).unwrap_or_else(|e| panic!("copying {}: {e}", source.display()));
    }
}

/// `cargo <args>` in the copy, building into its own target directory.
fn cargo(workspace: &Path, target: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace).args(args).env("CARGO_TARGET_DIR", target);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_") || name == "CARGO_MANIFEST_DIR" || name == "CARGO_PRIMARY_PACKAGE" {
            command.env_remove(name.as_ref());
        }
    }
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

#[test]
fn new_endpoints_are_declared_synthesized_linted_built_and_served() {
    let main = devenv::workspace_root().unwrap_or_else(|e| panic!("{e}"));
    let main_target = devenv::target_dir().unwrap_or_else(|e| panic!("{e}"));
    let scratch = scratch::dir("new-function");
    let workspace = scratch.join("workspace");
    copy_workspace(&main, &workspace);
    let target: PathBuf = main_target.join("scratch-target");
    std::fs::create_dir_all(&target).unwrap_or_else(|e| panic!("{e}"));
    // The Python tools: this workspace's venv, installed from the same requirements.
    let venv = devenv::ensure(&mut |line| eprintln!("{line}")).unwrap_or_else(|e| panic!("{e}"));
    let _ = std::fs::remove_file(target.join("venv"));
    std::os::unix::fs::symlink(venv.root(), target.join("venv")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::copy(main_target.join("venv-requirements.txt"), target.join("venv-requirements.txt"))
        .unwrap_or_else(|e| panic!("{e}"));

    git(&workspace, &["init", "--quiet"]);
    git(&workspace, &["add", "--all"]);
    git(&workspace, &["commit", "--quiet", "--message", "copy"]);

    // A private route with a path parameter, and a public one.
    let added = succeed(
        cargo(
            &workspace,
            &target,
            &["xtask", "new", "function", "orders", "--method", "GET", "--path", "/orders/{id}"],
        ),
        "new function orders",
    );
    assert!(added.contains("added orders at GET /orders/{id} (behind the JWT authorizer)"), "{added}");
    succeed(
        cargo(
            &workspace,
            &target,
            &["xtask", "new", "function", "status", "--method", "GET", "--path", "/status", "--public"],
        ),
        "new function status",
    );
    // And one that reads the caller's own user row.
    succeed(
        cargo(
            &workspace,
            &target,
            &["xtask", "new", "function", "me", "--method", "GET", "--path", "/me", "--reads-users"],
        ),
        "new function me",
    );
    let mut changed: Vec<String> =
        git(&workspace, &["status", "--porcelain", "--untracked-files=normal"]).lines().map(str::to_owned).collect();
    changed.sort();
    let mut expected: Vec<String> = [" M Cargo.lock", " M handlers/contract/src/functions.rs"]
        .iter()
        .map(|s| (*s).to_owned())
        .chain(["me", "orders", "status"].map(|f| format!("?? handlers/{f}/")))
        .collect();
    for stage in ["dev", "prod", "staging"] {
        expected.push(format!(" M templates/{stage}/api.yaml"));
        expected.push(format!(" M templates/{stage}/iam.md"));
    }
    expected.sort();
    assert_eq!(changed, expected, "the new crates, the declaration and the templates, nothing else");

    // Bad input writes nothing: the diff, the new files and their contents stay as they were.
    let state = || {
        let untracked = git(&workspace, &["ls-files", "--others", "--exclude-standard"]);
        let contents: Vec<Vec<u8>> =
            untracked.lines().map(|f| std::fs::read(workspace.join(f)).unwrap_or_default()).collect();
        (git(&workspace, &["diff"]), untracked, contents)
    };
    let before = state();
    for (args, why) in [
        (["orders", "--method", "GET", "--path", "/x"], "already declared"),
        (["items", "--method", "GET", "--path", "/orders/{key}"], "clashes with orders"),
        (["items", "--method", "TRACE", "--path", "/items"], "not one of"),
        (["Items", "--method", "GET", "--path", "/items"], "cannot name a function"),
    ] {
        let mut command = cargo(&workspace, &target, &["xtask", "new", "function"]);
        let refused = command.args(args).output().unwrap_or_else(|e| panic!("{e}"));
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_eq!(refused.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(why), "{args:?}: {stderr}");
    }
    assert!(state() == before, "a refused `new function` changed the tree");

    // The templates are current, and lint clean with cfn-lint and checkov.
    succeed(cargo(&workspace, &target, &["xtask", "synth", "--check"]), "synth --check");
    let templates: Vec<PathBuf> =
        ["dev", "staging", "prod"].iter().map(|s| workspace.join("templates").join(s).join("api.yaml")).collect();
    let lint = xtask::lint::cfn_lint(&venv, "us-east-1", &templates).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(lint.success, "cfn-lint:\n{}", lint.output);
    let checkov = xtask::lint::checkov(&venv, &templates).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(checkov.success, "checkov:\n{}", checkov.output);
    let iam = std::fs::read_to_string(workspace.join("templates/dev/iam.md")).unwrap_or_default();
    assert!(iam.contains("role/auth-dev-orders") && iam.contains("role/auth-dev-status"), "{iam}");

    // The crates' own unit tests, and a build of every function.
    succeed(cargo(&workspace, &target, &["test", "--quiet", "-p", "orders", "-p", "status"]), "the new crates' tests");
    succeed(cargo(&workspace, &target, &["xtask", "build", "--debug"]), "xtask build --debug");

    // Served: 401 without a token, the caller and the parameter with one; the public route open.
    let mut local = cargo(&workspace, &target, &["xtask", "local", "--port", "0", "--quiet"]);
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
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("listening on ").map(|u| u.trim().to_owned()));
    // Keep reading: the command logs every request, and a closed pipe would end it.
    let drain = std::thread::spawn(move || lines.map_while(Result::ok).count());
    let Some(url) = url else { panic!("xtask local never printed its URL") };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    let outcome = runtime.block_on(async {
        let credentials = json!({"email": "carol@example.com", "password": "correct horse battery staple"});
        let (signed_up, _) = call("POST", &format!("{url}/signup"), None, Some(credentials.clone())).await;
        let (signed_in, body) = call("POST", &format!("{url}/signin"), None, Some(credentials)).await;
        let token = body["token"].as_str().unwrap_or_default().to_owned();
        let anonymous = call("GET", &format!("{url}/orders/42"), None, None).await;
        let private = call("GET", &format!("{url}/orders/42"), Some(&token), None).await;
        let public = call("GET", &format!("{url}/status"), None, None).await;
        let me = call("GET", &format!("{url}/me"), Some(&token), None).await;
        (signed_up, signed_in, anonymous, private, public, me)
    });
    drop(served);
    let _ = drain.join();
    let (signed_up, signed_in, anonymous, private, public, me) = outcome;
    assert_eq!((signed_up, signed_in), (201, 200));
    assert_eq!(anonymous.0, 401, "{}", anonymous.1);
    assert_eq!(private, (200, json!({"message": "Hello, carol@example.com!", "id": "42"})));
    assert_eq!(public, (200, json!({"message": "Hello!"})));
    // `me` read the caller's own row from the users table (in the emulator): when they signed up.
    assert_eq!(me.0, 200, "{}", me.1);
    assert_eq!(me.1["message"], "Hello, carol@example.com!");
    assert!(me.1["member_since"].as_u64().is_some_and(|t| t > 1_700_000_000), "{}", me.1);

    // And removed again, leaving the tree exactly as it was, lock file included.
    for name in ["orders", "status", "me"] {
        succeed(cargo(&workspace, &target, &["xtask", "remove", "function", name]), "remove function");
    }
    assert_eq!(git(&workspace, &["status", "--porcelain"]), "", "remove leaves nothing behind");
    let _ = std::fs::remove_dir_all(&scratch);
}
