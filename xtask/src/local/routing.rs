//! How API Gateway (REST) picks the method a request reaches, as pure functions over the template's
//! routes: the optional `/<stage>` prefix, then the resource whose path template matches the path, then
//! the method on that resource.
//!
//! A template segment is a literal (`orders`) or a path parameter (`{id}`) that matches exactly one
//! non-empty segment. When several resources match, API Gateway takes the most specific: at the first
//! position where they differ, a literal beats a parameter, so `/orders/summary` is served by its own
//! resource and `/orders/42` by `/orders/{id}`. The resource is chosen before the method: a method the
//! chosen resource lacks is API Gateway's 403 "Missing Authentication Token", even when a less
//! specific resource has it.
//!
//! Parameter values are the segments as the client sent them, percent-encoding kept: deployed REST
//! APIs pass `pathParameters` (and `path`) undecoded, unlike HTTP APIs, whose documentation says they
//! decode request parameters (see the reports in aws-sam-cli issues 771 and 3524, where `/a%2Fb` reached
//! the function as `a%2Fb`). Literal segments are compared byte for byte, case-sensitively.

use std::collections::BTreeMap;

use super::template::Route;

/// One segment of a resource path template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment<'a> {
    Literal(&'a str),
    /// `{name}`, by its name.
    Parameter(&'a str),
}

/// The segments of a resource path template such as `/orders/{id}`.
fn segments(template: &str) -> impl Iterator<Item = Segment<'_>> {
    template.strip_prefix('/').unwrap_or(template).split('/').map(|part| {
        match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) => Segment::Parameter(name),
            None => Segment::Literal(part),
        }
    })
}

/// The parameters of `path` by name when the resource path `template` matches it, else `None`.
pub fn path_parameters(template: &str, path: &str) -> Option<BTreeMap<String, String>> {
    let mut actual = path.strip_prefix('/')?.split('/');
    let mut values = BTreeMap::new();
    for segment in segments(template) {
        let value = actual.next()?;
        match segment {
            Segment::Literal(literal) if literal == value => {}
            Segment::Parameter(name) if !value.is_empty() => {
                values.insert(name.to_owned(), value.to_owned());
            }
            _ => return None,
        }
    }
    actual.next().is_none().then_some(values)
}

/// Which positions of a template are parameters; of two matching templates, the smaller key is the more
/// specific (a literal where the other has a parameter, at the first position they differ).
fn specificity(template: &str) -> Vec<bool> {
    segments(template).map(|s| matches!(s, Segment::Parameter(_))).collect()
}

/// The resource path template that serves `path`: the most specific of those that match.
fn resource<'a>(routes: &'a [Route], path: &str) -> Option<&'a str> {
    routes
        .iter()
        .map(|r| r.path.as_str())
        .filter(|template| path_parameters(template, path).is_some())
        .min_by_key(|template| specificity(template))
}

/// The route for `method` at `path` (stage prefix already removed), or `None` where API Gateway
/// answers 403 "Missing Authentication Token": no resource matches, or the one that does has no such
/// method.
pub fn find<'a>(routes: &'a [Route], method: &str, path: &str) -> Option<&'a Route> {
    let template = resource(routes, path)?;
    routes.iter().find(|r| r.path == template && r.method == method)
}

/// The path the routes see. The deployed URL starts with `/<stage>`; locally the prefix is optional
/// and dropped, unless a resource spells the stage name out as its own first segment and matches the
/// whole path (then the path is the client's as is).
pub fn request_path(routes: &[Route], stage: &str, path: &str) -> String {
    let keeps_stage = || {
        resource(routes, path).is_some_and(|template| matches!(segments(template).next(), Some(Segment::Literal(_))))
    };
    match path.strip_prefix('/').and_then(|p| p.strip_prefix(stage)) {
        Some("") => "/".to_owned(),
        Some(rest) if rest.starts_with('/') && !keeps_stage() => rest.to_owned(),
        _ => path.to_owned(),
    }
}

#[cfg(test)]
mod tests;
