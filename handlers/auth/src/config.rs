//! Each function's configuration, read from the environment variables synth sets for it.
//!
//! The variable names come from [`contract::EnvVar`], and a test checks that each function reads
//! exactly the variables its declaration (`handlers/<name>/Cargo.toml`) says synth gives it. Readers take a lookup
//! function so tests never touch the process environment.

use contract::EnvVar;

use crate::lockout::Protection;
use crate::password::policy::{FLOOR_MIN_CHARS, PasswordPolicy};
use crate::session::{Lifetimes, SessionSettings, keep_signed_out_seconds};
use crate::token::TokenSettings;

/// Token lifetime when `AUTH_TOKEN_LIFETIME_SECONDS` is not set: 15 minutes, as stages.toml's default.
pub const DEFAULT_TOKEN_LIFETIME_SECONDS: u64 = 900;
/// The longest token lifetime accepted: one day.
pub const MAX_TOKEN_LIFETIME_SECONDS: u64 = 86_400;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(EnvVar),
    #[error("environment variable {0} is empty")]
    Empty(EnvVar),
    #[error("environment variable {var} is invalid: {reason}")]
    Invalid { var: EnvVar, reason: &'static str },
}

/// What a new password must be (signup, reset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyConfig {
    pub passwords: PasswordPolicy,
    /// The service's names a new password must not contain.
    pub service_names: Vec<String>,
}

/// Where one-time codes are kept and what tags them (signup, verify, forgot, reset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodesConfig {
    pub codes_table_name: String,
    /// The secret whose key tags codes: not the JWT signing secret, which these functions never read.
    pub code_secret_arn: String,
}

/// The signup function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignupConfig {
    pub table_name: String,
    pub key_arn: String,
    pub policy: PolicyConfig,
    pub codes: CodesConfig,
    /// The address mail is sent from.
    pub mail_sender: String,
}

/// The verify function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyConfig {
    pub table_name: String,
    pub key_arn: String,
    pub codes: CodesConfig,
}

/// The forgot function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForgotConfig {
    pub table_name: String,
    pub codes: CodesConfig,
    pub mail_sender: String,
}

/// The reset function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetConfig {
    pub table_name: String,
    pub key_arn: String,
    pub policy: PolicyConfig,
    pub codes: CodesConfig,
    pub sessions_table_name: String,
    /// As signout's: how long the user's "signed out everywhere" time is kept.
    pub keep_signed_out_seconds: u64,
    pub attempts_table_name: String,
}

/// The signin function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigninConfig {
    pub table_name: String,
    pub key_arn: String,
    pub secret_arn: String,
    pub tokens: TokenSettings,
    pub attempts_table_name: String,
    pub protection: Protection,
    pub sessions_table_name: String,
    pub lifetimes: Lifetimes,
}

/// The authorizer's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerConfig {
    pub secret_arn: String,
    pub tokens: TokenSettings,
    pub sessions_table_name: String,
    /// How long a user's "signed out everywhere" time read is reused, in seconds.
    pub revocation_cache_seconds: u64,
}

/// The refresh function's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshConfig {
    pub secret_arn: String,
    pub tokens: TokenSettings,
    pub sessions_table_name: String,
    pub sessions: SessionSettings,
}

/// The signout function's configuration: no key, since it checks tokens against their stored hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignoutConfig {
    pub sessions_table_name: String,
    /// How long a user's "signed out everywhere" time is kept: a session's absolute lifetime and an
    /// access token's.
    pub keep_signed_out_seconds: u64,
}

/// The functions' AWS configuration from the standard chain (Lambda's role credentials and region), with
/// [`https_client`] and [`aws_timeouts`]. Each function loads it once, before its first request.
pub async fn load_aws() -> aws_config::SdkConfig {
    aws_loader().load().await
}

/// [`load_aws`]'s loader, for a caller that adds to it (a test's endpoint and credentials).
pub fn aws_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(https_client())
        .timeout_config(aws_timeouts())
}

