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
