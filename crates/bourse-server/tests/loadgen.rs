//! `bourse bench orders --spawn` end to end with the real binary: a small open-loop run over
//! WebSocket and over REST (file journal) and over WebSocket with the PostgreSQL journal in a
//! schema of its own, each checked through its JSON report — everything scheduled was sent
//! and answered, no error but the expected cancel-after-fill rejection, percentiles in order.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use serde_json::Value;

fn database_url() -> String {
    std::env::var("BOURSE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Runs `bourse bench orders --spawn …` and returns its JSON report.
fn bench(extra: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_bourse"))
        .args(["bench", "orders", "--spawn", "--quiet", "--warmup", "0.5"])
        .args(extra)
        .arg("--json")
        .arg(&json)
        .env("BOURSE__LOG__LEVEL", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("latency from intended send"), "{stdout}");
    serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap()
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// The checks every small run must pass.
fn check(r: &Value, rate: f64, secs: f64) {
    let scheduled = n(&r["scheduled"]);
    let want = rate * secs;
    assert!(
        (scheduled as f64 - want).abs() <= 1.0,
        "scheduled {scheduled}, want {want}: {r}"
    );
    // Everything scheduled was sent and answered.
    assert_eq!(n(&r["unsent"]), 0, "{r}");
    assert_eq!(n(&r["sent"]), scheduled, "{r}");
    assert_eq!(n(&r["unanswered"]), 0, "{r}");
    assert_eq!(n(&r["answered"]), n(&r["sent"]), "{r}");
    assert_eq!(n(&r["warmup"]["sent"]), n(&r["warmup"]["answered"]), "{r}");
    // Only the expected rejection: a cancel that lost the race with a fill.
    for (code, count) in r["errors"].as_object().unwrap() {
        assert_eq!(
            code, "UNKNOWN_ORDER",
            "unexpected error {code} × {count}: {r}"
        );
    }
    assert_eq!(n(&r["refusals"]), 0);
    assert_eq!(n(&r["unexpected_errors"]), 0);
    let errors: u64 = r["errors"].as_object().unwrap().values().map(n).sum();
    assert_eq!(n(&r["reports"]) + errors, n(&r["answered"]), "{r}");
    // Every kind of request went out, cancels among them, and was answered.
    for kind in ["passive", "cross", "ioc", "cancel"] {
        assert!(n(&r["sent_by_kind"][kind]) > 0, "no {kind}: {r}");
        assert_eq!(r["sent_by_kind"][kind], r["answered_by_kind"][kind], "{r}");
    }
    // Percentiles: one per answer, ordered, plausible.
    let l = &r["latency_us"];
    assert_eq!(n(&l["count"]), n(&r["answered"]), "{r}");
    let p: Vec<f64> = ["p50_us", "p90_us", "p99_us", "p99_9_us", "max_us"]
        .iter()
        .map(|k| l[*k].as_f64().unwrap())
        .collect();
    assert!(p[0] > 0.0, "{l}");
    assert!(p.windows(2).all(|w| w[0] <= w[1]), "{l}");
    // How fast is the benchmark's to say, not this test's: a test on a shared machine must
    // not fail because another process took the CPU for a second. So only that the figures
    // are there and add up.
    let t = &r["throughput"];
    assert_eq!(t["offered_per_s"].as_f64(), Some(rate));
    assert!(t["answered_per_s"].as_f64().unwrap() > 0.0, "{r}");
    assert!(r["sustained"].is_boolean(), "{r}");
    // The server was watched and stopped cleanly.
    let s = &r["server"];
    assert!(n(&s["journal_commands"]) >= scheduled, "{s}");
    assert_eq!(s["spawned"]["clean_exit"], true, "{s}");
}

#[test]
fn bench_over_websocket_with_the_file_journal() {
    let r = bench(&["--rate", "2000", "--duration", "2", "--connections", "4"]);
    check(&r, 2_000.0, 2.0);
    assert_eq!(r["transport"], "ws");
    assert!(r["journal"].as_str().unwrap().starts_with("file"), "{r}");
    assert_eq!(r["config"]["accounts"], 4);
    assert!(r["progress"].as_array().unwrap().len() >= 2, "{r}");
}

#[test]
fn bench_over_fix() {
    let r = bench(&[
        "--transport",
        "fix",
        "--rate",
        "2000",
        "--duration",
        "2",
        "--connections",
        "4",
    ]);
    check(&r, 2_000.0, 2.0);
    assert_eq!(r["transport"], "fix");
    assert_eq!(r["config"]["accounts"], 4);
}

#[test]
fn bench_over_rest() {
    let r = bench(&[
        "--transport",
        "rest",
        "--rate",
        "500",
        "--duration",
        "2",
        "--connections",
        "4",
        "--accounts",
        "2",
        "--symbols",
        "MSFT,NVDA,F",
    ]);
    check(&r, 500.0, 2.0);
    assert_eq!(r["transport"], "rest");
    assert_eq!(r["config"]["accounts"], 2);
}

#[test]
fn bench_over_websocket_with_the_postgres_journal_in_a_throwaway_schema() {
    let url = database_url();
    let r = bench(&[
        "--rate",
        "2000",
        "--duration",
        "2",
        "--connections",
        "4",
        "--database-url",
        &url,
    ]);
    check(&r, 2_000.0, 2.0);
    assert!(
        r["journal"].as_str().unwrap().starts_with("postgres"),
        "{r}"
    );
    let schema = r["server"]["spawned"]["schema_dropped"].as_str().unwrap();
    let out = Command::new("psql")
        .args([
            url.as_str(),
            "-XtAqc",
            &format!("SELECT count(*) FROM pg_namespace WHERE nspname = '{schema}'"),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0",
        "schema {schema} left behind"
    );
}
