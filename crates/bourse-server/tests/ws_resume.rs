//! The private stream resumes without a gap or a duplicate. A WebSocket client of a
//! trader's `orders` and `account` channels is cut off (dropped, no close) again and again
//! while two traders keep trading, and resumes each time with `since` = the last
//! `account_seq` it saw; the server is killed and restarted midway. It ends with exactly the
//! messages an uninterrupted client got while the server lived, and exactly what
//! `GET /v1/events` pages out for the whole run, message by message, numbered 1..N.
//! On the file journal with a tiny resume window (so resumes are served from history) and
//! on PostgreSQL with the default one.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use support::ws::{Ws, connect, recv, recv_within, send};
use support::{Client, Http, Rng, Server, Store};

const PASSWORD: &str = "quiet-otter-lantern";

async fn trader(h: &Http, op: &Client, name: &str) -> (String, String) {
    let account = h.register(name).await;
    let (_, v) = h.log_in(name, PASSWORD).await;
    let token = v["token"].as_str().unwrap().to_owned();
    op.fund(&account, "10000000", &[("AAPL", 100_000)]).await;
    (account, token)
}

/// Authenticates and subscribes to `orders` and `account` from `since`; returns the stream
/// messages that arrived before the `subscribed` answer.
async fn subscribe(ws: &mut Ws, token: &str, since: u64) -> Vec<Value> {
    send(ws, json!({"op": "auth", "token": token})).await;
    assert_eq!(recv(ws).await["type"], "authenticated");
    send(
        ws,
        json!({"op": "subscribe", "id": 1, "channels": ["orders", "account"], "since": since}),
    )
    .await;
    let mut early = Vec::new();
    loop {
        let v = recv(ws).await;
        if v.get("account_seq").is_some() {
            early.push(v);
        } else {
            assert_eq!(v["type"], "subscribed", "{v}");
            return early;
        }
    }
}

/// Stream messages that arrive within `t`.
async fn read_for(ws: &mut Ws, t: Duration, into: &mut Vec<Value>) {
    let deadline = tokio::time::Instant::now() + t;
    while let Some(v) = recv_within(ws, deadline - tokio::time::Instant::now()).await {
        assert!(v.get("closed").is_none() && v.get("ended").is_none(), "{v}");
        if v.get("account_seq").is_some() {
            into.push(v);
        }
    }
}

/// Reads until the message numbered `last` has arrived.
async fn read_through(ws: &mut Ws, last: u64, into: &mut Vec<Value>) {
    while into.last().map_or(0, aseq) < last {
        let v = recv(ws).await;
        if v.get("account_seq").is_some() {
            into.push(v);
        }
    }
}

fn aseq(v: &Value) -> u64 {
    v["account_seq"].as_u64().unwrap()
}

/// Trading between the two: limit orders around the reference price (many cross), and
/// cancels of some of them; at least `orders` requests, then until `stop` is set.
async fn trade(h: &Http, tokens: &[String; 2], rng: &mut Rng, orders: usize, stop: &AtomicBool) {
    let mut open: Vec<(usize, String)> = Vec::new();
    let mut n = 0;
    while n < orders || !stop.load(Ordering::Relaxed) {
        n += 1;
        let who = rng.index(2);
        if rng.below(4) == 0 && !open.is_empty() {
            let (w, id) = open.swap_remove(rng.index(open.len()));
            h.call(
                reqwest::Method::DELETE,
                &format!("/v1/orders/{id}"),
                Some(&tokens[w]),
                None,
            )
            .await;
            continue;
        }
        let side = if rng.below(2) == 0 { "buy" } else { "sell" };
        let price = format!("190.{:02}", rng.below(6));
        let (s, v) = h
            .call(
                reqwest::Method::POST,
                "/v1/orders",
                Some(&tokens[who]),
                Some(json!({"symbol": "AAPL", "side": side, "type": "limit",
                            "qty": (1 + rng.below(5)).to_string(), "limit_price": price,
                            "time_in_force": "gtc"})),
            )
            .await;
        assert!(s == 200 || s == 201, "{s} {v}");
        if let Some(id) = v["id"].as_str() {
            open.push((who, id.to_owned()));
        }
    }
}

