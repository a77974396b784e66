use std::collections::{BTreeMap, BTreeSet};

use contract::Function;

use super::{label, markdown};
use crate::names::Names;

const STAGES: &str = include_str!("../../../stages.toml");
/// Every optional branch: imported table, key, secret and mail identity; a stage without rate limits.
const IMPORTING: &str = include_str!("../../tests/fixtures/importing-stages.toml");

/// The flowchart read back statement by statement, refusing what Mermaid would misread or read as
/// something else: an `end` without its `subgraph` or the reverse, an id outside `[A-Za-z0-9_]` (or
/// `end`, which closes a subgraph), an id defined twice, a label that is not quoted or holds a `"` or
/// markup other than a line break, an edge to a node never defined (Mermaid would make up a bare one).
#[derive(Debug, Default)]
struct Chart {
    /// Node id -> its label and the innermost subgraph it is in ("" at the top).
    nodes: BTreeMap<String, (String, String)>,
    groups: Vec<String>,
    /// `(from, to, label)`.
    edges: Vec<(String, String, Option<String>)>,
    imported: Vec<String>,
}

const SHAPES: [(&str, &str); 6] = [("((", "))"), ("([", "])"), ("[(", ")]"), ("{{", "}}"), ("[", "]"), ("(", ")")];

fn is_id(s: &str) -> bool {
    !s.is_empty() && s != "end" && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn quoted(text: &str) -> Result<String, String> {
    let inner = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')).ok_or(format!("`{text}` is not quoted"))?;
    if inner.is_empty() || inner.contains('"') || inner.replace("<br/>", "").contains(['<', '>']) {
        return Err(format!("the label `{inner}` is empty, holds a quote or markup"));
    }
    Ok(inner.to_owned())
}

fn chart(markdown: &str) -> Result<Chart, String> {
    let block =
        markdown.split("```mermaid\n").nth(1).and_then(|b| b.split("```\n").next()).ok_or("no mermaid block")?;
    let mut lines = block.lines();
    if lines.next() != Some("flowchart LR") {
        return Err("the block does not start with `flowchart LR`".into());
    }
    let mut chart = Chart::default();
    let (mut open, mut ids): (Vec<String>, BTreeSet<String>) = (Vec::new(), BTreeSet::new());
    let define = |id: &str, ids: &mut BTreeSet<String>| {
        if is_id(id) && ids.insert(id.to_owned()) { Ok(()) } else { Err(format!("`{id}` is a bad or repeated id")) }
    };
    for line in lines.map(str::trim) {
        if line == "end" {
            open.pop().ok_or("an `end` closes no subgraph")?;
        } else if let Some(rest) = line.strip_prefix("subgraph ") {
            let (id, title) = rest.split_once('[').ok_or(format!("subgraph without a title: {line}"))?;
            quoted(title.strip_suffix(']').ok_or(format!("title not closed: {line}"))?)?;
            define(id, &mut ids)?;
            chart.groups.push(id.to_owned());
            open.push(id.to_owned());
        } else if line.starts_with("classDef ") {
            if line != "classDef imported stroke-dasharray: 5 5" {
                return Err(format!("unexpected {line}"));
            }
        } else if let Some(rest) = line.strip_prefix("class ") {
            let (list, class) = rest.split_once(' ').ok_or(format!("bad class line {line}"))?;
            if class != "imported" {
                return Err(format!("no class {class}"));
            }
            chart.imported = list.split(',').map(str::to_owned).collect();
        } else if let Some((from, rest)) = line.split_once(" -->") {
            let (label, to) = match rest.strip_prefix('|') {
                Some(r) => r.split_once("| ").map(|(l, to)| (Some(quoted(l)), to)).ok_or(format!("bad edge {line}"))?,
                None => (None, rest.strip_prefix(' ').ok_or(format!("bad edge {line}"))?),
            };
            chart.edges.push((from.to_owned(), to.to_owned(), label.transpose()?));
        } else {
            let at = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).ok_or(format!("bad line {line}"))?;
            let (id, shape) = line.split_at(at);
            let text = SHAPES
                .iter()
                .find(|(o, c)| shape.starts_with(&format!("{o}\"")) && shape.ends_with(&format!("\"{c}")))
                .map(|(o, c)| &shape[o.len()..shape.len() - c.len()])
                .ok_or(format!("no shape in {line}"))?;
            define(id, &mut ids)?;
            chart.nodes.insert(id.to_owned(), (quoted(text)?, open.last().cloned().unwrap_or_default()));
        }
    }
    if let Some(group) = open.pop() {
        return Err(format!("subgraph {group} is not closed"));
    }
    for id in chart.edges.iter().flat_map(|(a, b, _)| [a, b]).chain(&chart.imported) {
        if !chart.nodes.contains_key(id) {
            return Err(format!("`{id}` is not a node"));
        }
    }
    Ok(chart)
}

