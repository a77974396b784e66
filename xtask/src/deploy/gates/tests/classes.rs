//! The classes of mutation a second outside review got past the gates, one pure case of `judge` each:
//! values CloudFormation evaluates, properties that were classed harmless, resource policies' `Resource`,
//! ARNs and principals read as text, the defences, and the pipeline's own settings.

use serde_json::{Value, json};

use super::super::*;
use super::ACCOUNT;

/// A committed template of the prod stage, as JSON.
fn template(stack: &str) -> Value {
    let root = devenv::workspace_root().unwrap_or_else(|e| panic!("{e}"));
    let path = root.join(format!("templates/prod/{stack}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

/// Every refusal of changing the prod `stack` by `edit`, with no flag, as text; and whether each flag
/// set lets it through (the unreviewed refusal yields to none).
struct Verdict {
    text: String,
    refusals: Vec<Refusal>,
}

fn judged(stack: &str, edit: impl FnOnce(&mut Value)) -> Verdict {
    let old = template(stack);
    let mut new = old.clone();
    edit(&mut new);
    let iam = IamDiff::between(&format!("auth-prod-{stack}"), Some(&old), &new);
    let refusals = judge(&[], &iam, (Some(&old), &new), ACCOUNT, Approvals::default());
    Verdict { text: refusals.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"), refusals }
}

impl Verdict {
    fn only(&self, kind: &str, says: &str) {
        let kinds: Vec<&str> = self
            .refusals
            .iter()
            .map(|r| match r {
                Refusal::Unreviewed(_) => "unreviewed",
                Refusal::Iam(_) => "iam",
                Refusal::DataLoss(_) => "data",
                Refusal::Weakening(_) => "weakening",
            })
            .collect();
        assert_eq!(kinds, [kind], "{}", self.text);
        assert!(self.text.contains(says), "expected {says:?} in: {}", self.text);
    }

    /// Refused at least for `kind`, saying `says`.
    fn has(&self, kind: &str, says: &str) {
        let found = self.refusals.iter().any(|r| {
            let k = match r {
                Refusal::Unreviewed(_) => "unreviewed",
                Refusal::Iam(_) => "iam",
                Refusal::DataLoss(_) => "data",
                Refusal::Weakening(_) => "weakening",
            };
            k == kind && r.to_string().contains(says)
        });
        assert!(found, "expected a {kind} refusal saying {says:?}: {}", self.text);
    }
}

fn props<'a>(t: &'a mut Value, id: &str) -> &'a mut Value {
    &mut t["Resources"][id]["Properties"]
}

#[test]
fn a_scalar_inside_an_intrinsic_is_read_as_cloudformation_reads_it() {
    judged("data", |t| {
        props(t, "UsersTable")["TimeToLiveSpecification"] =
            json!({"AttributeName": "created_at", "Enabled": {"Fn::Sub": "true"}});
    })
    .only("data", "UsersTable would get Time to Live on `created_at`");
    judged("data", |t| props(t, "PasswordKey")["Enabled"] = json!({"Fn::Join": ["", ["fal", "se"]]}))
        .only("data", "PasswordKey would be disabled");
    judged("data", |t| {
        props(t, "UsersTable")["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] =
            json!({"Fn::Sub": "false"});
    })
    .only("data", "UsersTable would lose point-in-time recovery");
    // What cannot be evaluated is refused whatever the flags, never read as "not set".
    judged("data", |t| {
        props(t, "UsersTable")["TimeToLiveSpecification"] =
            json!({"AttributeName": "created_at", "Enabled": {"Fn::GetAtt": ["AttemptsTable", "StreamArn"]}});
    })
    .only("unreviewed", "TimeToLiveSpecification.Enabled");
    judged("api", |t| props(t, "ApiAccessLogGroup")["RetentionInDays"] = json!({"Fn::Sub": "1"}))
        .refusals
        .iter()
        .find(|r| matches!(r, Refusal::DataLoss(_)))
        .unwrap_or_else(|| panic!("a retained log kept for 1 day is data loss"));
}

#[test]
fn properties_that_regenerate_shorten_or_reroute_are_not_inert() {
    judged("data", |t| props(t, "JwtSecret")["GenerateSecretString"]["ExcludeLowercase"] = json!(false))
        .has("data", "JwtSecret would be generated again");
    let alphabet = judged("data", |t| {
        props(t, "JwtSecret")["GenerateSecretString"] =
            json!({"PasswordLength": 1, "ExcludeCharacters": "bcdefghijklmnopqrstuvwxyz"});
    });
    assert!(
        alphabet.text.contains("generated again") && alphabet.text.contains("generated length: 64 -> 1"),
        "{}",
        alphabet.text
    );
    judged("data", |t| {
        props(t, "UsersTable")["PointInTimeRecoverySpecification"]["RecoveryPeriodInDays"] = json!(1);
    })
    .only("data", "keep 1 days of point-in-time recovery instead of 35");
    judged("api", |t| {
        props(t, "ApiStage")["Variables"] = json!({"target": "arn:aws:lambda:us-east-1:999999999999:function:x"})
    })
    .only("iam", "stage prod  (sets variable)  target = arn:aws:lambda:us-east-1:999999999999:function:x");
    let deployment = |t: &mut Value| {
        t["Resources"]
            .as_object()
            .and_then(|r| r.iter().find(|(_, v)| v["Type"] == "AWS::ApiGateway::Deployment"))
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| panic!("no deployment"))
    };
    judged("api", |t| {
        let id = deployment(t);
        props(t, &id)["DeploymentCanarySettings"] = json!({"PercentTraffic": 50, "StageVariableOverrides": {"x": "y"}});
    })
    .only("unreviewed", "DeploymentCanarySettings");
    // An inert property still may not hold what only deploy time decides.
    judged("api", |t| props(t, "Api")["Description"] = json!("{{resolve:ssm:/x}}"))
        .only("unreviewed", "dynamic reference");
    judged("api", |t| props(t, "Api")["Description"] = json!({"Fn::If": ["C", "a", "b"]})).only("unreviewed", "Fn::If");
}

fn secret_deny(t: &mut Value) -> &mut Value {
    &mut props(t, "JwtSecretPolicy")["ResourcePolicy"]["Statement"][0]
}

#[test]
fn a_resource_policys_resource_decides_what_it_covers() {
    judged("data", |t| {
        let s = secret_deny(t).as_object_mut().unwrap_or_else(|| panic!("no statement"));
        s.remove("Resource");
        s.insert("NotResource".into(), json!(["*"]));
    })
    .only("iam", "DENY secretsmanager:GetSecretValue  secret ${JwtSecret}");
    judged("data", |t| {
        secret_deny(t)["Resource"] = json!("arn:aws:secretsmanager:us-east-1:123456789012:secret:other");
    })
    .only("iam", "DENY secretsmanager:GetSecretValue  secret ${JwtSecret}");
    // Still `*`, written another way: the same row, nothing to approve.
    assert!(judged("data", |t| secret_deny(t)["Resource"] = json!("*")).refusals.is_empty());
    // A reader added to the Deny's exemptions lifts it for that reader.
    judged("data", |t| {
        secret_deny(t)["Condition"]["StringNotEquals"]["aws:PrincipalArn"]
            .as_array_mut()
            .unwrap_or_else(|| panic!("no list"))
            .push(json!("arn:aws:iam::123456789012:role/auth-prod-hello"));
    })
    .only("iam", "DENY secretsmanager:GetSecretValue");
}

#[test]
fn principals_accounts_and_policy_keys_are_parsed() {
    let lookalike = "arn:aws:iam::999999999999:role/123456789012-reader";
    judged("data", |t| {
        props(t, "UsersTable")["ResourcePolicy"] = json!({"PolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": lookalike}, "Action": "dynamodb:GetItem", "Resource": "*"}]}});
    })
    .refusals
    .iter()
    .find(|r| matches!(r, Refusal::DataLoss(w) if w.iter().any(|w| w.contains("outside account 123456789012"))))
    .unwrap_or_else(|| panic!("another account's role named after ours is another account"));
    // A service is not an account of the same name.
    judged("api", |t| {
        props(t, "SigninRole")["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] =
            json!({"AWS": "lambda.amazonaws.com"});
    })
    .only("iam", "lambda.amazonaws.com  sts:AssumeRole");
    // The condition `"a, b"` is not `["a", "b"]`.
    let exempt =
        |value: Value| move |t: &mut Value| secret_deny(t)["Condition"]["StringNotEquals"]["aws:PrincipalArn"] = value;
    let old = template("data");
    let mut one = old.clone();
    exempt(json!("a, b"))(&mut one);
    let mut two = old.clone();
    exempt(json!(["a", "b"]))(&mut two);
    assert!(!IamDiff::between("s", Some(&one), &two).is_empty(), "one string and two strings read alike");
    // A key IAM would not read as spelled is refused, not skipped.
    judged("data", |t| {
        let s = secret_deny(t).as_object_mut().unwrap_or_else(|| panic!("no statement"));
        let effect = s.remove("Effect").unwrap_or_default();
        s.insert("effect".into(), effect);
    })
    .has("unreviewed", "\"effect\"");
}

