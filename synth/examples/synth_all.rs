//! Synthesizes and renders every stage of a stages.toml, as one process, for `cargo xtask bench synth`.
//! Prints the bytes rendered and the process's peak resident memory (VmHWM) at the end.
//!
//! `synth_all <stages.toml> [FUNCTIONS]`: with a count, the declared functions are topped up with
//! private routes of their own (`/bench/<n>/items/{id}`, every third reading the users table) until
//! there are that many, to measure synth as the API grows.
#![allow(clippy::print_stdout)]

use std::process::ExitCode;

use testkit as testing;

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
        None => testing::functions(),
        Some(Ok(total)) => with_extra_functions(total),
        Some(Err(e)) => {
            eprintln!("error: the function count: {e}");
            return ExitCode::from(2);
        }
    };
    let config = match synth::parse("stages.toml", &text, &functions) {
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

/// The declared functions and as many more as make `total`, each declared as a crate would.
fn with_extra_functions(total: usize) -> Vec<contract::Function> {
    let declared = testing::functions();
    let extra: Vec<contract::Function> = (declared.len()..total)
        .map(|i| {
            let route =
                format!("route = {{ method = \"GET\", path = \"/bench/{i}/items/{{id}}\", access = \"private\" }}");
            let reads = "env = [\"AUTH_TABLE_NAME\"]\ngrants = { users-table = [\"dynamodb:GetItem\"] }";
            testing::declare(&format!("bench{i}"), &if i % 3 == 0 { format!("{route}\n{reads}") } else { route })
        })
        .collect();
    testing::with(&extra)
}
