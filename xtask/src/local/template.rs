//! Reads the synthesized api template into what `xtask local` serves: routes, the authorizer, gateway
//! responses, each function's settings and environment, and the stage's web ACL (read in waf.rs).
//!
//! Nothing here knows the service's routes: they come from the template's `AWS::ApiGateway::Resource`
//! and `Method` resources, so the local API is the deployed one, not a second list to keep in step.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use contract::Function;
use serde_json::{Map, Value};

use super::props::{EMPTY, number, props, str_prop};

/// API Gateway's default authorizer cache TTL, when the template does not set one.
const DEFAULT_AUTHORIZER_TTL_SECONDS: u64 = 300;

/// The REST API of one stage, as the api template describes it.
#[derive(Debug, Clone)]
pub struct Api {
    /// `AWS::ApiGateway::Stage` `StageName`: the first path segment of the deployed URL.
    pub stage: String,
    pub routes: Vec<Route>,
    /// Every `AWS::Lambda::Function` of the template.
    pub functions: BTreeMap<Function, FunctionSpec>,
    /// `AWS::ApiGateway::GatewayResponse`s by `ResponseType` (`UNAUTHORIZED`, `ACCESS_DENIED`, ...).
    pub responses: BTreeMap<String, GatewayResponse>,
    /// The `AWS::WAFv2::WebACL` associated with the stage, if any.
    pub web_acl: Option<super::waf::WebAcl>,
}

/// One method on one resource path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    /// The resource path, `/hello` or `/orders/{id}` with its path parameters: what API Gateway calls
    /// `resourcePath`.
    pub path: String,
    /// The logical id of the `AWS::ApiGateway::Resource`, stands in for its `resourceId`.
    pub resource: String,
    pub function: Function,
    pub authorizer: Option<Authorizer>,
}

/// A REQUEST authorizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorizer {
    /// The logical id, stands in for the authorizer id in `methodArn`-like places.
    pub id: String,
    pub function: Function,
    pub identity_sources: Vec<IdentitySource>,
    /// `AuthorizerResultTtlInSeconds`; zero turns the cache off.
    pub ttl: Duration,
}

/// Where an identity source is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// `method.request.header.<name>`, matched case-insensitively.
    Header(String),
    /// `method.request.querystring.<name>`.
    Query(String),
}

/// A function's deployed settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    pub function: Function,
    /// `FunctionName`, such as `auth-dev-signup`.
    pub name: String,
    pub memory_mb: u32,
    pub timeout: Duration,
    /// `Environment.Variables`, resolved.
    pub env: BTreeMap<String, String>,
    /// `LoggingConfig.LogFormat` (`JSON` or `Text`).
    pub log_format: Option<String>,
    /// The log group's name, from `LoggingConfig.LogGroup`.
    pub log_group: Option<String>,
}

/// A customized gateway response: status, static headers and a body template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayResponse {
    pub status: Option<u16>,
    pub headers: Vec<(String, String)>,
    /// The `application/json` template, with `$context.error.messageString` and friends.
    pub template: Option<String>,
}

