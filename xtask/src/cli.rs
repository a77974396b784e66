//! The command-line interface: clap definitions and dispatch.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use std::path::PathBuf;

use crate::{EXIT_DIFFERENCE, bench, default_config_path, load_config, root_of, templates, test};

/// Build, review, test and deploy the serverless auth service.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask", arg_required_else_help = true, version)]
pub struct Cli {
    /// The stages file; templates/ is written beside it [default: stages.toml at the workspace root]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Synthesize CloudFormation for every stage into templates/<stage>/ (data.yaml, api.yaml, pipeline.yaml, iam.md, defences.md, diagram.md)
    Synth {
        /// Only this stage
        #[arg(long, short)]
        stage: Option<String>,
        /// Change nothing; exit 1 naming each file that is stale, missing or extra
        #[arg(long)]
        check: bool,
    },
    /// Print a stage's IAM review: every principal, action, resource and condition
    Iam {
        #[arg(long, short)]
        stage: String,
    },
    /// Build the functions in release mode for a stage's architecture into target/lambda/<fn>/bootstrap.zip
    Build {
        /// Whose architecture to build for
        #[arg(long, short, default_value = "dev")]
        stage: String,
        /// Build in debug mode instead (fast, large; not for production)
        #[arg(long)]
        debug: bool,
    },
    /// Deploy a stage: build, upload, and apply reviewed change sets to its data and api stacks
    Deploy(crate::deploy::DeployArgs),
    /// A stage's delivery pipeline: `pipeline deploy --stage S` sets it up once
    Pipeline {
        #[command(subcommand)]
        what: crate::pipeline::PipelineCommand,
    },
    /// Compare the synthesized stacks with the deployed ones; exit 0 when they match, 1 when they differ
    Diff(crate::aws::StageArgs),
    /// Show a stage's stacks: state, last events, outputs; watch a stack that is still changing
    Status(crate::aws::StageArgs),
    /// Run CloudFormation drift detection on a stage's stacks; exit 0 when in sync, 1 when any drifted
    Drift(crate::aws::StageArgs),
    /// Show a stage's function logs from CloudWatch Logs: --function, --since 15m, --filter TEXT, --follow, --json
    Logs(crate::logs::LogsArgs),
    /// Delete a stage's api stack, and with --include-data its data stack
    Destroy(crate::destroy::DestroyArgs),
    /// Run the whole API on 127.0.0.1 from the synthesized templates and the real functions, with an AWS emulator
    Local(crate::local::LocalArgs),
    /// Check the dependency tree with cargo-deny (licenses, bans, sources; installed on first use)
    Deny {
        /// Also check RustSec's advisories (needs the network, to fetch the advisory database)
        #[arg(long)]
        advisories: bool,
    },
    /// Run every check: installs cfn-lint, the AWS emulator and cargo-deny on first use, then `cargo test`
    Test {
        /// Arguments passed on to `cargo test`, after `--`
        #[arg(last = true)]
        cargo_args: Vec<String>,
    },
    /// Add something to the service: `new function NAME --method GET --path /orders/{id}`
    New {
        #[command(subcommand)]
        what: New,
    },
    /// Remove something added with `new`: `remove function NAME`
    Remove {
        #[command(subcommand)]
        what: Remove,
    },
    /// Benchmarks: figures to report, measured on this machine (not pass/fail tests)
    Bench {
        #[command(subcommand)]
        which: bench::Which,
    },
}

