//! The market-data edge tier over a real NATS JetStream (127.0.0.1:4222, or
//! `BOURSE_TEST_NATS_URL`; `scripts/ensure-nats.sh` starts it): a core publishing, three
//! `bourse edge` processes following it, a random order flow through the core.
//!
//! Each edge's REST market data (book, quote, trades, candles) equals the core's, seqs
//! included; an edge killed with SIGKILL and started again catches up and equals the core
//! again; a WebSocket client moved from one edge to another picks up the book by seq and
//! resumes its private channels `since` the last `account_seq` it saw, with nothing lost or
//! repeated (checked against the core's `GET /v1/events`); order entry on an edge is
//! answered `USE_CORE`. Each test has its own stream and subject prefix, deleted at the end.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use support::ws::{Books, Ws, connect, recv, recv_within, send};
use support::{Client, Http, Rng, Server, Store, lines_of};

const PASSWORD: &str = "quiet-otter-lantern";
const SYMBOLS: [&str; 2] = ["AAPL", "MSFT"];

fn nats_url() -> String {
    std::env::var("BOURSE_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned())
}

static STREAMS: AtomicU64 = AtomicU64::new(0);

/// A stream name and subject prefix no other test uses.
fn fresh_stream(name: &str) -> (String, String) {
    let n = STREAMS.fetch_add(1, Ordering::Relaxed);
    let id = format!("{name}_{}_{n}", std::process::id());
    (format!("T_{id}"), format!("t_{id}"))
}

/// The `[nats]` settings of a test.
fn nats_env(stream: &str, prefix: &str) -> Vec<(String, String)> {
    vec![
        ("BOURSE__NATS__URL".into(), nats_url()),
        ("BOURSE__NATS__STREAM".into(), stream.into()),
        ("BOURSE__NATS__SUBJECT_PREFIX".into(), prefix.into()),
        ("BOURSE__NATS__SNAPSHOT_EVERY_SECS".into(), "1".into()),
        // Tests leave nothing behind for long, even when they fail before deleting it.
        ("BOURSE__NATS__MAX_AGE_SECS".into(), "900".into()),
        ("BOURSE__NATS__MAX_BYTES".into(), "268435456".into()),
        // The test polls the market routes from one address, core and edges alike.
        ("BOURSE__SERVER__RATE_PER_IP".into(), "100000".into()),
        // A calendar whose day starts at 10:00 (in continuous trading for hours), so the
        // edges' clock and calendar can be compared with the core's.
        ("BOURSE__CALENDAR__ENABLED".into(), "true".into()),
        ("BOURSE__CALENDAR__START_AT".into(), "10:00".into()),
    ]
}

/// The market's clock (but the time of the answer) and calendar.
async fn clock(h: &Http) -> Vec<Value> {
    let (s, mut c) = h.call(reqwest::Method::GET, "/v1/clock", None, None).await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["session"], "continuous", "{c}");
    c["timestamp"] = Value::Null;
    let (s, cal) = h
        .call(reqwest::Method::GET, "/v1/calendar", None, None)
        .await;
    assert_eq!(s, 200, "{cal}");
    assert!(cal.as_array().is_some_and(|d| d.len() > 10), "{cal}");
    vec![c, cal]
}

/// A running `bourse edge`.
struct Edge {
    child: Child,
    base: String,
}

impl Edge {
    fn start(core: &str, nats: &[(String, String)]) -> Edge {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bourse"));
        cmd.arg("edge")
            .env("BOURSE__EDGE__LISTEN", "127.0.0.1:0")
            .env("BOURSE__EDGE__CORE_URL", core)
            .env("BOURSE__LOG__LEVEL", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in nats {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let lines = lines_of(child.stdout.take().unwrap());
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the edge printed no listening line (see its log above)");
        // "bourse edge listening on http://ADDR (stream S, seq N)"
        let base = line
            .split("listening on ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Edge { child, base }
    }

    /// SIGKILL.
    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Deletes the test's stream when dropped, also when the test fails.
struct StreamGuard(String);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        let name = self.0.clone();
        // Its own thread and runtime: a drop cannot await, and may run inside the test's.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(c) = async_nats::connect(nats_url()).await {
                    let _ = async_nats::jetstream::new(c).delete_stream(&name).await;
                }
            });
        })
        .join();
    }
}

