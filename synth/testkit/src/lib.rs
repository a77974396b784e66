//! Test support that crosses crates (synth's tests and example, xtask's tests): the workspace's real
//! function declarations, read from `handlers/*/Cargo.toml` and parsed by `synth::declarations` as
//! `cargo xtask` parses them, and declarations made up on the spot. Never a dependency of a library.
#![allow(clippy::panic, reason = "test support: a fixture that cannot be read is a failed test")]

use std::path::{Path, PathBuf};

use contract::Function;
use synth::declarations::{self, Manifest};

/// The workspace this crate is in: two levels up from `synth/testkit`.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every function the workspace declares, sorted by name.
pub fn functions() -> Vec<Function> {
    let handlers = workspace_root().join("handlers");
    let mut read = Vec::new();
    // As `devenv::handler_manifests` reads them for xtask: every directory but hidden ones is a crate.
    let entries = std::fs::read_dir(&handlers).unwrap_or_else(|e| panic!("listing {}: {e}", handlers.display()));
    for entry in entries.map(|e| e.unwrap_or_else(|e| panic!("listing {}: {e}", handlers.display()))) {
        let directory = entry.file_name().to_string_lossy().into_owned();
        if directory.starts_with('.') || !entry.path().is_dir() {
            continue;
        }
        let manifest = entry.path().join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
        let has_main = entry.path().join("src/main.rs").is_file();
        read.push((format!("handlers/{directory}/Cargo.toml"), directory, text, has_main));
    }
    read.sort();
    let views: Vec<Manifest<'_>> = read
        .iter()
        .map(|(path, directory, text, has_main)| Manifest { path, directory, text, has_main: *has_main })
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
