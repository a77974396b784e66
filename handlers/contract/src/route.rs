//! Route paths and function names: what is valid, how paths nest, and when two routes clash.
//!
//! A path is `/` followed by segments separated by `/`: a literal (`orders`, `order-items`: lowercase
//! letters, digits and `-`) or a path parameter (`{id}`, `{order_id}`, `{orderId}`: what API Gateway
//! allows in a path part, letters, digits, `_`, `-` and `.`). API Gateway builds a resource per path prefix, so two routes clash when they have the same
//! method and the same shape (`/orders/{id}` and `/orders/{orderId}`), and two paths conflict when
//! they name the same position under one parent differently as parameters (API Gateway allows one
//! variable path part among siblings).

use std::fmt;

/// An HTTP method a route may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub const ALL: [Method; 5] = [Method::Get, Method::Post, Method::Put, Method::Patch, Method::Delete];

    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// `GET`, `get` or `Get`.
    pub fn parse(text: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.as_str().eq_ignore_ascii_case(text))
    }

    /// `Get`, for logical ids.
    pub fn pascal(self) -> String {
        pascal(&self.as_str().to_ascii_lowercase())
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One segment of a route path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment<'a> {
    Literal(&'a str),
    Parameter(&'a str),
}

impl Segment<'_> {
    /// How API Gateway's `PathPart` spells it: `orders` or `{id}`.
    pub fn path_part(&self) -> String {
        match self {
            Segment::Literal(l) => (*l).to_owned(),
            Segment::Parameter(p) => format!("{{{p}}}"),
        }
    }
}

/// The longest route path accepted; API Gateway's own limit on a resource path is far larger, but a
/// path this long is a mistake.
pub const MAX_PATH_LEN: usize = 200;
/// The longest function name, AWS's limit on a function or role name; `<project>-<stage>-<name>` must
/// fit it too, which synth and `cargo xtask new function` check against the stages.
pub const MAX_NAME_LEN: usize = 64;

/// Why a path or name was refused; each message says what is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathError(pub String);

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PathError {}

fn error(message: impl Into<String>) -> PathError {
    PathError(message.into())
}

/// The segments of `path`, or why it is not a route path.
pub fn parse_path(path: &str) -> Result<Vec<Segment<'_>>, PathError> {
    let Some(rest) = path.strip_prefix('/') else {
        return Err(error(format!("the path `{path}` must start with `/`, e.g. /orders/{{id}}")));
    };
    if path.len() > MAX_PATH_LEN {
        return Err(error(format!("the path is {} characters; at most {MAX_PATH_LEN}", path.len())));
    }
    if rest.is_empty() {
        return Err(error("the path `/` is the API's root; give the route a segment, e.g. /status"));
    }
    let mut segments = Vec::new();
    let mut parameters: Vec<&str> = Vec::new();
    for segment in rest.split('/') {
        if let Some(inner) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if !is_parameter_name(inner) {
                return Err(error(format!(
                    "the path parameter `{segment}` in `{path}` is not a name: API Gateway allows letters, digits, `_`, \
                     `-` and `.`, e.g. {{id}}, {{order_id}} or {{orderId}} (greedy {{name+}} parameters are not supported)"
                )));
            }
            if parameters.contains(&inner) {
                return Err(error(format!("the path parameter {{{inner}}} appears twice in `{path}`")));
            }
            parameters.push(inner);
            segments.push(Segment::Parameter(inner));
        } else {
            let valid = !segment.is_empty()
                && !segment.starts_with('-')
                && !segment.ends_with('-')
                && segment.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid {
                return Err(error(format!(
                    "the segment `{segment}` in `{path}` is not allowed: use lowercase letters, digits and `-` \
                     (not at either end), or a parameter such as {{id}}; no empty segments or trailing `/`"
                )));
            }
            segments.push(Segment::Literal(segment));
        }
    }
    Ok(segments)
}

