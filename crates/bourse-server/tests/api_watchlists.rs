//! Watchlists over real HTTP against the real server, journaled in PostgreSQL: every route,
//! the refusals with their codes, object-level authorization between two users and an API
//! key's scopes, and the lists as they were after a clean restart (from the snapshot) and
//! after a kill (from the journal).
#![allow(clippy::unwrap_used)]

mod support;

use reqwest::Method as M;
use serde_json::{Value, json};
use support::{Http, Server, Store, database_url, fresh_schema};

async fn session(h: &Http, user: &str) -> String {
    h.register(user).await;
    let (s, v) = h.log_in(user, "quiet-otter-lantern").await;
    assert_eq!(s, 201, "{v}");
    v["token"].as_str().unwrap().to_owned()
}

fn symbols(v: &Value) -> Vec<&str> {
    v["symbols"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

#[test]
fn watchlists_are_kept_per_user_and_survive_restarts() {
    let store = Store::Postgres {
        url: database_url(),
        schema: fresh_schema("watchlists"),
    };
    let server = Server::start(&store, &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (alice, tech) = rt.block_on(async {
        let h = Http::new(&server.base);
        let a = session(&h, "alice").await;
        let b = session(&h, "bob").await;
        let a_ = Some(a.as_str());

        let (s, v) = h.call(M::GET, "/v1/watchlists", a_, None).await;
        assert_eq!((s, v.clone()), (200, json!([])), "{v}");

        let (s, v) = h
            .call(
                M::POST,
                "/v1/watchlists",
                a_,
                Some(json!({"name": "  Tech  ", "symbols": ["AAPL", "MSFT", "AAPL"]})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["name"], "Tech", "trimmed: {v}");
        assert_eq!(symbols(&v), ["AAPL", "MSFT"], "repeats count once");
        assert_eq!(v["created_at"], v["updated_at"]);
        let tech = v["id"].as_str().unwrap().to_owned();
        let path = format!("/v1/watchlists/{tech}");

        // Refusals, each with its code.
        for (body, status, code) in [
            (json!({"name": "Tech"}), 409, "WATCHLIST_NAME_TAKEN"),
            (json!({"name": ""}), 422, "INVALID_WATCHLIST_NAME"),
            (json!({"name": "a\u{7}b"}), 422, "INVALID_WATCHLIST_NAME"),
            (
                json!({"name": "x".repeat(49)}),
                422,
                "INVALID_WATCHLIST_NAME",
            ),
            (
                json!({"name": "Odd", "symbols": ["AAPL", "NOPE"]}),
                422,
                "UNKNOWN_SYMBOL",
            ),
            (json!({"name": "Odd", "extra": 1}), 422, "INVALID_FIELD"),
        ] {
            let (s, v) = h
                .call(M::POST, "/v1/watchlists", a_, Some(body.clone()))
                .await;
            assert_eq!((s, v["code"].as_str()), (status, Some(code)), "{body}: {v}");
        }

        // Add (twice: the second changes nothing), remove (twice likewise), read.
        for _ in 0..2 {
            let (s, v) = h
                .call(M::POST, &path, a_, Some(json!({"symbol": "NVDA"})))
                .await;
            assert_eq!((s, symbols(&v)), (200, vec!["AAPL", "MSFT", "NVDA"]), "{v}");
        }
        for _ in 0..2 {
            let (s, v) = h.call(M::DELETE, &format!("{path}/MSFT"), a_, None).await;
            assert_eq!((s, symbols(&v)), (200, vec!["AAPL", "NVDA"]), "{v}");
        }
        let (s, v) = h
            .call(M::POST, &path, a_, Some(json!({"symbol": "ZZZZ"})))
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (422, Some("UNKNOWN_SYMBOL")),
            "{v}"
        );

        // Replace: rename and reorder.
        let (s, v) = h
            .call(
                M::PUT,
                &path,
                a_,
                Some(json!({"name": "Chips", "symbols": ["NVDA", "AMD", "AAPL"]})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(
            (v["name"].as_str(), symbols(&v)),
            (Some("Chips"), vec!["NVDA", "AMD", "AAPL"])
        );
        assert_ne!(v["created_at"], v["updated_at"], "{v}");
        let (s, got) = h.call(M::GET, &path, a_, None).await;
        assert_eq!((s, &got), (200, &v));

        // Bob cannot see or touch Alice's list: 404, as if it did not exist.
        let b_ = Some(b.as_str());
        let (_, v) = h.call(M::GET, "/v1/watchlists", b_, None).await;
        assert_eq!(v, json!([]));
        for (m, p, body) in [
            (M::GET, path.clone(), None),
            (M::PUT, path.clone(), Some(json!({"name": "Mine now"}))),
            (M::POST, path.clone(), Some(json!({"symbol": "TSLA"}))),
            (M::DELETE, format!("{path}/AAPL"), None),
            (M::DELETE, path.clone(), None),
        ] {
            let (s, v) = h.call(m.clone(), &p, b_, body).await;
            assert_eq!(
                (s, v["code"].as_str()),
                (404, Some("UNKNOWN_WATCHLIST")),
                "{m} {p}: {v}"
            );
        }
        for p in ["/v1/watchlists/999", "/v1/watchlists/not-a-number"] {
            let (s, v) = h.call(M::GET, p, a_, None).await;
            assert_eq!(
                (s, v["code"].as_str()),
                (404, Some("UNKNOWN_WATCHLIST")),
                "{p}: {v}"
            );
        }

        // An API key made for reading may list but not change.
        let (s, v) = h
            .call(
                M::POST,
                "/v1/api-keys",
                a_,
                Some(json!({"label": "viewer", "scopes": ["read"]})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let key = v["secret"].as_str().unwrap().to_owned();
        let (s, v) = h.call(M::GET, "/v1/watchlists", Some(&key), None).await;
        assert_eq!((s, v.as_array().map(Vec::len)), (200, Some(1)), "{v}");
        let (s, v) = h
            .call(
                M::POST,
                "/v1/watchlists",
                Some(&key),
                Some(json!({"name": "Nope"})),
            )
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (403, Some("INSUFFICIENT_SCOPE")),
            "{v}"
        );

        // A second list, then one deleted: the list shows what is left, oldest first.
        let (s, v) = h
            .call(M::POST, "/v1/watchlists", a_, Some(json!({"name": "Gone"})))
            .await;
        assert_eq!(s, 201, "{v}");
        let gone = v["id"].as_str().unwrap().to_owned();
        let (s, _) = h
            .call(M::DELETE, &format!("/v1/watchlists/{gone}"), a_, None)
            .await;
        assert_eq!(s, 204);
        let (s, v) = h
            .call(M::DELETE, &format!("/v1/watchlists/{gone}"), a_, None)
            .await;
        assert_eq!((s, v["code"].as_str()), (404, Some("UNKNOWN_WATCHLIST")));
        let (_, v) = h
            .call(
                M::POST,
                "/v1/watchlists",
                a_,
                Some(json!({"name": "Later"})),
            )
            .await;
        assert_eq!(v["symbols"], json!([]));
        (a, tech)
    });
    let list = |base: &str| {
        let h = Http::new(base);
        let a = alice.clone();
        rt.block_on(async move { h.call(M::GET, "/v1/watchlists", Some(&a), None).await })
    };
    let (_, before) = list(&server.base);
    assert_eq!(before.as_array().unwrap().len(), 2, "{before}");
    assert_eq!(before[0]["id"].as_str(), Some(tech.as_str()));

    // A clean stop writes a snapshot; the lists come back from it.
    server.stop();
    let server = Server::start(&store, &[]);
    assert_eq!(list(&server.base), (200, before.clone()));
    // A kill: the lists come back from the journal.
    server.kill();
    let server = Server::start(&store, &[]);
    assert_eq!(list(&server.base), (200, before));
    server.stop();
    store.cleanup();
}
