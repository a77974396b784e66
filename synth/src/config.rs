//! `stages.toml`: the validated model each stage resolves to (here), the file as written (`raw`), and
//! the checks between them (`validate`).
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
mod mail;
mod pipeline;
mod rate_limits;
mod raw;
mod validate;

use std::collections::BTreeMap;

use contract::Function;
use serde::Deserialize;

pub use arn::Kind as ArnKind;
pub use error::ConfigError;
use error::Source;
pub use mail::{Mail, MailIdentity};
pub use pipeline::{ARTIFACT_PREFIX_CHARS, Approval, Pipeline, default_branch};
pub use rate_limits::{IpRateLimits, WINDOW_SECONDS as IP_RATE_WINDOW_SECONDS};
use raw::RawConfig;
pub use raw::{INHERITED, STAGE_ONLY};
use validate::Validator;

/// Lambda's limit for function names and IAM's for role names.
pub const MAX_NAME_LEN: usize = 64;

/// Most AWS resources take at most 50 tags.
const MAX_TAGS: usize = 50;

/// Log retention values CloudWatch Logs accepts.
const RETENTION_DAYS: [u32; 22] =
    [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/// Built-in defaults for values that neither `[defaults]` nor a stage sets.
const FALLBACK: FunctionSettings =
    FunctionSettings { memory_mb: 256, timeout_seconds: 10, log_retention_days: 30, reserved_concurrency: 10 };
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
    /// The address the stage sends mail from and its SES identity, when it names them (`mail`); a stage
    /// whose functions are granted the mail identity must.
    pub mail: Option<Mail>,
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

#[cfg(test)]
mod tests;
