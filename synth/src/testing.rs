//! For synth's tests and benchmarks (never the library): the workspace's real declarations, read from
//! `handlers/*/Cargo.toml` as `cargo xtask` reads them, and declarations made up on the spot. Included
//! by the integration tests, the `synth_all` example and other crates' tests with `#[path]`.
#![allow(dead_code)]

use contract::Function;
use synth::declarations::{self, Manifest};

/// Every function the workspace declares, sorted by name.
pub fn functions() -> Vec<Function> {
    let root = devenv::find_workspace_root(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|| panic!("no workspace above {}", env!("CARGO_MANIFEST_DIR")));
    let manifests = devenv::handler_manifests(&root).unwrap_or_else(|e| panic!("{e}"));
    let views: Vec<Manifest<'_>> = manifests
        .iter()
        .map(|m| Manifest { path: &m.path, directory: &m.directory, text: &m.text, has_main: m.has_main })
        .collect();
    declarations::functions(&views).unwrap_or_else(|e| panic!("{}", e.one_line()))
}

/// The declared function `name`.
pub fn function(name: &str) -> Function {
    Function::find(&functions(), name).cloned().unwrap_or_else(|| panic!("no function {name}"))
}

/// A function `name` declared by `table`, the body of its `[package.metadata.function]`.
pub fn declare(name: &str, table: &str) -> Function {
    let text = format!("[package]\nname = \"{name}\"\n\n[package.metadata.function]\n{table}\n");
    let path = format!("handlers/{name}/Cargo.toml");
    let manifest = Manifest { path: &path, directory: name, text: &text, has_main: true };
    match declarations::parse(manifest) {
        Ok(Some(d)) => d.function,
        Ok(None) => panic!("{name} declares nothing"),
        Err(e) => panic!("{}", e.one_line()),
    }
}

/// The workspace's functions and `extra`.
pub fn with(extra: &[Function]) -> Vec<Function> {
    let mut all = functions();
    all.extend(extra.iter().cloned());
    all.sort();
    all
}
