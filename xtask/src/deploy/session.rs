//! The opening every deploying command shares (`deploy`, `pipeline deploy`): someone to confirm with,
//! templates that match what is reviewed, clients in the stage's region, the stage's own account, and the
//! artifact bucket.

use std::io::IsTerminal as _;
use std::path::Path;

use super::{artifacts, gates};
use crate::aws::{AwsArgs, Clients};
use crate::{BadInput, Target, templates};

/// A stage opened for deploying: its synthesized target, checked against `templates/` and against the
/// account the credentials are for.
#[derive(Debug)]
pub struct Session {
    pub target: Target,
    /// Whether there is a terminal to ask on.
    pub interactive: bool,
    pub clients: Clients,
    pub account: String,
}

/// What the command was told that the opening checks.
#[derive(Debug, Clone, Copy)]
pub struct Opening {
    /// `--yes` or a plan only: nothing needs confirming on a terminal.
    pub unattended: bool,
    /// Deploy even though `templates/` is stale (only `deploy --allow-stale`).
    pub allow_stale: bool,
}

impl Session {
    /// Opens `target` for deploying: refuses to go on without a terminal when a confirmation will be asked
    /// for, prints how `templates/` (beside `config_path`) differs from what was synthesized and refuses a
    /// stale tree unless allowed, and checks that the credentials are for the stage's account.
    pub async fn open(config_path: &Path, target: Target, aws: &AwsArgs, opening: Opening) -> anyhow::Result<Session> {
        let interactive = terminal();
        if !opening.unattended && !interactive {
            return Err(BadInput(
                "no terminal to confirm on; pass --yes to deploy without asking (or --no-execute to review only)"
                    .into(),
            )
            .into());
        }
        // What is deployed is what was reviewed.
        let stage = target.stage();
        let files = target.files()?;
        let drift: Vec<String> =
            templates::compare(&crate::root_of(config_path), &files, false)?.iter().map(ToString::to_string).collect();
        for d in &drift {
            eprintln!("{d}");
        }
        if let Some(warning) = gates::stale(&stage.name, &drift, opening.allow_stale).map_err(BadInput)? {
            eprintln!("warning: {warning}");
        }
        Session::connected(target, aws, interactive).await
    }

    /// Clients in the stage's region, and the account the credentials are for, checked against the stage's:
    /// the part of [`Session::open`] a command that changes no stack from templates needs (uploading the
    /// reviewer binary).
    pub async fn connect(target: Target, aws: &AwsArgs) -> anyhow::Result<Session> {
        Session::connected(target, aws, terminal()).await
    }

    async fn connected(target: Target, aws: &AwsArgs, interactive: bool) -> anyhow::Result<Session> {
        let stage = target.stage();
        let clients = Clients::new(aws, stage).await?;
        let account = clients.account().await?;
        gates::account(&stage.name, stage.account.as_deref(), &account).map_err(BadInput)?;
        Ok(Session { target, interactive, clients, account })
    }

    /// Makes sure the stage's artifact bucket exists, and returns its name. With `update_policy`, an older
    /// bucket's policy is brought up to date; a pipeline's deploy role may not change it, a person may.
    pub async fn artifact_bucket(&self, update_policy: bool) -> anyhow::Result<String> {
        let (config, stage) = (&self.target.config, self.target.stage());
        let (s3, account) = (&self.clients.s3, &self.account);
        let bucket = artifacts::bucket_name(&config.project, account, &stage.region, stage.artifact_bucket.as_deref());
        if artifacts::ensure_bucket(s3, &bucket, &stage.region, account, (&config.project, &stage.name)).await? {
            println!(
                "created artifact bucket {bucket} (versioned, encrypted, not public, TLS only, code written once)"
            );
        } else if update_policy && artifacts::ensure_policy(s3, &bucket, account, &config.project).await? {
            println!("artifact bucket {bucket}: policy updated (code keys are written once)");
        }
        Ok(bucket)
    }
}

/// Whether there is a terminal to ask on: standard input and output both.
pub fn terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}
