//! The review's property table against CloudFormation's own resource schemas (the copy cfn-lint ships,
//! installed by the test command): every writable property of every type the review accepts is
//! classified, nothing else is, and every type synth emits is in the table. A new property in a schema
//! update, or a new resource type in synth, fails here until someone decides what it is.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;
use synth::review::schema::TABLE;

/// cfn-lint's schema directory in the venv the test command installs.
fn schemas() -> PathBuf {
    let venv = devenv::ensure(&mut |line| eprintln!("{line}")).unwrap_or_else(|e| panic!("{e}"));
    let lib = venv.root().join("lib");
    let python = std::fs::read_dir(&lib)
        .unwrap_or_else(|e| panic!("{}: {e}", lib.display()))
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().starts_with("python"))
        .unwrap_or_else(|| panic!("no python in {}", lib.display()));
    python.path().join("site-packages/cfnlint/data/schemas")
}

fn read(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The properties a template may set on `resource_type`: the schema's, less the read-only ones.
fn writable(dir: &std::path::Path, providers: &Value, resource_type: &str) -> BTreeSet<String> {
    let id = providers[resource_type].as_str().unwrap_or_else(|| panic!("no schema for {resource_type}"));
    let schema = read(dir.join("resources").join(format!("{id}.json")));
    let read_only: BTreeSet<&str> = schema["readOnlyProperties"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|p| p.strip_prefix("/properties/"))
        .filter(|p| !p.contains('/'))
        .collect();
    schema["properties"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k.as_str())
        .filter(|p| !read_only.contains(p))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_property_of_every_accepted_type_is_classified() {
    let dir = schemas();
    let providers = read(dir.join("providers/us-east-1.json"));
    let mut problems = Vec::new();
    for (resource_type, properties) in TABLE {
        let classified: BTreeSet<String> = properties.iter().map(|(p, _)| (*p).to_owned()).collect();
        let schema = writable(&dir, &providers, resource_type);
        for p in schema.difference(&classified) {
            problems.push(format!("{resource_type}.{p} is in CloudFormation's schema but not classified"));
        }
        for p in classified.difference(&schema) {
            problems.push(format!("{resource_type}.{p} is classified but not a writable property of the schema"));
        }
    }
    assert!(problems.is_empty(), "update synth/src/review/schema.rs:\n{}", problems.join("\n"));
}

/// The properties whose change makes CloudFormation replace a resource of `resource_type`.
fn create_only(dir: &std::path::Path, providers: &Value, resource_type: &str) -> BTreeSet<String> {
    let id = providers[resource_type].as_str().unwrap_or_else(|| panic!("no schema for {resource_type}"));
    let schema = read(dir.join("resources").join(format!("{id}.json")));
    // Conditional ones replace on some changes (a table's key schema): a risk all the same.
    ["createOnlyProperties", "conditionalCreateOnlyProperties"]
        .iter()
        .flat_map(|k| schema[*k].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p.as_str().and_then(|p| p.strip_prefix("/properties/")).map(str::to_owned))
        .map(|p| p.split('/').next().unwrap_or(&p).to_owned())
        .collect()
}

/// What an update does, from CloudFormation's own schemas, held against the review's classes: every
/// property whose change replaces a stateful resource (its data lost) is judged by the data-loss gate
/// or the IAM review, never inert. `EFFECTS` also lists replacements the schemas leave to the handlers
/// (a table's local indexes, a key's `MultiRegion`), from CloudFormation's property reference.
#[test]
fn every_property_that_replaces_a_stateful_resource_is_judged() {
    use synth::review::schema::{EFFECTS, Effect, STATEFUL, agrees};
    let dir = schemas();
    let providers = read(dir.join("providers/us-east-1.json"));
    let mut problems = Vec::new();
    for (resource_type, _) in TABLE {
        let replacing = create_only(&dir, &providers, resource_type);
        if STATEFUL.contains(resource_type) {
            for p in &replacing {
                if let Some(why) = agrees(resource_type, p, Effect::Replaces) {
                    problems.push(format!("{why}: a change replaces the resource and loses its data"));
                }
            }
        }
        for (t, p, e) in EFFECTS.iter().filter(|(t, _, _)| t == resource_type) {
            if let Some(why) = agrees(t, p, *e) {
                problems.push(why);
            }
        }
    }
    assert!(problems.is_empty(), "update synth/src/review/schema.rs:\n{}", problems.join("\n"));
}

#[test]
fn every_type_synth_emits_is_in_the_table() {
    let root = devenv::workspace_root().unwrap_or_else(|e| panic!("{e}"));
    let config = xtask::load_config(&root.join("stages.toml")).unwrap_or_else(|e| panic!("{e:#}"));
    let mut emitted = BTreeSet::new();
    for stage in config.stages.values() {
        let stacks = synth::synth(&config, stage);
        let names = synth::Names::new(&config.project, stage);
        for (_, template) in stacks.named(&names) {
            let json = template.to_json();
            for (_, r) in json["Resources"].as_object().into_iter().flatten() {
                emitted.insert(r["Type"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
    let known: BTreeSet<String> = TABLE.iter().map(|(t, _)| (*t).to_owned()).collect();
    let missing: Vec<&String> = emitted.difference(&known).collect();
    assert!(missing.is_empty(), "synth emits types outside synth/src/review/schema.rs: {missing:?}");
    assert!(emitted.len() >= 15, "{emitted:?}");
}

/// Handler permissions the deploy role does not hold, by prefix, each with why this project never needs
/// it. Everything else CloudFormation's handlers list for a type the stage's stacks emit, the deploy
/// role must hold.
const NOT_NEEDED: &[(&str, &str)] = &[
    // The web ACL protects one API Gateway stage; these associate web ACLs with other kinds of resource.
    ("amplify:", "web ACLs of other resource kinds"),
    ("apprunner:", "web ACLs of other resource kinds"),
    ("appsync:", "web ACLs of other resource kinds"),
    ("bedrock-agentcore:", "web ACLs of other resource kinds"),
    ("cognito-idp:", "web ACLs of other resource kinds"),
    ("elasticloadbalancing:", "web ACLs of other resource kinds"),
    ("ec2:AssociateVerifiedAccess", "web ACLs of other resource kinds"),
    ("ec2:DescribeVerifiedAccess", "web ACLs of other resource kinds"),
    ("ec2:DisassociateVerifiedAccess", "web ACLs of other resource kinds"),
    ("ec2:GetVerifiedAccess", "web ACLs of other resource kinds"),
    ("wafv2:GetPermissionPolicy", "rule groups shared with other accounts: the stage shares none"),
    ("wafv2:PutPermissionPolicy", "rule groups shared with other accounts: the stage shares none"),
    ("payments:", "paid managed rule groups: the web ACL uses AWS's free ones"),
    // Functions have no VpcConfig, file system, layers, code signing, versions or capacity providers.
    ("ec2:Describe", "functions outside a VPC"),
    ("elasticfilesystem:", "functions mount no file system"),
    ("s3files:", "functions mount no file system"),
    ("lambda:GetLayerVersion", "functions have no layers"),
    ("lambda:GetCodeSigningConfig", "functions have no code signing config"),
    ("lambda:PutFunctionCodeSigningConfig", "functions have no code signing config"),
    ("lambda:DeleteFunctionCodeSigningConfig", "functions have no code signing config"),
    ("lambda:PublishVersion", "no versions are published (no SnapStart, no aliases)"),
    ("lambda:AssociateRuntimeAlias", "no capacity providers"),
    ("lambda:PassCapacityProvider", "no capacity providers"),
    ("lambda:GetFunctionScalingConfig", "no capacity providers"),
    ("lambda:PutFunctionScalingConfig", "no capacity providers"),
    // Nothing CloudFormation makes is encrypted under a customer managed key: the tables use DynamoDB's
    // AWS managed key, function environments Lambda's, log groups CloudWatch Logs'. The password key
    // is the application's, used by the functions' roles alone.
    ("kms:CreateGrant", "no resource is encrypted with a customer managed key by CloudFormation"),
    ("kms:RevokeGrant", "no resource is encrypted with a customer managed key by CloudFormation"),
    ("kms:Decrypt", "no resource is encrypted with a customer managed key by CloudFormation"),
    ("kms:Encrypt", "no resource is encrypted with a customer managed key by CloudFormation"),
    ("kms:GenerateDataKey", "no resource is encrypted with a customer managed key by CloudFormation"),
    ("kms:ListAliases", "no resource is encrypted with a customer managed key by CloudFormation"),
    ("logs:AssociateKmsKey", "no resource is encrypted with a customer managed key by CloudFormation"),
    ("logs:DisassociateKmsKey", "no resource is encrypted with a customer managed key by CloudFormation"),
    // Tables are created empty, in one region, without streams to Kinesis: no import from S3, no
    // replicas, and a deploy role that reads no items (the users table holds password hashes).
    ("dynamodb:ImportTable", "tables are created empty"),
    ("dynamodb:DescribeImport", "tables are created empty"),
    ("dynamodb:BatchWriteItem", "replicas and imports only: the deploy role reads and writes no items"),
    ("dynamodb:DeleteItem", "replicas and imports only: the deploy role reads and writes no items"),
    ("dynamodb:GetItem", "replicas and imports only: the deploy role reads and writes no items"),
    ("dynamodb:PutItem", "replicas and imports only: the deploy role reads and writes no items"),
    ("dynamodb:Query", "replicas and imports only: the deploy role reads and writes no items"),
    ("dynamodb:Scan", "replicas and imports only: the deploy role reads and writes no items"),
    ("dynamodb:UpdateItem", "replicas and imports only: the deploy role reads and writes no items"),
    ("dynamodb:AssociateTableReplica", "no global table replicas"),
    ("dynamodb:CreateTableReplica", "no global table replicas"),
    ("iam:CreateServiceLinkedRole", "replicas and auto scaling only; tables are on-demand in one region"),
    ("dynamodb:PutResourcePolicy", "tables carry no resource policy"),
    ("dynamodb:DeleteResourcePolicy", "tables carry no resource policy"),
    ("dynamodb:EnableKinesisStreamingDestination", "no Kinesis streams of table changes"),
    ("dynamodb:DisableKinesisStreamingDestination", "no Kinesis streams of table changes"),
    ("dynamodb:UpdateKinesisStreamingDestination", "no Kinesis streams of table changes"),
    ("kinesis:", "no Kinesis streams of table changes"),
    ("s3:GetObjectMetadata", "tables are created empty: no import from S3"),
    ("s3:ListBucket", "tables are created empty: no import from S3"),
    ("logs:CreateLogStream", "the import log of a table import from S3"),
    ("logs:PutLogEvents", "the import log of a table import from S3"),
    ("logs:DescribeLogStreams", "the import log of a table import from S3"),
    // Log groups carry retention and tags only.
    ("logs:CreateLogDelivery", "log groups deliver nowhere"),
    ("s3:REST.PUT.OBJECT", "log groups deliver nowhere"),
    ("firehose:", "log groups deliver nowhere"),
    ("logs:PutDataProtectionPolicy", "no data protection policies"),
    ("logs:GetDataProtectionPolicy", "no data protection policies"),
    ("logs:DeleteDataProtectionPolicy", "no data protection policies"),
    ("logs:PutIndexPolicy", "no field index policies"),
    ("logs:DeleteIndexPolicy", "no field index policies"),
    ("logs:DescribeIndexPolicies", "no field index policies"),
    ("logs:PutResourcePolicy", "log groups carry no resource policy"),
    ("logs:DeleteResourcePolicy", "log groups carry no resource policy"),
    ("logs:DescribeResourcePolicies", "log groups carry no resource policy"),
    ("logs:PutBearerTokenAuthentication", "bearer tokens are refused by the review"),
    // A role's boundary is the stage's, set with the role; lifting one is what the deploy role must never do.
    ("iam:DeleteRolePermissionsBoundary", "the deploy role may never lift a boundary (an explicit Deny)"),
    // Roles carry no managed policies: the bootstrap stack's one, a person deploys.
    ("iam:AttachRolePolicy", "function roles have no managed policies"),
    ("iam:DetachRolePolicy", "function roles have no managed policies"),
    // The API no resource policy; the secret no replicas.
    ("apigateway:UpdateRestApiPolicy", "the REST API has no resource policy"),
    ("secretsmanager:ReplicateSecretToRegions", "secret replicas are refused by the review"),
    ("secretsmanager:RemoveRegionsFromReplication", "secret replicas are refused by the review"),
];

/// What the deploy role holds that no handler lists, each with why.
const BEYOND_HANDLERS: &[&str] = &[];

#[test]
fn the_deploy_role_holds_what_cloudformation_needs_for_every_type_the_stacks_emit() {
    let dir = schemas();
    let providers = read(dir.join("providers/us-east-1.json"));
    let root = devenv::workspace_root().unwrap_or_else(|e| panic!("{e}"));
    let config = xtask::load_config(&root.join("stages.toml")).unwrap_or_else(|e| panic!("{e:#}"));
    let stage = config.stage("dev").unwrap_or_else(|e| panic!("{e}"));
    let stacks = synth::synth(&config, stage);
    let names = synth::Names::new(&config.project, stage);
    let mut emitted: BTreeSet<String> =
        ["AWS::ApiGateway::DomainName", "AWS::ApiGateway::BasePathMapping"].map(str::to_owned).into();
    // The deploy role changes the data and api stacks; a person deploys the bootstrap and pipeline stacks.
    for (stack, template) in stacks.named(&names) {
        if xtask::deploy::person_only(&names, &stack) {
            continue;
        }
        for (_, r) in template.to_json()["Resources"].as_object().into_iter().flatten() {
            emitted.insert(r["Type"].as_str().unwrap_or_default().to_owned());
        }
    }
    let pipeline = stacks.pipeline.as_ref().unwrap_or_else(|| panic!("dev has no pipeline")).to_json();
    let held: BTreeSet<String> = pipeline["Resources"]["DeployRole"]["Properties"]["Policies"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["PolicyDocument"]["Statement"].as_array().into_iter().flatten())
        .filter(|s| s["Effect"] == "Allow")
        .flat_map(|s| s["Action"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let mut missing = BTreeSet::new();
    let mut listed = BTreeSet::new();
    for resource_type in &emitted {
        let id = providers[resource_type.as_str()].as_str().unwrap_or_else(|| panic!("no schema for {resource_type}"));
        let schema = read(dir.join("resources").join(format!("{id}.json")));
        for handler in ["create", "read", "update", "delete"] {
            for action in
                schema["handlers"][handler]["permissions"].as_array().into_iter().flatten().filter_map(Value::as_str)
            {
                listed.insert(action.to_owned());
                let excused = NOT_NEEDED.iter().any(|(prefix, _)| action.starts_with(prefix));
                if !held.contains(action) && !excused {
                    missing.insert(format!("{action} ({resource_type} {handler})"));
                }
            }
        }
    }
    let stale: Vec<&str> =
        NOT_NEEDED.iter().map(|(p, _)| *p).filter(|p| !listed.iter().any(|a| a.starts_with(p))).collect();
    assert!(stale.is_empty(), "NOT_NEEDED names what no handler lists any more: {stale:?}");
    // The other way: the role holds nothing the handlers do not list, but what is named here.
    let beyond: Vec<&String> = held.difference(&listed).filter(|a| !BEYOND_HANDLERS.contains(&a.as_str())).collect();
    assert!(beyond.is_empty(), "the deploy role holds actions no handler of its types lists: {beyond:?}");
    assert!(
        missing.is_empty(),
        "the deploy role lacks (synth/src/stacks/pipeline.rs), or NOT_NEEDED should say why:\n{}",
        missing.into_iter().collect::<Vec<_>>().join("\n")
    );
}
