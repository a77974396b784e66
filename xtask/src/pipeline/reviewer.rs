//! `cargo xtask pipeline reviewer --stage S`: the one binary the pipeline's review and apply builds run.
//!
//! It is the xtask of the commit `[pipeline] reviewer` names, built once on a person's machine from that
//! commit alone (`git archive` into a directory outside any workspace, `cargo build --locked --release`
//! there with a cleared environment and the build's paths remapped), checked to
//! run on CodeBuild's Amazon Linux 2023 image (the stage's architecture, glibc no newer than 2.34), and
//! uploaded write-once to `reviewer/<sha256>/xtask` in the stage's artifact bucket. The pipeline template
//! pins its SHA-256 (`reviewer_sha256`); the builds check it before running it. No pipeline role can
//! write there, and a binary of any other digest is refused whoever wrote it.
//!
//! Why a binary built once and not a build in each run: a trusted build would have to install a
//! toolchain, fetch crates and compile without anything of the pushed commit's reaching it (its cargo
//! config, a shared cache, a toolchain file), every run, for minutes. A binary checked against a digest
//! the reviewed template names runs no compiler, no build script and no package manager, so nothing the
//! push wrote can take part, and the check is one line of coreutils. What it costs: whoever bumps the
//! reviewer builds it, and an approver of that change trusts their build (`--binary` publishes one built
//! elsewhere, for instance by a release job of the reviewer commit).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context as _, bail};
use clap::Args;
use synth::config::Architecture;

use crate::aws::{Clients, StageArgs};
use crate::deploy::artifacts;
use crate::deploy::session::Session;
use crate::{BadInput, Target};

#[derive(Debug, Clone, Args)]
pub struct ReviewerArgs {
    #[command(flatten)]
    pub on: StageArgs,
    /// Publish this binary instead of building the reviewer commit's xtask
    #[arg(long, value_name = "FILE")]
    pub binary: Option<PathBuf>,
    /// Build and print the SHA-256 only; upload nothing (no AWS credentials needed)
    #[arg(long)]
    pub no_upload: bool,
}

/// The cargo config files cargo would read in `dir` and its parents (cargo looks there, not beside the
/// manifest): a build of the reviewer must find none but its own commit's.
pub fn configs_above(dir: &Path) -> Vec<PathBuf> {
    dir.ancestors()
        .skip(1)
        .flat_map(|d| [d.join(".cargo/config.toml"), d.join(".cargo/config")])
        .filter(|f| f.is_file())
        .collect()
}

/// The environment of the reviewer's build: this machine's `PATH` and home, a cross linker if one is set,
/// a cargo home of its own (`cargo_home`: no config, no credentials of the caller's), and the build's
/// paths remapped (the tree to `/reviewer`, the cargo home to `/cargo`), so that two builds of the commit
/// on one toolchain give one binary. No `RUSTFLAGS`, wrapper or other cargo setting of the caller's
/// reaches it.
fn environment(tree: &Path, cargo_home: &Path) -> Vec<(String, String)> {
    let keep = |k: &str| {
        matches!(k, "PATH" | "HOME" | "RUSTUP_HOME" | "TMPDIR")
            || (k.starts_with("CARGO_TARGET_") && k.ends_with("_LINKER"))
    };
    let mut env: Vec<(String, String)> = std::env::vars().filter(|(k, _)| keep(k)).collect();
    // rustup finds its toolchains under the caller's home unless RUSTUP_HOME says otherwise.
    if std::env::var_os("RUSTUP_HOME").is_none()
        && let Some(home) = std::env::var_os("HOME")
    {
        env.push(("RUSTUP_HOME".to_owned(), Path::new(&home).join(".rustup").to_string_lossy().into_owned()));
    }
    env.push(("CARGO_HOME".to_owned(), cargo_home.to_string_lossy().into_owned()));
    let flags = [
        format!("--remap-path-prefix={}=/reviewer", tree.display()),
        format!("--remap-path-prefix={}=/cargo", cargo_home.display()),
    ];
    env.push(("CARGO_ENCODED_RUSTFLAGS".to_owned(), flags.join("\u{1f}")));
    env
}

/// A cargo home for reviewer builds alone: crates downloaded once, no config or credentials in it.
fn cargo_home() -> anyhow::Result<PathBuf> {
    let base = std::env::var_os("HOME").map_or_else(std::env::temp_dir, |h| Path::new(&h).join(".cache"));
    let home = base.join("xtask-reviewer").join("cargo-home");
    std::fs::create_dir_all(&home).with_context(|| format!("creating {}", home.display()))?;
    for config in ["config.toml", "config"] {
        if home.join(config).exists() {
            return Err(BadInput(format!("{} has a cargo config; remove it", home.join(config).display())).into());
        }
    }
    Ok(home)
}

