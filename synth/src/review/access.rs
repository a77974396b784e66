//! Access paths as rows: which role a function runs as, who may call a route and what it invokes, the
//! roles API Gateway assumes (an authorizer's or integration's credentials, the account's logging role),
//! who can reach the API, and every condition of a Lambda permission. A change to any of them is a
//! changed row, so deploy's IAM gate sees it like a changed policy.

use serde_json::{Map, Value};

use super::value::flag;
use super::{Effect, Row, display, list};

fn row(principal: String, action: &str, resource: String, condition: String, granted_by: &str) -> Row {
    Row {
        principal,
        effect: Effect::Allow,
        action: action.to_owned(),
        resource,
        condition,
        granted_by: granted_by.to_owned(),
    }
}

/// A function runs as its role, with its layers' code.
pub fn function(id: &str, p: &Value, at: &str) -> Vec<Row> {
    let name = match &p["FunctionName"] {
        Value::Null => format!("${{{id}}}"),
        named => display(named),
    };
    // The runtime and handler decide what runs the code: shown with the role.
    let runs = format!("runtime {}; handler {}", display(&p["Runtime"]), display(&p["Handler"]));
    let mut rows = vec![row(format!("function {name}"), "(runs as)", display(&p["Role"]), runs, at)];
    // Inline code is in the template: a change of it is a changed row, like a changed role.
    if let Some(code) = p["Code"]["ZipFile"].as_str() {
        let hash = format!("sha256:{}", short_hash(code));
        rows.push(row(format!("function {name}"), "(runs inline code)", hash, String::new(), at));
    }
    for layer in list(&p["Layers"]) {
        rows.push(row(format!("function {name}"), "(runs code of layer)", layer, String::new(), at));
    }
    rows
}

/// The path of an `AWS::ApiGateway::Resource`, from its parents' path parts (`/orders/{id}`), or the
/// reference when a parent is not a resource of this template.
fn path_of(resources: &Map<String, Value>, id: &str) -> String {
    let mut parts = Vec::new();
    let mut current = id.to_owned();
    for _ in 0..64 {
        let Some(r) = resources.get(&current).filter(|r| r["Type"] == "AWS::ApiGateway::Resource") else {
            return format!("${{{current}}}{}", parts.iter().rev().map(|p| format!("/{p}")).collect::<String>());
        };
        parts.push(display(&r["Properties"]["PathPart"]));
        match &r["Properties"]["ParentId"] {
            Value::Object(m) if m.contains_key("Ref") => current = display(&m["Ref"]),
            // The API's root (`Fn::GetAtt [Api, RootResourceId]`).
            _ => break,
        }
    }
    parts.iter().rev().map(|p| format!("/{p}")).collect()
}

/// Who may call a route, and what the route invokes with which credentials.
pub fn method(p: &Value, resources: &Map<String, Value>, at: &str) -> Vec<Row> {
    let http = display(&p["HttpMethod"]);
    let path = match &p["ResourceId"] {
        Value::Object(m) if m.contains_key("Ref") => path_of(resources, &display(&m["Ref"])),
        _ => "/".to_owned(),
    };
    let authorizer = display(&p["AuthorizerId"]);
    let who = match p["AuthorizationType"].as_str().unwrap_or("NONE") {
        "NONE" => "anyone".to_owned(),
        "CUSTOM" => format!("callers the authorizer {authorizer} allows"),
        "AWS_IAM" => "IAM principals allowed execute-api:Invoke".to_owned(),
        "COGNITO_USER_POOLS" => format!("users of the pools of authorizer {authorizer}"),
        other => format!("callers of authorization type {other}"),
    };
    let mut condition = Vec::new();
    if flag(&p["ApiKeyRequired"]) == Some(true) {
        condition.push("API key required".to_owned());
    }
    let scopes = list(&p["AuthorizationScopes"]);
    if !scopes.is_empty() {
        condition.push(format!("scopes = {}", scopes.join(", ")));
    }
    let route = format!("route {http} {path}");
    let mut rows = vec![row(who, &format!("call {http}"), route.clone(), condition.join("; "), at)];
    let integration = &p["Integration"];
    if !integration.is_null() {
        let kind = format!("Type = {}", display(&integration["Type"]));
        rows.push(row(route.clone(), "(invokes)", display(&integration["Uri"]), kind, at));
        if !integration["Credentials"].is_null() {
            let who = format!("apigateway.amazonaws.com ({route})");
            rows.push(row(who, "(assumes)", display(&integration["Credentials"]), String::new(), at));
        }
    }
    rows
}

