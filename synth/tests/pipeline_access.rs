//! What each role of the pipeline stack can reach, asked of IAM's evaluation logic
//! (`synth::review::evaluate`) over the synthesized policies, resolved for one account and region: the
//! attacks a pushed commit or its copied-out Plan credentials would mount, each refused by a policy, and
//! the boundary that caps a role the deploy role makes, however broad its own policy.

use serde_json::{Value, json};
use synth::review::evaluate::{Decision, Request, decide, unknown_operators};

use testkit as testing;

const STAGES: &str = include_str!("../../stages.toml");
const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
/// The dev stage's sender in stages.toml.
const SENDER: &str = "no-reply@dev.auth.example.com";

fn stacks(stage: &str) -> (Value, Value) {
    let c = synth::parse("stages.toml", STAGES, &testing::functions()).unwrap_or_else(|e| panic!("{}", e.one_line()));
    let s = synth::synth(&c, c.stage(stage).unwrap_or_else(|e| panic!("{e}")));
    let pipeline = s.pipeline.unwrap_or_else(|| panic!("{stage} has no pipeline")).to_json();
    (resolve(&pipeline, &pipeline), resolve(&s.api.to_json(), &s.api.to_json()))
}

/// The ARN (or `Ref`) of a resource of `template`, as CloudFormation would make it.
fn arn_of(template: &Value, id: &str) -> String {
    let r = &template["Resources"][id];
    let p = &r["Properties"];
    let text = |v: &Value| v.as_str().unwrap_or_else(|| panic!("{id}: {v}")).to_owned();
    match r["Type"].as_str().unwrap_or_default() {
        "AWS::IAM::Role" => format!("arn:aws:iam::{ACCOUNT}:role/{}", text(&p["RoleName"])),
        "AWS::IAM::ManagedPolicy" => format!("arn:aws:iam::{ACCOUNT}:policy/{}", text(&p["ManagedPolicyName"])),
        "AWS::Logs::LogGroup" => format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{}:*", text(&p["LogGroupName"])),
        "AWS::CodeBuild::Project" => format!("arn:aws:codebuild:{REGION}:{ACCOUNT}:project/{}", text(&p["Name"])),
        // What another stack exports, or a resource this test does not need by ARN.
        other => format!("arn:aws:{other}:{id}"),
    }
}

fn substitute(text: &str, template: &Value) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        if let Some(literal) = after.strip_prefix('!') {
            out.push_str("${");
            rest = literal;
            continue;
        }
        let end = after.find('}').unwrap_or_else(|| panic!("unclosed ${{ in {text}"));
        let name = &after[..end];
        out.push_str(&match name {
            "AWS::Partition" => "aws".to_owned(),
            "AWS::Region" => REGION.to_owned(),
            "AWS::AccountId" => ACCOUNT.to_owned(),
            other => arn_of(template, other.trim_end_matches(".Arn")),
        });
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The template with every intrinsic replaced by its value.
fn resolve(v: &Value, template: &Value) -> Value {
    match v {
        Value::Object(m) if m.len() == 1 && m.contains_key("Fn::Sub") => match &m["Fn::Sub"] {
            Value::String(s) => Value::String(substitute(s, template)),
            other => panic!("Fn::Sub with variables: {other}"),
        },
        Value::Object(m) if m.len() == 1 && m.contains_key("Fn::GetAtt") => {
            Value::String(arn_of(template, m["Fn::GetAtt"][0].as_str().unwrap_or_default()))
        }
        Value::Object(m) if m.len() == 1 && m.contains_key("Ref") => {
            Value::String(arn_of(template, m["Ref"].as_str().unwrap_or_default()))
        }
        Value::Object(m) if m.len() == 1 && m.contains_key("Fn::ImportValue") => {
            Value::String(format!("import:{}", m["Fn::ImportValue"]))
        }
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), resolve(v, template))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(|v| resolve(v, template)).collect()),
        other => other.clone(),
    }
}

fn policies<'a>(template: &'a Value, role: &str) -> Vec<&'a Value> {
    template["Resources"][role]["Properties"]["Policies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| &p["PolicyDocument"])
        .collect()
}

fn boundary(pipeline: &Value) -> &Value {
    &pipeline["Resources"]["PermissionsBoundary"]["Properties"]["PolicyDocument"]
}

