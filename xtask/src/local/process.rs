//! The functions as real processes: each handler binary runs with the environment Lambda would give
//! it (the template's variables plus Lambda's own), pointed at the local Runtime API and the AWS
//! emulator; its output is echoed under the function's name and its death is reported, not hidden.

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;
use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};
use tokio::process::Command;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::runtime::RuntimeApi;
use super::template::FunctionSpec;

/// How many of a function's last output lines are kept to explain its death.
const KEPT_LINES: usize = 12;

/// The AWS side of every function's environment: the emulator's endpoint and dummy credentials.
#[derive(Debug, Clone)]
pub struct Aws {
    pub endpoint: String,
    pub region: String,
}

/// The environment Lambda gives a `provided.al2023` function, for one running locally. The process
/// starts from an empty environment, as on Lambda, so the caller's own AWS settings cannot leak in.
pub fn environment(spec: &FunctionSpec, runtime: &RuntimeApi, aws: &Aws, task_root: &Path) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = spec.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let stream = format!("local/[$LATEST]{}", super::request_id().replace('-', ""));
    let lambda = [
        ("AWS_LAMBDA_RUNTIME_API", runtime.addr().to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", spec.name.clone()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", spec.memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", spec.log_group.clone().unwrap_or_else(|| format!("/aws/lambda/{}", spec.name))),
        ("AWS_LAMBDA_LOG_STREAM_NAME", stream),
        ("_HANDLER", "bootstrap".to_owned()),
        ("LAMBDA_TASK_ROOT", task_root.display().to_string()),
        ("TZ", ":UTC".to_owned()),
        ("AWS_REGION", aws.region.clone()),
        ("AWS_DEFAULT_REGION", aws.region.clone()),
        // Lambda passes the role's session credentials in the environment; the emulator takes any.
        ("AWS_ACCESS_KEY_ID", "local".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "local".to_owned()),
        ("AWS_SESSION_TOKEN", "local".to_owned()),
        ("AWS_ENDPOINT_URL", aws.endpoint.clone()),
    ];
    env.extend(lambda.into_iter().map(|(k, v)| (k.to_owned(), v)));
    if let Some(format) = &spec.log_format {
        env.push(("AWS_LAMBDA_LOG_FORMAT".to_owned(), format.clone()));
    }
    // Ours to pass on: a search path, and the knobs a developer turns to see more.
    for name in ["PATH", "AWS_LAMBDA_LOG_LEVEL", "RUST_LOG", "RUST_BACKTRACE"] {
        if let Some(value) = std::env::var_os(name) {
            env.push((name.to_owned(), value.to_string_lossy().into_owned()));
        }
    }
    env
}

/// Where a function's output goes besides the lines kept to explain its death.
#[derive(Debug, Clone)]
pub struct Output {
    /// Printed under the function's name.
    pub echo: bool,
    /// Shipped to this CloudWatch Logs (the emulator's), into the function's log group.
    pub logs: Option<aws_sdk_cloudwatchlogs::Client>,
}

/// A running function process.
#[derive(Debug)]
pub struct Process {
    pub pid: u32,
    stop: Option<oneshot::Sender<()>>,
    supervisor: JoinHandle<()>,
}

/// Starts `binary` for `spec` against `runtime`. When it exits on its own, `runtime` is marked down
/// (its callers get an immediate error) and the exit is reported on stderr with its last output.
pub fn spawn(
    binary: &Path,
    spec: &FunctionSpec,
    runtime: &RuntimeApi,
    aws: &Aws,
    output: Output,
) -> anyhow::Result<Process> {
    let task_root = binary.parent().unwrap_or(Path::new("."));
    let env = environment(spec, runtime, aws, task_root);
    let shipper = output.logs.map(|client| {
        let named = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default();
        super::shipper::Shipper::start(client, named("AWS_LAMBDA_LOG_GROUP_NAME"), named("AWS_LAMBDA_LOG_STREAM_NAME"))
    });
    let echo = output.echo;
    let mut child = Command::new(binary)
        .env_clear()
        .envs(env)
        .current_dir(task_root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group: a Ctrl-C in the terminal is ours to handle; we stop the functions,
        // rather than each dying of SIGINT and being reported as a crash.
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {} ({})", spec.name, binary.display()))?;
    let pid = child.id().unwrap_or_default();
    let lines = Arc::new(Mutex::new(VecDeque::with_capacity(KEPT_LINES)));
    let label: Arc<str> = spec.function.name().into();
    let readers = [
        child
            .stdout
            .take()
            .map(|out| tokio::spawn(forward(out, label.clone(), lines.clone(), (echo, shipper.clone())))),
        child
            .stderr
            .take()
            .map(|err| tokio::spawn(forward(err, label.clone(), lines.clone(), (echo, shipper.clone())))),
    ];
    let (stop, stopped) = oneshot::channel();
    let runtime = runtime.clone();
    let name = spec.name.clone();
    let supervisor = tokio::spawn(async move {
        let status = tokio::select! {
            status = child.wait() => status,
            _ = stopped => {
                let _ = child.kill().await;
                return;
            }
        };
        // Let the readers drain what the process wrote before it died.
        for reader in readers.into_iter().flatten() {
            let _ = reader.await;
        }
        let status = status.map_or_else(|e| format!("an unknown status ({e})"), |s| s.to_string());
        let last: Vec<String> = lines.lock().unwrap_or_else(PoisonError::into_inner).iter().cloned().collect();
        let why = match runtime.down() {
            Some(init_error) => format!("{init_error}; the process then exited with {status}"),
            None => format!("function {name} (pid {pid}) exited with {status}"),
        };
        eprintln!(
            "\nerror: {why}; requests that need it now fail at once (502, or 500 for an authorizer, as API Gateway answers) \
             until `cargo xtask local` is restarted"
        );
        if !last.is_empty() {
            eprintln!("its last output:\n  {}", last.join("\n  "));
        }
        runtime.mark_down(why);
    });
    Ok(Process { pid, stop: Some(stop), supervisor })
}

impl Process {
    /// Kills the process (if it still runs) and waits until it is gone.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.supervisor).await;
    }

    /// Whether the process has exited (on its own or stopped).
    pub fn exited(&self) -> bool {
        self.supervisor.is_finished()
    }
}

async fn forward(
    stream: impl AsyncRead + Unpin,
    label: Arc<str>,
    kept: Arc<Mutex<VecDeque<String>>>,
    (echo, shipper): (bool, Option<super::shipper::Shipper>),
) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if echo {
            println!("{label:>10} | {}", crate::logs::readable(&line));
        }
        if let Some(shipper) = &shipper {
            shipper.send(&line);
        }
        let mut kept = kept.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() == KEPT_LINES {
            kept.pop_front();
        }
        kept.push_back(line);
    }
}

/// Makes sure a child that was never stopped does not outlive us; `kill_on_drop` covers the rest.
impl Drop for Process {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
