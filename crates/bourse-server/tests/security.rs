//! The holes found by attacking the server, each shown closed against the real server over
//! real sockets: password hashing that cannot grow memory, the per-IP limit that a made-up
//! bearer no longer escapes, WebSocket authority that ends with its credential, client
//! order id reuse, API key scopes, and the smaller ones (405 bodies, page limits, weak
//! passwords, unvaluable share deposits, non-UTF-8 bodies).
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use reqwest::Method as M;
use serde_json::{Value, json};
use support::ws::{connect, recv_within, request};
use support::{Client, Http, Server, Store};

fn order(cid: &str, qty: &str, price: &str) -> Value {
    json!({"symbol": "AAPL", "side": "buy", "type": "limit", "qty": qty,
           "limit_price": price, "time_in_force": "gtc", "client_order_id": cid})
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap()
}

/// A server on a fresh file journal (the directory lives as long as the first value), and a
/// runtime for the test's clients.
fn start(extra: &[(&str, &str)]) -> (tempfile::TempDir, Server, tokio::runtime::Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&Store::File(dir.path().join("journal")), extra);
    (dir, server, tokio::runtime::Runtime::new().unwrap())
}

/// A WebSocket order without a client order id.
fn ws_order(id: u64) -> Value {
    let mut o = order("", "1", "180.00");
    o.as_object_mut().unwrap().remove("client_order_id");
    o["op"] = json!("order");
    o["id"] = json!(id);
    o
}

/// A registered, funded user and their session token.
async fn trader(h: &Http, op: &Client, name: &str) -> (String, String) {
    let account = h.register(name).await;
    let (s, v) = h.log_in(name, "quiet-otter-lantern").await;
    assert_eq!(s, 201, "{v}");
    let (s, _) = op
        .post(
            &format!("/v1/admin/accounts/{account}/deposits"),
            json!({"amount": "100000"}),
        )
        .await
        .unwrap();
    assert_eq!(s, 200);
    (account, v["token"].as_str().unwrap().to_owned())
}

/// Defect 1: password work is bounded. 120 log-ins at once (no rate limit in the way) keep
/// the server within one argon2 area per worker; beyond the queue they are turned away
/// with 503 OVERLOADED at once, never a 5xx of another kind.
#[test]
fn parallel_log_ins_cannot_grow_the_servers_memory() {
    let (_dir, server, rt) = start(&[
        ("BOURSE__SERVER__RATE_PER_IP", "100000"),
        ("BOURSE__SERVER__PASSWORD_WORKERS", "1"),
        ("BOURSE__SERVER__PASSWORD_QUEUE", "16"),
    ]);
    let pid = server.child.id();
    rt.block_on(async {
        let h = Http::new(&server.base);
        h.register("alice").await;
        h.register("bob").await;
        let before = rss_kib(pid);
        let http = support::http().build().unwrap();
        let mut codes = std::collections::BTreeMap::<u16, usize>::new();
        for round in 0..3 {
            let mut tasks = Vec::new();
            for i in 0..40 {
                let http = http.clone();
                let url = format!("{}/v1/sessions", server.base);
                // Unknown users and wrong passwords cost the same hashing.
                let user = if i % 2 == 0 { "alice" } else { "nobody" };
                tasks.push(tokio::spawn(async move {
                    let r = http
                        .post(url)
                        .json(&json!({"username": user, "password": format!("guess-{round}-{i}")}))
                        .send()
                        .await
                        .unwrap();
                    let status = r.status().as_u16();
                    let v: Value = r.json().await.unwrap();
                    (status, v)
                }));
            }
            for t in tasks {
                let (status, v) = t.await.unwrap();
                match status {
                    401 => assert_eq!(v["code"], "INVALID_CREDENTIALS"),
                    503 => assert_eq!(v["code"], "OVERLOADED", "{v}"),
                    // alice's guesses lock her account: turned away before any hashing.
                    429 => assert_eq!(v["code"], "TOO_MANY_ATTEMPTS", "{v}"),
                    other => panic!("log-in answered {other}: {v}"),
                }
                *codes.entry(status).or_default() += 1;
            }
        }
        let after = rss_kib(pid);
        eprintln!("log-ins: {codes:?}; RSS {before} KiB -> {after} KiB");
        assert!(codes.get(&503).copied().unwrap_or(0) > 0, "{codes:?}");
        assert!(codes.get(&401).copied().unwrap_or(0) >= 16, "{codes:?}");
        // One worker's 19 MiB area is allocated at start; 120 hashes add nothing like
        // 120 × 19 MiB (unbounded, they grew the server by gigabytes).
        assert!(
            after < before + 64 * 1024,
            "RSS grew from {before} KiB to {after} KiB"
        );
        // Log-in still works once the storm is over (for bob: alice is locked out a while).
        let (s, _) = h.log_in("bob", "quiet-otter-lantern").await;
        assert_eq!(s, 201);
    });
    server.stop();
}

