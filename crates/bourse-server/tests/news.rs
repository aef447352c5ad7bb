//! News over real HTTP and WebSocket against the real server, on both journals: the
//! operator publishes items tagged with symbols; WebSocket subscribers to `news` for one of
//! them get each item once, others none; `GET /v1/news` pages them newest first by symbol;
//! bad items are refused with codes, and only the operator publishes; the items and their
//! audit entries survive a restart.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use reqwest::Method as M;
use serde_json::{Value, json};
use support::ws::{connect, recv, recv_within, send};
use support::{Client, Http, Server, Store, TOKEN};

async fn subscribed(base: &str, symbols: &[&str]) -> support::ws::Ws {
    let mut ws = connect(base).await;
    send(
        &mut ws,
        json!({"op": "subscribe", "channels": ["news"], "symbols": symbols}),
    )
    .await;
    let ack = recv(&mut ws).await;
    assert_eq!(ack["type"], "subscribed", "{ack}");
    ws
}

/// The next `news` message, skipping heartbeats.
async fn next_news(ws: &mut support::ws::Ws, within: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let m = recv_within(ws, left).await?;
        if m["type"] == "news" {
            return Some(m);
        }
    }
}

fn headlines(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["headline"].as_str().unwrap().to_owned())
        .collect()
}

