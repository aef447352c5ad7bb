//! What every HTTP answer carries, against the real server: a request id (the client's own,
//! or a fresh one), the security headers, and gzip for large answers when asked — a history
//! page decompresses to exactly the JSON sent uncompressed; a small answer goes as it is.
//! And the whole-request deadline, which a body that never finishes arriving runs into.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Client, Server, Store, TOKEN};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_security_headers_and_compression() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&Store::File(dir.path().join("journal")), &[]);
    let op = Client::new(&server.base);
    let get = |path: &str, headers: &[(&str, &str)]| {
        let mut r = op
            .http
            .get(format!("{}{path}", server.base))
            .bearer_auth(TOKEN);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        r.send()
    };

    // A request id: made up when the client sends none (a UUID), echoed when it does — on
    // a success and on an error alike.
    let r = get("/v1/stocks/AAPL", &[]).await.unwrap();
    assert_eq!(r.status(), 200);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(id.matches('-').count(), 4, "{id}");
    let again = get("/v1/stocks/AAPL", &[]).await.unwrap();
    assert_ne!(again.headers()["x-request-id"], id.as_str());
    let r = get(
        "/v1/no-such-route",
        &[("x-request-id", "support-ticket-42")],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["x-request-id"], "support-ticket-42");
    // One that would make a mess of the logs is replaced by a fresh one.
    let r = get("/v1/stocks/AAPL", &[("x-request-id", "a b\"c")])
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"].len(), 36);
    let long = "x".repeat(129);
    let r = get("/v1/stocks/AAPL", &[("x-request-id", &long)])
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"].len(), 36);

    // Security headers, on every answer.
    for k in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        (
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        ),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(r.headers()[k.0], k.1, "{}", k.0);
    }
    // Plain HTTP here: no HSTS (it is sent over TLS only).
    assert!(r.headers().get("strict-transport-security").is_none());

    // A long history page: 60 deposits to one account.
    let (s, v) = op.post("/v1/admin/accounts", json!({})).await.unwrap();
    assert_eq!(s, 201, "{v}");
    let account = v["account_id"].as_str().unwrap().to_owned();
    for i in 1..=60 {
        let (s, v) = op
            .post(
                &format!("/v1/admin/accounts/{account}/deposits"),
                json!({ "amount": format!("{i}.25") }),
            )
            .await
            .unwrap();
        assert_eq!(s, 200, "{v}");
    }
    let page = format!("/v1/activities?account_id={account}&limit=500");
    let plain = get(&page, &[]).await.unwrap();
    assert_eq!(plain.status(), 200);
    assert!(plain.headers().get("content-encoding").is_none());
    let plain: Value = plain.json().await.unwrap();
    assert_eq!(plain["items"].as_array().unwrap().len(), 60, "{plain}");

    let gz = get(&page, &[("accept-encoding", "gzip")]).await.unwrap();
    assert_eq!(gz.status(), 200);
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let bytes = gz.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(
        bytes.len() * 3 < text.len(),
        "{} → {}",
        text.len(),
        bytes.len()
    );
    let unzipped: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(unzipped, plain);

    // A small answer is not worth compressing.
    let small = get(
        &format!("/v1/account?account_id={account}"),
        &[("accept-encoding", "gzip")],
    )
    .await
    .unwrap();
    assert_eq!(small.status(), 200);
    assert!(small.headers().get("content-encoding").is_none());
    server.stop();
}

/// A request whose body never finishes arriving is answered `504 OUTCOME_UNKNOWN` once the
/// whole-request deadline (`server.request_timeout_ms` + 5 s) passes.
#[test]
fn a_body_that_never_finishes_runs_into_the_request_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(
        &Store::File(dir.path().join("journal")),
        &[("BOURSE__SERVER__REQUEST_TIMEOUT_MS", "500")],
    );
    let mut s = TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let start = Instant::now();
    s.write_all(
        b"POST /v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"username\":",
    )
    .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.ends_with(b"}") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed without an answer");
        answer.extend_from_slice(&buf[..n]);
    }
    let took = start.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 504"), "{answer}");
    assert!(answer.contains(r#""code":"OUTCOME_UNKNOWN""#), "{answer}");
    assert!(answer.contains("x-request-id: "), "{answer}");
    assert!(
        took >= Duration::from_millis(5_400) && took < Duration::from_secs(20),
        "{took:?}"
    );
    server.stop();
}
