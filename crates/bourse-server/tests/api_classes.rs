//! Order classes (bracket, OCO, OTO) over real HTTP against the real server, on both
//! journals: the exits held, started for what the entry filled, one ending the other; the
//! class shown with its legs, also from the history after a restart.
#![allow(clippy::unwrap_used)]

mod support;

use reqwest::Method as M;
use serde_json::{Value, json};
use support::{Client, Http, Server, Store};

fn limit(side: &str, qty: u64, price: &str, tif: &str) -> Value {
    json!({"symbol": "AAPL", "side": side, "type": "limit", "qty": qty.to_string(),
           "limit_price": price, "time_in_force": tif})
}

fn with(mut o: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        o[k] = v.clone();
    }
    o
}

/// (status, qty, leaves, cancel_reason) of an order as the API shows it.
fn state(v: &Value) -> (String, String, String, Option<String>) {
    let s = |k: &str| v[k].as_str().map(str::to_owned);
    (
        s("status").unwrap_or_default(),
        s("qty").unwrap_or_default(),
        s("leaves_qty").unwrap_or_default(),
        s("cancel_reason"),
    )
}

fn st(
    status: &str,
    qty: &str,
    leaves: &str,
    reason: Option<&str>,
) -> (String, String, String, Option<String>) {
    (
        status.to_owned(),
        qty.to_owned(),
        leaves.to_owned(),
        reason.map(str::to_owned),
    )
}