/// Reads the api template (as JSON). `exports` resolves `Fn::ImportValue`; `function_names` maps
/// each deployed function name to the function whose binary serves it.
pub fn read(
    template: &Value,
    exports: &BTreeMap<String, String>,
    function_names: &BTreeMap<String, Function>,
) -> anyhow::Result<Api> {
    let resources =
        template.get("Resources").and_then(Value::as_object).context("the api template has no Resources")?;
    let of_type = |ty: &'static str| {
        resources
            .iter()
            .filter(move |(_, r)| r.get("Type").and_then(Value::as_str) == Some(ty))
            .map(|(id, r)| (id.as_str(), props(r)))
    };

    let mut functions = BTreeMap::new();
    let mut by_logical_id = BTreeMap::new();
    for (id, p) in of_type("AWS::Lambda::Function") {
        let spec = function(id, p, resources, exports, function_names)?;
        by_logical_id.insert(id.to_owned(), spec.function.clone());
        functions.insert(spec.function.clone(), spec);
    }
    let target = |id: &str, uri: Option<&Value>| -> anyhow::Result<Function> {
        let logical = uri.and_then(invoked_function).with_context(|| {
            format!("{id} does not invoke a Lambda function of this template (an Fn::Sub of .../functions/${{Fn.Arn}}/invocations); `cargo xtask local` serves only those")
        })?;
        by_logical_id
            .get(logical)
            .cloned()
            .with_context(|| format!("{id} invokes {logical}, which is not an AWS::Lambda::Function of the template"))
    };

    let mut authorizers = BTreeMap::new();
    for (id, p) in of_type("AWS::ApiGateway::Authorizer") {
        let kind = str_prop(p, "Type").unwrap_or("TOKEN");
        if kind != "REQUEST" {
            bail!("authorizer {id} is of type {kind}; `cargo xtask local` emulates REQUEST authorizers only");
        }
        let sources =
            str_prop(p, "IdentitySource").with_context(|| format!("authorizer {id} has no IdentitySource"))?;
        let identity_sources =
            sources.split(',').map(|s| identity_source(id, s.trim())).collect::<anyhow::Result<Vec<_>>>()?;
        let ttl = p
            .get("AuthorizerResultTtlInSeconds")
            .map_or(Some(DEFAULT_AUTHORIZER_TTL_SECONDS), number)
            .with_context(|| format!("authorizer {id}'s AuthorizerResultTtlInSeconds is not a number"))?;
        let function = target(id, p.get("AuthorizerUri"))?;
        authorizers.insert(
            id.to_owned(),
            Authorizer { id: id.to_owned(), function, identity_sources, ttl: Duration::from_secs(ttl) },
        );
    }

    siblings(of_type("AWS::ApiGateway::Resource"))?;
    let mut routes = Vec::new();
    for (id, p) in of_type("AWS::ApiGateway::Method") {
        let method =
            str_prop(p, "HttpMethod").with_context(|| format!("method {id} has no HttpMethod"))?.to_ascii_uppercase();
        let resource = p
            .get("ResourceId")
            .and_then(reference)
            .with_context(|| format!("method {id}'s ResourceId is not a Ref to a resource of the template"))?;
        let path = resource_path(resources, resource)?;
        let integration = p.get("Integration").unwrap_or(&EMPTY);
        let kind = str_prop(integration, "Type").unwrap_or("none");
        if kind != "AWS_PROXY" {
            bail!(
                "method {id} has integration type {kind}; `cargo xtask local` serves only Lambda proxy (AWS_PROXY) integrations"
            );
        }
        let function = target(id, integration.get("Uri"))?;
        let authorizer = match str_prop(p, "AuthorizationType").unwrap_or("NONE") {
            "NONE" => None,
            "CUSTOM" => {
                let auth = p
                    .get("AuthorizerId")
                    .and_then(reference)
                    .with_context(|| format!("method {id} is CUSTOM but its AuthorizerId is not a Ref"))?;
                Some(authorizers.get(auth).cloned().with_context(|| {
                    format!("method {id} names authorizer {auth}, which the template does not define")
                })?)
            }
            other => bail!(
                "method {id} uses authorization type {other}; `cargo xtask local` emulates NONE and CUSTOM (Lambda authorizers) only"
            ),
        };
        routes.push(Route { method, path, resource: resource.to_owned(), function, authorizer });
    }
    routes.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));

    let mut stages = of_type("AWS::ApiGateway::Stage").filter_map(|(_, p)| str_prop(p, "StageName"));
    let stage = stages.next().context("the api template has no AWS::ApiGateway::Stage with a StageName")?.to_owned();
    if stages.next().is_some() {
        bail!("the api template has more than one AWS::ApiGateway::Stage; `cargo xtask local` serves one");
    }

    let mut responses = BTreeMap::new();
    for (id, p) in of_type("AWS::ApiGateway::GatewayResponse") {
        let kind = str_prop(p, "ResponseType").with_context(|| format!("gateway response {id} has no ResponseType"))?;
        responses.insert(kind.to_owned(), gateway_response(id, p)?);
    }
    let web_acl = super::waf::read(resources, &stage).context("reading the web ACL in front of the stage")?;
    Ok(Api { stage, routes, functions, responses, web_acl })
}

fn reference(v: &Value) -> Option<&str> {
    v.get("Ref").and_then(Value::as_str)
}

/// The logical id in `arn:...:lambda:path/2015-03-31/functions/${X.Arn}/invocations`.
fn invoked_function(uri: &Value) -> Option<&str> {
    let text = uri.get("Fn::Sub").and_then(Value::as_str)?;
    let rest = &text[text.find("/functions/${")? + "/functions/${".len()..];
    let logical = rest.split_once(".Arn}")?.0;
    (!logical.is_empty()).then_some(logical)
}

