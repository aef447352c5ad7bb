//! Fractional shares and notional orders over real HTTP against the real server, on both
//! journals: a fractional limit order resting and filling, a notional buy sized from the
//! book, the whole-share stock's refusal, positions and cash exact to the millionth of a
//! share and the 1/10,000 dollar, and the same orders from the history after a restart.
#![allow(clippy::unwrap_used)]

mod support;

use reqwest::Method as M;
use serde_json::{Value, json};
use support::{Client, Http, Server, Store};

fn limit(symbol: &str, side: &str, qty: &str, price: &str) -> Value {
    json!({"symbol": symbol, "side": side, "type": "limit", "qty": qty,
           "limit_price": price, "time_in_force": "gtc"})
}

fn flow(store: &Store) {
    let server = Server::start(store, &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (tok, notional_id) = rt.block_on(async {
        let h = Http::new(&server.base);
        let op = Client::new(&server.base);
        let (maker, mt) = h.session("maker").await;
        let (me, tok) = h.session("trader").await;
        op.post(
            &format!("/v1/admin/accounts/{maker}/shares"),
            json!({"symbol": "AAPL", "qty": 10}),
        )
        .await
        .unwrap();
        op.post(
            &format!("/v1/admin/accounts/{me}/deposits"),
            json!({"amount": "1000"}),
        )
        .await
        .unwrap();
        let post = |tok: String, body: Value| {
            let h = &h;
            async move { h.call(M::POST, "/v1/orders", Some(&tok), Some(body)).await }
        };
        // The stock says whether it takes fractions.
        let (_, v) = h.call(M::GET, "/v1/stocks/AAPL", Some(&tok), None).await;
        assert_eq!(v["fractionable"], json!(true), "{v}");
        let (_, v) = h.call(M::GET, "/v1/stocks/KO", Some(&tok), None).await;
        assert_eq!(v["fractionable"], json!(false), "{v}");
        // Whole-share stock: a fraction, or dollars, is refused with its code.
        let (s, v) = post(tok.clone(), limit("KO", "buy", "1.5", "62.00")).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (422, Some("FRACTIONAL_NOT_ALLOWED")),
            "{v}"
        );
        let (s, v) = post(
            tok.clone(),
            json!({"symbol": "KO", "side": "buy", "type": "market", "notional": "100"}),
        )
        .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (422, Some("FRACTIONAL_NOT_ALLOWED")),
            "{v}"
        );
        // Too fine, both amounts, a notional limit order: refused before the engine.
        let (s, v) = post(tok.clone(), limit("AAPL", "buy", "0.0000001", "190.00")).await;
        assert_eq!(
            (s, v["code"].as_str()),
            (422, Some("INVALID_QUANTITY")),
            "{v}"
        );
        let mut both = limit("AAPL", "buy", "1", "190.00");
        both["notional"] = json!("100");
        let (s, v) = post(tok.clone(), both).await;
        assert_eq!((s, v["code"].as_str()), (422, Some("INVALID_ORDER")), "{v}");
        // The maker offers 0.75 share at 190.00 and 2.5 at 190.50.
        let (s, v) = post(mt.clone(), limit("AAPL", "sell", "0.75", "190.00")).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            (v["qty"].as_str(), v["status"].as_str()),
            (Some("0.75"), Some("new"))
        );
        let (s, _) = post(mt.clone(), limit("AAPL", "sell", "2.5", "190.50")).await;
        assert_eq!(s, 200);
        // $500 buys the 0.75 (142.50), then 357.50 / 190.50 = 1.876640 share (1.87664…).
        let (s, v) = post(
            tok.clone(),
            json!({"symbol": "AAPL", "side": "buy", "type": "market", "notional": "500",
                   "time_in_force": "day"}),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            (
                v["status"].as_str(),
                v["qty"].as_str(),
                v["filled_qty"].as_str(),
                v["notional"].as_str()
            ),
            (
                Some("filled"),
                Some("2.62664"),
                Some("2.62664"),
                Some("500.00")
            ),
            "{v}"
        );
        let id = v["id"].as_str().unwrap().to_owned();
        // The buyer pays the order's exact value, 142.50 + 190.50 × 1.87664 = 499.99992,
        // rounded up once: exactly the $500 it gave, never more.
        let (_, v) = h.call(M::GET, "/v1/account", Some(&tok), None).await;
        assert_eq!(v["cash"].as_str(), Some("500.00"), "{v}");
        let (_, v) = h.call(M::GET, "/v1/positions", Some(&tok), None).await;
        assert_eq!(
            (v[0]["symbol"].as_str(), v[0]["qty"].as_str()),
            (Some("AAPL"), Some("2.62664")),
            "{v}"
        );
        // The maker's sell orders received their exact values rounded down: 142.50 and
        // 357.4999 (the house keeps the 0.0001 between).
        let (_, v) = h.call(M::GET, "/v1/account", Some(&mt), None).await;
        assert_eq!(v["cash"].as_str(), Some("499.9999"), "{v}");
        let (_, v) = h.call(M::GET, "/v1/positions", Some(&mt), None).await;
        assert_eq!(
            (v[0]["qty"].as_str(), v[0]["qty_available"].as_str()),
            (Some("7.37336"), Some("6.75")),
            "{v}"
        );
        // Selling a fraction back: 0.5 share at 190.50 rests, then is replaced to 0.25.
        let (s, v) = post(tok.clone(), limit("AAPL", "sell", "0.5", "191.00")).await;
        assert_eq!(s, 200, "{v}");
        let sell = v["id"].as_str().unwrap().to_owned();
        let (s, v) = h
            .call(
                M::PATCH,
                &format!("/v1/orders/{sell}"),
                Some(&tok),
                Some(json!({"qty": "0.25"})),
            )
            .await;
        assert_eq!((s, v["leaves_qty"].as_str()), (200, Some("0.25")), "{v}");
        (tok, id)
    });
    // A restart: the orders come back from the journal and the history, fractions intact.
    server.stop();
    let server = Server::start(store, &[]);
    rt.block_on(async {
        let h = Http::new(&server.base);
        let (s, v) = h
            .call(
                M::GET,
                &format!("/v1/orders/{notional_id}"),
                Some(&tok),
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            (
                v["qty"].as_str(),
                v["notional"].as_str(),
                v["fills"].as_array().map(Vec::len)
            ),
            (Some("2.62664"), Some("500.00"), Some(2)),
            "{v}"
        );
        let (_, v) = h.call(M::GET, "/v1/positions", Some(&tok), None).await;
        assert_eq!(
            (v[0]["qty"].as_str(), v[0]["qty_available"].as_str()),
            (Some("2.62664"), Some("2.37664")),
            "{v}"
        );
    });
    server.stop();
    store.cleanup();
}

#[test]
fn fractional_and_notional_orders_file_journal() {
    let dir = tempfile::tempdir().unwrap();
    flow(&Store::File(dir.path().join("journal")));
}

#[test]
fn fractional_and_notional_orders_postgres_journal() {
    flow(&Store::Postgres {
        url: support::database_url(),
        schema: support::fresh_schema("fractional"),
    });
}
