//! `templates/<stage>/diagram.md`: a Mermaid flowchart of a stage (GitHub renders it), drawn from the
//! stage and the declarations its stacks are synthesized from: the WAF web ACL and the REST API, each
//! route with the JWT authorizer in front of the private ones, each function, each stateful resource
//! (imported ones marked), and one arrow from a function to each resource it is granted, labelled with
//! the actions.
//!
//! The grouping keeps it readable at twenty functions and more. Requests flow left to right through
//! three columns, each a subgraph: the edge (WAF, API, authorizer: a handful of nodes whatever the
//! functions), the routes with their functions, and the data (at most eight resources, split into what
//! the data stack creates and what the stage imports). The middle column is the only one that grows, one
//! route and one function per declaration, so it is grouped by the routes' first path segment, which is
//! how a team lays out an API (`/password/forgot` and `/password/reset` together); a segment with one
//! route gets no box of its own, which would only add a frame around two nodes. Arrows into the data are
//! one per function and resource, actions joined, so their number is bounded by the grants, never by the
//! actions. Node ids are derived from names (`fn_signin`, `route_PostSignin`, the route's method logical
//! id; `data_users_table`), so adding a function adds its lines and moves no other.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use contract::{Function, Target, route};

use crate::config::{MailIdentity, Provision, Stage};
use crate::names::Names;

/// A node's shape: Mermaid's brackets around its label.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Circle,
    Box,
    Hexagon,
    Stadium,
    Cylinder,
    Rounded,
}

impl Shape {
    fn brackets(self) -> (&'static str, &'static str) {
        match self {
            Shape::Circle => ("((", "))"),
            Shape::Box => ("[", "]"),
            Shape::Hexagon => ("{{", "}}"),
            Shape::Stadium => ("([", "])"),
            Shape::Cylinder => ("[(", ")]"),
            Shape::Rounded => ("(", ")"),
        }
    }
}

#[derive(Debug)]
struct Node {
    id: String,
    /// Already escaped, its lines joined by `<br/>`.
    label: String,
    shape: Shape,
}

impl Node {
    fn new(id: impl Into<String>, shape: Shape, lines: &[&str]) -> Node {
        Node { id: id.into(), label: label(lines), shape }
    }
}

/// A subgraph: its nodes, then the subgraphs inside it.
#[derive(Debug)]
struct Group {
    id: String,
    title: String,
    nodes: Vec<Node>,
    groups: Vec<Group>,
}

impl Group {
    fn new(id: impl Into<String>, title: &str) -> Group {
        Group { id: id.into(), title: label(&[title]), nodes: Vec::new(), groups: Vec::new() }
    }
}

#[derive(Debug)]
struct Edge {
    from: String,
    to: String,
    /// Already escaped.
    label: Option<String>,
}

impl Edge {
    fn new(from: &str, to: &str) -> Edge {
        Edge { from: from.to_owned(), to: to.to_owned(), label: None }
    }
}

/// The class of the resources the stage imports by ARN, drawn dashed.
const IMPORTED: &str = "imported";

/// `diagram.md` of a stage: a heading, the legend and the flowchart.
pub fn markdown(names: &Names, stage: &Stage) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "<!-- {} -->", crate::GENERATED_HEADER);
    let _ = writeln!(out, "# Diagram: {}\n", names.prefix());
    out.push_str(
        "What the stage deploys and what each function may touch, drawn from the declarations and stages.toml the\n\
         templates are synthesized from.\n\n\
         - Requests flow left to right: clients, the WAF web ACL, the REST API, each route (a stadium) and its\n  \
         function (a box). A private route is reached through the JWT authorizer (the hexagon), a public one\n  \
         straight from the API. Routes are grouped by their first path segment.\n\
         - Data: tables are cylinders; the KMS key, the secrets and the SES identity are rounded. A dashed one is\n  \
         imported by ARN: stages.toml names it and this project does not manage it.\n\
         - An arrow from a function to a resource is what its role may do there (IAM actions, service prefix\n  \
         dropped), one arrow per function and resource. Each role may also write its own log group, not drawn;\n  \
         `iam.md` lists every permission, the pipeline's too.\n\n",
    );
    out.push_str("```mermaid\n");
    out.push_str(&flowchart(names, stage));
    out.push_str("```\n");
    out
}

