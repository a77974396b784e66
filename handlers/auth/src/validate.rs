//! Parsing and validating the `{"email": ..., "password": ...}` body of `POST /signup` and `/signin`.
//!
//! Choices, each on purpose:
//! - The `Content-Type` header is not checked: curl's `-d` sends `application/x-www-form-urlencoded`,
//!   and the original service's curl calls must keep working. The body must parse as JSON whatever it
//!   claims to be.
//! - Unknown fields are rejected, and so is a field given twice: a typo such as `"pasword"` or an
//!   ambiguous body gets a clear 400 instead of being half-read.
//! - Error messages name the field at fault but never echo a value: the value may be a password.
//! - Emails are ASCII only. Trimming and lowercasing are the normalization the contract asks for;
//!   accepting internationalized addresses would also need Unicode normalization, or two spellings of
//!   one address would be two accounts.

use std::fmt;

use lambda_http::Body;
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::codes::Code;
use crate::error::{ApiError, ErrorCode};

/// The largest body accepted, in bytes (after API Gateway's base64 decoding).
pub const MAX_BODY_BYTES: usize = 4096;
/// The longest email accepted after normalization, in characters (RFC 5321's path limit less `<>`).
pub const MAX_EMAIL_CHARS: usize = 254;
/// The longest local part (before `@`), in characters (RFC 5321).
pub const MAX_LOCAL_PART_CHARS: usize = 64;
pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;

