//! AWS WAF in front of the local API: the web ACL that the api template associates with its stage,
//! read into rate-based rules, and a [`Limiter`] that applies them per source IP before routing, as
//! WAF does before API Gateway sees a request.
//!
//! The limiter is exact where WAF is approximate: WAF re-evaluates rates every few seconds, so on AWS
//! a flood is stopped a little after it passes the limit; here the request that passes it is the first
//! one blocked. Rules only AWS can apply (managed rule groups) are read and named, not emulated.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use serde_json::{Map, Value};

use super::props::{number, props, str_prop};

/// WAF's window when a rate-based rule does not set `EvaluationWindowSec`.
const DEFAULT_WINDOW_SECONDS: u64 = 300;

/// The web ACL in front of the stage, as far as it can be applied on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebAcl {
    pub name: String,
    /// The rate-based rules that block, in priority order.
    pub rules: Vec<RateRule>,
    /// Rules only AWS applies, each as `name (what it is)`.
    pub not_emulated: Vec<String>,
}

/// A rate-based rule keyed on the source IP, with a Block action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateRule {
    pub name: String,
    pub priority: u64,
    /// Requests per source IP per window; the one after them is blocked.
    pub limit: u64,
    pub window: Duration,
    /// Only the requests this matches are counted and blocked; `None` counts all.
    pub scope: Option<Match>,
    pub block: BlockResponse,
}

/// What a blocked request is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockResponse {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// A scope-down statement over the request's URI path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    Or(Vec<Match>),
    And(Vec<Match>),
    Not(Box<Match>),
    /// `ByteMatchStatement` on `UriPath`.
    Path {
        search: Vec<u8>,
        position: Position,
        transforms: Vec<Transform>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Exactly,
    StartsWith,
    EndsWith,
    Contains,
}

/// A text transformation, applied in priority order before matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    None,
    Lowercase,
    /// Percent-decoding (`%69` -> `i`).
    UrlDecode,
    /// AWS WAF's `NORMALIZE_PATH`: repeated slashes collapsed, `.` segments removed, `..` segments resolved
    /// against the segment before them (one at the very beginning stays).
    NormalizePath,
}

impl Match {
    /// Whether the raw URI path (as sent, before any decoding) matches.
    pub fn matches(&self, path: &str) -> bool {
        match self {
            Match::Or(all) => all.iter().any(|m| m.matches(path)),
            Match::And(all) => all.iter().all(|m| m.matches(path)),
            Match::Not(m) => !m.matches(path),
            Match::Path { search, position, transforms } => {
                let mut value = path.as_bytes().to_vec();
                for t in transforms {
                    value = t.apply(value);
                }
                let search = search.as_slice();
                match position {
                    Position::Exactly => value == search,
                    Position::StartsWith => value.starts_with(search),
                    Position::EndsWith => value.ends_with(search),
                    Position::Contains => search.is_empty() || value.windows(search.len()).any(|w| w == search),
                }
            }
        }
    }
}

impl Transform {
    fn apply(self, value: Vec<u8>) -> Vec<u8> {
        match self {
            Transform::None => value,
            Transform::Lowercase => value.to_ascii_lowercase(),
            Transform::NormalizePath => normalize_path(&value),
            Transform::UrlDecode => {
                let hex = |b: u8| (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
                let mut out = Vec::with_capacity(value.len());
                let mut i = 0;
                while i < value.len() {
                    let decoded = match (
                        value.get(i),
                        value.get(i + 1).copied().and_then(hex),
                        value.get(i + 2).copied().and_then(hex),
                    ) {
                        (Some(b'%'), Some(high), Some(low)) => Some(high * 16 + low),
                        _ => None,
                    };
                    match decoded {
                        Some(byte) => {
                            out.push(byte);
                            i += 3;
                        }
                        None => {
                            out.push(value[i]);
                            i += 1;
                        }
                    }
                }
                out
            }
        }
    }
}

impl Position {
    fn words(self) -> &'static str {
        match self {
            Position::Exactly => "is",
            Position::StartsWith => "starts with",
            Position::EndsWith => "ends with",
            Position::Contains => "contains",
        }
    }
}

