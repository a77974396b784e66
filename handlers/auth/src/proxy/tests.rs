//! The proxy event path against hostile events: named cases first, then properties over arbitrary headers,
//! hosts, paths, query strings and bodies, each through the path its function takes in Lambda (raw JSON
//! event, [`serve`], lambda_http's `Request`, the handler), with the in-memory fakes.

use std::collections::BTreeMap;

use base64::Engine as _;
use lambda_http::aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest as AuthorizerEvent;
use lambda_http::aws_lambda_events::iam::IamPolicyEffect;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;
use crate::testing::{self, FIXTURE_EMAIL, FIXTURE_PASSWORD, World};
use crate::{authorizer, hello, signin, signup};

/// Events per property: enough to meet every hostile shape below many times, in seconds.
const CASES: u32 = 300;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|e| panic!("{e}"))
}

/// The event as the runtime hands it over: JSON text from the Runtime API, read as a `Value`.
fn as_delivered(event: &Value) -> Value {
    serde_json::from_slice(&serde_json::to_vec(event).unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e}"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Signup,
    Signin,
    Hello,
}

impl Route {
    fn fixture(self) -> Value {
        testing::fixture(match self {
            Route::Signup => "signup-request.json",
            Route::Signin => "signin-request.json",
            Route::Hello => "hello-request.json",
        })
    }
}

/// `event` through `route`'s handler, as its `main.rs` wires it.
async fn call(world: &World, route: Route, event: Value) -> ApiGatewayProxyResponse {
    let event = as_delivered(&event);
    let context = Context::default();
    match route {
        Route::Signup => serve(event, context, |req| async move { signup::handle(req, &world.signup()).await }).await,
        Route::Signin => serve(event, context, |req| async move { signin::handle(req, &world.signin()).await }).await,
        Route::Hello => serve(event, context, |req| async move { hello::handle(&req) }).await,
    }
}

fn body_json(response: &ApiGatewayProxyResponse) -> Value {
    match &response.body {
        Some(Body::Text(text)) => serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")),
        other => panic!("expected a text body, got {other:?}"),
    }
}

fn error_code(response: &ApiGatewayProxyResponse) -> Value {
    body_json(response)["error"]["code"].clone()
}

/// Sets header `name` to `value` in both header maps, as API Gateway sends a header given once.
fn set_header(event: &mut Value, name: &str, value: &str) {
    for field in ["headers", "multiValueHeaders"] {
        let Some(headers) = event[field].as_object_mut() else { panic!("the fixture has no {field}") };
        headers.retain(|n, _| !n.eq_ignore_ascii_case(name));
        let value = if field == "headers" { Value::from(value) } else { Value::from(vec![value]) };
        headers.insert(name.to_owned(), value);
    }
}

fn signup_with_header(name: &str, value: &str) -> Value {
    let mut event = Route::Signup.fixture();
    set_header(&mut event, name, value);
    event
}

#[tokio::test]
async fn the_curl_attack_signs_up_and_signs_in_as_usual() {
    // curl -H 'X-Forwarded-Proto: ::::' -X POST .../signup -d ...: lambda_http 1.3 panics parsing "::::://host".
    let world = World::new();
    let created = call(&world, Route::Signup, signup_with_header("X-Forwarded-Proto", "::::")).await;
    assert_eq!((created.status_code, body_json(&created)), (202, json!({"status": "check_your_email"})));
    testing::registered(&world, FIXTURE_EMAIL, testing::FIXTURE_PASSWORD).await;
    let mut signin = Route::Signin.fixture();
    set_header(&mut signin, "X-Forwarded-Proto", "::::");
    let signed_in = call(&world, Route::Signin, signin).await;
    assert_eq!(signed_in.status_code, 200, "{:?}", signed_in.body);
    assert!(body_json(&signed_in)["token"].is_string());
}

