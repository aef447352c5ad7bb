//! Personal data over real HTTP against the real server, on both journals: a person signs
//! up by email, another by phone; she is funded, keeps a watchlist, an alert and a webhook;
//! `GET /v1/me/export` returns all of it (addresses opened, orders, fills, deposits, audit
//! entries) and no secret; another person's export holds none of it; and the stores (every
//! PostgreSQL table, every file of the file journal) hold neither the email address nor the
//! phone number in plain text.
#![allow(clippy::unwrap_used)]

mod support;

use reqwest::Method as M;
use serde_json::{Value, json};
use support::{Client, Http, Server, Store};

const EMAIL: &str = "carol.privacy@example.com";
const PHONE: &str = "+14155550123";
const PASSWORD: &str = "quiet-otter-lantern";

fn kinds(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

fn flow(store: &Store) {
    let server = Server::start(store, &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let secrets = rt.block_on(async {
        let h = Http::new(&server.base);
        let op = Client::new(&server.base);
        let carol = h.sign_up_by("email", EMAIL, PASSWORD).await;
        let tok = h.log_in_by("email", EMAIL, PASSWORD).await;
        let mut secrets = vec![PASSWORD.to_owned(), tok.clone()];
        // Erin signs up by phone (a second code to one address so soon would be refused).
        h.sign_up_by("phone", PHONE, PASSWORD).await;
        let erin_tok = h.log_in_by("phone", PHONE, PASSWORD).await;
        // Money and shares from the operator; a watchlist, an alert and a webhook.
        op.fund(&carol, "5000", &[("AAPL", 10)]).await;
        for (path, body) in [
            (
                "/v1/watchlists",
                json!({"name": "Tech", "symbols": ["AAPL", "MSFT"]}),
            ),
            (
                "/v1/alerts",
                json!({"symbol": "AAPL", "condition": "above", "price": "250.00"}),
            ),
        ] {
            let (s, v) = h.call(M::POST, path, Some(&tok), Some(body)).await;
            assert!(s == 200 || s == 201, "{path}: {s} {v}");
        }
        let (s, v) = h
            .call(
                M::POST,
                "/v1/webhooks",
                Some(&tok),
                Some(json!({"url": "https://hooks.example.com/carol", "events": ["*"]})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        secrets.push(v["secret"].as_str().unwrap().to_owned());
        // Carol's address is not verified, so she may not trade yet: her history holds the
        // deposits. Dave's order is his alone.
        let (dave, dave_tok) = h.session("dave").await;
        op.fund(&dave, "100000", &[]).await;
        let (s, v) = h
            .call(
                M::POST,
                "/v1/orders",
                Some(&dave_tok),
                Some(
                    json!({"symbol": "AAPL", "side": "buy", "type": "limit", "qty": "1",
                            "limit_price": "190.00", "time_in_force": "gtc"}),
                ),
            )
            .await;
        assert_eq!(s, 200, "{v}");

        // ---- The export ----------------------------------------------------------------
        let (s, x) = h.call(M::GET, "/v1/me/export", Some(&tok), None).await;
        assert_eq!(s, 200, "{x}");
        assert_eq!(x["account_id"], json!(carol));
        assert_eq!(
            x["email"],
            json!({"address": EMAIL, "verified": false}),
            "{x}"
        );
        assert_eq!(x["phone"], Value::Null, "{x}");
        let (s, e) = h.call(M::GET, "/v1/me/export", Some(&erin_tok), None).await;
        assert_eq!(s, 200, "{e}");
        assert_eq!(
            e["phone"],
            json!({"address": PHONE, "verified": false}),
            "{e}"
        );
        assert!(!e.to_string().contains(EMAIL), "{e}");
        assert_eq!(x["two_factor"], json!(false));
        assert_eq!(x["watchlists"][0]["name"], json!("Tech"), "{x}");
        assert_eq!(x["alerts"].as_array().map(Vec::len), Some(1), "{x}");
        assert_eq!(
            x["webhooks"][0]["url"],
            json!("https://hooks.example.com/carol")
        );
        assert!(x["webhooks"][0].get("secret").is_none(), "{x}");
        let acts: Vec<(String, String)> = x["activities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let amount = a["net_amount"].as_str().or(a["qty"].as_str());
                (
                    a["activity_type"].as_str().unwrap().to_owned(),
                    amount.unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            acts,
            [
                ("SHARE_DEPOSIT".to_owned(), "10".to_owned()),
                ("DEPOSIT".to_owned(), "5000.00".to_owned())
            ]
        );
        assert_eq!(x["positions"][0]["symbol"], json!("AAPL"), "{x}");
        let audit = kinds(&x["audit"]);
        for k in [
            "user_registered",
            "log_in",
            "deposit_by_operator",
            "shares_deposited_by_operator",
        ] {
            assert!(audit.iter().any(|a| a == k), "{k} not in {audit:?}");
        }
        let text = x.to_string();
        for s in &secrets {
            assert!(!text.contains(s.as_str()), "a secret is in the export");
        }
        assert!(
            !text.contains("dave"),
            "another person's data is in the export"
        );
        // The export is recorded; another person's holds nothing of Carol's.
        let (_, d) = h.call(M::GET, "/v1/me/export", Some(&dave_tok), None).await;
        let dt = d.to_string();
        assert!(!dt.contains(EMAIL) && !dt.contains(PHONE), "{d}");
        assert_eq!(d["orders"].as_array().map(Vec::len), Some(1), "{d}");
        // Only a password session exports (not an API key, not the operator token).
        let (s, v) = h
            .call(
                M::POST,
                "/v1/api-keys",
                Some(&tok),
                Some(json!({"label": "bot"})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let key = v["secret"].as_str().unwrap().to_owned();
        secrets.push(key.clone());
        let (s, _) = h.call(M::GET, "/v1/me/export", Some(&key), None).await;
        assert_eq!(s, 403);
        let (s, _) = h.call(M::GET, "/v1/me/export", None, None).await;
        assert_eq!(s, 401);
        let (_, v) = h
            .call(
                M::GET,
                &format!("/v1/admin/audit?account={carol}&kind=personal_data_exported"),
                Some(support::TOKEN),
                None,
            )
            .await;
        assert_eq!(v["entries"].as_array().map(Vec::len), Some(1), "{v}");
        secrets
    });
    server.stop();
    // ---- What the stores hold ----------------------------------------------------------
    support::assert_store_lacks(store, &[EMAIL.as_bytes(), PHONE.as_bytes()], "an address");
    drop(secrets);
    store.cleanup();
}

#[test]
fn personal_data_file_journal() {
    let dir = tempfile::tempdir().unwrap();
    flow(&Store::File(dir.path().join("journal")));
}

#[test]
fn personal_data_postgres_journal() {
    flow(&Store::Postgres {
        url: support::database_url(),
        schema: support::fresh_schema("privacy"),
    });
}