/// The Mermaid flowchart of a stage, one statement per line.
fn flowchart(names: &Names, stage: &Stage) -> String {
    let authorizer = stage.functions.keys().find(|f| f.is_authorizer());
    let (data, imported) = data_group(names, stage);
    let groups = [edge_group(names, stage, authorizer), routes_group(stage), data];
    let mut out = String::from("flowchart LR\n");
    write_node(&mut out, 1, &Node::new("clients", Shape::Circle, &["clients"]));
    for group in &groups {
        write_group(&mut out, 1, group);
    }
    for edge in edges(stage, authorizer) {
        let label = edge.label.map(|l| format!("|\"{l}\"|")).unwrap_or_default();
        let _ = writeln!(out, "    {} -->{label} {}", edge.from, edge.to);
    }
    if !imported.is_empty() {
        let _ = writeln!(out, "    classDef {IMPORTED} stroke-dasharray: 5 5");
        let _ = writeln!(out, "    class {} {IMPORTED}", imported.join(","));
    }
    out
}

fn write_node(out: &mut String, depth: usize, node: &Node) {
    let (open, close) = node.shape.brackets();
    let _ = writeln!(out, "{}{}{open}\"{}\"{close}", "    ".repeat(depth), node.id, node.label);
}

fn write_group(out: &mut String, depth: usize, group: &Group) {
    let indent = "    ".repeat(depth);
    let _ = writeln!(out, "{indent}subgraph {}[\"{}\"]", group.id, group.title);
    for node in &group.nodes {
        write_node(out, depth + 1, node);
    }
    for inner in &group.groups {
        write_group(out, depth + 1, inner);
    }
    let _ = writeln!(out, "{indent}end");
}

/// A function's node id: `fn_signin`. Function names are lowercase letters and digits.
fn function_id(f: &Function) -> String {
    format!("fn_{}", f.name())
}

/// A route's node id, from its method's logical id (`route_PostSignup`, `route_GetUsersByIdOrders`),
/// which the declarations' checks keep unique.
fn route_id(f: &Function) -> Option<String> {
    let r = f.route()?;
    let segments = route::parse_path(&r.path).ok()?;
    Some(format!("route_{}{}", r.method.pascal(), route::path_id(&segments)))
}

/// A resource's node id: `data_users_table`.
fn data_id(target: Target) -> String {
    format!("data_{}", target.key().replace('-', "_"))
}

/// The edge column: the web ACL, the API and the authorizer (the function API Gateway calls first).
fn edge_group(names: &Names, stage: &Stage, authorizer: Option<&Function>) -> Group {
    let mut group = Group::new("g_edge", "edge");
    let rules =
        if stage.ip_rate_limits.is_some() { "limits per source IP, known bad inputs" } else { "known bad inputs" };
    group.nodes.push(Node::new("waf", Shape::Box, &["WAF web ACL", &names.web_acl(), rules]));
    let (api_name, stage_line) = (names.api(), format!("stage {}", stage.name));
    let domain = stage.domain.as_ref().map(|d| match &d.base_path {
        Some(base) => format!("{}/{base}", d.name),
        None => d.name.clone(),
    });
    let mut api = vec!["REST API", api_name.as_str(), stage_line.as_str()];
    api.extend(domain.as_deref());
    group.nodes.push(Node::new("api", Shape::Box, &api));
    if let Some(f) = authorizer {
        group.nodes.push(Node::new(function_id(f), Shape::Hexagon, &["JWT authorizer", f.name()]));
    }
    group
}

/// The middle column: each route and its function, grouped by the route's first path segment when two
/// or more routes share it. A function without a route that is not the authorizer stands alone.
fn routes_group(stage: &Stage) -> Group {
    let mut group = Group::new("g_routes", "routes and functions");
    let mut by_segment: BTreeMap<String, Vec<Node>> = BTreeMap::new();
    for f in stage.functions.keys() {
        let function = Node::new(function_id(f), Shape::Box, &[f.name()]);
        let (Some(r), Some(id)) = (f.route(), route_id(f)) else {
            if !f.is_authorizer() {
                group.nodes.push(function);
            }
            continue;
        };
        let first = route::parse_path(&r.path).ok().and_then(|s| s.first().copied());
        let key = first.map(|s| route::path_text(&[s])).unwrap_or_default();
        let nodes = by_segment.entry(key).or_default();
        nodes.push(Node::new(id, Shape::Stadium, &[&format!("{} {}", r.method.as_str(), r.path)]));
        if !f.is_authorizer() {
            nodes.push(function);
        }
    }
    for (segment, nodes) in by_segment {
        let routes = nodes.iter().filter(|n| n.id.starts_with("route_")).count();
        if routes < 2 {
            group.nodes.extend(nodes);
            continue;
        }
        let id = route::parse_path(&segment).map(|s| route::path_id(&s)).unwrap_or_default();
        let mut inner = Group::new(format!("g_routes_{id}"), &segment);
        inner.nodes = nodes;
        group.groups.push(inner);
    }
    group
}

