//! A full simulated trading day on `bourse demo`, over REST and WebSocket.
//!
//! The demo runs without its simulated market (`--rate 0`) and with a trading calendar
//! enabled through the environment, compressed so that each session lasts 8 real seconds
//! (speed 15: two calendar minutes). Three accounts trade AAPL (reference price 190.00): the
//! demo login `A` (buys), `B` (sells) and `C` (buys, once sells), the last two signed up over
//! REST and funded by the operator. The test polls `GET /v1/clock` for each session and acts
//! as soon as it starts:
//!
//! - closed: a GTC limit is accepted but waits for the open (not on the book); the clock,
//!   the calendar and an empty auction;
//! - pre-market: two extended-hours DAY limits of different accounts trade; an IOC is refused
//!   `MARKET_CLOSED`; a regular limit waits;
//! - opening call: the waiting orders join; crossing limits and `opg` orders rest without
//!   trading; the indicative uncross on REST and on the `auction` channel;
//! - continuous: the uncross (one price, price-time priority, the `opg` remainder cancelled
//!   `AUCTION_UNFILLED`); `opg` refused `AUCTION_CLOSED`; an IOC trades; a `cls` order waits;
//! - closing call: the `cls` order joins; the indicative uncross;
//! - after-hours: the closing uncross; a regular DAY order expires, a GTC order is parked
//!   (private `orders` channel) and leaves the public book; an extended-hours order rests;
//! - closed again: the extended-hours DAY order expires.
//!
//! Nothing here measures time: every wait is for a session or a message, with generous
//! deadlines that only a failure reaches.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::Method as M;
use serde_json::{Value, json};
use support::ws::{Ws, connect, recv_within, request};
use support::{Client, Http};

const SYM: &str = "AAPL";
const PASSWORD: &str = "quiet-otter-lantern";

/// The compressed calendar, New York time: every session two calendar minutes (8 real
/// seconds at speed 15); calendar time starts at 03:56 on the next weekday it is not yet past
/// (the default weekend stays), so the day begins with 16 real seconds of `closed` for the
/// set-up.
const CALENDAR: [(&str, &str); 9] = [
    ("BOURSE__CALENDAR__ENABLED", "true"),
    ("BOURSE__CALENDAR__PRE_MARKET", "04:00"),
    ("BOURSE__CALENDAR__OPENING_CALL", "04:02"),
    ("BOURSE__CALENDAR__OPEN", "04:04"),
    ("BOURSE__CALENDAR__CLOSING_CALL", "04:06"),
    ("BOURSE__CALENDAR__CLOSE", "04:08"),
    ("BOURSE__CALENDAR__AFTER_HOURS_END", "04:10"),
    ("BOURSE__CALENDAR__START_AT", "03:56"),
    ("BOURSE__CALENDAR__SPEED", "15"),
];

/// The day's sessions in order; the last `closed` is the night after it.
const DAY: [&str; 7] = [
    "closed",
    "pre_market",
    "opening_call",
    "continuous",
    "closing_call",
    "after_hours",
    "closed",
];

struct Demo {
    child: Child,
    base: String,
    lines: mpsc::Receiver<String>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `bourse demo --rate 0` in `dir` with the compressed calendar and an operator token; the
/// caller's `BOURSE__*` settings are left out.
fn start_demo(dir: &std::path::Path) -> Demo {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bourse"));
    cmd.args(["demo", "--rate", "0"])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, _) in std::env::vars() {
        if k.starts_with("BOURSE__") {
            cmd.env_remove(k);
        }
    }
    cmd.env_remove("DATABASE_URL")
        .env("BOURSE__SERVER__LISTEN", "127.0.0.1:0")
        .env("BOURSE__SERVER__OPERATOR_TOKEN", support::TOKEN)
        .env("BOURSE__LOG__LEVEL", "warn")
        .envs(CALENDAR);
    let mut child = cmd.spawn().unwrap();
    let lines = support::lines_of(child.stdout.take().unwrap());
    let first = lines.recv_timeout(Duration::from_secs(120)).unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("{first:?}"))
        .to_owned();
    Demo {
        child,
        base: format!("http://{addr}"),
        lines,
    }
}

