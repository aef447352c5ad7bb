//! Market data over real WebSocket connections to the real server:
//!
//! - clients that apply `book_snapshot` + `book` updates end with exactly the engine's book
//!   (the journal replayed after the server stops) after a random order flow, with no seq
//!   gaps; one joins mid-flow; one is cut off and resyncs the documented REST way
//!   (subscribe, buffer updates, REST snapshot at seq S, drop updates ≤ S);
//! - the REST trades/candles/quote agree with what the stream said;
//! - a client that never reads is disconnected as a slow consumer while another client keeps
//!   receiving everything in order, and the server's memory stays bounded;
//! - private channels carry a user's own execution reports, account changes and alerts and
//!   never another's; an alert set before a restart fires after it, once;
//! - malformed, unknown and oversized frames get errors or a close with a reason, and the
//!   server stays healthy.
//!
//! `BOURSE_FEED_TEST_ORDERS` sets the flow's length (default 3,000 commands).
#![allow(clippy::unwrap_used, clippy::too_many_lines)]

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use serde_json::{Value, json};
use support::ws::{Books, Ws, connect, engine_book, recv, recv_within, request, rest_book, send};
use support::{Client, Http, Rng, Server, Store, TOKEN};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

const SYMBOLS: [&str; 3] = ["AAPL", "MSFT", "NVDA"];

