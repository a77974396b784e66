//! `cargo xtask bench ...`: performance figures measured on release builds, never asserted in tests.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum Which {
    /// Wall time and peak memory of one process that synthesizes and renders every stage
    Synth {
        /// How many runs to time
        #[arg(long, default_value_t = 50)]
        runs: usize,
    },
}

pub fn run(root: &Path, config: &Path, which: Which) -> anyhow::Result<ExitCode> {
    match which {
        Which::Synth { runs } => synth(root, config, runs.max(1)),
    }
}

fn synth(root: &Path, config: &Path, runs: usize) -> anyhow::Result<ExitCode> {
    eprintln!("building synth's synth_all example in release (fat LTO)...");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(root)
        .args(["build", "--release", "--quiet", "-p", "synth", "--example", "synth_all"])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("building the synth_all example failed");
    }
    let exe = devenv::target_dir().join("release/examples/synth_all");
    let mut walls = Vec::with_capacity(runs);
    let mut peak_kib = 0u64;
    let mut last = String::new();
    for _ in 0..runs {
        let start = Instant::now();
        let out = Command::new(&exe).arg(config).output().with_context(|| format!("running {}", exe.display()))?;
        walls.push(start.elapsed());
        if !out.status.success() {
            bail!("synth_all failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        }
        last = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let kib = last.split_whitespace().find_map(|w| w.strip_prefix("peak_rss_kib=")).and_then(|v| v.parse().ok());
        peak_kib = peak_kib.max(kib.unwrap_or(0));
    }
    walls.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("synth: {runs} runs of one release process that parses stages.toml and renders every stage ({last})");
    println!(
        "wall: median {:.2} ms, p90 {:.2} ms, max {:.2} ms; peak memory {:.1} MiB",
        ms(walls[runs / 2]),
        ms(walls[(runs * 9 / 10).min(runs - 1)]),
        ms(walls[runs - 1]),
        peak_kib as f64 / 1024.0
    );
    Ok(ExitCode::SUCCESS)
}
