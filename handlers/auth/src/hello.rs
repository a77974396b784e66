//! `GET /hello`: greets the user whose email the authorizer put in the request context.

use contract::claims;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use crate::error::{ApiError, json_ok};

#[derive(Serialize)]
struct Greeting {
    message: String,
}

/// Answers `200 {"message": "Hello, <email>!"}`, or a JSON 401 if the request carries no authorizer
/// context (the route was reached without the authorizer, which the API's configuration forbids).
pub fn handle(req: &Request) -> Response<Body> {
    match authorized_email(req) {
        Some(email) => json_ok(StatusCode::OK, &Greeting { message: format!("Hello, {email}!") }),
        None => {
            tracing::warn!("hello reached without an authorizer context");
            ApiError::unauthorized().into_response()
        }
    }
}

/// `requestContext.authorizer.email`, as the authorizer's context put it.
fn authorized_email(req: &Request) -> Option<&str> {
    let authorizer = req.request_context_ref()?.authorizer()?;
    authorizer.fields.get(claims::EMAIL)?.as_str().filter(|email| !email.is_empty())
}

#[cfg(test)]
mod tests;