#[test]
fn weakening_a_defence_is_its_own_gate() {
    let limit = |t: &mut Value| {
        props(t, "WebAcl")["Rules"][0]["Statement"]["RateBasedStatement"]["Limit"] = json!({"Fn::Sub": "10000"});
    };
    let verdict = judged("api", limit);
    verdict.only("weakening", "WebAcl rule auth-ip-rate: rate limit: 100 -> 10000");
    assert!(verdict.text.ends_with("re-run with --approve-weakening to allow it"), "{}", verdict.text);
    let old = template("api");
    let mut new = old.clone();
    limit(&mut new);
    let iam = IamDiff::between("auth-prod-api", Some(&old), &new);
    let all = Approvals { iam: true, data_loss: true, weakening: false };
    assert_eq!(judge(&[], &iam, (Some(&old), &new), ACCOUNT, all).len(), 1, "only its own flag lifts it");
    let flag = Approvals { iam: false, data_loss: false, weakening: true };
    assert!(judge(&[], &iam, (Some(&old), &new), ACCOUNT, flag).is_empty());
    judged("api", |t| {
        props(t, "SigninFunction")["Environment"]["Variables"]["AUTH_LOCKOUT_MAX_FAILURES"] = json!("1000")
    })
    .only("weakening", "AUTH_LOCKOUT_MAX_FAILURES: 10 -> 1000");
}

