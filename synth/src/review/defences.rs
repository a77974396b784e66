//! The defences of a stage, as settings with a direction, and which changes weaken them.
//!
//! A defence holds back an attacker without granting anything: the web ACL's rules and its association
//! with the API, the stage's throttling and access log, the lockout and session settings each function
//! reads from its environment, log retention, key rotation, the signing key's generator. Each is read
//! off the synthesized (or deployed) template as a [`Setting`]: a value and the direction in which it is
//! stricter. [`weakenings`] compares two templates' settings: a limit raised, a rule switched to Count,
//! throttling lowered or gone, a log turned off or kept shorter, a setting the review cannot order
//! changed at all. Tightening needs no flag; weakening needs `--approve-weakening`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::access::short_hash;
use super::display;
use super::value::{flag, fold, number};

/// In which direction a setting is stricter, and what it is when unset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Order {
    /// A lower number is stricter (a rate limit, a lifetime, a failure count). `unset` is the value
    /// when the setting is absent (`None`: absent is unlimited, so removing it weakens).
    Lower { value: f64, unset: Option<f64> },
    /// A higher number is stricter (a retention, a window, a cooldown, a switch that is on).
    Higher { value: f64, unset: Option<f64> },
    /// No order the review can prove: changing or removing it weakens; adding it does not.
    Same,
    /// Not known to be harmless at all: adding, changing or removing it weakens (an environment
    /// variable the handlers do not document, an Allow rule that lets requests past later rules).
    Unknown,
}

/// One defence setting: where it is, what it is called, its value as a reviewer reads it, and its order.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub stack: String,
    /// The resource: a logical id, or what it guards (`association ${Api}`).
    pub resource: String,
    pub name: String,
    pub value: String,
    pub order: Order,
    /// The setting a newly added one is compared with (a per-route throttle against the stage-wide one).
    pub baseline: Option<String>,
}

impl Setting {
    fn key(&self) -> (String, String, String) {
        (self.stack.clone(), self.resource.clone(), self.name.clone())
    }

    /// `stricter when`, for a reviewer.
    pub fn direction(&self) -> &'static str {
        match self.order {
            Order::Lower { .. } => "lower",
            Order::Higher { .. } => "higher",
            Order::Same => "unchanged",
            Order::Unknown => "absent",
        }
    }
}

/// How strict each WAF action is: blocking most, allowing least (an Allow rule lets a request past
/// every later rule).
fn action_rank(action: &str) -> f64 {
    match action {
        "Block" => 3.0,
        "Captcha" | "Challenge" => 2.0,
        "Count" => 0.0,
        "Allow" => -1.0,
        _ => -2.0,
    }
}

/// How much a log level keeps, from keeping most (stricter for an audit trail) to least.
fn log_rank(level: &str) -> f64 {
    match level.to_ascii_uppercase().as_str() {
        "TRACE" => 0.0,
        "DEBUG" => 1.0,
        "INFO" => 2.0,
        "WARN" => 3.0,
        "ERROR" => 4.0,
        "FATAL" => 5.0,
        _ => 6.0,
    }
}

