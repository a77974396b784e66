//! The functions' one tracing subscriber: our crates at the level the function is configured with, every
//! dependency never above INFO.
//!
//! `lambda_http::tracing::init_default_subscriber` hands `RUST_LOG` to an `EnvFilter`, and the level to every
//! crate. At TRACE lambda_runtime logs each raw event (passwords in signup and signin bodies, tokens in
//! headers), and the AWS SDK logs request and response bodies (the password hash going to KMS and coming
//! back, the signing secret from Secrets Manager); hyper, h2 and rustls log connection details at DEBUG. So
//! the configured level applies to our own crates only, and the dependencies get it capped at INFO whatever
//! `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` say. Our own code logs no secret at any level.
//!
//! The output is what the default subscriber wrote, so Lambda's JSON log format and `cargo xtask local`'s
//! reader keep working: one JSON object per line on stdout with `AWS_LAMBDA_LOG_FORMAT=JSON`, text otherwise,
//! without target or time (Lambda adds the time).

use std::str::FromStr as _;

use lambda_http::tracing::Metadata;
use lambda_http::tracing::subscriber::filter::{FilterFn, LevelFilter};
use lambda_http::tracing::subscriber::layer::SubscriberExt as _;
use lambda_http::tracing::subscriber::util::SubscriberInitExt as _;
use lambda_http::tracing::subscriber::{Layer as _, fmt, registry};

/// The shared library every function links: its logs are ours in every function.
pub const SHARED_CRATE: &str = "auth";

/// The most verbose level any dependency may log at. INFO is the level nothing logs a body or an event at.
pub const DEPENDENCY_CEILING: LevelFilter = LevelFilter::INFO;

/// The level when neither variable sets one: Lambda's default.
pub const DEFAULT_LEVEL: LevelFilter = LevelFilter::INFO;

/// Who logs at which level.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Levels {
    /// Our crates: [`SHARED_CRATE`] and the function's own, whose name the function passes to [`init`].
    pub our_crates: [&'static str; 2],
    /// Our crates, unless `per_crate` names them.
    pub ours: LevelFilter,
    /// `RUST_LOG`'s `crate=level` directives for our crates.
    pub per_crate: Vec<(&'static str, LevelFilter)>,
    /// Every other crate: the configured level, capped at [`DEPENDENCY_CEILING`].
    pub dependencies: LevelFilter,
    /// `RUST_LOG` directives that were not applied: for other crates, or not understood.
    pub ignored: Vec<String>,
}

impl Levels {
    /// The levels from Lambda's `AWS_LAMBDA_LOG_LEVEL` (TRACE, DEBUG, INFO, WARN, ERROR or FATAL), which wins
    /// as it does for lambda_runtime's subscriber, else from `RUST_LOG`: a bare level is ours, `crate=level`
    /// sets one of our crates, and a directive for any other crate is ignored.
    /// `function` is the function's crate (`orders`), whatever its name: no list of functions to keep.
    pub fn from_settings(function: &'static str, aws_lambda_log_level: Option<&str>, rust_log: Option<&str>) -> Levels {
        let mut levels = Levels {
            our_crates: [SHARED_CRATE, function],
            ours: DEFAULT_LEVEL,
            per_crate: Vec::new(),
            dependencies: DEFAULT_LEVEL,
            ignored: Vec::new(),
        };
        if let Some(level) = aws_lambda_log_level.and_then(parse_level) {
            levels.ours = level;
        } else if let Some(rust_log) = rust_log {
            for directive in rust_log.split(',').map(str::trim).filter(|d| !d.is_empty()) {
                match directive.split_once('=') {
                    None => match parse_level(directive) {
                        Some(level) => levels.ours = level,
                        None => levels.ignored.push(directive.to_owned()),
                    },
                    Some((target, level)) => {
                        let ours = levels.our_crates.iter().copied().find(|c| *c == target.trim());
                        match (ours, parse_level(level)) {
                            (Some(ours), Some(level)) => levels.per_crate.push((ours, level)),
                            _ => levels.ignored.push(directive.to_owned()),
                        }
                    }
                }
            }
        }
        levels.dependencies = levels.ours.min(DEPENDENCY_CEILING);
        levels
    }

    /// The level for events and spans whose target (a module path) is `target`.
    pub fn for_target(&self, target: &str) -> LevelFilter {
        let krate = target.split("::").next().unwrap_or(target);
        if let Some((_, level)) = self.per_crate.iter().rev().find(|(c, _)| *c == krate) {
            return *level;
        }
        if self.our_crates.contains(&krate) { self.ours } else { self.dependencies }
    }

    /// Whether an event or span is logged.
    pub fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        *metadata.level() <= self.for_target(metadata.target())
    }

    /// The most verbose level anything logs at.
    fn max(&self) -> LevelFilter {
        self.per_crate.iter().map(|(_, l)| *l).fold(self.ours.max(self.dependencies), LevelFilter::max)
    }
}

/// A level as Lambda or `RUST_LOG` spell it, in any case; Lambda's FATAL is ERROR.
fn parse_level(text: &str) -> Option<LevelFilter> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("fatal") {
        return Some(LevelFilter::ERROR);
    }
    LevelFilter::from_str(text).ok()
}

/// Installs the subscriber from the function's environment. Call it first thing in `main`, with the
/// function's crate name: `auth::logging::init(env!("CARGO_CRATE_NAME"))`.
pub fn init(function: &'static str) {
    let var = |name| std::env::var(name).ok();
    let levels = Levels::from_settings(function, var("AWS_LAMBDA_LOG_LEVEL").as_deref(), var("RUST_LOG").as_deref());
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let (ours, dependencies, ignored) = (levels.ours, levels.dependencies, levels.ignored.clone());
    let max = levels.max();
    let filter = FilterFn::new(move |metadata| levels.enabled(metadata)).with_max_level_hint(max);
    let layer = fmt::layer().with_target(false).without_time().with_writer(std::io::stdout);
    let layer = if json { layer.json().with_filter(filter).boxed() } else { layer.with_filter(filter).boxed() };
    registry().with(layer).init();
    tracing::debug!(%ours, %dependencies, "log levels");
    if !ignored.is_empty() {
        tracing::warn!(
            ignored = ignored.join(","),
            "RUST_LOG directives for other crates are ignored: dependencies log at INFO at most"
        );
    }
}

#[cfg(test)]
mod tests;