/// Builds the xtask of `commit` for `arch` from that commit's tree alone, in a directory of its own outside
/// any workspace, and returns the binary, copied out of that directory.
pub fn build(root: &Path, commit: &str, arch: Architecture) -> anyhow::Result<PathBuf> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let tree = std::env::temp_dir().join(format!("xtask-reviewer-{commit}-{}-{nanos}", std::process::id()));
    // `create_dir`, not `create_dir_all`: a directory someone made there first is refused.
    std::fs::create_dir(&tree).with_context(|| format!("creating {}", tree.display()))?;
    eprintln!("extracting commit {commit} into {}", tree.display());
    let mut archive = Command::new("git")
        .args(["-C"])
        .arg(root)
        .args(["archive", "--format=tar", commit])
        .stdout(Stdio::piped())
        .spawn()
        .context("running git archive")?;
    let stdout = archive.stdout.take().context("git archive's output")?;
    let untar = Command::new("tar").arg("-x").arg("-C").arg(&tree).stdin(stdout).status().context("running tar")?;
    if !archive.wait().context("waiting for git archive")?.success() || !untar.success() {
        return Err(BadInput(format!(
            "git archive {commit} failed: is the commit in this repository (`git fetch` it)?"
        ))
        .into());
    }
    let above = configs_above(&tree);
    if !above.is_empty() {
        return Err(BadInput(format!(
            "cargo would read {} while building the reviewer in {}: set TMPDIR to a directory with no cargo config \
             above it",
            above.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
            tree.display()
        ))
        .into());
    }
    let target = arch.rust_target();
    eprintln!("building the reviewer (xtask of {commit}, release, {target}): minutes, once");
    let status = Command::new("cargo")
        .current_dir(&tree)
        .env_clear()
        .envs(environment(&tree, &cargo_home()?))
        .args(["build", "--locked", "--release", "-p", "xtask", "--target", target])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building the reviewer commit's xtask failed; see cargo's errors above");
    }
    let built = tree.join("target").join(target).join("release").join("xtask");
    let kept = crate::target_dir()?.join("reviewer").join(format!("xtask-{commit}-{}", arch.lambda_name()));
    std::fs::create_dir_all(kept.parent().unwrap_or(Path::new("."))).context("creating target/reviewer")?;
    std::fs::copy(&built, &kept).with_context(|| format!("copying {} to {}", built.display(), kept.display()))?;
    let _ = std::fs::remove_dir_all(&tree);
    Ok(kept)
}

