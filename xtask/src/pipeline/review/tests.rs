use super::*;
use crate::deploy::plan::VERSION;
use serde_json::json;

fn planned(name: &str, grants: Vec<String>, data_loss: Vec<String>) -> PlannedStack {
    PlannedStack {
        stack: name.into(),
        change_set: format!("arn:aws:cloudformation:us-east-1:123456789012:changeSet/xtask-e1/{name}"),
        creating: false,
        baseline: None,
        template_sha256: "00".into(),
        changes: Vec::new(),
        iam: Vec::new(),
        grants,
        data_loss,
        weakening: Vec::new(),
        code: Vec::new(),
    }
}

fn plan(stacks: Vec<PlannedStack>) -> Plan {
    Plan {
        version: VERSION,
        stage: "dev".into(),
        account: "123456789012".into(),
        region: "us-east-1".into(),
        run: Some("e1".into()),
        stacks,
    }
}

fn row(principal: &str, action: &str, resource: &str, by: &str) -> Row {
    Row {
        principal: principal.into(),
        effect: Effect::Allow,
        action: action.into(),
        resource: resource.into(),
        condition: String::new(),
        granted_by: by.into(),
    }
}

fn get<'a>(vars: &'a [(&str, String)], name: &str) -> &'a str {
    vars.iter().find(|(n, _)| *n == name).map_or("", |(_, v)| v.as_str())
}

const ACCOUNT: &str = "123456789012";

#[test]
fn only_change_sets_named_after_this_run_are_reviewed() {
    assert_eq!(bound_to_run(Some("xtask-3f1c"), "3f1c"), Ok(()));
    for other in [Some("xtask-9999"), Some("xtask-1733500000"), Some("evil-3f1c"), None] {
        let why = bound_to_run(other, "3f1c").unwrap_err();
        assert!(why.contains("was not made by this run") && why.contains("xtask-3f1c"), "{why}");
    }
}

fn api_template(code: Value) -> Value {
    json!({"Resources": {"SigninFunction": {"Type": "AWS::Lambda::Function", "Properties": {"Code": code}}}})
}

fn pinned_code() -> Value {
    json!({"S3Bucket": {"Ref": "ArtifactBucket"}, "S3Key": {"Ref": "SigninCodeKey"},
           "S3ObjectVersion": {"Ref": "SigninCodeVersion"}})
}

fn parameters(key: &str, version: &str) -> Vec<(String, String)> {
    vec![
        ("ArtifactBucket".into(), "bucket".into()),
        ("SigninCodeKey".into(), key.into()),
        ("SigninCodeVersion".into(), version.into()),
    ]
}

#[test]
fn code_runs_only_pinned_to_a_version_of_a_content_addressed_key_of_the_stage() {
    let sha = "ab".repeat(32);
    let key = format!("auth/dev/signin/{sha}.zip");
    let pins = code_pins(&api_template(pinned_code()), &parameters(&key, "v1"), "bucket", "auth/dev").unwrap();
    assert_eq!(
        pins,
        [CodePin { parameter: "SigninCodeKey".into(), key: key.clone(), version: "v1".into(), sha256: sha.clone() }]
    );
    // A template whose code takes the key's latest version: whatever is written after the review runs.
    let unpinned = json!({"S3Bucket": {"Ref": "ArtifactBucket"}, "S3Key": {"Ref": "SigninCodeKey"}});
    let why = code_pins(&api_template(unpinned), &parameters(&key, "v1"), "bucket", "auth/dev").unwrap_err();
    assert!(why.contains("not pinned to an object version"), "{why}");
    // Another stage's code, another bucket, a key not named by its content, no version, a literal.
    for (key, bucket, version) in [
        (format!("auth/prod/signin/{sha}.zip"), "bucket", "v1"),
        (key.clone(), "other", "v1"),
        ("auth/dev/signin/latest.zip".to_owned(), "bucket", "v1"),
        (key.clone(), "bucket", "null"),
    ] {
        let mut given = parameters(&key, version);
        given[0].1 = bucket.into();
        assert!(
            code_pins(&api_template(pinned_code()), &given, "bucket", "auth/dev").is_err(),
            "{key} {bucket} {version}"
        );
    }
    let literal = json!({"S3Bucket": "bucket", "S3Key": key, "S3ObjectVersion": "v1"});
    assert!(code_pins(&api_template(literal), &parameters(&key, "v1"), "bucket", "auth/dev").is_err());
}

