//! The IAM review: every principal, action, resource and condition a stage grants, one row each.
//!
//! It is read off the synthesized templates, not kept beside them, so it cannot disagree with what is
//! deployed. Rows are sorted, so the file is stable and a diff shows exactly what changed.

use std::fmt::Write as _;

use serde_json::Value;

use crate::{Names, Stacks};

#[cfg(doc)]
use crate::model::Template;

/// Whether a row grants or limits. A `Deny` (or a permissions boundary) that goes away is as much a
/// new grant as an `Allow` that appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// One permission: who may (or may not) do what to which resource, under which condition, granted
/// where. `NotAction`, `NotResource` and `NotPrincipal` show as `NOT ...` in their column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Row {
    pub principal: String,
    pub effect: Effect,
    pub action: String,
    pub resource: String,
    pub condition: String,
    pub granted_by: String,
}

/// A resource the review cannot account for, so that neither synth nor deploy goes on with it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Unreviewed {
    pub stack: String,
    pub logical_id: String,
    pub resource_type: String,
    /// Why it cannot be reviewed.
    pub why: &'static str,
}

impl std::fmt::Display for Unreviewed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({}): {}", self.stack, self.logical_id, self.resource_type, self.why)
    }
}

/// What a set of templates grants, and what in them could grant without the review seeing it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Review {
    pub rows: Vec<Row>,
    /// Empty for a template the review fully accounts for; anything here must stop synth and deploy.
    pub unreviewed: Vec<Unreviewed>,
}

/// The review fails closed: a template it cannot fully read is an error, never a shorter table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unreviewed policy-bearing resource{}: {}; the IAM review must be able to show every permission, so \
     teach synth/src/review.rs to read it row by row (or leave it out)",
    if .0.len() == 1 { "" } else { "s" },
    .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
)]
pub struct ReviewError(pub Vec<Unreviewed>);

impl Review {
    /// The rows, or the error naming every resource the review could not account for.
    pub fn into_rows(self) -> Result<Vec<Row>, ReviewError> {
        if self.unreviewed.is_empty() { Ok(self.rows) } else { Err(ReviewError(self.unreviewed)) }
    }
}

/// Resource types that carry no permission of their own: creating one grants nothing to anybody.
/// A type in neither this list nor [`review`]'s match is refused, so a new kind of resource is looked
/// at before it can ship (fail closed).
const POLICY_FREE: &[&str] = &[
    "AWS::ApiGateway::Account",
    "AWS::ApiGateway::Authorizer",
    "AWS::ApiGateway::BasePathMapping",
    "AWS::ApiGateway::Deployment",
    "AWS::ApiGateway::DomainName",
    "AWS::ApiGateway::GatewayResponse",
    "AWS::ApiGateway::Method",
    "AWS::ApiGateway::Resource",
    "AWS::ApiGateway::Stage",
    "AWS::Lambda::Function",
    "AWS::Logs::LogGroup",
    "AWS::SecretsManager::Secret",
    "AWS::WAFv2::WebACL",
    "AWS::WAFv2::WebACLAssociation",
];

/// Types known to carry a policy that the review does not read; named in the refusal as such.
const POLICY_BEARING: &[&str] = &[
    "AWS::Backup::BackupVault",
    "AWS::CloudFormation::Stack",
    "AWS::CloudFormation::StackSet",
    "AWS::CodeArtifact::Domain",
    "AWS::CodeArtifact::Repository",
    "AWS::ECR::Repository",
    "AWS::EFS::FileSystem",
    "AWS::Elasticsearch::Domain",
    "AWS::Events::EventBusPolicy",
    "AWS::IAM::AccessKey",
    "AWS::IAM::InstanceProfile",
    "AWS::IAM::ServiceLinkedRole",
    "AWS::IoT::Policy",
    "AWS::KMS::Grant",
    "AWS::KMS::ReplicaKey",
    "AWS::Lambda::LayerVersionPermission",
    "AWS::Lambda::Url",
    "AWS::Logs::ResourcePolicy",
    "AWS::OpenSearchService::Domain",
    "AWS::Organizations::Policy",
    "AWS::RAM::ResourceShare",
    "AWS::S3::AccessPoint",
    "AWS::S3::MultiRegionAccessPointPolicy",
    "AWS::SNS::TopicInlinePolicy",
    "AWS::SNS::TopicPolicy",
    "AWS::SQS::QueueInlinePolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::SSO::PermissionSet",
];