/// The fields of `v` named in `keys` (a missing one as null).
fn pick(v: &Value, keys: &[&str]) -> Value {
    Value::Object(
        keys.iter()
            .map(|k| ((*k).to_owned(), v.get(*k).cloned().unwrap_or(Value::Null)))
            .collect(),
    )
}

const AUCTION_KEYS: [&str; 8] = [
    "symbol",
    "session",
    "state",
    "price",
    "matched_qty",
    "imbalance_qty",
    "imbalance_side",
    "reference_price",
];

/// An auction as the `auction` channel and `GET /v1/stocks/AAPL/auction` show it (without
/// the seq).
fn auction(
    session: &str,
    state: &str,
    price: Option<&str>,
    matched: &str,
    imbalance: (&str, Option<&str>),
    reference: &str,
) -> Value {
    json!({"symbol": SYM, "session": session, "state": state, "price": price,
           "matched_qty": matched, "imbalance_qty": imbalance.0,
           "imbalance_side": imbalance.1, "reference_price": reference})
}

/// An uncrossed auction's figures, its `reference_price` the one the uncross was decided
/// with (the call's: 190.00 at the open, 191.00 at the close), not the price its own trades
/// left.
fn final_figures(v: &Value) -> Value {
    pick(v, &AUCTION_KEYS)
}

fn limit(side: &str, qty: u32, price: &str, tif: &str) -> Value {
    json!({"symbol": SYM, "side": side, "type": "limit", "qty": qty.to_string(),
           "limit_price": price, "time_in_force": tif})
}

/// An extended-hours limit DAY order.
fn extended(side: &str, qty: u32, price: &str) -> Value {
    let mut v = limit(side, qty, price, "day");
    v["extended_hours"] = json!(true);
    v
}

fn market(side: &str, qty: u32, tif: &str) -> Value {
    json!({"symbol": SYM, "side": side, "type": "market", "qty": qty.to_string(),
           "time_in_force": tif})
}

