//! `GET /metrics` of the real server, read by an independent parser: the official Prometheus
//! Python client's OpenMetrics parser (`prometheus_client` from PyPI), through
//! `scripts/check-metrics.sh`, after real traffic: orders that trade, one the engine rejects,
//! a WebSocket subscriber that receives market data. Every metric family must be there,
//! well formed, with values that match what happened. Needs `python3` with `venv` and access
//! to PyPI the first time (the pinned package goes into `target/py-venv`).
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Client, Server, Store, ws};

/// What `scripts/check-metrics.sh` made of the exposition at `url`.
struct Parsed {
    /// Family (as the parser names it: a counter without `_total`) → type.
    types: HashMap<String, String>,
    /// Series (`name{label="v",…}`, labels sorted) → value.
    samples: HashMap<String, f64>,
}

impl Parsed {
    fn get(&self, series: &str) -> f64 {
        *self
            .samples
            .get(series)
            .unwrap_or_else(|| panic!("no sample {series}"))
    }

    /// A histogram's `(le, cumulative count)` buckets in exposition order, its count, sum.
    fn histogram(&self, name: &str) -> (Vec<(String, f64)>, f64, f64) {
        let prefix = format!("{name}_bucket{{le=\"");
        let mut buckets: Vec<(String, f64)> = self
            .samples
            .iter()
            .filter_map(|(k, &v)| {
                k.strip_prefix(&prefix)
                    .map(|le| (le.trim_end_matches("\"}").to_owned(), v))
            })
            .collect();
        let key = |le: &str| {
            if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse::<f64>().unwrap()
            }
        };
        buckets.sort_by(|a, b| key(&a.0).total_cmp(&key(&b.0)));
        (
            buckets,
            self.get(&format!("{name}_count")),
            self.get(&format!("{name}_sum")),
        )
    }
}

fn check_metrics(url: &str) -> Parsed {
    let root = support::workspace_root();
    let out = Command::new("bash")
        .arg(root.join("scripts/check-metrics.sh"))
        .arg(url)
        .current_dir(&root)
        .output()
        .expect("could not run bash scripts/check-metrics.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scripts/check-metrics.sh failed ({}):\n{stderr}\n{stdout}",
        out.status
    );
    let v: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!("scripts/check-metrics.sh printed no JSON ({e}):\n{stdout}\n{stderr}")
    });
    Parsed {
        types: v["families"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, f)| (k.clone(), f["type"].as_str().unwrap().to_owned()))
            .collect(),
        samples: v["samples"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, x)| (k.clone(), x.as_f64().unwrap()))
            .collect(),
    }
}

fn order(account: &str, side: &str, qty: &str, price: &str) -> Value {
    json!({"account_id": account, "symbol": "AAPL", "side": side, "type": "limit",
           "qty": qty, "limit_price": price, "time_in_force": "gtc"})
}

