//! One CodeBuild build of a local pipeline run, as CodeBuild runs it in a fresh container:
//! - a directory of its own holds the container's `root` (`HOME`, as CodeBuild's `/root`), `src`
//!   (`$CODEBUILD_SRC_DIR`, the primary input), `src_<Name>` (secondary inputs) and `tmp` (`TMPDIR`);
//! - the build's credentials are its project role's (STS `AssumeRole`); with them it downloads its input
//!   artifacts and restores its S3 cache, and after the build uploads its output artifact and cache;
//! - the buildspec's phases run in one bash session (buildspec 0.2: `cd` and variables carry over), a
//!   failing command ends the build, and the `exported-variables` are read from the shell at the end;
//! - the environment is CodeBuild's (`CODEBUILD_*`, `AWS_REGION`, the credentials, the project's and the
//!   action's variables, the buildspec's `env.variables`) and this machine's `PATH` only;
//! - when the build ends, every process it started is ended, as a container's are.
//!
//! A cache path under `/root/` is the container's `root`; any other is relative to `src`.

use std::collections::BTreeMap;
use std::io::{BufRead as _, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};
use aws_sdk_s3::primitives::ByteStream;

use super::{Action, Artifact, Run, Stage, resolve};
use crate::aws::AwsResultExt as _;

/// The credentials of one assumed role.
struct Session {
    key: String,
    secret: String,
    token: String,
}

/// A build's view of S3: its own role's client.
fn s3_as(run: &Run, session: &Session) -> aws_sdk_s3::Client {
    let credentials = aws_credential_types::Credentials::new(
        session.key.clone(),
        session.secret.clone(),
        Some(session.token.clone()),
        None,
        "pipeline-run",
    );
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(run.options.region()))
        .endpoint_url(run.options.endpoint())
        .credentials_provider(credentials)
        .http_client(crate::aws::https_client())
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

async fn assume(run: &Run, role: &str, project: &str) -> anyhow::Result<Session> {
    let out = run
        .clients
        .sts
        .assume_role()
        .role_arn(role)
        .role_session_name(format!("{project}-{}", &run.execution[..run.execution.len().min(20)]))
        .duration_seconds(3600)
        .send()
        .await
        .aws()
        .with_context(|| format!("assuming {role}, the role of {project}"))?;
    let c = out.credentials.context("STS gave no credentials")?;
    Ok(Session { key: c.access_key_id, secret: c.secret_access_key, token: c.session_token })
}

/// A build's fresh container: `root` (HOME), `src` (the primary input), `tmp`.
fn container(run: &Run, stage: &Stage, action: &Action) -> anyhow::Result<PathBuf> {
    let container = run.options.work.join(format!("{}-{}", stage.name, action.name));
    if container.exists() {
        std::fs::remove_dir_all(&container).with_context(|| format!("removing {}", container.display()))?;
    }
    for dir in ["root", "src", "tmp"] {
        std::fs::create_dir_all(container.join(dir)).with_context(|| format!("creating {}", container.display()))?;
    }
    Ok(container)
}

/// Downloads the action's input artifacts as the build's role: the primary one into `src`, the others
/// into `src_<Name>`. Returns the `CODEBUILD_SRC_DIR_<Name>` variables and the commit the primary input
/// cloned, if it is a clone reference.
async fn inputs(
    run: &Run,
    action: &Action,
    s3: &aws_sdk_s3::Client,
    container: &Path,
    role: &str,
) -> anyhow::Result<(BTreeMap<String, String>, Option<String>)> {
    let primary = action.configuration.get("PrimarySource").or(action.inputs.first()).cloned().unwrap_or_default();
    let mut env = BTreeMap::new();
    let mut cloned = None;
    for input in &action.inputs {
        let dir = if *input == primary { container.join("src") } else { container.join(format!("src_{input}")) };
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let artifact = run.artifacts.get(input).cloned().with_context(|| format!("no artifact {input} yet"))?;
        let commit =
            fetch(s3, &artifact, &dir).await.with_context(|| format!("downloading artifact {input} as {role}"))?;
        if *input == primary {
            cloned = commit;
        }
        env.insert(format!("CODEBUILD_SRC_DIR_{input}"), dir.to_string_lossy().into_owned());
    }
    Ok((env, cloned))
}

