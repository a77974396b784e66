//! The project's Python tools, installed on first use into a venv under `target/`.
//!
//! cfn-lint checks every template against CloudFormation's resource schemas, checkov scans them for
//! insecure settings, and moto's server stands in for AWS on 127.0.0.1. All three come from PyPI at the
//! versions pinned in `requirements.txt`, so a fresh machine with only Rust and Python 3 runs the whole
//! test suite; nothing is installed globally.
//! Concurrent callers (parallel tests, xtask) serialize on a file lock, and a stamp of the
//! requirements' contents makes a changed pin reinstall.

use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub mod moto;

pub use moto::Moto;

const REQUIREMENTS: &str = include_str!("../requirements.txt");

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "python 3 was not found on PATH; install it (with its venv module) to lint templates and run the AWS emulator"
    )]
    NoPython,
    #[error("{what} failed; its output is in {}", log.display())]
    Install { what: String, log: PathBuf },
    #[error("moto's server did not start within a minute; its log is {}", log.display())]
    Start { log: PathBuf },
    #[error(
        "no Cargo workspace at or above {}; run the command inside the project's checkout",
        start.display()
    )]
    NoWorkspace { start: PathBuf },
    #[error(
        "handlers/{directory}/ has no Cargo.toml, and every directory under handlers/ is a workspace member; \
         add its manifest (`cargo xtask new function` writes one) or remove the directory"
    )]
    NoManifest { directory: String },
    #[error("asking cargo for the target directory (`cargo metadata` in {}) failed: {why}", root.display())]
    Metadata { root: PathBuf, why: String },
    #[error("{context}: {source}")]
    Io { context: String, source: io::Error },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}

/// The workspace's target directory, as cargo itself resolves it: `cargo metadata`'s
/// `target_directory`, which honours `CARGO_TARGET_DIR`, `CARGO_BUILD_TARGET_DIR` and `build.target-dir`
/// in any cargo config, so that what xtask reads is where cargo builds. Asked once per process.
pub fn target_dir() -> Result<PathBuf, Error> {
    static CACHED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    if let Some(dir) = CACHED.get() {
        return Ok(dir.clone());
    }
    let dir = target_dir_of(&workspace_root()?)?;
    Ok(CACHED.get_or_init(|| dir).clone())
}

/// [`target_dir`] of the workspace at `root`, asked anew.
pub fn target_dir_of(root: &Path) -> Result<PathBuf, Error> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let failed = |why: String| Error::Metadata { root: root.to_owned(), why };
    let out = Command::new(cargo)
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| failed(e.to_string()))?;
    if !out.status.success() {
        return Err(failed(String::from_utf8_lossy(&out.stderr).trim().to_owned()));
    }
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| failed(e.to_string()))?;
    metadata["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .ok_or_else(|| failed("its answer has no target_directory".to_owned()))
}

/// The root of the workspace this command runs in, found at run time from the current directory: the
/// nearest directory at or above it whose `Cargo.toml` has a `[workspace]` table. `cargo xtask` runs
/// where the user typed it, and `cargo test` runs each test binary in its package's directory, so both
/// find their own checkout.
///
/// Never an environment variable (a `CARGO_MANIFEST_DIR` left over in a shell would point at another
/// checkout) and never the directory the binary was compiled in: with a target directory shared between
/// checkouts (git worktrees, a global `CARGO_TARGET_DIR`), one binary serves them all, and a
/// compile-time path would read and write another checkout's `stages.toml` and `templates/`.
pub fn workspace_root() -> Result<PathBuf, Error> {
    let start = std::env::current_dir().map_err(io_err("reading the current directory"))?;
    find_workspace_root(&start).ok_or(Error::NoWorkspace { start })
}

/// The nearest directory at or above `start` whose `Cargo.toml` declares a workspace.
pub fn find_workspace_root(start: &Path) -> Option<PathBuf> {
    start.ancestors().find(|dir| is_workspace_manifest(&dir.join("Cargo.toml"))).map(Path::to_path_buf)
}

fn is_workspace_manifest(path: &Path) -> bool {
    fs::read_to_string(path).is_ok_and(|text| {
        text.lines().map(str::trim).any(|line| line == "[workspace]" || line.starts_with("[workspace."))
    })
}

