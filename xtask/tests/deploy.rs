//! `cargo xtask deploy`, `diff`, `status` and `destroy` against moto's server on 127.0.0.1, through the
//! real AWS SDK, as a platform engineer or a CI job runs them.

mod support;
use support::{elf, person, scratch};

use std::path::{Path, PathBuf};

use sha2::Digest as _;
use std::process::{Command, Output};

/// A scratch project: stages.toml, its templates, fake function zips, and a moto server of its own.
struct Project {
    dir: PathBuf,
    artifacts: PathBuf,
    moto: devenv::Moto,
}

const STAGES: &str = r#"
project = "itest"
region = "us-east-1"
architecture = "x86_64"

[defaults]
memory_mb = 256
timeout_seconds = 10

[defaults.functions.signin]
memory_mb = 1024

[stages.dev]
mail = { sender = "no-reply@dev.itest.example.com", domain = "dev.itest.example.com" }

[stages.vault]
account = "123456789012"
protect = true
mail = { sender = "no-reply@itest.example.com", domain = "itest.example.com" }
"#;

impl Project {
    fn new(name: &str) -> Project {
        let venv = devenv::ensure(&mut |line| eprintln!("{line}")).unwrap_or_else(|e| panic!("{e}"));
        let moto = devenv::Moto::start(&venv).unwrap_or_else(|e| panic!("{e}"));
        let dir = scratch::dir(name);
        let artifacts = dir.join("artifacts");
        let project = Project { dir, artifacts, moto };
        project.write_config(STAGES);
        let root = devenv::workspace_root().unwrap_or_else(|e| panic!("{e}"));
        for f in xtask::functions(&root).unwrap_or_else(|e| panic!("{e:#}")) {
            project.set_binary(f.name(), &format!("fake {f} v1"));
        }
        project
    }

    /// Writes stages.toml and synthesizes its templates, as a developer would before deploying.
    fn write_config(&self, text: &str) {
        std::fs::write(self.dir.join("stages.toml"), text).unwrap_or_else(|e| panic!("{e}"));
        let out = self.xtask(&["synth"]);
        assert!(out.status.success(), "{}", text_of(&out));
    }

    fn set_binary(&self, function: &str, contents: &str) {
        let dir = self.artifacts.join(function);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let zip = xtask::package::zip_bootstrap(&elf::x86_64(contents)).unwrap_or_else(|e| panic!("{e}"));
        let sha256 = sha2::Sha256::digest(&zip).iter().map(|b| format!("{b:02x}")).collect::<String>();
        std::fs::write(dir.join("bootstrap.zip"), zip).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join("bootstrap.zip.sha256"), format!("{sha256}  bootstrap.zip\n"))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn config(&self) -> String {
        self.dir.join("stages.toml").to_string_lossy().into_owned()
    }

    fn xtask(&self, args: &[&str]) -> Output {
        let mut all = vec!["--config".to_owned(), self.config()];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        person::as_person(Command::new(env!("CARGO_BIN_EXE_xtask")).args(&all), &self.dir)
            .output()
            .unwrap_or_else(|e| panic!("running xtask: {e}"))
    }

    /// `xtask <command> --stage S --endpoint-url <moto> ...`.
    fn aws(&self, command: &str, stage: &str, extra: &[&str]) -> Output {
        let endpoint = self.moto.endpoint();
        let mut args = vec![command, "--stage", stage, "--endpoint-url", &endpoint];
        args.extend(extra);
        self.xtask(&args)
    }

    fn deploy(&self, stage: &str, extra: &[&str]) -> Output {
        let artifacts = self.artifacts.to_string_lossy().into_owned();
        let mut args = vec!["--yes", "--artifacts", &artifacts];
        args.extend(extra);
        self.aws("deploy", stage, &args)
    }

    /// Whether moto's `service` holds something that names `name` (its `/moto-api/data.json` dump): that
    /// the resources a template declares were made, not only recorded by CloudFormation.
    fn moto_has(&self, service: &str, name: &str) -> bool {
        use std::io::{Read as _, Write as _};
        let endpoint = self.moto.endpoint();
        let address = endpoint.trim_start_matches("http://").trim_end_matches('/');
        let mut stream = std::net::TcpStream::connect(address).unwrap_or_else(|e| panic!("{address}: {e}"));
        write!(stream, "GET /moto-api/data.json HTTP/1.0\r\nHost: {address}\r\n\r\n").unwrap_or_else(|e| panic!("{e}"));
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap_or_else(|e| panic!("{e}"));
        let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        let data: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body:.200}"));
        data[service].to_string().contains(&format!("\"{name}\""))
    }

    /// How many requests moto has answered so far.
    fn requests(&self) -> usize {
        std::fs::read_to_string(self.moto.log())
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("\"POST ") || l.contains("\"GET ") || l.contains("\"PUT ") || l.contains("\"HEAD "))
            .count()
    }
}

