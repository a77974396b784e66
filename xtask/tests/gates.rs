//! The IAM gate against the emulator: a deployed stack, then templates that add a managed policy, add
//! an `AWS::IAM::Policy`, or drop a `Deny`. Each is refused without `--approve-iam`, naming the new
//! grant, and the deployed stack stays as it was.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions panic on setup failure too

use clap::Parser as _;
use serde_json::{Value, json};
use xtask::aws::Clients;
use xtask::cli::{Cli, Command};
use xtask::deploy::{DeployArgs, StackStep, StepResult};

fn args(extra: &[&str]) -> DeployArgs {
    let mut argv = vec!["cargo xtask", "deploy", "--stage", "dev", "--yes"];
    argv.extend(extra);
    match Cli::parse_from(argv).command {
        Command::Deploy(args) => args,
        other => panic!("{other:?}"),
    }
}

fn template(managed: &[&str], deny: bool, extra_policy: bool) -> Value {
    let mut statements = vec![json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"})];
    if deny {
        statements.push(json!({"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}));
    }
    let mut t = json!({"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": "gate-test",
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "ManagedPolicyArns": managed,
        "Policies": [{"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}]
    }}}});
    if extra_policy {
        t["Resources"]["Extra"] = json!({"Type": "AWS::IAM::Policy", "Properties": {
            "PolicyName": "extra", "Roles": [{"Ref": "Role"}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}]}
        }});
    }
    t
}

/// Clients of the emulator at `endpoint`, polling fast.
async fn clients(endpoint: &str) -> Clients {
    let config = xtask::local::data::sdk_config(endpoint, "us-east-1").await;
    Clients { poll: std::time::Duration::from_millis(100), ..Clients::from_config(&config, "us-east-1") }
}

async fn step(clients: &Clients, t: &Value, flags: &[&str]) -> StepResult {
    let text = serde_json::to_string_pretty(t).unwrap();
    let step =
        StackStep { clients, stack: "gate-test", json: t, text: &text, parameters: &[], termination_protection: None };
    let described = xtask::cfn::describe(&clients.cfn, "gate-test").await.unwrap();
    step.run(described, &args(flags).step_options(), false, ("unused-bucket", "123456789012"), clients.poll)
        .await
        .unwrap()
}

#[test]
fn each_new_grant_is_refused_without_approve_iam() {
    let venv = devenv::ensure(&mut |line| eprintln!("{line}")).unwrap();
    let moto = devenv::Moto::start(&venv).unwrap();
    xtask::aws::runtime().unwrap().block_on(async {
        let clients = clients(&moto.endpoint()).await;
        let base = template(&[], true, false);
        assert_eq!(step(&clients, &base, &[]).await, StepResult::Refused(refusal_of(&clients, &base).await));
        assert_eq!(step(&clients, &base, &["--approve-iam"]).await, StepResult::Executed);
        let deployed = xtask::cfn::deployed_template(&clients.cfn, "gate-test").await.unwrap();

        let cases = [
            (
                template(&["arn:aws:iam::aws:policy/AdministratorAccess"], true, false),
                "role/gate-test  (AWS-managed policy)  arn:aws:iam::aws:policy/AdministratorAccess",
            ),
            (template(&[], true, true), "role/${Role}  iam:PassRole  *"),
            (template(&[], false, false), "role/gate-test  DENY s3:DeleteObject  *"),
        ];
        for (new, grant) in &cases {
            let StepResult::Refused(reason) = step(&clients, new, &[]).await else { panic!("not refused: {grant}") };
            assert!(reason.contains(grant), "{reason}");
            assert!(reason.contains("re-run with --approve-iam"), "{reason}");
            let now = xtask::cfn::deployed_template(&clients.cfn, "gate-test").await.unwrap();
            assert_eq!(now, deployed, "a refused change set changed the stack");
        }
        // With the flag, the last one goes through.
        assert_eq!(step(&clients, &cases[2].0, &["--approve-iam"]).await, StepResult::Executed);
    });
}

/// What a first deploy of `t` is refused with: every row of it is new.
async fn refusal_of(_clients: &Clients, t: &Value) -> String {
    let iam = xtask::deploy::changes::IamDiff::between("gate-test", None, t);
    let refusal = xtask::deploy::gates::Refusal::Iam(iam.grants().into_iter().cloned().collect());
    format!("not deploying gate-test: {refusal}")
}

/// Two roles and a function that runs as one of them: the public signup function and the private
/// hello one, as in the api stack.
fn runs_as(role: &str) -> Value {
    let role_of = |name: &str, actions: &[&str]| {
        json!({"Type": "AWS::IAM::Role", "Properties": {
            "RoleName": name,
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            "Policies": [{"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": actions, "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/users"}]}}]
        }})
    };
    json!({"Resources": {
        "SignupRole": role_of("swap-signup", &["dynamodb:PutItem"]),
        "SigninRole": role_of("swap-signin", &["dynamodb:GetItem", "dynamodb:UpdateItem"]),
        "SignupFunction": {"Type": "AWS::Lambda::Function", "Properties": {
            "FunctionName": "swap-signup", "Runtime": "python3.12", "Handler": "index.handler",
            "Code": {"ZipFile": "def handler(event, context):\n    return {}\n"},
            "Role": {"Fn::GetAtt": [role, "Arn"]}
        }}
    }})
}

#[test]
fn a_function_made_to_run_as_another_role_needs_approve_iam() {
    let venv = devenv::ensure(&mut |line| eprintln!("{line}")).unwrap();
    let moto = devenv::Moto::start(&venv).unwrap();
    xtask::aws::runtime().unwrap().block_on(async {
        let clients = clients(&moto.endpoint()).await;
        assert_eq!(step(&clients, &runs_as("SignupRole"), &["--approve-iam"]).await, StepResult::Executed);
        let deployed = xtask::cfn::deployed_template(&clients.cfn, "gate-test").await.unwrap();

        // `--yes` alone: the change set shows only `Modify SignupFunction`, and the review names the role.
        let swapped = runs_as("SigninRole");
        let StepResult::Refused(reason) = step(&clients, &swapped, &[]).await else { panic!("the role swap ran") };
        assert!(reason.contains("function swap-signup  (runs as)  ${SigninRole.Arn}"), "{reason}");
        assert!(reason.contains("re-run with --approve-iam"), "{reason}");
        let now = xtask::cfn::deployed_template(&clients.cfn, "gate-test").await.unwrap();
        assert_eq!(now, deployed, "a refused change set changed the stack");

        // Approved, it runs.
        assert_eq!(step(&clients, &swapped, &["--approve-iam"]).await, StepResult::Executed);
    });
}