impl fmt::Display for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |f: &mut fmt::Formatter<'_>, all: &[Match], word: &str| -> fmt::Result {
            for (i, m) in all.iter().enumerate() {
                if i > 0 {
                    write!(f, " {word} ")?;
                }
                write!(f, "{m}")?;
            }
            Ok(())
        };
        match self {
            Match::Or(all) => {
                // `path ends with /a, /b or /c` when every alternative is the same kind of path match.
                let first = match all.first() {
                    Some(Match::Path { position, .. }) => Some(*position),
                    _ => None,
                };
                let searches: Option<Vec<String>> = all
                    .iter()
                    .map(|m| match m {
                        Match::Path { search, position, .. } if Some(*position) == first => {
                            Some(String::from_utf8_lossy(search).into_owned())
                        }
                        _ => None,
                    })
                    .collect();
                match (first, searches) {
                    (Some(position), Some(mut searches)) if searches.len() > 1 => {
                        let last = searches.pop().unwrap_or_default();
                        write!(f, "path {} {} or {last}", position.words(), searches.join(", "))
                    }
                    _ => join(f, all, "or"),
                }
            }
            Match::And(all) => join(f, all, "and"),
            Match::Not(m) => write!(f, "not ({m})"),
            Match::Path { search, position, .. } => {
                write!(f, "path {} {}", position.words(), String::from_utf8_lossy(search))
            }
        }
    }
}

/// Whether a request goes on to API Gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    Block { rule: String, response: BlockResponse },
}

/// The rate-based rules' counts per (rule, source IP): pure, with the time passed in.
#[derive(Debug)]
pub struct Limiter {
    rules: Vec<RateRule>,
    /// For each (rule index, source IP), the times of its most recent counted requests: at most
    /// `limit + 1`, since more than that within the window is over the limit all the same.
    seen: HashMap<(usize, IpAddr), VecDeque<Instant>>,
    checks: u64,
}

/// How often (in checks) counts that have left their window are dropped, so that memory follows the
/// clients of the last window, not every client ever seen.
const SWEEP_EVERY: u64 = 4096;

impl Limiter {
    pub fn new(acl: &WebAcl) -> Limiter {
        Limiter { rules: acl.rules.clone(), seen: HashMap::new(), checks: 0 }
    }

    /// Counts a request from `ip` to the raw URI `path` at `now` against each rule in priority order,
    /// and blocks it if one rule's count within its window is now above its limit. A blocked request
    /// still counts (as on WAF), so a client that keeps flooding stays blocked; one that slows down is
    /// let through again once its window holds no more than the limit.
    pub fn check(&mut self, ip: IpAddr, path: &str, now: Instant) -> Verdict {
        self.checks += 1;
        if self.checks.is_multiple_of(SWEEP_EVERY) {
            let rules = &self.rules;
            self.seen.retain(|(i, _), times| times.back().is_some_and(|t| now.duration_since(*t) < rules[*i].window));
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.scope.as_ref().is_some_and(|scope| !scope.matches(path)) {
                continue;
            }
            let times = self.seen.entry((i, ip)).or_default();
            while times.front().is_some_and(|t| now.duration_since(*t) >= rule.window) {
                times.pop_front();
            }
            times.push_back(now);
            let keep = usize::try_from(rule.limit.saturating_add(1)).unwrap_or(usize::MAX);
            while times.len() > keep {
                times.pop_front();
            }
            if u64::try_from(times.len()).unwrap_or(u64::MAX) > rule.limit {
                return Verdict::Block { rule: rule.name.clone(), response: rule.block.clone() };
            }
        }
        Verdict::Allow
    }
}

