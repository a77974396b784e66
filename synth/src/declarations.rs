//! Function declarations: each function crate's `[package.metadata.function]`, parsed and checked.
//!
//! A function is declared beside its code, as data, in its own `handlers/<name>/Cargo.toml`:
//!
//! ```toml
//! [package.metadata.function]
//! route = { method = "GET", path = "/orders/{order_id}", access = "private" }
//! env = ["AUTH_TABLE_NAME"]
//! grants = { users-table = ["dynamodb:GetItem"] }
//! ```
//!
//! Pure like the rest of synth: [`parse`] takes a manifest's text (and what the caller found on disk
//! beside it), [`check`] the whole list. `xtask` reads the files. Errors point at the text, like
//! `stages.toml`'s: `handlers/orders/Cargo.toml:9:30`, a caret and a `help:` line. Nothing depends on
//! the order the manifests are read in: [`check`] sorts the functions by name.

// A config error carries its source text for the snippet; it is made once per run, on the way out.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::ops::Range;

use contract::{Access, Declaration, EnvVar, Function, Grant, Method, RateLimit, Route, Target, route};
use serde::Deserialize;
use toml::Spanned;

use crate::config::ConfigError;
use crate::config::error::Source;

/// The table of a crate's `Cargo.toml` that declares a function.
pub const TABLE: &str = "package.metadata.function";

/// A manifest as the caller found it.
#[derive(Debug, Clone, Copy)]
pub struct Manifest<'a> {
    /// The path shown in errors, relative to the workspace: `handlers/orders/Cargo.toml`.
    pub path: &'a str,
    /// The crate's directory name under `handlers/`: a function's name must be it.
    pub directory: &'a str,
    pub text: &'a str,
    /// Whether `src/main.rs` exists beside it: a function is a binary.
    pub has_main: bool,
}

/// A declared function with where it was declared, for errors that span functions.
#[derive(Debug, Clone)]
pub struct Declared {
    pub function: Function,
    path: String,
    text: String,
    /// The span of the route's path, or of the table for a route-less function.
    route_span: Range<usize>,
}

impl Declared {
    fn error(&self, message: impl Into<String>, help: impl Into<String>) -> ConfigError {
        Source { name: &self.path, text: &self.text }.error(Some(self.route_span.clone()), message, help)
    }

    /// The manifest that declares it.
    pub fn path(&self) -> &str {
        &self.path
    }
}

#[derive(Deserialize)]
struct RawManifest {
    package: Option<RawPackage>,
}

#[derive(Deserialize)]
struct RawPackage {
    name: Spanned<String>,
    metadata: Option<RawMetadata>,
}