/// The flags a stage's review and apply builds pass to the reviewer binary.
pub fn buildspec_flags(project: &str, names: &synth::Names, stage: &synth::Stage) -> [(&'static str, Vec<String>); 2] {
    use synth::stacks::pipeline::{apply_command, review_command};
    let approval = stage.pipeline.as_ref().map_or(synth::config::Approval::Risky, |p| p.approval);
    let flags = |command: String| -> Vec<String> {
        command.split_whitespace().filter(|w| w.starts_with("--")).map(str::to_owned).collect()
    };
    [
        ("review", flags(review_command(project, names, &stage.name))),
        ("apply", flags(apply_command(project, names, &stage.name, approval, stage.protect))),
    ]
}

/// The flags of `flags` a binary's `pipeline <step> --help` does not list: a reviewer too old (or too new)
/// for the pipeline that would run it fails every run on its arguments.
pub fn missing_flags(binary: &Path, flags: &[(&'static str, Vec<String>)]) -> anyhow::Result<Vec<String>> {
    let mut missing = Vec::new();
    for (step, wanted) in flags {
        let out = Command::new(binary)
            .args(["pipeline", step, "--help"])
            .output()
            .with_context(|| format!("running {} pipeline {step} --help", binary.display()))?;
        let help = String::from_utf8_lossy(&out.stdout);
        missing.extend(wanted.iter().filter(|f| !help.contains(f.as_str())).map(|f| format!("{step} {f}")));
    }
    Ok(missing)
}

/// `None` when the pinned reviewer binary is in the bucket with its digest, else what is wrong.
pub async fn missing(
    clients: &Clients,
    (bucket, account): (&str, &str),
    sha256: &str,
) -> anyhow::Result<Option<String>> {
    let key = synth::stacks::pipeline::reviewer_key(sha256);
    Ok(match artifacts::head(&clients.s3, (bucket, account), &key, None).await? {
        Some((found, _)) if found == artifacts::s3_checksum(sha256).ok() => None,
        Some(_) => Some(format!("s3://{bucket}/{key} is not the binary its key names")),
        None => Some(format!("the reviewer binary s3://{bucket}/{key} is not there")),
    })
}

pub async fn run(config_path: &Path, args: &ReviewerArgs) -> anyhow::Result<ExitCode> {
    let target = Target::load(config_path, &args.on.stage)?;
    let (config, stage) = (&target.config, target.stage());
    let Some(pipeline) = &stage.pipeline else {
        return Err(BadInput(format!("stage {} has no pipeline: add [pipeline] to stages.toml", stage.name)).into());
    };
    let path = match &args.binary {
        Some(path) => path.clone(),
        None => build(&crate::workspace()?, &pipeline.reviewer, stage.architecture)?,
    };
    let bytes = std::fs::read(&path).map_err(|e| BadInput(format!("reading {}: {e}", path.display())))?;
    crate::package::check_elf("the reviewer binary", &bytes, stage.architecture)?;
    let native = stage.architecture.lambda_name() == std::env::consts::ARCH.replace("aarch64", "arm64");
    if native {
        let missing = missing_flags(&path, &buildspec_flags(&config.project, &target.names, stage))?;
        if !missing.is_empty() {
            return Err(BadInput(format!(
                "{} does not take what the pipeline's builds pass it ({}): it is not the reviewer this pipeline \
                 runs; build the commit whose xtask matches templates/{}/pipeline.yaml",
                path.display(),
                missing.join(", "),
                stage.name
            ))
            .into());
        }
    } else {
        println!("(built for {}: its arguments are not checked on this machine)", stage.architecture.lambda_name());
    }
    let sha256 = crate::package::hex_sha256(&bytes);
    println!("reviewer binary {} for {}: sha256 {sha256}", path.display(), stage.architecture.lambda_name());
    if sha256 == pipeline.reviewer_sha256 {
        println!("stages.toml pins this binary");
    } else {
        println!(
            "stages.toml pins {}: to trust this build, put in [pipeline]\n  reviewer_sha256 = {{ {} = \"{sha256}\" }}\n\
             then `cargo xtask synth` and deploy the pipeline (`cargo xtask pipeline deploy --stage {}`)",
            pipeline.reviewer_sha256,
            stage.architecture.lambda_name(),
            stage.name
        );
    }
    if args.no_upload {
        return Ok(ExitCode::SUCCESS);
    }
    let session = Session::connect(target, &args.on.aws).await?;
    let bucket = session.artifact_bucket(true).await?;
    let (clients, account) = (&session.clients, &session.account);
    let key = synth::stacks::pipeline::reviewer_key(&sha256);
    if missing(clients, (&bucket, account), &sha256).await?.is_none() {
        println!("already uploaded: s3://{bucket}/{key}");
        return Ok(ExitCode::SUCCESS);
    }
    let body = aws_sdk_s3::primitives::ByteStream::from(bytes);
    let version = artifacts::put_once(&clients.s3, (&bucket, account), &key, body, &sha256).await?;
    println!("uploaded s3://{bucket}/{key} (version {version})");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reviewer_builds_with_no_setting_of_the_callers() {
        let tree = Path::new("/tmp/xtask-reviewer-0123");
        let env = environment(tree, Path::new("/home/me/.cache/xtask-reviewer/cargo-home"));
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        for forbidden in
            ["RUSTFLAGS", "RUSTC_WRAPPER", "RUSTC_WORKSPACE_WRAPPER", "CARGO_BUILD_RUSTC_WRAPPER", "CARGO_TARGET_DIR"]
        {
            assert!(!names.contains(&forbidden), "{forbidden}");
        }
        let flags =
            env.iter().find(|(k, _)| k == "CARGO_ENCODED_RUSTFLAGS").map(|(_, v)| v.clone()).unwrap_or_default();
        assert!(
            flags.starts_with("--remap-path-prefix=/tmp/xtask-reviewer-0123=/reviewer\u{1f}--remap-path-prefix="),
            "{flags}"
        );
        // The workspace's own cargo config is found above a tree inside it, never above /tmp.
        let inside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/reviewer/x");
        assert!(configs_above(&inside).iter().any(|p| p.ends_with(".cargo/config.toml")), "{inside:?}");
    }

    #[test]
    fn a_reviewer_that_does_not_take_the_pipelines_flags_is_named() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("xtask-missing-flags-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // An older reviewer: its review step knows --plan-digest and --commit, not --pipeline.
        let old = dir.join("xtask");
        std::fs::write(&old, "#!/bin/sh\necho '--project --stage --plan --plan-digest --execution --commit --out'\n")
            .unwrap();
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
        let flags = [("review", vec!["--project".to_owned(), "--pipeline".to_owned(), "--execution".to_owned()])];
        assert_eq!(missing_flags(&old, &flags).unwrap(), ["review --pipeline"]);
        // This build's own xtask taking every flag: xtask/tests/pipeline_run.rs publishes it through this check.
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
