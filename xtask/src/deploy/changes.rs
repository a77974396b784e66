//! Change sets: creating one, reading what it will do, and judging which changes need their own flag.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_cloudformation::Client;
use serde_json::Value;
use synth::review::{Effect, Row, Unreviewed};

use crate::cfn;
use crate::cfn::Body;

/// One row of a change set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    /// `True`, `False` or `Conditional` for modifications; empty otherwise.
    pub replacement: String,
}

impl Change {
    /// A removal, or a modification that may replace the resource, of a resource that holds data.
    pub fn loses_data(&self) -> bool {
        synth::review::schema::STATEFUL.contains(&self.resource_type.as_str())
            && (self.action == "Remove" || matches!(self.replacement.as_str(), "True" | "Conditional"))
    }
}

/// A change set ready for review, or the news that there was nothing to change.
#[derive(Debug)]
pub enum Prepared {
    NoChanges,
    Ready { id: String, changes: Vec<Change> },
}

/// Creates a change set and waits until CloudFormation has computed it, at most `deadline`.
pub async fn create(
    cfn: &Client,
    stack: &str,
    name: &str,
    body: &Body,
    parameters: &[(String, String)],
    creating_as: (bool, Option<&str>),
    deadline: Duration,
) -> anyhow::Result<Prepared> {
    Ok(match cfn::create_change_set(cfn, stack, name, body, parameters, creating_as, deadline).await? {
        None => Prepared::NoChanges,
        Some((id, described)) => Prepared::Ready { id, changes: changes_of(&described) },
    })
}

/// Why a change set was not made by this run, if it was not: its name must be `xtask-<execution>`.
pub fn bound_to_run(name: Option<&str>, execution: &str) -> Result<(), String> {
    let wanted = format!("xtask-{execution}");
    match name {
        Some(n) if n == wanted => Ok(()),
        other => Err(format!(
            "the change set {} was not made by this run: its name must be {wanted} (pipeline execution {execution}); \
             a change set made outside the run, or by an earlier one, never runs",
            other.unwrap_or("(unnamed)")
        )),
    }
}

/// How long a change set may take to be computed before deploy gives up on it.
pub const CHANGE_SET_DEADLINE: Duration = Duration::from_secs(10 * 60);

pub fn changes_of(
    out: &aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput,
) -> Vec<Change> {
    let mut changes: Vec<Change> = out
        .changes()
        .iter()
        .filter_map(|c| c.resource_change.as_ref())
        .map(|r| Change {
            action: r.action.as_ref().map_or("", |a| a.as_str()).to_owned(),
            logical_id: r.logical_resource_id.clone().unwrap_or_default(),
            resource_type: r.resource_type.clone().unwrap_or_default(),
            replacement: r.replacement.as_ref().map_or("", |a| a.as_str()).to_owned(),
        })
        .collect();
    changes.sort_by(|a, b| (&a.action, &a.logical_id).cmp(&(&b.action, &b.logical_id)));
    changes
}

/// The resource changes as a table.
pub fn table(changes: &[Change]) -> String {
    let id_width = changes.iter().map(|c| c.logical_id.len()).max().unwrap_or(0).max("resource".len());
    let type_width = changes.iter().map(|c| c.resource_type.len()).max().unwrap_or(0).max("type".len());
    let mut out = format!("  {:<8} {:<id_width$} {:<type_width$} replacement\n", "action", "resource", "type");
    for c in changes {
        let marker = if c.loses_data() { "  <- loses data" } else { "" };
        out.push_str(&format!(
            "  {:<8} {:<id_width$} {:<type_width$} {}{marker}\n",
            c.action,
            c.logical_id,
            c.resource_type,
            if c.replacement.is_empty() { "-" } else { &c.replacement }
        ));
    }
    out
}

