//! Shared by the outbox tests: the stores (a fresh PostgreSQL schema per test, or a redb
//! file in a temporary folder), a test directory of destinations, and HTTP receivers on
//! 127.0.0.1 that check every signature and record what arrived.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use bourse_core::profile::Channel;
use bourse_notify::{Destination, Directory, NewDelivery, NotifyConfig, Store, sign};
use parking_lot::Mutex;
use serde_json::json;
use sqlx::{AssertSqlSafe, Connection, Executor};

/// `BOURSE_TEST_DATABASE_URL`, or the local test database (`make pg` starts it).
pub fn database_url() -> String {
    std::env::var("BOURSE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A place for an outbox, removed when dropped.
pub enum Place {
    Pg { schema: String },
    Embedded { dir: tempfile::TempDir },
}

impl Place {
    pub fn pg(test: &str) -> Place {
        static N: AtomicU32 = AtomicU32::new(0);
        let mut schema = format!(
            "notify_test_{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            test
        );
        schema.retain(|c| c.is_ascii_alphanumeric() || c == '_');
        schema.truncate(63);
        Place::Pg { schema }
    }

    pub fn embedded() -> Place {
        Place::Embedded {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn both(test: &str) -> Vec<Place> {
        vec![Place::embedded(), Place::pg(test)]
    }

    pub fn store(&self) -> Store {
        match self {
            Place::Pg { schema } => Store::Postgres {
                url: database_url(),
                schema: schema.clone(),
            },
            Place::Embedded { dir } => Store::Embedded {
                path: dir.path().join("notify.redb"),
            },
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Place::Pg { .. } => "postgres",
            Place::Embedded { .. } => "embedded",
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        if let Place::Pg { schema } = self {
            let sql = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    if let Ok(mut c) = sqlx::PgConnection::connect(&database_url()).await {
                        let _ = c.execute(AssertSqlSafe(sql)).await;
                    }
                });
            })
            .join();
        }
    }
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Fast retries for tests; loopback http allowed.
pub fn fast_config() -> NotifyConfig {
    NotifyConfig {
        allow_loopback_http: true,
        retry_base_ms: 10,
        retry_max_ms: 40,
        poll_ms: 20,
        http_timeout_ms: 5000,
        ..NotifyConfig::default()
    }
}

/// Destinations by (channel, endpoint); every account resolves the same way.
#[derive(Default)]
pub struct TestDir {
    pub map: Mutex<HashMap<(Channel, u64), Destination>>,
}

impl TestDir {
    pub fn with(entries: Vec<((Channel, u64), Destination)>) -> Arc<TestDir> {
        Arc::new(TestDir {
            map: Mutex::new(entries.into_iter().collect()),
        })
    }
}

impl Directory for TestDir {
    fn destination(&self, _account: u64, channel: Channel, endpoint: u64) -> Option<Destination> {
        self.map.lock().get(&(channel, endpoint)).cloned()
    }

    /// "Sealed" here is the hex of the plain text.
    fn open(&self, sealed_hex: &str) -> Option<String> {
        String::from_utf8(hex::decode(sealed_hex).ok()?).ok()
    }
}

pub const SECRET: &str = "whsec_s3cret";

pub fn webhook(url: &str) -> Destination {
    Destination::Webhook {
        url: url.to_owned(),
        secret: SECRET.to_owned(),
    }
}

/// A delivery of `kind` to webhook `endpoint` of account 7.
pub fn delivery(key: &str, seq: u64, channel: Channel, endpoint: u64) -> NewDelivery {
    NewDelivery {
        key: key.to_owned(),
        seq,
        account: 7,
        kind: "order_filled".to_owned(),
        channel,
        endpoint,
        payload: json!({"id": key, "type": "order_filled", "created_at": "2026-01-02T03:04:05Z",
            "account_id": "7", "data": {"order_id": "1", "symbol": "AAPL", "side": "buy",
            "last_qty": "1", "last_price": "10", "cum_qty": "1", "leaves_qty": "0",
            "avg_price": "10"}}),
        created_at_ns: 1,
    }
}

/// One request a receiver got.
#[derive(Clone, Debug)]
pub struct Got {
    pub key: String,
    pub delivery: String,
    pub body: Bytes,
    pub signature_ok: bool,
    pub at: Instant,
}

/// What a receiver does with each request.
#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    Ok,
    /// 500 for the first n requests of each key, then 200.
    FailFirst(u32),
    AlwaysFail,
    /// Sleeps, then 200.
    Slow(Duration),
    /// Never answers (holds the request).
    Hang,
}

pub struct Receiver {
    pub url: String,
    pub got: Arc<Mutex<Vec<Got>>>,
    pub behaviour: Arc<Mutex<Behaviour>>,
    per_key: Arc<Mutex<HashMap<String, u32>>>,
}

#[derive(Clone)]
struct RecvState {
    got: Arc<Mutex<Vec<Got>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    per_key: Arc<Mutex<HashMap<String, u32>>>,
}

fn verify(headers: &HeaderMap, body: &[u8]) -> bool {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    let Ok(ts) = h("bourse-timestamp").parse::<u64>() else {
        return false;
    };
    h("content-type") == "application/json"
        && h("user-agent") == "bourse-webhooks/1"
        && h("bourse-signature") == format!("v1={}", sign(SECRET, ts, body))
}

async fn receive(State(s): State<RecvState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let at = Instant::now();
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let n = {
        let mut m = s.per_key.lock();
        let n = m.entry(key.clone()).or_insert(0);
        *n += 1;
        *n
    };
    let behaviour = *s.behaviour.lock();
    let status = match behaviour {
        Behaviour::Ok => StatusCode::OK,
        Behaviour::FailFirst(k) if n <= k => StatusCode::INTERNAL_SERVER_ERROR,
        Behaviour::FailFirst(_) => StatusCode::OK,
        Behaviour::AlwaysFail => StatusCode::SERVICE_UNAVAILABLE,
        Behaviour::Slow(d) => {
            tokio::time::sleep(d).await;
            StatusCode::OK
        }
        Behaviour::Hang => {
            std::future::pending::<()>().await;
            StatusCode::OK
        }
    };
    let got = Got {
        delivery: headers
            .get("bourse-delivery")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned(),
        signature_ok: verify(&headers, &body),
        key,
        body,
        at,
    };
    if status.is_success() {
        s.got.lock().push(got);
    }
    status
}

impl Receiver {
    /// A receiver on 127.0.0.1, served on `rt`. Records only requests it answered 2xx;
    /// `attempts()` counts every request.
    pub fn start(rt: &tokio::runtime::Runtime, behaviour: Behaviour) -> Receiver {
        let state = RecvState {
            got: Arc::default(),
            behaviour: Arc::new(Mutex::new(behaviour)),
            per_key: Arc::default(),
        };
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(state.clone());
        rt.spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url: format!("http://{addr}/hook"),
            got: state.got,
            behaviour: state.behaviour,
            per_key: state.per_key,
        }
    }

    pub fn delivered(&self) -> Vec<Got> {
        self.got.lock().clone()
    }

    /// Requests received (answered or not).
    pub fn attempts(&self) -> u32 {
        self.per_key.lock().values().sum()
    }

    pub fn set(&self, b: Behaviour) {
        *self.behaviour.lock() = b;
    }
}

/// Polls `cond` until it holds or `limit` passes.
pub fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