#[tokio::test]
async fn an_unusable_forwarded_proto_becomes_https_and_http_stays() {
    for (sent, seen) in
        [("::::", "https"), ("ftp", "https"), ("https, http", "https"), ("HTTP", "HTTP"), ("http", "http")]
    {
        let mut event = signup_with_header("X-Forwarded-Proto", sent);
        event["headers"]["Host"] = json!("example.com");
        let request = request(event).unwrap_or_else(|e| panic!("{sent}: {e}"));
        assert_eq!(request.headers()["x-forwarded-proto"], seen, "{sent}");
        assert_eq!(request.uri().scheme_str(), Some(seen.to_ascii_lowercase().as_str()), "{sent}");
        assert_eq!(request.uri().host(), Some("example.com"));
    }
}

#[tokio::test]
async fn each_event_lambda_http_would_panic_on_is_a_json_400() {
    let mut no_host = Route::Signup.fixture();
    for field in ["headers", "multiValueHeaders"] {
        if let Some(headers) = no_host[field].as_object_mut() {
            headers.retain(|n, _| !n.eq_ignore_ascii_case("host"));
        }
    }
    no_host["requestContext"]["domainName"] = Value::Null;
    no_host["requestContext"]["stage"] = Value::Null;
    let long = "a".repeat(70_000);
    let mut cases: Vec<(&str, Value)> = vec![
        ("a port past 65535", signup_with_header("Host", "example.com:99999")),
        ("a space in the host", signup_with_header("Host", "exa mple.com")),
        ("an unclosed IPv6 literal", signup_with_header("Host", "[::1")),
        ("an IPv4 address out of range", signup_with_header("Host", "1.2.3.999")),
        ("a path longer than http::Uri holds", {
            let mut e = Route::Signup.fixture();
            e["path"] = json!(format!("/{long}"));
            e
        }),
        ("a query longer than http::Uri holds", {
            let mut e = Route::Signup.fixture();
            e["queryStringParameters"] = json!({"q": long});
            e
        }),
        ("no host and a path that makes a bad port", {
            let mut e = no_host.clone();
            e["path"] = json!(":99999");
            e
        }),
        ("a body that is not base64", {
            let mut e = Route::Signup.fixture();
            e["isBase64Encoded"] = json!(true);
            e["body"] = json!("{\"email\": not base64}");
            e
        }),
        ("a header name HTTP does not allow", signup_with_header("bad header", "x")),
        ("a header value with a line feed", signup_with_header("x-note", "a\nb")),
        ("a method that is none", {
            let mut e = Route::Signup.fixture();
            e["httpMethod"] = json!("NOT A METHOD");
            e
        }),
        ("more headers than HeaderMap holds", {
            let mut e = Route::Signup.fixture();
            let many: Map<String, Value> = (0..30_000).map(|i| (format!("x-{i}"), json!("v"))).collect();
            e["headers"] = Value::Object(many);
            e
        }),
    ];
    cases.push(("no host and a path that makes a userinfo", {
        let mut e = no_host;
        e["path"] = json!("@@");
        e
    }));
    let world = World::new();
    for (what, event) in cases {
        let response = call(&world, Route::Signup, event).await;
        assert_eq!(response.status_code, 400, "{what}: {:?}", response.body);
        assert_eq!(error_code(&response), "invalid_request", "{what}");
        assert_eq!(response.multi_value_headers["content-type"], "application/json", "{what}");
    }
    assert!(world.store.is_empty(), "a refused request reached the handler");
}

#[tokio::test]
async fn a_valid_base64_body_reaches_the_handler() {
    let world = World::new();
    let response = call(&world, Route::Signup, testing::fixture("signup-request-base64.json")).await;
    assert_eq!(response.status_code, 202, "{:?}", response.body);
}