fn drawn(text: &str, functions: &[Function], stage: &str) -> (String, Chart) {
    let config = crate::parse("stages.toml", text, functions).unwrap_or_else(|e| panic!("{}", e.one_line()));
    let stage = config.stage(stage).unwrap_or_else(|e| panic!("{e}"));
    let text = markdown(&Names::new(&config.project, stage), stage);
    let chart = chart(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    (text, chart)
}

/// The arrows from each function into the data: `(function node, resource node) -> actions`.
fn grants(chart: &Chart) -> BTreeMap<(String, String), String> {
    let into_data = chart.edges.iter().filter(|(_, to, _)| to.starts_with("data_"));
    into_data.map(|(f, to, l)| ((f.clone(), to.clone()), l.clone().unwrap_or_default())).collect()
}

#[test]
fn every_stage_draws_a_flowchart_mermaid_reads() {
    for (text, stages) in [(STAGES, &["dev", "staging", "prod"][..]), (IMPORTING, &["legacy", "mapped"])] {
        for stage in stages {
            let (md, chart) = drawn(text, &testkit::functions(), stage);
            assert!(md.starts_with(&format!("<!-- {} -->\n# Diagram: auth-{stage}\n", crate::GENERATED_HEADER)));
            for f in testkit::functions() {
                assert!(chart.nodes.contains_key(&format!("fn_{}", f.name())), "{stage}: {f} has no box");
            }
            for node in ["clients", "waf", "api", "data_users_table", "data_password_key", "data_mail_identity"] {
                assert!(chart.nodes.contains_key(node), "{stage}: no {node}");
            }
            assert_eq!(chart.groups[..3], ["g_edge", "g_routes", "g_routes_Password"], "{stage}");
        }
    }
}

#[test]
fn private_routes_pass_the_authorizer_and_public_ones_come_from_the_api() {
    let (_, chart) = drawn(STAGES, &testkit::functions(), "dev");
    let into = |to: &str| -> Vec<&str> {
        chart.edges.iter().filter(|(_, t, _)| t == to).map(|(from, _, _)| from.as_str()).collect()
    };
    assert_eq!(into("route_GetHello"), ["fn_authorizer"]);
    assert_eq!(into("route_PostSignout"), ["fn_authorizer"]);
    assert_eq!(into("route_PostSignin"), ["api"]);
    assert_eq!(into("fn_authorizer"), ["api"]);
    assert_eq!(into("fn_signin"), ["route_PostSignin"]);
    assert_eq!(chart.nodes["fn_authorizer"].1, "g_edge", "the authorizer stands at the edge");
    let grants = grants(&chart);
    let pair = |f: &str, to: &str| (f.to_owned(), to.to_owned());
    assert_eq!(grants[&pair("fn_signin", "data_attempts_table")], "GetItem, UpdateItem");
    assert_eq!(grants[&pair("fn_authorizer", "data_signing_secret")], "GetSecretValue");
    assert!(!grants.keys().any(|(f, _)| f == "fn_hello"), "hello is granted nothing");
}

/// Function `extra<i>`: a route under one of four segments, private or public, and a few grants.
fn extra(i: usize) -> Function {
    let segment = ["orders", "users", "reports", "admin"][i % 4];
    let access = if i.is_multiple_of(2) { "private" } else { "public" };
    let (mut env, mut grants) = (Vec::new(), Vec::new());
    if i % 3 != 1 {
        env.push("\"AUTH_TABLE_NAME\"");
        grants.push(if i.is_multiple_of(2) {
            "users-table = [\"dynamodb:GetItem\"]"
        } else {
            "users-table = [\"dynamodb:GetItem\", \"dynamodb:PutItem\"]"
        });
    }
    if i.is_multiple_of(5) {
        env.push("\"AUTH_CODES_TABLE_NAME\"");
        grants.push("codes-table = [\"dynamodb:PutItem\", \"dynamodb:UpdateItem\", \"dynamodb:DeleteItem\"]");
    }
    if i.is_multiple_of(7) {
        env.push("\"AUTH_MAIL_SENDER\"");
        grants.push("mail-identity = [\"ses:SendEmail\"]");
    }
    testkit::declare(
        &format!("extra{i}"),
        &format!(
            "route = {{ method = \"GET\", path = \"/{segment}/item{i}\", access = \"{access}\" }}\nenv = [{}]\n\
             grants = {{ {} }}",
            env.join(", "),
            grants.join(", ")
        ),
    )
}

#[test]
fn twenty_more_functions_keep_one_arrow_per_function_and_resource() {
    let functions = testkit::with(&(0..20).map(extra).collect::<Vec<_>>());
    let (_, chart) = drawn(STAGES, &functions, "dev");
    // Every function has its box, every route its stadium; the rest is the same few nodes.
    let routes = functions.iter().filter(|f| f.route().is_some()).count();
    assert_eq!(chart.nodes.len(), 3 + functions.len() + routes + 8, "clients, WAF, API, and eight resources");
    let grants = grants(&chart);
    let mut pairs = 0;
    for f in &functions {
        assert!(chart.nodes.contains_key(&format!("fn_{}", f.name())), "{f} has no box");
        let mut by_target: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for g in f.grants() {
            let short = g.action.split_once(':').map_or(g.action.as_str(), |(_, a)| a);
            by_target.entry(format!("data_{}", g.on.key().replace('-', "_"))).or_default().push(short);
        }
        pairs += by_target.len();
        for (target, actions) in by_target {
            assert!(chart.nodes.contains_key(&target), "{target} is drawn");
            assert_eq!(grants.get(&(format!("fn_{}", f.name()), target)), Some(&actions.join(", ")), "{f}");
        }
    }
    let into_data = chart.edges.iter().filter(|(_, to, _)| to.starts_with("data_")).count();
    assert_eq!(into_data, pairs, "one arrow per function and resource, never one per action");
    assert_eq!(grants.len(), pairs, "no pair drawn twice");
    let all: BTreeSet<(&String, &String)> = chart.edges.iter().map(|(a, b, _)| (a, b)).collect();
    assert_eq!(all.len(), chart.edges.len(), "no edge drawn twice");
    // Grouped by first segment: the four new ones, /password and /signup; the edge, routes and data
    // columns; the data stack's resources. Nothing else frames anything.
    assert_eq!(chart.groups.len(), 3 + 6 + 1, "{:?}", chart.groups);
    assert_eq!(chart.nodes["route_GetOrdersItem4"].1, "g_routes_Orders");
    assert_eq!(chart.nodes["fn_extra4"].1, "g_routes_Orders");
    assert_eq!(chart.nodes["fn_signin"].1, "g_routes", "a segment of one route has no box of its own");
}

#[test]
fn adding_a_function_adds_its_box_and_edges_and_moves_nothing_else() {
    let (before, _) = drawn(STAGES, &testkit::functions(), "dev");
    let orders = testkit::declare(
        "orders",
        "route = { method = \"GET\", path = \"/orders/{id}\", access = \"private\" }\nenv = [\"AUTH_TABLE_NAME\"]\n\
         grants = { users-table = [\"dynamodb:GetItem\", \"dynamodb:UpdateItem\"] }",
    );
    let (after, chart) = drawn(STAGES, &testkit::with(&[orders]), "dev");
    let lines = |text: &str| -> BTreeSet<String> { text.lines().map(|l| l.trim().to_owned()).collect() };
    let (old, new) = (lines(&before), lines(&after));
    assert!(old.is_subset(&new), "{:?} went", old.difference(&new).collect::<Vec<_>>());
    let added: Vec<&String> = new.difference(&old).collect();
    assert_eq!(
        added,
        [
            "fn_authorizer --> route_GetOrdersById",
            "fn_orders -->|\"GetItem, UpdateItem\"| data_users_table",
            "fn_orders[\"orders\"]",
            "route_GetOrdersById --> fn_orders",
            "route_GetOrdersById([\"GET /orders/{id}\"])",
        ]
    );
    assert_eq!(after.lines().count(), before.lines().count() + added.len());
    assert_eq!(chart.nodes["fn_orders"].1, "g_routes");
}

#[test]
fn imported_resources_stand_apart_and_dashed() {
    let (md, chart) = drawn(IMPORTING, &testkit::functions(), "legacy");
    let imported = ["data_users_table", "data_password_key", "data_signing_secret", "data_mail_identity"];
    assert_eq!(chart.imported, imported);
    for id in imported {
        assert_eq!(chart.nodes[id].1, "g_data_imported", "{id}");
    }
    for id in ["data_attempts_table", "data_sessions_table", "data_codes_table", "data_code_secret"] {
        assert_eq!(chart.nodes[id].1, "g_data_stack", "{id} is always created");
    }
    assert_eq!(chart.nodes["data_users_table"].0, "users table<br/>Prod-Auth");
    assert!(chart.nodes["waf"].0.ends_with("<br/>limits per source IP, known bad inputs"));
    assert!(chart.nodes["api"].0.ends_with("<br/>api.example.com/legacy"));
    assert!(md.contains("subgraph g_data_imported[\"imported by ARN\"]"));
    let (mapped, chart) = drawn(IMPORTING, &testkit::functions(), "mapped");
    assert!(
        chart.imported.is_empty() && !mapped.contains("classDef") && !chart.groups.contains(&"g_data_imported".into())
    );
    assert!(chart.nodes["waf"].0.ends_with("<br/>known bad inputs"), "mapped turns the rate limits off");
}

#[test]
fn the_arrows_are_what_the_synthesized_roles_allow() {
    for (text, stage) in [(STAGES, "dev"), (IMPORTING, "legacy")] {
        let functions = testkit::with(&[extra(0), extra(5)]);
        let config = crate::parse("stages.toml", text, &functions).unwrap_or_else(|e| panic!("{}", e.one_line()));
        let stage = config.stage(stage).unwrap_or_else(|e| panic!("{e}"));
        let names = Names::new(&config.project, stage);
        let rows = crate::synth(&config, stage).iam_rows(&names).unwrap_or_else(|e| panic!("{e}"));
        let chart = chart(&markdown(&names, stage)).unwrap_or_else(|e| panic!("{e}"));
        let arrows = grants(&chart);
        for f in &functions {
            // The role's own policy, less its log group: per resource, the actions (prefix dropped).
            let mut allowed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
            for row in rows.iter().filter(|r| {
                r.principal == format!("role/{}", names.role(f))
                    && r.effect == crate::review::Effect::Allow
                    && r.granted_by.contains(" policy ")
                    && !r.action.starts_with("logs:")
            }) {
                allowed
                    .entry(row.resource.as_str())
                    .or_default()
                    .push(row.action.split_once(':').map_or("", |(_, a)| a));
            }
            let mut from_roles: Vec<String> = allowed.into_values().map(|a| a.join(", ")).collect();
            let mut from_chart: Vec<String> = arrows
                .iter()
                .filter(|((from, _), _)| *from == format!("fn_{}", f.name()))
                .map(|(_, actions)| actions.clone())
                .collect();
            from_roles.sort();
            from_chart.sort();
            assert_eq!(from_chart, from_roles, "{}: {f}", stage.name);
        }
    }
}

#[test]
fn labels_cannot_end_their_quotes_or_carry_markup() {
    assert_eq!(label(&["a \"b\" <i>#1", "x"]), "a #quot;b#quot; #lt;i#gt;#35;1<br/>x");
    let ok = "```mermaid\nflowchart LR\n    subgraph g[\"t\"]\n        a[\"A\"]\n    end\n    b((\"B\"))\n\
              \x20   a --> b\n```\n";
    assert!(chart(ok).is_ok());
    for bad in [
        ok.replace("    end\n", ""),
        ok.replace("    b", "    end\n    b"),
        ok.replace("[\"A\"]", "[\"A\"B\"]"),
        ok.replace("[\"A\"]", "[A]"),
        ok.replace("a[", "a-1["),
        ok.replace("a --> b", "a --> c"),
        ok.replace("b((", "a(("),
    ] {
        assert!(chart(&bad).is_err(), "{bad}");
    }
}
