//! `cargo xtask destroy --stage S`: deletes the api stack, and the data stack only when asked twice.

use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use serde_json::Value;

use crate::aws::{Clients, StageArgs};
use crate::cfn;
use crate::deploy::ask;
use crate::deploy::session::Session;
use crate::{BadInput, EXIT_DIFFERENCE, Target};

#[derive(Debug, Clone, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub on: StageArgs,
    /// Also delete the data stack (users table, key, secret); asks for the stage name to be typed back
    #[arg(long)]
    pub include_data: bool,
    /// The stage name, typed back, for --include-data without a terminal
    #[arg(long, value_name = "STAGE")]
    pub confirm_stage: Option<String>,
    /// Delete the api stack without asking (required when there is no terminal)
    #[arg(long, short)]
    pub yes: bool,
    /// Destroy a protected stage: `protect = true` in stages.toml, or termination protection or retained
    /// resources on its deployed stacks (termination protection is turned off, and this is said)
    #[arg(long)]
    pub force: bool,
}

/// Where a stage's protection was found: in `stages.toml`, or on the deployed stacks (which a
/// `--config` naming another file cannot change).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Protection {
    /// `protect = true` in the stages file given.
    pub configured: bool,
    /// The data stack has CloudFormation termination protection.
    pub termination: bool,
    /// Deployed resources with `DeletionPolicy: Retain` or a table's deletion protection, by logical id.
    pub retained: Vec<String>,
}

impl Protection {
    /// The deployed facts about a stack: its termination protection and its template.
    pub fn read(configured: bool, termination: bool, templates: &[&Value]) -> Protection {
        let mut retained = Vec::new();
        for template in templates {
            for (id, r) in template["Resources"].as_object().into_iter().flatten() {
                if r["DeletionPolicy"] == "Retain" || r["Properties"]["DeletionProtectionEnabled"] == true {
                    retained.push(id.clone());
                }
            }
        }
        Protection { configured, termination, retained }
    }

    fn reasons(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.configured {
            out.push("protect = true in stages.toml".to_owned());
        }
        if self.termination {
            out.push("the deployed data stack has termination protection".to_owned());
        }
        if !self.retained.is_empty() {
            out.push(format!("the deployed stacks retain {}", self.retained.join(", ")));
        }
        out
    }
}

/// Whether destroy may go on: a stage protected anywhere (the file or the deployed stacks) needs
/// `--force`. On `Ok`, what `--force` overrides, to be said out loud.
pub fn may_destroy(stage: &str, protection: &Protection, force: bool) -> Result<Vec<String>, String> {
    let reasons = protection.reasons();
    match (reasons.is_empty(), force) {
        (true, _) => Ok(Vec::new()),
        (false, true) => Ok(reasons),
        (false, false) => {
            Err(format!("stage {stage} is protected ({}); pass --force to destroy it anyway", reasons.join("; ")))
        }
    }
}

