//! The names that the synthesized templates and the handler code must agree on.
//!
//! `synth` writes these names into CloudFormation and the handlers read them at run time. Keeping them
//! in one dependency-free crate means the template and the code cannot drift apart: renaming a variable
//! here renames it on both sides, and adding a function or a variable is a compile error until both
//! sides handle it.

use std::fmt;
use std::sync::Arc;

pub mod route;

pub use route::{Method, PathError, Segment};

/// What a function may do beyond writing its own logs: one action on one of the stage's stateful
/// resources. Synth turns each into an IAM statement on that resource's exact ARN, and, for the key and
/// the secret, into the matching statement of the key or resource policy.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grant {
    pub action: String,
    pub on: Target,
}

/// The stateful resource a [`Grant`] applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    UsersTable,
    /// The KMS key of password hashes; every grant on it requires the email encryption context.
    PasswordKey,
    SigningSecret,
    AttemptsTable,
    /// Sessions and each user's "signed out everywhere" time (refresh tokens, sign-out).
    SessionsTable,
    /// One-time codes (email verification, password reset) and the per-address mail counters.
    CodesTable,
    /// The secret whose key tags one-time codes: apart from the JWT signing secret, so that the functions
    /// that mail and check codes cannot mint tokens.
    CodeSecret,
    /// The stage's SES identity, which mail is sent from; every grant on it requires the stage's sender
    /// as the from-address (`ses:FromAddress`).
    MailIdentity,
}

impl Target {
    pub const ALL: [Target; 8] = [
        Target::UsersTable,
        Target::PasswordKey,
        Target::SigningSecret,
        Target::AttemptsTable,
        Target::SessionsTable,
        Target::CodesTable,
        Target::CodeSecret,
        Target::MailIdentity,
    ];

    /// How a declaration names it: the key of `[package.metadata.function.grants]`.
    pub const fn key(self) -> &'static str {
        match self {
            Target::UsersTable => "users-table",
            Target::PasswordKey => "password-key",
            Target::SigningSecret => "signing-secret",
            Target::AttemptsTable => "attempts-table",
            Target::SessionsTable => "sessions-table",
            Target::CodesTable => "codes-table",
            Target::CodeSecret => "code-secret",
            Target::MailIdentity => "mail-identity",
        }
    }

    pub fn from_key(key: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.key() == key)
    }

    /// The actions a function may be granted on it: what the service's code calls, and nothing that
    /// administers, deletes or lists.
    pub const fn actions(self) -> &'static [&'static str] {
        match self {
            Target::UsersTable | Target::AttemptsTable | Target::SessionsTable | Target::CodesTable => {
                &["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
            }
            Target::PasswordKey => &["kms:Encrypt", "kms:Decrypt"],
            Target::SigningSecret | Target::CodeSecret => &["secretsmanager:GetSecretValue"],
            Target::MailIdentity => &["ses:SendEmail"],
        }
    }

    /// The environment variable that tells a function which resource this is. A function that is not
    /// told cannot call it, so a grant without this variable is one its code does not need.
    pub const fn env(self) -> EnvVar {
        match self {
            Target::UsersTable => EnvVar::TableName,
            Target::PasswordKey => EnvVar::KeyArn,
            Target::SigningSecret => EnvVar::SecretArn,
            Target::AttemptsTable => EnvVar::AttemptsTableName,
            Target::SessionsTable => EnvVar::SessionsTableName,
            Target::CodesTable => EnvVar::CodesTableName,
            Target::CodeSecret => EnvVar::CodeSecretArn,
            Target::MailIdentity => EnvVar::MailSender,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// Anyone: no token (signup and signin, which hand the token out).
    Public,
    /// Callers with a valid token, checked by the JWT authorizer before the function runs.
    Private,
}

/// Which of the stage's per source IP limits (`ip_rate_limits` in `stages.toml`) counts a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RateLimit {
    /// The stricter `auth` limit: routes that check a password or hand out tokens, where guessing happens
    /// and each call costs a password hash. The `all` limit counts them too.
    Auth,
    /// Only the `all` limit, which counts every path.
    All,
}

/// The method and path API Gateway serves a function at.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route {
    pub method: Method,
    /// `/orders/{id}`: literal segments and `{name}` path parameters (see [`route::parse_path`]).
    pub path: String,
    pub access: Access,
    pub ip_rate_limit: RateLimit,
}

