//! cfn-lint over generated templates, with the project's rule settings (`xtask/cfn-lint.yaml`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;

/// What cfn-lint said about a set of templates.
#[derive(Debug)]
pub struct LintReport {
    pub success: bool,
    pub output: String,
}

/// The rule settings every lint uses; each ignored rule is listed there with its reason.
pub fn settings_file() -> PathBuf {
    devenv::workspace_root().join("xtask/cfn-lint.yaml")
}

/// Lints `templates` for `region`. Warnings count: a clean run prints nothing and exits 0.
pub fn cfn_lint(venv: &devenv::Venv, region: &str, templates: &[PathBuf]) -> anyhow::Result<LintReport> {
    let out = Command::new(venv.bin("cfn-lint"))
        .arg("--config-file")
        .arg(settings_file())
        .args(["--regions", region, "--format", "parseable", "--"])
        .args(templates)
        .output()
        .context("running cfn-lint")?;
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok(LintReport { success: out.status.success() && output.trim().is_empty(), output })
}

/// Writes every stage's files of `config` under `root/templates/` and returns `(region, templates)`
/// per stage, for linting a config other than the committed one.
pub fn synthesize_into(root: &Path, config: &synth::Config) -> anyhow::Result<Vec<(String, Vec<PathBuf>)>> {
    let files = synth::all_files(config);
    crate::templates::write(root, &files, true)?;
    Ok(config
        .stages
        .values()
        .map(|stage| {
            let templates = files
                .iter()
                .filter(|f| {
                    (f.path.starts_with(&format!("{}/{}/", synth::TEMPLATES_DIR, stage.name))
                        || f.path == synth::BOOTSTRAP_FILE)
                        && f.path.ends_with(".yaml")
                })
                .map(|f| root.join(&f.path))
                .collect();
            (stage.region.clone(), templates)
        })
        .collect())
}
