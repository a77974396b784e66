//! Tests of `stages.toml` parsing: what is accepted, how it resolves, and every bad input's message
//! and location.

use super::*;

const BASE: &str = r#"project = "auth"
region = "us-east-1"
architecture = "arm64"

[defaults]
memory_mb = 256
timeout_seconds = 10
log_retention_days = 30
token_lifetime_seconds = 3600
authorizer_cache_ttl_seconds = 300

[defaults.functions.signin]
memory_mb = 1024

[stages.dev]
mail = { sender = "no-reply@dev.auth.example.com", domain = "dev.auth.example.com" }
region = "us-east-1"

[stages.prod]
mail = { sender = "no-reply@auth.example.com", domain = "auth.example.com" }
region = "eu-west-1"
account = "123456789012"
protect = true
memory_mb = 512
"#;

/// A stage section `[stages.NAME]` with mail of its own (every stage whose functions mail names it).
fn stage_section(name: &str) -> String {
    format!("[stages.{name}]\nmail = {{ sender = \"no-reply@{name}.example.com\", domain = \"{name}.example.com\" }}\n")
}

fn ok(text: &str) -> Config {
    parse("stages.toml", text, &testkit::functions()).unwrap_or_else(|e| panic!("{}", e.one_line()))
}

fn bad(text: &str) -> ConfigError {
    match parse("stages.toml", text, &testkit::functions()) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

/// The 1-based line and column where `needle` first occurs.
fn at(text: &str, needle: &str) -> (usize, usize) {
    let offset = text.find(needle).unwrap_or_else(|| panic!("{needle:?} not in text"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = offset - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

/// Asserts an error's message contains `message`, and that it points at `needle` (the nth occurrence
/// when `needle` appears more than once is not supported: pick a unique needle).
fn assert_error(text: &str, message: &str, needle: &str) {
    let e = bad(text);
    assert!(e.message().contains(message), "message {:?} lacks {message:?}", e.message());
    assert_eq!(e.location(), Some(at(text, needle)), "wrong place for {:?}", e.message());
    assert!(e.help().is_some_and(|h| !h.is_empty()), "no help for {:?}", e.message());
    assert!(e.one_line().starts_with(&format!("stages.toml:{}:{}: ", at(text, needle).0, at(text, needle).1)));
}

#[test]
fn base_config_resolves_defaults_and_overrides() {
    let c = ok(BASE);
    assert_eq!(c.project, "auth");
    let dev = c.stage("dev").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dev.functions[&testkit::function("signin")].memory_mb, 1024, "function default beats stage fallback");
    assert_eq!(dev.functions[&testkit::function("hello")].memory_mb, 256);
    assert!(!dev.protect);
    assert_eq!(dev.table, Provision::Create);
    let prod = c.stage("prod").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(prod.region, "eu-west-1");
    assert_eq!(prod.account.as_deref(), Some("123456789012"));
    assert_eq!(prod.functions[&testkit::function("hello")].memory_mb, 512, "stage beats [defaults]");
    assert_eq!(prod.functions[&testkit::function("signin")].memory_mb, 512, "stage beats the function in [defaults]");
    assert_eq!(prod.authorizer_cache_ttl_seconds, 300);
    assert_eq!(prod.architecture, Architecture::Arm64);
}

#[test]
fn function_in_stage_beats_everything() {
    let c = ok(&format!(
        "{BASE}\n[stages.prod.functions.signin]\nmemory_mb = 2048\ntimeout_seconds = 20\nreserved_concurrency = 50\n"
    ));
    let prod = &c.stages["prod"];
    assert_eq!(
        prod.functions[&testkit::function("signin")],
        FunctionSettings { memory_mb: 2048, timeout_seconds: 20, log_retention_days: 30, reserved_concurrency: 50 }
    );
    assert_eq!(
        prod.functions[&testkit::function("signup")].reserved_concurrency,
        10,
        "the built-in cap when none is set"
    );
}

#[test]
fn reserved_concurrency_layers_like_memory() {
    let text = BASE
        .replace("[defaults.functions.signin]\n", "[defaults.functions.signin]\nreserved_concurrency = 30\n")
        .replace("memory_mb = 512", "memory_mb = 512\nreserved_concurrency = 200");
    let c = ok(&text);
    assert_eq!(c.stages["dev"].functions[&testkit::function("signin")].reserved_concurrency, 30);
    assert_eq!(c.stages["dev"].functions[&testkit::function("hello")].reserved_concurrency, 10);
    assert_eq!(
        c.stages["prod"].functions[&testkit::function("signin")].reserved_concurrency,
        200,
        "stage beats [defaults]"
    );
}

#[test]
fn zero_reserved_concurrency_would_stop_the_function() {
    let text = BASE.replace("memory_mb = 512", "reserved_concurrency = 0");
    let e = bad(&text);
    assert!(e.help().unwrap_or_default().contains("0 would stop the function"), "{}", e.one_line());
    assert!(e.message().contains("reserved_concurrency = 0 is out of range"), "{}", e.message());
    let (line, column) = at(&text, "reserved_concurrency = 0");
    assert_eq!(e.location(), Some((line, column + "reserved_concurrency = ".len())), "points at the value");
}

#[test]
fn imports_resolve_names_from_arns() {
    let text = BASE.replace(
        "region = \"us-east-1\"\n\n[stages.prod]",
        "region = \"us-east-1\"\ntable = \"arn:aws:dynamodb:us-east-1:123456789012:table/Dev-Auth\"\n\n[stages.prod]",
    );
    let c = ok(&text);
    assert_eq!(
        c.stages["dev"].table,
        Provision::Import {
            arn: "arn:aws:dynamodb:us-east-1:123456789012:table/Dev-Auth".into(),
            name: "Dev-Auth".into()
        }
    );
}

#[test]
fn unknown_stage_lists_the_known_ones() {
    let c = ok(BASE);
    let e = c.stage("qa").err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(e, "unknown stage `qa`; stages.toml defines dev, prod");
}

#[test]
fn unknown_key() {
    let text = BASE.replace("memory_mb = 512", "memroy_mb = 512");
    assert_error(&text, "unknown field `memroy_mb`", "memroy_mb");
}

#[test]
fn wrong_type() {
    let text = BASE.replace("protect = true", "protect = \"yes\"");
    assert_error(&text, "invalid type", "\"yes\"");
}

#[test]
fn negative_memory_is_a_type_error() {
    let text = BASE.replace("memory_mb = 512", "memory_mb = -5");
    assert_error(&text, "invalid value", "-5");
}

#[test]
fn memory_out_of_range() {
    let text = BASE.replace("memory_mb = 1024", "memory_mb = 99999");
    assert_error(&text, "memory_mb = 99999 is out of range", "99999");
}

#[test]
fn timeout_beyond_api_gateway_limit() {
    let text = BASE.replace("timeout_seconds = 10", "timeout_seconds = 60");
    let e = bad(&text);
    assert!(e.help().unwrap_or_default().contains("29 s"));
    assert_error(&text, "timeout_seconds = 60 is out of range", "60");
}

#[test]
fn cache_ttl_out_of_range() {
    let text = BASE.replace("authorizer_cache_ttl_seconds = 300", "authorizer_cache_ttl_seconds = 4000");
    assert_error(&text, "authorizer_cache_ttl_seconds = 4000 is out of range", "4000");
}

#[test]
fn retention_not_offered_by_cloudwatch() {
    let text = BASE.replace("log_retention_days = 30", "log_retention_days = 31");
    assert_error(&text, "log_retention_days = 31 is not a retention", "31");
}

#[test]
fn duplicate_stage() {
    let text = format!("{BASE}\n[stages.dev]\nregion = \"us-west-2\"\n");
    let e = bad(&text);
    assert!(e.message().contains("duplicate"), "{}", e.message());
    // toml points at the second `[stages.dev]` header.
    let second = text.rfind("[stages.dev]").unwrap_or(0);
    let line = text[..second].matches('\n').count() + 1;
    assert_eq!(e.location().map(|l| l.0), Some(line));
}

#[test]
fn bad_stage_name() {
    let text = BASE.replace("[stages.prod]", "[stages.Prod_1]");
    assert_error(&text, "invalid stage name `Prod_1`", "Prod_1");
}

#[test]
fn name_too_long_for_aws() {
    let text = BASE
        .replace("project = \"auth\"", "project = \"authentication-service\"")
        .replace("[stages.dev]", "[stages.development-sandbox-for-team-42]");
    assert_error(&text, "is 65 characters; AWS allows 64", "development-sandbox-for-team-42");
}

#[test]
fn arn_of_the_wrong_service() {
    let text = BASE.replace(
        "memory_mb = 512",
        "table = \"arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab\"",
    );
    assert_error(&text, "service `kms`, not `dynamodb`", "\"arn:aws:kms");
}

#[test]
fn arn_in_the_wrong_region() {
    let text = BASE.replace("memory_mb = 512", "table = \"arn:aws:dynamodb:us-east-1:123456789012:table/Prod-Auth\"");
    assert_error(&text, "is in region `us-east-1`, but the stage is in `eu-west-1`", "\"arn:aws:dynamodb");
}

#[test]
fn arn_of_another_account() {
    let text =
        BASE.replace("memory_mb = 512", "secret = \"arn:aws:secretsmanager:eu-west-1:999999999999:secret:jwt-AbCdEf\"");
    assert_error(&text, "belongs to account 999999999999", "\"arn:aws:secretsmanager");
}

#[test]
fn arn_of_the_wrong_shape() {
    let text = BASE.replace("memory_mb = 512", "key = \"arn:aws:kms:eu-west-1:123456789012:alias/auth\"");
    assert_error(&text, "must start with `key/`", "\"arn:aws:kms");
}

#[test]
fn unknown_function() {
    let text = format!("{BASE}\n[stages.prod.functions.signon]\nmemory_mb = 512\n");
    assert_error(&text, "no function named `signon` is declared", "signon");
}

#[test]
fn bad_region() {
    let text = BASE.replace("region = \"eu-west-1\"", "region = \"europe\"");
    assert_error(&text, "`europe` is not an AWS region", "\"europe\"");
}

#[test]
fn bad_account() {
    let text = BASE.replace("account = \"123456789012\"", "account = \"12345\"");
    assert_error(&text, "`12345` is not an AWS account id", "\"12345\"");
}

#[test]
fn bad_architecture() {
    let text = BASE.replace("architecture = \"arm64\"", "architecture = \"arm\"");
    assert_error(&text, "unknown variant `arm`", "\"arm\"");
}

#[test]
fn certificate_in_another_region() {
    let text = format!(
        "{BASE}\n[stages.prod.domain]\nname = \"api.example.com\"\nbase_path = \"prod\"\ncertificate_arn = \"arn:aws:acm:us-east-1:123456789012:certificate/1234abcd-12ab-34cd-56ef-1234567890ab\"\n"
    );
    assert_error(&text, "is in region `us-east-1`, but the stage is in `eu-west-1`", "\"arn:aws:acm");
}

#[test]
fn two_stages_on_one_base_path() {
    let text = format!(
        "{BASE}\n[stages.dev.domain]\nname = \"api.example.com\"\nbase_path = \"v1\"\n\n[stages.prod.domain]\nname = \"api.example.com\"\nbase_path = \"v1\"\n"
    );
    let e = bad(&text);
    assert!(e.message().contains("map the same base path"), "{}", e.message());
}

#[test]
fn cache_longer_than_token() {
    let text = BASE.replace("token_lifetime_seconds = 3600", "token_lifetime_seconds = 120");
    assert_error(&text, "is longer than token_lifetime_seconds (120)", "300");
}

#[test]
fn reserved_tag_key() {
    let text = BASE.replace("memory_mb = 512", "tags = { \"aws:owner\" = \"me\" }");
    assert_error(&text, "invalid tag key `aws:owner`", "\"aws:owner\"");
}

#[test]
fn syntax_error_has_a_location() {
    let text = BASE.replace("protect = true", "protect = ");
    let e = bad(&text);
    assert!(e.location().is_some());
}

#[test]
fn no_stages() {
    let text = "project = \"auth\"\nregion = \"us-east-1\"\narchitecture = \"arm64\"\nstages = {}\n";
    assert_error(text, "no stages defined", "{}");
}

#[test]
fn more_tags_than_aws_allows() {
    let tags: Vec<String> = (0..51).map(|i| format!("t{i} = \"v\"")).collect();
    let text = BASE.replace("memory_mb = 512", &format!("tags = {{ {} }}", tags.join(", ")));
    assert_error(&text, "stage prod has 51 tags with those of [defaults]; AWS allows 50 per resource", "t0 =");
}

#[test]
fn a_protected_stage_must_name_its_account() {
    let text = BASE.replace("account = \"123456789012\"\n", "");
    assert_error(&text, "stage `prod` is protected but does not name its account", "true");
    // Unprotected stages may leave it out, and `protect = false` needs none.
    ok(&text.replace("protect = true", "protect = false"));
}

#[test]
fn artifact_bucket_names_follow_s3_rules() {
    let with = |name: &str| BASE.replace("[stages.dev]\n", &format!("[stages.dev]\nartifact_bucket = \"{name}\"\n"));
    assert_eq!(
        ok(&with("my-org.auth-artifacts")).stages["dev"].artifact_bucket.as_deref(),
        Some("my-org.auth-artifacts")
    );
    assert_eq!(ok(BASE).stages["dev"].artifact_bucket, None);
    for bad_name in ["Upper-Case", "ab", "-starts-with-hyphen", "ends.", "two..dots", "192.168.1.1", "xn--punycode"] {
        assert_error(&with(bad_name), "is not a valid S3 bucket name", &format!("\"{bad_name}\""));
    }
}

#[test]
fn ip_rate_limits_layer_like_throttle_and_can_be_turned_off() {
    let fallback = Some(IpRateLimits { auth: 100, all: 2000 });
    assert_eq!(ok(BASE).stages["dev"].ip_rate_limits, fallback, "the built-in limits when none are set");
    let text = BASE
        .replace("[defaults]\n", "[defaults]\nip_rate_limits = { auth = 50, all = 1000 }\n")
        .replace("memory_mb = 512", "memory_mb = 512\nip_rate_limits = \"off\"");
    let c = ok(&text);
    assert_eq!(c.stages["dev"].ip_rate_limits, Some(IpRateLimits { auth: 50, all: 1000 }), "[defaults] beats fallback");
    assert_eq!(c.stages["prod"].ip_rate_limits, None, "a stage turns them off");
    let c = ok(&text.replace("ip_rate_limits = \"off\"", "ip_rate_limits = { auth = 10, all = 10 }"));
    assert_eq!(c.stages["prod"].ip_rate_limits, Some(IpRateLimits { auth: 10, all: 10 }), "WAF's lowest limit");
    // Off in [defaults], on again in one stage.
    let c = ok(&BASE
        .replace("[defaults]\n", "[defaults]\nip_rate_limits = \"off\"\n")
        .replace("memory_mb = 512", "ip_rate_limits = { auth = 20, all = 400 }"));
    assert_eq!((c.stages["dev"].ip_rate_limits, c.stages["prod"].ip_rate_limits.map(|l| l.all)), (None, Some(400)));
}

#[test]
fn ip_rate_limits_below_what_waf_accepts() {
    let text = BASE.replace("memory_mb = 512", "ip_rate_limits = { auth = 9, all = 2000 }");
    assert_error(&text, "ip_rate_limits auth = 9 is out of range", "9,");
    let e = bad(&text);
    assert!(e.help().unwrap_or_default().contains("\"off\""), "the help names the way to turn them off");
    let text = BASE.replace("memory_mb = 512", "ip_rate_limits = { auth = 100, all = 2000000001 }");
    assert_error(&text, "ip_rate_limits all = 2000000001 is out of range", "2000000001");
    let text = BASE.replace("[defaults]\n", "[defaults]\nip_rate_limits = { auth = 0, all = 0 }\n");
    assert_error(&text, "ip_rate_limits auth = 0 is out of range", "0,");
}

#[test]
fn ip_rate_limits_auth_above_all_would_never_apply() {
    let text = BASE.replace("memory_mb = 512", "ip_rate_limits = { auth = 3000, all = 2000 }");
    assert_error(&text, "ip_rate_limits auth = 3000 is above all = 2000", "3000");
}

#[test]
fn ip_rate_limits_shape_errors_point_at_the_value() {
    let text = BASE.replace("memory_mb = 512", "ip_rate_limits = \"of\"");
    assert_error(&text, r#"expected "off" or a table"#, "\"of\"");
    let text = BASE.replace("memory_mb = 512", "ip_rate_limits = { auth = 100 }");
    assert_error(&text, "missing field `all`", "{ auth");
    let text = BASE.replace("memory_mb = 512", "ip_rate_limits = { auth = 100, all = 2000, signin = 5 }");
    assert_error(&text, "unknown field `signin`", "signin = 5");
    let text = BASE.replace("memory_mb = 512", "ip_rate_limits = 100");
    assert_error(&text, r#"expected "off" or a table"#, "100");
}

#[test]
fn brute_force_protection_and_password_length_resolve_and_are_checked() {
    let c = ok(BASE);
    let dev = &c.stages["dev"];
    assert_eq!((dev.lockout.daily_per_address, dev.lockout.daily_per_email), (50, 200), "defaults a reviewer signs");
    assert_eq!(dev.password_min_chars, 15);
    let text = BASE.replace(
        "[stages.dev]\n",
        "[stages.dev]\npassword_min_chars = 12\nlockout = { max_failures = 5, window_seconds = 600, cooldown_seconds = 600, daily_per_address = 20, daily_per_email = 100 }\n",
    );
    let dev = ok(&text).stages["dev"].clone();
    assert_eq!((dev.password_min_chars, dev.lockout.daily_per_address, dev.lockout.daily_per_email), (12, 20, 100));
    let short = BASE.replace("[stages.prod]\n", "password_min_chars = 6\n[stages.prod]\n");
    assert_error(&short, "password_min_chars = 6 is out of range", "6\n[stages.prod]");
    let loose = BASE.replace(
        "[stages.dev]\n",
        "[stages.dev]\nlockout = { max_failures = 10, window_seconds = 600, cooldown_seconds = 600, daily_per_address = 5 }\n",
    );
    assert_error(&loose, "daily_per_address = 5 is out of range", "{ max_failures");
}

const CONNECTION: &str =
    "arn:aws:codeconnections:us-east-1:123456789012:connection/0f3c8a52-6d1e-4b7a-9c2d-5e8f1a3b7c90";

const REVIEWER_SHA256: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn with_pipeline(extra: &str) -> String {
    format!(
        "{BASE}\n[pipeline]\nconnection_arn = \"{CONNECTION}\"\nrepository = \"example-org/auth\"\nreviewer = \
         \"0123456789abcdef0123456789abcdef01234567\"\nreviewer_sha256 = {{ arm64 = \"{REVIEWER_SHA256}\" }}\n{extra}"
    )
}

#[test]
fn pipelines_default_to_the_stage_branch_main_for_prod_and_risky_approval() {
    let c = ok(&with_pipeline(&format!(
        "\n{}[stages.staging.pipeline]\nbranch = \"release/2\"\napproval = \"always\"\n",
        stage_section("staging")
    )));
    let branch = |s: &str| c.stages[s].pipeline.as_ref().map(|p| (p.branch.clone(), p.approval));
    assert_eq!(branch("dev"), Some(("dev".to_owned(), Approval::Risky)));
    assert_eq!(branch("prod"), Some(("main".to_owned(), Approval::Risky)));
    assert_eq!(branch("staging"), Some(("release/2".to_owned(), Approval::Always)));
    assert!(ok(BASE).stages.values().all(|s| s.pipeline.is_none()));
}

#[test]
fn bad_pipeline_settings_are_refused_where_they_are_written() {
    let text = with_pipeline("").replace(CONNECTION, "arn:aws:codecommit:us-east-1:123456789012:auth");
    assert_error(&text, "not `codeconnections`", "\"arn:aws:codecommit");
    let text = with_pipeline("").replace("connection/0f3c8a52-6d1e-4b7a-9c2d-5e8f1a3b7c90", "connection/x");
    assert_error(&text, "does not end in `connection/<id>`", "\"arn:aws:codeconnections");
    // prod names account 123456789012; a connection of another account cannot serve its pipeline.
    let text = with_pipeline("").replace("123456789012:connection", "999999999999:connection");
    assert_error(&text, "belongs to account 999999999999", "\"arn:aws:codeconnections");
    let text = with_pipeline("").replace("example-org/auth", "nope");
    assert_error(&text, "is not a repository id", "\"nope\"");
    let text = with_pipeline("\n[stages.dev.pipeline]\nbranch = \"feature..x\"\n");
    assert_error(&text, "is not a branch name", "\"feature..x\"");
    let text = with_pipeline("\n[stages.dev.pipeline]\napproval = \"never\"\n");
    assert_error(&text, "unknown variant `never`", "\"never\"");
    let text = format!("{BASE}\n[stages.dev.pipeline]\nbranch = \"dev\"\n");
    assert_error(&text, "has no [pipeline]", "dev]\nmail");
    let text = with_pipeline("").replace("0123456789abcdef0123456789abcdef01234567\"", "main\"");
    assert_error(&text, "is not a full commit id", "\"main\"");
    // The reviewer binary: pinned by a SHA-256 for the architecture each stage runs on.
    let text = with_pipeline("").replace(&format!("reviewer_sha256 = {{ arm64 = \"{REVIEWER_SHA256}\" }}\n"), "");
    assert_error(&text, "names no reviewer_sha256", "\"0123456789abcdef0123456789abcdef01234567\"");
    let text = with_pipeline("").replace(REVIEWER_SHA256, "abc");
    assert_error(&text, "`abc` is not a SHA-256", "\"abc\"");
    let text = with_pipeline("").replace(REVIEWER_SHA256, &REVIEWER_SHA256.to_uppercase());
    assert_error(&text, "is not a SHA-256", "\"0123456789ABCDEF");
    let text = with_pipeline("").replace("{ arm64 =", "{ riscv =");
    assert_error(&text, "`riscv` is not an architecture", "\"0123456789abcdef0123456789abcdef0123456789abcdef");
    let text = with_pipeline("").replace("{ arm64 =", "{ x86_64 =");
    assert_error(&text, "runs on arm64, but reviewer_sha256 names no arm64 binary", "{ x86_64");
    // `dev` and `dev-eu` would share every name pattern of `dev`.
    let text = format!("{BASE}\n{}", stage_section("dev-eu"));
    assert_error(&text, "begins with stage `dev` and a hyphen", "dev-eu]");
}

#[test]
fn two_pipelines_may_share_neither_a_branch_nor_their_artifact_prefix() {
    let text = with_pipeline("\n[stages.prod.pipeline]\nbranch = \"dev\"\n");
    assert_error(&text, "both deploy from branch `dev`", "prod]\nmail");
    // `auth-integration-abcx` and `auth-integration-abcy`: one 20-character prefix.
    let text = with_pipeline(&format!("\n{}{}", stage_section("integration-abcx"), stage_section("integration-abcy")));
    assert_error(&text, "share their first 20 characters", "integration-abcy]");
}

/// `[defaults]` and a stage are one shape: each key a stage inherits is listed once ([`INHERITED`]), each
/// of a stage's own once ([`STAGE_ONLY`]), and together they are every key toml accepts there.
#[test]
fn every_key_of_a_stage_is_inherited_or_its_own_and_listed_once() {
    let text = BASE.replace("[defaults]\n", "[defaults]\nno_such_key = 1\n");
    let message = bad(&text).message().to_owned();
    let expected = message.split("expected one of").nth(1).unwrap_or_else(|| panic!("no key list in {message:?}"));
    let mut accepted: Vec<&str> = expected.split(',').map(|k| k.trim().trim_matches('`')).collect();
    accepted.sort_unstable();
    let mut listed: Vec<&str> = INHERITED.iter().map(|(k, _)| *k).chain(STAGE_ONLY.iter().copied()).collect();
    listed.sort_unstable();
    assert_eq!(accepted, listed, "raw.rs: list a new key in INHERITED or STAGE_ONLY");
}

#[test]
fn defaults_refuse_each_key_only_a_stage_has() {
    let samples = [
        ("region", "region = \"us-west-2\""),
        ("account", "account = \"123456789012\""),
        ("protect", "protect = true"),
        ("artifact_bucket", "artifact_bucket = \"my-bucket\""),
        ("architecture", "architecture = \"x86_64\""),
        ("table", "table = \"create\""),
        ("key", "key = \"create\""),
        ("secret", "secret = \"create\""),
        ("domain", "domain = { name = \"api.example.com\" }"),
        ("mail", "mail = { sender = \"a@example.com\", domain = \"example.com\" }"),
        ("pipeline", "pipeline = { branch = \"main\" }"),
    ];
    assert_eq!(samples.map(|(k, _)| k), *STAGE_ONLY);
    for (key, line) in samples {
        let text = BASE.replace("[defaults]\n", &format!("[defaults]\n{line}\n"));
        let value = line.split_once(" = ").map(|(_, v)| v).unwrap_or_else(|| panic!("{line}"));
        assert_error(&text, &format!("`{key}` is a stage's own setting; [defaults] cannot give it"), value);
    }
}

mod mail;
