//! What the synthesized stacks must hold, checked on the rendered JSON as CloudFormation reads it:
//! IAM invariants, the API's wiring, deployment ids, determinism and the YAML form.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use testkit as testing;

const STAGES: &str = include_str!("../../stages.toml");

fn config(text: &str) -> synth::Config {
    synth::parse("stages.toml", text, &testing::functions()).unwrap_or_else(|e| panic!("{}", e.one_line()))
}

/// `(data, api)` templates of a stage as JSON.
fn stacks(text: &str, stage: &str) -> (Option<Value>, Value) {
    let c = config(text);
    let s = synth::synth(&c, c.stage(stage).unwrap_or_else(|e| panic!("{e}")));
    (s.data.map(|d| d.to_json()), s.api.to_json())
}

fn resources_of<'a>(t: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    t["Resources"].as_object().into_iter().flatten().filter(|(_, r)| r["Type"] == kind).collect()
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        other => vec![other.to_string()],
    }
}

/// Every policy statement in a template: identity, trust and key policies.
fn statements(t: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for (id, r) in resources_of(t, "AWS::IAM::Role") {
        for s in r["Properties"]["AssumeRolePolicyDocument"]["Statement"].as_array().into_iter().flatten() {
            out.push((format!("{id} trust"), s));
        }
        for p in r["Properties"]["Policies"].as_array().into_iter().flatten() {
            for s in p["PolicyDocument"]["Statement"].as_array().into_iter().flatten() {
                out.push((format!("{id} policy"), s));
            }
        }
    }
    for (id, r) in resources_of(t, "AWS::KMS::Key") {
        for s in r["Properties"]["KeyPolicy"]["Statement"].as_array().into_iter().flatten() {
            out.push((format!("{id} key policy"), s));
        }
    }
    out
}

#[test]
fn no_statement_uses_a_wildcard_action() {
    for stage in ["dev", "staging", "prod"] {
        let (data, api) = stacks(STAGES, stage);
        for t in data.iter().chain([&api]) {
            for (at, s) in statements(t) {
                for action in strings(&s["Action"]) {
                    assert!(!action.contains('*'), "{stage} {at}: wildcard action {action}");
                }
            }
        }
    }
}

#[test]
fn resource_star_only_where_aws_requires_it() {
    // The one case: a KMS key policy, where `Resource: "*"` means the key itself and is the only form.
    for stage in ["dev", "staging", "prod"] {
        let (data, api) = stacks(STAGES, stage);
        for t in data.iter().chain([&api]) {
            for (at, s) in statements(t) {
                let stars = strings(&s["Resource"]).iter().any(|r| r.contains('*'));
                if stars {
                    assert!(at.ends_with("key policy"), "{stage} {at}: Resource * in {s}");
                }
            }
        }
    }
}

/// Each role's actions, besides writing its own logs, exactly as issue 2 lists them.
#[test]
fn each_role_holds_exactly_its_actions() {
    let expected: [(&str, &[&str]); 9] = [
        // Signup makes no account: it reads whether one exists, keeps the pending hash with a code and mails.
        (
            "SignupRole",
            &[
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "kms:Encrypt",
                "secretsmanager:GetSecretValue",
                "ses:SendEmail",
            ],
        ),
        // Verify makes the account, once the code and the pending hash's password match.
        (
            "VerifyRole",
            &[
                "dynamodb:DeleteItem",
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "kms:Decrypt",
                "secretsmanager:GetSecretValue",
            ],
        ),
        (
            "ForgotRole",
            &[
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "secretsmanager:GetSecretValue",
                "ses:SendEmail",
            ],
        ),
        (
            "ResetRole",
            &[
                "dynamodb:DeleteItem",
                "dynamodb:GetItem",
                "dynamodb:UpdateItem",
                "kms:Encrypt",
                "secretsmanager:GetSecretValue",
            ],
        ),
        (
            "SigninRole",
            &[
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "kms:Decrypt",
                "secretsmanager:GetSecretValue",
            ],
        ),
        ("AuthorizerRole", &["dynamodb:GetItem", "secretsmanager:GetSecretValue"]),
        ("HelloRole", &[]),
        ("RefreshRole", &["dynamodb:GetItem", "dynamodb:UpdateItem", "secretsmanager:GetSecretValue"]),
        // No key: sign-out checks refresh tokens against the hashes their sessions keep.
        ("SignoutRole", &["dynamodb:GetItem", "dynamodb:UpdateItem"]),
    ];
    let (_, api) = stacks(STAGES, "dev");
    assert_eq!(resources_of(&api, "AWS::IAM::Role").len(), expected.len());
    for (role, actions) in expected {
        let r = &api["Resources"][role]["Properties"];
        let mut got: BTreeSet<String> = BTreeSet::new();
        for p in r["Policies"].as_array().into_iter().flatten() {
            for s in p["PolicyDocument"]["Statement"].as_array().into_iter().flatten() {
                assert_eq!(s["Effect"], "Allow");
                got.extend(strings(&s["Action"]));
            }
        }
        let mut want: BTreeSet<String> = actions.iter().map(|a| (*a).to_owned()).collect();
        want.extend(["logs:CreateLogStream".to_owned(), "logs:PutLogEvents".to_owned()]);
        assert_eq!(got, want, "{role}");
        assert!(r.get("ManagedPolicyArns").is_none(), "{role} has managed policies");
    }
}