#[test]
fn the_most_dangerous_rows_come_first_whatever_order_the_plan_gave() {
    let prefix = "auth-dev";
    let ranked = [
        (
            row("lambda.amazonaws.com", "sts:AssumeRole", "role/auth-dev-x", "auth-dev-api XRole trust policy"),
            Danger::Trust,
        ),
        (row("role/auth-dev-signin", "s3:*", "arn:aws:s3:::b/*", "p"), Danger::Wildcard),
        (row("role/auth-dev-signin", "s3:GetObject", "*", "p"), Danger::Wildcard),
        (row("role/auth-dev-signin", "s3:GetObject", "arn:aws:s3:::b/x", "p"), Danger::Grant),
        (row("arn:aws:iam::999999999999:root", "kms:Decrypt", "key JwtKey", "key policy"), Danger::OtherAccount),
        // The account id inside a name is no account: only an ARN's account field is.
        (row("arn:aws:iam::999999999999:role/123456789012-reader", "kms:Decrypt", "key K", "p"), Danger::OtherAccount),
        (row("arn:aws:iam::123456789012:role/999999999999-reader", "kms:Decrypt", "key K", "p"), Danger::Grant),
        (
            row("role/auth-dev-signin", "iam:PassRole", "arn:aws:iam::123456789012:role/auth-dev-ci-apply", "p"),
            Danger::CiRole,
        ),
    ];
    for (r, want) in &ranked {
        assert_eq!(danger(r, ACCOUNT, prefix), *want, "{r:?}");
    }
}

#[test]
fn a_harmless_row_first_in_the_plan_cannot_bury_a_dangerous_one() {
    // The pushed plan lists forty harmless grants before the one that lets another account in.
    let mut findings: Vec<Finding> = (0..40)
        .map(|i| Finding {
            danger: Danger::Grant,
            stack: "auth-dev-api".into(),
            text: format!("role/auth-dev-signin  s3:GetObject  arn:aws:s3:::bucket-{i}/x"),
        })
        .collect();
    findings.push(Finding {
        danger: Danger::Trust,
        stack: "auth-dev-api".into(),
        text: "arn:aws:iam::999999999999:root  sts:AssumeRole  role/auth-dev-signin".into(),
    });
    findings.push(Finding {
        danger: Danger::DataLoss,
        stack: "auth-dev-data".into(),
        text: "removes UsersTable".into(),
    });
    let p = plan(vec![
        planned("auth-dev-data", vec![], vec!["removes UsersTable".into()]),
        planned("auth-dev-api", vec!["x".into()], vec![]),
    ]);
    let message = approval_message(&"c0ffee".repeat(7), &p, &findings);
    assert!(message.chars().count() <= APPROVAL_LIMIT, "{} characters", message.chars().count());
    let lines: Vec<&str> = message.lines().collect();
    // The commit and the whole count, then the trust row, then the data at risk.
    assert!(
        lines[0].starts_with("commit c0ffeec0ffee: 42 to approve (1 trust, 1 data, 40 grant) in 2 change set(s)"),
        "{message}"
    );
    assert!(lines[1].starts_with("trust: auth-dev-api: arn:aws:iam::999999999999:root"), "{message}");
    assert!(lines[2].starts_with("data: auth-dev-data: removes UsersTable"), "{message}");
    assert!(message.ends_with("more in the full review"), "{message}");
}

