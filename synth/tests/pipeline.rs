//! The pipeline stack of each stage: its trigger and source, the builds' image and cache, the approval
//! that only a risky plan enters, the buildspecs against the README, and the IAM invariants of its roles.

use serde_json::Value;
use synth::stacks::pipeline::{
    REVIEW_VARIABLES, TEST_COMMAND, apply_command, plan_command, review_command, reviewer_commands,
};

#[path = "../src/testing.rs"]
mod testing;

const STAGES: &str = include_str!("../../stages.toml");
const README: &str = include_str!("../../README.md");

fn config(text: &str) -> synth::Config {
    synth::parse("stages.toml", text, &testing::functions()).unwrap_or_else(|e| panic!("{}", e.one_line()))
}

fn pipeline_of(text: &str, stage: &str) -> Value {
    let c = config(text);
    let s = synth::synth(&c, c.stage(stage).unwrap_or_else(|e| panic!("{e}")));
    s.pipeline.unwrap_or_else(|| panic!("stage {stage} has no pipeline")).to_json()
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(strings).collect(),
        Value::Object(m) if m.len() == 1 && m.contains_key("Fn::Sub") => strings(&m["Fn::Sub"]),
        other => vec![other.to_string()],
    }
}

fn stage_of<'a>(p: &'a Value, name: &str) -> &'a Value {
    p["Resources"]["Pipeline"]["Properties"]["Stages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["Name"] == name)
        .unwrap_or_else(|| panic!("no stage {name}"))
}

/// Each role's statements by role logical id.
fn role_statements<'a>(p: &'a Value, role: &str) -> Vec<&'a Value> {
    p["Resources"][role]["Properties"]["Policies"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|policy| policy["PolicyDocument"]["Statement"].as_array().into_iter().flatten())
        .collect()
}

fn buildspec(p: &Value, project: &str) -> serde_yaml::Value {
    let text = p["Resources"][project]["Properties"]["Source"]["BuildSpec"].as_str().unwrap_or_default();
    serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{project}'s buildspec does not parse: {e}\n{text}"))
}

fn commands(spec: &serde_yaml::Value, phase: &str) -> Vec<String> {
    spec["phases"][phase]["commands"]
        .as_sequence()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect()
}

const ROLES: [&str; 5] = ["PipelineRole", "PlanRole", "ReviewRole", "ApplyRole", "DeployRole"];

#[test]
fn a_push_to_the_stages_branch_starts_its_v2_pipeline_through_the_connection() {
    let c = config(STAGES);
    for (stage, branch) in [("dev", "dev"), ("staging", "staging"), ("prod", "main")] {
        let p = pipeline_of(STAGES, stage);
        let props = &p["Resources"]["Pipeline"]["Properties"];
        assert_eq!(props["PipelineType"], "V2");
        assert_eq!(props["Triggers"][0]["ProviderType"], "CodeStarSourceConnection");
        let push = &props["Triggers"][0]["GitConfiguration"];
        assert_eq!(push["SourceActionName"], "Source");
        assert_eq!(strings(&push["Push"][0]["Branches"]["Includes"]), [branch], "{stage}");
        let source = &stage_of(&p, "Source")["Actions"][0];
        let settings = c.stages[stage].pipeline.as_ref().unwrap_or_else(|| panic!("{stage}"));
        assert_eq!(source["Configuration"]["ConnectionArn"], settings.connection_arn.as_str());
        assert_eq!(source["Configuration"]["FullRepositoryId"], "example-org/auth");
        assert_eq!(source["Configuration"]["BranchName"], branch);
    }
}

#[test]
fn builds_run_natively_on_the_stages_architecture_and_cache_cargo_and_target_in_s3() {
    let arm = STAGES.replace("architecture = \"x86_64\"", "architecture = \"arm64\"");
    for (text, kind, image) in
        [(STAGES.to_owned(), "LINUX_CONTAINER", "amazonlinux-x86_64"), (arm, "ARM_CONTAINER", "amazonlinux-aarch64")]
    {
        let p = pipeline_of(&text, "dev");
        for project in ["PlanProject", "ReviewProject", "ApplyProject"] {
            let props = &p["Resources"][project]["Properties"];
            assert_eq!(props["Environment"]["Type"], kind);
            assert!(props["Environment"]["Image"].as_str().is_some_and(|i| i.contains(image)), "{props}");
            assert_eq!(props["Environment"]["PrivilegedMode"], false);
            assert_eq!(props["Cache"]["Type"], "S3");
            assert!(strings(&props["Cache"]["Location"])[0].ends_with("/cache/auth-dev"), "{props}");
            let cached = buildspec(&p, project)["cache"]["paths"].clone();
            for path in ["/root/.cargo/registry/**/*", "/root/.cargo/git/**/*", "target/**/*"] {
                assert!(cached.as_sequence().is_some_and(|s| s.iter().any(|c| c == path)), "{project}: {cached:?}");
            }
        }
    }
}

