//! The real server as a child process, an HTTP client for it, and the journal checks the
//! crash tests make between runs.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use bourse_core::{ClientOrderId, Event, OrderId};
use bourse_engine::StateHash;
use bourse_server::Config;
use bourse_server::serve::{genesis, open_journal};
use serde_json::{Value, json};

pub mod fix;
pub mod load;
pub mod ws;

/// A reqwest client builder. The workspace builds reqwest with `rustls-no-provider` (the
/// notifier hands it a ring configuration), so a client built with reqwest's defaults needs
/// a process-wide provider: ring, installed once here.
pub fn http() -> reqwest::ClientBuilder {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        // Err means another provider is already installed, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}

/// A self-signed certificate for `localhost` and 127.0.0.1, written as PEM files; it is its
/// own certificate authority for the clients.
pub fn certificate(dir: &std::path::Path, name: &str) -> (PathBuf, PathBuf) {
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    (cert, key)
}

/// A child's output, line by line, on a channel (read on a thread of its own).
pub fn lines_of(out: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    lines
}

/// An order of the caller's, polled (for up to 5 s) until it is no longer `new`; the last
/// answer either way.
pub async fn order_settled(h: &Http, token: &str, id: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        let (s, v) = h
            .call(
                reqwest::Method::GET,
                &format!("/v1/orders/{id}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        if v["status"] != "new" {
            return v;
        }
        last = v;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    last
}

/// The repository's root (scripts live under it).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Fails the test with `why` when `python3` cannot make a virtual environment here (the
/// tests that drive an independent Python tool install it into one).
pub fn require_python(why: &str) {
    let ok = Command::new("python3")
        .args(["-c", "import venv, ensurepip"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(ok, "{why}");
}

pub const TOKEN: &str = "operator-secret-for-tests";

/// Where a test's server keeps its journal.
#[derive(Debug, Clone)]
pub enum Store {
    File(PathBuf),
    Postgres { url: String, schema: String },
}

pub fn database_url() -> String {
    std::env::var("BOURSE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

static SCHEMAS: AtomicU64 = AtomicU64::new(0);

/// A PostgreSQL schema no other test uses.
pub fn fresh_schema(name: &str) -> String {
    format!(
        "t_{name}_{}_{}",
        std::process::id(),
        SCHEMAS.fetch_add(1, Ordering::Relaxed)
    )
}

impl Store {
    /// The environment that points the server at this store.
    pub fn env(&self) -> Vec<(String, String)> {
        match self {
            Store::File(dir) => vec![
                ("BOURSE__JOURNAL__BACKEND".into(), "file".into()),
                ("BOURSE__JOURNAL__DIR".into(), dir.display().to_string()),
            ],
            Store::Postgres { url, schema } => vec![
                ("BOURSE__JOURNAL__BACKEND".into(), "postgres".into()),
                ("BOURSE__JOURNAL__DATABASE_URL".into(), url.clone()),
                ("BOURSE__JOURNAL__SCHEMA".into(), schema.clone()),
            ],
        }
    }

    pub fn config(&self) -> Config {
        Config::load_with(None, &self.env()).unwrap()
    }

    /// Drops the test's schema (PostgreSQL); the file store goes with its temp dir.
    pub fn cleanup(&self) {
        if let Store::Postgres { url, schema } = self {
            let _ = Command::new("psql")
                .args([
                    url.as_str(),
                    "-qc",
                    &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
                ])
                .output();
        }
    }
}

/// A running `bourse serve`.
pub struct Server {
    pub child: Child,
    pub base: String,
    /// The recovered seq and state hash it printed at start.
    pub recovered_seq: u64,
    pub recovered_hash: String,
    lines: mpsc::Receiver<String>,
}

impl Server {
    pub fn start(store: &Store, extra: &[(&str, &str)]) -> Server {
        Self::start_as(store, extra, false)
    }

    /// `bourse serve --standby`: `base` is its health-only listener until it takes over
    /// ([`Server::wait_takeover`]).
    pub fn start_standby(store: &Store, extra: &[(&str, &str)]) -> Server {
        Self::start_as(store, extra, true)
    }

    /// Waits for a standby's "bourse listening on …" line (it took over); returns it.
    pub fn wait_takeover(&self, within: Duration) -> String {
        let deadline = std::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let l = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("the standby did not take over within {within:?}"));
            if l.starts_with("bourse listening on ") {
                return l;
            }
        }
    }

    fn start_as(store: &Store, extra: &[(&str, &str)], standby: bool) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bourse"));
        cmd.arg("serve");
        if standby {
            cmd.arg("--standby");
        }
        cmd.env("BOURSE__SERVER__LISTEN", "127.0.0.1:0")
            .env("BOURSE__SERVER__OPERATOR_TOKEN", TOKEN)
            .env("BOURSE__LOG__LEVEL", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in store.env() {
            cmd.env(k, v);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let lines = lines_of(child.stdout.take().unwrap());
        let line = lines
            .recv_timeout(Duration::from_secs(120))
            .expect("the server printed no listening line (see its log above)");
        // "bourse listening on http://ADDR (journal …, seq N, state hash H)" (or https://),
        // or "bourse standby on http://ADDR (…)"
        let base = line
            .split(" on ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        let seq = line
            .split("seq ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .unwrap()
            .parse()
            .unwrap();
        let hash = line
            .split("state hash ")
            .nth(1)
            .unwrap()
            .split(&[')', ';'][..])
            .next()
            .unwrap()
            .to_owned();
        Server {
            child,
            base,
            recovered_seq: seq,
            recovered_hash: hash,
            lines,
        }
    }

    /// The next line it prints that starts with `prefix`.
    pub fn wait_line(&self, prefix: &str) -> String {
        loop {
            let l = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("the server printed no line starting {prefix:?}"));
            if l.starts_with(prefix) {
                return l;
            }
        }
    }

    /// The FIX acceptor's port (from "bourse fix listening on ADDR").
    pub fn fix_port(&self) -> u16 {
        let l = self.wait_line("bourse fix listening on ");
        l.split_whitespace()
            .nth(4)
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("unexpected line {l:?}"))
    }

    /// SIGKILL: no drain, no last commit, no snapshot.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM and wait for a clean exit; returns what it printed on the way out.
    pub fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the server exited with {status}");
        self.lines.try_iter().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client acting as the operator.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            http: http().timeout(Duration::from_secs(30)).build().unwrap(),
            base: base.to_owned(),
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> reqwest::Result<(u16, Value)> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await?))
    }

    pub async fn get(&self, path: &str) -> reqwest::Result<(u16, Value)> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await?))
    }

    /// Deposits `cash` and `shares` (symbol, qty) into `account`, as the operator.
    pub async fn fund(&self, account: &str, cash: &str, shares: &[(&str, u64)]) {
        let (s, v) = self
            .post(
                &format!("/v1/admin/accounts/{account}/deposits"),
                json!({"amount": cash}),
            )
            .await
            .unwrap();
        assert_eq!(s, 200, "{v}");
        for (sym, qty) in shares {
            let (s, v) = self
                .post(
                    &format!("/v1/admin/accounts/{account}/shares"),
                    json!({"symbol": sym, "qty": qty}),
                )
                .await
                .unwrap();
            assert_eq!(s, 200, "{v}");
        }
    }

    /// Opens `n` accounts with cash and shares of `symbols`.
    pub async fn setup_accounts(&self, n: usize, symbols: &[&str]) -> Vec<String> {
        let shares: Vec<(&str, u64)> = symbols.iter().map(|s| (*s, 1_000_000)).collect();
        let mut ids = Vec::new();
        for _ in 0..n {
            let (s, v) = self.post("/v1/admin/accounts", json!({})).await.unwrap();
            assert_eq!(s, 201, "{v}");
            let id = v["account_id"].as_str().unwrap().to_owned();
            self.fund(&id, "100000000", &shares).await;
            ids.push(id);
        }
        ids
    }
}