pub fn run(config_path: &std::path::Path, args: &DestroyArgs) -> anyhow::Result<ExitCode> {
    let target = Target::load(config_path, &args.on.stage)?;
    let stage = target.stage();
    // The file's word is enough to refuse before any AWS call; the deployed stacks are asked below.
    may_destroy(&stage.name, &Protection { configured: stage.protect, ..Protection::default() }, args.force)
        .map_err(BadInput)?;
    let interactive = crate::deploy::session::terminal();
    if !args.yes && !interactive {
        return Err(
            BadInput("no terminal to confirm on; pass --yes to delete the api stack without asking".into()).into()
        );
    }
    if args.include_data && !interactive && args.confirm_stage.as_deref() != Some(stage.name.as_str()) {
        return Err(BadInput(format!(
            "deleting the data stack needs the stage name typed back: pass --confirm-stage {}",
            stage.name
        ))
        .into());
    }

    crate::aws::runtime()?.block_on(async {
        let session = Session::connect(target, &args.on.aws).await?;
        let (stage, names, stacks) = (session.target.stage(), &session.target.names, &session.target.stacks);
        let clients = &session.clients;
        let poll = clients.poll;

        let api = names.api_stack();
        let data = names.data_stack();
        let deployed_api = cfn::deployed_template(&clients.cfn, &api).await?;
        let deployed_data = cfn::deployed_template(&clients.cfn, &data).await?;
        let termination = cfn::termination_protected(&clients.cfn, &data).await?.unwrap_or(false);
        let deployed: Vec<&Value> = deployed_api.iter().chain(deployed_data.iter()).collect();
        let protection = Protection::read(stage.protect, termination, &deployed);
        for overridden in may_destroy(&stage.name, &protection, args.force).map_err(BadInput)? {
            println!("--force: destroying although {overridden}");
        }

        if !args.yes && !ask(interactive, &format!("delete stack {api}?"))? {
            return Err(BadInput("declined; nothing was deleted".into()).into());
        }
        if !delete(clients, &api, deployed_api.as_ref(), poll).await? {
            return Ok(ExitCode::from(EXIT_DIFFERENCE));
        }
        // The pipeline stack holds the role CloudFormation deletes the stage's stacks as, so it goes last
        // and by hand; until then a push to its branch deploys the stage again.
        let pipeline = names.pipeline_stack();
        if stacks.pipeline.is_some() && cfn::status(&clients.cfn, &pipeline).await?.is_some() {
            println!(
                "kept {pipeline}: a push to its branch deploys the stage again. Once the stage's stacks are gone, \
                 delete it with `aws cloudformation delete-stack --stack-name {pipeline} --region {}`",
                stage.region
            );
        }

        if stacks.data.is_none() {
            println!("stage {} imports its table, key and secret; there is no data stack", stage.name);
            return Ok(ExitCode::SUCCESS);
        }
        if !args.include_data {
            println!("kept {data} (the users table, key and secret); pass --include-data to delete it too");
            return Ok(ExitCode::SUCCESS);
        }
        if args.confirm_stage.as_deref() != Some(stage.name.as_str()) {
            print!("type the stage name ({}) to delete {data} and its data: ", stage.name);
            std::io::stdout().flush().context("writing to the terminal")?;
            let mut typed = String::new();
            std::io::stdin().lock().read_line(&mut typed).context("reading the answer")?;
            if typed.trim() != stage.name {
                return Err(BadInput(format!("the name did not match; {data} was kept")).into());
            }
        }
        if termination {
            // Only reached with --force: may_destroy refused otherwise.
            println!("turning off termination protection of {data} (--force)");
            cfn::set_termination_protection(&clients.cfn, &data, false).await?;
        }
        if !delete(clients, &data, deployed_data.as_ref(), poll).await? {
            return Ok(ExitCode::from(EXIT_DIFFERENCE));
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Deletes a stack and watches until it is gone, then names what it retained; false (after printing
/// why) when deletion failed.
async fn delete(clients: &Clients, stack: &str, template: Option<&Value>, poll: Duration) -> anyhow::Result<bool> {
    let Some(status) = cfn::status(&clients.cfn, stack).await? else {
        println!("{stack}: not deployed, nothing to delete");
        return Ok(true);
    };
    // Resources with DeletionPolicy Retain outlive the stack: say which, by physical name.
    let resources = cfn::resources(&clients.cfn, stack).await?;
    let retained: Vec<String> = resources
        .iter()
        .filter(|r| {
            let id = r.logical_resource_id.as_deref().unwrap_or_default();
            template.is_some_and(|t| t["Resources"][id]["DeletionPolicy"] == "Retain")
        })
        .map(|r| {
            format!(
                "{} {} ({})",
                r.logical_resource_id.as_deref().unwrap_or_default(),
                r.physical_resource_id.as_deref().unwrap_or_default(),
                r.resource_type.as_deref().unwrap_or_default()
            )
        })
        .collect();
    println!("deleting {stack} ({})", status.as_str());
    let settled = cfn::delete(&clients.cfn, stack, poll).await?;
    if !settled.succeeded() {
        eprintln!(
            "error: deleting {stack} failed ({}): {}",
            settled.status.as_str(),
            settled.root_cause.unwrap_or_else(|| "no reason given".into())
        );
        return Ok(false);
    }
    println!("{stack}: deleted");
    for r in &retained {
        println!("kept (DeletionPolicy: Retain): {r}");
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn protection_is_read_from_the_deployed_stacks_not_only_the_file() {
        let unprotected = Protection::default();
        assert_eq!(may_destroy("prod", &unprotected, false), Ok(vec![]));
        // `--config other.toml` says protect = false, but AWS says otherwise.
        let template = json!({"Resources": {
            "UsersTable": {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "Properties": {"DeletionProtectionEnabled": true}},
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {}}
        }});
        let deployed = Protection::read(false, true, &[&template]);
        let err = may_destroy("prod", &deployed, false).unwrap_err();
        assert_eq!(
            err,
            "stage prod is protected (the deployed data stack has termination protection; the deployed stacks retain \
             UsersTable); pass --force to destroy it anyway"
        );
        let overridden = may_destroy("prod", &deployed, true).unwrap();
        assert_eq!(overridden.len(), 2);
        let configured = Protection { configured: true, ..Protection::default() };
        assert!(may_destroy("prod", &configured, false).unwrap_err().contains("protect = true in stages.toml"));
    }
}
