//! The artifact bucket against the emulator, with every S3 request recorded: each names the account
//! as the expected bucket owner (moto ignores the header, so only the recording shows it is sent), an
//! object is reused only when S3's SHA-256 is ours, a code key is written once (the bucket policy refuses
//! any other write, whoever's credentials send it), and each zip is pinned by its object version.
#![allow(clippy::unwrap_used)] // helpers outside #[test] functions panic on setup failure too

mod support;
use support::scratch;

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
        assert!(artifacts::ensure_bucket(&s3, &bucket, "us-east-1", account, ("itest", "dev")).await.unwrap());
        assert!(!artifacts::ensure_bucket(&s3, &bucket, "us-east-1", account, ("itest", "dev")).await.unwrap());
        assert!(!artifacts::ensure_policy(&s3, &bucket, account, "itest").await.unwrap(), "the new policy is current");
        let (uploaded, stored) =
            artifacts::upload(&s3, &bucket, account, "itest", std::slice::from_ref(&ours)).await.unwrap();
        assert_eq!(uploaded, 1);
        let (again, same) =
            artifacts::upload(&s3, &bucket, account, "itest", std::slice::from_ref(&ours)).await.unwrap();
        assert_eq!((again, &same), (0, &stored), "reused, and pinned to the same version");
        artifacts::upload_template(&s3, &bucket, account, "templates/t.yaml", "Resources: {}", "us-east-1")
            .await
            .unwrap();

        // Someone with write access tries to put other bytes under our content-addressed key: the bucket
        // policy refuses a write without If-None-Match, and S3 one with it over an existing key.
        let plain =
            aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
        let key = ours.s3_key("itest");
        let overwrite = plain.put_object().bucket(&bucket).key(&key).body(b"their code".to_vec().into()).send().await;
        assert!(overwrite.is_err(), "an overwrite without If-None-Match is refused");
        let conditional = plain
            .put_object()
            .bucket(&bucket)
            .key(&key)
            .if_none_match("*")
            .body(b"their code".to_vec().into())
            .send()
            .await;
        assert!(conditional.is_err(), "a conditional write over an existing key is refused");
        let back = plain.get_object().bucket(&bucket).key(&key).send().await.unwrap();
        assert_eq!(back.version_id.as_deref(), Some(stored[0].version.as_str()));
        assert_eq!(back.body.collect().await.unwrap().into_bytes().as_ref(), b"our zip");

        // A key written first by someone else (their bytes under the name of ours) is refused, not used.
        let theirs = artifact(&dir, b"our next zip");
        plain
            .put_object()
            .bucket(&bucket)
            .key(theirs.s3_key("itest"))
            .if_none_match("*")
            .body(b"their code".to_vec().into())
            .send()
            .await
            .unwrap();
        let refused =
            artifacts::upload(&s3, &bucket, account, "itest", std::slice::from_ref(&theirs)).await.unwrap_err();
        assert!(refused.to_string().contains("someone else wrote it"), "{refused:#}");

        let policy = plain.get_bucket_policy().bucket(&bucket).send().await.unwrap().policy.unwrap_or_default();
        assert!(policy.contains("aws:SecureTransport") && policy.contains("s3:if-none-match"), "{policy}");
        // An older bucket with the TLS statement alone is brought up to date.
        let tls_only = serde_json::json!({"Version": "2012-10-17",
            "Statement": [serde_json::from_str::<serde_json::Value>(&policy).unwrap()["Statement"][0].clone()]});
        plain.put_bucket_policy().bucket(&bucket).policy(tls_only.to_string()).send().await.unwrap();
        assert!(artifacts::ensure_policy(&s3, &bucket, account, "itest").await.unwrap());
        let policy = plain.get_bucket_policy().bucket(&bucket).send().await.unwrap().policy.unwrap_or_default();
        assert!(policy.contains("s3:if-none-match"), "{policy}");
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
