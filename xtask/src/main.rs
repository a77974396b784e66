//! `cargo xtask`: the project's command line. Owns the terminal, so printing is allowed here.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::Parser;
use xtask::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match xtask::cli::run(cli) {
        Ok(code) => code,
        Err(err) => xtask::report(err),
    }
}
