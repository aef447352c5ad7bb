//! The FIX transport: per connection a FIX 4.4 session (logon with the trader's API key,
//! ResetSeqNumFlag), a sender that writes its share of the schedule as NewOrderSingle and
//! OrderCancelRequest messages when due (pipelined, one write per wake-up), and a reader that
//! matches ExecutionReports and OrderCancelRejects to requests by ClOrdID.
//!
//! The first ExecutionReport of an order (New, or Rejected) answers it, as the WebSocket's
//! one report does (both are released when the command is durable); a cancel is answered by
//! its Canceled report or its OrderCancelReject. Later reports (fills, an IOC's remainder)
//! only keep the connection's list of resting orders true. The session's heartbeat interval
//! is 30 s, longer than the silence of any run, so the client answers no TestRequest.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use bourse_fix::codec::{self, Frame, Header, Message};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::task::JoinHandle;

use super::flow::{Action, Flow, Kind, parse_request_id};
use super::measure::{Conn, Ctx, Outcome};
use super::pacer::{Wake, pacer, take_due, wait_done};
use crate::trader::Trader;

/// A logged-on FIX session.
pub(crate) struct FixConn {
    rd: OwnedReadHalf,
    wr: OwnedWriteHalf,
    sender: String,
    buf: Vec<u8>,
}

fn now_text() -> String {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(0));
    codec::utc_timestamp(ns)
}

fn encode(sender: &str, seq: u64, msg_type: &str, body: &[(u32, String)]) -> Vec<u8> {
    codec::encode(
        &Header {
            sender,
            target: "BOURSE",
            seq,
            sending_time: &now_text(),
            orig_sending_time: None,
        },
        msg_type,
        body,
    )
}

/// Reads the next whole message (garbled input is an error here: the exchange sent it).
async fn next_message(rd: &mut OwnedReadHalf, buf: &mut Vec<u8>) -> Result<Option<Message>> {
    loop {
        match codec::frame(buf) {
            Frame::Message(n) => {
                let m = Message::parse(&buf[..n]).map_err(|e| anyhow::anyhow!("{e:?}"))?;
                buf.drain(..n);
                return Ok(Some(m));
            }
            Frame::Garbled(_, why) | Frame::Broken(why) => {
                bail!("garbled FIX from the exchange: {why}")
            }
            Frame::Incomplete => {}
        }
        if rd.read_buf(buf).await? == 0 {
            return Ok(None);
        }
    }
}

/// Connects and logs on as connection `c` with `trader`'s key.
pub(crate) async fn fix_connect(addr: &str, trader: &Trader, c: usize) -> Result<FixConn> {
    let tcp = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to the FIX port {addr}"))?;
    tcp.set_nodelay(true)?;
    let (mut rd, mut wr) = tcp.into_split();
    let sender = format!("BENCH{c}");
    let logon = encode(
        &sender,
        1,
        "A",
        &[
            (98, "0".to_owned()),
            (108, "30".to_owned()),
            (141, "Y".to_owned()),
            (553, trader.key_id.clone()),
            (554, trader.secret.clone()),
        ],
    );
    wr.write_all(&logon).await?;
    let mut buf = Vec::with_capacity(64 * 1024);
    match next_message(&mut rd, &mut buf).await? {
        Some(m) if m.msg_type() == "A" => {}
        Some(m) => bail!(
            "FIX logon refused: {}",
            m.get(58).unwrap_or("(no reason given)")
        ),
        None => bail!("the exchange closed the FIX connection at logon"),
    }
    Ok(FixConn {
        rd,
        wr,
        sender,
        buf,
    })
}

/// The request a ClOrdID `<run>.<request id>` names.
fn request_of(m: &Message) -> Option<u64> {
    m.get(11)?.rsplit('.').next()?.parse().ok()
}