/// What each function may do on each stateful resource it reaches (besides its own log group).
fn reaches(function: &str, resource: &str) -> &'static [&'static str] {
    const READ: &[&str] = &["dynamodb:GetItem"];
    const READ_UPDATE: &[&str] = &["dynamodb:GetItem", "dynamodb:UpdateItem"];
    const KEEP_CODES: &[&str] = &["dynamodb:PutItem", "dynamodb:UpdateItem"];
    const SPEND_CODES: &[&str] = &["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:UpdateItem"];
    const SECRET: &[&str] = &["secretsmanager:GetSecretValue"];
    match (function, resource) {
        // Only verify makes an account, and only reset changes one.
        ("Signup" | "Forgot" | "Signin", "table") => READ,
        ("Verify", "table") => &["dynamodb:PutItem"],
        ("Reset", "table") => &["dynamodb:UpdateItem"],
        ("Signup" | "Reset", "key") => &["kms:Encrypt"],
        ("Signin" | "Verify", "key") => &["kms:Decrypt"],
        ("Signin" | "Authorizer" | "Refresh", "secret") => SECRET,
        ("Signup" | "Verify" | "Forgot" | "Reset", "code-secret") => SECRET,
        ("Signup" | "Forgot", "codes-table") => KEEP_CODES,
        ("Verify" | "Reset", "codes-table") => SPEND_CODES,
        ("Signup" | "Forgot", "mail-identity") => &["ses:SendEmail"],
        ("Signin", "attempts-table") => READ_UPDATE,
        // A reset clears the resetting address's lockout, and ends every session.
        ("Reset", "attempts-table" | "sessions-table") => &["dynamodb:UpdateItem"],
        ("Signin", "sessions-table") => &["dynamodb:PutItem"],
        ("Authorizer", "sessions-table") => READ,
        ("Refresh" | "Signout", "sessions-table") => READ_UPDATE,
        _ => &[],
    }
}

#[test]
fn roles_write_only_to_their_own_log_group_and_reach_exact_resources() {
    let (_, api) = stacks(STAGES, "dev");
    for f in ["Signup", "Verify", "Signin", "Authorizer", "Hello", "Refresh", "Signout", "Forgot", "Reset"] {
        let role = &api["Resources"][format!("{f}Role")]["Properties"];
        for s in role["Policies"][0]["PolicyDocument"]["Statement"].as_array().into_iter().flatten() {
            let actions = strings(&s["Action"]);
            let resource = &s["Resource"];
            if actions.iter().any(|a| a.starts_with("logs:")) {
                assert_eq!(resource, &json!([{"Fn::GetAtt": [format!("{f}LogGroup"), "Arn"]}]), "{f}");
                continue;
            }
            let import = resource[0]["Fn::ImportValue"].as_str().unwrap_or_else(|| panic!("{f}: {resource}"));
            let target = import.strip_prefix("auth-dev-").and_then(|t| t.strip_suffix("-arn")).unwrap_or(import);
            let allowed = reaches(f, target);
            assert!(actions.iter().all(|a| allowed.contains(&a.as_str())), "{f} on {target}: {actions:?}");
            if actions.iter().any(|a| a.starts_with("kms:")) {
                assert_eq!(s["Condition"]["ForAnyValue:StringEquals"]["kms:EncryptionContextKeys"], json!(["email"]));
            }
            if actions.iter().any(|a| a.starts_with("ses:")) {
                assert_eq!(s["Condition"]["StringEquals"]["ses:FromAddress"], json!(["no-reply@dev.auth.example.com"]));
            }
        }
        let trust = &role["AssumeRolePolicyDocument"]["Statement"];
        assert_eq!(trust.as_array().map(Vec::len), Some(1));
        assert_eq!(trust[0]["Principal"], json!({"Service": "lambda.amazonaws.com"}));
    }
}