fn orders_default() -> usize {
    std::env::var("BOURSE_FEED_TEST_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000)
}

/// (tick, reference price) of a listed symbol, in raw units.
async fn listing(op: &Client, sym: &str) -> (i64, i64) {
    let (s, v) = op.get(&format!("/v1/stocks/{sym}")).await.unwrap();
    assert_eq!(s, 200, "{v}");
    let raw = |k: &Value| {
        k.as_str()
            .unwrap()
            .parse::<bourse_core::Price>()
            .unwrap()
            .raw()
    };
    (raw(&v["tick"]), raw(&v["quote"]["prev_close"]))
}

fn px(raw: i64) -> String {
    bourse_core::Price::from_raw(raw).to_string()
}

/// A random order flow through `conns` operator WebSocket connections: limit orders around
/// the reference price (some marketable, some IOC), market orders, cancels and replaces of
/// orders that were accepted. Returns how many requests were answered.
async fn flow(base: &str, accounts: &[String], n: usize, seed: u64, conns: usize) -> usize {
    let op = Client::new(base);
    let mut grid = HashMap::new();
    for s in SYMBOLS {
        grid.insert(s, listing(&op, s).await);
    }
    let mut tasks = Vec::new();
    for c in 0..conns {
        let (base, accounts, grid) = (base.to_owned(), accounts.to_vec(), grid.clone());
        tasks.push(tokio::spawn(async move {
            let mut ws = connect(&base).await;
            let mut junk = Vec::new();
            let a = request(&mut ws, json!({"op": "auth", "id": "a", "token": TOKEN}), &mut junk).await;
            assert_eq!(a["type"], "authenticated", "{a}");
            let mut rng = Rng(seed ^ (c as u64 + 1).wrapping_mul(0x9E37));
            let mut live: Vec<(String, String)> = Vec::new();
            let mut answered = 0;
            for i in 0..n / conns {
                let account = &accounts[rng.index(accounts.len())];
                let sym = SYMBOLS[rng.index(SYMBOLS.len())];
                let (tick, reference) = grid[sym];
                let off = i64::try_from(rng.below(21)).unwrap() - 10;
                let price = reference + off * tick * 10;
                let side = if rng.below(2) == 0 { "buy" } else { "sell" };
                let qty = (1 + rng.below(60)).to_string();
                let id = json!(i);
                let msg = match rng.below(100) {
                    0..=59 => json!({"op": "order", "id": id, "account_id": account, "symbol": sym,
                        "side": side, "type": "limit", "time_in_force": if rng.below(8) == 0 { "ioc" } else { "gtc" },
                        "qty": qty, "limit_price": px(price)}),
                    60..=64 => json!({"op": "order", "id": id, "account_id": account, "symbol": sym,
                        "side": side, "type": "market", "time_in_force": "ioc", "qty": qty}),
                    65..=87 if !live.is_empty() => {
                        let (oid, acc) = live.swap_remove(rng.index(live.len()));
                        json!({"op": "cancel", "id": id, "order_id": oid, "account_id": acc})
                    }
                    88..=99 if !live.is_empty() => {
                        let (oid, acc) = live[rng.index(live.len())].clone();
                        let mut m = json!({"op": "replace", "id": id, "order_id": oid, "account_id": acc,
                            "qty": (1 + rng.below(60)).to_string()});
                        if rng.below(2) == 0 {
                            m["limit_price"] = json!(px(price));
                        }
                        m
                    }
                    _ => continue,
                };
                let r = request(&mut ws, msg, &mut junk).await;
                answered += 1;
                if r["type"] == "execution_report"
                    && matches!(r["report"]["status"].as_str(), Some("new" | "partially_filled"))
                    && r["report"]["id"].is_string()
                {
                    let oid = r["report"]["id"].as_str().unwrap().to_owned();
                    if !live.iter().any(|(o, _)| *o == oid) {
                        live.push((oid, account.clone()));
                    }
                }
            }
            answered
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total
}

async fn subscribe(ws: &mut Ws, channels: &[&str], symbols: &[&str], books: &mut Books) -> Value {
    let mut other = Vec::new();
    let r = request(
        ws,
        json!({"op": "subscribe", "id": "sub", "channels": channels, "symbols": symbols}),
        &mut other,
    )
    .await;
    for m in &other {
        assert!(books.apply(m), "unexpected {m}");
    }
    r
}

/// Reads until every symbol's book has reached the REST seq (the flow is over).
async fn catch_up(ws: &mut Ws, books: &mut Books, op: &Client) -> HashMap<String, Value> {
    let mut rest = HashMap::new();
    for s in SYMBOLS {
        let (_, v) = op
            .get(&format!("/v1/stocks/{s}/book?depth=1000"))
            .await
            .unwrap();
        rest.insert(s.to_owned(), v);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while SYMBOLS
        .iter()
        .any(|s| books.seq(s) < rest[*s]["seq"].as_u64().unwrap())
    {
        assert!(Instant::now() < deadline, "the stream never caught up");
        let m = recv(ws).await;
        assert!(books.apply(&m), "unexpected {m}");
    }
    rest
}

#[test]
fn books_from_the_stream_equal_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().join("journal"));
    let server = Server::start(
        &store,
        &[("BOURSE__SERVER__RATE_PER_CREDENTIAL", "1000000")],
    );
    let n = orders_default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (books, late, resynced, rest) = rt.block_on(async {
        let op = Client::new(&server.base);
        let accounts = op.setup_accounts(8, &SYMBOLS).await;
        let mut early = connect(&server.base).await;
        let mut books = Books::default();
        let r = subscribe(
            &mut early,
            &["book", "trades", "ticker", "candles"],
            &SYMBOLS,
            &mut books,
        )
        .await;
        assert_eq!(r["type"], "subscribed", "{r}");
        assert_eq!(
            r["channels"],
            json!(["book", "candles", "ticker", "trades"])
        );
        assert_eq!(books.snapshots, 3, "one snapshot per symbol");

        // The flow runs while the early client reads concurrently.
        let base = server.base.clone();
        let accts = accounts.clone();
        let first = tokio::spawn(async move { flow(&base, &accts, n / 2, 1, 4).await });
        let done = Arc::new(AtomicBool::new(false));
        let over = done.clone();
        let reader = tokio::spawn(async move {
            let mut tape = Vec::new();
            loop {
                match recv_within(&mut early, Duration::from_millis(500)).await {
                    Some(m) => {
                        assert!(books.apply(&m), "unexpected {m}");
                        if m["type"] == "trade" {
                            tape.push(m);
                        }
                    }
                    None if over.load(Ordering::Relaxed) => break,
                    None => {}
                }
            }
            (early, books, tape)
        });
        first.await.unwrap();

        // One joins mid-stream; one will be cut off and resync through REST.
        let mut late = connect(&server.base).await;
        let mut late_books = Books::default();
        subscribe(&mut late, &["book"], &SYMBOLS, &mut late_books).await;
        let mut cut = connect(&server.base).await;
        let mut cut_books = Books::default();
        subscribe(&mut cut, &["book"], &SYMBOLS, &mut cut_books).await;
        let base = server.base.clone();
        let accts = accounts.clone();
        let second = tokio::spawn(async move { flow(&base, &accts, n / 2, 2, 4).await });
        // Read a little, then lose the connection (a forced gap).
        for _ in 0..20 {
            if let Some(m) = recv_within(&mut cut, Duration::from_secs(2)).await {
                cut_books.apply(&m);
            }
        }
        drop(cut);
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Resync: subscribe, buffer updates, take the REST snapshot, drop what it covers.
        let mut again = connect(&server.base).await;
        send(
            &mut again,
            json!({"op": "subscribe", "channels": ["book"], "symbols": SYMBOLS}),
        )
        .await;
        let mut buffered = Vec::new();
        let mut seen_ack = false;
        while !seen_ack {
            let m = recv(&mut again).await;
            seen_ack = m["type"] == "subscribed";
            buffered.push(m);
        }
        let mut resynced = Books::default();
        for s in SYMBOLS {
            let (_, v) = op
                .get(&format!("/v1/stocks/{s}/book?depth=1000"))
                .await
                .unwrap();
            let (levels, seq) = rest_book(&v);
            resynced.books.insert(s.to_owned(), (levels, seq));
        }
        let apply_newer = |books: &mut Books, m: &Value| {
            if m["type"] == "book" {
                let sym = m["symbol"].as_str().unwrap();
                if m["seq"].as_u64().unwrap() <= books.seq(sym) {
                    return; // already in the REST snapshot
                }
            }
            if m["type"] == "book_snapshot" {
                return; // this client uses the REST snapshot instead
            }
            books.apply(m);
        };
        for m in &buffered {
            apply_newer(&mut resynced, m);
        }
        let over = done.clone();
        let late_reader = tokio::spawn(async move {
            loop {
                match recv_within(&mut late, Duration::from_millis(500)).await {
                    Some(m) => assert!(late_books.apply(&m), "unexpected {m}"),
                    None if over.load(Ordering::Relaxed) => break,
                    None => {}
                }
            }
            (late, late_books)
        });
        let over = done.clone();
        let again_reader = tokio::spawn(async move {
            loop {
                let m = match recv_within(&mut again, Duration::from_millis(500)).await {
                    Some(m) => m,
                    None if over.load(Ordering::Relaxed) => break,
                    None => continue,
                };
                if m["type"] == "book" {
                    let sym = m["symbol"].as_str().unwrap();
                    if m["seq"].as_u64().unwrap() <= resynced.seq(sym) {
                        continue;
                    }
                }
                assert!(resynced.apply(&m), "unexpected {m}");
            }
            (again, resynced)
        });
        let answered = second.await.unwrap();
        assert!(answered > 0);
        done.store(true, Ordering::Relaxed);
        let (mut early, mut books, tape) = reader.await.unwrap();
        let (mut late, mut late_books) = late_reader.await.unwrap();
        let (mut again, mut resynced) = again_reader.await.unwrap();
        let rest = catch_up(&mut early, &mut books, &op).await;
        catch_up(&mut late, &mut late_books, &op).await;
        catch_up(&mut again, &mut resynced, &op).await;

        // The REST tape and candles agree with the stream.
        assert!(!tape.is_empty(), "the flow traded");
        for s in SYMBOLS {
            let streamed: Vec<&Value> = tape.iter().filter(|t| t["symbol"] == s).collect();
            let (_, v) = op
                .get(&format!("/v1/stocks/{s}/trades?limit=1000"))
                .await
                .unwrap();
            let listed = v["trades"].as_array().unwrap();
            assert_eq!(listed.len(), streamed.len().min(1000), "{s} tape length");
            let tail = &streamed[streamed.len() - listed.len()..];
            for (a, b) in listed.iter().rev().zip(tail) {
                assert_eq!(
                    (&a["trade_id"], &a["price"], &a["qty"]),
                    (&b["trade_id"], &b["price"], &b["qty"])
                );
            }
            let (_, c) = op
                .get(&format!("/v1/stocks/{s}/candles?interval=1m"))
                .await
                .unwrap();
            let volume: u64 = c["candles"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["volume"].as_str().unwrap().parse::<u64>().unwrap())
                .sum();
            let traded: u64 = streamed
                .iter()
                .map(|t| t["qty"].as_str().unwrap().parse::<u64>().unwrap())
                .sum();
            assert_eq!(volume, traded, "{s} candle volume");
            let (_, q) = op.get(&format!("/v1/stocks/{s}")).await.unwrap();
            if let Some(last) = streamed.last() {
                assert_eq!(q["quote"]["last"], last["price"], "{s} quote");
            }
        }
        (books, late_books, resynced, rest)
    });
    server.stop();
    let replayed = support::replay_journal(&store);
    for s in SYMBOLS {
        let want = engine_book(&replayed.engine, s);
        assert!(!want.is_empty(), "{s}: an empty book proves little");
        assert_eq!(rest_book(&rest[s]).0, want, "{s}: REST book");
        for (who, b) in [("early", &books), ("late", &late), ("resynced", &resynced)] {
            assert_eq!(b.books[s].0, want, "{s}: the {who} client's book");
        }
    }
    assert_eq!(
        books.snapshots, 3,
        "the early client never needed another snapshot"
    );
    assert!(books.updates > 100, "{}", books.updates);
}

fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_client_that_never_reads_is_cut_off_and_others_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().join("journal"));
    let server = Server::start(
        &store,
        &[
            ("BOURSE__SERVER__RATE_PER_CREDENTIAL", "1000000"),
            // Each load round opens new WebSocket connections from 127.0.0.1.
            ("BOURSE__SERVER__RATE_PER_IP", "1000000"),
            ("BOURSE__FEED__SOFT_QUEUE_BYTES", "32768"),
            ("BOURSE__FEED__HARD_QUEUE_BYTES", "131072"),
            ("BOURSE__FEED__MAX_BEHIND_SECS", "2"),
            // The private-stream windows are bounded caches that fill with this flow (up
            // to ~45 MB at their defaults); kept small so the RSS measured below is about
            // what the sleeper would not take.
            ("BOURSE__FEED__PRIVATE_WINDOW", "1000"),
            ("BOURSE__JOURNAL__HISTORY_EVENTS_KEPT", "1000"),
        ],
    );
    let pid = server.child.id();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let op = Client::new(&server.base);
        let accounts = op.setup_accounts(8, &SYMBOLS).await;
        // The sleeper: a tiny receive buffer, subscribed to everything, never reads again.
        let url = format!("{}/v1/ws", server.base.replace("http://", "ws://"));
        let addr: std::net::SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.set_recv_buffer_size(4096).unwrap();
        let tcp = sock.connect(addr).await.unwrap();
        let (mut sleeper, _) = tokio_tungstenite::client_async(&url, tokio_tungstenite::MaybeTlsStream::Plain(tcp))
            .await
            .unwrap();
        sleeper
            .send(Message::text(json!({"op": "subscribe", "channels": ["book", "trades", "ticker", "candles"], "symbols": SYMBOLS}).to_string()))
            .await
            .unwrap();
        let mut reader = connect(&server.base).await;
        let mut books = Books::default();
        subscribe(&mut reader, &["book", "trades", "ticker"], &SYMBOLS, &mut books).await;
        let rss_before = rss_kib(pid);
        let base = server.base.clone();
        let accts = accounts.clone();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let load = tokio::spawn(async move {
            let mut round = 0;
            while !stop2.load(Ordering::Relaxed) && round < 40 {
                flow(&base, &accts, 1_000, 100 + round, 4).await;
                round += 1;
            }
        });
        // Reads until the load stops (heartbeats keep arriving, so silence never ends it).
        let stop3 = stop.clone();
        let healthy = tokio::spawn(async move {
            while !stop3.load(Ordering::Relaxed) {
                if let Some(m) = recv_within(&mut reader, Duration::from_millis(500)).await {
                    assert!(books.apply(&m), "unexpected {m}");
                }
            }
            (reader, books)
        });
        // Until the server gives up on the sleeper.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let (_, h) = op.get("/healthz").await.unwrap();
            if h["feed"]["slow_disconnects"].as_u64().unwrap() >= 1 {
                break;
            }
            assert!(Instant::now() < deadline, "the sleeper was never cut off: {h}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let rss_peak = rss_kib(pid);
        stop.store(true, Ordering::Relaxed);
        load.await.unwrap();
        let (mut reader, mut books) = healthy.await.unwrap();
        catch_up(&mut reader, &mut books, &op).await;
        // The traders' connections close as their tasks end: wait for the server to see it.
        let deadline = Instant::now() + Duration::from_secs(10);
        let h = loop {
            let (_, h) = op.get("/healthz").await.unwrap();
            if h["feed"]["connections"] == 1 || Instant::now() > deadline {
                break h;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(h["status"], "ok", "{h}");
        assert_eq!(h["feed"]["connections"], 1, "only the healthy reader is left: {h}");
        let delivered = h["feed"]["delivered_bytes"].as_u64().unwrap();
        // The sleeper's stream ends with a close frame saying why (after what its socket
        // buffers held) or, if the server could not even send that, the end of the stream.
        let mut end = Value::Null;
        while let Some(m) = recv_within(&mut sleeper, Duration::from_secs(10)).await {
            if m.get("closed").is_some() || m.get("ended").is_some() {
                end = m;
                break;
            }
        }
        if let Some(reason) = end["reason"].as_str() {
            assert!(reason.starts_with("slow consumer"), "{end}");
        } else {
            assert_eq!(end["ended"], true, "{end}");
        }
        // Bounded: the server did not keep what the sleeper would not take.
        let grown = rss_peak.saturating_sub(rss_before);
        eprintln!("delivered {delivered} bytes; server RSS {rss_before} KiB → {rss_peak} KiB");
        assert!(grown < 64 * 1024, "server RSS grew by {grown} KiB");
        assert!(books.updates > 100);
    });
    server.stop();
}

#[test]
fn private_channels_carry_only_the_callers_own() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().join("journal"));
    let mut server = Server::start(&store, &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (token_a, account_a, account_b) = rt.block_on(async {
        let h = Http::new(&server.base);
        let op = Client::new(&server.base);
        let a = h.register("alice").await;
        let b = h.register("bob").await;
        for acc in [&a, &b] {
            op.post(&format!("/v1/admin/accounts/{acc}/deposits"), json!({"amount": "1000000"})).await.unwrap();
            op.post(&format!("/v1/admin/accounts/{acc}/shares"), json!({"symbol": "AAPL", "qty": 1000})).await.unwrap();
        }
        let ta = h.log_in("alice", "quiet-otter-lantern").await.1["token"].as_str().unwrap().to_owned();
        let tb = h.log_in("bob", "quiet-otter-lantern").await.1["token"].as_str().unwrap().to_owned();
        let (_, reference) = listing(&op, "AAPL").await;

        let mut wa = connect(&server.base).await;
        let mut wb = connect(&server.base).await;
        let mut junk = Vec::new();
        // Private channels need auth first.
        let r = request(&mut wa, json!({"op": "subscribe", "id": 1, "channels": ["orders"]}), &mut junk).await;
        assert_eq!(r["code"], "UNAUTHORIZED", "{r}");
        for (ws, t) in [(&mut wa, &ta), (&mut wb, &tb)] {
            let r = request(ws, json!({"op": "auth", "id": 2, "token": t}), &mut junk).await;
            assert_eq!(r["type"], "authenticated");
            let r = request(ws, json!({"op": "subscribe", "id": 3, "channels": ["orders", "account", "alerts"]}), &mut junk).await;
            assert_eq!(r["channels"], json!(["account", "alerts", "orders"]), "{r}");
        }
        // Alice: an alert above the reference; a resting sell at reference + 1.
        let above = px(reference + 10_000);
        let (s, v) = h.call(reqwest::Method::POST, "/v1/alerts", Some(&ta),
            Some(json!({"symbol": "AAPL", "condition": "above", "price": px(reference + 5_000)}))).await;
        assert_eq!(s, 201, "{v}");
        let alert_id = v["id"].as_str().unwrap().to_owned();
        let (s, sell) = h.call(reqwest::Method::POST, "/v1/orders", Some(&ta),
            Some(json!({"symbol": "AAPL", "side": "sell", "type": "limit", "time_in_force": "gtc", "qty": "10", "limit_price": above}))).await;
        assert_eq!(s, 200, "{sell}");
        // Bob buys 4 of it: both get a fill, only Alice gets her alert.
        let (s, buy) = h.call(reqwest::Method::POST, "/v1/orders", Some(&tb),
            Some(json!({"symbol": "AAPL", "side": "buy", "type": "limit", "time_in_force": "ioc", "qty": "4", "limit_price": above}))).await;
        assert_eq!(s, 200, "{buy}");
        let sell_id = sell["id"].as_str().unwrap();
        let buy_id = buy["id"].as_str().unwrap();

        let mut got_a = Vec::new();
        while let Some(m) = recv_within(&mut wa, Duration::from_secs(2)).await {
            got_a.push(m);
        }
        let mut got_b = Vec::new();
        while let Some(m) = recv_within(&mut wb, Duration::from_secs(1)).await {
            got_b.push(m);
        }
        let reports = |got: &[Value], event: &str| -> Vec<Value> {
            got.iter().filter(|m| m["type"] == "execution_report" && m["event"] == event).cloned().collect()
        };
        // Alice: accepted + a partial fill of her sell, her balance and position, her alert.
        let acc = reports(&got_a, "accepted");
        assert_eq!(acc.len(), 1, "{got_a:?}");
        assert_eq!(acc[0]["order_id"], sell_id);
        let fills = reports(&got_a, "fill");
        assert_eq!(fills.len(), 1, "{got_a:?}");
        assert_eq!((fills[0]["order_id"].as_str(), fills[0]["last_qty"].as_str(), fills[0]["leaves_qty"].as_str(), fills[0]["status"].as_str()),
                   (Some(sell_id), Some("4"), Some("6"), Some("partially_filled")));
        assert_eq!(fills[0]["avg_price"], json!(above));
        assert!(got_a.iter().any(|m| m["type"] == "account" && m["event"] == "position" && m["qty"] == "996"), "{got_a:?}");
        let alerts: Vec<&Value> = got_a.iter().filter(|m| m["type"] == "alert").collect();
        assert_eq!(alerts.len(), 1, "{got_a:?}");
        assert_eq!(alerts[0]["alert_id"], json!(alert_id));
        assert_eq!(alerts[0]["trade_price"], json!(above));
        // Bob: his own accepted, fill and IOC remainder... and nothing of Alice's.
        assert!(reports(&got_b, "fill").iter().all(|f| f["order_id"] == buy_id));
        assert_eq!(reports(&got_b, "fill").len(), 1, "{got_b:?}");
        assert!(got_b.iter().all(|m| m["type"] != "alert"), "{got_b:?}");
        let mine = |got: &[Value], id: &str| got.iter().filter(|m| m["type"] == "execution_report").all(|m| m["order_id"] == id);
        assert!(mine(&got_a, sell_id), "{got_a:?}");
        assert!(mine(&got_b, buy_id), "{got_b:?}");
        // Unsubscribed from orders: no more reports, still account changes.
        let r = request(&mut wa, json!({"op": "unsubscribe", "id": 4, "channels": ["orders"]}), &mut junk).await;
        assert_eq!(r["channels"], json!(["account", "alerts"]), "{r}");
        let (s, _) = h.call(reqwest::Method::POST, "/v1/orders", Some(&ta),
            Some(json!({"symbol": "AAPL", "side": "buy", "type": "limit", "time_in_force": "gtc", "qty": "1", "limit_price": px(reference - 10_000)}))).await;
        assert_eq!(s, 200);
        let mut after = Vec::new();
        while let Some(m) = recv_within(&mut wa, Duration::from_secs(1)).await {
            after.push(m);
        }
        assert!(after.iter().all(|m| m["type"] != "execution_report"), "{after:?}");
        assert!(after.iter().any(|m| m["type"] == "account" && m["event"] == "balance"), "{after:?}");
        // Out of the way of the trades below (they would meet it first).
        let (s, v) = h.call(reqwest::Method::DELETE, "/v1/orders", Some(&ta), None).await;
        assert_eq!(s, 200, "{v}");
        // A second alert for after the restart.
        let (s, v) = h.call(reqwest::Method::POST, "/v1/alerts", Some(&ta),
            Some(json!({"symbol": "AAPL", "condition": "below", "price": px(reference - 20_000)}))).await;
        assert_eq!(s, 201, "{v}");
        (ta, a, b)
    });
    let _ = (account_a, account_b);
    // Restart: the alert is still armed (it is engine state) and fires once on the next trade.
    server.stop();
    server = Server::start(&store, &[]);
    rt.block_on(async {
        let h = Http::new(&server.base);
        let op = Client::new(&server.base);
        let (_, reference) = listing(&op, "AAPL").await;
        let mut wa = connect(&server.base).await;
        let mut junk = Vec::new();
        request(&mut wa, json!({"op": "auth", "id": 1, "token": token_a}), &mut junk).await;
        request(&mut wa, json!({"op": "subscribe", "id": 2, "channels": ["alerts"]}), &mut junk).await;
        let tb = h.log_in("bob", "quiet-otter-lantern").await.1["token"].as_str().unwrap().to_owned();
        let low = px(reference - 30_000);
        for (tok, side, tif) in [(&tb, "buy", "gtc"), (&token_a, "sell", "ioc"), (&tb, "buy", "gtc"), (&token_a, "sell", "ioc")] {
            let (s, v) = h.call(reqwest::Method::POST, "/v1/orders", Some(tok),
                Some(json!({"symbol": "AAPL", "side": side, "type": "limit", "time_in_force": tif, "qty": "1", "limit_price": low}))).await;
            assert_eq!(s, 200, "{v}");
        }
        let mut alerts = Vec::new();
        while let Some(m) = recv_within(&mut wa, Duration::from_secs(2)).await {
            if m["type"] == "alert" {
                alerts.push(m);
            }
        }
        assert_eq!(alerts.len(), 1, "delivered once, after the restart: {alerts:?}");
        let (_, list) = h.call(reqwest::Method::GET, "/v1/alerts", Some(&token_a), None).await;
        let triggered = list["items"].as_array().map_or(0, |a| a.iter().filter(|x| x["status"] == "triggered").count());
        assert!(triggered >= 1, "recorded: {list}");
    });
    server.stop();
}

#[test]
fn bad_frames_get_errors_and_the_server_stays_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().join("journal"));
    let server = Server::start(&store, &[("BOURSE__FEED__MAX_SUBSCRIPTIONS", "4")]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut ws = connect(&server.base).await;
        let mut junk = Vec::new();
        let cases = [
            (json!({"op": "subscribe", "id": 1, "channels": ["book"], "symbols": ["NOPE"]}), "UNKNOWN_SYMBOL"),
            (json!({"op": "subscribe", "id": 2, "channels": ["level3"], "symbols": ["AAPL"]}), "UNKNOWN_CHANNEL"),
            (json!({"op": "subscribe", "id": 3, "channels": ["book"]}), "INVALID_MESSAGE"),
            (json!({"op": "subscribe", "id": 4, "channels": "book", "symbols": ["AAPL"]}), "INVALID_MESSAGE"),
            (json!({"op": "subscribe", "id": 5, "channels": [], "symbols": ["AAPL"]}), "INVALID_MESSAGE"),
            (json!({"op": "subscribe", "id": 6, "channels": [7], "symbols": ["AAPL"]}), "INVALID_MESSAGE"),
            (json!({"op": "subscribe", "id": 7, "channels": ["alerts"]}), "UNAUTHORIZED"),
            (json!({"op": "subscribe", "id": 8, "channels": ["book", "trades", "ticker"], "symbols": ["AAPL", "MSFT"]}), "TOO_MANY_SUBSCRIPTIONS"),
            (json!({"op": "dance", "id": 9}), "UNKNOWN_OP"),
            (json!({"id": 10}), "INVALID_MESSAGE"),
        ];
        for (msg, code) in cases {
            let r = request(&mut ws, msg.clone(), &mut junk).await;
            assert_eq!((r["type"].as_str(), r["code"].as_str()), (Some("error"), Some(code)), "{msg} → {r}");
        }
        // Nothing half-done by the refused subscribe.
        let r = request(&mut ws, json!({"op": "subscribe", "id": 11, "channels": ["ticker"], "symbols": ["AAPL"]}), &mut junk).await;
        assert_eq!(r["subscriptions"], json!(["ticker:AAPL"]), "{r}");
        for (frame, code) in [("{not json", "MALFORMED_JSON"), ("[1,2]", "INVALID_MESSAGE"), ("\"op\"", "INVALID_MESSAGE")] {
            ws.send(Message::text(frame)).await.unwrap();
            let r = loop {
                let m = recv(&mut ws).await;
                if m["type"] == "error" {
                    break m;
                }
            };
            assert_eq!(r["code"], code, "{frame}");
        }
        ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
        let r = loop {
            let m = recv(&mut ws).await;
            if m["type"] == "error" {
                break m;
            }
        };
        assert_eq!(r["code"], "BINARY_NOT_SUPPORTED");
        // Oversized: the connection is closed with a reason.
        let big = format!("{{\"op\":\"ping\",\"pad\":\"{}\"}}", "x".repeat(64 * 1024));
        let _ = ws.send(Message::text(big)).await;
        let end = loop {
            let m = recv(&mut ws).await;
            if m.get("closed").is_some() || m.get("ended").is_some() {
                break m;
            }
        };
        assert_eq!(end["closed"], 1009, "{end}");
        assert!(end["reason"].as_str().unwrap().contains("too large"), "{end}");
        // Others are fine.
        let op = Client::new(&server.base);
        let (s, h) = op.get("/healthz").await.unwrap();
        assert_eq!((s, h["status"].as_str()), (200, Some("ok")));
        let mut ws = connect(&server.base).await;
        let mut books = Books::default();
        let r = subscribe(&mut ws, &["book"], &["AAPL"], &mut books).await;
        assert_eq!(r["type"], "subscribed");
        assert_eq!(books.snapshots, 1);
        let r = request(&mut ws, json!({"op": "ping", "id": "p"}), &mut junk).await;
        assert_eq!(r["type"], "pong");
    });
    server.stop();
}