/// The SDKs' HTTPS client: rustls on ring, the crypto library the tokens' HMAC already uses, so a function
/// carries one (the SDKs' default client brings aws-lc-rs; the workspace turns it off).
pub fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// Timeouts for every AWS call the functions make. The SDK sets none by default, so an unreachable
/// Secrets Manager, KMS or DynamoDB would hold a request until the function's own timeout; in-region
/// calls answer in milliseconds, so one attempt gets a second and a call with its retries three.
pub fn aws_timeouts() -> aws_sdk_dynamodb::config::timeout::TimeoutConfig {
    aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(1))
        .operation_attempt_timeout(std::time::Duration::from_secs(1))
        .operation_timeout(std::time::Duration::from_secs(3))
        .build()
}

/// Reads the process environment. A value that is not valid UTF-8 is read lossily and then fails
/// where it is used (no ARN or name contains a replacement character).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|value| value.to_string_lossy().into_owned())
}

fn required(lookup: &impl Fn(&str) -> Option<String>, var: EnvVar) -> Result<String, ConfigError> {
    let value = lookup(var.name()).ok_or(ConfigError::Missing(var))?;
    let value = value.trim();
    if value.is_empty() {
        return Err(ConfigError::Empty(var));
    }
    Ok(value.to_owned())
}

fn token_settings(lookup: &impl Fn(&str) -> Option<String>) -> Result<TokenSettings, ConfigError> {
    Ok(TokenSettings {
        issuer: required(lookup, EnvVar::TokenIssuer)?,
        audience: required(lookup, EnvVar::TokenAudience)?,
        lifetime_seconds: token_lifetime(lookup)?,
    })
}

/// A whole number from `min` to `max`.
fn bounded(lookup: &impl Fn(&str) -> Option<String>, var: EnvVar, min: u64, max: u64) -> Result<u64, ConfigError> {
    let value = required(lookup, var)?;
    match value.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ConfigError::Invalid { var, reason: "must be a whole number in the range stages.toml allows" }),
    }
}

fn protection(lookup: &impl Fn(&str) -> Option<String>) -> Result<Protection, ConfigError> {
    let count = |var, min, max| bounded(lookup, var, min, max).map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    Ok(Protection {
        max_failures: count(EnvVar::LockoutMaxFailures, 3, 100)?,
        window_seconds: bounded(lookup, EnvVar::LockoutWindowSeconds, 60, 86_400)?,
        cooldown_seconds: bounded(lookup, EnvVar::LockoutCooldownSeconds, 60, 86_400)?,
        daily_per_address: count(EnvVar::LockoutDailyPerAddress, 3, 10_000)?,
        daily_per_email: count(EnvVar::LockoutDailyPerEmail, 3, 100_000)?,
    })
}

/// A year: the longest session stages.toml allows.
const MAX_SESSION_SECONDS: u64 = 365 * 86_400;

fn lifetimes(lookup: &impl Fn(&str) -> Option<String>) -> Result<Lifetimes, ConfigError> {
    let absolute_seconds = bounded(lookup, EnvVar::SessionAbsoluteSeconds, 3600, MAX_SESSION_SECONDS)?;
    let idle_seconds = bounded(lookup, EnvVar::SessionIdleSeconds, 300, absolute_seconds)?;
    Ok(Lifetimes { absolute_seconds, idle_seconds })
}

fn token_lifetime(lookup: &impl Fn(&str) -> Option<String>) -> Result<u64, ConfigError> {
    let var = EnvVar::TokenLifetimeSeconds;
    let Some(raw) = lookup(var.name()) else {
        return Ok(DEFAULT_TOKEN_LIFETIME_SECONDS);
    };
    let seconds: u64 =
        raw.trim().parse().map_err(|_| ConfigError::Invalid { var, reason: "must be a whole number of seconds" })?;
    if seconds == 0 || seconds > MAX_TOKEN_LIFETIME_SECONDS {
        return Err(ConfigError::Invalid { var, reason: "must be between 1 and 86400 seconds" });
    }
    Ok(seconds)
}