#[test]
fn key_policy_names_only_the_account_and_lets_it_administer() {
    let (data, _) = stacks(STAGES, "dev");
    let data = data.unwrap_or_else(|| panic!("dev creates its key"));
    let statements = &data["Resources"]["PasswordKey"]["Properties"]["KeyPolicy"]["Statement"];
    let root = json!({"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}});
    for s in statements.as_array().into_iter().flatten() {
        // Roles made by a later stack cannot be principals: KMS rejects principals that do not exist.
        assert_eq!(s["Principal"], root, "{s}");
    }
    assert!(strings(&statements[0]["Action"]).contains(&"kms:PutKeyPolicy".to_owned()), "lockout safety check");
    // One statement per function and action: reset and signup encrypt, signin and verify decrypt.
    let principals = |action: &str| -> Vec<Value> {
        statements
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| strings(&s["Action"]) == [action])
            .map(|s| s["Condition"]["StringEquals"]["aws:PrincipalArn"].clone())
            .collect()
    };
    let role = |name: &str| json!([{"Fn::Sub": format!("arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/auth-dev-{name}")}]);
    assert_eq!(principals("kms:Encrypt"), [role("reset"), role("signup")]);
    assert_eq!(principals("kms:Decrypt"), [role("signin"), role("verify")]);
}

#[test]
fn invoke_permissions_are_scoped_to_one_method_and_path() {
    let (_, api) = stacks(STAGES, "staging");
    let mut arns: Vec<String> = resources_of(&api, "AWS::Lambda::Permission")
        .iter()
        .map(|(_, p)| p["Properties"]["SourceArn"]["Fn::Sub"].as_str().unwrap_or_default().to_owned())
        .collect();
    arns.sort();
    let base = "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/";
    assert_eq!(
        arns,
        vec![
            format!("{base}authorizers/${{JwtAuthorizer}}"),
            format!("{base}staging/GET/hello"),
            format!("{base}staging/POST/password/forgot"),
            format!("{base}staging/POST/password/reset"),
            format!("{base}staging/POST/refresh"),
            format!("{base}staging/POST/signin"),
            format!("{base}staging/POST/signout"),
            format!("{base}staging/POST/signup"),
            format!("{base}staging/POST/signup/verify"),
        ]
    );
}

#[test]
fn only_hello_and_signout_are_behind_the_authorizer() {
    let (_, api) = stacks(STAGES, "dev");
    let methods = resources_of(&api, "AWS::ApiGateway::Method");
    assert_eq!(methods.len(), 8);
    for (id, m) in methods {
        let p = &m["Properties"];
        assert_eq!(p["Integration"]["Type"], "AWS_PROXY");
        if id == "GetHelloMethod" || id == "PostSignoutMethod" {
            assert_eq!(p["AuthorizationType"], "CUSTOM");
            assert_eq!(p["AuthorizerId"], json!({"Ref": "JwtAuthorizer"}));
        } else {
            assert_eq!(p["AuthorizationType"], "NONE", "{id}");
        }
    }
    let auth = &api["Resources"]["JwtAuthorizer"]["Properties"];
    assert_eq!(auth["Type"], "REQUEST");
    assert_eq!(auth["IdentitySource"], "method.request.header.Authorization");
    // 300 s in all: 290 in API Gateway's cache, 10 in the authorizer's cache of sign-out times.
    assert_eq!(auth["AuthorizerResultTtlInSeconds"], 290);
}

fn deployment_id(api: &Value) -> String {
    let ids: Vec<&String> = resources_of(api, "AWS::ApiGateway::Deployment").into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 1);
    ids[0].clone()
}

#[test]
fn deployment_waits_for_every_method_and_changes_with_the_api_definition() {
    let (_, api) = stacks(STAGES, "dev");
    let id = deployment_id(&api);
    let depends: BTreeSet<String> = strings(&api["Resources"][&id]["DependsOn"]).into_iter().collect();
    for (method, _) in resources_of(&api, "AWS::ApiGateway::Method") {
        assert!(depends.contains(method), "{id} does not depend on {method}");
    }
    // The authorizer's cache TTL is part of the API definition: a new deployment.
    let ttl = STAGES.replace("authorizer_cache_ttl_seconds = 300", "authorizer_cache_ttl_seconds = 60");
    assert_ne!(deployment_id(&stacks(&ttl, "dev").1), id);
    // A function's memory is not: the same deployment.
    let memory = STAGES.replace("memory_mb = 256", "memory_mb = 512");
    assert_eq!(deployment_id(&stacks(&memory, "dev").1), id);
}

