//! What Lambda does with a function's output: each line becomes a CloudWatch Logs event in the
//! function's log group (the template's `/aws/lambda/<name>`), one stream per process. Locally the
//! emulator's CloudWatch Logs receives them, so `cargo xtask logs --endpoint-url <emulator>` reads what
//! the local functions wrote, as it reads a deployed stage's.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use tokio::sync::mpsc;

/// The most events one PutLogEvents takes here (CloudWatch Logs allows 10,000).
const BATCH: usize = 500;

/// Where one process's lines go: sent in order, batched as they queue up.
#[derive(Debug, Clone)]
pub struct Shipper {
    /// Each line with the time it was read (ms), as Lambda stamps a line when the function writes it.
    lines: mpsc::UnboundedSender<(i64, String)>,
}

fn now_ms() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis())).unwrap_or(0)
}

impl Shipper {
    /// Creates the group and stream if they do not exist, then ships every line sent, until every sender
    /// is dropped (the process's output ended).
    pub fn start(client: Client, group: String, stream: String) -> Shipper {
        let (lines, queued) = mpsc::unbounded_channel();
        tokio::spawn(ship(client, group, stream, queued));
        Shipper { lines }
    }

    /// Queues a line; an empty one is skipped (CloudWatch Logs refuses an empty message, and with it the
    /// whole batch).
    pub fn send(&self, line: &str) {
        if !line.is_empty() {
            let _ = self.lines.send((now_ms(), line.to_owned()));
        }
    }
}

async fn ship(client: Client, group: String, stream: String, mut queued: mpsc::UnboundedReceiver<(i64, String)>) {
    // Lambda creates the group on a function's first run when the stack did not; an existing one is fine.
    let _ = client.create_log_group().log_group_name(&group).send().await;
    let _ = client.create_log_stream().log_group_name(&group).log_stream_name(&stream).send().await;
    let mut warned = false;
    while let Some(first) = queued.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match queued.try_recv() {
                Ok(line) => batch.push(line),
                Err(_) => break,
            }
        }
        let events: Vec<InputLogEvent> = batch
            .into_iter()
            .filter_map(|(time, message)| InputLogEvent::builder().timestamp(time).message(message).build().ok())
            .collect();
        let sent = client
            .put_log_events()
            .log_group_name(&group)
            .log_stream_name(&stream)
            .set_log_events(Some(events))
            .send()
            .await;
        if let Err(error) = sent
            && !warned
        {
            // The lines are still echoed; only `cargo xtask logs` will not find them.
            eprintln!("warning: the emulator's CloudWatch Logs refused {group}'s lines: {error}");
            warned = true;
        }
    }
}