#[tokio::test]
async fn the_response_is_what_lambda_http_sent_api_gateway() {
    let world = World::new();
    let response = call(&world, Route::Signup, Route::Signup.fixture()).await;
    let sent = serde_json::to_value(&response).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sent["statusCode"], 202);
    assert_eq!(sent["headers"], json!({}));
    assert_eq!(sent["multiValueHeaders"]["content-type"], json!(["application/json"]));
    assert_eq!(sent["isBase64Encoded"], false);
    assert_eq!(sent["body"], json!({"status": "check_your_email"}).to_string());
}

#[tokio::test]
async fn the_handler_sees_the_request_lambda_http_built() {
    let event = Route::Hello.fixture();
    let ours = request(event.clone()).unwrap_or_else(|e| panic!("{e}"));
    let theirs = testing::request_from(&event);
    assert_eq!(ours.uri(), theirs.uri());
    assert_eq!(ours.method(), theirs.method());
    assert_eq!(ours.headers(), theirs.headers());
    assert_eq!(ours.request_context_ref().is_some(), theirs.request_context_ref().is_some());
    let world = World::new();
    let response = call(&world, Route::Hello, event).await;
    assert_eq!((response.status_code, body_json(&response)), (200, json!({"message": "Hello, alice@example.com!"})));
}

#[test]
fn the_trace_id_of_the_invocation_replaces_the_clients() {
    let runtime = runtime();
    let mut context = Context::default();
    context.xray_trace_id = Some("Root=1-00000000-000000000000000000000001".into());
    let seen = runtime.block_on(serve(Route::Hello.fixture(), context, |req| async move {
        let trace = req.headers().get("x-amzn-trace-id").and_then(|v| v.to_str().ok()).map(String::from);
        assert_eq!(trace.as_deref(), Some("Root=1-00000000-000000000000000000000001"));
        hello::handle(&req)
    }));
    assert_eq!(seen.status_code, 200);
}

// The properties.

/// A header name HTTP carries: a token.
const HTTP_NAME: &str = "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,24}";
/// A header value HTTP carries: visible ASCII, spaces, tabs and (as obs-text, read as UTF-8) anything else.
const HTTP_VALUE: &str = "[\\t -~\\u{80}-\\u{10FFFF}]{0,40}";

fn http_headers() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((HTTP_NAME, HTTP_VALUE), 0..6)
}

/// Header names: the ones that matter to the conversion, HTTP tokens, and any string at all.
fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "Host", "host", "X-Forwarded-Proto", "x-forwarded-proto", "Content-Type", "Authorization",
            "Content-Length", "X-Amzn-Trace-Id",
        ])
        .prop_map(String::from),
        3 => HTTP_NAME,
        1 => any::<String>(),
    ]
}

/// Values that make or break a URL's scheme or authority.
fn authority_like() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "::::",
            "",
            "https",
            "http",
            "HTTPS",
            "ftp",
            "example.com",
            "example.com:99999",
            "example.com:443",
            "[::1]",
            "[::1",
            "1.2.3.999",
            "0x7f.1",
            "a b",
            "user:pass@host",
            "a@b@c",
            "%",
            "%zz",
            "host/path?q#f",
            "xn--",
            "\u{00e9}xample.com",
            "https://evil",
            "h:",
            ":80",
        ])
        .prop_map(String::from),
        "[a-z0-9.:@%\\[\\]/?#-]{0,24}",
        "[a-z]{1,70}",
    ]
}

/// Header values: the authority-like ones, what HTTP carries (visible ASCII, spaces, tabs and non-ASCII
/// text), and any string at all.
fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => authority_like(),
        3 => HTTP_VALUE,
        1 => any::<String>(),
    ]
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "/signup",
            "/signin",
            "/hello",
            "/dev/signup",
            "",
            "/",
            ":99999",
            "@@",
            "//x",
            "/../.."
        ])
        .prop_map(String::from),
        "/[ -~\\u{80}-\\u{10FFFF}]{0,40}",
        "[ -~]{0,20}",
        any::<String>(),
    ]
}