#[test]
fn stage_logs_access_and_throttles() {
    let (_, api) = stacks(STAGES, "prod");
    let stage = &api["Resources"]["ApiStage"]["Properties"];
    assert_eq!(stage["StageName"], "prod");
    assert_eq!(stage["AccessLogSetting"]["DestinationArn"], json!({"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}));
    assert_eq!(stage["MethodSettings"][0]["ThrottlingRateLimit"], 500.0);
    assert_eq!(stage["MethodSettings"][0]["ThrottlingBurstLimit"], 1000);
    let responses: BTreeSet<String> = resources_of(&api, "AWS::ApiGateway::GatewayResponse")
        .iter()
        .map(|(_, r)| format!("{} {}", r["Properties"]["ResponseType"], r["Properties"]["StatusCode"]))
        .collect();
    assert_eq!(
        responses,
        BTreeSet::from(["\"ACCESS_DENIED\" \"403\"".to_owned(), "\"UNAUTHORIZED\" \"401\"".to_owned()])
    );
}

#[test]
fn functions_take_code_from_parameters_and_env_from_the_contract() {
    let (_, api) = stacks(STAGES, "dev");
    let f = &api["Resources"]["SigninFunction"]["Properties"];
    assert_eq!(f["Runtime"], "provided.al2023");
    assert_eq!(f["Handler"], "bootstrap");
    assert_eq!(f["Architectures"], json!(["x86_64"]));
    assert_eq!(f["MemorySize"], 1024);
    // The code that runs is the object version that was reviewed, not whatever the key holds later.
    assert_eq!(
        f["Code"],
        json!({"S3Bucket": {"Ref": "ArtifactBucket"}, "S3Key": {"Ref": "SigninCodeKey"},
               "S3ObjectVersion": {"Ref": "SigninCodeVersion"}})
    );
    assert_eq!(f["LoggingConfig"]["LogGroup"], json!({"Ref": "SigninLogGroup"}));
    let vars: BTreeSet<&str> =
        f["Environment"]["Variables"].as_object().into_iter().flatten().map(|(k, _)| k.as_str()).collect();
    let want: BTreeSet<&str> = testing::function("signin").env().iter().map(|v| v.name()).collect();
    assert_eq!(vars, want);
    assert_eq!(f["Environment"]["Variables"]["AUTH_TABLE_NAME"], json!({"Fn::ImportValue": "auth-dev-table-name"}));
    assert!(api["Resources"]["HelloFunction"]["Properties"].get("Environment").is_none());
}

#[test]
fn protect_retains_stateful_resources() {
    let (prod, _) = stacks(STAGES, "prod");
    let (dev, _) = stacks(STAGES, "dev");
    let (prod, dev) = (prod.unwrap_or_default(), dev.unwrap_or_default());
    let ttl = &dev["Resources"]["AttemptsTable"]["Properties"]["TimeToLiveSpecification"];
    assert_eq!(ttl, &json!({"AttributeName": "expires_at", "Enabled": true}), "failure counts clean themselves up");
    assert!(dev["Resources"]["UsersTable"]["Properties"].get("TimeToLiveSpecification").is_none());
    for id in ["UsersTable", "PasswordKey", "JwtSecret", "AttemptsTable"] {
        assert_eq!(prod["Resources"][id]["DeletionPolicy"], "Retain", "{id}");
        assert_eq!(prod["Resources"][id]["UpdateReplacePolicy"], "Retain", "{id}");
        assert_eq!(dev["Resources"][id]["DeletionPolicy"], "Delete", "{id}");
    }
    assert_eq!(prod["Resources"]["UsersTable"]["Properties"]["DeletionProtectionEnabled"], true);
    assert_eq!(dev["Resources"]["UsersTable"]["Properties"]["DeletionProtectionEnabled"], false);
    let table = &prod["Resources"]["UsersTable"]["Properties"];
    assert_eq!(table["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true);
    assert_eq!(table["SSESpecification"]["SSEEnabled"], true);
    assert!(
        prod["Resources"]["JwtSecret"]["Properties"]["GenerateSecretString"]["PasswordLength"].as_u64() >= Some(64)
    );
}

/// A stage that imports everything and has a custom domain: every optional branch of the model.
const IMPORTING: &str = include_str!("fixtures/importing-stages.toml");

#[test]
fn imported_resources_are_not_created_and_their_arns_reach_the_api() {
    let (data, api) = stacks(IMPORTING, "legacy");
    let data = data.unwrap_or_else(|| panic!("the attempts table is always created"));
    let created: Vec<&String> = data["Resources"].as_object().into_iter().flat_map(|r| r.keys()).collect();
    // The code secret is never imported: codes live minutes, a stage's own secret loses nothing.
    assert_eq!(
        created,
        ["AttemptsTable", "CodeSecret", "CodeSecretPolicy", "CodesTable", "SessionsTable"],
        "nothing else left to create"
    );
    let signin = &api["Resources"]["SigninRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"];
    let resources: Vec<String> =
        signin.as_array().into_iter().flatten().flat_map(|s| strings(&s["Resource"])).collect();
    assert!(resources.contains(&"arn:aws:dynamodb:eu-west-1:123456789012:table/Prod-Auth".to_owned()));
    assert!(resources.contains(&"arn:aws:secretsmanager:eu-west-1:123456789012:secret:auth/jwt-AbCdEf".to_owned()));
    assert_eq!(
        api["Resources"]["SignupFunction"]["Properties"]["Environment"]["Variables"]["AUTH_TABLE_NAME"],
        "Prod-Auth"
    );
    assert_eq!(api["Outputs"]["ApiUrl"]["Value"], "https://api.example.com/legacy");
    assert_eq!(api["Resources"]["ApiBasePathMapping"]["Properties"]["DomainName"], json!({"Ref": "ApiDomain"}));
}

#[test]
fn an_existing_domain_is_mapped_not_created() {
    let (data, api) = stacks(IMPORTING, "mapped");
    assert!(data.is_some());
    assert!(api["Resources"].get("ApiDomain").is_none());
    assert_eq!(api["Resources"]["ApiBasePathMapping"]["Properties"]["DomainName"], "api.example.com");
    assert_eq!(api["Resources"]["ApiBasePathMapping"]["Properties"]["Stage"], json!({"Ref": "ApiStage"}));
}

#[test]
fn every_ref_and_get_att_names_a_resource_or_parameter() {
    for (text, stage) in [(STAGES, "dev"), (STAGES, "prod"), (IMPORTING, "legacy"), (IMPORTING, "mapped")] {
        let (data, api) = stacks(text, stage);
        for t in data.iter().chain([&api]) {
            let mut known: BTreeSet<String> =
                t["Resources"].as_object().into_iter().flatten().map(|(k, _)| k.clone()).collect();
            known.extend(t["Parameters"].as_object().into_iter().flatten().map(|(k, _)| k.clone()));
            check_refs(t, &known);
        }
    }
}

fn check_refs(v: &Value, known: &BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(target)) = m.get("Ref") {
                assert!(target.starts_with("AWS::") || known.contains(target), "dangling Ref {target}");
            }
            if let Some(Value::Array(a)) = m.get("Fn::GetAtt") {
                let target = a[0].as_str().unwrap_or_default();
                assert!(known.contains(target), "dangling GetAtt {target}");
            }
            if let Some(Value::String(s)) = m.get("Fn::Sub") {
                for var in s.split("${").skip(1).filter(|v| !v.starts_with('!')) {
                    let name = var.split(['}', '.']).next().unwrap_or_default();
                    assert!(name.starts_with("AWS::") || known.contains(name), "dangling ${{{name}}} in {s}");
                }
            }
            m.values().for_each(|v| check_refs(v, known));
        }
        Value::Array(a) => a.iter().for_each(|v| check_refs(v, known)),
        _ => {}
    }
}

#[test]
fn bootstrap_sets_the_regions_api_gateway_logging_role_and_keeps_it() {
    let c = config(STAGES);
    let s = synth::synth(&c, &c.stages["dev"]);
    let t = s.bootstrap.to_json();
    assert_eq!(
        t["Resources"]["ApiGatewayAccount"]["Properties"]["CloudWatchRoleArn"],
        json!({"Fn::GetAtt": ["ApiGatewayLogsRole", "Arn"]})
    );
    let role = &t["Resources"]["ApiGatewayLogsRole"];
    assert_eq!(role["DeletionPolicy"], "Retain");
    assert!(role["Properties"].get("RoleName").is_none(), "one per region: CloudFormation names it");
    assert_eq!(
        role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"],
        json!({"Service": "apigateway.amazonaws.com"})
    );
    assert_eq!(
        role["Properties"]["ManagedPolicyArns"],
        json!([{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}])
    );
    let names = synth::Names::new(&c.project, &c.stages["dev"]);
    let order: Vec<String> = s.named(&names).into_iter().map(|(n, _)| n).collect();
    assert_eq!(order, ["auth-bootstrap", "auth-dev-data", "auth-dev-api", "auth-dev-pipeline"]);
}

#[test]
fn rendering_is_deterministic_and_parses_back_to_the_model() {
    let c = config(STAGES);
    let first = synth::all_files(&c).unwrap();
    let second = synth::all_files(&config(STAGES)).unwrap();
    assert_eq!(first, second);
    for stage in c.stages.values() {
        let s = synth::synth(&c, stage);
        for t in s.data.iter().chain([&s.api]) {
            let text = synth::render(t);
            assert!(text.starts_with(&format!("# {}\n", synth::GENERATED_HEADER)));
            assert!(!text.contains('!'), "short-form tags are not used");
            let back: Value = yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(back, t.to_json());
        }
    }
}

#[test]
fn iam_review_lists_every_grant_once_in_order() {
    let c = config(STAGES);
    let files = synth::files(&c, &c.stages["dev"]).unwrap();
    let iam = files.iter().find(|f| f.path == "templates/dev/iam.md").map(|f| f.contents.clone()).unwrap_or_default();
    assert!(iam.contains("| role/auth-dev-signup | Allow | kms:Encrypt | import:auth-dev-key-arn | ForAnyValue:StringEquals kms:EncryptionContextKeys = email |"));
    assert!(iam.contains("| apigateway.amazonaws.com | Allow | lambda:InvokeFunction | ${HelloFunction.Arn} |"));
    let rows: Vec<&str> = iam.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| principal")).collect();
    // In order of their cells: principal first.
    let cells = |row: &&str| row.split(" | ").map(str::to_owned).collect::<Vec<_>>();
    let mut sorted = rows.clone();
    sorted.sort_by_key(cells);
    assert_eq!(rows, sorted);
    let unique: BTreeSet<&&str> = rows.iter().collect();
    assert_eq!(unique.len(), rows.len());
}

#[test]
fn iam_review_warns_that_an_imported_key_keeps_its_own_policy() {
    let c = config(IMPORTING);
    let iam = |stage: &str| {
        synth::files(&c, &c.stages[stage])
            .unwrap()
            .into_iter()
            .find(|f| f.path.ends_with("iam.md"))
            .map(|f| f.contents)
            .unwrap_or_default()
    };
    let legacy = iam("legacy");
    assert!(
        legacy.contains("**Not granted here.** The imported KMS key `arn:aws:kms:eu-west-1:123456789012:key/"),
        "{legacy}"
    );
    assert!(legacy.contains("role `auth-legacy-signup` call `kms:Encrypt`"), "{legacy}");
    assert!(!iam("mapped").contains("Not granted here"));
}

/// The one web ACL of an api template, with its association.
fn web_acl(api: &Value) -> (&Value, &Value) {
    let acls = resources_of(api, "AWS::WAFv2::WebACL");
    let associations = resources_of(api, "AWS::WAFv2::WebACLAssociation");
    assert_eq!((acls.len(), associations.len()), (1, 1), "one web ACL and one association");
    (acls[0].1, associations[0].1)
}

fn rule<'a>(acl: &'a Value, name: &str) -> Option<&'a Value> {
    acl["Properties"]["Rules"].as_array().into_iter().flatten().find(|r| r["Name"] == name)
}