/// A client not written in Rust (Python `websockets`, from PyPI, via
/// `scripts/feed-client.sh`) builds AAPL's book from the stream during a flow and checks it
/// against the REST snapshot.
#[test]
fn an_independent_python_client_agrees_with_rest() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().join("journal"));
    let server = Server::start(
        &store,
        &[("BOURSE__SERVER__RATE_PER_CREDENTIAL", "1000000")],
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/feed-client.sh");
    let out = rt.block_on(async {
        let op = Client::new(&server.base);
        let accounts = op.setup_accounts(6, &SYMBOLS).await;
        // Some book before the client arrives, more while it reads.
        flow(&server.base, &accounts, 300, 7, 3).await;
        // The client prints {"ready":…} once subscribed (its first run also installs its
        // package): the flow starts after that, so the client sees it live.
        let mut child = std::process::Command::new("bash")
            .args([script, &server.base, "AAPL", "4"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            use std::io::BufRead;
            let mut all = Vec::new();
            for l in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(l.clone());
                all.push(l);
            }
            all
        });
        let ready = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(600)))
            .await
            .unwrap();
        assert!(
            ready.is_ok_and(|l| l.contains("ready")),
            "the Python client never got ready"
        );
        flow(&server.base, &accounts, orders_default() / 2, 8, 3).await;
        let lines = tokio::task::spawn_blocking(move || reader.join().unwrap())
            .await
            .unwrap();
        (child.wait().unwrap(), lines.join("\n"))
    });
    let (status, stdout) = out;
    assert!(
        status.success(),
        "the Python client failed ({status}): {stdout}"
    );
    let v: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(v["equal"], true, "{v}");
    assert_eq!(v["snapshots"], 1, "{v}");
    assert!(v["updates"].as_u64().unwrap() > 10, "{v}");
    assert!(v["levels"].as_u64().unwrap() > 0, "{v}");
    server.stop();
}

