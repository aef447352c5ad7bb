//! Trading routes over real HTTP against the real server: transfers, stock search, orders
//! that fill, replace, mass cancel, withdrawals, halts and the end of the day.
#![allow(clippy::unwrap_used)]

mod support;

use reqwest::Method as M;
use serde_json::{Value, json};
use support::{Client, Http, Server, Store};

fn limit(side: &str, qty: u64, price: &str, tif: &str) -> Value {
    json!({"symbol": "AAPL", "side": side, "type": "limit", "qty": qty.to_string(),
           "limit_price": price, "time_in_force": tif})
}

#[test]
fn a_trader_funds_searches_trades_amends_and_withdraws() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().join("journal"));
    let server = Server::start(&store, &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let h = Http::new(&server.base);
        let op = Client::new(&server.base);
        let (buyer, bt) = h.session("buyer").await;
        let (seller, st) = h.session("seller").await;
        let t = |tok: &str| Some(tok.to_owned());

        // Cash in; bad transfers refused.
        let (s, v) = h
            .call(
                M::POST,
                "/v1/transfers",
                t(&bt).as_deref(),
                Some(json!({"type": "deposit", "amount": "50000.00"})),
            )
            .await;
        assert_eq!((s, v["cash"].as_str()), (201, Some("50000.00")), "{v}");
        for (body, code) in [
            (json!({"type": "deposit", "amount": "-5"}), "INVALID_AMOUNT"),
            (
                json!({"type": "deposit", "amount": "1.00001"}),
                "INVALID_AMOUNT",
            ),
            (
                json!({"type": "gift", "amount": "5"}),
                "INVALID_TRANSFER_TYPE",
            ),
            (
                json!({"type": "withdraw", "amount": "999999"}),
                "INSUFFICIENT_FUNDS",
            ),
        ] {
            let (s, v) = h
                .call(M::POST, "/v1/transfers", t(&bt).as_deref(), Some(body))
                .await;
            assert_eq!((s, v["code"].as_str()), (422, Some(code)), "{v}");
        }
        // The seller's shares come from the operator (a broker's transfer in).
        let (s, _) = op
            .post(
                &format!("/v1/admin/accounts/{seller}/shares"),
                json!({"symbol": "AAPL", "qty": 500}),
            )
            .await
            .unwrap();
        assert_eq!(s, 200);

        // Search: "apple" finds AAPL; an exact symbol ranks first; pages.
        let (s, v) = h.call(M::GET, "/v1/stocks?q=apple", None, None).await;
        assert_eq!(s, 200);
        assert_eq!(v["items"][0]["symbol"], "AAPL", "{v}");
        let (_, v) = h.call(M::GET, "/v1/stocks?q=MSFT", None, None).await;
        assert_eq!(v["items"][0]["symbol"], "MSFT");
        let (_, all) = h.call(M::GET, "/v1/stocks?size=5&page=2", None, None).await;
        assert_eq!(all["items"].as_array().unwrap().len(), 5);
        assert!(all["total"].as_u64().unwrap() >= 10);
        let (s, v) = h.call(M::GET, "/v1/stocks/aapl", None, None).await;
        assert_eq!((s, v["name"].as_str()), (200, Some("Apple Inc.")));
        let (s, v) = h.call(M::GET, "/v1/stocks/NOPE", None, None).await;
        assert_eq!((s, v["code"].as_str()), (404, Some("UNKNOWN_SYMBOL")));
        let (s, _) = h.call(M::GET, "/v1/stocks?size=0", None, None).await;
        assert_eq!(s, 422);

        // The seller rests 100 @ 190; the buyer takes 60 and rests 40 @ 191 (GTC).
        let (s, v) = h
            .call(
                M::POST,
                "/v1/orders",
                t(&st).as_deref(),
                Some(limit("sell", 100, "190.00", "day")),
            )
            .await;
        assert_eq!((s, v["status"].as_str()), (200, Some("new")), "{v}");
        let sell_id = v["id"].as_str().unwrap().to_owned();
        let (s, v) = h
            .call(
                M::POST,
                "/v1/orders",
                t(&bt).as_deref(),
                Some(limit("buy", 60, "191.00", "gtc")),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["status"], "filled");
        assert_eq!(v["filled_qty"], "60");
        assert_eq!(
            v["filled_avg_price"], "190.00",
            "trades at the resting price"
        );
        assert_eq!(v["fills"][0]["liquidity"], "taker");
        let (s, v) = h
            .call(
                M::POST,
                "/v1/orders",
                t(&bt).as_deref(),
                Some(limit("buy", 80, "191.00", "gtc")),
            )
            .await;
        assert_eq!(
            (s, v["status"].as_str(), v["filled_qty"].as_str()),
            (200, Some("partially_filled"), Some("40"))
        );
        let buy_id = v["id"].as_str().unwrap().to_owned();

        // Amend the resting remainder: reprice to 189.50, 30 open.
        let (s, v) = h
            .call(
                M::PATCH,
                &format!("/v1/orders/{buy_id}"),
                t(&bt).as_deref(),
                Some(json!({"qty": "30", "limit_price": "189.50"})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            (
                v["event"].as_str(),
                v["leaves_qty"].as_str(),
                v["limit_price"].as_str()
            ),
            (Some("replaced"), Some("30"), Some("189.50"))
        );
        let (s, v) = h
            .call(
                M::PATCH,
                &format!("/v1/orders/{buy_id}"),
                t(&bt).as_deref(),
                Some(json!({"limit_price": "189.503"})),
            )
            .await;
        assert_eq!(s, 422, "{v}");
        // The seller's order is done: amending it is UNKNOWN_ORDER.
        let (s, v) = h
            .call(
                M::PATCH,
                &format!("/v1/orders/{sell_id}"),
                t(&st).as_deref(),
                Some(json!({"qty": "5"})),
            )
            .await;
        assert_eq!((s, v["code"].as_str()), (404, Some("UNKNOWN_ORDER")));

        // Halted: new orders refused, then allowed again.
        let (s, _) = op
            .post("/v1/admin/symbols/AAPL/halt", json!({}))
            .await
            .unwrap();
        assert_eq!(s, 200);
        let (s, v) = h
            .call(
                M::POST,
                "/v1/orders",
                t(&bt).as_deref(),
                Some(limit("buy", 1, "180.00", "day")),
            )
            .await;
        assert_eq!((s, v["code"].as_str()), (422, Some("SYMBOL_HALTED")));
        let (s, _) = op
            .post("/v1/admin/symbols/AAPL/resume", json!({}))
            .await
            .unwrap();
        assert_eq!(s, 200);
        let (s, v) = h
            .call(
                M::POST,
                "/v1/orders",
                t(&bt).as_deref(),
                Some(limit("buy", 2, "180.00", "day")),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let day_id = v["id"].as_str().unwrap().to_owned();

        // End of day expires the DAY order; the GTC one stays until a mass cancel.
        let (s, v) = op.post("/v1/admin/end-of-day", json!({})).await.unwrap();
        assert_eq!(s, 200);
        assert_eq!(v["expired_orders"], 1, "{v}");
        let (s, v) = h
            .call(
                M::DELETE,
                &format!("/v1/orders/{day_id}"),
                t(&bt).as_deref(),
                None,
            )
            .await;
        assert_eq!((s, v["code"].as_str()), (404, Some("UNKNOWN_ORDER")));
        let (s, v) = h
            .call(M::DELETE, "/v1/orders", t(&bt).as_deref(), None)
            .await;
        assert_eq!(s, 200);
        assert_eq!(v["canceled"], json!([buy_id]));

        // Cash out what is left: 50,000 − 100 × 190 = 31,000.
        let (s, v) = h
            .call(
                M::POST,
                "/v1/transfers",
                t(&bt).as_deref(),
                Some(json!({"type": "withdraw", "amount": "31000"})),
            )
            .await;
        assert_eq!((s, v["cash"].as_str()), (201, Some("0.00")), "{v}");
        let _ = buyer;
    });
    server.stop();
}

