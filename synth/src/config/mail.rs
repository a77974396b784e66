//! `mail`: the address a stage sends mail from and the Amazon SES identity that lets it, either a domain
//! the data stack creates an identity for (Easy DKIM; the DNS records to add are the stack's outputs) or
//! an existing identity named by its ARN.

use std::collections::BTreeMap;
use std::ops::Range;

use contract::{EnvVar, Target};
use serde::Deserialize;
use toml::Spanned;

use super::{ArnKind, ConfigError, Stage, Validator, arn};

/// Where a stage's mail comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The bare From address (`AUTH_MAIL_SENDER`); every grant on the identity requires it as
    /// `ses:FromAddress`.
    pub sender: String,
    pub identity: MailIdentity,
}

/// The SES identity that verifies the sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailIdentity {
    /// A domain the data stack creates an identity for, with Easy DKIM.
    Domain(String),
    /// An existing identity, which whoever made it keeps: its ARN, and the domain or the address it verifies.
    Import { arn: String, name: String },
}

impl MailIdentity {
    /// The domain or the email address the identity verifies.
    pub fn name(&self) -> &str {
        match self {
            MailIdentity::Domain(domain) => domain,
            MailIdentity::Import { name, .. } => name,
        }
    }
}

/// `mail` as written: a sender and exactly one of `domain` and `identity`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMail {
    sender: Spanned<String>,
    domain: Option<Spanned<String>>,
    identity: Option<Spanned<String>>,
}

/// What a stage writes, for the help texts.
const EXAMPLE: &str = "mail = { sender = \"no-reply@auth.example.com\", domain = \"auth.example.com\" }";

/// A DNS host name as SES and API Gateway take it: two or more lowercase labels of letters, digits and
/// inner hyphens, each at most 63 characters, at most 253 in all.
pub(super) fn host_name(name: &str) -> bool {
    name.len() <= 253
        && name.split('.').count() >= 2
        && name.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// A plausible bare email address, `local@domain`: a local part of RFC 5322's atom characters and single
/// inner dots (at most 64), and a lowercase host name (see [`host_name`]), at most 254 in all. Its local
/// part and domain.
pub(super) fn address(text: &str) -> Option<(&str, &str)> {
    let (local, domain) = text.rsplit_once('@')?;
    let atom = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b);
    let local_ok = (1..=64).contains(&local.len())
        && local.bytes().all(|b| atom(b) || b == b'.')
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    (text.len() <= 254 && local_ok && host_name(domain)).then_some((local, domain))
}