/// An order's fills as (price, qty, liquidity).
fn fills(order: &Value) -> Vec<(String, String, String)> {
    order["fills"]
        .as_array()
        .unwrap_or_else(|| panic!("no fills in {order}"))
        .iter()
        .map(|f| {
            (
                f["price"].as_str().unwrap().to_owned(),
                f["qty"].as_str().unwrap().to_owned(),
                f["liquidity"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn fill(price: &str, qty: &str, liquidity: &str) -> (String, String, String) {
    (price.to_owned(), qty.to_owned(), liquidity.to_owned())
}

fn taker(price: &str, qty: &str) -> (String, String, String) {
    fill(price, qty, "taker")
}

fn maker(price: &str, qty: &str) -> (String, String, String) {
    fill(price, qty, "maker")
}

/// One market-data channel of AAPL on a connection of its own, read in order.
struct Channel {
    ws: Ws,
    /// The channel's name and the type of its messages.
    kind: &'static str,
    message: &'static str,
}

impl Channel {
    /// Subscribes; returns the channel and what it sent before the answer.
    async fn open(base: &str, kind: &'static str, message: &'static str) -> (Channel, Vec<Value>) {
        let mut ws = connect(base).await;
        let mut early = Vec::new();
        let r = request(
            &mut ws,
            json!({"op": "subscribe", "id": kind, "channels": [kind], "symbols": [SYM]}),
            &mut early,
        )
        .await;
        assert_eq!(r["type"], "subscribed", "{r}");
        (Channel { ws, kind, message }, early)
    }

    /// The channel's next message (heartbeats skipped).
    async fn next(&mut self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = recv_within(&mut self.ws, left)
                .await
                .unwrap_or_else(|| panic!("no {} message within 20 s", self.kind));
            if m["type"] == self.message {
                return m;
            }
            assert!(
                m["type"] == "heartbeat",
                "unexpected on the {} channel: {m}",
                self.kind
            );
        }
    }

    /// The next auction message equal (but for its seq) to `want`; earlier ones (the
    /// indicative figures as the orders came in) are passed over.
    async fn until_auction(&mut self, want: &Value) -> Value {
        loop {
            let m = self.next().await;
            if pick(&m, &AUCTION_KEYS) == *want {
                return m;
            }
        }
    }

    /// The next `n` trades as (price, qty, aggressor side).
    async fn trades(&mut self, n: usize) -> Vec<(String, String, String)> {
        let mut out = Vec::new();
        for _ in 0..n {
            let t = self.next().await;
            assert_eq!(t["symbol"], SYM, "{t}");
            out.push((
                t["price"].as_str().unwrap().to_owned(),
                t["qty"].as_str().unwrap().to_owned(),
                t["side"].as_str().unwrap().to_owned(),
            ));
        }
        out
    }
}

fn print(price: &str, qty: &str, side: &str) -> (String, String, String) {
    (price.to_owned(), qty.to_owned(), side.to_owned())
}

/// A trader: an account, its session token, and its private `orders` channel.
struct Trader {
    name: &'static str,
    token: String,
    ws: Ws,
    /// Everything its private channel sent so far.
    log: Vec<Value>,
}

impl Trader {
    async fn new(base: &str, name: &'static str, token: String) -> Trader {
        let mut ws = connect(base).await;
        let mut junk = Vec::new();
        let r = request(
            &mut ws,
            json!({"op": "auth", "id": "a", "token": token}),
            &mut junk,
        )
        .await;
        assert_eq!(r["type"], "authenticated", "{r}");
        let r = request(
            &mut ws,
            json!({"op": "subscribe", "id": "s", "channels": ["orders"]}),
            &mut junk,
        )
        .await;
        assert_eq!(r["type"], "subscribed", "{r}");
        Trader {
            name,
            token,
            ws,
            log: junk,
        }
    }

    /// `POST /v1/orders`.
    async fn order(&self, h: &Http, body: Value) -> (u16, Value) {
        h.call(M::POST, "/v1/orders", Some(&self.token), Some(body))
            .await
    }

    /// Places an order that must be accepted with `status`; returns its id.
    async fn place(&self, h: &Http, body: Value, status: &str) -> String {
        let (s, v) = self.order(h, body.clone()).await;
        assert_eq!(s, 200, "{}: {body} → {v}", self.name);
        assert_eq!(v["status"], status, "{}: {body} → {v}", self.name);
        v["id"].as_str().unwrap().to_owned()
    }

    /// Places an order that must be refused `422 code`.
    async fn refused(&self, h: &Http, body: Value, code: &str) {
        let (s, v) = self.order(h, body.clone()).await;
        assert_eq!((s, v["code"].as_str()), (422, Some(code)), "{body} → {v}");
    }

    /// The execution report `event` of order `id` on the private channel (from what it sent
    /// already, else the next messages).
    async fn report(&mut self, id: &str, event: &str) -> Value {
        let is = |m: &Value| {
            m["type"] == "execution_report" && m["order_id"] == id && m["event"] == event
        };
        if let Some(m) = self.log.iter().find(|m| is(m)) {
            return m.clone();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let m = recv_within(&mut self.ws, left).await.unwrap_or_else(|| {
                panic!(
                    "{}: no {event} report for order {id} within 20 s; got {:?}",
                    self.name, self.log
                )
            });
            assert!(m.get("closed").is_none() && m.get("ended").is_none(), "{m}");
            self.log.push(m.clone());
            if is(&m) {
                return m;
            }
        }
    }

    /// `GET /v1/orders/{id}` once it reads `status` (the read model follows the journal a
    /// moment behind the answers); the last answer either way.
    async fn order_status(&self, h: &Http, id: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (s, v) = h
                .call(M::GET, &format!("/v1/orders/{id}"), Some(&self.token), None)
                .await;
            assert_eq!(s, 200, "{v}");
            if v["status"] == status || Instant::now() > deadline {
                assert_eq!(v["status"], status, "{}: order {id}: {v}", self.name);
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The market: the clock, the book and the auction over REST (with a token, so polling
/// draws on the credential's rate limit, not the IP's).
struct Market<'a> {
    h: &'a Http,
    token: &'a str,
}

impl Market<'_> {
    async fn get(&self, path: &str) -> Value {
        let (s, v) = self.h.call(M::GET, path, Some(self.token), None).await;
        assert_eq!(s, 200, "{path}: {v}");
        v
    }

    async fn clock(&self) -> Value {
        self.get("/v1/clock").await
    }

    /// Waits for the day's `stage`th session (see [`DAY`]); returns the clock then.
    async fn wait(&self, stage: usize) -> Value {
        let want = DAY[stage];
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let c = self.clock().await;
            let now = c["session"].as_str().unwrap().to_owned();
            if now == want {
                return c;
            }
            // A later session means this one went by unseen.
            if stage > 0 && now != "closed" {
                let at = DAY.iter().position(|s| *s == now).unwrap();
                assert!(
                    at < stage,
                    "waiting for {want}, the market is already in {now}"
                );
            }
            assert!(Instant::now() < deadline, "no {want} within 60 s: {c}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Panics unless the market is still in `session`: the step just done belonged to it
    /// (a guard against a machine so slow that a session went by mid-step).
    async fn still(&self, session: &str) {
        let c = self.clock().await;
        assert_eq!(
            c["session"], session,
            "the session ended before its steps were done"
        );
    }

    /// AAPL's book as `{"bids", "asks"}` levels `[price, qty, orders]`.
    async fn book(&self) -> Value {
        let v = self.get(&format!("/v1/stocks/{SYM}/book")).await;
        json!({"bids": v["bids"], "asks": v["asks"]})
    }

    async fn auction(&self) -> Value {
        pick(
            &self.get(&format!("/v1/stocks/{SYM}/auction")).await,
            &AUCTION_KEYS,
        )
    }
}

fn empty_book() -> Value {
    json!({"bids": [], "asks": []})
}

#[test]
fn a_compressed_trading_day_walks_every_session_over_rest_and_websocket() {
    let dir = tempfile::tempdir().unwrap();
    let demo = start_demo(dir.path());
    // The demo login is signed up and funded before this line.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let l = demo
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the demo printed no login line");
        if l.contains("log in as demo / demo-password") {
            break;
        }
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let base = demo.base.as_str();
        let h = Http::new(base);
        let op = Client::new(base);

        // ---- Set-up (the market is closed) --------------------------------------------
        // A: the demo login ($100,000). B sells (1,000 AAPL), C buys ($1,000,000).
        let (s, v) = h.log_in("demo", "demo-password").await;
        assert_eq!(s, 201, "{v}");
        let ta = v["token"].as_str().unwrap().to_owned();
        let mut tokens = Vec::new();
        for (user, cash, shares) in [
            ("day_seller", "100000", vec![(SYM, 1000)]),
            ("day_buyer", "1000000", vec![]),
        ] {
            let account = h.register(user).await;
            op.fund(&account, cash, &shares).await;
            let (s, v) = h.log_in(user, PASSWORD).await;
            assert_eq!(s, 201, "{v}");
            tokens.push(v["token"].as_str().unwrap().to_owned());
        }
        let mut a = Trader::new(base, "A", ta.clone()).await;
        let mut b = Trader::new(base, "B", tokens[0].clone()).await;
        let mut c = Trader::new(base, "C", tokens[1].clone()).await;
        let m = Market { h: &h, token: &ta };

        // ---- Closed ---------------------------------------------------------------------
        // The market is in the calendar's session from the first answer: the clock sets it
        // before the listeners open (a fresh engine would otherwise trade continuously).
        let first = m.clock().await;
        assert_eq!(first["session"], "closed", "{first}");
        let clock = m.wait(0).await;
        // Calendar time started at 03:56 New York time on day D, a weekday.
        let ts = clock["timestamp"].as_str().unwrap();
        let (day, offset) = (&ts[..10], &ts[ts.len() - 6..]);
        assert!(ts[10..].starts_with("T03:5"), "{clock}");
        assert_eq!(
            pick(&clock, &["is_open", "session", "next_open", "next_close"]),
            json!({"is_open": false, "session": "closed",
                   "next_open": format!("{day}T04:04:00{offset}"),
                   "next_close": format!("{day}T04:08:00{offset}")}),
            "{clock}"
        );
        // GET /v1/calendar: the configured day (Alpaca's shape).
        let cal = m
            .get(&format!("/v1/calendar?start={day}&end={day}"))
            .await;
        assert_eq!(
            cal,
            json!([{"date": day, "open": "04:04", "close": "04:08",
                    "session_open": "0400", "session_close": "0410"}])
        );
        // A fresh exchange starts in continuous trading; the clock's first command walks it
        // to `closed` through a closing call (and a close) with nothing in it, so the last
        // auction shown is that empty one, at the previous close (the listing's reference).
        let startup = auction(
            "closing_call",
            "uncrossed",
            None,
            "0",
            ("0", None),
            "190.00",
        );
        assert_eq!(m.auction().await, startup);
        let (mut trades, early) = Channel::open(base, "trades", "trade").await;
        assert!(early.is_empty(), "no trade yet: {early:?}");
        let (mut auctions, early) = Channel::open(base, "auction", "auction").await;
        // (Twice if the subscription raced that command's update: the same figures.)
        assert!(
            !early.is_empty() && early.iter().all(|a| pick(a, &AUCTION_KEYS) == startup),
            "{early:?}"
        );
        // W1 — A: a regular GTC buy is accepted but waits for the opening call.
        let w1 = a.place(&h, limit("buy", 10, "185.00", "gtc"), "new").await;
        a.report(&w1, "accepted").await;
        assert_eq!(m.book().await, empty_book());
        m.still("closed").await;

        // ---- Pre-market -----------------------------------------------------------------
        m.wait(1).await;
        // P1, P2: extended-hours DAY limits of B and C cross and trade at once.
        let p1 = b.place(&h, extended("sell", 100, "190.00"), "new").await;
        let (s, p2v) = c.order(&h, extended("buy", 100, "190.00")).await;
        assert_eq!(s, 200, "{p2v}");
        assert_eq!(p2v["status"], "filled", "{p2v}");
        assert_eq!(fills(&p2v), [fill("190.00", "100", "taker")]);
        assert_eq!(p2v["extended_hours"], true, "{p2v}");
        let p2 = p2v["id"].as_str().unwrap().to_owned();
        assert_eq!(
            trades.trades(1).await,
            [print("190.00", "100", "buy")],
            "the pre-market trade on the trades channel"
        );
        let f = c.report(&p2, "fill").await;
        assert_eq!(
            pick(&f, &["last_price", "last_qty", "status"]),
            json!({"last_price": "190.00", "last_qty": "100", "status": "filled"})
        );
        let f = b.report(&p1, "fill").await;
        assert_eq!(
            pick(&f, &["last_price", "last_qty", "liquidity", "status"]),
            json!({"last_price": "190.00", "last_qty": "100", "liquidity": "maker",
                   "status": "filled"})
        );
        // IOC and FOK trade only in continuous trading.
        c.refused(&h, limit("buy", 10, "190.00", "ioc"), "MARKET_CLOSED")
            .await;
        c.refused(&h, limit("buy", 10, "190.00", "fok"), "MARKET_CLOSED")
            .await;
        // P4 — B: a regular DAY limit waits for the opening call.
        let p4 = b.place(&h, limit("sell", 30, "190.50", "day"), "new").await;
        b.report(&p4, "accepted").await;
        assert_eq!(m.book().await, empty_book());
        assert_eq!(m.auction().await, startup);
        m.still("pre_market").await;

        // ---- Opening call ---------------------------------------------------------------
        m.wait(2).await;
        // The call opens with what waited for it (W1, P4), not crossed; the reference is the
        // pre-market trade.
        let opening = |price: Option<&str>, matched, imbalance, state| {
            auction("opening_call", state, price, matched, imbalance, "190.00")
        };
        // (The startup auction may come twice if the subscription raced its update.)
        let mut first = pick(&auctions.next().await, &AUCTION_KEYS);
        while first == startup {
            first = pick(&auctions.next().await, &AUCTION_KEYS);
        }
        assert_eq!(first, opening(None, "0", ("0", None), "indicative"));
        assert_eq!(
            m.book().await,
            json!({"bids": [["185.00", "10", "1"]], "asks": [["190.50", "30", "1"]]})
        );
        // Crossing orders rest without trading, in this time order:
        let o2 = b.place(&h, limit("sell", 40, "190.00", "day"), "new").await;
        let o1 = c.place(&h, limit("buy", 50, "191.00", "day"), "new").await;
        let s3 = b.place(&h, limit("sell", 20, "191.00", "day"), "new").await;
        let o3 = a.place(&h, limit("buy", 30, "191.00", "day"), "new").await;
        // An opg market order joins (resting at the collar, 190.00 + 5% = 199.50), and an
        // opg limit that will not be reached.
        let mk = c.place(&h, market("buy", 20, "opg"), "new").await;
        let q = a.place(&h, limit("buy", 40, "190.50", "opg"), "new").await;
        a.report(&q, "accepted").await;
        // The uncross price. Buyers at p: every buy limited at p or above (the market buy at
        // its 199.50); sellers: every sell limited at p or below.
        //   p        buyers                       sellers           volume
        //   185.00   20+50+30+40+10 = 150         0                 0
        //   190.00   20+50+30+40    = 140         40                40
        //   190.50   20+50+30+40    = 140         40+30 = 70        70
        //   191.00   20+50+30       = 100         40+30+20 = 90     90  ← the only maximum
        //   199.50   20                           90                20
        // 191.00, 90 shares, 10 more bought than sold.
        let indicative = opening(Some("191.00"), "90", ("10", Some("buy")), "indicative");
        assert_eq!(m.auction().await, indicative);
        auctions.until_auction(&indicative).await;
        assert_eq!(
            m.book().await,
            json!({"bids": [["199.50", "20", "1"], ["191.00", "80", "2"],
                            ["190.50", "40", "1"], ["185.00", "10", "1"]],
                   "asks": [["190.00", "40", "1"], ["190.50", "30", "1"],
                            ["191.00", "20", "1"]]}),
            "a crossed book: nothing trades in a call"
        );
        m.still("opening_call").await;

        // ---- Continuous -----------------------------------------------------------------
        m.wait(3).await;
        // The uncross, at 191.00. Price-time priority: the market buy first (highest), then
        // O1 before O3 at 191.00 (earlier); sells O2 (190.00), P4 (190.50), S3 (191.00):
        //   MK 20 × O2 · O1 20 × O2 · O1 30 × P4 · O3 20 × S3   (the earlier order is maker)
        // O3 keeps 10; Q (opg, 190.50) is cancelled AUCTION_UNFILLED; W1 keeps resting.
        // (The last message after the indicative one above: nothing changed in between.)
        let uncrossed = final_figures(&opening(
            Some("191.00"),
            "90",
            ("10", Some("buy")),
            "uncrossed",
        ));
        assert_eq!(final_figures(&auctions.next().await), uncrossed);
        assert_eq!(
            trades.trades(4).await,
            [
                print("191.00", "20", "buy"),
                print("191.00", "20", "buy"),
                print("191.00", "30", "buy"),
                print("191.00", "20", "buy"),
            ]
        );
        let r = a.report(&q, "canceled").await;
        assert_eq!(
            pick(&r, &["reason", "canceled_qty", "status"]),
            json!({"reason": "AUCTION_UNFILLED", "canceled_qty": "40", "status": "canceled"})
        );
        assert_eq!(final_figures(&m.auction().await), uncrossed);
        assert_eq!(
            m.book().await,
            json!({"bids": [["191.00", "10", "1"], ["185.00", "10", "1"]], "asks": []})
        );
        for (who, id, status, want) in [
            (&b, &o2, "filled", vec![maker("191.00", "20"), maker("191.00", "20")]),
            (&b, &p4, "filled", vec![maker("191.00", "30")]),
            (&b, &s3, "filled", vec![maker("191.00", "20")]),
            (&c, &mk, "filled", vec![taker("191.00", "20")]),
            (&c, &o1, "filled", vec![taker("191.00", "20"), taker("191.00", "30")]),
            (&a, &o3, "partially_filled", vec![taker("191.00", "20")]),
            (&a, &q, "canceled", vec![]),
            (&a, &w1, "new", vec![]),
        ] {
            let v = who.order_status(&h, id, status).await;
            assert_eq!(fills(&v), want, "{v}");
        }
        let v = a.order_status(&h, &q, "canceled").await;
        assert_eq!(v["cancel_reason"], "AUCTION_UNFILLED", "{v}");
        let v = a.order_status(&h, &o3, "partially_filled").await;
        assert_eq!(v["leaves_qty"], "10", "{v}");
        let clock = m.clock().await;
        assert_eq!(
            pick(&clock, &["is_open", "session", "next_close"]),
            json!({"is_open": true, "session": "continuous",
                   "next_close": format!("{day}T04:08:00{offset}")}),
        );
        // The opening auction is over.
        c.refused(&h, limit("buy", 10, "191.00", "opg"), "AUCTION_CLOSED")
            .await;
        // Continuous matching: C's IOC sell takes 5 of O3's 10 at 191.00.
        let (s, v) = c.order(&h, limit("sell", 5, "191.00", "ioc")).await;
        assert_eq!((s, &v["status"]), (200, &json!("filled")), "{v}");
        assert_eq!(fills(&v), [taker("191.00", "5")]);
        assert_eq!(v["extended_hours"], false, "{v}");
        assert_eq!(trades.trades(1).await, [print("191.00", "5", "sell")]);
        // K1 — B: a cls order placed now waits for the closing call.
        let k1 = b.place(&h, limit("sell", 30, "191.50", "cls"), "new").await;
        b.report(&k1, "accepted").await;
        assert_eq!(
            m.book().await,
            json!({"bids": [["191.00", "5", "1"], ["185.00", "10", "1"]], "asks": []})
        );
        m.still("continuous").await;

        // ---- Closing call ---------------------------------------------------------------
        m.wait(4).await;
        // K1 joins; the reference is now the last trade, 191.00.
        let closing = |price: Option<&str>, matched, imbalance, state| {
            auction("closing_call", state, price, matched, imbalance, "191.00")
        };
        assert_eq!(
            pick(&auctions.next().await, &AUCTION_KEYS),
            closing(None, "0", ("0", None), "indicative")
        );
        assert_eq!(
            m.book().await,
            json!({"bids": [["191.00", "5", "1"], ["185.00", "10", "1"]],
                   "asks": [["191.50", "30", "1"]]})
        );
        let k2 = c.place(&h, limit("buy", 20, "191.80", "day"), "new").await;
        // A cls order placed in the closing call joins at once.
        let k3 = a.place(&h, limit("buy", 20, "191.50", "cls"), "new").await;
        let k4 = c.place(&h, limit("buy", 10, "188.00", "day"), "new").await;
        let k5 = b.place(&h, limit("sell", 15, "192.00", "cls"), "new").await;
        b.report(&k5, "accepted").await;
        //   p        buyers                         sellers          volume
        //   185.00   20+20+5+10+10 = 65             0                0
        //   188.00   20+20+5+10    = 55             0                0
        //   191.00   20+20+5       = 45             0                0
        //   191.50   20+20         = 40             30               30  ← the only maximum
        //   191.80   20                             30               20
        //   192.00   0                              30+15 = 45       0
        // 191.50, 30 shares, 10 more bought than sold.
        let indicative = closing(Some("191.50"), "30", ("10", Some("buy")), "indicative");
        assert_eq!(m.auction().await, indicative);
        auctions.until_auction(&indicative).await;
        assert_eq!(
            m.book().await,
            json!({"bids": [["191.80", "20", "1"], ["191.50", "20", "1"],
                            ["191.00", "5", "1"], ["188.00", "10", "1"],
                            ["185.00", "10", "1"]],
                   "asks": [["191.50", "30", "1"], ["192.00", "15", "1"]]})
        );
        let clock = m.clock().await;
        assert_eq!(
            pick(&clock, &["is_open", "session"]),
            json!({"is_open": true, "session": "closing_call"})
        );
        m.still("closing_call").await;

        // ---- After-hours ----------------------------------------------------------------
        m.wait(5).await;
        // The closing uncross at 191.50: K2 (191.80) 20 × K1, then K3 10 × K1. K3 keeps 10
        // and K5 all 15: cls remainders, cancelled AUCTION_UNFILLED. Then the close: O3 and
        // K4 (regular DAY) expire, W1 (regular GTC) steps off the book until the next open.
        let uncrossed = final_figures(&closing(
            Some("191.50"),
            "30",
            ("10", Some("buy")),
            "uncrossed",
        ));
        assert_eq!(final_figures(&auctions.next().await), uncrossed);
        assert_eq!(
            trades.trades(2).await,
            [print("191.50", "20", "buy"), print("191.50", "10", "buy")]
        );
        let parked = a.report(&w1, "parked").await;
        assert_eq!(
            pick(&parked, &["symbol", "side", "qty", "resting_price"]),
            json!({"symbol": SYM, "side": "buy", "qty": "10", "resting_price": "185.00"})
        );
        let ended = |qty: &str, reason: &str, status: &str| {
            json!({"canceled_qty": qty, "reason": reason, "status": status})
        };
        let keys = ["canceled_qty", "reason", "status"];
        assert_eq!(
            pick(&a.report(&o3, "canceled").await, &keys),
            ended("5", "EXPIRED", "expired")
        );
        assert_eq!(
            pick(&a.report(&k3, "canceled").await, &keys),
            ended("10", "AUCTION_UNFILLED", "canceled")
        );
        assert_eq!(
            pick(&b.report(&k5, "canceled").await, &keys),
            ended("15", "AUCTION_UNFILLED", "canceled")
        );
        assert_eq!(
            pick(&c.report(&k4, "canceled").await, &keys),
            ended("10", "EXPIRED", "expired")
        );
        assert_eq!(final_figures(&m.auction().await), uncrossed);
        assert_eq!(m.book().await, empty_book(), "W1 parked: off the book");
        for (who, id, status, reason, want) in [
            (&b, &k1, "filled", None, vec![maker("191.50", "20"), maker("191.50", "10")]),
            (&c, &k2, "filled", None, vec![taker("191.50", "20")]),
            (&a, &k3, "canceled", Some("AUCTION_UNFILLED"), vec![taker("191.50", "10")]),
            (&c, &k4, "expired", Some("EXPIRED"), vec![]),
            (&b, &k5, "canceled", Some("AUCTION_UNFILLED"), vec![]),
            (
                &a,
                &o3,
                "expired",
                Some("EXPIRED"),
                vec![taker("191.00", "20"), maker("191.00", "5")],
            ),
            (&a, &w1, "new", None, vec![]),
        ] {
            let v = who.order_status(&h, id, status).await;
            assert_eq!(fills(&v), want, "{v}");
            assert_eq!(v["cancel_reason"], json!(reason), "{v}");
        }
        let clock = m.clock().await;
        assert_eq!(
            pick(&clock, &["is_open", "session"]),
            json!({"is_open": false, "session": "after_hours"})
        );
        // E1 — C: an extended-hours DAY limit rests in after-hours.
        let e1 = c.place(&h, extended("buy", 10, "190.00"), "new").await;
        let r = c.report(&e1, "accepted").await;
        assert_eq!(r["extended_hours"], true, "the private stream's report: {r}");
        assert_eq!(
            m.book().await,
            json!({"bids": [["190.00", "10", "1"]], "asks": []})
        );
        m.still("after_hours").await;

        // ---- Closed ---------------------------------------------------------------------
        m.wait(6).await;
        // The end of after-hours: extended-hours DAY orders expire too.
        assert_eq!(
            pick(&c.report(&e1, "canceled").await, &keys),
            ended("10", "EXPIRED", "expired")
        );
        assert_eq!(m.book().await, empty_book());
        let v = c.order_status(&h, &e1, "expired").await;
        assert_eq!(v["cancel_reason"], "EXPIRED", "{v}");
        // W1 waits for the next opening call.
        let v = a.order_status(&h, &w1, "new").await;
        assert_eq!(v["leaves_qty"], "10", "{v}");
        let clock = m.clock().await;
        assert_eq!(
            pick(&clock, &["is_open", "session"]),
            json!({"is_open": false, "session": "closed"})
        );
        let next_open = clock["next_open"].as_str().unwrap();
        assert!(
            next_open[..10] > *day && next_open[10..].starts_with("T04:04:00"),
            "the next open is a later day's: {clock}"
        );
        // Eight trades in all, no more (whatever else is already queued is looked at).
        while let Some(m) = recv_within(&mut trades.ws, Duration::from_millis(300)).await {
            assert_eq!(m["type"], "heartbeat", "a trade nobody expected: {m}");
        }
    });
}
