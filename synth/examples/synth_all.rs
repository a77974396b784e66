//! Synthesizes and renders every stage of a stages.toml, as one process, for `cargo xtask bench synth`.
//! Prints the bytes rendered and the process's peak resident memory (VmHWM) at the end.
//!
//! `synth_all <stages.toml> [FUNCTIONS]`: with a count, the declared functions are topped up with
//! private routes of their own (`/bench/<n>/items/{id}`, every third reading the users table) until
//! there are that many, to measure synth as the API grows.
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
    let functions = match std::env::args().nth(2).map(|n| n.parse::<usize>()) {
        None => contract::Function::all(),
        Some(Ok(total)) => with_extra_functions(total),
        Some(Err(e)) => {
            eprintln!("error: the function count: {e}");
            return ExitCode::from(2);
        }
    };
    let config = match synth::config::parse_for("stages.toml", &text, &functions) {
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
    println!("stages={} functions={} bytes={bytes} peak_rss_kib={hwm_kib}", config.stages.len(), functions.len());
    ExitCode::SUCCESS
}

/// The declared functions and as many more as make `total`, declared for the life of the process.
fn with_extra_functions(total: usize) -> Vec<contract::Function> {
    use contract::{Access, Declaration, EnvVar, Grant, Method, Route};
    let declared = contract::Function::all();
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let extra: Vec<Declaration> = (declared.len()..total)
        .map(|i| {
            let reads = i % 3 == 0;
            Declaration {
                name: leak(format!("bench{i}")),
                route: Some(Route {
                    method: Method::Get,
                    path: leak(format!("/bench/{i}/items/{{id}}")),
                    access: Access::Private,
                }),
                env: if reads { &[EnvVar::TableName] } else { &[] },
                grants: if reads { &[Grant::READ_USER] } else { &[] },
            }
        })
        .collect();
    let extra: &'static [Declaration] = Box::leak(extra.into_boxed_slice());
    declared.into_iter().chain(contract::Function::of(extra)).collect()
}