fn query() -> impl Strategy<Value = BTreeMap<String, Vec<String>>> {
    prop::collection::btree_map(any::<String>(), prop::collection::vec(any::<String>(), 1..3), 0..3)
}

fn body() -> impl Strategy<Value = Option<String>> {
    let credentials =
        ("\\PC{0,40}", "\\PC{0,40}").prop_map(|(email, password)| testing::credentials_body(&email, &password));
    prop::option::of(prop_oneof![
        Just(testing::credentials_body(FIXTURE_EMAIL, FIXTURE_PASSWORD)),
        credentials,
        "[A-Za-z0-9+/=]{0,40}",
        any::<String>(),
    ])
}

/// What a client (or, for robustness, anything upstream) controls in a REST proxy event.
#[derive(Debug, Clone)]
struct Hostile {
    headers: Vec<(String, String)>,
    /// Headers sent only in `multiValueHeaders`, as repeated headers are.
    repeated: Vec<(String, Vec<String>)>,
    path: String,
    query: BTreeMap<String, Vec<String>>,
    body: Option<String>,
    base64: bool,
    domain_name: Option<String>,
    stage: Option<&'static str>,
}

fn hostile() -> impl Strategy<Value = Hostile> {
    (
        prop::collection::vec((header_name(), header_value()), 0..6),
        prop::collection::vec((header_name(), prop::collection::vec(header_value(), 0..3)), 0..3),
        path(),
        query(),
        body(),
        any::<bool>(),
        prop::option::of(authority_like()),
        prop::sample::select(vec![Some("dev"), None, Some("$default")]),
    )
        .prop_map(|(headers, repeated, path, query, body, base64, domain_name, stage)| Hostile {
            headers,
            repeated,
            path,
            query,
            body,
            base64,
            domain_name,
            stage,
        })
}

impl Hostile {
    /// `route`'s fixture with every client-controlled field replaced.
    fn event(&self, route: Route) -> Value {
        let mut event = route.fixture();
        for (name, value) in &self.headers {
            set_header(&mut event, name, value);
        }
        for (name, values) in &self.repeated {
            event["multiValueHeaders"][name.as_str()] = json!(values);
        }
        event["path"] = json!(self.path);
        event["queryStringParameters"] = last_values(&self.query);
        event["multiValueQueryStringParameters"] = json!(self.query);
        event["body"] = json!(self.body);
        event["isBase64Encoded"] = json!(self.base64);
        event["requestContext"]["domainName"] = json!(self.domain_name);
        event["requestContext"]["stage"] = json!(self.stage);
        event
    }
}

/// `queryStringParameters`: the last value of each.
fn last_values(query: &BTreeMap<String, Vec<String>>) -> Value {
    Value::Object(query.iter().map(|(k, v)| (k.clone(), json!(v.last()))).collect())
}

/// A 4xx or a normal answer: the fakes never fail, so nothing here may be a 5xx.
fn assert_answered(route: Route, response: &ApiGatewayProxyResponse) {
    assert!(
        (200..500).contains(&response.status_code),
        "{route:?} answered {} {:?}",
        response.status_code,
        response.body
    );
    if response.status_code >= 400 {
        assert!(error_code(response).is_string(), "{route:?}: {:?}", response.body);
    }
}