/// The environment CodeBuild gives a build, then the project's, the action's (CodePipeline's variables
/// resolved) and the buildspec's variables, and this machine's `PATH` (the image's tools).
fn environment(
    run: &Run,
    (project, action, buildspec): (&aws_sdk_codebuild::types::Project, &Action, &yaml_serde::Value),
    container: &Path,
    session: &Session,
) -> anyhow::Result<BTreeMap<String, String>> {
    let path = |p: &Path| p.to_string_lossy().into_owned();
    let mut env = BTreeMap::from([
        ("HOME".to_owned(), path(&container.join("root"))),
        ("TMPDIR".to_owned(), path(&container.join("tmp"))),
        ("CODEBUILD_SRC_DIR".to_owned(), path(&container.join("src"))),
        ("CODEBUILD_INITIATOR".to_owned(), format!("codepipeline/{}", run.options.pipeline)),
        ("AWS_REGION".to_owned(), run.options.region()),
        ("AWS_DEFAULT_REGION".to_owned(), run.options.region()),
        ("AWS_ENDPOINT_URL".to_owned(), run.options.endpoint()),
        ("AWS_ACCESS_KEY_ID".to_owned(), session.key.clone()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), session.secret.clone()),
        ("AWS_SESSION_TOKEN".to_owned(), session.token.clone()),
    ]);
    for v in project.environment().map(|e| e.environment_variables()).unwrap_or_default() {
        env.insert(v.name().to_owned(), v.value().to_owned());
    }
    let declared = action.configuration.get("EnvironmentVariables").map_or("[]", String::as_str);
    let variables: Vec<serde_json::Value> =
        serde_json::from_str(&resolve(declared, &run.variables)).context("the action's EnvironmentVariables")?;
    for v in variables {
        let text = |key: &str| v[key].as_str().unwrap_or_default().to_owned();
        env.insert(text("name"), text("value"));
    }
    for (k, v) in buildspec["env"]["variables"].as_mapping().into_iter().flatten() {
        env.insert(scalar(k), scalar(v));
    }
    env.insert("PATH".to_owned(), run.options.path.to_string_lossy().into_owned());
    Ok(env)
}

/// Uploads the build's output artifact as its role, where CodePipeline keeps a run's artifacts.
async fn output(
    run: &mut Run,
    action: &Action,
    s3: &aws_sdk_s3::Client,
    buildspec: &yaml_serde::Value,
    src: &Path,
) -> anyhow::Result<()> {
    let Some(output) = action.outputs.first() else { return Ok(()) };
    let key = super::artifact_key(&run.options.pipeline, output);
    let zip = zip_files(src, &strings(&buildspec["artifacts"]["files"]))?;
    s3.put_object()
        .bucket(&run.artifact_bucket)
        .key(&key)
        .body(ByteStream::from(zip))
        .send()
        .await
        .aws()
        .with_context(|| format!("uploading artifact {output}"))?;
    run.artifacts.insert(output.clone(), Artifact::Stored { bucket: run.artifact_bucket.clone(), key });
    Ok(())
}

/// What a build gave: its exported variables, or why it failed.
pub(super) type Outcome = Result<BTreeMap<String, String>, String>;

