//! `GET /v1/events`, the account's private stream paged by `account_seq`, over real HTTP
//! against the real server on both journals: two traders' orders, fills, replaces,
//! cancels, rejections, transfers and an alert while clients page their streams — one
//! throughout, one cut off mid-flow and back after a kill -9 and restart — and a live
//! WebSocket; all of them end with the same messages, numbered 1..N without a gap. Also
//! the window of the file journal (`410 EVENTS_EXPIRED`) and the route's other answers.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use reqwest::Method as M;
use serde_json::{Value, json};
use support::ws::{Ws, connect, recv_within, request};
use support::{Client, Http, Server, Store};
use tokio::sync::watch;

const PASSWORD: &str = "quiet-otter-lantern";

async fn session(h: &Http, user: &str) -> (String, String) {
    let account = h.register(user).await;
    let (s, v) = h.log_in(user, PASSWORD).await;
    assert_eq!(s, 201, "{v}");
    (account, v["token"].as_str().unwrap().to_owned())
}

fn limit(side: &str, qty: u64, price: &str, tif: &str) -> Value {
    json!({"symbol": "AAPL", "side": side, "type": "limit", "qty": qty.to_string(),
           "limit_price": price, "time_in_force": tif})
}

/// One page, checked against the route's promises; `None` while the server is away (being
/// restarted) or asks to slow down.
async fn page(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    after: u64,
    limit: usize,
) -> Option<(Vec<Value>, u64, u64)> {
    let r = http
        .get(format!("{base}/v1/events?after={after}&limit={limit}"))
        .bearer_auth(token)
        .send()
        .await
        .ok()?;
    let status = r.status().as_u16();
    let v: Value = r.json().await.ok()?;
    if status == 429 {
        return None;
    }
    assert_eq!(status, 200, "after={after}: {v}");
    let events = v["events"].as_array().unwrap().clone();
    let next = v["next_after"].as_u64().unwrap();
    let last = v["last_account_seq"].as_u64().unwrap();
    assert!(events.len() <= limit, "{v}");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["account_seq"], json!(after + 1 + i as u64), "no gap: {v}");
    }
    assert_eq!(next, after + events.len() as u64, "{v}");
    assert!(next <= last, "{v}");
    Some((events, next, last))
}

/// A client paging an account's stream from `after` with pages of `limit`, following the
/// server's address through restarts, until `stop` is set — or, when `drain`, until it is
/// set and the client has then read to the end. Returns what it read and where it stopped;
/// `at` shows how far it has read meanwhile.
async fn poll(
    base: watch::Receiver<String>,
    token: String,
    mut after: u64,
    limit: usize,
    (stop, drain): (Arc<AtomicBool>, bool),
    at: Arc<AtomicU64>,
) -> (Vec<Value>, u64) {
    let http = support::http()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut got = Vec::new();
    loop {
        // Read before the request: once the flow has ended, a page that reaches the
        // account's last number is the end.
        let stopping = stop.load(Ordering::Acquire);
        if stopping && !drain {
            return (got, after);
        }
        let url = base.borrow().clone();
        let Some((events, next, last)) = page(&http, &url, &token, after, limit).await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        got.extend(events);
        after = next;
        at.store(after, Ordering::Release);
        if stopping && next == last {
            return (got, after);
        }
        if next == last {
            tokio::time::sleep(Duration::from_millis(3)).await;
        }
    }
}

/// Private messages from a WebSocket until the account's number `upto` has arrived.
async fn ws_until(ws: &mut Ws, upto: u64, got: &mut Vec<Value>) {
    let mut last = got
        .last()
        .map_or(0, |m: &Value| m["account_seq"].as_u64().unwrap());
    while last < upto {
        let m = recv_within(ws, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("the WebSocket stopped at {last} of {upto}"));
        if let Some(n) = m.get("account_seq").and_then(Value::as_u64) {
            assert_eq!(n, last + 1, "WebSocket gap: {m}");
            last = n;
            got.push(m);
        }
    }
}

