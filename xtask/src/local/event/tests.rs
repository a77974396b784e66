//! The events are what the Lambda runtime's own types and the handlers read; answers are API Gateway's.

use std::time::Duration;

use lambda_http::RequestExt as _;
use lambda_http::aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;

use super::*;
use crate::local::template::{Authorizer, IdentitySource};

fn hello_route() -> Route {
    Route {
        method: "GET".into(),
        path: "/hello".into(),
        resource: "GetHelloResource".into(),
        function: crate::declared::function("hello"),
        authorizer: Some(Authorizer {
            id: "JwtAuthorizer".into(),
            function: crate::declared::function("authorizer"),
            identity_sources: vec![IdentitySource::Header("Authorization".into())],
            ttl: Duration::from_secs(300),
        }),
    }
}

fn deployment() -> Deployment {
    Deployment {
        region: "us-east-1".into(),
        account: "123456789012".into(),
        api_id: "local".into(),
        stage: "dev".into(),
    }
}

fn request(body: &[u8]) -> Request {
    Request {
        method: "GET".into(),
        path: "/hello".into(),
        query: vec![("a".into(), "1".into()), ("a".into(), "2 3".into())],
        headers: vec![
            ("host".into(), "127.0.0.1:3000".into()),
            ("authorization".into(), "Bearer t0k3n".into()),
            ("user-agent".into(), "curl/8".into()),
        ],
        body: body.to_vec(),
        source_ip: "127.0.0.1".into(),
        host: "127.0.0.1:3000".into(),
        request_id: "9b1f3e5d-7c2a-4f6b-8d0e-2a4c6e8f0b1d".into(),
        epoch_ms: 1_732_529_742_000,
    }
}

