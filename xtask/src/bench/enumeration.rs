//! `cargo xtask bench enumeration`: does an address with an account cost what one without costs, on
//! every route that takes an address? Against the local API and the emulator, each route is called
//! `requests` times for addresses with an account and as many times for addresses without, one pair
//! after another (which of the two goes first alternates), so that whatever the machine does meanwhile
//! falls on both alike. Each address is used once per route, the routes in order (signup, forgot, verify,
//! reset, signin), so that an unknown address meets each route as an attacker probing it would: after its
//! own signup and forgot, as the known one. No address reaches its hourly mail limit, so every mail is
//! sent. It reports the median and p90 of each side.
//!
//! The known addresses are signed up and verified through the API first, with the codes the local
//! server keeps from its mail; the unknown ones are new to the service.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use super::load::{Http, call};
use crate::local::template::Api;
use crate::local::{Local, Options, mailbox};
use crate::package::Profile;

/// The password every address uses: known addresses sign up with it, and it is the reset's new one.
const PASSWORD: &str = "plum harbor quietly juggles";

/// One route's request for an address, and the status both sides must get (the same, by design).
struct Probe {
    function: &'static str,
    expected: u16,
    body: fn(&str) -> Value,
}

const PROBES: [Probe; 5] = [
    Probe { function: "signup", expected: 202, body: |email| json!({"email": email, "password": PASSWORD}) },
    Probe { function: "forgot", expected: 202, body: |email| json!({"email": email}) },
    Probe {
        function: "verify",
        expected: 400,
        body: |email| json!({"email": email, "code": "00000000", "password": PASSWORD}),
    },
    Probe {
        function: "reset",
        expected: 400,
        body: |email| json!({"email": email, "code": "00000000", "password": "seven lanterns over the bay"}),
    },
    Probe {
        function: "signin",
        expected: 401,
        body: |email| json!({"email": email, "password": "not the password at all"}),
    },
];

pub fn run(config_path: &Path, stage: &str, requests: usize, profile: Profile) -> anyhow::Result<ExitCode> {
    let config = crate::load_config(config_path)?;
    crate::local::server_runtime()?.block_on(async {
        // Every request comes from one address: the web ACL's per-IP limits would answer 429.
        let options = Options { profile, rate_limits: false, ..Options::quiet(stage) };
        let local = Local::start(&config, &options).await?;
        let result = measure(&local, requests).await;
        local.stop().await;
        result
    })
}

async fn measure(local: &Local, requests: usize) -> anyhow::Result<ExitCode> {
    let client: Http = Client::builder(TokioExecutor::new()).build_http();
    let url = local.url();
    let run = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let known: Vec<String> = (0..requests).map(|i| format!("known-{run}-{i}@example.com")).collect();
    println!("signing up and verifying {requests} addresses through the API...");
    for email in &known {
        register(&client, local, email).await?;
    }
    println!(
        "\n{requests} requests per side and route, one address each, pairs alternating which side goes first ({:?} \
         build of the functions)\n",
        local.profile
    );
    println!("{:<24} {:>24} {:>24} {:>12}", "route", "known: median / p90", "unknown: median / p90", "median diff");
    for probe in &PROBES {
        let path = path_of(local.api(), probe.function)?;
        let (mut with, mut without) = (Vec::with_capacity(requests), Vec::with_capacity(requests));
        for (i, email) in known.iter().enumerate() {
            // The same stranger along every route, as the known address is: after signup both hold a code
            // of each purpose, so verify and reset meet the same table for both.
            let stranger = format!("unknown-{run}-{i}@example.com");
            let pair = [(email.as_str(), true), (stranger.as_str(), false)];
            let order = if i % 2 == 0 { [pair[0], pair[1]] } else { [pair[1], pair[0]] };
            for (address, has_account) in order {
                let started = Instant::now();
                let (status, body) =
                    call(&client, "POST", &format!("{url}{path}"), None, Some(&(probe.body)(address))).await?;
                let took = started.elapsed();
                if status != probe.expected {
                    bail!("POST {path} for {address} answered {status}: {}", String::from_utf8_lossy(&body));
                }
                if has_account { with.push(took) } else { without.push(took) }
            }
        }
        let (known_median, known_p90) = percentiles(&mut with);
        let (unknown_median, unknown_p90) = percentiles(&mut without);
        println!(
            "{:<24} {:>24} {:>24} {:>+11.2}ms",
            format!("POST {path}"),
            format!("{} / {}", ms(known_median), ms(known_p90)),
            format!("{} / {}", ms(unknown_median), ms(unknown_p90)),
            (known_median.as_secs_f64() - unknown_median.as_secs_f64()) * 1000.0
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The path the built-in function `name` is served at.
fn path_of<'a>(api: &'a Api, name: &str) -> anyhow::Result<&'a str> {
    api.routes
        .iter()
        .find(|r| r.function.name() == name)
        .map(|r| r.path.as_str())
        .with_context(|| format!("the stage serves no {name} route: this bench needs the built-in routes"))
}

/// `email` signed up and verified through the API, with the code from the local server's mail file.
async fn register(client: &Http, local: &Local, email: &str) -> anyhow::Result<()> {
    let url = local.url();
    let (status, body) = call(
        client,
        "POST",
        &format!("{url}{}", path_of(local.api(), "signup")?),
        None,
        Some(&json!({"email": email, "password": PASSWORD})),
    )
    .await?;
    if status != 202 {
        bail!("signing {email} up answered {status}: {}", String::from_utf8_lossy(&body));
    }
    let file = local.mail_file().context("the local API keeps no mail file")?;
    let mail = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let code = mailbox::last_code_in(&mail, email).with_context(|| format!("no code mailed to {email}"))?;
    let verify = json!({"email": email, "code": code, "password": PASSWORD});
    let (status, body) =
        call(client, "POST", &format!("{url}{}", path_of(local.api(), "verify")?), None, Some(&verify)).await?;
    if status != 200 {
        bail!("verifying {email} answered {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok(())
}

/// The median and the 90th percentile.
fn percentiles(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples.get(((samples.len() as f64 * q) as usize).min(samples.len().saturating_sub(1))).copied();
    (at(0.5).unwrap_or_default(), at(0.9).unwrap_or_default())
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_read_off_the_sorted_samples() {
        let mut samples: Vec<Duration> = (1..=10).rev().map(Duration::from_millis).collect();
        assert_eq!(percentiles(&mut samples), (Duration::from_millis(6), Duration::from_millis(10)));
        assert_eq!(percentiles(&mut []), (Duration::ZERO, Duration::ZERO));
    }
}
