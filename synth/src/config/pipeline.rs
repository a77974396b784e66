//! `[pipeline]` and `[stages.<name>.pipeline]`: where each stage's delivery pipeline takes its source
//! (a CodeConnections connection and a repository), which branch deploys the stage, and whether a
//! person approves every change or only the risky ones.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::{Architecture, ConfigError, Validator, arn};

/// One stage's delivery pipeline, with every default resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    /// The CodeConnections (or older CodeStar Connections) connection the source action uses.
    pub connection_arn: String,
    /// `owner/name` (GitLab: `group/subgroup/name`), as the connection's provider spells it.
    pub repository: String,
    /// A push to this branch runs the pipeline.
    pub branch: String,
    pub approval: Approval,
    /// The commit whose xtask reviews and applies every plan: code this pipeline trusts, unlike the
    /// pushed commit it reviews. Changing it changes the pipeline stack, which only a person deploys.
    pub reviewer: String,
    /// The SHA-256 of that commit's xtask, built once for the stage's architecture by `cargo xtask
    /// pipeline reviewer`: the review and apply builds run that binary and nothing else, after checking
    /// this digest.
    pub reviewer_sha256: String,
}

/// When the pipeline stops for a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Approval {
    /// Only when the plan grants new IAM access or risks data, as `deploy`'s gates would refuse.
    Risky,
    /// Before every apply.
    Always,
}

impl Approval {
    pub fn as_str(self) -> &'static str {
        match self {
            Approval::Risky => "risky",
            Approval::Always => "always",
        }
    }
}

/// The longest `<what>` of the pipeline's `<project>-<stage>-ci-<what>` role and project names.
pub const LONGEST_CI_NAME: &str = "pipeline";

