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

use crate::aws::{AwsResultExt as _, Clients, StageArgs};
use crate::deploy::{artifacts, gates};
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

/// The environment of the reviewer's build: this machine's `PATH`, home and toolchain homes, a cross
/// linker if one is set, and the build's paths remapped (the tree to `/reviewer`, cargo's home to
/// `/cargo`), so that two builds of the commit on one toolchain give one binary. No `RUSTFLAGS`, wrapper
/// or other cargo setting of the caller's reaches it.
fn environment(tree: &Path) -> Vec<(String, String)> {
    let keep = |k: &str| {
        matches!(k, "PATH" | "HOME" | "CARGO_HOME" | "RUSTUP_HOME" | "TMPDIR")
            || (k.starts_with("CARGO_TARGET_") && k.ends_with("_LINKER"))
    };
    let mut env: Vec<(String, String)> = std::env::vars().filter(|(k, _)| keep(k)).collect();
    let cargo_home =
        std::env::var("CARGO_HOME").unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap_or_default()));
    let flags = [
        format!("--remap-path-prefix={}=/reviewer", tree.display()),
        format!("--remap-path-prefix={cargo_home}=/cargo"),
    ];
    env.push(("CARGO_ENCODED_RUSTFLAGS".to_owned(), flags.join("\u{1f}")));
    env
}

/// Builds the xtask of `commit` for `arch` from that commit's tree alone, and returns the binary's path.
pub fn build(root: &Path, commit: &str, arch: Architecture) -> anyhow::Result<PathBuf> {
    let tree = std::env::temp_dir().join(format!("xtask-reviewer-{commit}"));
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
    if tree.exists() {
        std::fs::remove_dir_all(&tree).with_context(|| format!("removing {}", tree.display()))?;
    }
    std::fs::create_dir_all(&tree).with_context(|| format!("creating {}", tree.display()))?;
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
    let target = arch.rust_target();
    let target_dir = crate::target_dir()?.join("reviewer").join("target");
    eprintln!("building the reviewer (xtask of {commit}, release, {target}): minutes, once");
    let status = Command::new("cargo")
        .current_dir(&tree)
        .env_clear()
        .envs(environment(&tree))
        .args(["build", "--locked", "--release", "-p", "xtask", "--target", target, "--target-dir"])
        .arg(&target_dir)
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building the reviewer commit's xtask failed; see cargo's errors above");
    }
    Ok(target_dir.join(target).join("release").join("xtask"))
}

/// `None` when the pinned reviewer binary is in the bucket with its digest, else what is wrong.
pub async fn missing(
    clients: &Clients,
    (bucket, account): (&str, &str),
    sha256: &str,
) -> anyhow::Result<Option<String>> {
    let key = synth::stacks::pipeline::reviewer_key(sha256);
    let head = clients
        .s3
        .head_object()
        .bucket(bucket)
        .key(&key)
        .expected_bucket_owner(account)
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .aws();
    match head {
        Ok(out) if out.checksum_sha256 == artifacts::s3_checksum(sha256).ok() => Ok(None),
        Ok(_) => Ok(Some(format!("s3://{bucket}/{key} is not the binary its key names"))),
        Err(e) if e.is_not_found() => Ok(Some(format!("the reviewer binary s3://{bucket}/{key} is not there"))),
        Err(e) => Err(e).with_context(|| format!("checking s3://{bucket}/{key}")),
    }
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
    let clients = Clients::new(&args.on.aws, stage).await?;
    let account = clients.account().await?;
    gates::account(&stage.name, stage.account.as_deref(), &account).map_err(BadInput)?;
    let bucket = artifacts::bucket_name(&config.project, &account, &stage.region, stage.artifact_bucket.as_deref());
    if artifacts::ensure_bucket(&clients.s3, &bucket, &stage.region, &account, (&config.project, &stage.name)).await? {
        println!("created artifact bucket {bucket} (versioned, encrypted, not public, TLS only, code written once)");
    } else {
        artifacts::ensure_policy(&clients.s3, &bucket, &account, &config.project).await?;
    }
    let key = synth::stacks::pipeline::reviewer_key(&sha256);
    if missing(&clients, (&bucket, &account), &sha256).await?.is_none() {
        println!("already uploaded: s3://{bucket}/{key}");
        return Ok(ExitCode::SUCCESS);
    }
    let body = aws_sdk_s3::primitives::ByteStream::from(bytes);
    let version = artifacts::put_once(&clients.s3, (&bucket, &account), &key, body, &sha256).await?;
    println!("uploaded s3://{bucket}/{key} (version {version})");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reviewer_builds_with_no_setting_of_the_callers() {
        let tree = Path::new("/tmp/xtask-reviewer-0123");
        let env = environment(tree);
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
}
