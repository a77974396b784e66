//! The local mail catcher. moto keeps every message SES's `SendEmail` accepts and lists them at
//! `/moto-api/data.json` (under `ses.Message`). After each request to a function that may send mail, the
//! gateway collects the new ones ([`Mailbox::collect`]) before it answers: each is printed as a mail
//! catcher shows it and appended to a file, so a script that reads the file after its request has
//! returned (the walkthrough reads its codes there) always finds the mail.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// One message as moto kept it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caught {
    pub from: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

/// The messages in moto's `/moto-api/data.json`, oldest first.
pub fn messages(data: &Value) -> Vec<Caught> {
    let text = |message: &Value, field: &str| message.get(field).and_then(Value::as_str).unwrap_or_default().to_owned();
    data.pointer("/ses/Message")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|message| Caught {
            from: text(message, "source"),
            to: message
                .pointer("/destinations/ToAddresses")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            subject: text(message, "subject"),
            body: text(message, "body"),
        })
        .collect()
}

/// The code in the newest of `mails` to `to` (the line `code: 1234 5678`, spaces taken out).
pub fn last_code(mails: &[Caught], to: &str) -> Option<String> {
    let mail = mails.iter().rev().find(|m| m.to.iter().any(|t| t == to))?;
    auth::mail::code_in(&mail.body)
}

/// Where the local API on `port` keeps the mail its functions send.
pub fn file_for(target_dir: &Path, port: u16) -> PathBuf {
    target_dir.join("local").join(format!("mail-{port}.txt"))
}

/// The code in the newest mail to `to` in a mail file's `text` (as [`render`] wrote it).
pub fn last_code_in(text: &str, to: &str) -> Option<String> {
    let mail = text.rsplit("---- mail").find(|m| m.lines().any(|l| l == format!("To: {to}")))?;
    auth::mail::code_in(mail)
}

/// Every message the emulator at `endpoint` holds, oldest first.
pub async fn emulator_mail(endpoint: &str) -> anyhow::Result<Vec<Caught>> {
    let client: Client<HttpConnector, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    fetch(&client, endpoint).await
}

async fn fetch(client: &Client<HttpConnector, Empty<Bytes>>, endpoint: &str) -> anyhow::Result<Vec<Caught>> {
    let url = format!("{endpoint}/moto-api/data.json");
    let uri: hyper::Uri = url.parse().with_context(|| format!("{url} is not a URL"))?;
    let response = client.get(uri).await.with_context(|| format!("asking the AWS emulator for {url}"))?;
    let bytes = response.into_body().collect().await.context("reading the emulator's data")?.to_bytes();
    let data: Value = serde_json::from_slice(&bytes).context("the emulator's data.json is not JSON")?;
    Ok(messages(&data))
}

/// A message as the local server prints it.
pub fn render(mail: &Caught) -> String {
    let mut out = format!(
        "---- mail (SES SendEmail, kept by the emulator) ----\nFrom: {}\nTo: {}\nSubject: {}\n\n",
        mail.from,
        mail.to.join(", "),
        mail.subject
    );
    for line in mail.body.lines() {
        out.push_str(&format!("{line}\n"));
    }
    out.push_str("----\n");
    out
}

/// The emulator's messages, those already shown counted.
#[derive(Debug)]
pub struct Mailbox {
    endpoint: String,
    file: PathBuf,
    echo: bool,
    client: Client<HttpConnector, Empty<Bytes>>,
    /// How many of the emulator's messages were there before, or shown already.
    seen: tokio::sync::Mutex<usize>,
}

impl Mailbox {
    /// A mailbox over the emulator at `endpoint`, writing to `file` (emptied); messages the emulator
    /// already holds (a reused one) are not shown again.
    pub async fn open(endpoint: &str, file: &Path, echo: bool) -> anyhow::Result<Mailbox> {
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(file, "").with_context(|| format!("creating {}", file.display()))?;
        let client = Client::builder(TokioExecutor::new()).build_http();
        let mailbox = Mailbox {
            endpoint: endpoint.to_owned(),
            file: file.to_owned(),
            echo,
            client,
            seen: tokio::sync::Mutex::new(0),
        };
        let before = mailbox.fetch().await?.len();
        *mailbox.seen.lock().await = before;
        Ok(mailbox)
    }

    /// The file every message is appended to.
    pub fn file(&self) -> &Path {
        &self.file
    }

    async fn fetch(&self) -> anyhow::Result<Vec<Caught>> {
        fetch(&self.client, &self.endpoint).await
    }

    /// Shows the messages sent since the last call: printed (unless quiet) and appended to the file.
    pub async fn collect(&self) -> anyhow::Result<Vec<Caught>> {
        let mut seen = self.seen.lock().await;
        let all = self.fetch().await?;
        let new: Vec<Caught> = all.into_iter().skip(*seen).collect();
        *seen += new.len();
        let text: String = new.iter().map(render).collect();
        if !new.is_empty() {
            let mut file = std::fs::OpenOptions::new()
                .append(true)
                .open(&self.file)
                .with_context(|| format!("opening {}", self.file.display()))?;
            file.write_all(text.as_bytes()).with_context(|| format!("writing {}", self.file.display()))?;
            if self.echo {
                print!("{text}");
            }
        }
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_are_read_from_the_emulators_data_in_order_and_rendered_with_their_lines() {
        let data = json!({"ses": {"Message": [
            {"id": "1", "source": "no-reply@auth.example.com", "subject": "Your verification code",
             "body": "Your code is:\n\n    code: 1234 5678\n", "destinations": {"ToAddresses": ["alice@example.com"]}},
            {"id": "2", "source": "s", "subject": "second", "body": "", "destinations": {}}
        ]}, "dynamodb": {}});
        let caught = messages(&data);
        assert_eq!(caught.len(), 2);
        assert_eq!(caught[0].to, ["alice@example.com"]);
        let shown = render(&caught[0]);
        assert!(shown.contains("To: alice@example.com\nSubject: Your verification code\n"), "{shown}");
        assert!(shown.contains("\n    code: 1234 5678\n"), "{shown}");
        assert!(messages(&json!({})).is_empty());
        assert_eq!(last_code(&caught, "alice@example.com").as_deref(), Some("12345678"));
        assert_eq!(last_code(&caught, "bob@example.com"), None);
        let file: String = caught.iter().map(render).collect();
        assert_eq!(last_code_in(&file, "alice@example.com").as_deref(), Some("12345678"));
        assert_eq!(last_code_in(&file, "s"), None);
    }
}