#[test]
fn price_alerts_are_created_listed_fired_once_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().join("journal"));
    let server = Server::start(&store, &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tokens = rt.block_on(async {
        let h = Http::new(&server.base);
        let op = Client::new(&server.base);
        let (a, at) = h.session("watcher").await;
        let (b, bt) = h.session("other").await;
        for acct in [&a, &b] {
            op.post(
                &format!("/v1/admin/accounts/{acct}/deposits"),
                json!({"amount": "100000"}),
            )
            .await
            .unwrap();
            op.post(
                &format!("/v1/admin/accounts/{acct}/shares"),
                json!({"symbol": "AAPL", "qty": 100}),
            )
            .await
            .unwrap();
        }
        let t = |tok: &str| Some(tok.to_owned());
        let new =
            |cond: &str, price: &str| json!({"symbol": "AAPL", "condition": cond, "price": price});
        let (s, up) = h
            .call(
                M::POST,
                "/v1/alerts",
                t(&at).as_deref(),
                Some(new("above", "190.50")),
            )
            .await;
        assert_eq!((s, up["status"].as_str()), (201, Some("active")), "{up}");
        let (s, v) = h
            .call(
                M::POST,
                "/v1/alerts",
                t(&at).as_deref(),
                Some(new("below", "150.00")),
            )
            .await;
        assert_eq!(s, 201);
        let down_id = v["id"].as_str().unwrap().to_owned();
        for (body, code) in [
            (new("sideways", "1"), "INVALID_CONDITION"),
            (
                json!({"symbol": "NOPE", "condition": "above", "price": "1"}),
                "UNKNOWN_SYMBOL",
            ),
            (new("above", "-1"), "INVALID_PRICE"),
        ] {
            let (s, v) = h
                .call(M::POST, "/v1/alerts", t(&at).as_deref(), Some(body))
                .await;
            assert_eq!((s, v["code"].as_str()), (422, Some(code)));
        }
        // Not yours: 404; yours: deleted.
        let (s, _) = h
            .call(
                M::DELETE,
                &format!("/v1/alerts/{down_id}"),
                t(&bt).as_deref(),
                None,
            )
            .await;
        assert_eq!(s, 404);
        let (s, _) = h
            .call(
                M::DELETE,
                &format!("/v1/alerts/{down_id}"),
                t(&at).as_deref(),
                None,
            )
            .await;
        assert_eq!(s, 204);
        // A trade at 191 fires the "above 190.50" alert, once.
        h.call(
            M::POST,
            "/v1/orders",
            t(&bt).as_deref(),
            Some(limit("sell", 5, "191.00", "day")),
        )
        .await;
        let (s, v) = h
            .call(
                M::POST,
                "/v1/orders",
                t(&at).as_deref(),
                Some(limit("buy", 5, "191.00", "day")),
            )
            .await;
        assert_eq!((s, v["status"].as_str()), (200, Some("filled")));
        let (s, v) = h.call(M::GET, "/v1/alerts", t(&at).as_deref(), None).await;
        assert_eq!(s, 200);
        let items = v["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{v}");
        assert_eq!(
            (
                items[0]["id"].as_str(),
                items[0]["status"].as_str(),
                items[0]["trade_price"].as_str()
            ),
            (up["id"].as_str(), Some("triggered"), Some("191.00"))
        );
        let (_, v) = h.call(M::GET, "/v1/alerts", t(&bt).as_deref(), None).await;
        assert_eq!(v["items"], json!([]), "another account sees none of them");
        (at, up["id"].as_str().unwrap().to_owned())
    });
    // Alerts are journaled state: a live one survives a restart.
    let (at, _fired) = tokens;
    let h = Http::new(&server.base);
    let live = rt.block_on(async {
        let (s, v) = h
            .call(
                M::POST,
                "/v1/alerts",
                Some(&at),
                Some(json!({"symbol": "MSFT", "condition": "below", "price": "400"})),
            )
            .await;
        assert_eq!(s, 201);
        v["id"].as_str().unwrap().to_owned()
    });
    server.stop();
    let server = Server::start(&store, &[]);
    rt.block_on(async {
        let h = Http::new(&server.base);
        let (_, v) = h.call(M::GET, "/v1/alerts", Some(&at), None).await;
        let ids: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        // The live alert survives (engine state), and so does the record of the one that
        // fired (rebuilt from the journal).
        assert_eq!(ids, vec![live.as_str(), "1"], "{v}");
        assert_eq!(v["items"][1]["status"], "triggered", "{v}");
        assert_eq!(v["items"][1]["trade_price"], "191.00", "{v}");
    });
    server.stop();
}

