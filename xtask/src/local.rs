//! `cargo xtask local`: the whole API on 127.0.0.1, from the synthesized templates and the real
//! handler binaries, with moto standing in for AWS. No Docker.
//!
//! The data stack is created in moto through CloudFormation; the declared functions' `bootstrap` binaries run as
//! processes behind a local Lambda Runtime API with the environment the api template gives them; an
//! HTTP front end reads the api template for its routes, authorizer and gateway responses, and applies
//! the per source IP rate limits of the web ACL the template puts in front of the stage.

pub mod cache;
pub mod data;
pub mod event;
pub mod gateway;
pub mod mailbox;
pub mod process;
mod props;
pub mod routing;
pub mod runtime;
pub mod shipper;
pub mod template;
pub mod waf;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use contract::Function;
use synth::config::Provision;
use tokio::net::TcpListener;

use crate::BadInput;
use crate::package::Profile;
use process::{Aws, Process};
use runtime::RuntimeApi;
use template::Api;

/// How long a function may take from spawn to its first request for work.
const INIT_LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Args)]
pub struct LocalArgs {
    /// The stage whose templates to serve, as named in stages.toml
    #[arg(long, short, default_value = "dev")]
    pub stage: String,
    /// Port of the API on 127.0.0.1; 0 picks a free one (the URL is printed)
    #[arg(long, short, default_value_t = 3000)]
    pub port: u16,
    /// Use the AWS emulator already listening on this port of 127.0.0.1, or start one there
    #[arg(long, value_name = "PORT")]
    pub moto_port: Option<u16>,
    /// Run release builds of the functions (as deployed; the first build takes minutes)
    #[arg(long)]
    pub release: bool,
    /// Do not echo the functions' own log lines
    #[arg(long, short)]
    pub quiet: bool,
    /// Do not apply the per source IP rate limits of the stage's web ACL (as AWS WAF would)
    #[arg(long)]
    pub no_rate_limits: bool,
}

/// What to start, for the command and for tests.
#[derive(Debug, Clone)]
pub struct Options {
    pub stage: String,
    pub port: u16,
    pub moto_port: Option<u16>,
    pub profile: Profile,
    pub echo_functions: bool,
    pub log_requests: bool,
    /// Apply the rate-based rules of the stage's web ACL per source IP, before routing, as WAF does.
    pub rate_limits: bool,
    /// The server's bounds: connections, read timeouts, the authorizer cache.
    pub limits: gateway::Limits,
}

impl Options {
    /// The API a test or a benchmark starts: a free port, debug builds, functions' logs and request
    /// lines not echoed, the web ACL's per-IP limits applied.
    pub fn quiet(stage: &str) -> Options {
        Options {
            stage: stage.to_owned(),
            port: 0,
            moto_port: None,
            profile: Profile::Debug,
            echo_functions: false,
            log_requests: false,
            rate_limits: true,
            limits: gateway::Limits::default(),
        }
    }

    pub fn from_args(args: &LocalArgs) -> Options {
        Options {
            stage: args.stage.clone(),
            port: args.port,
            moto_port: args.moto_port,
            profile: if args.release { Profile::Release } else { Profile::Debug },
            echo_functions: !args.quiet,
            log_requests: true,
            rate_limits: !args.no_rate_limits,
            limits: gateway::Limits::default(),
        }
    }
}

/// The async runtime of a command that serves: two threads, so that the gateway, the Runtime APIs and
/// the function processes' output make progress together (unlike deploy's sequential calls).
pub fn server_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub fn run(config_path: &Path, args: &LocalArgs) -> anyhow::Result<ExitCode> {
    server_runtime()?.block_on(async {
        let config = crate::load_config(config_path)?;
        let local = Local::start(&config, &Options::from_args(args)).await?;
        println!("{}", local.banner());
        wait_for_stop().await?;
        println!("\nstopping: {} function processes and the AWS emulator", local.processes.len());
        local.stop().await;
        println!("stopped; nothing is left running");
        Ok(ExitCode::SUCCESS)
    })
}

async fn wait_for_stop() -> anyhow::Result<()> {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).context("listening for SIGTERM")?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result.context("listening for Ctrl-C"),
        _ = terminate.recv() => Ok(()),
    }
}

/// The emulator with the stage's data stack, and the api template read against its exports.
#[derive(Debug)]
pub struct Prepared {
    /// `None` when an emulator that was already running is reused.
    pub moto: Option<devenv::Moto>,
    pub aws: Aws,
    pub account: String,
    pub api: Api,
    pub prefix: String,
}

