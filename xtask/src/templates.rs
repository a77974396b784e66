//! Writing and checking the generated files under `templates/`.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::path::Path;

use anyhow::Context as _;
use synth::{Config, File, TEMPLATES_DIR};

use crate::BadInput;

/// How a file on disk differs from what synth generates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// The file exists with other contents.
    Stale(String),
    /// The file should exist and does not.
    Missing(String),
    /// The file or stage directory exists but nothing generates it.
    Extra(String),
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::Stale(p) => write!(f, "{p} is stale; run `cargo xtask synth`"),
            Drift::Missing(p) => write!(f, "{p} is missing; run `cargo xtask synth`"),
            Drift::Extra(p) => write!(f, "{p} is not generated from stages.toml; run `cargo xtask synth` to remove it"),
        }
    }
}

/// What should be under `templates/`: all stages, or just one. For all stages, also the README beside
/// the config with its generated blocks ([`synth::docs`]) rewritten, when there is a README.
pub fn expected(root: &Path, config: &Config, stage: Option<&str>) -> anyhow::Result<Vec<File>> {
    let mut files = match stage {
        Some(name) => synth::files(config, config.stage(name)?),
        None => synth::all_files(config),
    }
    .map_err(crate::refused)?;
    if stage.is_none()
        && let Some(readme) = readme(root, config, &files)?
    {
        files.push(readme);
    }
    Ok(files)
}

/// `README.md` as it should be: its generated blocks rewritten from `config` and the files synth generated
/// for it; `None` without a README.
pub fn readme(root: &Path, config: &Config, generated: &[File]) -> anyhow::Result<Option<File>> {
    let path = root.join(README);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let contents = synth::docs::readme(&text, config, generated).map_err(|e| BadInput(format!("{README}: {e}")))?;
    Ok(Some(File { path: README.to_owned(), contents }))
}

/// The README whose generated blocks `synth` keeps current.
pub const README: &str = "README.md";

/// Compares the files under `root` with `expected`. With `whole_tree`, files and stage directories
/// that nothing generates count too.
pub fn compare(root: &Path, expected: &[File], whole_tree: bool) -> anyhow::Result<Vec<Drift>> {
    let mut drift = Vec::new();
    for file in expected {
        match fs::read_to_string(root.join(&file.path)) {
            Ok(on_disk) if on_disk == file.contents => {}
            Ok(_) => drift.push(Drift::Stale(file.path.clone())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => drift.push(Drift::Missing(file.path.clone())),
            Err(e) => return Err(e).with_context(|| format!("reading {}", file.path)),
        }
    }
    if whole_tree {
        let wanted: BTreeSet<&str> = expected.iter().map(|f| f.path.as_str()).collect();
        for path in existing(root)? {
            if !wanted.contains(path.as_str()) {
                drift.push(Drift::Extra(path));
            }
        }
    }
    Ok(drift)
}

/// Every file under `templates/`, as workspace-relative paths with `/` separators.
fn existing(root: &Path) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let dir = root.join(TEMPLATES_DIR);
    let Ok(stages) = fs::read_dir(&dir) else { return Ok(out) };
    for stage in stages {
        let stage = stage.with_context(|| format!("listing {}", dir.display()))?;
        let name = stage.file_name().to_string_lossy().into_owned();
        if stage.path().is_dir() {
            for file in fs::read_dir(stage.path()).with_context(|| format!("listing {}", stage.path().display()))? {
                let file = file?;
                out.push(format!("{TEMPLATES_DIR}/{name}/{}", file.file_name().to_string_lossy()));
            }
        } else {
            out.push(format!("{TEMPLATES_DIR}/{name}"));
        }
    }
    out.sort();
    Ok(out)
}

/// Brings `templates/` in line with `expected`, returning what it changed.
pub fn write(root: &Path, expected: &[File], whole_tree: bool) -> anyhow::Result<Vec<Drift>> {
    let drift = compare(root, expected, whole_tree)?;
    for d in &drift {
        match d {
            Drift::Stale(path) | Drift::Missing(path) => {
                let file = expected.iter().find(|f| &f.path == path).context("a drifted file is expected")?;
                let full = root.join(path);
                if let Some(parent) = full.parent() {
                    fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
                }
                fs::write(&full, &file.contents).with_context(|| format!("writing {path}"))?;
            }
            Drift::Extra(path) => {
                let full = root.join(path);
                fs::remove_file(&full).with_context(|| format!("removing {path}"))?;
                if let Some(parent) = full.parent() {
                    // Remove the stage directory once it is empty; a non-empty one stays.
                    let _ = fs::remove_dir(parent);
                }
            }
        }
    }
    Ok(drift)
}
