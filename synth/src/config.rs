//! `stages.toml`: parsing, validation and the resolved per-stage configuration.
//!
//! Parsing is two steps. `toml` with `deny_unknown_fields` catches syntax errors, unknown keys, wrong
//! types and duplicate keys or stages, each with its span. Then every value is checked against what
//! AWS accepts, with the span of the value that is wrong, before any template is built: a config that
//! parses is one that synthesizes.

// A config error carries its source text for the snippet; it is made once per run, on the way out, so
// its size does not matter.
#![allow(clippy::result_large_err)]

mod arn;
pub(crate) mod error;
mod pipeline;
mod rate_limits;

use std::collections::BTreeMap;
use std::ops::Range;

use contract::Function;
use serde::Deserialize;
use toml::Spanned;

pub use arn::Kind as ArnKind;
pub use error::ConfigError;
use error::Source;
pub use pipeline::{ARTIFACT_PREFIX_CHARS, Approval, Pipeline, default_branch};
use pipeline::{RawPipeline, RawStagePipeline};
use rate_limits::{FALLBACK_IP_RATE_LIMITS, RawIpRateLimits};
pub use rate_limits::{IpRateLimits, WINDOW_SECONDS as IP_RATE_WINDOW_SECONDS};

/// Lambda's limit for function names and IAM's for role names.
pub const MAX_NAME_LEN: usize = 64;

/// Most AWS resources take at most 50 tags.
const MAX_TAGS: usize = 50;

/// Log retention values CloudWatch Logs accepts.
const RETENTION_DAYS: [u32; 22] =
    [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/// The parsed, validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub project: String,
    pub stages: BTreeMap<String, Stage>,
    /// The declared functions (every stage has each), sorted by name.
    pub functions: Vec<Function>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    #[serde(rename = "x86_64")]
    X86_64,
    Arm64,
}

impl Architecture {
    /// The name Lambda's `Architectures` property uses.
    pub fn lambda_name(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }

    /// The Rust target triple a function for this architecture is built for.
    pub fn rust_target(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64-unknown-linux-gnu",
            Architecture::Arm64 => "aarch64-unknown-linux-gnu",
        }
    }
}

/// One deployment stage, with every default and override resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub name: String,
    pub region: String,
    /// When set, deploy refuses credentials of any other account.
    pub account: Option<String>,
    /// Retain stateful resources and the access log, turn on deletion and termination protection, and
    /// make destroy ask for `--force`. A protected stage names its `account`.
    pub protect: bool,
    /// The S3 bucket deploy uploads function code to, when not the derived
    /// `<project>-artifacts-<account>-<region>` (for instance because another account took that name).
    pub artifact_bucket: Option<String>,
    pub architecture: Architecture,
    /// Retention of stage-wide logs (API access logs); functions may override it.
    pub log_retention_days: u32,
    pub token_lifetime_seconds: u32,
    /// The fewest characters a new password may have (signup), from 8 to 64.
    pub password_min_chars: u32,
    pub authorizer_cache_ttl_seconds: u32,
    pub throttle: Throttle,
    /// Per source IP limits enforced by the stage's AWS WAF web ACL; `None` when `"off"`.
    pub ip_rate_limits: Option<IpRateLimits>,
    /// When repeated failed sign-ins lock an email out.
    pub lockout: Lockout,
    /// How long sessions (refresh tokens) live.
    pub session: SessionLifetimes,
    pub tags: BTreeMap<String, String>,
    pub functions: BTreeMap<Function, FunctionSettings>,
    pub table: Provision,
    pub key: Provision,
    pub secret: Provision,
    pub domain: Option<Domain>,
    /// The stage's delivery pipeline (`templates/<stage>/pipeline.yaml`), when stages.toml has `[pipeline]`.
    pub pipeline: Option<Pipeline>,
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    /// Steady-state requests per second.
    pub rate_limit: f64,
    pub burst_limit: u32,
}

/// Brute-force protection for sign-in (see `auth::lockout`): `max_failures` attempts at one email from
/// one address within `window_seconds` lock that pair for `cooldown_seconds`; one address gets at most
/// `daily_per_address` attempts at an email a day; and once an email has had `daily_per_email` attempts
/// in a day, the addresses that tried it are refused for the rest of the day (an address that has not
/// tried it, such as the owner's, still gets its attempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lockout {
    pub max_failures: u32,
    pub window_seconds: u32,
    pub cooldown_seconds: u32,
    #[serde(default = "default_daily_per_address")]
    pub daily_per_address: u32,
    #[serde(default = "default_daily_per_email")]
    pub daily_per_email: u32,
}

