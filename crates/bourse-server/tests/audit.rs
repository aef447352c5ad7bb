//! The audit log over real HTTP against the real server, on both journals: every kind of
//! security event and operator action leaves one entry (who, what, about whom, from where),
//! entries are hash-chained across a restart, operators read them with filters and pages,
//! nobody else can, no route writes them, no secret is in them, and PostgreSQL refuses to
//! change or delete a row.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;

use bourse_api::audit::{AuditEntry, verify};
use reqwest::Method as M;
use serde_json::json;
use support::{Client, Http, Server, Store, TOKEN};

const PASSWORD: &str = "quiet-otter-lantern";

/// Every entry, oldest first, read page by page (2 at a time, to walk the cursor).
async fn all_entries(h: &Http) -> Vec<AuditEntry> {
    let mut out = Vec::new();
    let mut before: Option<u64> = None;
    loop {
        let path = match before {
            Some(b) => format!("/v1/admin/audit?limit=2&before={b}"),
            None => "/v1/admin/audit?limit=2".to_owned(),
        };
        let (s, v) = h.call(M::GET, &path, Some(TOKEN), None).await;
        assert_eq!(s, 200, "{v}");
        let page: Vec<AuditEntry> = serde_json::from_value(v["entries"].clone()).unwrap();
        out.extend(page);
        match v["next"].as_u64() {
            Some(n) => before = Some(n),
            None => break,
        }
    }
    out.reverse();
    out
}

fn kinds(entries: &[AuditEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.kind.as_str()).collect()
}

