//! The IAM review: every principal, action, resource and condition a stage grants, one row each.
//!
//! It is read off the synthesized templates, not kept beside them, so it cannot disagree with what is
//! deployed. Rows are sorted, so the file is stable and a diff shows exactly what changed.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde_json::Value;

mod access;
pub mod arn;
pub mod defences;
pub mod evaluate;
mod policy;
pub mod schema;
mod shape;
pub mod value;

pub use policy::{NOT, negated, principals, statements_of, wildcard};
use policy::{list, statements};

use schema::Class;

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
    /// Why it cannot be reviewed, naming the property when it is one, and what to do.
    pub why: String,
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
     classify the type and its properties in synth/src/review/schema.rs and read them in synth/src/review.rs \
     (or leave them out)",
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

/// Every permission in the given templates, sorted, and every resource the review cannot account
/// for. Templates are taken as JSON, the form in which both a synthesized template
/// ([`Template::to_json`]) and a deployed one (parsed from CloudFormation's `GetTemplate`) exist, so
/// deploy can compare the two with this same code.
pub fn review<'a>(templates: impl IntoIterator<Item = (&'a str, &'a Value)>) -> Review {
    let mut reader = Reader { stack: "", rows: Vec::new(), unreviewed: Vec::new() };
    for (stack, template) in templates {
        reader.stack = stack;
        // Read every value as CloudFormation will: `{"Fn::Sub": "true"}` is `true`.
        reader.template(&value::fold(template));
    }
    let Reader { mut rows, mut unreviewed, .. } = reader;
    rows.sort();
    rows.dedup();
    unreviewed.sort();
    Review { rows, unreviewed }
}

/// The review's reading of one template after another: the rows found so far, and what it could not read.
struct Reader<'a> {
    stack: &'a str,
    rows: Vec<Row>,
    unreviewed: Vec<Unreviewed>,
}

