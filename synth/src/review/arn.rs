//! ARNs and principals parsed, never matched as text: `arn:aws:iam::999999999999:role/123456789012-reader`
//! belongs to account 999999999999, whatever its name holds.

/// The fields of an ARN (`arn:partition:service:region:account:resource`), a `${...}` substitution
/// counted as one piece even when it holds colons (`${AWS::AccountId}`); `None` for anything else.
pub fn fields(text: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    let (mut start, mut depth) = (0, 0usize);
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth > 0 => depth -= 1,
            b':' if depth == 0 && out.len() < 5 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&text[start..]);
    (out.len() == 6 && out[0] == "arn").then_some(out)
}

/// The account an ARN names, as written (`123456789012` or `${AWS::AccountId}`).
pub fn account(text: &str) -> Option<&str> {
    fields(text).map(|f| f[4])
}

/// Whether a principal as the review shows it (see `principals`) is in `account`, the deploying one:
/// an IAM ARN or account id of that account (or `${AWS::AccountId}`), or a resource of the template
/// itself (`${Role.Arn}`). `*`, another account, a service (which acts for any account that asks it), a
/// federated or canonical user, and anything the review cannot parse are not.
pub fn principal_in_account(principal: &str, account: &str) -> bool {
    let ours = |a: &str| a == "${AWS::AccountId}" || (!account.is_empty() && a == account);
    if principal == "${AWS::AccountId}" {
        return true;
    }
    if principal.len() == 12 && principal.bytes().all(|b| b.is_ascii_digit()) {
        return ours(principal);
    }
    if let Some(f) = fields(principal) {
        return matches!(f[2], "iam" | "sts") && f[3].is_empty() && ours(f[4]);
    }
    // A whole reference to one of the template's own resources: `${Role.Arn}`.
    principal.starts_with("${")
        && principal.ends_with('}')
        && principal.len() > 3
        && principal[2..principal.len() - 1].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_parsed_not_searched_for() {
        let ours = "123456789012";
        assert!(principal_in_account("arn:aws:iam::123456789012:role/reader", ours));
        assert!(principal_in_account("arn:${AWS::Partition}:iam::${AWS::AccountId}:root", ours));
        assert!(principal_in_account("123456789012", ours));
        assert!(principal_in_account("${ReaderRole.Arn}", ours));
        assert!(principal_in_account("${AWS::AccountId}", ours));
        assert!(!principal_in_account("${}", ours));
        for outside in [
            "arn:aws:iam::999999999999:role/123456789012-reader",
            "arn:aws:iam::999999999999:role/${AWS::AccountId}",
            "999999999999",
            "*",
            "Service:dynamodb.amazonaws.com",
            "Federated:accounts.google.com",
            "arn:aws:iam:us-east-1:123456789012:role/x",
            "arn:aws:s3:::123456789012",
            "role 123456789012",
        ] {
            assert!(!principal_in_account(outside, ours), "{outside}");
        }
        assert_eq!(
            account("arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/x"),
            Some("${AWS::AccountId}")
        );
    }
}