#[test]
fn a_risky_plan_stops_the_pipeline_and_the_link_opens_the_full_review() {
    let quiet = plan(vec![planned("auth-dev-api", vec![], vec![])]);
    let risky = plan(vec![planned("auth-dev-data", vec![], vec![]), planned("auth-dev-api", vec!["g".into()], vec![])]);
    assert_eq!(get(&variables(&quiet, &[], "c", None), "RISKY"), "false");
    assert_eq!(get(&variables(&risky, &[], "c", None), "RISKY"), "true");
    let message = get(&variables(&quiet, &[], "abc", None), "APPROVAL").to_owned();
    assert!(message.contains("commit abc: no new IAM grant and no data at risk in 1 change set(s)"), "{message}");
    // With the review build's id, the link is its log: every change and IAM row.
    let vars = variables(&risky, &[], "c", Some("auth-dev-ci-review:0f3c8a52-6d1e"));
    assert_eq!(
        get(&vars, "REVIEW_URL"),
        "https://us-east-1.console.aws.amazon.com/codesuite/codebuild/123456789012/projects/auth-dev-ci-review/build/\
         auth-dev-ci-review%3A0f3c8a52-6d1e/log?region=us-east-1"
    );
    // Without one, the first risky change set in the console.
    let url = get(&variables(&risky, &[], "c", None), "REVIEW_URL").to_owned();
    assert!(url.contains("stackId=auth-dev-api") && url.contains("changeSetId=arn%3Aaws%3Acloudformation"), "{url}");
}

#[test]
fn the_variables_are_the_ones_the_pipeline_reads() {
    let mut names: Vec<&str> = variables(&plan(vec![]), &[], "c", None).iter().map(|(n, _)| *n).collect();
    names.push("REVIEW_DIGEST");
    assert_eq!(names, synth::stacks::pipeline::REVIEW_VARIABLES);
}

#[test]
fn a_long_line_is_cut_and_the_count_always_stays() {
    let long = vec![format!("trust: auth-dev-api: {}", "x".repeat(900)), "grant: b".into(), "grant: c".into()];
    let message = fit("commit abc: 3 to approve", &long, APPROVAL_LIMIT);
    assert!(message.chars().count() <= APPROVAL_LIMIT, "{message}");
    assert!(message.starts_with("commit abc: 3 to approve\ntrust: auth-dev-api: xxx"), "{message}");
    assert!(message.lines().nth(1).is_some_and(|l| l.ends_with("...")), "{message}");
    let many: Vec<String> = (0..100).map(|i| format!("grant: row {i} {}", "y".repeat(60))).collect();
    let message = fit("head", &many, APPROVAL_LIMIT);
    assert!(message.chars().count() <= APPROVAL_LIMIT && message.ends_with("more in the full review"), "{message}");
    assert_eq!(fit("head", &["one".into()], APPROVAL_LIMIT), "head\none");
}

#[test]
fn exports_read_back_exactly_in_a_shell() {
    let tricky = vec![("APPROVAL", "it's $HOME `id` \"q\"\nline 2".to_owned()), ("RISKY", "true".to_owned())];
    let script = format!("{}printf '%s' \"$APPROVAL\"", exports(&tricky));
    let out = std::process::Command::new("sh").arg("-c").arg(&script).output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(String::from_utf8_lossy(&out.stdout), tricky[0].1);
}