/// The data column, the resources the data stack creates apart from those the stage imports; and the
/// ids of the imported ones.
fn data_group(names: &Names, stage: &Stage) -> (Group, Vec<String>) {
    let mut created = Group::new("g_data_stack", &format!("created by {}", names.data_stack()));
    let mut imported = Group::new("g_data_imported", "imported by ARN");
    for target in Target::ALL {
        let Some((lines, import)) = resource(names, stage, target) else { continue };
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let shape = if target.key().ends_with("-table") { Shape::Cylinder } else { Shape::Rounded };
        let node = Node::new(data_id(target), shape, &lines);
        if import { imported.nodes.push(node) } else { created.nodes.push(node) }
    }
    let ids = imported.nodes.iter().map(|n| n.id.clone()).collect();
    let mut data = Group::new("g_data", "data");
    data.groups = [created, imported].into_iter().filter(|g| !g.nodes.is_empty()).collect();
    (data, ids)
}

/// A resource's label lines and whether the stage imports it; `None` for the mail identity of a stage
/// without `mail`.
fn resource(names: &Names, stage: &Stage, target: Target) -> Option<(Vec<String>, bool)> {
    let provided = |what: &str, provision: &Provision, created: Option<String>| match provision {
        Provision::Create => (vec![what.to_owned()].into_iter().chain(created).collect(), false),
        Provision::Import { name, .. } => (vec![what.to_owned(), name.clone()], true),
    };
    Some(match target {
        Target::UsersTable => provided("users table", &stage.table, Some(names.table())),
        Target::PasswordKey => provided("KMS key: password hashes", &stage.key, None),
        Target::SigningSecret => provided("secret: JWT signing key", &stage.secret, Some(names.secret())),
        Target::AttemptsTable => (vec!["sign-in attempts table".to_owned(), names.attempts_table()], false),
        Target::SessionsTable => (vec!["sessions table".to_owned(), names.sessions_table()], false),
        Target::CodesTable => (vec!["one-time codes table".to_owned(), names.codes_table()], false),
        Target::CodeSecret => (vec!["secret: code tag key".to_owned(), names.code_secret()], false),
        Target::MailIdentity => {
            let mail = stage.mail.as_ref()?;
            let lines =
                vec!["SES identity".to_owned(), mail.identity.name().to_owned(), format!("from {}", mail.sender)];
            (lines, matches!(mail.identity, MailIdentity::Import { .. }))
        }
    })
}

/// Every arrow: the request path, then per function (in name order) the way to its route and its grants.
fn edges(stage: &Stage, authorizer: Option<&Function>) -> Vec<Edge> {
    let mut out = vec![Edge::new("clients", "waf"), Edge::new("waf", "api")];
    let gate = authorizer.map(function_id);
    if let Some(gate) = &gate {
        out.push(Edge::new("api", gate));
    }
    for f in stage.functions.keys() {
        if let (Some(r), Some(id)) = (f.route(), route_id(f)) {
            let from = gate.as_deref().filter(|_| r.authorized()).unwrap_or("api");
            out.push(Edge::new(from, &id));
            out.push(Edge::new(&id, &function_id(f)));
        }
        let mut actions: BTreeMap<Target, Vec<&str>> = BTreeMap::new();
        for g in f.grants() {
            actions.entry(g.on).or_default().push(g.action.split_once(':').map_or(g.action.as_str(), |(_, a)| a));
        }
        for (target, actions) in actions {
            // config refuses a stage whose functions are granted the mail identity without naming its
            // `mail`; without the node there is nothing to draw to.
            if target == Target::MailIdentity && stage.mail.is_none() {
                continue;
            }
            let mut edge = Edge::new(&function_id(f), &data_id(target));
            edge.label = Some(label(&[&actions.join(", ")]));
            out.push(edge);
        }
    }
    out
}

/// A label of `lines`: each escaped so that nothing in a name can end the quoted string or become
/// markup (`"`, `<`, `>` and `#`, which starts Mermaid's own escapes), joined by line breaks.
fn label(lines: &[&str]) -> String {
    let escape = |line: &str| {
        let mut out = String::with_capacity(line.len());
        for c in line.chars() {
            match c {
                '#' => out.push_str("#35;"),
                '"' => out.push_str("#quot;"),
                '<' => out.push_str("#lt;"),
                '>' => out.push_str("#gt;"),
                c => out.push(c),
            }
        }
        out
    };
    lines.iter().map(|l| escape(l)).collect::<Vec<_>>().join("<br/>")
}

#[cfg(test)]
mod tests;