fn text_of(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn count(haystack: &str, needle: &str) -> usize {
    haystack.matches(needle).count()
}

/// The web ACL that moto's WAFv2 API says protects `resource_arn`, as JSON (`null` for none). The
/// project has no WAFv2 SDK, so this is the API's JSON protocol by hand; moto does not check signatures.
fn web_acl_for(endpoint: &str, resource_arn: &str) -> serde_json::Value {
    use http_body_util::BodyExt as _;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        let client: hyper_util::client::legacy::Client<_, http_body_util::Full<hyper::body::Bytes>> =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        let body = serde_json::json!({ "ResourceArn": resource_arn }).to_string();
        let req = hyper::Request::post(endpoint)
            .header("x-amz-target", "AWSWAF_20190729.GetWebACLForResource")
            .header("content-type", "application/x-amz-json-1.1")
            .header("authorization", "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/wafv2/aws4_request, SignedHeaders=host, Signature=0")
            .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))
            .unwrap_or_else(|e| panic!("{e}"));
        let res = client.request(req).await.unwrap_or_else(|e| panic!("GetWebACLForResource: {e}"));
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap_or_else(|e| panic!("{e}")).to_bytes();
        assert!(status.is_success(), "GetWebACLForResource answered {status}: {}", String::from_utf8_lossy(&bytes));
        let answer: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"));
        answer["WebACL"].clone()
    })
}

/// Sends a mail from `from` through moto's SESv2 `SendEmail`, by hand as [`web_acl_for`] calls WAFv2 (the
/// project's xtask has no SES SDK): the HTTP status and body of the answer.
fn send_email(endpoint: &str, from: &str) -> (u16, String) {
    use http_body_util::BodyExt as _;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        let client: hyper_util::client::legacy::Client<_, http_body_util::Full<hyper::body::Bytes>> =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http();
        let body = serde_json::json!({
            "FromEmailAddress": from,
            "Destination": {"ToAddresses": ["ann@example.com"]},
            "Content": {"Simple": {"Subject": {"Data": "code"}, "Body": {"Text": {"Data": "12345678"}}}}
        })
        .to_string();
        let req = hyper::Request::post(format!("{}/v2/email/outbound-emails", endpoint.trim_end_matches('/')))
            .header("content-type", "application/json")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/ses/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))
            .unwrap_or_else(|e| panic!("{e}"));
        let res = client.request(req).await.unwrap_or_else(|e| panic!("SendEmail: {e}"));
        let status = res.status().as_u16();
        let bytes = res.into_body().collect().await.unwrap_or_else(|e| panic!("{e}")).to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    })
}

