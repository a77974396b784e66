//! `cargo xtask logs --stage S`: the stage's function logs from CloudWatch Logs, each function's log group
//! named by the model (`Names::log_group`), merged in time order and rendered for a person: time,
//! function, level, message and fields, with security events ([`contract::events::SECURITY`]: refresh token
//! reuse, sign-out everywhere, a password reset, a sign-in lockout) standing out. `--json` passes each line through as the function wrote
//! it, for scripts; `--follow` polls FilterLogEvents every two seconds until Ctrl-C (Live Tail would
//! stream, but it bills per session-minute and the emulator may not serve it: polling works everywhere).

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata as _;
use clap::Args;
use contract::Function;

use crate::aws::{AwsResultExt as _, Clients, StageArgs, runtime};
use crate::{BadInput, Target};

#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub on: StageArgs,
    /// Only this function's log (a name as declared: signin, orders, ...)
    #[arg(long, value_name = "NAME")]
    pub function: Option<String>,
    /// How far back to start: 30s, 15m, 2h, 1d
    #[arg(long, default_value = "15m", value_parser = since)]
    pub since: Duration,
    /// Only lines containing this text (CloudWatch Logs matches it as a quoted term)
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    /// Keep printing new lines as they arrive, until Ctrl-C
    #[arg(long, short)]
    pub follow: bool,
    /// Print each line as the function wrote it (JSON), for scripts
    #[arg(long)]
    pub json: bool,
}

/// How often `--follow` asks for new lines.
const POLL: Duration = Duration::from_secs(2);

/// `30s`, `15m`, `2h`, `1d`.
pub fn since(text: &str) -> Result<Duration, String> {
    let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = digits.parse().map_err(|_| format!("`{text}` is not a duration such as 30s, 15m, 2h or 1d"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3_600,
        "d" => n * 86_400,
        _ => return Err(format!("`{text}` has no unit: write 30s, 15m, 2h or 1d")),
    };
    Ok(Duration::from_secs(seconds))
}

/// The filter pattern that matches lines containing `text` as it is: a quoted term, with its quotes
/// and backslashes escaped, so that no character of it is read as pattern syntax.
pub fn pattern(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// One line of a function's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Milliseconds since the epoch, as CloudWatch Logs keeps them.
    pub time_ms: i64,
    pub function: String,
    pub message: String,
    pub id: String,
}

/// The security event a line records (its `event` field, one of [`contract::events::SECURITY`]), if any.
pub fn security_event(message: &str) -> Option<String> {
    let entry: serde_json::Value = serde_json::from_str(message).ok()?;
    let event = entry.get("fields")?.get("event")?.as_str()?;
    contract::events::SECURITY.contains(&event).then(|| event.to_owned())
}

/// A JSON log line as one short line: level, message, the other fields, and the invocation's request
/// id; any other line as it is.
pub fn readable(line: &str) -> String {
    let Ok(serde_json::Value::Object(entry)) = serde_json::from_str::<serde_json::Value>(line) else {
        return line.to_owned();
    };
    let level = entry.get("level").and_then(|l| l.as_str()).unwrap_or("");
    let fields = entry.get("fields").and_then(|f| f.as_object());
    let message = fields.and_then(|f| f.get("message")).and_then(|m| m.as_str()).unwrap_or("");
    let mut out = format!("{level:<5} {message}");
    for (key, value) in fields.into_iter().flatten().filter(|(k, _)| *k != "message") {
        match value.as_str() {
            Some(text) => out.push_str(&format!(" {key}={text}")),
            None => out.push_str(&format!(" {key}={value}")),
        }
    }
    if let Some(id) = entry.get("span").and_then(|s| s.get("requestId")).and_then(|r| r.as_str()) {
        out.push_str(&format!("  [{}]", id.get(..8).unwrap_or(id)));
    }
    out
}

/// A line for a person: UTC time to the millisecond, the function, then the entry; a security event
/// is marked `!! SECURITY <event>` in front.
pub fn render(line: &Line) -> String {
    let time = time_of(line.time_ms);
    let marker = security_event(&line.message).map(|e| format!("!! SECURITY {e} !! ")).unwrap_or_default();
    format!("{time} {:>10} | {marker}{}", line.function, readable(&line.message))
}

/// `2026-12-07T09:58:38.123Z` (RFC 3339, UTC; the fraction only when there is one).
fn time_of(ms: i64) -> String {
    use aws_sdk_cloudformation::primitives::{DateTime, DateTimeFormat};
    DateTime::from_millis(ms).fmt(DateTimeFormat::DateTime).unwrap_or_else(|_| format!("{ms} ms"))
}

/// The functions whose logs to read: the one `--function` names, or every declared one.
fn chosen<'a>(functions: &'a [Function], name: Option<&str>) -> Result<Vec<&'a Function>, BadInput> {
    match name {
        None => Ok(functions.iter().collect()),
        Some(name) => Function::find(functions, name).map(|f| vec![f]).ok_or_else(|| {
            let known: Vec<&str> = functions.iter().map(Function::name).collect();
            BadInput(format!("no function is named {name}; the declared ones are {}", known.join(", ")))
        }),
    }
}

