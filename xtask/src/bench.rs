//! `cargo xtask bench ...`: performance figures measured on release builds, never asserted in tests.

pub mod cold_start;
pub mod enumeration;
pub mod load;
pub mod scaffold;

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
        /// Top the declared functions up to this many (each with a private route of its own), to see
        /// how synth grows with the API
        #[arg(long)]
        functions: Option<usize>,
    },
    /// Spawn each function's release bootstrap against the local Runtime API and time it to its first answer
    ColdStart {
        /// Whose templates give the functions their environment
        #[arg(long, short, default_value = "dev")]
        stage: String,
        /// Cold starts per function; the median is reported
        #[arg(long, default_value_t = 20)]
        runs: usize,
    },
    /// `cargo xtask new function`, `synth` after editing a declaration and `remove function`, timed as
    /// whole processes in a copy of the workspace that shares its (warm) target directory
    Scaffold {
        /// Rounds of new, edit and synth, remove; the median is reported
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Requests against the local API on loopback: latency percentiles and throughput of each declared
    /// function's route, one after another, each request made from its declaration (the built-in
    /// walkthrough's with the bodies it sends: refresh along each worker's own chain, signout ending a
    /// session signed in for it)
    Load {
        /// Load only this function's route
        #[arg(long, value_name = "NAME")]
        function: Option<String>,
        #[arg(long, short, default_value = "dev")]
        stage: String,
        /// Requests per route
        #[arg(long, default_value_t = 500)]
        requests: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// A `cargo xtask local` already running (http://127.0.0.1:PORT); otherwise one is started
        #[arg(long)]
        url: Option<String>,
        /// Start the local API with release builds of the functions
        #[arg(long)]
        release: bool,
    },
    /// Whether an address with an account costs what one without costs: each route that takes an address
    /// (signup, forgot, verify, reset, signin) called for both, interleaved, one address per request;
    /// medians and p90s side by side
    Enumeration {
        #[arg(long, short, default_value = "dev")]
        stage: String,
        /// Requests per side and route (each known address is signed up and verified first)
        #[arg(long, default_value_t = 200)]
        requests: usize,
        /// Start the local API with release builds of the functions (as deployed)
        #[arg(long)]
        release: bool,
    },
}

pub fn run(root: &Path, config: &Path, which: Which) -> anyhow::Result<ExitCode> {
    match which {
        Which::Synth { runs, functions } => synth(root, config, runs.max(1), functions),
        Which::ColdStart { stage, runs } => cold_start::run(config, &stage, runs.max(1)),
        Which::Scaffold { runs } => scaffold::run(root, runs.max(1)),
        Which::Enumeration { stage, requests, release } => {
            let profile = if release { crate::package::Profile::Release } else { crate::package::Profile::Debug };
            enumeration::run(config, &stage, requests.max(1), profile)
        }
        Which::Load { function, stage, requests, concurrency, url, release } => {
            let profile = if release { crate::package::Profile::Release } else { crate::package::Profile::Debug };
            load::run(config, &load::Load { function, stage, requests, concurrency, url, profile })
        }
    }
}

fn synth(root: &Path, config: &Path, runs: usize, functions: Option<usize>) -> anyhow::Result<ExitCode> {
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
    let exe = crate::target_dir()?.join("release/examples/synth_all");
    let mut walls = Vec::with_capacity(runs);
    let mut peak_kib = 0u64;
    let mut last = String::new();
    for _ in 0..runs {
        let start = Instant::now();
        let mut command = Command::new(&exe);
        command.arg(config);
        if let Some(n) = functions {
            command.arg(n.to_string());
        }
        let out = command.output().with_context(|| format!("running {}", exe.display()))?;
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
