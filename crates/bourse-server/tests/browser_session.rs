//! The web page's session against the real server over real sockets: the HttpOnly,
//! SameSite=Strict cookie; the CSRF token every cookie-authenticated change needs; the
//! same-origin rule for cookie log-in and the WebSocket; `GET /v1/sessions/current`;
//! log-out; and the page itself with its Content-Security-Policy.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use support::{Server, Store};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const PASSWORD: &str = "quiet-otter-lantern";

fn start() -> (tempfile::TempDir, Server, tokio::runtime::Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&Store::File(dir.path().join("journal")), &[]);
    (dir, server, tokio::runtime::Runtime::new().unwrap())
}

/// The answer's status, headers and JSON body (`Null` when there is none).
async fn call(
    method: reqwest::Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, HeaderMap, Value) {
    let mut r = support::http().build().unwrap().request(method, url);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::Null),
    )
}

/// Signs `name` up and logs in with the cookie; the cookie's `name=value` and the CSRF token.
async fn browser_log_in(base: &str, name: &str) -> (String, String) {
    let creds = json!({"username": name, "password": PASSWORD});
    let (s, _, v) = call(
        reqwest::Method::POST,
        &format!("{base}/v1/users"),
        &[],
        Some(creds),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let origin = base.to_owned();
    let (s, h, v) = call(
        reqwest::Method::POST,
        &format!("{base}/v1/sessions"),
        &[("origin", &origin)],
        Some(json!({"username": name, "password": PASSWORD, "cookie": true})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let set = h.get("set-cookie").unwrap().to_str().unwrap().to_owned();
    let pair = set.split(';').next().unwrap().to_owned();
    (pair, v["csrf_token"].as_str().unwrap().to_owned())
}

#[test]
fn a_cookie_log_in_sets_an_http_only_strict_cookie_and_shows_no_token() {
    let (_dir, server, rt) = start();
    rt.block_on(async {
        let base = &server.base;
        let creds = json!({"username": "carol", "password": PASSWORD});
        call(
            reqwest::Method::POST,
            &format!("{base}/v1/users"),
            &[],
            Some(creds),
        )
        .await;
        let (s, h, v) = call(
            reqwest::Method::POST,
            &format!("{base}/v1/sessions"),
            &[],
            Some(json!({"username": "carol", "password": PASSWORD, "cookie": true})),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        assert!(v.get("token").is_none(), "no token in the body: {v}");
        assert_eq!(v["csrf_token"].as_str().unwrap().len(), 64);
        let set = h.get("set-cookie").unwrap().to_str().unwrap();
        assert!(set.starts_with("bourse_session="), "{set}");
        for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=86400"] {
            assert!(set.contains(part), "{part} missing from {set}");
        }
        assert!(!set.contains("Secure"), "plain HTTP: {set}");
        // Another site cannot log a visitor in to an account of its choosing.
        let (s, h, v) = call(
            reqwest::Method::POST,
            &format!("{base}/v1/sessions"),
            &[("origin", "http://evil.example")],
            Some(json!({"username": "carol", "password": PASSWORD, "cookie": true})),
        )
        .await;
        assert_eq!((s, v["code"].as_str()), (403, Some("ORIGIN_REFUSED")));
        assert!(h.get("set-cookie").is_none());
        // Programs keep their bearer token.
        let (s, _, v) = call(
            reqwest::Method::POST,
            &format!("{base}/v1/sessions"),
            &[("origin", "http://evil.example")],
            Some(json!({"username": "carol", "password": PASSWORD})),
        )
        .await;
        assert_eq!(s, 201);
        assert_eq!(v["token"].as_str().unwrap().len(), 64);
    });
}

#[test]
fn changes_made_with_the_cookie_need_the_csrf_token_and_bearers_do_not() {
    let (_dir, server, rt) = start();
    rt.block_on(async {
        let base = &server.base;
        let (cookie, csrf) = browser_log_in(base, "dave").await;
        let url = format!("{base}/v1/transfers");
        let deposit = json!({"type": "deposit", "amount": "100"});
        let (s, _, v) = call(
            reqwest::Method::GET,
            &format!("{base}/v1/account"),
            &[("cookie", &cookie)],
            None,
        )
        .await;
        assert_eq!(s, 200, "reads need no CSRF token: {v}");
        let bad = "0".repeat(64);
        for headers in [
            vec![("cookie", cookie.as_str())],
            vec![("cookie", cookie.as_str()), ("x-csrf-token", bad.as_str())],
            vec![("cookie", cookie.as_str()), ("x-csrf-token", "not-hex")],
        ] {
            let (s, _, v) =
                call(reqwest::Method::POST, &url, &headers, Some(deposit.clone())).await;
            assert_eq!(
                (s, v["code"].as_str()),
                (403, Some("CSRF_TOKEN_INVALID")),
                "{headers:?}"
            );
        }
        let (s, _, v) = call(
            reqwest::Method::POST,
            &url,
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
            Some(deposit.clone()),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["cash"], "100.00");
        // A bearer wins over the cookie and needs no CSRF token.
        let (_, _, session) = call(
            reqwest::Method::POST,
            &format!("{base}/v1/sessions"),
            &[],
            Some(json!({"username": "dave", "password": PASSWORD})),
        )
        .await;
        let bearer = format!("Bearer {}", session["token"].as_str().unwrap());
        let (s, _, v) = call(
            reqwest::Method::POST,
            &url,
            &[("cookie", &cookie), ("authorization", &bearer)],
            Some(deposit),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        // The current session: the cookie's comes with its CSRF token, a bearer's without.
        let current = format!("{base}/v1/sessions/current");
        let (s, _, v) = call(reqwest::Method::GET, &current, &[("cookie", &cookie)], None).await;
        assert_eq!(s, 200);
        assert_eq!(v["username"], "dave");
        assert_eq!(v["csrf_token"], csrf.as_str());
        assert!(v["expires_at"].is_string());
        let (s, _, v) = call(
            reqwest::Method::GET,
            &current,
            &[("authorization", &bearer)],
            None,
        )
        .await;
        assert_eq!(s, 200);
        assert!(v.get("csrf_token").is_none(), "{v}");
        let (s, _, _) = call(reqwest::Method::GET, &current, &[], None).await;
        assert_eq!(s, 401);
        // Log-out with the cookie clears it, and the session is over.
        let (s, h, _) = call(
            reqwest::Method::DELETE,
            &format!("{base}/v1/sessions"),
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
            None,
        )
        .await;
        assert_eq!(s, 204);
        let set = h.get("set-cookie").unwrap().to_str().unwrap();
        assert!(
            set.contains("bourse_session=;") && set.contains("Max-Age=0"),
            "{set}"
        );
        let (s, _, _) = call(reqwest::Method::GET, &current, &[("cookie", &cookie)], None).await;
        assert_eq!(s, 401);
    });
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws_with(base: &str, cookie: &str, origin: &str) -> Result<Ws, u16> {
    let mut req = format!("{}/v1/ws", base.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("cookie", HeaderValue::from_str(cookie).unwrap());
    req.headers_mut()
        .insert("origin", HeaderValue::from_str(origin).unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

/// The next message of `kind`, skipping others (heartbeats).
async fn next_of(ws: &mut Ws, kind: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let m = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("no {kind} within 20 s"))
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] == kind || kind == "*" && v["type"] != "heartbeat" {
                return v;
            }
        }
    }
}

#[test]
fn the_websocket_takes_the_cookie_from_its_own_page_only() {
    let (_dir, server, rt) = start();
    rt.block_on(async {
        let base = &server.base;
        let (cookie, csrf) = browser_log_in(base, "erin").await;
        // Cross-site WebSocket hijacking: another origin's page cannot use the cookie.
        assert_eq!(
            ws_with(base, &cookie, "http://evil.example").await.err(),
            Some(403)
        );
        let mut ws = ws_with(base, &cookie, base).await.unwrap();
        ws.send(Message::text(json!({"op": "auth"}).to_string()))
            .await
            .unwrap();
        let v = next_of(&mut ws, "*").await;
        assert_eq!(v["type"], "authenticated", "{v}");
        // Without a cookie at the upgrade, a bare auth is refused.
        let mut bare = support::ws::connect(base).await;
        bare.send(Message::text(json!({"op": "auth"}).to_string()))
            .await
            .unwrap();
        let v = next_of(&mut bare, "*").await;
        assert_eq!(v["type"], "error", "{v}");
        assert_eq!(v["code"], "UNAUTHORIZED");
        // Log-out on the page ends the socket's authority.
        let (s, _, _) = call(
            reqwest::Method::DELETE,
            &format!("{base}/v1/sessions"),
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
            None,
        )
        .await;
        assert_eq!(s, 204);
        let v = next_of(&mut ws, "auth_ended").await;
        assert_eq!(v["code"], "SESSION_ENDED");
    });
}

#[test]
fn the_page_is_served_with_its_policy_and_the_api_keeps_its_404() {
    let (_dir, server, rt) = start();
    let built = support::workspace_root()
        .join("web/dist/index.html")
        .exists();
    rt.block_on(async {
        let base = &server.base;
        let (s, h, v) = call(
            reqwest::Method::GET,
            &format!("{base}/stocks/AAPL"),
            &[],
            None,
        )
        .await;
        if built {
            assert_eq!(s, 200);
            assert_eq!(h["content-type"], "text/html");
            assert_eq!(h["cache-control"], "no-cache");
            let csp = h["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
            assert!(!csp.contains("unsafe-inline"), "{csp}");
            assert_eq!(h["x-content-type-options"], "nosniff");
        } else {
            assert_eq!((s, v["code"].as_str()), (404, Some("PAGE_NOT_BUILT")));
        }
        let (s, h, v) = call(reqwest::Method::GET, &format!("{base}/v1/nope"), &[], None).await;
        assert_eq!((s, v["code"].as_str()), (404, Some("NOT_FOUND")));
        assert_eq!(
            h["content-security-policy"],
            "default-src 'none'; frame-ancestors 'none'"
        );
    });
}
