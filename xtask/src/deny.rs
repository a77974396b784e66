//! `cargo xtask deny`: cargo-deny's checks of the dependency tree, with `xtask/deny.toml`.
//!
//! cargo-deny is installed on first use, pinned, into the target directory (`target/tools`), by
//! `cargo install --locked`: no separate set-up step, and nothing outside the workspace's target.
//! Licenses, bans and sources need only what cargo itself fetches from crates.io, and run in `cargo xtask
//! test`; advisories need RustSec's database from GitHub, so `--advisories` is for machines that can
//! fetch it (the pipeline's Plan step).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};

use anyhow::{Context as _, bail};

use crate::EXIT_DIFFERENCE;

/// The cargo-deny release the checks are written for.
pub const VERSION: &str = "0.20.2";

/// The configuration, relative to the workspace root.
pub const CONFIG: &str = "xtask/deny.toml";

/// Where the pinned cargo-deny is installed, and its binary.
fn install_root(target: &Path) -> PathBuf {
    target.join("tools").join(format!("cargo-deny-{VERSION}"))
}

fn binary(target: &Path) -> PathBuf {
    install_root(target).join("bin").join("cargo-deny")
}

/// Starts installing cargo-deny when it is missing, quietly, so that it builds while other set-up runs;
/// `None` when it is already there. [`finish`] waits for it.
pub fn start_install(target: &Path) -> anyhow::Result<Option<Child>> {
    if binary(target).is_file() {
        return Ok(None);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let log = std::fs::File::create(target.join("cargo-deny-install.log")).context("creating the install log")?;
    let child = Command::new(cargo)
        // A debug build: 57 s instead of 144 s on a 2-core machine, and its checks still take under 2 s.
        .args(["install", "cargo-deny", "--locked", "--debug", "--version", &format!("={VERSION}"), "--root"])
        .arg(install_root(target))
        // Its own build directory, so that it never waits on the workspace's build lock.
        .env("CARGO_TARGET_DIR", target.join("tools").join("build"))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("starting `cargo install cargo-deny`")?;
    Ok(Some(child))
}

/// Waits for an install [`start_install`] began, and answers the binary.
pub fn finish(target: &Path, install: Option<Child>) -> anyhow::Result<PathBuf> {
    if let Some(mut child) = install {
        let status = child.wait().context("waiting for `cargo install cargo-deny`")?;
        if !status.success() {
            bail!("installing cargo-deny {VERSION} failed; see {}", target.join("cargo-deny-install.log").display());
        }
        // The build's objects (hundreds of MB) are of no further use once the binary is installed.
        let _ = std::fs::remove_dir_all(target.join("tools").join("build"));
    }
    Ok(binary(target))
}

/// The checks to run: the offline ones, and advisories when asked for.
pub fn checks(advisories: bool) -> Vec<&'static str> {
    let mut out = vec!["licenses", "bans", "sources"];
    if advisories {
        out.push("advisories");
    }
    out
}

/// cargo-deny's `checks` of the workspace at `root` with `config`, ready to run (`advisories` also
/// fetches RustSec's database).
fn command(deny: &Path, root: &Path, config: &Path, advisories: bool) -> Command {
    let mut command = Command::new(deny);
    // Locked, not offline: cargo metadata needs every platform's packages of the lock, which a build on
    // this machine never downloads (crates.io is reachable; the advisory database is not).
    command.current_dir(root).arg("deny").arg("--locked");
    command.arg("--config").arg(config).arg("check").arg("--hide-inclusion-graph").args(checks(advisories));
    command
}

/// Runs cargo-deny's `checks` on the workspace at `root` with `config`, its report on the terminal;
/// whether they passed.
pub fn check(deny: &Path, root: &Path, config: &Path, advisories: bool) -> anyhow::Result<bool> {
    let status =
        command(deny, root, config, advisories).status().with_context(|| format!("running {}", deny.display()))?;
    Ok(status.success())
}

/// Like [`check`], its report kept: whether the checks passed, and what cargo-deny said.
pub fn report(deny: &Path, root: &Path, config: &Path) -> anyhow::Result<(bool, String)> {
    let out = command(deny, root, config, false).output().with_context(|| format!("running {}", deny.display()))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    Ok((out.status.success(), text))
}

/// `cargo xtask deny [--advisories]`.
pub fn run(root: &Path, advisories: bool) -> anyhow::Result<ExitCode> {
    let target = devenv::target_dir_of(root)?;
    eprintln!("cargo-deny {VERSION} (installed on first use into {})", install_root(&target).display());
    let deny = finish(&target, start_install(&target)?)?;
    let passed = check(&deny, root, &root.join(CONFIG), advisories)?;
    if !passed {
        eprintln!("error: the dependency tree breaks {CONFIG}: see cargo-deny's report above");
    }
    Ok(if passed { ExitCode::SUCCESS } else { ExitCode::from(EXIT_DIFFERENCE) })
}
