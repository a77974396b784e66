//! `cargo xtask drift --stage S`: CloudFormation drift detection on each of a stage's stacks, every
//! drifted resource shown with its property differences; exit 1 on drift (or when a stack could not be
//! fully checked). `deploy` runs the same check
//! first ([`gate`]): a change set over a drifted stack can silently undo a hand-made fix, or fail halfway,
//! so a protected stage that drifted (or could not be fully checked) is refused unless `--allow-drift`
//! says to go ahead.

use std::fmt::Write as _;
use std::process::ExitCode;

use crate::aws::{Clients, StageArgs, runtime};
use crate::{EXIT_DIFFERENCE, Target, cfn};

/// One property a resource no longer has as the template says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyDifference {
    /// `/MemorySize`, `/Environment/Variables/NAME`.
    pub path: String,
    pub expected: String,
    pub actual: String,
    /// ADD, REMOVE or NOT_EQUAL.
    pub kind: String,
}

/// A resource drift detection found changed (MODIFIED) or gone (DELETED).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDrift {
    pub logical_id: String,
    pub resource_type: String,
    pub status: String,
    pub differences: Vec<PropertyDifference>,
}

/// What drift detection found on one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackDrift {
    pub stack: String,
    pub drifted: Vec<ResourceDrift>,
    /// Every resource was checked (CloudFormation may fail to read some, e.g. for lack of permission).
    pub complete: bool,
}

impl StackDrift {
    pub fn drifted(&self) -> bool {
        !self.drifted.is_empty()
    }
}

/// The report for a person: each drifted resource, then its differences.
pub fn render(drift: &StackDrift) -> String {
    let mut out = String::new();
    if !drift.drifted() {
        let verdict = if drift.complete { "in sync" } else { "not fully checked (no drift found in what was)" };
        let _ = writeln!(out, "{}: {verdict}", drift.stack);
        return out;
    }
    let _ = writeln!(out, "{}: {} drifted resource(s)", drift.stack, drift.drifted.len());
    for resource in &drift.drifted {
        let _ = writeln!(out, "  ~ {} ({}): {}", resource.logical_id, resource.resource_type, resource.status);
        for d in &resource.differences {
            let _ = writeln!(out, "      {} {}: template {}, deployed {}", d.kind, d.path, d.expected, d.actual);
        }
    }
    out
}

/// What deploy does about drift found before its change sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Nothing drifted.
    Clear,
    /// Drifted, and allowed: a stage that is not protected (warned), or `--allow-drift`.
    Proceed,
    /// A protected stage drifted and nobody said to go ahead.
    Refuse,
}

/// The rule: a protected stage that drifted, or whose stacks could not all be checked, needs
/// `--allow-drift`; any other stage is warned.
pub fn gate(drifts: &[StackDrift], protected: bool, allow_drift: bool) -> Gate {
    let unsure = drifts.iter().any(|d| d.drifted() || !d.complete);
    match (unsure, protected, allow_drift) {
        (false, _, _) => Gate::Clear,
        (true, true, false) => Gate::Refuse,
        (true, _, _) => Gate::Proceed,
    }
}

/// The deployed stacks of the stage, detected one after another. A stack CloudFormation is still
/// changing cannot be checked: it counts as not fully checked.
pub async fn detect(clients: &Clients, target: &Target) -> anyhow::Result<Vec<StackDrift>> {
    let mut drifts = Vec::new();
    for (stack, _) in target.stacks.named(&target.names) {
        match cfn::status(&clients.cfn, &stack).await? {
            None => println!("{stack}: not deployed"),
            Some(status) if cfn::in_progress(&status) => {
                println!("{stack}: {} (still changing: drift cannot be detected now)", status.as_str());
                drifts.push(StackDrift { stack, drifted: Vec::new(), complete: false });
            }
            // Settled, rolled back included: what a failed deploy leaves is what people then fix by hand.
            Some(_) => {
                println!("{stack}: detecting drift...");
                drifts.push(cfn::detect_drift(&clients.cfn, &stack, clients.poll).await?);
            }
        }
    }
    Ok(drifts)
}

pub fn run(config_path: &std::path::Path, args: &StageArgs) -> anyhow::Result<ExitCode> {
    let target = Target::load(config_path, &args.stage)?;
    runtime()?.block_on(async {
        let clients = Clients::new(&args.aws, target.stage()).await?;
        let drifts = detect(&clients, &target).await?;
        for drift in &drifts {
            print!("{}", render(drift));
        }
        let unsure = drifts.iter().any(|d| d.drifted() || !d.complete);
        Ok(if unsure { ExitCode::from(EXIT_DIFFERENCE) } else { ExitCode::SUCCESS })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drifted(stack: &str) -> StackDrift {
        StackDrift {
            stack: stack.into(),
            drifted: vec![ResourceDrift {
                logical_id: "SigninFunction".into(),
                resource_type: "AWS::Lambda::Function".into(),
                status: "MODIFIED".into(),
                differences: vec![PropertyDifference {
                    path: "/MemorySize".into(),
                    expected: "1024".into(),
                    actual: "2048".into(),
                    kind: "NOT_EQUAL".into(),
                }],
            }],
            complete: true,
        }
    }

    #[test]
    fn each_drifted_resource_is_shown_with_its_differences() {
        let text = render(&drifted("auth-prod-api"));
        assert!(text.starts_with("auth-prod-api: 1 drifted resource(s)\n"), "{text}");
        assert!(text.contains("~ SigninFunction (AWS::Lambda::Function): MODIFIED"), "{text}");
        assert!(text.contains("NOT_EQUAL /MemorySize: template 1024, deployed 2048"), "{text}");
        let partial = StackDrift { stack: "s".into(), drifted: vec![], complete: false };
        assert_eq!(render(&partial), "s: not fully checked (no drift found in what was)\n");
    }

    #[test]
    fn a_protected_stage_that_drifted_is_refused_unless_told_to_go_ahead() {
        let (clean, dirty) = (StackDrift { stack: "s".into(), drifted: vec![], complete: true }, drifted("s"));
        assert_eq!(gate(std::slice::from_ref(&clean), true, false), Gate::Clear);
        assert_eq!(gate(&[clean.clone(), dirty.clone()], true, false), Gate::Refuse);
        assert_eq!(gate(std::slice::from_ref(&dirty), true, true), Gate::Proceed);
        assert_eq!(gate(std::slice::from_ref(&dirty), false, false), Gate::Proceed);
        // Not fully checked (a stack still changing, or resources CloudFormation could not read) is no proof.
        let partial = StackDrift { complete: false, ..clean };
        assert_eq!(gate(std::slice::from_ref(&partial), true, false), Gate::Refuse);
        assert_eq!(gate(std::slice::from_ref(&partial), false, false), Gate::Proceed);
    }
}
