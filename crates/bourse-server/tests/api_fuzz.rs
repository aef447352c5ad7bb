//! Schema-driven fuzzing of the real server with an independent tool: Schemathesis (PyPI),
//! through `scripts/fuzz-api.sh`, against the server's own `GET /openapi.json`. Every
//! answer must be documented (status, content type, headers) and valid against its schema,
//! and nothing may answer 5xx. Needs `python3` with `venv` and access to PyPI (the first run
//! installs the pinned Schemathesis into `target/fuzz-venv`; later runs reuse it).
//!
//! `BOURSE_FUZZ_EXAMPLES` (default 25) bounds the cases per operation and phase;
//! `BOURSE_FUZZ_SEED` picks another deterministic run.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use reqwest::Method as M;
use serde_json::json;
use support::{Http, Server, Store, TOKEN};

#[test]
fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    support::require_python(
        "api_fuzz needs python3 with the venv and ensurepip modules (e.g. apt-get install \
         python3 python3-venv) and access to PyPI: scripts/fuzz-api.sh installs the pinned \
         Schemathesis into target/fuzz-venv",
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().join("journal"));
    // Fuzzed requests without credentials would otherwise mostly meet the per-IP limit.
    let server = Server::start(&store, &[("BOURSE__SERVER__RATE_PER_IP", "100000")]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let key = rt.block_on(async {
        let h = Http::new(&server.base);
        let account = h.register("fuzzer").await;
        let (s, v) = h.log_in("fuzzer", "quiet-otter-lantern").await;
        assert_eq!(s, 201, "{v}");
        let session = v["token"].as_str().unwrap().to_owned();
        for (path, body) in [
            (
                format!("/v1/admin/accounts/{account}/deposits"),
                json!({"amount": "1000000"}),
            ),
            (
                format!("/v1/admin/accounts/{account}/shares"),
                json!({"symbol": "AAPL", "qty": 10_000}),
            ),
        ] {
            let (s, v) = h.call(M::POST, &path, Some(TOKEN), Some(body)).await;
            assert_eq!(s, 200, "{path}: {v}");
        }
        // The fuzzer gets an API key with every scope, made from the session, not the
        // session itself (key management answers it 403 SESSION_REQUIRED, as documented):
        // `DELETE /v1/sessions` is fuzzed too and would log the session out mid-run. A few
        // keys first, so that the fuzz key's id is not the smallest one to guess.
        let mut key = String::new();
        for label in ["a", "b", "c", "d", "e", "f", "g", "h", "fuzz"] {
            let (s, v) = h
                .call(
                    M::POST,
                    "/v1/api-keys",
                    Some(&session),
                    Some(json!({ "label": label, "scopes": ["read", "trade", "transfer"] })),
                )
                .await;
            assert_eq!(s, 201, "{v}");
            key = v["secret"].as_str().unwrap().to_owned();
        }
        key
    });

    let root = support::workspace_root();
    let out = Command::new("bash")
        .arg(root.join("scripts/fuzz-api.sh"))
        .args([server.base.as_str(), key.as_str(), TOKEN])
        .current_dir(&root)
        .output()
        .expect("could not run bash scripts/fuzz-api.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(
        out.status.success(),
        "scripts/fuzz-api.sh failed ({}); its output is above",
        out.status
    );
    assert!(stdout.contains("fuzz-api: passed"), "{stdout}");

    // Still healthy, and still taking commands: a fresh account buys (the fuzz may have
    // halted a symbol, ended the day or spent the fuzzer's cash).
    rt.block_on(async {
        let h = Http::new(&server.base);
        let (s, v) = h.call(M::GET, "/healthz", None, None).await;
        assert_eq!((s, v["status"].as_str()), (200, Some("ok")), "{v}");
        assert_eq!(v["engine"]["running"], json!(true), "{v}");
        let (s, v) = h
            .call(M::POST, "/v1/admin/symbols/MSFT/resume", Some(TOKEN), None)
            .await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = h
            .call(M::POST, "/v1/admin/accounts", Some(TOKEN), None)
            .await;
        assert_eq!(s, 201, "{v}");
        let account = v["account_id"].as_str().unwrap().to_owned();
        let (s, v) = h
            .call(
                M::POST,
                &format!("/v1/admin/accounts/{account}/deposits"),
                Some(TOKEN),
                Some(json!({"amount": "10000"})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let (s, v) = h
            .call(
                M::POST,
                "/v1/orders",
                Some(TOKEN),
                Some(
                    json!({"symbol": "MSFT", "side": "buy", "type": "limit", "qty": "1",
                            "limit_price": "400.00", "account_id": account}),
                ),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    });
    server.stop();
}
