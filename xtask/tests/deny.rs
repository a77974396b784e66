//! cargo-deny with the project's configuration refuses what it is there to refuse: a dependency under a
//! copyleft license and a banned crate, mounted in a scratch workspace next to the real one, which passes.

use std::path::{Path, PathBuf};

/// The pinned cargo-deny (installed on first use, as the test command does).
fn cargo_deny() -> PathBuf {
    let target = devenv::target_dir().unwrap_or_else(|e| panic!("{e}"));
    let install = xtask::deny::start_install(&target).unwrap_or_else(|e| panic!("{e:#}"));
    xtask::deny::finish(&target, install).unwrap_or_else(|e| panic!("{e:#}"))
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new("."))).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// A workspace whose app depends, by path, on a crate `name` under `license`.
fn scratch(tag: &str, name: &str, license: &str) -> PathBuf {
    let target = devenv::target_dir().unwrap_or_else(|e| panic!("{e}"));
    let dir = target.join("test-tmp").join(format!("deny-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write(
        &dir.join("Cargo.toml"),
        &format!(
            "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlicense = \"MIT\"\npublish = false\n\n\
             [dependencies]\n{name} = {{ path = \"dep\", version = \"0.9.34\" }}\n\n[workspace]\n"
        ),
    );
    write(&dir.join("src/lib.rs"), "");
    write(
        &dir.join("dep/Cargo.toml"),
        &format!("[package]\nname = \"{name}\"\nversion = \"0.9.34\"\nedition = \"2021\"\nlicense = \"{license}\"\n"),
    );
    write(&dir.join("dep/src/lib.rs"), "");
    let status = std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["generate-lockfile", "--offline"])
        .current_dir(&dir)
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success(), "cargo generate-lockfile in {}", dir.display());
    dir
}

fn config() -> PathBuf {
    devenv::workspace_root().unwrap_or_else(|e| panic!("{e}")).join(xtask::deny::CONFIG)
}

#[test]
fn the_workspace_passes_and_a_copyleft_or_banned_dependency_does_not() {
    let deny = cargo_deny();
    let root = devenv::workspace_root().unwrap_or_else(|e| panic!("{e}"));
    assert!(xtask::deny::check(&deny, &root, &config(), false).unwrap_or_else(|e| panic!("{e:#}")));

    let report = |dir: &Path| xtask::deny::report(&deny, dir, &config()).unwrap_or_else(|e| panic!("{e:#}"));
    // The same crate under a permissive license passes: what fails below is the license, and the name.
    let fine = scratch("fine", "leftpad", "MIT");
    let (passed, text) = report(&fine);
    assert!(passed, "{text}");
    let copyleft = scratch("gpl", "leftpad", "GPL-3.0-only");
    let (passed, text) = report(&copyleft);
    assert!(!passed && text.contains("GPL-3.0-only") && text.contains("licenses FAILED"), "{text}");
    let banned = scratch("banned", "serde_yaml", "MIT");
    let (passed, text) = report(&banned);
    assert!(!passed && text.contains("'serde_yaml = 0.9.34' is explicitly banned"), "{text}");
    // A second crypto library: the SDKs' default HTTPS client (aws-lc-rs) coming back beside ring.
    let crypto = scratch("crypto", "aws-lc-rs", "ISC");
    let (passed, text) = report(&crypto);
    assert!(!passed && text.contains("'aws-lc-rs = 0.9.34' is explicitly banned"), "{text}");
    for dir in [fine, copyleft, banned, crypto] {
        let _ = std::fs::remove_dir_all(dir);
    }
}