fn identity_source(authorizer: &str, source: &str) -> anyhow::Result<IdentitySource> {
    if let Some(name) = source.strip_prefix("method.request.header.") {
        Ok(IdentitySource::Header(name.to_owned()))
    } else if let Some(name) = source.strip_prefix("method.request.querystring.") {
        Ok(IdentitySource::Query(name.to_owned()))
    } else {
        bail!(
            "authorizer {authorizer} reads identity source {source}; `cargo xtask local` reads headers and query strings only"
        )
    }
}

/// Checks one `PathPart`: a literal segment, or a whole-segment path parameter `{name}`. A greedy
/// `{name+}` is refused: local does not serve it.
fn path_part(resource: &str, part: &str) -> anyhow::Result<()> {
    if part.is_empty() || part.contains('/') {
        bail!("resource {resource}'s PathPart {part:?} is not one path segment");
    }
    if !part.contains(['{', '}']) {
        return Ok(());
    }
    let name =
        part.strip_prefix('{').and_then(|p| p.strip_suffix('}')).filter(|n| !n.is_empty() && !n.contains(['{', '}']));
    let Some(name) = name else {
        bail!(
            "resource {resource}'s PathPart {part} is neither a literal nor a path parameter; API Gateway takes a parameter as a whole segment, {{name}}"
        )
    };
    if name.ends_with('+') {
        bail!(
            "resource {resource} has the greedy path variable {part}; `cargo xtask local` serves path parameters of one segment ({{name}}), not greedy ones"
        );
    }
    Ok(())
}

/// API Gateway's rule for the children of one resource: distinct path parts, and at most one of them a
/// path parameter (else which one a segment binds to would be ambiguous).
fn siblings<'a>(resources: impl Iterator<Item = (&'a str, &'a Value)>) -> anyhow::Result<()> {
    let mut children: BTreeMap<String, Vec<(&str, &str)>> = BTreeMap::new();
    for (id, p) in resources {
        let (Some(part), Some(parent)) = (str_prop(p, "PathPart"), p.get("ParentId")) else { continue };
        let parent = reference(parent).map_or_else(|| "the API's root".to_owned(), |r| format!("resource {r}"));
        children.entry(parent).or_default().push((id, part));
    }
    for (parent, parts) in &children {
        for (i, &(a, part_a)) in parts.iter().enumerate() {
            for &(b, part_b) in &parts[i + 1..] {
                if part_a == part_b {
                    bail!("resources {a} and {b} both have the PathPart {part_a} under {parent}");
                }
                if part_a.starts_with('{') && part_b.starts_with('{') {
                    bail!(
                        "resources {a} ({part_a}) and {b} ({part_b}) are both path parameters under {parent}; API Gateway allows one variable path part among siblings"
                    );
                }
            }
        }
    }
    Ok(())
}

/// `/a/{b}` for a resource, following `ParentId` up to the API's root resource.
fn resource_path(resources: &Map<String, Value>, id: &str) -> anyhow::Result<String> {
    let mut parts = Vec::new();
    let mut current = id.to_owned();
    loop {
        let resource = resources
            .get(&current)
            .filter(|r| r.get("Type").and_then(Value::as_str) == Some("AWS::ApiGateway::Resource"));
        let p = props(
            resource.with_context(|| format!("{current} is not an AWS::ApiGateway::Resource of the api template"))?,
        );
        let part = str_prop(p, "PathPart").with_context(|| format!("resource {current} has no PathPart"))?;
        path_part(&current, part)?;
        parts.push(part.to_owned());
        if parts.len() > 64 {
            bail!("resource {id}'s ParentId chain does not reach the API's root");
        }
        let parent = p.get("ParentId").with_context(|| format!("resource {current} has no ParentId"))?;
        if let Some(parent) = reference(parent) {
            current = parent.to_owned();
        } else if parent.get("Fn::GetAtt").and_then(|a| a.get(1)).and_then(Value::as_str) == Some("RootResourceId") {
            parts.reverse();
            let path = format!("/{}", parts.join("/"));
            let mut names: Vec<&String> = parts.iter().filter(|p| p.starts_with('{')).collect();
            names.sort_unstable();
            if let Some(twice) = names.windows(2).find(|w| w[0] == w[1]) {
                bail!("resource {id}'s path {path} names the path parameter {} twice", twice[0]);
            }
            return Ok(path);
        } else {
            bail!("resource {current}'s ParentId is neither a Ref to a resource nor the API's RootResourceId");
        }
    }
}