/// CodePipeline keys a pipeline's artifacts in S3 by the first 20 characters of its name.
pub const ARTIFACT_PREFIX_CHARS: usize = 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPipeline {
    connection_arn: Spanned<String>,
    repository: Spanned<String>,
    reviewer: Spanned<String>,
    /// The reviewer binary's SHA-256 per architecture (`x86_64`, `arm64`).
    reviewer_sha256: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStagePipeline {
    branch: Option<Spanned<String>>,
    approval: Option<Approval>,
    connection_arn: Option<Spanned<String>>,
}

/// The branch a stage deploys from unless it names one: its own name, but `main` for `prod`.
pub fn default_branch(stage: &str) -> &str {
    if stage == "prod" { "main" } else { stage }
}

impl Validator<'_> {
    /// Resolves a stage's pipeline: `None` when `stages.toml` has no `[pipeline]`.
    pub(super) fn pipeline(
        &self,
        project: &Option<RawPipeline>,
        stage_name: &Spanned<String>,
        raw: Option<&RawStagePipeline>,
        account: Option<&str>,
        architecture: Architecture,
    ) -> Result<Option<Pipeline>, ConfigError> {
        let Some(project) = project else {
            if raw.is_some() {
                return Err(self.err(
                    stage_name.span(),
                    format!("stage `{}` configures a pipeline but stages.toml has no [pipeline]", stage_name.get_ref()),
                    "add [pipeline] with connection_arn and repository (the README's \"Delivery pipelines\")",
                ));
            }
            return Ok(None);
        };
        let none = RawStagePipeline::default();
        let raw = raw.unwrap_or(&none);
        let connection = raw.connection_arn.as_ref().unwrap_or(&project.connection_arn);
        self.connection(connection, account)?;
        self.repository(&project.repository)?;
        self.commit(&project.reviewer)?;
        let reviewer_sha256 = self.reviewer_sha256(project, stage_name, architecture)?;
        let branch = match &raw.branch {
            Some(b) => {
                self.branch(b)?;
                b.get_ref().clone()
            }
            None => default_branch(stage_name.get_ref()).to_owned(),
        };
        Ok(Some(Pipeline {
            connection_arn: connection.get_ref().clone(),
            repository: project.repository.get_ref().clone(),
            branch,
            approval: raw.approval.unwrap_or(Approval::Risky),
            reviewer: project.reviewer.get_ref().clone(),
            reviewer_sha256,
        }))
    }

    /// The reviewer binary's SHA-256 for `architecture`: 64 lowercase hex digits, one per architecture a
    /// stage with a pipeline runs on.
    fn reviewer_sha256(
        &self,
        project: &RawPipeline,
        stage_name: &Spanned<String>,
        architecture: Architecture,
    ) -> Result<String, ConfigError> {
        let arch = architecture.lambda_name();
        let help = format!(
            "build the reviewer commit's xtask once with `cargo xtask pipeline reviewer --arch {arch}` and put the \
             SHA-256 it prints in [pipeline] as reviewer_sha256 = {{ {arch} = \"...\" }}"
        );
        let Some(table) = &project.reviewer_sha256 else {
            return Err(self.err(
                project.reviewer.span(),
                format!(
                    "[pipeline] names no reviewer_sha256: the review and apply builds run only a binary whose \
                         SHA-256 the pipeline pins (stage `{}` runs on {arch})",
                    stage_name.get_ref()
                ),
                help,
            ));
        };
        for (key, value) in table.get_ref() {
            if !matches!(key.as_str(), "x86_64" | "arm64") {
                return Err(self.err(
                    value.span(),
                    format!("`{key}` is not an architecture"),
                    "name each binary's architecture: `x86_64` or `arm64`",
                ));
            }
            let v = value.get_ref();
            if v.len() != 64 || !v.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                return Err(self.err(
                    value.span(),
                    format!("`{v}` is not a SHA-256"),
                    "write the 64 lowercase hex digits `cargo xtask pipeline reviewer` prints",
                ));
            }
        }
        match table.get_ref().get(arch) {
            Some(sha) => Ok(sha.get_ref().clone()),
            None => Err(self.err(
                table.span(),
                format!("stage `{}` runs on {arch}, but reviewer_sha256 names no {arch} binary", stage_name.get_ref()),
                help,
            )),
        }
    }

    fn connection(&self, value: &Spanned<String>, account: Option<&str>) -> Result<(), ConfigError> {
        let text = value.get_ref();
        let help = "use the ARN of a CodeConnections connection, such as \
                    `arn:aws:codeconnections:us-east-1:123456789012:connection/1234abcd-12ab-34cd-56ef-1234567890ab` \
                    (the console's Developer Tools > Settings > Connections lists them)";
        let arn = arn::parse(text).map_err(|e| self.err(value.span(), e, help))?;
        let problem = if !matches!(arn.service, "codeconnections" | "codestar-connections") {
            Some(format!("`{text}` is an ARN of service `{}`, not `codeconnections`", arn.service))
        } else if arn.account.len() != 12 || !arn.account.bytes().all(|b| b.is_ascii_digit()) {
            Some(format!("`{}` in `{text}` is not a 12-digit account id", arn.account))
        } else if account.is_some_and(|a| a != arn.account) {
            Some(format!(
                "the connection belongs to account {}, but the stage deploys to {}: a pipeline can only use its own \
                 account's connections",
                arn.account,
                account.unwrap_or_default()
            ))
        } else if !arn.resource.strip_prefix("connection/").is_some_and(arn::is_uuid) {
            Some(format!("`{text}` does not end in `connection/<id>`"))
        } else {
            None
        };
        match problem {
            Some(message) => Err(self.err(value.span(), message, help)),
            None => Ok(()),
        }
    }

    fn repository(&self, value: &Spanned<String>) -> Result<(), ConfigError> {
        let text = value.get_ref();
        let parts: Vec<&str> = text.split('/').collect();
        let ok = parts.len() >= 2
            && text.len() <= 200
            && parts.iter().all(|p| {
                !p.is_empty()
                    && !p.starts_with('.')
                    && p.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            });
        if ok {
            Ok(())
        } else {
            Err(self.err(
                value.span(),
                format!("`{text}` is not a repository id"),
                "write the repository as its provider names it: `owner/name` (GitLab: `group/subgroup/name`)",
            ))
        }
    }

    /// A full git commit id: 40 lowercase hex digits (a branch or a short id could move).
    fn commit(&self, value: &Spanned<String>) -> Result<(), ConfigError> {
        let c = value.get_ref();
        if c.len() == 40 && c.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            Ok(())
        } else {
            Err(self.err(
                value.span(),
                format!("`{c}` is not a full commit id"),
                "name the commit whose xtask reviews plans by its 40 hex digits (`git rev-parse HEAD`), not a \
                 branch or a short id, which could move",
            ))
        }
    }

    /// A branch name git accepts (`git check-ref-format --branch`) and CodePipeline can filter on.
    fn branch(&self, value: &Spanned<String>) -> Result<(), ConfigError> {
        let b = value.get_ref();
        let ok = !b.is_empty()
            && b.len() <= 255
            && !b.starts_with(['-', '/', '.'])
            && !b.ends_with(['/', '.'])
            && !b.ends_with(".lock")
            && !b.contains("..")
            && !b.contains("//")
            && !b.contains("@{")
            && !b.contains("/.")
            && b.bytes().all(|c| c > b' ' && c != 0x7f && !b"~^:?*[\\".contains(&c));
        if ok {
            Ok(())
        } else {
            Err(self.err(
                value.span(),
                format!("`{b}` is not a branch name"),
                "use a git branch name such as `main` or `release/2`: no spaces, `..`, `~^:?*[\\` or trailing `/`",
            ))
        }
    }

    /// Two stages' pipelines must not share a branch (one push would deploy both) or the first 20
    /// characters of their names (CodePipeline keys artifacts by them, so each could read the other's).
    pub(super) fn pipelines_apart(
        &self,
        stages: &BTreeMap<String, super::Stage>,
        spans: &BTreeMap<String, std::ops::Range<usize>>,
        project: &str,
    ) -> Result<(), ConfigError> {
        let mut branches: BTreeMap<(&str, &str), &str> = BTreeMap::new();
        let mut prefixes: BTreeMap<String, &str> = BTreeMap::new();
        for (name, stage) in stages {
            let Some(p) = &stage.pipeline else { continue };
            let span = spans.get(name).cloned().unwrap_or(0..0);
            let longest = format!("{}-ci-{LONGEST_CI_NAME}", stage.prefix(project));
            if longest.len() > super::MAX_NAME_LEN {
                return Err(self.err(
                    span,
                    format!(
                        "the pipeline role name `{longest}` is {} characters; IAM allows {}",
                        longest.len(),
                        super::MAX_NAME_LEN
                    ),
                    "shorten the project or the stage name",
                ));
            }
            if let Some(other) = branches.insert((&p.repository, &p.branch), name) {
                return Err(self.err(
                    span,
                    format!("stages `{other}` and `{name}` both deploy from branch `{}`", p.branch),
                    format!("give one of them its own branch: [stages.{name}.pipeline] branch = \"...\""),
                ));
            }
            let prefix: String = stage.prefix(project).chars().take(ARTIFACT_PREFIX_CHARS).collect();
            if let Some(other) = prefixes.insert(prefix.clone(), name) {
                return Err(self.err(
                    span,
                    format!(
                        "the pipelines of stages `{other}` and `{name}` share their first {ARTIFACT_PREFIX_CHARS} \
                         characters (`{prefix}`), by which CodePipeline keys their artifacts"
                    ),
                    "shorten the project name or make the stage names differ earlier",
                ));
            }
        }
        Ok(())
    }
}