fn class_flow(store: &Store) {
    let server = Server::start(store, &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (tok, entry) = rt.block_on(async {
        let h = Http::new(&server.base);
        let op = Client::new(&server.base);
        let (mm, mt) = h.session("maker").await;
        let (me, tok) = h.session("trader").await;
        let (other, ot) = h.session("other").await;
        op.post(
            &format!("/v1/admin/accounts/{mm}/shares"),
            json!({"symbol": "AAPL", "qty": 1000}),
        )
        .await
        .unwrap();
        for who in [&me, &other] {
            op.post(
                &format!("/v1/admin/accounts/{who}/deposits"),
                json!({"amount": "1000000"}),
            )
            .await
            .unwrap();
        }
        let post = |tok: String, body: Value| {
            let h = &h;
            async move { h.call(M::POST, "/v1/orders", Some(&tok), Some(body)).await }
        };
        let get = |tok: String, id: String| {
            let h = &h;
            async move {
                let (s, v) = h
                    .call(M::GET, &format!("/v1/orders/{id}"), Some(&tok), None)
                    .await;
                assert_eq!(s, 200, "{v}");
                v
            }
        };
        // A last price of 190.00.
        post(mt.clone(), limit("sell", 10, "190.00", "gtc")).await;
        let (s, v) = post(ot.clone(), limit("buy", 10, "190.00", "ioc")).await;
        assert_eq!((s, v["status"].as_str()), (200, Some("filled")), "{v}");

        // Shapes refused at the door, and by the engine, with their codes.
        let bracket = |tp: &str, sl: Value| {
            with(
                limit("buy", 100, "189.00", "gtc"),
                json!({"order_class": "bracket", "take_profit": {"limit_price": tp},
                       "stop_loss": sl}),
            )
        };
        for (body, code) in [
            (
                with(
                    limit("buy", 100, "189.00", "gtc"),
                    json!({"order_class": "bracket", "take_profit": {"limit_price": "195.00"}}),
                ),
                "INVALID_LEGS",
            ),
            (
                with(
                    limit("buy", 100, "189.00", "gtc"),
                    json!({"order_class": "triangle"}),
                ),
                "INVALID_ORDER_CLASS",
            ),
            (
                with(
                    limit("buy", 100, "189.00", "gtc"),
                    json!({"take_profit": {"limit_price": "195.00"}}),
                ),
                "INVALID_LEGS",
            ),
            (
                bracket("188.00", json!({"stop_price": "185.00"})),
                "INVALID_LEGS",
            ),
            (
                bracket("195.00", json!({"stop_price": "185.001"})),
                "PRICE_OFF_TICK",
            ),
            (
                with(
                    limit("buy", 100, "189.00", "ioc"),
                    json!({"order_class": "oto", "take_profit": {"limit_price": "195.00"}}),
                ),
                "INVALID_LEGS",
            ),
        ] {
            let (s, v) = post(tok.clone(), body.clone()).await;
            assert_eq!((s, v["code"].as_str()), (422, Some(code)), "{body} {v}");
        }

        // Buy 100 at 189.00; take profit at 195.00; stop loss at 185.00 limit 184.50.
        let (s, v) = post(
            tok.clone(),
            bracket(
                "195.00",
                json!({"stop_price": "185.00", "limit_price": "184.50"}),
            ),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            (
                v["order_class"].as_str(),
                v["leg"].as_str(),
                v["status"].as_str()
            ),
            (Some("bracket"), Some("entry"), Some("new")),
            "{v}"
        );
        let entry = v["id"].as_str().unwrap().to_owned();
        let legs = v["legs"].as_array().unwrap();
        let leg = |role: &str| {
            legs.iter()
                .find(|l| l["leg"] == role)
                .unwrap_or_else(|| panic!("no {role} in {v}"))
                .clone()
        };
        let (tp, sl) = (leg("take_profit"), leg("stop_loss"));
        assert_eq!(
            (
                tp["type"].as_str(),
                tp["side"].as_str(),
                tp["limit_price"].as_str(),
                tp["status"].as_str(),
                tp["class_id"].as_str()
            ),
            (
                Some("limit"),
                Some("sell"),
                Some("195.00"),
                Some("held"),
                Some(entry.as_str())
            ),
            "{tp}"
        );
        assert_eq!(
            (
                sl["type"].as_str(),
                sl["stop_price"].as_str(),
                sl["limit_price"].as_str(),
                sl["status"].as_str()
            ),
            (
                Some("stop_limit"),
                Some("185.00"),
                Some("184.50"),
                Some("held")
            ),
            "{sl}"
        );
        let (tp, sl) = (
            tp["id"].as_str().unwrap().to_owned(),
            sl["id"].as_str().unwrap().to_owned(),
        );

        // 40 fill; the trader cancels the rest: the exits start for 40.
        post(mt.clone(), limit("sell", 40, "189.00", "ioc")).await;
        assert_eq!(
            state(&get(tok.clone(), entry.clone()).await),
            st("partially_filled", "100", "60", None)
        );
        assert_eq!(state(&get(tok.clone(), tp.clone()).await).0, "held");
        let (s, v) = h
            .call(M::DELETE, &format!("/v1/orders/{entry}"), Some(&tok), None)
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            state(&get(tok.clone(), tp.clone()).await),
            st("new", "40", "40", None)
        );
        assert_eq!(
            state(&get(tok.clone(), sl.clone()).await),
            st("held", "40", "40", None)
        );
        // 15 of the take profit fill: the stop loss shrinks to 25; then the rest, and the
        // stop loss is cancelled.
        post(ot.clone(), limit("buy", 15, "195.00", "ioc")).await;
        assert_eq!(
            state(&get(tok.clone(), sl.clone()).await),
            st("held", "25", "25", None)
        );
        post(ot.clone(), limit("buy", 25, "195.00", "ioc")).await;
        assert_eq!(
            state(&get(tok.clone(), tp.clone()).await),
            st("filled", "40", "0", None)
        );
        assert_eq!(
            state(&get(tok.clone(), sl.clone()).await),
            st("canceled", "25", "0", Some("SIBLING_EXECUTED"))
        );

        // An OCO on shares held: the take profit with the stop loss as its leg; cancelling
        // one cancels the other.
        let (s, v) = post(
            mt.clone(),
            with(
                json!({"symbol": "AAPL", "side": "sell", "type": "limit", "qty": "100",
                       "time_in_force": "gtc"}),
                json!({"order_class": "oco", "take_profit": {"limit_price": "198.00"},
                       "stop_loss": {"stop_price": "180.00"}}),
            ),
        )
        .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            (
                v["order_class"].as_str(),
                v["leg"].as_str(),
                v["status"].as_str(),
                v["limit_price"].as_str()
            ),
            (
                Some("oco"),
                Some("take_profit"),
                Some("new"),
                Some("198.00")
            ),
            "{v}"
        );
        let oco_sl = v["legs"][0]["id"].as_str().unwrap().to_owned();
        assert_eq!(v["legs"][0]["leg"].as_str(), Some("stop_loss"), "{v}");
        let oco = v["id"].as_str().unwrap().to_owned();
        let (s, v) = h
            .call(M::DELETE, &format!("/v1/orders/{oco_sl}"), Some(&mt), None)
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            state(&get(mt.clone(), oco.clone()).await),
            st("canceled", "100", "0", Some("REQUESTED"))
        );
        (tok, entry)
    });
    server.stop();
    // Rebuilt from the journal (with PostgreSQL, read from its table): the class and its
    // legs as they ended.
    let server = Server::start(store, &[]);
    rt.block_on(async {
        let h = Http::new(&server.base);
        let (s, v) = h
            .call(M::GET, &format!("/v1/orders/{entry}"), Some(&tok), None)
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            (v["order_class"].as_str(), v["status"].as_str()),
            (Some("bracket"), Some("canceled")),
            "{v}"
        );
        let legs: Vec<_> = v["legs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l["leg"].as_str().unwrap().to_owned(), state(l)))
            .collect();
        assert_eq!(
            legs,
            [
                ("take_profit".to_owned(), st("filled", "40", "0", None)),
                (
                    "stop_loss".to_owned(),
                    st("canceled", "25", "0", Some("SIBLING_EXECUTED"))
                ),
            ],
            "{v}"
        );
    });
    server.stop();
    store.cleanup();
}

#[test]
fn order_classes_over_rest_file_journal() {
    let dir = tempfile::tempdir().unwrap();
    class_flow(&Store::File(dir.path().join("journal")));
}

#[test]
fn order_classes_over_rest_postgres_journal() {
    class_flow(&Store::Postgres {
        url: support::database_url(),
        schema: support::fresh_schema("classes"),
    });
}
