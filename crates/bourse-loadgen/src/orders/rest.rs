//! The REST transport: HTTP/1.1 keep-alive workers, each taking the next order of the
//! schedule when free and waiting for its answer (one request in flight per connection).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use serde::Deserialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::flow::{Action, Flow, request_id};
use super::measure::{Conn, Ctx, Outcome};
use super::pacer::{Wake, pacer};
use super::ws::ReportLite;
use crate::http::Http1;

/// One HTTP/1.1 client: takes the next order of the schedule when free, sends it when due,
/// waits for its answer.
async fn rest_worker(
    ctx: Arc<Ctx>,
    conn: Arc<Conn>,
    mut http: Http1,
    key: String,
    mut flow: Flow,
    next: Arc<AtomicU64>,
    mut due: watch::Receiver<u64>,
) {
    let mut body = String::with_capacity(256);
    let mut path = String::with_capacity(32);
    loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        if k >= ctx.total {
            break;
        }
        while *due.borrow_and_update() <= k {
            if ctx.finished.load(Ordering::Acquire) || due.changed().await.is_err() {
                break;
            }
        }
        let at = Instant::now();
        if *due.borrow() <= k || at >= ctx.send_until() {
            break;
        }
        let action = flow.next(&mut conn.live.lock());
        body.clear();
        path.clear();
        let (method, b) = match &action {
            Action::Order(o) => {
                flow.rest_body(o, k, &mut body);
                path.push_str("/v1/orders");
                ("POST", Some(body.as_str()))
            }
            Action::Cancel(id) => {
                let _ = write!(path, "/v1/orders/{id}");
                ("DELETE", None)
            }
        };
        conn.record_sent(&ctx, &[(k, action.kind(), at)]);
        let r = http.call(method, &path, Some(&key), b).await;
        let now = Instant::now();
        let id = Some(request_id(k, action.kind()));
        match r {
            Ok(resp) if resp.status == 200 => {
                let outcome = serde_json::from_slice::<ReportLite<'_>>(&resp.body)
                    .map_or(Outcome::Error("UNREADABLE_ANSWER"), |r| r.outcome());
                ctx.on_answer(&conn, id, outcome, now);
            }
            Ok(resp) => {
                #[derive(Deserialize)]
                struct Code<'a> {
                    code: &'a str,
                }
                let code = serde_json::from_slice::<Code<'_>>(&resp.body)
                    .map_or("UNREADABLE_ANSWER", |c| c.code);
                ctx.on_answer(&conn, id, Outcome::Error(code), now);
            }
            Err(_) => ctx.on_answer(&conn, id, Outcome::Error("CONNECTION_ERROR"), now),
        }
    }
    conn.sender_done.store(true, Ordering::Release);
    conn.closed.store(true, Ordering::Release);
}

pub(crate) async fn drive_rest(
    ctx: &Arc<Ctx>,
    conns: &[Arc<Conn>],
    clients: Vec<(Http1, String)>,
    flows: Vec<Flow>,
) -> Vec<JoinHandle<()>> {
    let (tx, rx) = watch::channel(0u64);
    let next = Arc::new(AtomicU64::new(0));
    let tasks = clients
        .into_iter()
        .zip(flows)
        .zip(conns)
        .map(|(((http, key), flow), conn)| {
            tokio::spawn(rest_worker(
                ctx.clone(),
                conn.clone(),
                http,
                key,
                flow,
                next.clone(),
                rx.clone(),
            ))
        })
        .collect();
    let mut tasks: Vec<JoinHandle<()>> = tasks;
    tasks.push(tokio::spawn(pacer(ctx.clone(), Wake::Watch(tx))));
    tokio::time::sleep_until(ctx.end_at().into()).await;
    tasks
}