fn default_daily_per_address() -> u32 {
    FALLBACK_LOCKOUT.daily_per_address
}

fn default_daily_per_email() -> u32 {
    FALLBACK_LOCKOUT.daily_per_email
}

/// Sessions: `absolute_seconds` from sign-in (refreshing never extends it), `idle_seconds` without a
/// refresh, and `grace_seconds` in which a spent refresh token still gets the answer it got (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionLifetimes {
    pub absolute_seconds: u32,
    pub idle_seconds: u32,
    pub grace_seconds: u32,
}

/// The most the authorizer reuses a user's "signed out everywhere" time it read.
pub const MAX_REVOCATION_CACHE_SECONDS: u32 = 10;

/// A stage's `authorizer_cache_ttl_seconds` is split between the two caches a signed-out access token
/// can pass through: API Gateway's cached Allow, and the authorizer's cached sign-out time. Their sum
/// is the TTL, so a token stops working within it.
impl Stage {
    /// How long the authorizer reuses a user's "signed out everywhere" time: at most
    /// [`MAX_REVOCATION_CACHE_SECONDS`] and at most half the TTL.
    pub fn revocation_cache_seconds(&self) -> u32 {
        (self.authorizer_cache_ttl_seconds / 2).min(MAX_REVOCATION_CACHE_SECONDS)
    }