/// A crate's manifest under `handlers/`, as read from disk: what `synth::declarations` parses.
#[derive(Debug, Clone)]
pub struct HandlerManifest {
    /// Relative to the workspace root, for errors: `handlers/orders/Cargo.toml`.
    pub path: String,
    /// The directory's name: `orders`.
    pub directory: String,
    pub text: String,
    /// Whether `src/main.rs` is there.
    pub has_main: bool,
}

/// Every crate manifest under `root/handlers/`, in directory-name order. The workspace's members glob
/// (`handlers/*`) makes each directory there a crate; a function is one whose manifest declares it.
pub fn handler_manifests(root: &Path) -> Result<Vec<HandlerManifest>, Error> {
    let handlers = root.join("handlers");
    let entries = fs::read_dir(&handlers).map_err(io_err(format!("listing {}", handlers.display())))?;
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err(format!("listing {}", handlers.display())))?;
        let directory = entry.file_name().to_string_lossy().into_owned();
        if directory.starts_with('.') || !entry.path().is_dir() {
            continue;
        }
        let manifest = entry.path().join("Cargo.toml");
        let text = match fs::read_to_string(&manifest) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(Error::NoManifest { directory }),
            Err(e) => return Err(io_err(format!("reading {}", manifest.display()))(e)),
        };
        let has_main = entry.path().join("src/main.rs").is_file();
        out.push(HandlerManifest { path: format!("handlers/{directory}/Cargo.toml"), directory, text, has_main });
    }
    out.sort_by(|a, b| a.directory.cmp(&b.directory));
    Ok(out)
}

/// An installed venv.
#[derive(Debug, Clone)]
pub struct Venv {
    root: PathBuf,
}

impl Venv {
    /// Path of an executable the venv provides, such as `cfn-lint` or `python`.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.root.join("bin").join(name)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

/// Makes sure `target/venv` holds the pinned tools, installing them if not, and returns it.
/// `progress` receives one line before a first-time install, which takes about two minutes.
pub fn ensure(progress: &mut dyn FnMut(&str)) -> Result<Venv, Error> {
    let target = target_dir()?;
    fs::create_dir_all(&target).map_err(io_err(format!("creating {}", target.display())))?;
    let root = target.join("venv");
    let stamp = root.join(".requirements");
    let lock_path = target.join("venv.lock");
    let lock = File::create(&lock_path).map_err(io_err(format!("creating {}", lock_path.display())))?;
    lock.lock().map_err(io_err(format!("locking {}", lock_path.display())))?;

    if fs::read_to_string(&stamp).is_ok_and(|s| s == REQUIREMENTS) {
        return Ok(Venv { root });
    }
    progress(&format!(
        "installing cfn-lint, checkov, moto and the AWS CLI into {} (first use only, about 2 min)",
        root.display()
    ));
    let log_path = target.join("venv-install.log");
    let mut log = File::create(&log_path).map_err(io_err(format!("creating {}", log_path.display())))?;
    let python = find_python()?;
    if !root.join("bin/python").exists() {
        run(Command::new(&python).args(["-m", "venv"]).arg(&root), "creating the venv", &mut log, &log_path)?;
    }
    let requirements = target.join("venv-requirements.txt");
    fs::write(&requirements, REQUIREMENTS).map_err(io_err(format!("writing {}", requirements.display())))?;
    run(
        Command::new(root.join("bin/python"))
            .args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-r"])
            .arg(&requirements),
        "pip install -r xtask/devenv/requirements.txt",
        &mut log,
        &log_path,
    )?;
    fs::write(&stamp, REQUIREMENTS).map_err(io_err(format!("writing {}", stamp.display())))?;
    Ok(Venv { root })
}

/// A Python 3.9 or newer on the PATH (`python3`, else `python`).
pub fn find_python() -> Result<PathBuf, Error> {
    for candidate in ["python3", "python"] {
        let ok = Command::new(candidate)
            .args(["-c", "import sys, venv; sys.exit(0 if sys.version_info >= (3, 9) else 1)"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Ok(PathBuf::from(candidate));
        }
    }
    Err(Error::NoPython)
}

fn run(cmd: &mut Command, what: &str, log: &mut File, log_path: &Path) -> Result<(), Error> {
    let out = cmd.stdin(Stdio::null()).output().map_err(io_err(format!("starting {what}")))?;
    let _ = log.write_all(&out.stdout);
    let _ = log.write_all(&out.stderr);
    if out.status.success() { Ok(()) } else { Err(Error::Install { what: what.to_owned(), log: log_path.to_owned() }) }
}