#[test]
fn deploy_update_diff_and_destroy() {
    let p = Project::new("deploy-lifecycle");
    let outputs_file = p.dir.join("outputs.json");
    let outputs_arg = outputs_file.to_string_lossy().into_owned();

    // A first deploy creates both stacks from CREATE change sets.
    let out = p.deploy("dev", &["--approve-iam", "--outputs-file", &outputs_arg]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let functions = xtask::functions(&devenv::workspace_root().unwrap_or_else(|e| panic!("{e}")))
        .unwrap_or_else(|e| panic!("{e:#}"))
        .len();
    assert_eq!(count(&t, " uploaded "), functions, "{t}");
    assert!(t.contains("== itest-dev-data") && t.contains("Add      UsersTable"), "{t}");
    // The stage's SES identity was made in the emulator's SES (moto's CloudFormation needs the launcher),
    // so that mail from the stage's sender is accepted, and from outside its domain refused.
    assert!(t.contains("Add      MailIdentity"), "{t}");
    let (status, answer) = send_email(&p.moto.endpoint(), "no-reply@dev.itest.example.com");
    assert_eq!(status, 200, "the stage's sender is refused: {answer}");
    let (status, answer) = send_email(&p.moto.endpoint(), "no-reply@elsewhere.example.com");
    assert!(status >= 400 && answer.contains("not verified"), "{status} {answer}");
    assert!(t.contains("itest-dev-data: CREATE_COMPLETE") && t.contains("itest-dev-api: CREATE_COMPLETE"), "{t}");
    assert!(t.contains("+ role/itest-dev-signup  dynamodb:PutItem"), "IAM changes are shown: {t}");
    let outputs: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&outputs_file).unwrap_or_default()).unwrap_or_default();
    assert!(outputs["ApiUrl"].as_str().is_some_and(|u| u.starts_with("https://") && u.ends_with("/dev")), "{outputs}");
    assert_eq!(outputs["TableName"], "itest-dev-users");
    // The DKIM records to add to DNS are among the outputs deploy prints.
    for n in 1..=3 {
        let name = outputs[format!("MailDkim{n}Name")].as_str().unwrap_or_default();
        let value = outputs[format!("MailDkim{n}Value")].as_str().unwrap_or_default();
        assert!(name.ends_with("._domainkey.dev.itest.example.com"), "{outputs}");
        assert!(value.ends_with(".dkim.amazonses.com"), "{outputs}");
    }
    // The stage's web ACL was made and put in front of the stage (moto's CloudFormation needs the
    // launcher for both), with the per-IP limits of the template.
    let api_id = outputs["RestApiId"].as_str().unwrap_or_else(|| panic!("no RestApiId in {outputs}"));
    let stage_arn = format!("arn:aws:apigateway:us-east-1::/restapis/{api_id}/stages/dev");
    let acl = web_acl_for(&p.moto.endpoint(), &stage_arn);
    assert_eq!(acl["Name"], "itest-dev-api-acl", "no web ACL on {stage_arn}: {acl}");
    let limits: Vec<(&str, u64)> = acl["Rules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| Some((r["Name"].as_str()?, r["Statement"]["RateBasedStatement"]["Limit"].as_u64()?)))
        .collect();
    assert_eq!(limits, [("auth-ip-rate", 100), ("all-ip-rate", 2000)], "{acl}");
    let status = text_of(&p.aws("status", "dev", &[]));
    assert_eq!(count(&status, "REVIEW_IN_PROGRESS"), 3, "every stack began as a CREATE change set: {status}");

    // The same again: nothing uploaded, nothing executed.
    let before = p.requests();
    let started = std::time::Instant::now();
    let out = p.deploy("dev", &[]);
    let elapsed = started.elapsed();
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert_eq!(count(&t, " unchanged "), functions, "{t}");
    assert_eq!(count(&t, "\nno changes\n"), 3, "{t}");
    assert!(t.contains("no changes: every stack is up to date") && !t.contains("_COMPLETE"), "{t}");
    eprintln!("no-op deploy: {} AWS API calls, {:.0} ms wall", p.requests() - before, elapsed.as_secs_f64() * 1000.0);

    // One handler changed: only its zip is uploaded, only the api stack is updated.
    p.set_binary("signup", "fake signup v2");
    let out = p.deploy("dev", &[]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert_eq!(count(&t, " uploaded "), 1, "{t}");
    assert!(t.contains("signup     uploaded"), "{t}");
    assert!(t.contains("Modify   SignupFunction"), "{t}");
    assert!(!t.contains("Modify   SigninFunction"), "{t}");
    assert!(t.contains("itest-dev-api: UPDATE_COMPLETE") && !t.contains("itest-dev-data: UPDATE"), "{t}");

    // An infrastructure change: the rows that will change are shown before execution.
    p.write_config(&STAGES.replace("memory_mb = 256", "memory_mb = 512"));
    let out = p.deploy("dev", &[]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let table_at = t.find("Modify   HelloFunction").unwrap_or_else(|| panic!("no modify row: {t}"));
    let executed_at = t.find("itest-dev-api: UPDATE_COMPLETE").unwrap_or_else(|| panic!("not executed: {t}"));
    assert!(table_at < executed_at);
    assert!(t.contains("Modify   AuthorizerFunction"), "{t}");
    assert!(!t.contains("Modify   SigninFunction"), "signin sets its own memory: {t}");

    // Drift: the synthesized templates now say something the deployed ones do not.
    assert_eq!(p.aws("diff", "dev", &[]).status.code(), Some(0));
    p.write_config(
        &STAGES.replace("memory_mb = 256", "memory_mb = 512").replace("timeout_seconds = 10", "timeout_seconds = 20"),
    );
    let out = p.aws("diff", "dev", &[]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("~ Resources.HelloFunction (AWS::Lambda::Function)") && t.contains("Properties.Timeout: 10 -> 20"),
        "{t}"
    );
    assert!(t.contains("itest-dev-data: no differences"), "{t}");

    // Destroy removes the api stack and keeps the data.
    let out = p.aws("destroy", "dev", &["--yes"]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("itest-dev-api: deleted") && t.contains("kept itest-dev-data"), "{t}");
    let status = text_of(&p.aws("status", "dev", &[]));
    assert!(
        status.contains("itest-dev-api: not deployed") && status.contains("itest-dev-data: CREATE_COMPLETE"),
        "{status}"
    );
    assert!(web_acl_for(&p.moto.endpoint(), &stage_arn).is_null(), "the web ACL went with the api stack");
}

/// A hand-made change to a function, as in the console: `UpdateFunctionConfiguration` with a new memory size,
/// sent to moto's Lambda API (which checks no signature).
fn set_memory_by_hand(endpoint: &str, function: &str, megabytes: u32) {
    use std::io::{Read as _, Write as _};
    let address = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let body = format!("{{\"MemorySize\": {megabytes}}}");
    let mut stream = std::net::TcpStream::connect(address).unwrap_or_else(|e| panic!("{address}: {e}"));
    write!(
        stream,
        "PUT /2015-03-31/functions/{function}/configuration HTTP/1.0\r\nHost: {address}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20261207/us-east-1/lambda/aws4_request, SignedHeaders=host, \
         Signature=0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap_or_else(|e| panic!("{e}"));
    assert!(response.starts_with("HTTP/1.") && response.contains(" 200 "), "{response}");
}

/// Issue 28: a change made outside CloudFormation is drift. `drift` shows the resource and the property
/// and exits 1; deploy refuses a protected stage that drifted unless `--allow-drift`.
#[test]
fn a_hand_made_change_is_drift_and_a_protected_stage_is_not_deployed_over_it() {
    let p = Project::new("deploy-drift");
    let out = p.deploy("vault", &["--approve-iam"]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let out = p.aws("drift", "vault", &[]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("itest-vault-api: in sync") && t.contains("itest-vault-data: in sync"), "{t}");

    set_memory_by_hand(&p.moto.endpoint(), "itest-vault-hello", 2048);
    let out = p.aws("drift", "vault", &[]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("itest-vault-api: 1 drifted resource(s)"), "{t}");
    assert!(t.contains("~ HelloFunction (AWS::Lambda::Function): MODIFIED"), "{t}");
    assert!(t.contains("NOT_EQUAL /MemorySize: template 256, deployed 2048"), "{t}");
    eprintln!("drift after a hand-made change (the README shows it):\n{t}");

    // A deploy with a change would run over the fix: refused before anything is built or uploaded.
    p.set_binary("hello", "fake hello v2");
    let before = p.requests();
    let out = p.deploy("vault", &[]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("drifted from their templates") && t.contains("--allow-drift"), "{t}");
    assert!(!t.contains("uploaded") && !t.contains("UPDATE_COMPLETE"), "{t}");
    assert!(p.requests() > before, "drift was detected");
    let out = p.deploy("vault", &["--allow-drift"]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("deploying over drift") && t.contains("itest-vault-api: UPDATE_COMPLETE"), "{t}");
}

#[test]
fn flags_guard_what_ci_must_not_wave_through() {
    let p = Project::new("deploy-gates");

    // Without a terminal, --yes is required.
    let out = p.aws("deploy", "dev", &["--artifacts", &p.artifacts.to_string_lossy()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text_of(&out).contains("pass --yes"), "{}", text_of(&out));

    // A first deploy grants IAM access: refused without --approve-iam, and nothing is left behind.
    let out = p.deploy("dev", &[]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("re-run with --approve-iam"), "{t}");
    assert!(text_of(&p.aws("status", "dev", &[])).contains("itest-dev-data: not deployed"));

    // Templates that differ from stages.toml are not deployed.
    std::fs::write(p.dir.join("stages.toml"), STAGES.replace("memory_mb = 256", "memory_mb = 640"))
        .unwrap_or_else(|e| panic!("{e}"));
    let out = p.deploy("dev", &["--approve-iam"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text_of(&out).contains("templates/dev/api.yaml is stale"), "{}", text_of(&out));
    p.write_config(STAGES);

    // Credentials of another account are refused before anything is touched.
    p.write_config(&STAGES.replace("[stages.dev]", "[stages.dev]\naccount = \"999999999999\""));
    let out = p.deploy("dev", &["--approve-iam"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text_of(&out).contains("credentials are for account 123456789012, but stage dev deploys to 999999999999"),
        "{}",
        text_of(&out)
    );
    p.write_config(STAGES);

    // Switching the table and the key to imported ones would remove the created ones: refused without its
    // flag. The harness pages a change set one change at a time (as CloudFormation pages a large one), so
    // one of the two removals is on a later page than the other: both are listed and gated alike.
    assert_eq!(p.deploy("dev", &["--approve-iam"]).status.code(), Some(0));
    p.write_config(&STAGES.replace(
        "[stages.dev]",
        "[stages.dev]\ntable = \"arn:aws:dynamodb:us-east-1:123456789012:table/Legacy-Auth\"\nkey = \
         \"arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555\"",
    ));
    let out = p.deploy("dev", &["--approve-iam"]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    for removed in ["Remove   PasswordKey", "Remove   UsersTable"] {
        let line = t.lines().find(|l| l.contains(removed)).unwrap_or_else(|| panic!("{removed} missing: {t}"));
        assert!(line.contains("loses data"), "{line}");
    }
    assert!(t.contains("removes PasswordKey (AWS::KMS::Key)") && t.contains("removes UsersTable"), "{t}");
    assert!(t.contains("re-run with --approve-data-loss"), "{t}");

    // A protected stage is not destroyed by accident.
    let out = p.aws("destroy", "vault", &["--yes"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text_of(&out).contains("stage vault is protected"), "{}", text_of(&out));
}

#[test]
fn a_rejected_change_fails_with_its_reason() {
    let p = Project::new("deploy-rejected");
    // A protected stage retains its data when destroyed; deploying it again collides with what was kept.
    assert_eq!(p.deploy("vault", &["--approve-iam"]).status.code(), Some(0));
    let out = p.aws("destroy", "vault", &["--yes", "--force", "--include-data", "--confirm-stage", "vault"]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("kept (DeletionPolicy: Retain): UsersTable itest-vault-users (AWS::DynamoDB::Table)"), "{t}");

    let out = p.deploy("vault", &["--approve-iam"]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("error:") && t.contains("already exists"), "the emulator's reason is shown: {t}");
}

#[test]
fn build_refuses_an_architecture_it_cannot_build() {
    // This machine has no aarch64 target; asking for arm64 must say what to install.
    if std::env::consts::ARCH == "aarch64" {
        return;
    }
    let dir = scratch::dir("build-arm64");
    std::fs::write(dir.join("stages.toml"), STAGES.replace("x86_64", "arm64")).unwrap_or_else(|e| panic!("{e}"));
    let target_present = Command::new("rustc")
        .args(["--print", "target-libdir", "--target", "aarch64-unknown-linux-gnu"])
        .output()
        .is_ok_and(|o| {
            o.status.success()
                && Path::new(String::from_utf8_lossy(&o.stdout).trim()).read_dir().is_ok_and(|mut d| d.next().is_some())
        });
    if target_present {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["--config", &dir.join("stages.toml").to_string_lossy(), "build", "--stage", "dev"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    assert!(text_of(&out).contains("rustup target add aarch64-unknown-linux-gnu"), "{}", text_of(&out));
}

#[test]
fn large_templates_go_by_url_and_no_execute_leaves_change_sets() {
    let p = Project::new("deploy-large");
    // Tags on every resource make the api template larger than CloudFormation takes inline.
    let tags: Vec<String> = (0..45)
        .map(|i| format!("\"tag-{i:02}\" = \"a value long enough to add up to a template too large to inline {i:02}\""))
        .collect();
    let config = STAGES.replace("[stages.dev]", &format!("[stages.dev]\ntags = {{ {} }}", tags.join(", ")));
    p.write_config(&config);
    let size = std::fs::metadata(p.dir.join("templates/dev/api.yaml")).map(|m| m.len()).unwrap_or(0);
    assert!(size > 51_200, "the api template is only {size} bytes");

    // --no-execute stops at the first new stack: the next ones import what it exports.
    let out = p.deploy("dev", &["--no-execute"]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("change set left for review") && t.contains("the next stacks depend on itest-bootstrap"), "{t}");
    assert!(!t.contains("_COMPLETE"), "nothing was executed: {t}");

    let out = p.deploy("dev", &["--approve-iam"]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("over the 51200 CloudFormation takes inline: passed as https://itest-artifacts-123456789012-us-east-1.s3.us-east-1.amazonaws.com/templates/itest-dev-api/"), "{t}");
    assert!(t.contains("itest-dev-api: CREATE_COMPLETE"), "{t}");

    // An update left for review changes nothing deployed.
    p.write_config(&config.replace("memory_mb = 256", "memory_mb = 320"));
    let out = p.deploy("dev", &["--no-execute"]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("Modify   HelloFunction") && t.contains("change set left for review"), "{t}");
    assert_eq!(p.aws("diff", "dev", &[]).status.code(), Some(1), "the change was not applied");

    // Plan and apply: the plan lists the change set, and applying it runs exactly that one.
    let plan = p.dir.join("plan.json");
    let plan_arg = plan.to_string_lossy().into_owned();
    let out = p.deploy("dev", &["--no-execute", "--summary-file", &plan_arg]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("not risky"), "{t}");
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&plan).unwrap_or_default()).unwrap_or_default();
    assert_eq!(written["stacks"][0]["stack"], "itest-dev-api", "{written}");
    let planned_set = written["stacks"][0]["change_set"].as_str().unwrap_or_default().to_owned();
    assert!(planned_set.starts_with("arn:aws:cloudformation:"), "{written}");
    assert!(written["stacks"][0]["grants"].as_array().is_some_and(Vec::is_empty), "{written}");

    // Another change runs on the stack before the plan is applied: the plan is stale, nothing runs.
    p.write_config(&config.replace("memory_mb = 256", "memory_mb = 384"));
    assert_eq!(p.deploy("dev", &[]).status.code(), Some(0));
    let out = p.aws("deploy", "dev", &["--yes", "--execute-plan", &plan_arg]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("changed since the plan") || t.contains("cannot run as planned"), "{t}");
    assert!(!t.contains("itest-dev-api: UPDATE_COMPLETE"), "nothing was executed: {t}");

    // A fresh plan applies, and leaves the stack as synthesized.
    p.write_config(&config.replace("memory_mb = 256", "memory_mb = 448"));
    assert_eq!(p.deploy("dev", &["--no-execute", "--summary-file", &plan_arg]).status.code(), Some(0));
    let out = p.aws("deploy", "dev", &["--yes", "--execute-plan", &plan_arg]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("itest-dev-api: UPDATE_COMPLETE"), "{t}");
    assert_eq!(p.aws("diff", "dev", &[]).status.code(), Some(0), "the planned change was applied");
    // Applied once, the change set cannot run again.
    let again = p.aws("deploy", "dev", &["--yes", "--execute-plan", &plan_arg]);
    assert_eq!(again.status.code(), Some(2), "{}", text_of(&again));
}

/// A connection made through the real SDK against the harness: `PENDING` as CloudFormation or the API
/// leave it on AWS, or `AVAILABLE` as after its hand-shake in the console (a harness-only tag).
fn connection(endpoint: &str, available: bool) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        let config = xtask::local::data::sdk_config(endpoint, "us-east-1").await;
        let client = aws_sdk_codeconnections::Client::new(&config);
        let mut create = client.create_connection().connection_name("itest").provider_type("GitHub".into());
        if available {
            create = create.tags(
                aws_sdk_codeconnections::types::Tag::builder()
                    .key("harness:status")
                    .value("AVAILABLE")
                    .build()
                    .unwrap_or_else(|e| panic!("{e}")),
            );
        }
        create.send().await.unwrap_or_else(|e| panic!("{e:?}")).connection_arn
    })
}

/// A commit id for `[pipeline] reviewer`.
const REVIEWER: &str = "0123456789abcdef0123456789abcdef01234567";

/// The value of `KEY` after a shell reads the `export KEY='value'` lines, as the review build does.
fn exported(stdout: &str, key: &str) -> String {
    assert!(stdout.contains(&format!("export {key}=")), "no {key} in {stdout}");
    let script = format!("{stdout}\nprintf '%s' \"${key}\"");
    let out = Command::new("sh").arg("-c").arg(&script).output().unwrap_or_else(|e| panic!("sh: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What CodePipeline and CodeBuild hold of `execution` once Source took `commit` and Plan wrote `plan`,
/// recorded as `cargo xtask pipeline run --local` reports them: the Plan build (with the commit it built)
/// and the two actions with what they exported. Returns nothing: the review reads them back.
fn record_run(endpoint: &str, execution: &str, commit: &str, plan: &str) {
    use aws_sdk_codebuild::types::{
        ArtifactsType, ComputeType, EnvironmentType, ProjectArtifacts, ProjectEnvironment, ProjectSource, SourceType,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        let config = xtask::local::data::sdk_config(endpoint, "us-east-1").await;
        let codebuild = aws_sdk_codebuild::Client::new(&config);
        let project = "itest-dev-ci-plan";
        let exists = codebuild.batch_get_projects().names(project).send().await.is_ok_and(|p| !p.projects().is_empty());
        if !exists {
            fn ok<T>(e: aws_sdk_codebuild::error::BuildError) -> T {
                panic!("{e:?}")
            }
            codebuild
                .create_project()
                .name(project)
                // The API wants a source location (CloudFormation's CODEPIPELINE projects go around that check).
                .source(
                    ProjectSource::builder()
                        .r#type(SourceType::S3)
                        .location("itest-artifacts-123456789012-us-east-1/source.zip")
                        .build()
                        .unwrap_or_else(ok),
                )
                .artifacts(ProjectArtifacts::builder().r#type(ArtifactsType::NoArtifacts).build().unwrap_or_else(ok))
                .environment(
                    ProjectEnvironment::builder()
                        .r#type(EnvironmentType::LinuxContainer)
                        .image("aws/codebuild/amazonlinux-x86_64-standard:5.0")
                        .compute_type(ComputeType::BuildGeneral1Large)
                        .build()
                        .unwrap_or_else(ok),
                )
                .service_role("arn:aws:iam::123456789012:role/itest-dev-ci-plan")
                .send()
                .await
                .unwrap_or_else(|e| panic!("{e:?}"));
        }
        let build = codebuild.start_build().project_name(project).source_version(commit).send().await;
        let build = build.unwrap_or_else(|e| panic!("{e:?}")).build_value.and_then(|b| b.id).unwrap_or_default();
        for (stage, variables, external) in [
            ("Source", serde_json::json!({"CommitId": commit}), None),
            ("Plan", serde_json::json!({"PLAN_DIGEST": sha256_of(plan)}), Some(build.clone())),
        ] {
            let body = serde_json::json!({
                "pipelineName": "itest-dev", "pipelineExecutionId": execution, "stageName": stage,
                "actionName": stage, "status": "Succeeded", "outputVariables": variables,
                "externalExecutionId": external,
            });
            xtask::pipeline::local::post_harness(endpoint, "CodePipeline_20150709.HarnessRecordActionExecution", &body)
                .await
                .unwrap_or_else(|e| panic!("{e:#}"));
        }
    });
}

fn sha256_of(path: &str) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// `stages` with a pipeline for every stage: its function roles carry the stage's boundary.
fn with_pipeline(stages: &str) -> String {
    format!(
        "{stages}\n[pipeline]\nconnection_arn = \"arn:aws:codeconnections:us-east-1:123456789012:connection/\
         0f3c8a52-6d1e-4b7a-9c2d-5e8f1a3b7c90\"\nrepository = \"example-org/auth\"\nreviewer = \"{REVIEWER}\"\n\
         reviewer_sha256 = {{ x86_64 = \"{}\" }}\n",
        "ab".repeat(32)
    )
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "one pipeline run against one emulator, read top to bottom: each step (plan, review, approve, apply, \
              each tampering) acts on the state the steps before it left"
)]
fn the_pipelines_review_decides_from_the_change_sets_and_its_apply_runs_only_the_reviewed_list() {
    let p = Project::new("deploy-review");
    let endpoint = p.moto.endpoint();
    p.write_config(&with_pipeline(STAGES));
    assert_eq!(p.deploy("dev", &["--approve-iam"]).status.code(), Some(0));
    let file = |name: &str| p.dir.join(name).to_string_lossy().into_owned();
    // Each review is of the execution `run` whose Plan wrote `recorded` (what CodePipeline holds), and
    // reads `plan` (what the artifact store holds).
    let review = |plan: &str, recorded: &str, run: &str| {
        record_run(&endpoint, run, REVIEWER, recorded);
        let out = file("reviewed.json");
        let args = [
            "pipeline",
            "review",
            "--project",
            "itest",
            "--stage",
            "dev",
            "--plan",
            plan,
            "--pipeline",
            "itest-dev",
            "--execution",
            run,
            "--artifact-bucket",
            "itest-artifacts-123456789012-us-east-1",
            "--out",
            &out,
            "--endpoint-url",
            &endpoint,
            "--region",
            "us-east-1",
        ];
        p.xtask(&args)
    };
    let apply = |digest: &str, run: &str, approval: &str| {
        p.xtask(&[
            "pipeline",
            "apply",
            "--project",
            "itest",
            "--stage",
            "dev",
            "--reviewed",
            &file("reviewed.json"),
            "--digest",
            digest,
            "--pipeline",
            "itest-dev",
            "--execution",
            run,
            "--approval",
            approval,
            "--endpoint-url",
            &endpoint,
            "--region",
            "us-east-1",
        ])
    };
    let plan = |name: &str, run: &str| {
        let out = p.deploy("dev", &["--no-execute", "--summary-file", &file(name), "--run-id", run]);
        assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    };

    // A code-and-memory change: no new grant, no person needed.
    p.write_config(&with_pipeline(&STAGES.replace("memory_mb = 256", "memory_mb = 320")));
    plan("plan.json", "run-1");
    let out = review(&file("plan.json"), &file("plan.json"), "run-1");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    assert_eq!(exported(&stdout, "RISKY"), "false");
    let digest = exported(&stdout, "REVIEW_DIGEST");
    // Each function's code is pinned to the version Plan uploaded, whose SHA-256 is its key's.
    let reviewed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file("reviewed.json")).unwrap_or_default()).unwrap_or_default();
    let code = &reviewed["stacks"][0]["code"];
    assert!(code.as_array().is_some_and(|c| c.len() >= 4), "{reviewed}");
    assert!(code[0]["version"].as_str().is_some_and(|v| !v.is_empty() && v != "null"), "{reviewed}");

    // A plan file swapped after Plan (its digest is not the one Plan exported): refused.
    std::fs::write(file("other.json"), "{}").unwrap_or_else(|e| panic!("{e}"));
    let out = review(&file("plan.json"), &file("other.json"), "run-1");
    assert_eq!(out.status.code(), Some(2), "{}", text_of(&out));
    assert!(text_of(&out).contains("not the plan this run made"), "{}", text_of(&out));
    // Change sets made by another run (or outside any): refused.
    let out = review(&file("plan.json"), &file("plan.json"), "run-9");
    assert_eq!(out.status.code(), Some(2), "{}", text_of(&out));
    assert!(text_of(&out).contains("was not made by this run"), "{}", text_of(&out));

    // The plan lies about its grants: the review reads the change set, not the plan's rows.
    p.write_config(&with_pipeline(&STAGES.replace("[defaults]", "[defaults]\nauthorizer_cache_ttl_seconds = 120")));
    plan("plan2.json", "run-2");
    let mut lying: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file("plan2.json")).unwrap_or_default()).unwrap_or_default();
    for stack in lying["stacks"].as_array_mut().into_iter().flatten() {
        stack["grants"] = serde_json::json!([]);
    }
    std::fs::write(file("lying.json"), lying.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let out = review(&file("lying.json"), &file("lying.json"), "run-2");
    let risky = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    assert_eq!(exported(&risky, "RISKY"), "true", "{}", text_of(&out));
    let approval = exported(&risky, "APPROVAL");
    assert!(
        approval.starts_with("commit 0123456789ab: 1 to approve (1 grant)") && approval.contains("(caches answers by)"),
        "{approval}"
    );
    // Risky, and nobody approved run-2: refused, nothing executed.
    let risky_digest = exported(&risky, "REVIEW_DIGEST");
    let out = apply(&risky_digest, "run-2", "risky");
    assert_eq!(out.status.code(), Some(2), "{}", text_of(&out));
    assert!(text_of(&out).contains("needs a person's approval"), "{}", text_of(&out));

    // A plan naming another stage's stack, or a stack only a person deploys, is refused by name.
    for (stack, why) in
        [("itest-vault-api", "not one of this stage's"), ("itest-dev-pipeline", "only a person deploys")]
    {
        let mut foreign = lying.clone();
        foreign["stacks"][0]["stack"] = serde_json::json!(stack);
        std::fs::write(file("foreign.json"), foreign.to_string()).unwrap_or_else(|e| panic!("{e}"));
        let out = review(&file("foreign.json"), &file("foreign.json"), "run-2");
        assert_eq!(out.status.code(), Some(2), "{}", text_of(&out));
        assert!(text_of(&out).contains(why), "{}", text_of(&out));
    }

    // The list the last review wrote is the risky one; the first review's digest does not match it.
    let out = apply(&digest, "run-1", "risky");
    assert_eq!(out.status.code(), Some(2), "{}", text_of(&out));
    assert!(text_of(&out).contains("not the list that was reviewed"), "{}", text_of(&out));
    // Reviewed again, and edited after the review: refused, nothing executed.
    let out = review(&file("plan.json"), &file("plan.json"), "run-1");
    let digest = exported(&String::from_utf8_lossy(&out.stdout), "REVIEW_DIGEST");
    let reviewed = std::fs::read_to_string(file("reviewed.json")).unwrap_or_default();
    std::fs::write(file("reviewed.json"), reviewed.replace("\"creating\": false", "\"creating\":false"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(apply(&digest, "run-1", "risky").status.code(), Some(2));
    assert_eq!(p.aws("diff", "dev", &[]).status.code(), Some(1), "nothing ran");
    std::fs::write(file("reviewed.json"), &reviewed).unwrap_or_else(|e| panic!("{e}"));
    // Another run's list, even as reviewed: refused. A stage that always asks a person: refused here too.
    assert!(text_of(&apply(&digest, "run-2", "risky")).contains("not of this execution"));
    assert!(text_of(&apply(&digest, "run-1", "always")).contains("needs a person's approval"));
    // The list as reviewed runs, exactly.
    let out = apply(&digest, "run-1", "risky");
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("no approval needed") && t.contains("itest-dev-api: UPDATE_COMPLETE"), "{t}");
}

#[test]
fn a_pipeline_is_set_up_once_its_connection_is_available_and_changes_to_it_are_gated() {
    let p = Project::new("deploy-pipeline");
    let endpoint = p.moto.endpoint();
    let pending = connection(&endpoint, false);
    let available = connection(&endpoint, true);
    // A reviewer binary (this build's xtask, which takes the flags its pipeline passes), uploaded by a
    // person before the pipeline that runs it.
    let binary = std::path::PathBuf::from(env!("CARGO_BIN_EXE_xtask"));
    let reviewer_sha = sha256_of(&binary.to_string_lossy());
    let with = |arn: &str, branch: &str| {
        format!(
            "{STAGES}\n[pipeline]\nconnection_arn = \"{arn}\"\nrepository = \"example-org/auth\"\n\
             reviewer = \"{REVIEWER}\"\nreviewer_sha256 = {{ x86_64 = \"{reviewer_sha}\" }}\n\n[stages.dev.pipeline]\n\
             branch = \"{branch}\"\n"
        )
    };
    let pipeline_deploy = |extra: &[&str]| {
        let mut args = vec!["pipeline", "deploy", "--stage", "dev", "--endpoint-url", &endpoint, "--yes"];
        args.extend(extra);
        p.xtask(&args)
    };

    // PENDING: nothing is deployed, and the user is told what to click.
    p.write_config(&with(&pending, "dev"));
    let out = pipeline_deploy(&["--approve-iam"]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("is PENDING") && t.contains("Update pending connection"), "{t}");
    assert!(!t.contains("itest-dev-pipeline"), "nothing was planned: {t}");

    // AVAILABLE, but the binary the pipeline would run is not uploaded: nothing is deployed.
    p.write_config(&with(&available, "dev"));
    let out = pipeline_deploy(&["--approve-iam"]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("is not there") && t.contains("cargo xtask pipeline reviewer --stage dev"), "{t}");
    let binary_arg = binary.to_string_lossy().into_owned();
    let out =
        p.xtask(&["pipeline", "reviewer", "--stage", "dev", "--binary", &binary_arg, "--endpoint-url", &endpoint]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains(&format!("uploaded s3://itest-artifacts-123456789012-us-east-1/reviewer/{reviewer_sha}/xtask")),
        "{t}"
    );
    assert!(t.contains("stages.toml pins this binary"), "{t}");

    // The pipeline's roles are new grants, which need --approve-iam.
    let out = pipeline_deploy(&[]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("not deploying itest-bootstrap") && t.contains("ApiGatewayLogsRole"),
        "the new grants are shown: {t}"
    );
    let out = pipeline_deploy(&["--approve-iam"]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("itest-dev-pipeline: CREATE_COMPLETE") && t.contains("PipelineName = itest-dev"), "{t}");
    assert!(t.contains("== itest-bootstrap"), "a person deploys the region's bootstrap stack with it: {t}");
    let resources = text_of(&p.aws("status", "dev", &[]));
    assert!(resources.contains("itest-dev-pipeline"), "{resources}");
    assert!(p.moto_has("codepipeline", "itest-dev") && p.moto_has("codebuild", "itest-dev-ci-plan"));

    // A change to the pipeline itself (the branch it deploys from) is a changed access row: gated too.
    p.write_config(&with(&available, "release"));
    let out = pipeline_deploy(&[]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("to release of source action Source"), "{t}");
    let out = pipeline_deploy(&["--approve-iam"]);
    assert_eq!(out.status.code(), Some(0), "{}", text_of(&out));
    let out = pipeline_deploy(&[]);
    assert!(text_of(&out).contains("no changes"), "{}", text_of(&out));

    // Once set up, the stage's deploy keeps the pipeline stack current with the others.
    let out = p.deploy("dev", &["--approve-iam"]);
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let pipeline_part = t.split("== itest-dev-pipeline").nth(1).unwrap_or_default();
    assert!(pipeline_part.trim_start().starts_with("no changes"), "{t}");
}