/// Starts (or reuses) moto, creates the stage's data stack in it and reads the api template.
pub async fn prepare(config: &synth::Config, stage_name: &str, moto_port: Option<u16>) -> anyhow::Result<Prepared> {
    let stage = config.stage(stage_name)?;
    for (what, provision) in [("table", &stage.table), ("key", &stage.key), ("secret", &stage.secret)] {
        if let Provision::Import { arn, .. } = provision {
            return Err(BadInput(format!(
                "stage {} imports its {what} ({arn}), which the AWS emulator cannot hold; `cargo xtask local` needs a stage \
                 whose data stack creates the table, key and secret (such as dev): pass --stage",
                stage.name
            ))
            .into());
        }
    }
    let names = synth::Names::new(&config.project, stage);
    let stacks = synth::synth(config, stage);
    let data = stacks.data.as_ref().context("the stage has no data stack to create")?;

    let (moto, endpoint) = start_moto(moto_port).await?;
    let sdk = data::sdk_config(&endpoint, &stage.region).await;
    let account = data::account(&sdk).await?;
    let exports = data::ensure(&sdk, &names.data_stack(), &data.to_json()).await?;
    let function_names: BTreeMap<String, Function> =
        config.functions.iter().map(|f| (names.function(f), f.clone())).collect();
    let api = template::read(&stacks.api.to_json(), &exports, &function_names)
        .context("reading the synthesized api template")?;
    Ok(Prepared {
        moto,
        aws: Aws { endpoint, region: stage.region.clone() },
        account,
        api,
        prefix: names.prefix().to_owned(),
    })
}

async fn start_moto(port: Option<u16>) -> anyhow::Result<(Option<devenv::Moto>, String)> {
    if let Some(port) = port
        && tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
    {
        let endpoint = format!("http://127.0.0.1:{port}");
        println!("reusing the AWS emulator listening at {endpoint}");
        return Ok((None, endpoint));
    }
    let moto = tokio::task::spawn_blocking(move || -> anyhow::Result<devenv::Moto> {
        let venv = devenv::ensure(&mut |line| println!("{line}")).context("installing the AWS emulator (moto)")?;
        Ok(devenv::Moto::start_on(&venv, port.unwrap_or(0))?)
    })
    .await
    .context("starting the AWS emulator")??;
    let endpoint = moto.endpoint();
    println!("started the AWS emulator (moto) at {endpoint}; its log is {}", moto.log().display());
    Ok((Some(moto), endpoint))
}

/// Builds the handler binaries for this machine and returns the directory holding them. Unlike
/// `cargo xtask build` it neither cross-compiles nor packages: the binaries run here, and the zips
/// under target/lambda stay the release ones that deploy uploads.
pub async fn build_functions(functions: &[Function], profile: Profile) -> anyhow::Result<PathBuf> {
    let functions = functions.to_vec();
    tokio::task::spawn_blocking(move || crate::package::compile(&crate::workspace()?, &functions, None, profile))
        .await
        .context("building the functions")?
}

/// The running local API.
#[derive(Debug)]
pub struct Local {
    pub addr: SocketAddr,
    pub moto_endpoint: String,
    pub region: String,
    pub profile: Profile,
    gateway: Arc<gateway::Gateway>,
    processes: Vec<(Function, Process)>,
    server: tokio::task::JoinHandle<()>,
    moto: Option<devenv::Moto>,
}