fn flow(store: &Store) {
    let server = Server::start(store, &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let h = Http::new(&server.base);
        let op = Client::new(&server.base);
        let mut aapl = subscribed(&server.base, &["AAPL"]).await;
        let mut both = subscribed(&server.base, &["AAPL", "MSFT"]).await;
        let mut ko = subscribed(&server.base, &["KO"]).await;

        let (s, v) = op
            .post(
                "/v1/admin/news",
                json!({"headline": "Apple and Microsoft sign a cloud deal",
                       "summary": "Sample item.", "source": "Newswire",
                       "url": "https://example.com/deal", "symbols": ["aapl", "MSFT", "AAPL"]}),
            )
            .await
            .unwrap();
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["symbols"], json!(["AAPL", "MSFT"]), "{v}");
        let first = v["id"].as_u64().unwrap();
        let (s, v) = op
            .post(
                "/v1/admin/news",
                json!({"headline": "Microsoft raises its dividend", "symbols": ["MSFT"]}),
            )
            .await
            .unwrap();
        assert_eq!(s, 201, "{v}");
        assert_eq!((v["source"].as_str(), v["summary"].as_str()), (Some("bourse"), Some("")));
        // Pushed: AAPL's subscriber gets the first only; the AAPL+MSFT one gets each once.
        let m = next_news(&mut aapl, Duration::from_secs(10)).await.unwrap();
        assert_eq!(
            (m["id"].as_u64(), m["headline"].as_str(), m["url"].as_str()),
            (
                Some(first),
                Some("Apple and Microsoft sign a cloud deal"),
                Some("https://example.com/deal")
            ),
            "{m}"
        );
        assert!(next_news(&mut aapl, Duration::from_millis(500)).await.is_none());
        let m1 = next_news(&mut both, Duration::from_secs(10)).await.unwrap();
        let m2 = next_news(&mut both, Duration::from_secs(10)).await.unwrap();
        assert_eq!(
            (m1["id"].as_u64(), m2["id"].as_u64()),
            (Some(first), Some(first + 1))
        );
        assert!(next_news(&mut both, Duration::from_millis(500)).await.is_none());
        assert!(next_news(&mut ko, Duration::from_millis(300)).await.is_none());

        // Refused with codes.
        for (body, code) in [
            (json!({"headline": "", "symbols": ["AAPL"]}), "INVALID_FIELD"),
            (json!({"headline": "x", "symbols": []}), "INVALID_FIELD"),
            (json!({"headline": "x", "symbols": ["ZZZZ"]}), "UNKNOWN_SYMBOL"),
            (
                json!({"headline": "x", "symbols": ["AAPL"], "url": "javascript:alert(1)"}),
                "INVALID_FIELD",
            ),
            (
                json!({"headline": "x".repeat(201), "symbols": ["AAPL"]}),
                "INVALID_FIELD",
            ),
            (
                json!({"headline": "x", "symbols": ["AAPL","MSFT","KO","F","GOOGL","AMZN","NVDA","META","TSLA","JPM","V"]}),
                "INVALID_FIELD",
            ),
        ] {
            let (s, v) = op.post("/v1/admin/news", body.clone()).await.unwrap();
            assert_eq!((s, v["code"].as_str()), (422, Some(code)), "{body}: {v}");
        }
        let (_, trader) = h.session("reader").await;
        let (s, v) = h
            .call(
                M::POST,
                "/v1/admin/news",
                Some(&trader),
                Some(json!({"headline": "x", "symbols": ["AAPL"]})),
            )
            .await;
        assert_eq!(s, 403, "{v}");

        // Read back, newest first, by symbol, paged.
        let (s, v) = h.call(M::GET, "/v1/news", None, None).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            headlines(&v),
            [
                "Microsoft raises its dividend",
                "Apple and Microsoft sign a cloud deal"
            ]
        );
        let (_, v) = h.call(M::GET, "/v1/news?symbol=aapl", None, None).await;
        assert_eq!(headlines(&v), ["Apple and Microsoft sign a cloud deal"]);
        let (_, v) = h
            .call(M::GET, "/v1/news?symbol=MSFT&limit=1", None, None)
            .await;
        assert_eq!(headlines(&v), ["Microsoft raises its dividend"]);
        let next = v["next"].as_u64().unwrap();
        let (_, v) = h
            .call(
                M::GET,
                &format!("/v1/news?symbol=MSFT&limit=1&after={next}"),
                None,
                None,
            )
            .await;
        assert_eq!(headlines(&v), ["Apple and Microsoft sign a cloud deal"]);
        assert!(v.get("next").is_none(), "{v}");
        let (s, v) = h.call(M::GET, "/v1/news?symbol=ZZZZ", None, None).await;
        assert_eq!((s, v["code"].as_str()), (404, Some("UNKNOWN_SYMBOL")));
        let (s, v) = h.call(M::GET, "/v1/news?limit=101", None, None).await;
        assert_eq!((s, v["code"].as_str()), (422, Some("INVALID_LIMIT")));
    });
    server.stop();
    let server = Server::start(store, &[]);
    rt.block_on(async {
        let h = Http::new(&server.base);
        let (_, v) = h.call(M::GET, "/v1/news?symbol=MSFT", None, None).await;
        assert_eq!(
            headlines(&v),
            [
                "Microsoft raises its dividend",
                "Apple and Microsoft sign a cloud deal"
            ]
        );
        let (_, v) = h
            .call(
                M::GET,
                "/v1/admin/audit?kind=news_published",
                Some(TOKEN),
                None,
            )
            .await;
        assert_eq!(v["entries"].as_array().map(Vec::len), Some(2), "{v}");
        // Numbering goes on after the restart.
        let (s, v) = Client::new(&server.base)
            .post(
                "/v1/admin/news",
                json!({"headline": "Coca-Cola names a new chief", "symbols": ["KO"]}),
            )
            .await
            .unwrap();
        assert_eq!(s, 201, "{v}");
        let (_, all) = h.call(M::GET, "/v1/news?limit=100", None, None).await;
        let ids: Vec<u64> = all["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids.len(), 3);
        assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    });
    server.stop();
    store.cleanup();
}

#[test]
fn news_file_journal() {
    let dir = tempfile::tempdir().unwrap();
    flow(&Store::File(dir.path().join("journal")));
}

#[test]
fn news_postgres_journal() {
    flow(&Store::Postgres {
        url: support::database_url(),
        schema: support::fresh_schema("news"),
    });
}
