//! `new function` and `remove function` decided without touching a file.

use super::*;

fn config() -> Config {
    synth::parse("stages.toml", include_str!("../../../stages.toml")).unwrap_or_else(|e| panic!("{}", e.one_line()))
}

/// The lock file's package names, as `new` reads them.
fn packages() -> Vec<String> {
    lock_packages(include_str!("../../../Cargo.lock"))
}

fn orders() -> NewFunction {
    NewFunction {
        name: "orders".into(),
        method: Method::Get,
        path: "/orders/{id}".into(),
        public: false,
        reads_users: false,
    }
}

fn refused(new: &NewFunction) -> String {
    check_new(new, &Function::all(), &config(), false, &packages()).err().unwrap_or_else(|| panic!("accepted: {new:?}"))
}

#[test]
fn a_new_private_route_with_a_parameter_is_accepted() {
    assert_eq!(check_new(&orders(), &Function::all(), &config(), false, &packages()), Ok(()));
    assert_eq!(orders().parameters(), vec!["id".to_owned()]);
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let cases: [(NewFunction, &str); 16] = [
        (NewFunction { name: "type".into(), ..orders() }, "Rust keyword"),
        (NewFunction { name: "url".into(), ..orders() }, "already uses"),
        (NewFunction { name: "tokio".into(), ..orders() }, "already uses"),
        (NewFunction { public: true, reads_users: true, ..orders() }, "no caller"),
        (NewFunction { path: "/orders/{orderId}".into(), ..orders() }, "lowercase letters"),
        (NewFunction { path: "/orders/{email}".into(), ..orders() }, "not a Rust keyword nor one of"),
        (NewFunction { path: "/post-signup".into(), ..orders() }, "logical id"),
        (NewFunction { name: "hello".into(), ..orders() }, "already declared"),
        (NewFunction { name: "auth".into(), ..orders() }, "workspace's own crates"),
        (NewFunction { name: "Orders".into(), ..orders() }, "cannot name a function"),
        (NewFunction { name: "order-items".into(), ..orders() }, "cannot name a function"),
        (NewFunction { path: "orders".into(), ..orders() }, "must start with `/`"),
        (NewFunction { path: "/orders/{id+}".into(), ..orders() }, "greedy"),
        (NewFunction { path: "/hello".into(), method: Method::Get, ..orders() }, "clashes with hello"),
        (NewFunction { path: "/signin".into(), method: Method::Post, ..orders() }, "clashes with signin"),
        (NewFunction { name: "a".repeat(65), ..orders() }, "characters"),
    ];
    for (new, why) in cases {
        let message = refused(&new);
        assert!(message.contains(why), "{new:?}: {message}");
    }
    assert!(
        check_new(&orders(), &Function::all(), &config(), true, &packages())
            .is_err_and(|m| m.contains("already exists"))
    );
    // Another method on a built-in path is a new route, not a clash.
    assert_eq!(
        check_new(
            &NewFunction { path: "/hello".into(), method: Method::Post, ..orders() },
            &Function::all(),
            &config(),
            false,
            &packages()
        ),
        Ok(())
    );
}

#[test]
fn a_name_too_long_for_a_stage_is_refused_naming_the_stage() {
    // `auth-staging-` is 13 characters: a 52-character name fits dev and prod but not staging.
    let long = NewFunction { name: "o".repeat(52), ..orders() };
    let message = refused(&long);
    assert!(message.contains("stage `staging`") && message.contains("64"), "{message}");
}

#[test]
fn the_declaration_goes_above_the_marker_and_comes_out_again() {
    let source = include_str!("../../../handlers/contract/src/functions.rs");
    let added = insert_declaration(source, &declaration(&orders())).unwrap_or_else(|e| panic!("{e}"));
    assert!(added.contains(
        "        name: \"orders\",\n        route: Some(Route { method: Method::Get, path: \"/orders/{id}\", access: \
         Access::Private }),\n        env: &[],\n        grants: &[],\n"
    ));
    assert!(added.find("name: \"orders\"") < added.find(MARKER), "above the marker");
    assert_eq!(remove_declaration(&added, "orders"), Ok(source.to_owned()), "removal undoes insertion exactly");
    assert!(remove_declaration(source, "orders").is_err());
    assert!(insert_declaration("no marker here", "x").is_err());

    let me = NewFunction { name: "me".into(), path: "/me".into(), reads_users: true, ..orders() };
    assert!(declaration(&me).contains("env: &[EnvVar::TableName],\n        grants: &[Grant::READ_USER],"));
}

#[test]
fn built_in_and_configured_functions_are_not_removed() {
    let all = Function::all();
    assert!(check_remove("hello", &all, "").is_err_and(|m| m.contains("built-in")));
    assert!(check_remove("nope", &all, "").is_err_and(|m| m.contains("no function named")));
    // With a declared added function, stages.toml sections for it block its removal.
    static WITH_ORDERS: [contract::Declaration; 1] = [contract::Declaration {
        name: "orders",
        route: Some(contract::Route { method: Method::Get, path: "/orders", access: contract::Access::Private }),
        env: &[],
        grants: &[],
    }];
    let mut declared = Function::all();
    declared.extend(Function::of(&WITH_ORDERS));
    assert_eq!(check_remove("orders", &declared, "[stages.dev]\nregion = \"us-east-1\"\n"), Ok(()));
    let message = check_remove("orders", &declared, "[stages.prod.functions.orders]\nmemory_mb = 512\n").err();
    assert!(message.is_some_and(|m| m.contains("[stages.prod.functions.orders]")));
}

#[test]
fn the_crate_has_a_tiny_main_the_logic_in_lib_and_a_fixture() {
    let files = crate_files(&orders());
    let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "handlers/orders/Cargo.toml",
            "handlers/orders/src/main.rs",
            "handlers/orders/src/lib.rs",
            "handlers/orders/tests/fixtures/request.json"
        ]
    );
    let text = |name: &str| files.iter().find(|(p, _)| p.ends_with(name)).map(|(_, t)| t.clone()).unwrap_or_default();
    assert!(text("main.rs").contains("auth::proxy::run"));
    assert!(text("lib.rs").contains("auth::request::caller_email(req)"));
    assert!(text("lib.rs").contains("auth::request::path_parameter(req, \"id\")"));
    let fixture: serde_json::Value = serde_json::from_str(&text("request.json")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fixture["path"], "/orders/42");
    assert_eq!(fixture["pathParameters"]["id"], "42");
    assert_eq!(fixture["requestContext"]["authorizer"]["email"], "alice@example.com");
    // A public route greets nobody in particular and carries no authorizer context.
    let status = crate_files(&NewFunction { name: "status".into(), path: "/status".into(), public: true, ..orders() });
    let lib = status.iter().find(|(p, _)| p.ends_with("lib.rs")).map(|(_, t)| t.clone()).unwrap_or_default();
    assert!(!lib.contains("caller_email"), "{lib}");
}