/// The environment settings the handlers read, and in which direction each is stricter. A variable
/// that names a resource (a table, a key, a secret) must not change under the reviewer's feet; any
/// variable not listed here (`AWS_ENDPOINT_URL`, `HTTPS_PROXY`, `RUST_LOG`, ...) can re-route or silence
/// a function, so its appearance alone is a weakening.
const ENVIRONMENT: &[(&str, Direction)] = &[
    ("AUTH_ATTEMPTS_TABLE_NAME", Direction::Same),
    ("AUTH_CODES_TABLE_NAME", Direction::Same),
    ("AUTH_KEY_ARN", Direction::Same),
    ("AUTH_LOCKOUT_COOLDOWN_SECONDS", Direction::Higher),
    ("AUTH_LOCKOUT_DAILY_PER_ADDRESS", Direction::Lower),
    ("AUTH_LOCKOUT_DAILY_PER_EMAIL", Direction::Lower),
    ("AUTH_LOCKOUT_MAX_FAILURES", Direction::Lower),
    ("AUTH_LOCKOUT_WINDOW_SECONDS", Direction::Higher),
    ("AUTH_MAIL_SENDER", Direction::Same),
    ("AUTH_CODE_SECRET_ARN", Direction::Same),
    ("AUTH_PASSWORD_MIN_CHARS", Direction::Higher),
    ("AUTH_REFRESH_GRACE_SECONDS", Direction::Lower),
    ("AUTH_REVOCATION_CACHE_SECONDS", Direction::Lower),
    ("AUTH_SECRET_ARN", Direction::Same),
    ("AUTH_SERVICE_NAMES", Direction::Same),
    ("AUTH_SESSIONS_TABLE_NAME", Direction::Same),
    ("AUTH_SESSION_ABSOLUTE_SECONDS", Direction::Lower),
    ("AUTH_SESSION_IDLE_SECONDS", Direction::Lower),
    ("AUTH_TABLE_NAME", Direction::Same),
    ("AUTH_TOKEN_AUDIENCE", Direction::Same),
    ("AUTH_TOKEN_ISSUER", Direction::Same),
    ("AUTH_TOKEN_LIFETIME_SECONDS", Direction::Lower),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Lower,
    Higher,
    Same,
}

/// Whether `name` is an environment variable the handlers document (see [`ENVIRONMENT`]).
pub fn documented_variable(name: &str) -> bool {
    ENVIRONMENT.iter().any(|(n, _)| *n == name)
}

/// The name of the marker [`Reader::removable`] leaves; never shown, never a weakening itself.
const EXISTS: &str = "(exists)";

/// Collects settings of one resource.
struct Reader<'a> {
    stack: &'a str,
    resource: String,
    out: &'a mut Vec<Setting>,
}

impl Reader<'_> {
    fn push(&mut self, name: String, value: String, order: Order, baseline: Option<String>) {
        self.out.push(Setting {
            stack: self.stack.to_owned(),
            resource: self.resource.clone(),
            name,
            value,
            order,
            baseline,
        });
    }

    /// A number, ordered; a value that is not a number is kept as `Unknown`, so any change of it weakens.
    fn number(&mut self, name: &str, v: &Value, lower_is_stricter: bool, unset: Option<f64>, baseline: Option<String>) {
        if v.is_null() {
            return;
        }
        let shown = number(v).map_or_else(|| display(v), |n| format!("{n}"));
        let order = match number(v) {
            Some(value) if lower_is_stricter => Order::Lower { value, unset },
            Some(value) => Order::Higher { value, unset },
            None => Order::Unknown,
        };
        self.push(name.to_owned(), shown, order, baseline);
    }

    /// A switch that is stricter on (`on_is_stricter`) or off; unset is `unset_on`.
    fn switch(&mut self, name: &str, v: &Value, on_is_stricter: bool, unset_on: bool, baseline: Option<String>) {
        if v.is_null() {
            return;
        }
        let Some(on) = flag(v) else {
            self.push(name.to_owned(), display(v), Order::Unknown, baseline);
            return;
        };
        let (value, unset) = (f64::from(u8::from(on)), f64::from(u8::from(unset_on)));
        let order = if on_is_stricter {
            Order::Higher { value, unset: Some(unset) }
        } else {
            Order::Lower { value, unset: Some(unset) }
        };
        self.push(name.to_owned(), on.to_string(), order, baseline);
    }

    /// Marks a resource whose removal weakens nothing by itself (a function, a log group: what goes
    /// with it is judged by the other gates), so that its settings going with it are not weakenings.
    fn removable(&mut self) {
        self.push(EXISTS.to_owned(), "yes".into(), Order::Same, None);
    }

    fn same(&mut self, name: &str, v: &Value) {
        if !v.is_null() {
            self.push(name.to_owned(), canonical(v), Order::Same, None);
        }
    }
}

/// A value as sorted, compact JSON (strings bare), so that the same setting reads the same.
fn canonical(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(m) if m.len() == 1 && super::value::is_intrinsic(v) => display(v),
        other => super::value::sorted(other).to_string(),
    }
}

