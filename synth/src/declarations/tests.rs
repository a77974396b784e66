//! Tests of function declarations: what is accepted, and every refusal's message and location.

use super::*;

const ORDERS: &str = r#"[package]
name = "orders"
version = "0.1.0"

[dependencies]
auth.workspace = true

[package.metadata.function]
route = { method = "GET", path = "/orders/{order_id}", access = "private" }
env = ["AUTH_TABLE_NAME"]
grants = { users-table = ["dynamodb:GetItem"] }
"#;

fn manifest<'a>(directory: &'a str, text: &'a str) -> Manifest<'a> {
    Manifest { path: "handlers/x/Cargo.toml", directory, text, has_main: true }
}

fn refused(text: &str) -> ConfigError {
    match parse(manifest("orders", text)) {
        Ok(d) => panic!("accepted: {d:?}"),
        Err(e) => e,
    }
}

/// `text` with `from` replaced by `to`, which must be there.
fn edit(from: &str, to: &str) -> String {
    assert!(ORDERS.contains(from), "{from}");
    ORDERS.replace(from, to)
}

fn at(e: &ConfigError) -> String {
    let (line, column) = e.location().unwrap_or_else(|| panic!("no location: {}", e.one_line()));
    format!("{line}:{column}")
}

#[test]
fn a_declaration_parses_into_a_function() {
    let declared = parse(manifest("orders", ORDERS)).unwrap_or_else(|e| panic!("{}", e.one_line()));
    let f = declared.map(|d| d.function).unwrap_or_else(|| panic!("no function"));
    assert_eq!(f.name(), "orders");
    let route = f.route().unwrap_or_else(|| panic!("no route"));
    assert_eq!((route.method, route.path.as_str(), route.access), (Method::Get, "/orders/{order_id}", Access::Private));
    assert_eq!(route.ip_rate_limit, RateLimit::All);
    assert_eq!(f.env(), [EnvVar::TableName]);
    assert!(f.is_granted("dynamodb:GetItem", Target::UsersTable));
    assert!(!f.is_built_in() && !f.is_authorizer());
}

#[test]
fn a_crate_without_a_declaration_is_not_a_function() {
    let library = "[package]\nname = \"auth\"\n\n[package.metadata.docs]\nx = 1\n";
    assert!(parse(manifest("auth", library)).is_ok_and(|d| d.is_none()));
    assert!(parse(manifest("x", "[workspace]\n")).is_ok_and(|d| d.is_none()));
}

