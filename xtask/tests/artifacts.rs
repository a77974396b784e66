//! The artifact bucket against the emulator, with every S3 request recorded: each names the account
//! as the expected bucket owner (moto ignores the header, so only the recording shows it is sent), an
//! object is skipped only when S3's SHA-256 is ours, and one that is not ours is replaced.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions panic on setup failure too

#[path = "support/scratch.rs"]
mod scratch;

use std::sync::{Arc, Mutex};

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use sha2::Digest as _;
use xtask::deploy::artifacts;
use xtask::package::Artifact;

/// A request line and the expected bucket owner it named, if any.
type Seen = (String, Option<String>);

#[derive(Debug, Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Seen>>>);

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "record-s3-requests"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let request = context.request();
        let owner = request.headers().get("x-amz-expected-bucket-owner").map(str::to_owned);
        self.0.lock().unwrap().push((format!("{} {}", request.method(), request.uri()), owner));
        Ok(())
    }
}

fn artifact(dir: &std::path::Path, contents: &[u8]) -> Artifact {
    let zip = dir.join("bootstrap.zip");
    std::fs::write(&zip, contents).unwrap();
    let sha256 = sha2::Sha256::digest(contents).iter().map(|b| format!("{b:02x}")).collect();
    let root = devenv::workspace_root().unwrap_or_else(|e| panic!("{e}"));
    let functions = xtask::functions(&root).unwrap_or_else(|e| panic!("{e:#}"));
    let hello = functions.into_iter().find(|f| f.name() == "hello").unwrap_or_else(|| panic!("no hello"));
    Artifact { function: hello, zip, sha256, size: contents.len() as u64 }
}

#[test]
fn every_s3_request_names_our_account_and_only_our_bytes_are_reused() {
    let venv = devenv::ensure(&mut |line| eprintln!("{line}")).unwrap();
    let moto = devenv::Moto::start(&venv).unwrap();
    let dir = scratch::dir("artifacts-owner");
    let account = "123456789012";
    let bucket = artifacts::bucket_name("itest", account, "us-east-1", None);
    let recorder = Recorder::default();
    xtask::aws::runtime().unwrap().block_on(async {
        let config = xtask::local::data::sdk_config(&moto.endpoint(), "us-east-1").await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config).force_path_style(true).interceptor(recorder.clone()).build(),
        );
        let ours = artifact(&dir, b"our zip");
        assert!(artifacts::ensure_bucket(&s3, &bucket, "us-east-1", account, "dev").await.unwrap());
        assert!(!artifacts::ensure_bucket(&s3, &bucket, "us-east-1", account, "dev").await.unwrap());
        assert_eq!(artifacts::upload(&s3, &bucket, account, "itest", std::slice::from_ref(&ours)).await.unwrap(), 1);
        assert_eq!(artifacts::upload(&s3, &bucket, account, "itest", std::slice::from_ref(&ours)).await.unwrap(), 0);
        artifacts::upload_template(&s3, &bucket, account, "templates/t.yaml", "Resources: {}", "us-east-1")
            .await
            .unwrap();

        // Someone with write access puts other bytes under our content-addressed key: not reused.
        let plain =
            aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
        plain
            .put_object()
            .bucket(&bucket)
            .key(ours.s3_key("itest"))
            .body(b"their code".to_vec().into())
            .send()
            .await
            .unwrap();
        assert_eq!(artifacts::upload(&s3, &bucket, account, "itest", std::slice::from_ref(&ours)).await.unwrap(), 1);
        let back = plain.get_object().bucket(&bucket).key(ours.s3_key("itest")).send().await.unwrap();
        assert_eq!(back.body.collect().await.unwrap().into_bytes().as_ref(), b"our zip");

        let policy = plain.get_bucket_policy().bucket(&bucket).send().await.unwrap().policy.unwrap_or_default();
        assert!(policy.contains("aws:SecureTransport"), "{policy}");
    });
    let requests = recorder.0.lock().unwrap().clone();
    assert!(requests.len() >= 12, "{requests:#?}");
    for (request, owner) in &requests {
        // CreateBucket alone takes no expected owner: the bucket is not there yet, and S3 answers
        // BucketAlreadyExists when another account has the name.
        if request.starts_with("PUT ") && request.trim_end_matches('/').ends_with(&bucket) {
            continue;
        }
        assert_eq!(owner.as_deref(), Some(account), "{request} does not name the expected bucket owner");
    }
}
