//! The IAM review: every principal, action, resource and condition a stage grants, one row each.
//!
//! It is read off the synthesized templates, not kept beside them, so it cannot disagree with what is
//! deployed. Rows are sorted, so the file is stable and a diff shows exactly what changed.

use std::fmt::Write as _;

use serde_json::Value;

use crate::{Names, Stacks};

#[cfg(doc)]
use crate::model::Template;

/// One permission: who may do what to which resource, under which condition, granted where.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Row {
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub condition: String,
    pub granted_by: String,
}

/// Every permission of a stage's synthesized stacks.
pub fn rows_of(stacks: &Stacks, names: &Names) -> Vec<Row> {
    let json: Vec<(String, Value)> = stacks.named(names).into_iter().map(|(n, t)| (n, t.to_json())).collect();
    rows(json.iter().map(|(n, t)| (n.as_str(), t)))
}

/// Every permission in the given templates, sorted. Templates are taken as JSON, the form in which
/// both a synthesized template ([`Template::to_json`]) and a deployed one (parsed from CloudFormation's
/// `GetTemplate`) exist, so deploy can compare the two with this same code.
pub fn rows<'a>(templates: impl IntoIterator<Item = (&'a str, &'a Value)>) -> Vec<Row> {
    let mut rows = Vec::new();
    for (stack, template) in templates {
        let Some(resources) = template.get("Resources").and_then(Value::as_object) else { continue };
        for (id, resource) in resources {
            let properties = &resource["Properties"];
            match resource["Type"].as_str().unwrap_or_default() {
                "AWS::IAM::Role" => {
                    let name = match &properties["RoleName"] {
                        Value::Null => format!("${{{id}}}"),
                        named => display(named),
                    };
                    let principal = format!("role/{name}");
                    let trust = &properties["AssumeRolePolicyDocument"];
                    push(&mut rows, trust, None, &principal, &format!("{stack} {id} trust policy"));
                    for policy in properties["Policies"].as_array().into_iter().flatten() {
                        let at = format!("{stack} {id} policy {}", display(&policy["PolicyName"]));
                        push(&mut rows, &policy["PolicyDocument"], Some(&principal), "", &at);
                    }
                }
                "AWS::KMS::Key" => {
                    push(
                        &mut rows,
                        &properties["KeyPolicy"],
                        None,
                        &format!("key {id}"),
                        &format!("{stack} {id} key policy"),
                    );
                }
                "AWS::Lambda::Permission" => rows.push(Row {
                    principal: display(&properties["Principal"]),
                    action: display(&properties["Action"]),
                    resource: display(&properties["FunctionName"]),
                    condition: format!("SourceArn = {}", display(&properties["SourceArn"])),
                    granted_by: format!("{stack} {id}"),
                }),
                _ => {}
            }
        }
    }
    rows.sort();
    rows.dedup();
    rows
}

/// Adds a row per principal, action and resource of each statement. Identity policies have no
/// principal in their statements (`principal` names the role); `*` in a key policy means the key
/// itself and trust policies have no resource, so `implied_resource` names it.
fn push(rows: &mut Vec<Row>, doc: &Value, principal: Option<&str>, implied_resource: &str, granted_by: &str) {
    for statement in doc["Statement"].as_array().into_iter().flatten() {
        let effect = statement["Effect"].as_str().unwrap_or("Allow");
        let who: Vec<String> = match principal {
            Some(p) => vec![p.to_owned()],
            None => principals(&statement["Principal"]),
        };
        let resources: Vec<String> = if statement.get("Resource").is_none() || !implied_resource.is_empty() {
            vec![implied_resource.to_owned()]
        } else {
            list(&statement["Resource"])
        };
        let mut condition = condition_text(&statement["Condition"]);
        if effect != "Allow" {
            condition = format!("{effect}; {condition}");
        }
        for who in &who {
            for action in list(&statement["Action"]) {
                for resource in &resources {
                    rows.push(Row {
                        principal: who.clone(),
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

const COLUMNS: [&str; 5] = ["principal", "action", "resource", "condition", "granted by"];

fn cells(row: &Row) -> [&str; 5] {
    [&row.principal, &row.action, &row.resource, &row.condition, &row.granted_by]
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
        "Every permission this stage grants, one row per principal, action and resource. `${{X}}` and\n\
         `${{X.Arn}}` name resources of the stacks; `import:NAME` is an export of the data stack. In the key\n\
         policy `Resource: \"*\"` means that key alone, as AWS requires; no other statement uses `*`.\n"
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
        let line = format!("  {:<action_width$}  {:<resource_width$}", row.action, row.resource);
        if row.condition.is_empty() {
            let _ = writeln!(out, "{}", line.trim_end());
        } else {
            let _ = writeln!(out, "{line}  when {}", row.condition);
        }
    }
    out
}
