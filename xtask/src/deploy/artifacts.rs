//! The artifact bucket (one per account and region, like CDK's bootstrap bucket) and the uploads.

use anyhow::Context as _;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, BucketVersioningStatus, CreateBucketConfiguration, PublicAccessBlockConfiguration,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    VersioningConfiguration,
};

use crate::aws::describe;
use crate::package::Artifact;

/// Bucket names are global, so the name carries the account and region.
pub fn bucket_name(project: &str, account: &str, region: &str) -> String {
    format!("{project}-artifacts-{account}-{region}")
}

/// Creates the bucket if it does not exist: versioned, encrypted, public access blocked.
/// Returns whether it had to be created.
pub async fn ensure_bucket(s3: &Client, bucket: &str, region: &str) -> anyhow::Result<bool> {
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => return Ok(false),
        Err(e) => {
            let not_found = e.as_service_error().is_some_and(|s| s.is_not_found())
                || e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
            if !not_found {
                anyhow::bail!("checking artifact bucket {bucket}: {}", describe(&e));
            }
        }
    }
    let mut create = s3.create_bucket().bucket(bucket);
    // us-east-1 is the one region that takes no location constraint.
    if region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(region)).build(),
        );
    }
    create
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(describe(&e)))
        .with_context(|| format!("creating artifact bucket {bucket}"))?;
    s3.put_public_access_block()
        .bucket(bucket)
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
        .map_err(|e| anyhow::anyhow!(describe(&e)))
        .with_context(|| format!("blocking public access to {bucket}"))?;
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build())
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(describe(&e)))
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
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder().rules(rule).build().context("encryption")?,
        )
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(describe(&e)))
        .with_context(|| format!("turning on encryption of {bucket}"))?;
    Ok(true)
}

/// Whether an object exists.
async fn exists(s3: &Client, bucket: &str, key: &str) -> anyhow::Result<bool> {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error().is_some_and(|s| s.is_not_found())
                || e.raw_response().is_some_and(|r| r.status().as_u16() == 404) =>
        {
            Ok(false)
        }
        Err(e) => Err(anyhow::anyhow!(describe(&e))).with_context(|| format!("checking s3://{bucket}/{key}")),
    }
}

/// Uploads each zip that is not already there; returns how many it uploaded.
pub async fn upload(s3: &Client, bucket: &str, project: &str, artifacts: &[Artifact]) -> anyhow::Result<usize> {
    let mut uploaded = 0;
    for a in artifacts {
        let key = a.s3_key(project);
        if exists(s3, bucket, &key).await? {
            println!("  {:<10} unchanged  s3://{bucket}/{key}", a.function.name());
            continue;
        }
        let body = ByteStream::from_path(&a.zip).await.with_context(|| format!("reading {}", a.zip.display()))?;
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .body(body)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!(describe(&e)))
            .with_context(|| format!("uploading {} to s3://{bucket}/{key}", a.zip.display()))?;
        println!("  {:<10} uploaded   s3://{bucket}/{key} ({:.1} KiB)", a.function.name(), a.size as f64 / 1024.0);
        uploaded += 1;
    }
    Ok(uploaded)
}

/// Uploads a template too large to pass inline; returns its URL for `TemplateURL`. CloudFormation
/// fetches the template itself, so the URL is S3's own virtual-hosted form even when our calls go to an
/// endpoint override (emulators read the bucket and key from it too).
pub async fn upload_template(s3: &Client, bucket: &str, key: &str, body: &str, region: &str) -> anyhow::Result<String> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.as_bytes().to_vec()))
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(describe(&e)))
        .with_context(|| format!("uploading the template to s3://{bucket}/{key}"))?;
    Ok(format!("https://{bucket}.s3.{region}.amazonaws.com/{key}"))
}