fn s3(key: &str) -> String {
    format!("arn:aws:s3:::auth-artifacts-{ACCOUNT}-{REGION}/{key}")
}

fn role_arn(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role/{name}")
}

fn stack(name: &str) -> String {
    format!("arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{name}/0f3c8a52-6d1e-4b7a-9c2d-5e8f1a3b7c90")
}

/// `decide` for the role `role` of the pipeline stack (no boundary: the CI roles carry none).
fn ci(pipeline: &Value, role: &str, request: &Request) -> Decision {
    decide(&policies(pipeline, role), None, request)
}

#[test]
fn every_policy_is_read_whole_by_the_evaluator() {
    for stage in ["dev", "staging", "prod"] {
        let (pipeline, api) = stacks(stage);
        for template in [&pipeline, &api] {
            for (id, r) in template["Resources"].as_object().into_iter().flatten() {
                for doc in r["Properties"]["Policies"].as_array().into_iter().flatten().map(|p| &p["PolicyDocument"]) {
                    assert!(unknown_operators(doc).is_empty(), "{stage} {id}: {:?}", unknown_operators(doc));
                }
            }
        }
        assert!(unknown_operators(boundary(&pipeline)).is_empty());
    }
}

#[test]
fn the_deploy_role_makes_roles_only_with_the_stage_boundary_and_never_the_pipelines_own() {
    let (pipeline, _) = stacks("dev");
    let deploy = |r: &Request| ci(&pipeline, "DeployRole", r);
    let ours = format!("arn:aws:iam::{ACCOUNT}:policy/auth-dev-boundary");
    let function = role_arn("auth-dev-signin");
    let with = |action: &str, resource: &str, boundary: &str| {
        Request::new(action, resource).with("iam:PermissionsBoundary", boundary)
    };
    // A function's role, with the boundary: allowed.
    for action in ["iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:PutRolePermissionsBoundary"] {
        assert_eq!(deploy(&with(action, &function, &ours)), Decision::Allowed, "{action}");
    }
    // Without it, or with another: refused.
    for action in ["iam:CreateRole", "iam:PutRolePolicy"] {
        assert_ne!(deploy(&Request::new(action, &function)), Decision::Allowed, "{action} without a boundary");
        let other = format!("arn:aws:iam::{ACCOUNT}:policy/AdministratorAccess");
        assert_ne!(deploy(&with(action, &function, &other)), Decision::Allowed, "{action} with another boundary");
    }
    assert_eq!(deploy(&Request::new("iam:DeleteRolePermissionsBoundary", &function)), Decision::ExplicitDeny);
    assert_ne!(deploy(&Request::new("iam:AttachRolePolicy", &function)), Decision::Allowed);
    // The pipeline's own roles, itself among them: nothing, boundary or not.
    for ci_role in
        ["auth-dev-ci-deploy", "auth-dev-ci-apply", "auth-dev-ci-review", "auth-dev-ci-plan", "auth-dev-ci-pipeline"]
    {
        for action in [
            "iam:PutRolePolicy",
            "iam:UpdateAssumeRolePolicy",
            "iam:DeleteRole",
            "iam:CreateRole",
            "iam:PutRolePermissionsBoundary",
        ] {
            assert_eq!(deploy(&with(action, &role_arn(ci_role), &ours)), Decision::ExplicitDeny, "{action} {ci_role}");
        }
        let pass = Request::new("iam:PassRole", &role_arn(ci_role)).with("iam:PassedToService", "lambda.amazonaws.com");
        assert_eq!(deploy(&pass), Decision::ExplicitDeny, "pass {ci_role}");
    }
    // Nor the boundary policy, nor another stage's roles, nor a role outside the stage.
    for action in ["iam:CreatePolicyVersion", "iam:SetDefaultPolicyVersion", "iam:DeletePolicy"] {
        assert_eq!(deploy(&Request::new(action, &ours)), Decision::ExplicitDeny, "{action}");
    }
    for outside in ["auth-prod-signin", "Admin", "auth-bootstrap-ApiGatewayLogsRole-1"] {
        assert_ne!(deploy(&with("iam:CreateRole", &role_arn(outside), &ours)), Decision::Allowed, "{outside}");
    }
    // It passes the functions' roles to Lambda, and to nothing else.
    let pass = |service: &str| Request::new("iam:PassRole", &function).with("iam:PassedToService", service);
    assert_eq!(deploy(&pass("lambda.amazonaws.com")), Decision::Allowed);
    assert_ne!(deploy(&pass("ec2.amazonaws.com")), Decision::Allowed);
    // Nothing of the pipeline: projects, the pipeline, the connection.
    for (action, resource) in [
        ("codebuild:UpdateProject", format!("arn:aws:codebuild:{REGION}:{ACCOUNT}:project/auth-dev-ci-review")),
        ("codepipeline:UpdatePipeline", format!("arn:aws:codepipeline:{REGION}:{ACCOUNT}:auth-dev")),
    ] {
        assert_ne!(deploy(&Request::new(action, &resource)), Decision::Allowed, "{action}");
    }
}