/// Policy-free types that can nonetheless be given a resource policy through a property: the
/// property is read as one, and its statements become rows.
const RESOURCE_POLICY_PROPERTIES: &[(&str, &str)] =
    &[("AWS::ApiGateway::RestApi", "Policy"), ("AWS::DynamoDB::Table", "ResourcePolicy")];

/// Every permission of a stage's synthesized stacks.
pub fn rows_of(stacks: &Stacks, names: &Names) -> Result<Vec<Row>, ReviewError> {
    let json: Vec<(String, Value)> = stacks.named(names).into_iter().map(|(n, t)| (n, t.to_json())).collect();
    review(json.iter().map(|(n, t)| (n.as_str(), t))).into_rows()
}

/// Every permission in the given templates, sorted, and every resource the review cannot account
/// for. Templates are taken as JSON, the form in which both a synthesized template
/// ([`Template::to_json`]) and a deployed one (parsed from CloudFormation's `GetTemplate`) exist, so
/// deploy can compare the two with this same code.
pub fn review<'a>(templates: impl IntoIterator<Item = (&'a str, &'a Value)>) -> Review {
    let mut rows = Vec::new();
    let mut unreviewed = Vec::new();
    for (stack, template) in templates {
        let mut refuse = |id: &str, kind: &str, why: &'static str| {
            unreviewed.push(Unreviewed {
                stack: stack.to_owned(),
                logical_id: id.to_owned(),
                resource_type: kind.to_owned(),
                why,
            });
        };
        // A transform (macro) rewrites the template after review: what runs is not what was read.
        if !template["Transform"].is_null() {
            refuse("Transform", "template", "a transform (macro) changes the template after review");
        }
        let Some(resources) = template.get("Resources").and_then(Value::as_object) else { continue };
        for (id, resource) in resources {
            let properties = &resource["Properties"];
            let kind = resource["Type"].as_str().unwrap_or_default();
            let at =
                |what: &str| if what.is_empty() { format!("{stack} {id}") } else { format!("{stack} {id} {what}") };
            match kind {
                "AWS::IAM::Role" | "AWS::IAM::User" | "AWS::IAM::Group" => {
                    let (prefix, name_key) = match kind {
                        "AWS::IAM::Role" => ("role", "RoleName"),
                        "AWS::IAM::User" => ("user", "UserName"),
                        _ => ("group", "GroupName"),
                    };
                    let name = match &properties[name_key] {
                        Value::Null => format!("${{{id}}}"),
                        named => display(named),
                    };
                    let principal = format!("{prefix}/{name}");
                    let trust = &properties["AssumeRolePolicyDocument"];
                    statements(&mut rows, trust, None, &principal, &at("trust policy"));
                    for policy in properties["Policies"].as_array().into_iter().flatten() {
                        let by = at(&format!("policy {}", display(&policy["PolicyName"])));
                        statements(&mut rows, &policy["PolicyDocument"], Some(&principal), "", &by);
                    }
                    managed(&mut rows, &principal, &properties["ManagedPolicyArns"], &at("managed policies"));
                    if !properties["PermissionsBoundary"].is_null() {
                        // A boundary limits: removing it is a grant, like removing a Deny.
                        rows.push(Row {
                            principal: principal.clone(),
                            effect: Effect::Deny,
                            action: "NOT (permissions boundary)".into(),
                            resource: display(&properties["PermissionsBoundary"]),
                            condition: String::new(),
                            granted_by: at("permissions boundary"),
                        });
                    }
                }
                "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" => {
                    let mut attached = attached_to(properties);
                    if attached.is_empty() {
                        // A managed policy attached to nothing yet still shows what it would grant.
                        attached.push(format!("(unattached) ${{{id}}}"));
                    }
                    let what = if kind == "AWS::IAM::Policy" {
                        format!("policy {}", display(&properties["PolicyName"]))
                    } else {
                        "customer-managed policy".to_owned()
                    };
                    for principal in &attached {
                        statements(&mut rows, &properties["PolicyDocument"], Some(principal), "", &at(&what));
                    }
                }
                "AWS::IAM::RolePolicy" | "AWS::IAM::UserPolicy" | "AWS::IAM::GroupPolicy" => {
                    let principal = match kind {
                        "AWS::IAM::RolePolicy" => format!("role/{}", display(&properties["RoleName"])),
                        "AWS::IAM::UserPolicy" => format!("user/{}", display(&properties["UserName"])),
                        _ => format!("group/{}", display(&properties["GroupName"])),
                    };
                    let by = at(&format!("policy {}", display(&properties["PolicyName"])));
                    statements(&mut rows, &properties["PolicyDocument"], Some(&principal), "", &by);
                }
                "AWS::IAM::UserToGroupAddition" => {
                    for user in list(&properties["Users"]) {
                        rows.push(Row {
                            principal: format!("user/{user}"),
                            effect: Effect::Allow,
                            action: "(member of group)".into(),
                            resource: format!("group/{}", display(&properties["GroupName"])),
                            condition: String::new(),
                            granted_by: at(""),
                        });
                    }
                }
                "AWS::KMS::Key" => {
                    // In a key policy `Resource: "*"` means the key itself.
                    statements(&mut rows, &properties["KeyPolicy"], None, &format!("key {id}"), &at("key policy"));
                }
                "AWS::SecretsManager::ResourcePolicy" => {
                    // Likewise `*` in a secret's resource policy means that secret.
                    let secret = format!("secret {}", display(&properties["SecretId"]));
                    statements(&mut rows, &properties["ResourcePolicy"], None, &secret, &at("resource policy"));
                    if properties["BlockPublicPolicy"] != Value::Bool(true) {
                        refuse(id, kind, "BlockPublicPolicy must be true, so that no change makes the secret public");
                    }
                }
                "AWS::S3::BucketPolicy" => {
                    statements(&mut rows, &properties["PolicyDocument"], None, "", &at("bucket policy"));
                }
                "AWS::S3::Bucket" => {
                    if !properties["AccessControl"].is_null() {
                        refuse(id, kind, "a canned ACL grants access the review cannot show; use a bucket policy");
                    }
                }
                "AWS::Lambda::Permission" => rows.push(Row {
                    principal: display(&properties["Principal"]),
                    effect: Effect::Allow,
                    action: display(&properties["Action"]),
                    resource: display(&properties["FunctionName"]),
                    condition: match (&properties["SourceArn"], &properties["SourceAccount"]) {
                        (Value::Null, Value::Null) => String::new(),
                        (Value::Null, account) => format!("SourceAccount = {}", display(account)),
                        (arn, _) => format!("SourceArn = {}", display(arn)),
                    },
                    granted_by: at(""),
                }),
                _ => {
                    if let Some((_, property)) = RESOURCE_POLICY_PROPERTIES.iter().find(|(t, _)| *t == kind) {
                        let policy = match &properties[*property] {
                            Value::Object(m) if m.contains_key("PolicyDocument") => &m["PolicyDocument"],
                            other => other,
                        };
                        statements(&mut rows, policy, None, "", &at(&format!("resource policy ({property})")));
                    } else if POLICY_BEARING.contains(&kind) {
                        refuse(id, kind, "the review does not read this type's permissions");
                    } else if !POLICY_FREE.contains(&kind) {
                        refuse(id, kind, "a resource type the review does not know; it may carry permissions");
                    }
                }
            }
        }
    }
    rows.sort();
    rows.dedup();
    unreviewed.sort();
    Review { rows, unreviewed }
}

