//! `ip_rate_limits`: how many requests one source IP may send in WAF's five-minute window, to the
//! public sign-up and sign-in routes and to the whole API, or `"off"`.

use std::fmt;

use serde::de::{self, MapAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer};
use toml::Spanned;

use super::{ConfigError, Validator};

/// Per-client limits at the edge, enforced by AWS WAF rate-based rules keyed on the source IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRateLimits {
    /// Requests per source IP per window to the routes that need no token (`/signup`, `/signin`): each
    /// costs an Argon2id hash, and they are where passwords are guessed.
    pub auth: u32,
    /// Requests per source IP per window to any path, the auth routes included.
    pub all: u32,
}

/// The window WAF counts a rate-based rule's requests in; stages.toml's limits are per this window.
pub const WINDOW_SECONDS: u32 = 300;

/// WAF's lowest and highest `Limit` for a rate-based rule.
const MIN_LIMIT: u32 = 10;
const MAX_LIMIT: u32 = 2_000_000_000;

/// 100 sign-ups or sign-ins per address per five minutes (one every three seconds, sustained) is more
/// than a person or an office behind one NAT needs, and bounds a single address's password guessing
/// and Argon2id cost; 2000 for everything is AWS's own example rate for a whole site.
pub(super) const FALLBACK_IP_RATE_LIMITS: Option<IpRateLimits> = Some(IpRateLimits { auth: 100, all: 2000 });

/// `ip_rate_limits` as written: `"off"`, or a table with both limits.
#[derive(Debug, Clone)]
pub(super) enum RawIpRateLimits {
    Off,
    Limits(RawLimits),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    auth: Spanned<u32>,
    all: Spanned<u32>,
}

impl<'de> Deserialize<'de> for RawIpRateLimits {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Either;

        impl<'de> Visitor<'de> for Either {
            type Value = RawIpRateLimits;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(r#""off" or a table such as { auth = 100, all = 2000 }"#)
            }

            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawIpRateLimits, E> {
                match s {
                    "off" => Ok(RawIpRateLimits::Off),
                    other => Err(E::invalid_value(Unexpected::Str(other), &self)),
                }
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawIpRateLimits, A::Error> {
                RawLimits::deserialize(de::value::MapAccessDeserializer::new(map)).map(RawIpRateLimits::Limits)
            }
        }

        deserializer.deserialize_any(Either)
    }
}

impl RawIpRateLimits {
    pub(super) fn resolve(&self) -> Option<IpRateLimits> {
        match self {
            RawIpRateLimits::Off => None,
            RawIpRateLimits::Limits(l) => Some(IpRateLimits { auth: *l.auth.get_ref(), all: *l.all.get_ref() }),
        }
    }
}

impl Validator<'_> {
    /// Each limit within what WAF accepts, and the auth limit no higher than the one it is part of.
    pub(super) fn ip_rate_limits(&self, value: &Option<RawIpRateLimits>) -> Result<(), ConfigError> {
        let Some(RawIpRateLimits::Limits(limits)) = value else { return Ok(()) };
        for (key, limit) in [("auth", &limits.auth), ("all", &limits.all)] {
            if !(MIN_LIMIT..=MAX_LIMIT).contains(limit.get_ref()) {
                return Err(self.err(
                    limit.span(),
                    format!("ip_rate_limits {key} = {} is out of range", limit.get_ref()),
                    format!(
                        "use {MIN_LIMIT} to {MAX_LIMIT} requests per source IP per {WINDOW_SECONDS} seconds (WAF's limits), \
                         or ip_rate_limits = \"off\" for a stage without per-IP limits"
                    ),
                ));
            }
        }
        let (auth, all) = (*limits.auth.get_ref(), *limits.all.get_ref());
        if auth > all {
            return Err(self.err(
                limits.auth.span(),
                format!("ip_rate_limits auth = {auth} is above all = {all}"),
                "every request to /signup and /signin counts toward `all` too, so this auth limit would never be \
                 reached; lower auth or raise all",
            ));
        }
        Ok(())
    }
}