#[derive(Debug, Subcommand)]
pub enum New {
    /// A Lambda function behind its own route: one crate, handlers/NAME/, that declares its route and
    /// grants in its Cargo.toml; `cargo xtask synth` then adds its role, log group and route
    Function {
        /// Its name: lowercase letters and digits, e.g. orders (the crate, the function, the role)
        name: String,
        /// The HTTP method: GET, POST, PUT, PATCH or DELETE
        #[arg(long, value_parser = parse_method)]
        method: contract::Method,
        /// The path, e.g. /orders or /users/{user_id}/orders ({name} segments are path parameters)
        #[arg(long)]
        path: String,
        /// Anyone may call it; without this the JWT authorizer guards it
        #[arg(long)]
        public: bool,
        /// It may read one user by email from the users table (dynamodb:GetItem), e.g. for /me
        #[arg(long)]
        reads_users: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum Remove {
    /// A function added with `cargo xtask new function`: deletes its crate (no data)
    Function {
        /// Its name
        name: String,
    },
}

fn parse_method(text: &str) -> Result<contract::Method, String> {
    contract::Method::parse(text).ok_or_else(|| format!("`{text}` is not one of GET, POST, PUT, PATCH, DELETE"))
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config_path = match cli.config {
        Some(path) => path,
        None => default_config_path()?,
    };
    let root = root_of(&config_path);
    match cli.command {
        Command::Synth { stage, check } => {
            let config = load_config(&config_path)?;
            let expected = templates::expected(&root, &config, stage.as_deref())?;
            let whole_tree = stage.is_none();
            if check {
                let drift = templates::compare(&root, &expected, whole_tree)?;
                for d in &drift {
                    println!("{d}");
                }
                if drift.is_empty() {
                    println!("templates/ is up to date ({} files)", expected.len());
                    return Ok(ExitCode::SUCCESS);
                }
                return Ok(ExitCode::from(EXIT_DIFFERENCE));
            }
            let changed = templates::write(&root, &expected, whole_tree)?;
            for d in &changed {
                match d {
                    templates::Drift::Stale(p) => println!("updated {p}"),
                    templates::Drift::Missing(p) => println!("created {p}"),
                    templates::Drift::Extra(p) => println!("removed {p}"),
                }
            }
            println!("{} files checked, {} changed", expected.len(), changed.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Iam { stage } => {
            let config = load_config(&config_path)?;
            let stage = config.stage(&stage)?;
            let names = synth::Names::new(&config.project, stage);
            let stacks = synth::synth(&config, stage);
            let rows = stacks.iam_rows(&names).map_err(crate::refused)?;
            print!("{}", synth::review::text(&rows));
            Ok(ExitCode::SUCCESS)
        }
        Command::Build { stage, debug } => {
            let config = load_config(&config_path)?;
            let stage = config.stage(&stage)?;
            let profile = if debug { crate::package::Profile::Debug } else { crate::package::Profile::Release };
            let started = std::time::Instant::now();
            let artifacts =
                crate::package::build(&crate::workspace()?, &config.functions, stage.architecture, profile)?;
            for a in &artifacts {
                println!(
                    "{:<10} {:>8.1} KiB  sha256 {}  {}",
                    a.function.name(),
                    a.size as f64 / 1024.0,
                    a.sha256,
                    a.zip.display()
                );
            }
            println!("built and packaged {} functions in {:.1} s", artifacts.len(), started.elapsed().as_secs_f64());
            Ok(ExitCode::SUCCESS)
        }
        Command::Deploy(args) => crate::deploy::run(&config_path, &args),
        Command::Pipeline { what } => crate::pipeline::run(&config_path, what),
        Command::Diff(args) => crate::inspect::diff(&config_path, &args),
        Command::Status(args) => crate::inspect::status(&config_path, &args),
        Command::Drift(args) => crate::drift::run(&config_path, &args),
        Command::Logs(args) => crate::logs::run(&config_path, &args),
        Command::Destroy(args) => crate::destroy::run(&config_path, &args),
        Command::Local(args) => crate::local::run(&config_path, &args),
        Command::Test { cargo_args } => test::run(&crate::workspace()?, &cargo_args),
        Command::Deny { advisories } => crate::deny::run(&crate::workspace()?, advisories),
        Command::Bench { which } => bench::run(&crate::workspace()?, &config_path, which),
        Command::New { what: New::Function { name, method, path, public, reads_users } } => {
            let new = crate::scaffold::NewFunction { name, method, path, public, reads_users };
            crate::scaffold::new(&crate::workspace()?, &config_path, &new)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Remove { what: Remove::Function { name } } => {
            crate::scaffold::remove(&crate::workspace()?, &config_path, &name)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
