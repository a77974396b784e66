//! Watching a stack settle: stack events streamed as they happen, and the root cause of a failure.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::StackEvent;

use crate::aws::describe;

/// How a stack ended up once nothing was in progress any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    pub status: String,
    /// The first resource that failed and why, when the operation failed.
    pub root_cause: Option<String>,
}

impl Settled {
    pub fn succeeded(&self) -> bool {
        matches!(self.status.as_str(), "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "DELETE_COMPLETE" | "IMPORT_COMPLETE")
    }
}

/// Ids of the events a stack already has, so that watching prints only new ones.
pub async fn seen(cfn: &Client, stack: &str) -> HashSet<String> {
    match all_events(cfn, stack).await {
        Ok(events) => events.into_iter().filter_map(|e| e.event_id).collect(),
        Err(_) => HashSet::new(),
    }
}

async fn all_events(cfn: &Client, stack: &str) -> anyhow::Result<Vec<StackEvent>> {
    let mut out = Vec::new();
    let mut pages = cfn.describe_stack_events().stack_name(stack).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page
            .map_err(|e| anyhow::anyhow!(describe(&e)))
            .with_context(|| format!("reading the events of {stack}"))?;
        out.extend(page.stack_events.unwrap_or_default());
        // Events come newest first; a few pages cover any one operation of these stacks.
        if out.len() > 500 {
            break;
        }
    }
    Ok(out)
}

/// The stack's current status, or `None` when it does not exist (or was deleted).
pub async fn status(cfn: &Client, stack: &str) -> anyhow::Result<Option<String>> {
    match cfn.describe_stacks().stack_name(stack).send().await {
        Ok(out) => Ok(out
            .stacks
            .unwrap_or_default()
            .into_iter()
            .next()
            .and_then(|s| s.stack_status.map(|st| st.as_str().to_owned()))
            .filter(|s| s != "DELETE_COMPLETE")),
        Err(e) => {
            let text = describe(&e);
            if text.contains("does not exist") {
                Ok(None)
            } else {
                Err(anyhow::anyhow!(text)).with_context(|| format!("describing stack {stack}"))
            }
        }
    }
}

/// The first resource that failed, and why, among events in the order they happened. Resources that
/// CloudFormation cancelled because another failed, and the stack's own summary events, are noise.
pub fn root_cause(events: &[StackEvent]) -> Option<String> {
    events.iter().find_map(|e| {
        let status = e.resource_status.as_ref().map_or("", |s| s.as_str());
        let reason = e.resource_status_reason.as_deref().unwrap_or("");
        let is_stack = e.resource_type.as_deref() == Some("AWS::CloudFormation::Stack");
        (status.ends_with("_FAILED") && !is_stack && !reason.contains("cancelled")).then(|| {
            format!(
                "{} ({}): {}",
                e.logical_resource_id.as_deref().unwrap_or("?"),
                e.resource_type.as_deref().unwrap_or("?"),
                if reason.is_empty() { "no reason given" } else { reason }
            )
        })
    })
}

/// Prints each new event of `stack` (by name or id) until the stack settles; `poll` is how often to ask.
pub async fn watch(cfn: &Client, stack: &str, mut seen: HashSet<String>, poll: Duration) -> anyhow::Result<Settled> {
    let start = Instant::now();
    let mut failures: Vec<String> = Vec::new();
    loop {
        let mut events: Vec<StackEvent> = all_events(cfn, stack)
            .await?
            .into_iter()
            .filter(|e| e.event_id.as_ref().is_some_and(|id| !seen.contains(id)))
            .collect();
        events.reverse();
        for e in &events {
            if let Some(id) = &e.event_id {
                seen.insert(id.clone());
            }
            let status = e.resource_status.as_ref().map_or("", |s| s.as_str());
            let reason = e.resource_status_reason.as_deref().unwrap_or("");
            println!(
                "  {:>6.1}s  {:<28} {:<34} {}{}",
                start.elapsed().as_secs_f64(),
                status,
                e.resource_type.as_deref().unwrap_or(""),
                e.logical_resource_id.as_deref().unwrap_or(""),
                if reason.is_empty() { String::new() } else { format!(": {reason}") }
            );
        }
        if failures.is_empty()
            && let Some(cause) = root_cause(&events)
        {
            failures.push(cause);
        }
        let current = status(cfn, stack).await?;
        match current {
            None => return Ok(Settled { status: "DELETE_COMPLETE".into(), root_cause: failures.into_iter().next() }),
            Some(s) if !s.ends_with("_IN_PROGRESS") => {
                let settled = Settled { root_cause: failures.into_iter().next(), status: s };
                return Ok(settled);
            }
            Some(_) => tokio::time::sleep(poll).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::types::ResourceStatus;

    fn event(id: &str, kind: &str, status: ResourceStatus, reason: &str) -> StackEvent {
        StackEvent::builder()
            .logical_resource_id(id)
            .resource_type(kind)
            .resource_status(status)
            .resource_status_reason(reason)
            .build()
    }

    #[test]
    fn the_root_cause_is_the_first_real_failure() {
        let events = vec![
            event("stack", "AWS::CloudFormation::Stack", ResourceStatus::CreateInProgress, "User Initiated"),
            event("Role", "AWS::IAM::Role", ResourceStatus::CreateInProgress, ""),
            event("Table", "AWS::DynamoDB::Table", ResourceStatus::CreateFailed, "Resource creation cancelled"),
            event("Fn", "AWS::Lambda::Function", ResourceStatus::CreateFailed, "Memory size 99 is below 128"),
            event("Other", "AWS::Lambda::Function", ResourceStatus::CreateFailed, "later"),
            event(
                "stack",
                "AWS::CloudFormation::Stack",
                ResourceStatus::RollbackInProgress,
                "The following resource(s) failed",
            ),
        ];
        assert_eq!(root_cause(&events).as_deref(), Some("Fn (AWS::Lambda::Function): Memory size 99 is below 128"));
        assert_eq!(root_cause(&events[..3]), None);
    }

    #[test]
    fn success_is_a_complete_create_update_or_delete() {
        let settled = |s: &str| Settled { status: s.into(), root_cause: None };
        assert!(settled("UPDATE_COMPLETE").succeeded());
        assert!(!settled("UPDATE_ROLLBACK_COMPLETE").succeeded());
        assert!(!settled("ROLLBACK_COMPLETE").succeeded());
    }
}