impl Validator<'_> {
    /// A stage's `mail`: the sender an address, one identity (a domain, or an identity ARN of the stage's
    /// region and account), and the sender one that identity verifies.
    pub(super) fn mail(
        &self,
        raw: &Spanned<RawMail>,
        region: &str,
        account: Option<&str>,
    ) -> Result<Mail, ConfigError> {
        let m = raw.get_ref();
        let sender = m.sender.get_ref();
        let Some((_, sender_domain)) = address(sender) else {
            return Err(self.err(
                m.sender.span(),
                format!("`{sender}` is not an email address"),
                "write the bare address mail is sent from, such as \"no-reply@auth.example.com\": letters, digits, \
                 dots and !#$%&'*+-/=?^_`{|}~ before the `@`, a lowercase domain after it, no display name",
            ));
        };
        let identity = match (&m.domain, &m.identity) {
            (Some(domain), None) => {
                if !host_name(domain.get_ref()) {
                    return Err(self.err(
                        domain.span(),
                        format!("`{}` is not a domain name", domain.get_ref()),
                        "use a lowercase domain such as `auth.example.com`, which SES verifies through its DKIM records",
                    ));
                }
                MailIdentity::Domain(domain.get_ref().clone())
            }
            (None, Some(identity)) => {
                let name = arn::check(identity.get_ref(), ArnKind::MailIdentity, region, account).map_err(|e| {
                    self.err(
                        identity.span(),
                        e,
                        format!(
                            "name an existing SES identity of the stage's region and account, such as `{}`, or write \
                             domain = \"...\" for one the data stack creates",
                            ArnKind::MailIdentity.example()
                        ),
                    )
                })?;
                MailIdentity::Import { arn: identity.get_ref().clone(), name: name.to_owned() }
            }
            (Some(_), Some(identity)) => {
                return Err(self.err(
                    identity.span(),
                    "mail names both a domain and an identity",
                    "keep `domain` for an identity the data stack creates, or `identity` for an existing one, not both",
                ));
            }
            (None, None) => {
                return Err(self.err(
                    raw.span(),
                    "mail names neither a domain nor an identity",
                    format!(
                        "add the domain the data stack creates an SES identity for ({EXAMPLE}), or an existing \
                         identity's ARN (identity = \"{}\")",
                        ArnKind::MailIdentity.example()
                    ),
                ));
            }
        };
        self.sender_verified(&m.sender, sender_domain, &identity)?;
        Ok(Mail { sender: sender.clone(), identity })
    }

    /// The sender is one SES lets the identity send as: the identity's own address, or an address at the
    /// identity's domain or a subdomain of it.
    fn sender_verified(
        &self,
        sender: &Spanned<String>,
        sender_domain: &str,
        identity: &MailIdentity,
    ) -> Result<(), ConfigError> {
        let name = identity.name();
        let address = sender.get_ref();
        if name.contains('@') {
            if address != name {
                return Err(self.err(
                    sender.span(),
                    format!("sender `{address}` is not `{name}`, the one address its identity verifies"),
                    format!(
                        "an email address identity sends as that address alone: write sender = \"{name}\", or name a \
                         domain identity"
                    ),
                ));
            }
        } else if sender_domain != name && !sender_domain.ends_with(&format!(".{name}")) {
            return Err(self.err(
                sender.span(),
                format!("sender `{address}` is not at `{name}` or a subdomain of it"),
                format!(
                    "SES lets an identity send from its domain and the domain's subdomains: use an address such as \
                     no-reply@{name}, or an identity for {sender_domain}"
                ),
            ));
        }
        Ok(())
    }

    /// A stage whose functions send mail (granted the mail identity, or told the sender) names its mail:
    /// otherwise they would have no identity to send from.
    pub(super) fn mail_needed(&self, stage: &Spanned<String>, mail: Option<&Mail>) -> Result<(), ConfigError> {
        let senders: Vec<&str> = self
            .all
            .iter()
            .filter(|f| {
                f.grants().iter().any(|g| g.on == Target::MailIdentity) || f.env().contains(&EnvVar::MailSender)
            })
            .map(|f| f.name())
            .collect();
        if mail.is_some() || senders.is_empty() {
            return Ok(());
        }
        Err(self.err(
            stage.span(),
            format!(
                "stage `{}` has no `mail`, but {} {} mail (granted `{}` or reading `{}`)",
                stage.get_ref(),
                senders.join(", "),
                if senders.len() == 1 { "sends" } else { "send" },
                Target::MailIdentity.key(),
                EnvVar::MailSender.name()
            ),
            format!(
                "add to [stages.{}] the address mail is sent from and its SES identity: {EXAMPLE}, or identity = \
                 \"arn:aws:ses:<region>:<account>:identity/<domain>\" for an existing one (the README's \"Mail \
                 (Amazon SES)\")",
                stage.get_ref()
            ),
        ))
    }

    /// No two stages that may share an account create the identity of one domain in one region: SES keeps
    /// one identity per domain there, so the second stack's would fail.
    pub(super) fn mail_identities_apart(
        &self,
        stages: &BTreeMap<String, Stage>,
        spans: &BTreeMap<String, Range<usize>>,
    ) -> Result<(), ConfigError> {
        let created: Vec<(&Stage, &str)> = stages
            .values()
            .filter_map(|s| match s.mail.as_ref().map(|m| &m.identity) {
                Some(MailIdentity::Domain(domain)) => Some((s, domain.as_str())),
                _ => None,
            })
            .collect();
        for (i, (a, domain)) in created.iter().enumerate() {
            for (b, other) in &created[i + 1..] {
                let apart = matches!((&a.account, &b.account), (Some(x), Some(y)) if x != y);
                if domain == other && a.region == b.region && !apart {
                    return Err(self.err(
                        spans.get(&b.name).cloned().unwrap_or_default(),
                        format!(
                            "stages `{}` and `{}` would both create the SES identity of {domain} in {}",
                            a.name, b.name, a.region
                        ),
                        format!(
                            "give each stage its own domain (such as {}.{domain}), or let `{}` create it and name it in \
                             `{}` with identity = \"arn:aws:ses:{}:<account>:identity/{domain}\"",
                            b.name, a.name, b.name, a.region
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{address, host_name};

    #[test]
    fn addresses_and_host_names() {
        assert_eq!(address("no-reply@auth.example.com"), Some(("no-reply", "auth.example.com")));
        assert_eq!(address("a.b+tag@x.io"), Some(("a.b+tag", "x.io")));
        for bad in [
            "no-reply",
            "@auth.example.com",
            "no-reply@",
            "no-reply@localhost",
            "No Reply <no-reply@auth.example.com>",
            ".a@example.com",
            "a..b@example.com",
            "a@Example.com",
            "a@@example.com",
            "a@-x.example.com",
        ] {
            assert_eq!(address(bad), None, "{bad}");
        }
        assert!(address(&format!("{}@example.com", "a".repeat(65))).is_none());
        assert!(host_name("dev.auth.example.com"));
        assert!(!host_name("example") && !host_name("a..b") && !host_name(&format!("{}.com", "a".repeat(64))));
    }
}
