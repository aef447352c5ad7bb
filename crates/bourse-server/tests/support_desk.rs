//! Support tickets over real HTTP against the real server, on both journals: a person opens
//! a ticket, an operator answers, the person replies and closes it; both see the same
//! thread and status at each step; nobody else sees it; closed means closed; bad input has
//! codes; the thread survives a restart; the texts are sealed in the store.
#![allow(clippy::unwrap_used)]

mod support;

use reqwest::Method as M;
use serde_json::{Value, json};
use support::{Http, Server, Store, TOKEN};

const SECRET_DETAIL: &str = "my IBAN is DE89370400440532013000";

fn thread(v: &Value) -> Vec<(String, String)> {
    v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["author"].as_str().unwrap().to_owned(),
                m["body"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_owned(), b.to_owned())
}

fn flow(store: &Store) {
    let server = Server::start(store, &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (tok, id) = rt.block_on(async {
        let h = Http::new(&server.base);
        let (_, tok) = h.session("asker").await;
        let (_, other) = h.session("stranger").await;
        let (s, v) = h
            .call(
                M::POST,
                "/v1/support/tickets",
                Some(&tok),
                Some(json!({"subject": "Where is my deposit?", "body": SECRET_DETAIL})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let id = v["id"].as_str().unwrap().to_owned();
        assert_eq!(v["status"], "open");
        assert_eq!(thread(&v), [pair("customer", SECRET_DETAIL)]);
        // The operator's queue holds it; the operator answers.
        let (s, q) = h
            .call(M::GET, "/v1/admin/support/tickets", Some(TOKEN), None)
            .await;
        assert_eq!(s, 200, "{q}");
        assert_eq!(q["items"][0]["id"], json!(id), "{q}");
        let (s, v) = h
            .call(
                M::POST,
                &format!("/v1/admin/support/tickets/{id}/messages"),
                Some(TOKEN),
                Some(json!({"body": "It settles tomorrow."})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["status"], "answered");
        // The person sees the same thread, then replies (open again) and closes it.
        let (_, v) = h
            .call(
                M::GET,
                &format!("/v1/support/tickets/{id}"),
                Some(&tok),
                None,
            )
            .await;
        assert_eq!(
            (v["status"].as_str(), thread(&v)),
            (
                Some("answered"),
                vec![
                    pair("customer", SECRET_DETAIL),
                    pair("operator", "It settles tomorrow.")
                ]
            )
        );
        let (_, v) = h
            .call(
                M::POST,
                &format!("/v1/support/tickets/{id}/messages"),
                Some(&tok),
                Some(json!({"body": "Thanks!"})),
            )
            .await;
        assert_eq!(v["status"], "open", "{v}");
        let (_, q) = h
            .call(
                M::GET,
                "/v1/admin/support/tickets?status=answered",
                Some(TOKEN),
                None,
            )
            .await;
        assert_eq!(q["items"].as_array().map(Vec::len), Some(0), "{q}");
        let (s, v) = h
            .call(
                M::POST,
                &format!("/v1/support/tickets/{id}/close"),
                Some(&tok),
                None,
            )
            .await;
        assert_eq!((s, v["status"].as_str()), (200, Some("closed")), "{v}");
        // Closed means closed, for both.
        for (path, t) in [
            (format!("/v1/support/tickets/{id}/messages"), tok.as_str()),
            (format!("/v1/admin/support/tickets/{id}/messages"), TOKEN),
        ] {
            let (s, v) = h
                .call(M::POST, &path, Some(t), Some(json!({"body": "more"})))
                .await;
            assert_eq!((s, v["code"].as_str()), (422, Some("TICKET_CLOSED")), "{v}");
        }
        // Nobody else sees it or writes to it; the operator token has no tickets of its own.
        for (m, path, body) in [
            (M::GET, format!("/v1/support/tickets/{id}"), None),
            (
                M::POST,
                format!("/v1/support/tickets/{id}/messages"),
                Some(json!({"body": "hi"})),
            ),
            (M::POST, format!("/v1/support/tickets/{id}/close"), None),
        ] {
            let (s, v) = h.call(m, &path, Some(&other), body).await;
            assert_eq!(
                (s, v["code"].as_str()),
                (404, Some("UNKNOWN_TICKET")),
                "{v}"
            );
        }
        let (_, v) = h
            .call(M::GET, "/v1/support/tickets", Some(&other), None)
            .await;
        assert_eq!(v["items"].as_array().map(Vec::len), Some(0), "{v}");
        let (s, _) = h
            .call(M::GET, "/v1/admin/support/tickets", Some(&other), None)
            .await;
        assert_eq!(s, 403);
        let (s, _) = h
            .call(M::GET, "/v1/support/tickets", Some(TOKEN), None)
            .await;
        assert_eq!(s, 403);
        // Bad input.
        for (body, code) in [
            (json!({"subject": "", "body": "x"}), "INVALID_FIELD"),
            (
                json!({"subject": "x", "body": "y".repeat(5001)}),
                "INVALID_FIELD",
            ),
        ] {
            let (s, v) = h
                .call(M::POST, "/v1/support/tickets", Some(&tok), Some(body))
                .await;
            assert_eq!((s, v["code"].as_str()), (422, Some(code)), "{v}");
        }
        let (s, v) = h
            .call(M::GET, "/v1/support/tickets/abc", Some(&tok), None)
            .await;
        assert_eq!(
            (s, v["code"].as_str()),
            (404, Some("UNKNOWN_TICKET")),
            "{v}"
        );
        // The answer is in the audit log.
        let (_, v) = h
            .call(
                M::GET,
                "/v1/admin/audit?kind=support_answered",
                Some(TOKEN),
                None,
            )
            .await;
        assert_eq!(v["entries"][0]["detail"]["ticket"], json!(id), "{v}");
        (tok, id)
    });
    server.stop();
    // The texts are sealed in the store.
    match store {
        Store::Postgres { url, schema } => {
            let out = std::process::Command::new("pg_dump")
                .args([
                    "--data-only",
                    "--schema",
                    schema,
                    "--table",
                    &format!("{schema}.support_log"),
                    url,
                ])
                .output()
                .unwrap();
            let dump = String::from_utf8_lossy(&out.stdout);
            assert!(dump.contains("opened"), "{dump}");
            assert!(!dump.contains("DE89370400440532013000"), "{dump}");
            assert!(!dump.contains("settles tomorrow"), "{dump}");
        }
        Store::File(dir) => {
            let text = std::fs::read_to_string(dir.join("support.jsonl")).unwrap();
            assert_eq!(text.lines().count(), 4);
            assert!(!text.contains("DE89370400440532013000"));
            assert!(!text.contains("settles tomorrow"));
        }
    }
    // After a restart, the same thread.
    let server = Server::start(store, &[]);
    rt.block_on(async {
        let h = Http::new(&server.base);
        let (_, v) = h
            .call(
                M::GET,
                &format!("/v1/support/tickets/{id}"),
                Some(&tok),
                None,
            )
            .await;
        assert_eq!(v["status"], "closed", "{v}");
        assert_eq!(
            thread(&v),
            [
                pair("customer", SECRET_DETAIL),
                pair("operator", "It settles tomorrow."),
                pair("customer", "Thanks!")
            ]
        );
    });
    server.stop();
    store.cleanup();
}

#[test]
fn support_file_journal() {
    let dir = tempfile::tempdir().unwrap();
    flow(&Store::File(dir.path().join("journal")));
}

#[test]
fn support_postgres_journal() {
    flow(&Store::Postgres {
        url: support::database_url(),
        schema: support::fresh_schema("support"),
    });
}
