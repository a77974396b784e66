//! Each gate, case by case.

use serde_json::{Value, json};

use super::*;

/// The deploying account.
const ACCOUNT: &str = "123456789012";

fn change(action: &str, id: &str, kind: &str, replacement: &str) -> Change {
    Change { action: action.into(), logical_id: id.into(), resource_type: kind.into(), replacement: replacement.into() }
}

fn data_template(retain: bool, protection: bool) -> Value {
    let policy = if retain { "Retain" } else { "Delete" };
    json!({"Resources": {
        "UsersTable": {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": policy, "UpdateReplacePolicy": policy,
            "Properties": {"DeletionProtectionEnabled": protection}},
        "ApiAccessLogGroup": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": policy, "Properties": {}}
    }})
}

#[test]
fn removing_or_replacing_stateful_or_retained_resources_loses_data() {
    let protected = data_template(true, true);
    let c = |a, id, kind, r| data_loss(&[change(a, id, kind, r)], Some(&protected), &protected, ACCOUNT);
    assert_eq!(c("Remove", "UsersTable", "AWS::DynamoDB::Table", ""), ["removes UsersTable (AWS::DynamoDB::Table)"]);
    assert_eq!(c("Modify", "Key", "AWS::KMS::Key", "True"), ["may replace Key (AWS::KMS::Key)"]);
    assert_eq!(c("Modify", "S", "AWS::SecretsManager::Secret", "Conditional").len(), 1);
    // The audit log of a protected stage is gated like data; a log group the deployed stack never had is not.
    assert_eq!(c("Remove", "ApiAccessLogGroup", "AWS::Logs::LogGroup", "").len(), 1);
    assert!(c("Remove", "FnLogGroup", "AWS::Logs::LogGroup", "").is_empty());
    assert!(c("Modify", "UsersTable", "AWS::DynamoDB::Table", "False").is_empty());
    assert!(c("Add", "UsersTable", "AWS::DynamoDB::Table", "").is_empty());
    let unprotected = data_template(false, false);
    let loss = data_loss(
        &[change("Remove", "ApiAccessLogGroup", "AWS::Logs::LogGroup", "")],
        Some(&unprotected),
        &unprotected,
        ACCOUNT,
    );
    // Even unprotected, a log group removed without the function that writes to it loses its logs.
    assert_eq!(loss, ["removes ApiAccessLogGroup (AWS::Logs::LogGroup)"]);
}

#[test]
fn turning_protect_off_is_data_loss() {
    let losses = data_loss(&[], Some(&data_template(true, true)), &data_template(false, false), ACCOUNT);
    assert_eq!(
        losses,
        [
            "ApiAccessLogGroup would no longer be retained (DeletionPolicy Retain -> Delete)",
            "UsersTable would lose its deletion protection (DeletionProtectionEnabled true -> false)",
            "UsersTable would no longer be retained (DeletionPolicy Retain -> Delete)",
            "UsersTable would no longer be retained (UpdateReplacePolicy Retain -> Delete)",
        ]
    );
    // Turning it on, or a first deploy, risks nothing.
    assert!(data_loss(&[], Some(&data_template(false, false)), &data_template(true, true), ACCOUNT).is_empty());
    assert!(data_loss(&[], None, &data_template(false, false), ACCOUNT).is_empty());
}

fn role(managed: &[&str]) -> Value {
    json!({"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "r",
        "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "ManagedPolicyArns": managed}}}})
}

#[test]
fn the_iam_gate_names_each_new_grant_and_yields_to_its_flag() {
    let old = role(&[]);
    let new = role(&["arn:aws:iam::aws:policy/AdministratorAccess"]);
    let iam = IamDiff::between("s", Some(&old), &new);
    let refusals = judge(&[], &iam, (Some(&old), &new), ACCOUNT, Approvals::default());
    assert_eq!(refusals.len(), 1);
    let text = refusals[0].to_string();
    assert!(text.contains("role/r  (AWS-managed policy)  arn:aws:iam::aws:policy/AdministratorAccess"), "{text}");
    assert!(text.ends_with("re-run with --approve-iam to allow it"), "{text}");
    assert!(
        judge(&[], &iam, (Some(&old), &new), ACCOUNT, Approvals { iam: true, data_loss: false, weakening: false })
            .is_empty()
    );
}

#[test]
fn no_flag_lets_an_unreviewed_resource_through() {
    let mut new = role(&[]);
    new["Resources"]["Q"] = json!({"Type": "AWS::SQS::QueuePolicy", "Properties": {}});
    let iam = IamDiff::between("s", Some(&role(&[])), &new);
    let refusals = judge(&[], &iam, (None, &new), ACCOUNT, Approvals { iam: true, data_loss: true, weakening: false });
    assert_eq!(refusals.len(), 1);
    assert!(refusals[0].to_string().contains("s Q (AWS::SQS::QueuePolicy)"), "{}", refusals[0]);
}

#[test]
fn the_data_gate_yields_only_to_its_own_flag() {
    let t = data_template(true, true);
    let changes = [change("Remove", "UsersTable", "AWS::DynamoDB::Table", "")];
    let iam = IamDiff::default();
    let refused =
        judge(&changes, &iam, (Some(&t), &t), ACCOUNT, Approvals { iam: true, data_loss: false, weakening: false });
    assert!(matches!(&refused[..], [Refusal::DataLoss(_)]), "{refused:?}");
    assert!(
        judge(&changes, &iam, (Some(&t), &t), ACCOUNT, Approvals { iam: false, data_loss: true, weakening: false })
            .is_empty()
    );
}

mod classes;
mod mail;
mod quiet;

#[test]
fn preflight_by_status() {
    assert_eq!(preflight("s", "dev", None), Preflight::Create);
    assert_eq!(preflight("s", "dev", Some(&StackStatus::UpdateComplete)), Preflight::Update);
    assert_eq!(preflight("s", "dev", Some(&StackStatus::UpdateRollbackComplete)), Preflight::Update);
    assert_eq!(preflight("s", "dev", Some(&StackStatus::RollbackComplete)), Preflight::DeleteFailedCreate);
    assert_eq!(preflight("s", "dev", Some(&StackStatus::ReviewInProgress)), Preflight::ReplaceUnexecuted);
    let stop = |s: StackStatus| match preflight("s", "dev", Some(&s)) {
        Preflight::Stop(why) => why,
        other => panic!("{other:?}"),
    };
    assert!(stop(StackStatus::UpdateRollbackFailed).contains("continue-update-rollback --stack-name s"));
    assert!(stop(StackStatus::UpdateInProgress).contains("busy (UPDATE_IN_PROGRESS)"));
    assert!(stop(StackStatus::DeleteFailed).contains("DELETE_FAILED"));
}

#[test]
fn account_and_staleness() {
    assert!(account("prod", Some("111111111111"), "111111111111").is_ok());
    assert!(account("dev", None, "111111111111").is_ok());
    let err = account("prod", Some("111111111111"), "222222222222").unwrap_err();
    assert!(err.contains("account 222222222222, but stage prod deploys to 111111111111"), "{err}");
    assert_eq!(stale("dev", &[], false), Ok(None));
    assert!(stale("dev", &["x".into()], false).unwrap_err().contains("run `cargo xtask synth`"));
    assert!(stale("dev", &["x".into()], true).unwrap().is_some());
}