/// Every defence setting of a stack's template (folded first, so `{"Fn::Sub": "100"}` reads as 100).
pub fn settings(stack: &str, template: &Value) -> Vec<Setting> {
    let template = fold(template);
    let mut out = Vec::new();
    // What each web ACL association guards, to tell a stage that has one from a stage that has none.
    let guarded: Vec<String> = template["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, r)| r["Type"] == "AWS::WAFv2::WebACLAssociation")
        .map(|(_, r)| display(&r["Properties"]["ResourceArn"]))
        .collect();
    for (id, resource) in template["Resources"].as_object().into_iter().flatten() {
        let p = &resource["Properties"];
        let mut r = Reader { stack, resource: id.clone(), out: &mut out };
        match resource["Type"].as_str().unwrap_or_default() {
            "AWS::WAFv2::WebACL" => web_acl(&mut r, p),
            "AWS::WAFv2::WebACLAssociation" => {
                r.resource = format!("association {}", display(&p["ResourceArn"]));
                r.same("web ACL", &p["WebACLArn"]);
            }
            "AWS::ApiGateway::Stage" => stage(&mut r, id, p, &guarded),
            "AWS::Lambda::Function" => function(&mut r, p),
            "AWS::Logs::LogGroup" => {
                r.removable();
                r.number("retention in days", &p["RetentionInDays"], false, Some(f64::INFINITY), None);
            }
            "AWS::KMS::Key" => {
                r.removable();
                r.switch("rotation", &p["EnableKeyRotation"], true, false, None);
                r.number("rotation period in days", &p["RotationPeriodInDays"], true, Some(365.0), None);
            }
            "AWS::ApiGateway::RestApi" => r.same("TLS security policy", &p["SecurityPolicy"]),
            "AWS::SES::EmailIdentity" => mail_identity(&mut r, p),
            "AWS::SecretsManager::Secret" if !p["GenerateSecretString"].is_null() => {
                r.removable();
                let generator = &p["GenerateSecretString"];
                r.number("generated length", &generator["PasswordLength"], false, Some(32.0), None);
                let mut rest = generator.as_object().cloned().unwrap_or_default();
                rest.remove("PasswordLength");
                r.same("generated alphabet", &Value::Object(rest));
            }
            _ => {}
        }
    }
    out.sort_by_key(Setting::key);
    out
}

fn web_acl(r: &mut Reader<'_>, p: &Value) {
    let default = p["DefaultAction"].as_object().and_then(|m| m.keys().next()).cloned().unwrap_or_default();
    if !p["DefaultAction"].is_null() {
        r.push(
            "default action".into(),
            default.clone(),
            Order::Higher { value: action_rank(&default), unset: None },
            None,
        );
    }
    r.switch("metrics", &p["VisibilityConfig"]["CloudWatchMetricsEnabled"], true, false, None);
    r.switch("sampled requests", &p["VisibilityConfig"]["SampledRequestsEnabled"], true, false, None);
    for key in ["AssociationConfig", "CaptchaConfig", "ChallengeConfig", "OnSourceDDoSProtectionConfig", "Scope"] {
        r.same(key, &p[key]);
    }
    for rule in p["Rules"].as_array().into_iter().flatten() {
        let name = format!("rule {}", display(&rule["Name"]));
        r.push(format!("{name}: present"), "yes".into(), Order::Same, None);
        // A rule's own action, or for a rule group whether its rules act (None) or only count.
        let action = match (rule["Action"].as_object(), rule["OverrideAction"].as_object()) {
            (Some(a), _) => a.keys().next().cloned().unwrap_or_default(),
            (None, Some(o)) if o.contains_key("None") => "Block".to_owned(),
            (None, Some(o)) => o.keys().next().cloned().unwrap_or_default(),
            (None, None) => String::new(),
        };
        let shown = if rule["Action"].is_null() {
            format!("{action} (rule group: {})", canonical(&rule["OverrideAction"]))
        } else {
            canonical(&rule["Action"])
        };
        r.push(format!("{name}: action"), shown, Order::Higher { value: action_rank(&action), unset: None }, None);
        if action == "Allow" {
            r.push(format!("{name}: lets requests past later rules"), "yes".into(), Order::Unknown, None);
        }
        r.push(format!("{name}: priority"), display(&rule["Priority"]), Order::Same, None);
        let rate = &rule["Statement"]["RateBasedStatement"];
        r.number(&format!("{name}: rate limit"), &rate["Limit"], true, None, None);
        r.number(&format!("{name}: rate window seconds"), &rate["EvaluationWindowSec"], false, Some(300.0), None);
        let mut statement = rule["Statement"].clone();
        if let Some(rate) = statement.get_mut("RateBasedStatement").and_then(Value::as_object_mut) {
            rate.remove("Limit");
            rate.remove("EvaluationWindowSec");
        }
        r.same(&format!("{name}: statement"), &statement);
        r.switch(&format!("{name}: metrics"), &rule["VisibilityConfig"]["CloudWatchMetricsEnabled"], true, false, None);
        r.switch(
            &format!("{name}: sampled requests"),
            &rule["VisibilityConfig"]["SampledRequestsEnabled"],
            true,
            false,
            None,
        );
        let mut rest = rule.as_object().cloned().unwrap_or_default();
        for k in ["Name", "Priority", "Action", "OverrideAction", "Statement", "VisibilityConfig"] {
            rest.remove(k);
        }
        if !rest.is_empty() {
            r.same(&format!("{name}: other settings"), &Value::Object(rest));
        }
    }
}

/// A stage's defences. A stage without a web ACL, an access log or stage-wide throttling gets a setting
/// saying so, of unknown order: a new stage like that (a second stage on the same deployment, a renamed
/// one the association no longer names) is a weakening, though it grants nothing.
fn stage(r: &mut Reader<'_>, id: &str, p: &Value, guarded: &[String]) {
    let name = display(&p["StageName"]);
    r.same("name", &p["StageName"]);
    let associated = guarded
        .iter()
        .any(|arn| arn.ends_with(&format!("/stages/{name}")) || arn.ends_with(&format!("/stages/${{{id}}}")));
    if !associated {
        r.push("unguarded: no web ACL association".into(), "yes".into(), Order::Unknown, None);
    }
    if p["AccessLogSetting"].is_null() {
        r.push("unguarded: no access log".into(), "yes".into(), Order::Unknown, None);
    }
    let settings: Vec<&Value> = p["MethodSettings"].as_array().into_iter().flatten().collect();
    let is_stage_wide = |m: &&&Value| display(&m["HttpMethod"]) == "*" && display(&m["ResourcePath"]) == "/*";
    let throttled = settings.iter().find(is_stage_wide).is_some_and(|m| !m["ThrottlingRateLimit"].is_null());
    if !throttled {
        r.push("unguarded: no stage-wide throttling".into(), "yes".into(), Order::Unknown, None);
    }
    r.same("access log destination", &p["AccessLogSetting"]["DestinationArn"]);
    r.same("access log format", &p["AccessLogSetting"]["Format"]);
    r.switch("tracing", &p["TracingEnabled"], true, false, None);
    // A response cache answers a request with another's response: off is stricter.
    r.switch("cache cluster", &p["CacheClusterEnabled"], false, false, None);
    for m in settings {
        let route = format!("{} {}", display(&m["HttpMethod"]), display(&m["ResourcePath"]));
        let stage_wide = route == "* /*";
        let name = |what: &str| format!("{route}: {what}");
        let baseline = |what: &str| (!stage_wide).then(|| format!("* /*: {what}"));
        r.number(&name("throttling rate"), &m["ThrottlingRateLimit"], true, None, baseline("throttling rate"));
        r.number(&name("throttling burst"), &m["ThrottlingBurstLimit"], true, None, baseline("throttling burst"));
        r.switch(&name("metrics"), &m["MetricsEnabled"], true, false, baseline("metrics"));
        // Data trace writes whole requests, passwords among them, to the execution log: off is stricter.
        r.switch(&name("data trace"), &m["DataTraceEnabled"], false, false, baseline("data trace"));
        r.switch(&name("caching"), &m["CachingEnabled"], false, false, baseline("caching"));
        // A route of its own without throttling may not get the stage's: unknown, so adding one weakens.
        if !stage_wide && throttled && m["ThrottlingRateLimit"].is_null() {
            r.push(name("throttling rate (unset)"), "the stage's may not apply".into(), Order::Unknown, None);
        }
        let mut rest = m.as_object().cloned().unwrap_or_default();
        for k in [
            "HttpMethod",
            "ResourcePath",
            "ThrottlingRateLimit",
            "ThrottlingBurstLimit",
            "MetricsEnabled",
            "DataTraceEnabled",
            "CachingEnabled",
            "LoggingLevel",
        ] {
            rest.remove(k);
        }
        if !rest.is_empty() {
            r.push(name("other settings"), canonical(&Value::Object(rest)), Order::Unknown, None);
        }
        if !m["LoggingLevel"].is_null() {
            let level = display(&m["LoggingLevel"]);
            let rank = match level.as_str() {
                "INFO" => 2.0,
                "ERROR" => 1.0,
                _ => 0.0,
            };
            r.push(
                name("execution log level"),
                level,
                Order::Higher { value: rank, unset: Some(0.0) },
                baseline("execution log level"),
            );
        }
    }
}

fn function(r: &mut Reader<'_>, p: &Value) {
    // Keyed by logical id: a renamed function keeps its settings, so loosening them in the same change shows.
    r.removable();
    for (name, v) in p["Environment"]["Variables"].as_object().into_iter().flatten() {
        let setting = format!("env {name}");
        match ENVIRONMENT.iter().find(|(n, _)| n == name).map(|(_, d)| *d) {
            Some(Direction::Lower) => r.number(&setting, v, true, None, None),
            Some(Direction::Higher) => r.number(&setting, v, false, None, None),
            Some(Direction::Same) => r.push(setting, canonical(v), Order::Same, None),
            None => r.push(setting, canonical(v), Order::Unknown, None),
        }
    }
    let logging = &p["LoggingConfig"];
    if !logging["ApplicationLogLevel"].is_null() {
        let level = display(&logging["ApplicationLogLevel"]);
        // Unset, Lambda keeps INFO and above.
        let order = Order::Lower { value: log_rank(&level), unset: Some(log_rank("INFO")) };
        r.push("application log level".into(), level, order, None);
    }
    if !logging["SystemLogLevel"].is_null() {
        let level = display(&logging["SystemLogLevel"]);
        let order = Order::Lower { value: log_rank(&level), unset: Some(2.0) };
        r.push("system log level".into(), level, order, None);
    }
    r.same("log group", &logging["LogGroup"]);
    r.same("log format", &logging["LogFormat"]);
}

/// What lets recipients tell the stage's mail from a forgery: DKIM signing (unset read as off, so that
/// dropping it shows), the key's length (unset read as SES's shorter one), and the MAIL FROM domain. Its
/// removal is the data-loss gate's.
fn mail_identity(r: &mut Reader<'_>, p: &Value) {
    r.removable();
    r.switch("DKIM signing", &p["DkimAttributes"]["SigningEnabled"], true, false, None);
    let length = &p["DkimSigningAttributes"]["NextSigningKeyLength"];
    let bits = match length.as_str() {
        Some("RSA_2048_BIT") => Value::from(2048),
        Some("RSA_1024_BIT") => Value::from(1024),
        _ => length.clone(),
    };
    r.number("DKIM key bits", &bits, false, Some(1024.0), None);
    r.same("DKIM selector (bring your own DKIM)", &p["DkimSigningAttributes"]["DomainSigningSelector"]);
    r.same("MAIL FROM", &p["MailFromAttributes"]);
}

/// Whether `new` is weaker than `old` (both of the same order).
fn weaker(old: Order, new: Order) -> bool {
    match (old, new) {
        (Order::Lower { value: a, .. }, Order::Lower { value: b, .. }) => b > a,
        (Order::Higher { value: a, .. }, Order::Higher { value: b, .. }) => b < a,
        _ => true,
    }
}

/// Every way `new` weakens the defences `old` had, one sentence each, sorted.
pub fn weakenings(old: &[Setting], new: &[Setting]) -> Vec<String> {
    let before: BTreeMap<_, &Setting> = old.iter().map(|s| (s.key(), s)).collect();
    let after: BTreeMap<_, &Setting> = new.iter().map(|s| (s.key(), s)).collect();
    let mut out = Vec::new();
    let at = |s: &Setting| format!("{} {} {}", s.stack, s.resource, s.name);
    let exists = |map: &BTreeMap<_, &Setting>, s: &Setting| {
        map.contains_key(&(s.stack.clone(), s.resource.clone(), EXISTS.to_owned()))
    };
    for (key, was) in &before {
        // A removable resource that is gone takes its settings with it: its removal is the other gates'.
        if was.name == EXISTS || (exists(&before, was) && !exists(&after, was)) {
            continue;
        }
        match after.get(key) {
            Some(now) if now.value == was.value => {}
            Some(now) => {
                let same = matches!((was.order, now.order), (Order::Same, Order::Same));
                if same || weaker(was.order, now.order) {
                    out.push(format!("{}: {} -> {}", at(was), was.value, now.value));
                }
            }
            None => {
                let unset = match was.order {
                    Order::Lower { unset: Some(u), .. } => Some(Order::Lower { value: u, unset: None }),
                    Order::Higher { unset: Some(u), .. } => Some(Order::Higher { value: u, unset: None }),
                    _ => None,
                };
                if unset.is_none_or(|u| weaker(was.order, u)) {
                    out.push(format!("{}: {} -> (removed)", at(was), was.value));
                }
            }
        }
    }
    for (key, now) in &after {
        // A removable resource that is new (a function, its log group) brings its settings: nothing it
        // had is weakened.
        if before.contains_key(key) || now.name == EXISTS || (exists(&after, now) && !exists(&before, now)) {
            continue;
        }
        let baseline =
            now.baseline.as_ref().and_then(|b| before.get(&(now.stack.clone(), now.resource.clone(), b.clone())));
        let weakens = match (now.order, baseline) {
            (Order::Unknown, _) => true,
            (order, Some(base)) => weaker(base.order, order),
            (Order::Lower { unset: Some(u), .. }, None) => weaker(Order::Lower { value: u, unset: None }, now.order),
            (Order::Higher { unset: Some(u), .. }, None) => weaker(Order::Higher { value: u, unset: None }, now.order),
            _ => false,
        };
        if weakens {
            let over = baseline.map_or(String::new(), |b| format!(" (over {} {})", b.name, b.value));
            out.push(format!("{}: (new) {}{over}", at(now), now.value));
        }
    }
    out.sort();
    out
}

/// Every weakening of the defences from `deployed` (none: a first deploy weakens nothing) to `new`.
pub fn weakened(stack: &str, deployed: Option<&Value>, new: &Value) -> Vec<String> {
    match deployed {
        None => Vec::new(),
        Some(old) => weakenings(&settings(stack, old), &settings(stack, new)),
    }
}

/// The stage's defences as Markdown, for `templates/<stage>/defences.md`.
pub fn markdown(prefix: &str, settings: &[Setting]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "<!-- generated by `cargo xtask synth` from stages.toml, do not edit -->");
    let _ = writeln!(out, "# Defences: {prefix}\n");
    let _ = writeln!(
        out,
        "Every setting that holds back an attacker without granting anything, with its value and the direction\n\
         in which it is stricter. `cargo xtask deploy` refuses a change that weakens one (a limit raised, a\n\
         rule switched to Count or removed, throttling lowered, a log turned off or kept shorter, a setting\n\
         marked \"unchanged\" changed) without `--approve-weakening`; tightening needs no flag. A setting\n\
         marked \"absent\" is one the handlers do not document: adding, changing or removing it is a weakening.\n"
    );
    let _ = writeln!(out, "| stack | resource | setting | value | stricter when |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for s in settings.iter().filter(|s| s.name != EXISTS) {
        let cell = |c: &str| c.replace('|', "\\|");
        let value: String = if s.value.chars().count() > 120 {
            format!("{}... (sha256 {})", s.value.chars().take(60).collect::<String>(), short_hash(&s.value))
        } else {
            s.value.clone()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            cell(&s.stack),
            cell(&s.resource),
            cell(&s.name),
            cell(&value),
            s.direction()
        );
    }
    out
}

#[cfg(test)]
mod tests;