/// Runs `action` (a CodeBuild action of `stage`): the outcome and the CodeBuild build id, which CodeBuild
/// records with the commit it built (its resolved source version).
pub(super) async fn run(run: &mut Run, stage: &Stage, action: &Action) -> anyhow::Result<(Outcome, String)> {
    let name = action.configuration.get("ProjectName").cloned().unwrap_or_default();
    let project = run.projects.get(&name).cloned().with_context(|| format!("no build project {name}"))?;
    let role = project.service_role().unwrap_or_default().to_owned();
    let session = assume(run, &role, &name).await?;
    let s3 = s3_as(run, &session);
    let container = container(run, stage, action)?;
    let src = container.join("src");
    let (sources, cloned) = inputs(run, action, &s3, &container, &role).await?;
    let mut start = run.clients.codebuild.start_build().project_name(&name);
    if let Some(commit) = &cloned {
        start = start.source_version(commit);
    }
    let started = start.send().await.aws().with_context(|| format!("starting a build of {name}"))?;
    let build = started.build_value.and_then(|b| b.id).context("CodeBuild gave no build id")?;
    let text = project.source().and_then(|s| s.buildspec()).filter(|b| !b.is_empty());
    let text = text.with_context(|| format!("build project {name} has no inline buildspec"))?;
    let buildspec: yaml_serde::Value =
        yaml_serde::from_str(text).with_context(|| format!("{name}'s buildspec does not parse"))?;
    let cache = project.cache().filter(|c| c.r#type().as_str() == "S3").and_then(|c| c.location().map(str::to_owned));
    if let Some(location) = &cache {
        restore_cache(&s3, location, &container).await?;
    }
    let mut env = environment(run, (&project, action, &buildspec), &container, &session)?;
    env.extend(sources);
    env.insert("CODEBUILD_BUILD_ID".to_owned(), build.clone());
    if let Some(commit) = &cloned {
        env.insert("CODEBUILD_RESOLVED_SOURCE_VERSION".to_owned(), commit.clone());
    }
    let exports = container.join("exported");
    let script = script(&buildspec, &strings(&buildspec["env"]["exported-variables"]), &exports);
    println!("-- {} ({name}, as {role})", action.name);
    let (status, reason) = shell(&script, &src, &env, &action.name)?;
    if status != 0 {
        let why = reason.map_or_else(|| "its output is above".to_owned(), |r| r.trim().to_owned());
        return Ok((Err(format!("the {} build failed (exit status {status}): {why}", action.name)), build));
    }
    let exported = read_exports(&exports)?;
    if let Some(location) = &cache {
        save_cache(&s3, location, &container, &strings(&buildspec["cache"]["paths"])).await?;
    }
    output(run, action, &s3, &buildspec, &src).await.with_context(|| format!("as {role}"))?;
    Ok((Ok(exported), build))
}

fn scalar(v: &yaml_serde::Value) -> String {
    match v {
        yaml_serde::Value::String(s) => s.clone(),
        other => yaml_serde::to_string(other).unwrap_or_default().trim().to_owned(),
    }
}

fn strings(v: &yaml_serde::Value) -> Vec<String> {
    v.as_sequence().into_iter().flatten().map(scalar).collect()
}

/// The buildspec's phases as one bash script: each command echoed and run, the build ended at the first
/// that fails; at the end, the exported variables written NUL-separated to `exports`.
fn script(buildspec: &yaml_serde::Value, exported: &[String], exports: &Path) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let mut out = String::new();
    for phase in ["install", "pre_build", "build", "post_build"] {
        let commands = strings(&buildspec["phases"][phase]["commands"]);
        if commands.is_empty() {
            continue;
        }
        out.push_str(&format!("echo '[Container] Entering phase {}'\n", phase.to_uppercase()));
        for c in commands {
            out.push_str(&format!("echo '[Container] Running command '{}\n", quote(&c)));
            out.push_str(&format!("{c}\n"));
            out.push_str(&format!(
                "__status=$?; if [ $__status -ne 0 ]; then echo \"[Container] Command did not exit successfully \
                 {} exit status $__status\"; exit $__status; fi\n",
                c.replace(['"', '$', '`', '\\'], "_")
            ));
        }
    }
    out.push_str(&format!(": > {}\n", quote(&exports.to_string_lossy())));
    for v in exported {
        out.push_str(&format!(
            "printf '%s=%s\\0' {} \"${{{v}-}}\" >> {}\n",
            quote(v),
            quote(&exports.to_string_lossy())
        ));
    }
    out
}

