//! The web ACL read from the real synthesized templates, and the limiter under a flood, case by case.

use std::net::Ipv4Addr;

use serde_json::json;

use super::*;

/// The committed stages.toml and the api template of `stage` as JSON.
fn template(stage: &str) -> (synth::Stage, Value) {
    let path = devenv::workspace_root().unwrap().join("stages.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let config = synth::parse("stages.toml", &text, &crate::declared::functions()).unwrap_or_else(|e| panic!("{e}"));
    let stage = config.stage(stage).unwrap_or_else(|e| panic!("{e}")).clone();
    let api = synth::synth(&config, &stage).api.to_json();
    (stage, api)
}

fn acl_of(api: &Value, stage: &str) -> anyhow::Result<Option<WebAcl>> {
    read(api["Resources"].as_object().unwrap(), stage)
}

fn dev_acl() -> (synth::Stage, WebAcl) {
    let (stage, api) = template("dev");
    let acl = acl_of(&api, "dev").unwrap().unwrap_or_else(|| panic!("no web ACL on the dev stage"));
    (stage, acl)
}

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

fn too_many_requests() -> BlockResponse {
    BlockResponse {
        status: 429,
        content_type: "application/json".into(),
        body: br#"{"message":"Too Many Requests"}"#.to_vec(),
    }
}

fn blocked_by(verdict: &Verdict) -> Option<&str> {
    match verdict {
        Verdict::Allow => None,
        Verdict::Block { rule, .. } => Some(rule),
    }
}

#[test]
fn the_dev_template_gives_the_stages_limits_with_a_json_429() {
    let (stage, acl) = dev_acl();
    let limits = stage.ip_rate_limits.unwrap_or_else(|| panic!("dev has per-IP limits"));
    let got: Vec<(&str, u64, Duration, bool)> =
        acl.rules.iter().map(|r| (r.name.as_str(), r.limit, r.window, r.scope.is_some())).collect();
    let window = Duration::from_secs(300);
    assert_eq!(
        got,
        [("auth-ip-rate", u64::from(limits.auth), window, true), ("all-ip-rate", u64::from(limits.all), window, false)]
    );
    assert!(acl.rules.iter().all(|r| r.block == too_many_requests()));
    assert_eq!(acl.not_emulated, ["known-bad-inputs (AWS managed rule group AWSManagedRulesKnownBadInputsRuleSet)"]);
    assert_eq!(
        describe(&acl),
        [
            format!(
                "auth-ip-rate: {} requests per source IP per 300 s where path ends with /password/forgot, \
                 /password/forgot/, /refresh, /refresh/, /password/reset, /password/reset/, /signin, /signin/, \
                 /signout, /signout/, /signup, /signup/, /signup/verify or /signup/verify/, then 429",
                limits.auth
            ),
            format!("all-ip-rate: {} requests per source IP per 300 s on every path, then 429", limits.all),
            "known-bad-inputs (AWS managed rule group AWSManagedRulesKnownBadInputsRuleSet): applied on AWS only"
                .into(),
        ]
    );
}

#[test]
fn the_auth_scope_matches_every_spelling_of_the_public_paths_waf_sees() {
    let (_, acl) = dev_acl();
    let scope = acl.rules[0].scope.clone().unwrap_or_else(|| panic!("the auth rule has a scope"));
    // The execute-api URL's stage prefix, a custom domain with and without a base path, a trailing
    // slash, other case, percent-encoding.
    for path in ["/dev/signin", "/dev/signup", "/signin", "/v1/signin", "/dev/signin/", "/DEV/SignIn", "/dev/sign%69n"]
    {
        assert!(scope.matches(path), "{path} escapes the auth limit");
    }
    // Spellings a router may still send to signin: repeated slashes, `.` and `..` segments, encoded.
    for path in
        ["/dev/signin//", "/dev/signin/.", "/dev//signin", "/dev/x/../signin", "/dev/signin/./", "/dev/signin%2f."]
    {
        assert!(scope.matches(path), "{path} escapes the auth limit (NORMALIZE_PATH)");
    }
    for path in ["/dev/hello", "/dev/signinx", "/dev/signin/x", "/dev/xsignin", "/"] {
        assert!(!scope.matches(path), "{path} counts as an auth path");
    }
}

#[test]
fn a_flood_from_one_address_is_blocked_after_the_limit_and_others_are_not() {
    let (stage, acl) = dev_acl();
    let limit = stage.ip_rate_limits.map(|l| l.auth).unwrap_or_default();
    let mut limiter = Limiter::new(&acl);
    let start = Instant::now();
    for i in 0..limit {
        let at = start + Duration::from_millis(u64::from(i));
        assert_eq!(limiter.check(ip(1), "/dev/signin", at), Verdict::Allow, "request {} of {limit}", i + 1);
    }
    let at = start + Duration::from_secs(1);
    assert_eq!(
        limiter.check(ip(1), "/dev/signin", at),
        Verdict::Block { rule: "auth-ip-rate".into(), response: too_many_requests() }
    );
    // The same address on the other auth route, spelled another way: the same count.
    assert_eq!(blocked_by(&limiter.check(ip(1), "/signup/", at)), Some("auth-ip-rate"));
    // Another address, and the flooding one on a path the auth rule does not cover.
    assert_eq!(limiter.check(ip(2), "/dev/signin", at), Verdict::Allow);
    assert_eq!(limiter.check(ip(1), "/dev/hello", at), Verdict::Allow);
}

#[test]
fn blocked_requests_still_count_and_the_block_lifts_once_the_window_holds_no_more_than_the_limit() {
    let rule = |name: &str, limit, scope| RateRule {
        name: name.into(),
        priority: 0,
        limit,
        window: Duration::from_secs(300),
        scope,
        block: too_many_requests(),
    };
    let acl = WebAcl { name: "acl".into(), rules: vec![rule("all", 3, None)], not_emulated: Vec::new() };
    let mut limiter = Limiter::new(&acl);
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let blocked: Vec<bool> =
        [0, 10, 20, 30, 200].iter().map(|&at| limiter.check(ip(1), "/", t0 + s(at)) != Verdict::Allow).collect();
    assert_eq!(blocked, [false, false, false, true, true], "still flooding at 200 s");
    // At 305 s the window (5, 305] holds 10, 20, 30 and 200, blocked ones included: still over.
    assert!(blocked_by(&limiter.check(ip(1), "/", t0 + s(305))).is_some());
    // At 600 s only 305 and this one remain.
    assert_eq!(limiter.check(ip(1), "/", t0 + s(600)), Verdict::Allow);
}

#[test]
fn rules_apply_in_priority_order_and_only_to_their_scope() {
    let (_, acl) = dev_acl();
    let mut acl = acl;
    acl.rules[0].limit = 2;
    acl.rules[1].limit = 4;
    let mut limiter = Limiter::new(&acl);
    let now = Instant::now();
    let mut seen = Vec::new();
    for path in ["/dev/signin", "/dev/signin", "/dev/signin", "/dev/hello", "/dev/hello", "/dev/hello"] {
        seen.push(blocked_by(&limiter.check(ip(1), path, now)).map(str::to_owned));
    }
    // The third sign-in is over the auth limit (and, blocked there, never reaches the all rule's
    // count); hello is counted by the all rule alone: 2 sign-ins + 2 hellos, then over.
    let expected = [None, None, Some("auth-ip-rate"), None, None, Some("all-ip-rate")];
    assert_eq!(seen, expected.map(|r| r.map(str::to_owned)));
}

#[test]
fn old_counts_are_dropped_so_memory_follows_recent_clients() {
    let (_, acl) = dev_acl();
    let mut limiter = Limiter::new(&acl);
    let t0 = Instant::now();
    for i in 0..=u8::MAX {
        limiter.check(ip(i), "/dev/signin", t0);
    }
    assert_eq!(limiter.seen.len(), 2 * 256, "each address has a count per rule it matched");
    let later = t0 + Duration::from_secs(301);
    for _ in 0..SWEEP_EVERY {
        limiter.check(ip(1), "/dev/hello", later);
    }
    assert_eq!(limiter.seen.len(), 1, "only the address seen in the last window is left");
}

#[test]
fn a_web_acl_not_associated_with_the_stage_protects_nothing() {
    let (_, mut api) = template("dev");
    let resources = api["Resources"].as_object_mut().unwrap();
    resources.remove("WebAclAssociation");
    assert_eq!(acl_of(&api, "dev").unwrap(), None);
    let (_, api) = template("dev");
    assert_eq!(acl_of(&api, "prod").unwrap(), None, "it names the dev stage only");
}

#[test]
fn what_local_cannot_apply_is_refused_by_name() {
    let (_, api) = template("dev");
    let with = |pointer: &str, value: Value| {
        let mut api = api.clone();
        *api.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer}")) = value;
        match acl_of(&api, "dev") {
            Ok(acl) => panic!("read {acl:?}"),
            Err(e) => format!("{e:#}"),
        }
    };
    let rate = "/Resources/WebAcl/Properties/Rules/0/Statement/RateBasedStatement";
    let e = with(&format!("{rate}/AggregateKeyType"), json!("FORWARDED_IP"));
    assert!(e.contains("counts requests by FORWARDED_IP"), "{e}");
    let e = with(&format!("{rate}/ScopeDownStatement"), json!({"RegexMatchStatement": {}}));
    assert!(e.contains("emulates byte matches on the URI path"), "{e}");
    let e = with("/Resources/WebAcl/Properties/DefaultAction", json!({"Block": {}}));
    assert!(e.contains("default action is not Allow"), "{e}");
    let e = with("/Resources/WebAcl/Properties/CustomResponseBodies", json!({}));
    assert!(e.contains("CustomResponseBodies lacks"), "{e}");
}

#[test]
fn a_block_without_a_custom_response_is_wafs_403() {
    let (_, mut api) = template("dev");
    let action = api.pointer_mut("/Resources/WebAcl/Properties/Rules/1/Action").unwrap();
    *action = json!({"Block": {}});
    let acl = acl_of(&api, "dev").unwrap().unwrap();
    assert_eq!(acl.rules[1].block, default_block());
    assert_eq!(acl.rules[1].block.status, 403);
}

#[test]
fn paths_are_normalized_as_waf_does() {
    let n = |p: &str| String::from_utf8(normalize_path(p.as_bytes())).unwrap_or_default();
    assert_eq!(n("/dev/signin//"), "/dev/signin/");
    assert_eq!(n("/dev/signin/."), "/dev/signin/");
    assert_eq!(n("//dev///signin"), "/dev/signin");
    assert_eq!(n("/dev/a/b/../../signin"), "/dev/signin");
    assert_eq!(n("/../signin"), "/../signin", "a back-reference at the beginning stays");
    assert_eq!(n("/"), "/");
    assert_eq!(n(""), "");
}