impl Route {
    pub fn authorized(&self) -> bool {
        self.access == Access::Private
    }
}

/// What a function is, as its crate's `Cargo.toml` declares it in `[package.metadata.function]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Declaration {
    /// The crate's name, which is its directory under `handlers/`, the suffix of the deployed function
    /// name and the key of `[functions.<name>]` sections in `stages.toml` (see [`route::check_name`]).
    pub name: String,
    /// `None` only for the authorizer, which API Gateway calls before private routes.
    pub route: Option<Route>,
    /// The JWT authorizer that guards every private route. At most one function is.
    pub authorizer: bool,
    /// Part of the service itself: `cargo xtask remove function` refuses it.
    pub built_in: bool,
    /// The environment variables it reads at start-up, sorted; synth sets exactly these.
    pub env: Vec<EnvVar>,
    /// Its whole access beyond its own log group, sorted.
    pub grants: Vec<Grant>,
}

/// One of the service's Lambda functions: a shared, immutable [`Declaration`]. Cheap to clone;
/// compared and ordered by name, so every list and map of functions is in name order whatever order
/// the declarations were read in.
#[derive(Clone)]
pub struct Function(Arc<Declaration>);

impl Function {
    pub fn new(declaration: Declaration) -> Function {
        Function(Arc::new(declaration))
    }

    pub fn declaration(&self) -> &Declaration {
        &self.0
    }

    /// The short name: the crate's name under `handlers/`, the suffix of the deployed function name
    /// and the key of `[functions.<name>]` sections in `stages.toml`.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The name in PascalCase, used to build CloudFormation logical ids.
    pub fn pascal_name(&self) -> String {
        route::pascal(&self.0.name)
    }

    pub fn route(&self) -> Option<&Route> {
        self.0.route.as_ref()
    }

    pub fn is_authorizer(&self) -> bool {
        self.0.authorizer
    }

    pub fn is_built_in(&self) -> bool {
        self.0.built_in
    }

    /// The environment variables this function reads at start-up; synth sets exactly these.
    pub fn env(&self) -> &[EnvVar] {
        &self.0.env
    }

    pub fn grants(&self) -> &[Grant] {
        &self.0.grants
    }

    /// Whether it may call `action` on `on`.
    pub fn is_granted(&self, action: &str, on: Target) -> bool {
        self.0.grants.iter().any(|g| g.on == on && g.action == action)
    }

    /// The one function among `functions` named `name`.
    pub fn find<'a>(functions: &'a [Function], name: &str) -> Option<&'a Function> {
        functions.iter().find(|f| f.name() == name)
    }
}