/// WAF's answer to a Block without a custom response, as API Gateway passes it on.
fn default_block() -> BlockResponse {
    BlockResponse {
        status: 403,
        content_type: "application/json".to_owned(),
        body: br#"{"message":"Forbidden"}"#.to_vec(),
    }
}

/// The web ACL that the template's `AWS::WAFv2::WebACLAssociation` puts in front of the stage named
/// `stage`, or `None` when no association does (then nothing is enforced, as on AWS).
pub fn read(resources: &Map<String, Value>, stage: &str) -> anyhow::Result<Option<WebAcl>> {
    let of_type = |ty: &'static str| {
        resources
            .iter()
            .filter(move |(_, r)| r.get("Type").and_then(Value::as_str) == Some(ty))
            .map(|(id, r)| (id.as_str(), props(r)))
    };
    let stage_ids: Vec<&str> = of_type("AWS::ApiGateway::Stage")
        .filter(|(_, p)| str_prop(p, "StageName") == Some(stage))
        .map(|(id, _)| id)
        .collect();
    let protects_stage = |arn: &str| {
        arn.ends_with(&format!("/stages/{stage}"))
            || stage_ids.iter().any(|id| arn.ends_with(&format!("/stages/${{{id}}}")))
    };
    let mut acls = Vec::new();
    for (id, p) in of_type("AWS::WAFv2::WebACLAssociation") {
        let arn = p.get("ResourceArn").and_then(|a| a.as_str().or_else(|| a.get("Fn::Sub").and_then(Value::as_str)));
        let arn =
            arn.with_context(|| format!("web ACL association {id}'s ResourceArn is neither a string nor an Fn::Sub"))?;
        if !protects_stage(arn) {
            continue;
        }
        let acl = p
            .get("WebACLArn")
            .and_then(|a| a.get("Fn::GetAtt"))
            .and_then(|a| a.get(0))
            .and_then(Value::as_str)
            .with_context(|| {
                format!("web ACL association {id} does not name a web ACL of the template (Fn::GetAtt <id>.Arn); `cargo xtask local` reads only those")
            })?;
        acls.push((id, acl));
    }
    let acl_id = match acls.as_slice() {
        [] => return Ok(None),
        [(_, acl)] => *acl,
        more => bail!(
            "{} web ACL associations name stage {stage}; AWS allows one web ACL per stage",
            more.iter().map(|(id, _)| *id).collect::<Vec<_>>().join(", ")
        ),
    };
    let resource = resources
        .get(acl_id)
        .filter(|r| r.get("Type").and_then(Value::as_str) == Some("AWS::WAFv2::WebACL"))
        .with_context(|| format!("{acl_id} is not an AWS::WAFv2::WebACL of the api template"))?;
    web_acl(acl_id, props(resource)).map(Some)
}