/// What decides for an authorizer, what its answers are cached by and for how long (a cached Allow is
/// reused for every request with the same identity values), the role API Gateway assumes to call it,
/// and the user pools it trusts.
pub fn authorizer(id: &str, p: &Value, at: &str) -> Vec<Row> {
    let me = format!("authorizer ${{{id}}}");
    let kind = format!("Type = {}", display(&p["Type"]));
    let mut rows = Vec::new();
    if !p["AuthorizerUri"].is_null() {
        rows.push(row(me.clone(), "(decides with)", display(&p["AuthorizerUri"]), kind, at));
    }
    // API Gateway's default TTL is 300 seconds when none is set.
    let ttl = match &p["AuthorizerResultTtlInSeconds"] {
        Value::Null => "300".to_owned(),
        set => display(set),
    };
    let source = match &p["IdentitySource"] {
        Value::Null => "method.request.header.Authorization".to_owned(),
        set => display(set),
    };
    rows.push(row(me.clone(), "(caches answers by)", source, format!("for {ttl} s"), at));
    if !p["AuthorizerCredentials"].is_null() {
        let who = format!("apigateway.amazonaws.com ({me})");
        rows.push(row(who, "(assumes)", display(&p["AuthorizerCredentials"]), String::new(), at));
    }
    for pool in list(&p["ProviderARNs"]) {
        rows.push(row(me.clone(), "(trusts user pool)", pool, String::new(), at));
    }
    rows
}

/// The role API Gateway writes every API's logs in the account and region as.
pub fn account(p: &Value, at: &str) -> Vec<Row> {
    let who = "apigateway.amazonaws.com (account logging)".to_owned();
    vec![row(who, "(assumes)", display(&p["CloudWatchRoleArn"]), String::new(), at)]
}

/// Who can reach the API at all: a regional or edge endpoint is on the internet, a private one only
/// through VPC endpoints.
pub fn rest_api(id: &str, p: &Value, at: &str) -> Row {
    let types = list(&p["EndpointConfiguration"]["Types"]);
    let private = !types.is_empty() && types.iter().all(|t| t == "PRIVATE");
    let who = if private { "callers through VPC endpoints" } else { "anyone on the internet" };
    let mut condition =
        vec![format!("endpoint {}", if types.is_empty() { "EDGE".to_owned() } else { types.join(", ") })];
    if flag(&p["DisableExecuteApiEndpoint"]) == Some(true) {
        condition.push("execute-api endpoint disabled".to_owned());
    }
    if !p["EndpointAccessMode"].is_null() {
        condition.push(format!("access mode {}", display(&p["EndpointAccessMode"])));
    }
    row(who.to_owned(), "(reaches)", format!("${{{id}}}"), condition.join("; "), at)
}

/// A Lambda permission with every condition it carries.
pub fn permission(p: &Value, at: &str) -> Row {
    let conditions: Vec<String> = [
        "SourceArn",
        "SourceAccount",
        "PrincipalOrgID",
        "FunctionUrlAuthType",
        "InvokedViaFunctionUrl",
        "EventSourceToken",
    ]
    .iter()
    .filter(|k| !p[**k].is_null())
    .map(|k| format!("{k} = {}", display(&p[*k])))
    .collect();
    row(display(&p["Principal"]), &display(&p["Action"]), display(&p["FunctionName"]), conditions.join("; "), at)
}

/// A CodeBuild project runs its buildspec's commands as its service role, in its image: a changed
/// command, image or variable is a changed row, like a changed policy, since the commands act with the
/// role's permissions. Projects that are not private are refused elsewhere (`Visibility`).
pub fn project(id: &str, p: &Value, at: &str) -> Vec<Row> {
    let name = match &p["Name"] {
        Value::Null => format!("${{{id}}}"),
        named => display(named),
    };
    let me = format!("project {name}");
    let env = &p["Environment"];
    let mut rows = vec![row(me.clone(), "(runs as)", display(&p["ServiceRole"]), String::new(), at)];
    let mut condition = vec![
        format!("image {}", display(&env["Image"])),
        format!("type {}", display(&env["Type"])),
        format!("privileged {}", flag(&env["PrivilegedMode"]) == Some(true)),
    ];
    for v in env["EnvironmentVariables"].as_array().into_iter().flatten() {
        let kind = match v["Type"].as_str() {
            None | Some("PLAINTEXT") => String::new(),
            Some(other) => format!(" ({other})"),
        };
        condition.push(format!("{}={}{kind}", display(&v["Name"]), display(&v["Value"])));
    }
    // Whatever else decides where and with what the commands run (a fleet, a registry credential, a
    // certificate) is shown as written.
    for (key, value) in env.as_object().into_iter().flatten() {
        if !matches!(
            key.as_str(),
            "Image" | "Type" | "PrivilegedMode" | "EnvironmentVariables" | "ComputeType" | "ImagePullCredentialsType"
        ) {
            condition.push(format!("{key} {}", compact(value)));
        }
    }
    let source = &p["Source"];
    let commands = match &source["BuildSpec"] {
        Value::String(spec) => format!("buildspec sha256:{}", short_hash(spec)),
        Value::Null => format!("the buildspec file of its {} source", display(&source["Type"])),
        other => format!("buildspec {}", display(other)),
    };
    rows.push(row(me.clone(), "(runs commands)", commands, condition.join("; "), at));
    // Where the code comes from and where the build's cache, artifacts, logs and encryption key go: a
    // changed row each, so the approver reads what changed rather than "the pipeline changes itself".
    let mut source_rest = source.as_object().cloned().unwrap_or_default();
    source_rest.remove("BuildSpec");
    let mut configured = vec![("Source", Value::Object(source_rest))];
    for key in ["Artifacts", "Cache", "EncryptionKey", "LogsConfig", "SourceVersion", "SecondarySourceVersions"] {
        configured.push((key, p[key].clone()));
    }
    rows.extend(configured_rows(&me, configured, at));
    rows
}

