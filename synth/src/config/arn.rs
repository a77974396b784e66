//! ARN checks for resources that `stages.toml` imports instead of creating.

/// The parts of an ARN: `arn:partition:service:region:account:resource`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

pub fn parse(text: &str) -> Result<Arn<'_>, String> {
    let mut it = text.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(resource)) =
        (it.next(), it.next(), it.next(), it.next(), it.next(), it.next())
    else {
        return Err(format!("`{text}` is not an ARN (arn:partition:service:region:account:resource)"));
    };
    if !matches!(partition, "aws" | "aws-cn" | "aws-us-gov") {
        return Err(format!("unknown partition `{partition}` in `{text}`"));
    }
    Ok(Arn { partition, service, region, account, resource })
}

/// What kind of resource an imported ARN must name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Table,
    Key,
    Secret,
    Certificate,
    /// An SES identity: a domain or an email address.
    MailIdentity,
}

impl Kind {
    pub fn service(self) -> &'static str {
        match self {
            Kind::Table => "dynamodb",
            Kind::Key => "kms",
            Kind::Secret => "secretsmanager",
            Kind::Certificate => "acm",
            Kind::MailIdentity => "ses",
        }
    }

    pub fn example(self) -> &'static str {
        match self {
            Kind::Table => "arn:aws:dynamodb:us-east-1:123456789012:table/Dev-Auth",
            Kind::Key => "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            Kind::Secret => "arn:aws:secretsmanager:us-east-1:123456789012:secret:auth/dev/jwt-AbCdEf",
            Kind::Certificate => "arn:aws:acm:us-east-1:123456789012:certificate/1234abcd-12ab-34cd-56ef-1234567890ab",
            Kind::MailIdentity => "arn:aws:ses:us-east-1:123456789012:identity/auth.example.com",
        }
    }

    /// Checks the resource part, returning the resource's name or id.
    fn resource(self, resource: &str) -> Result<&str, String> {
        let (prefix, rest) = match self {
            Kind::Table => ("table/", resource.strip_prefix("table/")),
            Kind::Key => ("key/", resource.strip_prefix("key/")),
            Kind::Secret => ("secret:", resource.strip_prefix("secret:")),
            Kind::Certificate => ("certificate/", resource.strip_prefix("certificate/")),
            Kind::MailIdentity => ("identity/", resource.strip_prefix("identity/")),
        };
        let Some(name) = rest else {
            return Err(format!("the resource part must start with `{prefix}`"));
        };
        let ok = match self {
            Kind::Table => {
                (3..=255).contains(&name.len())
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            }
            Kind::Key | Kind::Certificate => is_uuid(name),
            // Secrets Manager appends `-` and six random characters to the name it was given.
            Kind::Secret => name.rsplit_once('-').is_some_and(|(base, suffix)| {
                !base.is_empty()
                    && suffix.len() == 6
                    && suffix.bytes().all(|b| b.is_ascii_alphanumeric())
                    && base.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b))
            }),
            Kind::MailIdentity => super::mail::host_name(name) || super::mail::address(name).is_some(),
        };
        if ok { Ok(name) } else { Err(format!("`{name}` is not a valid {} name", self.noun())) }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Table => "DynamoDB table",
            Kind::Key => "KMS key id (a UUID; aliases cannot be imported)",
            Kind::Secret => "Secrets Manager secret (name-XXXXXX, with the 6-character suffix)",
            Kind::Certificate => "ACM certificate id",
            Kind::MailIdentity => "SES identity (a lowercase domain or an email address)",
        }
    }
}

pub(super) fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Checks that `text` is the ARN of a `kind` resource in `region` (and `account`, when known), and
/// returns the resource's name or id.
pub fn check<'a>(text: &'a str, kind: Kind, region: &str, account: Option<&str>) -> Result<&'a str, String> {
    let arn = parse(text)?;
    if arn.service != kind.service() {
        return Err(format!("`{text}` is an ARN of service `{}`, not `{}`", arn.service, kind.service()));
    }
    if arn.region != region {
        return Err(format!("`{text}` is in region `{}`, but the stage is in `{region}`", arn.region));
    }
    if arn.account.len() != 12 || !arn.account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{}` in `{text}` is not a 12-digit account id", arn.account));
    }
    if let Some(account) = account
        && arn.account != account
    {
        return Err(format!("`{text}` belongs to account {}, but the stage deploys to {account}", arn.account));
    }
    kind.resource(arn.resource).map_err(|e| format!("{e} in `{text}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_well_formed_arns() {
        for kind in [Kind::Table, Kind::Key, Kind::Secret, Kind::Certificate, Kind::MailIdentity] {
            assert!(check(kind.example(), kind, "us-east-1", Some("123456789012")).is_ok(), "{kind:?}");
        }
        assert_eq!(check(Kind::Table.example(), Kind::Table, "us-east-1", None), Ok("Dev-Auth"));
        assert_eq!(check(Kind::MailIdentity.example(), Kind::MailIdentity, "us-east-1", None), Ok("auth.example.com"));
        let address = "arn:aws:ses:us-east-1:123456789012:identity/no-reply@example.com";
        assert_eq!(check(address, Kind::MailIdentity, "us-east-1", None), Ok("no-reply@example.com"));
    }

    #[test]
    fn rejects_wrong_service_region_account_and_shape() {
        let e = |t, k, r, a| check(t, k, r, a).err().unwrap_or_default();
        assert!(e(Kind::Table.example(), Kind::Key, "us-east-1", None).contains("service `dynamodb`, not `kms`"));
        assert!(e(Kind::Table.example(), Kind::Table, "eu-west-1", None).contains("region `us-east-1`"));
        assert!(
            e(Kind::Table.example(), Kind::Table, "us-east-1", Some("999999999999")).contains("account 123456789012")
        );
        assert!(e("arn:aws:kms:us-east-1:123456789012:alias/x", Kind::Key, "us-east-1", None).contains("key/"));
        assert!(e("arn:aws:kms:us-east-1:123456789012:key/nope", Kind::Key, "us-east-1", None).contains("UUID"));
        assert!(e("nope", Kind::Key, "us-east-1", None).contains("not an ARN"));
        assert!(e("arn:aws:dynamodb:us-east-1:12:table/abc", Kind::Table, "us-east-1", None).contains("12-digit"));
        assert!(
            e("arn:aws:secretsmanager:us-east-1:123456789012:secret:jwt", Kind::Secret, "us-east-1", None)
                .contains("6-character suffix")
        );
        for (resource, says) in [
            ("configuration-set/x", "`identity/`"),
            ("identity/Example.COM", "SES identity"),
            ("identity/", "SES identity"),
        ] {
            let arn = format!("arn:aws:ses:us-east-1:123456789012:{resource}");
            let got = check(&arn, Kind::MailIdentity, "us-east-1", None).err().unwrap_or_default();
            assert!(got.contains(says), "{resource}: {got}");
        }
    }
}
