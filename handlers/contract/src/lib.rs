//! The names that the synthesized templates and the handler code must agree on.
//!
//! `synth` writes these names into CloudFormation and the handlers read them at run time. Keeping them
//! in one dependency-free crate means the template and the code cannot drift apart: renaming a variable
//! here renames it on both sides, and adding a function or a variable is a compile error until both
//! sides handle it.

use std::fmt;

/// One of the service's Lambda functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Function {
    Signup,
    Signin,
    Authorizer,
    Hello,
}

impl Function {
    /// Every function, in the order templates and reports list them.
    pub const ALL: [Function; 4] = [Function::Signup, Function::Signin, Function::Authorizer, Function::Hello];

    /// The short name: the crate's name under `handlers/`, the suffix of the deployed function name
    /// and the key of `[functions.<name>]` sections in `stages.toml`.
    pub const fn name(self) -> &'static str {
        match self {
            Function::Signup => "signup",
            Function::Signin => "signin",
            Function::Authorizer => "authorizer",
            Function::Hello => "hello",
        }
    }

    /// The name in PascalCase, used to build CloudFormation logical ids.
    pub const fn pascal_name(self) -> &'static str {
        match self {
            Function::Signup => "Signup",
            Function::Signin => "Signin",
            Function::Authorizer => "Authorizer",
            Function::Hello => "Hello",
        }
    }

    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The environment variables this function reads at start-up; synth sets exactly these.
    pub const fn env(self) -> &'static [EnvVar] {
        match self {
            Function::Signup => &[EnvVar::TableName, EnvVar::KeyArn],
            Function::Signin => &[
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
            ],
            Function::Authorizer => {
                &[EnvVar::SecretArn, EnvVar::TokenIssuer, EnvVar::TokenAudience, EnvVar::TokenLifetimeSeconds]
            }
            Function::Hello => &[],
        }
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

/// An HTTP method the API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// One route of the REST API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: Method,
    /// A single path segment under the API root, without the leading slash.
    pub path: &'static str,
    pub function: Function,
    /// Whether the JWT authorizer guards this route.
    pub authorized: bool,
}

/// Every route of the API. The authorizer is not routed: API Gateway calls it before guarded routes.
pub const ROUTES: [Route; 3] = [
    Route { method: Method::Post, path: "signup", function: Function::Signup, authorized: false },
    Route { method: Method::Post, path: "signin", function: Function::Signin, authorized: false },
    Route { method: Method::Get, path: "hello", function: Function::Hello, authorized: true },
];

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
        for f in Function::ALL {
            assert_eq!(Function::from_name(f.name()), Some(f));
        }
        assert_eq!(Function::from_name("nope"), None);
    }

    #[test]
    fn env_names_are_not_reserved_by_lambda() {
        for v in EnvVar::ALL {
            assert!(!v.name().starts_with("AWS_") && !v.name().starts_with('_'), "{v} is reserved");
        }
    }

    #[test]
    fn every_routed_function_is_not_the_authorizer() {
        assert!(ROUTES.iter().all(|r| r.function != Function::Authorizer));
        assert!(ROUTES.iter().any(|r| r.authorized));
    }
}
