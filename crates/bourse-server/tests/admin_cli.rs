//! `bourse admin …` drives a running server's operator controls: halt, resume, end of day,
//! snapshot, health.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::Command;

use serde_json::Value;
use support::{Client, Server, Store, TOKEN};

fn admin(base: &str, args: &[&str]) -> (bool, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_bourse"))
        .args(["admin", "--url", base, "--operator-token", TOKEN])
        .args(args)
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.success(), v)
}

#[test]
fn the_operator_controls_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::File(dir.path().join("journal"));
    let server = Server::start(&store, &[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let op = Client::new(&server.base);
    // The quote is market data: it follows the answer by a moment (the feed thread applies
    // released events after the request's answer is sent), so wait for it.
    let status = |rt: &tokio::runtime::Runtime, want: &str| {
        let mut seen = Value::Null;
        for _ in 0..200 {
            seen = rt.block_on(op.get("/v1/stocks/AAPL")).unwrap().1["quote"]["status"].clone();
            if seen == want {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        seen
    };
    let (ok, v) = admin(&server.base, &["halt", "AAPL"]);
    assert!(ok, "{v}");
    assert_eq!(v["halted"], true);
    assert_eq!(status(&rt, "halted"), "halted");
    let (ok, v) = admin(&server.base, &["resume", "AAPL"]);
    assert!(ok, "{v}");
    assert_eq!(status(&rt, "trading"), "trading");
    let (ok, v) = admin(&server.base, &["end-of-day"]);
    assert!(ok, "{v}");
    let (_, before) = admin(&server.base, &["health"]);
    let (ok, v) = admin(&server.base, &["snapshot"]);
    assert!(ok, "{v}");
    // The snapshot is written once the journal covers it.
    let want = before["journal"]["snapshots"].as_u64().unwrap() + 1;
    let mut seen = 0;
    for _ in 0..100 {
        seen = admin(&server.base, &["health"]).1["journal"]["snapshots"]
            .as_u64()
            .unwrap();
        if seen >= want {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(seen >= want, "{seen} < {want}");
    // Refusals exit non-zero with the server's error.
    let (ok, v) = admin(&server.base, &["halt", "NOPE"]);
    assert!(!ok);
    assert_eq!(v["code"], "UNKNOWN_SYMBOL", "{v}");
    let out = Command::new(env!("CARGO_BIN_EXE_bourse"))
        .args([
            "admin",
            "--url",
            &server.base,
            "--operator-token",
            "wrong",
            "snapshot",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    server.stop();
}