#[test]
fn every_stage_has_a_web_acl_on_its_stage_limiting_each_source_ip() {
    let c = config(STAGES);
    for stage in ["dev", "staging", "prod"] {
        let limits = c.stages[stage].ip_rate_limits.unwrap_or_else(|| panic!("{stage} has per-IP limits"));
        let (_, api) = stacks(STAGES, stage);
        let (acl, association) = web_acl(&api);
        let p = &acl["Properties"];
        assert_eq!((&p["Scope"], &p["DefaultAction"]), (&json!("REGIONAL"), &json!({"Allow": {}})), "{stage}");
        let name = p["Name"].as_str().unwrap_or_default();
        assert!(
            (1..=128).contains(&name.len())
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "{stage}: WAF refuses the name {name:?}"
        );
        // Metrics and sampled requests for the ACL and every rule; metric names without spaces.
        let rules = p["Rules"].as_array().unwrap_or_else(|| panic!("{stage}: no rules"));
        for v in rules.iter().map(|r| &r["VisibilityConfig"]).chain([&p["VisibilityConfig"]]) {
            assert_eq!((&v["CloudWatchMetricsEnabled"], &v["SampledRequestsEnabled"]), (&json!(true), &json!(true)));
            assert!(v["MetricName"].as_str().is_some_and(|m| !m.is_empty() && !m.contains(char::is_whitespace)));
        }

        let auth = rule(acl, "auth-ip-rate").unwrap_or_else(|| panic!("{stage}: no auth rule"));
        let rate = &auth["Statement"]["RateBasedStatement"];
        assert_eq!(rate["Limit"], limits.auth);
        assert_eq!((&rate["EvaluationWindowSec"], &rate["AggregateKeyType"]), (&json!(300), &json!("IP")));
        // The path WAF sees starts with the stage or base path, so the scope matches its end.
        let ends: BTreeSet<String> = rate["ScopeDownStatement"]["OrStatement"]["Statements"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| &s["ByteMatchStatement"])
            .inspect(|m| {
                assert_eq!(
                    (&m["PositionalConstraint"], &m["FieldToMatch"]),
                    (&json!("ENDS_WITH"), &json!({"UriPath": {}}))
                );
                let kinds: Vec<&Value> =
                    m["TextTransformations"].as_array().into_iter().flatten().map(|t| &t["Type"]).collect();
                assert_eq!(kinds, [&json!("URL_DECODE"), &json!("NORMALIZE_PATH"), &json!("LOWERCASE")]);
            })
            .filter_map(|m| m["SearchString"].as_str().map(str::to_owned))
            .collect();
        let expected: BTreeSet<String> =
            ["/signup", "/signin", "/refresh", "/signout", "/signup/verify", "/password/forgot", "/password/reset"]
                .iter()
                .flat_map(|s| [(*s).to_owned(), format!("{s}/")])
                .collect();
        assert_eq!(ends, expected, "{stage}");

        let all = rule(acl, "all-ip-rate").unwrap_or_else(|| panic!("{stage}: no rule for every path"));
        assert_eq!(all["Statement"]["RateBasedStatement"]["Limit"], limits.all);
        assert!(all["Statement"]["RateBasedStatement"].get("ScopeDownStatement").is_none());
        for r in [auth, all] {
            let response = &r["Action"]["Block"]["CustomResponse"];
            assert_eq!(response["ResponseCode"], 429);
            let body = &p["CustomResponseBodies"][response["CustomResponseBodyKey"].as_str().unwrap_or_default()];
            assert_eq!(body["ContentType"], "APPLICATION_JSON");
            let content: Value = serde_json::from_str(body["Content"].as_str().unwrap_or_default()).unwrap();
            assert_eq!(content, json!({"message": "Too Many Requests"}));
        }
        let bad_inputs = rule(acl, "known-bad-inputs").unwrap_or_else(|| panic!("{stage}: no managed rules"));
        assert_eq!(
            bad_inputs["Statement"]["ManagedRuleGroupStatement"]["Name"],
            "AWSManagedRulesKnownBadInputsRuleSet"
        );
        assert_eq!(bad_inputs["OverrideAction"], json!({"None": {}}));
        let priorities: BTreeSet<u64> = rules.iter().filter_map(|r| r["Priority"].as_u64()).collect();
        assert_eq!(priorities.len(), rules.len(), "{stage}: priorities are unique");

        // The association names the stage by ARN and waits for it: WAF cannot protect a stage that is
        // not there yet.
        let arn = format!("arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}::/restapis/${{Api}}/stages/{stage}");
        assert_eq!(association["Properties"]["ResourceArn"], json!({"Fn::Sub": arn}));
        assert_eq!(association["Properties"]["WebACLArn"], json!({"Fn::GetAtt": ["WebAcl", "Arn"]}));
        assert_eq!(api["Resources"]["ApiStage"]["Properties"]["StageName"], stage);
        assert!(strings(&association["DependsOn"]).contains(&"ApiStage".to_owned()), "{stage}");
    }
}