pub fn run(config_path: &std::path::Path, args: &LogsArgs) -> anyhow::Result<ExitCode> {
    let target = Target::load(config_path, &args.on.stage)?;
    let functions = chosen(&target.config.functions, args.function.as_deref())?;
    let groups: Vec<(String, String)> =
        functions.iter().map(|f| (f.name().to_owned(), target.names.log_group(f))).collect();
    runtime()?.block_on(async {
        let clients = Clients::new(&args.on.aws, target.stage()).await?;
        let now_ms =
            i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis())).unwrap_or(0);
        let mut from = now_ms - i64::try_from(args.since.as_millis()).unwrap_or(i64::MAX / 2);
        let mut followed = Followed::default();
        let mut noted = BTreeSet::new();
        let stop = tokio::signal::ctrl_c();
        tokio::pin!(stop);
        loop {
            let lines = fetch(&clients, &groups, from, args.filter.as_deref(), &mut noted).await?;
            for line in followed.new_lines(lines) {
                println!("{}", if args.json { line.message.clone() } else { render(&line) });
            }
            if !args.follow {
                return Ok(ExitCode::SUCCESS);
            }
            from = followed.next_from(from);
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = &mut stop => return Ok(ExitCode::SUCCESS),
            }
        }
    })
}

/// How far back each `--follow` poll reaches behind the newest line seen: CloudWatch Logs takes lines in
/// late and out of order across streams, and a line that arrives late with an older time is still shown.
const LAG_MS: i64 = 30_000;

/// What `--follow` has printed: each line once, whatever the overlap of the polls.
#[derive(Debug, Default)]
pub struct Followed {
    /// Ids of the lines printed, with their times, kept while a poll can return them again.
    printed: std::collections::HashMap<String, i64>,
    newest: Option<i64>,
}

impl Followed {
    /// The lines not printed yet, in the order given; remembers them.
    pub fn new_lines(&mut self, lines: Vec<Line>) -> Vec<Line> {
        let fresh: Vec<Line> = lines.into_iter().filter(|l| !self.printed.contains_key(&l.id)).collect();
        for line in &fresh {
            self.printed.insert(line.id.clone(), line.time_ms);
            self.newest = Some(self.newest.map_or(line.time_ms, |n| n.max(line.time_ms)));
        }
        fresh
    }

    /// Where the next poll starts: the lag behind the newest line (never earlier than `from`); lines
    /// older than that are forgotten, as no poll returns them again.
    pub fn next_from(&mut self, from: i64) -> i64 {
        let next = self.newest.map_or(from, |newest| (newest - LAG_MS).max(from));
        self.printed.retain(|_, time| *time >= next);
        next
    }
}

