//! `cargo xtask destroy --stage S`: deletes the api stack, and the data stack only when asked twice.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use crate::aws::{Clients, StageArgs, describe};
use crate::deploy::{ask, events};
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
    /// Destroy a stage that stages.toml marks `protect = true`
    #[arg(long)]
    pub force: bool,
}

pub fn run(config_path: &std::path::Path, args: &DestroyArgs) -> anyhow::Result<ExitCode> {
    let target = Target::load(config_path, &args.on.stage)?;
    let (stage, names, stacks) = (target.stage(), &target.names, &target.stacks);
    if stage.protect && !args.force {
        return Err(BadInput(format!(
            "stage {} is protected (protect = true in stages.toml); pass --force to destroy it anyway",
            stage.name
        ))
        .into());
    }
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
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
        let clients = Clients::new(&args.on.aws, stage).await?;
        let poll = clients.poll;
        let api = names.api_stack();
        if !args.yes && !ask(interactive, &format!("delete stack {api}?"))? {
            return Err(BadInput("declined; nothing was deleted".into()).into());
        }
        if !delete(&clients, &api, poll).await? {
            return Ok(ExitCode::from(EXIT_DIFFERENCE));
        }

        let data = names.data_stack();
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
        // Resources with DeletionPolicy Retain outlive the stack: say which, by physical name.
        let retained: Vec<String> = match clients.cfn.describe_stack_resources().stack_name(&data).send().await {
            Ok(out) => {
                let template = stacks.data.as_ref().map(synth::Template::to_json).unwrap_or_default();
                out.stack_resources()
                    .iter()
                    .filter(|r| {
                        let id = r.logical_resource_id.as_deref().unwrap_or_default();
                        template["Resources"][id]["DeletionPolicy"] == "Retain"
                    })
                    .map(|r| {
                        format!(
                            "{} {} ({})",
                            r.logical_resource_id.as_deref().unwrap_or_default(),
                            r.physical_resource_id.as_deref().unwrap_or_default(),
                            r.resource_type.as_deref().unwrap_or_default()
                        )
                    })
                    .collect()
            }
            Err(e) if describe(&e).contains("does not exist") => Vec::new(),
            Err(e) => {
                return Err(anyhow::anyhow!(describe(&e))).with_context(|| format!("listing the resources of {data}"));
            }
        };
        if !delete(&clients, &data, poll).await? {
            return Ok(ExitCode::from(EXIT_DIFFERENCE));
        }
        for r in &retained {
            println!("kept (DeletionPolicy: Retain): {r}");
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Deletes a stack and watches until it is gone; false (after printing why) when deletion failed.
async fn delete(clients: &Clients, stack: &str, poll: Duration) -> anyhow::Result<bool> {
    let Some(status) = events::status(&clients.cfn, stack).await? else {
        println!("{stack}: not deployed, nothing to delete");
        return Ok(true);
    };
    // The stack id keeps working after deletion, when the name no longer resolves.
    let id = clients
        .cfn
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .ok()
        .and_then(|o| o.stacks().first().and_then(|s| s.stack_id.clone()))
        .unwrap_or_else(|| stack.to_owned());
    println!("deleting {stack} ({status})");
    let seen = events::seen(&clients.cfn, &id).await;
    clients
        .cfn
        .delete_stack()
        .stack_name(&id)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(describe(&e)))
        .with_context(|| format!("deleting {stack}"))?;
    let settled = events::watch(&clients.cfn, &id, seen, poll).await?;
    if settled.status == "DELETE_COMPLETE" {
        println!("{stack}: deleted");
        Ok(true)
    } else {
        eprintln!(
            "error: deleting {stack} failed ({}): {}",
            settled.status,
            settled.root_cause.unwrap_or_else(|| "no reason given".into())
        );
        Ok(false)
    }
}
