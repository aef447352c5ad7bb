//! Rotating the data key against the real server, on both journals: a person signs up by
//! email and links a bank under key A; the server restarts with key B and A as the
//! previous key — the address still logs in (the lookup key outlives the rotation) and the
//! export opens the address and the bank; then with B alone, the same: the people's keys
//! and the lookup key were wrapped again under B as the server started.
#![allow(clippy::unwrap_used)]

mod support;

use reqwest::Method as M;
use serde_json::json;
use support::{Http, Server, Store};

const EMAIL: &str = "dora.rotation@example.com";
const PASSWORD: &str = "quiet-otter-lantern";
const NUMBER: &str = "777123456789";
const KEY_A: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const KEY_B: &str = "2222222222222222222222222222222222222222222222222222222222222222";

/// Logs in by email and exports: (the address, the bank's account number) the export holds.
async fn log_in_and_export(base: &str) -> (String, String) {
    let h = Http::new(base);
    let tok = h.log_in_by("email", EMAIL, PASSWORD).await;
    let (s, x) = h.call(M::GET, "/v1/me/export", Some(&tok), None).await;
    assert_eq!(s, 200, "{x}");
    (
        x["email"]["address"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        x["banks"][0]["account_number"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

fn flow(store: &Store) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = Server::start(store, &[("BOURSE__SERVER__DATA_KEY", KEY_A)]);
    rt.block_on(async {
        let h = Http::new(&server.base);
        h.sign_up_by("email", EMAIL, PASSWORD).await;
        let tok = h.log_in_by("email", EMAIL, PASSWORD).await;
        let (s, v) = h
            .call(
                M::POST,
                "/v1/banks",
                Some(&tok),
                Some(
                    json!({"holder_name": "Dora Rotation", "account_number": NUMBER,
                    "routing_number": "021000021"}),
                ),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(
            log_in_and_export(&server.base).await,
            (EMAIL.into(), NUMBER.into())
        );
    });
    server.stop();
    // B, with A as the previous key.
    let server = Server::start(
        store,
        &[
            ("BOURSE__SERVER__DATA_KEY", KEY_B),
            ("BOURSE__SERVER__DATA_KEY_PREVIOUS", KEY_A),
        ],
    );
    rt.block_on(async {
        assert_eq!(
            log_in_and_export(&server.base).await,
            (EMAIL.into(), NUMBER.into())
        );
    });
    server.stop();
    // B alone: A is retired.
    let server = Server::start(store, &[("BOURSE__SERVER__DATA_KEY", KEY_B)]);
    rt.block_on(async {
        assert_eq!(
            log_in_and_export(&server.base).await,
            (EMAIL.into(), NUMBER.into())
        );
        let (_, v) = support::Client::new(&server.base)
            .get("/v1/admin/audit?kind=data_key_changed")
            .await
            .unwrap();
        // The first start, then B.
        assert_eq!(v["entries"].as_array().map(Vec::len), Some(2), "{v}");
    });
    server.stop();
    store.cleanup();
}

#[test]
fn key_rotation_file_journal() {
    let dir = tempfile::tempdir().unwrap();
    flow(&Store::File(dir.path().join("journal")));
}

#[test]
fn key_rotation_postgres_journal() {
    flow(&Store::Postgres {
        url: support::database_url(),
        schema: support::fresh_schema("rotation"),
    });
}