fn policy(lookup: &impl Fn(&str) -> Option<String>) -> Result<PolicyConfig, ConfigError> {
    let min_chars = bounded(lookup, EnvVar::PasswordMinChars, FLOOR_MIN_CHARS as u64, 64)?;
    Ok(PolicyConfig {
        passwords: PasswordPolicy { min_chars: usize::try_from(min_chars).unwrap_or(FLOOR_MIN_CHARS) },
        service_names: required(lookup, EnvVar::ServiceNames)?
            .split(',')
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

fn codes(lookup: &impl Fn(&str) -> Option<String>) -> Result<CodesConfig, ConfigError> {
    Ok(CodesConfig {
        codes_table_name: required(lookup, EnvVar::CodesTableName)?,
        code_secret_arn: required(lookup, EnvVar::CodeSecretArn)?,
    })
}

fn keep_signed_out(lookup: &impl Fn(&str) -> Option<String>) -> Result<u64, ConfigError> {
    let absolute_seconds = bounded(lookup, EnvVar::SessionAbsoluteSeconds, 3600, MAX_SESSION_SECONDS)?;
    Ok(keep_signed_out_seconds(absolute_seconds, token_lifetime(lookup)?))
}

impl SignupConfig {
    pub fn from_env() -> Result<SignupConfig, ConfigError> {
        SignupConfig::from_lookup(process_env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<SignupConfig, ConfigError> {
        Ok(SignupConfig {
            table_name: required(&lookup, EnvVar::TableName)?,
            key_arn: required(&lookup, EnvVar::KeyArn)?,
            policy: policy(&lookup)?,
            codes: codes(&lookup)?,
            mail_sender: required(&lookup, EnvVar::MailSender)?,
        })
    }
}

impl VerifyConfig {
    pub fn from_env() -> Result<VerifyConfig, ConfigError> {
        VerifyConfig::from_lookup(process_env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<VerifyConfig, ConfigError> {
        Ok(VerifyConfig {
            table_name: required(&lookup, EnvVar::TableName)?,
            key_arn: required(&lookup, EnvVar::KeyArn)?,
            codes: codes(&lookup)?,
        })
    }
}

impl ForgotConfig {
    pub fn from_env() -> Result<ForgotConfig, ConfigError> {
        ForgotConfig::from_lookup(process_env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<ForgotConfig, ConfigError> {
        Ok(ForgotConfig {
            table_name: required(&lookup, EnvVar::TableName)?,
            codes: codes(&lookup)?,
            mail_sender: required(&lookup, EnvVar::MailSender)?,
        })
    }
}

impl ResetConfig {
    pub fn from_env() -> Result<ResetConfig, ConfigError> {
        ResetConfig::from_lookup(process_env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<ResetConfig, ConfigError> {
        Ok(ResetConfig {
            table_name: required(&lookup, EnvVar::TableName)?,
            key_arn: required(&lookup, EnvVar::KeyArn)?,
            policy: policy(&lookup)?,
            codes: codes(&lookup)?,
            sessions_table_name: required(&lookup, EnvVar::SessionsTableName)?,
            keep_signed_out_seconds: keep_signed_out(&lookup)?,
            attempts_table_name: required(&lookup, EnvVar::AttemptsTableName)?,
        })
    }
}

impl SigninConfig {
    pub fn from_env() -> Result<SigninConfig, ConfigError> {
        SigninConfig::from_lookup(process_env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<SigninConfig, ConfigError> {
        Ok(SigninConfig {
            table_name: required(&lookup, EnvVar::TableName)?,
            key_arn: required(&lookup, EnvVar::KeyArn)?,
            secret_arn: required(&lookup, EnvVar::SecretArn)?,
            tokens: token_settings(&lookup)?,
            attempts_table_name: required(&lookup, EnvVar::AttemptsTableName)?,
            protection: protection(&lookup)?,
            sessions_table_name: required(&lookup, EnvVar::SessionsTableName)?,
            lifetimes: lifetimes(&lookup)?,
        })
    }
}

impl RefreshConfig {
    pub fn from_env() -> Result<RefreshConfig, ConfigError> {
        RefreshConfig::from_lookup(process_env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<RefreshConfig, ConfigError> {
        Ok(RefreshConfig {
            secret_arn: required(&lookup, EnvVar::SecretArn)?,
            tokens: token_settings(&lookup)?,
            sessions_table_name: required(&lookup, EnvVar::SessionsTableName)?,
            sessions: SessionSettings {
                lifetimes: lifetimes(&lookup)?,
                grace_seconds: bounded(&lookup, EnvVar::RefreshGraceSeconds, 0, 60)?,
            },
        })
    }
}

impl SignoutConfig {
    pub fn from_env() -> Result<SignoutConfig, ConfigError> {
        SignoutConfig::from_lookup(process_env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<SignoutConfig, ConfigError> {
        Ok(SignoutConfig {
            sessions_table_name: required(&lookup, EnvVar::SessionsTableName)?,
            keep_signed_out_seconds: keep_signed_out(&lookup)?,
        })
    }
}

impl AuthorizerConfig {
    pub fn from_env() -> Result<AuthorizerConfig, ConfigError> {
        AuthorizerConfig::from_lookup(process_env)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<AuthorizerConfig, ConfigError> {
        Ok(AuthorizerConfig {
            secret_arn: required(&lookup, EnvVar::SecretArn)?,
            tokens: token_settings(&lookup)?,
            sessions_table_name: required(&lookup, EnvVar::SessionsTableName)?,
            revocation_cache_seconds: bounded(&lookup, EnvVar::RevocationCacheSeconds, 0, 3600)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    /// The functions' SDK clients open TLS through the HTTPS client built here (rustls on ring): with the
    /// SDKs' default client turned off, a client without it would fail before sending a byte.
    #[tokio::test]
    async fn the_sdk_clients_open_tls_through_ring() {
        use std::io::Read as _;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port");
        let port = listener.local_addr().expect("its address").port();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().expect("the client connects");
            let mut record = [0_u8; 3];
            socket.read_exact(&mut record).expect("the client writes");
            record
        });
        let config = aws_loader()
            .endpoint_url(format!("https://127.0.0.1:{port}"))
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("id", "secret", None, None, "test"))
            .load()
            .await;
        let error = aws_sdk_dynamodb::Client::new(&config).list_tables().send().await.expect_err("no server answers");
        assert!(!format!("{error:?}").contains("No HTTP client"), "{error:?}");
        // A TLS handshake record (0x16) of a TLS 1.x hello: the client spoke TLS before the socket closed.
        assert_eq!(server.join().expect("the server thread"), [0x16, 0x03, 0x01]);
    }

    fn full_env() -> BTreeMap<&'static str, String> {
        EnvVar::ALL
            .iter()
            .map(|v| (v.name(), format!("value-of-{}", v.name())))
            .chain([
                (EnvVar::TokenLifetimeSeconds.name(), "900".to_owned()),
                (EnvVar::LockoutMaxFailures.name(), "5".to_owned()),
                (EnvVar::LockoutWindowSeconds.name(), "600".to_owned()),
                (EnvVar::LockoutCooldownSeconds.name(), "1200".to_owned()),
                (EnvVar::LockoutDailyPerAddress.name(), "40".to_owned()),
                (EnvVar::LockoutDailyPerEmail.name(), "300".to_owned()),
                (EnvVar::PasswordMinChars.name(), "15".to_owned()),
                (EnvVar::SessionAbsoluteSeconds.name(), "2592000".to_owned()),
                (EnvVar::SessionIdleSeconds.name(), "604800".to_owned()),
                (EnvVar::RefreshGraceSeconds.name(), "10".to_owned()),
                (EnvVar::RevocationCacheSeconds.name(), "10".to_owned()),
            ])
            .collect()
    }

    /// Runs a reader on a full environment and returns the names it asked for.
    fn names_read<T>(read: impl Fn(&dyn Fn(&str) -> Option<String>) -> Result<T, ConfigError>) -> BTreeSet<String> {
        let env = full_env();
        let asked = RefCell::new(BTreeSet::new());
        let lookup = |name: &str| {
            asked.borrow_mut().insert(name.to_owned());
            env.get(name).cloned()
        };
        read(&lookup).unwrap_or_else(|e| panic!("{e}"));
        asked.into_inner()
    }

    /// The variables synth sets for `function`: those its `Cargo.toml` declares in
    /// `[package.metadata.function] env` (synth's own tests check that it sets exactly those).
    fn synth_gives(function: &str) -> BTreeSet<String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../{function}/Cargo.toml"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let manifest: toml::Table = text.parse().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let env = &manifest["package"]["metadata"]["function"].get("env");
        env.and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
            .map(|v| v.as_str().unwrap_or_else(|| panic!("{}: env holds a non-string", path.display())).to_owned())
            .collect()
    }

    #[test]
    fn each_function_reads_exactly_what_synth_sets() {
        assert_eq!(names_read(|l| SignupConfig::from_lookup(l)), synth_gives("signup"));
        assert_eq!(names_read(|l| SigninConfig::from_lookup(l)), synth_gives("signin"));
        assert_eq!(names_read(|l| AuthorizerConfig::from_lookup(l)), synth_gives("authorizer"));
        assert_eq!(names_read(|l| RefreshConfig::from_lookup(l)), synth_gives("refresh"));
        assert_eq!(names_read(|l| SignoutConfig::from_lookup(l)), synth_gives("signout"));
        assert_eq!(names_read(|l| VerifyConfig::from_lookup(l)), synth_gives("verify"));
        assert_eq!(names_read(|l| ForgotConfig::from_lookup(l)), synth_gives("forgot"));
        assert_eq!(names_read(|l| ResetConfig::from_lookup(l)), synth_gives("reset"));
        assert!(synth_gives("hello").is_empty(), "hello reads no configuration");
    }

    #[test]
    fn values_land_in_the_right_fields() {
        let env = full_env();
        let config = SigninConfig::from_lookup(|n| env.get(n).cloned()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.table_name, "value-of-AUTH_TABLE_NAME");
        assert_eq!(config.key_arn, "value-of-AUTH_KEY_ARN");
        assert_eq!(config.secret_arn, "value-of-AUTH_SECRET_ARN");
        assert_eq!(config.tokens.issuer, "value-of-AUTH_TOKEN_ISSUER");
        assert_eq!(config.tokens.audience, "value-of-AUTH_TOKEN_AUDIENCE");
        assert_eq!(config.tokens.lifetime_seconds, 900);
        assert_eq!(config.attempts_table_name, "value-of-AUTH_ATTEMPTS_TABLE_NAME");
        assert_eq!(
            config.protection,
            Protection {
                max_failures: 5,
                window_seconds: 600,
                cooldown_seconds: 1200,
                daily_per_address: 40,
                daily_per_email: 300
            }
        );
        let authorizer = AuthorizerConfig::from_lookup(|n| env.get(n).cloned()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(authorizer.tokens.lifetime_seconds, 900, "the authorizer bounds tokens by the same lifetime");
    }

    #[test]
    fn lockout_values_are_checked() {
        for (var, bad) in [
            ("AUTH_LOCKOUT_MAX_FAILURES", "0"),
            ("AUTH_LOCKOUT_WINDOW_SECONDS", "x"),
            ("AUTH_LOCKOUT_COOLDOWN_SECONDS", "1"),
        ] {
            let mut env = full_env();
            env.insert(var, bad.into());
            let error = SigninConfig::from_lookup(|n| env.get(n).cloned()).err();
            assert!(matches!(error, Some(ConfigError::Invalid { .. })), "{var}={bad}: {error:?}");
        }
    }

    #[test]
    fn a_missing_variable_is_named_in_the_error() {
        let mut env = full_env();
        env.remove("AUTH_KEY_ARN");
        let error = SignupConfig::from_lookup(|n| env.get(n).cloned()).err();
        assert_eq!(error, Some(ConfigError::Missing(EnvVar::KeyArn)));
        assert_eq!(error.map(|e| e.to_string()).as_deref(), Some("environment variable AUTH_KEY_ARN is not set"));
    }

    #[test]
    fn an_empty_variable_is_an_error() {
        let mut env = full_env();
        env.insert("AUTH_TOKEN_AUDIENCE", "  ".into());
        let error = AuthorizerConfig::from_lookup(|n| env.get(n).cloned()).err();
        assert_eq!(error, Some(ConfigError::Empty(EnvVar::TokenAudience)));
    }

    #[test]
    fn token_lifetime_defaults_to_fifteen_minutes_and_is_checked() {
        let mut env = full_env();
        env.remove("AUTH_TOKEN_LIFETIME_SECONDS");
        let config = SigninConfig::from_lookup(|n| env.get(n).cloned()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(config.tokens.lifetime_seconds, 900);
        for bad in ["0", "-5", "1h", "86401", ""] {
            env.insert("AUTH_TOKEN_LIFETIME_SECONDS", bad.into());
            let error = SigninConfig::from_lookup(|n| env.get(n).cloned()).err();
            assert!(
                matches!(error, Some(ConfigError::Invalid { var: EnvVar::TokenLifetimeSeconds, .. })),
                "{bad:?}: {error:?}"
            );
        }
    }
}