/// The whole flow a person does, on both journal backends (history from memory with the
/// file journal, from PostgreSQL tables with the PostgreSQL journal), and again after a
/// restart: the read model is rebuilt from the journal.
fn person_flow(store: &Store) {
    let server = Server::start(store, &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (token, order_id) = rt.block_on(async {
        let h = Http::new(&server.base);
        let op = Client::new(&server.base);
        // A market maker offers AAPL.
        let (mm, mt) = h.session("maker").await;
        op.post(
            &format!("/v1/admin/accounts/{mm}/shares"),
            json!({"symbol": "AAPL", "qty": 1000}),
        )
        .await
        .unwrap();
        let t = |tok: &str| Some(tok.to_owned());
        let (s, _) = h
            .call(
                M::POST,
                "/v1/orders",
                t(&mt).as_deref(),
                Some(limit("sell", 100, "190.00", "gtc")),
            )
            .await;
        assert_eq!(s, 200);

        // Register, log in, deposit, search.
        let (me, tok) = h.session("person").await;
        let (s, _) = h
            .call(
                M::POST,
                "/v1/transfers",
                t(&tok).as_deref(),
                Some(json!({"type": "deposit", "amount": "10000"})),
            )
            .await;
        assert_eq!(s, 201);
        let (_, v) = h.call(M::GET, "/v1/stocks?q=apple", None, None).await;
        assert_eq!(v["items"][0]["symbol"], "AAPL");
        // Buy 10 (fills at 190), with a client order id; the retry returns the same order.
        let mut buy = limit("buy", 10, "190.00", "day");
        buy["client_order_id"] = json!("my-first-buy");
        let (s, first) = h
            .call(M::POST, "/v1/orders", t(&tok).as_deref(), Some(buy.clone()))
            .await;
        assert_eq!(
            (s, first["status"].as_str()),
            (200, Some("filled")),
            "{first}"
        );
        let (s, again) = h
            .call(M::POST, "/v1/orders", t(&tok).as_deref(), Some(buy))
            .await;
        assert_eq!(s, 200, "{again}");
        assert_eq!(
            again["id"], first["id"],
            "idempotent: the same order, not a second one"
        );
        assert_eq!(again["filled_qty"], "10");
        let id = first["id"].as_str().unwrap().to_owned();
        // The fill, the position and the portfolio.
        let (s, v) = h
            .call(
                M::GET,
                &format!("/v1/orders/{id}"),
                t(&tok).as_deref(),
                None,
            )
            .await;
        assert_eq!(
            (s, v["status"].as_str(), v["filled_avg_price"].as_str()),
            (200, Some("filled"), Some("190.00"))
        );
        let (_, v) = h
            .call(
                M::GET,
                "/v1/orders:by_client_order_id?client_order_id=my-first-buy",
                t(&tok).as_deref(),
                None,
            )
            .await;
        assert_eq!(v["id"].as_str(), Some(id.as_str()));
        let (_, v) = h
            .call(M::GET, "/v1/positions", t(&tok).as_deref(), None)
            .await;
        assert_eq!(
            (
                v[0]["symbol"].as_str(),
                v[0]["qty"].as_str(),
                v[0]["avg_entry_price"].as_str()
            ),
            (Some("AAPL"), Some("10"), Some("190.00")),
            "{v}"
        );
        let (_, v) = h
            .call(M::GET, "/v1/account", t(&tok).as_deref(), None)
            .await;
        assert_eq!(
            (v["cash"].as_str(), v["equity"].as_str()),
            (Some("8100.00"), Some("10000.00")),
            "{v}"
        );
        // The price moves: the maker's next trade at 195 (someone else buys).
        let (_, ot) = h.session("other").await;
        h.call(
            M::POST,
            "/v1/transfers",
            t(&ot).as_deref(),
            Some(json!({"type": "deposit", "amount": "30000"})),
        )
        .await;
        h.call(
            M::POST,
            "/v1/orders",
            t(&mt).as_deref(),
            Some(limit("sell", 5, "195.00", "gtc")),
        )
        .await;
        let (s, v) = h
            .call(
                M::POST,
                "/v1/orders",
                t(&ot).as_deref(),
                Some(limit("buy", 95, "195.00", "ioc")),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let (_, v) = h
            .call(M::GET, "/v1/portfolio", t(&tok).as_deref(), None)
            .await;
        assert_eq!(
            (v["equity"].as_str(), v["unrealized_pl"].as_str()),
            (Some("10050.00"), Some("50.00")),
            "{v}"
        );
        // Sell 4 at 195: realized 20.
        h.call(
            M::POST,
            "/v1/orders",
            t(&ot).as_deref(),
            Some(limit("buy", 4, "195.00", "gtc")),
        )
        .await;
        let (s, v) = h
            .call(
                M::POST,
                "/v1/orders",
                t(&tok).as_deref(),
                Some(limit("sell", 4, "195.00", "day")),
            )
            .await;
        assert_eq!((s, v["status"].as_str()), (200, Some("filled")), "{v}");
        let (_, v) = h
            .call(M::GET, "/v1/portfolio", t(&tok).as_deref(), None)
            .await;
        assert_eq!(v["realized_pl"].as_str(), Some("20.00"), "{v}");
        // Withdraw, then the history: two fills, a deposit and a withdrawal, newest first.
        let (s, _) = h
            .call(
                M::POST,
                "/v1/transfers",
                t(&tok).as_deref(),
                Some(json!({"type": "withdraw", "amount": "500"})),
            )
            .await;
        assert_eq!(s, 201);
        let (s, v) = h
            .call(M::GET, "/v1/activities", t(&tok).as_deref(), None)
            .await;
        assert_eq!(s, 200);
        let kinds: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["activity_type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["WITHDRAWAL", "FILL", "FILL", "DEPOSIT"], "{v}");
        let (_, v) = h
            .call(M::GET, "/v1/orders?status=closed", t(&tok).as_deref(), None)
            .await;
        assert_eq!(v["items"].as_array().unwrap().len(), 2, "{v}");
        // Someone else's order is not there for me.
        let (s, _) = h
            .call(M::GET, &format!("/v1/orders/{id}"), t(&ot).as_deref(), None)
            .await;
        assert_eq!(s, 404);
        let _ = me;
        (tok, id)
    });
    server.stop();
    // After a restart the read model is rebuilt from the journal: same answers.
    let server = Server::start(store, &[]);
    rt.block_on(async {
        let h = Http::new(&server.base);
        let (_, v) = h
            .call(
                M::GET,
                &format!("/v1/orders/{order_id}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(v["status"], "filled");
        let (_, v) = h.call(M::GET, "/v1/portfolio", Some(&token), None).await;
        assert_eq!(
            (v["realized_pl"].as_str(), v["cash"].as_str()),
            (Some("20.00"), Some("8380.00")),
            "{v}"
        );
        let (_, v) = h
            .call(M::GET, "/v1/activities?limit=2", Some(&token), None)
            .await;
        assert_eq!(v["items"].as_array().unwrap().len(), 2);
        let next = v["next"].as_str().unwrap().to_owned();
        let (_, v) = h
            .call(
                M::GET,
                &format!("/v1/activities?limit=2&after={next}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(v["items"].as_array().unwrap().len(), 2, "{v}");
    });
    server.stop();
    store.cleanup();
}

#[test]
fn a_persons_whole_flow_file_journal() {
    let dir = tempfile::tempdir().unwrap();
    person_flow(&Store::File(dir.path().join("journal")));
}

#[test]
fn a_persons_whole_flow_postgres_journal() {
    person_flow(&Store::Postgres {
        url: support::database_url(),
        schema: support::fresh_schema("person"),
    });
}

/// A trailing stop over REST: its stop follows the trades, the order report shows the
/// trail and the water mark, and so does the history once it ended (from PostgreSQL's
/// table with that journal) and after a restart. Bad trails and an on-open order in
/// continuous trading are refused with their codes.
fn trailing_flow(store: &Store) {
    let server = Server::start(store, &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (tok, id) = rt.block_on(async {
        let h = Http::new(&server.base);
        let op = Client::new(&server.base);
        let t = |tok: &str| Some(tok.to_owned());
        let (mm, mt) = h.session("maker").await;
        let (me, tok) = h.session("holder").await;
        for who in [&mm, &me] {
            op.post(
                &format!("/v1/admin/accounts/{who}/shares"),
                json!({"symbol": "AAPL", "qty": 1000}),
            )
            .await
            .unwrap();
        }
        op.post(
            &format!("/v1/admin/accounts/{mm}/deposits"),
            json!({"amount": "1000000"}),
        )
        .await
        .unwrap();
        // The maker trades with a second account to set the last price.
        let (other, ot) = h.session("other").await;
        op.post(
            &format!("/v1/admin/accounts/{other}/deposits"),
            json!({"amount": "1000000"}),
        )
        .await
        .unwrap();
        let trade = |price: &'static str| {
            let (h, mt, ot) = (&h, mt.clone(), ot.clone());
            async move {
                let (s, v) = h
                    .call(
                        M::POST,
                        "/v1/orders",
                        Some(&mt),
                        Some(limit("sell", 10, price, "gtc")),
                    )
                    .await;
                assert_eq!(s, 200, "{v}");
                let (s, v) = h
                    .call(
                        M::POST,
                        "/v1/orders",
                        Some(&ot),
                        Some(limit("buy", 10, price, "ioc")),
                    )
                    .await;
                assert_eq!((s, v["status"].as_str()), (200, Some("filled")), "{v}");
            }
        };
        trade("190.00").await;
        let order = |extra: Value| {
            let mut o = json!({"symbol": "AAPL", "side": "sell", "type": "trailing_stop",
                               "qty": "100", "time_in_force": "gtc"});
            for (k, v) in extra.as_object().unwrap() {
                o[k] = v.clone();
            }
            o
        };
        for (extra, code) in [
            (json!({}), "INVALID_TRAIL"),
            (
                json!({"trail_price": "1", "trail_percent": "1"}),
                "INVALID_TRAIL",
            ),
            (json!({"trail_percent": "100"}), "INVALID_TRAIL"),
            (json!({"trail_percent": "1.555"}), "INVALID_TRAIL"),
            (json!({"trail_price": "1.005"}), "PRICE_OFF_TICK"),
        ] {
            let (s, v) = h
                .call(
                    M::POST,
                    "/v1/orders",
                    t(&tok).as_deref(),
                    Some(order(extra.clone())),
                )
                .await;
            assert_eq!((s, v["code"].as_str()), (422, Some(code)), "{extra} {v}");
        }
        let mut opg = limit("buy", 1, "190.00", "opg");
        opg["symbol"] = json!("AAPL");
        let (s, v) = h
            .call(M::POST, "/v1/orders", t(&tok).as_deref(), Some(opg))
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (422, Some("AUCTION_CLOSED")),
            "{v}"
        );

        // 1.5 % below 190.00 is 187.15.
        let (s, v) = h
            .call(
                M::POST,
                "/v1/orders",
                t(&tok).as_deref(),
                Some(order(json!({"trail_percent": "1.5"}))),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            (
                v["status"].as_str(),
                v["type"].as_str(),
                v["stop_price"].as_str(),
                v["trail_percent"].as_str(),
                v["hwm"].as_str()
            ),
            (
                Some("held"),
                Some("trailing_stop"),
                Some("187.15"),
                Some("1.5"),
                Some("190.00")
            ),
            "{v}"
        );
        let id = v["id"].as_str().unwrap().to_owned();
        // A trade at 192.00 moves it to 189.12 (192 × 0.985 = 189.12).
        trade("192.00").await;
        let path = format!("/v1/orders/{id}");
        let (_, v) = h.call(M::GET, &path, t(&tok).as_deref(), None).await;
        assert_eq!(
            (v["stop_price"].as_str(), v["hwm"].as_str()),
            (Some("189.12"), Some("192.00")),
            "{v}"
        );
        let (s, v) = h.call(M::DELETE, &path, t(&tok).as_deref(), None).await;
        assert_eq!(s, 200, "{v}");
        (tok, id)
    });
    server.stop();
    // Rebuilt from the journal (and, with PostgreSQL, read from its table): the same.
    let server = Server::start(store, &[]);
    rt.block_on(async {
        let h = Http::new(&server.base);
        let (_, v) = h
            .call(M::GET, &format!("/v1/orders/{id}"), Some(&tok), None)
            .await;
        assert_eq!(
            (
                v["status"].as_str(),
                v["stop_price"].as_str(),
                v["trail_percent"].as_str(),
                v["hwm"].as_str()
            ),
            (
                Some("canceled"),
                Some("189.12"),
                Some("1.5"),
                Some("192.00")
            ),
            "{v}"
        );
    });
    server.stop();
    store.cleanup();
}

#[test]
fn trailing_stops_over_rest_file_journal() {
    let dir = tempfile::tempdir().unwrap();
    trailing_flow(&Store::File(dir.path().join("journal")));
}

#[test]
fn trailing_stops_over_rest_postgres_journal() {
    trailing_flow(&Store::Postgres {
        url: support::database_url(),
        schema: support::fresh_schema("trailing"),
    });
}
