//! The WebSocket transport: per connection a sender that writes its share of the schedule
//! as it falls due (pipelined) and a reader that matches answers by request id.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use super::flow::{Action, Flow, Kind};
use super::measure::{Conn, Ctx, Outcome};
use super::pacer::{Wake, pacer, take_due, wait_done};
use crate::trader::Ws;

/// What the client reads from an answer (the rest of the report is skipped unparsed).
#[derive(Deserialize)]
pub(crate) struct WsAnswer<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(default)]
    request_id: Option<u64>,
    #[serde(default)]
    code: Option<&'a str>,
    #[serde(default)]
    report: Option<ReportLite<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct ReportLite<'a> {
    #[serde(default)]
    id: Option<&'a str>,
    #[serde(default)]
    status: Option<&'a str>,
}

impl ReportLite<'_> {
    pub(crate) fn outcome(&self) -> Outcome<'static> {
        Outcome::Report {
            order_id: self.id.and_then(|s| s.parse().ok()),
            resting: matches!(self.status, Some("new" | "partially_filled")),
        }
    }
}

async fn ws_reader(ctx: Arc<Ctx>, conn: Arc<Conn>, mut stream: SplitStream<Ws>) {
    while let Some(m) = stream.next().await {
        let now = Instant::now();
        match m {
            Ok(Message::Text(t)) => match serde_json::from_str::<WsAnswer<'_>>(t.as_str()) {
                Ok(a) => match a.kind {
                    "execution_report" => {
                        let outcome = a.report.as_ref().map_or(
                            Outcome::Report {
                                order_id: None,
                                resting: false,
                            },
                            ReportLite::outcome,
                        );
                        ctx.on_answer(&conn, a.request_id, outcome, now);
                    }
                    "error" => {
                        let code = a.code.unwrap_or("UNKNOWN_ERROR");
                        ctx.on_answer(&conn, a.request_id, Outcome::Error(code), now);
                    }
                    _ => {}
                },
                Err(_) => ctx.on_answer(&conn, None, Outcome::Error("UNREADABLE_ANSWER"), now),
            },
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => {}
        }
    }
    conn.closed.store(true, Ordering::Release);
}

/// Sends connection `c`'s share of the schedule (orders `c`, `c + n`, …) as it falls due,
/// each wake-up's backlog in one write, until the schedule ends.
async fn ws_sender(
    ctx: Arc<Ctx>,
    conn: Arc<Conn>,
    c: u64,
    n: u64,
    mut sink: SplitSink<Ws, Message>,
    mut flow: Flow,
) {
    let mut k = c;
    let mut todo: Vec<(u64, Action)> = Vec::new();
    let mut sent: Vec<(u64, Kind, Instant)> = Vec::new();
    'run: while take_due(&ctx, &conn, &mut k, n, &mut flow, &mut todo).await {
        for (kk, a) in todo.drain(..) {
            let mut frame = String::with_capacity(256);
            flow.ws_frame(&a, kk, &mut frame);
            sent.push((kk, a.kind(), Instant::now()));
            if sink.feed(Message::text(frame)).await.is_err() {
                break 'run;
            }
        }
        conn.record_sent(&ctx, &sent);
        sent.clear();
        if sink.flush().await.is_err() {
            break;
        }
    }
    if !sent.is_empty() {
        conn.record_sent(&ctx, &sent);
    }
    wait_done(&ctx, &conn).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
}

pub(crate) async fn drive_ws(
    ctx: &Arc<Ctx>,
    conns: &[Arc<Conn>],
    sockets: Vec<Ws>,
    flows: Vec<Flow>,
) -> Vec<JoinHandle<()>> {
    let n = u64::try_from(conns.len()).unwrap_or(1);
    let mut tasks = Vec::new();
    let mut senders = Vec::new();
    for (c, ((ws, flow), conn)) in sockets.into_iter().zip(flows).zip(conns).enumerate() {
        let (sink, stream) = ws.split();
        tasks.push(tokio::spawn(ws_reader(ctx.clone(), conn.clone(), stream)));
        let c = u64::try_from(c).unwrap_or(0);
        senders.push(tokio::spawn(ws_sender(
            ctx.clone(),
            conn.clone(),
            c,
            n,
            sink,
            flow,
        )));
    }
    tasks.push(tokio::spawn(pacer(
        ctx.clone(),
        Wake::Conns(conns.to_vec()),
    )));
    tasks.extend(senders);
    tokio::time::sleep_until(ctx.end_at().into()).await;
    tasks
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn answers_are_read_without_the_rest_of_the_report() {
        let report = r#"{"report":{"id":"17","status":"partially_filled","fills":[{"price":"1.00","qty":"1"}],"symbol":"AAPL"},"request_id":9,"type":"execution_report"}"#;
        let a: WsAnswer<'_> = serde_json::from_str(report).unwrap();
        assert_eq!((a.kind, a.request_id), ("execution_report", Some(9)));
        assert_eq!(
            a.report.unwrap().outcome(),
            Outcome::Report {
                order_id: Some(17),
                resting: true
            }
        );
        let err =
            r#"{"code":"RATE_LIMITED","message":"too \"many\"","request_id":null,"type":"error"}"#;
        let e: WsAnswer<'_> = serde_json::from_str(err).unwrap();
        assert_eq!(
            (e.kind, e.request_id, e.code),
            ("error", None, Some("RATE_LIMITED"))
        );
    }
}