/// Runs `script` with bash in `dir` with exactly `env`, prefixing each output line with `who`, and ends
/// every process the build left behind. Returns the exit status and the last line the build wrote to
/// standard error that says `error` (the reason a failed build gives), if any.
fn shell(script: &str, dir: &Path, env: &BTreeMap<String, String>, who: &str) -> anyhow::Result<(i32, Option<String>)> {
    let mut child = Command::new("bash")
        .args(["--noprofile", "--norc", "-c", script])
        .current_dir(dir)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .context("starting bash")?;
    let group = child.id();
    let stderr = child.stderr.take().context("the build's stderr")?;
    let who_err = who.to_owned();
    let errors = std::thread::spawn(move || {
        let mut reason = None;
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            eprintln!("  {who_err} | {line}");
            if line.to_ascii_lowercase().contains("error") {
                reason = Some(line);
            }
        }
        reason
    });
    let stdout = child.stdout.take().context("the build's stdout")?;
    for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
        println!("  {who} | {line}");
    }
    let status = child.wait().context("waiting for the build")?;
    let reason = errors.join().unwrap_or_default();
    // The container ends: so does anything the build started and left running.
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{group}")]).stderr(Stdio::null()).status();
    let _ = std::io::stdout().flush();
    Ok((status.code().unwrap_or(1), reason))
}

fn read_exports(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(bytes
        .split(|b| *b == 0)
        .filter(|e| !e.is_empty())
        .filter_map(|e| {
            let text = String::from_utf8_lossy(e);
            text.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect())
}

/// Downloads an artifact into `dir`: a zip is unpacked; a clone reference (Source) is cloned at its
/// commit, which is returned, as CodeBuild clones a `CODEBUILD_CLONE_REF` artifact itself.
async fn fetch(s3: &aws_sdk_s3::Client, artifact: &Artifact, dir: &Path) -> anyhow::Result<Option<String>> {
    let Artifact::Stored { bucket, key } = artifact;
    let out =
        s3.get_object().bucket(bucket).key(key).send().await.aws().with_context(|| format!("s3://{bucket}/{key}"))?;
    let bytes = out.body.collect().await.context("reading the artifact")?.into_bytes();
    if let Ok(reference) = serde_json::from_slice::<serde_json::Value>(&bytes)
        && let (Some(repository), Some(commit)) =
            (reference["cloneRef"]["repository"].as_str(), reference["cloneRef"]["commit"].as_str())
    {
        let target = dir.to_string_lossy().into_owned();
        super::git(Path::new("."), &["clone", "--quiet", "--no-hardlinks", repository, &target])?;
        super::git(dir, &["checkout", "--quiet", "--detach", commit])?;
        return Ok(Some(super::git(dir, &["rev-parse", "HEAD"])?));
    }
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).context("the artifact is not a zip")?;
    archive.extract(dir).context("unpacking the artifact")?;
    Ok(None)
}

fn zip_files(src: &Path, files: &[String]) -> anyhow::Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for f in files {
        let bytes = std::fs::read(src.join(f)).with_context(|| format!("the build wrote no {f}"))?;
        writer.start_file(f.as_str(), options).context("zipping")?;
        writer.write_all(&bytes).context("zipping")?;
    }
    Ok(writer.finish().context("zipping")?.into_inner())
}

/// `bucket/prefix` split, and the cache object's key in it.
fn cache_object(location: &str) -> (String, String) {
    let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
    (bucket.to_owned(), format!("{}/cache.tar", prefix.trim_end_matches('/')))
}

/// The container directory a cache path names (`/root/.cargo/registry/**/*` is `root/.cargo/registry`).
fn cache_dir(path: &str) -> PathBuf {
    let stem = path.split("/**").next().unwrap_or(path).trim_end_matches("/*");
    match stem.strip_prefix("/root/") {
        Some(rest) => Path::new("root").join(rest),
        None => Path::new("src").join(stem.trim_start_matches('/')),
    }
}

async fn restore_cache(s3: &aws_sdk_s3::Client, location: &str, container: &Path) -> anyhow::Result<()> {
    let (bucket, key) = cache_object(location);
    let out = match s3.get_object().bucket(&bucket).key(&key).send().await.aws() {
        Ok(out) => out,
        Err(e) if e.is_not_found() || e.code.as_deref() == Some("NoSuchKey") => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("restoring the cache s3://{bucket}/{key}")),
    };
    let bytes = out.body.collect().await.context("reading the cache")?.into_bytes();
    let tar = container.join("cache.tar");
    std::fs::write(&tar, &bytes).with_context(|| format!("writing {}", tar.display()))?;
    let status = Command::new("tar").arg("-xf").arg(&tar).arg("-C").arg(container).status().context("running tar")?;
    if !status.success() {
        bail!("unpacking the cache failed");
    }
    println!("restored the cache from s3://{bucket}/{key}");
    Ok(())
}

