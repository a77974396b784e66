//! `cargo xtask new function` and `cargo xtask remove function`: a private or public endpoint added or
//! removed in one command.
//!
//! Deciding is pure: [`check_new`] and [`check_remove`] judge a request against the declared functions
//! and the stages, [`declaration`] and [`crate_files`] render what is written, and [`insert_declaration`]
//! and [`remove_declaration`] edit `handlers/contract/src/functions.rs`. [`new`] and [`remove`] then do
//! the I/O: nothing is written until every check has passed, and a failed synth puts everything back.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use contract::{Function, Method, route};
use synth::Config;

use crate::BadInput;

/// Where functions are declared, relative to the workspace root.
pub const DECLARATIONS: &str = "handlers/contract/src/functions.rs";
/// The line in [`DECLARATIONS`] new declarations go above.
pub const MARKER: &str = "    // cargo xtask new function: new declarations go above this line.";

/// What `cargo xtask new function` was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFunction {
    pub name: String,
    pub method: Method,
    pub path: String,
    /// No token needed: the JWT authorizer does not guard the route.
    pub public: bool,
    /// May read one user by email from the users table (`dynamodb:GetItem`), e.g. for a `/me` route.
    pub reads_users: bool,
}

impl NewFunction {
    /// The path parameters, in order.
    pub fn parameters(&self) -> Vec<String> {
        route::parse_path(&self.path)
            .map(|segments| {
                segments
                    .into_iter()
                    .filter_map(|s| match s {
                        contract::Segment::Parameter(p) => Some(p.to_owned()),
                        contract::Segment::Literal(_) => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Rust's keywords and the crates every Rust program can name: a crate (and so a function) or a
/// variable of the generated code may not be called so.
const RUST_WORDS: &[&str] = &[
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "macro",
    "override",
    "priv",
    "try",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "std",
    "core",
    "alloc",
    "test",
    "proc_macro",
];

/// Names the generated handler uses for its own variables and fields.
const GENERATED_LOCALS: &[&str] = &["message", "email", "req", "users", "member_since", "error", "value", "answer"];

/// Why `new` cannot be added, if it cannot: a bad or taken name, a bad path, a route that clashes,
/// a name too long for a stage's AWS names, or a directory already in the way. `packages` are the
/// package names of the lock file: a function's crate may not share one (`cargo build -p` would be
/// ambiguous).
pub fn check_new(
    new: &NewFunction,
    declared: &[Function],
    config: &Config,
    directory_exists: bool,
    packages: &[String],
) -> Result<(), String> {
    route::check_name(&new.name).map_err(|e| e.to_string())?;
    if declared.iter().any(|f| f.name() == new.name) {
        return Err(format!("a function named `{}` is already declared in {DECLARATIONS}", new.name));
    }
    if ["auth", "contract", "xtask", "synth", "devenv"].contains(&new.name.as_str()) {
        return Err(format!("`{}` is the name of one of the workspace's own crates; choose another", new.name));
    }
    if RUST_WORDS.contains(&new.name.as_str()) || packages.iter().any(|p| p.replace('-', "_") == new.name) {
        return Err(format!(
            "`{}` is a Rust keyword or the name of a crate the workspace already uses; choose another",
            new.name
        ));
    }
    if directory_exists {
        return Err(format!("handlers/{} already exists; remove it or choose another name", new.name));
    }
    if new.public && new.reads_users {
        return Err("--reads-users reads the signed-in caller's user, and a --public route has no caller; drop \
                    one of the two"
            .to_owned());
    }
    route::parse_path(&new.path).map_err(|e| e.to_string())?;
    for p in new.parameters() {
        let snake = p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !snake || RUST_WORDS.contains(&p.as_str()) || GENERATED_LOCALS.contains(&p.as_str()) {
            return Err(format!(
                "the path parameter {{{p}}} becomes a variable of the generated Rust code: use lowercase letters, \
                 digits and `_` (e.g. {{order_id}}), not a Rust keyword nor one of {}",
                GENERATED_LOCALS.join(", ")
            ));
        }
    }
    let mut routes: Vec<(Method, &str)> =
        declared.iter().filter_map(|f| f.route()).map(|r| (r.method, r.path)).collect();
    routes.push((new.method, &new.path));
    if let Some(why) = route::conflicts(&routes) {
        let with = declared.iter().find_map(|f| {
            let r = f.route()?;
            route::conflicts(&[(r.method, r.path), (new.method, &new.path)])
                .map(|_| format!("{f}'s {} {}", r.method, r.path))
        });
        return Err(format!("the route clashes with {}: {why}", with.as_deref().unwrap_or("a declared route")));
    }
    for stage in config.stages.values() {
        // The function's and its role's name, `<project>-<stage>-<name>`.
        let long = format!("{}-{}", synth::Names::new(&config.project, stage).prefix(), new.name);
        if long.len() > synth::config::MAX_NAME_LEN {
            return Err(format!(
                "in stage `{}` the function name `{long}` would be {} characters; AWS allows {}: choose a shorter \
                 name",
                stage.name,
                long.len(),
                synth::config::MAX_NAME_LEN
            ));
        }
    }
    Ok(())
}

/// Why `name` cannot be removed, if it cannot: unknown, built in, or still configured in stages.toml.
pub fn check_remove(name: &str, declared: &[Function], stages_text: &str) -> Result<(), String> {
    let Some(index) = declared.iter().position(|f| f.name() == name) else {
        let known: Vec<&str> = declared.iter().skip(contract::functions::BUILT_IN).map(|f| f.name()).collect();
        return Err(if known.is_empty() {
            format!("no function named `{name}` is declared, and none was added with `cargo xtask new function`")
        } else {
            format!("no function named `{name}` is declared; added functions are {}", known.join(", "))
        });
    };
    if index < contract::functions::BUILT_IN {
        return Err(format!("`{name}` is one of the service's built-in functions and cannot be removed"));
    }
    let sections: Vec<&str> = stages_text.lines().map(str::trim).filter(|l| is_section_of(l, name)).collect();
    if !sections.is_empty() {
        return Err(format!(
            "stages.toml still configures `{name}` in {}; delete those sections first",
            sections.join(", ")
        ));
    }
    Ok(())
}

/// `[stages.dev.functions.orders]` or `[defaults.functions.orders]` for `orders`.
fn is_section_of(line: &str, name: &str) -> bool {
    line.strip_prefix('[')
        .and_then(|l| l.split(']').next())
        .is_some_and(|header| header.trim().ends_with(&format!("functions.{name}")))
}

/// The declaration [`DECLARATIONS`] gets for `new`.
pub fn declaration(new: &NewFunction) -> String {
    let access = if new.public { "Public" } else { "Private" };
    let method = new.method.pascal();
    let (env, grants) = if new.reads_users { ("&[EnvVar::TableName]", "&[Grant::READ_USER]") } else { ("&[]", "&[]") };
    format!(
        "    Declaration {{\n        name: \"{}\",\n        route: Some(Route {{ method: Method::{method}, path: \"{}\", access: \
         Access::{access} }}),\n        env: {env},\n        grants: {grants},\n    }},\n",
        new.name, new.path
    )
}

/// `source` with `declaration` inserted above the marker line.
pub fn insert_declaration(source: &str, declaration: &str) -> Result<String, String> {
    let at = source.find(&format!("{MARKER}\n")).ok_or_else(|| {
        format!("{DECLARATIONS} has lost its marker line `{}`; put it back at the end of DECLARED", MARKER.trim())
    })?;
    Ok(format!("{}{declaration}{}", &source[..at], &source[at..]))
}

/// `source` without the declaration of `name`: from its `Declaration {` line to the `},` that closes it.
pub fn remove_declaration(source: &str, name: &str) -> Result<String, String> {
    let lines: Vec<&str> = source.split_inclusive('\n').collect();
    let name_line = lines
        .iter()
        .position(|l| l.trim() == format!("name: \"{name}\","))
        .ok_or_else(|| format!("{DECLARATIONS} has no declaration named `{name}`"))?;
    let start = lines[..name_line]
        .iter()
        .rposition(|l| l.trim() == "Declaration {")
        .ok_or_else(|| format!("the declaration of `{name}` in {DECLARATIONS} does not start with `Declaration {{`"))?;
    let end = lines[name_line..]
        .iter()
        .position(|l| l.trim_end() == "    },")
        .map(|i| name_line + i)
        .ok_or_else(|| format!("the declaration of `{name}` in {DECLARATIONS} does not end with `}},`"))?;
    Ok(lines[..start].iter().chain(&lines[end + 1..]).copied().collect())
}

/// The files of the new crate `handlers/<name>/`, paths relative to the workspace root.
pub fn crate_files(new: &NewFunction) -> Vec<(String, String)> {
    let name = &new.name;
    let (method, path) = (new.method, &new.path);
    let parameters = new.parameters();
    let dir = format!("handlers/{name}");
    let store_deps = if new.reads_users {
        "aws-config.workspace = true\naws-sdk-dynamodb.workspace = true\ncontract.workspace = true\n\
         tracing.workspace = true\n"
    } else {
        ""
    };
    let cargo_toml = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\ndescription = \"The {name} Lambda function: {method} \
         {path}\"\nedition.workspace = true\nrust-version.workspace = true\nlicense.workspace = true\n\
         publish.workspace = true\n\n[dependencies]\nanyhow.workspace = true\nauth.workspace = true\n{store_deps}\
         lambda_http.workspace = true\nserde.workspace = true\ntokio.workspace = true\n\n[dev-dependencies]\n\
         serde_json.workspace = true\n\n[lints]\nworkspace = true\n"
    );
    let main_rs = if new.reads_users {
        format!(
            "//! The {name} Lambda function, `{method} {path}`: builds its AWS client once, then serves requests with \
             [`{name}::handle`].\n\nuse anyhow::Context as _;\nuse auth::store::dynamo::DynamoStore;\nuse \
             aws_config::BehaviorVersion;\n\n#[tokio::main(flavor = \"current_thread\")]\nasync fn main() -> \
             anyhow::Result<()> {{\n    auth::logging::init();\n    let table = \
             std::env::var(contract::EnvVar::TableName.name()).context(\"reading the users table's name\")?;\n    \
             let aws = \
             aws_config::defaults(BehaviorVersion::latest()).timeout_config(auth::config::aws_timeouts()).load().\
             await;\n    let users = &DynamoStore::new(aws_sdk_dynamodb::Client::new(&aws), table);\n    \
             auth::proxy::run(move |req| async move {{ {name}::handle(&req, users).await }})\n        .await\n        \
             .map_err(|e| anyhow::anyhow!(e).context(\"running the {name} function\"))\n}}\n"
        )
    } else {
        format!(
            "//! The {name} Lambda function, `{method} {path}`: serves requests with [`{name}::handle`].\n\n\
             #[tokio::main(flavor = \"current_thread\")]\nasync fn main() -> anyhow::Result<()> {{\n    \
             auth::logging::init();\n    auth::proxy::run(|req| async move {{ {name}::handle(&req) }})\n        \
             .await\n        .map_err(|e| anyhow::anyhow!(e).context(\"running the {name} function\"))\n}}\n"
        )
    };
    vec![
        (format!("{dir}/Cargo.toml"), cargo_toml),
        (format!("{dir}/src/main.rs"), main_rs),
        (format!("{dir}/src/lib.rs"), lib_rs(new, &parameters)),
        (format!("{dir}/tests/fixtures/request.json"), fixture(new, &parameters)),
    ]
}

fn lib_rs(new: &NewFunction, parameters: &[String]) -> String {
    let (method, path) = (new.method, &new.path);
    let who = if new.public {
        "anyone, no token needed"
    } else {
        "the signed-in caller (the JWT authorizer checked the token)"
    };
    let mut fields = String::from("    message: String,\n");
    let mut reads = String::new();
    let mut values = String::new();
    for p in parameters {
        fields.push_str(&format!("    {p}: String,\n"));
        reads.push_str(&format!(
            "    // Typed: change String to the type the segment holds (u64, a UUID, ...) and a value that does not \
             parse is a 400.\n    let {p}: String = match auth::request::path_parameter(req, \"{p}\") {{\n        \
             Ok(value) => value,\n        Err(error) => return error.into_response(),\n    }};\n"
        ));
        values.push_str(&format!(", {p}"));
    }
    if new.reads_users {
        fields.push_str("    member_since: Option<u64>,\n");
    }
    let (signature, caller, message) = match (new.public, new.reads_users) {
        (_, true) => (
            "pub async fn handle<S: UserStore>(req: &Request, users: &S) -> Response<Body>".to_owned(),
            "    let Some(email) = auth::request::caller_email(req) else {\n        return ApiError::unauthorized().\
             into_response();\n    };\n    let member_since = match Email::parse(email) {\n        Ok(email) => \
             match users.get(&email).await {\n            Ok(user) => user.map(|u| u.created_at),\n            \
             Err(error) => {\n                tracing::error!(%error, \"reading the caller's user\");\n                \
             return ApiError::internal().into_response();\n            }\n        },\n        Err(_) => None,\n    \
             };\n"
                .to_owned(),
            "format!(\"Hello, {email}!\")".to_owned(),
        ),
        (true, false) => (
            "pub fn handle(req: &Request) -> Response<Body>".to_owned(),
            String::new(),
            "String::from(\"Hello!\")".to_owned(),
        ),
        (false, false) => (
            "pub fn handle(req: &Request) -> Response<Body>".to_owned(),
            "    let Some(email) = auth::request::caller_email(req) else {\n        return ApiError::unauthorized().\
             into_response();\n    };\n"
                .to_owned(),
            "format!(\"Hello, {email}!\")".to_owned(),
        ),
    };
    let member = if new.reads_users { ", member_since" } else { "" };
    let uses = if new.reads_users {
        "use auth::error::{ApiError, json_ok};\nuse auth::store::UserStore;\nuse auth::validate::Email;\n"
    } else if new.public {
        "use auth::error::json_ok;\n"
    } else {
        "use auth::error::{ApiError, json_ok};\n"
    };
    let unused_req = if new.public && parameters.is_empty() { "    let _ = req;\n" } else { "" };
    let test_call = if new.reads_users {
        "let users = auth::store::memory::MemoryStore::new();\n        let response = \
         tokio_test_block_on(handle(&request, &users));"
            .to_owned()
    } else {
        "let response = handle(&request);".to_owned()
    };
    let expected_message = if new.public { "Hello!".to_owned() } else { "Hello, alice@example.com!".to_owned() };
    let mut expected_fields = format!("\"message\": \"{expected_message}\"");
    for p in parameters {
        expected_fields.push_str(&format!(", \"{p}\": \"{}\"", example_value(p)));
    }
    if new.reads_users {
        expected_fields.push_str(", \"member_since\": null");
    }
    let block_on = if new.reads_users {
        "\n    /// Runs a future to completion on a fresh current-thread runtime.\n    fn tokio_test_block_on<F: \
         std::future::Future>(future: F) -> F::Output {\n        \
         tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(future)\n    }\n"
    } else {
        ""
    };
    format!(
        "//! `{method} {path}`: answers {who}.\n//!\n//! Added by `cargo xtask new function`; declared in \
         handlers/contract/src/functions.rs. Change what it answers here; its unit test below runs it on the \
         API Gateway event in tests/fixtures/request.json.\n\nuse lambda_http::http::StatusCode;\nuse \
         lambda_http::{{Body, Request, Response}};\nuse serde::Serialize;\n\n{uses}\n#[derive(Serialize)]\nstruct \
         Answer {{\n{fields}}}\n\n/// `200` with a JSON [`Answer`].\n{signature} {{\n{unused_req}{caller}{reads}    \
         json_ok(StatusCode::OK, &Answer {{ message: {message}{values}{member} }})\n}}\n\n#[cfg(test)]\nmod tests \
         {{\n    use super::*;\n\n    #[test]\n    fn answers_the_fixture_event() {{\n        let request = \
         lambda_http::request::from_str(include_str!(\"../tests/fixtures/request.json\")).unwrap();\n        \
         {test_call}\n        assert_eq!(response.status(), StatusCode::OK);\n        let Body::Text(body) = \
         response.body() else {{ panic!(\"not a text body\") }};\n        let body: serde_json::Value = \
         serde_json::from_str(body).unwrap();\n        assert_eq!(body, serde_json::json!({{ {expected_fields} \
         }}));\n    }}\n{block_on}}}\n"
    )
}

/// A value for a path parameter in the fixture: `42` for `id`, `example-<name>` otherwise.
fn example_value(parameter: &str) -> String {
    if parameter == "id" { "42".to_owned() } else { format!("example-{parameter}") }
}

/// The REST proxy event API Gateway sends for the route, with an authorizer context when private.
fn fixture(new: &NewFunction, parameters: &[String]) -> String {
    let concrete: String = route::parse_path(&new.path)
        .map(|segments| {
            segments
                .iter()
                .map(|s| match s {
                    contract::Segment::Literal(l) => format!("/{l}"),
                    contract::Segment::Parameter(p) => format!("/{}", example_value(p)),
                })
                .collect()
        })
        .unwrap_or_default();
    let path_parameters = if parameters.is_empty() {
        serde_json::Value::Null
    } else {
        parameters.iter().map(|p| (p.clone(), serde_json::Value::from(example_value(p)))).collect()
    };
    let authorizer = if new.public {
        serde_json::Value::Null
    } else {
        serde_json::json!({"principalId": "alice@example.com", "email": "alice@example.com", "integrationLatency": 3})
    };
    let event = serde_json::json!({
        "resource": new.path,
        "path": concrete,
        "httpMethod": new.method.as_str(),
        "headers": {"Host": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com", "X-Forwarded-Proto": "https"},
        "multiValueHeaders": {
            "Host": ["a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"],
            "X-Forwarded-Proto": ["https"]
        },
        "queryStringParameters": null,
        "multiValueQueryStringParameters": null,
        "pathParameters": path_parameters,
        "stageVariables": null,
        "requestContext": {
            "resourceId": "abc123",
            "resourcePath": new.path,
            "httpMethod": new.method.as_str(),
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "stage": "dev",
            "path": format!("/dev{concrete}"),
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "curl/8.5.0"},
            "authorizer": authorizer
        },
        "body": null,
        "isBase64Encoded": false
    });
    format!("{}\n", serde_json::to_string_pretty(&event).unwrap_or_default())
}

/// `cargo xtask new function`: checks, writes the crate and the declaration, and synthesizes; a failed
/// synth removes what was written.
pub fn new(root: &Path, config_path: &Path, config: &Config, new: &NewFunction) -> anyhow::Result<()> {
    let dir = root.join("handlers").join(&new.name);
    let lock = Snapshot::take(&root.join("Cargo.lock"));
    check_new(new, &Function::all(), config, dir.exists(), &lock.packages()).map_err(BadInput)?;
    let declarations = root.join(DECLARATIONS);
    let source = fs::read_to_string(&declarations).with_context(|| format!("reading {}", declarations.display()))?;
    let edited = insert_declaration(&source, &declaration(new)).map_err(BadInput)?;

    let files = crate_files(new);
    let written = (|| -> anyhow::Result<()> {
        for (path, contents) in &files {
            let path = root.join(path);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
            }
            fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
        }
        fs::write(&declarations, &edited).with_context(|| format!("writing {}", declarations.display()))?;
        synthesize(root, config_path)
    })();
    if let Err(error) = written {
        let _ = fs::remove_dir_all(&dir);
        let _ = fs::write(&declarations, &source);
        lock.restore();
        let _ = synthesize(root, config_path);
        return Err(error.context(format!("adding {}; nothing was kept", new.name)));
    }
    let access = if new.public { "public" } else { "behind the JWT authorizer" };
    println!("added {} at {} {} ({access}):", new.name, new.method, new.path);
    for (path, _) in &files {
        println!("  created  {path}");
    }
    println!("  declared in {DECLARATIONS}");
    println!("  templates/ synthesized");
    println!("serve it with `cargo xtask local`; edit handlers/{}/src/lib.rs to change what it answers", new.name);
    Ok(())
}

/// `cargo xtask remove function`: removes the declaration and the crate, then synthesizes. Data is
/// untouched: the function had none of its own.
pub fn remove(root: &Path, config_path: &Path, stages_text: &str, name: &str) -> anyhow::Result<()> {
    check_remove(name, &Function::all(), stages_text).map_err(BadInput)?;
    let declarations = root.join(DECLARATIONS);
    let source = fs::read_to_string(&declarations).with_context(|| format!("reading {}", declarations.display()))?;
    let edited = remove_declaration(&source, name).map_err(BadInput)?;
    let lock = Snapshot::take(&root.join("Cargo.lock"));
    // The crate goes aside first, so that the synth below resolves the workspace without it and the
    // lock file drops its package; a failure puts everything back.
    let dir: PathBuf = root.join("handlers").join(name);
    let aside = crate::target_dir()?.join(format!("removed-function-{name}-{}", std::process::id()));
    let moved = dir.exists();
    if moved {
        let _ = fs::remove_dir_all(&aside);
        if let Some(parent) = aside.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        fs::rename(&dir, &aside)
            .or_else(|_| copy_dir(&dir, &aside).and_then(|()| fs::remove_dir_all(&dir)))
            .with_context(|| format!("moving {} aside", dir.display()))?;
    }
    fs::write(&declarations, &edited).with_context(|| format!("writing {}", declarations.display()))?;
    if let Err(error) = synthesize(root, config_path) {
        let _ = fs::write(&declarations, &source);
        if moved {
            let _ = fs::rename(&aside, &dir).or_else(|_| copy_dir(&aside, &dir));
        }
        lock.restore();
        return Err(error.context(format!("removing {name}; everything was put back")));
    }
    if moved {
        let _ = fs::remove_dir_all(&aside);
    }
    println!("removed {name}: its declaration, handlers/{name}/, and its resources from templates/");
    println!("the next `cargo xtask deploy` deletes its function, role and log group; no data is touched");
    Ok(())
}

/// A file's bytes, to put back when a change fails.
struct Snapshot {
    path: PathBuf,
    bytes: Option<Vec<u8>>,
}

impl Snapshot {
    fn take(path: &Path) -> Snapshot {
        Snapshot { path: path.to_path_buf(), bytes: fs::read(path).ok() }
    }

    fn restore(&self) {
        if let Some(bytes) = &self.bytes {
            let _ = fs::write(&self.path, bytes);
        }
    }

    fn packages(&self) -> Vec<String> {
        lock_packages(&self.bytes.as_deref().map(String::from_utf8_lossy).unwrap_or_default())
    }
}

/// The package names (`name = "..."`) of a Cargo.lock.
pub fn lock_packages(lock: &str) -> Vec<String> {
    lock.lines()
        .filter_map(|l| l.strip_prefix("name = \"").and_then(|r| r.strip_suffix('"')))
        .map(str::to_owned)
        .collect()
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Runs `cargo xtask synth` anew, so that the changed declarations are compiled in.
fn synthesize(root: &Path, config_path: &Path) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root)
        .args(["run", "--quiet", "--package", "xtask", "--", "--config"])
        .arg(config_path)
        .arg("synth")
        .status()
        .context("running cargo xtask synth")?;
    if !status.success() {
        bail!("`cargo xtask synth` failed; see above");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