const EMAIL_FIELD: &str = "email";
const PASSWORD_FIELD: &str = "password";
/// Unknown field names are echoed in the error message, shortened to this many characters.
const MAX_ECHOED_FIELD_CHARS: usize = 32;

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("request body is required")]
    MissingBody,
    #[error("request body must be at most {MAX_BODY_BYTES} bytes")]
    BodyTooLarge,
    #[error("request body is not valid JSON")]
    InvalidJson,
    #[error("request body must be a JSON object with string fields \"email\" and \"password\"")]
    NotAnObject,
    #[error("field \"{0}\" is required")]
    MissingField(&'static str),
    #[error("field \"{0}\" must be a string")]
    NotAString(&'static str),
    #[error("field \"{0}\" is given more than once")]
    DuplicateField(&'static str),
    #[error("unknown field \"{0}\"; only \"email\" and \"password\" are accepted")]
    UnknownField(String),
    #[error("{0}")]
    InvalidEmail(&'static str),
    #[error("password must be at least {MIN_PASSWORD_CHARS} characters")]
    PasswordTooShort,
    #[error("password must be at most {MAX_PASSWORD_CHARS} characters")]
    PasswordTooLong,
    /// A session or code body (`/refresh`, `/signout`, `/signup/verify`, `/password/*`) that is not an
    /// object of the fields it takes.
    #[error("request body must be a JSON object: {0}")]
    NotASessionObject(&'static str),
    #[error("unknown field \"{0}\"; {1}")]
    UnknownSessionField(String, &'static str),
    #[error("{0}")]
    InvalidSessionBody(&'static str),
}

impl ValidationError {
    pub fn code(&self) -> ErrorCode {
        match self {
            ValidationError::MissingBody => ErrorCode::MissingBody,
            ValidationError::BodyTooLarge => ErrorCode::BodyTooLarge,
            ValidationError::InvalidJson => ErrorCode::InvalidJson,
            ValidationError::NotAnObject
            | ValidationError::MissingField(_)
            | ValidationError::NotAString(_)
            | ValidationError::DuplicateField(_)
            | ValidationError::UnknownField(_)
            | ValidationError::NotASessionObject(_)
            | ValidationError::UnknownSessionField(..)
            | ValidationError::InvalidSessionBody(_) => ErrorCode::InvalidBody,
            ValidationError::InvalidEmail(_) => ErrorCode::InvalidEmail,
            ValidationError::PasswordTooShort | ValidationError::PasswordTooLong => ErrorCode::InvalidPassword,
        }
    }
}

impl From<ValidationError> for ApiError {
    fn from(error: ValidationError) -> ApiError {
        ApiError::new(error.code(), error.to_string())
    }
}

/// A normalized email: trimmed, lowercase ASCII, syntactically plausible. The table's key, the
/// encryption context and the token's `sub` all use this form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

impl Email {
    /// Normalizes and checks an address as typed by a user.
    pub fn parse(raw: &str) -> Result<Email, ValidationError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(ValidationError::InvalidEmail("email must not be empty"));
        }
        if !trimmed.is_ascii() {
            return Err(ValidationError::InvalidEmail("email must contain only ASCII characters"));
        }
        let email = trimmed.to_ascii_lowercase();
        if email.len() > MAX_EMAIL_CHARS {
            return Err(ValidationError::InvalidEmail("email must be at most 254 characters"));
        }
        check_syntax(&email).map_err(ValidationError::InvalidEmail)?;
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password of acceptable length. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Checks the length in characters (Unicode scalar values); the password is used as given, never
    /// trimmed.
    pub fn parse(raw: String) -> Result<Password, ValidationError> {
        let chars = raw.chars().count();
        if chars < MIN_PASSWORD_CHARS {
            return Err(ValidationError::PasswordTooShort);
        }
        if chars > MAX_PASSWORD_CHARS {
            return Err(ValidationError::PasswordTooLong);
        }
        Ok(Password(raw))
    }

    /// The password itself, for the hash function only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A valid signup or signin body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub email: Email,
    pub password: Password,
}

/// Reads credentials from a Lambda HTTP request body.
pub fn credentials_from_body(body: &Body) -> Result<Credentials, ValidationError> {
    // An absent body reads as no bytes; text and (base64-decoded) binary bodies alike as their bytes.
    credentials_from_bytes(body.as_ref())
}

/// Reads credentials from raw body bytes: size first, then JSON, then each field.
pub fn credentials_from_bytes(bytes: &[u8]) -> Result<Credentials, ValidationError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ValidationError::BodyTooLarge);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ValidationError::MissingBody);
    }
    let fields: Fields = serde_json::from_slice(bytes)
        .map_err(|error| if error.is_data() { ValidationError::NotAnObject } else { ValidationError::InvalidJson })?;

    let mut email = None;
    let mut password = None;
    for (name, value) in fields.0 {
        let (slot, field) = match name.as_str() {
            EMAIL_FIELD => (&mut email, EMAIL_FIELD),
            PASSWORD_FIELD => (&mut password, PASSWORD_FIELD),
            _ => return Err(ValidationError::UnknownField(echoed(&name))),
        };
        if slot.is_some() {
            return Err(ValidationError::DuplicateField(field));
        }
        match value {
            Value::String(text) => *slot = Some(text),
            _ => return Err(ValidationError::NotAString(field)),
        }
    }
    let email = email.ok_or(ValidationError::MissingField(EMAIL_FIELD))?;
    let password = password.ok_or(ValidationError::MissingField(PASSWORD_FIELD))?;
    Ok(Credentials { email: Email::parse(&email)?, password: Password::parse(password)? })
}

/// A client's field name as an answer and a log may repeat it: its first [`MAX_ECHOED_FIELD_CHARS`]
/// characters, with quotes, backslashes, control characters and line breaks escaped as Rust writes them
/// (`\n`), so that a name never breaks out of its quotes or forges a log line.
fn echoed(name: &str) -> String {
    name.chars().take(MAX_ECHOED_FIELD_CHARS).flat_map(char::escape_debug).collect()
}

const REFRESH_TOKEN_FIELD: &str = "refresh_token";
const EVERYWHERE_FIELD: &str = "everywhere";
const REFRESH_SHAPE: &str = "{\"refresh_token\": \"...\"}";
const SIGNOUT_SHAPE: &str = "{\"refresh_token\": \"...\"} or {\"everywhere\": true}";

/// A body's fields, each named in `allowed` and given once: size first, then JSON, then names.
fn object_fields(
    bytes: &[u8],
    allowed: &[&'static str],
    shape: &'static str,
) -> Result<Vec<(&'static str, Value)>, ValidationError> {
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ValidationError::BodyTooLarge);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ValidationError::MissingBody);
    }
    let fields: Fields = serde_json::from_slice(bytes).map_err(|error| {
        if error.is_data() { ValidationError::NotASessionObject(shape) } else { ValidationError::InvalidJson }
    })?;
    let mut out: Vec<(&'static str, Value)> = Vec::with_capacity(fields.0.len());
    for (name, value) in fields.0 {
        let Some(field) = allowed.iter().find(|f| **f == name) else {
            return Err(ValidationError::UnknownSessionField(echoed(&name), shape));
        };
        if out.iter().any(|(seen, _)| seen == field) {
            return Err(ValidationError::DuplicateField(field));
        }
        out.push((field, value));
    }
    Ok(out)
}

/// The refresh token of a `POST /refresh` body, `{"refresh_token": "..."}`, as given: whether it is
/// one of ours is for the session rules to say, with one answer for every token that is not.
pub fn refresh_token_from_body(body: &Body) -> Result<String, ValidationError> {
    let fields = object_fields(body.as_ref(), &[REFRESH_TOKEN_FIELD], REFRESH_SHAPE)?;
    match fields.into_iter().next() {
        Some((_, Value::String(token))) => Ok(token),
        Some((field, _)) => Err(ValidationError::NotAString(field)),
        None => Err(ValidationError::MissingField(REFRESH_TOKEN_FIELD)),
    }
}

/// What `POST /signout` asks for.
#[derive(Clone, PartialEq, Eq)]
pub enum Signout {
    /// End the session of this refresh token.
    Session(String),
    /// End every session of the caller, and every access token issued to them until now.
    Everywhere,
}

impl fmt::Debug for Signout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signout::Session(_) => "Signout::Session(<redacted>)",
            Signout::Everywhere => "Signout::Everywhere",
        })
    }
}