/// IAM rows the new template adds and removes compared with the deployed one, and what in the new
/// template the review cannot account for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct IamDiff {
    pub added: Vec<Row>,
    pub removed: Vec<Row>,
    pub unreviewed: Vec<Unreviewed>,
    /// The deployed template's `Allow` rows and the new one's `Deny` rows, to tell a provably narrower
    /// change from a grant.
    old_allows: Vec<Row>,
    new_denies: Vec<Row>,
    /// What the deployed template holds that the review cannot read: the new template cannot be shown to
    /// grant no more than it, so each is a grant to approve.
    unreadable_before: Vec<Row>,
}

impl IamDiff {
    pub fn between(stack: &str, deployed: Option<&Value>, new: &Value) -> IamDiff {
        let before = deployed.map(|d| synth::review::review([(stack, d)])).unwrap_or_default();
        let unreadable_before = before
            .unreviewed
            .iter()
            .map(|u| Row {
                principal: "(unknown: the deployed template)".to_owned(),
                effect: Effect::Allow,
                action: "(anything)".to_owned(),
                resource: format!("{} ({})", u.logical_id, u.resource_type),
                condition: format!("unreadable: {}", u.why),
                granted_by: format!("{} {} as deployed", u.stack, u.logical_id),
            })
            .collect();
        let old: BTreeSet<Row> = before.rows.into_iter().collect();
        let review = synth::review::review([(stack, new)]);
        let new: BTreeSet<Row> = review.rows.into_iter().collect();
        IamDiff {
            added: new.difference(&old).cloned().collect(),
            removed: old.difference(&new).cloned().collect(),
            unreviewed: review.unreviewed,
            old_allows: old.iter().filter(|r| r.effect == Effect::Allow).cloned().collect(),
            new_denies: new.iter().filter(|r| r.effect == Effect::Deny).cloned().collect(),
            unreadable_before,
        }
    }

    /// What is granted that was not before: a new `Allow` row (a new principal, action, resource, role a
    /// function runs as, caller of a route, or a changed condition, which may be looser) that no deployed
    /// `Allow` row covers, and a `Deny` or boundary row that went away and that no new `Deny` covers (a
    /// narrowed `Deny`, such as one more exemption in its `NotAction`, is a grant). A change is let
    /// through without `--approve-iam` only when it is provably narrower.
    ///
    /// A pipeline's or build project's rows are its gates and its steps (an approval stage, its entry
    /// condition, the commands a role runs): any of them added, changed or removed needs a person, since
    /// a removed approval is a grant no row shows.
    pub fn grants(&self) -> Vec<&Row> {
        let delivery = |r: &&Row| r.principal.starts_with("pipeline ") || r.principal.starts_with("project ");
        let added = self.added.iter().filter(|r| {
            delivery(r) || (r.effect == Effect::Allow && !self.old_allows.iter().any(|old| covers(old, r)))
        });
        let lifted = self
            .removed
            .iter()
            .filter(|r| delivery(r) || (r.effect == Effect::Deny && !self.new_denies.iter().any(|new| covers(new, r))));
        added.chain(lifted).chain(&self.unreadable_before).collect()
    }

    pub fn broadens(&self) -> bool {
        !self.grants().is_empty()
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        for (sign, rows) in [("+", &self.added), ("-", &self.removed)] {
            for r in rows.iter() {
                out.push_str(&format!("  {sign} {}\n", line(r)));
            }
        }
        out
    }
}

/// Whether row `wide` provably includes everything row `narrow` allows (or denies): the same effect, a
/// condition no stricter, and each of principal, action and resource covering the other's.
pub fn covers(wide: &Row, narrow: &Row) -> bool {
    let principal = covers_value(&wide.principal, &narrow.principal)
        || matches!(wide.principal.as_str(), "anyone" | "anyone on the internet");
    wide.effect == narrow.effect
        && (wide.condition.is_empty() || wide.condition == narrow.condition)
        && principal
        && covers_value(&wide.action, &narrow.action)
        && covers_value(&wide.resource, &narrow.resource)
}

