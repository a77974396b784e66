//! The local API holds like a server: floods of connections, slow clients and huge or ever-new headers
//! meet bounds, each mounted here against a real listener.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::*;

/// A gateway with no routes (every request gets API Gateway's answer to an unknown path) on a free
/// port, with `limits`.
async fn start(limits: Limits) -> (SocketAddr, Arc<Gateway>, tokio::task::JoinHandle<()>) {
    let api = Api {
        stage: "dev".into(),
        routes: Vec::new(),
        functions: BTreeMap::new(),
        responses: BTreeMap::new(),
        web_acl: None,
    };
    let at = Deployment {
        region: "us-east-1".into(),
        account: "123456789012".into(),
        api_id: "local".into(),
        stage: "dev".into(),
    };
    let gateway = Arc::new(Gateway::new(api, at, BTreeMap::new(), false, false, limits));
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = serve(listener, gateway.clone());
    (addr, gateway, server)
}

/// The status line of the answer to `request` on a new connection, or `None` if the server closed it
/// or said nothing within `wait`.
async fn status_of(addr: SocketAddr, request: &[u8], wait: Duration) -> Option<String> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    stream.write_all(request).await.ok()?;
    let mut buffer = vec![0; 4096];
    let n = tokio::time::timeout(wait, stream.read(&mut buffer)).await.ok()?.ok()?;
    let text = String::from_utf8_lossy(&buffer[..n]).into_owned();
    text.lines().next().filter(|l| !l.is_empty()).map(str::to_owned)
}

/// Whether the server closes `stream` within `wait` (end of stream or a reset).
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buffer = vec![0; 4096];
    loop {
        match tokio::time::timeout(wait, stream.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            // An answer before closing: keep reading.
            Ok(Ok(_)) => {}
        }
    }
}

const GET: &[u8] = b"GET /dev/nothing HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n";

#[tokio::test]
async fn attack_a_client_that_never_finishes_its_headers_is_cut_off() {
    let limits = Limits { header_timeout: Duration::from_millis(300), ..Limits::default() };
    let (addr, _, server) = start(limits).await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /dev/nothing HTTP/1.1\r\nHost: local\r\nX-Slow: ").await.unwrap();
    assert!(closed_within(&mut slow, Duration::from_secs(10)).await, "a half-sent request holds the connection");
    server.abort();
}

#[tokio::test]
async fn attack_a_body_that_never_arrives_is_a_408() {
    let limits = Limits { body_timeout: Duration::from_millis(300), ..Limits::default() };
    let (addr, _, server) = start(limits).await;
    let request = b"POST /dev/signin HTTP/1.1\r\nHost: local\r\nContent-Length: 100\r\n\r\n{\"email\":";
    let status = status_of(addr, request, Duration::from_secs(10)).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 408 Request Timeout"));
    server.abort();
}

#[tokio::test]
async fn attack_a_flood_of_idle_connections_is_capped_and_the_api_answers_again_when_they_time_out() {
    let limits = Limits { max_connections: 4, header_timeout: Duration::from_millis(800), ..Limits::default() };
    let (addr, _, server) = start(limits).await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"G").await.unwrap();
        idle.push(stream);
    }
    // The fifth waits: every permit is held by an idle connection.
    assert_eq!(status_of(addr, GET, Duration::from_millis(300)).await, None, "served past the cap");
    // Once the idle ones time out, the API answers.
    let status = status_of(addr, GET, Duration::from_secs(10)).await;
    assert!(status.is_some_and(|s| s.starts_with("HTTP/1.1 ")), "never served after the idle connections went");
    server.abort();
}

#[tokio::test]
async fn attack_huge_headers_are_refused_before_they_reach_the_authorizer_cache() {
    let (addr, gateway, server) = start(Limits::default()).await;
    let big = format!(
        "GET /dev/hello HTTP/1.1\r\nHost: local\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        "x".repeat(20 * 1024)
    );
    let status = status_of(addr, big.as_bytes(), Duration::from_secs(10)).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 431 Request Header Fields Too Large"));
    drop(gateway);
    server.abort();
}

/// Issue 25: an 11 MiB body got 400 locally, where API Gateway answers 413.
#[tokio::test]
async fn a_body_over_api_gateways_limit_is_a_413_as_there() {
    let (addr, gateway, server) = start(Limits::default()).await;
    let body = vec![b'x'; MAX_BODY_BYTES + 1024 * 1024];
    let mut request = format!(
        "POST /dev/signin HTTP/1.1\r\nHost: local\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let status = status_of(addr, &request, Duration::from_secs(20)).await;
    assert_eq!(status.as_deref(), Some("HTTP/1.1 413 Payload Too Large"));
    drop(gateway);
    server.abort();
}