#[test]
fn every_bad_declaration_is_refused_where_it_is_wrong() {
    let cases: [(String, &str, &str); 15] = [
        (edit("access = \"private\"", "access = \"private\", timeout = 3"), "unknown field `timeout`", "9:76"),
        (edit("env = [", "memory = 1\nenv = ["), "unknown field `memory`", "10:1"),
        (edit("\"GET\"", "\"TRACE\""), "`TRACE` is not an HTTP method", "9:20"),
        (edit("/orders/{order_id}", "/orders/{order id}"), "is not a name", "9:34"),
        (edit("/orders/{order_id}", "orders"), "must start with `/`", "9:34"),
        (edit("\"private\"", "\"internal\""), "`internal` is not an access", "9:65"),
        (edit("\"AUTH_TABLE_NAME\"", "\"AWS_REGION\""), "`AWS_REGION` is not a variable synth can set", "10:8"),
        (edit("[\"AUTH_TABLE_NAME\"]", "[\"AUTH_TABLE_NAME\", \"AUTH_TABLE_NAME\"]"), "listed twice", "10:27"),
        (edit("users-table", "orders-table"), "`orders-table` is not a resource", "11:12"),
        (edit("dynamodb:GetItem", "dynamodb:Scan"), "`dynamodb:Scan` cannot be granted on the users-table", "11:27"),
        (edit("dynamodb:GetItem", "kms:Decrypt"), "`kms:Decrypt` cannot be granted on the users-table", "11:27"),
        // A grant on a resource the code is not told about is a grant it does not need.
        (edit("env = [\"AUTH_TABLE_NAME\"]\n", ""), "does not read AUTH_TABLE_NAME", "10:12"),
        (edit("users-table = [\"dynamodb:GetItem\"]", "users-table = []"), "no actions granted", "11:12"),
        (edit("name = \"orders\"", "name = \"Orders\""), "cannot name a function", "2:8"),
        (
            edit("route = { method = \"GET\", path = \"/orders/{order_id}\", access = \"private\" }\n", ""),
            "has no route; only the authorizer may",
            "8:1",
        ),
    ];
    let mut wrong = Vec::new();
    for (text, message, location) in &cases {
        let e = refused(text);
        assert!(e.message().contains(message), "{message}: got {}", e.one_line());
        if at(&e) != *location {
            wrong.push(format!("{message}: {} (expected {location})", e.one_line()));
        }
        assert!(e.help().is_some_and(|h| !h.is_empty()), "{message}: no help");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_auth_rate_limit_needs_a_path_waf_can_match() {
    let text = edit("access = \"private\" }", "access = \"private\", ip_rate_limit = \"auth\" }");
    let e = refused(&text);
    assert!(e.message().contains("cannot apply to /orders/{order_id}"), "{}", e.one_line());
}

#[test]
fn a_crate_named_apart_from_its_directory_or_without_a_binary_is_refused() {
    let e = parse(manifest("ordrs", ORDERS)).err().unwrap_or_else(|| panic!("accepted"));
    assert!(e.message().contains("the crate `orders` is in handlers/ordrs/"), "{}", e.one_line());
    assert_eq!(at(&e), "2:8");
    let no_main = Manifest { has_main: false, ..manifest("orders", ORDERS) };
    let e = parse(no_main).err().unwrap_or_else(|| panic!("accepted"));
    assert!(e.message().contains("has no src/main.rs"), "{}", e.one_line());
    assert!(e.one_line().starts_with("handlers/x/Cargo.toml:8:1:"), "{}", e.one_line());
}

fn declared(directory: &'static str, table: &str) -> Declared {
    let text = format!("[package]\nname = \"{directory}\"\n\n[package.metadata.function]\n{table}\n");
    let path = format!("handlers/{directory}/Cargo.toml");
    let m = Manifest { path: &path, directory, text: &text, has_main: true };
    parse(m).unwrap_or_else(|e| panic!("{}", e.one_line())).unwrap_or_else(|| panic!("no function"))
}

#[test]
fn the_list_is_checked_as_one_api() {
    let authorizer = || declared("authorizer", "authorizer = true");
    let orders = || declared("orders", "route = { method = \"GET\", path = \"/orders/{id}\", access = \"private\" }");
    let items = declared("items", "route = { method = \"GET\", path = \"/orders/{key}\", access = \"public\" }");
    let e = check(vec![orders(), authorizer(), items]).err().unwrap_or_else(|| panic!("accepted"));
    assert!(e.message().contains("the route of `orders` clashes with `items`'s (handlers/items/Cargo.toml)"), "{e}");
    assert!(e.one_line().starts_with("handlers/orders/Cargo.toml:5:"), "{}", e.one_line());

    let e = check(vec![orders()]).err().unwrap_or_else(|| panic!("accepted"));
    assert!(e.message().contains("no function is declared authorizer = true"), "{e}");

    let second = declared("guard", "authorizer = true");
    let e = check(vec![authorizer(), second, orders()]).err().unwrap_or_else(|| panic!("accepted"));
    assert!(e.message().contains("`authorizer` and `guard` are both declared authorizer = true"), "{e}");

    let public = declared("status", "route = { method = \"GET\", path = \"/status\", access = \"public\" }");
    assert!(check(vec![public]).is_ok(), "public routes need no authorizer");
}

#[test]
fn the_order_of_the_manifests_does_not_matter() {
    let a = || declared("authorizer", "authorizer = true");
    let b = || declared("orders", "route = { method = \"GET\", path = \"/orders/{id}\", access = \"private\" }");
    let one = check(vec![a(), b()]).unwrap_or_else(|e| panic!("{e}"));
    let other = check(vec![b(), a()]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(one, other);
    assert_eq!(one.iter().map(Function::name).collect::<Vec<_>>(), ["authorizer", "orders"]);
}

#[test]
fn the_workspace_declares_the_service() {
    let functions = testkit::functions();
    let names: Vec<&str> = functions.iter().map(Function::name).collect();
    for name in ["authorizer", "hello", "signin", "signup"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let authorizers: Vec<&Function> = functions.iter().filter(|f| f.is_authorizer()).collect();
    assert_eq!(authorizers.len(), 1);
    assert!(authorizers[0].route().is_none());
}
