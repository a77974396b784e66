//! cfn-lint and checkov over generated templates, each with the project's settings (`xtask/cfn-lint.yaml`,
//! `xtask/checkov.yaml`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context as _;

/// What cfn-lint or checkov said about a set of templates.
#[derive(Debug)]
pub struct LintReport {
    pub success: bool,
    pub output: String,
}

/// The rule settings every lint uses; each ignored rule is listed there with its reason.
pub fn settings_file() -> anyhow::Result<PathBuf> {
    Ok(crate::workspace()?.join("xtask/cfn-lint.yaml"))
}

/// Lints `templates` for `region`. Warnings count: a clean run prints nothing and exits 0.
pub fn cfn_lint(venv: &devenv::Venv, region: &str, templates: &[PathBuf]) -> anyhow::Result<LintReport> {
    let out = Command::new(venv.bin("cfn-lint"))
        .arg("--config-file")
        .arg(settings_file()?)
        .args(["--regions", region, "--format", "parseable", "--"])
        .args(templates)
        .output()
        .context("running cfn-lint")?;
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok(LintReport { success: out.status.success() && output.trim().is_empty(), output })
}

/// checkov's settings: the CloudFormation framework, offline mode, and each skipped check with its
/// reason.
pub fn checkov_config_file() -> anyhow::Result<PathBuf> {
    Ok(crate::workspace()?.join("xtask/checkov.yaml"))
}

/// Scans `templates` with checkov's CloudFormation checks, offline. Success means checkov parsed every
/// template, scanned at least one resource and found no failed check; `output` then is empty, and
/// otherwise has one `file:line: CHECK_ID resource: title` line per failed check, then what checkov
/// said about anything it could not parse.
pub fn checkov(venv: &devenv::Venv, templates: &[PathBuf]) -> anyhow::Result<LintReport> {
    anyhow::ensure!(!templates.is_empty(), "no templates to scan with checkov");
    // checkov runs in the workspace root, so that no `.checkov.yaml` of the caller's directory adds to
    // the settings; the templates are resolved against the caller's directory first.
    let templates = templates
        .iter()
        .map(std::path::absolute)
        .collect::<Result<Vec<_>, _>>()
        .context("resolving the templates' paths")?;
    let out = Command::new(venv.bin("checkov"))
        .current_dir(crate::workspace()?)
        // Offline, whatever the caller's environment: without an API key checkov never talks to the
        // Prisma Cloud platform (and the config's skip-download stops its guideline download), and this
        // variable stops the check for a newer checkov on PyPI that it otherwise makes on start.
        .env_remove("BC_API_KEY")
        .env("CKV_SKIP_PACKAGE_UPDATE_CHECK", "true")
        .arg("--config-file")
        .arg(checkov_config_file()?)
        .args(["--compact", "--quiet", "--output", "json", "--file"])
        .args(&templates)
        .stdin(Stdio::null())
        .output()
        .context("running checkov")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut output = String::new();
    let clean = match read_checkov_json(&stdout) {
        Ok(run) => {
            for f in &run.failed {
                output.push_str(&format!("{}:{}: {} {}: {}\n", f.file, f.line, f.check_id, f.resource, f.title));
            }
            if run.parsing_errors > 0 {
                output.push_str(&format!("checkov could not parse {} template(s):\n{stderr}\n", run.parsing_errors));
            } else if run.resources == 0 {
                output.push_str(&format!("checkov scanned no CloudFormation resource in {templates:?}\n{stderr}\n"));
            }
            run.failed.is_empty() && run.parsing_errors == 0 && run.resources > 0
        }
        Err(e) => {
            output.push_str(&format!("reading checkov's JSON report: {e}\n{stdout}\n{stderr}\n"));
            false
        }
    };
    if !out.status.success() && output.is_empty() {
        output.push_str(&format!("checkov exited with {}:\n{stderr}\n", out.status));
    }
    Ok(LintReport { success: out.status.success() && clean, output })
}

/// One failed check in checkov's JSON report.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct CheckovFinding {
    file: String,
    line: u64,
    check_id: String,
    resource: String,
    title: String,
}

/// What a checkov run found, summed over the report's frameworks.
#[derive(Debug, Default, PartialEq)]
struct CheckovRun {
    failed: Vec<CheckovFinding>,
    parsing_errors: u64,
    resources: u64,
}