/// Defect 2: a bearer that does not authenticate is limited by IP like no bearer at all,
/// for log-ins and for WebSocket upgrades; a real credential has its own bucket.
#[test]
fn a_made_up_bearer_does_not_escape_the_ip_limit() {
    let (_dir, server, rt) = start(&[
        ("BOURSE__SERVER__RATE_PER_IP", "2"),
        ("BOURSE__SERVER__RATE_PER_CREDENTIAL", "1000"),
    ]);
    rt.block_on(async {
        let http = support::http().build().unwrap();
        // A valid credential of one's own buys no log-in guesses either: log-in and sign-up
        // are limited by IP whatever the bearer.
        let h = Http::new(&server.base);
        h.register("mallory").await;
        let (s, v) = h.log_in("mallory", "quiet-otter-lantern").await;
        assert_eq!(s, 201, "{v}");
        let own = v["token"].as_str().unwrap().to_owned();
        let mut limited = 0;
        for i in 0..30 {
            let r = http
                .post(format!("{}/v1/sessions", server.base))
                .bearer_auth(&own)
                .json(&json!({"username": "alice", "password": format!("guess-{i}-xyzzy")}))
                .send()
                .await
                .unwrap();
            limited += usize::from(r.status() == 429);
        }
        assert!(
            limited >= 20,
            "{limited} of 30 log-ins with a valid bearer limited"
        );
        // The same session still reaches the rest of the API (its own bucket).
        let (s, _) = h.call(M::GET, "/v1/account", Some(&own), None).await;
        assert_eq!(s, 200);
        // Let the IP bucket fill again (burst 4 at 2/s).
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        let mut limited = 0;
        for i in 0..30 {
            let r = http
                .post(format!("{}/v1/sessions", server.base))
                .bearer_auth(format!("bogus-{i}"))
                .json(&json!({"username": "nobody", "password": "amber-falcon-river"}))
                .send()
                .await
                .unwrap();
            if r.status() == 429 {
                assert!(r.headers().get("retry-after").is_some());
                limited += 1;
            }
        }
        // Burst 4, 2/s: at most a handful of the 30 pass.
        assert!(limited >= 20, "{limited} of 30 log-ins limited");
        let url = format!("{}/v1/ws", server.base.replace("http://", "ws://"));
        let mut refused = 0;
        for _ in 0..30 {
            use tokio_tungstenite::tungstenite::client::IntoClientRequest;
            let mut req = url.as_str().into_client_request().unwrap();
            req.headers_mut()
                .insert("authorization", "Bearer garbage".parse().unwrap());
            match tokio_tungstenite::connect_async(req).await {
                Ok((mut ws, _)) => {
                    let _ = ws.close(None).await;
                }
                Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
                    assert_eq!(r.status().as_u16(), 429);
                    refused += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert!(refused >= 20, "{refused} of 30 upgrades limited");
        // The operator's verified token is not limited even now.
        let op = Client::new(&server.base);
        for _ in 0..10 {
            let (s, _) = op.get("/v1/stocks").await.unwrap();
            assert_eq!(s, 200);
        }
    });
    server.stop();
}

/// Defect 3: a WebSocket's authority ends with its credential — key revoked, session
/// logged out, session expired: the socket is told (`auth_ended` with a code), its private
/// channels stop, and every later order is refused; market data goes on.
#[test]
fn a_socket_loses_its_authority_with_its_credential() {
    let (_dir, server, rt) = start(&[]);
    rt.block_on(async {
        let h = Http::new(&server.base);
        let op = Client::new(&server.base);
        let (_, token) = trader(&h, &op, "alice").await;
        let (s, v) = h
            .call(
                M::POST,
                "/v1/api-keys",
                Some(&token),
                Some(json!({"scopes": ["read", "trade"]})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let key = v["secret"].as_str().unwrap().to_owned();
        let key_id = v["id"].as_str().unwrap().to_owned();

        // One socket per credential, each authenticated and trading.
        let mut other = Vec::new();
        let mut by_key = connect(&server.base).await;
        let mut by_session = connect(&server.base).await;
        for (ws, cred) in [(&mut by_key, &key), (&mut by_session, &token)] {
            let r = request(
                ws,
                json!({"op": "auth", "id": 0, "token": cred}),
                &mut other,
            )
            .await;
            assert_eq!(r["type"], "authenticated", "{r}");
            let r = request(
                ws,
                json!({"op": "subscribe", "id": 1, "channels": ["orders"]}),
                &mut other,
            )
            .await;
            assert_eq!(r["type"], "subscribed", "{r}");
            let r = request(ws, ws_order(2), &mut other).await;
            assert_eq!(r["type"], "execution_report", "{r}");
        }

        // Revoke the key (from the session): its socket is told at once.
        let (s, _) = h
            .call(
                M::DELETE,
                &format!("/v1/api-keys/{key_id}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(s, 204);
        let ended = wait_for(&mut by_key, "auth_ended").await;
        assert_eq!(ended["code"], "API_KEY_REVOKED");
        let r = request(&mut by_key, ws_order(3), &mut other).await;
        assert_eq!(
            (r["type"].as_str(), r["code"].as_str()),
            (Some("error"), Some("UNAUTHORIZED")),
            "{r}"
        );
        let r = request(
            &mut by_key,
            json!({"op": "subscribe", "id": 4, "channels": ["orders"]}),
            &mut other,
        )
        .await;
        assert_eq!(r["code"], "UNAUTHORIZED", "{r}");
        // Market data still flows on it.
        let r = request(
            &mut by_key,
            json!({"op": "subscribe", "id": 5, "channels": ["trades"], "symbols": ["AAPL"]}),
            &mut other,
        )
        .await;
        assert_eq!(r["type"], "subscribed", "{r}");

        // Log out: the session's socket is told at once.
        let (s, _) = h.call(M::DELETE, "/v1/sessions", Some(&token), None).await;
        assert_eq!(s, 204);
        let ended = wait_for(&mut by_session, "auth_ended").await;
        assert_eq!(ended["code"], "SESSION_ENDED");
        let r = request(&mut by_session, ws_order(6), &mut other).await;
        assert_eq!(r["code"], "UNAUTHORIZED", "{r}");
    });
    server.stop();
}

/// Defect 3, expiry: a socket authenticated by a session is told when the session expires,
/// without sending anything, and its orders are refused from then on.
#[test]
fn a_socket_loses_its_authority_when_its_session_expires() {
    let (_dir, server, rt) = start(&[("BOURSE__SERVER__SESSION_TTL_SECS", "2")]);
    rt.block_on(async {
        let h = Http::new(&server.base);
        h.register("alice").await;
        let mut other = Vec::new();
        // Expiry (2 s here): told when it comes, without any request.
        let (s, v) = h.log_in("alice", "quiet-otter-lantern").await;
        assert_eq!(s, 201);
        let fresh = v["token"].as_str().unwrap().to_owned();
        let mut by_expiring = connect(&server.base).await;
        let r = request(
            &mut by_expiring,
            json!({"op": "auth", "id": 7, "token": fresh}),
            &mut other,
        )
        .await;
        assert_eq!(r["type"], "authenticated");
        let ended = wait_for(&mut by_expiring, "auth_ended").await;
        assert_eq!(ended["code"], "SESSION_EXPIRED");
        let r = request(&mut by_expiring, ws_order(8), &mut other).await;
        assert_eq!(r["code"], "UNAUTHORIZED", "{r}");
    });
    server.stop();
}

/// The next message of `kind` (others skipped), within 5 s.
async fn wait_for(ws: &mut support::ws::Ws, kind: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let m = recv_within(ws, left)
            .await
            .unwrap_or_else(|| panic!("no {kind} within 5 s"));
        if m["type"] == kind {
            return m;
        }
    }
}

/// Defect 7: one rule for client order ids, over REST and the WebSocket.
#[test]
fn client_order_id_reuse_is_a_resend_or_a_409_naming_the_original() {
    let (_dir, server, rt) = start(&[]);
    rt.block_on(async {
        let h = Http::new(&server.base);
        let op = Client::new(&server.base);
        let (_account, token) = trader(&h, &op, "alice").await;
        // An identical resend returns the original; another order under the id is 409
        // naming the original, and creates nothing.
        let (s, first) = h
            .call(
                M::POST,
                "/v1/orders",
                Some(&token),
                Some(order("c-1", "1", "181.00")),
            )
            .await;
        assert_eq!(s, 200, "{first}");
        let (s, again) = h
            .call(
                M::POST,
                "/v1/orders",
                Some(&token),
                Some(order("c-1", "1", "181.00")),
            )
            .await;
        assert_eq!((s, &again["id"]), (200, &first["id"]), "{again}");
        let (s, _) = h
            .call(
                M::DELETE,
                &format!("/v1/orders/{}", first["id"].as_str().unwrap()),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(s, 200);
        let other = json!({"symbol": "AAPL", "side": "sell", "type": "market", "qty": "3",
                           "time_in_force": "ioc", "client_order_id": "c-1"});
        let (s, v) = h
            .call(M::POST, "/v1/orders", Some(&token), Some(other.clone()))
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (409, Some("DUPLICATE_CLIENT_ORDER_ID")),
            "{v}"
        );
        assert_eq!(v["order_id"], first["id"], "{v}");
        // Also over the WebSocket.
        let mut ws = connect(&server.base).await;
        let mut seen = Vec::new();
        request(
            &mut ws,
            json!({"op": "auth", "id": 1, "token": token}),
            &mut seen,
        )
        .await;
        let mut o = other;
        o["op"] = json!("order");
        o["id"] = json!(2);
        let r = request(&mut ws, o, &mut seen).await;
        assert_eq!(r["code"], "DUPLICATE_CLIENT_ORDER_ID", "{r}");
        assert_eq!(r["order_id"], first["id"], "{r}");
        let mut o = order("c-1", "1", "181.00");
        o["op"] = json!("order");
        o["id"] = json!(3);
        let r = request(&mut ws, o, &mut seen).await;
        assert_eq!(r["report"]["id"], first["id"], "{r}");
        let (_, page) = h
            .call(M::GET, "/v1/orders?status=all", Some(&token), None)
            .await;
        assert_eq!(page["items"].as_array().map(Vec::len), Some(1), "{page}");
        // Client order ids are a day's: after the end of the day the id places a new order,
        // and a resend of that one is answered with it (not with yesterday's).
        let (s, _) = op.post("/v1/admin/end-of-day", json!({})).await.unwrap();
        assert_eq!(s, 200);
        let (s, today) = h
            .call(
                M::POST,
                "/v1/orders",
                Some(&token),
                Some(order("c-1", "2", "182.00")),
            )
            .await;
        assert_eq!(s, 200, "{today}");
        assert_ne!(today["id"], first["id"]);
        let (s, again) = h
            .call(
                M::POST,
                "/v1/orders",
                Some(&token),
                Some(order("c-1", "2", "182.00")),
            )
            .await;
        assert_eq!((s, &again["id"]), (200, &today["id"]), "{again}");
    });
    server.stop();
}

/// Defect 8: API key scopes with least privilege; keys are managed from a password session.
#[test]
fn api_keys_have_scopes_and_cannot_manage_keys() {
    let (_dir, server, rt) = start(&[]);
    rt.block_on(async {
        let h = Http::new(&server.base);
        let op = Client::new(&server.base);
        let (_account, token) = trader(&h, &op, "alice").await;
        let mut seen = Vec::new();
        // A key made without scopes is read-only.
        let (s, v) = h
            .call(
                M::POST,
                "/v1/api-keys",
                Some(&token),
                Some(json!({"label": "ro"})),
            )
            .await;
        assert_eq!(s, 201);
        assert_eq!(v["scopes"], json!(["read"]));
        let read_only = v["secret"].as_str().unwrap().to_owned();
        let (s, _) = h.call(M::GET, "/v1/account", Some(&read_only), None).await;
        assert_eq!(s, 200);
        let (s, v) = h
            .call(
                M::POST,
                "/v1/orders",
                Some(&read_only),
                Some(order("k-1", "1", "180.00")),
            )
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (403, Some("INSUFFICIENT_SCOPE")),
            "{v}"
        );
        let mut ws2 = connect(&server.base).await;
        request(
            &mut ws2,
            json!({"op": "auth", "id": 1, "token": read_only}),
            &mut seen,
        )
        .await;
        let mut o = order("k-2", "1", "180.00");
        o["op"] = json!("order");
        o["id"] = json!(2);
        let r = request(&mut ws2, o, &mut seen).await;
        assert_eq!(r["code"], "INSUFFICIENT_SCOPE", "{r}");
        // A trading key cannot move money, nor make or revoke keys.
        let (s, v) = h
            .call(
                M::POST,
                "/v1/api-keys",
                Some(&token),
                Some(json!({"scopes": ["read", "trade"]})),
            )
            .await;
        assert_eq!(s, 201);
        let trading = v["secret"].as_str().unwrap().to_owned();
        let trading_id = v["id"].as_str().unwrap().to_owned();
        let withdraw = json!({"type": "withdraw", "amount": "10"});
        let (s, v) = h
            .call(
                M::POST,
                "/v1/transfers",
                Some(&trading),
                Some(withdraw.clone()),
            )
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (403, Some("INSUFFICIENT_SCOPE")),
            "{v}"
        );
        let (s, v) = h
            .call(
                M::POST,
                "/v1/api-keys",
                Some(&trading),
                Some(json!({"scopes": ["transfer"]})),
            )
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (403, Some("SESSION_REQUIRED")),
            "{v}"
        );
        let (s, v) = h
            .call(
                M::DELETE,
                &format!("/v1/api-keys/{trading_id}"),
                Some(&trading),
                None,
            )
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (403, Some("SESSION_REQUIRED")),
            "{v}"
        );
        let (s, v) = h
            .call(
                M::POST,
                "/v1/api-keys",
                Some(&token),
                Some(json!({"scopes": ["admin"]})),
            )
            .await;
        assert_eq!((s, v["code"].as_str()), (422, Some("INVALID_SCOPE")), "{v}");
        // A transfer key may withdraw, and the session always may.
        let (_, v) = h
            .call(
                M::POST,
                "/v1/api-keys",
                Some(&token),
                Some(json!({"scopes": ["transfer"]})),
            )
            .await;
        let mover = v["secret"].as_str().unwrap().to_owned();
        let (s, v) = h
            .call(
                M::POST,
                "/v1/transfers",
                Some(&mover),
                Some(withdraw.clone()),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let (s, _) = h
            .call(M::POST, "/v1/transfers", Some(&token), Some(withdraw))
            .await;
        assert_eq!(s, 201);
    });
    server.stop();
}

/// Defect 9: the smaller holes.
#[test]
fn the_smaller_holes_are_closed() {
    let (_dir, server, rt) = start(&[]);
    rt.block_on(async {
        let h = Http::new(&server.base);
        let op = Client::new(&server.base);
        let (account, token) = trader(&h, &op, "alice").await;
        // A 405 has a JSON error body (and Allow).
        let r = support::http()
            .build()
            .unwrap()
            .put(format!("{}/v1/orders", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405);
        assert!(r.headers().get("allow").is_some());
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["code"], "METHOD_NOT_ALLOWED");
        // limit=0 is refused, not taken as 1.
        for path in [
            "/v1/orders?limit=0",
            "/v1/activities?limit=0",
            "/v1/orders?limit=501",
        ] {
            let (s, v) = h.call(M::GET, path, Some(&token), None).await;
            assert_eq!(
                (s, v["code"].as_str()),
                (422, Some("INVALID_LIMIT")),
                "{path}: {v}"
            );
        }
        // Common and trivial passwords are refused.
        for pw in [
            "password",
            "12345678",
            "        ",
            "\0\0\0\0\0\0\0\0",
            "qwertyuiop",
        ] {
            let (s, v) = h
                .call(
                    M::POST,
                    "/v1/users",
                    None,
                    Some(json!({"username": "carol", "password": pw})),
                )
                .await;
            assert_eq!(
                (s, v["code"].as_str()),
                (422, Some("INVALID_PASSWORD")),
                "{pw:?}: {v}"
            );
        }
        // Shares that could not be valued exactly are refused.
        let (s, v) = op
            .post(
                &format!("/v1/admin/accounts/{account}/shares"),
                json!({"symbol": "AAPL", "qty": 18_000_000_000_000_u64}),
            )
            .await
            .unwrap();
        assert_eq!(
            (s, v["code"].as_str()),
            (422, Some("POSITION_LIMIT")),
            "{v}"
        );
        // And cash that would take the exchange past what it can value with them.
        let (s, v) = op
            .post(
                &format!("/v1/admin/accounts/{account}/deposits"),
                json!({"amount": "500000000000000"}),
            )
            .await
            .unwrap();
        assert_eq!((s, v["code"].as_str()), (422, Some("CASH_LIMIT")), "{v}");
        let (s, v) = h.call(M::GET, "/v1/portfolio", Some(&token), None).await;
        assert_eq!(s, 200);
        assert_ne!(v["equity"], "922337203685477.5807", "{v}");
        // A body declared in another charset is refused, not read as UTF-8.
        let r = support::http()
            .build()
            .unwrap()
            .post(format!("{}/v1/orders", server.base))
            .bearer_auth(&token)
            .header("content-type", "application/json; charset=utf-16")
            .body(order("u-1", "1", "180.00").to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 415);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["code"], "UNSUPPORTED_CHARSET");
        // Nothing of it reached the engine: no order.
        let (_, page) = h
            .call(M::GET, "/v1/orders?status=all", Some(&token), None)
            .await;
        assert_eq!(page["items"].as_array().map(Vec::len), Some(0), "{page}");
    });
    server.stop();
}
