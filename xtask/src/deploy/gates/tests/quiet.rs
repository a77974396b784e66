//! The holes an outside review found in the IAM and data gates, one case each: the change, the row it
//! shows, and the flag it needs (or the refusal no flag lifts).

use serde_json::{Value, json};

use super::super::*;
use super::ACCOUNT;

/// The dev api template as synth writes it.
fn api() -> Value {
    let root = devenv::workspace_root().unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(root.join("templates/dev/api.yaml")).unwrap_or_else(|e| panic!("{e}"));
    yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

/// The IAM refusal of changing `old` into `new` without flags, as text ("" when there is none).
fn iam_refusal(old: &Value, new: &Value) -> String {
    let iam = IamDiff::between("auth-dev-api", Some(old), new);
    assert!(iam.unreviewed.is_empty(), "{:?}", iam.unreviewed);
    let refusals = judge(&[], &iam, (Some(old), new), ACCOUNT, Approvals::default());
    let with_flag =
        judge(&[], &iam, (Some(old), new), ACCOUNT, Approvals { iam: true, data_loss: false, weakening: false });
    assert!(with_flag.is_empty(), "--approve-iam lets it through: {with_flag:?}");
    refusals.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

fn edited(edit: impl FnOnce(&mut Value)) -> Value {
    let mut t = api();
    edit(&mut t);
    t
}

#[test]
fn the_role_a_function_runs_as_is_reviewed() {
    let old = api();
    for role in ["HelloRole", "SigninRole"] {
        let new =
            edited(|t| t["Resources"]["SignupFunction"]["Properties"]["Role"] = json!({"Fn::GetAtt": [role, "Arn"]}));
        let refusal = iam_refusal(&old, &new);
        assert!(refusal.contains(&format!("function auth-dev-signup  (runs as)  ${{{role}.Arn}}")), "{refusal}");
        assert!(refusal.contains("--approve-iam"), "{refusal}");
    }
}

#[test]
fn credentials_api_gateway_assumes_are_reviewed() {
    let old = api();
    let creds = json!({"Fn::GetAtt": ["SigninRole", "Arn"]});
    let new = edited(|t| t["Resources"]["JwtAuthorizer"]["Properties"]["AuthorizerCredentials"] = creds.clone());
    assert!(
        iam_refusal(&old, &new)
            .contains("apigateway.amazonaws.com (authorizer ${JwtAuthorizer})  (assumes)  ${SigninRole.Arn}")
    );
    let new = edited(|t| t["Resources"]["GetHelloMethod"]["Properties"]["Integration"]["Credentials"] = creds.clone());
    assert!(
        iam_refusal(&old, &new).contains("apigateway.amazonaws.com (route GET /hello)  (assumes)  ${SigninRole.Arn}")
    );
    let account = |role: &str| {
        json!({"Resources": {"ApiGatewayAccount": {"Type": "AWS::ApiGateway::Account",
            "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": [role, "Arn"]}}}}})
    };
    let refusal = iam_refusal(&account("ApiGatewayLogsRole"), &account("SigninRole"));
    assert!(refusal.contains("apigateway.amazonaws.com (account logging)  (assumes)  ${SigninRole.Arn}"), "{refusal}");
}

#[test]
fn who_may_call_a_route_is_reviewed() {
    let old = api();
    let open = edited(|t| t["Resources"]["GetHelloMethod"]["Properties"]["AuthorizationType"] = json!("NONE"));
    assert!(iam_refusal(&old, &open).contains("anyone  call GET  route GET /hello"), "{}", iam_refusal(&old, &open));
    let unguarded = edited(|t| {
        let p = t["Resources"]["GetHelloMethod"]["Properties"].as_object_mut().unwrap();
        p.remove("AuthorizerId");
    });
    assert!(iam_refusal(&old, &unguarded).contains("call GET  route GET /hello"));
    // Putting the authorizer back is provably narrower: no flag needed.
    assert_eq!(iam_refusal(&open, &old), "");
}

#[test]
fn every_condition_of_a_lambda_permission_is_reviewed() {
    let id = "PostSignupInvokePermission";
    let with = |key: &str, value: Value| edited(|t| t["Resources"][id]["Properties"][key] = value);
    let org = with("PrincipalOrgID", json!("o-abc"));
    // Dropping a condition widens the permission.
    let refusal = iam_refusal(&org, &api());
    assert!(refusal.contains("apigateway.amazonaws.com  lambda:InvokeFunction  ${SignupFunction.Arn}"), "{refusal}");
    for (key, value) in [
        ("SourceAccount", json!("999999999999")),
        ("FunctionUrlAuthType", json!("NONE")),
        ("EventSourceToken", json!("t")),
    ] {
        let refusal = iam_refusal(&api(), &with(key, value));
        assert!(refusal.contains(key), "{key}: {refusal}");
    }
}

