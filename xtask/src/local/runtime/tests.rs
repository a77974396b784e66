//! The Runtime API driven over HTTP the way the Lambda runtime crate drives it.

use hyper::HeaderMap;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use super::*;

async fn call(method: Method, url: String, body: &'static str) -> (StatusCode, HeaderMap, Bytes) {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let req = Request::builder()
        .method(method)
        .uri(url)
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap_or_else(|e| panic!("{e}"));
    let res = client.request(req).await.unwrap_or_else(|e| panic!("{e}"));
    let (parts, body) = res.into_parts();
    (parts.status, parts.headers, body.collect().await.unwrap_or_else(|e| panic!("{e}")).to_bytes())
}

fn url(api: &RuntimeApi, rest: &str) -> String {
    format!("http://{}{PREFIX}{rest}", api.addr())
}

async fn start(timeout: Duration) -> RuntimeApi {
    RuntimeApi::start("auth-dev-hello", "arn:aws:lambda:us-east-1:123456789012:function:auth-dev-hello", timeout)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_else(|| panic!("no {name} header"))
}

#[tokio::test]
async fn an_invocation_goes_out_on_next_and_its_response_comes_back() {
    let api = start(Duration::from_secs(10)).await;
    let caller = tokio::spawn({
        let api = api.clone();
        async move { api.invoke(b"{\"n\":1}".to_vec()).await }
    });
    let (status, headers, body) = call(Method::GET, url(&api, "invocation/next"), "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], b"{\"n\":1}");
    let id = header(&headers, "lambda-runtime-aws-request-id").to_owned();
    assert_eq!(
        header(&headers, "lambda-runtime-invoked-function-arn"),
        "arn:aws:lambda:us-east-1:123456789012:function:auth-dev-hello"
    );
    let deadline: u128 = header(&headers, "lambda-runtime-deadline-ms").parse().unwrap_or_default();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    assert!(deadline > now + 9_000 && deadline <= now + 10_000, "deadline {deadline}, now {now}");
    assert!(api.ready(Duration::from_secs(1)).await.is_ok());

    let (status, _, _) = call(Method::POST, url(&api, &format!("invocation/{id}/response")), "{\"ok\":true}").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let answer = caller.await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(answer, Ok(Answer::Response(Bytes::from_static(b"{\"ok\":true}"))));
    // A second answer to the same invocation is refused, as Lambda does.
    let (status, _, _) = call(Method::POST, url(&api, &format!("invocation/{id}/response")), "{}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_handler_error_is_an_error_answer() {
    let api = start(Duration::from_secs(10)).await;
    let caller = tokio::spawn({
        let api = api.clone();
        async move { api.invoke(b"{}".to_vec()).await }
    });
    let (_, headers, _) = call(Method::GET, url(&api, "invocation/next"), "").await;
    let id = header(&headers, "lambda-runtime-aws-request-id").to_owned();
    let error = r#"{"errorType":"Panic","errorMessage":"boom"}"#;
    let (status, _, _) = call(Method::POST, url(&api, &format!("invocation/{id}/error")), error).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(caller.await.unwrap_or_else(|e| panic!("{e}")), Ok(Answer::Error(Bytes::from_static(error.as_bytes()))));
}

#[tokio::test]
async fn an_invocation_not_answered_in_time_times_out() {
    let api = start(Duration::from_millis(200)).await;
    let caller = tokio::spawn({
        let api = api.clone();
        async move { api.invoke(b"{}".to_vec()).await }
    });
    let (status, headers, _) = call(Method::GET, url(&api, "invocation/next"), "").await;
    assert_eq!(status, StatusCode::OK);
    let result = caller.await.unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(result, Err(Failure::Timeout { .. })), "{result:?}");
    // A late answer finds nobody waiting.
    let id = header(&headers, "lambda-runtime-aws-request-id");
    let (status, _, _) = call(Method::POST, url(&api, &format!("invocation/{id}/response")), "{}").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_init_error_makes_the_function_never_ready_and_calls_fail_at_once() {
    let api = start(Duration::from_secs(10)).await;
    let (status, _, _) =
        call(Method::POST, url(&api, "init/error"), r#"{"errorType":"Runtime.InitError","errorMessage":"no table"}"#)
            .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let why = api.ready(Duration::from_secs(5)).await.err().unwrap_or_default();
    assert!(why.contains("failed to initialize") && why.contains("no table"), "{why}");
    let result = api.invoke(b"{}".to_vec()).await;
    assert!(matches!(&result, Err(Failure::NotRunning(why)) if why.contains("no table")), "{result:?}");
}

#[tokio::test]
async fn marking_a_function_down_fails_waiting_callers() {
    let api = start(Duration::from_secs(10)).await;
    let caller = tokio::spawn({
        let api = api.clone();
        async move { api.invoke(b"{}".to_vec()).await }
    });
    let (_, _, _) = call(Method::GET, url(&api, "invocation/next"), "").await;
    api.mark_down("function auth-dev-hello (pid 1) exited with signal 9".into());
    let result = caller.await.unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(&result, Err(Failure::NotRunning(why)) if why.contains("exited")), "{result:?}");
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let api = start(Duration::from_secs(1)).await;
    let (status, _, _) = call(Method::GET, format!("http://{}/2018-06-01/elsewhere", api.addr()), "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = call(Method::POST, url(&api, "invocation/abc/sideways"), "{}").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
