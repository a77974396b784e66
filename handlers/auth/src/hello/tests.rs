//! Tests of the hello handler with API Gateway proxy fixtures.

use lambda_http::http::StatusCode;
use serde_json::{Value, json};

use super::*;
use crate::testing::{fixture, json_body, request_from};

#[test]
fn greets_the_email_in_the_authorizer_context() {
    let response = handle(&request_from(&fixture("hello-request.json")));
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_body(&response), json!({"message": "Hello, alice@example.com!"}));
    assert_eq!(response.headers()["content-type"], "application/json");
}

#[test]
fn no_authorizer_context_is_a_json_401() {
    let mut event = fixture("hello-request.json");
    let removed = event["requestContext"].as_object_mut().and_then(|c| c.remove("authorizer"));
    assert!(removed.is_some(), "the fixture has an authorizer context");
    let response = handle(&request_from(&event));
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_body(&response)["error"]["code"], "unauthorized");
}

#[test]
fn a_context_without_a_usable_email_is_a_json_401() {
    for authorizer in [
        json!({"principalId": "alice@example.com"}),
        json!({"principalId": "alice@example.com", "email": ""}),
        json!({"principalId": "alice@example.com", "email": 42}),
        json!({"principalId": "alice@example.com", "email": null}),
        Value::Null,
    ] {
        let mut event = fixture("hello-request.json");
        event["requestContext"]["authorizer"] = authorizer.clone();
        let response = handle(&request_from(&event));
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{authorizer}");
    }
}

#[test]
fn a_request_built_without_any_context_is_a_json_401() {
    let response = handle(&Request::new(Body::Empty));
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_body(&response)["error"]["code"], "unauthorized");
}