fn role_with(statement: Value) -> Value {
    json!({"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "r",
        "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [statement]}}]}}}})
}

#[test]
fn negated_lists_are_one_row_compared_as_sets() {
    let allow_but = |actions: &[&str]| role_with(json!({"Effect": "Allow", "NotAction": actions, "Resource": "*"}));
    // Shortening an Allow's NotAction is a wider grant; lengthening it is narrower.
    let wider = iam_refusal(&allow_but(&["iam:*", "kms:*"]), &allow_but(&["iam:*"]));
    assert!(wider.contains("role/r  NOT iam:*  *"), "{wider}");
    assert_eq!(iam_refusal(&allow_but(&["iam:*"]), &allow_but(&["iam:*", "kms:*"])), "");
    // One more exemption in a Deny's NotAction or NotPrincipal narrows the Deny: a grant.
    let deny_but = |actions: &[&str]| role_with(json!({"Effect": "Deny", "NotAction": actions, "Resource": "*"}));
    let narrower_deny = iam_refusal(&deny_but(&["s3:GetObject"]), &deny_but(&["s3:GetObject", "s3:PutObject"]));
    assert!(narrower_deny.contains("DENY NOT s3:GetObject  *"), "{narrower_deny}");
    assert_eq!(iam_refusal(&deny_but(&["s3:GetObject", "s3:PutObject"]), &deny_but(&["s3:GetObject"])), "");
    let key = |exempt: &[&str]| {
        json!({"Resources": {"K": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": [
            {"Effect": "Deny", "NotPrincipal": {"AWS": exempt}, "Action": "kms:Decrypt", "Resource": "*"}]}}}}})
    };
    let exempted =
        iam_refusal(&key(&["arn:aws:iam::1:role/a"]), &key(&["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b"]));
    assert!(exempted.contains("NOT arn:aws:iam::1:role/a  DENY kms:Decrypt"), "{exempted}");
}

#[test]
fn a_negated_list_does_not_cover_what_its_patterns_exclude() {
    let allow = |key: &str, actions: &[&str]| role_with(json!({"Effect": "Allow", key: actions, "Resource": "*"}));
    // Everything but iam:* was allowed; now iam:PassRole is: a grant.
    let passrole = iam_refusal(&allow("NotAction", &["iam:*"]), &allow("Action", &["iam:PassRole"]));
    assert!(passrole.contains("role/r  iam:PassRole  *"), "{passrole}");
    // Everything but iam:* was allowed; s3:GetObject is within it: no grant.
    assert_eq!(iam_refusal(&allow("NotAction", &["iam:*"]), &allow("Action", &["s3:GetObject"])), "");
    // s3:Get* covered s3:GetObject; a wildcard is covered only by what provably includes it.
    assert_eq!(iam_refusal(&allow("Action", &["s3:Get*"]), &allow("Action", &["s3:GetObject"])), "");
    assert!(!iam_refusal(&allow("Action", &["s3:Get*"]), &allow("Action", &["s3:*"])).is_empty());
    assert!(!iam_refusal(&allow("NotAction", &["iam:*"]), &allow("Action", &["i?m:PassRole"])).is_empty());
    // A Deny of s3:GetObject lifted, with a new Deny of everything but s3:*, is lifted: a grant.
    let deny = |key: &str, actions: &[&str]| role_with(json!({"Effect": "Deny", key: actions, "Resource": "*"}));
    let lifted = iam_refusal(&deny("Action", &["s3:GetObject"]), &deny("NotAction", &["s3:*"]));
    assert!(lifted.contains("DENY s3:GetObject"), "{lifted}");
}

#[test]
fn what_an_authorizer_caches_its_answers_by_is_reviewed() {
    let old = api();
    let host = edited(|t| {
        t["Resources"]["JwtAuthorizer"]["Properties"]["IdentitySource"] = json!("method.request.header.Host")
    });
    let refusal = iam_refusal(&old, &host);
    assert!(refusal.contains("(caches answers by)  method.request.header.Host"), "{refusal}");
    let longer =
        edited(|t| t["Resources"]["JwtAuthorizer"]["Properties"]["AuthorizerResultTtlInSeconds"] = json!(3600));
    assert!(iam_refusal(&old, &longer).contains("for 3600 s"));
}