async fn trader(h: &Http, op: &Client, name: &str) -> (String, String) {
    let account = h.register(name).await;
    let (_, v) = h.log_in(name, PASSWORD).await;
    let token = v["token"].as_str().unwrap().to_owned();
    op.fund(
        &account,
        "100000000",
        &[("AAPL", 1_000_000), ("MSFT", 1_000_000)],
    )
    .await;
    (account, token)
}

/// `n` random requests through the core: limit orders around the reference prices (many
/// cross), some market orders, cancels of some of the open ones.
async fn flow(
    h: &Http,
    tokens: &[String],
    rng: &mut Rng,
    open: &mut Vec<(usize, String)>,
    n: usize,
) {
    for _ in 0..n {
        let who = rng.index(tokens.len());
        if rng.below(5) == 0 && !open.is_empty() {
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
        let sym = SYMBOLS[rng.index(SYMBOLS.len())];
        let side = if rng.below(2) == 0 { "buy" } else { "sell" };
        let qty = (1 + rng.below(9)).to_string();
        let body = if rng.below(10) == 0 {
            json!({"symbol": sym, "side": side, "type": "market", "qty": qty,
                   "time_in_force": "ioc"})
        } else {
            let base = if sym == "AAPL" { 190 } else { 410 };
            let price = format!("{base}.{:02}", rng.below(12));
            json!({"symbol": sym, "side": side, "type": "limit", "qty": qty,
                   "limit_price": price, "time_in_force": "gtc"})
        };
        let (s, v) = h
            .call(
                reqwest::Method::POST,
                "/v1/orders",
                Some(&tokens[who]),
                Some(body),
            )
            .await;
        assert!(s == 200 || s == 201 || s == 422, "{s} {v}");
        if let Some(id) = v["id"].as_str()
            && v["status"] != "filled"
        {
            open.push((who, id.to_owned()));
        }
    }
}

/// Every public market route of `sym`, as JSON.
async fn market(h: &Http, sym: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        format!("/v1/stocks/{sym}/book"),
        format!("/v1/stocks/{sym}"),
        format!("/v1/stocks/{sym}/trades"),
        format!("/v1/stocks/{sym}/candles"),
    ] {
        let (s, v) = h.call(reqwest::Method::GET, &path, None, None).await;
        assert_eq!(s, 200, "{path}: {v}");
        out.push(v);
    }
    out
}

