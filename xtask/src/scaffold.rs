//! `cargo xtask new function` and `cargo xtask remove function`: a private or public endpoint added or
//! removed in one command.
//!
//! A function is a crate under `handlers/` that declares itself in its own `Cargo.toml`
//! (`[package.metadata.function]`, see `synth::declarations`). So adding one writes one crate and
//! removing one deletes one crate: nothing else is edited, nothing is compiled, and `cargo xtask synth`
//! then puts its route, role and log group into `templates/`.
//!
//! Deciding is pure: [`check_new`] judges a request against the declared functions and the stages (the
//! new declaration is parsed and synthesized in memory first), [`crate_files`] renders the crate from
//! the template files in `xtask/templates/function/`, and [`check_remove`] judges a removal. [`new`] and
//! [`remove`] do the I/O once every check has passed.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};
use contract::{Function, Method, Segment, route};
use serde::Serialize;

use crate::{BadConfig, BadInput};

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

/// A path parameter as the generated code reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Parameter {
    /// As the path spells it: `orderId`, `order_id`, `order-id`.
    pub name: String,
    /// The Rust field it is read into: `order_id` (snake case; a keyword gets a trailing `_`).
    pub field: String,
}

impl NewFunction {
    /// The path parameters, in order.
    pub fn parameters(&self) -> Vec<Parameter> {
        route::parse_path(&self.path)
            .map(|segments| {
                segments
                    .into_iter()
                    .filter_map(|s| match s {
                        Segment::Parameter(p) => Some(Parameter { name: p.to_owned(), field: field_name(p) }),
                        Segment::Literal(_) => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The Rust field name of a path parameter: `orderId`, `order-id` and `order.id` become `order_id`;
/// one that would start with a digit gets `p_` in front, a keyword a trailing `_`.
pub fn field_name(parameter: &str) -> String {
    let mut out = String::new();
    let mut previous: Option<char> = None;
    for c in parameter.chars() {
        if c.is_ascii_uppercase() {
            if previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit()) {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else {
            out.push('_');
        }
        previous = Some(c);
    }
    let words: Vec<&str> = out.split('_').filter(|w| !w.is_empty()).collect();
    let mut field = words.join("_");
    if field.is_empty() || field.starts_with(|c: char| c.is_ascii_digit()) {
        field = format!("p_{field}").trim_end_matches('_').to_owned();
    }
    if RUST_WORDS.contains(&field.as_str()) {
        field.push('_');
    }
    field
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

/// The crates of the workspace itself, which no function may be named after.
const OWN_CRATES: [&str; 5] = ["auth", "contract", "xtask", "synth", "devenv"];

/// Why `new` cannot be added, if it cannot: a bad or taken name, a bad path, a route that clashes, a
/// name too long for a stage's AWS names, or a directory already in the way. `manifests` are the
/// crates under `handlers/` as they are; `packages` are the lock file's package names (a function's
/// crate may not share one: `cargo build -p` would be ambiguous); `stages` is `stages.toml`'s text.
/// The new crate's manifest is rendered and checked with the others, and every stage synthesized with
/// it, before anything is written.
pub fn check_new(
    new: &NewFunction,
    manifests: &[devenv::HandlerManifest],
    stages: &str,
    directory_exists: bool,
    packages: &[String],
) -> Result<(), String> {
    route::check_name(&new.name).map_err(|e| e.to_string())?;
    let declared = crate::parse_functions(manifests).map_err(|e| format!("{e:#}"))?;
    if declared.iter().any(|f| f.name() == new.name) {
        return Err(format!("a function named `{}` is already declared in handlers/{0}/Cargo.toml", new.name));
    }
    if OWN_CRATES.contains(&new.name.as_str()) {
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
    let parameters = new.parameters();
    for (i, p) in parameters.iter().enumerate() {
        if let Some(other) = parameters[..i].iter().find(|o| o.field == p.field) {
            return Err(format!(
                "the path parameters {{{}}} and {{{}}} would both be read into the field `{}` of the generated code; \
                 rename one",
                other.name, p.name, p.field
            ));
        }
    }
    for f in &declared {
        let Some(r) = f.route() else { continue };
        if let Some(why) = route::conflicts(&[(r.method, &r.path), (new.method, &new.path)]) {
            return Err(format!("the route clashes with {f}'s {} {}: {why}", r.method, r.path));
        }
    }
    // The whole service with the new crate, as every later command will read it.
    let mut all = manifests.to_vec();
    all.push(devenv::HandlerManifest {
        path: format!("handlers/{}/Cargo.toml", new.name),
        directory: new.name.clone(),
        text: render("Cargo.toml.j2", new)?,
        has_main: true,
    });
    let functions = crate::parse_functions(&all).map_err(|e| format!("{e:#}"))?;
    let config = synth::parse("stages.toml", stages, &functions).map_err(|e| e.one_line())?;
    synth::all_files(&config).map_err(|e| e.to_string())?;
    Ok(())
}

/// Why `name` cannot be removed, if it cannot: unknown, built in, or still configured in `stages.toml`
/// (in any TOML spelling: the file is parsed, not searched). The error is rendered like a config error
/// when it points into `stages.toml`.
pub fn check_remove(name: &str, declared: &[Function], stages_name: &str, stages: &str) -> anyhow::Result<()> {
    let Some(function) = Function::find(declared, name) else {
        let removable: Vec<&str> = declared.iter().filter(|f| !f.is_built_in()).map(Function::name).collect();
        return Err(BadInput(if removable.is_empty() {
            format!("no function named `{name}` is declared, and none was added with `cargo xtask new function`")
        } else {
            format!("no function named `{name}` is declared; added functions are {}", removable.join(", "))
        })
        .into());
    };
    if function.is_built_in() {
        return Err(BadInput(format!(
            "`{name}` is one of the service's built-in functions (built_in = true in handlers/{name}/Cargo.toml) and \
             cannot be removed"
        ))
        .into());
    }
    synth::config::refuse_settings_of(stages_name, stages, name).map_err(BadConfig)?;
    Ok(())
}

/// The files of the new crate `handlers/<name>/`, paths relative to the workspace root, rendered from
/// the template files and formatted with the workspace's rustfmt settings by [`new`].
pub fn crate_files(new: &NewFunction) -> Result<Vec<(String, String)>, String> {
    let dir = format!("handlers/{}", new.name);
    Ok(vec![
        (format!("{dir}/Cargo.toml"), render("Cargo.toml.j2", new)?),
        (format!("{dir}/src/main.rs"), render("main.rs.j2", new)?),
        (format!("{dir}/src/lib.rs"), render("lib.rs.j2", new)?),
        (format!("{dir}/tests/fixtures/request.json"), fixture(new)),
    ])
}

/// The template files, compiled into xtask.
const TEMPLATES: [(&str, &str); 3] = [
    ("Cargo.toml.j2", include_str!("../templates/function/Cargo.toml.j2")),
    ("main.rs.j2", include_str!("../templates/function/main.rs.j2")),
    ("lib.rs.j2", include_str!("../templates/function/lib.rs.j2")),
];

/// What the templates see.
#[derive(Serialize)]
struct Context<'a> {
    name: &'a str,
    method: &'a str,
    path: &'a str,
    access: &'a str,
    public: bool,
    reads_users: bool,
    parameters: Vec<Parameter>,
    /// The JSON the generated unit test expects the fixture event to be answered with.
    expected: String,
}

/// One template rendered for `new`.
fn render(template: &str, new: &NewFunction) -> Result<String, String> {
    let mut env = minijinja::Environment::new();
    // Block tags sit on lines of their own in the templates and leave no trace in the output.
    let syntax = minijinja::syntax::SyntaxConfig::builder()
        .trim_blocks(true)
        .lstrip_blocks(true)
        .keep_trailing_newline(true)
        .build()
        .map_err(|e| e.to_string())?;
    env.set_syntax(syntax);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    for (name, source) in TEMPLATES {
        env.add_template(name, source).map_err(|e| format!("the template {name}: {e}"))?;
    }
    let parameters = new.parameters();
    let mut expected = serde_json::Map::new();
    let message = if new.public { "Hello!".to_owned() } else { format!("Hello, {EXAMPLE_CALLER}!") };
    expected.insert("message".into(), message.into());
    if !parameters.is_empty() {
        let path: serde_json::Map<String, serde_json::Value> =
            parameters.iter().map(|p| (p.name.clone(), example_value(&p.name).into())).collect();
        expected.insert("path".into(), path.into());
    }
    if new.reads_users {
        expected.insert("member_since".into(), serde_json::Value::Null);
    }
    let context = Context {
        name: &new.name,
        method: new.method.as_str(),
        path: &new.path,
        access: if new.public { "public" } else { "private" },
        public: new.public,
        reads_users: new.reads_users,
        parameters,
        expected: serde_json::Value::Object(expected).to_string(),
    };
    let template = env.get_template(template).map_err(|e| e.to_string())?;
    template.render(minijinja::value::Serde(&context)).map_err(|e| format!("rendering {}: {e}", template.name()))
}

/// The caller the fixture's authorizer context names.
const EXAMPLE_CALLER: &str = "alice@example.com";

/// A value for a path parameter in the fixture: `42` for `id`, `example-<name>` otherwise.
fn example_value(parameter: &str) -> String {
    if parameter == "id" { "42".to_owned() } else { format!("example-{parameter}") }
}

/// The REST proxy event API Gateway sends for the route, with an authorizer context when private: data,
/// built as JSON.
fn fixture(new: &NewFunction) -> String {
    let segments = route::parse_path(&new.path).unwrap_or_default();
    let concrete: String = segments
        .iter()
        .map(|s| match s {
            Segment::Literal(l) => format!("/{l}"),
            Segment::Parameter(p) => format!("/{}", example_value(p)),
        })
        .collect();
    let parameters = new.parameters();
    let path_parameters = if parameters.is_empty() {
        serde_json::Value::Null
    } else {
        parameters.iter().map(|p| (p.name.clone(), serde_json::Value::from(example_value(&p.name)))).collect()
    };
    let authorizer = if new.public {
        serde_json::Value::Null
    } else {
        serde_json::json!({"principalId": EXAMPLE_CALLER, "email": EXAMPLE_CALLER, "integrationLatency": 3})
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

/// `cargo xtask new function`: checks, then writes the crate (formatted with the workspace's rustfmt
/// settings) and lets cargo add it to `Cargo.lock`. Nothing else changes: `cargo xtask synth` then adds
/// its route, role and log group to `templates/`.
pub fn new(root: &Path, config_path: &Path, new: &NewFunction) -> anyhow::Result<()> {
    let dir = root.join("handlers").join(&new.name);
    let manifests = devenv::handler_manifests(root).map_err(|e| BadInput(e.to_string()))?;
    let stages = read(config_path)?;
    let lock = fs::read_to_string(root.join("Cargo.lock")).unwrap_or_default();
    check_new(new, &manifests, &stages, dir.exists(), &lock_packages(&lock)).map_err(BadInput)?;
    let files = crate_files(new).map_err(|e| anyhow::anyhow!("{e}"))?;

    let written = (|| -> anyhow::Result<()> {
        for (path, contents) in &files {
            let path = root.join(path);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
            }
            fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
        }
        let sources: Vec<String> = files
            .iter()
            .map(|(p, _)| p)
            .filter(|p| p.ends_with(".rs"))
            .map(|p| root.join(p).display().to_string())
            .collect();
        rustfmt(root, &sources)?;
        update_lock(root)
    })();
    if let Err(error) = written {
        let _ = fs::remove_dir_all(&dir);
        let _ = update_lock(root);
        return Err(error.context(format!("adding {}; nothing was kept", new.name)));
    }
    let access = if new.public { "public" } else { "behind the JWT authorizer" };
    println!("added {} at {} {} ({access}):", new.name, new.method, new.path);
    for (path, _) in &files {
        println!("  created  {path}");
    }
    println!("  declared in handlers/{}/Cargo.toml, [package.metadata.function]", new.name);
    println!(
        "run `cargo xtask synth` to add its route, role and log group to templates/; `cargo xtask local` serves it; \
         edit handlers/{}/src/lib.rs to change what it answers",
        new.name
    );
    Ok(())
}

/// `cargo xtask remove function`: deletes the crate and lets cargo drop it from `Cargo.lock`. Data is
/// untouched (the function had none of its own); `cargo xtask synth` then takes its resources out of
/// `templates/`.
pub fn remove(root: &Path, config_path: &Path, name: &str) -> anyhow::Result<()> {
    let manifests = devenv::handler_manifests(root).map_err(|e| BadInput(e.to_string()))?;
    let declared = crate::parse_functions(&manifests)?;
    let stages = read(config_path)?;
    let stages_name = config_path.file_name().map_or("stages.toml".into(), |n| n.to_string_lossy().into_owned());
    check_remove(name, &declared, &stages_name, &stages)?;
    // What is left must still make one API (a private route needs its authorizer) in every stage.
    let remaining: Vec<devenv::HandlerManifest> = manifests.into_iter().filter(|m| m.directory != name).collect();
    let functions = crate::parse_functions(&remaining)?;
    let config = synth::parse(&stages_name, &stages, &functions).map_err(BadConfig)?;
    synth::all_files(&config).map_err(crate::refused)?;
    let dir = root.join("handlers").join(name);
    fs::remove_dir_all(&dir).with_context(|| format!("deleting {}", dir.display()))?;
    update_lock(root)?;
    println!("removed {name}: handlers/{name}/ (its code and declaration)");
    println!(
        "run `cargo xtask synth` to take its function, role, log group and route out of templates/; the next \
         `cargo xtask deploy` deletes them (no data is touched)"
    );
    Ok(())
}

fn read(path: &Path) -> anyhow::Result<String> {
    fs::read_to_string(path).map_err(|e| BadInput(format!("reading {}: {e}", path.display())).into())
}

/// Formats the generated sources as `cargo fmt` would (the workspace's rustfmt.toml, edition 2024), so
/// that `cargo fmt --check` passes for any name and path, however long: rust-analyzer's code generation
/// does the same.
fn rustfmt(root: &Path, files: &[String]) -> anyhow::Result<()> {
    let status = Command::new("rustfmt")
        .current_dir(root)
        .args(["--edition", "2024", "--config-path"])
        .arg(root.join("rustfmt.toml"))
        .args(files)
        .status()
        .context("running rustfmt (install it with `rustup component add rustfmt`)")?;
    if !status.success() {
        bail!("rustfmt failed on the generated code; see above");
    }
    Ok(())
}

/// Lets cargo bring `Cargo.lock` in line with the crates under `handlers/`, without building anything.
fn update_lock(root: &Path) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(root)
        // Only the workspace's own packages: every dependency keeps its locked version, and nothing is
        // downloaded (a new function's dependencies are the workspace's, already locked).
        .args(["update", "--workspace", "--offline"])
        .stdout(Stdio::null())
        .output()
        .context("running cargo update --workspace to update Cargo.lock")?;
    if !output.status.success() {
        bail!("cargo update --workspace failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(())
}

/// The package names (`name = "..."`) of a Cargo.lock.
pub fn lock_packages(lock: &str) -> Vec<String> {
    lock.lines()
        .filter_map(|l| l.strip_prefix("name = \"").and_then(|r| r.strip_suffix('"')))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests;
