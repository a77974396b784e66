//! Scratch directories for tests, under target/ so a failing test's files stay there to inspect.

use std::path::PathBuf;

/// A fresh, empty directory named after the test and this process.
pub fn dir(name: &str) -> PathBuf {
    let dir = devenv::target_dir()
        .unwrap_or_else(|e| panic!("{e}"))
        .join("test-tmp")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}
