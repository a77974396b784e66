//! CloudFormation, as deploy, diff, status, destroy, the pipeline's steps and local use it: a stack's typed
//! status, its events streamed until it settles (with the root cause of a failure), its outputs, resources
//! and template, change sets (created, read page by page, executed, discarded), deletion, termination
//! protection and drift detection. Every CloudFormation call of xtask goes through here, with its errors classified by
//! [`crate::aws::classify`].

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::client::Waiters as _;
use aws_sdk_cloudformation::error::ProvideErrorMetadata as _;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetType, Parameter, StackEvent, StackResourceSummary, StackStatus, TemplateStage,
};
use aws_smithy_runtime_api::client::waiters::error::WaiterError;
use serde_json::Value;

use crate::aws::{AwsError, AwsResultExt as _};

/// Whether CloudFormation is still working on a stack.
pub fn in_progress(status: &StackStatus) -> bool {
    status.as_str().ends_with("_IN_PROGRESS")
}

/// A stack that exists and is settled in a good state.
pub fn healthy(status: &StackStatus) -> bool {
    matches!(status, StackStatus::CreateComplete | StackStatus::UpdateComplete | StackStatus::ImportComplete)
}

/// How a stack ended up once nothing was in progress any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
    /// `DELETE_COMPLETE` once the stack is gone.
    pub status: StackStatus,
    /// The first resource that failed and why, when the operation failed.
    pub root_cause: Option<String>,
}

impl Settled {
    pub fn succeeded(&self) -> bool {
        healthy(&self.status) || self.status == StackStatus::DeleteComplete
    }
}

/// How long [`watch`] follows one stack operation before it gives up waiting (CloudFormation goes on):
/// far longer than any operation of these stacks takes, short enough that a hung one does not hang a
/// pipeline's build until CodeBuild's own timeout.
pub const WATCH_DEADLINE: Duration = Duration::from_secs(60 * 60);

/// Ids of the newest events a stack already has, so that watching prints only new ones. Events come
/// newest first, so the first page is enough: [`new_events`] reads until it meets one of them.
/// A stack that does not exist yet has none; any other error is one (an empty set would replay, and
/// blame, the whole history of the stack).
pub async fn seen(cfn: &Client, stack: &str) -> anyhow::Result<HashSet<String>> {
    match cfn.describe_stack_events().stack_name(stack).send().await.aws() {
        Ok(page) => Ok(page.stack_events.unwrap_or_default().into_iter().filter_map(|e| e.event_id).collect()),
        Err(e) if e.is_missing_stack() => Ok(HashSet::new()),
        Err(e) => Err(e).with_context(|| format!("reading the events of {stack}")),
    }
}

/// Every event of `stack` newer than those in `seen`, newest first: every page, until a page holds an
/// event already seen (all after it are older).
async fn new_events(cfn: &Client, stack: &str, seen: &HashSet<String>) -> anyhow::Result<Vec<StackEvent>> {
    let mut out = Vec::new();
    let mut pages = cfn.describe_stack_events().stack_name(stack).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws().with_context(|| format!("reading the events of {stack}"))?;
        for event in page.stack_events.unwrap_or_default() {
            if event.event_id.as_ref().is_some_and(|id| seen.contains(id)) {
                return Ok(out);
            }
            // An event that arrived while paging shifts the pages: one read twice is kept once.
            if !out.iter().any(|e: &StackEvent| e.event_id.is_some() && e.event_id == event.event_id) {
                out.push(event);
            }
        }
    }
    Ok(out)
}

/// Whether a wait that began at `start` has run past `deadline` at `now`.
pub fn overdue(start: Instant, now: Instant, deadline: Duration) -> bool {
    now.saturating_duration_since(start) > deadline
}

/// The stack's current status, or `None` when it does not exist (or was deleted).
pub async fn status(cfn: &Client, stack: &str) -> anyhow::Result<Option<StackStatus>> {
    Ok(describe(cfn, stack).await?.and_then(|s| s.stack_status).filter(|status| *status != StackStatus::DeleteComplete))
}

