//! Identity and authorization over real HTTP against the real server: sign-up, log-in,
//! API keys, object-level checks, operator-only routes, expiry, revocation, log-out, and
//! that credentials survive a restart (they are journaled).
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Client, Http, Server, Store};

fn order(cid: &str) -> Value {
    json!({"symbol": "AAPL", "side": "buy", "type": "limit", "qty": "5",
           "limit_price": "180.00", "time_in_force": "gtc", "client_order_id": cid})
}

#[test]
fn identity_and_object_level_authorization() {
    use reqwest::Method as M;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().join("journal"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = Server::start(&store, &[("BOURSE__SERVER__SESSION_TTL_SECS", "3")]);
    let (alice_key, bob_token, alice_order) = rt.block_on(async {
        let h = Http::new(&server.base);
        let op = Client::new(&server.base);
        let alice = h.register("alice").await;
        let bob = h.register("bob").await;
        assert_ne!(alice, bob);
        // Taken name, bad name, short password: refused with stable codes.
        let (s, v) = h
            .call(
                M::POST,
                "/v1/users",
                None,
                Some(json!({"username": "alice", "password": "amber-falcon-river"})),
            )
            .await;
        assert_eq!((s, v["code"].as_str()), (409, Some("USERNAME_TAKEN")));
        let (s, v) = h
            .call(
                M::POST,
                "/v1/users",
                None,
                Some(json!({"username": "A!", "password": "amber-falcon-river"})),
            )
            .await;
        assert_eq!((s, v["code"].as_str()), (422, Some("INVALID_USERNAME")));
        let (s, v) = h
            .call(
                M::POST,
                "/v1/users",
                None,
                Some(json!({"username": "carol", "password": "short"})),
            )
            .await;
        assert_eq!((s, v["code"].as_str()), (422, Some("INVALID_PASSWORD")));
        // Wrong password and unknown user look the same.
        let (s1, v1) = h.log_in("alice", "wrong-password").await;
        let (s2, v2) = h.log_in("nobody", "wrong-password").await;
        assert_eq!((s1, &v1["code"]), (401, &json!("INVALID_CREDENTIALS")));
        assert_eq!((s2, &v2["code"]), (401, &json!("INVALID_CREDENTIALS")));
        let (s, v) = h.log_in("alice", "quiet-otter-lantern").await;
        assert_eq!(s, 201, "{v}");
        let alice_token = v["token"].as_str().unwrap().to_owned();
        assert_eq!(alice_token.len(), 64);
        let (_, v) = h.log_in("bob", "quiet-otter-lantern").await;
        let bob_token = v["token"].as_str().unwrap().to_owned();
        // Money comes in through the operator (transfers for users arrive with the account API).
        for a in [&alice, &bob] {
            let (s, _) = op
                .post(
                    &format!("/v1/admin/accounts/{a}/deposits"),
                    json!({"amount": "100000"}),
                )
                .await
                .unwrap();
            assert_eq!(s, 200);
        }
        // Alice trades with her session, and with an API key made from it.
        let (s, v) = h
            .call(
                M::POST,
                "/v1/api-keys",
                Some(&alice_token),
                Some(json!({"label": "algo", "scopes": ["read", "trade"]})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let alice_key = v["secret"].as_str().unwrap().to_owned();
        let key_id = v["id"].as_str().unwrap().to_owned();
        let (s, v) = h
            .call(M::POST, "/v1/orders", Some(&alice_key), Some(order("a-1")))
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["account_id"], json!(alice));
        let alice_order = v["id"].as_str().unwrap().to_owned();
        // Bob cannot touch Alice's order or act for her account: 404, as if absent.
        let (s, v) = h
            .call(
                M::DELETE,
                &format!("/v1/orders/{alice_order}"),
                Some(&bob_token),
                None,
            )
            .await;
        assert_eq!((s, v["code"].as_str()), (404, Some("UNKNOWN_ORDER")));
        let (s, v) = h
            .call(
                M::DELETE,
                &format!("/v1/orders/{alice_order}?account_id={alice}"),
                Some(&bob_token),
                None,
            )
            .await;
        assert_eq!((s, v["code"].as_str()), (404, Some("UNKNOWN_ACCOUNT")));
        let mut o = order("b-1");
        o["account_id"] = json!(alice);
        let (s, _) = h
            .call(M::POST, "/v1/orders", Some(&bob_token), Some(o))
            .await;
        assert_eq!(s, 404);
        // Bob cannot revoke Alice's key.
        let (s, _) = h
            .call(
                M::DELETE,
                &format!("/v1/api-keys/{key_id}"),
                Some(&bob_token),
                None,
            )
            .await;
        assert_eq!(s, 404);
        // Admin routes: 403 for traders, 401 without credentials.
        let (s, v) = h
            .call(M::POST, "/v1/admin/snapshot", Some(&bob_token), None)
            .await;
        assert_eq!((s, v["code"].as_str()), (403, Some("FORBIDDEN")));
        let (s, _) = h.call(M::POST, "/v1/admin/accounts", None, None).await;
        assert_eq!(s, 401);
        let (s, _) = h
            .call(M::POST, "/v1/orders", Some("made-up"), Some(order("x")))
            .await;
        assert_eq!(s, 401);
        // Log-out ends the session at once.
        let (s, _) = h
            .call(M::DELETE, "/v1/sessions", Some(&alice_token), None)
            .await;
        assert_eq!(s, 204);
        let (s, _) = h
            .call(
                M::POST,
                "/v1/orders",
                Some(&alice_token),
                Some(order("a-2")),
            )
            .await;
        assert_eq!(s, 401);
        (alice_key, bob_token, alice_order)
    });
    // Restart: the key and Bob's session were journaled and still work.
    server.stop();
    let server = Server::start(&store, &[("BOURSE__SERVER__SESSION_TTL_SECS", "3")]);
    rt.block_on(async {
        use reqwest::Method as M;
        let h = Http::new(&server.base);
        let (s, v) = h
            .call(
                M::DELETE,
                &format!("/v1/orders/{alice_order}"),
                Some(&alice_key),
                None,
            )
            .await;
        assert_eq!((s, v["status"].as_str()), (200, Some("canceled")), "{v}");
        let (s, _) = h
            .call(M::POST, "/v1/orders", Some(&bob_token), Some(order("b-2")))
            .await;
        assert_eq!(s, 200);
        // Sessions expire (3 s here).
        tokio::time::sleep(Duration::from_millis(3_200)).await;
        let (s, _) = h
            .call(M::POST, "/v1/orders", Some(&bob_token), Some(order("b-3")))
            .await;
        assert_eq!(s, 401, "an expired session");
        // A revoked key stops working.
        let (s, v) = h.log_in("alice", "quiet-otter-lantern").await;
        assert_eq!(s, 201);
        let t = v["token"].as_str().unwrap().to_owned();
        let (s, v) = h
            .call(M::POST, "/v1/api-keys", Some(&t), Some(json!({})))
            .await;
        assert_eq!(s, 201);
        let (key, id) = (
            v["secret"].as_str().unwrap().to_owned(),
            v["id"].as_str().unwrap().to_owned(),
        );
        let (s, _) = h
            .call(M::DELETE, &format!("/v1/api-keys/{id}"), Some(&t), None)
            .await;
        assert_eq!(s, 204);
        let (s, _) = h
            .call(M::POST, "/v1/orders", Some(&key), Some(order("a-3")))
            .await;
        assert_eq!(s, 401, "a revoked key");
        let (s, _) = h
            .call(M::POST, "/v1/orders", Some(&alice_key), Some(order("a-4")))
            .await;
        assert_eq!(s, 200, "the other key still works");
    });
    server.stop();
}

/// Over the limit: 429 with Retry-After, per IP without credentials and per credential;
/// the operator is not limited.
#[test]
fn rate_limits_answer_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().join("journal"));
    let server = Server::start(
        &store,
        &[
            ("BOURSE__SERVER__RATE_PER_IP", "2"),
            ("BOURSE__SERVER__RATE_PER_CREDENTIAL", "3"),
        ],
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let http = support::http().build().unwrap();
        let login = || {
            http.post(format!("{}/v1/sessions", server.base))
                .json(&json!({"username": "nobody", "password": "amber-falcon-river"}))
                .send()
        };
        let mut codes = Vec::new();
        let mut retry_after = None;
        for _ in 0..8 {
            let r = login().await.unwrap();
            if r.status() == 429 {
                retry_after = r.headers().get("retry-after").cloned();
                let v: Value = r.json().await.unwrap();
                assert_eq!(v["code"], "RATE_LIMITED");
                codes.push(429);
            } else {
                codes.push(r.status().as_u16());
            }
        }
        // A burst of twice the rate passes (answered 401: no such user), then 429.
        assert_eq!(&codes[..4], &[401, 401, 401, 401], "{codes:?}");
        assert!(codes[4..].contains(&429), "{codes:?}");
        assert!(retry_after.is_some());
        // A token that does not authenticate draws from the IP bucket, already spent.
        let mut limited = 0;
        for _ in 0..10 {
            let r = http
                .get(format!("{}/v1/stocks", server.base))
                .bearer_auth("some-token")
                .send()
                .await
                .unwrap();
            limited += usize::from(r.status() == 429);
        }
        assert!(limited >= 3, "{limited}");
        // The operator is not limited.
        let op = Client::new(&server.base);
        for _ in 0..20 {
            let (s, _) = op.get("/healthz").await.unwrap();
            assert_eq!(s, 200);
        }
    });
    server.stop();
}