fn web_acl(id: &str, p: &Value) -> anyhow::Result<WebAcl> {
    let name = str_prop(p, "Name").unwrap_or(id).to_owned();
    if str_prop(p, "Scope") != Some("REGIONAL") {
        bail!("web ACL {id} is not REGIONAL; only a REGIONAL web ACL can protect an API Gateway stage");
    }
    if p.get("DefaultAction").and_then(|a| a.get("Allow")).is_none() {
        bail!(
            "web ACL {id}'s default action is not Allow; `cargo xtask local` emulates web ACLs that allow by default"
        );
    }
    let bodies = p.get("CustomResponseBodies").and_then(Value::as_object);
    let mut rules = Vec::new();
    let mut not_emulated = Vec::new();
    for rule in p.get("Rules").and_then(Value::as_array).into_iter().flatten() {
        let name = str_prop(rule, "Name").with_context(|| format!("a rule of web ACL {id} has no Name"))?.to_owned();
        let statement = rule
            .get("Statement")
            .and_then(Value::as_object)
            .with_context(|| format!("rule {name} has no Statement"))?;
        let Some(rate) = statement.get("RateBasedStatement") else {
            let kind = statement.keys().next().map_or("no statement", String::as_str);
            let what = match statement.get("ManagedRuleGroupStatement").and_then(|g| str_prop(g, "Name")) {
                Some(group) => format!("{name} (AWS managed rule group {group})"),
                None => format!("{name} ({kind})"),
            };
            not_emulated.push(what);
            continue;
        };
        let action = rule.get("Action").and_then(Value::as_object);
        let Some(block) = action.and_then(|a| a.get("Block")) else {
            let kind = action.and_then(|a| a.keys().next()).map_or("no action", String::as_str);
            not_emulated.push(format!("{name} (rate-based rule with action {kind})"));
            continue;
        };
        let key = str_prop(rate, "AggregateKeyType").unwrap_or("IP");
        if key != "IP" {
            bail!(
                "rule {name} counts requests by {key}; `cargo xtask local` emulates rate-based rules keyed on the source IP"
            );
        }
        let limit =
            rate.get("Limit").and_then(number).with_context(|| format!("rule {name}'s Limit is not a number"))?;
        let window = rate
            .get("EvaluationWindowSec")
            .map_or(Some(DEFAULT_WINDOW_SECONDS), number)
            .with_context(|| format!("rule {name}'s EvaluationWindowSec is not a number"))?;
        let scope = rate.get("ScopeDownStatement").map(|s| statement_match(&name, s)).transpose()?;
        let priority = rule.get("Priority").and_then(number).with_context(|| format!("rule {name} has no Priority"))?;
        rules.push(RateRule {
            block: block_response(&name, block, bodies)?,
            name,
            priority,
            limit,
            window: Duration::from_secs(window),
            scope,
        });
    }
    rules.sort_by_key(|r| r.priority);
    Ok(WebAcl { name, rules, not_emulated })
}

fn block_response(rule: &str, block: &Value, bodies: Option<&Map<String, Value>>) -> anyhow::Result<BlockResponse> {
    let Some(custom) = block.get("CustomResponse") else { return Ok(default_block()) };
    let status = custom
        .get("ResponseCode")
        .and_then(number)
        .and_then(|n| u16::try_from(n).ok())
        .with_context(|| format!("rule {rule}'s ResponseCode is not a status"))?;
    let Some(key) = str_prop(custom, "CustomResponseBodyKey") else {
        return Ok(BlockResponse { status, content_type: "text/plain".to_owned(), body: Vec::new() });
    };
    let body = bodies.and_then(|b| b.get(key)).with_context(|| {
        format!("rule {rule} answers with body {key}, which the web ACL's CustomResponseBodies lacks")
    })?;
    let content_type = match str_prop(body, "ContentType") {
        Some("APPLICATION_JSON") => "application/json",
        Some("TEXT_HTML") => "text/html",
        Some("TEXT_PLAIN") => "text/plain",
        other => bail!(
            "custom response body {key} has content type {other:?}; WAF knows APPLICATION_JSON, TEXT_HTML and TEXT_PLAIN"
        ),
    };
    let content = str_prop(body, "Content").with_context(|| format!("custom response body {key} has no Content"))?;
    Ok(BlockResponse { status, content_type: content_type.to_owned(), body: content.as_bytes().to_vec() })
}

