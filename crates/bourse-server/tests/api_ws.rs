//! WebSocket order entry with a real WebSocket client over a real socket: auth first, orders,
//! cancels and replaces answered with the REST reports (durable), pipelined requests matched
//! by id, bad frames answered with errors, and the server stays healthy.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use support::{Client, Http, Server, Store};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

async fn recv(ws: &mut Ws) -> Value {
    loop {
        match ws.next().await.unwrap().unwrap() {
            Message::Text(t) => return serde_json::from_str(&t).unwrap(),
            Message::Close(c) => return json!({"closed": c.map(|c| c.reason.to_string())}),
            _ => {}
        }
    }
}

#[test]
fn websocket_order_entry() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().join("journal"));
    let server = Server::start(&store, &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let h = Http::new(&server.base);
        let account = h.register("broker").await;
        let (_, v) = h.log_in("broker", "quiet-otter-lantern").await;
        let token = v["token"].as_str().unwrap().to_owned();
        let op = Client::new(&server.base);
        op.post(&format!("/v1/admin/accounts/{account}/deposits"), json!({"amount": "1000000"}))
            .await
            .unwrap();
        op.post(&format!("/v1/admin/accounts/{account}/shares"), json!({"symbol": "MSFT", "qty": 1000}))
            .await
            .unwrap();
        let url = format!("{}/v1/ws", server.base.replace("http://", "ws://"));
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();

        // Nothing before auth; a bad token is refused.
        send(&mut ws, json!({"op": "order", "id": 1, "symbol": "AAPL"})).await;
        let v = recv(&mut ws).await;
        assert_eq!((v["type"].as_str(), v["code"].as_str(), &v["request_id"]), (Some("error"), Some("UNAUTHORIZED"), &json!(1)));
        send(&mut ws, json!({"op": "auth", "token": "nope"})).await;
        assert_eq!(recv(&mut ws).await["code"], "UNAUTHORIZED");
        send(&mut ws, json!({"op": "auth", "id": "a", "token": token})).await;
        let v = recv(&mut ws).await;
        assert_eq!((v["type"].as_str(), v["account_id"].as_str()), (Some("authenticated"), Some(account.as_str())));

        // Malformed, unknown and invalid messages: errors with stable codes, session lives on.
        ws.send(Message::text("{not json")).await.unwrap();
        assert_eq!(recv(&mut ws).await["code"], "MALFORMED_JSON");
        send(&mut ws, json!(["op"])).await;
        assert_eq!(recv(&mut ws).await["code"], "INVALID_MESSAGE");
        send(&mut ws, json!({"op": "fly", "id": 9})).await;
        assert_eq!(recv(&mut ws).await["code"], "UNKNOWN_OP");
        ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
        assert_eq!(recv(&mut ws).await["code"], "BINARY_NOT_SUPPORTED");
        send(&mut ws, json!({"op": "order", "id": 10, "symbol": "AAPL", "side": "buy", "type": "limit", "qty": "0", "limit_price": "190"})).await;
        let v = recv(&mut ws).await;
        assert_eq!((v["code"].as_str(), &v["request_id"]), (Some("INVALID_QUANTITY"), &json!(10)));
        send(&mut ws, json!({"op": "order", "id": 11, "symbol": "AAPL", "side": "buy", "type": "limit", "qty": "1", "limit_price": "190", "bogus": 1})).await;
        assert_eq!(recv(&mut ws).await["code"], "INVALID_FIELD");

        // An OCO on the shares held: answered with the take profit and its stop-loss leg.
        send(&mut ws, json!({"op": "order", "id": 12, "symbol": "MSFT", "side": "sell", "type": "limit",
                             "qty": "10", "time_in_force": "gtc", "order_class": "oco",
                             "take_profit": {"limit_price": "440.00"}, "stop_loss": {"stop_price": "400.00"}})).await;
        let v = recv(&mut ws).await;
        assert_eq!(v["type"], "execution_report", "{v}");
        let r = &v["report"];
        assert_eq!(
            (r["order_class"].as_str(), r["leg"].as_str(), r["legs"][0]["leg"].as_str(), r["legs"][0]["stop_price"].as_str()),
            (Some("oco"), Some("take_profit"), Some("stop_loss"), Some("400.00")),
            "{v}"
        );
        send(&mut ws, json!({"op": "cancel", "id": 13, "order_id": r["id"]})).await;
        assert_eq!(recv(&mut ws).await["type"], "execution_report");
        send(&mut ws, json!({"op": "order", "id": 14, "symbol": "MSFT", "side": "sell", "type": "limit",
                             "qty": "10", "limit_price": "430.00", "order_class": "bracket",
                             "take_profit": {"limit_price": "440.00"}})).await;
        assert_eq!(recv(&mut ws).await["code"], "INVALID_LEGS");

        // 200 pipelined orders: every one answered once, matched by id, each a durable report.
        for i in 0..200u64 {
            let side = if i % 2 == 0 { "sell" } else { "buy" };
            send(&mut ws, json!({"op": "order", "id": 1000 + i, "symbol": "MSFT", "side": side,
                                 "type": "limit", "qty": "3", "limit_price": "420.00",
                                 "time_in_force": "gtc", "client_order_id": format!("ws-{i}")})).await;
        }
        let mut seen: HashMap<u64, Value> = HashMap::new();
        while seen.len() < 200 {
            let v = recv(&mut ws).await;
            assert_eq!(v["type"], "execution_report", "{v}");
            let id = v["request_id"].as_u64().unwrap();
            assert!(seen.insert(id, v["report"].clone()).is_none(), "answered twice: {id}");
        }
        // Self-trade prevention cancels the incoming crossing order; a report says so.
        assert!(seen.values().all(|r| r["client_order_id"].as_str().unwrap().starts_with("ws-")));
        assert!(
            seen.values()
                .any(|r| r["status"] == "canceled" && r["cancel_reason"] == "SELF_TRADE"),
            "one account on both sides: self-trade prevention cancels the incoming order"
        );
        // A resent client order id answers with the order it created; any JSON id comes back
        // as sent.
        send(&mut ws, json!({"op": "order", "id": {"retry": [1]}, "symbol": "MSFT", "side": "buy",
                             "type": "limit", "qty": "3", "limit_price": "420.00",
                             "time_in_force": "gtc", "client_order_id": "ws-1"})).await;
        let v = recv(&mut ws).await;
        assert_eq!((&v["request_id"], &v["report"]["id"]), (&json!({"retry": [1]}), &seen[&1001]["id"]), "{v}");
        send(&mut ws, json!({"op": "cancel", "id": "no-id"})).await;
        let v = recv(&mut ws).await;
        assert_eq!((v["code"].as_str(), &v["request_id"]), (Some("INVALID_FIELD"), &json!("no-id")));
        let resting: Vec<&Value> = seen.values().filter(|r| r["status"] == "new").collect();
        assert!(!resting.is_empty());
        // Cancel and replace over the socket.
        let id = resting[0]["id"].as_str().unwrap().to_owned();
        send(&mut ws, json!({"op": "replace", "id": "r", "order_id": id, "qty": "2", "limit_price": "420.00"})).await;
        let v = recv(&mut ws).await;
        assert_eq!((v["report"]["event"].as_str(), v["report"]["leaves_qty"].as_str()), (Some("replaced"), Some("2")), "{v}");
        send(&mut ws, json!({"op": "cancel", "id": "c", "order_id": id})).await;
        let v = recv(&mut ws).await;
        assert_eq!((v["report"]["status"].as_str(), &v["request_id"]), (Some("canceled"), &json!("c")), "{v}");
        send(&mut ws, json!({"op": "cancel", "id": "c2", "order_id": id})).await;
        assert_eq!(recv(&mut ws).await["code"], "UNKNOWN_ORDER");
        send(&mut ws, json!({"op": "ping", "id": 5})).await;
        assert_eq!(recv(&mut ws).await["type"], "pong");

        // An oversized frame closes the connection with a reason; the server carries on.
        ws.send(Message::text("x".repeat(64 * 1024))).await.ok();
        let v = recv(&mut ws).await;
        assert!(v.get("closed").is_some(), "{v}");
        let (s, _) = op.get("/healthz").await.unwrap();
        assert_eq!(s, 200);
    });
    server.stop();
}

