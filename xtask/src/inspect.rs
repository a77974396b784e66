//! `cargo xtask diff` and `cargo xtask status`: what differs from, and what is happening to, a stage's
//! deployed stacks.

use std::fmt::Write as _;
use std::process::ExitCode;

use serde_json::Value;

use crate::aws::{Clients, StageArgs, runtime};
use crate::cfn::{self, deployed_template, outputs};
use crate::deploy::changes::IamDiff;
use crate::{EXIT_DIFFERENCE, Target};

/// Compares each synthesized stack with the deployed one: exit 0 when all match, 1 when any differs.
pub fn diff(config_path: &std::path::Path, args: &StageArgs) -> anyhow::Result<ExitCode> {
    let target = Target::load(config_path, &args.stage)?;
    runtime()?.block_on(async {
        let clients = Clients::new(&args.aws, target.stage()).await?;
        let mut differs = false;
        for (stack, template) in target.stacks.named(&target.names) {
            let text = match deployed_template(&clients.cfn, &stack).await? {
                None => format!("{stack}: not deployed\n"),
                Some(deployed) => {
                    let wanted = template.to_json();
                    stack_diff(&stack, &deployed, &wanted)
                }
            };
            differs |= !text.ends_with(": no differences\n");
            print!("{text}");
        }
        Ok(if differs { ExitCode::from(EXIT_DIFFERENCE) } else { ExitCode::SUCCESS })
    })
}

/// The differences between a deployed and a synthesized template, per resource and property, with
/// IAM changes called out.
pub fn stack_diff(stack: &str, deployed: &Value, wanted: &Value) -> String {
    let mut lines = Vec::new();
    for section in ["Parameters", "Resources", "Outputs"] {
        let empty = serde_json::Map::new();
        let old = deployed.get(section).and_then(Value::as_object).unwrap_or(&empty);
        let new = wanted.get(section).and_then(Value::as_object).unwrap_or(&empty);
        let kind = |v: &Value| v.get("Type").and_then(Value::as_str).map(|t| format!(" ({t})")).unwrap_or_default();
        for (id, value) in new {
            match old.get(id) {
                None => lines.push(format!("  + {section}.{id}{}", kind(value))),
                Some(before) if before != value => {
                    lines.push(format!("  ~ {section}.{id}{}", kind(value)));
                    let mut changes = Vec::new();
                    paths("", before, value, &mut changes);
                    lines.extend(changes.into_iter().map(|c| format!("      {c}")));
                }
                Some(_) => {}
            }
        }
        for (id, value) in old {
            if !new.contains_key(id) {
                lines.push(format!("  - {section}.{id}{}", kind(value)));
            }
        }
    }
    let iam = IamDiff::between(stack, Some(deployed), wanted);
    let mut out = String::new();
    if lines.is_empty() && iam.is_empty() {
        let _ = writeln!(out, "{stack}: no differences");
        return out;
    }
    let _ = writeln!(out, "{stack}: differs from the deployed stack");
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
    if !iam.is_empty() {
        let _ = writeln!(out, "  IAM ({} granted, {} revoked):", iam.added.len(), iam.removed.len());
        for l in iam.render().lines() {
            let _ = writeln!(out, "  {l}");
        }
    }
    out
}

/// Property paths that differ between two values: `Properties.MemorySize: 256 -> 512`.
fn paths(prefix: &str, old: &Value, new: &Value, out: &mut Vec<String>) {
    let join = |key: &str| if prefix.is_empty() { key.to_owned() } else { format!("{prefix}.{key}") };
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get(k) {
                    Some(before) => paths(&join(k), before, v, out),
                    None => out.push(format!("{}: added {}", join(k), short(v))),
                }
            }
            for k in a.keys().filter(|k| !b.contains_key(*k)) {
                out.push(format!("{}: removed", join(k)));
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                paths(&format!("{prefix}[{i}]"), x, y, out);
            }
        }
        (a, b) if a != b => out.push(format!("{prefix}: {} -> {}", short(a), short(b))),
        _ => {}
    }
}

fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 80 { format!("{}...", text.chars().take(77).collect::<String>()) } else { text }
}

/// Prints each stack's state, its last events and outputs; watches a stack that is still changing.
pub fn status(config_path: &std::path::Path, args: &StageArgs) -> anyhow::Result<ExitCode> {
    let target = Target::load(config_path, &args.stage)?;
    runtime()?.block_on(async {
        let clients = Clients::new(&args.aws, target.stage()).await?;
        let mut healthy = true;
        for (stack, _) in target.stacks.named(&target.names) {
            let Some(state) = cfn::status(&clients.cfn, &stack).await? else {
                println!("{stack}: not deployed");
                healthy = false;
                continue;
            };
            println!("{stack}: {}", state.as_str());
            let recent = cfn::recent_events(&clients.cfn, &stack).await?;
            let mut last: Vec<_> = recent.iter().take(5).collect();
            last.reverse();
            for e in last {
                println!(
                    "  {}  {:<28} {} {}",
                    e.timestamp.map(|t| t.to_string()).unwrap_or_default(),
                    e.resource_status.as_ref().map_or("", |s| s.as_str()),
                    e.logical_resource_id.as_deref().unwrap_or(""),
                    e.resource_status_reason.as_deref().unwrap_or("")
                );
            }
            let settled = if cfn::in_progress(&state) {
                println!(
                    "  {stack} is still changing; watching until it settles (Ctrl-C stops watching, not the update)"
                );
                let seen = cfn::seen(&clients.cfn, &stack).await?;
                cfn::watch(&clients.cfn, &stack, seen, clients.poll).await?.status
            } else {
                state
            };
            healthy &= cfn::healthy(&settled);
            for (k, v) in outputs(&clients.cfn, &stack).await? {
                println!("  {k} = {v}");
            }
        }
        Ok(if healthy { ExitCode::SUCCESS } else { ExitCode::from(EXIT_DIFFERENCE) })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_changed_added_and_removed_properties() {
        let deployed = json!({"Resources": {
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"MemorySize": 256, "Timeout": 10}},
            "Old": {"Type": "AWS::Logs::LogGroup", "Properties": {}}
        }});
        let wanted = json!({"Resources": {
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"MemorySize": 512, "Timeout": 10}},
            "New": {"Type": "AWS::Logs::LogGroup", "Properties": {}}
        }});
        let text = stack_diff("s", &deployed, &wanted);
        assert!(text.contains("~ Resources.Fn (AWS::Lambda::Function)"), "{text}");
        assert!(text.contains("Properties.MemorySize: 256 -> 512"), "{text}");
        assert!(text.contains("+ Resources.New"), "{text}");
        assert!(text.contains("- Resources.Old"), "{text}");
        assert!(!text.contains("Timeout"), "{text}");
        assert_eq!(stack_diff("s", &wanted, &wanted), "s: no differences\n");
    }
}
