//! API Gateway's REST matching, case by case, over a small set of nested routes with parameters.

use super::*;

fn route(method: &str, path: &str) -> Route {
    Route {
        method: method.into(),
        path: path.into(),
        resource: format!("{path} resource"),
        function: crate::declared::function("hello"),
        authorizer: None,
    }
}

fn routes() -> Vec<Route> {
    vec![
        route("GET", "/hello"),
        route("GET", "/orders"),
        route("POST", "/orders"),
        route("GET", "/orders/{id}"),
        route("DELETE", "/orders/{id}"),
        route("GET", "/orders/summary"),
        route("GET", "/orders/{id}/items/{item}"),
        route("GET", "/users/{id}/orders"),
        route("GET", "/users/me/settings"),
    ]
}

/// `(method, resource path)` of the route that serves the request, if any.
fn served(method: &str, path: &str) -> Option<(String, String)> {
    find(&routes(), method, path).map(|r| (r.method.clone(), r.path.clone()))
}

fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|&(k, v)| (k.to_owned(), v.to_owned())).collect()
}

#[test]
fn a_parameter_matches_one_segment_and_is_bound_by_name() {
    assert_eq!(served("GET", "/orders/42"), Some(("GET".into(), "/orders/{id}".into())));
    assert_eq!(path_parameters("/orders/{id}", "/orders/42"), Some(params(&[("id", "42")])));
    assert_eq!(
        path_parameters("/orders/{id}/items/{item}", "/orders/42/items/7"),
        Some(params(&[("id", "42"), ("item", "7")]))
    );
    assert_eq!(served("GET", "/users/alice/orders"), Some(("GET".into(), "/users/{id}/orders".into())));
    assert_eq!(path_parameters("/hello", "/hello"), Some(BTreeMap::new()));
}

#[test]
fn a_parameter_never_matches_an_empty_segment_or_several() {
    for path in ["/orders/", "/orders//items/7", "/users//orders", "/orders/42/extra"] {
        assert_eq!(served("GET", path), None, "{path}");
    }
    assert_eq!(path_parameters("/orders/{id}", "/orders/4/2"), None);
    assert_eq!(path_parameters("/orders/{id}", "/orders"), None);
    assert_eq!(path_parameters("/orders/{id}", "orders/42"), None);
}

#[test]
fn a_literal_beats_a_parameter_at_the_same_position() {
    assert_eq!(served("GET", "/orders/summary"), Some(("GET".into(), "/orders/summary".into())));
    // The literal resource is chosen before the method: it has no DELETE, so API Gateway answers 403
    // rather than falling back to `/orders/{id}`.
    assert_eq!(served("DELETE", "/orders/summary"), None);
    assert_eq!(served("DELETE", "/orders/summery"), Some(("DELETE".into(), "/orders/{id}".into())));
    // The first position where two matching resources differ decides.
    assert_eq!(served("GET", "/users/me/settings"), Some(("GET".into(), "/users/me/settings".into())));
    assert_eq!(served("GET", "/users/me/orders"), Some(("GET".into(), "/users/{id}/orders".into())));
}

#[test]
fn an_unknown_path_or_method_is_unmatched() {
    assert_eq!(served("GET", "/nothing"), None);
    assert_eq!(served("PUT", "/orders"), None);
    assert_eq!(served("get", "/orders"), None, "methods are compared as sent");
    assert_eq!(served("GET", "/Orders/42"), None, "literals are case-sensitive");
    assert_eq!(served("GET", "/hello/"), None, "no trailing slash, as before");
    assert_eq!(served("GET", "/"), None);
}

#[test]
fn parameter_values_keep_their_percent_encoding() {
    assert_eq!(path_parameters("/orders/{id}", "/orders/a%2Fb%20c"), Some(params(&[("id", "a%2Fb%20c")])));
    assert_eq!(path_parameters("/orders/{id}", "/orders/caf%C3%A9+1"), Some(params(&[("id", "caf%C3%A9+1")])));
}

#[test]
fn the_stage_prefix_is_optional_and_dropped() {
    let routes = routes();
    let path = |p: &str| request_path(&routes, "dev", p);
    assert_eq!(path("/dev/orders/42"), "/orders/42");
    assert_eq!(path("/orders/42"), "/orders/42");
    assert_eq!(path("/dev/hello"), "/hello");
    assert_eq!(path("/dev"), "/");
    assert_eq!(path("/dev/"), "/");
    assert_eq!(path("/devices/1"), "/devices/1", "only a whole first segment is the stage");
    assert_eq!(path("/dev/nothing"), "/nothing");
}

#[test]
fn a_resource_that_spells_out_the_stage_keeps_it_but_a_parameter_does_not() {
    let mut spelled = routes();
    spelled.push(route("GET", "/dev/{id}"));
    assert_eq!(request_path(&spelled, "dev", "/dev/42"), "/dev/42");
    assert_eq!(request_path(&spelled, "dev", "/dev/hello"), "/dev/hello", "as before: the whole path matches");

    let mut tenants = routes();
    tenants.push(route("GET", "/{tenant}/hello"));
    // `/{tenant}/hello` matches `/dev/hello` only by taking the stage for a tenant: the deployed URL
    // means `/hello` of stage dev.
    assert_eq!(request_path(&tenants, "dev", "/dev/hello"), "/hello");
    assert_eq!(request_path(&tenants, "dev", "/dev/dev/hello"), "/dev/hello");
    assert_eq!(served("GET", "/hello"), Some(("GET".into(), "/hello".into())));
}