/// A row per managed policy attached to `principal`, marked AWS-managed or customer-managed.
fn managed(rows: &mut Vec<Row>, principal: &str, arns: &Value, granted_by: &str) {
    for arn in list(arns) {
        let owner = if arn.contains(":iam::aws:policy/") { "AWS-managed policy" } else { "customer-managed policy" };
        rows.push(Row {
            principal: principal.to_owned(),
            effect: Effect::Allow,
            action: format!("({owner})"),
            resource: arn,
            condition: String::new(),
            granted_by: granted_by.to_owned(),
        });
    }
}

/// The principals an `AWS::IAM::Policy` or `ManagedPolicy` is attached to.
fn attached_to(properties: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (key, prefix) in [("Roles", "role"), ("Users", "user"), ("Groups", "group")] {
        out.extend(list(&properties[key]).into_iter().map(|name| format!("{prefix}/{name}")));
    }
    out
}

/// Adds a row per principal, action and resource of each statement. Identity policies have no
/// principal in their statements (`principal` names the role); `*` in a key or secret policy means
/// that resource itself and trust policies have no resource, so `implied_resource` names it.
fn statements(rows: &mut Vec<Row>, doc: &Value, principal: Option<&str>, implied_resource: &str, granted_by: &str) {
    let all: Vec<&Value> = match &doc["Statement"] {
        Value::Array(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        one => vec![one],
    };
    for statement in all {
        let effect = if statement["Effect"] == "Deny" { Effect::Deny } else { Effect::Allow };
        let who: Vec<String> = match (principal, &statement["NotPrincipal"]) {
            (Some(p), _) => vec![p.to_owned()],
            (None, Value::Null) => principals(&statement["Principal"]),
            (None, not) => principals(not).into_iter().map(|p| format!("NOT {p}")).collect(),
        };
        let actions = negatable(statement, "Action");
        let resources: Vec<String> = if !implied_resource.is_empty() {
            vec![implied_resource.to_owned()]
        } else if statement.get("Resource").is_none() && statement.get("NotResource").is_none() {
            vec![String::new()]
        } else {
            negatable(statement, "Resource")
        };
        let condition = condition_text(&statement["Condition"]);
        for who in &who {
            for action in &actions {
                for resource in &resources {
                    rows.push(Row {
                        principal: who.clone(),
                        effect,
                        action: action.clone(),
                        resource: resource.clone(),
                        condition: condition.clone(),
                        granted_by: granted_by.to_owned(),
                    });
                }
            }
        }
    }
}

/// The values of `Action` (or `Resource`), or of `NotAction` as `NOT ...`: an Allow of everything but
/// one action is as broad as it gets and must read so.
fn negatable(statement: &Value, key: &str) -> Vec<String> {
    match &statement[format!("Not{key}").as_str()] {
        Value::Null => list(&statement[key]),
        not => list(not).into_iter().map(|v| format!("NOT {v}")).collect(),
    }
}

/// `{"Service": ...}` / `{"AWS": ...}` (a value or a list) as display strings.
fn principals(p: &Value) -> Vec<String> {
    match p {
        Value::Object(m) => m.values().flat_map(list).collect(),
        other => list(other),
    }
}

/// A value that may be one item or a list of them.
fn list(v: &Value) -> Vec<String> {
    match v {
        Value::Array(items) => items.iter().map(display).collect(),
        Value::Null => Vec::new(),
        one => vec![display(one)],
    }
}

fn condition_text(c: &Value) -> String {
    let mut parts = Vec::new();
    for (operator, keys) in c.as_object().into_iter().flatten() {
        for (key, values) in keys.as_object().into_iter().flatten() {
            parts.push(format!("{operator} {key} = {}", list(values).join(", ")));
        }
    }
    parts.join("; ")
}

/// A CloudFormation value in readable form: `${Name}`, `${Name.Attr}`, `import:NAME`, `Fn::Sub` text.
pub fn display(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(m) if m.len() == 1 => {
            let (key, arg) = m.iter().next().map_or(("", &Value::Null), |(k, v)| (k.as_str(), v));
            match (key, arg) {
                ("Ref", _) => format!("${{{}}}", display(arg)),
                ("Fn::GetAtt", Value::Array(a)) => format!("${{{}}}", list(&Value::Array(a.clone())).join(".")),
                ("Fn::Sub", Value::String(s)) => s.clone(),
                ("Fn::ImportValue", _) => format!("import:{}", display(arg)),
                ("Fn::Join", Value::Array(a)) if a.len() == 2 => list(&a[1]).join(a[0].as_str().unwrap_or_default()),
                _ => v.to_string(),
            }
        }
        Value::Array(_) => list(v).join(", "),
        other => other.to_string(),
    }
}

