//! The JSON error body every route answers with, and the status code each kind of failure maps to.
//!
//! Every error a client can see is `{"error": {"code": "...", "message": "..."}}`. The code is a stable,
//! machine-readable string; the message is for people and never contains a password, a hash or a
//! token. Bad input always maps to a 4xx: only a failing dependency (DynamoDB, KMS, Secrets Manager)
//! answers 500.

use std::borrow::Cow;

use lambda_http::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;

/// What went wrong, as the client sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request has no body.
    MissingBody,
    /// The body is larger than [`crate::validate::MAX_BODY_BYTES`].
    BodyTooLarge,
    /// The body is not valid JSON.
    InvalidJson,
    /// The body is JSON but not an object of the expected string fields.
    InvalidBody,
    /// The request itself cannot be read: a header, host, path or query that makes no URL, or a body
    /// that is not the base64 it claims to be (see [`crate::proxy`]).
    InvalidRequest,
    /// The email is not a plausible address.
    InvalidEmail,
    /// The password is too short or too long.
    InvalidPassword,
    /// `POST /signup` with a password the policy refuses: too short for the stage, control characters,
    /// or common and easy to guess.
    WeakPassword,
    /// `POST /signup/verify` or `POST /password/reset` with a code that is wrong, expired, spent or
    /// unknown (or, for verify, with another password than the one signed up with): one code for all.
    InvalidCode,
    /// `POST /signin` with an unknown email or a wrong password: one code for both, on purpose.
    InvalidCredentials,
    /// `POST /signin` for an email locked out by repeated failures, known or not: one code for both.
    TooManyAttempts,
    /// `POST /refresh` or `POST /signout` with a refresh token that is unknown, expired, revoked, spent
    /// or malformed: one code for all, on purpose.
    InvalidRefreshToken,
    /// A guarded route was reached without the authorizer's context.
    Unauthorized,
    /// A dependency failed; the client may retry.
    Internal,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MissingBody => "missing_body",
            ErrorCode::BodyTooLarge => "body_too_large",
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::InvalidBody => "invalid_body",
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidEmail => "invalid_email",
            ErrorCode::InvalidPassword => "invalid_password",
            ErrorCode::WeakPassword => "weak_password",
            ErrorCode::InvalidCode => "invalid_code",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::TooManyAttempts => "too_many_attempts",
            ErrorCode::InvalidRefreshToken => "invalid_refresh_token",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Internal => "internal_error",
        }
    }

    pub const fn status(self) -> StatusCode {
        match self {
            ErrorCode::MissingBody
            | ErrorCode::InvalidJson
            | ErrorCode::InvalidBody
            | ErrorCode::InvalidRequest
            | ErrorCode::InvalidEmail
            | ErrorCode::InvalidPassword
            | ErrorCode::WeakPassword
            | ErrorCode::InvalidCode => StatusCode::BAD_REQUEST,
            ErrorCode::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::InvalidCredentials | ErrorCode::Unauthorized | ErrorCode::InvalidRefreshToken => {
                StatusCode::UNAUTHORIZED
            }
            ErrorCode::TooManyAttempts => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Every code, for tests that check each one.
    pub const ALL: [ErrorCode; 14] = [
        ErrorCode::MissingBody,
        ErrorCode::BodyTooLarge,
        ErrorCode::InvalidJson,
        ErrorCode::InvalidBody,
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidEmail,
        ErrorCode::InvalidPassword,
        ErrorCode::WeakPassword,
        ErrorCode::InvalidCode,
        ErrorCode::InvalidCredentials,
        ErrorCode::TooManyAttempts,
        ErrorCode::InvalidRefreshToken,
        ErrorCode::Unauthorized,
        ErrorCode::Internal,
    ];
}

/// An error answer: a code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    code: ErrorCode,
    message: Cow<'static, str>,
    /// Seconds until a retry can succeed, sent as `Retry-After`.
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError { code, message: message.into(), retry_after: None }
    }

    /// The answer for an email locked out by failed sign-ins, whether or not it has an account.
    pub fn too_many_attempts(retry_after_seconds: u64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after_seconds),
            ..ApiError::new(
                ErrorCode::TooManyAttempts,
                "too many sign-in attempts for this email from here; wait for the time in Retry-After and try again",
            )
        }
    }

    /// The one answer for an unknown email and a wrong password, so signin does not reveal accounts.
    pub fn invalid_credentials() -> ApiError {
        ApiError::new(ErrorCode::InvalidCredentials, "email or password is incorrect")
    }

    /// The one answer to every refresh token that does not continue a session.
    pub fn invalid_refresh_token() -> ApiError {
        ApiError::new(ErrorCode::InvalidRefreshToken, "the refresh token is not valid; sign in again")
    }

    /// The one answer to every code that does not do what it was mailed for.
    pub fn invalid_code() -> ApiError {
        ApiError::new(
            ErrorCode::InvalidCode,
            "the code is wrong, expired or used up (verifying also needs the password signed up with); ask for a new code",
        )
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(ErrorCode::Unauthorized, "the request carries no authenticated identity")
    }

    /// A dependency failed. The cause goes to the logs, never to the client.
    pub fn internal() -> ApiError {
        ApiError::new(ErrorCode::Internal, "the service could not complete the request; try again")
    }

    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// The JSON body, `{"error": {"code": ..., "message": ...}}`.
    pub fn body(&self) -> String {
        #[derive(Serialize)]
        struct Outer<'a> {
            error: Inner<'a>,
        }
        #[derive(Serialize)]
        struct Inner<'a> {
            code: &'a str,
            message: &'a str,
        }
        let outer = Outer { error: Inner { code: self.code.as_str(), message: &self.message } };
        // Serializing two strings cannot fail; the fallback keeps this function total all the same.
        serde_json::to_string(&outer).unwrap_or_else(|_| {
            String::from(r#"{"error":{"code":"internal_error","message":"error body could not be built"}}"#)
        })
    }

    pub fn into_response(self) -> Response<Body> {
        let mut response = json_response(self.status(), self.body());
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// For `map_err` on a dependency's result: logs the error as the failure of `what` (never shown to the
/// client) and answers 500.
pub fn failed<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> ApiError {
    move |error| {
        tracing::error!(%error, "{what}");
        ApiError::internal()
    }
}

/// A response with a JSON body. Nothing the service returns may be cached by a proxy: tokens and error
/// answers are per user.
pub fn json_response(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Serializes a success body; a failure (which a plain struct of strings cannot produce) becomes 500.
pub fn json_ok(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(body) => json_response(status, body),
        Err(error) => {
            tracing::error!(%error, "serializing a response body");
            ApiError::internal().into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn body_json(response: &Response<Body>) -> Value {
        match response.body() {
            Body::Text(text) => serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON: {e}: {text}")),
            other => panic!("expected a text body, got {other:?}"),
        }
    }

    #[test]
    fn error_body_has_the_documented_shape() {
        let response = ApiError::new(ErrorCode::InvalidEmail, "email must contain @").into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(
            body_json(&response),
            json!({"error": {"code": "invalid_email", "message": "email must contain @"}})
        );
    }

    #[test]
    fn messages_are_json_escaped() {
        let body = ApiError::new(ErrorCode::InvalidBody, "unknown field \"x\\\"").body();
        let value: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(value["error"]["message"], "unknown field \"x\\\"");
    }

    #[test]
    fn only_internal_errors_are_5xx_and_codes_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{} used twice", code.as_str());
            if code == ErrorCode::Internal {
                assert!(code.status().is_server_error());
            } else {
                assert!(code.status().is_client_error(), "{} is {}", code.as_str(), code.status());
            }
        }
    }

    #[test]
    fn status_codes_match_the_contract() {
        assert_eq!(ErrorCode::BodyTooLarge.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(ApiError::invalid_code().status(), StatusCode::BAD_REQUEST);
        assert_eq!(ApiError::invalid_credentials().status(), StatusCode::UNAUTHORIZED);
        assert_eq!(ApiError::unauthorized().status(), StatusCode::UNAUTHORIZED);
    }
}
