//! The stage's mail, through the gates: the grant on the SES identity widened (no `ses:FromAddress`
//! condition, another sender, `Resource: "*"`) is a grant to approve; the identity's DKIM weakened is a
//! defence; its removal or replacement loses its verification; what the review cannot see is refused.

use serde_json::{Value, json};

use super::super::*;
use super::ACCOUNT;

/// A function that sends mail, as the new routes will.
fn mailer() -> contract::Function {
    testkit::declare(
        "mailer",
        "route = { method = \"POST\", path = \"/mailer\", access = \"public\" }\n\
         env = [\"AUTH_CODES_TABLE_NAME\", \"AUTH_MAIL_SENDER\"]\n\
         grants = { codes-table = [\"dynamodb:PutItem\"], mail-identity = [\"ses:SendEmail\"] }",
    )
}

/// The prod stage's `(data, api)` templates, synthesized with the mailer beside the built-in functions.
fn prod() -> (Value, Value) {
    let root = devenv::workspace_root().unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(root.join("stages.toml")).unwrap_or_else(|e| panic!("{e}"));
    let config = synth::parse("stages.toml", &text, &testkit::with(&[mailer()])).unwrap_or_else(|e| panic!("{e}"));
    let stacks = synth::synth(&config, config.stage("prod").unwrap_or_else(|e| panic!("{e}")));
    (stacks.data.unwrap_or_else(|| panic!("no data stack")).to_json(), stacks.api.to_json())
}

/// Every refusal of changing `old` by `edit` (with the change set `changes`), without flags, as text.
fn refusals(stack: &str, old: &Value, changes: &[Change], edit: impl FnOnce(&mut Value)) -> (Vec<Refusal>, String) {
    let mut new = old.clone();
    edit(&mut new);
    let iam = IamDiff::between(stack, Some(old), &new);
    let refused = judge(changes, &iam, (Some(old), &new), ACCOUNT, Approvals::default());
    let text = refused.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    (refused, text)
}