impl Reader<'_> {
    fn refuse(&mut self, id: &str, kind: &str, why: String) {
        self.unreviewed.push(Unreviewed {
            stack: self.stack.to_owned(),
            logical_id: id.to_owned(),
            resource_type: kind.to_owned(),
            why,
        });
    }

    /// Where a row comes from: `<stack> <id>`, and what in it.
    fn at(&self, id: &str, what: &str) -> String {
        if what.is_empty() { format!("{} {id}", self.stack) } else { format!("{} {id} {what}", self.stack) }
    }

    /// The rows of a policy document, or the resource refused when the document is not one the review reads.
    fn policy(&mut self, (id, kind): (&str, &str), doc: &Value, who: Option<&str>, implied: &str, by: &str) {
        match shape::policy(doc) {
            Some(why) => self.refuse(id, kind, format!("{by}: the policy {why}")),
            None => statements(&mut self.rows, doc, who, implied, by),
        }
    }

    fn template(&mut self, template: &Value) {
        // A transform (macro) rewrites the template after review: what runs is not what was read.
        if !template["Transform"].is_null() {
            self.refuse("Transform", "template", "a transform (macro) changes the template after review".into());
        }
        let parameters: BTreeSet<String> =
            template["Parameters"].as_object().into_iter().flatten().map(|(k, _)| k.clone()).collect();
        let empty = serde_json::Map::new();
        let resources = template.get("Resources").and_then(Value::as_object).unwrap_or(&empty);
        for (id, resource) in resources {
            let kind = resource["Type"].as_str().unwrap_or_default();
            match unreadable_resource(kind, resource, &parameters) {
                Some(why) => self.refuse(id, kind, why),
                None => self.resource((id, kind), &resource["Properties"], resources),
            }
        }
    }

    /// The rows of one resource the review can read: its policies and who may call what through it.
    fn resource(&mut self, (id, kind): (&str, &str), properties: &Value, resources: &serde_json::Map<String, Value>) {
        let at = |what: &str| self.at(id, what);
        let this = (id, kind);
        match kind {
            "AWS::IAM::Role" => self.role(this, properties),
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
                let by = at(&what);
                for principal in &attached {
                    self.policy(this, &properties["PolicyDocument"], Some(principal), "", &by);
                }
            }
            "AWS::IAM::RolePolicy" => {
                let principal = format!("role/{}", display(&properties["RoleName"]));
                let by = at(&format!("policy {}", display(&properties["PolicyName"])));
                self.policy(this, &properties["PolicyDocument"], Some(&principal), "", &by);
            }
            "AWS::KMS::Key" => {
                // In a key policy `Resource: "*"` means the key itself.
                let by = at("key policy");
                self.policy(this, &properties["KeyPolicy"], None, &format!("key {id}"), &by);
            }
            "AWS::SecretsManager::ResourcePolicy" => {
                // Likewise `*` in a secret's resource policy means that secret.
                let secret = format!("secret {}", display(&properties["SecretId"]));
                let by = at("resource policy");
                self.policy(this, &properties["ResourcePolicy"], None, &secret, &by);
            }
            "AWS::DynamoDB::Table" => {
                let (by, stream_by) =
                    (at("resource policy (ResourcePolicy)"), at("stream resource policy (StreamSpecification)"));
                self.policy(this, &properties["ResourcePolicy"]["PolicyDocument"], None, "", &by);
                let stream = &properties["StreamSpecification"]["ResourcePolicy"]["PolicyDocument"];
                self.policy(this, stream, None, "", &stream_by);
            }
            "AWS::Logs::LogGroup" => {
                let by = at("resource policy (ResourcePolicyDocument)");
                self.policy(this, &properties["ResourcePolicyDocument"], None, "", &by);
            }
            "AWS::ApiGateway::RestApi" => {
                let (by, here) = (at("resource policy (Policy)"), at(""));
                self.policy(this, &properties["Policy"], None, "", &by);
                self.rows.push(access::rest_api(id, properties, &here));
            }
            _ => {
                let here = at("");
                let rows = match kind {
                    "AWS::Lambda::Permission" => vec![access::permission(properties, &here)],
                    "AWS::Lambda::Function" => access::function(id, properties, &here),
                    "AWS::ApiGateway::Method" => access::method(properties, resources, &here),
                    "AWS::ApiGateway::Authorizer" => access::authorizer(id, properties, &here),
                    "AWS::ApiGateway::Account" => access::account(properties, &here),
                    "AWS::CodeBuild::Project" => access::project(id, properties, &here),
                    "AWS::CodePipeline::Pipeline" => access::pipeline(id, properties, &here),
                    "AWS::ApiGateway::Stage" => access::stage(id, properties, &here),
                    _ => Vec::new(),
                };
                self.rows.extend(rows);
            }
        }
    }

    /// A role's rows: its trust policy, inline policies, managed policies and permissions boundary.
    fn role(&mut self, this: (&str, &str), properties: &Value) {
        let (id, kind) = this;
        let name = match &properties["RoleName"] {
            Value::Null => format!("${{{id}}}"),
            named => display(named),
        };
        let principal = format!("role/{name}");
        let by = self.at(id, "trust policy");
        self.policy(this, &properties["AssumeRolePolicyDocument"], None, &principal, &by);
        match &properties["Policies"] {
            Value::Null => {}
            Value::Array(policies) if policies.iter().all(Value::is_object) => {
                for p in policies {
                    let by = self.at(id, &format!("policy {}", display(&p["PolicyName"])));
                    self.policy(this, &p["PolicyDocument"], Some(&principal), "", &by);
                }
            }
            _ => self.refuse(id, kind, "Policies is not a list of inline policies the review can read".into()),
        }
        let by = self.at(id, "managed policies");
        managed(&mut self.rows, &principal, &properties["ManagedPolicyArns"], &by);
        if !properties["PermissionsBoundary"].is_null() {
            // A boundary limits: removing it is a grant, like removing a Deny.
            let granted_by = self.at(id, "permissions boundary");
            self.rows.push(Row {
                principal: principal.clone(),
                effect: Effect::Deny,
                action: "NOT (permissions boundary)".into(),
                resource: display(&properties["PermissionsBoundary"]),
                condition: String::new(),
                granted_by,
            });
        }
    }
}

