//! `mail`: a stage's sender and SES identity, each bad value refused where it is written.

use super::*;

const DEV_MAIL: &str = "mail = { sender = \"no-reply@dev.auth.example.com\", domain = \"dev.auth.example.com\" }";
const PROD_IDENTITY: &str = "arn:aws:ses:eu-west-1:123456789012:identity/auth.example.com";

/// BASE with `dev_mail` in place of dev's own mail and `prod_mail` in place of prod's, each only when not
/// empty.
fn with_mail(dev_mail: &str, prod_mail: &str) -> String {
    BASE.lines()
        .map(|line| match line.strip_prefix("mail = { sender = \"no-reply@") {
            Some(rest) if rest.starts_with("dev.") && !dev_mail.is_empty() => format!("{dev_mail}\n"),
            Some(rest) if !rest.starts_with("dev.") && !prod_mail.is_empty() => format!("{prod_mail}\n"),
            _ => format!("{line}\n"),
        })
        .collect()
}

/// BASE without any mail.
fn without_mail() -> String {
    BASE.lines().filter(|l| !l.starts_with("mail = ")).map(|l| format!("{l}\n")).collect()
}

/// A function that sends mail, as the new routes will.
fn mailer() -> Function {
    testkit::declare(
        "mailer",
        "route = { method = \"POST\", path = \"/mailer\", access = \"public\" }\n\
         env = [\"AUTH_CODES_TABLE_NAME\", \"AUTH_MAIL_SENDER\"]\n\
         grants = { codes-table = [\"dynamodb:PutItem\"], mail-identity = [\"ses:SendEmail\"] }",
    )
}

#[test]
fn a_stage_creates_an_identity_for_a_domain_or_names_an_existing_one() {
    let prod = format!("mail = {{ sender = \"no-reply@mail.auth.example.com\", identity = \"{PROD_IDENTITY}\" }}");
    let c = ok(&with_mail(DEV_MAIL, &prod));
    assert_eq!(
        c.stages["dev"].mail,
        Some(Mail {
            sender: "no-reply@dev.auth.example.com".into(),
            identity: MailIdentity::Domain("dev.auth.example.com".into())
        })
    );
    let prod = c.stages["prod"].mail.clone().unwrap_or_else(|| panic!("prod names its mail"));
    assert_eq!(prod.identity, MailIdentity::Import { arn: PROD_IDENTITY.into(), name: "auth.example.com".into() });
    assert_eq!(prod.sender, "no-reply@mail.auth.example.com", "a subdomain of the identity's domain");
    // An address identity sends as that address.
    let address = "arn:aws:ses:eu-west-1:123456789012:identity/team@example.com";
    let c = ok(&with_mail("", &format!("mail = {{ sender = \"team@example.com\", identity = \"{address}\" }}")));
    assert_eq!(c.stages["prod"].mail.as_ref().map(|m| m.identity.name()), Some("team@example.com"));
    let quiet: Vec<Function> = testkit::functions()
        .into_iter()
        .filter(|f| !f.grants().iter().any(|g| g.on == contract::Target::MailIdentity))
        .collect();
    let c = parse("stages.toml", &without_mail(), &quiet).unwrap_or_else(|e| panic!("{}", e.one_line()));
    assert_eq!(c.stages["dev"].mail, None, "optional while no function sends mail");
}

#[test]
fn the_sender_is_an_address_the_identity_verifies() {
    for bad in ["no-reply", "No Reply <no-reply@dev.auth.example.com>", "no-reply@Dev.Auth.example.com", "a..b@x.io"] {
        let text = with_mail(&DEV_MAIL.replace("no-reply@dev.auth.example.com", bad), "");
        assert_error(&text, &format!("`{bad}` is not an email address"), &format!("\"{bad}\""));
    }
    let other = with_mail(&DEV_MAIL.replace("no-reply@dev.auth", "no-reply@evil"), "");
    assert_error(&other, "sender `no-reply@evil.example.com` is not at `dev.auth.example.com`", "\"no-reply@evil");
    // A parent of the identity's domain is not under it, nor is a name that merely ends alike.
    let parent = with_mail(&DEV_MAIL.replace("no-reply@dev.auth.example.com", "no-reply@auth.example.com"), "");
    assert_error(&parent, "is not at `dev.auth.example.com` or a subdomain of it", "\"no-reply@auth");
    let alike = with_mail(&DEV_MAIL.replace("no-reply@dev.auth.example.com", "x@evildev.auth.example.com"), "");
    assert_error(&alike, "is not at `dev.auth.example.com`", "\"x@evildev");
    let address = "arn:aws:ses:eu-west-1:123456789012:identity/team@example.com";
    let text = with_mail("", &format!("mail = {{ sender = \"other@example.com\", identity = \"{address}\" }}"));
    assert_error(&text, "sender `other@example.com` is not `team@example.com`", "\"other@example.com\"");
}