/// Waits until the edge's market data equals the core's, symbol by symbol (no order flows
/// meanwhile; the core's own feed thread, too, may still be applying the last commands);
/// panics with the difference after 30 s.
async fn converge(core: &Http, edge: &Http, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for sym in SYMBOLS {
        loop {
            let want = market(core, sym).await;
            assert!(want[0]["seq"].as_u64().unwrap() > 0, "{sym} saw no update");
            let got = market(edge, sym).await;
            let Some(i) = (0..want.len()).find(|&i| got[i] != want[i]) else {
                break;
            };
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: {sym} on the edge {}\nis not the core's {}",
                got[i],
                want[i]
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert_eq!(
        clock(edge).await,
        clock(core).await,
        "{what}: the clock and calendar"
    );
}

/// Authenticates and subscribes to the book of AAPL and the private `orders` and `account`
/// channels (from `since`, if given); returns what arrived before the `subscribed` answer.
async fn subscribe(ws: &mut Ws, token: &str, since: Option<u64>) -> Vec<Value> {
    send(ws, json!({"op": "auth", "token": token})).await;
    let v = recv(ws).await;
    assert_eq!(v["type"], "authenticated", "{v}");
    let mut sub = json!({"op": "subscribe", "id": 1, "channels": ["book", "orders", "account"],
                         "symbols": ["AAPL"]});
    if let Some(s) = since {
        sub["since"] = s.into();
    }
    send(ws, sub).await;
    let mut early = Vec::new();
    loop {
        let v = recv(ws).await;
        if v["type"] == "subscribed" {
            return early;
        }
        assert!(v.get("closed").is_none() && v["type"] != "error", "{v}");
        early.push(v);
    }
}

/// Reads for `t`: book messages into `books`, private ones (with `account_seq`) into
/// `private`.
async fn read_for(ws: &mut Ws, t: Duration, books: &mut Books, private: &mut Vec<Value>) {
    let deadline = tokio::time::Instant::now() + t;
    while let Some(v) = recv_within(ws, deadline - tokio::time::Instant::now()).await {
        assert!(v.get("closed").is_none() && v.get("ended").is_none(), "{v}");
        take(v, books, private);
    }
}

fn take(v: Value, books: &mut Books, private: &mut Vec<Value>) {
    if v.get("account_seq").is_some() {
        private.push(v);
    } else {
        books.apply(&v);
    }
}

/// The account's whole private stream from the core's `GET /v1/events`.
async fn events(h: &Http, token: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let (s, v) = h
            .call(
                reqwest::Method::GET,
                &format!("/v1/events?after={after}&limit=200"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let page = v["events"].as_array().unwrap().clone();
        if page.is_empty() {
            return all;
        }
        after = page.last().unwrap()["account_seq"].as_u64().unwrap();
        all.extend(page);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_edges_follow_the_core_resync_after_a_kill_and_resume_clients_by_seq() {
    let (stream, prefix) = fresh_stream("edges");
    let _cleanup = StreamGuard(stream.clone());
    let nats = nats_env(&stream, &prefix);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().to_owned());
    let extra: Vec<(&str, &str)> = nats.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let core = Server::start(&store, &extra);
    let op = Client::new(&core.base);
    let h = Http::new(&core.base);
    let (_, ta) = trader(&h, &op, "edge_trader_a").await;
    let (_, tb) = trader(&h, &op, "edge_trader_b").await;
    let tokens = [ta.clone(), tb];
    let mut rng = Rng(0xED6E);
    let mut open = Vec::new();
    flow(&h, &tokens, &mut rng, &mut open, 150).await;

    // Three edges, started after the core had traded: each starts from a snapshot.
    // The third keeps more history than the core (its snapshots hold less than it would).
    let mut bigger = nats.clone();
    bigger.push(("BOURSE__FEED__TRADES_KEPT".into(), "5000".into()));
    bigger.push(("BOURSE__FEED__PRIVATE_WINDOW".into(), "200000".into()));
    let mut edges: Vec<Option<Edge>> = [&nats, &nats, &bigger]
        .into_iter()
        .map(|env| Some(Edge::start(&core.base, env)))
        .collect();
    let base = |e: &Option<Edge>| e.as_ref().unwrap().base.clone();

    // A client of edge 0: the AAPL book and trader A's private channels.
    let mut ws = connect(&base(&edges[0])).await;
    let mut books = Books::default();
    let mut private = Vec::new();
    for v in subscribe(&mut ws, &ta, Some(0)).await {
        take(v, &mut books, &mut private);
    }
    assert!(books.seq("AAPL") > 0, "a book snapshot first");

    // Order entry is the core's.
    send(
        &mut ws,
        json!({"op": "order", "id": 7, "symbol": "AAPL", "side": "buy", "type": "limit",
               "qty": "1", "limit_price": "190.00", "time_in_force": "gtc"}),
    )
    .await;
    let mut refused = None;
    while refused.is_none() {
        let v = recv(&mut ws).await;
        if v["request_id"] == 7 {
            refused = Some(v);
        } else {
            take(v, &mut books, &mut private);
        }
    }
    let refused = refused.unwrap();
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "USE_CORE", "{refused}");

    flow(&h, &tokens, &mut rng, &mut open, 250).await;
    for e in &edges {
        converge(&h, &Http::new(&base(e)), "after the flow").await;
    }
    read_for(
        &mut ws,
        Duration::from_millis(300),
        &mut books,
        &mut private,
    )
    .await;
    let core_book = support::ws::rest_book(&market(&h, "AAPL").await[0]);
    assert_eq!(
        (books.books["AAPL"].0.clone(), books.books["AAPL"].1),
        core_book,
        "the WebSocket book built from edge 0 is the core's, seq included"
    );

    // Edge 1 is killed (no shutdown at all) while the core trades on, then started again.
    edges[1].take().unwrap().kill();
    flow(&h, &tokens, &mut rng, &mut open, 100).await;
    edges[1] = Some(Edge::start(&core.base, &nats));
    flow(&h, &tokens, &mut rng, &mut open, 100).await;
    for e in &edges {
        converge(&h, &Http::new(&base(e)), "after an edge restart").await;
    }

    // The client moves from edge 0 to edge 2: it drops its connection while trading goes
    // on, then resumes there by seq.
    read_for(
        &mut ws,
        Duration::from_millis(300),
        &mut books,
        &mut private,
    )
    .await;
    let seen_book = books.seq("AAPL");
    let seen_private = private
        .last()
        .map_or(0, |v| v["account_seq"].as_u64().unwrap());
    assert!(seen_private > 0, "trader A had private messages");
    drop(ws);
    flow(&h, &tokens, &mut rng, &mut open, 150).await;
    let mut ws = connect(&base(&edges[2])).await;
    let mut moved = Books::default();
    for v in subscribe(&mut ws, &ta, Some(seen_private)).await {
        take(v, &mut moved, &mut private);
    }
    assert!(
        moved.seq("AAPL") >= seen_book,
        "the new edge's snapshot ({}) is not behind what the client saw ({seen_book})",
        moved.seq("AAPL")
    );
    flow(&h, &tokens, &mut rng, &mut open, 100).await;
    for e in &edges {
        converge(&h, &Http::new(&base(e)), "after the move").await;
    }
    read_for(
        &mut ws,
        Duration::from_millis(500),
        &mut moved,
        &mut private,
    )
    .await;
    let core_book = support::ws::rest_book(&market(&h, "AAPL").await[0]);
    assert_eq!(
        (moved.books["AAPL"].0.clone(), moved.books["AAPL"].1),
        core_book,
        "the book followed on edge 2 is the core's, seq included"
    );
    // The private stream across both edges is the core's, 1..N, nothing lost or repeated.
    let want = events(&h, &ta).await;
    let numbers: Vec<u64> = private
        .iter()
        .map(|v| v["account_seq"].as_u64().unwrap())
        .collect();
    let expect: Vec<u64> = (1..=want.len() as u64).collect();
    assert_eq!(numbers, expect, "account_seq 1..N across the move");
    assert_eq!(
        private, want,
        "the messages are the core's history, one for one"
    );

    // Everything above came through the stream, not from the periodic snapshots: no edge
    // ever found its state different from the core's.
    for e in &edges {
        let (s, v) = Http::new(&base(e))
            .call(reqwest::Method::GET, "/healthz", None, None)
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["diverged"], 0, "{v}");
        assert_eq!(v["gaps"], 0, "{v}");
        assert!(v["commands"].as_u64().unwrap() > 0, "{v}");
    }
    // The core's side: everything handed to JetStream, nothing dropped or refused.
    let (_, v) = h.call(reqwest::Method::GET, "/healthz", None, None).await;
    let n = &v["nats"];
    assert!(n["published"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(
        (n["dropped"].as_u64(), n["failed"].as_u64()),
        (Some(0), Some(0)),
        "{v}"
    );

    drop(ws);
    drop(edges);
    drop(core);
}

/// The core's queue to NATS holds one message, so it drops every command with two: the
/// edge sees the gaps in the chain and goes on from the snapshots the core then publishes,
/// ending equal to the core; its subscribers are closed with the resync reason. Then the
/// core is killed and restarted on the same journal and stream: its reset snapshot puts the
/// edge back in step, and the edge follows it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_edge_resyncs_from_snapshots_after_drops_and_across_a_core_restart() {
    let (stream, prefix) = fresh_stream("drops");
    let _cleanup = StreamGuard(stream.clone());
    let mut nats = nats_env(&stream, &prefix);
    // One place: a command on a symbol and an account (two messages) never fits.
    nats.push(("BOURSE__NATS__QUEUE".into(), "1".into()));
    // The drops and resyncs are the point here: not worth a warning each.
    nats.push(("BOURSE__LOG__LEVEL".into(), "error".into()));
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().to_owned());
    let extra: Vec<(&str, &str)> = nats.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let core = Server::start(&store, &extra);
    let h = Http::new(&core.base);
    let op = Client::new(&core.base);
    let (_, ta) = trader(&h, &op, "drop_trader_a").await;
    let (_, tb) = trader(&h, &op, "drop_trader_b").await;
    let tokens = [ta, tb];
    let edge = Edge::start(&core.base, &nats);
    let eh = Http::new(&edge.base);
    let mut ws = connect(&edge.base).await;
    send(
        &mut ws,
        json!({"op": "subscribe", "id": 1, "channels": ["book"], "symbols": ["AAPL"]}),
    )
    .await;

    // Bursts from many clients at once, all through the core.
    let mut rng = Rng(0xD209);
    let mut bursts = Vec::new();
    for i in 0..8u64 {
        let (h, tokens) = (Http::new(&core.base), tokens.clone());
        bursts.push(tokio::spawn(async move {
            let mut rng = Rng(i + 1);
            let mut open = Vec::new();
            flow(&h, &tokens, &mut rng, &mut open, 60).await;
        }));
    }
    for b in bursts {
        b.await.unwrap();
    }
    converge(&h, &eh, "after drops").await;
    let (_, health) = eh.call(reqwest::Method::GET, "/healthz", None, None).await;
    assert!(
        health["gaps"].as_u64().unwrap() > 0,
        "no drop happened: {health}"
    );
    assert!(health["restores"].as_u64().unwrap() > 1, "{health}");
    assert_eq!(health["diverged"], 0, "{health}");
    // The subscriber was told to start again (its book jumped with the snapshot).
    let mut reason = None;
    while let Some(v) = recv_within(&mut ws, Duration::from_secs(5)).await {
        if v.get("closed").is_some() {
            reason = v["reason"].as_str().map(str::to_owned);
            break;
        }
    }
    assert!(
        reason.as_deref().is_some_and(|r| r.starts_with("resync")),
        "{reason:?}"
    );

    // The core dies and comes back on the same journal and stream.
    core.kill();
    let core = Server::start(&store, &extra);
    let h = Http::new(&core.base);
    let mut open = Vec::new();
    flow(&h, &tokens, &mut rng, &mut open, 100).await;
    // The edge still points at the old address for credentials, not for market data.
    converge(&h, &eh, "after the core's restart").await;

    drop(edge);
    drop(core);
}

/// `auth` on an edge asks the core: a session works (and its private channel carries the
/// account's messages), a made-up token and an API key without the `read` scope do not; a
/// session logged out on the core loses its authority on the edge once the edge's cache
/// (one second here) ends; the rest of the API is `NOT_ON_EDGE`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_edge_checks_credentials_with_the_core() {
    let (stream, prefix) = fresh_stream("auth");
    let _cleanup = StreamGuard(stream.clone());
    let mut nats = nats_env(&stream, &prefix);
    nats.push(("BOURSE__EDGE__AUTH_CACHE_SECS".into(), "1".into()));
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().to_owned());
    let extra: Vec<(&str, &str)> = nats.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let core = Server::start(&store, &extra);
    let h = Http::new(&core.base);
    let op = Client::new(&core.base);
    let (account, token) = trader(&h, &op, "edge_auth").await;
    let (s, v) = h
        .call(
            reqwest::Method::POST,
            "/v1/api-keys",
            Some(&token),
            Some(json!({"scopes": ["trade"]})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let trade_only = v["secret"].as_str().unwrap().to_owned();
    // The edge keeps a smaller private window than the core: a resume further back is sent
    // to the core's history.
    let mut edge_env = nats.clone();
    edge_env.push(("BOURSE__FEED__PRIVATE_WINDOW".into(), "2".into()));
    let edge = Edge::start(&core.base, &edge_env);
    let eh = Http::new(&edge.base);
    let (s, v) = eh
        .call(reqwest::Method::GET, "/v1/account", Some(&token), None)
        .await;
    assert_eq!((s, v["code"].as_str()), (404, Some("NOT_ON_EDGE")), "{v}");

    let mut ws = connect(&edge.base).await;
    let mut other = Vec::new();
    for bad in ["not-a-token", trade_only.as_str()] {
        let r = support::ws::request(
            &mut ws,
            json!({"op": "auth", "id": 1, "token": bad}),
            &mut other,
        )
        .await;
        assert_eq!(r["code"], "UNAUTHORIZED", "{r}");
    }
    let r = support::ws::request(
        &mut ws,
        json!({"op": "auth", "id": 2, "token": token}),
        &mut other,
    )
    .await;
    assert_eq!(r["type"], "authenticated", "{r}");
    assert_eq!(r["account_id"], account.as_str(), "{r}");
    let r = support::ws::request(
        &mut ws,
        json!({"op": "subscribe", "id": 3, "channels": ["orders"]}),
        &mut other,
    )
    .await;
    assert_eq!(r["type"], "subscribed", "{r}");
    // An order entered on the core reaches the private channel on the edge.
    let (s, v) = h
        .call(
            reqwest::Method::POST,
            "/v1/orders",
            Some(&token),
            Some(
                json!({"symbol": "AAPL", "side": "buy", "type": "limit", "qty": "1",
                        "limit_price": "189.00", "time_in_force": "gtc"}),
            ),
        )
        .await;
    assert!(s == 200 || s == 201, "{s} {v}");
    let report = loop {
        let m = recv(&mut ws).await;
        if m.get("account_seq").is_some() {
            break m;
        }
    };
    assert_eq!(report["order_id"], v["id"], "{report}");
    assert_eq!(report["event"], "accepted", "{report}");
    // The account's last number (the order also moved its cash: more than one event).
    let latest = loop {
        let all = events(&h, &token).await;
        let last = all.last().unwrap()["account_seq"].as_u64().unwrap();
        if last >= report["account_seq"].as_u64().unwrap() {
            break last;
        }
    };
    assert!(latest > 2, "{report}");
    // The edge has seen it too (it is a few milliseconds behind the core).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut other_ws = connect(&edge.base).await;
    let r = support::ws::request(
        &mut other_ws,
        json!({"op": "auth", "id": 1, "token": token}),
        &mut other,
    )
    .await;
    assert_eq!(r["type"], "authenticated", "{r}");
    let r = support::ws::request(
        &mut other_ws,
        json!({"op": "subscribe", "id": 2, "channels": ["orders", "account"], "since": 0}),
        &mut other,
    )
    .await;
    assert_eq!(r["code"], "RESUME_ON_CORE", "{r}");
    let r = support::ws::request(
        &mut other_ws,
        json!({"op": "subscribe", "id": 3, "channels": ["orders", "account"],
               "since": latest - 1}),
        &mut other,
    )
    .await;
    assert_eq!(r["type"], "subscribed", "{r}");
    assert_eq!(r["replayed"], 1, "{r}");
    drop(other_ws);
    // Still valid after the cache's second: asked again, kept.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let r = support::ws::request(&mut ws, json!({"op": "ping", "id": 4}), &mut other).await;
    assert_eq!(r["type"], "pong");
    assert!(other.iter().all(|m| m["type"] != "auth_ended"), "{other:?}");
    // Logged out on the core: the edge's connection loses its authority within the cache's
    // time.
    let (s, _) = h
        .call(reqwest::Method::DELETE, "/v1/sessions", Some(&token), None)
        .await;
    assert_eq!(s, 204);
    let ended = loop {
        let m = recv(&mut ws).await;
        if m["type"] == "auth_ended" {
            break m;
        }
    };
    assert_eq!(ended["code"], "SESSION_ENDED", "{ended}");

    // A smaller window than the core's is not a difference from the core's snapshots.
    let (_, health) = eh.call(reqwest::Method::GET, "/healthz", None, None).await;
    assert_eq!(health["diverged"], 0, "{health}");

    drop(edge);
    drop(core);
}