/// The account's whole stream through `GET /v1/events`, paged.
async fn events(h: &Http, token: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let (s, v) = h
            .call(
                reqwest::Method::GET,
                &format!("/v1/events?after={after}&limit=97"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let page = v["events"].as_array().unwrap();
        if page.is_empty() {
            return all;
        }
        all.extend(page.iter().cloned());
        after = aseq(all.last().unwrap());
    }
}

async fn last_seq(h: &Http, token: &str) -> u64 {
    let (s, v) = h
        .call(
            reqwest::Method::GET,
            "/v1/events?after=0&limit=1",
            Some(token),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    v["last_account_seq"].as_u64().unwrap()
}

fn scenario(store: &Store, extra: &[(&str, &str)]) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = Server::start(store, extra);
    let (tokens, steady_got, mut resumer_got) = rt.block_on(async {
        let h = Http::new(&server.base);
        let op = Client::new(&server.base);
        let (_, alice) = trader(&h, &op, "alice").await;
        let (_, bob) = trader(&h, &op, "bob").await;
        let tokens = [alice.clone(), bob];
        let mut steady = connect(&server.base).await;
        let mut steady_got = subscribe(&mut steady, &alice, 0).await;
        let mut resumer = connect(&server.base).await;
        let mut resumer_got = subscribe(&mut resumer, &alice, 0).await;
        let stop = Arc::new(AtomicBool::new(false));
        let trading = tokio::spawn({
            let base = server.base.clone();
            let tokens = tokens.clone();
            let stop = stop.clone();
            async move {
                let h = Http::new(&base);
                trade(&h, &tokens, &mut Rng(0xACE5), 300, &stop).await;
            }
        });
        let mut rng = Rng(7);
        for _ in 0..8 {
            read_for(
                &mut resumer,
                Duration::from_millis(50 + rng.below(200)),
                &mut resumer_got,
            )
            .await;
            // Cut off: what was in flight is lost with the socket.
            drop(resumer);
            tokio::time::sleep(Duration::from_millis(20 + rng.below(300))).await;
            let since = resumer_got.last().map_or(0, aseq);
            resumer = connect(&server.base).await;
            let early = subscribe(&mut resumer, &alice, since).await;
            resumer_got.extend(early);
        }
        stop.store(true, Ordering::Relaxed);
        trading.await.unwrap();
        let last = last_seq(&h, &alice).await;
        read_through(&mut steady, last, &mut steady_got).await;
        read_through(&mut resumer, last, &mut resumer_got).await;
        assert_eq!(resumer_got, steady_got, "message by message");
        (tokens, steady_got, resumer_got)
    });
    assert!(steady_got.len() > 300, "{} messages", steady_got.len());
    // Killed mid-flow; the resumer comes back to the restarted server.
    server.kill();
    let server = Server::start(store, extra);
    rt.block_on(async {
        let h = Http::new(&server.base);
        let trading = tokio::spawn({
            let base = server.base.clone();
            let tokens = tokens.clone();
            async move {
                let h = Http::new(&base);
                trade(&h, &tokens, &mut Rng(0xBEE5), 200, &AtomicBool::new(true)).await;
            }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut resumer = connect(&server.base).await;
        let since = resumer_got.last().map_or(0, aseq);
        let early = subscribe(&mut resumer, &tokens[0], since).await;
        resumer_got.extend(early);
        trading.await.unwrap();
        let last = last_seq(&h, &tokens[0]).await;
        read_through(&mut resumer, last, &mut resumer_got).await;
        let all = events(&h, &tokens[0]).await;
        assert_eq!(all.len() as u64, last);
        for (k, v) in all.iter().enumerate() {
            assert_eq!(aseq(v), k as u64 + 1, "numbered without a gap: {v}");
        }
        assert_eq!(resumer_got, all, "the resumed stream is the whole stream");
        assert_eq!(&all[..steady_got.len()], &steady_got[..]);
    });
    store.cleanup();
}

#[test]
fn a_resumed_private_stream_is_the_uninterrupted_one_on_the_file_journal() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().join("journal"));
    // A window of 16 events: most resumes start in history.
    scenario(&store, &[("BOURSE__FEED__PRIVATE_WINDOW", "16")]);
}

#[test]
fn a_resumed_private_stream_is_the_uninterrupted_one_on_postgres() {
    let store = Store::Postgres {
        url: support::database_url(),
        schema: support::fresh_schema("ws_resume"),
    };
    scenario(&store, &[]);
}