    /// How long API Gateway caches the authorizer's answer: the TTL less [`Stage::revocation_cache_seconds`].
    pub fn api_authorizer_cache_seconds(&self) -> u32 {
        self.authorizer_cache_ttl_seconds - self.revocation_cache_seconds()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionSettings {
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    pub log_retention_days: u32,
    /// The most instances of the function that run at once (`ReservedConcurrentExecutions`): a cap on
    /// cost under a flood, and a share of the account's pool no other function can starve.
    pub reserved_concurrency: u32,
}

/// A stateful resource: created by the data stack, or an existing one imported by ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provision {
    Create,
    Import {
        arn: String,
        /// The table name, key id or secret name the ARN carries.
        name: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub name: String,
    /// When set, the api stack creates the (regional) domain name with this certificate; otherwise
    /// the domain already exists and the stack only maps its base path.
    pub certificate_arn: Option<String>,
    pub base_path: Option<String>,
}

/// A stage name given on the command line that `stages.toml` does not define.
#[derive(Debug, thiserror::Error)]
#[error("unknown stage `{name}`; stages.toml defines {}", known.join(", "))]
pub struct UnknownStage {
    pub name: String,
    pub known: Vec<String>,
}

impl Config {
    pub fn stage(&self, name: &str) -> Result<&Stage, UnknownStage> {
        self.stages
            .get(name)
            .ok_or_else(|| UnknownStage { name: name.to_owned(), known: self.stages.keys().cloned().collect() })
    }
}

impl Stage {
    /// `<project>-<stage>`: the prefix of stack, function, role and export names.
    pub fn prefix(&self, project: &str) -> String {
        format!("{project}-{}", self.name)
    }
}

// ---- raw TOML shape ------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    project: Spanned<String>,
    region: Spanned<String>,
    architecture: Architecture,
    #[serde(default)]
    defaults: RawDefaults,
    pipeline: Option<RawPipeline>,
    stages: Spanned<BTreeMap<Spanned<String>, RawStage>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    memory_mb: Option<Spanned<u32>>,
    timeout_seconds: Option<Spanned<u32>>,
    log_retention_days: Option<Spanned<u32>>,
    reserved_concurrency: Option<Spanned<u32>>,
    token_lifetime_seconds: Option<Spanned<u32>>,
    password_min_chars: Option<Spanned<u32>>,
    authorizer_cache_ttl_seconds: Option<Spanned<u32>>,
    throttle: Option<Spanned<Throttle>>,
    ip_rate_limits: Option<RawIpRateLimits>,
    lockout: Option<Spanned<Lockout>>,
    session: Option<Spanned<SessionLifetimes>>,
    #[serde(default)]
    tags: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    functions: BTreeMap<Spanned<String>, RawFunction>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    region: Option<Spanned<String>>,
    account: Option<Spanned<String>>,
    protect: Option<Spanned<bool>>,
    artifact_bucket: Option<Spanned<String>>,
    architecture: Option<Architecture>,
    memory_mb: Option<Spanned<u32>>,
    timeout_seconds: Option<Spanned<u32>>,
    log_retention_days: Option<Spanned<u32>>,
    reserved_concurrency: Option<Spanned<u32>>,
    token_lifetime_seconds: Option<Spanned<u32>>,
    password_min_chars: Option<Spanned<u32>>,
    authorizer_cache_ttl_seconds: Option<Spanned<u32>>,
    throttle: Option<Spanned<Throttle>>,
    ip_rate_limits: Option<RawIpRateLimits>,
    lockout: Option<Spanned<Lockout>>,
    session: Option<Spanned<SessionLifetimes>>,
    #[serde(default)]
    tags: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    functions: BTreeMap<Spanned<String>, RawFunction>,
    table: Option<Spanned<String>>,
    key: Option<Spanned<String>>,
    secret: Option<Spanned<String>>,
    domain: Option<RawDomain>,
    pipeline: Option<RawStagePipeline>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFunction {
    memory_mb: Option<Spanned<u32>>,
    timeout_seconds: Option<Spanned<u32>>,
    log_retention_days: Option<Spanned<u32>>,
    reserved_concurrency: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDomain {
    name: Spanned<String>,
    certificate_arn: Option<Spanned<String>>,
    base_path: Option<Spanned<String>>,
}

// ---- parsing and validation ----------------------------------------------------------------------

/// Parses and validates `stages.toml` for the declared `functions` (see [`crate::declarations`]), which
/// every stage has. `file_name` is only used in error messages.
pub fn parse(file_name: &str, text: &str, functions: &[Function]) -> Result<Config, ConfigError> {
    let src = Source { name: file_name, text };
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let help = if e.message().contains("unknown field") {
            "check the spelling; the README's stages.toml reference lists every key"
        } else if e.message().contains("duplicate key") {
            "each key and each [stages.<name>] section may appear once; merge or rename the duplicate"
        } else {
            "fix the value's type or syntax; the README's stages.toml reference shows each key"
        };
        src.error(e.span(), e.message().trim_end().to_owned(), help)
    })?;
    Validator { src, all: functions }.config(raw)
}

/// Refuses, pointing at the first one, any settings `stages.toml` still has for the function `name`
/// (`[stages.dev.functions.orders]`, `functions.orders.memory_mb = ...` under `[stages.dev]`,
/// `[defaults.functions."orders"]`: the file is parsed, so every TOML spelling is found).
/// `cargo xtask remove function` asks before it deletes anything.
pub fn refuse_settings_of(file_name: &str, text: &str, name: &str) -> Result<(), ConfigError> {
    let src = Source { name: file_name, text };
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        src.error(e.span(), e.message().trim_end().to_owned(), "fix the file first; the README lists every key")
    })?;
    let places = std::iter::once(("[defaults]".to_owned(), &raw.defaults.functions))
        .chain(raw.stages.get_ref().iter().map(|(stage, s)| (format!("[stages.{}]", stage.get_ref()), &s.functions)));
    for (place, functions) in places {
        if let Some((key, _)) = functions.iter().find(|(k, _)| k.get_ref() == name) {
            return Err(src.error(
                Some(key.span()),
                format!("{place} still configures `{name}`"),
                format!("delete its settings from {file_name} first, then remove the function"),
            ));
        }
    }
    Ok(())
}

struct Validator<'a> {
    src: Source<'a>,
    /// The functions every stage has.
    all: &'a [Function],
}

/// Built-in defaults for values that neither `[defaults]` nor a stage sets.
const FALLBACK: FunctionSettings =
    FunctionSettings { memory_mb: 256, timeout_seconds: 10, log_retention_days: 30, reserved_concurrency: 10 };
/// Lambda's highest account concurrency quota by default is 1000; raised quotas go further.
const MAX_RESERVED_CONCURRENCY: u32 = 10_000;
/// Access tokens live 15 minutes: sessions continue them with refresh tokens.
const FALLBACK_TOKEN_LIFETIME: u32 = 900;
/// 30 days, 7 days idle, 10 seconds of grace for a retry or a second tab.
const FALLBACK_SESSION: SessionLifetimes =
    SessionLifetimes { absolute_seconds: 30 * 86_400, idle_seconds: 7 * 86_400, grace_seconds: 10 };
const FALLBACK_CACHE_TTL: u32 = 300;
const FALLBACK_LOCKOUT: Lockout = Lockout {
    max_failures: 10,
    window_seconds: 900,
    cooldown_seconds: 900,
    daily_per_address: 50,
    daily_per_email: 200,
};
/// NIST SP 800-63B rev. 4: a password that is the only factor has at least 15 characters.
const FALLBACK_PASSWORD_MIN_CHARS: u32 = 15;
const FALLBACK_THROTTLE: Throttle = Throttle { rate_limit: 100.0, burst_limit: 200 };