/// The README's test command: the line of the quick start's code block that runs every check.
fn readme_test_command() -> String {
    let start = README.find("## Quick start").unwrap_or_else(|| panic!("README has no quick start"));
    README[start..]
        .lines()
        .find(|l| l.starts_with("cargo xtask test"))
        .and_then(|l| l.split('#').next())
        .map(|c| c.trim().to_owned())
        .unwrap_or_else(|| panic!("the quick start names no test command"))
}

#[test]
fn the_buildspecs_run_the_readmes_commands_and_only_the_plan_runs_the_pushed_commit() {
    assert_eq!(TEST_COMMAND, readme_test_command());
    let section = README
        .split("## Delivery pipelines")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap_or_else(|| panic!("README has no \"Delivery pipelines\" section"));
    let c = config(STAGES);
    for stage in ["dev", "prod"] {
        let p = pipeline_of(STAGES, stage);
        let plan = commands(&buildspec(&p, "PlanProject"), "build");
        assert_eq!(plan, [TEST_COMMAND.to_owned(), plan_command(stage)], "every check runs before anything is planned");
        // Review and apply build the pinned commit's xtask and run it, never `cargo xtask` of the push.
        let pinned: Vec<String> = reviewer_commands().to_vec();
        let review = commands(&buildspec(&p, "ReviewProject"), "build");
        assert_eq!(review, [pinned.clone(), vec![review_command("auth", stage)]].concat());
        let protect = c.stages[stage].protect;
        let apply = commands(&buildspec(&p, "ApplyProject"), "build");
        assert_eq!(apply, [pinned, vec![apply_command("auth", stage, protect)]].concat());
        assert!(apply.iter().chain(&review).all(|c| !c.starts_with("cargo xtask")), "{apply:?}");
        let reviewer = &c.stages[stage].pipeline.as_ref().unwrap_or_else(|| panic!()).reviewer;
        for project in ["ReviewProject", "ApplyProject"] {
            let variables = &p["Resources"][project]["Properties"]["Environment"]["EnvironmentVariables"];
            assert!(variables.to_string().contains(reviewer.as_str()), "{project} pins {reviewer}: {variables}");
        }
    }
    // What the README tells a team the pipeline runs is what it runs.
    let mut shown = vec![plan_command("dev"), review_command("auth", "dev"), apply_command("auth", "dev", false)];
    shown.extend(reviewer_commands());
    shown.push(TEST_COMMAND.to_owned());
    for command in shown {
        assert!(section.contains(&command), "the README's Delivery pipelines section does not show `{command}`");
    }
}