async fn private_ws(base: &str, token: &str) -> Ws {
    let mut ws = connect(base).await;
    let mut other = Vec::new();
    let r = request(
        &mut ws,
        json!({"op": "auth", "id": 1, "token": token}),
        &mut other,
    )
    .await;
    assert_eq!(r["type"], "authenticated", "{r}");
    let r = request(
        &mut ws,
        json!({"op": "subscribe", "id": 2, "channels": ["orders", "account", "alerts"]}),
        &mut other,
    )
    .await;
    assert_eq!(r["channels"], json!(["account", "alerts", "orders"]), "{r}");
    assert!(other.is_empty(), "{other:?}");
    ws
}

/// The account's last number, as the route says.
async fn last_seq(h: &Http, token: &str) -> u64 {
    let (s, v) = h
        .call(M::GET, "/v1/events?limit=1", Some(token), None)
        .await;
    assert_eq!(s, 200, "{v}");
    v["last_account_seq"].as_u64().unwrap()
}

/// One round of trading between Ann (buys) and Bob (sells): a resting sell partly taken,
/// a market buy, a resting buy replaced then canceled, the sell's rest canceled; every
/// other round transfers both ways, every third a refused order.
async fn round(h: &Http, ann: &str, bob: &str, i: u64) {
    let call = |method: M, path: &'static str, token: &str, body: Option<Value>| {
        let token = token.to_owned();
        async move { h.call(method, path, Some(&token), body).await }
    };
    let (s, sell) = call(
        M::POST,
        "/v1/orders",
        bob,
        Some(limit("sell", 10, "190.00", "day")),
    )
    .await;
    assert_eq!(s, 200, "{sell}");
    let (s, v) = call(
        M::POST,
        "/v1/orders",
        ann,
        Some(limit("buy", 4, "190.00", "ioc")),
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("filled")), "{v}");
    let (s, v) = call(
        M::POST,
        "/v1/orders",
        ann,
        Some(
            json!({"symbol": "AAPL", "side": "buy", "type": "market", "qty": "2",
                    "time_in_force": "ioc"}),
        ),
    )
    .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("filled")), "{v}");
    let (s, rest) = call(
        M::POST,
        "/v1/orders",
        ann,
        Some(limit("buy", 5, "189.00", "gtc")),
    )
    .await;
    assert_eq!((s, rest["status"].as_str()), (200, Some("new")), "{rest}");
    let rest_id = rest["id"].as_str().unwrap();
    let (s, v) = h
        .call(
            M::PATCH,
            &format!("/v1/orders/{rest_id}"),
            Some(ann),
            Some(json!({"qty": "3", "limit_price": "189.50"})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = h
        .call(M::DELETE, &format!("/v1/orders/{rest_id}"), Some(ann), None)
        .await;
    assert_eq!(s, 200, "{v}");
    let sell_id = sell["id"].as_str().unwrap();
    let (s, v) = h
        .call(M::DELETE, &format!("/v1/orders/{sell_id}"), Some(bob), None)
        .await;
    assert_eq!(s, 200, "{v}");
    if i.is_multiple_of(2) {
        let (s, v) = call(
            M::POST,
            "/v1/transfers",
            ann,
            Some(json!({"type": "deposit", "amount": "100.00"})),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        let (s, v) = call(
            M::POST,
            "/v1/transfers",
            bob,
            Some(json!({"type": "withdraw", "amount": "50.00"})),
        )
        .await;
        assert_eq!(s, 201, "{v}");
    }
    if i.is_multiple_of(3) {
        let (s, v) = call(
            M::POST,
            "/v1/orders",
            ann,
            Some(limit("buy", 2_000, "190.00", "day")),
        )
        .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (422, Some("INSUFFICIENT_BUYING_POWER")),
            "{v}"
        );
    }
}

/// Each account's stream: A pages it throughout, B is cut off after the first part and
/// comes back (from the last number it saw) after the server was killed and restarted;
/// a WebSocket follows Ann's live. At the end all agree, message by message.
fn resume_across_a_kill(store: &Store) {
    let mut server = Server::start(store, &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (base_tx, base_rx) = watch::channel(server.base.clone());
        let mut h = Http::new(&server.base);
        let op = Client::new(&server.base);
        let (_, ann) = session(&h, "ann").await;
        let (bob_account, bob) = session(&h, "bob").await;
        // Before Ann's first event, so it sees her whole stream.
        let mut ws = private_ws(&server.base, &ann).await;
        let mut live = Vec::new();
        let (s, v) = h
            .call(
                M::POST,
                "/v1/transfers",
                Some(&ann),
                Some(json!({"type": "deposit", "amount": "100000.00"})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let (s, v) = op
            .post(
                &format!("/v1/admin/accounts/{bob_account}/shares"),
                json!({"symbol": "AAPL", "qty": 10_000}),
            )
            .await
            .unwrap();
        assert_eq!(s, 200, "{v}");
        let (s, v) = h
            .call(
                M::POST,
                "/v1/alerts",
                Some(&ann),
                Some(json!({"symbol": "AAPL", "condition": "above", "price": "190.50"})),
            )
            .await;
        assert_eq!(s, 201, "{v}");

        let done = Arc::new(AtomicBool::new(false));
        let cut = Arc::new(AtomicBool::new(false));
        let b_at = [Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0))];
        let spawn = |token: &str, from: u64, limit: usize, stop: &Arc<AtomicBool>, drain, at| {
            tokio::spawn(poll(
                base_rx.clone(),
                token.to_owned(),
                from,
                limit,
                (stop.clone(), drain),
                at,
            ))
        };
        let a = [
            spawn(&ann, 0, 3, &done, true, Arc::default()),
            spawn(&bob, 0, 2, &done, true, Arc::default()),
        ];
        let b = [
            spawn(&ann, 0, 4, &cut, false, b_at[0].clone()),
            spawn(&bob, 0, 5, &cut, false, b_at[1].clone()),
        ];

        for i in 0..5 {
            round(&h, &ann, &bob, i).await;
        }
        // B goes away once it has read some way in (it may be a page or more behind); the
        // flow goes on without it.
        let midway = [last_seq(&h, &ann).await / 2, last_seq(&h, &bob).await / 2];
        for (at, want) in b_at.iter().zip(midway) {
            while at.load(Ordering::Acquire) < want {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        cut.store(true, Ordering::Release);
        let mut b_first = Vec::new();
        for t in b {
            b_first.push(t.await.unwrap());
        }
        for i in 5..10 {
            round(&h, &ann, &bob, i).await;
        }
        // Everything answered so far is durable: the WebSocket has it all before the kill.
        ws_until(&mut ws, last_seq(&h, &ann).await, &mut live).await;
        drop(ws);
        let before = (last_seq(&h, &ann).await, last_seq(&h, &bob).await);
        server.kill();
        server = Server::start(store, &[]);
        base_tx.send(server.base.clone()).unwrap();
        h = Http::new(&server.base);
        assert_eq!(
            (last_seq(&h, &ann).await, last_seq(&h, &bob).await),
            before,
            "the restarted server knows every number"
        );
        let mut ws = private_ws(&server.base, &ann).await;
        // B comes back where it stopped.
        for ((_, at), before) in b_first.iter().zip([before.0, before.1]) {
            assert!(
                *at > 0 && *at < before,
                "B was cut off mid-stream: {at} of {before}"
            );
        }
        let b = [
            spawn(&ann, b_first[0].1, 4, &done, true, Arc::default()),
            spawn(&bob, b_first[1].1, 5, &done, true, Arc::default()),
        ];
        for i in 10..15 {
            round(&h, &ann, &bob, i).await;
        }
        // A print above 190.50 fires Ann's alert.
        let (s, v) = h
            .call(
                M::POST,
                "/v1/orders",
                Some(&bob),
                Some(limit("sell", 1, "190.60", "day")),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = h
            .call(
                M::POST,
                "/v1/orders",
                Some(&ann),
                Some(limit("buy", 1, "190.60", "ioc")),
            )
            .await;
        assert_eq!((s, v["status"].as_str()), (200, Some("filled")), "{v}");
        done.store(true, Ordering::Release);

        let mut a_got = Vec::new();
        for t in a {
            a_got.push(t.await.unwrap());
        }
        let mut b_got = Vec::new();
        for (t, (first, _)) in b.into_iter().zip(b_first) {
            let (rest, end) = t.await.unwrap();
            let mut all = first;
            all.extend(rest);
            b_got.push((all, end));
        }
        for (who, token, (a_msgs, a_end), (b_msgs, b_end)) in [
            ("ann", &ann, &a_got[0], &b_got[0]),
            ("bob", &bob, &a_got[1], &b_got[1]),
        ] {
            let n = last_seq(&h, token).await;
            assert!(n > before.0.min(before.1), "{who}: the stream went on");
            assert_eq!((*a_end, *b_end), (n, n), "{who}: both read to the end");
            assert_eq!(a_msgs.len() as u64, n, "{who}");
            for (i, m) in a_msgs.iter().enumerate() {
                assert_eq!(m["account_seq"], json!(i as u64 + 1), "{who}: 1..N, no gap");
            }
            for (i, (x, y)) in a_msgs.iter().zip(b_msgs).enumerate() {
                assert_eq!(x, y, "{who}: message {} differs", i + 1);
            }
            assert_eq!(a_msgs.len(), b_msgs.len(), "{who}");
        }
        // Every kind of private message is on Ann's stream.
        let ann_msgs = &a_got[0].0;
        for (kind, event) in [
            ("execution_report", "accepted"),
            ("execution_report", "fill"),
            ("execution_report", "replaced"),
            ("execution_report", "canceled"),
            ("execution_report", "rejected"),
            ("account", "balance"),
            ("account", "position"),
            ("account", "deposit"),
            ("alert", "triggered"),
        ] {
            assert!(
                ann_msgs
                    .iter()
                    .any(|m| m["type"] == kind && m["event"] == event),
                "ann has no {kind} {event}"
            );
        }
        assert!(
            a_got[1].0.iter().any(|m| m["event"] == "withdrawal"),
            "bob's withdrawals"
        );
        // The live WebSocket (before the kill, then on the restarted server) said the same.
        ws_until(&mut ws, ann_msgs.len() as u64, &mut live).await;
        assert_eq!(live.len(), ann_msgs.len());
        for (i, (x, y)) in live.iter().zip(ann_msgs).enumerate() {
            assert_eq!(x, y, "WebSocket message {} differs from the page's", i + 1);
        }
    });
}

#[test]
fn pollers_resume_across_a_kill_on_the_file_journal() {
    let dir = tempfile::tempdir().unwrap();
    resume_across_a_kill(&Store::File(dir.path().join("journal")));
}

#[test]
fn pollers_resume_across_a_kill_on_postgres() {
    let store = Store::Postgres {
        url: support::database_url(),
        schema: support::fresh_schema("events"),
    };
    resume_across_a_kill(&store);
    store.cleanup();
}

/// The file journal keeps a window of the newest events (here 12, all accounts together):
/// a cursor before it is `410 EVENTS_EXPIRED` naming the oldest kept, and the client goes
/// on from there. Also the route's refusals: a cursor ahead of the stream, bad limits,
/// another account's stream, no credentials.
#[test]
fn an_old_cursor_is_gone_and_bad_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().join("journal"));
    let server = Server::start(&store, &[("BOURSE__JOURNAL__HISTORY_EVENTS_KEPT", "12")]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let h = Http::new(&server.base);
        let (_, ann) = session(&h, "ann").await;
        let (bob_account, bob) = session(&h, "bob").await;
        // A fresh account: an empty stream at 0.
        let (s, v) = h.call(M::GET, "/v1/events", Some(&ann), None).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            v,
            json!({"events": [], "next_after": 0, "last_account_seq": 0})
        );
        // Twenty deposits; each is a `deposit` message and perhaps a `balance` one.
        let deposit = async || {
            let (s, v) = h
                .call(
                    M::POST,
                    "/v1/transfers",
                    Some(&ann),
                    Some(json!({"type": "deposit", "amount": "10.00"})),
                )
                .await;
            assert_eq!(s, 201, "{v}");
        };
        deposit().await;
        let (_, v) = h.call(M::GET, "/v1/events", Some(&ann), None).await;
        let per = v["last_account_seq"].as_u64().unwrap();
        assert!(per >= 1, "{v}");
        assert!(
            v["events"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["event"] == "deposit"),
            "{v}"
        );
        for _ in 1..20 {
            deposit().await;
        }
        let n = 20 * per;
        let oldest = n - 11;
        let (s, v) = h.call(M::GET, "/v1/events?after=0", Some(&ann), None).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (410, Some("EVENTS_EXPIRED")),
            "{v}"
        );
        let message = v["message"].as_str().unwrap();
        assert!(
            message.contains(&format!("oldest still kept is {oldest}")),
            "{message}"
        );
        assert!(
            message.contains(&format!("after={}", oldest - 1)),
            "{message}"
        );
        let (s, v) = h
            .call(
                M::GET,
                &format!("/v1/events?after={}", oldest - 2),
                Some(&ann),
                None,
            )
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (410, Some("EVENTS_EXPIRED")),
            "{v}"
        );
        // From just before the oldest kept, to the end.
        let (s, v) = h
            .call(
                M::GET,
                &format!("/v1/events?after={}&limit=500", oldest - 1),
                Some(&ann),
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let events = v["events"].as_array().unwrap();
        assert_eq!(events.len(), 12);
        assert_eq!(events[0]["account_seq"], oldest);
        assert_eq!(
            (v["next_after"].as_u64(), v["last_account_seq"].as_u64()),
            (Some(n), Some(n))
        );
        assert!(events.iter().all(|e| e["type"] == "account"), "{v}");
        // At the end: an empty page, however old the rest is.
        let (s, v) = h
            .call(M::GET, &format!("/v1/events?after={n}"), Some(&ann), None)
            .await;
        assert_eq!(
            (s, v),
            (
                200,
                json!({"events": [], "next_after": n, "last_account_seq": n})
            )
        );
        let ahead = format!("after={}", n + 1);
        for (query, status, code) in [
            (ahead.as_str(), 400, "INVALID_CURSOR"),
            ("after=-1", 400, "MALFORMED_QUERY"),
            ("after=x", 400, "MALFORMED_QUERY"),
            ("limit=0", 422, "INVALID_LIMIT"),
            ("limit=501", 422, "INVALID_LIMIT"),
        ] {
            let (s, v) = h
                .call(M::GET, &format!("/v1/events?{query}"), Some(&ann), None)
                .await;
            assert_eq!(
                (s, v["code"].as_str()),
                (status, Some(code)),
                "{query}: {v}"
            );
        }
        // Bob's stream is his: Ann naming it is told there is no such account.
        let (s, v) = h
            .call(
                M::GET,
                &format!("/v1/events?account_id={bob_account}"),
                Some(&ann),
                None,
            )
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (404, Some("UNKNOWN_ACCOUNT")),
            "{v}"
        );
        let (s, v) = h.call(M::GET, "/v1/events", Some(&bob), None).await;
        assert_eq!((s, v["last_account_seq"].as_u64()), (200, Some(0)), "{v}");
        let (s, v) = h.call(M::GET, "/v1/events", None, None).await;
        assert_eq!((s, v["code"].as_str()), (401, Some("UNAUTHORIZED")), "{v}");
        // The operator reads anyone's, naming it.
        let op = Client::new(&server.base);
        let (s, v) = op.get(&format!("/v1/events?after={n}")).await.unwrap();
        assert_eq!(
            (s, v["code"].as_str()),
            (422, Some("MISSING_ACCOUNT_ID")),
            "{v}"
        );
        let (s, v) = h.call(M::GET, "/v1/events", Some(&ann), None).await;
        assert_eq!(s, 410, "{v}");
        let ann_id = {
            let (_, me) = h.call(M::GET, "/v1/account", Some(&ann), None).await;
            me["account_id"].as_str().unwrap().to_owned()
        };
        let (s, v) = op
            .get(&format!("/v1/events?after={}&account_id={ann_id}", n - 1))
            .await
            .unwrap();
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["events"][0]["account_seq"], n);
    });
}
