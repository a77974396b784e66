//! Every committed template passes checkov's CloudFormation security checks, except the checks that
//! `xtask/checkov.yaml` skips, each with its reason. checkov is installed into target/venv on first use
//! and runs offline.

mod support;
use support::scratch;

use std::path::{Path, PathBuf};

fn venv() -> devenv::Venv {
    devenv::ensure(&mut |line| eprintln!("{line}")).unwrap_or_else(|e| panic!("{e}"))
}

/// Every `.yaml` file under `dir`, at any depth, in a stable order.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())).path();
        if path.is_dir() {
            files.extend(yaml_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "yaml") {
            files.push(path);
        }
    }
    files.sort();
    files
}

#[test]
fn committed_templates_pass_checkov() {
    let templates = yaml_files(&devenv::workspace_root().unwrap().join("templates"));
    assert!(
        templates.iter().any(|t| t.ends_with("bootstrap.yaml")) && templates.iter().any(|t| t.ends_with("api.yaml")),
        "no committed templates found: {templates:?}"
    );
    let report = xtask::lint::checkov(&venv(), &templates).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        report.success,
        "checkov found problems in the committed templates (fix them in synth, or skip the check in \
         xtask/checkov.yaml with its reason):\n{}",
        report.output
    );
}

/// The harness itself can fail: a KMS key without rotation and a table without point-in-time recovery
/// are reported with their check id, resource and file, so a clean run above is not vacuous.
#[test]
fn checkov_flags_an_insecure_template() {
    let dir = scratch::dir("checkov-insecure");
    let path = dir.join("insecure.yaml");
    std::fs::write(
        &path,
        "AWSTemplateFormatVersion: '2010-09-09'
Resources:
  Key:
    Type: AWS::KMS::Key
    Properties:
      EnableKeyRotation: false
      KeyPolicy:
        Version: '2012-10-17'
        Statement:
        - Effect: Allow
          Principal:
            AWS: !Sub 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root'
          Action: kms:*
          Resource: '*'
  Users:
    Type: AWS::DynamoDB::Table
    Properties:
      AttributeDefinitions:
      - AttributeName: email
        AttributeType: S
      KeySchema:
      - AttributeName: email
        KeyType: HASH
      BillingMode: PAY_PER_REQUEST
",
    )
    .unwrap();
    let report = xtask::lint::checkov(&venv(), std::slice::from_ref(&path)).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(!report.success, "{}", report.output);
    let finding =
        report.output.lines().find(|l| l.contains("CKV_AWS_7 ")).unwrap_or_else(|| panic!("{}", report.output));
    assert!(finding.contains("AWS::KMS::Key.Key") && finding.contains(&*path.to_string_lossy()), "{finding}");
    assert!(report.output.contains("CKV_AWS_28 AWS::DynamoDB::Table.Users"), "{}", report.output);
}

/// checkov exits 0 on a template it cannot parse; the lint does not count that as a pass.
#[test]
fn checkov_rejects_a_template_it_cannot_parse() {
    let dir = scratch::dir("checkov-unparsable");
    let path = dir.join("broken.yaml");
    std::fs::write(&path, "AWSTemplateFormatVersion: '2010-09-09'\nResources:\n  Fn: [\n").unwrap();
    let report = xtask::lint::checkov(&venv(), &[path]).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(!report.success);
    assert!(report.output.contains("could not parse"), "{}", report.output);
}