/// A connection that authenticates with `cancel_on_disconnect` has the orders it entered
/// cancelled (journaled, reason `CANCEL_ON_DISCONNECT`) when it drops; orders entered
/// elsewhere, and a connection without the option, are left alone.
#[test]
fn websocket_cancel_on_disconnect_file_journal() {
    let dir = tempfile::tempdir().unwrap();
    cancel_on_disconnect(&Store::File(dir.path().join("journal")));
}

#[test]
fn websocket_cancel_on_disconnect_postgres_journal() {
    let store = Store::Postgres {
        url: support::database_url(),
        schema: support::fresh_schema("ws_cod"),
    };
    cancel_on_disconnect(&store);
    store.cleanup();
}

fn cancel_on_disconnect(store: &Store) {
    let server = Server::start(store, &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (first, token) = rt.block_on(async {
        let h = Http::new(&server.base);
        let account = h.register("codws").await;
        let (_, v) = h.log_in("codws", "quiet-otter-lantern").await;
        let token = v["token"].as_str().unwrap().to_owned();
        let op = Client::new(&server.base);
        op.post(
            &format!("/v1/admin/accounts/{account}/deposits"),
            json!({"amount": "1000000"}),
        )
        .await
        .unwrap();
        let url = format!("{}/v1/ws", server.base.replace("http://", "ws://"));
        async fn place(ws: &mut Ws, id: u32, price: &str) -> String {
            send(
                ws,
                json!({"op": "order", "id": id, "symbol": "AAPL", "side": "buy",
                            "type": "limit", "qty": "1", "limit_price": price,
                            "time_in_force": "gtc"}),
            )
            .await;
            let v = recv(ws).await;
            assert_eq!(v["type"], "execution_report", "{v}");
            v["report"]["id"].as_str().unwrap().to_owned()
        }
        // With the option: two orders, then the socket drops without a close frame.
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        send(
            &mut ws,
            json!({"op": "auth", "token": token, "cancel_on_disconnect": true}),
        )
        .await;
        let v = recv(&mut ws).await;
        assert_eq!(
            (v["type"].as_str(), &v["cancel_on_disconnect"]),
            (Some("authenticated"), &json!(true)),
            "{v}"
        );
        let a = place(&mut ws, 1, "180.00").await;
        let b = place(&mut ws, 2, "180.01").await;
        // Without it: this one stays.
        let (mut other, _) = tokio_tungstenite::connect_async(&url).await.unwrap();
        send(&mut other, json!({"op": "auth", "token": token})).await;
        assert_eq!(recv(&mut other).await["cancel_on_disconnect"], json!(false));
        let c = place(&mut other, 3, "180.02").await;
        drop(ws);
        drop(other);
        for id in [a.clone(), b] {
            let v = support::order_settled(&h, &token, &id).await;
            assert_eq!(
                (v["status"].as_str(), v["cancel_reason"].as_str()),
                (Some("canceled"), Some("CANCEL_ON_DISCONNECT")),
                "{v}"
            );
        }
        // Given time to be cancelled too, had it been.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let (_, v) = h
            .call(
                reqwest::Method::GET,
                &format!("/v1/orders/{c}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(v["status"], "new", "{v}");
        (a, token)
    });
    // The cancellation is journaled: after a kill and a replay it is still there.
    server.kill();
    let server = Server::start(store, &[]);
    rt.block_on(async {
        let h = Http::new(&server.base);
        let (s, v) = h
            .call(
                reqwest::Method::GET,
                &format!("/v1/orders/{first}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["cancel_reason"], "CANCEL_ON_DISCONNECT", "{v}");
    });
}