/// A scope-down statement: byte matches on the URI path, combined with Or, And and Not.
fn statement_match(rule: &str, statement: &Value) -> anyhow::Result<Match> {
    let unsupported = || {
        anyhow::anyhow!(
            "rule {rule} narrows its count with {statement}; `cargo xtask local` emulates byte matches on the URI path, \
             with Or, And and Not"
        )
    };
    let list = |key: &str| -> anyhow::Result<Vec<Match>> {
        statement[key]["Statements"]
            .as_array()
            .ok_or_else(unsupported)?
            .iter()
            .map(|s| statement_match(rule, s))
            .collect()
    };
    if statement.get("OrStatement").is_some() {
        return Ok(Match::Or(list("OrStatement")?));
    }
    if statement.get("AndStatement").is_some() {
        return Ok(Match::And(list("AndStatement")?));
    }
    if let Some(not) = statement.get("NotStatement") {
        return Ok(Match::Not(Box::new(statement_match(rule, not.get("Statement").ok_or_else(unsupported)?)?)));
    }
    let m = statement.get("ByteMatchStatement").ok_or_else(unsupported)?;
    if m.get("FieldToMatch").and_then(|f| f.get("UriPath")).is_none() {
        return Err(unsupported());
    }
    let search = match (str_prop(m, "SearchString"), str_prop(m, "SearchStringBase64")) {
        (Some(text), _) => text.as_bytes().to_vec(),
        (None, Some(encoded)) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .with_context(|| format!("rule {rule}'s SearchStringBase64 is not base64"))?,
        (None, None) => bail!("a byte match of rule {rule} has no SearchString"),
    };
    let position = match str_prop(m, "PositionalConstraint") {
        Some("EXACTLY") => Position::Exactly,
        Some("STARTS_WITH") => Position::StartsWith,
        Some("ENDS_WITH") => Position::EndsWith,
        Some("CONTAINS") => Position::Contains,
        other => bail!(
            "rule {rule} matches the path with {other:?}; `cargo xtask local` emulates EXACTLY, STARTS_WITH, ENDS_WITH and CONTAINS"
        ),
    };
    let mut transforms: Vec<(u64, Transform)> = Vec::new();
    for t in m.get("TextTransformations").and_then(Value::as_array).into_iter().flatten() {
        let kind = match str_prop(t, "Type") {
            Some("NONE") => Transform::None,
            Some("LOWERCASE") => Transform::Lowercase,
            Some("URL_DECODE") => Transform::UrlDecode,
            Some("NORMALIZE_PATH") => Transform::NormalizePath,
            other => bail!(
                "rule {rule} transforms the path with {other:?}; `cargo xtask local` emulates NONE, LOWERCASE, URL_DECODE \
                 and NORMALIZE_PATH"
            ),
        };
        transforms.push((t.get("Priority").and_then(number).unwrap_or(0), kind));
    }
    transforms.sort_by_key(|(priority, _)| *priority);
    Ok(Match::Path { search, position, transforms: transforms.into_iter().map(|(_, t)| t).collect() })
}

/// [`Transform::NormalizePath`] of a path.
pub fn normalize_path(path: &[u8]) -> Vec<u8> {
    let leading = path.first() == Some(&b'/');
    let last = path.rsplit(|b| *b == b'/').next().unwrap_or_default();
    let trailing = path.len() > 1 && (path.ends_with(b"/") || last == b"." || last == b"..");
    let mut parts: Vec<&[u8]> = Vec::new();
    for segment in path.split(|b| *b == b'/') {
        match segment {
            b"" | b"." => {}
            b".." if parts.last().is_some_and(|p| *p != b"..") => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let mut out = Vec::with_capacity(path.len());
    if leading {
        out.push(b'/');
    }
    out.extend(parts.join(&b'/'));
    if trailing && !parts.is_empty() {
        out.push(b'/');
    }
    out
}

/// One line per rule, for the banner.
pub fn describe(acl: &WebAcl) -> Vec<String> {
    let mut lines: Vec<String> = acl
        .rules
        .iter()
        .map(|r| {
            let scope = r.scope.as_ref().map_or_else(|| "on every path".to_owned(), |m| format!("where {m}"));
            format!(
                "{}: {} requests per source IP per {} s {scope}, then {}",
                r.name,
                r.limit,
                r.window.as_secs(),
                r.block.status
            )
        })
        .collect();
    lines.extend(acl.not_emulated.iter().map(|r| format!("{r}: applied on AWS only")));
    lines
}

#[cfg(test)]
mod tests;
