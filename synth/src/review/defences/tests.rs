//! Each way to weaken a defence, case by case, on the prod api template as synth writes it.

use serde_json::{Value, json};

use super::*;

/// The prod stage's api template, synthesized.
fn api() -> Value {
    let config = crate::parse("stages.toml", include_str!("../../../../stages.toml"), &testkit::functions())
        .unwrap_or_else(|e| panic!("{}", e.one_line()));
    let stage = config.stage("prod").unwrap_or_else(|e| panic!("{e}"));
    crate::synth(&config, stage).api.to_json()
}

fn weakened_by(edit: impl FnOnce(&mut Value)) -> Vec<String> {
    let old = api();
    let mut new = old.clone();
    edit(&mut new);
    weakened("auth-prod-api", Some(&old), &new)
}

fn tightened_by(edit: impl FnOnce(&mut Value)) {
    let got = weakened_by(edit);
    assert!(got.is_empty(), "a tightening needs no flag: {got:?}");
}

fn rules(t: &mut Value) -> &mut Vec<Value> {
    t["Resources"]["WebAcl"]["Properties"]["Rules"].as_array_mut().unwrap_or_else(|| panic!("no rules"))
}

fn rule<'a>(t: &'a mut Value, name: &str) -> &'a mut Value {
    rules(t).iter_mut().find(|r| r["Name"] == name).unwrap_or_else(|| panic!("no rule {name}"))
}

fn function<'a>(t: &'a mut Value, id: &str) -> &'a mut Value {
    &mut t["Resources"][id]["Properties"]
}

fn one(found: &[String], expected: &str) {
    assert!(found.len() == 1 && found[0].contains(expected), "expected one weakening with {expected:?}: {found:#?}");
}

#[test]
fn the_same_template_weakens_nothing_and_a_first_deploy_weakens_nothing() {
    let mut blocking = api();
    blocking["Resources"]["WebAcl"]["Properties"]["DefaultAction"] = json!({"Block": {}});
    let allowing = weakened("s", Some(&blocking), &api());
    assert!(allowing.len() == 1 && allowing[0].contains("default action: Block -> Allow"), "{allowing:?}");
    assert_eq!(weakened_by(|_| ()), Vec::<String>::new());
    assert!(weakened("s", None, &api()).is_empty());
    assert!(!settings("auth-prod-api", &api()).is_empty());
}

