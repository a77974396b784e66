//! The names that the synthesized templates and the handler code must agree on.
//!
//! `synth` writes these names into CloudFormation and the handlers read them at run time. Keeping them
//! in one dependency-free crate means the template and the code cannot drift apart: renaming a variable
//! here renames it on both sides, and adding a function or a variable is a compile error until both
//! sides handle it.

use std::fmt;

pub mod functions;
pub mod route;

pub use route::{Method, PathError, Segment};

/// What a function may do beyond writing its own logs: one action on one of the stage's stateful
/// resources. Synth turns each into an IAM statement on that resource's exact ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grant {
    pub action: &'static str,
    pub on: Target,
}

impl Grant {
    /// Reading one user by email: what a function given the users table (`--reads-users`) may do.
    pub const READ_USER: Grant = Grant { action: "dynamodb:GetItem", on: Target::UsersTable };
}

/// The stateful resource a [`Grant`] applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    UsersTable,
    /// The KMS key of password hashes; every grant on it requires the email encryption context.
    PasswordKey,
    SigningSecret,
    AttemptsTable,
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    /// Anyone: no token (signup and signin, which hand the token out).
    Public,
    /// Callers with a valid token, checked by the JWT authorizer before the function runs.
    Private,
}

/// The method and path API Gateway serves a function at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route {
    pub method: Method,
    /// `/orders/{id}`: literal segments and `{name}` path parameters (see [`route::parse_path`]).
    pub path: &'static str,
    pub access: Access,
}

impl Route {
    pub fn authorized(&self) -> bool {
        self.access == Access::Private
    }
}

/// A function as [`functions::DECLARED`] declares it.
#[derive(Debug, PartialEq, Eq)]
pub struct Declaration {
    /// The crate's name under `handlers/`, the suffix of the deployed function name and the key of
    /// `[functions.<name>]` sections in `stages.toml`: `[a-z][a-z0-9]*` (see [`route::check_name`]).
    pub name: &'static str,
    /// `None` only for the authorizer, which API Gateway calls before private routes.
    pub route: Option<Route>,
    /// The environment variables it reads at start-up; synth sets exactly these.
    pub env: &'static [EnvVar],
    /// Its whole access beyond its own log group.
    pub grants: &'static [Grant],
}

/// One of the service's Lambda functions: a declaration of [`functions::DECLARED`] (or, in benchmarks
/// and tests, of another `'static` list). Compared and ordered by name.
#[derive(Clone, Copy)]
pub struct Function(&'static Declaration);

impl Function {
    pub const SIGNUP: Function = Function(&functions::DECLARED[0]);
    pub const SIGNIN: Function = Function(&functions::DECLARED[1]);
    pub const AUTHORIZER: Function = Function(&functions::DECLARED[2]);
    pub const HELLO: Function = Function(&functions::DECLARED[3]);

    /// The functions the service is built from, in declaration order.
    pub fn all() -> Vec<Function> {
        Function::of(functions::DECLARED)
    }

    /// The functions of a list of declarations (benchmarks and tests build their own).
    pub fn of(declarations: &'static [Declaration]) -> Vec<Function> {
        declarations.iter().map(Function).collect()
    }

    pub fn from_name(name: &str) -> Option<Function> {
        functions::DECLARED.iter().find(|d| d.name == name).map(Function)
    }

    pub fn declaration(self) -> &'static Declaration {
        self.0
    }

    /// The short name: the crate's name under `handlers/`, the suffix of the deployed function name
    /// and the key of `[functions.<name>]` sections in `stages.toml`.
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// The name in PascalCase, used to build CloudFormation logical ids.
    pub fn pascal_name(self) -> String {
        route::pascal(self.0.name)
    }

    pub fn route(self) -> Option<Route> {
        self.0.route
    }

    /// The environment variables this function reads at start-up; synth sets exactly these.
    pub fn env(self) -> &'static [EnvVar] {
        self.0.env
    }

    pub fn grants(self) -> &'static [Grant] {
        self.0.grants
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
        self.0.name.cmp(other.0.name)
    }
}

impl std::hash::Hash for Function {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.name.hash(state);
    }
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
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
    /// Failed sign-ins for one email within the window that lock it out.
    LockoutMaxFailures,
    /// The window failed sign-ins are counted in, in seconds.
    LockoutWindowSeconds,
    /// How long a locked-out email stays locked, in seconds.
    LockoutCooldownSeconds,
}

impl EnvVar {
    pub const ALL: [EnvVar; 10] = [
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
        }
    }
}

impl fmt::Display for EnvVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
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

/// The DynamoDB attribute names of the sign-in attempts table: one item per email that failed to
/// sign in recently.
pub mod attempts {
    /// The partition key: the normalized email, as the user's (whether or not the user exists).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Function::all() {
            assert_eq!(Function::from_name(f.name()), Some(f));
        }
        assert_eq!(Function::from_name("nope"), None);
        assert_eq!(
            [Function::SIGNUP, Function::SIGNIN, Function::AUTHORIZER, Function::HELLO].map(Function::name),
            ["signup", "signin", "authorizer", "hello"]
        );
    }

    #[test]
    fn env_names_are_not_reserved_by_lambda() {
        for v in EnvVar::ALL {
            assert!(!v.name().starts_with("AWS_") && !v.name().starts_with('_'), "{v} is reserved");
        }
    }

    #[test]
    fn only_the_authorizer_has_no_route() {
        for f in Function::all() {
            assert_eq!(f.route().is_none(), f == Function::AUTHORIZER, "{f}");
        }
        assert!(Function::all().iter().filter_map(|f| f.route()).any(|r| r.authorized()));
    }

    #[test]
    fn every_declaration_is_valid_and_no_two_clash() {
        functions::check(functions::DECLARED).unwrap_or_else(|e| panic!("{e}"));
    }
}