#[test]
fn a_proxy_event_is_a_rest_request_to_lambda_http_with_the_authorizer_context() {
    let mut context = Map::new();
    context.insert("email".into(), json!("alice@example.com"));
    context.insert("principalId".into(), json!("alice@example.com"));
    let event = proxy_event(&request(b"{\"x\":1}"), &hello_route(), &deployment(), Some(&context));
    let req = lambda_http::request::from_str(&event.to_string())
        .unwrap_or_else(|e| panic!("lambda_http refuses the event: {e}"));
    assert_eq!(req.method().as_str(), "GET");
    assert_eq!(req.uri().path(), "/dev/hello");
    assert_eq!(req.headers().get("authorization").and_then(|v| v.to_str().ok()), Some("Bearer t0k3n"));
    let params = req.query_string_parameters();
    assert_eq!(params.all("a"), Some(vec!["1", "2 3"]));
    let ctx = req.request_context();
    let lambda_http::request::RequestContext::ApiGatewayV1(ctx) = ctx else {
        panic!("not a REST (v1) request context: {ctx:?}")
    };
    assert_eq!(ctx.stage.as_deref(), Some("dev"));
    assert_eq!(ctx.resource_path.as_deref(), Some("/hello"));
    assert_eq!(ctx.request_id.as_deref(), Some("9b1f3e5d-7c2a-4f6b-8d0e-2a4c6e8f0b1d"));
    assert_eq!(ctx.identity.source_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(ctx.authorizer.fields.get("email").and_then(Value::as_str), Some("alice@example.com"));
    assert_eq!(event["body"], json!("{\"x\":1}"));
    assert_eq!(event["requestContext"]["requestTime"], json!("25/Nov/2024:10:15:42 +0000"));
}

#[test]
fn an_empty_body_and_no_query_are_nulls_as_api_gateway_sends_them() {
    let mut req = request(b"");
    req.query.clear();
    let event = proxy_event(&req, &hello_route(), &deployment(), None);
    assert_eq!(event["body"], Value::Null);
    assert_eq!(event["queryStringParameters"], Value::Null);
    assert_eq!(event["pathParameters"], Value::Null, "a resource without parameters");
    assert!(event["requestContext"].get("authorizer").is_none());
}

#[test]
fn an_authorizer_event_is_the_request_type_event_with_the_method_arn() {
    let event = authorizer_event(&request(b""), &hello_route(), &deployment());
    let parsed: ApiGatewayCustomAuthorizerRequestTypeRequest =
        serde_json::from_value(event).unwrap_or_else(|e| panic!("not an authorizer event: {e}"));
    assert_eq!(parsed.method_arn.as_deref(), Some("arn:aws:execute-api:us-east-1:123456789012:local/dev/GET/hello"));
    assert_eq!(parsed.headers.get("authorization").and_then(|v| v.to_str().ok()), Some("Bearer t0k3n"));
    // The authorizer widens the method ARN to the stage; it must understand ours.
    assert_eq!(
        auth::authorizer::stage_resource(parsed.method_arn.as_deref().unwrap_or_default()).as_deref(),
        Some("arn:aws:execute-api:us-east-1:123456789012:local/dev/*/*")
    );
}

/// `GET /orders/{id}` behind the authorizer, and a request for order 42 at it.
fn order_route_and_request() -> (Route, Request) {
    let route = Route { path: "/orders/{id}".into(), resource: "OrdersIdResource".into(), ..hello_route() };
    let req = Request { path: "/orders/42".into(), ..request(b"") };
    (route, req)
}

#[test]
fn a_proxy_event_names_the_resource_template_and_binds_the_path_parameters() {
    let (route, req) = order_route_and_request();
    let event = proxy_event(&req, &route, &deployment(), None);
    assert_eq!(event["resource"], json!("/orders/{id}"));
    assert_eq!(event["path"], json!("/orders/42"));
    assert_eq!(event["pathParameters"], json!({"id": "42"}));
    assert_eq!(event["requestContext"]["resourcePath"], json!("/orders/{id}"));
    assert_eq!(event["requestContext"]["resourceId"], json!("OrdersIdResource"));
    assert_eq!(event["requestContext"]["path"], json!("/dev/orders/42"));
    let parsed = lambda_http::request::from_str(&event.to_string())
        .unwrap_or_else(|e| panic!("lambda_http refuses the event: {e}"));
    assert_eq!(parsed.path_parameters().first("id"), Some("42"));
    let lambda_http::request::RequestContext::ApiGatewayV1(ctx) = parsed.request_context() else {
        panic!("not a REST (v1) request context")
    };
    assert_eq!(ctx.resource_path.as_deref(), Some("/orders/{id}"));

    // Values reach the function as the client sent them, percent-encoding kept.
    let encoded = Request { path: "/orders/a%2Fb%20c".into(), ..req };
    assert_eq!(proxy_event(&encoded, &route, &deployment(), None)["pathParameters"], json!({"id": "a%2Fb%20c"}));
}

#[test]
fn an_authorizer_event_carries_the_parameters_and_the_actual_path_in_its_method_arn() {
    let (route, req) = order_route_and_request();
    let event = authorizer_event(&req, &route, &deployment());
    let parsed: ApiGatewayCustomAuthorizerRequestTypeRequest =
        serde_json::from_value(event).unwrap_or_else(|e| panic!("not an authorizer event: {e}"));
    assert_eq!(
        parsed.method_arn.as_deref(),
        Some("arn:aws:execute-api:us-east-1:123456789012:local/dev/GET/orders/42")
    );
    assert_eq!(parsed.resource.as_deref(), Some("/orders/{id}"));
    assert_eq!(parsed.path.as_deref(), Some("/orders/42"));
    assert_eq!(parsed.path_parameters.get("id").map(String::as_str), Some("42"));
    assert_eq!(parsed.request_context.resource_path.as_deref(), Some("/orders/{id}"));
    // Without parameters the map is empty, not null, as before.
    assert_eq!(authorizer_event(&request(b""), &hello_route(), &deployment())["pathParameters"], json!({}));
    // The real authorizer's stage-wide Allow covers the actual path.
    let arn = deployment().method_arn(&req);
    let resource = auth::authorizer::stage_resource(&arn).unwrap_or_default();
    let allow = serde_json::to_value(auth::authorizer::allow(claims(), resource)).unwrap_or_default();
    assert!(matches!(decide(&allow, &arn), Ok(Decision::Allow(_))), "{allow}");
}

#[test]
fn proxy_responses_become_http() {
    let answer = proxy_response(
        br#"{"statusCode":201,"headers":{"content-type":"application/json","x-a":"1"},"multiValueHeaders":{"x-a":["2","3"]},"body":"{}","isBase64Encoded":false}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answer.status, 201);
    assert_eq!(answer.body, b"{}");
    let xa: Vec<&str> = answer.headers.iter().filter(|(n, _)| n == "x-a").map(|(_, v)| v.as_str()).collect();
    assert_eq!(xa, ["2", "3"]);
    let binary =
        proxy_response(br#"{"statusCode":200,"body":"aGk=","isBase64Encoded":true}"#).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(binary.body, b"hi");
    let empty = proxy_response(br#"{"statusCode":204,"body":null}"#).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((empty.status, empty.body.len()), (204, 0));
}

#[test]
fn malformed_proxy_responses_are_refused() {
    for bad in [
        &b"not json"[..],
        b"[]",
        br#"{"statusCode":"abc"}"#,
        br#"{"statusCode":99}"#,
        br#"{"statusCode":200,"body":{}}"#,
        br#"{"statusCode":200,"headers":[]}"#,
    ] {
        assert!(proxy_response(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
}

fn claims() -> auth::token::Claims {
    auth::token::Claims {
        sub: "alice@example.com".into(),
        email: "alice@example.com".into(),
        sid: "5a".repeat(16),
        jti: "c3".repeat(16),
        iat: 1,
        exp: 2,
        nbf: None,
        iss: "i".into(),
        aud: "a".into(),
    }
}

#[test]
fn the_real_authorizers_allow_and_deny_are_decided_as_api_gateway_does() {
    let arn = deployment().method_arn(&request(b""));
    let resource = auth::authorizer::stage_resource(&arn).unwrap_or_default();
    let allow = serde_json::to_value(auth::authorizer::allow(claims(), resource.clone())).unwrap_or_default();
    let Ok(Decision::Allow(context)) = decide(&allow, &arn) else { panic!("{allow}") };
    assert_eq!(context.get("email"), Some(&json!("alice@example.com")));
    assert_eq!(context.get("principalId"), Some(&json!("alice@example.com")));
    let deny = serde_json::to_value(auth::authorizer::deny(resource)).unwrap_or_default();
    assert_eq!(decide(&deny, &arn), Ok(Decision::ExplicitDeny));
    // An Allow for another stage allows nothing here.
    let other = serde_json::to_value(auth::authorizer::allow(
        claims(),
        "arn:aws:execute-api:us-east-1:123456789012:local/prod/*/*".into(),
    ))
    .unwrap_or_default();
    assert_eq!(decide(&other, &arn), Ok(Decision::NotAllowed));
}

#[test]
fn answers_that_are_not_policies_are_errors() {
    let arn = "arn:aws:execute-api:us-east-1:1:local/dev/GET/hello";
    let statement = json!({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"});
    assert!(decide(&json!({"policyDocument": {"Statement": [statement]}}), arn).is_err(), "no principalId");
    assert!(decide(&json!({"principalId": "p"}), arn).is_err(), "no policy");
    let nested = json!({"principalId": "p", "policyDocument": {"Statement": statement}, "context": {"a": {"b": 1}}});
    assert!(decide(&nested, arn).is_err(), "objects are not allowed in the context");
    let single = json!({"principalId": "p", "policyDocument": {"Statement": statement}, "context": {"n": 1}});
    assert!(matches!(decide(&single, arn), Ok(Decision::Allow(c)) if c.get("n") == Some(&json!(1))));
}

#[test]
fn wildcards_match_as_in_iam() {
    assert!(wildcard("*", ""));
    assert!(wildcard("arn:*:local/dev/*/*", "arn:aws:execute-api:r:1:local/dev/GET/hello"));
    assert!(wildcard("execute-api:*", "execute-api:Invoke"));
    assert!(wildcard("a?c", "abc"));
    assert!(!wildcard("a?c", "ac"));
    assert!(!wildcard("arn:*:local/prod/*", "arn:aws:local/dev/GET/hello"));
    assert!(!wildcard("Execute-api:Invoke", "execute-api:Invoke"));
}

fn body(answer: &Answer) -> String {
    String::from_utf8_lossy(&answer.body).into_owned()
}

#[test]
fn without_custom_responses_the_bodies_are_api_gateways_own() {
    let none = BTreeMap::new();
    let unauthorized = GatewayError::Unauthorized.answer(&none, "r");
    assert_eq!((unauthorized.status, body(&unauthorized).as_str()), (401, r#"{"message":"Unauthorized"}"#));
    let deny = GatewayError::ExplicitDeny.answer(&none, "r");
    assert_eq!(
        (deny.status, body(&deny).as_str()),
        (403, r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#)
    );
    let failure = GatewayError::AuthorizerFailure.answer(&none, "r");
    assert_eq!((failure.status, body(&failure).as_str()), (500, r#"{"message":null}"#));
    let bad = GatewayError::IntegrationFailure.answer(&none, "r");
    assert_eq!((bad.status, body(&bad).as_str()), (502, r#"{"message":"Internal server error"}"#));
    assert!(deny.headers.contains(&("x-amzn-ErrorType".into(), "AccessDeniedException".into())));
    assert!(deny.headers.contains(&("x-amzn-RequestId".into(), "r".into())));
}

#[test]
fn custom_responses_shape_status_headers_and_body() {
    let custom = GatewayResponse {
        status: Some(401),
        headers: vec![("WWW-Authenticate".into(), "Bearer".into())],
        template: Some(r#"{"message":$context.error.messageString}"#.into()),
    };
    let responses = BTreeMap::from([
        ("UNAUTHORIZED".to_owned(), custom.clone()),
        ("ACCESS_DENIED".to_owned(), GatewayResponse { status: Some(403), ..custom }),
    ]);
    let unauthorized = GatewayError::Unauthorized.answer(&responses, "r");
    assert_eq!(body(&unauthorized), r#"{"message":"Unauthorized"}"#);
    assert!(unauthorized.headers.contains(&("WWW-Authenticate".into(), "Bearer".into())));
    let deny = GatewayError::ExplicitDeny.answer(&responses, "r");
    assert_eq!(
        (deny.status, body(&deny).as_str()),
        (403, r#"{"message":"User is not authorized to access this resource with an explicit deny"}"#)
    );
    // A type the template does not customize keeps API Gateway's default.
    assert_eq!(body(&GatewayError::AuthorizerFailure.answer(&responses, "r")), r#"{"message":null}"#);
}

#[test]
fn request_times_are_in_api_gateways_format() {
    assert_eq!(request_time(1_732_529_742_000), "25/Nov/2024:10:15:42 +0000");
    assert_eq!(request_time(0), "01/Jan/1970:00:00:00 +0000");
    assert_eq!(request_time(951_782_400_000), "29/Feb/2000:00:00:00 +0000");
}