/// Whether one value of a row covers another: equal; a pattern (`*`, `s3:Get*`) matching a value with
/// no wildcard of its own; or a negated list (`NOT a, b`) covering a negated list of at least its
/// members, or a value with no wildcard that none of its members matches.
fn covers_value(wide: &str, narrow: &str) -> bool {
    if wide == narrow {
        return true;
    }
    let literal = !narrow.contains(['*', '?']);
    match (synth::review::negated(wide), synth::review::negated(narrow)) {
        (Some(excluded), Some(also_excluded)) => excluded.is_subset(&also_excluded),
        (Some(excluded), None) => literal && !excluded.iter().any(|pattern| iam_match(pattern, narrow)),
        (None, Some(_)) => false,
        (None, None) => literal && iam_match(wide, narrow),
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` any one, case-insensitive as action names are
/// (a negated list's member matching a value only in another case counts as matching it, so a value
/// is never wrongly taken as outside the list).
pub fn iam_match(pattern: &str, value: &str) -> bool {
    synth::review::wildcard(&pattern.to_lowercase(), &value.to_lowercase())
}

/// A row on one line: `role/x  s3:GetObject  arn:...  when ...`, with `DENY` before a denied action.
pub fn line(r: &Row) -> String {
    let effect = if r.effect == Effect::Deny { "DENY " } else { "" };
    let condition = if r.condition.is_empty() { String::new() } else { format!("  when {}", r.condition) };
    format!("{}  {effect}{}  {}{condition}", r.principal, r.action, r.resource)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
    use serde_json::json;

    /// The dev pipeline as synthesized, its stages edited by `edit`.
    fn pipeline(edit: impl FnOnce(&mut Vec<Value>)) -> Value {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let config = crate::load_config(&root.join("stages.toml")).unwrap_or_else(|e| panic!("{e:#}"));
        let stage = config.stage("dev").unwrap_or_else(|e| panic!("{e}"));
        let mut t = synth::synth(&config, stage).pipeline.unwrap_or_else(|| panic!("no pipeline")).to_json();
        let mut stages = t["Resources"]["Pipeline"]["Properties"]["Stages"].as_array().cloned().unwrap_or_default();
        edit(&mut stages);
        t["Resources"]["Pipeline"]["Properties"]["Stages"] = Value::Array(stages);
        t
    }

    /// A CloudFormation whose change sets never settle: it creates one and describes it as pending forever,
    /// counting the polls.
    fn pending_forever(polls: std::sync::Arc<std::sync::atomic::AtomicUsize>) -> Client {
        use aws_sdk_cloudformation::config::{BehaviorVersion, Credentials, Region};
        use aws_smithy_runtime_api::client::http::{HttpConnectorFuture, SharedHttpConnector, http_client_fn};
        use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
        use aws_smithy_types::body::SdkBody;

        #[derive(Debug)]
        struct Pending(std::sync::Arc<std::sync::atomic::AtomicUsize>);
        impl aws_smithy_runtime_api::client::http::HttpConnector for Pending {
            fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
                let form = String::from_utf8_lossy(request.body().bytes().unwrap_or_default()).into_owned();
                let (action, result) = if form.contains("Action=CreateChangeSet") {
                    ("CreateChangeSet", "<Id>arn:aws:cloudformation:us-east-1:1:changeSet/x/1</Id>")
                } else {
                    self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    (
                        "DescribeChangeSet",
                        "<Status>CREATE_PENDING</Status><ExecutionStatus>UNAVAILABLE</ExecutionStatus>",
                    )
                };
                let xml = format!(
                    "<{action}Response xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">\
                     <{action}Result>{result}</{action}Result></{action}Response>"
                );
                let status = 200_u16.try_into().unwrap_or_else(|e| panic!("{e}"));
                HttpConnectorFuture::ready(Ok(HttpResponse::new(status, SdkBody::from(xml))))
            }
        }
        let connector = SharedHttpConnector::new(Pending(polls));
        let config = aws_sdk_cloudformation::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("id", "secret", None, None, "test"))
            .http_client(http_client_fn(move |_, _| connector.clone()))
            .build();
        Client::from_conf(config)
    }

    /// A change set that never settles stops the command at its deadline with an error that says what to
    /// do, where the old loop polled forever.
    #[tokio::test]
    async fn a_change_set_that_never_settles_stops_at_the_deadline() {
        let polls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let cfn = pending_forever(polls.clone());
        let body = Body::Inline("{}".to_owned());
        let wait = create(&cfn, "auth-dev-api", "xtask-1", &body, &[], (false, None), Duration::from_secs(2));
        // A wait without its deadline fails here instead of hanging the test.
        let outcome = tokio::time::timeout(Duration::from_secs(60), wait).await.expect("the deadline was not kept");
        let error = format!("{:#}", outcome.err().unwrap_or_else(|| panic!("a pending change set was taken as ready")));
        assert!(error.contains("was not computed within 2 s") && error.contains("delete it"), "{error}");
        assert!(polls.load(std::sync::atomic::Ordering::SeqCst) >= 1, "the waiter never asked");
    }

    #[test]
    fn every_page_of_a_change_set_is_read() {
        use aws_sdk_cloudformation::types::{Change as CfnChange, ChangeAction, ResourceChange};
        let change = |id: &str, action: ChangeAction| {
            CfnChange::builder()
                .resource_change(
                    ResourceChange::builder()
                        .logical_resource_id(id)
                        .resource_type("AWS::DynamoDB::Table")
                        .action(action)
                        .build(),
                )
                .build()
        };
        let first = DescribeChangeSetOutput::builder()
            .stack_name("auth-dev-data")
            .changes(change("Key", ChangeAction::Modify))
            .next_token("2")
            .build();
        let second = DescribeChangeSetOutput::builder().changes(change("UsersTable", ChangeAction::Remove)).build();
        let all = crate::cfn::merged(vec![first, second]);
        assert_eq!(all.stack_name.as_deref(), Some("auth-dev-data"));
        let found: Vec<String> = changes_of(&all).iter().map(|c| format!("{} {}", c.action, c.logical_id)).collect();
        assert_eq!(found, ["Modify Key", "Remove UsersTable"], "the removal on the second page is seen");
        assert!(changes_of(&all).iter().any(Change::loses_data));
    }

    #[test]
    fn removing_reordering_or_loosening_a_pipeline_gate_needs_a_person() {
        let deployed = pipeline(|_| ());
        let grants = |new: &Value| IamDiff::between("auth-dev-pipeline", Some(&deployed), new).grants().len();
        assert_eq!(grants(&pipeline(|_| ())), 0);
        // A stage gone: the last one leaves only removed rows, and is still a person's call.
        assert!(grants(&pipeline(|s| s.retain(|stage| stage["Name"] != "Approve"))) > 0);
        assert!(grants(&pipeline(|s| drop(s.pop()))) > 0);
        // Apply moved before Approve: the same actions at other positions.
        assert!(grants(&pipeline(|s| s.swap(3, 4))) > 0);
        // An entry condition that always skips.
        let always_skip = pipeline(|s| {
            s[3]["BeforeEntry"]["Conditions"][0]["Rules"][0]["Configuration"]["Value"] = json!("never");
        });
        assert!(grants(&always_skip) > 0);
    }

    fn change(action: &str, kind: &str, replacement: &str) -> Change {
        Change {
            action: action.into(),
            logical_id: "X".into(),
            resource_type: kind.into(),
            replacement: replacement.into(),
        }
    }

    #[test]
    fn data_loss_is_removal_or_replacement_of_stateful_resources() {
        assert!(change("Remove", "AWS::DynamoDB::Table", "").loses_data());
        assert!(change("Modify", "AWS::KMS::Key", "True").loses_data());
        assert!(change("Modify", "AWS::SecretsManager::Secret", "Conditional").loses_data());
        assert!(!change("Modify", "AWS::DynamoDB::Table", "False").loses_data());
        assert!(!change("Remove", "AWS::Lambda::Function", "").loses_data());
        assert!(!change("Add", "AWS::DynamoDB::Table", "").loses_data());
    }

    fn role(actions: &[&str]) -> Value {
        json!({"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": "r",
            "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": actions, "Resource": "arn:aws:dynamodb:us-east-1:1:table/t"}]}}]
        }}}})
    }

    #[test]
    fn a_new_action_broadens_and_a_removed_one_does_not() {
        let old = role(&["dynamodb:GetItem"]);
        let wider = IamDiff::between("s", Some(&old), &role(&["dynamodb:GetItem", "dynamodb:PutItem"]));
        assert!(wider.broadens());
        assert_eq!(wider.added.len(), 1);
        assert_eq!(wider.added[0].action, "dynamodb:PutItem");
        let narrower = IamDiff::between("s", Some(&role(&["dynamodb:GetItem", "dynamodb:PutItem"])), &old);
        assert!(!narrower.broadens());
        assert_eq!(narrower.removed.len(), 1);
        assert!(IamDiff::between("s", Some(&old), &old).is_empty());
        // A first deploy grants everything anew.
        assert!(IamDiff::between("s", None, &old).broadens());
    }

    fn with_policy(statements: Value, managed: &[&str]) -> Value {
        json!({"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": "r",
            "AssumeRolePolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "ManagedPolicyArns": managed,
            "Policies": [{"PolicyName": "p", "PolicyDocument": {"Statement": statements}}]
        }}}})
    }

    #[test]
    fn a_managed_policy_is_a_grant() {
        let old = with_policy(json!([]), &[]);
        let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
        let diff = IamDiff::between("s", Some(&old), &with_policy(json!([]), &[admin]));
        let grants = diff.grants();
        assert_eq!(grants.len(), 1);
        assert_eq!(grants[0].resource, admin);
        assert!(diff.render().contains("+ role/r  (AWS-managed policy)  arn:aws:iam::aws:policy/AdministratorAccess"));
    }

    #[test]
    fn dropping_or_narrowing_a_deny_is_a_grant_and_adding_one_is_not() {
        let deny = |resources: Value| json!([{"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": resources}]);
        let strict = with_policy(deny(json!(["arn:aws:s3:::a/*", "arn:aws:s3:::b/*"])), &[]);
        let narrowed = with_policy(deny(json!(["arn:aws:s3:::a/*"])), &[]);
        let none = with_policy(json!([]), &[]);
        let dropped = IamDiff::between("s", Some(&strict), &none);
        assert!(dropped.broadens());
        assert!(dropped.grants().iter().all(|r| r.effect == Effect::Deny));
        assert!(dropped.render().contains("- role/r  DENY s3:DeleteObject  arn:aws:s3:::a/*"), "{}", dropped.render());
        let narrower = IamDiff::between("s", Some(&strict), &narrowed);
        assert_eq!(narrower.grants().len(), 1);
        assert_eq!(narrower.grants()[0].resource, "arn:aws:s3:::b/*");
        assert!(!IamDiff::between("s", Some(&none), &strict).broadens());
    }

    #[test]
    fn an_unreviewable_resource_is_reported() {
        let mut t = with_policy(json!([]), &[]);
        t["Resources"]["Q"] = json!({"Type": "AWS::SQS::QueuePolicy", "Properties": {}});
        let diff = IamDiff::between("s", None, &t);
        assert_eq!(diff.unreviewed.len(), 1);
        assert_eq!(diff.unreviewed[0].logical_id, "Q");
    }
}
