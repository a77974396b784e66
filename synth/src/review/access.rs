//! Access paths as rows: which role a function runs as, who may call a route and what it invokes, the
//! roles API Gateway assumes (an authorizer's or integration's credentials, the account's logging role),
//! who can reach the API, and every condition of a Lambda permission. A change to any of them is a
//! changed row, so deploy's IAM gate sees it like a changed policy.

use serde_json::{Map, Value};

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
    let mut rows = vec![row(format!("function {name}"), "(runs as)", display(&p["Role"]), String::new(), at)];
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
    if p["ApiKeyRequired"] == true {
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
    if p["DisableExecuteApiEndpoint"] == true {
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
