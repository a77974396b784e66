//! The artifact bucket (one per account and region, like CDK's bootstrap bucket) and the uploads.
//!
//! Bucket names are global, and ours is predictable: another account can create it first (bucket
//! sniping) and, with a permissive policy, receive our code and serve its own in its place. So every
//! request names the bucket owner we expect (`ExpectedBucketOwner`, the STS account): S3 answers 403
//! to any request for a bucket another account owns. An object that is already there is used only
//! when S3's SHA-256 checksum of it is the SHA-256 of our zip.
//!
//! Code keys are named by their content's SHA-256 and written once: the bucket policy refuses an
//! object creation under them without `If-None-Match` (S3's conditional write), and the upload sends
//! `If-None-Match: *`, so nobody can replace the bytes behind a key, whoever's credentials they hold.
//! The version of each object is what the templates pin (`S3ObjectVersion`): even an overwrite would
//! not change what a reviewed change set deploys.

use anyhow::Context as _;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, ChecksumAlgorithm, ChecksumMode, CreateBucketConfiguration,
    ObjectOwnership, OwnershipControls, OwnershipControlsRule, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    VersioningConfiguration,
};
use base64::Engine as _;

use crate::BadInput;
use crate::aws::{AwsError, AwsResultExt as _};
use crate::package::Artifact;

/// The bucket a stage deploys through: its `artifact_bucket`, or one named after the account and
/// region (bucket names are global).
/// Where a stage's function code goes in the artifact bucket: `<project>/<stage>`.
pub fn code_prefix(project: &str, stage: &str) -> String {
    format!("{project}/{stage}")
}

pub fn bucket_name(project: &str, account: &str, region: &str, configured: Option<&str>) -> String {
    configured.map_or_else(|| format!("{project}-artifacts-{account}-{region}"), str::to_owned)
}

/// What S3 said about the bucket, asked with our account as the expected owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketState {
    Ours,
    Missing,
    /// It exists, and S3 refuses us: another account owns it (or denies us, which is as bad).
    Foreign,
}

/// The state from a HeadBucket answer: `Ok`, or the error's HTTP status and code; `None` for an
/// answer that says neither (a server error), which is reported as it is.
pub fn bucket_state(head: Result<(), (u16, Option<&str>)>) -> Option<BucketState> {
    match head {
        Ok(()) => Some(BucketState::Ours),
        Err((404, _)) | Err((_, Some("NoSuchBucket" | "NotFound"))) => Some(BucketState::Missing),
        Err((403, _)) | Err((_, Some("AccessDenied" | "Forbidden"))) => Some(BucketState::Foreign),
        Err(_) => None,
    }
}

fn foreign(bucket: &str, account: &str, stage: &str) -> anyhow::Error {
    BadInput(format!(
        "the artifact bucket {bucket} exists but is not account {account}'s (S3 refused a request naming it as the \
         owner): another account may have taken the name to receive or replace our code. Choose another name with \
         artifact_bucket = \"...\" under [stages.{stage}] in stages.toml"
    ))
    .into()
}

/// Makes sure the bucket exists and is ours: versioned, encrypted, public access blocked, objects
/// owned by the bucket owner, and a policy that refuses requests without TLS. Returns whether it had
/// to be created.
pub async fn ensure_bucket(
    s3: &Client,
    bucket: &str,
    region: &str,
    account: &str,
    (project, stage): (&str, &str),
) -> anyhow::Result<bool> {
    let head = s3.head_bucket().bucket(bucket).expected_bucket_owner(account).send().await.aws();
    let state = match &head {
        Ok(_) => bucket_state(Ok(())),
        Err(e) => bucket_state(Err((status_of(e), e.code.as_deref()))),
    };
    match state {
        Some(BucketState::Ours) => return Ok(false),
        Some(BucketState::Foreign) => return Err(foreign(bucket, account, stage)),
        Some(BucketState::Missing) => {}
        None => {
            let e = head.err().map_or_else(|| "no answer".to_owned(), |e| e.to_string());
            anyhow::bail!("checking artifact bucket {bucket}: {e}");
        }
    }
    let mut create = s3.create_bucket().bucket(bucket);
    // us-east-1 is the one region that takes no location constraint.
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(region)).build(),
        );
    }
    match create.send().await.aws() {
        Ok(_) => {}
        // Taken between our look and our create: by someone else, or by us.
        Err(e) if e.code.as_deref() == Some("BucketAlreadyExists") => return Err(foreign(bucket, account, stage)),
        Err(e) if e.code.as_deref() == Some("BucketAlreadyOwnedByYou") => {}
        Err(e) => return Err(e).with_context(|| format!("creating artifact bucket {bucket}")),
    }
    s3.put_public_access_block()
        .bucket(bucket)
        .expected_bucket_owner(account)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .aws()
        .with_context(|| format!("blocking public access to {bucket}"))?;
    let owner_enforced =
        OwnershipControlsRule::builder().object_ownership(ObjectOwnership::BucketOwnerEnforced).build();
    s3.put_bucket_ownership_controls()
        .bucket(bucket)
        .expected_bucket_owner(account)
        .ownership_controls(OwnershipControls::builder().rules(owner_enforced?).build().context("ownership")?)
        .send()
        .await
        .aws()
        .with_context(|| format!("making {bucket}'s owner own every object"))?;
    s3.put_bucket_versioning()
        .bucket(bucket)
        .expected_bucket_owner(account)
        .versioning_configuration(VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build())
        .send()
        .await
        .aws()
        .with_context(|| format!("turning on versioning of {bucket}"))?;
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::Aes256)
                .build()
                .context("encryption rule")?,
        )
        .build();
    s3.put_bucket_encryption()
        .bucket(bucket)
        .expected_bucket_owner(account)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder().rules(rule).build().context("encryption")?,
        )
        .send()
        .await
        .aws()
        .with_context(|| format!("turning on encryption of {bucket}"))?;
    put_policy(s3, bucket, account, project).await?;
    Ok(true)
}