/// Every line of each group from `from` (ms), every page, matching `filter`, in time order. A group that
/// does not exist yet is noted once (`noted` remembers it across polls).
async fn fetch(
    clients: &Clients,
    groups: &[(String, String)],
    from: i64,
    filter: Option<&str>,
    noted: &mut BTreeSet<String>,
) -> anyhow::Result<Vec<Line>> {
    let mut lines = Vec::new();
    let mut missing = BTreeSet::new();
    for (function, group) in groups {
        let mut request = clients.logs.filter_log_events().log_group_name(group).start_time(from);
        if let Some(text) = filter {
            request = request.filter_pattern(pattern(text));
        }
        let mut pages = request.into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                // A function that never ran has no log group yet.
                Err(error)
                    if error.as_service_error().is_some_and(|e| e.code() == Some("ResourceNotFoundException")) =>
                {
                    missing.insert(group.clone());
                    break;
                }
                Err(error) => return Err(error).aws().with_context(|| format!("reading the log group {group}")),
            };
            for event in page.events.unwrap_or_default() {
                lines.push(Line {
                    time_ms: event.timestamp.unwrap_or_default(),
                    function: function.clone(),
                    message: event.message.unwrap_or_default().trim_end().to_owned(),
                    id: event.event_id.unwrap_or_default(),
                });
            }
        }
    }
    for group in missing {
        if noted.insert(group.clone()) {
            eprintln!("note: {group} does not exist yet (the function has not run since it was deployed)");
        }
    }
    lines.sort_by(|a, b| (a.time_ms, &a.function).cmp(&(b.time_ms, &b.function)));
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_with_their_unit() {
        assert_eq!(since("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(since("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(since("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(since("30s"), Ok(Duration::from_secs(30)));
        assert!(since("15").unwrap_err().contains("no unit"));
        assert!(since("m").is_err() && since("1w").is_err());
    }

    #[test]
    fn a_filter_is_one_quoted_term_whatever_it_holds() {
        assert_eq!(pattern("signin refused"), "\"signin refused\"");
        assert_eq!(pattern(r#"say "hi" \ bye"#), r#""say \"hi\" \\ bye""#);
    }

    #[test]
    fn lines_render_with_time_function_level_and_fields_and_security_events_stand_out() {
        let message = r#"{"timestamp":"x","level":"WARN","fields":{"message":"every session ends","event":"signout_everywhere","user":"ab12"},"target":"auth"}"#;
        let line =
            Line { time_ms: 1_796_636_753_123, function: "signout".into(), message: message.into(), id: "1".into() };
        let shown = render(&line);
        assert!(shown.starts_with("2026-12-07T"), "{shown}");
        assert!(
            shown.contains(".123Z    signout | !! SECURITY signout_everywhere !! WARN  every session ends"),
            "{shown}"
        );
        assert!(shown.contains("event=signout_everywhere user=ab12"), "{shown}");
        let plain = Line { message: "START RequestId: 1 Version: $LATEST".into(), ..line };
        assert!(render(&plain).ends_with("| START RequestId: 1 Version: $LATEST"));
        assert_eq!(time_of(0), "1970-01-01T00:00:00Z");
        assert_eq!(time_of(951_782_400_250), "2000-02-29T00:00:00.25Z");
    }

    #[test]
    fn following_prints_each_line_once_and_a_late_line_still_shows() {
        let line = |id: &str, time_ms: i64| Line { time_ms, function: "f".into(), message: id.into(), id: id.into() };
        let mut followed = Followed::default();
        let first: Vec<String> =
            followed.new_lines(vec![line("a", 100_000), line("b", 100_000)]).into_iter().map(|l| l.id).collect();
        assert_eq!(first, ["a", "b"]);
        let from = followed.next_from(0);
        assert_eq!(from, 100_000 - LAG_MS);
        // The next poll overlaps: a and b come back, with c, and d which arrived late with an older time.
        let second: Vec<String> = followed
            .new_lines(vec![line("d", 90_000), line("a", 100_000), line("b", 100_000), line("c", 101_000)])
            .into_iter()
            .map(|l| l.id)
            .collect();
        assert_eq!(second, ["d", "c"]);
        assert!(followed.next_from(from) >= from);
    }

    #[test]
    fn only_the_security_events_stand_out() {
        let with = |event: &str| format!(r#"{{"level":"INFO","fields":{{"message":"m","event":"{event}"}}}}"#);
        for event in contract::events::SECURITY {
            assert_eq!(security_event(&with(event)).as_deref(), Some(event));
        }
        assert_eq!(security_event(&with("signout")), None, "a plain sign-out is no security event");
    }

    #[test]
    fn an_unknown_function_is_bad_input_naming_the_declared_ones() {
        let functions = crate::declared::functions();
        let err = chosen(&functions, Some("orders")).err().unwrap_or_else(|| panic!("took it"));
        assert!(err.0.contains("the declared ones are") && err.0.contains("signin"), "{}", err.0);
        assert_eq!(chosen(&functions, None).map(|f| f.len()).ok(), Some(functions.len()));
    }
}