#[test]
fn ip_rate_limits_off_keeps_the_web_acl_without_rate_rules() {
    let off = STAGES.replace("[stages.staging]\n", "[stages.staging]\nip_rate_limits = \"off\"\n");
    let (_, api) = stacks(&off, "staging");
    let (acl, _) = web_acl(&api);
    assert!(rule(acl, "auth-ip-rate").is_none() && rule(acl, "all-ip-rate").is_none());
    assert!(rule(acl, "known-bad-inputs").is_some());
    assert!(acl["Properties"].get("CustomResponseBodies").is_none(), "no body that no rule uses");
    let (_, dev) = stacks(&off, "dev");
    assert!(rule(web_acl(&dev).0, "auth-ip-rate").is_some(), "only the stage that says so");
}

fn api_with(functions: &[contract::Function]) -> Value {
    let c = synth::parse("stages.toml", STAGES, functions).unwrap_or_else(|e| panic!("{}", e.one_line()));
    synth::synth(&c, c.stage("dev").unwrap_or_else(|e| panic!("{e}"))).api.to_json()
}

const PROFILE: &str = r#"route = { method = "GET", path = "/users/{id}", access = "public" }"#;

/// Two functions a team adds: orders reads a user, profile is public.
fn added(orders_path: &str) -> Vec<contract::Function> {
    testing::with(&[
        testing::declare(
            "orders",
            &format!(
                "route = {{ method = \"GET\", path = \"{orders_path}\", access = \"private\" }}\n\
                 env = [\"AUTH_TABLE_NAME\"]\ngrants = {{ users-table = [\"dynamodb:GetItem\"] }}"
            ),
        ),
        testing::declare("profile", PROFILE),
    ])
}

