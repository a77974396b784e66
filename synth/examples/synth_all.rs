//! Synthesizes and renders every stage of a stages.toml, as one process, for `cargo xtask bench synth`.
//! Prints the bytes rendered and the process's peak resident memory (VmHWM) at the end.
#![allow(clippy::print_stdout)]

use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: synth_all <stages.toml>");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: reading {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let config = match synth::parse("stages.toml", &text) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {}", e.one_line());
            return ExitCode::from(2);
        }
    };
    let files = match synth::all_files(&config) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let bytes: usize = files.iter().map(|f| f.contents.len()).sum();
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    println!("stages={} bytes={bytes} peak_rss_kib={hwm_kib}", config.stages.len());
    ExitCode::SUCCESS
}