/// Whether `name` can name a path parameter: API Gateway's rule for a resource's path part ("only
/// a-zA-Z0-9._- and curly braces at the beginning and the end"), with at most [`MAX_PARAMETER_LEN`]
/// characters.
pub fn is_parameter_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_PARAMETER_LEN
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// The longest path parameter name accepted.
pub const MAX_PARAMETER_LEN: usize = 64;

/// Whether `name` can name a function: its crate, its Lambda function and role suffix, its
/// `stages.toml` section and its logical ids.
pub fn check_name(name: &str) -> Result<(), PathError> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !valid {
        return Err(error(format!(
            "`{name}` cannot name a function: use a lowercase letter, then lowercase letters and digits, e.g. orders"
        )));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(error(format!("the function name `{name}` is {} characters; at most {MAX_NAME_LEN}", name.len())));
    }
    Ok(())
}

/// `order-items` -> `OrderItems`, `orders` -> `Orders`.
pub fn pascal(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map(|c| c.to_ascii_uppercase()).into_iter().chain(chars).collect::<String>()
        })
        .collect()
}

/// The logical-id fragment of a path: `/orders/{id}/items` -> `OrdersByIdItems`.
pub fn path_id(segments: &[Segment<'_>]) -> String {
    segments
        .iter()
        .map(|s| match s {
            Segment::Literal(l) => pascal(l),
            Segment::Parameter(p) => format!("By{}", pascal(p)),
        })
        .collect()
}

/// `/users/{id}` for those segments.
pub fn path_text(segments: &[Segment<'_>]) -> String {
    segments.iter().map(|s| format!("/{}", s.path_part())).collect()
}

/// The logical id of the API Gateway resource for a path. The first API had one resource per route,
/// named after the route's method; those three keep their ids, because a renamed resource is created
/// before the old one is deleted, and API Gateway refuses a second resource with the same path part
/// under one parent.
pub fn resource_id(segments: &[Segment<'_>]) -> String {
    match segments {
        [Segment::Literal("signup")] => "PostSignupResource".to_owned(),
        [Segment::Literal("signin")] => "PostSigninResource".to_owned(),
        [Segment::Literal("hello")] => "GetHelloResource".to_owned(),
        _ => format!("{}Resource", path_id(segments)),
    }
}

/// Why these routes cannot make one API, if they cannot: two that clash (the same method and shape,
/// or differently named parameters at one position under one parent), or two distinct path
/// prefixes (every route builds a resource per prefix) that would share a logical id, such as
/// `/user-orders` and `/user/orders`, or `/post-signup` and the first API's `/signup`.
pub fn conflicts(routes: &[(Method, &str)]) -> Option<String> {
    for (i, a) in routes.iter().enumerate() {
        for b in &routes[..i] {
            if let Some(why) = clash(a, b) {
                return Some(why);
            }
        }
    }
    let mut ids: std::collections::BTreeMap<String, String> = std::collections::BTreeMap::new();
    for (method, path) in routes {
        let Ok(segments) = parse_path(path) else { continue };
        for depth in 1..=segments.len() {
            let prefix = path_text(&segments[..depth]);
            let id = resource_id(&segments[..depth]);
            match ids.get(&id) {
                Some(other) if *other != prefix => {
                    return Some(format!(
                        "{prefix} (of {method} {path}) and {other} would share the logical id {id}; rename a segment"
                    ));
                }
                _ => {
                    ids.insert(id, prefix);
                }
            }
        }
    }
    None
}

/// The shape two routes clash on: literals as they are, every parameter alike.
fn shape(segments: &[Segment<'_>]) -> Vec<Option<String>> {
    segments
        .iter()
        .map(|s| match s {
            Segment::Literal(l) => Some((*l).to_owned()),
            Segment::Parameter(_) => None,
        })
        .collect()
}

/// Why `a` and `b` cannot both be routes of one API, if they cannot.
fn clash(a: &(Method, &str), b: &(Method, &str)) -> Option<String> {
    let (Ok(sa), Ok(sb)) = (parse_path(a.1), parse_path(b.1)) else { return None };
    if a.0 == b.0 && shape(&sa) == shape(&sb) {
        return Some(format!("{} {} and {} {} match the same requests", a.0, a.1, b.0, b.1));
    }
    // Under a common parent, API Gateway allows one parameter name per position.
    for (x, y) in sa.iter().zip(&sb) {
        match (x, y) {
            (Segment::Parameter(p), Segment::Parameter(q)) if p != q => {
                return Some(format!(
                    "{} and {} name the same path position differently ({{{p}}} and {{{q}}}); API Gateway allows one \
                     parameter name per position: use the same name",
                    a.1, b.1
                ));
            }
            _ if x != y => break,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_into_literals_and_parameters() {
        assert_eq!(
            parse_path("/users/{id}/order-items"),
            Ok(vec![Segment::Literal("users"), Segment::Parameter("id"), Segment::Literal("order-items")])
        );
        for bad in [
            "orders",
            "/",
            "/orders/",
            "//orders",
            "/Orders",
            "/orders/{}",
            "/orders/{id+}",
            "/orders/{order id}",
            "/orders/{a/b}",
            "/{id}/{id}",
            "/a b",
            "/-x",
            "/orders/{id",
        ] {
            assert!(parse_path(bad).is_err(), "{bad}");
        }
        assert!(parse_path(&format!("/{}", "a".repeat(MAX_PATH_LEN))).is_err());
        // What API Gateway allows in a parameter: snake_case, camelCase, digits, `-` and `.`.
        for good in ["/orders/{order_id}", "/orders/{orderId}", "/v1/{1d}", "/x/{a-b.c}", "/x/{_}"] {
            assert!(parse_path(good).is_ok(), "{good}");
        }
        assert_eq!(path_id(&parse_path("/orders/{order_id}").unwrap_or_default()), "OrdersByOrderId");
    }

    #[test]
    fn names_are_lowercase_words() {
        assert!(check_name("orders").is_ok());
        assert!(check_name("orders2").is_ok());
        for bad in ["", "Orders", "2orders", "order-items", "order_items", &"a".repeat(MAX_NAME_LEN + 1)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_and_pascal_case() {
        assert_eq!(pascal("order-items"), "OrderItems");
        assert_eq!(Method::Delete.pascal(), "Delete");
        assert_eq!(path_id(&parse_path("/users/{id}/orders").unwrap_or_default()), "UsersByIdOrders");
        assert_eq!(Method::parse("patch"), Some(Method::Patch));
        assert_eq!(Method::parse("TRACE"), None);
    }

    #[test]
    fn clashes() {
        let get = |p| (Method::Get, p);
        assert!(clash(&get("/orders/{id}"), &get("/orders/{orderId}")).is_some(), "same shape");
        assert!(clash(&get("/orders/{id}"), &(Method::Delete, "/orders/{id}")).is_none(), "another method");
        assert!(clash(&get("/orders/{id}"), &get("/orders/{oid}/items")).is_some(), "sibling parameters");
        assert!(clash(&get("/orders/{id}"), &get("/orders/{id}/items")).is_none(), "nested under it");
        assert!(clash(&get("/orders/summary"), &get("/orders/{id}")).is_none(), "a literal beside a parameter");
        assert!(conflicts(&[get("/by-id"), get("/{id}")]).is_some(), "one logical id");
        assert!(clash(&get("/orders"), &get("/users")).is_none());
    }

    #[test]
    fn distinct_prefixes_may_not_share_a_logical_id() {
        let get = |p| (Method::Get, p);
        assert!(conflicts(&[get("/user/orders"), get("/user-orders/{id}")]).is_some_and(|m| m.contains("UserOrders")));
        assert!(conflicts(&[(Method::Post, "/signup"), get("/post-signup")]).is_some_and(|m| m.contains("PostSignup")));
        assert_eq!(conflicts(&[get("/users/{id}"), get("/users/{id}/orders"), (Method::Post, "/users")]), None);
        assert!(conflicts(&[get("/orders/{id}"), get("/orders/{key}")]).is_some(), "clashes count too");
    }
}