#[test]
fn a_stage_names_one_identity_of_its_own_region_and_account() {
    let both = format!(
        "mail = {{ sender = \"a@auth.example.com\", domain = \"auth.example.com\", identity = \"{PROD_IDENTITY}\" }}"
    );
    assert_error(&with_mail("", &both), "mail names both a domain and an identity", "\"arn:aws:ses");
    let neither = "mail = { sender = \"a@auth.example.com\" }";
    assert_error(&with_mail("", neither), "mail names neither a domain nor an identity", "{ sender = \"a@auth");
    let identity = |arn: &str| format!("mail = {{ sender = \"a@auth.example.com\", identity = \"{arn}\" }}");
    let region = identity(&PROD_IDENTITY.replace("eu-west-1", "us-east-1"));
    assert_error(&with_mail("", &region), "is in region `us-east-1`, but the stage is in `eu-west-1`", "\"arn:aws:ses");
    let account = identity(&PROD_IDENTITY.replace("123456789012", "999999999999"));
    assert_error(&with_mail("", &account), "belongs to account 999999999999", "\"arn:aws:ses");
    let service = identity("arn:aws:sns:eu-west-1:123456789012:identity/auth.example.com");
    assert_error(&with_mail("", &service), "service `sns`, not `ses`", "\"arn:aws:sns");
    let shape = identity("arn:aws:ses:eu-west-1:123456789012:configuration-set/auth");
    assert_error(&with_mail("", &shape), "must start with `identity/`", "\"arn:aws:ses");
    let domain = DEV_MAIL.replace("domain = \"dev.auth.example.com\"", "domain = \"dev_auth.example.com\"");
    assert_error(&with_mail(&domain, ""), "`dev_auth.example.com` is not a domain name", "\"dev_auth");
    let unknown = DEV_MAIL.replace(" }", ", from_name = \"Auth\" }");
    assert_error(&with_mail(&unknown, ""), "unknown field `from_name`", "from_name");
}

#[test]
fn a_stage_whose_functions_send_mail_must_name_its_mail() {
    let functions = testkit::with(&[mailer()]);
    let text = without_mail().replace("region = \"us-east-1\"\n\n", &format!("region = \"us-east-1\"\n{DEV_MAIL}\n\n"));
    let e = match parse("stages.toml", &text, &functions) {
        Ok(_) => panic!("prod sends mail with no identity"),
        Err(e) => e,
    };
    assert!(
        e.message().contains("stage `prod` has no `mail`, but ") && e.message().contains("mailer"),
        "{}",
        e.message()
    );
    assert!(e.help().is_some_and(|h| h.contains("[stages.prod]") && h.contains("mail = { sender")), "{:?}", e.help());
    assert_eq!(e.location(), Some(at(&text, "prod]\nregion")));
    let prod = "mail = { sender = \"no-reply@auth.example.com\", domain = \"auth.example.com\" }";
    assert!(parse("stages.toml", &with_mail(DEV_MAIL, prod), &functions).is_ok());
}

#[test]
fn two_stages_that_may_share_an_account_create_no_identity_twice() {
    let twice = format!("{BASE}\n[stages.qa]\nregion = \"us-east-1\"\n{DEV_MAIL}\n");
    assert_error(&twice, "stages `dev` and `qa` would both create the SES identity of dev.auth.example.com", "qa]");
    // Another region, or two named accounts apart, have identities of their own.
    ok(&twice.replace("[stages.qa]\nregion = \"us-east-1\"", "[stages.qa]\nregion = \"us-west-2\""));
    let apart = twice
        .replace("[stages.dev]\n", "[stages.dev]\naccount = \"111111111111\"\n")
        .replace("[stages.qa]\n", "[stages.qa]\naccount = \"222222222222\"\n");
    ok(&apart);
}