/// A row per setting of a delivery resource, `Key: value` as written (`(default)` when unset).
fn configured_rows(me: &str, settings: Vec<(&str, Value)>, at: &str) -> Vec<Row> {
    settings
        .into_iter()
        .map(|(key, value)| {
            let shown = if value.is_null() { "(default)".to_owned() } else { compact(&value) };
            row(me.to_owned(), "(configured)", format!("{key}: {shown}"), String::new(), at)
        })
        .collect()
}

/// A stage's variables: an integration or authorizer that reads `${stageVariables.x}` goes where the
/// variable says, so each variable is a row and a changed value is a changed route.
pub fn stage(id: &str, p: &Value, at: &str) -> Vec<Row> {
    let name = match &p["StageName"] {
        Value::Null => format!("${{{id}}}"),
        named => display(named),
    };
    p["Variables"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            row(format!("stage {name}"), "(sets variable)", format!("{k} = {}", compact(v)), String::new(), at)
        })
        .collect()
}

/// A pipeline runs as its role; each action, with its provider and configuration, in its stage, with
/// the stage's entry conditions; and it starts on the pushes its triggers name.
pub fn pipeline(id: &str, p: &Value, at: &str) -> Vec<Row> {
    let name = match &p["Name"] {
        Value::Null => format!("${{{id}}}"),
        named => display(named),
    };
    let me = format!("pipeline {name}");
    let mut rows = vec![row(me.clone(), "(runs as)", display(&p["RoleArn"]), String::new(), at)];
    let settings = [
        "ArtifactStore",
        "ExecutionMode",
        "PipelineType",
        "Variables",
        "DisableInboundStageTransitions",
        "RestartExecutionOnUpdate",
    ];
    rows.extend(configured_rows(&me, settings.iter().map(|k| (*k, p[*k].clone())).collect(), at));
    for trigger in p["Triggers"].as_array().into_iter().flatten() {
        let git = &trigger["GitConfiguration"];
        for push in git["Push"].as_array().into_iter().flatten() {
            rows.push(row(
                me.clone(),
                "(starts on push)",
                format!(
                    "to {} of source action {}",
                    display(&push["Branches"]["Includes"]),
                    display(&git["SourceActionName"])
                ),
                compact(push),
                at,
            ));
        }
        for pr in git["PullRequest"].as_array().into_iter().flatten() {
            rows.push(row(me.clone(), "(starts on pull request)", compact(pr), String::new(), at));
        }
    }
    // Stages run in order: the position is part of each row, so moving Apply before Approve changes rows.
    for (position, stage) in p["Stages"].as_array().into_iter().flatten().enumerate() {
        let stage_name = format!("{} {}", position + 1, display(&stage["Name"]));
        let mut gates = Vec::new();
        for (when, key) in [("before entry", "BeforeEntry"), ("on success", "OnSuccess"), ("on failure", "OnFailure")] {
            if !stage[key].is_null() {
                gates.push(format!("{when} {}", compact(&stage[key])));
            }
        }
        for action in stage["Actions"].as_array().into_iter().flatten() {
            let kind = &action["ActionTypeId"];
            let what = format!(
                "{} {} {}: {}",
                display(&kind["Category"]),
                display(&kind["Provider"]),
                display(&action["Name"]),
                compact(&action["Configuration"])
            );
            let mut condition = gates.clone();
            for key in
                ["RunOrder", "RoleArn", "Commands", "EnvironmentVariables", "InputArtifacts", "Namespace", "Region"]
            {
                if !action[key].is_null() {
                    condition.push(format!("{key} {}", compact(&action[key])));
                }
            }
            rows.push(row(format!("{me} stage {stage_name}"), "(runs action)", what, condition.join("; "), at));
            if !action["RoleArn"].is_null() {
                rows.push(row(
                    format!("{me} action {}", display(&action["Name"])),
                    "(assumes)",
                    display(&action["RoleArn"]),
                    String::new(),
                    at,
                ));
            }
        }
    }
    rows
}

/// A value as compact JSON, intrinsics shown as they are written.
fn compact(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The first 16 hex digits of the SHA-256 of `text`: enough to tell two buildspecs apart in a row.
pub(super) fn short_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}
