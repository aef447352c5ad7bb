//! A real WebSocket client of `/v1/ws` and a market-data book built from what it receives.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn connect(base: &str) -> Ws {
    let url = format!("{}/v1/ws", base.replace("http://", "ws://"));
    tokio_tungstenite::connect_async(&url).await.unwrap().0
}

pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

/// The next text message as JSON; a close becomes `{"closed": code, "reason": …}`, the end
/// of the stream `{"ended": true}`. Panics after 30 s of silence.
pub async fn recv(ws: &mut Ws) -> Value {
    match recv_within(ws, Duration::from_secs(30)).await {
        Some(v) => v,
        None => panic!("no message within 30 s"),
    }
}

/// Like [`recv`], `None` when nothing arrives in time.
pub async fn recv_within(ws: &mut Ws, t: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + t;
    loop {
        let m = tokio::time::timeout_at(deadline, ws.next()).await.ok()?;
        match m {
            Some(Ok(Message::Text(t))) => return Some(serde_json::from_str(&t).unwrap()),
            Some(Ok(Message::Close(c))) => {
                return Some(json!({
                    "closed": c.as_ref().map(|c| u16::from(c.code)),
                    "reason": c.map(|c| c.reason.to_string()),
                }));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Some(json!({"ended": true, "error": e.to_string()})),
            None => return Some(json!({"ended": true})),
        }
    }
}

/// Sends a request and returns the reply with the same `request_id`, keeping whatever
/// else arrived meanwhile in `other`.
pub async fn request(ws: &mut Ws, v: Value, other: &mut Vec<Value>) -> Value {
    let id = v["id"].clone();
    send(ws, v).await;
    loop {
        let m = recv(ws).await;
        if m["request_id"] == id && m.get("request_id").is_some() {
            return m;
        }
        other.push(m);
    }
}

/// (side, price) → (qty, orders), prices as exact decimal strings normalised by parsing.
pub type Levels = BTreeMap<(u8, i64), (u64, u32)>;

fn price(v: &Value) -> i64 {
    v.as_str()
        .unwrap()
        .parse::<bourse_core::Price>()
        .unwrap()
        .raw()
}

/// Applies `[price, qty, orders]` levels; a zero qty removes the level.
pub fn apply_levels(levels: &mut Levels, side: u8, list: &Value) {
    for l in list.as_array().unwrap() {
        let q: u64 = l[1].as_str().unwrap().parse().unwrap();
        let n: u32 = l[2].as_str().unwrap().parse().unwrap();
        if q == 0 {
            levels.remove(&(side, price(&l[0])));
        } else {
            levels.insert((side, price(&l[0])), (q, n));
        }
    }
}

/// A client's books, built the documented way: `book_snapshot` replaces, `book` applies on
/// top and must carry the next seq.
#[derive(Default, Debug)]
pub struct Books {
    pub books: BTreeMap<String, (Levels, u64)>,
    pub snapshots: u64,
    pub updates: u64,
    /// Other market-data messages by type.
    pub other: BTreeMap<String, u64>,
}

impl Books {
    /// Applies one message; returns false for messages that are not market data.
    pub fn apply(&mut self, v: &Value) -> bool {
        let Some(kind) = v["type"].as_str() else {
            return false;
        };
        match kind {
            "book_snapshot" => {
                let sym = v["symbol"].as_str().unwrap().to_owned();
                let mut m = Levels::new();
                apply_levels(&mut m, 0, &v["bids"]);
                apply_levels(&mut m, 1, &v["asks"]);
                self.books.insert(sym, (m, v["seq"].as_u64().unwrap()));
                self.snapshots += 1;
            }
            "book" => {
                let sym = v["symbol"].as_str().unwrap().to_owned();
                let seq = v["seq"].as_u64().unwrap();
                let (m, last) = self
                    .books
                    .get_mut(&sym)
                    .unwrap_or_else(|| panic!("a book update before a snapshot: {v}"));
                assert_eq!(seq, *last + 1, "{sym}: seq gap {last} → {seq}");
                *last = seq;
                apply_levels(m, 0, &v["bids"]);
                apply_levels(m, 1, &v["asks"]);
                self.updates += 1;
            }
            "trade" | "ticker" | "candle" | "heartbeat" => {
                *self.other.entry(kind.to_owned()).or_default() += 1;
            }
            _ => return false,
        }
        true
    }

    pub fn seq(&self, sym: &str) -> u64 {
        self.books.get(sym).map_or(0, |b| b.1)
    }
}

/// A REST book (`GET /v1/stocks/{symbol}/book`) as levels, with its seq.
pub fn rest_book(v: &Value) -> (Levels, u64) {
    let mut m = Levels::new();
    apply_levels(&mut m, 0, &v["bids"]);
    apply_levels(&mut m, 1, &v["asks"]);
    (m, v["seq"].as_u64().unwrap())
}

/// The engine's own book of `symbol`.
pub fn engine_book(engine: &bourse_engine::Engine, symbol: &str) -> Levels {
    let book = engine
        .book(bourse_core::Symbol::new(symbol).unwrap())
        .unwrap();
    let mut m = Levels::new();
    for (k, side) in [(0u8, bourse_core::Side::Buy), (1, bourse_core::Side::Sell)] {
        for l in book.depth(side, usize::MAX) {
            m.insert((k, l.price.raw()), (l.qty.whole_shares(), l.orders));
        }
    }
    m
}