/// The mailer's statement on the identity.
fn send_statement(api: &mut Value) -> &mut Value {
    api["Resources"]["MailerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array_mut()
        .unwrap_or_else(|| panic!("no statements"))
        .iter_mut()
        .find(|s| s["Action"] == json!(["ses:SendEmail"]))
        .unwrap_or_else(|| panic!("no ses:SendEmail statement"))
}

fn identity(t: &mut Value) -> &mut Value {
    &mut t["Resources"]["MailIdentity"]["Properties"]
}

fn only_iam(refused: &[Refusal], text: &str, says: &str) {
    assert!(matches!(refused, [Refusal::Iam(_)]), "{text}");
    assert!(text.contains(says), "expected {says:?} in: {text}");
}

#[test]
fn the_send_grant_widened_is_a_grant_to_approve() {
    let (_, api) = prod();
    let sender = "no-reply@auth.example.com";
    let arn = "import:auth-prod-mail-identity-arn";
    // As synthesized: the identity's exact ARN, the stage's sender alone.
    let statement = send_statement(&mut api.clone()).clone();
    assert_eq!(statement["Resource"], json!([{"Fn::ImportValue": "auth-prod-mail-identity-arn"}]));
    assert_eq!(statement["Condition"], json!({"StringEquals": {"ses:FromAddress": [sender]}}));
    let no_condition = refusals("auth-prod-api", &api, &[], |t| {
        send_statement(t).as_object_mut().map(|s| s.remove("Condition"));
    });
    only_iam(&no_condition.0, &no_condition.1, &format!("ses:SendEmail  {arn};"));
    let anyone = refusals("auth-prod-api", &api, &[], |t| {
        send_statement(t)["Condition"] = json!({"StringLike": {"ses:FromAddress": ["*@auth.example.com"]}});
    });
    only_iam(&anyone.0, &anyone.1, "when StringLike ses:FromAddress = *@auth.example.com");
    let everywhere = refusals("auth-prod-api", &api, &[], |t| send_statement(t)["Resource"] = json!("*"));
    only_iam(&everywhere.0, &everywhere.1, &format!("ses:SendEmail  *  when StringEquals ses:FromAddress = {sender}"));
    let raw = refusals("auth-prod-api", &api, &[], |t| send_statement(t)["Action"] = json!(["ses:SendRawEmail"]));
    only_iam(&raw.0, &raw.1, "ses:SendRawEmail");
    // Another sender in the function's environment is a weakening of its own: mail as someone else.
    let (refused, text) = refusals("auth-prod-api", &api, &[], |t| {
        t["Resources"]["MailerFunction"]["Properties"]["Environment"]["Variables"]["AUTH_MAIL_SENDER"] =
            json!("ceo@auth.example.com");
    });
    assert!(matches!(&refused[..], [Refusal::Weakening(_)]), "{text}");
    assert!(text.contains(&format!("AUTH_MAIL_SENDER: {sender} -> ceo@auth.example.com")), "{text}");
    // Dropping the grant narrows: nothing to approve.
    let (refused, text) = refusals("auth-prod-api", &api, &[], |t| {
        let statements = t["Resources"]["MailerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array_mut()
            .unwrap_or_else(|| panic!("no statements"));
        statements.retain(|s| s["Action"] != json!(["ses:SendEmail"]));
    });
    assert!(refused.is_empty(), "{text}");
}

#[test]
fn the_identity_is_data_and_its_dkim_a_defence() {
    let (data, _) = prod();
    let change = |action: &str, replacement: &str| Change {
        action: action.into(),
        logical_id: "MailIdentity".into(),
        resource_type: "AWS::SES::EmailIdentity".into(),
        replacement: replacement.into(),
    };
    let (refused, text) = refusals("auth-prod-data", &data, &[change("Remove", "")], |t| {
        t["Resources"].as_object_mut().map(|r| r.remove("MailIdentity"));
    });
    assert!(
        refused
            .iter()
            .any(|r| matches!(r, Refusal::DataLoss(w) if w.iter().any(|w| w.contains("removes MailIdentity")))),
        "{text}"
    );
    let (refused, text) = refusals("auth-prod-data", &data, &[change("Modify", "True")], |t| {
        identity(t)["EmailIdentity"] = json!("mail.example.com");
    });
    assert!(matches!(&refused[..], [Refusal::DataLoss(_)]), "{text}");
    assert!(text.contains("may replace MailIdentity (AWS::SES::EmailIdentity)"), "{text}");
    for (edit, says) in [
        (json!({"DkimAttributes": {"SigningEnabled": false}}), "MailIdentity DKIM signing: true -> false"),
        (json!({"DkimAttributes": {}}), "MailIdentity DKIM signing: true -> (removed)"),
        (
            json!({"DkimSigningAttributes": {"NextSigningKeyLength": "RSA_1024_BIT"}}),
            "MailIdentity DKIM key bits: 2048 -> 1024",
        ),
    ] {
        let (refused, text) = refusals("auth-prod-data", &data, &[], |t| {
            for (k, v) in edit.as_object().into_iter().flatten() {
                identity(t)[k] = v.clone();
            }
        });
        assert!(matches!(&refused[..], [Refusal::Weakening(_)]), "{edit}: {text}");
        assert!(text.contains(says), "{edit}: expected {says:?} in {text}");
    }
    // A MAIL FROM domain (SES takes a subdomain of the identity's) added is no weakening; moved, it is.
    let bounce = |domain: &str| json!({"MailFromDomain": domain, "BehaviorOnMxFailure": "REJECT_MESSAGE"});
    let mut with_mail_from = data.clone();
    identity(&mut with_mail_from)["MailFromAttributes"] = bounce("bounce.auth.example.com");
    let iam = IamDiff::between("auth-prod-data", Some(&data), &with_mail_from);
    assert!(judge(&[], &iam, (Some(&data), &with_mail_from), ACCOUNT, Approvals::default()).is_empty());
    let (refused, text) = refusals("auth-prod-data", &with_mail_from, &[], |t| {
        identity(t)["MailFromAttributes"] = bounce("mail.auth.example.com");
    });
    assert!(matches!(&refused[..], [Refusal::Weakening(_)]), "{text}");
    assert!(text.contains("MailIdentity MAIL FROM: {\"BehaviorOnMxFailure\""), "{text}");
    // Tightening needs no flag.
    let mut weak = data.clone();
    identity(&mut weak)["DkimSigningAttributes"] = json!({"NextSigningKeyLength": "RSA_1024_BIT"});
    let iam = IamDiff::between("auth-prod-data", Some(&weak), &data);
    assert!(judge(&[], &iam, (Some(&weak), &data), ACCOUNT, Approvals::default()).is_empty());
}

#[test]
fn what_the_review_cannot_see_of_an_identity_is_refused() {
    let (data, _) = prod();
    for (property, value, says) in [
        (
            "ConfigurationSetAttributes",
            json!({"ConfigurationSetName": "events"}),
            "ConfigurationSetAttributes: a default",
        ),
        (
            "DkimSigningAttributes",
            json!({"DomainSigningSelector": "s1", "DomainSigningPrivateKey": "MIIEv..."}),
            "DomainSigningPrivateKey: a DKIM private key in a template",
        ),
        ("MailFromAttributes", json!({"MailFromDomain": {"Fn::If": ["C", "a", "b"]}}), "Fn::If"),
        ("SendingEnabled", json!(true), "SendingEnabled is not a property the review's table classifies"),
    ] {
        let (refused, text) = refusals("auth-prod-data", &data, &[], |t| {
            t["Resources"]["MailIdentity"]["Properties"][property] = value.clone();
        });
        assert!(refused.iter().any(|r| matches!(r, Refusal::Unreviewed(_))), "{property}: {text}");
        assert!(text.contains(says), "{property}: expected {says:?} in {text}");
    }
}