/// Reviewed properties whose mere presence the review refuses: what they grant or route cannot be
/// shown row by row, or they let a secret or a bypass into the template. Each with what to do.
const REFUSED: &[(&str, &str, &str)] = &[
    (
        "AWS::ApiGateway::RestApi",
        "Body",
        "an OpenAPI body defines routes and a resource policy the review does not read; declare them as resources",
    ),
    (
        "AWS::ApiGateway::RestApi",
        "BodyS3Location",
        "an OpenAPI body in S3 cannot be reviewed; declare routes as resources",
    ),
    ("AWS::ApiGateway::RestApi", "CloneFrom", "a cloned API brings routes the review cannot see"),
    (
        "AWS::ApiGateway::RestApi",
        "Parameters",
        "import parameters only apply to an OpenAPI body, which the review does not read",
    ),
    (
        "AWS::ApiGateway::Deployment",
        "DeploymentCanarySettings",
        "a canary sends part of the traffic to settings and variables of its own, which the review cannot see",
    ),
    (
        "AWS::ApiGateway::Deployment",
        "StageDescription",
        "a deployment's stage description configures a stage (throttling, logging, variables) outside the review; \
         declare an AWS::ApiGateway::Stage",
    ),
    (
        "AWS::ApiGateway::Deployment",
        "StageName",
        "a deployment's stage name makes a stage with no throttling, logging or web ACL; declare an \
         AWS::ApiGateway::Stage",
    ),
    (
        "AWS::ApiGateway::Stage",
        "CanarySetting",
        "a canary serves another deployment's routes, which the review cannot see",
    ),
    (
        "AWS::CodeBuild::Project",
        "BuildBatchConfig",
        "a batch build runs as a role of its own, over builds the review does not see",
    ),
    ("AWS::CodeBuild::Project", "FileSystemLocations", "a mounted file system brings in files the review does not see"),
    ("AWS::CodeBuild::Project", "ResourceAccessRole", "a second role reads the build's logs and artifacts"),
    ("AWS::CodeBuild::Project", "SecondaryArtifacts", "secondary artifacts go to places the review does not show"),
    ("AWS::CodeBuild::Project", "SecondarySources", "a secondary source brings in code the review does not see"),
    (
        "AWS::CodeBuild::Project",
        "Triggers",
        "a webhook starts builds from pushes or pull requests outside the pipeline, a fork's among them",
    ),
    ("AWS::CodeBuild::Project", "VpcConfig", "a build in a VPC reaches networks the review does not show"),
    (
        "AWS::CodePipeline::Pipeline",
        "ArtifactStores",
        "artifact stores in other regions carry keys and buckets the review does not show",
    ),
    (
        "AWS::SES::EmailIdentity",
        "ConfigurationSetAttributes",
        "a default configuration set publishes every mail's events, recipients among them, to destinations the \
         review does not see",
    ),
    (
        "AWS::SecretsManager::Secret",
        "SecretString",
        "a literal secret in a template is readable by anyone who reads the template; generate it",
    ),
    (
        "AWS::SecretsManager::Secret",
        "ReplicaRegions",
        "a replica has a resource policy of its own the review does not see",
    ),
];

/// Reviewed switches the review refuses unless they are set to `false`: each turns a safety off.
const MUST_BE_OFF: &[(&str, &str, &str)] = &[
    ("AWS::KMS::Key", "BypassPolicyLockoutSafetyCheck", "the key policy's lockout safety check must stay on"),
    (
        "AWS::Logs::LogGroup",
        "BearerTokenAuthenticationEnabled",
        "bearer tokens would let holders write logs outside IAM",
    ),
];