/// What the journal says, replayed from scratch.
pub struct Replayed {
    pub seq: u64,
    pub hash: StateHash,
    /// Every order accepted, by client order id (more than one entry is a duplicate).
    pub accepted: HashMap<ClientOrderId, Vec<OrderId>>,
    /// Client order ids the engine rejected, with the reason code.
    pub rejected: HashMap<ClientOrderId, Vec<&'static str>>,
    /// The engine at the end of the journal.
    pub engine: bourse_engine::Engine,
}

/// A PostgreSQL store's journal opened to read it beside a running writer.
pub fn pg_reader(store: &Store) -> bourse_journal::PgJournal {
    let Store::Postgres { url, schema } = store else {
        panic!("a PostgreSQL store")
    };
    bourse_journal::PgJournal::open_reader(
        bourse_journal::PgJournalOptions::new(url.clone()).schema(schema.clone()),
    )
    .unwrap()
}

/// Replays the whole journal through a fresh engine (a file journal's server must not be
/// running; a PostgreSQL journal is read beside its writer, up to where it ends now).
pub fn replay_journal(store: &Store) -> Replayed {
    let cfg = store.config();
    let journal: Box<dyn bourse_journal::Journal> = match store {
        Store::Postgres { .. } => Box::new(pg_reader(store)),
        Store::File(_) => open_journal(&cfg).unwrap().0,
    };
    let mut engine = genesis(&cfg).unwrap();
    let mut out = Vec::new();
    let mut accepted: HashMap<ClientOrderId, Vec<OrderId>> = HashMap::new();
    let mut rejected: HashMap<ClientOrderId, Vec<&'static str>> = HashMap::new();
    let mut expect = 1;
    journal
        .for_each_from(bourse_core::Seq(1), &mut |rec| {
            assert_eq!(rec.seq.0, expect, "journal seqs are gap-free");
            expect += 1;
            out.clear();
            engine.apply(&rec, &mut out);
            for e in &out {
                match *e {
                    Event::OrderAccepted {
                        order_id,
                        client_order_id: Some(c),
                        ..
                    } => accepted.entry(c).or_default().push(order_id),
                    Event::Rejected {
                        client_order_id: Some(c),
                        reason,
                        ..
                    } => rejected.entry(c).or_default().push(reason.code()),
                    _ => {}
                }
            }
            Ok(())
        })
        .unwrap();
    Replayed {
        seq: expect - 1,
        hash: engine.state_hash().unwrap(),
        accepted,
        rejected,
        engine,
    }
}