impl Local {
    /// Starts everything and returns once every function has asked for work and the API listens.
    pub async fn start(config: &synth::Config, options: &Options) -> anyhow::Result<Local> {
        // Bind first: a port in use should fail in a second, not after a build.
        let listener = TcpListener::bind(("127.0.0.1", options.port)).await.map_err(|e| {
            BadInput(format!(
                "cannot listen on 127.0.0.1:{}: {e}; pass --port with another port (0 picks a free one)",
                options.port
            ))
        })?;
        let addr = listener.local_addr().context("reading the API's address")?;
        let binaries = build_functions(&config.functions, options.profile).await?;
        let prepared = prepare(config, &options.stage, options.moto_port).await?;

        let mut functions = BTreeMap::new();
        let mut processes = Vec::new();
        // Each function's output also goes to the emulator's CloudWatch Logs, as Lambda's goes to AWS's.
        let logs =
            aws_sdk_cloudwatchlogs::Client::new(&data::sdk_config(&prepared.aws.endpoint, &prepared.aws.region).await);
        for spec in prepared.api.functions.values() {
            let arn = format!("arn:aws:lambda:{}:{}:function:{}", prepared.aws.region, prepared.account, spec.name);
            let runtime = RuntimeApi::start(&spec.name, &arn, spec.timeout).await?;
            let binary = binaries.join(spec.function.name());
            let output = process::Output { echo: options.echo_functions, logs: Some(logs.clone()) };
            let process = process::spawn(&binary, spec, &runtime, &prepared.aws, output)?;
            processes.push((spec.function.clone(), process));
            functions.insert(spec.function.clone(), runtime);
        }
        for runtime in functions.values() {
            runtime.ready(INIT_LIMIT).await.map_err(|why| anyhow::anyhow!("{why}; see its output above"))?;
        }
        let at = event::Deployment {
            region: prepared.aws.region.clone(),
            account: prepared.account.clone(),
            api_id: "local".to_owned(),
            stage: prepared.api.stage.clone(),
        };
        // One file per API port, so that servers running side by side (tests) keep their own.
        let mail_file = mailbox::file_for(&crate::target_dir()?, addr.port());
        let mailbox = mailbox::Mailbox::open(&prepared.aws.endpoint, &mail_file, options.log_requests).await?;
        let gateway = Arc::new(
            gateway::Gateway::new(
                prepared.api,
                at,
                functions,
                options.log_requests,
                options.rate_limits,
                options.limits,
            )
            .with_mailbox(mailbox),
        );
        let server = gateway::serve(listener, gateway.clone());
        Ok(Local {
            addr,
            moto_endpoint: prepared.aws.endpoint,
            region: prepared.aws.region,
            profile: options.profile,
            gateway,
            processes,
            server,
            moto: prepared.moto,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn api(&self) -> &Api {
        self.gateway.api()
    }

    /// The file the mail the functions send is appended to.
    pub fn mail_file(&self) -> Option<std::path::PathBuf> {
        self.gateway.mail_file().map(Path::to_owned)
    }

    /// Each function's process id.
    pub fn pids(&self) -> Vec<(Function, u32)> {
        self.processes.iter().map(|(f, p)| (f.clone(), p.pid)).collect()
    }

    /// Stops the API, kills every function process and stops the emulator (if it started it).
    pub async fn stop(self) {
        self.server.abort();
        let _ = self.server.await;
        for (_, process) in self.processes {
            process.stop().await;
        }
        if let Some(moto) = self.moto {
            let _ = tokio::task::spawn_blocking(move || drop(moto)).await;
        }
    }

    /// What `cargo xtask local` prints once it is up: routes, the walkthrough, and how to stop.
    pub fn banner(&self) -> String {
        let url = self.url();
        let api = self.api();
        let mut out = format!(
            "\nthe {} API is up ({:?} build of the functions; AWS emulator at {})\n\n",
            api.stage, self.profile, self.moto_endpoint
        );
        for route in &api.routes {
            let function = api.functions.get(&route.function).map_or(route.function.name(), |f| f.name.as_str());
            out.push_str(&format!("  {:<5} {url}{:<10} -> {function}", route.method, route.path));
            if let Some(auth) = &route.authorizer {
                let sources: Vec<String> = auth.identity_sources.iter().map(describe_source).collect();
                let name = api.functions.get(&auth.function).map_or(auth.function.name(), |f| f.name.as_str());
                out.push_str(&format!(", behind {name} ({}, cached {} s)", sources.join(", "), auth.ttl.as_secs()));
            }
            out.push('\n');
        }
        out.push_str(&format!("  (every path is also served under /{}/, as on API Gateway)\n", api.stage));
        match &api.web_acl {
            Some(acl) if self.gateway.rate_limits() => {
                out.push_str(&format!("  web ACL {} in front (as AWS WAF, per TCP source address):\n", acl.name));
                for line in waf::describe(acl) {
                    out.push_str(&format!("    {line}\n"));
                }
            }
            Some(acl) => out.push_str(&format!("  web ACL {}: rate limits not applied (--no-rate-limits)\n", acl.name)),
            None => out.push_str("  no web ACL in front of the stage: no per-IP rate limits\n"),
        }
        let pids: Vec<String> = self.pids().iter().map(|(f, pid)| format!("{f} pid {pid}")).collect();
        out.push_str(&format!("  function processes: {}\n", pids.join(", ")));
        if let Some(file) = self.gateway.mail_file() {
            out.push_str(&format!("  mail the functions send is printed here, and kept in {}\n", file.display()));
        }
        out.push_str(&walkthrough(&url, api, self.gateway.mail_file()));
        out.push_str(&format!("\nlistening on {url}\nCtrl-C stops the API, the functions and the emulator\n"));
        out
    }
}

fn describe_source(source: &template::IdentitySource) -> String {
    match source {
        template::IdentitySource::Header(h) => format!("{h} header"),
        template::IdentitySource::Query(q) => format!("{q} query parameter"),
    }
}

/// The walkthrough's curl calls, with paths and header from the template: sign up, read the code from
/// the mail file, verify, sign in, call the private route, refresh, forget the password, reset it (which
/// ends the session), sign in again and sign out.
fn walkthrough(url: &str, api: &Api, mail_file: Option<&Path>) -> String {
    // The built-in routes, by function name; a stage without one of them gets no walkthrough.
    let find = |name: &str| api.routes.iter().find(|r| r.function.name() == name);
    let routes = ["signup", "verify", "signin", "hello", "refresh", "forgot", "reset", "signout"].map(find);
    let [
        Some(signup),
        Some(verify),
        Some(signin),
        Some(hello),
        Some(refresh),
        Some(forgot),
        Some(reset),
        Some(signout),
    ] = routes
    else {
        return String::new();
    };
    let (Some(mail_file), Some(header)) = (mail_file, bearer_header(hello)) else { return String::new() };
    let post = |route: &template::Route| format!("-X {} {url}{}", route.method, route.path);
    let (email, old, new) = ("alice@example.com", "plum harbor quietly juggles", "seven lanterns over the bay");
    let credentials = |password: &str| format!(r#"'{{"email":"{email}","password":"{password}"}}'"#);
    let code_body =
        |password: &str| format!(r#""{{\"email\":\"{email}\",\"code\":\"$CODE\",\"password\":\"{password}\"}}""#);
    let field = |name: &str, from: &str| format!("$(echo \"${from}\" | sed -E 's/.*\"{name}\":\"([^\"]*)\".*/\\1/')");
    // The newest code in a mail to the walkthrough's address, whatever else the file holds.
    let read_code = format!(
        "CODE=$(awk '/^To: /{{to=$2}} /^ *code: /{{if (to==\"{email}\") code=$2$3}} END{{print code}}' {})",
        mail_file.display()
    );
    let refresh_body = "\"{\\\"refresh_token\\\":\\\"$REFRESH\\\"}\"";
    let lines = [
        format!(
            "curl -i {} -H 'content-type: application/json' -d {}   # 202: check your email",
            post(signup),
            credentials(old)
        ),
        format!("{read_code}   # the code in the mail printed above"),
        format!("curl -i {} -d {}   # 200: verified", post(verify), code_body(old)),
        format!("SIGNIN=$(curl -s {} -d {})", post(signin), credentials(old)),
        format!("TOKEN={}; REFRESH={}", field("token", "SIGNIN"), field("refresh_token", "SIGNIN")),
        format!("curl -i {url}{}                # 401: no token", hello.path),
        format!("curl -i -H \"{header}: $TOKEN\" {url}{}   # 200: Hello, {email}!", hello.path),
        format!("NEXT=$(curl -s {} -d {refresh_body})   # a new token and refresh token", post(refresh)),
        format!("TOKEN={}; REFRESH={}", field("token", "NEXT"), field("refresh_token", "NEXT")),
        format!("curl -i {} -d '{{\"email\":\"{email}\"}}'   # 202: check your email", post(forgot)),
        read_code,
        format!("curl -i {} -d {}   # 200: password_reset, every session ends", post(reset), code_body(new)),
        format!("curl -i {} -d {refresh_body}   # 401: the session is gone", post(refresh)),
        format!("sleep 1; SIGNIN=$(curl -s {} -d {})   # the new password", post(signin), credentials(new)),
        format!("TOKEN={}; REFRESH={}", field("token", "SIGNIN"), field("refresh_token", "SIGNIN")),
        format!("curl -i {} -H \"{header}: $TOKEN\" -d {refresh_body}   # 200: this session ends", post(signout)),
    ];
    let mut out = String::from("\ntry it:\n");
    for line in lines {
        out.push_str(&format!("  {line}\n"));
    }
    out
}

/// The header a private route's authorizer reads the token from.
fn bearer_header(route: &template::Route) -> Option<&str> {
    route.authorizer.as_ref()?.identity_sources.iter().find_map(|s| match s {
        template::IdentitySource::Header(h) => Some(h.as_str()),
        template::IdentitySource::Query(_) => None,
    })
}

/// A request id in the UUID shape Lambda and API Gateway use.
pub fn request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