/// Reads checkov's `--output json`: one report object, a list of them (one per framework), or, when
/// nothing was scanned, a bare summary. Parse errors are counted, not failed: checkov exits 0 on them.
fn read_checkov_json(json: &str) -> Result<CheckovRun, String> {
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let reports = match value {
        serde_json::Value::Array(reports) => reports,
        report @ serde_json::Value::Object(_) => vec![report],
        other => return Err(format!("expected an object or a list, found {other}")),
    };
    let mut run = CheckovRun::default();
    for report in &reports {
        let summary = report.get("summary").unwrap_or(report);
        let count = |key: &str| {
            summary.get(key).and_then(serde_json::Value::as_u64).ok_or_else(|| format!("the summary has no {key}"))
        };
        run.parsing_errors += count("parsing_errors")?;
        run.resources += count("resource_count")?;
        let failed = report.pointer("/results/failed_checks").and_then(serde_json::Value::as_array);
        for check in failed.into_iter().flatten() {
            let text = |key: &str| check.get(key).and_then(serde_json::Value::as_str).unwrap_or("?").to_owned();
            let file = check
                .get("file_abs_path")
                .and_then(serde_json::Value::as_str)
                .map_or_else(|| text("file_path"), str::to_owned);
            run.failed.push(CheckovFinding {
                file,
                line: check.pointer("/file_line_range/0").and_then(serde_json::Value::as_u64).unwrap_or(0),
                check_id: text("check_id"),
                resource: text("resource"),
                title: text("check_name"),
            });
        }
    }
    run.failed.sort();
    Ok(run)
}

/// Writes every stage's files of `config` under `root/templates/` and returns `(region, templates)`
/// per stage, for linting a config other than the committed one.
pub fn synthesize_into(root: &Path, config: &synth::Config) -> anyhow::Result<Vec<(String, Vec<PathBuf>)>> {
    let files = synth::all_files(config).map_err(crate::refused)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkov_findings_are_read_and_sorted_by_file_and_line() {
        let json = r#"{
            "check_type": "cloudformation",
            "results": {"failed_checks": [
                {"check_id": "CKV_AWS_7", "check_name": "Ensure rotation for customer created CMKs is enabled",
                 "resource": "AWS::KMS::Key.Key", "file_path": "/b.yaml", "file_abs_path": "/t/b.yaml",
                 "file_line_range": [4, 9]},
                {"check_id": "CKV_AWS_28", "check_name": "Ensure DynamoDB point in time recovery is enabled",
                 "resource": "AWS::DynamoDB::Table.Users", "file_path": "/a.yaml", "file_line_range": [12, 20]}
            ]},
            "summary": {"passed": 3, "failed": 2, "skipped": 0, "parsing_errors": 0, "resource_count": 2}
        }"#;
        let run = read_checkov_json(json).unwrap();
        assert_eq!((run.parsing_errors, run.resources), (0, 2));
        let lines: Vec<_> =
            run.failed.iter().map(|f| format!("{}:{} {} {}", f.file, f.line, f.check_id, f.resource)).collect();
        assert_eq!(
            lines,
            ["/a.yaml:12 CKV_AWS_28 AWS::DynamoDB::Table.Users", "/t/b.yaml:4 CKV_AWS_7 AWS::KMS::Key.Key"]
        );
    }

    #[test]
    fn checkov_parse_errors_and_empty_scans_are_counted() {
        let unparsed = r#"{"check_type": "cloudformation", "results": {"failed_checks": []},
            "summary": {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 1, "resource_count": 0}}"#;
        assert_eq!(
            read_checkov_json(unparsed).unwrap(),
            CheckovRun { failed: vec![], parsing_errors: 1, resources: 0 }
        );
        // Nothing scanned at all: checkov prints the bare summary.
        let empty = r#"{"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "resource_count": 0}"#;
        assert_eq!(read_checkov_json(empty).unwrap(), CheckovRun::default());
    }

    #[test]
    fn checkov_reports_of_several_frameworks_are_summed() {
        let json = r#"[
            {"check_type": "cloudformation", "results": {"failed_checks": []},
             "summary": {"parsing_errors": 0, "resource_count": 5}},
            {"check_type": "secrets", "results": {"failed_checks": [{"check_id": "CKV_SECRET_6"}]},
             "summary": {"parsing_errors": 0, "resource_count": 1}}
        ]"#;
        let run = read_checkov_json(json).unwrap();
        assert_eq!((run.resources, run.failed.len()), (6, 1));
        assert_eq!(run.failed[0].check_id, "CKV_SECRET_6");
    }

    #[test]
    fn checkov_output_that_is_not_a_report_is_an_error() {
        assert!(read_checkov_json("").is_err());
        assert!(read_checkov_json("[1]").is_err());
    }
}