/// A small deterministic generator.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn index(&mut self, len: usize) -> usize {
        usize::try_from(self.below(len as u64)).unwrap()
    }
}

/// A plain HTTP client with an optional bearer token.
pub struct Http {
    http: reqwest::Client,
    base: String,
}

impl Http {
    pub fn new(base: &str) -> Self {
        Self {
            http: http().build().unwrap(),
            base: base.to_owned(),
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn register(&self, user: &str) -> String {
        let (s, v) = self
            .call(
                reqwest::Method::POST,
                "/v1/users",
                None,
                Some(json!({"username": user, "password": "quiet-otter-lantern"})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v["account_id"].as_str().unwrap().to_owned()
    }

    /// Signs up by address (`field` is `email` or `phone`): the new account's id.
    pub async fn sign_up_by(&self, field: &str, address: &str, password: &str) -> String {
        let (s, v) = self
            .call(
                reqwest::Method::POST,
                "/v1/users",
                None,
                Some(json!({field: address, "password": password})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v["account_id"].as_str().unwrap().to_owned()
    }

    /// Logs in by address: the session token.
    pub async fn log_in_by(&self, field: &str, address: &str, password: &str) -> String {
        let (s, v) = self
            .call(
                reqwest::Method::POST,
                "/v1/sessions",
                None,
                Some(json!({field: address, "password": password})),
            )
            .await;
        assert_eq!(s, 201, "log-in by {field}: {v}");
        v["token"].as_str().unwrap().to_owned()
    }

    /// Registers `user` (the tests' password) and logs in: (account id, session token).
    pub async fn session(&self, user: &str) -> (String, String) {
        let account = self.register(user).await;
        let (s, v) = self.log_in(user, "quiet-otter-lantern").await;
        assert_eq!(s, 201, "{v}");
        (account, v["token"].as_str().unwrap().to_owned())
    }

    pub async fn log_in(&self, user: &str, password: &str) -> (u16, Value) {
        self.call(
            reqwest::Method::POST,
            "/v1/sessions",
            None,
            Some(json!({"username": user, "password": password})),
        )
        .await
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Asserts that no table of the PostgreSQL store (`pg_dump --data-only`, bytea columns read
/// as hex too) and no file of the file store holds any of `plain` in the clear.
pub fn assert_store_lacks(store: &Store, plain: &[&[u8]], what: &str) {
    let holds = |bytes: &[u8]| {
        plain
            .iter()
            .any(|p| bytes.windows(p.len()).any(|w| w == *p))
    };
    match store {
        Store::Postgres { url, schema } => {
            let out = Command::new("pg_dump")
                .args(["--data-only", "--schema", schema, url])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.stdout.len() > 1000, "the dump is empty");
            assert!(!holds(&out.stdout), "{what} in PostgreSQL in plain text");
            let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
            let dump = String::from_utf8_lossy(&out.stdout);
            for p in plain {
                assert!(!dump.contains(&hex(p)), "{what} in a bytea column");
            }
        }
        Store::File(dir) => {
            let files = files_under(dir);
            for f in &files {
                assert!(
                    !holds(&std::fs::read(f).unwrap()),
                    "{} holds {what} in plain text",
                    f.display()
                );
            }
            assert!(files.len() >= 2, "the journal directory is empty");
        }
    }
}