/// Why the review cannot read `resource` of type `kind`, if it cannot: a type or a property outside the
/// table, a reviewed property in a shape it does not evaluate, a transform, a condition, or a property
/// it refuses.
fn unreadable_resource(kind: &str, resource: &Value, parameters: &BTreeSet<String>) -> Option<String> {
    if !schema::knows(kind) {
        return Some(
            "a resource type outside the review's table (synth/src/review/schema.rs); it may carry permissions: \
             classify every property of its schema there before synth emits it"
                .to_owned(),
        );
    }
    if shape::has_transform(resource) {
        return Some("Fn::Transform rewrites the resource after review; write it out".to_owned());
    }
    if kind == "AWS::SecretsManager::ResourcePolicy"
        && value::flag(&resource["Properties"]["BlockPublicPolicy"]) != Some(true)
    {
        return Some("BlockPublicPolicy must be true, so that no change makes the secret public".to_owned());
    }
    if kind == "AWS::CodeBuild::Project"
        && !matches!(resource["Properties"]["Visibility"].as_str(), None | Some("PRIVATE"))
    {
        return Some("Visibility must be PRIVATE: a public project shows its build logs to anyone".to_owned());
    }
    if kind == "AWS::SES::EmailIdentity"
        && !resource["Properties"]["DkimSigningAttributes"]["DomainSigningPrivateKey"].is_null()
    {
        return Some(
            "DkimSigningAttributes.DomainSigningPrivateKey: a DKIM private key in a template is readable by anyone who \
             reads the template, and signs mail as the domain; use Easy DKIM (NextSigningKeyLength)"
                .to_owned(),
        );
    }
    if let Some(why) = duplicates(kind, &resource["Properties"]).or_else(|| foreign_code(kind, &resource["Properties"]))
    {
        return Some(why);
    }
    if !resource["Condition"].is_null() {
        return Some("a Condition decides at deploy time whether it exists; the review shows what is deployed".into());
    }
    for (property, value) in resource["Properties"].as_object().into_iter().flatten() {
        let Some(class) = schema::class(kind, property) else {
            return Some(format!(
                "{property} is not a property the review's table classifies (synth/src/review/schema.rs); classify it \
                 (reviewed, data or inert) before synth emits it"
            ));
        };
        if class == Class::Inert {
            if let Some(why) = shape::inert_unreadable(value) {
                return Some(format!("{property} {why}; write the value out"));
            }
            continue;
        }
        // The data-loss and defence gates judge these properties by value, so they must be readable too.
        if matches!(class, Class::Data | Class::Defence) {
            if let Some(why) = shape::unreadable(value, parameters) {
                let gate = if class == Class::Data { "data-loss" } else { "defence" };
                return Some(format!("{property} {why}; write the value out so the {gate} gate can judge it"));
            }
            continue;
        }
        let listed = |list: &[(&str, &str, &'static str)]| {
            list.iter().find(|(t, p, _)| *t == kind && p == property).map(|(_, _, why)| *why)
        };
        let switched_on = value::flag(value) != Some(false);
        if let Some(why) = listed(REFUSED).or(listed(MUST_BE_OFF).filter(|_| switched_on)) {
            return Some(format!("{property}: {why}"));
        }
        if let Some(why) = shape::unreadable(value, parameters) {
            return Some(format!("{property} {why}; write the value out so the review can show it"));
        }
    }
    value::scalar_problem(kind, &resource["Properties"])
}

/// Two WAF rules of one name, or two method settings of one route: the review would judge one of them
/// while API Gateway or WAF applies the other.
fn duplicates(kind: &str, p: &Value) -> Option<String> {
    let (list, key): (&Value, fn(&Value) -> String) = match kind {
        "AWS::WAFv2::WebACL" => (&p["Rules"], |r| display(&r["Name"])),
        "AWS::ApiGateway::Stage" => {
            (&p["MethodSettings"], |m| format!("{} {}", display(&m["HttpMethod"]), display(&m["ResourcePath"])))
        }
        _ => return None,
    };
    let mut seen = BTreeSet::new();
    list.as_array()
        .into_iter()
        .flatten()
        .map(key)
        .find(|k| !seen.insert(k.clone()))
        .map(|k| format!("{k} appears twice; the review would judge one while the other applies: keep one"))
}

/// Code a function would run from anywhere but a zip in S3 or inline (an image, a signed source), where
/// neither the pipeline's pins nor the review's rows can show the bytes that run.
fn foreign_code(kind: &str, p: &Value) -> Option<String> {
    if kind != "AWS::Lambda::Function" {
        return None;
    }
    if !p["PackageType"].is_null() && value::fold(&p["PackageType"]) != "Zip" {
        return Some("PackageType must be Zip: an image's code is not the code that was built and reviewed".into());
    }
    if !p["ImageConfig"].is_null() {
        return Some("ImageConfig belongs to an image function; functions run zips from the artifact bucket".into());
    }
    let code = p["Code"].as_object().into_iter().flatten();
    code.map(|(k, _)| k).find(|k| !matches!(k.as_str(), "S3Bucket" | "S3Key" | "S3ObjectVersion" | "ZipFile")).map(
        |k| {
            format!(
                "Code.{k}: a function's code is a zip in the artifact bucket (S3Bucket, S3Key, S3ObjectVersion), or \
                 inline (ZipFile, a row of the review)"
            )
        },
    )
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

/// A CloudFormation value in readable form: `${Name}`, `${Name.Attr}`, `import:NAME`, `Fn::Sub` text.
pub fn display(v: &Value) -> String {
    match v {
        // CloudFormation substitutes `${...}` only inside `Fn::Sub`: a plain string holding one reaches
        // IAM as written, so it must not read like the substituted form.
        Value::String(s) if s.contains("${") => format!("(literal) {s}"),
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
         managed policy is one row, its ARN marked AWS-managed or customer-managed. `NOT a, b` stands for\n\
         a `NotAction`, `NotResource` or `NotPrincipal` list: everything but those, compared as a set. In a\n\
         key or secret policy `Resource: \"*\"` means that key or secret alone, as AWS requires. Access paths\n\
         are rows too: the role each function runs as, who may call each route and what it invokes, the roles\n\
         API Gateway assumes, who can reach the API. For `cargo xtask deploy --approve-iam`, a new `Allow`\n\
         row and a removed `Deny` row are both new grants, unless an old row provably covers the new one.\n"
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
