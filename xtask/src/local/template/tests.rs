//! Reading the real synthesized api templates, and the clear refusals of what local cannot serve.

use super::*;
use serde_json::json;

fn config() -> synth::Config {
    let path = devenv::workspace_root().unwrap().join("stages.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    synth::parse("stages.toml", &text, &crate::declared::functions()).unwrap_or_else(|e| panic!("{e}"))
}

/// The stage's api template, with each export the data template declares resolved to `value:<name>`.
fn stage(name: &str) -> (Value, BTreeMap<String, String>, BTreeMap<String, Function>, synth::Stage) {
    let config = config();
    let stage = config.stage(name).unwrap_or_else(|e| panic!("{e}")).clone();
    let names = synth::Names::new(&config.project, &stage);
    let stacks = synth::synth(&config, &stage);
    let data = stacks.data.map(|d| d.to_json()).unwrap_or_else(|| panic!("stage {name} has a data stack"));
    let exports = data["Outputs"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(_, o)| o["Export"]["Name"].as_str())
        .map(|n| (n.to_owned(), format!("value:{n}")))
        .collect();
    let function_names = config.functions.iter().map(|f| (names.function(f), f.clone())).collect();
    (stacks.api.to_json(), exports, function_names, stage)
}

fn read_ok(template: &Value, exports: &BTreeMap<String, String>, names: &BTreeMap<String, Function>) -> Api {
    read(template, exports, names).unwrap_or_else(|e| panic!("{e:#}"))
}

fn read_err(template: &Value, exports: &BTreeMap<String, String>, names: &BTreeMap<String, Function>) -> String {
    match read(template, exports, names) {
        Ok(api) => panic!("read a template it should refuse: {api:?}"),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn the_dev_template_gives_the_contract_routes_behind_the_right_authorizer() {
    let (template, exports, names, stage) = stage("dev");
    let api = read_ok(&template, &exports, &names);
    assert_eq!(api.stage, "dev");
    let mut expected: Vec<(String, String, Function, bool)> = crate::declared::functions()
        .into_iter()
        .filter_map(|f| f.route().map(|r| (r.method.as_str().to_owned(), r.path.clone(), f.clone(), r.authorized())))
        .collect();
    expected.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
    let got: Vec<(String, String, Function, bool)> = api
        .routes
        .iter()
        .map(|r| (r.method.clone(), r.path.clone(), r.function.clone(), r.authorizer.is_some()))
        .collect();
    assert_eq!(got, expected);
    let authorizer = api.routes.iter().find_map(|r| r.authorizer.clone()).unwrap_or_else(|| panic!("no authorizer"));
    assert_eq!(authorizer.function, crate::declared::function("authorizer"));
    assert_eq!(authorizer.identity_sources, vec![IdentitySource::Header(contract::AUTHORIZATION_HEADER.to_owned())]);
    assert_eq!(authorizer.ttl, Duration::from_secs(u64::from(stage.api_authorizer_cache_seconds())));
}

#[test]
fn functions_get_the_template_settings_and_resolved_imports() {
    let (template, exports, names, stage) = stage("dev");
    let api = read_ok(&template, &exports, &names);
    assert_eq!(api.functions.len(), crate::declared::functions().len());
    for f in crate::declared::functions() {
        let spec = &api.functions[&f];
        let settings = &stage.functions[&f];
        assert_eq!(spec.name, format!("auth-dev-{f}"));
        assert_eq!(spec.memory_mb, settings.memory_mb);
        assert_eq!(spec.timeout, Duration::from_secs(u64::from(settings.timeout_seconds)));
        assert_eq!(spec.log_group.as_deref(), Some(format!("/aws/lambda/auth-dev-{f}").as_str()));
        assert_eq!(spec.log_format.as_deref(), Some("JSON"));
        // Exactly the variables the contract says the function reads, every one resolved.
        let vars: Vec<&str> = spec.env.keys().map(String::as_str).collect();
        let mut wanted: Vec<&str> = f.env().iter().map(|v| v.name()).collect();
        wanted.sort_unstable();
        assert_eq!(vars, wanted, "{f}");
    }
    let signin = &api.functions[&crate::declared::function("signin")].env;
    assert_eq!(signin["AUTH_TABLE_NAME"], "value:auth-dev-table-name");
    assert_eq!(signin["AUTH_SECRET_ARN"], "value:auth-dev-secret-arn");
    assert_eq!(signin["AUTH_TOKEN_ISSUER"], "auth-dev/signin");
    assert_eq!(signin["AUTH_TOKEN_LIFETIME_SECONDS"], stage.token_lifetime_seconds.to_string());
}

#[test]
fn gateway_responses_keep_status_static_headers_and_template() {
    let (template, exports, names, _) = stage("dev");
    let api = read_ok(&template, &exports, &names);
    let unauthorized = &api.responses["UNAUTHORIZED"];
    assert_eq!(unauthorized.status, Some(401));
    assert_eq!(unauthorized.headers, vec![("WWW-Authenticate".to_owned(), "Bearer".to_owned())]);
    assert_eq!(unauthorized.template.as_deref(), Some(r#"{"message":$context.error.messageString}"#));
    assert!(api.responses.contains_key("ACCESS_DENIED"));
}

#[test]
fn every_stage_that_creates_its_data_reads() {
    for name in config().stages.keys() {
        let (template, exports, names, _) = stage(name);
        let api = read_ok(&template, &exports, &names);
        assert_eq!(&api.stage, name);
        assert_eq!(api.routes.len(), crate::declared::functions().iter().filter(|f| f.route().is_some()).count());
    }
}

#[test]
fn a_missing_export_names_it_and_the_fix() {
    let (template, mut exports, names, _) = stage("dev");
    exports.remove("auth-dev-secret-arn");
    let e = read_err(&template, &exports, &names);
    assert!(
        e.contains("auth-dev-secret-arn") && e.contains("AUTH_SECRET_ARN") && e.contains("cargo xtask synth"),
        "{e}"
    );
}

#[test]
fn what_local_cannot_serve_is_refused_by_name() {
    let (template, exports, names, _) = stage("dev");
    let mut http = template.clone();
    http["Resources"]["GetHelloMethod"]["Properties"]["Integration"]["Type"] = json!("HTTP_PROXY");
    let e = read_err(&http, &exports, &names);
    assert!(e.contains("GetHelloMethod") && e.contains("HTTP_PROXY") && e.contains("AWS_PROXY"), "{e}");

    let mut token = template.clone();
    token["Resources"]["JwtAuthorizer"]["Properties"]["Type"] = json!("TOKEN");
    let e = read_err(&token, &exports, &names);
    assert!(e.contains("JwtAuthorizer") && e.contains("TOKEN") && e.contains("REQUEST"), "{e}");

    let mut greedy = template.clone();
    greedy["Resources"]["GetHelloResource"]["Properties"]["PathPart"] = json!("{proxy+}");
    let e = read_err(&greedy, &exports, &names);
    assert!(e.contains("GetHelloResource") && e.contains("{proxy+}") && e.contains("greedy"), "{e}");

    let mut cognito = template;
    cognito["Resources"]["GetHelloMethod"]["Properties"]["AuthorizationType"] = json!("COGNITO_USER_POOLS");
    let e = read_err(&cognito, &exports, &names);
    assert!(e.contains("COGNITO_USER_POOLS"), "{e}");
}

#[test]
fn nested_resources_make_nested_paths() {
    let (mut template, exports, names, _) = stage("dev");
    template["Resources"]["V1Resource"] = json!({"Type": "AWS::ApiGateway::Resource", "Properties": {
        "ParentId": {"Fn::GetAtt": ["Api", "RootResourceId"]}, "PathPart": "v1", "RestApiId": {"Ref": "Api"}}});
    template["Resources"]["GetHelloResource"]["Properties"]["ParentId"] = json!({"Ref": "V1Resource"});
    let api = read_ok(&template, &exports, &names);
    assert!(api.routes.iter().any(|r| r.path == "/v1/hello" && r.method == "GET"), "{:?}", api.routes);
}

#[test]
fn the_invoked_function_is_read_from_the_integration_uri() {
    let uri = json!({"Fn::Sub": "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${HelloFunction.Arn}/invocations"});
    assert_eq!(invoked_function(&uri), Some("HelloFunction"));
    assert_eq!(invoked_function(&json!("arn:aws:lambda:us-east-1:1:function:x")), None);
    assert_eq!(invoked_function(&json!({"Fn::Sub": "https://example.com/${Thing.Arn}"})), None);
}

/// A small api template of its own: `/orders/summary`, `/orders/{id}` behind a REQUEST authorizer and
/// `/users/{id}/orders`, as nested resources.
fn nested() -> (Value, BTreeMap<String, Function>) {
    let uri = |function: &str| json!({"Fn::Sub": format!("arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{{function}.Arn}}/invocations")});
    let function = |name: &str| json!({"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": name}});
    let resource = |parent: Value, part: &str| json!({"Type": "AWS::ApiGateway::Resource", "Properties": {"ParentId": parent, "PathPart": part, "RestApiId": {"Ref": "Api"}}});
    let root = || json!({"Fn::GetAtt": ["Api", "RootResourceId"]});
    let under = |id: &str| json!({"Ref": id});
    let method = |resource: &str, function: &str, parameters: Value, authorized: bool| {
        let mut p = json!({
            "HttpMethod": "GET", "ResourceId": {"Ref": resource}, "RestApiId": {"Ref": "Api"},
            "AuthorizationType": "NONE", "RequestParameters": parameters,
            "Integration": {"Type": "AWS_PROXY", "IntegrationHttpMethod": "POST", "Uri": uri(function)},
        });
        if authorized {
            p["AuthorizationType"] = json!("CUSTOM");
            p["AuthorizerId"] = json!({"Ref": "JwtAuthorizer"});
        }
        json!({"Type": "AWS::ApiGateway::Method", "Properties": p})
    };
    let id = || json!({"method.request.path.id": true});
    let template = json!({"Resources": {
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "t"}},
        "OrdersFunction": function("t-orders"),
        "UsersFunction": function("t-users"),
        "AuthorizerFunction": function("t-authorizer"),
        "JwtAuthorizer": {"Type": "AWS::ApiGateway::Authorizer", "Properties": {
            "Type": "REQUEST", "IdentitySource": "method.request.header.Authorization",
            "AuthorizerResultTtlInSeconds": 60, "AuthorizerUri": uri("AuthorizerFunction"), "RestApiId": {"Ref": "Api"}}},
        "OrdersResource": resource(root(), "orders"),
        "OrdersIdResource": resource(under("OrdersResource"), "{id}"),
        "OrdersSummaryResource": resource(under("OrdersResource"), "summary"),
        "UsersResource": resource(root(), "users"),
        "UsersIdResource": resource(under("UsersResource"), "{id}"),
        "UsersIdOrdersResource": resource(under("UsersIdResource"), "orders"),
        "GetOrdersIdMethod": method("OrdersIdResource", "OrdersFunction", id(), true),
        "GetOrdersSummaryMethod": method("OrdersSummaryResource", "OrdersFunction", json!({}), false),
        "GetUsersIdOrdersMethod": method("UsersIdOrdersResource", "UsersFunction", id(), false),
        "Stage": {"Type": "AWS::ApiGateway::Stage", "Properties": {"StageName": "dev", "RestApiId": {"Ref": "Api"}}},
    }});
    let names = BTreeMap::from([
        ("t-orders".to_owned(), crate::declared::function("hello")),
        ("t-users".to_owned(), crate::declared::function("signin")),
        ("t-authorizer".to_owned(), crate::declared::function("authorizer")),
    ]);
    (template, names)
}

#[test]
fn nested_resources_with_parameters_give_resource_path_templates() {
    let (template, names) = nested();
    let api = read_ok(&template, &BTreeMap::new(), &names);
    let got: Vec<(&str, &str, &str, Function, bool)> = api
        .routes
        .iter()
        .map(|r| (r.method.as_str(), r.path.as_str(), r.resource.as_str(), r.function.clone(), r.authorizer.is_some()))
        .collect();
    assert_eq!(
        got,
        [
            ("GET", "/orders/summary", "OrdersSummaryResource", crate::declared::function("hello"), false),
            ("GET", "/orders/{id}", "OrdersIdResource", crate::declared::function("hello"), true),
            ("GET", "/users/{id}/orders", "UsersIdOrdersResource", crate::declared::function("signin"), false),
        ]
    );
    // And the gateway serves them as API Gateway would.
    let served = |path: &str| crate::local::routing::find(&api.routes, "GET", path).map(|r| r.resource.as_str());
    assert_eq!(served("/orders/summary"), Some("OrdersSummaryResource"));
    assert_eq!(served("/orders/42"), Some("OrdersIdResource"));
    assert_eq!(served("/users/alice/orders"), Some("UsersIdOrdersResource"));
    assert_eq!(served("/users/alice"), None);
}

#[test]
fn path_parts_that_api_gateway_or_local_would_not_serve_are_refused_by_name() {
    let (template, names) = nested();
    let refused = |resource: &str, part: &str| {
        let mut t = template.clone();
        t["Resources"][resource]["Properties"]["PathPart"] = json!(part);
        read_err(&t, &BTreeMap::new(), &names)
    };
    let e = refused("OrdersIdResource", "{id+}");
    assert!(e.contains("OrdersIdResource") && e.contains("{id+}") && e.contains("greedy"), "{e}");
    for part in ["e{id}", "{id}.json", "{}", "{a{b}}"] {
        let e = refused("OrdersIdResource", part);
        assert!(e.contains(part) && e.contains("neither a literal nor a path parameter"), "{part}: {e}");
    }
    let e = refused("OrdersIdResource", "a/b");
    assert!(e.contains("not one path segment"), "{e}");
    let e = refused("UsersIdOrdersResource", "{id}");
    assert!(e.contains("/users/{id}/{id}") && e.contains("{id} twice"), "{e}");

    let mut siblings = template.clone();
    siblings["Resources"]["OrdersSummaryResource"]["Properties"]["PathPart"] = json!("{name}");
    let e = read_err(&siblings, &BTreeMap::new(), &names);
    assert!(
        e.contains("OrdersIdResource") && e.contains("OrdersSummaryResource") && e.contains("one variable path part"),
        "{e}"
    );
    let e = refused("OrdersSummaryResource", "{id}");
    assert!(e.contains("both have the PathPart {id} under resource OrdersResource"), "{e}");
}

#[test]
fn a_function_that_sends_mail_is_told_its_codes_table_and_its_sender() {
    let mailer = testkit::declare(
        "mailer",
        "route = { method = \"POST\", path = \"/mailer\", access = \"public\" }\n\
         env = [\"AUTH_CODES_TABLE_NAME\", \"AUTH_MAIL_SENDER\"]\n\
         grants = { codes-table = [\"dynamodb:PutItem\"], mail-identity = [\"ses:SendEmail\"] }",
    );
    let path = devenv::workspace_root().unwrap().join("stages.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut functions = crate::declared::functions();
    functions.push(mailer.clone());
    functions.sort();
    let config = synth::parse("stages.toml", &text, &functions).unwrap_or_else(|e| panic!("{e}"));
    let stage = config.stage("dev").unwrap_or_else(|e| panic!("{e}"));
    let stacks = synth::synth(&config, stage);
    let data = stacks.data.map(|d| d.to_json()).unwrap_or_else(|| panic!("dev has a data stack"));
    let exports: BTreeMap<String, String> = data["Outputs"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(_, o)| o["Export"]["Name"].as_str())
        .map(|n| (n.to_owned(), format!("value:{n}")))
        .collect();
    let names = synth::Names::new(&config.project, stage);
    let function_names = config.functions.iter().map(|f| (names.function(f), f.clone())).collect();
    let api = read_ok(&stacks.api.to_json(), &exports, &function_names);
    let env = &api.functions[&mailer].env;
    assert_eq!(env["AUTH_CODES_TABLE_NAME"], "value:auth-dev-codes-table-name");
    assert_eq!(env["AUTH_MAIL_SENDER"], "no-reply@dev.auth.example.com");
}