#[test]
fn a_role_without_the_stage_boundary_or_another_iam_identity_is_refused() {
    let boundary = "arn:aws:iam::123456789012:policy/auth-dev-boundary";
    let role =
        |b: Value| json!({"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"PermissionsBoundary": b}}}});
    let synthesized = json!({"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/auth-dev-boundary"});
    assert_eq!(roles_bounded(&role(synthesized), boundary, ACCOUNT, "aws"), Ok(()));
    assert_eq!(roles_bounded(&role(json!(boundary)), boundary, ACCOUNT, "aws"), Ok(()));
    for other in [Value::Null, json!("arn:aws:iam::123456789012:policy/AdministratorAccess"), json!({"Ref": "B"})] {
        let why = roles_bounded(&role(other.clone()), boundary, ACCOUNT, "aws").unwrap_err();
        assert!(why.contains("does not carry the stage's permissions boundary"), "{other}: {why}");
    }
    // A policy attached by name could reach the pipeline's own roles: refused whatever it says.
    let attached =
        json!({"Resources": {"P": {"Type": "AWS::IAM::Policy", "Properties": {"Roles": ["auth-dev-ci-apply"]}}}});
    assert!(roles_bounded(&attached, boundary, ACCOUNT, "aws").unwrap_err().contains("AWS::IAM::Policy"));
}

fn action(stage: &str, status: &str, variables: &[(&str, &str)], external: Option<&str>) -> ActionRun {
    ActionRun {
        stage: stage.into(),
        action: stage.into(),
        status: status.into(),
        updated_by: None,
        variables: variables.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        external_id: external.map(str::to_owned),
    }
}

#[test]
fn what_plan_exported_is_read_from_codepipeline_and_must_be_a_digest() {
    let digest = "ab".repeat(32);
    let commit = "c0".repeat(20);
    let runs = vec![
        action("Source", "Succeeded", &[("CommitId", &commit)], None),
        action("Plan", "Succeeded", &[("PLAN_DIGEST", &digest)], Some("auth-dev-ci-plan:1")),
    ];
    assert_eq!(plan_outputs(&runs), Ok((digest.clone(), "auth-dev-ci-plan:1".into())));
    assert_eq!(pushed_commit(&runs), Ok(commit.clone()));
    // A value that would close the JSON of an action's configuration and add settings of its own.
    let injected = format!(r#"{digest}","type":"PLAINTEXT"}},{{"name":"REVIEWER_SHA256","value":"0"#);
    let forged = vec![action("Plan", "Succeeded", &[("PLAN_DIGEST", &injected)], Some("b:1"))];
    assert!(plan_outputs(&forged).unwrap_err().contains("not a SHA-256"));
    assert!(plan_outputs(&[action("Plan", "Failed", &[("PLAN_DIGEST", &digest)], Some("b:1"))]).is_err());
    assert!(pushed_commit(&[action("Source", "Succeeded", &[("CommitId", "main")], None)]).is_err());
    // Plan built what was pushed, or nothing it planned is reviewed.
    assert_eq!(same_source(Some(&commit), &commit), Ok(()));
    let other = "ee".repeat(20);
    assert!(same_source(Some(&other), &commit).unwrap_err().contains("redirected"));
    assert!(same_source(None, &commit).is_err());
}

#[test]
fn a_change_set_only_applies_its_template() {
    assert_eq!(settings_refusal(&Settings::default()), Ok(()));
    let refused = [
        Settings { imports: vec!["Table".into()], ..Settings::default() },
        Settings { import_existing: true, ..Settings::default() },
        Settings { notification_arns: vec!["arn:aws:sns:us-east-1:999999999999:t".into()], ..Settings::default() },
        Settings { rollback_triggers: 1, ..Settings::default() },
        Settings { nested: true, ..Settings::default() },
        Settings { on_failure_delete: true, ..Settings::default() },
    ];
    for s in refused {
        assert!(settings_refusal(&s).is_err(), "{s:?}");
    }
}

#[test]
fn a_function_runs_as_a_bounded_role_of_its_own_template() {
    let boundary = "arn:aws:iam::123456789012:policy/auth-dev-boundary";
    let with_role = |role: Value| {
        json!({"Resources": {
            "R": {"Type": "AWS::IAM::Role", "Properties": {"PermissionsBoundary": boundary}},
            "F": {"Type": "AWS::Lambda::Function", "Properties": {"Role": role}}
        }})
    };
    assert_eq!(roles_bounded(&with_role(json!({"Fn::GetAtt": ["R", "Arn"]})), boundary, ACCOUNT, "aws"), Ok(()));
    // An unbounded role made before the pipeline, by name or by ARN: refused.
    for role in [json!("arn:aws:iam::123456789012:role/auth-dev-old"), json!({"Fn::GetAtt": ["F", "Arn"]})] {
        let why = roles_bounded(&with_role(role.clone()), boundary, ACCOUNT, "aws").unwrap_err();
        assert!(why.contains("not as a role of this template"), "{role}: {why}");
    }
}

#[test]
fn a_value_in_a_template_cannot_start_a_line_of_the_message() {
    assert_eq!(printable("a\nb\t\u{7}"), "a\\nb\\t\\u{7}");
    // A right-to-left override or a line separator would reorder or break what the approver reads.
    assert_eq!(printable("x\u{202e}y\u{2028}z"), "x\\u{202e}y\\u{2028}z");
    let p = plan(vec![planned("auth-dev-api", vec!["x".into()], vec![])]);
    let forged = Finding {
        danger: Danger::Grant,
        stack: "auth-dev-api".into(),
        text: "role/x  s3:GetObject  arn:aws:s3:::b\n... and 0 more in the full review".into(),
    };
    let message = approval_message("abc", &p, &[forged]);
    assert_eq!(message.lines().count(), 2, "{message}");
    assert!(message.lines().next().is_some_and(|l| l.contains("1 to approve (1 grant)")), "{message}");
}

#[test]
fn a_change_sets_settings_are_read_off_every_field_cloudformation_gives() {
    use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
    use aws_sdk_cloudformation::types::{
        Change, ChangeAction, OnStackFailure, ResourceChange, RollbackConfiguration, RollbackTrigger,
    };
    let import = Change::builder()
        .resource_change(ResourceChange::builder().logical_resource_id("Stolen").action(ChangeAction::Import).build())
        .build();
    let trigger = RollbackTrigger::builder()
        .arn("arn:aws:cloudwatch:us-east-1:1:alarm:a")
        .r#type("AWS::CloudWatch::Alarm")
        .build();
    let described = DescribeChangeSetOutput::builder()
        .changes(import)
        .import_existing_resources(true)
        .notification_arns("arn:aws:sns:us-east-1:999999999999:t")
        .rollback_configuration(RollbackConfiguration::builder().rollback_triggers(trigger).build())
        .include_nested_stacks(true)
        .on_stack_failure(OnStackFailure::Delete)
        .build();
    let settings = settings_of(&described);
    assert_eq!(
        settings,
        Settings {
            imports: vec!["Stolen".into()],
            import_existing: true,
            notification_arns: vec!["arn:aws:sns:us-east-1:999999999999:t".into()],
            rollback_triggers: 1,
            nested: true,
            on_failure_delete: true,
        }
    );
    assert_eq!(settings_of(&DescribeChangeSetOutput::builder().build()), Settings::default());
}

#[test]
fn the_reviewed_list_replaces_a_link_planted_where_it_is_written() {
    let dir = std::env::temp_dir().join(format!("xtask-write-new-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let target = dir.join("elsewhere");
    std::fs::write(&target, "untouched").unwrap();
    let out = dir.join("reviewed.json");
    std::os::unix::fs::symlink(&target, &out).unwrap();
    write_new(&out, b"the list").unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "the list");
    assert!(!std::fs::symlink_metadata(&out).unwrap().file_type().is_symlink());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn two_records_of_one_action_are_refused() {
    let digest = "ab".repeat(32);
    let plan = |build: &str| action("Plan", "Succeeded", &[("PLAN_DIGEST", &digest)], Some(build));
    assert!(plan_outputs(&[plan("b:1"), plan("b:2")]).unwrap_err().contains("2 succeeded Plan actions"));
}