#[test]
fn a_deployed_template_the_review_cannot_read_needs_approve_iam() {
    let mut deployed = api();
    deployed["Resources"]["Extra"] = json!({"Type": "AWS::SQS::QueuePolicy", "Properties": {}});
    let new = api();
    let iam = IamDiff::between("auth-dev-api", Some(&deployed), &new);
    let refusals = judge(&[], &iam, (Some(&deployed), &new), ACCOUNT, Approvals::default());
    let text = refusals.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n");
    assert!(text.contains("Extra (AWS::SQS::QueuePolicy)") && text.contains("--approve-iam"), "{text}");
}

/// What the review refuses in `template`, as text.
fn unreviewed(template: &Value) -> String {
    let iam = IamDiff::between("s", None, template);
    let refusals =
        judge(&[], &iam, (None, template), ACCOUNT, Approvals { iam: true, data_loss: true, weakening: false });
    refusals.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

#[test]
fn shapes_the_review_cannot_read_are_refused_by_resource_and_property_whatever_the_flags() {
    let statement = json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"});
    let role = |policies: Value| {
        json!({"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"RoleName": "r",
            "AssumeRolePolicyDocument": {"Statement": []}, "Policies": policies}}}})
    };
    let cases: Vec<(Value, &str)> = vec![
        (role(json!([{"PolicyName": "p", "PolicyDocument": statement.to_string()}])), "JSON string"),
        (
            role(
                json!([{"PolicyName": "p", "PolicyDocument": {"Statement": [{"Fn::If": ["C", statement, {"Ref": "AWS::NoValue"}]}]}}]),
            ),
            "Fn::If",
        ),
        (
            role(json!([{"PolicyName": "p", "PolicyDocument": {"Statement": {"Fn::If": ["C", [statement], []]}}}])),
            "Fn::If",
        ),
        (role(json!({"Fn::If": ["C", [], []]})), "Fn::If"),
        (
            role(json!([{"PolicyName": "p", "PolicyDocument": {"Fn::Transform": {"Name": "AWS::Include"}}}])),
            "Fn::Transform",
        ),
        (
            role(
                json!([{"PolicyName": "p", "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": {"Fn::FindInMap": ["M", "a", "b"]}, "Resource": "*"}]}}]),
            ),
            "Fn::FindInMap",
        ),
        (
            role(
                json!([{"PolicyName": "p", "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "{{resolve:ssm:/bucket}}"}]}}]),
            ),
            "dynamic reference",
        ),
        (
            json!({"Parameters": {"Who": {"Type": "String"}}, "Resources": {"K": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": {"Ref": "Who"}}, "Action": "kms:Decrypt", "Resource": "*"}]}}}}}),
            "template parameter Who",
        ),
        (json!({"Resources": {"K": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": "{}"}}}}), "JSON string"),
        (
            json!({"Resources": {"A": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Policy": "{}"}}}}),
            "JSON string",
        ),
        (
            json!({"Resources": {"A": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Body": {"x-amazon-apigateway-policy": {}}}}}}),
            "Body",
        ),
        (
            json!({"Resources": {"U": {"Type": "AWS::IAM::User", "Properties": {"Groups": ["admins"]}}}}),
            "outside the review's table",
        ),
        (
            json!({"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}, "Surprise": 1}}}}),
            "Surprise is not a property",
        ),
        (
            json!({"Resources": {"T": {"Type": "AWS::DynamoDB::Table", "Properties": {"ResourcePolicy": {"PolicyDocument": "{}"}}}}}),
            "JSON string",
        ),
        (
            json!({"Resources": {"S": {"Type": "AWS::SecretsManager::ResourcePolicy", "Properties": {"SecretId": "s", "BlockPublicPolicy": true, "ResourcePolicy": "{}"}}}}),
            "JSON string",
        ),
        (
            json!({"Resources": {"S": {"Type": "AWS::SecretsManager::Secret", "Properties": {"SecretString": "hunter2"}}}}),
            "literal secret",
        ),
        (json!({"Resources": {"R": {"Type": "AWS::IAM::Role", "Condition": "C", "Properties": {}}}}), "Condition"),
        // Data properties are judged by value, so they must be readable too.
        (
            json!({"Parameters": {"On": {"Type": "String"}}, "Resources": {"K": {"Type": "AWS::KMS::Key", "Properties": {
            "Enabled": {"Ref": "On"}}}}}),
            "Enabled refers to the template parameter On",
        ),
    ];
    for (template, why) in cases {
        let refusal = unreviewed(&template);
        assert!(refusal.contains("cannot account for") && refusal.contains(why), "{template}: {refusal}");
        assert!(refusal.contains("s ") && !refusal.contains("--approve"), "{refusal}");
    }
}

#[test]
fn properties_that_carry_access_on_accepted_types_become_rows() {
    let stream = json!({"Resources": {"T": {"Type": "AWS::DynamoDB::Table", "Properties": {"StreamSpecification": {
        "StreamViewType": "NEW_IMAGE", "ResourcePolicy": {"PolicyDocument": {"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "dynamodb:GetRecords", "Resource": "*"}]}}}}}}});
    let rows = synth::review::review([("s", &stream)]).rows;
    assert!(rows.iter().any(|r| r.action == "dynamodb:GetRecords" && r.granted_by.contains("stream")), "{rows:?}");
    let log = json!({"Resources": {"L": {"Type": "AWS::Logs::LogGroup", "Properties": {"ResourcePolicyDocument": {"Statement": [
        {"Effect": "Allow", "Principal": {"Service": "delivery.logs.amazonaws.com"}, "Action": "logs:PutLogEvents", "Resource": "*"}]}}}}});
    let rows = synth::review::review([("s", &log)]).rows;
    assert!(rows.iter().any(|r| r.principal == "Service:delivery.logs.amazonaws.com"), "{rows:?}");
}

fn table(properties: Value) -> Value {
    json!({"Resources": {"UsersTable": {"Type": "AWS::DynamoDB::Table", "Properties": properties}}})
}

#[test]
fn quiet_losses_need_the_data_flag() {
    let base = table(json!({"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true}}));
    let ttl = |attribute: &str| {
        table(json!({"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true},
            "TimeToLiveSpecification": {"AttributeName": attribute, "Enabled": true}}))
    };
    let loss = |old: &Value, new: &Value| data_loss(&[], Some(old), new, ACCOUNT);
    assert!(loss(&base, &ttl("created_at"))[0].contains("Time to Live on `created_at`"));
    assert!(loss(&ttl("expires_at"), &ttl("created_at"))[0].contains("`created_at`"), "moved to another attribute");
    assert!(loss(&ttl("expires_at"), &ttl("expires_at")).is_empty(), "an expiry table stays one");
    assert!(loss(&ttl("expires_at"), &base).is_empty(), "turning TTL off deletes nothing");
    assert!(data_loss(&[], None, &ttl("expires_at"), ACCOUNT).is_empty(), "a new expiry table");
    assert!(loss(&base, &table(json!({})))[0].contains("point-in-time recovery"));
    let key = |enabled: Value| json!({"Resources": {"PasswordKey": {"Type": "AWS::KMS::Key", "Properties": {"Enabled": enabled}}}});
    assert!(loss(&key(json!(true)), &key(json!(false)))[0].contains("PasswordKey would be disabled"));
    assert!(loss(&key(json!("true")), &key(json!("false")))[0].contains("disabled"), "booleans as strings");
    let log = |days: u64| {
        json!({"Resources": {"ApiAccessLogGroup": {"Type": "AWS::Logs::LogGroup", "DeletionPolicy": "Retain",
        "Properties": {"RetentionInDays": days}}}})
    };
    assert!(loss(&log(365), &log(7))[0].contains("7 days instead of 365"));
    let shared = table(json!({"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true},
        "ResourcePolicy": {"PolicyDocument": {"Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::999999999999:root"}, "Action": "dynamodb:Scan", "Resource": "*"}]}}}));
    assert!(loss(&base, &shared)[0].contains("outside account 123456789012"));
    let ours = table(json!({"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true},
        "ResourcePolicy": {"PolicyDocument": {"Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:role/reader"}, "Action": "dynamodb:GetItem", "Resource": "*"}]}}}));
    assert!(loss(&base, &ours).is_empty());
    // One of ours beside another account's is still another account.
    let mixed = table(json!({"PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true},
        "ResourcePolicy": {"PolicyDocument": {"Statement": [{"Effect": "Allow",
            "Principal": {"AWS": [{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}, "arn:aws:iam::999999999999:root"]},
            "Action": "dynamodb:GetItem", "Resource": "*"}]}}}));
    assert!(loss(&base, &mixed)[0].contains("999999999999"), "{:?}", loss(&base, &mixed));
    // Each needs --approve-data-loss, and --approve-iam does not do.
    let changes = [];
    let refused = judge(
        &changes,
        &IamDiff::default(),
        (Some(&base), &ttl("created_at")),
        ACCOUNT,
        Approvals { iam: true, data_loss: false, weakening: false },
    );
    assert!(matches!(&refused[..], [Refusal::DataLoss(_)]), "{refused:?}");
}