async fn save_cache(s3: &aws_sdk_s3::Client, location: &str, container: &Path, paths: &[String]) -> anyhow::Result<()> {
    let dirs: Vec<PathBuf> = paths.iter().map(|p| cache_dir(p)).filter(|d| container.join(d).exists()).collect();
    if dirs.is_empty() {
        return Ok(());
    }
    let tar = container.join("cache-out.tar");
    let status = Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(container)
        .args(&dirs)
        .status()
        .context("running tar")?;
    if !status.success() {
        bail!("packing the cache failed");
    }
    let (bucket, key) = cache_object(location);
    let body = ByteStream::from_path(&tar).await.context("reading the cache archive")?;
    s3.put_object()
        .bucket(&bucket)
        .key(&key)
        .body(body)
        .send()
        .await
        .aws()
        .with_context(|| format!("saving the cache to s3://{bucket}/{key}"))?;
    Ok(())
}

/// A JSON 1.1 call to the emulator's harness (no SDK models it: it stands for what CodePipeline does
/// by itself on AWS).
pub async fn post_harness(endpoint: &str, target: &str, body: &serde_json::Value) -> anyhow::Result<()> {
    use http_body_util::BodyExt as _;
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<hyper::body::Bytes>>();
    let request = hyper::Request::post(endpoint)
        .header("X-Amz-Target", target)
        .header("Content-Type", "application/x-amz-json-1.1")
        .header("Authorization", "AWS4-HMAC-SHA256 Credential=harness/20261206/us-east-1/codepipeline/aws4_request")
        .body(http_body_util::Full::new(hyper::body::Bytes::from(body.to_string())))
        .context("the harness request")?;
    let response = client.request(request).await.with_context(|| format!("calling the emulator at {endpoint}"))?;
    let status = response.status();
    let text = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    if !status.is_success() {
        bail!("the emulator refused {target}: {status} {}", String::from_utf8_lossy(&text));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_paths_map_into_the_container() {
        assert_eq!(cache_dir("/root/.cargo/registry/**/*"), Path::new("root/.cargo/registry"));
        assert_eq!(cache_dir("target/**/*"), Path::new("src/target"));
        assert_eq!(
            cache_object("bucket/cache/auth-dev-ci-plan"),
            ("bucket".into(), "cache/auth-dev-ci-plan/cache.tar".into())
        );
    }

    #[test]
    fn a_build_stops_at_its_first_failing_command_and_exports_its_variables() {
        let dir = std::env::temp_dir().join(format!("xtask-build-script-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let spec: yaml_serde::Value = yaml_serde::from_str(
            "version: 0.2\nphases:\n  install:\n    commands:\n      - export A=\"it's $((1+1))\"\n  build:\n    commands:\n      - cd sub 2>/dev/null || mkdir -p sub && cd sub\n      - 'export B=\"$(pwd)\"'\n",
        )
        .unwrap();
        let exports = dir.join("exported");
        let env = BTreeMap::from([("PATH".to_owned(), std::env::var("PATH").unwrap_or_default())]);
        assert_eq!(shell(&script(&spec, &["A".into(), "B".into()], &exports), &dir, &env, "t").unwrap(), (0, None));
        let got = read_exports(&exports).unwrap();
        assert_eq!(got["A"], "it's 2");
        assert!(got["B"].ends_with("/sub"), "{got:?}");
        let failing: yaml_serde::Value =
            yaml_serde::from_str("phases:\n  build:\n    commands:\n      - 'false'\n      - touch ran\n").unwrap();
        assert_eq!(shell(&script(&failing, &[], &exports), &dir, &env, "t").unwrap().0, 1);
        assert!(!dir.join("sub/ran").exists() && !dir.join("ran").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