/// Host names as HTTP clients send them. A label that starts with `xn--` is an IDNA A-label: it must be
/// valid Punycode, which the URL parser checks as browsers do, so a random one (`a.xn--`) is not a host
/// any client sends, nor one API Gateway routes to a function.
fn http_host() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,20}(\\.[a-z][a-z0-9-]{0,20}){0,3}(:[0-9]{1,4})?"
        .prop_filter("not an IDNA A-label", |h| !h.split(['.', ':']).any(|label| label.starts_with("xn--")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn no_event_crashes_signup_signin_or_hello(hostile in hostile()) {
        let runtime = runtime();
        let world = World::new();
        for route in [Route::Signup, Route::Signin, Route::Hello] {
            let response = runtime.block_on(call(&world, route, hostile.event(route)));
            assert_answered(route, &response);
        }
    }

    #[test]
    fn what_http_carries_is_never_refused_as_unreadable(
        headers in http_headers(),
        host in http_host(),
        proto in prop::option::of("[ -~]{0,12}"),
        path in "/[ -~\\u{80}-\\u{10FFFF}]{0,40}",
        query in query(),
        body in body(),
    ) {
        let hostile = Hostile {
            headers: headers
                .into_iter()
                .chain(std::iter::once(("Host".to_owned(), host)))
                .chain(proto.map(|p| ("X-Forwarded-Proto".to_owned(), p)))
                .collect(),
            repeated: Vec::new(),
            path,
            query,
            body,
            base64: false,
            domain_name: Some("a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com".into()),
            stage: Some("dev"),
        };
        let runtime = runtime();
        let world = World::new();
        for route in [Route::Signup, Route::Signin, Route::Hello] {
            let response = runtime.block_on(call(&world, route, hostile.event(route)));
            assert_answered(route, &response);
            if response.status_code == 400 {
                prop_assert_ne!(error_code(&response), json!("invalid_request"), "{:?}", hostile);
            }
        }
    }

    #[test]
    fn a_base64_body_is_decoded_or_refused(body in any::<Vec<u8>>(), mangle in any::<bool>()) {
        let mut text = base64::engine::general_purpose::STANDARD.encode(&body);
        if mangle {
            text.push('*');
        }
        let mut event = Route::Signup.fixture();
        event["isBase64Encoded"] = json!(true);
        event["body"] = json!(text);
        match request(event) {
            Ok(request) => {
                prop_assert!(!mangle);
                prop_assert_eq!(request.body().as_ref(), body.as_slice());
            }
            Err(rejection) => {
                prop_assert!(mangle);
                prop_assert_eq!(rejection, Rejection::Base64);
            }
        }
    }

    /// The authorizer's event path is the runtime's typed deserialization: whatever HTTP carries must
    /// deserialize (a failure is a function error, which API Gateway answers 500), and nothing may panic.
    #[test]
    fn no_event_crashes_the_authorizer(
        hostile in hostile(),
        http_headers in http_headers(),
    ) {
        let runtime = runtime();
        let world = World::new();
        let deps = world.authorizer();
        let mut event = testing::fixture("authorizer-request.json");
        for (name, value) in &http_headers {
            set_header(&mut event, name, value);
        }
        event["path"] = json!(hostile.path);
        event["queryStringParameters"] = last_values(&hostile.query);
        event["multiValueQueryStringParameters"] = json!(hostile.query);
        let parsed = serde_json::from_value::<AuthorizerEvent>(as_delivered(&event))
            .unwrap_or_else(|e| panic!("what HTTP carries failed the authorizer's event: {e}"));
        let Ok(response) = runtime.block_on(authorizer::handle(parsed, &deps)) else {
            panic!("the fake signing secret is always available")
        };
        prop_assert_eq!(response.policy_document.statement.len(), 1);

        // Anything at all, HTTP or not: refused by the runtime or decided, never a panic.
        let hostile_event = {
            let mut e = testing::fixture("authorizer-request.json");
            for (name, value) in &hostile.headers {
                set_header(&mut e, name, value);
            }
            e
        };
        if let Ok(parsed) = serde_json::from_value::<AuthorizerEvent>(as_delivered(&hostile_event)) {
            let Ok(response) = runtime.block_on(authorizer::handle(parsed, &deps)) else {
                panic!("the fake signing secret is always available")
            };
            let effect = &response.policy_document.statement[0].effect;
            prop_assert!(matches!(effect, IamPolicyEffect::Allow | IamPolicyEffect::Deny));
        }
    }
}