/// Sets the bucket policy, `bucket_policy`.
async fn put_policy(s3: &Client, bucket: &str, account: &str, project: &str) -> anyhow::Result<()> {
    s3.put_bucket_policy()
        .bucket(bucket)
        .expected_bucket_owner(account)
        .policy(bucket_policy(bucket, project))
        .send()
        .await
        .aws()
        .with_context(|| format!("setting the policy of {bucket} (TLS only, code written once)"))?;
    Ok(())
}

/// Brings an existing bucket's policy up to `bucket_policy` when it differs (a bucket made by an older
/// xtask has no write-once statement). Returns whether it changed it.
pub async fn ensure_policy(s3: &Client, bucket: &str, account: &str, project: &str) -> anyhow::Result<bool> {
    let current = match s3.get_bucket_policy().bucket(bucket).expected_bucket_owner(account).send().await.aws() {
        Ok(out) => out.policy.and_then(|p| serde_json::from_str::<serde_json::Value>(&p).ok()),
        Err(e) if e.code.as_deref() == Some("NoSuchBucketPolicy") => None,
        Err(e) => return Err(e).with_context(|| format!("reading the policy of {bucket}")),
    };
    let wanted: serde_json::Value = serde_json::from_str(&bucket_policy(bucket, project)).context("bucket policy")?;
    if policy_covers(current.as_ref(), &wanted) {
        return Ok(false);
    }
    put_policy(s3, bucket, account, project).await?;
    Ok(true)
}

/// Whether `current` holds every statement of `wanted` (by `Sid`, compared whole).
pub fn policy_covers(current: Option<&serde_json::Value>, wanted: &serde_json::Value) -> bool {
    let statements =
        |v: &serde_json::Value| -> Vec<serde_json::Value> { v["Statement"].as_array().cloned().unwrap_or_default() };
    let have = current.map(statements).unwrap_or_default();
    statements(wanted).iter().all(|w| have.contains(w))
}

/// The key prefixes whose objects are written once: every stage's function code and the reviewer
/// binaries the pipelines run.
pub fn write_once_prefixes(project: &str) -> [String; 2] {
    [format!("{project}/"), "reviewer/".to_owned()]
}

/// The bucket policy: every request without TLS is refused, whoever makes it; and no object under a
/// write-once prefix is created without `If-None-Match` (S3 then refuses to replace an existing key).
/// `s3:ObjectCreationOperation` spares the parts of a multipart upload, which carry no such header.
pub fn bucket_policy(bucket: &str, project: &str) -> String {
    let write_once: Vec<String> =
        write_once_prefixes(project).iter().map(|p| format!("arn:aws:s3:::{bucket}/{p}*")).collect();
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyWithoutTls",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [format!("arn:aws:s3:::{bucket}"), format!("arn:aws:s3:::{bucket}/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}
            },
            {
                "Sid": "WriteCodeOnce",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": write_once,
                "Condition": {"Null": {"s3:if-none-match": "true"}, "Bool": {"s3:ObjectCreationOperation": "true"}}
            }
        ]
    })
    .to_string()
}

fn status_of(e: &AwsError) -> u16 {
    match e.code.as_deref() {
        Some("NotFound" | "404") => 404,
        Some("Forbidden" | "403" | "AccessDenied") => 403,
        _ => 0,
    }
}