#[test]
fn the_pipelines_own_settings_are_rows() {
    for (key, value) in [
        ("Cache", json!({"Type": "S3", "Location": "shared-cache/auth"})),
        ("EncryptionKey", json!("arn:aws:kms:us-east-1:999999999999:key/x")),
        ("LogsConfig", json!({"CloudWatchLogs": {"Status": "DISABLED"}})),
    ] {
        judged("pipeline", |t| props(t, "PlanProject")[key] = value.clone())
            .only("iam", &format!("(configured)  {key}: "));
    }
    judged("pipeline", |t| props(t, "Pipeline")["ArtifactStore"]["Location"] = json!("someone-elses-bucket"))
        .only("iam", "ArtifactStore: ");
    judged("pipeline", |t| props(t, "Pipeline")["ExecutionMode"] = json!("PARALLEL"))
        .only("iam", "ExecutionMode: PARALLEL");
}

/// The deploy role's Deny of its own kind's roles, by Sid.
fn deploy_deny<'a>(t: &'a mut Value, sid: &str) -> &'a mut Value {
    let policies = props(t, "DeployRole")["Policies"].as_array_mut().unwrap_or_else(|| panic!("no policies"));
    policies
        .iter_mut()
        .flat_map(|p| p["PolicyDocument"]["Statement"].as_array_mut().into_iter().flatten())
        .find(|s| s["Sid"] == sid)
        .unwrap_or_else(|| panic!("no statement {sid}"))
}

/// The change set CloudFormation would report for `old` into `new`: resources removed, added, or
/// replaced because a create-only name changed.
fn changes(old: &Value, new: &Value) -> Vec<Change> {
    let ids = |t: &Value| t["Resources"].as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
    let kind = |t: &Value, id: &str| t["Resources"][id]["Type"].as_str().unwrap_or_default().to_owned();
    let mut out = Vec::new();
    for id in ids(old) {
        let (before, after) = (&old["Resources"][&id], &new["Resources"][&id]);
        let change = |action: &str, replacement: &str| Change {
            action: action.into(),
            logical_id: id.clone(),
            resource_type: kind(old, &id),
            replacement: replacement.into(),
        };
        if after.is_null() {
            out.push(change("Remove", ""));
        } else if before["Properties"]["LogGroupName"] != after["Properties"]["LogGroupName"] {
            out.push(change("Modify", "True"));
        }
    }
    out
}

/// Every refusal of changing the prod api stack by `edit`, the change set included.
fn judged_with_changes(edit: impl FnOnce(&mut Value)) -> Vec<Refusal> {
    let old = template("api");
    let mut new = old.clone();
    edit(&mut new);
    let iam = IamDiff::between("auth-prod-api", Some(&old), &new);
    judge(&changes(&old, &new), &iam, (Some(&old), &new), ACCOUNT, Approvals::default())
}