#[test]
fn the_approval_is_entered_only_for_a_risky_plan_unless_the_stage_always_asks() {
    let dev = pipeline_of(STAGES, "dev");
    let names: Vec<String> = dev["Resources"]["Pipeline"]["Properties"]["Stages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| s["Name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names, ["Source", "Plan", "Review", "Approve", "Apply"]);
    let review = &stage_of(&dev, "Review")["Actions"][0];
    assert_eq!(review["Namespace"], "Review");
    let exported = buildspec(&dev, "ReviewProject")["env"]["exported-variables"].clone();
    for v in REVIEW_VARIABLES {
        assert!(exported.as_sequence().is_some_and(|s| s.iter().any(|e| e == v)), "{v} not exported: {exported:?}");
    }
    assert!(buildspec(&dev, "PlanProject")["env"].get("exported-variables").is_none(), "the push decides nothing");
    let approve = stage_of(&dev, "Approve");
    assert_eq!(approve["Actions"][0]["ActionTypeId"]["Provider"], "Manual");
    assert_eq!(approve["Actions"][0]["Configuration"]["CustomData"], "#{Review.APPROVAL}");
    let condition = &approve["BeforeEntry"]["Conditions"][0];
    // Entry conditions apply their result when the rule fails: SKIP unless RISKY is "true".
    assert_eq!(condition["Result"], "SKIP");
    let rule = &condition["Rules"][0];
    assert_eq!(rule["RuleTypeId"]["Provider"], "VariableCheck");
    assert_eq!(rule["Configuration"]["Variable"], "#{Review.RISKY}");
    assert_eq!(rule["Configuration"]["Operator"], "EQ");
    assert_eq!(rule["Configuration"]["Value"], "true");
    // The apply takes the list the review wrote, from the same run, with its digest in CodePipeline's
    // variables (no build can change those).
    let apply = &stage_of(&dev, "Apply")["Actions"][0];
    assert!(apply["InputArtifacts"].to_string().contains("\"Reviewed\""), "{apply}");
    assert!(
        apply["Configuration"]["EnvironmentVariables"].as_str().is_some_and(|v| v.contains("#{Review.REVIEW_DIGEST}"))
    );

    let prod = pipeline_of(STAGES, "prod");
    assert!(stage_of(&prod, "Approve")["BeforeEntry"].is_null(), "prod asks a person every time");
}

#[test]
fn pipeline_roles_use_no_wildcard_action_and_resource_star_only_where_aws_requires_it() {
    // The two actions that take no resource: a key's ARN is made by KMS, a random password is no resource.
    const STAR_ONLY: [&str; 2] = ["kms:CreateKey", "secretsmanager:GetRandomPassword"];
    for stage in ["dev", "staging", "prod"] {
        let p = pipeline_of(STAGES, stage);
        let prefix = format!("auth-{stage}");
        for role in ROLES {
            for s in role_statements(&p, role) {
                assert_eq!(s["Effect"], "Allow");
                let actions = strings(&s["Action"]);
                for a in &actions {
                    assert!(!a.contains('*'), "{stage} {role}: wildcard action {a}");
                }
                for r in strings(&s["Resource"]) {
                    if r == "*" {
                        assert!(
                            actions.iter().all(|a| STAR_ONLY.contains(&a.as_str())),
                            "{stage} {role}: * for {actions:?}"
                        );
                    } else if r.contains('*') {
                        // A wildcard stays inside this stage's names, or a name AWS makes (keys, API ids,
                        // change sets this project names xtask-*).
                        let scoped = r.contains(&format!("{prefix}-"))
                            || r.contains(&format!("{prefix}/"))
                            || r.contains("auth-bootstrap")
                            || r.ends_with(":key/*")
                            || r.ends_with(":log-group:*")
                            || r.contains("changeSet/xtask-*")
                            || r.contains("regional/managedruleset/*")
                            || r.contains(":apigateway:")
                            || r.ends_with(&format!("/auth/{stage}/*"));
                        assert!(scoped, "{stage} {role}: {r} is not scoped to the stage");
                    }
                }
            }
        }
        assert!(
            p["Resources"]
                .as_object()
                .into_iter()
                .flatten()
                .all(|(_, r)| !matches!(r["Type"].as_str(), Some("AWS::IAM::User" | "AWS::IAM::AccessKey"))),
            "no long-lived keys"
        );
    }
}

#[test]
fn each_pipeline_role_holds_only_its_step() {
    let p = pipeline_of(STAGES, "dev");
    let actions =
        |role: &str| -> Vec<String> { role_statements(&p, role).iter().flat_map(|s| strings(&s["Action"])).collect() };
    let plan = actions("PlanRole");
    let review = actions("ReviewRole");
    let apply = actions("ApplyRole");
    let pipeline = actions("PipelineRole");
    // The plan (the pushed commit) creates change sets and runs none; the review changes nothing; the
    // apply runs them and creates none.
    assert!(plan.contains(&"cloudformation:CreateChangeSet".to_owned()));
    assert!(!plan.iter().any(|a| a == "cloudformation:ExecuteChangeSet" || a.contains("DeleteStack")));
    let writes =
        |a: &String| a.starts_with("cloudformation:") && !a.contains(":Describe") && !a.contains(":GetTemplate");
    assert!(!review.iter().any(writes), "{review:?}");
    assert!(apply.contains(&"cloudformation:ExecuteChangeSet".to_owned()));
    assert!(!apply.iter().any(|a| a == "cloudformation:CreateChangeSet" || a == "iam:PassRole"));
    // The pipeline starts the two builds and uses the connection; it touches no stack.
    assert!(!pipeline.iter().any(|a| a.starts_with("cloudformation:") || a == "iam:PassRole"), "{pipeline:?}");
    assert!(pipeline.contains(&"codeconnections:UseConnection".to_owned()));
    // The plan's change sets are made as the deploy role, and no other.
    let create = role_statements(&p, "PlanRole")
        .into_iter()
        .find(|s| strings(&s["Action"]).contains(&"cloudformation:CreateChangeSet".to_owned()))
        .unwrap_or_else(|| panic!("no CreateChangeSet"));
    assert_eq!(create["Condition"]["StringEquals"]["cloudformation:RoleArn"][0]["Fn::GetAtt"][0], "DeployRole");
}

