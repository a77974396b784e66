//! The command line as scripts see it: exit codes 0, 1 and 2, and messages that say where and what.

#[path = "support/scratch.rs"]
mod scratch;

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
    let original = std::fs::read_to_string(devenv::workspace_root().join("stages.toml")).unwrap_or_default();
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