/// The outside review of this change, each of its findings as a case.
#[test]
fn what_the_review_of_this_gate_found() {
    // A response cache answers one caller's sign-in with another's tokens.
    judged("api", |t| {
        props(t, "ApiStage")["MethodSettings"].as_array_mut().unwrap_or_else(|| panic!("no settings")).push(
            json!({"HttpMethod": "POST", "ResourcePath": "/~1signin", "CachingEnabled": true, "CacheTtlInSeconds": 3600, "ThrottlingRateLimit": 10.0, "ThrottlingBurstLimit": 10}),
        );
    })
    .only("weakening", "POST /~1signin: caching: (new) true");
    judged("api", |t| props(t, "ApiStage")["CacheClusterEnabled"] = json!(true)).only("weakening", "cache cluster");
    // A renamed log group is a new one: the old one and its year of logs are deleted.
    let renamed =
        judged_with_changes(|t| props(t, "SigninLogGroup")["LogGroupName"] = json!("/aws/lambda/auth-prod-signin-v2"));
    assert!(
        renamed
            .iter()
            .any(|r| matches!(r, Refusal::DataLoss(w) if w.iter().any(|w| w.contains("may replace SigninLogGroup")))),
        "{renamed:?}"
    );
    // A function removed with its log group and its route: no data refusal, no weakening.
    let removed = judged_with_changes(|t| {
        let resources = t["Resources"].as_object_mut().unwrap_or_else(|| panic!("no resources"));
        resources.retain(|id, _| !id.contains("Hello"));
        for r in resources.values_mut() {
            if let Some(depends) = r["DependsOn"].as_array_mut() {
                depends.retain(|d| !d.as_str().unwrap_or_default().contains("Hello"));
            }
        }
    });
    assert!(
        removed.iter().all(|r| !matches!(r, Refusal::DataLoss(_) | Refusal::Weakening(_) | Refusal::Unreviewed(_))),
        "{removed:?}"
    );
    // A function added (a copy of hello under another name) weakens nothing.
    let added = judged("api", |t| {
        let resources = t["Resources"].as_object_mut().unwrap_or_else(|| panic!("no resources"));
        let copies: Vec<(String, Value)> = resources
            .iter()
            .filter(|(id, _)| id.starts_with("Hello"))
            .map(|(id, r)| {
                (
                    id.replace("Hello", "Extra"),
                    serde_json::from_str(&r.to_string().replace("Hello", "Extra").replace("hello", "extra"))
                        .unwrap_or_default(),
                )
            })
            .collect();
        resources.extend(copies);
    });
    assert!(added.refusals.iter().all(|r| matches!(r, Refusal::Iam(_))), "{}", added.text);
    // A boolean the fold turned into a string is still read as one.
    judged("pipeline", |t| props(t, "PlanProject")["Environment"]["PrivilegedMode"] = json!({"Fn::Sub": "true"}))
        .only("iam", "privileged true");
    // A function renamed keeps its settings: loosening them in the same change shows.
    let renamed = judged("api", |t| {
        props(t, "SigninFunction")["FunctionName"] = json!("auth-prod-signin2");
        props(t, "SigninFunction")["Environment"]["Variables"]["AUTH_LOCKOUT_MAX_FAILURES"] = json!("100");
    });
    renamed.has("weakening", "AUTH_LOCKOUT_MAX_FAILURES: 10 -> 100");
    // A plain string holding `${...}` is not the substituted ARN: the Deny it was no longer applies.
    judged("pipeline", |t| {
        deploy_deny(t, "NeverLiftABoundary")["Resource"] =
            json!(["arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*"]);
    })
    .only("iam", "DENY iam:DeleteRolePermissionsBoundary");
    // A second stage on the same deployment, with no web ACL, throttling or access log.
    judged("api", |t| {
        let stage = json!({"Type": "AWS::ApiGateway::Stage", "Properties": {"StageName": "open",
            "RestApiId": {"Ref": "Api"}, "DeploymentId": t["Resources"]["ApiStage"]["Properties"]["DeploymentId"].clone()}});
        t["Resources"]["OpenStage"] = stage;
    })
    .only("weakening", "OpenStage unguarded: no web ACL association");
    // Two rules of one name, two settings of one route: which one applies is not the review's to guess.
    judged("api", |t| {
        let rules = props(t, "WebAcl")["Rules"].as_array_mut().unwrap_or_else(|| panic!("no rules"));
        let mut twin = rules[0].clone();
        twin["Priority"] = json!(7);
        twin["Action"] = json!({"Count": {}});
        rules.push(twin);
    })
    .has("unreviewed", "auth-ip-rate appears twice");
    // Code from an image is not the zip that was built and pinned.
    judged("api", |t| {
        props(t, "SigninFunction")["PackageType"] = json!("Image");
    })
    .only("unreviewed", "PackageType must be Zip");
}