#[test]
fn roles_pass_only_the_roles_their_step_needs_and_only_to_its_service() {
    let p = pipeline_of(STAGES, "dev");
    let passes = |role: &str| -> Vec<(Vec<String>, String)> {
        role_statements(&p, role)
            .into_iter()
            .filter(|s| strings(&s["Action"]).contains(&"iam:PassRole".to_owned()))
            .map(|s| {
                let service = s["Condition"]["StringEquals"]["iam:PassedToService"][0].as_str().unwrap_or_default();
                assert!(!service.is_empty(), "{role}: iam:PassRole without iam:PassedToService: {s}");
                (strings(&s["Resource"]), service.to_owned())
            })
            .collect()
    };
    assert!(passes("PipelineRole").is_empty() && passes("ApplyRole").is_empty());
    let plan = passes("PlanRole");
    assert_eq!(plan.len(), 1);
    assert_eq!(plan[0].1, "cloudformation.amazonaws.com");
    assert_eq!(plan[0].0, [r#"{"Fn::GetAtt":["DeployRole","Arn"]}"#]);
    let deploy = passes("DeployRole");
    let to_lambda: Vec<&String> =
        deploy.iter().filter(|(_, s)| s == "lambda.amazonaws.com").flat_map(|(r, _)| r).collect();
    let functions: Vec<String> = testing::functions().iter().map(|f| format!("role/auth-dev-{}", f.name())).collect();
    assert_eq!(to_lambda.len(), functions.len(), "{to_lambda:?}");
    for (arn, role) in to_lambda.iter().zip(&functions) {
        assert!(arn.ends_with(role.as_str()), "{arn} is not {role}");
    }
}

#[test]
fn a_stage_without_pipeline_settings_gets_none_and_no_template() {
    let without = STAGES
        .split("[pipeline]")
        .next()
        .map(|head| {
            let tail = STAGES.split("[pipeline]").nth(1).unwrap_or_default();
            let after = tail.split_once("\n\n").map_or("", |(_, rest)| rest);
            format!("{head}{after}")
        })
        .unwrap_or_default()
        .replace("[stages.prod.pipeline]\nbranch = \"main\"\napproval = \"always\"\n", "");
    let c = config(&without);
    for stage in c.stages.values() {
        assert!(stage.pipeline.is_none());
        assert!(synth::synth(&c, stage).pipeline.is_none());
        let files = synth::files(&c, stage).unwrap_or_else(|e| panic!("{e}"));
        assert!(files.iter().all(|f| !f.path.ends_with("pipeline.yaml")));
    }
}

#[test]
fn the_pipelines_definition_does_not_change_when_only_code_changes() {
    // Code reaches the api stack as content-addressed keys in parameters; the pipeline takes none, so a
    // push that changes only code leaves its stack as it is (and its own plan finds no change).
    for stage in ["dev", "staging", "prod"] {
        let p = pipeline_of(STAGES, stage);
        assert!(p.get("Parameters").is_none(), "{stage}: {}", p["Parameters"]);
        assert!(!p.to_string().contains("CodeKey"), "{stage}");
        // And another stage's code is out of reach of this stage's builds and of its deploy role.
        for other in ["dev", "staging", "prod"].iter().filter(|o| **o != stage) {
            assert!(!p.to_string().contains(&format!("/auth/{other}/")), "{stage} reaches {other}'s code");
        }
        assert!(p.to_string().contains(&format!("/auth/{stage}/*")), "{stage}");
    }
}