#[test]
fn added_routes_nest_carry_parameters_and_are_scoped_to_their_method_and_path() {
    let api = api_with(&added("/users/{id}/orders"));
    let r = &api["Resources"];
    // One resource per path prefix, shared: /users, /users/{id}, /users/{id}/orders.
    assert_eq!(r["UsersResource"]["Properties"]["ParentId"], json!({"Fn::GetAtt": ["Api", "RootResourceId"]}));
    assert_eq!(r["UsersByIdResource"]["Properties"]["PathPart"], "{id}");
    assert_eq!(r["UsersByIdResource"]["Properties"]["ParentId"], json!({"Ref": "UsersResource"}));
    assert_eq!(r["UsersByIdOrdersResource"]["Properties"]["ParentId"], json!({"Ref": "UsersByIdResource"}));
    // The built-in routes' nine (/signup, /signup/verify, /signin, /refresh, /signout, /hello, /password and its
    // two) and three new.
    assert_eq!(resources_of(&api, "AWS::ApiGateway::Resource").len(), 9 + 3, "the first nine and three new");

    let method = &r["GetUsersByIdOrdersMethod"]["Properties"];
    assert_eq!(method["RequestParameters"], json!({"method.request.path.id": true}));
    assert_eq!(method["AuthorizationType"], "CUSTOM");
    assert_eq!(r["GetUsersByIdMethod"]["Properties"]["AuthorizationType"], "NONE", "profile is public");
    let source = &r["GetUsersByIdOrdersInvokePermission"]["Properties"]["SourceArn"]["Fn::Sub"];
    assert!(source.as_str().is_some_and(|s| s.ends_with("${Api}/dev/GET/users/*/orders")), "{source}");

    // orders may read one user and nothing else; profile may touch nothing but its logs.
    let orders: Vec<String> = r["OrdersRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| strings(&s["Action"]))
        .collect();
    assert_eq!(orders, ["logs:CreateLogStream", "logs:PutLogEvents", "dynamodb:GetItem"]);
    let env = &r["OrdersFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(env, &json!({"AUTH_TABLE_NAME": {"Fn::ImportValue": "auth-dev-table-name"}}));
    assert!(r["ProfileFunction"]["Properties"].get("Environment").is_none());
}

#[test]
fn the_deployment_changes_when_a_route_changes() {
    let deployment = |api: &Value| {
        resources_of(api, "AWS::ApiGateway::Deployment").first().map(|(id, _)| (*id).clone()).unwrap_or_default()
    };
    let before = deployment(&api_with(&added("/users/{id}/orders")));
    let base = deployment(&api_with(&testing::functions()));
    let moved = deployment(&api_with(&added("/users/{id}/purchases")));
    assert_ne!(before, base, "adding a route makes a new deployment");
    assert_ne!(before, moved, "moving a route makes a new deployment");
    assert_ne!(base, moved);
}

#[test]
fn an_added_function_takes_settings_from_stages_toml_like_the_built_in_ones() {
    let text = format!("{STAGES}\n[stages.dev.functions.orders]\nmemory_mb = 512\nreserved_concurrency = 5\n");
    let functions = added("/users/{id}/orders");
    let c = synth::parse("stages.toml", &text, &functions).unwrap_or_else(|e| panic!("{}", e.one_line()));
    let api = synth::synth(&c, c.stage("dev").unwrap_or_else(|e| panic!("{e}"))).api.to_json();
    let orders = &api["Resources"]["OrdersFunction"]["Properties"];
    assert_eq!((orders["MemorySize"].as_u64(), orders["ReservedConcurrentExecutions"].as_u64()), (Some(512), Some(5)));
    // Without the declaration the same section is an error naming the known functions.
    let error =
        synth::parse("stages.toml", &text, &testing::functions()).err().map(|e| e.one_line()).unwrap_or_default();
    assert!(error.contains("no function named `orders` is declared"), "{error}");
}

#[test]
fn the_order_declarations_are_read_in_changes_no_byte() {
    // The old list gave the key policy's Encrypt to whichever function came first; now each grant comes
    // from the function that declares it, and synth sorts the functions whatever order they arrive in.
    let mut functions = testing::functions();
    let forward = synth::parse("stages.toml", STAGES, &functions).unwrap_or_else(|e| panic!("{}", e.one_line()));
    functions.reverse();
    let backward = synth::parse("stages.toml", STAGES, &functions).unwrap_or_else(|e| panic!("{}", e.one_line()));
    let files = |c: &synth::Config| synth::all_files(c).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(files(&forward), files(&backward));
    let (data, _) = stacks(STAGES, "dev");
    let key = &data.unwrap_or_else(|| panic!("no data stack"))["Resources"]["PasswordKey"]["Properties"]["KeyPolicy"];
    let who: String = key["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["Action"] == json!(["kms:Encrypt"]))
        .map(|s| s["Condition"]["StringEquals"]["aws:PrincipalArn"].to_string())
        .collect();
    assert!(who.contains("role/auth-dev-signup") && !who.contains("hello"), "{who}");
}

#[test]
fn a_grant_on_the_secret_or_the_key_is_written_on_both_sides() {
    let minter = testing::declare(
        "minter",
        "route = { method = \"POST\", path = \"/mint\", access = \"private\" }\n\
         env = [\"AUTH_SECRET_ARN\", \"AUTH_KEY_ARN\"]\n\
         grants = { signing-secret = [\"secretsmanager:GetSecretValue\"], password-key = [\"kms:Decrypt\"] }",
    );
    let functions = testing::with(&[minter]);
    let c = synth::parse("stages.toml", STAGES, &functions).unwrap_or_else(|e| panic!("{}", e.one_line()));
    let s = synth::synth(&c, c.stage("dev").unwrap_or_else(|e| panic!("{e}")));
    let (data, api) = (s.data.map(|d| d.to_json()).unwrap_or_default(), s.api.to_json());
    // The role's side.
    let role: Vec<String> = api["Resources"]["MinterRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| strings(&s["Action"]))
        .collect();
    assert!(role.contains(&"secretsmanager:GetSecretValue".to_owned()) && role.contains(&"kms:Decrypt".to_owned()));
    // The resource's side: the secret's Deny exempts the role, the key policy lets it decrypt.
    let deny = &data["Resources"]["JwtSecretPolicy"]["Properties"]["ResourcePolicy"]["Statement"][0];
    let exempt = deny["Condition"]["StringNotEquals"]["aws:PrincipalArn"].to_string();
    assert!(exempt.contains("role/auth-dev-minter") && exempt.contains("role/auth-dev-signin"), "{exempt}");
    let key = data["Resources"]["PasswordKey"]["Properties"]["KeyPolicy"]["Statement"].to_string();
    assert!(key.contains("MinterDecryptsPasswordHashes") && key.contains("role/auth-dev-minter"), "{key}");
    // And iam.md shows both.
    let iam = synth::files(&c, c.stage("dev").unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .find(|f| f.path.ends_with("iam.md"))
        .map(|f| f.contents)
        .unwrap_or_default();
    assert!(iam.contains("| role/auth-dev-minter | Allow | secretsmanager:GetSecretValue"), "{iam}");
    assert!(
        iam.lines()
            .any(|l| l.starts_with("| * | Deny | secretsmanager:GetSecretValue") && l.contains("auth-dev-minter"))
    );
    assert!(
        iam.lines()
            .any(|l| l.contains("kms:Decrypt") && l.contains("role/auth-dev-minter") && l.contains("key policy"))
    );
}