#[test]
fn waf_rules_limits_and_the_association() {
    one(
        &weakened_by(|t| rule(t, "auth-ip-rate")["Statement"]["RateBasedStatement"]["Limit"] = json!(10_000)),
        "rate limit: 100 -> 10000",
    );
    // Read as CloudFormation reads it: a limit given through Fn::Sub is still a limit.
    one(
        &weakened_by(|t| {
            rule(t, "auth-ip-rate")["Statement"]["RateBasedStatement"]["Limit"] = json!({"Fn::Sub": "10000"})
        }),
        "rate limit: 100 -> 10000",
    );
    one(&weakened_by(|t| rule(t, "auth-ip-rate")["Action"] = json!({"Count": {}})), "auth-ip-rate: action");
    one(
        &weakened_by(|t| rule(t, "known-bad-inputs")["OverrideAction"] = json!({"Count": {}})),
        "known-bad-inputs: action",
    );
    let removed = weakened_by(|t| rules(t).retain(|r| r["Name"] != "all-ip-rate"));
    assert!(removed.iter().any(|w| w.contains("all-ip-rate: present: yes -> (removed)")), "{removed:#?}");
    let scope = weakened_by(|t| {
        rule(t, "auth-ip-rate")["Statement"]["RateBasedStatement"]["ScopeDownStatement"]["OrStatement"]["Statements"]
            .as_array_mut()
            .unwrap_or_else(|| panic!("no scope-down"))
            .pop();
    });
    one(&scope, "auth-ip-rate: statement");
    let allow_first = weakened_by(|t| {
        rules(t).push(json!({"Name": "let-me-in", "Priority": 9, "Action": {"Allow": {}},
            "Statement": {"IPSetReferenceStatement": {"Arn": "arn:aws:wafv2:us-east-1:1:regional/ipset/x/y"}},
            "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "m"}}));
    });
    assert!(allow_first.iter().any(|w| w.contains("let-me-in: lets requests past later rules")), "{allow_first:#?}");
    tightened_by(|t| t["Resources"]["WebAcl"]["Properties"]["DefaultAction"] = json!({"Block": {}}));
    let unassociated = weakened_by(|t| {
        let resources = t["Resources"].as_object_mut().unwrap_or_else(|| panic!("no resources"));
        resources.retain(|_, r| r["Type"] != "AWS::WAFv2::WebACLAssociation");
    });
    assert_eq!(unassociated.len(), 2, "{unassociated:#?}");
    assert!(unassociated.iter().any(|w| w.contains("ApiStage unguarded: no web ACL association: (new) yes")));
    // Tightening: a lower limit, a new blocking rule.
    tightened_by(|t| rule(t, "auth-ip-rate")["Statement"]["RateBasedStatement"]["Limit"] = json!(50));
    tightened_by(|t| {
        rules(t).push(json!({"Name": "geo", "Priority": 9, "Action": {"Block": {}},
            "Statement": {"GeoMatchStatement": {"CountryCodes": ["XX"]}},
            "VisibilityConfig": {"SampledRequestsEnabled": true, "CloudWatchMetricsEnabled": true, "MetricName": "g"}}));
    });
}

fn method_settings(t: &mut Value) -> &mut Vec<Value> {
    t["Resources"]["ApiStage"]["Properties"]["MethodSettings"].as_array_mut().unwrap_or_else(|| panic!("no settings"))
}

#[test]
fn throttling_and_access_logging() {
    one(
        &weakened_by(|t| method_settings(t)[0]["ThrottlingRateLimit"] = json!(50_000.0)),
        "throttling rate: 500 -> 50000",
    );
    let gone = weakened_by(|t| {
        let m = method_settings(t)[0].as_object_mut().unwrap_or_else(|| panic!("not a map"));
        m.remove("ThrottlingRateLimit");
        m.remove("ThrottlingBurstLimit");
    });
    assert_eq!(gone.len(), 3, "the rate, the burst, and a stage left unthrottled: {gone:#?}");
    // A route of its own, throttled far above the stage, escapes the stage's limit.
    let route = weakened_by(|t| {
        method_settings(t).push(json!({"ResourcePath": "/~1signin", "HttpMethod": "POST", "ThrottlingRateLimit": 1e6, "ThrottlingBurstLimit": 1000}));
    });
    one(&route, "POST /~1signin: throttling rate: (new) 1000000 (over * /*: throttling rate 500");
    one(&weakened_by(|t| method_settings(t)[0]["DataTraceEnabled"] = json!(true)), "data trace");
    let unlogged = weakened_by(|t| {
        t["Resources"]["ApiStage"]["Properties"]
            .as_object_mut()
            .unwrap_or_else(|| panic!("no stage"))
            .remove("AccessLogSetting");
    });
    assert!(unlogged.iter().all(|w| w.contains("access log")) && unlogged.len() == 3, "{unlogged:#?}");
    one(
        &weakened_by(|t| {
            t["Resources"]["ApiAccessLogGroup"]["Properties"]["RetentionInDays"] = json!({"Fn::Sub": "1"})
        }),
        "retention in days: 365 -> 1",
    );
    tightened_by(|t| method_settings(t)[0]["ThrottlingRateLimit"] = json!(100.0));
    tightened_by(|t| {
        t["Resources"]["ApiAccessLogGroup"]["Properties"]
            .as_object_mut()
            .unwrap_or_else(|| panic!("no log"))
            .remove("RetentionInDays");
    });
}

#[test]
fn lockout_session_and_token_settings_in_a_functions_environment() {
    fn env(t: &mut Value) -> &mut Value {
        &mut function(t, "SigninFunction")["Environment"]["Variables"]
    }
    one(&weakened_by(|t| env(t)["AUTH_LOCKOUT_MAX_FAILURES"] = json!("1000")), "AUTH_LOCKOUT_MAX_FAILURES: 10 -> 1000");
    one(
        &weakened_by(|t| env(t)["AUTH_LOCKOUT_COOLDOWN_SECONDS"] = json!("1")),
        "AUTH_LOCKOUT_COOLDOWN_SECONDS: 900 -> 1",
    );
    one(&weakened_by(|t| env(t)["AUTH_TOKEN_LIFETIME_SECONDS"] = json!("86400")), "AUTH_TOKEN_LIFETIME_SECONDS");
    let removed = weakened_by(|t| {
        env(t).as_object_mut().unwrap_or_else(|| panic!("no env")).remove("AUTH_LOCKOUT_DAILY_PER_EMAIL");
    });
    one(&removed, "AUTH_LOCKOUT_DAILY_PER_EMAIL: 200 -> (removed)");
    // A variable the handlers do not document can re-route the SDK or silence the logs.
    one(
        &weakened_by(|t| env(t)["AWS_ENDPOINT_URL_KMS"] = json!("https://kms.attacker.example")),
        "AWS_ENDPOINT_URL_KMS",
    );
    one(&weakened_by(|t| env(t)["RUST_LOG"] = json!("off")), "RUST_LOG");
    one(
        &weakened_by(|t| function(t, "SigninFunction")["LoggingConfig"]["ApplicationLogLevel"] = json!("FATAL")),
        "application log level",
    );
    tightened_by(|t| env(t)["AUTH_LOCKOUT_MAX_FAILURES"] = json!("5"));
    tightened_by(|t| env(t)["AUTH_SESSION_IDLE_SECONDS"] = json!("3600"));
}

#[test]
fn a_function_removed_takes_its_settings_with_it_but_the_web_acl_does_not_go_quietly() {
    let gone = weakened_by(|t| {
        let resources = t["Resources"].as_object_mut().unwrap_or_else(|| panic!("no resources"));
        resources.retain(|id, _| !id.starts_with("Hello"));
    });
    assert!(gone.is_empty(), "removing a function weakens no defence of what remains: {gone:#?}");
    let unguarded = weakened_by(|t| {
        let resources = t["Resources"].as_object_mut().unwrap_or_else(|| panic!("no resources"));
        resources.retain(|_, r| r["Type"] != "AWS::WAFv2::WebACL" && r["Type"] != "AWS::WAFv2::WebACLAssociation");
    });
    assert!(unguarded.len() > 10 && unguarded.iter().any(|w| w.contains("auth-ip-rate: rate limit")), "{unguarded:#?}");
}

#[test]
fn the_markdown_lists_every_setting_with_its_direction() {
    let s = settings("auth-prod-api", &api());
    let md = markdown("auth-prod", &s);
    assert!(md.contains("| auth-prod-api | WebAcl | rule auth-ip-rate: rate limit | 100 | lower |"), "{md}");
    assert!(md.contains("env AUTH_LOCKOUT_MAX_FAILURES | 10 | lower |"), "{md}");
    let shown = s.iter().filter(|s| s.name != EXISTS).count();
    assert_eq!(md.lines().filter(|l| l.starts_with("| auth-prod")).count(), shown);
}

#[test]
fn every_variable_the_contract_names_is_documented() {
    // A variable synth sets but the review does not know would read as a weakening on every deploy.
    for v in contract::EnvVar::ALL {
        assert!(documented_variable(v.name()), "{v}: add it to ENVIRONMENT with its direction");
    }
    assert!(!documented_variable("AWS_ENDPOINT_URL"));
}
