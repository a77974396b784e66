//! The stage's edge: an AWS WAF web ACL in front of the REST API's stage, with per source IP
//! rate-based rules (`ip_rate_limits` in stages.toml) and AWS's rules against known bad inputs.
//!
//! WAF sees the whole URI path, which starts with the stage (`/dev/signin` on the execute-api URL) or
//! a custom domain's base path, or with neither (a domain without one): the auth rule matches the
//! path's end, after URL decoding and lowercasing, with and without a trailing slash, so no spelling
//! of the path that API Gateway might route to a public function escapes the count. Over-matching
//! costs nothing: paths that only look like them are answered 403 by API Gateway anyway.

use std::collections::BTreeMap;

use contract::{Function, RateLimit};

use crate::config::{IP_RATE_WINDOW_SECONDS, Stage};
use crate::model::resources::{
    BlockAction, ByteMatchStatement, CustomResponse, CustomResponseBody, Empty, FieldToMatch,
    ManagedRuleGroupStatement, OrStatement, OverrideAction, RateBasedStatement, RestApi, Stage as ApiStage,
    TextTransformation, VisibilityConfig, WafAction, WafRule, WafStatement, WebAcl, WebAclAssociation, tag_list,
};
use crate::model::{Expr, Handle, Part, Pseudo, Template};
use crate::names::Names;

/// Rule names, also the suffix of each rule's CloudWatch metric.
pub const AUTH_RULE: &str = "auth-ip-rate";
pub const ALL_RULE: &str = "all-ip-rate";
pub const KNOWN_BAD_INPUTS_RULE: &str = "known-bad-inputs";

/// The key of the body a rate-limited request gets.
const TOO_MANY_REQUESTS: &str = "too-many-requests";
/// API Gateway's own body for a throttled request, so a client sees one 429 whichever layer refused.
const TOO_MANY_REQUESTS_BODY: &str = r#"{"message":"Too Many Requests"}"#;

fn visibility(metric_name: String) -> VisibilityConfig {
    VisibilityConfig { sampled_requests_enabled: true, cloud_watch_metrics_enabled: true, metric_name }
}

/// `ENDS_WITH <suffix>` on the URI path URL-decoded, normalized as a router reads it (repeated slashes,
/// `.` and `..` segments resolved: `/dev/signin//` and `/dev/x/../signin/.` end like `/dev/signin/`), and
/// lowercased.
fn path_ends_with(suffix: String) -> WafStatement {
    WafStatement::ByteMatch(ByteMatchStatement {
        search_string: suffix,
        field_to_match: FieldToMatch { uri_path: Empty {} },
        text_transformations: vec![
            TextTransformation { priority: 0, kind: "URL_DECODE" },
            TextTransformation { priority: 1, kind: "NORMALIZE_PATH" },
            TextTransformation { priority: 2, kind: "LOWERCASE" },
        ],
        positional_constraint: "ENDS_WITH",
    })
}

/// A rate-based rule that blocks a source IP above `limit` requests per window with a 429.
fn rate_rule(names: &Names, name: &str, priority: u32, limit: u32, scope: Option<WafStatement>) -> WafRule {
    WafRule {
        name: name.to_owned(),
        priority,
        statement: WafStatement::RateBased(Box::new(RateBasedStatement {
            limit,
            evaluation_window_sec: IP_RATE_WINDOW_SECONDS,
            aggregate_key_type: "IP",
            scope_down_statement: scope,
        })),
        action: Some(WafAction::Block(BlockAction {
            custom_response: Some(CustomResponse {
                response_code: 429,
                custom_response_body_key: TOO_MANY_REQUESTS.to_owned(),
            }),
        })),
        override_action: None,
        visibility_config: visibility(names.web_acl_metric(name)),
    }
}

/// The routes declared `ip_rate_limit = "auth"`: where passwords are tried and tokens handed out (each
/// call costs an Argon2id hash). Other routes fall under the looser limit on every path.
pub fn auth_paths<'a>(functions: impl IntoIterator<Item = &'a Function>) -> Vec<&'a str> {
    functions
        .into_iter()
        .filter_map(|f| f.route())
        .filter(|r| r.ip_rate_limit == RateLimit::Auth)
        .map(|r| r.path.as_str())
        .collect()
}

/// Adds the web ACL and its association with the stage.
pub fn build(t: &mut Template, names: &Names, stage: &Stage, api: &Handle<RestApi>, api_stage: &Handle<ApiStage>) {
    let mut rules = Vec::new();
    let mut bodies = BTreeMap::new();
    if let Some(limits) = stage.ip_rate_limits {
        let ends: Vec<WafStatement> = auth_paths(stage.functions.keys())
            .iter()
            .flat_map(|p| [(*p).to_owned(), format!("{p}/")])
            .map(path_ends_with)
            .collect();
        if ends.len() >= 2 {
            let scope = WafStatement::Or(OrStatement { statements: ends });
            rules.push(rate_rule(names, AUTH_RULE, 0, limits.auth, Some(scope)));
        }
        rules.push(rate_rule(names, ALL_RULE, 1, limits.all, None));
        bodies.insert(
            TOO_MANY_REQUESTS.to_owned(),
            CustomResponseBody { content_type: "APPLICATION_JSON", content: TOO_MANY_REQUESTS_BODY.to_owned() },
        );
    }
    // Requests that probe for known exploits (Log4j lookups, Java deserialization, localhost Host
    // headers, exploitable paths): AWS maintains the patterns, the functions never see them.
    rules.push(WafRule {
        name: KNOWN_BAD_INPUTS_RULE.to_owned(),
        priority: 2,
        statement: WafStatement::ManagedRuleGroup(ManagedRuleGroupStatement {
            vendor_name: "AWS",
            name: "AWSManagedRulesKnownBadInputsRuleSet",
        }),
        action: None,
        override_action: Some(OverrideAction::KeepGroupActions(Empty {})),
        visibility_config: visibility(names.web_acl_metric(KNOWN_BAD_INPUTS_RULE)),
    });

    let acl = t.add(
        "WebAcl",
        WebAcl {
            name: names.web_acl(),
            description: format!(
                "{} per source IP rate limits and known bad inputs in front of the API",
                names.prefix()
            ),
            scope: "REGIONAL",
            default_action: WafAction::Allow(Empty {}),
            rules,
            custom_response_bodies: bodies,
            visibility_config: visibility(names.web_acl()),
            tags: tag_list(&stage.tags),
        },
    );
    // The stage's ARN is known from its name; WAF refuses to associate a stage that does not exist yet.
    t.add_with(
        "WebAclAssociation",
        WebAclAssociation {
            resource_arn: Expr::sub([
                Part::from("arn:"),
                Pseudo::Partition.into(),
                ":apigateway:".into(),
                Pseudo::Region.into(),
                "::/restapis/".into(),
                api.ref_part(),
                format!("/stages/{}", stage.name).into(),
            ]),
            web_acl_arn: acl.arn(),
        },
        |e| e.depends_on = vec![api_stage.id().clone()],
    );
}
