//! Tests of body parsing, email normalization and password length rules.

use super::*;

fn parse(body: &str) -> Result<Credentials, ValidationError> {
    credentials_from_bytes(body.as_bytes())
}

fn parse_ok(body: &str) -> Credentials {
    parse(body).unwrap_or_else(|e| panic!("{body} was refused: {e}"))
}

#[test]
fn a_plain_body_is_accepted_and_the_email_normalized() {
    let creds = parse_ok(r#"{"email": "  Alice.Smith+tag@Example.COM ", "password": "correct horse"}"#);
    assert_eq!(creds.email.as_str(), "alice.smith+tag@example.com");
    assert_eq!(creds.password.expose(), "correct horse");
}

#[test]
fn field_order_does_not_matter() {
    let creds = parse_ok(r#"{"password": "12345678", "email": "a@b.co"}"#);
    assert_eq!(creds.email.as_str(), "a@b.co");
}

#[test]
fn empty_and_whitespace_bodies_are_missing() {
    assert_eq!(credentials_from_body(&Body::Empty), Err(ValidationError::MissingBody));
    assert_eq!(parse(""), Err(ValidationError::MissingBody));
    assert_eq!(parse(" \n\t"), Err(ValidationError::MissingBody));
}

#[test]
fn binary_bodies_are_read_like_text() {
    let body = Body::Binary(br#"{"email":"a@b.co","password":"12345678"}"#.to_vec());
    assert!(credentials_from_body(&body).is_ok());
}

#[test]
fn non_json_is_invalid_json() {
    for body in ["email=a@b.co&password=12345678", "{", r#"{"email": "a@b.co",}"#, "nul", "{} {}", "\u{feff}{}"] {
        assert_eq!(parse(body), Err(ValidationError::InvalidJson), "{body}");
    }
}

#[test]
fn json_that_is_not_an_object_is_refused() {
    for body in ["[]", r#"["a@b.co", "12345678"]"#, "42", r#""a@b.co""#, "null", "true"] {
        assert_eq!(parse(body), Err(ValidationError::NotAnObject), "{body}");
    }
}

#[test]
fn body_over_4_kib_is_too_large_and_4_kib_is_not() {
    let padding = |n: usize| format!(r#"{{"email": "a@b.co", "password": "12345678"{}}}"#, " ".repeat(n));
    let base = padding(0).len();
    assert_eq!(padding(MAX_BODY_BYTES - base).len(), MAX_BODY_BYTES);
    assert!(parse(&padding(MAX_BODY_BYTES - base)).is_ok());
    assert_eq!(parse(&padding(MAX_BODY_BYTES - base + 1)), Err(ValidationError::BodyTooLarge));
    assert_eq!(parse(&"x".repeat(1 << 20)), Err(ValidationError::BodyTooLarge));
}

#[test]
fn missing_fields_are_named() {
    assert_eq!(parse(r#"{"password": "12345678"}"#), Err(ValidationError::MissingField("email")));
    assert_eq!(parse(r#"{"email": "a@b.co"}"#), Err(ValidationError::MissingField("password")));
    assert_eq!(parse("{}"), Err(ValidationError::MissingField("email")));
}

#[test]
fn non_string_fields_are_refused_without_echoing_the_value() {
    let cases = [
        (r#"{"email": 42, "password": "12345678"}"#, "email"),
        (r#"{"email": "a@b.co", "password": 1234567890}"#, "password"),
        (r#"{"email": null, "password": "12345678"}"#, "email"),
        (r#"{"email": "a@b.co", "password": ["hunter22x"]}"#, "password"),
        (r#"{"email": "a@b.co", "password": true}"#, "password"),
    ];
    for (body, field) in cases {
        let error = parse(body).err().unwrap_or_else(|| panic!("{body} was accepted"));
        assert_eq!(error, ValidationError::NotAString(field), "{body}");
        let message = error.to_string();
        assert!(!message.contains("1234567890") && !message.contains("hunter22x"), "{message}");
    }
}

#[test]
fn extra_nesting_is_refused() {
    assert_eq!(
        parse(r#"{"email": {"email": "a@b.co"}, "password": "12345678"}"#),
        Err(ValidationError::NotAString("email"))
    );
    assert_eq!(
        parse(r#"{"credentials": {"email": "a@b.co", "password": "12345678"}}"#),
        Err(ValidationError::UnknownField("credentials".into()))
    );
    let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    assert_eq!(parse(&format!(r#"{{"email": {deep}, "password": "12345678"}}"#)), Err(ValidationError::InvalidJson));
}

#[test]
fn unknown_and_duplicate_fields_are_refused() {
    assert_eq!(
        parse(r#"{"email": "a@b.co", "pasword": "12345678"}"#),
        Err(ValidationError::UnknownField("pasword".into()))
    );
    assert_eq!(
        parse(r#"{"email": "a@b.co", "password": "12345678", "email": "c@d.co"}"#),
        Err(ValidationError::DuplicateField("email"))
    );
    let long = "k".repeat(500);
    let Err(ValidationError::UnknownField(echoed)) = parse(&format!(r#"{{"{long}": 1}}"#)) else {
        panic!("a long unknown field was not refused");
    };
    assert_eq!(echoed.len(), MAX_ECHOED_FIELD_CHARS);
}

#[test]
fn password_length_is_8_to_128_characters() {
    let body = |p: &str| format!(r#"{{"email": "a@b.co", "password": "{p}"}}"#);
    assert_eq!(parse(&body("1234567")), Err(ValidationError::PasswordTooShort));
    assert!(parse(&body("12345678")).is_ok());
    assert!(parse(&body(&"p".repeat(128))).is_ok());
    assert_eq!(parse(&body(&"p".repeat(129))), Err(ValidationError::PasswordTooLong));
    // Characters, not bytes: eight two-byte characters are enough, 129 of them too many.
    assert!(parse(&body(&"é".repeat(8))).is_ok());
    assert_eq!(parse(&body(&"é".repeat(129))), Err(ValidationError::PasswordTooLong));
    assert_eq!(parse(&body("")), Err(ValidationError::PasswordTooShort));
}

#[test]
fn passwords_are_not_trimmed() {
    let creds = parse_ok(r#"{"email": "a@b.co", "password": "  spaced  "}"#);
    assert_eq!(creds.password.expose(), "  spaced  ");
}

#[test]
fn password_debug_is_redacted() {
    let creds = parse_ok(r#"{"email": "a@b.co", "password": "hunter2hunter2"}"#);
    let debug = format!("{creds:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("a@b.co"), "{debug}");
}

#[test]
fn valid_emails_are_accepted() {
    for email in [
        "a@b.co",
        "first.last@sub.example.org",
        "user+tag@example.com",
        "o'brien@example.ie",
        "x_y-z@my-host.example",
        "1234@123.example",
        "a!#$%&'*+/=?^_`{|}~-@example.com",
    ] {
        assert_eq!(Email::parse(email).map(|e| e.into_string()), Ok(email.to_string()));
    }
}

#[test]
fn emails_are_trimmed_and_lowercased() {
    let email = Email::parse("\t ALICE@Example.Com \r\n").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(email.as_str(), "alice@example.com");
    assert_eq!(Email::parse("Alice@example.com"), Email::parse("alice@EXAMPLE.com"));
}

#[test]
fn invalid_emails_are_refused() {
    for email in [
        "",
        "   ",
        "plainaddress",
        "@example.com",
        "user@",
        "user@localhost",
        "a@b@example.com",
        "user@.example.com",
        "user@example..com",
        "user@example.com.",
        "user@-example.com",
        "user@example-.com",
        "user@exa_mple.com",
        "user@192.168.0.1",
        "user@[127.0.0.1]",
        "\"quoted\"@example.com",
        ".user@example.com",
        "user.@example.com",
        "us..er@example.com",
        "us er@example.com",
        "user@exam ple.com",
        "user(comment)@example.com",
        "jos\u{e9}@example.com",
        "user@ex\u{e4}mple.com",
        "user\u{0}@example.com",
        "user@example.com\u{0}",
    ] {
        assert!(
            matches!(Email::parse(email), Err(ValidationError::InvalidEmail(_))),
            "{email:?} was accepted: {:?}",
            Email::parse(email)
        );
    }
}

#[test]
fn email_length_limits() {
    let domain = format!("{}.{}.{}.com", "d".repeat(63), "e".repeat(63), "f".repeat(60));
    let at_limit = format!("{}@{domain}", "l".repeat(MAX_EMAIL_CHARS - 1 - domain.len()));
    assert_eq!(at_limit.len(), MAX_EMAIL_CHARS);
    assert!(Email::parse(&at_limit).is_ok());
    assert!(Email::parse(&format!(" {at_limit} ")).is_ok(), "the limit applies after trimming");
    let over = format!("l{at_limit}");
    assert!(matches!(Email::parse(&over), Err(ValidationError::InvalidEmail(_))));

    let local64 = format!("{}@example.com", "l".repeat(64));
    assert!(Email::parse(&local64).is_ok());
    assert!(Email::parse(&format!("l{local64}")).is_err());
    let label64 = format!("a@{}.com", "d".repeat(64));
    assert!(Email::parse(&label64).is_err());
}

#[test]
fn every_validation_error_is_a_4xx_with_a_json_body() {
    let errors = [
        ValidationError::MissingBody,
        ValidationError::BodyTooLarge,
        ValidationError::InvalidJson,
        ValidationError::NotAnObject,
        ValidationError::MissingField("email"),
        ValidationError::NotAString("password"),
        ValidationError::DuplicateField("email"),
        ValidationError::UnknownField("x".into()),
        ValidationError::InvalidEmail("email must contain @"),
        ValidationError::PasswordTooShort,
        ValidationError::PasswordTooLong,
    ];
    for error in errors {
        let api: ApiError = error.clone().into();
        assert!(api.status().is_client_error(), "{error:?}");
        let body: Value = serde_json::from_str(&api.body()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(body["error"]["message"], error.to_string());
    }
}

/// Issue 25: an unknown field's name was echoed as sent, and a newline in it forged a line in the local
/// console's log.
#[test]
fn attack_an_unknown_fields_name_cannot_forge_a_log_line_or_break_its_quotes() {
    let Err(error) = parse(r#"{"email": "a@b.co", "x\nINFO signin: signed in\"": 1}"#) else {
        panic!("an unknown field was not refused");
    };
    let said = error.to_string();
    assert!(!said.contains('\n'), "{said:?}");
    assert!(said.contains(r#"x\nINFO signin: signed in\""#), "{said:?}");
    let Err(error) = refresh_token_from_body(&Body::from("{\"x\\u2028y\\r\": 1}")) else {
        panic!("an unknown session field was not refused");
    };
    assert!(!error.to_string().chars().any(|c| c.is_control() || c == '\u{2028}'), "{error}");
}

/// Issue 25: invalid UTF-8 became U+FFFD, so a password typed with one wrong byte matched one typed with
/// another. A body that is not UTF-8 is not JSON (a U+FFFD that API Gateway put in a new password is the
/// signup policy's to refuse: `password::policy`).
#[test]
fn attack_a_body_with_bytes_that_are_not_utf8_is_not_json() {
    let mut body = br#"{"email": "a@b.co", "password": "velvet tractor "#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe]);
    body.extend_from_slice(br#" orbit"}"#);
    assert_eq!(credentials_from_bytes(&body), Err(ValidationError::InvalidJson));
}
