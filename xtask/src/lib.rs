//! The library behind `cargo xtask`: each command is a module, so integration tests can drive the
//! same code the command line runs.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod aws;
pub mod bench;
pub mod cfn;
pub mod cli;
pub mod corpus;
pub mod deny;
pub mod deploy;
pub mod destroy;
pub mod drift;
pub mod inspect;
pub mod lint;
pub mod local;
pub mod logs;
pub mod package;
pub mod pipeline;
pub mod scaffold;
pub mod templates;
pub mod test;

/// The functions' declarations, as synth reads them, for unit tests.
#[cfg(test)]
use testkit as declared;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit code of a command that found a difference or whose deployment failed.
pub const EXIT_DIFFERENCE: u8 = 1;
/// Exit code of bad usage or bad input.
pub const EXIT_BAD_INPUT: u8 = 2;

/// An error in what the user gave us (config, arguments): the command exits 2, not 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// A config error, kept whole so it is rendered with its snippet and caret.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct BadConfig(#[from] pub synth::ConfigError);

/// The root of the workspace the command runs in (see [`devenv::workspace_root`]); outside any
/// workspace, bad input.
pub fn workspace() -> anyhow::Result<PathBuf> {
    devenv::workspace_root().map_err(|e| BadInput(e.to_string()).into())
}

/// The target directory builds and tools use (`CARGO_TARGET_DIR`, or the workspace's `target/`).
pub fn target_dir() -> anyhow::Result<PathBuf> {
    devenv::target_dir().map_err(|e| BadInput(e.to_string()).into())
}

/// The workspace's `stages.toml`, used unless `--config` names another.
pub fn default_config_path() -> anyhow::Result<PathBuf> {
    Ok(workspace()?.join("stages.toml"))
}

/// The service's functions, as the crates under `root/handlers/` declare them (their
/// `[package.metadata.function]`), checked as one API and sorted by name. A bad declaration is a
/// [`BadConfig`], rendered with its file, line, column and caret.
pub fn functions(root: &Path) -> anyhow::Result<Vec<contract::Function>> {
    parse_functions(&devenv::handler_manifests(root).map_err(|e| BadInput(e.to_string()))?)
}

/// [`functions`] of manifests already read.
pub fn parse_functions(manifests: &[devenv::HandlerManifest]) -> anyhow::Result<Vec<contract::Function>> {
    let views: Vec<synth::declarations::Manifest<'_>> = manifests
        .iter()
        .map(|m| synth::declarations::Manifest {
            path: &m.path,
            directory: &m.directory,
            text: &m.text,
            has_main: m.has_main,
        })
        .collect();
    Ok(synth::declarations::functions(&views).map_err(BadConfig)?)
}

/// Reads and parses a `stages.toml` for the workspace's declared functions, or fails with a
/// [`BadConfig`] that `main` renders with its span.
pub fn load_config(path: &Path) -> anyhow::Result<synth::Config> {
    load_config_for(path, &functions(&workspace()?)?)
}

/// [`load_config`] for a given list of functions (`remove function` parses without the one it removes).
pub fn load_config_for(path: &Path, functions: &[contract::Function]) -> anyhow::Result<synth::Config> {
    let text = std::fs::read_to_string(path).map_err(|e| BadInput(format!("reading {}: {e}", path.display())))?;
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    Ok(synth::parse(&name, &text, functions).map_err(BadConfig)?)
}

/// One stage of a stages file, resolved: the config, the stage's AWS names and its synthesized stacks.
#[derive(Debug)]
pub struct Target {
    pub config: synth::Config,
    pub names: synth::Names,
    pub stacks: synth::Stacks,
    stage: String,
}

impl Target {
    /// Reads the stages file and synthesizes `stage`; a bad file or an unknown stage is bad input.
    pub fn load(config_path: &Path, stage: &str) -> anyhow::Result<Target> {
        let config = load_config(config_path)?;
        let resolved = config.stage(stage)?;
        let names = synth::Names::new(&config.project, resolved);
        let stacks = synth::synth(&config, resolved);
        let stage = resolved.name.clone();
        Ok(Target { config, names, stacks, stage })
    }

    pub fn stage(&self) -> &synth::Stage {
        // `load` made sure the stage exists, and the config is not changed after.
        &self.config.stages[&self.stage]
    }

    /// The stage's generated files, from the stacks `load` synthesized (no second synthesis). A template
    /// the IAM review cannot read is bad input.
    pub fn files(&self) -> Result<Vec<synth::File>, BadInput> {
        synth::files_of(&self.config, self.stage(), &self.stacks).map_err(refused)
    }
}

/// The directory `templates/` lives in: the one holding the config file.
pub fn root_of(config_path: &Path) -> PathBuf {
    match config_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// A template the IAM review cannot fully read: synth, deploy and diff refuse it (exit 2).
pub fn refused(err: synth::review::ReviewError) -> BadInput {
    BadInput(err.to_string())
}

/// Prints an error for people and returns the exit code it deserves.
pub fn report(err: anyhow::Error) -> ExitCode {
    let err = match err.downcast::<BadConfig>() {
        Ok(BadConfig(config)) => {
            eprintln!("{:?}", miette::Report::new(config));
            return ExitCode::from(EXIT_BAD_INPUT);
        }
        Err(err) => err,
    };
    eprintln!("error: {err:#}");
    let users_to_fix = err.downcast_ref::<aws::AwsError>().is_some_and(|e| e.cause.is_users_to_fix());
    if users_to_fix || err.downcast_ref::<BadInput>().is_some() || err.downcast_ref::<synth::UnknownStage>().is_some() {
        ExitCode::from(EXIT_BAD_INPUT)
    } else {
        ExitCode::from(EXIT_DIFFERENCE)
    }
}