/// The stack's description, or `None` when it does not exist.
pub async fn describe(cfn: &Client, stack: &str) -> anyhow::Result<Option<aws_sdk_cloudformation::types::Stack>> {
    match cfn.describe_stacks().stack_name(stack).send().await.aws() {
        Ok(out) => Ok(out.stacks.unwrap_or_default().into_iter().next()),
        Err(e) if e.is_missing_stack() => Ok(None),
        Err(e) => Err(e).with_context(|| format!("describing stack {stack}")),
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

/// Executes change set `id` on `stack` and streams its events until the stack settles. `None` when
/// the user pressed Ctrl-C: CloudFormation goes on without us, and `cargo xtask status --stage <stage>`
/// resumes watching. Deploy and apply both execute through here.
pub async fn execute_and_watch(
    cfn: &Client,
    stack: &str,
    id: &str,
    stage: &str,
    poll: Duration,
) -> anyhow::Result<Option<Settled>> {
    let seen = seen(cfn, stack).await?;
    cfn.execute_change_set()
        .change_set_name(id)
        .send()
        .await
        .aws()
        .with_context(|| format!("executing the change set on {stack}"))?;
    tokio::select! {
        settled = watch(cfn, stack, seen, poll) => settled.map(Some),
        _ = tokio::signal::ctrl_c() => {
            eprintln!(
                "\ninterrupted: CloudFormation keeps going without us; `cargo xtask status --stage {stage}` resumes \
                 watching"
            );
            Ok(None)
        }
    }
}

/// Prints each new event of `stack` (by name or id) until the stack settles; `poll` is how often to ask.
/// Gives up after [`WATCH_DEADLINE`] with an error that says how to resume.
pub async fn watch(cfn: &Client, stack: &str, seen: HashSet<String>, poll: Duration) -> anyhow::Result<Settled> {
    watch_until(cfn, stack, seen, poll, WATCH_DEADLINE).await
}

/// [`watch`] with its deadline given.
pub async fn watch_until(
    cfn: &Client,
    stack: &str,
    mut seen: HashSet<String>,
    poll: Duration,
    deadline: Duration,
) -> anyhow::Result<Settled> {
    let start = Instant::now();
    let mut failures: Vec<String> = Vec::new();
    loop {
        // A stack deleted by id may stop answering for its events before its status says so.
        let mut events = match new_events(cfn, stack, &seen).await {
            Ok(events) => events,
            Err(e) if e.downcast_ref::<AwsError>().is_some_and(AwsError::is_missing_stack) => Vec::new(),
            Err(e) => return Err(e),
        };
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
            None => {
                return Ok(Settled { status: StackStatus::DeleteComplete, root_cause: failures.into_iter().next() });
            }
            Some(s) if !in_progress(&s) => {
                let settled = Settled { root_cause: failures.into_iter().next(), status: s };
                return Ok(settled);
            }
            Some(s) if overdue(start, Instant::now(), deadline) => bail!(
                "{stack} is still {} after {} s: stopped waiting (CloudFormation goes on); `cargo xtask status \
                 --stage <stage>` shows where it is and resumes watching",
                s.as_str(),
                deadline.as_secs()
            ),
            Some(_) => tokio::time::sleep(poll).await,
        }
    }
}

/// The outputs of a stack, by key.
pub async fn outputs(cfn: &Client, stack: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let Some(description) = describe(cfn, stack).await.with_context(|| format!("reading the outputs of {stack}"))?
    else {
        return Ok(BTreeMap::new());
    };
    Ok(description.outputs().iter().filter_map(|o| Some((o.output_key.clone()?, o.output_value.clone()?))).collect())
}

/// The template CloudFormation holds for a stack, as JSON; `None` when the stack does not exist.
pub async fn deployed_template(cfn: &Client, stack: &str) -> anyhow::Result<Option<Value>> {
    match cfn.get_template().stack_name(stack).send().await.aws() {
        Ok(out) => {
            let body = out.template_body.unwrap_or_default();
            let value: Value =
                yaml_serde::from_str(&body).with_context(|| format!("parsing the deployed template of {stack}"))?;
            Ok(Some(value))
        }
        Err(e) if e.is_missing_stack() => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading the deployed template of {stack}")),
    }
}

/// Why the stack is in its status, as CloudFormation says.
pub async fn status_reason(cfn: &Client, stack: &str) -> Option<String> {
    describe(cfn, stack).await.ok()??.stack_status_reason
}

/// Deletes a stack and streams its events until it is gone; the settled state says whether it went.
/// The stack id keeps working after deletion, when the name no longer resolves.
pub async fn delete(cfn: &Client, stack: &str, poll: Duration) -> anyhow::Result<Settled> {
    let id = describe(cfn, stack).await?.and_then(|s| s.stack_id).unwrap_or_else(|| stack.to_owned());
    let before = seen(cfn, &id).await?;
    cfn.delete_stack().stack_name(&id).send().await.aws().with_context(|| format!("deleting {stack}"))?;
    watch(cfn, &id, before, poll).await
}

/// Deletes a stack that holds no resources (`REVIEW_IN_PROGRESS`) and waits until it is gone.
pub async fn delete_empty(cfn: &Client, stack: &str) -> anyhow::Result<()> {
    cfn.delete_stack().stack_name(stack).send().await.aws().with_context(|| format!("deleting {stack}"))?;
    for _ in 0..300 {
        if status(cfn, stack).await?.is_none() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!("{stack} was not deleted within 150 s; see `cargo xtask status`")
}

/// Whether CloudFormation refuses to delete the stack (termination protection); `None` when it does
/// not exist. A stack setting, not a template property: a change set cannot change it.
pub async fn termination_protected(cfn: &Client, stack: &str) -> anyhow::Result<Option<bool>> {
    Ok(describe(cfn, stack).await?.map(|s| s.enable_termination_protection.unwrap_or(false)))
}

/// Turns a stack's termination protection on or off.
pub async fn set_termination_protection(cfn: &Client, stack: &str, on: bool) -> anyhow::Result<()> {
    cfn.update_termination_protection()
        .stack_name(stack)
        .enable_termination_protection(on)
        .send()
        .await
        .aws()
        .with_context(|| format!("turning termination protection of {stack} {}", if on { "on" } else { "off" }))?;
    Ok(())
}

/// What a template is passed as: inline, or by URL once it is over CloudFormation's inline limit.
#[derive(Debug, Clone)]
pub enum Body {
    Inline(String),
    Url(String),
}

/// CloudFormation's limit for `TemplateBody`; a larger template must be uploaded and passed by URL.
pub const INLINE_LIMIT: usize = 51_200;

/// Creates a change set and waits until CloudFormation has computed it, at most `deadline`; returns its id
/// and its description (every page), or `None` when it would change nothing (and was not kept).
pub async fn create_change_set(
    cfn: &Client,
    stack: &str,
    name: &str,
    body: &Body,
    parameters: &[(String, String)],
    (create, role): (bool, Option<&str>),
    deadline: Duration,
) -> anyhow::Result<Option<(String, DescribeChangeSetOutput)>> {
    let mut request = cfn
        .create_change_set()
        .stack_name(stack)
        .change_set_name(name)
        .change_set_type(if create { ChangeSetType::Create } else { ChangeSetType::Update })
        .capabilities(Capability::CapabilityNamedIam)
        .description("cargo xtask deploy");
    request = match body {
        Body::Inline(text) => request.template_body(text),
        Body::Url(url) => request.template_url(url),
    };
    if let Some(role) = role {
        request = request.role_arn(role);
    }
    for (key, value) in parameters {
        request = request.parameters(Parameter::builder().parameter_key(key).parameter_value(value).build());
    }
    let id = match request.send().await.aws() {
        Ok(out) => out.id.unwrap_or_else(|| name.to_owned()),
        // moto refuses an unchanged update outright; CloudFormation creates a FAILED change set instead.
        Err(e) if no_changes(&e.message) => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("creating a change set for {stack}")),
    };
    // The SDK's waiter, with a deadline: a change set that never settles stops the command, not hangs it.
    match cfn.wait_until_change_set_create_complete().change_set_name(&id).wait(deadline).await {
        Ok(_) => {
            let described = describe_all(cfn, &id).await?;
            Ok(Some((id, described)))
        }
        Err(WaiterError::FailureState(failed)) => {
            let reason = match failed.final_poll().as_result() {
                Ok(out) => out.status_reason.clone().unwrap_or_default(),
                // CloudFormation's own words (a ValidationError's message), not the SDK's summary.
                Err(e) => e.message().map_or_else(|| e.to_string(), str::to_owned),
            };
            if no_changes(&reason) {
                // An empty change set cannot be executed; delete it rather than leave litter.
                let _ = cfn.delete_change_set().change_set_name(&id).send().await;
                return Ok(None);
            }
            bail!("CloudFormation rejected the change set for {stack}: {reason}");
        }
        Err(WaiterError::ExceededMaxWait(_)) => bail!(
            "the change set {name} of {stack} was not computed within {} s: see it in the CloudFormation console, \
             delete it, and deploy again",
            deadline.as_secs()
        ),
        Err(e) => Err(anyhow::Error::from(e)).with_context(|| format!("waiting for change set {name} of {stack}")),
    }
}

/// A change set as CloudFormation describes it, every page of its changes read through the SDK's
/// paginator (a large change set's later pages hold changes a review must see as much as the first).
pub async fn describe_all(cfn: &Client, id: &str) -> anyhow::Result<DescribeChangeSetOutput> {
    let mut pages = Vec::new();
    let mut stream = cfn.describe_change_set().change_set_name(id).into_paginator().send();
    while let Some(page) = stream.next().await {
        pages.push(page.aws().with_context(|| format!("reading the change set {id}"))?);
    }
    Ok(merged(pages))
}

/// The pages of one change set's description as one: the first page's fields, every page's changes.
pub fn merged(pages: Vec<DescribeChangeSetOutput>) -> DescribeChangeSetOutput {
    let mut pages = pages.into_iter();
    let Some(mut first) = pages.next() else { return DescribeChangeSetOutput::builder().build() };
    let mut changes = first.changes.take().unwrap_or_default();
    for page in pages {
        changes.extend(page.changes.unwrap_or_default());
    }
    first.changes = Some(changes);
    first.next_token = None;
    first
}

fn no_changes(reason: &str) -> bool {
    reason.contains("didn't contain changes") || reason.contains("No updates are to be performed")
}

/// Drops an unexecuted change set, and the empty stack a CREATE change set made, so that nothing is
/// left half-made. Best effort: what cannot be dropped is left for the next run's preflight.
pub async fn discard(cfn: &Client, stack: &str, id: &str, creating: bool) {
    let _ = cfn.delete_change_set().change_set_name(id).send().await;
    if creating {
        let _ = cfn.delete_stack().stack_name(stack).send().await;
    }
}

/// The template a change set would deploy, as CloudFormation holds it.
pub async fn change_set_template(cfn: &Client, change_set: &str, stack: &str) -> anyhow::Result<String> {
    let out = cfn
        .get_template()
        .stack_name(stack)
        .change_set_name(change_set)
        .template_stage(TemplateStage::Original)
        .send()
        .await
        .aws()
        .with_context(|| format!("reading the template of change set {change_set}"))?;
    Ok(out.template_body.unwrap_or_default())
}

/// The stack's most recent events, newest first, as one call returns them.
pub async fn recent_events(cfn: &Client, stack: &str) -> anyhow::Result<Vec<StackEvent>> {
    let out = cfn
        .describe_stack_events()
        .stack_name(stack)
        .send()
        .await
        .aws()
        .with_context(|| format!("reading the events of {stack}"))?;
    Ok(out.stack_events.unwrap_or_default())
}

/// Every resource of the stack, every page: DescribeStackResources stops at 100, which a stage with many
/// functions passes.
pub async fn resources(cfn: &Client, stack: &str) -> anyhow::Result<Vec<StackResourceSummary>> {
    let mut resources = Vec::new();
    let mut pages = cfn.list_stack_resources().stack_name(stack).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws().with_context(|| format!("listing the resources of {stack}"))?;
        resources.extend(page.stack_resource_summaries.unwrap_or_default());
    }
    Ok(resources)
}

