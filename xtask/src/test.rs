//! `cargo xtask test`: every check the project has, on a fresh machine.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::Context as _;

use crate::EXIT_DIFFERENCE;

pub fn run(root: &Path, cargo_args: &[String]) -> anyhow::Result<ExitCode> {
    // The signup and reset functions embed the breached-password filter (the breached crate), so it is
    // built (once) first.
    let target = devenv::target_dir_of(root)?;
    crate::corpus::ensure(&target)?;
    // Style first: it takes a second, and a change that fails it never lands.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("running cargo fmt --check");
    let fmt = Command::new(&cargo).current_dir(root).args(["fmt", "--all", "--check"]).status();
    if !fmt.context("running cargo fmt --check")?.success() {
        eprintln!("error: cargo fmt --check failed; run `cargo fmt --all`, then test again");
        return Ok(ExitCode::from(EXIT_DIFFERENCE));
    }
    // The lints, while the test tools install on first use (the Python tools download, cargo-deny builds
    // in its own target directory): on a fresh machine the three overlap instead of following each other.
    let what = "cargo clippy --workspace --all-targets -- -D warnings";
    eprintln!("running {what}");
    let mut clippy = Command::new(&cargo)
        .current_dir(root)
        .args(["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"])
        .spawn()
        .with_context(|| format!("running {what}"))?;
    let mut deny_install = crate::deny::start_install(&target)?;
    // Leave nothing building behind a command that stops.
    let mut stop_installing = || {
        if let Some(install) = deny_install.as_mut() {
            let _ = install.kill();
            let _ = install.wait();
        }
    };
    // Install the Python tools visibly, rather than inside a test whose output is captured.
    let venv = devenv::ensure(&mut |line| eprintln!("{line}"));
    let linted = clippy.wait().with_context(|| format!("running {what}"))?;
    if !linted.success() {
        stop_installing();
        eprintln!("error: {what} failed; fix the lints above, then test again");
        return Ok(ExitCode::from(EXIT_DIFFERENCE));
    }
    let venv = match venv {
        Ok(venv) => venv,
        Err(e) => {
            stop_installing();
            return Err(e).context("installing the test tools");
        }
    };
    eprintln!("test tools ready in {}", venv.root().display());
    if deny_install.is_some() {
        eprintln!("installing cargo-deny {} (first use only)", crate::deny::VERSION);
    }
    let deny = crate::deny::finish(&target, deny_install)?;
    eprintln!("running cargo deny check {}", crate::deny::checks(false).join(" "));
    if !crate::deny::check(&deny, root, &root.join(crate::deny::CONFIG), false)? {
        eprintln!("error: the dependency tree breaks {}: see cargo-deny's report above", crate::deny::CONFIG);
        return Ok(ExitCode::from(EXIT_DIFFERENCE));
    }
    let mut test = Command::new(cargo);
    test.current_dir(root).args(["test", "--workspace", "--locked"]).args(cargo_args);
    if cargo_args.is_empty() {
        // The whole suite: its builds of the functions reuse what this build compiled.
        test.env(crate::package::SHARE_TEST_BUILD, "1");
    }
    let status = test.status().context("running cargo test")?;
    Ok(if status.success() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_DIFFERENCE) })
}
