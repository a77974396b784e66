//! The pipeline stack of each stage: its trigger and source, the builds' image and cache, the approval
//! that only a risky plan enters, the buildspecs against the README, and the IAM invariants of its roles.

use serde_json::Value;
use synth::stacks::pipeline::{
    ADVISORIES_COMMAND, PLAN_CACHE_PATHS, PLAN_VARIABLES, REVIEW_VARIABLES, TEST_COMMAND, apply_command, plan_command,
    plan_digest_command, review_command, reviewer_commands,
};

use testkit as testing;

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

fn buildspec(p: &Value, project: &str) -> yaml_serde::Value {
    let text = p["Resources"][project]["Properties"]["Source"]["BuildSpec"].as_str().unwrap_or_default();
    yaml_serde::from_str(text).unwrap_or_else(|e| panic!("{project}'s buildspec does not parse: {e}\n{text}"))
}

fn commands(spec: &yaml_serde::Value, phase: &str) -> Vec<String> {
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
fn builds_run_natively_on_the_stages_architecture_and_only_plan_keeps_a_cache() {
    let arm = STAGES
        .replace("architecture = \"x86_64\"", "architecture = \"arm64\"")
        .replace("reviewer_sha256 = { x86_64 = ", "reviewer_sha256 = { arm64 = ");
    for (text, kind, image) in
        [(STAGES.to_owned(), "LINUX_CONTAINER", "amazonlinux-x86_64"), (arm, "ARM_CONTAINER", "amazonlinux-aarch64")]
    {
        let p = pipeline_of(&text, "dev");
        for project in ["PlanProject", "ReviewProject", "ApplyProject"] {
            let props = &p["Resources"][project]["Properties"];
            assert_eq!(props["Environment"]["Type"], kind);
            assert!(props["Environment"]["Image"].as_str().is_some_and(|i| i.contains(image)), "{props}");
            assert_eq!(props["Environment"]["PrivilegedMode"], false);
        }
        // Plan's cache is its own: what a pushed commit leaves there only later Plans restore.
        let plan = &p["Resources"]["PlanProject"]["Properties"];
        assert_eq!(plan["Cache"]["Type"], "S3");
        assert!(strings(&plan["Cache"]["Location"])[0].ends_with("/cache/auth-dev-ci-plan"), "{plan}");
        let cached = buildspec(&p, "PlanProject")["cache"]["paths"].clone();
        for path in PLAN_CACHE_PATHS {
            assert!(cached.as_sequence().is_some_and(|s| s.iter().any(|c| c == path)), "{cached:?}");
        }
        // The trusted builds restore nothing and install nothing.
        for project in ["ReviewProject", "ApplyProject"] {
            assert_eq!(p["Resources"][project]["Properties"]["Cache"], serde_json::json!({"Type": "NO_CACHE"}));
            let spec = buildspec(&p, project);
            assert!(spec.get("cache").is_none() && spec["phases"].get("install").is_none(), "{project}: {spec:?}");
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
        let settings = &c.stages[stage];
        let names = synth::Names::new("auth", settings);
        let pipeline = settings.pipeline.as_ref().unwrap_or_else(|| panic!("{stage}"));
        let plan = commands(&buildspec(&p, "PlanProject"), "build");
        let first = [TEST_COMMAND.to_owned(), ADVISORIES_COMMAND.to_owned()];
        assert_eq!(plan, [&first[..], &[plan_command(stage), plan_digest_command()]].concat(), "tests run first");
        // Review and apply run the pinned binary, checked against its digest, from an empty directory.
        let pinned: Vec<String> = reviewer_commands().to_vec();
        assert_eq!(pinned[0], "cd \"$(mktemp -d)\"");
        assert!(pinned.iter().any(|c| c.contains("sha256sum --check")), "{pinned:?}");
        let review = commands(&buildspec(&p, "ReviewProject"), "build");
        assert_eq!(review, [pinned.clone(), vec![review_command("auth", &names, stage)]].concat());
        let apply = commands(&buildspec(&p, "ApplyProject"), "build");
        let expected = apply_command("auth", &names, stage, pipeline.approval, settings.protect);
        assert_eq!(apply, [pinned, vec![expected]].concat());
        for c in apply.iter().chain(&review) {
            assert!(!c.contains("cargo") && !c.contains("rustup"), "a trusted build compiles nothing: {c}");
            assert!(!c.starts_with("cd \"$CODEBUILD_SRC_DIR") && !c.starts_with("cd $CODEBUILD"), "{c}");
        }
        for project in ["ReviewProject", "ApplyProject"] {
            let variables = p["Resources"][project]["Properties"]["Environment"]["EnvironmentVariables"].to_string();
            assert!(variables.contains(&pipeline.reviewer_sha256), "{project} pins the binary: {variables}");
            assert!(variables.contains(&pipeline.reviewer), "{project} names its commit: {variables}");
        }
        // Neither trusted build takes the pushed clone: Review reads Plan's artifact, Apply Review's.
        assert_eq!(stage_of(&p, "Review")["Actions"][0]["InputArtifacts"], serde_json::json!([{"Name": "Plan"}]));
        assert_eq!(stage_of(&p, "Apply")["Actions"][0]["InputArtifacts"], serde_json::json!([{"Name": "Reviewed"}]));
    }
    // What the README tells a team the pipeline runs is what it runs.
    let dev = &c.stages["dev"];
    let names = synth::Names::new("auth", dev);
    let approval = dev.pipeline.as_ref().map_or(synth::config::Approval::Risky, |p| p.approval);
    let mut shown = vec![
        plan_command("dev"),
        plan_digest_command(),
        review_command("auth", &names, "dev"),
        apply_command("auth", &names, "dev", approval, false),
    ];
    shown.extend(reviewer_commands());
    shown.push(TEST_COMMAND.to_owned());
    for command in shown {
        assert!(section.contains(&command), "the README's Delivery pipelines section does not show `{command}`");
    }
}

#[test]
fn the_approval_is_skipped_only_when_the_review_says_exactly_false() {
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
    // Plan exports only its plan file's digest, which binds the file to the run; it decides nothing.
    let plan_exports = buildspec(&dev, "PlanProject")["env"]["exported-variables"].clone();
    assert_eq!(plan_exports, yaml_serde::to_value(PLAN_VARIABLES).unwrap_or_default());
    // Review's configuration takes the execution id (CodePipeline's own) and no variable a build of the
    // pushed commit exported: CodePipeline pastes values into the text, where one could add settings.
    let review_env = review["Configuration"]["EnvironmentVariables"].as_str().unwrap_or_default();
    assert!(review_env.contains("#{codepipeline.PipelineExecutionId}"), "{review_env}");
    // Anywhere in the pipeline, a variable comes from CodePipeline itself or from the pinned Review.
    let text = dev["Resources"]["Pipeline"]["Properties"]["Stages"].to_string();
    for reference in text.split("#{").skip(1) {
        let name = reference.split('}').next().unwrap_or_default();
        assert!(
            name.starts_with("codepipeline.") || name.starts_with("Review."),
            "#{{{name}}} puts what an untrusted action exported into a configuration"
        );
    }
    let approve = stage_of(&dev, "Approve");
    assert_eq!(approve["Actions"][0]["ActionTypeId"]["Provider"], "Manual");
    assert_eq!(approve["Actions"][0]["Configuration"]["CustomData"], "#{Review.APPROVAL}");
    let condition = &approve["BeforeEntry"]["Conditions"][0];
    // An entry condition applies its result when its rule fails: SKIP only when RISKY is exactly
    // "false", so a missing, empty or misspelt value enters Approve.
    assert_eq!(condition["Result"], "SKIP");
    let rule = &condition["Rules"][0];
    assert_eq!(rule["RuleTypeId"]["Provider"], "VariableCheck");
    assert_eq!(rule["Configuration"]["Variable"], "#{Review.RISKY}");
    assert_eq!(rule["Configuration"]["Operator"], "NE");
    assert_eq!(rule["Configuration"]["Value"], "false");
    // The apply takes the list the review wrote, with its digest and the execution in CodePipeline's
    // variables (no build can change those).
    let apply = &stage_of(&dev, "Apply")["Actions"][0];
    let apply_env = apply["Configuration"]["EnvironmentVariables"].as_str().unwrap_or_default();
    assert!(apply_env.contains("#{Review.REVIEW_DIGEST}") && apply_env.contains("#{codepipeline.PipelineExecutionId}"));

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
                let actions = strings(&s["Action"]);
                for a in &actions {
                    assert!(!a.contains('*'), "{stage} {role}: wildcard action {a}");
                }
                if s["Effect"] == "Deny" {
                    // A Deny may reach as far as it likes.
                    continue;
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
        // Sessions last the least IAM allows: credentials copied out of a build expire within the hour.
        for role in ROLES {
            assert_eq!(p["Resources"][role]["Properties"]["MaxSessionDuration"], 3600, "{stage} {role}");
        }
    }
}

#[test]
fn each_pipeline_role_holds_only_its_step() {
    let p = pipeline_of(STAGES, "dev");
    let actions = |role: &str| -> Vec<String> {
        role_statements(&p, role)
            .iter()
            .filter(|s| s["Effect"] == "Allow")
            .flat_map(|s| strings(&s["Action"]))
            .collect()
    };
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
    // Only the pushed commit's build clones the repository; the trusted ones never see it.
    for (role, held) in [("ReviewRole", &review), ("ApplyRole", &apply)] {
        assert!(!held.iter().any(|a| a.ends_with(":UseConnection")), "{role}: {held:?}");
    }
    // The pipeline starts the builds and uses the connection; it touches no stack.
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
            .filter(|s| s["Effect"] == "Allow" && strings(&s["Action"]).contains(&"iam:PassRole".to_owned()))
            .map(|s| {
                let service = s["Condition"]["StringEquals"]["iam:PassedToService"][0].as_str().unwrap_or_default();
                assert!(!service.is_empty(), "{role}: iam:PassRole without iam:PassedToService: {s}");
                (strings(&s["Resource"]), service.to_owned())
            })
            .collect()
    };
    assert!(passes("PipelineRole").is_empty() && passes("ApplyRole").is_empty() && passes("ReviewRole").is_empty());
    let plan = passes("PlanRole");
    assert_eq!(plan.len(), 1);
    assert_eq!(plan[0].1, "cloudformation.amazonaws.com");
    assert_eq!(plan[0].0, [r#"{"Fn::GetAtt":["DeployRole","Arn"]}"#]);
    // The deploy role passes the stage's roles to Lambda only; the pipeline's own are denied to it
    // (pipeline_access.rs asks IAM's logic).
    let deploy = passes("DeployRole");
    assert_eq!(deploy.len(), 1, "{deploy:?}");
    assert_eq!(deploy[0].1, "lambda.amazonaws.com");
    assert!(deploy[0].0[0].ends_with(":role/auth-dev-*"), "{deploy:?}");
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
fn the_pipelines_definition_does_not_change_when_code_or_functions_change() {
    // Code reaches the api stack as content-addressed keys in parameters; the pipeline takes none, so a
    // push that changes only code leaves its stack as it is. Nor does it name functions: adding one
    // needs no person to redeploy the pipeline, and the boundary already covers what it may be granted.
    let all = testing::functions();
    let mut fewer = all.clone();
    fewer.retain(|f| f.name() != "hello");
    let fewer = synth::parse("stages.toml", STAGES, &fewer).unwrap_or_else(|e| panic!("{}", e.one_line()));
    for stage in ["dev", "staging", "prod"] {
        let without = synth::synth(&fewer, fewer.stage(stage).unwrap_or_else(|e| panic!("{e}")));
        let without = without.pipeline.unwrap_or_else(|| panic!("{stage}")).to_json();
        assert_eq!(without, pipeline_of(STAGES, stage), "{stage}: the pipeline depends on the functions");
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
