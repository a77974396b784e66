//! Every generated template passes cfn-lint, which knows each resource type's real schema, with no
//! errors and no warnings. cfn-lint is installed into target/venv on first use.

mod support;
use support::scratch;

use std::path::PathBuf;

fn venv() -> devenv::Venv {
    devenv::ensure(&mut |line| eprintln!("{line}")).unwrap_or_else(|e| panic!("{e}"))
}

fn lint_config(name: &str, text: &str) {
    let venv = venv();
    let dir = scratch::dir(name);
    std::fs::write(dir.join("stages.toml"), text).unwrap_or_else(|e| panic!("{e}"));
    let functions = xtask::functions(&devenv::workspace_root().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e:#}"));
    let config = synth::parse("stages.toml", text, &functions).unwrap_or_else(|e| panic!("{}", e.one_line()));
    let stages = xtask::lint::synthesize_into(&dir, &config).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(!stages.is_empty());
    for (region, files) in stages {
        let report = xtask::lint::cfn_lint(&venv, &region, &files).unwrap_or_else(|e| panic!("{e:#}"));
        assert!(report.success, "cfn-lint found problems in {files:?}:\n{}", report.output);
    }
}

#[test]
fn committed_templates_pass_cfn_lint() {
    lint_config(
        "lint-committed",
        &std::fs::read_to_string(devenv::workspace_root().unwrap().join("stages.toml")).unwrap_or_default(),
    );
}

#[test]
fn imported_resources_and_custom_domains_pass_cfn_lint() {
    lint_config("lint-importing", include_str!("../../synth/tests/fixtures/importing-stages.toml"));
}

/// The harness itself can fail: a template with a wrong runtime and a missing property is caught.
#[test]
fn cfn_lint_rejects_a_broken_template() {
    let venv = venv();
    let dir = scratch::dir("lint-broken");
    let path: PathBuf = dir.join("broken.yaml");
    std::fs::write(
        &path,
        "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Fn:\n    Type: AWS::Lambda::Function\n    Properties:\n      Runtime: provided.al2099\n      Handler: bootstrap\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let report = xtask::lint::cfn_lint(&venv, "us-east-1", &[path]).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(!report.success);
    assert!(report.output.contains("provided.al2099") || report.output.contains("Role"), "{}", report.output);
}