impl Validator<'_> {
    fn err(&self, span: Range<usize>, message: impl Into<String>, help: impl Into<String>) -> ConfigError {
        self.src.error(Some(span), message, help)
    }

    fn config(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let project = self.name(&raw.project, "project", MAX_NAME_LEN)?;
        self.region(&raw.region)?;
        self.settings_values(
            &raw.defaults.memory_mb,
            &raw.defaults.timeout_seconds,
            &raw.defaults.log_retention_days,
            &raw.defaults.reserved_concurrency,
        )?;
        self.stage_values(
            &raw.defaults.token_lifetime_seconds,
            &raw.defaults.authorizer_cache_ttl_seconds,
            &raw.defaults.throttle,
        )?;
        self.lockout(&raw.defaults.lockout)?;
        self.session(&raw.defaults.session)?;
        self.password_min_chars(&raw.defaults.password_min_chars)?;
        self.ip_rate_limits(&raw.defaults.ip_rate_limits)?;
        self.tags(&raw.defaults.tags)?;
        let default_functions = self.functions(&raw.defaults.functions)?;

        let stages_span = raw.stages.span();
        let raw_stages = raw.stages.into_inner();
        if raw_stages.is_empty() {
            return Err(self.err(
                stages_span,
                "no stages defined",
                "add a section such as [stages.dev] with at least a region",
            ));
        }
        let mut stages = BTreeMap::new();
        let mut spans = BTreeMap::new();
        let mut mappings: BTreeMap<(String, Option<String>), String> = BTreeMap::new();
        for (name, raw_stage) in raw_stages {
            let stage = self.stage(
                &project,
                raw.region.get_ref(),
                raw.architecture,
                &raw.defaults,
                &default_functions,
                &raw.pipeline,
                &name,
                raw_stage,
            )?;
            spans.insert(stage.name.clone(), name.span());
            if let Some(domain) = &stage.domain {
                let key = (domain.name.clone(), domain.base_path.clone());
                if let Some(other) = mappings.insert(key, stage.name.clone()) {
                    return Err(self.err(
                        name.span(),
                        format!("stages `{other}` and `{}` map the same base path of {}", stage.name, domain.name),
                        "give each stage its own domain.base_path",
                    ));
                }
            }
            stages.insert(stage.name.clone(), stage);
        }
        self.pipelines_apart(&stages, &spans, &project)?;
        // `dev` and `dev-eu` would share every `<project>-dev-*` name pattern: a policy scoped to one
        // stage's names would reach the other's.
        for (name, span) in &spans {
            if let Some(other) = stages.keys().find(|o| name.starts_with(&format!("{o}-"))) {
                return Err(self.err(
                    span.clone(),
                    format!("stage `{name}` begins with stage `{other}` and a hyphen"),
                    format!(
                        "rename one: names scoped to stage {other} (`{project}-{other}-*`) would also match {name}'s"
                    ),
                ));
            }
        }
        let mut functions = self.all.to_vec();
        functions.sort();
        Ok(Config { project, stages, functions })
    }

    /// A name made of `[a-z][a-z0-9-]*`, at most `max` characters.
    fn name(&self, name: &Spanned<String>, what: &str, max: usize) -> Result<String, ConfigError> {
        let n = name.get_ref();
        let valid = n.len() <= max
            && n.starts_with(|c: char| c.is_ascii_lowercase())
            && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !n.ends_with('-')
            && !n.contains("--");
        if !valid {
            return Err(self.err(
                name.span(),
                format!("invalid {what} name `{n}`"),
                format!(
                    "use lowercase letters, digits and single hyphens, starting with a letter, at most {max} characters"
                ),
            ));
        }
        Ok(n.clone())
    }

    fn region(&self, region: &Spanned<String>) -> Result<(), ConfigError> {
        let r = region.get_ref();
        let parts: Vec<&str> = r.split('-').collect();
        let valid = (3..=4).contains(&parts.len())
            && parts[0].len() == 2
            && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
            && parts.last().is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
        if valid {
            Ok(())
        } else {
            Err(self.err(
                region.span(),
                format!("`{r}` is not an AWS region"),
                "use a region code such as `us-east-1` or `eu-west-2`",
            ))
        }
    }

    fn range(&self, value: &Option<Spanned<u32>>, key: &str, min: u32, max: u32, why: &str) -> Result<(), ConfigError> {
        match value {
            Some(v) if !(min..=max).contains(v.get_ref()) => Err(self.err(
                v.span(),
                format!("{key} = {} is out of range", v.get_ref()),
                format!("use a value from {min} to {max}{why}"),
            )),
            _ => Ok(()),
        }
    }

    fn settings_values(
        &self,
        memory: &Option<Spanned<u32>>,
        timeout: &Option<Spanned<u32>>,
        retention: &Option<Spanned<u32>>,
        reserved: &Option<Spanned<u32>>,
    ) -> Result<(), ConfigError> {
        self.range(memory, "memory_mb", 128, 10240, " (Lambda's limits)")?;
        self.range(
            reserved,
            "reserved_concurrency",
            1,
            MAX_RESERVED_CONCURRENCY,
            ": 0 would stop the function; it counts against the account's concurrency limit (1000 unless raised), \
             of which Lambda keeps 100 unreserved",
        )?;
        self.range(timeout, "timeout_seconds", 1, 29, ": API Gateway gives up on an integration after 29 s")?;
        if let Some(r) = retention
            && !RETENTION_DAYS.contains(r.get_ref())
        {
            return Err(self.err(
                r.span(),
                format!("log_retention_days = {} is not a retention CloudWatch Logs offers", r.get_ref()),
                format!("use one of {RETENTION_DAYS:?}"),
            ));
        }
        Ok(())
    }

    fn stage_values(
        &self,
        lifetime: &Option<Spanned<u32>>,
        ttl: &Option<Spanned<u32>>,
        throttle: &Option<Spanned<Throttle>>,
    ) -> Result<(), ConfigError> {
        self.range(lifetime, "token_lifetime_seconds", 60, 86400, " (one minute to one day)")?;
        self.range(ttl, "authorizer_cache_ttl_seconds", 0, 3600, " (API Gateway's limits; 0 turns caching off)")?;
        if let Some(t) = throttle {
            let Throttle { rate_limit, burst_limit } = *t.get_ref();
            if !(rate_limit > 0.0 && rate_limit <= 10000.0) || burst_limit == 0 || burst_limit > 5000 {
                return Err(self.err(
                    t.span(),
                    format!("throttle rate_limit = {rate_limit}, burst_limit = {burst_limit} is out of range"),
                    "use a rate_limit above 0 and at most 10000 requests per second, and a burst_limit from 1 to 5000",
                ));
            }
        }
        Ok(())
    }

    fn password_min_chars(&self, value: &Option<Spanned<u32>>) -> Result<(), ConfigError> {
        self.range(
            value,
            "password_min_chars",
            8,
            64,
            ": NIST SP 800-63B allows no fewer than 8, and 15 for a password that is the only factor",
        )
    }

    fn lockout(&self, lockout: &Option<Spanned<Lockout>>) -> Result<(), ConfigError> {
        let Some(l) = lockout else { return Ok(()) };
        let Lockout { max_failures, window_seconds, cooldown_seconds, daily_per_address, daily_per_email } =
            *l.get_ref();
        let bad = if !(3..=100).contains(&max_failures) {
            Some(format!("lockout max_failures = {max_failures} is out of range"))
        } else if !(60..=86_400).contains(&window_seconds) {
            Some(format!("lockout window_seconds = {window_seconds} is out of range"))
        } else if !(60..=86_400).contains(&cooldown_seconds) {
            Some(format!("lockout cooldown_seconds = {cooldown_seconds} is out of range"))
        } else if !(max_failures..=10_000).contains(&daily_per_address) {
            Some(format!("lockout daily_per_address = {daily_per_address} is out of range"))
        } else if !(daily_per_address..=100_000).contains(&daily_per_email) {
            Some(format!("lockout daily_per_email = {daily_per_email} is out of range"))
        } else {
            None
        };
        match bad {
            Some(message) => Err(self.err(
                l.span(),
                message,
                "use max_failures from 3 to 100 (fewer stops a user who mistypes twice), window_seconds and \
                 cooldown_seconds from 60 to 86400, daily_per_address from max_failures to 10000, and \
                 daily_per_email from daily_per_address to 100000",
            )),
            None => Ok(()),
        }
    }

    fn session(&self, session: &Option<Spanned<SessionLifetimes>>) -> Result<(), ConfigError> {
        let Some(s) = session else { return Ok(()) };
        let SessionLifetimes { absolute_seconds, idle_seconds, grace_seconds } = *s.get_ref();
        let bad = if !(3600..=31_536_000).contains(&absolute_seconds) {
            Some(format!("session absolute_seconds = {absolute_seconds} is out of range"))
        } else if !(300..=absolute_seconds).contains(&idle_seconds) {
            Some(format!("session idle_seconds = {idle_seconds} is out of range"))
        } else if grace_seconds > 60 {
            Some(format!("session grace_seconds = {grace_seconds} is out of range"))
        } else {
            None
        };
        match bad {
            Some(message) => Err(self.err(
                s.span(),
                message,
                "use absolute_seconds from 3600 (an hour) to 31536000 (a year), idle_seconds from 300 to \
                 absolute_seconds, and grace_seconds from 0 (no grace: any repeat ends the session) to 60",
            )),
            None => Ok(()),
        }
    }

    fn tags(&self, tags: &BTreeMap<Spanned<String>, Spanned<String>>) -> Result<(), ConfigError> {
        for (k, v) in tags {
            if k.get_ref().is_empty() || k.get_ref().len() > 128 || k.get_ref().to_ascii_lowercase().starts_with("aws:")
            {
                return Err(self.err(
                    k.span(),
                    format!("invalid tag key `{}`", k.get_ref()),
                    "use 1 to 128 characters, not starting with `aws:`",
                ));
            }
            if v.get_ref().len() > 256 {
                return Err(self.err(v.span(), "tag value is longer than 256 characters", "shorten the value"));
            }
        }
        Ok(())
    }

    fn functions<'r>(
        &self,
        raw: &'r BTreeMap<Spanned<String>, RawFunction>,
    ) -> Result<BTreeMap<Function, (Range<usize>, &'r RawFunction)>, ConfigError> {
        let mut out = BTreeMap::new();
        for (name, settings) in raw {
            let Some(function) = Function::find(self.all, name.get_ref()).cloned() else {
                let known: Vec<&str> = self.all.iter().map(|f| f.name()).collect();
                return Err(self.err(
                    name.span(),
                    format!("no function named `{}` is declared", name.get_ref()),
                    format!(
                        "functions are {}, each declared in handlers/<name>/Cargo.toml; delete these settings if the \
                         function was removed",
                        known.join(", ")
                    ),
                ));
            };
            self.settings_values(
                &settings.memory_mb,
                &settings.timeout_seconds,
                &settings.log_retention_days,
                &settings.reserved_concurrency,
            )?;
            out.insert(function, (name.span(), settings));
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn stage(
        &self,
        project: &str,
        default_region: &str,
        default_architecture: Architecture,
        defaults: &RawDefaults,
        default_functions: &BTreeMap<Function, (Range<usize>, &RawFunction)>,
        project_pipeline: &Option<RawPipeline>,
        name: &Spanned<String>,
        raw: RawStage,
    ) -> Result<Stage, ConfigError> {
        let stage_name = self.name(name, "stage", MAX_NAME_LEN)?;
        // Function and role names are `<project>-<stage>-<function>` and must fit AWS's limit.
        for f in self.all {
            let full = format!("{project}-{stage_name}-{}", f.name());
            if full.len() > MAX_NAME_LEN {
                return Err(self.err(
                    name.span(),
                    format!("the function name `{full}` is {} characters; AWS allows {MAX_NAME_LEN}", full.len()),
                    "shorten the project or the stage name",
                ));
            }
        }
        if let Some(region) = &raw.region {
            self.region(region)?;
        }
        let region = raw.region.as_ref().map_or(default_region, |r| r.get_ref()).to_owned();
        let account = match &raw.account {
            Some(a) if a.get_ref().len() != 12 || !a.get_ref().bytes().all(|b| b.is_ascii_digit()) => {
                return Err(self.err(
                    a.span(),
                    format!("`{}` is not an AWS account id", a.get_ref()),
                    "use the 12-digit account id, as a string",
                ));
            }
            Some(a) => Some(a.get_ref().clone()),
            None => None,
        };
        let protect = raw.protect.as_ref().is_some_and(|p| *p.get_ref());
        if let Some(p) = &raw.protect
            && protect
            && account.is_none()
        {
            return Err(self.err(
                p.span(),
                format!("stage `{stage_name}` is protected but does not name its account"),
                "add account = \"<12-digit id>\" to the stage, so that no deploy or destroy acts on it with another \
                 account's credentials",
            ));
        }
        let artifact_bucket = raw.artifact_bucket.as_ref().map(|b| self.bucket(b)).transpose()?;
        self.settings_values(&raw.memory_mb, &raw.timeout_seconds, &raw.log_retention_days, &raw.reserved_concurrency)?;
        self.stage_values(&raw.token_lifetime_seconds, &raw.authorizer_cache_ttl_seconds, &raw.throttle)?;
        self.password_min_chars(&raw.password_min_chars)?;
        self.lockout(&raw.lockout)?;
        self.session(&raw.session)?;
        self.ip_rate_limits(&raw.ip_rate_limits)?;
        self.tags(&raw.tags)?;
        let stage_functions = self.functions(&raw.functions)?;

        let token_lifetime_seconds =
            pick(&[&raw.token_lifetime_seconds, &defaults.token_lifetime_seconds], FALLBACK_TOKEN_LIFETIME);
        let authorizer_cache_ttl_seconds =
            pick(&[&raw.authorizer_cache_ttl_seconds, &defaults.authorizer_cache_ttl_seconds], FALLBACK_CACHE_TTL);
        if authorizer_cache_ttl_seconds > token_lifetime_seconds {
            let span = raw
                .authorizer_cache_ttl_seconds
                .as_ref()
                .or(defaults.authorizer_cache_ttl_seconds.as_ref())
                .map_or(name.span(), |s| s.span());
            return Err(self.err(
                span,
                format!("authorizer_cache_ttl_seconds ({authorizer_cache_ttl_seconds}) is longer than token_lifetime_seconds ({token_lifetime_seconds})"),
                "a cached Allow would outlive the token; lower the cache TTL or raise the token lifetime",
            ));
        }

        let mut functions = BTreeMap::new();
        for f in self.all {
            let in_stage = stage_functions.get(f).map(|(_, s)| *s);
            let in_defaults = default_functions.get(f).map(|(_, s)| *s);
            // Most specific first: the function in this stage, this stage, the function in
            // [defaults], [defaults], then the built-in fallback.
            let layer = |get: fn(&RawFunction) -> &Option<Spanned<u32>>,
                         stage: &Option<Spanned<u32>>,
                         default: &Option<Spanned<u32>>,
                         fallback: u32| {
                let none = None;
                pick(&[in_stage.map_or(&none, get), stage, in_defaults.map_or(&none, get), default], fallback)
            };
            functions.insert(
                f.clone(),
                FunctionSettings {
                    memory_mb: layer(|r| &r.memory_mb, &raw.memory_mb, &defaults.memory_mb, FALLBACK.memory_mb),
                    timeout_seconds: layer(
                        |r| &r.timeout_seconds,
                        &raw.timeout_seconds,
                        &defaults.timeout_seconds,
                        FALLBACK.timeout_seconds,
                    ),
                    log_retention_days: layer(
                        |r| &r.log_retention_days,
                        &raw.log_retention_days,
                        &defaults.log_retention_days,
                        FALLBACK.log_retention_days,
                    ),
                    reserved_concurrency: layer(
                        |r| &r.reserved_concurrency,
                        &raw.reserved_concurrency,
                        &defaults.reserved_concurrency,
                        FALLBACK.reserved_concurrency,
                    ),
                },
            );
        }

        let mut tags: BTreeMap<String, String> =
            defaults.tags.iter().map(|(k, v)| (k.get_ref().clone(), v.get_ref().clone())).collect();
        tags.extend(raw.tags.iter().map(|(k, v)| (k.get_ref().clone(), v.get_ref().clone())));
        if tags.len() > MAX_TAGS {
            let span = raw.tags.keys().next().map_or(name.span(), |k| k.span());
            return Err(self.err(
                span,
                format!(
                    "stage {stage_name} has {} tags with those of [defaults]; AWS allows {MAX_TAGS} per resource",
                    tags.len()
                ),
                "remove some tags",
            ));
        }

        let provision = |value: &Option<Spanned<String>>, kind: ArnKind| -> Result<Provision, ConfigError> {
            match value {
                None => Ok(Provision::Create),
                Some(v) if v.get_ref() == "create" => Ok(Provision::Create),
                Some(v) => match arn::check(v.get_ref(), kind, &region, account.as_deref()) {
                    Ok(name) => Ok(Provision::Import { arn: v.get_ref().clone(), name: name.to_owned() }),
                    Err(e) => Err(self.err(
                        v.span(),
                        e,
                        format!(
                            "write \"create\", or the ARN of an existing {} resource such as `{}`",
                            kind.service(),
                            kind.example()
                        ),
                    )),
                },
            }
        };
        let table = provision(&raw.table, ArnKind::Table)?;
        let key = provision(&raw.key, ArnKind::Key)?;
        let secret = provision(&raw.secret, ArnKind::Secret)?;
        let domain = raw.domain.map(|d| self.domain(d, &region, account.as_deref())).transpose()?;
        let architecture = raw.architecture.unwrap_or(default_architecture);
        let pipeline =
            self.pipeline(project_pipeline, name, raw.pipeline.as_ref(), account.as_deref(), architecture)?;

        Ok(Stage {
            name: stage_name,
            region: region.clone(),
            account,
            protect,
            artifact_bucket,
            architecture,
            log_retention_days: pick(
                &[&raw.log_retention_days, &defaults.log_retention_days],
                FALLBACK.log_retention_days,
            ),
            token_lifetime_seconds,
            password_min_chars: pick(
                &[&raw.password_min_chars, &defaults.password_min_chars],
                FALLBACK_PASSWORD_MIN_CHARS,
            ),
            authorizer_cache_ttl_seconds,
            throttle: raw.throttle.or(defaults.throttle.clone()).map_or(FALLBACK_THROTTLE, |t| *t.get_ref()),
            ip_rate_limits: raw
                .ip_rate_limits
                .as_ref()
                .or(defaults.ip_rate_limits.as_ref())
                .map_or(FALLBACK_IP_RATE_LIMITS, RawIpRateLimits::resolve),
            lockout: raw.lockout.or(defaults.lockout.clone()).map_or(FALLBACK_LOCKOUT, |l| *l.get_ref()),
            session: raw.session.or(defaults.session.clone()).map_or(FALLBACK_SESSION, |l| *l.get_ref()),
            tags,
            functions,
            table,
            key,
            secret,
            domain,
            pipeline,
        })
    }

    /// An S3 bucket name: 3 to 63 lowercase letters, digits, hyphens and dots, starting and ending
    /// with a letter or digit.
    fn bucket(&self, bucket: &Spanned<String>) -> Result<String, ConfigError> {
        let b = bucket.get_ref();
        let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        let valid = (3..=63).contains(&b.len())
            && b.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
            && alnum(b.chars().next())
            && alnum(b.chars().last())
            && !b.contains("..")
            && !b.starts_with("xn--")
            && !b.ends_with("-s3alias")
            && b.split('.').filter(|p| p.parse::<u8>().is_ok()).count() < 4;
        if !valid {
            return Err(self.err(
                bucket.span(),
                format!("`{b}` is not a valid S3 bucket name"),
                "use 3 to 63 lowercase letters, digits, hyphens or dots, starting and ending with a letter or digit",
            ));
        }
        Ok(b.clone())
    }

    fn domain(&self, raw: RawDomain, region: &str, account: Option<&str>) -> Result<Domain, ConfigError> {
        let name = raw.name.get_ref();
        let labels_ok = name.split('.').count() >= 2
            && name.split('.').all(|l| {
                (1..=63).contains(&l.len())
                    && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            });
        if name.len() > 253 || !labels_ok {
            return Err(self.err(
                raw.name.span(),
                format!("`{name}` is not a domain name"),
                "use a lowercase host name such as `api.example.com`",
            ));
        }
        let certificate_arn = match &raw.certificate_arn {
            Some(c) => {
                arn::check(c.get_ref(), ArnKind::Certificate, region, account).map_err(|e| {
                    self.err(
                        c.span(),
                        e,
                        "a regional API needs an ACM certificate in the stage's own region and account",
                    )
                })?;
                Some(c.get_ref().clone())
            }
            None => None,
        };
        let base_path = match &raw.base_path {
            Some(p) if p.get_ref().is_empty() => None,
            Some(p) => {
                let ok = p.get_ref().bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
                if !ok {
                    return Err(self.err(
                        p.span(),
                        format!("`{}` is not a base path", p.get_ref()),
                        "use letters, digits, `.`, `_` and `-`, without slashes",
                    ));
                }
                Some(p.get_ref().clone())
            }
            None => None,
        };
        Ok(Domain { name: name.clone(), certificate_arn, base_path })
    }
}

/// The first value that is set, else the fallback.
fn pick(layers: &[&Option<Spanned<u32>>], fallback: u32) -> u32 {
    layers.iter().find_map(|l| l.as_ref().map(|v| *v.get_ref())).unwrap_or(fallback)
}

#[cfg(test)]
mod tests;