/// Creates `stack` from `body` directly, without a change set: for the emulator's data stack that
/// `cargo xtask local` sets up, which no one reviews. Returns once CloudFormation accepted it; the caller
/// says what was being created where.
pub async fn create_stack(cfn: &Client, stack: &str, body: String) -> anyhow::Result<()> {
    cfn.create_stack()
        .stack_name(stack)
        .template_body(body)
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await
        .aws()?;
    Ok(())
}

/// How long drift detection may take before the command gives up: CloudFormation takes seconds for a
/// small stack, minutes for a large one.
pub const DRIFT_DEADLINE: Duration = Duration::from_secs(15 * 60);

/// Runs CloudFormation drift detection on `stack` and answers every resource it found drifted (modified or
/// deleted), read page by page, with their property differences.
pub async fn detect_drift(cfn: &Client, stack: &str, poll: Duration) -> anyhow::Result<crate::drift::StackDrift> {
    use aws_sdk_cloudformation::types::{StackDriftDetectionStatus, StackResourceDriftStatus};
    let id = cfn
        .detect_stack_drift()
        .stack_name(stack)
        .send()
        .await
        .aws()
        .with_context(|| format!("starting drift detection on {stack}"))?
        .stack_drift_detection_id
        .with_context(|| format!("CloudFormation answered no drift detection id for {stack}"))?;
    let started = Instant::now();
    let status = loop {
        let status = cfn
            .describe_stack_drift_detection_status()
            .stack_drift_detection_id(&id)
            .send()
            .await
            .aws()
            .with_context(|| format!("reading drift detection {id} of {stack}"))?;
        match status.detection_status {
            Some(StackDriftDetectionStatus::DetectionInProgress)
                if !overdue(started, Instant::now(), DRIFT_DEADLINE) =>
            {
                tokio::time::sleep(poll).await;
            }
            Some(StackDriftDetectionStatus::DetectionInProgress) => bail!(
                "drift detection on {stack} did not finish within {} minutes; see it in the CloudFormation console \
                 (detection id {id})",
                DRIFT_DEADLINE.as_secs() / 60
            ),
            _ => break status,
        }
    };
    if status.detection_status == Some(StackDriftDetectionStatus::DetectionFailed) {
        // Partly detected: CloudFormation could not read some resources (often the caller's permissions).
        // What it did read is still reported; the reason says what it could not.
        eprintln!(
            "warning: drift detection on {stack} did not check every resource: {}",
            status.detection_status_reason.as_deref().unwrap_or("no reason given")
        );
    }
    let mut drifted = Vec::new();
    let mut pages = cfn
        .describe_stack_resource_drifts()
        .stack_name(stack)
        .stack_resource_drift_status_filters(StackResourceDriftStatus::Modified)
        .stack_resource_drift_status_filters(StackResourceDriftStatus::Deleted)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.aws().with_context(|| format!("reading the drifted resources of {stack}"))?;
        for resource in page.stack_resource_drifts.unwrap_or_default() {
            drifted.push(crate::drift::ResourceDrift {
                logical_id: resource.logical_resource_id.unwrap_or_default(),
                resource_type: resource.resource_type.unwrap_or_default(),
                status: resource.stack_resource_drift_status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
                differences: resource
                    .property_differences
                    .unwrap_or_default()
                    .into_iter()
                    .map(|d| crate::drift::PropertyDifference {
                        path: d.property_path.unwrap_or_default(),
                        expected: d.expected_value.unwrap_or_default(),
                        actual: d.actual_value.unwrap_or_default(),
                        kind: d.difference_type.map(|k| k.as_str().to_owned()).unwrap_or_default(),
                    })
                    .collect(),
            });
        }
    }
    Ok(crate::drift::StackDrift {
        stack: stack.to_owned(),
        drifted,
        complete: status.detection_status != Some(StackDriftDetectionStatus::DetectionFailed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::types::ResourceStatus;

    #[test]
    fn a_wait_is_overdue_only_past_its_deadline() {
        let start = Instant::now();
        let deadline = Duration::from_secs(60);
        assert!(!overdue(start, start, deadline));
        assert!(!overdue(start, start + deadline, deadline));
        assert!(overdue(start, start + deadline + Duration::from_millis(1), deadline));
        // A reading from before the start is not overdue.
        assert!(!overdue(start + deadline, start, deadline));
    }

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
        let settled = |s: StackStatus| Settled { status: s, root_cause: None };
        assert!(settled(StackStatus::UpdateComplete).succeeded());
        assert!(settled(StackStatus::DeleteComplete).succeeded());
        assert!(!settled(StackStatus::UpdateRollbackComplete).succeeded());
        assert!(!settled(StackStatus::RollbackComplete).succeeded());
        assert!(in_progress(&StackStatus::UpdateCompleteCleanupInProgress));
        assert!(!in_progress(&StackStatus::UpdateComplete));
    }
}
