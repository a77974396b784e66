//! `cargo xtask test`: every check the project has, on a fresh machine.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::Context as _;

use crate::EXIT_DIFFERENCE;

pub fn run(root: &Path, cargo_args: &[String]) -> anyhow::Result<ExitCode> {
    // Style and lints first: they take seconds, and a change that fails them never lands. The signup
    // function's build embeds the breached-password filter, so it is built (once) before the lints.
    crate::corpus::ensure(&devenv::target_dir_of(root)?)?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let checks: [(&str, &[&str]); 2] = [
        ("cargo fmt --check", &["fmt", "--all", "--check"]),
        (
            "cargo clippy --workspace --all-targets -- -D warnings",
            &["clippy", "--workspace", "--all-targets", "--locked", "--", "-D", "warnings"],
        ),
    ];
    for (what, args) in checks {
        eprintln!("running {what}");
        let status =
            Command::new(&cargo).current_dir(root).args(args).status().with_context(|| format!("running {what}"))?;
        if !status.success() {
            eprintln!("error: {what} failed; run `cargo fmt --all` or fix the lints above, then test again");
            return Ok(ExitCode::from(EXIT_DIFFERENCE));
        }
    }
    // cargo-deny builds while the Python tools download, on first use.
    let target = devenv::target_dir_of(root)?;
    let deny_install = crate::deny::start_install(&target)?;
    // Install the Python tools first and visibly, rather than inside a test whose output is captured.
    let venv = match devenv::ensure(&mut |line| eprintln!("{line}")) {
        Ok(venv) => venv,
        Err(e) => {
            // Leave no install building behind a command that has failed.
            if let Some(mut install) = deny_install {
                let _ = install.kill();
                let _ = install.wait();
            }
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
    let status = Command::new(cargo)
        .current_dir(root)
        .args(["test", "--workspace", "--locked"])
        .args(cargo_args)
        .status()
        .context("running cargo test")?;
    Ok(if status.success() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_DIFFERENCE) })
}