/// A `POST /signout` body: `{"refresh_token": "..."}` or `{"everywhere": true}`, exactly one.
pub fn signout_from_body(body: &Body) -> Result<Signout, ValidationError> {
    let fields = object_fields(body.as_ref(), &[REFRESH_TOKEN_FIELD, EVERYWHERE_FIELD], SIGNOUT_SHAPE)?;
    match fields.as_slice() {
        [(REFRESH_TOKEN_FIELD, Value::String(token))] => Ok(Signout::Session(token.clone())),
        [(REFRESH_TOKEN_FIELD, _)] => Err(ValidationError::NotAString(REFRESH_TOKEN_FIELD)),
        [(EVERYWHERE_FIELD, Value::Bool(true))] => Ok(Signout::Everywhere),
        [(EVERYWHERE_FIELD, _)] => Err(ValidationError::InvalidSessionBody("field \"everywhere\" must be true")),
        [] => Err(ValidationError::InvalidSessionBody("give \"refresh_token\" or \"everywhere\"")),
        _ => Err(ValidationError::InvalidSessionBody("give \"refresh_token\" or \"everywhere\", not both")),
    }
}

const CODE_FIELD: &str = "code";
const EMAIL_SHAPE: &str = "{\"email\": \"...\"}";
const CODE_SHAPE: &str = "{\"email\": \"...\", \"code\": \"...\", \"password\": \"...\"}";

/// The email of a `POST /password/forgot` body, `{"email": "..."}`.
pub fn email_from_body(body: &Body) -> Result<Email, ValidationError> {
    let fields = object_fields(body.as_ref(), &[EMAIL_FIELD], EMAIL_SHAPE)?;
    match fields.into_iter().next() {
        Some((_, Value::String(email))) => Email::parse(&email),
        Some((field, _)) => Err(ValidationError::NotAString(field)),
        None => Err(ValidationError::MissingField(EMAIL_FIELD)),
    }
}

/// A `POST /signup/verify` or `POST /password/reset` body: the address, the code mailed to it, and the
/// password (the one signed up with, or the new one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRequest {
    pub email: Email,
    /// `None` when the field was a string but not a code's shape: it is judged as a wrong code, with the
    /// same answer, so that the shape of a guess tells nothing either.
    pub code: Option<Code>,
    pub password: Password,
}

/// Reads a [`CodeRequest`]: `{"email", "code", "password"}`, each a string, each once.
pub fn code_request_from_body(body: &Body) -> Result<CodeRequest, ValidationError> {
    let fields = object_fields(body.as_ref(), &[EMAIL_FIELD, CODE_FIELD, PASSWORD_FIELD], CODE_SHAPE)?;
    let text = |name: &'static str| -> Result<String, ValidationError> {
        match fields.iter().find(|(field, _)| *field == name) {
            Some((_, Value::String(value))) => Ok(value.clone()),
            Some((field, _)) => Err(ValidationError::NotAString(field)),
            None => Err(ValidationError::MissingField(name)),
        }
    };
    let (email, code, password) = (text(EMAIL_FIELD)?, text(CODE_FIELD)?, text(PASSWORD_FIELD)?);
    Ok(CodeRequest { email: Email::parse(&email)?, code: Code::parse(&code), password: Password::parse(password)? })
}

/// A JSON object's entries in order, duplicates kept, so that they can be refused.
struct Fields(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Fields, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = Fields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields, A::Error> {
                let mut entries = Vec::with_capacity(2);
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(Fields(entries))
            }
        }
        deserializer.deserialize_map(FieldsVisitor)
    }
}

/// RFC 5321 dot-atom local part and an LDH domain of at least two labels. Quoted local parts and IP
/// literals are valid in the RFC but refused here: no mailbox a person signs up with needs them.
fn check_syntax(email: &str) -> Result<(), &'static str> {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err("email must contain @");
    };
    if local.is_empty() {
        return Err("email must have a name before @");
    }
    if local.contains('@') {
        return Err("email must contain exactly one @");
    }
    if local.len() > MAX_LOCAL_PART_CHARS {
        return Err("the part of the email before @ must be at most 64 characters");
    }
    const LOCAL_SPECIALS: &[u8] = b"!#$%&'*+-/=?^_`{|}~.";
    if !local.bytes().all(|b| b.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(&b)) {
        return Err("the part of the email before @ contains a character that is not allowed");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err("the part of the email before @ must not start or end with a dot or have two in a row");
    }
    if domain.is_empty() {
        return Err("email must have a domain after @");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err("the email's domain must contain a dot");
    }
    for label in &labels {
        if label.is_empty() || label.len() > 63 {
            return Err("each part of the email's domain must be 1 to 63 characters");
        }
        if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err("the email's domain may contain only letters, digits, hyphens and dots");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a part of the email's domain must not start or end with a hyphen");
        }
    }
    if labels.last().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
        return Err("the email's domain must end in a name, not a number");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