fn function(
    id: &str,
    p: &Value,
    resources: &Map<String, Value>,
    exports: &BTreeMap<String, String>,
    function_names: &BTreeMap<String, Function>,
) -> anyhow::Result<FunctionSpec> {
    let name = str_prop(p, "FunctionName").with_context(|| format!("function {id} has no literal FunctionName"))?;
    let function = function_names.get(name).cloned().with_context(|| {
        format!(
            "function {id} is named {name}, which is none of the handler crates' functions; re-run `cargo xtask synth`"
        )
    })?;
    let memory_mb = p
        .get("MemorySize")
        .map_or(Some(128), number)
        .with_context(|| format!("function {id}'s MemorySize is not a number"))?;
    let timeout =
        p.get("Timeout").map_or(Some(3), number).with_context(|| format!("function {id}'s Timeout is not a number"))?;
    let mut env = BTreeMap::new();
    if let Some(vars) = p.get("Environment").and_then(|e| e.get("Variables")).and_then(Value::as_object) {
        for (var, value) in vars {
            let resolved =
                resolve(value, exports).with_context(|| format!("environment variable {var} of function {name}"))?;
            env.insert(var.clone(), resolved);
        }
    }
    let logging = p.get("LoggingConfig").unwrap_or(&EMPTY);
    let log_group = match logging.get("LogGroup") {
        None => None,
        Some(v) => Some(match reference(v) {
            Some(group) => resources
                .get(group)
                .map(props)
                .and_then(|g| str_prop(g, "LogGroupName"))
                .map(str::to_owned)
                .with_context(|| format!("function {id}'s log group {group} has no literal LogGroupName"))?,
            None => resolve(v, exports).with_context(|| format!("function {id}'s LoggingConfig.LogGroup"))?,
        }),
    };
    Ok(FunctionSpec {
        function,
        name: name.to_owned(),
        memory_mb: u32::try_from(memory_mb).with_context(|| format!("function {id}'s MemorySize is too large"))?,
        timeout: Duration::from_secs(timeout),
        env,
        log_format: str_prop(logging, "LogFormat").map(str::to_owned),
        log_group,
    })
}

/// A literal, or an `Fn::ImportValue` of a literal export name.
fn resolve(value: &Value, exports: &BTreeMap<String, String>) -> anyhow::Result<String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Object(o) => match o.get("Fn::ImportValue").and_then(Value::as_str) {
            Some(export) => exports.get(export).cloned().ok_or_else(|| {
                anyhow!("the api template imports {export}, which the data stack in the emulator does not export; re-run `cargo xtask synth`")
            }),
            None => bail!("`cargo xtask local` resolves literals and Fn::ImportValue only, not {value}"),
        },
        _ => bail!("`cargo xtask local` cannot resolve {value}"),
    }
}

fn gateway_response(id: &str, p: &Value) -> anyhow::Result<GatewayResponse> {
    let status = match p.get("StatusCode") {
        None => None,
        Some(v) => Some(
            number(v)
                .and_then(|n| u16::try_from(n).ok())
                .with_context(|| format!("gateway response {id}'s StatusCode is not a status"))?,
        ),
    };
    let mut headers = Vec::new();
    for (key, value) in p.get("ResponseParameters").and_then(Value::as_object).into_iter().flatten() {
        let Some(header) = key.strip_prefix("gatewayresponse.header.") else { continue };
        // Static values are single-quoted; a mapping from the request is not emulated.
        let value = value.as_str().and_then(|v| v.strip_prefix('\'')).and_then(|v| v.strip_suffix('\''));
        let value = value.with_context(|| format!("gateway response {id} maps header {header} from the request; `cargo xtask local` supports static ('quoted') values only"))?;
        headers.push((header.to_owned(), value.to_owned()));
    }
    let template =
        p.get("ResponseTemplates").and_then(|t| t.get("application/json")).and_then(Value::as_str).map(str::to_owned);
    Ok(GatewayResponse { status, headers, template })
}

#[cfg(test)]
mod tests;
