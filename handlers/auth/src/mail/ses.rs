//! The [`Mailer`] on Amazon SES: one SESv2 `SendEmail` per mail, from the stage's sender
//! (`AUTH_MAIL_SENDER`), which the function's role may use and no other (`ses:FromAddress`).

use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::{DisplayErrorContext, ProvideErrorMetadata as _};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use super::{Mail, MailError, Mailer};
use crate::validate::Email;

#[derive(Debug, Clone)]
pub struct SesMailer {
    client: Client,
    sender: String,
}

impl SesMailer {
    pub fn new(client: Client, sender: impl Into<String>) -> SesMailer {
        SesMailer { client, sender: sender.into() }
    }
}

fn utf8(text: &str) -> Result<Content, MailError> {
    Content::builder().data(text).charset("UTF-8").build().map_err(|e| MailError(e.to_string()))
}

impl Mailer for SesMailer {
    async fn send(&self, to: &Email, mail: &Mail) -> Result<(), MailError> {
        let message = Message::builder()
            .subject(utf8(&mail.subject)?)
            .body(Body::builder().text(utf8(&mail.text)?).build())
            .build();
        self.client
            .send_email()
            .from_email_address(&self.sender)
            .destination(Destination::builder().to_addresses(to.as_str()).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|error| {
                // SES's messages can name the recipient (a sandbox's "Email address is not verified"):
                // the log keeps its error code only, never an address.
                MailError(match error.as_service_error() {
                    Some(refused) => format!("SES SendEmail refused: {}", refused.code().unwrap_or("no error code")),
                    None => format!("SES SendEmail could not be sent: {}", DisplayErrorContext(&error)),
                })
            })?;
        Ok(())
    }
}
