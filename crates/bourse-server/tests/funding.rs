//! Bank funding over real HTTP against the real server, on both journals: a person links a
//! bank, confirms its micro-deposits (a wrong guess first), deposits by ACH and trades the
//! instant part at once, cannot withdraw unsettled cash, sees the deposit settle on its
//! own, withdraws settled cash; a second deposit, already spent, is returned by the bank
//! (recorded by the operator, audited), leaving a debt that blocks buys and withdrawals and
//! ends instant deposits. Nobody else sees any of it; all of it survives a restart; and
//! the stores hold neither the account number nor the holder's name in plain text.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use reqwest::Method as M;
use serde_json::{Value, json};
use support::{Client, Http, Server, Store};

const NUMBER: &str = "918273645501";
const HOLDER: &str = "Ada Quillfeather";
const ROUTING: &str = "021000021";

async fn order(h: &Http, tok: &str, side: &str, qty: u32) -> Value {
    let (s, v) = h
        .call(
            M::POST,
            "/v1/orders",
            Some(tok),
            Some(
                json!({"symbol": "AAPL", "side": side, "type": "limit", "qty": qty.to_string(),
                "limit_price": "190.00", "time_in_force": "gtc"}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    v
}

async fn cash(h: &Http, tok: &str) -> String {
    let (s, v) = h.call(M::GET, "/v1/account", Some(tok), None).await;
    assert_eq!(s, 200, "{v}");
    v["cash"].as_str().unwrap().to_owned()
}

/// Waits for the settlement clock to settle transfer `id`.
async fn settled(h: &Http, tok: &str, id: &str) -> Value {
    let start = Instant::now();
    loop {
        let (s, v) = h
            .call(M::GET, &format!("/v1/transfers/{id}"), Some(tok), None)
            .await;
        assert_eq!(s, 200, "{v}");
        if v["status"] == "settled" {
            return v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "never settled: {v}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn transfer(h: &Http, tok: &str, kind: &str, amount: &str, bank: &str) -> (u16, Value) {
    h.call(
        M::POST,
        "/v1/transfers",
        Some(tok),
        Some(json!({"type": kind, "amount": amount, "bank_id": bank})),
    )
    .await
}

fn flow(store: &Store) {
    let extra = [
        ("BOURSE__FUNDING__SETTLE_AFTER_SECS", "2"),
        ("BOURSE__FUNDING__INSTANT_LIMIT", "500.00"),
        ("BOURSE__FUNDING__CHECK_MS", "100"),
    ];
    let server = Server::start(store, &extra);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (alice_tok_bank, deposit_id) = rt.block_on(async {
        let h = Http::new(&server.base);
        let op = Client::new(&server.base);
        let (_, tok) = h.session("alice").await;
        let (bob, bob_tok) = h.session("bob").await;
        op.fund(&bob, "1", &[("AAPL", 100)]).await;

        // ---- Link, with the details checked first ----------------------------------------
        for (body, code) in [
            (
                json!({"holder_name": HOLDER, "account_number": NUMBER, "routing_number": "021000022"}),
                "INVALID_ROUTING_NUMBER",
            ),
            (
                json!({"holder_name": HOLDER, "account_number": "12ab", "routing_number": ROUTING}),
                "INVALID_ACCOUNT_NUMBER",
            ),
            (
                json!({"holder_name": " ", "account_number": NUMBER, "routing_number": ROUTING}),
                "INVALID_HOLDER_NAME",
            ),
        ] {
            let (s, v) = h.call(M::POST, "/v1/banks", Some(&tok), Some(body)).await;
            assert_eq!((s, v["code"].as_str()), (422, Some(code)), "{v}");
        }
        let link = json!({"holder_name": HOLDER, "account_number": NUMBER, "routing_number": ROUTING});
        let (s, b) = h.call(M::POST, "/v1/banks", Some(&tok), Some(link.clone())).await;
        assert_eq!(s, 201, "{b}");
        assert_eq!(b["status"], "pending");
        assert_eq!(b["account_number_masked"], "••••5501");
        assert_eq!(b["holder_name"], HOLDER);
        let bank = b["id"].as_str().unwrap().to_owned();
        let (s, v) = h.call(M::POST, "/v1/banks", Some(&tok), Some(link)).await;
        assert_eq!((s, v["code"].as_str()), (409, Some("BANK_ALREADY_LINKED")), "{v}");
        let (s, v) = transfer(&h, &tok, "deposit", "100", &bank).await;
        assert_eq!((s, v["code"].as_str()), (422, Some("BANK_NOT_VERIFIED")), "{v}");

        // ---- Verify: the sandbox statement, one wrong guess, then the right one ---------
        let (s, st) = h
            .call(M::GET, &format!("/v1/banks/{bank}/statement"), Some(&tok), None)
            .await;
        assert_eq!(s, 200, "{st}");
        let amounts: Vec<String> = st["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["amount"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(amounts.len(), 2, "{st}");
        let wrong = if amounts[0] == "0.50" { "0.51" } else { "0.50" };
        let (s, v) = h
            .call(
                M::POST,
                &format!("/v1/banks/{bank}/verify"),
                Some(&tok),
                Some(json!({"amounts": [wrong, wrong]})),
            )
            .await;
        assert_eq!((s, v["code"].as_str()), (422, Some("WRONG_AMOUNTS")), "{v}");
        assert!(v["message"].as_str().unwrap().contains("2 tries left"), "{v}");
        // Bob sees none of Alice's banks and cannot touch them.
        let (_, v) = h.call(M::GET, "/v1/banks", Some(&bob_tok), None).await;
        assert_eq!(v["banks"], json!([]), "{v}");
        let (s, v) = h
            .call(
                M::POST,
                &format!("/v1/banks/{bank}/verify"),
                Some(&bob_tok),
                Some(json!({"amounts": [amounts[0], amounts[1]]})),
            )
            .await;
        assert_eq!((s, v["code"].as_str()), (404, Some("UNKNOWN_BANK")), "{v}");
        let (s, _) = h
            .call(M::GET, &format!("/v1/banks/{bank}/statement"), Some(&bob_tok), None)
            .await;
        assert_eq!(s, 404);
        let (s, v) = h
            .call(
                M::POST,
                &format!("/v1/banks/{bank}/verify"),
                Some(&tok),
                Some(json!({"amounts": [amounts[1], amounts[0]]})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["status"], "verified");

        // ---- Deposit: $500 of $2,000 usable at once ------------------------------------
        let (s, v) = transfer(&h, &tok, "deposit", "2000", &bank).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["transfer"]["status"], "pending", "{v}");
        assert_eq!(v["transfer"]["instant"], "500.00", "{v}");
        assert_eq!(v["cash"], "500.00", "{v}");
        let first = v["transfer"]["id"].as_str().unwrap().to_owned();
        // Traded at once: 2 AAPL at $190.
        order(&h, &bob_tok, "sell", 2).await;
        let o = order(&h, &tok, "buy", 2).await;
        let o = support::order_settled(&h, &tok, o["id"].as_str().unwrap()).await;
        assert_eq!(o["status"], "filled", "{o}");
        // Not withdrawable before it settles.
        let (s, v) = transfer(&h, &tok, "withdraw", "1", &bank).await;
        assert_eq!((s, v["code"].as_str()), (422, Some("INSUFFICIENT_FUNDS")), "{v}");
        // The clock settles it: the other $1,500 arrives.
        let t = settled(&h, &tok, &first).await;
        assert!(t["ended_at"].is_string(), "{t}");
        assert_eq!(cash(&h, &tok).await, "1620.00");

        // ---- Withdraw settled cash only --------------------------------------------------
        let (s, v) = transfer(&h, &tok, "withdraw", "1620.01", &bank).await;
        assert_eq!((s, v["code"].as_str()), (422, Some("INSUFFICIENT_FUNDS")), "{v}");
        let (s, v) = transfer(&h, &tok, "withdraw", "1500", &bank).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["cash"], "120.00", "{v}");
        assert_eq!(v["transfer"]["direction"], "withdrawal", "{v}");

        // ---- A deposit spent, then returned by the bank: a debt -----------------------
        let (s, v) = transfer(&h, &tok, "deposit", "1000", &bank).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["cash"], "620.00", "{v}");
        let second = v["transfer"]["id"].as_str().unwrap().to_owned();
        order(&h, &bob_tok, "sell", 3).await;
        let o = order(&h, &tok, "buy", 3).await;
        let o = support::order_settled(&h, &tok, o["id"].as_str().unwrap()).await;
        assert_eq!(o["status"], "filled", "{o}");
        assert_eq!(cash(&h, &tok).await, "50.00");
        let alice = {
            let (_, v) = h.call(M::GET, "/v1/account", Some(&tok), None).await;
            v["account_id"].as_str().unwrap().to_owned()
        };
        // Only the operator records a return.
        let ret = json!({"account_id": alice, "code": "R01"});
        let path = format!("/v1/admin/transfers/{second}/return");
        let (s, _) = h.call(M::POST, &path, Some(&tok), Some(ret.clone())).await;
        assert_eq!(s, 403);
        let (s, v) = op.post(&path, ret.clone()).await.unwrap();
        assert_eq!(s, 200, "{v}");
        assert_eq!((v["status"].as_str(), v["return_code"].as_str()), (Some("returned"), Some("R01")));
        let (s, v) = op.post(&path, ret).await.unwrap();
        assert_eq!((s, v["code"].as_str()), (422, Some("TRANSFER_NOT_RETURNABLE")), "{v}");
        assert_eq!(cash(&h, &tok).await, "-450.00");
        // The debt: no buys, no withdrawals, and no more instant deposits.
        let (s, v) = h
            .call(
                M::POST,
                "/v1/orders",
                Some(&tok),
                Some(json!({"symbol": "AAPL", "side": "buy", "type": "limit", "qty": "1",
                    "limit_price": "190.00", "time_in_force": "gtc"})),
            )
            .await;
        assert_eq!(v["code"], "INSUFFICIENT_BUYING_POWER", "{s} {v}");
        let (s, v) = transfer(&h, &tok, "withdraw", "1", &bank).await;
        assert_eq!((s, v["code"].as_str()), (422, Some("INSUFFICIENT_FUNDS")), "{v}");
        let (s, v) = transfer(&h, &tok, "deposit", "300", &bank).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["transfer"]["instant"], "0.00", "{v}");
        // The cash history shows every movement, the return among them (PostgreSQL's
        // history is written a moment after the answer).
        let start = Instant::now();
        let kinds = loop {
            let (_, v) = h.call(M::GET, "/v1/activities", Some(&tok), None).await;
            let kinds: Vec<(String, String)> = v["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["activity_type"] != "FILL")
                .map(|a| {
                    (
                        a["activity_type"].as_str().unwrap().to_owned(),
                        a["net_amount"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            if kinds.len() >= 5 || start.elapsed() > Duration::from_secs(10) {
                break kinds;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let kinds: Vec<(&str, &str)> = kinds.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(
            kinds,
            [
                ("DEPOSIT_RETURNED", "-500.00"),
                ("DEPOSIT", "500.00"),
                ("WITHDRAWAL", "-1500.00"),
                ("DEPOSIT", "1500.00"),
                ("DEPOSIT", "500.00"),
            ],
            "{kinds:?}"
        );
        // The operator's return is in the audit log.
        let (_, v) = op
            .get(&format!("/v1/admin/audit?kind=transfer_returned_by_operator&account={alice}"))
            .await
            .unwrap();
        assert_eq!(v["entries"].as_array().map(Vec::len), Some(1), "{v}");
        // Bob cannot read Alice's transfers.
        let (s, _) = h
            .call(M::GET, &format!("/v1/transfers/{first}"), Some(&bob_tok), None)
            .await;
        assert_eq!(s, 404);
        let (_, v) = h.call(M::GET, "/v1/transfers", Some(&bob_tok), None).await;
        assert_eq!(v["transfers"], json!([]), "{v}");
        (tok, second)
    });
    server.stop();

    // ---- After a restart: the same banks, transfers and cash ---------------------------
    let server = Server::start(store, &extra);
    rt.block_on(async {
        let h = Http::new(&server.base);
        let tok = alice_tok_bank;
        let (s, v) = h.call(M::GET, "/v1/banks", Some(&tok), None).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["banks"][0]["status"], "verified", "{v}");
        assert_eq!(v["banks"][0]["holder_name"], HOLDER, "{v}");
        let (_, v) = h.call(M::GET, "/v1/transfers", Some(&tok), None).await;
        let statuses: Vec<&str> = v["transfers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses.len(), 4, "{v}");
        let (_, v) = h
            .call(
                M::GET,
                &format!("/v1/transfers/{deposit_id}"),
                Some(&tok),
                None,
            )
            .await;
        assert_eq!(v["status"], "returned", "{v}");
        // The last deposit (no instant part) settles after the restart and pays the debt.
        let (_, v) = h
            .call(M::GET, "/v1/transfers?status=pending", Some(&tok), None)
            .await;
        let pending: Vec<String> = v["transfers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect();
        for id in &pending {
            settled(&h, &tok, id).await;
        }
        assert_eq!(cash(&h, &tok).await, "-150.00");
    });
    server.stop();

    // ---- What the stores hold ----------------------------------------------------------
    support::assert_store_lacks(
        store,
        &[NUMBER.as_bytes(), HOLDER.as_bytes()],
        "bank details",
    );
    store.cleanup();
}

#[test]
fn funding_file_journal() {
    let dir = tempfile::tempdir().unwrap();
    flow(&Store::File(dir.path().join("journal")));
}

#[test]
fn funding_postgres_journal() {
    flow(&Store::Postgres {
        url: support::database_url(),
        schema: support::fresh_schema("funding"),
    });
}
