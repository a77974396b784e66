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
        let page = page.map_err(|e| anyhow::anyhow!(describe(&e))).with_context(|| format!("reading the events of {stack}"))?;
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

/// Prints each new event of `stack` (by name or id) until the stack settles; `poll` is how often to ask.
pub async fn watch(cfn: &Client, stack: &str, mut seen: HashSet<String>, poll: Duration) -> anyhow::Result<Settled> {
    let start = Instant::now();
    let mut failures: Vec<String> = Vec::new();
    loop {
        let mut events: Vec<StackEvent> =
            all_events(cfn, stack).await?.into_iter().filter(|e| e.event_id.as_ref().is_some_and(|id| !seen.contains(id))).collect();
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
            let cancelled = reason.contains("cancelled");
            if status.ends_with("_FAILED") && !cancelled && e.logical_resource_id.as_deref() != Some(stack) {
                failures.push(format!(
                    "{} ({}): {}",
                    e.logical_resource_id.as_deref().unwrap_or("?"),
                    e.resource_type.as_deref().unwrap_or("?"),
                    if reason.is_empty() { "no reason given" } else { reason }
                ));
            }
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