#[test]
fn an_over_broad_function_role_is_capped_by_the_boundary() {
    let (pipeline, api) = stacks("dev");
    // A change set that gives a function's role everything: what it could still do in AWS.
    let everything =
        json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    assert_eq!(
        api["Resources"]["SigninRole"]["Properties"]["PermissionsBoundary"],
        format!("arn:aws:iam::{ACCOUNT}:policy/auth-dev-boundary"),
        "the function's role carries the boundary"
    );
    let capped = |r: &Request| decide(&[&everything], Some(boundary(&pipeline)), r);
    let users = format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/auth-dev-users");
    assert_eq!(capped(&Request::new("dynamodb:GetItem", &users)), Decision::Allowed);
    for (action, resource) in [
        ("iam:CreateUser", format!("arn:aws:iam::{ACCOUNT}:user/backdoor")),
        ("iam:PutRolePolicy", role_arn("auth-dev-ci-deploy")),
        ("sts:AssumeRole", role_arn("auth-dev-ci-deploy")),
        ("s3:GetObject", s3("auth/dev/signin/x.zip")),
        ("dynamodb:Scan", users.clone()),
        ("dynamodb:GetItem", format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/auth-prod-users")),
        (
            "secretsmanager:GetSecretValue",
            format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:auth-prod/jwt-signing-key-AbCdEf"),
        ),
        ("lambda:UpdateFunctionCode", format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:auth-dev-signin")),
    ] {
        assert_ne!(capped(&Request::new(action, &resource)), Decision::Allowed, "{action} {resource}");
    }
    // The key only with the email encryption context, as the functions' own policies require.
    let key = format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    assert_ne!(capped(&Request::new("kms:Decrypt", &key)), Decision::Allowed);
    assert_eq!(
        capped(&Request::new("kms:Decrypt", &key).with("kms:EncryptionContextKeys", "email")),
        Decision::Allowed
    );
    // Mail only from the stage's identity, and only as its sender.
    let identity = format!("arn:aws:ses:{REGION}:{ACCOUNT}:identity/dev.auth.example.com");
    let send = |from: &str| Request::new("ses:SendEmail", &identity).with("ses:FromAddress", from);
    assert_eq!(capped(&send(SENDER)), Decision::Allowed);
    assert_ne!(capped(&send("ceo@dev.auth.example.com")), Decision::Allowed, "another sender of the domain");
    assert_ne!(capped(&Request::new("ses:SendEmail", &identity)), Decision::Allowed, "no sender given");
    let other = format!("arn:aws:ses:{REGION}:{ACCOUNT}:identity/auth.example.com");
    let prod = Request::new("ses:SendEmail", &other).with("ses:FromAddress", "no-reply@auth.example.com");
    assert_ne!(capped(&prod), Decision::Allowed, "prod's identity");
    assert_ne!(capped(&Request::new("ses:SendRawEmail", &identity).with("ses:FromAddress", SENDER)), Decision::Allowed);
    assert_ne!(capped(&Request::new("ses:CreateEmailIdentity", &identity)), Decision::Allowed);
    // And the stage's own functions keep every grant their declarations make, under the boundary.
    for (id, r) in api["Resources"].as_object().into_iter().flatten() {
        if r["Type"] != "AWS::IAM::Role" {
            continue;
        }
        for doc in policies(&api, id) {
            for s in doc["Statement"].as_array().into_iter().flatten() {
                for action in s["Action"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                    for resource in s["Resource"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                        // Imported ARNs stand for the data stack's tables, key and secret.
                        let concrete = concrete(resource);
                        let mut request = Request::new(action, &concrete);
                        if action.starts_with("kms:") {
                            request = request.with("kms:EncryptionContextKeys", "email");
                        }
                        if action.starts_with("ses:") {
                            request = request.with("ses:FromAddress", SENDER);
                        }
                        let within = decide(&[&everything], Some(boundary(&pipeline)), &request);
                        assert_eq!(within, Decision::Allowed, "{id}: {action} on {concrete} is outside the boundary");
                    }
                }
            }
        }
    }
}

/// A concrete ARN for what the api stack names by import or by a log group's ARN.
fn concrete(resource: &str) -> String {
    let import = |what: &str| resource.contains(&format!("auth-dev-{what}"));
    if import("table-arn") {
        format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/auth-dev-users")
    } else if import("attempts-table-arn") {
        format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/auth-dev-signin-attempts")
    } else if import("sessions-table-arn") {
        format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/auth-dev-sessions")
    } else if import("codes-table-arn") {
        format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/auth-dev-codes")
    } else if import("mail-identity-arn") {
        format!("arn:aws:ses:{REGION}:{ACCOUNT}:identity/dev.auth.example.com")
    } else if import("code-secret-arn") {
        format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:auth-dev/code-tag-key-AbCdEf")
    } else if import("key-arn") {
        format!("arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab")
    } else if import("secret-arn") {
        format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:auth-dev/jwt-signing-key-AbCdEf")
    } else {
        resource.replace(":*", ":log-stream:2026/12/06/[$LATEST]0f3c")
    }
}

#[test]
fn plan_credentials_reach_nothing_review_or_apply_runs_or_trusts() {
    let (pipeline, _) = stacks("dev");
    let plan = |r: &Request| ci(&pipeline, "PlanRole", r);
    let sha = "ab".repeat(32);
    // What Plan must write: its code, its cache, its artifact, change sets as the deploy role.
    for key in ["auth/dev/signin/1.zip", "cache/auth-dev-ci-plan/x", "auth-dev/Plan/x.zip"] {
        assert_eq!(plan(&Request::new("s3:PutObject", &s3(key))), Decision::Allowed, "{key}");
    }
    let create = |stack_name: &str, role: &str| {
        Request::new("cloudformation:CreateChangeSet", &stack(stack_name)).with("cloudformation:RoleArn", role)
    };
    let deploy = role_arn("auth-dev-ci-deploy");
    assert_eq!(plan(&create("auth-dev-api", &deploy)), Decision::Allowed);
    // A run's Source (the commit CodeBuild clones) and Reviewed artifacts: another build's outputs.
    for key in ["auth-dev/Source/abc1234", "auth-dev/Reviewed/abc1234"] {
        assert_ne!(plan(&Request::new("s3:PutObject", &s3(key))), Decision::Allowed, "{key}");
    }
    // What the trusted builds fetch, and every other stage's code: out of reach.
    for key in
        [format!("reviewer/{sha}/xtask"), "auth/prod/signin/1.zip".to_owned(), "cache/auth-dev-ci-review/x".to_owned()]
    {
        assert_ne!(plan(&Request::new("s3:PutObject", &s3(&key))), Decision::Allowed, "{key}");
    }
    // No change set that imports an existing resource of the account.
    let import = create("auth-dev-api", &deploy).with("cloudformation:ImportResourceTypes", "AWS::IAM::Role");
    assert_eq!(plan(&import), Decision::ExplicitDeny);
    // No change set as another role, or without one, or of the pipeline or bootstrap stack.
    assert_ne!(plan(&create("auth-dev-api", &role_arn("auth-dev-ci-apply"))), Decision::Allowed);
    assert_ne!(plan(&Request::new("cloudformation:CreateChangeSet", &stack("auth-dev-api"))), Decision::Allowed);
    for other in ["auth-dev-pipeline", "auth-bootstrap", "auth-prod-api"] {
        assert_ne!(plan(&create(other, &deploy)), Decision::Allowed, "{other}");
    }
    // And nothing that executes, approves, or changes a build.
    for (action, resource) in [
        ("cloudformation:ExecuteChangeSet", stack("auth-dev-api")),
        ("codepipeline:PutApprovalResult", format!("arn:aws:codepipeline:{REGION}:{ACCOUNT}:auth-dev/Approve/Approve")),
        ("codebuild:UpdateProject", format!("arn:aws:codebuild:{REGION}:{ACCOUNT}:project/auth-dev-ci-review")),
        ("iam:PutRolePolicy", role_arn("auth-dev-ci-plan")),
        ("s3:PutBucketPolicy", format!("arn:aws:s3:::auth-artifacts-{ACCOUNT}-{REGION}")),
        ("s3:DeleteObjectVersion", s3("auth/dev/signin/1.zip")),
    ] {
        assert_ne!(plan(&Request::new(action, &resource)), Decision::Allowed, "{action}");
    }
}

#[test]
fn the_trusted_builds_read_the_pinned_binary_and_write_no_code() {
    let (pipeline, _) = stacks("dev");
    let pinned = pipeline["Resources"]["ReviewProject"]["Properties"]["Environment"]["EnvironmentVariables"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["Name"] == "REVIEWER_SHA256")
        .and_then(|v| v["Value"].as_str())
        .unwrap_or_else(|| panic!("no REVIEWER_SHA256"))
        .to_owned();
    for role in ["ReviewRole", "ApplyRole"] {
        let can = |action: &str, resource: &str| ci(&pipeline, role, &Request::new(action, resource));
        assert_eq!(can("s3:GetObject", &s3(&format!("reviewer/{pinned}/xtask"))), Decision::Allowed, "{role}");
        assert_ne!(can("s3:GetObject", &s3(&format!("reviewer/{}/xtask", "cd".repeat(32)))), Decision::Allowed);
        for key in ["auth/dev/signin/1.zip", "cache/auth-dev-ci-plan/x", &format!("reviewer/{pinned}/xtask")] {
            assert_ne!(can("s3:PutObject", &s3(key)), Decision::Allowed, "{role} writes {key}");
        }
        assert_ne!(
            can("codeconnections:UseConnection", "arn:aws:codeconnections:*"),
            Decision::Allowed,
            "{role} clones"
        );
        assert_ne!(can("cloudformation:CreateChangeSet", &stack("auth-dev-api")), Decision::Allowed);
    }
    // Each trusted build writes only its own output.
    let ci_put = |role: &str, key: &str| ci(&pipeline, role, &Request::new("s3:PutObject", &s3(key)));
    assert_eq!(ci_put("ReviewRole", "auth-dev/Reviewed/x"), Decision::Allowed);
    for key in ["auth-dev/Plan/x", "auth-dev/Source/x"] {
        assert_ne!(ci_put("ReviewRole", key), Decision::Allowed, "{key}");
        assert_ne!(ci_put("ApplyRole", key), Decision::Allowed, "{key}");
    }
    // Review reads the run's record and the Plan build's source, and no other project's builds.
    let review = |action: &str, resource: &str| ci(&pipeline, "ReviewRole", &Request::new(action, resource));
    let project = |p: &str| format!("arn:aws:codebuild:{REGION}:{ACCOUNT}:project/{p}");
    assert_eq!(review("codebuild:BatchGetBuilds", &project("auth-dev-ci-plan")), Decision::Allowed);
    assert_ne!(review("codebuild:BatchGetBuilds", &project("auth-prod-ci-plan")), Decision::Allowed);
    assert_eq!(
        review("codepipeline:ListActionExecutions", &format!("arn:aws:codepipeline:{REGION}:{ACCOUNT}:auth-dev")),
        Decision::Allowed
    );
    let apply = |action: &str, resource: &str| ci(&pipeline, "ApplyRole", &Request::new(action, resource));
    assert_eq!(apply("cloudformation:ExecuteChangeSet", &stack("auth-dev-data")), Decision::Allowed);
    assert_ne!(apply("cloudformation:ExecuteChangeSet", &stack("auth-dev-pipeline")), Decision::Allowed);
    assert_eq!(
        apply("codepipeline:ListActionExecutions", &format!("arn:aws:codepipeline:{REGION}:{ACCOUNT}:auth-dev")),
        Decision::Allowed
    );
}