impl PartialEq for Function {
    fn eq(&self, other: &Function) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Function {}

impl PartialOrd for Function {
    fn partial_cmp(&self, other: &Function) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Function {
    fn cmp(&self, other: &Function) -> std::cmp::Ordering {
        self.0.name.cmp(&other.0.name)
    }
}

impl std::hash::Hash for Function {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.name.hash(state);
    }
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.name)
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An environment variable that a function reads. None is a name Lambda reserves (`AWS_*`, `_HANDLER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EnvVar {
    /// Name of the DynamoDB table holding users, keyed by normalized email.
    TableName,
    /// ARN of the KMS key that encrypts password hashes.
    KeyArn,
    /// ARN of the Secrets Manager secret holding the JWT signing key.
    SecretArn,
    /// The `iss` claim the service writes and the authorizer requires.
    TokenIssuer,
    /// The `aud` claim the service writes and the authorizer requires.
    TokenAudience,
    /// How long a token is valid, in seconds: signin issues tokens for this long, and the authorizer
    /// refuses a token whose `exp - iat` is longer.
    TokenLifetimeSeconds,
    /// Name of the DynamoDB table counting failed sign-ins per email.
    AttemptsTableName,
    /// Sign-in attempts at one email from one address within the window that lock the pair.
    LockoutMaxFailures,
    /// The window attempts are counted in, in seconds.
    LockoutWindowSeconds,
    /// How long a locked pair stays locked, in seconds.
    LockoutCooldownSeconds,
    /// Sign-in attempts at one email from one address in a day.
    LockoutDailyPerAddress,
    /// Sign-in attempts at one email from every address in a day, before the addresses that tried it
    /// are refused for the rest of the day.
    LockoutDailyPerEmail,
    /// The fewest characters a new password may have (after NFKC normalization).
    PasswordMinChars,
    /// The service's names a new password must not contain, comma-separated: the project's and the
    /// stage's (`auth,auth-dev`).
    ServiceNames,
    /// Name of the DynamoDB table of sessions and of each user's "signed out everywhere" time.
    SessionsTableName,
    /// A session's absolute lifetime from sign-in, in seconds; refreshing never extends it.
    SessionAbsoluteSeconds,
    /// How long a session may go unrefreshed before it ends, in seconds.
    SessionIdleSeconds,
    /// How long after a rotation the spent refresh token still gets the same answer (a retry, a second
    /// tab), in seconds; 0 turns it off.
    RefreshGraceSeconds,
    /// How long the authorizer may reuse a user's "signed out everywhere" time it read, in seconds: at
    /// most the stage's authorizer cache TTL.
    RevocationCacheSeconds,
    /// Name of the DynamoDB table of one-time codes and per-address mail counters.
    CodesTableName,
    /// ARN of the Secrets Manager secret whose key tags one-time codes.
    CodeSecretArn,
    /// The address mail is sent from (`stages.toml`'s `mail.sender`), under the stage's SES identity.
    MailSender,
}

impl EnvVar {
    pub const ALL: [EnvVar; 22] = [
        EnvVar::TableName,
        EnvVar::KeyArn,
        EnvVar::SecretArn,
        EnvVar::TokenIssuer,
        EnvVar::TokenAudience,
        EnvVar::TokenLifetimeSeconds,
        EnvVar::AttemptsTableName,
        EnvVar::LockoutMaxFailures,
        EnvVar::LockoutWindowSeconds,
        EnvVar::LockoutCooldownSeconds,
        EnvVar::LockoutDailyPerAddress,
        EnvVar::LockoutDailyPerEmail,
        EnvVar::PasswordMinChars,
        EnvVar::ServiceNames,
        EnvVar::SessionsTableName,
        EnvVar::SessionAbsoluteSeconds,
        EnvVar::SessionIdleSeconds,
        EnvVar::RefreshGraceSeconds,
        EnvVar::RevocationCacheSeconds,
        EnvVar::CodesTableName,
        EnvVar::CodeSecretArn,
        EnvVar::MailSender,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            EnvVar::TableName => "AUTH_TABLE_NAME",
            EnvVar::KeyArn => "AUTH_KEY_ARN",
            EnvVar::SecretArn => "AUTH_SECRET_ARN",
            EnvVar::TokenIssuer => "AUTH_TOKEN_ISSUER",
            EnvVar::TokenAudience => "AUTH_TOKEN_AUDIENCE",
            EnvVar::TokenLifetimeSeconds => "AUTH_TOKEN_LIFETIME_SECONDS",
            EnvVar::AttemptsTableName => "AUTH_ATTEMPTS_TABLE_NAME",
            EnvVar::LockoutMaxFailures => "AUTH_LOCKOUT_MAX_FAILURES",
            EnvVar::LockoutWindowSeconds => "AUTH_LOCKOUT_WINDOW_SECONDS",
            EnvVar::LockoutCooldownSeconds => "AUTH_LOCKOUT_COOLDOWN_SECONDS",
            EnvVar::LockoutDailyPerAddress => "AUTH_LOCKOUT_DAILY_PER_ADDRESS",
            EnvVar::LockoutDailyPerEmail => "AUTH_LOCKOUT_DAILY_PER_EMAIL",
            EnvVar::PasswordMinChars => "AUTH_PASSWORD_MIN_CHARS",
            EnvVar::ServiceNames => "AUTH_SERVICE_NAMES",
            EnvVar::SessionsTableName => "AUTH_SESSIONS_TABLE_NAME",
            EnvVar::SessionAbsoluteSeconds => "AUTH_SESSION_ABSOLUTE_SECONDS",
            EnvVar::SessionIdleSeconds => "AUTH_SESSION_IDLE_SECONDS",
            EnvVar::RefreshGraceSeconds => "AUTH_REFRESH_GRACE_SECONDS",
            EnvVar::RevocationCacheSeconds => "AUTH_REVOCATION_CACHE_SECONDS",
            EnvVar::CodesTableName => "AUTH_CODES_TABLE_NAME",
            EnvVar::CodeSecretArn => "AUTH_CODE_SECRET_ARN",
            EnvVar::MailSender => "AUTH_MAIL_SENDER",
        }
    }
}

impl EnvVar {
    /// The variable named `name`, as a declaration's `env` list spells it.
    pub fn from_name(name: &str) -> Option<EnvVar> {
        EnvVar::ALL.into_iter().find(|v| v.name() == name)
    }
}

impl fmt::Display for EnvVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The `event` field of the functions' security log lines: what `cargo xtask logs` marks, and what an alarm
/// should watch. Each is logged at WARN with a user ref, never an email or a token.
pub mod events {
    /// A spent refresh token came back: its session ended.
    pub const REFRESH_TOKEN_REUSE: &str = "refresh_token_reuse";
    /// A user signed out everywhere.
    pub const SIGNOUT_EVERYWHERE: &str = "signout_everywhere";
    /// A password was reset with a mailed code: every session ended.
    pub const PASSWORD_RESET: &str = "password_reset";
    /// Repeated failed sign-ins locked an address out of an email.
    pub const SIGNIN_LOCKOUT: &str = "signin_lockout";
    /// Every one of them.
    pub const SECURITY: [&str; 4] = [REFRESH_TOKEN_REUSE, SIGNOUT_EVERYWHERE, PASSWORD_RESET, SIGNIN_LOCKOUT];
}

/// The request header that carries the token, as API Gateway's identity source names it.
pub const AUTHORIZATION_HEADER: &str = "Authorization";

/// Claim and authorizer-context names.
pub mod claims {
    /// The normalized email, both a JWT claim and the key of the authorizer's context.
    pub const EMAIL: &str = "email";
}

/// KMS usage shared by signup (encrypt) and signin (decrypt).
pub mod kms {
    /// The encryption-context key that binds a password hash to its user; its value is the normalized
    /// email. The key policy requires it to be present.
    pub const CONTEXT_KEY: &str = "email";
}

/// The DynamoDB attribute names of a user item.
pub mod table {
    /// The partition key: the normalized email.
    pub const PARTITION_KEY: &str = "email";
}

/// The DynamoDB attribute names of the sign-in attempts table: one item per count of recent sign-in
/// attempts (per email and source address, per email and address and day, per email and day).
pub mod attempts {
    /// The partition key: which count the item holds (`address <email> <ip>`, `address-day <email> <ip>`,
    /// `email-day <email>`; emails are normalized, known or not). Named `email` because the table was
    /// first keyed by email alone: renaming the key would replace the table.
    pub const PARTITION_KEY: &str = "email";
    /// Failed sign-ins in the current window.
    pub const FAILURES: &str = "failures";
    /// When the current window began (Unix seconds).
    pub const WINDOW_START: &str = "window_start";
    /// Until when sign-ins for the email are refused (Unix seconds), once locked.
    pub const LOCKED_UNTIL: &str = "locked_until";
    /// When DynamoDB may delete the item (Unix seconds): the table's time-to-live attribute.
    pub const EXPIRES_AT: &str = "expires_at";
}

/// The DynamoDB attribute names of the codes table: one item per purpose and address (the newest code
/// mailed), and one per address and hour or day counting the mails sent.
pub mod codes {
    /// The partition key: `<purpose> <normalized email>` (`verify ann@example.com`).
    pub const PARTITION_KEY: &str = "id";
    /// The code's HMAC tag (binary); never the code.
    pub const TAG: &str = "tag";
    /// Wrong guesses the code still allows.
    pub const TRIES_LEFT: &str = "tries_left";
    /// When the code stops working (Unix seconds); the table's time-to-live attribute.
    pub const EXPIRES_AT: &str = "expires_at";
    /// What the code unlocks, when anything (a pending account's password hash), binary.
    pub const PAYLOAD: &str = "payload";
}

/// The DynamoDB attribute names of the sessions table: one item per session (`session <id>`), and one
/// per user who signed out everywhere (`user <email>`).
pub mod sessions {
    /// The partition key: `session <32 hex digits>` or `user <normalized email>`.
    pub const PARTITION_KEY: &str = "id";
    /// A session's user: the normalized email.
    pub const USER: &str = "user";
    /// How many times the session's refresh token has been rotated; the current token carries it.
    pub const GENERATION: &str = "generation";
    /// When the session began (Unix seconds): its absolute lifetime counts from here.
    pub const CREATED_AT: &str = "created_at";
    /// When its refresh token was last used (Unix seconds): its idle timeout counts from here.
    pub const LAST_USED: &str = "last_used";
    /// When the current token replaced the previous one (Unix seconds): the grace window counts from here.
    pub const ROTATED_AT: &str = "rotated_at";
    /// Whether the session was ended: signed out, or a spent token came back.
    pub const REVOKED: &str = "revoked";
    /// The session's random seed (hex), which every refresh token's tag covers with the service's key.
    pub const SEED: &str = "seed";
    /// SHA-256 (hex) of the current refresh token, and of the one it replaced: never a token.
    pub const TOKEN_HASH: &str = "token_hash";
    pub const PREVIOUS_HASH: &str = "previous_hash";
    /// On a user's item: sessions begun and access tokens issued at or before this time (Unix seconds)
    /// are no longer valid.
    pub const VALID_AFTER: &str = "valid_after";
    /// When DynamoDB may delete the item (Unix seconds): the table's time-to-live attribute.
    pub const EXPIRES_AT: &str = "expires_at";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_are_not_reserved_by_lambda() {
        for v in EnvVar::ALL {
            assert!(!v.name().starts_with("AWS_") && !v.name().starts_with('_'), "{v} is reserved");
            assert_eq!(EnvVar::from_name(v.name()), Some(v));
        }
    }

    #[test]
    fn targets_round_trip_and_name_their_variable() {
        for t in Target::ALL {
            assert_eq!(Target::from_key(t.key()), Some(t));
            assert!(!t.actions().is_empty());
        }
        assert_eq!(Target::SigningSecret.env(), EnvVar::SecretArn);
    }

    #[test]
    fn functions_compare_by_name() {
        let f = |name: &str, built_in| {
            Function::new(Declaration {
                name: name.to_owned(),
                route: None,
                authorizer: false,
                built_in,
                env: Vec::new(),
                grants: Vec::new(),
            })
        };
        assert_eq!(f("a", true), f("a", false));
        assert!(f("a", true) < f("b", true));
    }
}