/// The stable code at the front of a Text (58) `CODE: message`.
fn code_of(m: &Message) -> &str {
    m.get(58)
        .and_then(|t| t.split(':').next())
        .unwrap_or("UNKNOWN_ERROR")
}

async fn fix_reader(ctx: Arc<Ctx>, conn: Arc<Conn>, mut rd: OwnedReadHalf, mut buf: Vec<u8>) {
    while let Ok(Some(m)) = next_message(&mut rd, &mut buf).await {
        let now = Instant::now();
        let id = request_of(&m);
        let kind = id.map(|i| parse_request_id(i).1);
        let order_id = m.get(37).and_then(|v| v.parse::<u64>().ok());
        match m.msg_type() {
            "8" => {
                let exec = m.get(150).unwrap_or("");
                let ended = matches!(m.get(39), Some("2" | "4" | "C" | "8"));
                match (kind, exec) {
                    (Some(Kind::Cancel), "4") => {
                        let o = Outcome::Report {
                            order_id,
                            resting: false,
                        };
                        ctx.on_answer(&conn, id, o, now);
                    }
                    (Some(k), "0") if k != Kind::Cancel => {
                        // Its own later reports say whether it still rests.
                        let o = Outcome::Report {
                            order_id,
                            resting: !ended,
                        };
                        ctx.on_answer(&conn, id, o, now);
                    }
                    (Some(_), "8") => ctx.on_answer(&conn, id, Outcome::Error(code_of(&m)), now),
                    _ => {}
                }
                if ended
                    && exec != "0"
                    && let Some(o) = order_id
                {
                    let mut live = conn.live.lock();
                    if let Some(i) = live.iter().position(|&x| x == o) {
                        live.swap_remove(i);
                    }
                }
            }
            "9" => ctx.on_answer(&conn, id, Outcome::Error(code_of(&m)), now),
            "5" => break,
            _ => {}
        }
    }
    conn.closed.store(true, Ordering::Release);
}

async fn fix_sender(
    ctx: Arc<Ctx>,
    conn: Arc<Conn>,
    c: u64,
    n: u64,
    mut wr: OwnedWriteHalf,
    sender: String,
    mut flow: Flow,
) {
    let mut seq = 2u64;
    let mut k = c;
    let mut todo: Vec<(u64, Action)> = Vec::new();
    let mut sent: Vec<(u64, Kind, Instant)> = Vec::new();
    let mut out: Vec<u8> = Vec::with_capacity(64 * 1024);
    while take_due(&ctx, &conn, &mut k, n, &mut flow, &mut todo).await {
        out.clear();
        for (kk, a) in todo.drain(..) {
            let (t, body) = flow.fix_message(&a, kk);
            out.extend_from_slice(&encode(&sender, seq, t, &body));
            seq += 1;
            sent.push((kk, a.kind(), Instant::now()));
        }
        conn.record_sent(&ctx, &sent);
        sent.clear();
        if wr.write_all(&out).await.is_err() {
            break;
        }
    }
    wait_done(&ctx, &conn).await;
    let logout = encode(&sender, seq, "5", &[]);
    let _ = wr.write_all(&logout).await;
}

pub(crate) async fn drive_fix(
    ctx: &Arc<Ctx>,
    conns: &[Arc<Conn>],
    sessions: Vec<FixConn>,
    flows: Vec<Flow>,
) -> Vec<JoinHandle<()>> {
    let n = u64::try_from(conns.len()).unwrap_or(1);
    let mut tasks = Vec::new();
    let mut senders = Vec::new();
    for (c, ((s, flow), conn)) in sessions.into_iter().zip(flows).zip(conns).enumerate() {
        tasks.push(tokio::spawn(fix_reader(
            ctx.clone(),
            conn.clone(),
            s.rd,
            s.buf,
        )));
        let c = u64::try_from(c).unwrap_or(0);
        senders.push(tokio::spawn(fix_sender(
            ctx.clone(),
            conn.clone(),
            c,
            n,
            s.wr,
            s.sender,
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
