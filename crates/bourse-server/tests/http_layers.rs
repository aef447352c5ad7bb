//! What every HTTP answer carries, against the real server: a request id (the client's own,
//! or a fresh one), the security headers, and gzip for large answers when asked — a history
//! page decompresses to exactly the JSON sent uncompressed; a small answer goes as it is.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Read as _;

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
