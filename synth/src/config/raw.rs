//! `stages.toml` as written: the shapes `toml` reads, each value with its span, before any check.
//!
//! `[defaults]` and every `[stages.<name>]` are one shape, [`RawLayer`]: a stage inherits each setting it
//! leaves out from `[defaults]`, so a new setting is written once. The keys that are a stage's own
//! ([`STAGE_ONLY`]) are refused in `[defaults]`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::mail::RawMail;
use super::pipeline::{RawPipeline, RawStagePipeline};
use super::rate_limits::RawIpRateLimits;
use super::{Architecture, Lockout, SessionLifetimes, Throttle};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) project: Spanned<String>,
    pub(super) region: Spanned<String>,
    pub(super) architecture: Architecture,
    #[serde(default)]
    pub(super) defaults: RawLayer,
    pub(super) pipeline: Option<RawPipeline>,
    pub(super) stages: Spanned<BTreeMap<Spanned<String>, RawLayer>>,
}

/// `[defaults]` or one `[stages.<name>]`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLayer {
    // What a stage inherits from [defaults] (see INHERITED).
    pub(super) memory_mb: Option<Spanned<u32>>,
    pub(super) timeout_seconds: Option<Spanned<u32>>,
    pub(super) log_retention_days: Option<Spanned<u32>>,
    pub(super) reserved_concurrency: Option<Spanned<u32>>,
    pub(super) token_lifetime_seconds: Option<Spanned<u32>>,
    pub(super) password_min_chars: Option<Spanned<u32>>,
    pub(super) authorizer_cache_ttl_seconds: Option<Spanned<u32>>,
    pub(super) throttle: Option<Spanned<Throttle>>,
    pub(super) ip_rate_limits: Option<RawIpRateLimits>,
    pub(super) lockout: Option<Spanned<Lockout>>,
    pub(super) session: Option<Spanned<SessionLifetimes>>,
    #[serde(default)]
    pub(super) tags: BTreeMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    pub(super) functions: BTreeMap<Spanned<String>, RawFunction>,
    // A stage's own (STAGE_ONLY).
    pub(super) region: Option<Spanned<String>>,
    pub(super) account: Option<Spanned<String>>,
    pub(super) protect: Option<Spanned<bool>>,
    pub(super) artifact_bucket: Option<Spanned<String>>,
    pub(super) architecture: Option<Spanned<Architecture>>,
    pub(super) table: Option<Spanned<String>>,
    pub(super) key: Option<Spanned<String>>,
    pub(super) secret: Option<Spanned<String>>,
    pub(super) domain: Option<Spanned<RawDomain>>,
    pub(super) mail: Option<Spanned<RawMail>>,
    pub(super) pipeline: Option<Spanned<RawStagePipeline>>,
}

/// The settings a stage inherits from `[defaults]`, with what each sets: the README's `stages.toml`
/// reference lists them from here.
pub const INHERITED: &[(&str, &str)] = &[
    ("memory_mb", "each function's memory, 128 to 10240 MB"),
    ("timeout_seconds", "each function's timeout, 1 to 29 s (API Gateway waits 29 s)"),
    ("log_retention_days", "how long log groups keep logs, a retention CloudWatch Logs offers"),
    ("reserved_concurrency", "each function's reserved concurrency, 1 to 10000"),
    ("token_lifetime_seconds", "an access token's lifetime, 60 to 86400 s"),
    ("password_min_chars", "the shortest password signup takes, 8 to 64"),
    ("authorizer_cache_ttl_seconds", "how long API Gateway caches the authorizer's answer, 0 to 3600 s"),
    ("throttle", "the stage's `rate_limit` and `burst_limit`"),
    ("ip_rate_limits", "the WAF's per source IP limits per five minutes (`auth`, `all`), or `\"off\"`"),
    ("lockout", "when failed sign-ins lock an email out"),
    ("session", "a session's absolute and idle lifetimes and its refresh grace"),
    ("tags", "tags on every resource; a stage's are added to those of [defaults], and win over them"),
    ("functions", "settings per function: `functions.<name>.memory_mb` and the three after it"),
];

/// The keys only a stage has: where and how it is deployed, what it imports, and who it is to the outside
/// world (its domain and its mail's sender and SES identity: an identity is created or imported in one
/// account and region, and two stages creating one domain's identity there would collide).
pub const STAGE_ONLY: &[&str] = &[
    "region",
    "account",
    "protect",
    "artifact_bucket",
    "architecture",
    "table",
    "key",
    "secret",
    "domain",
    "mail",
    "pipeline",
];

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFunction {
    pub(super) memory_mb: Option<Spanned<u32>>,
    pub(super) timeout_seconds: Option<Spanned<u32>>,
    pub(super) log_retention_days: Option<Spanned<u32>>,
    pub(super) reserved_concurrency: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDomain {
    pub(super) name: Spanned<String>,
    pub(super) certificate_arn: Option<Spanned<String>>,
    pub(super) base_path: Option<Spanned<String>>,
}
