//! `new function` and `remove function` decided without touching a file, and the crates rendered from
//! the templates for each shape.

use super::*;

const STAGES: &str = include_str!("../../../stages.toml");

/// The crates under handlers/ as they are in this checkout.
fn manifests() -> Vec<devenv::HandlerManifest> {
    let root = devenv::workspace_root().unwrap_or_else(|e| panic!("{e}"));
    devenv::handler_manifests(&root).unwrap_or_else(|e| panic!("{e}"))
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

fn check(new: &NewFunction) -> Result<(), String> {
    check_new(new, &manifests(), STAGES, false, &packages())
}

fn refused(new: &NewFunction) -> String {
    check(new).err().unwrap_or_else(|| panic!("accepted: {new:?}"))
}

#[test]
fn a_new_private_route_with_a_parameter_is_accepted() {
    assert_eq!(check(&orders()), Ok(()));
    assert_eq!(orders().parameters(), [Parameter { name: "id".into(), field: "id".into() }]);
}

#[test]
fn what_api_gateway_allows_in_a_parameter_is_accepted_and_read_into_a_rust_field() {
    // The README and every suggestion use {order_id}; camelCase and the rest of API Gateway's rule pass too.
    for path in ["/orders/{order_id}", "/orders/{orderId}", "/orders/{order-id}", "/v1/{type}", "/x/{2fa}"] {
        assert_eq!(check(&NewFunction { path: path.into(), ..orders() }), Ok(()), "{path}");
    }
    let field = |p: &str| field_name(p);
    assert_eq!(field("order_id"), "order_id");
    assert_eq!(field("orderId"), "order_id");
    assert_eq!(field("order-id"), "order_id");
    assert_eq!(field("order.ID"), "order_id");
    assert_eq!(field("type"), "type_", "a keyword");
    assert_eq!(field("2fa"), "p_2fa", "a leading digit");
    assert_eq!(field("_"), "p", "nothing but punctuation");
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let cases: [(NewFunction, &str); 16] = [
        (NewFunction { name: "type".into(), ..orders() }, "Rust keyword"),
        (NewFunction { name: "url".into(), ..orders() }, "already uses"),
        (NewFunction { name: "tokio".into(), ..orders() }, "already uses"),
        (NewFunction { public: true, reads_users: true, ..orders() }, "no caller"),
        (NewFunction { path: "/orders/{order id}".into(), ..orders() }, "API Gateway allows letters, digits"),
        (NewFunction { path: "/orders/{orderId}/{order_id}".into(), ..orders() }, "both be read into the field"),
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
    assert!(check_new(&orders(), &manifests(), STAGES, true, &packages()).is_err_and(|m| m.contains("already exists")));
    // Another method on a built-in path is a new route, not a clash.
    assert_eq!(check(&NewFunction { path: "/hello".into(), method: Method::Post, ..orders() }), Ok(()));
}

#[test]
fn a_name_too_long_for_a_stage_is_refused_naming_the_stage() {
    // `auth-staging-` is 13 characters: a 52-character name fits dev and prod but not staging.
    let message = refused(&NewFunction { name: "o".repeat(52), ..orders() });
    assert!(message.contains("auth-staging-") && message.contains("64"), "{message}");
}

fn function(name: &str, table: &str) -> Function {
    crate::declared::declare(name, table)
}

#[test]
fn built_in_unknown_and_configured_functions_are_not_removed() {
    let mut declared = crate::declared::functions();
    let why = |name: &str, declared: &[Function], stages: &str| {
        check_remove(name, declared, "stages.toml", stages).err().map(|e| format!("{e:#}")).unwrap_or_default()
    };
    assert!(why("hello", &declared, "").contains("built-in"));
    assert!(why("nope", &declared, "").contains("no function named `nope`"));
    declared.push(function("orders", "route = { method = \"GET\", path = \"/orders\", access = \"private\" }"));
    assert!(check_remove("orders", &declared, "stages.toml", STAGES).is_ok());
    // Settings for it in any TOML spelling block the removal, pointing at them.
    let spellings = [
        "[stages.prod.functions.orders]\nmemory_mb = 512\n",
        "[stages.dev.functions.\"orders\"]\nmemory_mb = 512\n",
        "[stages.qa]\nfunctions.orders.memory_mb = 512\n",
        "[stages.qa]\nfunctions = { orders = { memory_mb = 512 } }\n",
        "[defaults.functions.'orders']\nmemory_mb = 512\n",
    ];
    for spelling in spellings {
        let stages = format!("{STAGES}\n{spelling}");
        let error =
            check_remove("orders", &declared, "stages.toml", &stages).err().unwrap_or_else(|| panic!("{spelling}"));
        let config = error.downcast_ref::<crate::BadConfig>().unwrap_or_else(|| panic!("{spelling}: {error:#}"));
        assert!(config.0.message().contains("still configures `orders`"), "{spelling}: {}", config.0.one_line());
        assert!(config.0.location().is_some_and(|(line, _)| line > STAGES.lines().count()), "{spelling}");
    }
}

fn files(new: &NewFunction) -> Vec<(String, String)> {
    crate_files(new).unwrap_or_else(|e| panic!("{e}"))
}

fn text(files: &[(String, String)], name: &str) -> String {
    files.iter().find(|(p, _)| p.ends_with(name)).map(|(_, t)| t.clone()).unwrap_or_default()
}

#[test]
fn the_crate_has_a_tiny_main_the_logic_in_lib_a_fixture_and_its_declaration() {
    let files = files(&orders());
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
    assert!(text(&files, "main.rs").contains("auth::proxy::run"));
    assert!(text(&files, "main.rs").contains("auth::logging::init(env!(\"CARGO_CRATE_NAME\"))"));
    assert!(text(&files, "lib.rs").contains("auth::request::caller_email(req)"));
    assert!(text(&files, "lib.rs").contains("auth::request::path_parameter(req, \"id\")"));
    let fixture: serde_json::Value =
        serde_json::from_str(&text(&files, "request.json")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fixture["path"], "/orders/42");
    assert_eq!(fixture["pathParameters"]["id"], "42");
    assert_eq!(fixture["requestContext"]["authorizer"]["email"], "alice@example.com");
    // The manifest declares exactly what was asked, as synth reads it.
    let manifest = text(&files, "Cargo.toml");
    let declared = synth::declarations::parse(synth::declarations::Manifest {
        path: "handlers/orders/Cargo.toml",
        directory: "orders",
        text: &manifest,
        has_main: true,
    })
    .unwrap_or_else(|e| panic!("{}", e.one_line()))
    .map(|d| d.function)
    .unwrap_or_else(|| panic!("no declaration in\n{manifest}"));
    let route = declared.route().cloned().unwrap_or_else(|| panic!("no route"));
    assert_eq!((route.method, route.path.as_str(), route.authorized()), (Method::Get, "/orders/{id}", true));
    assert!(declared.grants().is_empty());

    // A public route greets nobody in particular and carries no authorizer context.
    let status = files_of("status", "/status", true, false);
    assert!(!text(&status, "lib.rs").contains("caller_email"));
    // One that reads users is granted exactly one read, and told the table.
    let me = files_of("me", "/me", false, true);
    assert!(text(&me, "Cargo.toml").contains("users-table = [\"dynamodb:GetItem\"]"));
    assert!(text(&me, "Cargo.toml").contains("env = [\"AUTH_TABLE_NAME\"]"));
}

fn files_of(name: &str, path: &str, public: bool, reads_users: bool) -> Vec<(String, String)> {
    files(&NewFunction { name: name.into(), method: Method::Get, path: path.into(), public, reads_users })
}

/// The generated crates for a few shapes, compared with the golden files in
/// `xtask/templates/function/golden/<shape>/` (before rustfmt, which `new` runs). `UPDATE_GOLDEN=1`
/// rewrites them.
#[test]
fn generated_crates_match_the_golden_files() {
    let shapes = [
        ("private-parameters", files_of("orders", "/users/{userId}/orders/{order_id}", false, false)),
        ("public", files_of("status", "/status", true, false)),
        ("reads-users", files_of("me", "/me", false, true)),
    ];
    let root = devenv::workspace_root().unwrap_or_else(|e| panic!("{e}")).join("xtask/templates/function/golden");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for (shape, files) in shapes {
        for (path, contents) in files {
            let relative = path.splitn(3, '/').nth(2).unwrap_or(&path).to_owned();
            // `.golden`, so that no tool takes them for a crate's sources or manifest.
            let golden = root.join(shape).join(format!("{relative}.golden"));
            if update {
                std::fs::create_dir_all(golden.parent().unwrap()).unwrap();
                std::fs::write(&golden, &contents).unwrap();
            }
            let expected = std::fs::read_to_string(&golden).unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
            assert!(
                expected == contents,
                "{} differs from what `new function` generates; rerun with UPDATE_GOLDEN=1 and review the diff",
                golden.display()
            );
        }
    }
}
