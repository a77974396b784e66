//! `GET /hello`: greets the user whose email the authorizer put in the request context.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::error::{ApiError, json_ok};

#[derive(Serialize)]
struct Greeting {
    message: String,
}

/// Answers `200 {"message": "Hello, <email>!"}`, or a JSON 401 if the request carries no authorizer
/// context (the route was reached without the authorizer, which the API's configuration forbids).
pub fn handle(req: &Request) -> Response<Body> {
    match crate::request::caller_email(req) {
        Some(email) => json_ok(StatusCode::OK, &Greeting { message: format!("Hello, {email}!") }),
        None => {
            tracing::warn!("hello reached without an authorizer context");
            ApiError::unauthorized().into_response()
        }
    }
}

#[cfg(test)]
mod tests;
