//! `bourse demo` as a newcomer runs it: from an empty directory with no database configured
//! (`make run`'s path), it creates `./data`, quotes and trades every stock on its own, and
//! the printed demo login can buy a stock and see the fill.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Http;
use support::ws::{connect, recv_within, request, send};

struct Demo {
    child: Child,
    base: String,
    lines: mpsc::Receiver<String>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `bourse demo` in `dir` with nothing configured but a free port, without its
/// compressed trading day (`--day-minutes 0`: always in continuous trading, as this test
/// expects; tests/trading_day.rs walks a day's sessions).
fn start_demo(dir: &std::path::Path) -> Demo {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bourse"));
    cmd.args(["demo", "--day-minutes", "0"])
        .current_dir(dir)
        .env("BOURSE__SERVER__LISTEN", "127.0.0.1:0")
        .env("BOURSE__LOG__LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // Nothing of the caller's settings: the embedded defaults only.
    for (k, _) in std::env::vars() {
        if k.starts_with("BOURSE__") && k != "BOURSE__SERVER__LISTEN" && k != "BOURSE__LOG__LEVEL" {
            cmd.env_remove(k);
        }
    }
    cmd.env_remove("DATABASE_URL");
    let mut child = cmd.spawn().unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let first = lines.recv_timeout(Duration::from_secs(120)).unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("{first:?}"))
        .to_owned();
    assert!(first.contains("journal file:./data/journal"), "{first}");
    Demo {
        child,
        base: format!("http://{addr}"),
        lines,
    }
}

#[test]
fn the_demo_starts_from_nothing_trades_and_its_login_buys() {
    let dir = tempfile::tempdir().unwrap();
    assert!(!dir.path().join("data").exists());
    let demo = start_demo(dir.path());
    // It says how to log in.
    let mut said = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !said
        .iter()
        .any(|l: &String| l.contains("log in as demo / demo-password"))
    {
        assert!(Instant::now() < deadline, "no login line: {said:?}");
        if let Ok(l) = demo.lines.recv_timeout(Duration::from_millis(200)) {
            said.push(l);
        }
    }
    assert!(
        dir.path().join("data/journal").is_dir(),
        "the file journal under ./data"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // Trades flow on the WebSocket within seconds, with nobody else doing anything.
        let mut ws = connect(&demo.base).await;
        send(&mut ws, json!({"op": "subscribe", "channels": ["trades", "book"], "symbols": ["AAPL", "MSFT", "NVDA"]})).await;
        let started = Instant::now();
        let mut trades = 0;
        while trades < 3 {
            assert!(started.elapsed() < Duration::from_secs(20), "no trades on the stream");
            if let Some(m) = recv_within(&mut ws, Duration::from_secs(1)).await
                && m["type"] == "trade"
            {
                trades += 1;
            }
        }
        // The demo login: a market buy of one AAPL share fills against the market maker.
        let h = Http::new(&demo.base);
        let (s, v) = h.log_in("demo", "demo-password").await;
        assert_eq!(s, 201, "{v}");
        let token = v["token"].as_str().unwrap().to_owned();
        let (_, account) = h.call(reqwest::Method::GET, "/v1/account", Some(&token), None).await;
        assert_eq!(account["cash"], "100000.00", "{account}");
        let mut junk = Vec::new();
        let mut me = connect(&demo.base).await;
        request(&mut me, json!({"op": "auth", "id": 1, "token": token}), &mut junk).await;
        let r = request(
            &mut me,
            json!({"op": "order", "id": 2, "symbol": "AAPL", "side": "buy", "type": "market", "time_in_force": "ioc", "qty": "1"}),
            &mut junk,
        )
        .await;
        assert_eq!(r["report"]["status"], "filled", "{r}");
        assert_eq!(r["report"]["filled_qty"], "1", "{r}");
        let (_, pos) = h.call(reqwest::Method::GET, "/v1/positions", Some(&token), None).await;
        let aapl: Vec<&Value> = pos.as_array().map_or_else(
            || pos["items"].as_array().unwrap().iter().collect(),
            |a| a.iter().collect(),
        );
        assert!(
            aapl.iter().any(|p| p["symbol"] == "AAPL" && p["qty"] == "1"),
            "{pos}"
        );
    });
}