/// S3's form of a SHA-256 checksum: base64 of the digest.
pub fn s3_checksum(sha256_hex: &str) -> anyhow::Result<String> {
    let bytes = (0..sha256_hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(sha256_hex.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .with_context(|| format!("{sha256_hex} is not a hex SHA-256"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// What to do with a key, given the checksum S3 holds for it (if the object exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    Absent,
    /// There, with our bytes: nothing to upload.
    Same,
    /// There, but not provably ours (another checksum, or none): someone else wrote it.
    Different {
        found: Option<String>,
    },
}

pub fn existing(found: Option<Option<String>>, ours: &str) -> Existing {
    match found {
        None => Existing::Absent,
        Some(Some(sum)) if sum == ours => Existing::Same,
        Some(found) => Existing::Different { found },
    }
}

/// A function's zip as stored: its key and the object version the templates pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub key: String,
    pub version: String,
}

/// The version S3 reported for an object, or why it cannot be pinned (an unversioned bucket answers
/// none, or `null`).
pub fn pinnable(bucket: &str, version: Option<String>) -> anyhow::Result<String> {
    match version {
        Some(v) if !v.is_empty() && v != "null" => Ok(v),
        _ => Err(BadInput(format!(
            "the artifact bucket {bucket} is not versioned, so a change set cannot pin the code it reviewed: turn \
             versioning on (`aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration \
             Status=Enabled`) and deploy again"
        ))
        .into()),
    }
}

/// Why a key holds bytes other than the ones its name promises: written by someone else.
fn tampered(bucket: &str, key: &str, found: Option<&str>, ours: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "s3://{bucket}/{key} is not the zip named by its SHA-256 (S3's checksum is {}, ours {ours}): code keys are \
         written once, so someone else wrote it. Find out who (CloudTrail), delete every version of that key, and \
         deploy again",
        found.unwrap_or("missing")
    )
}

/// What S3 holds at `key` (its `version`, if given): its SHA-256 checksum and version, or `None` when
/// there is nothing. Every check of an object's bytes before trusting it asks this.
pub async fn head(
    s3: &Client,
    (bucket, account): (&str, &str),
    key: &str,
    version: Option<&str>,
) -> anyhow::Result<Option<(Option<String>, Option<String>)>> {
    let head = s3
        .head_object()
        .bucket(bucket)
        .key(key)
        .set_version_id(version.map(str::to_owned))
        .expected_bucket_owner(account)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .aws();
    match head {
        Ok(out) => Ok(Some((out.checksum_sha256, out.version_id))),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e).with_context(|| format!("checking s3://{bucket}/{key}")),
    }
}

/// Writes `body` to `key` once: with our SHA-256 for S3 to check and `If-None-Match: *`, so an object
/// already there is never replaced. When one is (written between our look and our write), it is used
/// only if it holds our bytes. Returns the version stored.
pub async fn put_once(
    s3: &Client,
    (bucket, account): (&str, &str),
    key: &str,
    body: ByteStream,
    sha256_hex: &str,
) -> anyhow::Result<String> {
    let checksum = s3_checksum(sha256_hex)?;
    let put = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .expected_bucket_owner(account)
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .checksum_sha256(&checksum)
        .if_none_match("*")
        .body(body)
        .send()
        .await
        .aws();
    match put {
        Ok(out) => pinnable(bucket, out.version_id),
        Err(e) if matches!(e.code.as_deref(), Some("PreconditionFailed" | "ConditionalRequestConflict")) => {
            match head(s3, (bucket, account), key, None).await? {
                Some((Some(found), version)) if found == checksum => pinnable(bucket, version),
                found => Err(tampered(bucket, key, found.and_then(|f| f.0).as_deref(), &checksum)),
            }
        }
        Err(e) => Err(e).with_context(|| format!("uploading to s3://{bucket}/{key}")),
    }
}

/// Uploads each zip that is not already there with our checksum; returns how many it uploaded and,
/// function by function, where each zip is stored.
pub async fn upload(
    s3: &Client,
    bucket: &str,
    account: &str,
    prefix: &str,
    artifacts: &[Artifact],
) -> anyhow::Result<(usize, Vec<Stored>)> {
    let mut uploaded = 0;
    let mut stored = Vec::new();
    for a in artifacts {
        let key = a.s3_key(prefix);
        let checksum = s3_checksum(&a.sha256)?;
        let (found, version) = match head(s3, (bucket, account), &key, None).await? {
            Some((sum, version)) => (Some(sum), version),
            None => (None, None),
        };
        let version = match existing(found, &checksum) {
            Existing::Same => {
                println!("  {:<10} unchanged  s3://{bucket}/{key}", a.function.name());
                pinnable(bucket, version)?
            }
            Existing::Absent => {
                let body =
                    ByteStream::from_path(&a.zip).await.with_context(|| format!("reading {}", a.zip.display()))?;
                let version = put_once(s3, (bucket, account), &key, body, &a.sha256).await?;
                println!(
                    "  {:<10} uploaded   s3://{bucket}/{key} ({:.1} KiB)",
                    a.function.name(),
                    a.size as f64 / 1024.0
                );
                uploaded += 1;
                version
            }
            Existing::Different { found } => return Err(tampered(bucket, &key, found.as_deref(), &checksum)),
        };
        stored.push(Stored { key, version });
    }
    Ok((uploaded, stored))
}

/// Uploads a template too large to pass inline; returns its URL for `TemplateURL`. CloudFormation
/// fetches the template itself, so the URL is S3's own virtual-hosted form even when our calls go to an
/// endpoint override (emulators read the bucket and key from it too).
pub async fn upload_template(
    s3: &Client,
    bucket: &str,
    account: &str,
    key: &str,
    body: &str,
    region: &str,
) -> anyhow::Result<String> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .expected_bucket_owner(account)
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .body(ByteStream::from(body.as_bytes().to_vec()))
        .send()
        .await
        .aws()
        .with_context(|| format!("uploading the template to s3://{bucket}/{key}"))?;
    Ok(format!("https://{bucket}.s3.{region}.amazonaws.com/{key}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_another_account_owns_is_foreign() {
        assert_eq!(bucket_state(Ok(())), Some(BucketState::Ours));
        assert_eq!(bucket_state(Err((404, None))), Some(BucketState::Missing));
        assert_eq!(bucket_state(Err((0, Some("NoSuchBucket")))), Some(BucketState::Missing));
        // With ExpectedBucketOwner, S3 answers 403 for a bucket of another account.
        assert_eq!(bucket_state(Err((403, None))), Some(BucketState::Foreign));
        assert_eq!(bucket_state(Err((500, Some("InternalError")))), None);
        let e = foreign("auth-artifacts-1-us-east-1", "1", "prod").to_string();
        assert!(e.contains("is not account 1's") && e.contains("artifact_bucket = \"...\" under [stages.prod]"), "{e}");
    }

    #[test]
    fn an_existing_object_is_used_only_with_our_checksum() {
        let ours = s3_checksum(&"ab".repeat(32)).unwrap();
        assert_eq!(ours.len(), 44);
        assert_eq!(existing(None, &ours), Existing::Absent);
        assert_eq!(existing(Some(Some(ours.clone())), &ours), Existing::Same);
        assert_eq!(existing(Some(None), &ours), Existing::Different { found: None });
        assert_eq!(existing(Some(Some("other".into())), &ours), Existing::Different { found: Some("other".into()) });
        assert!(s3_checksum("not hex").is_err());
    }

    #[test]
    fn the_bucket_policy_refuses_plain_http_and_a_second_write_of_code() {
        let policy: serde_json::Value = serde_json::from_str(&bucket_policy("b", "auth")).unwrap();
        assert_eq!(policy["Statement"][0]["Effect"], "Deny");
        assert_eq!(policy["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"], "false");
        assert_eq!(policy["Statement"][0]["Resource"][1], "arn:aws:s3:::b/*");
        // IAM's own reading: a write to a code key without If-None-Match is refused, whoever sends it.
        use synth::review::evaluate::{Decision, Request, decide};
        let anyone = serde_json::json!({"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]});
        let put = |key: &str| Request::new("s3:PutObject", &format!("arn:aws:s3:::b/{key}"));
        let created = |r: Request| r.with("s3:ObjectCreationOperation", "true");
        for key in ["auth/prod/signin/ab.zip", "reviewer/ab/xtask"] {
            assert_eq!(decide(&[&anyone, &policy], None, &created(put(key))), Decision::ExplicitDeny, "{key}");
            let once = created(put(key)).with("s3:if-none-match", "*");
            assert_eq!(decide(&[&anyone, &policy], None, &once), Decision::Allowed, "{key}");
        }
        // Pipeline artifacts and Plan's cache are rewritten by CodePipeline and CodeBuild as they work.
        assert_eq!(decide(&[&anyone, &policy], None, &created(put("auth-dev/Plan/x"))), Decision::Allowed);
        // An older bucket's policy lacks the statement and is brought up to date; ours is left alone.
        let tls_only = serde_json::json!({"Statement": [policy["Statement"][0].clone()]});
        assert!(!policy_covers(Some(&tls_only), &policy) && !policy_covers(None, &policy));
        assert!(policy_covers(Some(&policy), &policy));
    }

    #[test]
    fn only_a_versioned_object_can_be_pinned() {
        assert_eq!(
            pinnable("b", Some("3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY".into())).unwrap(),
            "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
        );
        for unversioned in [None, Some("null".to_owned()), Some(String::new())] {
            let e = pinnable("b", unversioned).unwrap_err().to_string();
            assert!(e.contains("not versioned") && e.contains("put-bucket-versioning --bucket b"), "{e}");
        }
    }
}
