//! `cargo xtask bench scaffold`: how long adding, re-declaring and removing a function take, as a user
//! runs them on a warm build: `cargo xtask new function`, `cargo xtask synth` right after a declaration
//! is edited, and `cargo xtask remove function`, each a whole `cargo xtask` process.
//!
//! It works in a copy of the workspace outside it (so the checkout is never touched) that shares this
//! workspace's target directory: the copy's sources are byte-identical and keep their modification
//! times, so cargo finds everything built, as in the checkout itself.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// The workspace's files as git knows them (tracked, and new files not ignored), copied to `to` with
/// their modification times, so that cargo takes the copy's sources as the ones it built.
pub fn copy_workspace(from: &Path, to: &Path) -> anyhow::Result<()> {
    let listed = Command::new("git")
        .current_dir(from)
        .args(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
        .output()
        .context("running git ls-files")?;
    if !listed.status.success() {
        bail!("git ls-files failed in {}", from.display());
    }
    for path in listed.stdout.split(|b| *b == 0).filter(|p| !p.is_empty()) {
        let relative = Path::new(std::str::from_utf8(path).context("a path that is not UTF-8")?);
        let source = from.join(relative);
        if !source.is_file() {
            continue; // deleted in the work tree, not yet in the index
        }
        let target = to.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::copy(&source, &target).with_context(|| format!("copying {}", source.display()))?;
        let modified = std::fs::metadata(&source).and_then(|m| m.modified())?;
        std::fs::File::options()
            .write(true)
            .open(&target)
            .and_then(|f| f.set_modified(modified))
            .with_context(|| format!("dating {}", target.display()))?;
    }
    Ok(())
}

/// `cargo` in `workspace`, building into `target`, as a user would run it there.
pub fn cargo(workspace: &Path, target: &Path) -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace).env("CARGO_TARGET_DIR", target);
    // What cargo set for this process describes this workspace, not the copy; and the copy's test targets
    // were never built, so its functions build on their own.
    command.env_remove(crate::package::SHARE_TEST_BUILD);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_") || name == "CARGO_MANIFEST_DIR" || name == "CARGO_PRIMARY_PACKAGE" {
            command.env_remove(name.as_ref());
        }
    }
    command
}

/// `cargo xtask <args>` in `workspace`.
fn xtask(workspace: &Path, target: &Path, args: &[&str]) -> Command {
    let mut command = cargo(workspace, target);
    command.arg("xtask").args(args);
    command
}

fn timed(mut command: Command, what: &str) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let out = command.stdout(Stdio::null()).output().with_context(|| format!("running {what}"))?;
    let took = start.elapsed();
    if !out.status.success() {
        bail!("{what} failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(took)
}

pub fn run(root: &Path, runs: usize) -> anyhow::Result<ExitCode> {
    let target = crate::target_dir()?;
    eprintln!("building xtask, so that every timed command starts warm...");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo).current_dir(root).args(["build", "--quiet", "-p", "xtask"]).status()?;
    if !built.success() {
        bail!("building xtask failed");
    }
    let scratch: PathBuf = std::env::temp_dir().join(format!("xtask-bench-scaffold-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    copy_workspace(root, &scratch)?;
    let result = (|| -> anyhow::Result<[Vec<Duration>; 3]> {
        // One untimed round: the copy's lock file and cargo's view of it settle.
        timed(xtask(&scratch, &target, &["synth"]), "cargo xtask synth")?;
        let mut times: [Vec<Duration>; 3] = Default::default();
        for _ in 0..runs {
            let new = ["new", "function", "benchfn", "--method", "GET", "--path", "/bench/{item_id}"];
            times[0].push(timed(xtask(&scratch, &target, &new), "cargo xtask new function")?);
            let manifest = scratch.join("handlers/benchfn/Cargo.toml");
            let text = std::fs::read_to_string(&manifest)?;
            std::fs::write(&manifest, text.replace("/bench/{item_id}", "/bench/items/{item_id}"))?;
            times[1].push(timed(xtask(&scratch, &target, &["synth"]), "cargo xtask synth")?);
            times[2].push(timed(xtask(&scratch, &target, &["remove", "function", "benchfn"]), "remove function")?);
            timed(xtask(&scratch, &target, &["synth"]), "cargo xtask synth")?;
        }
        Ok(times)
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    let times = result?;
    println!("scaffold: {runs} runs each, whole `cargo xtask` processes on a warm build");
    let labels = ["new function", "synth after editing a declaration", "remove function"];
    for (label, mut times) in labels.into_iter().zip(times) {
        times.sort();
        let s = |d: Duration| d.as_secs_f64();
        println!(
            "  {label:<34} median {:.2} s, min {:.2} s, max {:.2} s",
            s(times[times.len() / 2]),
            s(times[0]),
            s(times[times.len() - 1])
        );
    }
    Ok(ExitCode::SUCCESS)
}