#[derive(Deserialize)]
struct RawMetadata {
    function: Option<Spanned<RawFunction>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFunction {
    route: Option<Spanned<RawRoute>>,
    authorizer: Option<Spanned<bool>>,
    built_in: Option<bool>,
    #[serde(default)]
    env: Vec<Spanned<String>>,
    #[serde(default)]
    grants: BTreeMap<Spanned<String>, Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    method: Spanned<String>,
    path: Spanned<String>,
    access: Spanned<String>,
    ip_rate_limit: Option<Spanned<String>>,
}

/// The function `manifest` declares, `None` for a crate that declares none (a library such as `auth`).
pub fn parse(manifest: Manifest<'_>) -> Result<Option<Declared>, ConfigError> {
    let src = Source { name: manifest.path, text: manifest.text };
    let raw: RawManifest = toml::from_str(manifest.text).map_err(|e| {
        let help = if e.message().contains("unknown field") {
            "check the spelling; a declaration has route, authorizer, built_in, env and grants (README, \"Add your own \
             endpoint\"), a route method, path, access and ip_rate_limit"
        } else {
            "fix the value's type or syntax; the README's \"Add your own endpoint\" shows a declaration"
        };
        src.error(e.span(), e.message().trim_end().to_owned(), help)
    })?;
    let Some(package) = raw.package else { return Ok(None) };
    let Some(declared) = package.metadata.and_then(|m| m.function) else { return Ok(None) };
    let table_span = declared.span();
    let raw = declared.into_inner();

    let name = package.name.get_ref();
    crate_in_place(&src, &manifest, &package.name, table_span.clone())?;
    let authorizer = raw.authorizer.as_ref().is_some_and(|a| *a.get_ref());
    let route = route_of(&src, name, &raw, table_span.clone())?;
    let env = env_of(&src, &raw.env)?;
    let grants = grants_of(&src, name, &raw.grants, &env)?;

    let route_span = match &raw.route {
        Some(r) => r.get_ref().path.span(),
        None => raw.authorizer.as_ref().map_or(table_span, |a| a.span()),
    };
    let declaration =
        Declaration { name: name.clone(), route, authorizer, built_in: raw.built_in.unwrap_or(false), env, grants };
    Ok(Some(Declared {
        function: Function::new(declaration),
        path: manifest.path.to_owned(),
        text: manifest.text.to_owned(),
        route_span,
    }))
}

/// Refuses a crate whose name is not a function name, is not its directory's, or that has no binary.
fn crate_in_place(
    src: &Source<'_>,
    manifest: &Manifest<'_>,
    crate_name: &Spanned<String>,
    table_span: Range<usize>,
) -> Result<(), ConfigError> {
    let err = |span: Range<usize>, message: String, help: &str| src.error(Some(span), message, help);
    let name = crate_name.get_ref();
    route::check_name(name).map_err(|e| err(crate_name.span(), e.to_string(), "rename the crate and its directory"))?;
    if name != manifest.directory {
        return Err(err(
            crate_name.span(),
            format!(
                "the crate `{name}` is in handlers/{}/: a function's crate is named after its directory",
                manifest.directory
            ),
            &format!("name the crate `{}`, or rename the directory to handlers/{name}/", manifest.directory),
        ));
    }
    if !manifest.has_main {
        return Err(err(
            table_span,
            format!("handlers/{name}/ declares a function but has no src/main.rs, so there is no binary to deploy"),
            "add src/main.rs (see `cargo xtask new function`), or delete [package.metadata.function] from a library crate",
        ));
    }

    Ok(())
}

/// The function's route: every function has one but the authorizer, which has none.
fn route_of(
    src: &Source<'_>,
    name: &str,
    raw: &RawFunction,
    table_span: Range<usize>,
) -> Result<Option<Route>, ConfigError> {
    let err = |span: Range<usize>, message: String, help: &str| src.error(Some(span), message, help);
    let authorizer = raw.authorizer.as_ref().is_some_and(|a| *a.get_ref());
    Ok(match (&raw.route, &raw.authorizer) {
        (Some(r), Some(a)) if *a.get_ref() => {
            return Err(err(
                r.span(),
                format!("`{name}` is the authorizer and has a route; API Gateway calls the authorizer itself"),
                "remove the route, or authorizer = true",
            ));
        }
        (Some(r), _) => Some(parse_route(src, r.get_ref())?),
        (None, _) if authorizer => None,
        (None, _) => {
            return Err(err(
                table_span,
                format!("`{name}` has no route; only the authorizer may"),
                "add route = { method = \"GET\", path = \"/...\", access = \"private\" }",
            ));
        }
    })
}

/// The variables the function reads, each one synth can set, listed once; sorted.
fn env_of(src: &Source<'_>, raw: &[Spanned<String>]) -> Result<Vec<EnvVar>, ConfigError> {
    let err = |span: Range<usize>, message: String, help: &str| src.error(Some(span), message, help);
    let mut env = Vec::new();
    for v in raw {
        let Some(var) = EnvVar::from_name(v.get_ref()) else {
            let known: Vec<&str> = EnvVar::ALL.iter().map(|v| v.name()).collect();
            return Err(err(
                v.span(),
                format!("`{}` is not a variable synth can set", v.get_ref()),
                &format!("use one of {}", known.join(", ")),
            ));
        };
        if env.contains(&var) {
            return Err(err(v.span(), format!("{var} is listed twice"), "list each variable once"));
        }
        env.push(var);
    }
    env.sort();

    Ok(env)
}

/// The function's grants: actions each resource offers, on resources whose variable the function reads,
/// each once; sorted.
fn grants_of(
    src: &Source<'_>,
    name: &str,
    raw: &BTreeMap<Spanned<String>, Vec<Spanned<String>>>,
    env: &[EnvVar],
) -> Result<Vec<Grant>, ConfigError> {
    let err = |span: Range<usize>, message: String, help: &str| src.error(Some(span), message, help);
    let mut grants = Vec::new();
    for (target, actions) in raw {
        let Some(on) = Target::from_key(target.get_ref()) else {
            let known: Vec<&str> = Target::ALL.iter().map(|t| t.key()).collect();
            return Err(err(
                target.span(),
                format!("`{}` is not a resource a function can be granted", target.get_ref()),
                &format!("use one of {}", known.join(", ")),
            ));
        };
        if !env.contains(&on.env()) {
            return Err(err(
                target.span(),
                format!(
                    "`{name}` is granted the {on} but does not read {}, so its code cannot name the resource and does \
                     not need the grant",
                    on.env()
                ),
                &format!("add \"{}\" to env if the code calls it, or remove the grant", on.env()),
            ));
        }
        if actions.is_empty() {
            return Err(err(
                target.span(),
                format!("no actions granted on the {on}"),
                "list the actions, or remove the key",
            ));
        }
        for action in actions {
            if !on.actions().contains(&action.get_ref().as_str()) {
                return Err(err(
                    action.span(),
                    format!("`{}` cannot be granted on the {on}", action.get_ref()),
                    &format!("a function may be granted {} on it", on.actions().join(", ")),
                ));
            }
            let grant = Grant { action: action.get_ref().clone(), on };
            if grants.contains(&grant) {
                return Err(err(
                    action.span(),
                    format!("`{}` is granted twice", grant.action),
                    "list each action once",
                ));
            }
            grants.push(grant);
        }
    }
    grants.sort();

    Ok(grants)
}

fn parse_route(src: &Source<'_>, raw: &RawRoute) -> Result<Route, ConfigError> {
    let method = Method::parse(raw.method.get_ref()).ok_or_else(|| {
        src.error(
            Some(raw.method.span()),
            format!("`{}` is not an HTTP method a route may use", raw.method.get_ref()),
            "use GET, POST, PUT, PATCH or DELETE",
        )
    })?;
    route::parse_path(raw.path.get_ref()).map_err(|e| {
        src.error(
            Some(raw.path.span()),
            e.to_string(),
            "write the path as /segment/{parameter}, e.g. /orders/{order_id}",
        )
    })?;
    let access = match raw.access.get_ref().as_str() {
        "public" => Access::Public,
        "private" => Access::Private,
        other => {
            return Err(src.error(
                Some(raw.access.span()),
                format!("`{other}` is not an access"),
                "use \"private\" (the JWT authorizer checks a token first) or \"public\" (anyone may call it)",
            ));
        }
    };
    let ip_rate_limit = match raw.ip_rate_limit.as_ref().map(|l| (l.get_ref().as_str(), l.span())) {
        None | Some(("all", _)) => RateLimit::All,
        // WAF matches the path's end as text: a `{parameter}` in it would never match a real request.
        Some(("auth", span)) if raw.path.get_ref().contains('{') => {
            return Err(src.error(
                Some(span),
                format!(
                    "the stricter `auth` limit cannot apply to {}: WAF matches a path's end as text",
                    raw.path.get_ref()
                ),
                "give the route a path without parameters, or leave ip_rate_limit out (the `all` limit counts it)",
            ));
        }
        Some(("auth", _)) => RateLimit::Auth,
        Some((other, span)) => {
            return Err(src.error(
                Some(span),
                format!("`{other}` is not one of the stage's ip_rate_limits"),
                "use \"auth\" for a route that checks passwords or hands out tokens, or \"all\" (the default)",
            ));
        }
    };
    Ok(Route { method, path: raw.path.get_ref().clone(), access, ip_rate_limit })
}

/// The functions of `declared`, sorted by name, once they make one API: distinct names, at most one
/// authorizer, one if any route is private, and no two routes that clash. An error points at the
/// later declaration (in name order) and names the other.
pub fn check(mut declared: Vec<Declared>) -> Result<Vec<Function>, ConfigError> {
    declared.sort_by(|a, b| a.function.cmp(&b.function));
    for (i, d) in declared.iter().enumerate() {
        if let Some(other) = declared[..i].iter().find(|o| o.function == d.function) {
            return Err(d.error(
                format!("the function `{}` is also declared in {}", d.function, other.path),
                "give each function its own crate name",
            ));
        }
        if d.function.is_authorizer()
            && let Some(other) = declared[..i].iter().find(|o| o.function.is_authorizer())
        {
            return Err(d.error(
                format!("`{}` and `{}` are both declared authorizer = true", other.function, d.function),
                "one JWT authorizer guards every private route; keep authorizer = true on one of them",
            ));
        }
        let Some(route) = d.function.route() else { continue };
        for other in &declared[..i] {
            let Some(theirs) = other.function.route() else { continue };
            if let Some(why) = route::conflicts(&[(theirs.method, &theirs.path), (route.method, &route.path)]) {
                return Err(d.error(
                    format!(
                        "the route of `{}` clashes with `{}`'s ({}): {why}",
                        d.function, other.function, other.path
                    ),
                    "change one of the paths",
                ));
            }
        }
    }
    let has_authorizer = declared.iter().any(|d| d.function.is_authorizer());
    if !has_authorizer
        && let Some(private) = declared.iter().find(|d| d.function.route().is_some_and(Route::authorized))
    {
        return Err(private.error(
            format!("`{}` is private, but no function is declared authorizer = true", private.function),
            "make the route access = \"public\", or declare the JWT authorizer (handlers/authorizer)",
        ));
    }
    Ok(declared.into_iter().map(|d| d.function).collect())
}

/// Parses and checks every manifest: the service's functions, sorted by name.
pub fn functions(manifests: &[Manifest<'_>]) -> Result<Vec<Function>, ConfigError> {
    let mut declared = Vec::new();
    for m in manifests {
        declared.extend(parse(*m)?);
    }
    check(declared)
}

#[cfg(test)]
mod tests;
