//! Every function of the service, declared once.
//!
//! This list is the one place functions and routes are declared: synth builds each function's role,
//! log group, environment and route from it, `cargo xtask build`, `local` and `deploy` build and run
//! the crate `handlers/<name>/` of each, and the handlers' tests check that each reads exactly the
//! variables declared here. `cargo xtask new function NAME --method M --path P [--public]
//! [--reads-users]` appends a declaration (before the marker line at the end of the list) and
//! `cargo xtask remove function NAME` removes one; the first four are built in and cannot be removed.

use crate::{Access, Declaration, EnvVar, Grant, Method, Route, Target};

pub const DECLARED: &[Declaration] = &[
    Declaration {
        name: "signup",
        route: Some(Route { method: Method::Post, path: "/signup", access: Access::Public }),
        env: &[EnvVar::TableName, EnvVar::KeyArn],
        grants: &[
            Grant { action: "dynamodb:PutItem", on: Target::UsersTable },
            Grant { action: "kms:Encrypt", on: Target::PasswordKey },
        ],
    },
    Declaration {
        name: "signin",
        route: Some(Route { method: Method::Post, path: "/signin", access: Access::Public }),
        env: &[
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
        // The lockout reads an email's failure count and updates it in place (an atomic add, a new
        // window, a lock, a reset after success are all conditional UpdateItems): no PutItem or
        // DeleteItem, and nothing on the users table beyond reading one user.
        grants: &[
            Grant::READ_USER,
            Grant { action: "kms:Decrypt", on: Target::PasswordKey },
            Grant { action: "secretsmanager:GetSecretValue", on: Target::SigningSecret },
            Grant { action: "dynamodb:GetItem", on: Target::AttemptsTable },
            Grant { action: "dynamodb:UpdateItem", on: Target::AttemptsTable },
        ],
    },
    // Reading the AWSCURRENT and AWSPREVIOUS versions is GetSecretValue with a VersionStage; the
    // version id (the token's `kid`) comes back with the value, so nothing else is needed.
    Declaration {
        name: "authorizer",
        route: None,
        env: &[EnvVar::SecretArn, EnvVar::TokenIssuer, EnvVar::TokenAudience, EnvVar::TokenLifetimeSeconds],
        grants: &[Grant { action: "secretsmanager:GetSecretValue", on: Target::SigningSecret }],
    },
    Declaration {
        name: "hello",
        route: Some(Route { method: Method::Get, path: "/hello", access: Access::Private }),
        env: &[],
        grants: &[],
    },
    // cargo xtask new function: new declarations go above this line.
];

/// The number of built-in functions, which `cargo xtask remove function` refuses to remove.
pub const BUILT_IN: usize = 4;

/// Why a list of declarations cannot make one API, if it cannot: a bad name or path, a name used
/// twice, two routes that clash, or a route-less function other than the authorizer.
pub fn check(declarations: &'static [Declaration]) -> Result<(), crate::PathError> {
    check_functions(&crate::Function::of(declarations))
}

/// [`check`] for functions (declared anywhere), as synth and `cargo xtask` get them.
pub fn check_functions(functions: &[crate::Function]) -> Result<(), crate::PathError> {
    let declarations: Vec<&Declaration> = functions.iter().map(|f| f.declaration()).collect();
    let mut routes: Vec<(Method, &str)> = Vec::new();
    for (i, d) in declarations.iter().enumerate() {
        crate::route::check_name(d.name)?;
        if declarations[..i].iter().any(|e| e.name == d.name) {
            return Err(crate::PathError(format!("the function name `{}` is declared twice", d.name)));
        }
        match d.route {
            None if d.name == "authorizer" => {}
            None => return Err(crate::PathError(format!("`{}` has no route; only the authorizer may", d.name))),
            Some(route) => {
                crate::route::parse_path(route.path)?;
                routes.push((route.method, route.path));
            }
        }
        if d.grants.iter().any(|g| g.on == Target::UsersTable) && !d.env.contains(&EnvVar::TableName) {
            return Err(crate::PathError(format!("`{}` is granted the users table but not told its name", d.name)));
        }
    }
    match crate::route::conflicts(&routes) {
        Some(why) => Err(crate::PathError(why)),
        None => Ok(()),
    }
}
