//! `cargo xtask test`: every check the project has, on a fresh machine.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::Context as _;

use crate::EXIT_DIFFERENCE;

pub fn run(root: &Path, cargo_args: &[String]) -> anyhow::Result<ExitCode> {
    // Install the Python tools first and visibly, rather than inside a test whose output is captured.
    let venv = devenv::ensure(&mut |line| eprintln!("{line}")).context("installing the test tools")?;
    eprintln!("test tools ready in {}", venv.root().display());
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root)
        .args(["test", "--workspace", "--locked"])
        .args(cargo_args)
        .status()
        .context("running cargo test")?;
    Ok(if status.success() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_DIFFERENCE) })
}
