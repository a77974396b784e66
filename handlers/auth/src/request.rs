//! What a route's handler reads from its request beyond the body: the caller the authorizer let
//! through, and typed path parameters.

use std::str::FromStr;

use contract::claims;
use lambda_http::{Request, RequestExt};

use crate::error::{ApiError, ErrorCode};

/// The signed-in caller's email: `requestContext.authorizer.email`, as the JWT authorizer's context put
/// it. `None` on a route without the authorizer (a public one, or a misconfigured API).
pub fn caller_email(req: &Request) -> Option<&str> {
    let authorizer = req.request_context_ref()?.authorizer()?;
    authorizer.fields.get(claims::EMAIL)?.as_str().filter(|email| !email.is_empty())
}

/// The caller's IP address as API Gateway saw it (`requestContext.identity.sourceIp`: the TCP peer, or
/// the first address of a trusted proxy's chain, never a header the client wrote).
pub fn source_ip(req: &Request) -> Option<&str> {
    match req.request_context_ref()? {
        lambda_http::request::RequestContext::ApiGatewayV1(context) => {
            context.identity.source_ip.as_deref().filter(|ip| !ip.is_empty())
        }
        _ => None,
    }
}

/// The path parameter `name` (`id` of `/orders/{id}`) as a `T`: a missing or unparsable value is a
/// JSON `400 invalid_request` naming the parameter.
pub fn path_parameter<T: FromStr>(req: &Request, name: &str) -> Result<T, ApiError> {
    let parameters = req.path_parameters_ref();
    let raw = parameters
        .and_then(|p| p.first(name))
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidRequest, format!("the path has no `{name}`")))?;
    raw.parse().map_err(|_| ApiError::new(ErrorCode::InvalidRequest, format!("the path's `{name}` is not valid")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::{fixture, request_from};

    #[test]
    fn the_caller_and_typed_parameters_are_read() {
        let mut event = fixture("hello-request.json");
        event["requestContext"]["authorizer"] = json!({"principalId": "a@b.co", "email": "a@b.co"});
        event["pathParameters"] = json!({"id": "42", "slug": "x"});
        let req = request_from(&event);
        assert_eq!(caller_email(&req), Some("a@b.co"));
        assert_eq!(path_parameter::<u64>(&req, "id"), Ok(42));
        assert_eq!(path_parameter::<String>(&req, "slug").as_deref(), Ok("x"));
        let bad = path_parameter::<u64>(&req, "slug").err();
        assert_eq!(bad.as_ref().map(ApiError::code), Some(ErrorCode::InvalidRequest));
        assert!(path_parameter::<u64>(&req, "missing").is_err());

        event["requestContext"]["authorizer"] = json!({"principalId": "x", "email": ""});
        assert_eq!(caller_email(&request_from(&event)), None, "an empty email is no caller");
    }
}