const COLUMNS: [&str; 6] = ["principal", "effect", "action", "resource", "condition", "granted by"];

fn cells(row: &Row) -> [&str; 6] {
    [&row.principal, row.effect.as_str(), &row.action, &row.resource, &row.condition, &row.granted_by]
}

/// The review as a Markdown file, for `templates/<stage>/iam.md`.
/// `notes` are paragraphs a reviewer must read before the table: permissions this stage relies on but
/// does not grant itself.
pub fn markdown(prefix: &str, rows: &[Row], notes: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "<!-- generated by `cargo xtask synth` from stages.toml, do not edit -->");
    let _ = writeln!(out, "# IAM review: {prefix}\n");
    let _ = writeln!(
        out,
        "Every permission this stage grants or denies, one row per principal, action and resource. `${{X}}`\n\
         and `${{X.Arn}}` name resources of the stacks; `import:NAME` is an export of the data stack. A\n\
         managed policy is one row, its ARN marked AWS-managed or customer-managed. `NOT x` stands for\n\
         `NotAction`, `NotResource` or `NotPrincipal`. In a key or secret policy `Resource: \"*\"` means that\n\
         key or secret alone, as AWS requires. For `cargo xtask deploy --approve-iam`, a new `Allow` row and\n\
         a removed `Deny` row are both new grants.\n"
    );
    for note in notes {
        let _ = writeln!(out, "**Not granted here.** {note}\n");
    }
    let _ = writeln!(out, "| {} |", COLUMNS.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(COLUMNS.len()));
    for row in rows {
        let escaped: Vec<String> =
            cells(row).iter().map(|c| if c.is_empty() { "-".to_owned() } else { c.replace('|', "\\|") }).collect();
        let _ = writeln!(out, "| {} |", escaped.join(" | "));
    }
    out
}

/// The review for the terminal: the same rows, grouped under each principal and where it is granted,
/// so that long ARNs do not make one unreadably wide table.
pub fn text(rows: &[Row]) -> String {
    let action_width = rows.iter().map(|r| r.action.len()).max().unwrap_or(0);
    let resource_width = rows.iter().map(|r| r.resource.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    let mut group: Option<(&str, &str)> = None;
    for row in rows {
        if group != Some((&row.principal, &row.granted_by)) {
            group = Some((&row.principal, &row.granted_by));
            let _ = writeln!(out, "{}{}  [{}]", if out.is_empty() { "" } else { "\n" }, row.principal, row.granted_by);
        }
        let effect = match row.effect {
            Effect::Allow => "",
            Effect::Deny => "DENY ",
        };
        let line = format!("  {effect}{:<action_width$}  {:<resource_width$}", row.action, row.resource);
        if row.condition.is_empty() {
            let _ = writeln!(out, "{}", line.trim_end());
        } else {
            let _ = writeln!(out, "{line}  when {}", row.condition);
        }
    }
    out
}

#[cfg(test)]
mod tests;
