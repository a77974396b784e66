//! The command line as scripts see it: exit codes 0, 1 and 2, and messages that say where and what.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions panic on setup failure too

mod support;
use support::scratch;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn xtask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask")).args(args).output().unwrap_or_else(|e| panic!("running xtask: {e}"))
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A copy of the committed stages.toml in a scratch directory, with `edit` applied.
fn project(name: &str, edit: impl Fn(String) -> String) -> (PathBuf, String) {
    let dir = scratch::dir(name);
    let original = std::fs::read_to_string(devenv::workspace_root().unwrap().join("stages.toml")).unwrap_or_default();
    let config = dir.join("stages.toml");
    std::fs::write(&config, edit(original)).unwrap_or_else(|e| panic!("{e}"));
    let config = config.to_string_lossy().into_owned();
    (dir, config)
}

#[test]
fn no_arguments_prints_help_and_exits_2() {
    let out = xtask(&[]);
    assert_eq!(out.status.code(), Some(2));
    let t = text(&out);
    assert!(t.contains("Usage: cargo xtask") && t.contains("synth") && t.contains("iam"), "{t}");
}

#[test]
fn bad_config_exits_2_with_location_caret_and_help_and_writes_nothing() {
    let (dir, config) = project("cli-bad", |s| s.replacen("memory_mb = 256", "memory_mb = 99999", 1));
    let out = xtask(&["--config", &config, "synth"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    let line = std::fs::read_to_string(&config)
        .unwrap_or_default()
        .lines()
        .position(|l| l == "memory_mb = 99999")
        .map(|i| i + 1);
    let line = line.unwrap_or_else(|| panic!("edit not applied"));
    assert!(t.contains(&format!("stages.toml:{line}:13")), "{t}");
    assert!(t.contains("memory_mb = 99999 is out of range"), "{t}");
    assert!(t.contains("^") || t.contains("─┬─") || t.contains("───"), "no caret under the value: {t}");
    assert!(t.contains("use a value from 128 to 10240"), "{t}");
    assert!(!Path::new(&dir).join("templates").exists(), "templates were written despite the error");
}

#[test]
fn unknown_stage_exits_2_and_lists_stages() {
    let out = xtask(&["iam", "--stage", "qa"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("unknown stage `qa`; stages.toml defines dev, prod, staging"), "{}", text(&out));
}

#[test]
fn check_exits_1_on_drift_and_0_once_synthesized() {
    let (dir, config) = project("cli-check", |s| s);
    let out = xtask(&["--config", &config, "synth", "--check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("templates/dev/api.yaml is missing; run `cargo xtask synth`"), "{}", text(&out));
    assert!(!dir.join("templates").exists(), "--check wrote files");

    let out = xtask(&["--config", &config, "synth"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = xtask(&["--config", &config, "synth", "--check"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Only one stage: other stages' files are neither checked nor written.
    let out = xtask(&["--config", &config, "synth", "--check", "--stage", "prod"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn iam_prints_every_role() {
    let out = xtask(&["iam", "--stage", "prod"]);
    assert_eq!(out.status.code(), Some(0));
    let t = text(&out);
    for role in ["signup", "signin", "authorizer", "hello"] {
        assert!(t.contains(&format!("role/auth-prod-{role}")), "{t}");
    }
    assert!(t.contains("dynamodb:PutItem") && t.contains("kms:Decrypt"), "{t}");
}

/// A second checkout of the workspace, as git worktrees make: its own `Cargo.toml`, `stages.toml` and
/// `templates/`, sharing this one's target directory and so its `xtask` binary.
fn other_checkout(name: &str, stages: &str) -> PathBuf {
    let copy = scratch::dir(name);
    std::fs::write(copy.join("Cargo.toml"), "[workspace]\nresolver = \"3\"\nmembers = []\n").unwrap();
    std::fs::create_dir_all(copy.join("xtask/src")).unwrap();
    std::fs::write(copy.join("stages.toml"), stages).unwrap();
    // Its functions, declared in their crates' manifests as in this checkout.
    let main = devenv::workspace_root().unwrap_or_else(|e| panic!("{e}"));
    for m in devenv::handler_manifests(&main).unwrap_or_else(|e| panic!("{e}")) {
        let dir = copy.join("handlers").join(&m.directory);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("Cargo.toml"), &m.text).unwrap();
        if m.has_main {
            std::fs::write(dir.join("src/main.rs"), "fn main() {}\n").unwrap();
        }
    }
    copy
}

#[test]
fn a_checkout_sharing_the_target_dir_reads_its_own_stages_toml() {
    // The binary was compiled in this workspace and run in the other checkout, with a CARGO_MANIFEST_DIR
    // left over that points back here: the current directory decides, so the other checkout's broken
    // stages.toml is the one reported.
    let copy = other_checkout("cli-worktree", "project = \"auth\"\nregion = \"us-east-1\"\narchitecture = \"sparc\"\n");
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("synth")
        .current_dir(&copy)
        .env("CARGO_MANIFEST_DIR", devenv::workspace_root().unwrap().join("xtask"))
        .env("CARGO_TARGET_DIR", devenv::target_dir().unwrap())
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "synth read another checkout's stages.toml: {t}");
    assert!(t.contains("stages.toml:3:16") && t.contains("sparc"), "{t}");
    assert!(!copy.join("templates").exists(), "{t}");

    // Run by hand, from a directory inside the checkout: found by walking up.
    std::fs::write(
        copy.join("stages.toml"),
        std::fs::read_to_string(devenv::workspace_root().unwrap().join("stages.toml")).unwrap(),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["synth", "--stage", "dev"])
        .current_dir(copy.join("xtask/src"))
        .env_remove("CARGO_MANIFEST_DIR")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(copy.join("templates/dev/api.yaml").exists(), "{}", text(&out));
}

#[test]
fn outside_any_workspace_is_bad_input() {
    let dir = std::env::temp_dir().join(format!("xtask-no-workspace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["synth", "--check"])
        .current_dir(&dir)
        .env_remove("CARGO_MANIFEST_DIR")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no Cargo workspace at or above"), "{}", text(&out));
}

#[test]
fn no_credentials_is_bad_input_that_says_what_to_do() {
    let dir = scratch::dir("cli-no-credentials");
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["deploy", "--stage", "dev", "--yes", "--endpoint-url", "http://127.0.0.1:9"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .env("AWS_CONFIG_FILE", dir.join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("none"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("no AWS credentials found: pass --profile or set AWS_PROFILE (or run `aws sso login`)"), "{t}");
}

#[test]
fn a_bad_or_missing_declaration_is_bad_input_naming_the_file() {
    let stages = std::fs::read_to_string(devenv::workspace_root().unwrap().join("stages.toml")).unwrap();
    let synth = |copy: &std::path::Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["synth", "--check"])
            .current_dir(copy)
            .env_remove("CARGO_MANIFEST_DIR")
            .output()
            .unwrap();
        (out.status.code(), text(&out))
    };
    // A directory under handlers/ without a manifest: cargo would not load the workspace either.
    let copy = other_checkout("cli-no-manifest", &stages);
    std::fs::create_dir_all(copy.join("handlers/ping/src")).unwrap();
    let (code, t) = synth(&copy);
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("handlers/ping/ has no Cargo.toml"), "{t}");

    // A declaration with a typo: the file, line and column, a caret, and what to do.
    let copy = other_checkout("cli-bad-declaration", &stages);
    let manifest = copy.join("handlers/hello/Cargo.toml");
    let declared = std::fs::read_to_string(&manifest).unwrap().replace("access = \"private\"", "acess = \"private\"");
    std::fs::write(&manifest, declared).unwrap();
    let (code, t) = synth(&copy);
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("handlers/hello/Cargo.toml:") && t.contains("unknown field `acess`"), "{t}");
    assert!(t.contains("help:"), "{t}");

    // A crate that declares a function but has no binary.
    let copy = other_checkout("cli-no-binary", &stages);
    std::fs::remove_file(copy.join("handlers/hello/src/main.rs")).unwrap();
    let (code, t) = synth(&copy);
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("handlers/hello/ declares a function but has no src/main.rs"), "{t}");
}

#[test]
fn the_target_dir_is_where_cargo_builds_however_it_is_set() {
    // A checkout whose cargo config moves the target directory: cargo builds there, so xtask reads there.
    let copy = other_checkout("cli-target-dir", "");
    std::fs::create_dir_all(copy.join(".cargo")).unwrap();
    std::fs::write(copy.join(".cargo/config.toml"), "[build]\ntarget-dir = \"elsewhere\"\n").unwrap();
    let dir = devenv::target_dir_of(&copy).unwrap_or_else(|e| panic!("{e}"));
    // The environment, when it sets one, beats the config, as it does for cargo.
    match std::env::var_os("CARGO_TARGET_DIR").or_else(|| std::env::var_os("CARGO_BUILD_TARGET_DIR")) {
        None => assert_eq!(dir, copy.join("elsewhere")),
        Some(set) => assert_eq!(dir, std::path::PathBuf::from(set)),
    }
}
