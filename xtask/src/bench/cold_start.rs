//! `cargo xtask bench cold-start`: from spawning each function's release `bootstrap` to its first
//! answered event through the local Runtime API, with the environment the template gives it.
//!
//! Each run starts a fresh process with one event already queued, as Lambda does on a cold start,
//! and stops the clock when the answer arrives. The events are chosen from each declaration so that the
//! handler answers without calling AWS where it can (a body it refuses, a missing token, a plain call),
//! so the figure is init plus one trivial invocation, not the latency of DynamoDB, KMS or Argon2; a GET
//! granted a table reads it from the emulator, and says so.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use contract::Function;
use serde_json::{Map, Value, json};

use crate::local::event::{self, Deployment};
use crate::local::process;
use crate::local::runtime::{Answer, RuntimeApi};
use crate::local::template::{Api, Route};
use crate::package::Profile;

/// The cold start the project aims for, per function.
const TARGET: Duration = Duration::from_millis(50);

pub fn run(config_path: &Path, stage: &str, runs: usize) -> anyhow::Result<ExitCode> {
    crate::local::server_runtime()?.block_on(measure(config_path, stage, runs))
}

async fn measure(config_path: &Path, stage: &str, runs: usize) -> anyhow::Result<ExitCode> {
    let config = crate::load_config(config_path)?;
    eprintln!("building the functions in release (fat LTO; minutes when cold)...");
    let binaries = crate::local::build_functions(&config.functions, Profile::Release).await?;
    let prepared = crate::local::prepare(&config, stage, None).await?;
    let at = Deployment {
        region: prepared.aws.region.clone(),
        account: prepared.account.clone(),
        api_id: "local".into(),
        stage: prepared.api.stage.clone(),
    };
    println!(
        "\ncold start: spawn of the release bootstrap -> first answered event, {runs} runs per function (target < {} ms)",
        TARGET.as_millis()
    );
    println!("  {:<11} {:>9} {:>9} {:>9} {:>9}   {:<12} event", "function", "median", "min", "p90", "max", "peak RSS");
    let mut all_met = true;
    for (function, spec) in &prepared.api.functions {
        let (payload, what) = event_for(function, &prepared.api, &at)?;
        let binary = binaries.join(function.name());
        let arn = format!("arn:aws:lambda:{}:{}:function:{}", at.region, at.account, spec.name);
        let mut times = Vec::with_capacity(runs);
        let mut peak_kib = 0;
        for _ in 0..runs {
            let api = RuntimeApi::start(&spec.name, &arn, spec.timeout).await?;
            let call = tokio::spawn({
                let api = api.clone();
                let payload = payload.clone();
                async move { api.invoke(payload).await }
            });
            let started = Instant::now();
            let child =
                process::spawn(&binary, spec, &api, &prepared.aws, process::Output { echo: false, logs: None })?;
            let answer = call.await.context("waiting for the function")?;
            let elapsed = started.elapsed();
            peak_kib = peak_kib.max(peak_rss_kib(child.pid).unwrap_or(0));
            child.stop().await;
            match answer {
                Ok(Answer::Response(_)) => times.push(elapsed),
                Ok(Answer::Error(body)) => bail!("{function} failed its event: {}", String::from_utf8_lossy(&body)),
                Err(failure) => bail!("{function} did not answer: {failure}"),
            }
        }
        times.sort();
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
        let median = times[times.len() / 2];
        all_met &= median < TARGET;
        println!(
            "  {:<11} {:>9} {:>9} {:>9} {:>9}   {:<12} {what}",
            function.name(),
            ms(median),
            ms(times[0]),
            ms(times[(times.len() * 9 / 10).min(times.len() - 1)]),
            ms(times[times.len() - 1]),
            format!("{:.1} MiB", peak_kib as f64 / 1024.0),
        );
    }
    println!("{}", if all_met { "every median is under the target" } else { "some median is over the target" });
    drop(prepared.moto);
    Ok(ExitCode::SUCCESS)
}

/// A cold-start event the function answers without calling AWS, and what it is.
fn event_for(function: &Function, api: &Api, at: &Deployment) -> anyhow::Result<(Vec<u8>, &'static str)> {
    let route_of = |f: &Function| -> anyhow::Result<&Route> {
        api.routes.iter().find(|r| r.function == *f).with_context(|| format!("the api template routes nothing to {f}"))
    };
    let guarded = || {
        api.routes
            .iter()
            .find(|r| r.authorizer.as_ref().is_some_and(|a| a.function == *function))
            .context("no route sits behind the authorizer")
    };
    let request = |body: &[u8]| event::Request {
        method: String::new(),
        path: String::new(),
        query: Vec::new(),
        headers: vec![("content-type".into(), "application/json".into()), ("user-agent".into(), "xtask-bench".into())],
        body: body.to_vec(),
        source_ip: "127.0.0.1".into(),
        host: "127.0.0.1".into(),
        request_id: crate::local::request_id(),
        epoch_ms: 0,
    };
    let with_route = |mut req: event::Request, route: &Route| {
        req.method = route.method.clone();
        req.path = route.path.clone();
        req
    };
    // Chosen from the declaration: a function granted access to AWS whose route takes a body gets one no
    // handler takes (a JSON array), refused before any call; any other is called as the authorizer lets a
    // signed-in user through (a GET granted a table reads it from the emulator).
    let (value, what): (Value, &'static str) = if function.is_authorizer() {
        let route = guarded()?;
        (event::authorizer_event(&with_route(request(b""), route), route, at), "no token -> Deny")
    } else {
        let route = route_of(function)?;
        let context: Map<String, Value> =
            BTreeMap::from([("principalId", "bench@example.com"), (contract::claims::EMAIL, "bench@example.com")])
                .into_iter()
                .map(|(k, v)| (k.to_owned(), json!(v)))
                .collect();
        let context = route.authorizer.is_some().then_some(&context);
        let takes_body = matches!(route.method.as_str(), "POST" | "PUT" | "PATCH");
        let (body, what): (&[u8], _) = match (function.grants().is_empty(), takes_body) {
            (false, true) => (b"[]", "a body it refuses -> 400"),
            (false, false) => (b"", "a plain call, reading the emulator"),
            (true, _) => (b"", "a plain call"),
        };
        (event::proxy_event(&with_route(request(body), route), route, at, context), what)
    };
    Ok((value.to_string().into_bytes(), what))
}

/// The process's peak resident memory (`VmHWM`), in KiB, while it is still alive.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()
}
