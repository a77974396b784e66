//! The level decision, case by case: what each setting lets our crates and the dependencies log.

use lambda_http::tracing::subscriber::filter::LevelFilter;

use super::*;

/// Targets of the dependencies that log events or bodies when allowed to: lambda_runtime the raw event at
/// TRACE, the SDK and its HTTP stack requests and responses at DEBUG and TRACE.
const DEPENDENCIES: [&str; 9] = [
    "lambda_runtime::layers::api_response",
    "lambda_runtime",
    "lambda_http",
    "aws_smithy_runtime::client::orchestrator",
    "aws_sdk_kms",
    "aws_sigv4::http_request::sign",
    "hyper_util::client::legacy::pool",
    "h2::codec::framed_write",
    "rustls::client::hs",
];

/// The levels in the signin function.
fn levels(aws: Option<&str>, rust_log: Option<&str>) -> Levels {
    Levels::from_settings("signin", aws, rust_log)
}

#[test]
fn no_setting_is_info_for_everyone() {
    let l = levels(None, None);
    assert_eq!(l.for_target("auth::signin"), LevelFilter::INFO);
    assert_eq!(l.for_target("lambda_runtime"), LevelFilter::INFO);
}

#[test]
fn the_most_verbose_settings_reach_our_crates_and_no_dependency() {
    for (aws, rust_log) in [
        (Some("TRACE"), None),
        (None, Some("trace")),
        (Some("TRACE"), Some("trace")),
        (None, Some("trace,lambda_runtime=trace,aws_smithy_runtime=trace,hyper=trace,h2=trace")),
        (None, Some("lambda_runtime=trace,aws_sdk_kms=trace")),
        (Some("trace"), Some("lambda_runtime=trace")),
        (None, Some("5")),
    ] {
        let l = levels(aws, rust_log);
        for target in DEPENDENCIES {
            assert!(
                l.for_target(target) <= LevelFilter::INFO,
                "{target} at {} for {aws:?} {rust_log:?}",
                l.for_target(target)
            );
        }
        if aws.is_some() || rust_log.is_some_and(|r| r.starts_with("trace") || r == "5") {
            for target in ["auth", "auth::signin", "signin", "signin::main"] {
                assert_eq!(l.for_target(target), LevelFilter::TRACE, "{target} for {aws:?} {rust_log:?}");
            }
        }
    }
}

#[test]
fn lambdas_level_wins_over_rust_log_as_in_lambda_runtime() {
    let l = levels(Some("WARN"), Some("trace,auth=trace"));
    assert_eq!(l.for_target("auth::signup"), LevelFilter::WARN);
    assert_eq!(l.for_target("lambda_runtime"), LevelFilter::WARN);
    assert!(l.per_crate.is_empty());
}

#[test]
fn lambda_spells_levels_in_capitals_and_has_fatal() {
    assert_eq!(levels(Some("DEBUG"), None).ours, LevelFilter::DEBUG);
    assert_eq!(levels(Some("FATAL"), None).ours, LevelFilter::ERROR);
    assert_eq!(levels(Some("Error"), None).ours, LevelFilter::ERROR);
    // An unknown value falls back to RUST_LOG, then to INFO.
    assert_eq!(levels(Some("LOUD"), Some("debug")).ours, LevelFilter::DEBUG);
    assert_eq!(levels(Some("LOUD"), None).ours, LevelFilter::INFO);
}

#[test]
fn a_quieter_setting_quiets_the_dependencies_too() {
    let l = levels(Some("ERROR"), None);
    assert_eq!(l.for_target("aws_smithy_runtime"), LevelFilter::ERROR);
    assert_eq!(levels(None, Some("off")).for_target("lambda_runtime"), LevelFilter::OFF);
}

#[test]
fn rust_log_sets_one_of_our_crates_and_ignores_the_others() {
    let l = levels(None, Some("warn, signin=debug ,lambda_runtime=trace,hyper=debug,nonsense"));
    assert_eq!(l.for_target("signin"), LevelFilter::DEBUG);
    assert_eq!(l.for_target("signup"), LevelFilter::WARN);
    assert_eq!(l.for_target("auth::token"), LevelFilter::WARN);
    assert_eq!(l.for_target("lambda_runtime::layers"), LevelFilter::WARN);
    assert_eq!(l.for_target("hyper::proto"), LevelFilter::WARN);
    assert_eq!(l.ignored, ["lambda_runtime=trace", "hyper=debug", "nonsense"]);
}

#[test]
fn a_crate_is_matched_by_its_whole_name_not_a_prefix() {
    let l = levels(Some("TRACE"), None);
    // A dependency whose name begins like one of ours is still a dependency.
    for target in ["authx", "auth_sdk::client", "hello_world", "signup_flow"] {
        assert_eq!(l.for_target(target), LevelFilter::INFO, "{target}");
    }
    assert_eq!(l.for_target("signin::main"), LevelFilter::TRACE);
}

#[test]
fn the_max_level_hint_covers_every_crate() {
    let l = levels(None, Some("error,signin=trace"));
    assert_eq!(l.max(), LevelFilter::TRACE);
    assert_eq!(levels(Some("TRACE"), None).max(), LevelFilter::TRACE);
    assert_eq!(levels(Some("WARN"), None).max(), LevelFilter::WARN);
}

#[test]
fn an_added_functions_own_crate_is_ours_without_any_list() {
    // `cargo xtask new function orders` writes `auth::logging::init(env!("CARGO_CRATE_NAME"))`: its crate
    // is ours, so its DEBUG logs are not capped at INFO like a dependency's.
    let l = Levels::from_settings("orders", None, Some("orders=debug"));
    assert_eq!(l.for_target("orders"), LevelFilter::DEBUG);
    assert!(l.ignored.is_empty(), "{:?}", l.ignored);
    let l = Levels::from_settings("orders", Some("TRACE"), None);
    assert_eq!(l.for_target("orders::handler"), LevelFilter::TRACE);
    assert_eq!(l.for_target("lambda_runtime"), LevelFilter::INFO);
    // Another function's crate is not this binary's; it is not linked here anyway.
    assert_eq!(Levels::from_settings("orders", None, Some("signin=debug")).ignored, ["signin=debug"]);
}