#[test]
fn metrics_are_prometheus_text_with_every_family_and_sane_values() {
    support::require_python(
        "the metrics test needs python3 with the venv and ensurepip modules (e.g. apt-get \
         install python3 python3-venv) and access to PyPI: scripts/check-metrics.sh installs \
         the pinned prometheus_client into target/py-venv",
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().join("journal"));
    let server = Server::start(&store, &[]);
    let metrics_url = format!("{}/metrics", server.base);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (seq, m) = rt.block_on(async {
        let op = Client::new(&server.base);
        let accounts = op.setup_accounts(2, &["AAPL"]).await;

        // A market-data subscriber, subscribed before anything trades.
        let mut sub = ws::connect(&server.base).await;
        let mut other = Vec::new();
        let r = ws::request(
            &mut sub,
            json!({"op": "subscribe", "id": "s", "channels": ["book", "trades"],
                   "symbols": ["AAPL"]}),
            &mut other,
        )
        .await;
        assert_eq!(r["type"], "subscribed", "{r}");

        // A resting bid, then a sell that trades against it.
        let (s, v) = op
            .post("/v1/orders", order(&accounts[0], "buy", "10", "189.50"))
            .await
            .unwrap();
        assert_eq!(s, 200, "{v}");
        let (s, v) = op
            .post("/v1/orders", order(&accounts[1], "sell", "4", "189.50"))
            .await
            .unwrap();
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["filled_qty"], "4", "{v}");

        // An account with no cash: well-formed, so it passes the gateway, and the engine's
        // risk check rejects it.
        let (s, v) = op.post("/v1/admin/accounts", json!({})).await.unwrap();
        assert_eq!(s, 201, "{v}");
        let broke = v["account_id"].as_str().unwrap().to_owned();
        let (s, v) = op
            .post("/v1/orders", order(&broke, "buy", "100", "190.00"))
            .await
            .unwrap();
        assert_eq!(
            (s, v["code"].as_str()),
            (422, Some("INSUFFICIENT_BUYING_POWER")),
            "{v}"
        );

        // The subscriber has received market data (so it was counted as queued to it).
        let mut got_update = other
            .iter()
            .any(|m| m["type"] == "book" || m["type"] == "trade");
        while !got_update {
            let m = ws::recv(&mut sub).await;
            got_update = m["type"] == "book" || m["type"] == "trade";
        }

        // The plain HTTP view: no credentials needed, the OpenMetrics content type.
        let r = reqwest::get(&metrics_url).await.unwrap();
        assert_eq!(r.status(), 200);
        let ctype = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(
            ctype.starts_with("application/openmetrics-text; version=1.0.0"),
            "content type {ctype}"
        );
        let text = r.text().await.unwrap();
        assert!(text.contains("# TYPE bourse_rejects counter"), "{text}");

        let (_, h) = op.get("/healthz").await.unwrap();
        let seq = h["engine"]["seq"].as_u64().unwrap();
        // Parsed independently while the subscriber is still connected.
        let parsed = tokio::task::spawn_blocking({
            let url = metrics_url.clone();
            move || check_metrics(&url)
        })
        .await
        .unwrap();
        drop(sub);
        (seq, parsed)
    });
    let seq = seq as f64;

    // Every family, with its type.
    for (family, kind) in [
        ("bourse_engine_running", "gauge"),
        ("bourse_engine_queued_commands", "gauge"),
        ("bourse_engine_commands", "counter"),
        ("bourse_engine_batches", "counter"),
        ("bourse_engine_overloaded", "counter"),
        ("bourse_engine_stalls", "counter"),
        ("bourse_engine_apply_duration_seconds", "histogram"),
        ("bourse_journal_durable_seq", "gauge"),
        ("bourse_released_seq", "gauge"),
        ("bourse_durable_lag_commands", "gauge"),
        ("bourse_release_lag_commands", "gauge"),
        ("bourse_journal_commits", "counter"),
        ("bourse_journal_commands", "counter"),
        ("bourse_journal_retries", "counter"),
        ("bourse_journal_snapshots", "counter"),
        ("bourse_journal_last_snapshot_seq", "gauge"),
        ("bourse_journal_failing", "gauge"),
        ("bourse_journal_failed", "gauge"),
        ("bourse_journal_batch_commands", "histogram"),
        ("bourse_journal_append_duration_seconds", "histogram"),
        ("bourse_feed_connections", "gauge"),
        ("bourse_feed_updates", "counter"),
        ("bourse_feed_messages", "counter"),
        ("bourse_feed_bytes", "counter"),
        ("bourse_feed_conflated", "counter"),
        ("bourse_feed_slow_disconnects", "counter"),
        ("bourse_rejects", "counter"),
        ("bourse_allocator_allocated_bytes", "gauge"),
        ("bourse_allocator_resident_bytes", "gauge"),
    ] {
        assert_eq!(
            m.types.get(family).map(String::as_str),
            Some(kind),
            "family {family}"
        );
    }

    // The engine: running, idle, every command counted and timed once (a fresh journal:
    // its seq is the number of commands since the start).
    assert_eq!(m.get("bourse_engine_running"), 1.0);
    assert_eq!(m.get("bourse_engine_queued_commands"), 0.0);
    let commands = m.get("bourse_engine_commands_total");
    assert!(commands >= seq && seq >= 10.0, "{commands} vs {seq}");
    assert!(m.get("bourse_engine_batches_total") >= 1.0);
    assert_eq!(m.get("bourse_engine_overloaded_total"), 0.0);
    let (buckets, count, sum) = m.histogram("bourse_engine_apply_duration_seconds");
    assert_eq!(count, commands, "one apply time per command");
    assert!(sum > 0.0 && sum < count, "{sum} s for {count} commands");
    let le = |b: &(String, f64)| b.0.parse::<f64>().unwrap();
    assert_eq!(le(buckets.first().unwrap()), 1e-7, "{buckets:?}");
    assert_eq!(buckets.last().unwrap(), &("+Inf".to_owned(), count));
    assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");

    // The journal: everything durable and released, in group commits of at least one.
    assert_eq!(m.get("bourse_journal_durable_seq"), commands);
    assert_eq!(m.get("bourse_released_seq"), commands);
    assert_eq!(m.get("bourse_durable_lag_commands"), 0.0);
    assert_eq!(m.get("bourse_release_lag_commands"), 0.0);
    assert_eq!(m.get("bourse_journal_commands_total"), commands);
    let commits = m.get("bourse_journal_commits_total");
    assert!(commits >= 1.0 && commits <= commands, "{commits}");
    assert_eq!(m.get("bourse_journal_failing"), 0.0);
    assert_eq!(m.get("bourse_journal_failed"), 0.0);
    let (buckets, count, sum) = m.histogram("bourse_journal_batch_commands");
    assert_eq!((count, sum), (commits, commands));
    assert_eq!(le(buckets.first().unwrap()), 1.0, "{buckets:?}");
    assert_eq!(buckets.last().unwrap(), &("+Inf".to_owned(), commits));
    let (buckets, count, sum) = m.histogram("bourse_journal_append_duration_seconds");
    assert_eq!(count, commits, "one append time per group commit");
    assert!(sum > 0.0, "{sum}");
    assert_eq!(buckets.last().unwrap(), &("+Inf".to_owned(), commits));

    // The feed: our subscriber is connected and was sent updates.
    assert!(m.get("bourse_feed_connections") >= 1.0);
    assert!(m.get("bourse_feed_updates_total") >= 1.0);
    assert!(m.get("bourse_feed_messages_total") >= 1.0);
    assert!(m.get("bourse_feed_bytes_total") > m.get("bourse_feed_messages_total"));
    assert_eq!(m.get("bourse_feed_slow_disconnects_total"), 0.0);
    assert_eq!(m.get("bourse_feed_conflated_total"), 0.0);

    // The allocator's account: the binary runs on jemalloc, which holds at least the
    // engine's pre-sized tables.
    assert!(m.get("bourse_allocator_allocated_bytes") > 1e6);
    assert!(m.get("bourse_allocator_resident_bytes") > 1e6);

    // Rejects by reason: exactly ours, and every reason is listed.
    assert_eq!(
        m.get("bourse_rejects_total{reason=\"INSUFFICIENT_BUYING_POWER\"}"),
        1.0
    );
    let reasons: Vec<_> = m
        .samples
        .iter()
        .filter(|(k, _)| k.starts_with("bourse_rejects_total{"))
        .collect();
    assert_eq!(reasons.len(), bourse_core::RejectReason::ALL.len());
    assert_eq!(reasons.iter().map(|&(_, &v)| v).sum::<f64>(), 1.0);

    // The subscriber gone, the gauge follows.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let m = check_metrics(&metrics_url);
        if m.get("bourse_feed_connections") == 0.0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the connection stays counted"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server.stop();
}