/// Heartbeats carry the last seq of each followed symbol; a client that answers the
/// server's pings stays connected, one that goes silent is closed with `idle timeout`.
#[test]
fn heartbeats_pings_and_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().join("journal"));
    let server = Server::start(
        &store,
        &[
            ("BOURSE__FEED__HEARTBEAT_SECS", "1"),
            ("BOURSE__FEED__PING_SECS", "1"),
            ("BOURSE__FEED__IDLE_TIMEOUT_SECS", "3"),
        ],
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let op = Client::new(&server.base);
        let accounts = op.setup_accounts(2, &SYMBOLS).await;
        flow(&server.base, &accounts, 200, 3, 2).await;
        let mut lively = connect(&server.base).await;
        // The silent one speaks WebSocket by hand, so nothing answers the server's pings.
        let addr = server.base.trim_start_matches("http://").to_owned();
        let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let hello = format!(
            "GET /v1/ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        silent.write_all(hello.as_bytes()).await.unwrap();
        let mut books = Books::default();
        subscribe(&mut lively, &["book"], &["AAPL", "MSFT"], &mut books).await;
        // The lively client reads (so its library answers the pings) for 5 s.
        let started = Instant::now();
        let mut beats = Vec::new();
        while started.elapsed() < Duration::from_secs(5) {
            if let Some(m) = recv_within(&mut lively, Duration::from_millis(500)).await {
                assert!(m.get("closed").is_none() && m.get("ended").is_none(), "{m}");
                if m["type"] == "heartbeat" {
                    beats.push(m);
                }
            }
        }
        assert!(beats.len() >= 3, "{beats:?}");
        // Read now: the feed has long caught up with the flow (market data trails answers).
        let (_, rest) = op.get("/v1/stocks/AAPL/book").await.unwrap();
        let last = beats.last().unwrap();
        assert_eq!(last["seqs"]["AAPL"], rest["seq"], "{last}");
        assert!(last["seqs"]["MSFT"].is_u64(), "{last}");
        // The silent one never answered a ping: its stream ends with a close frame.
        let mut raw = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), silent.read_to_end(&mut raw))
            .await
            .unwrap()
            .unwrap();
        let head = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert!(
            raw.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&raw)
        );
        let (mut at, mut close) = (head, None);
        while at + 2 <= raw.len() {
            let (op, len) = (raw[at] & 0x0f, usize::from(raw[at + 1] & 0x7f));
            let (len, start) = match len {
                126 => (
                    usize::from(u16::from_be_bytes([raw[at + 2], raw[at + 3]])),
                    at + 4,
                ),
                127 => panic!("no frame here is that long"),
                n => (n, at + 2),
            };
            if op == 8 {
                close = Some(raw[start..start + len].to_vec());
            }
            at = start + len;
        }
        let close = close.expect("a close frame");
        assert_eq!(u16::from_be_bytes([close[0], close[1]]), 1001);
        assert_eq!(&close[2..], b"idle timeout");
        // The lively one is still there.
        let mut junk = Vec::new();
        let r = request(&mut lively, json!({"op": "ping", "id": "still"}), &mut junk).await;
        assert_eq!(r["type"], "pong");
    });
    server.stop();
}