fn flow(store: &Store) {
    let server = Server::start(store, &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (alice, secrets) = rt.block_on(async {
        let h = Http::new(&server.base);
        let op = Client::new(&server.base);
        let (alice, tok) = h.session("alice").await;
        let mut secrets = vec![PASSWORD.to_owned(), tok.clone()];
        // Two failures: a wrong password, an unknown user.
        let (s, _) = h.log_in("alice", "not-the-password-at-all").await;
        assert_eq!(s, 401);
        let (s, _) = h.log_in("nobody", PASSWORD).await;
        assert_eq!(s, 401);
        // An API key made and revoked.
        let (s, v) = h
            .call(
                M::POST,
                "/v1/api-keys",
                Some(&tok),
                Some(json!({"label": "bot"})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let key_id = v["id"].as_str().unwrap().to_owned();
        secrets.push(v["secret"].as_str().unwrap().to_owned());
        let (s, v) = h
            .call(
                M::DELETE,
                &format!("/v1/api-keys/{key_id}"),
                Some(&tok),
                None,
            )
            .await;
        assert_eq!(s, 204, "{v}");
        // Two-factor: enrol, confirm with a real TOTP code, renew and turn off with
        // recovery codes.
        let (s, v) = h.call(M::POST, "/v1/me/totp", Some(&tok), None).await;
        assert_eq!(s, 201, "{v}");
        secrets.push(v["secret"].as_str().unwrap().to_owned());
        let totp = totp_rs::TOTP::from_url(v["otpauth_uri"].as_str().unwrap()).unwrap();
        let code = totp.generate_current().unwrap();
        let (s, v) = h
            .call(
                M::POST,
                "/v1/me/totp/confirm",
                Some(&tok),
                Some(json!({"code": code})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let codes: Vec<String> = serde_json::from_value(v["recovery_codes"].clone()).unwrap();
        let (s, v) = h
            .call(
                M::POST,
                "/v1/me/recovery-codes",
                Some(&tok),
                Some(json!({"recovery_code": codes[0]})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let codes: Vec<String> = serde_json::from_value(v["recovery_codes"].clone()).unwrap();
        secrets.extend(codes.iter().cloned());
        let (s, v) = h
            .call(
                M::DELETE,
                "/v1/me/totp",
                Some(&tok),
                Some(json!({"recovery_code": codes[0]})),
            )
            .await;
        assert_eq!(s, 204, "{v}");
        // The operator's actions.
        for path in [
            "/v1/admin/symbols/AAPL/halt",
            "/v1/admin/symbols/AAPL/resume",
            "/v1/admin/end-of-day",
            "/v1/admin/snapshot",
        ] {
            let (s, v) = op.post(path, json!({})).await.unwrap();
            assert!(s == 200 || s == 202, "{path}: {s} {v}");
        }
        let (s, v) = op
            .post(
                &format!("/v1/admin/accounts/{alice}/deposits"),
                json!({"amount": "2500.50"}),
            )
            .await
            .unwrap();
        assert_eq!(s, 200, "{v}");
        let (s, v) = op
            .post(
                &format!("/v1/admin/accounts/{alice}/shares"),
                json!({"symbol": "MSFT", "qty": 7}),
            )
            .await
            .unwrap();
        assert_eq!(s, 200, "{v}");
        let (s, v) = op
            .post(
                "/v1/admin/brokers",
                json!({"username": "acme-broker", "password": PASSWORD}),
            )
            .await
            .unwrap();
        assert_eq!(s, 201, "{v}");
        let (s, _) = h.call(M::DELETE, "/v1/sessions", Some(&tok), None).await;
        assert_eq!(s, 204);

        // ---- Reading it ------------------------------------------------------------------
        let entries = all_entries(&h).await;
        assert_eq!(
            kinds(&entries),
            [
                "data_key_changed",
                "user_registered",
                "log_in",
                "log_in_failed",
                "log_in_failed",
                "api_key_created",
                "api_key_revoked",
                "totp_enrolled",
                "totp_enabled",
                "recovery_codes_renewed",
                "totp_disabled",
                "symbol_halted",
                "symbol_resumed",
                "end_of_day",
                "snapshot_taken",
                "deposit_by_operator",
                "shares_deposited_by_operator",
                "broker_registered",
                "log_out",
            ],
            "{entries:#?}"
        );
        assert!(verify(&entries), "the chain does not verify: {entries:#?}");
        assert_eq!(
            entries.iter().map(|e| e.id).collect::<Vec<_>>(),
            (1..=19).collect::<Vec<u64>>()
        );
        let by_kind = |k: &str| entries.iter().find(|e| e.kind == k).unwrap().clone();
        let alice_id: u64 = alice.parse().unwrap();
        let e = by_kind("log_in");
        assert_eq!(
            (e.actor.as_str(), e.account, e.ip.as_deref()),
            (
                format!("account:{alice}").as_str(),
                Some(alice_id),
                Some("127.0.0.1")
            )
        );
        assert_eq!(e.detail.get("factor").map(String::as_str), Some("password"));
        let failed: Vec<&AuditEntry> = entries
            .iter()
            .filter(|e| e.kind == "log_in_failed")
            .collect();
        assert_eq!(
            failed
                .iter()
                .map(|e| (e.account, e.detail.get("reason").cloned()))
                .collect::<Vec<_>>(),
            [
                (Some(alice_id), Some("password".to_owned())),
                (None, Some("unknown_user".to_owned()))
            ]
        );
        let e = by_kind("symbol_halted");
        assert_eq!(e.actor, "operator");
        assert_eq!(
            e.detail,
            BTreeMap::from([("symbol".to_owned(), "AAPL".to_owned())])
        );
        let e = by_kind("deposit_by_operator");
        assert_eq!(
            (e.account, e.detail.get("amount").map(String::as_str)),
            (Some(alice_id), Some("2500.50"))
        );
        // Filters: by kind, by account, by actor.
        let (_, v) = h
            .call(
                M::GET,
                "/v1/admin/audit?kind=log_in_failed",
                Some(TOKEN),
                None,
            )
            .await;
        assert_eq!(v["entries"].as_array().map(Vec::len), Some(2), "{v}");
        let (_, v) = h
            .call(
                M::GET,
                &format!("/v1/admin/audit?account={alice}&limit=500"),
                Some(TOKEN),
                None,
            )
            .await;
        let about: Vec<AuditEntry> = serde_json::from_value(v["entries"].clone()).unwrap();
        assert_eq!(about.len(), 12, "{v}");
        assert!(about.iter().all(|e| e.account == Some(alice_id)));
        let (_, v) = h
            .call(M::GET, "/v1/admin/audit?actor=operator", Some(TOKEN), None)
            .await;
        assert_eq!(v["entries"].as_array().map(Vec::len), Some(7), "{v}");
        // Bad filters have codes.
        for (q, code) in [
            ("kind=coffee", "INVALID_FIELD"),
            ("actor=someone", "INVALID_FIELD"),
            ("account=x", "INVALID_ACCOUNT_ID"),
            ("limit=0", "INVALID_LIMIT"),
        ] {
            let (s, v) = h
                .call(M::GET, &format!("/v1/admin/audit?{q}"), Some(TOKEN), None)
                .await;
            assert_eq!((s, v["code"].as_str()), (422, Some(code)), "{q}: {v}");
        }
        // Only the operator reads it; nothing writes it.
        let (_, bob) = h.session("bob").await;
        let (s, v) = h.call(M::GET, "/v1/admin/audit", Some(&bob), None).await;
        assert_eq!(s, 403, "{v}");
        let (s, _) = h.call(M::GET, "/v1/admin/audit", None, None).await;
        assert_eq!(s, 401);
        for m in [M::POST, M::PUT, M::PATCH, M::DELETE] {
            let (s, v) = h
                .call(m.clone(), "/v1/admin/audit", Some(TOKEN), Some(json!({})))
                .await;
            assert_eq!(s, 405, "{m}: {v}");
        }
        // No secret anywhere in it.
        let dump = serde_json::to_string(&entries).unwrap();
        for s in &secrets {
            assert!(!dump.contains(s.as_str()), "a secret is in the audit log");
        }
        (alice, secrets)
    });
    // What the store holds.
    match store {
        Store::Postgres { url, schema } => {
            let psql = |sql: &str| {
                std::process::Command::new("psql")
                    .args([
                        url.as_str(),
                        "-qtAc",
                        &format!("SET search_path = {schema}; {sql}"),
                    ])
                    .output()
                    .unwrap()
            };
            for sql in [
                "UPDATE audit_log SET kind = 'log_in' WHERE id = 4",
                "DELETE FROM audit_log WHERE id = 4",
                "TRUNCATE audit_log",
            ] {
                let out = psql(sql);
                assert!(!out.status.success(), "{sql} was allowed");
                assert!(
                    String::from_utf8_lossy(&out.stderr).contains("append-only"),
                    "{sql}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            let out = psql("SELECT count(*) FROM audit_log");
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "21");
            let out =
                psql("SELECT string_agg(detail || actor || coalesce(ip, ''), ' ') FROM audit_log");
            let text = String::from_utf8_lossy(&out.stdout).to_string();
            for s in &secrets {
                assert!(!text.contains(s.as_str()), "a secret is in the table");
            }
        }
        Store::File(dir) => {
            let text = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap();
            assert_eq!(text.lines().count(), 21);
            for s in &secrets {
                assert!(!text.contains(s.as_str()), "a secret is in the file");
            }
        }
    }
    // A restart continues the chain (the same data key is not a change).
    server.stop();
    let server = Server::start(store, &[]);
    rt.block_on(async {
        let h = Http::new(&server.base);
        let (s, _) = h.log_in("alice", PASSWORD).await;
        assert_eq!(s, 201);
        let entries = all_entries(&h).await;
        assert!(verify(&entries));
        assert_eq!(entries.len(), 22);
        let last = entries.last().unwrap();
        assert_eq!(
            (last.kind.as_str(), last.account),
            ("log_in", Some(alice.parse().unwrap()))
        );
        assert_eq!(
            kinds(&entries)
                .iter()
                .filter(|k| **k == "data_key_changed")
                .count(),
            1
        );
    });
    // Another data key is a change.
    server.stop();
    let server = Server::start(
        store,
        &[(
            "BOURSE__SERVER__DATA_KEY",
            "1111111111111111111111111111111111111111111111111111111111111111",
        )],
    );
    rt.block_on(async {
        let h = Http::new(&server.base);
        let entries = all_entries(&h).await;
        assert!(verify(&entries));
        let keys: Vec<&AuditEntry> = entries
            .iter()
            .filter(|e| e.kind == "data_key_changed")
            .collect();
        assert_eq!(keys.len(), 2);
        assert_ne!(keys[0].detail["fingerprint"], keys[1].detail["fingerprint"]);
        assert_eq!(keys[1].actor, "system");
    });
    server.stop();
    drop(secrets);
    store.cleanup();
}

#[test]
fn audit_log_file_journal() {
    let dir = tempfile::tempdir().unwrap();
    flow(&Store::File(dir.path().join("journal")));
}

#[test]
fn audit_log_postgres_journal() {
    flow(&Store::Postgres {
        url: support::database_url(),
        schema: support::fresh_schema("audit"),
    });
}
