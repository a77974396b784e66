//! `cargo xtask pipeline reviewer --stage S`: the one binary the pipeline's review and apply builds run.
//!
//! It is the xtask of the commit `[pipeline] reviewer` names, built once on a person's machine from that
//! commit alone (`git archive` into a directory of its own, `cargo build --locked --release`), checked to
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

/// Builds the xtask of `commit` for `arch` from that commit's tree alone, and returns the binary's path.
pub fn build(root: &Path, commit: &str, arch: Architecture) -> anyhow::Result<PathBuf> {
    let base = crate::target_dir()?.join("reviewer");
    let tree = base.join(commit);
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
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building the reviewer (xtask of {commit}, release, {target}): minutes, once");
    let status = Command::new(cargo)
        .current_dir(&tree)
        .args(["build", "--locked", "--release", "-p", "xtask", "--target", target, "--target-dir"])
        .arg(base.join("target"))
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building the reviewer commit's xtask failed; see cargo's errors above");
    }
    Ok(base.join("target").join(target).join("release").join("xtask"))
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
