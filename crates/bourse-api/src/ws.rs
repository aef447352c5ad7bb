//! WebSocket order entry on `/v1/ws`: the low-latency path for brokers' programs.
//!
//! ```text
//! → {"op":"auth","token":"…"}                      ← {"type":"authenticated","account_id":"7"}
//! → {"op":"order","id":1,"symbol":"AAPL",…}        ← {"type":"execution_report","request_id":1,"report":{…order…}}
//! → {"op":"cancel","id":2,"order_id":"42"}         ← {"type":"execution_report","request_id":2,"report":{…}}
//! → {"op":"replace","id":3,"order_id":"42","qty":"5","limit_price":"190.10"}
//! → {"op":"ping"}                                  ← {"type":"pong"}
//!                                                  ← {"type":"error","request_id":…,"code":"…","message":"…"}
//! ```
//!
//! Requests on one connection run concurrently (up to [`MAX_IN_FLIGHT`]); answers carry the
//! client's `id` as `request_id`. Each answer is the same report the REST route gives, sent
//! once the command is durable. Frames are text JSON of at most [`MAX_FRAME`] bytes.
//!
//! Must never: act before `auth`; let one connection's backlog grow without bound (a full
//! in-flight window stops reading from that socket); panic on any frame.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State as AxState;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Map, Value, json};
use tokio::sync::{Semaphore, mpsc};

use crate::auth::{Principal, now};
use crate::error::ApiError;
use crate::http::{AppState, cancel, submit};
use crate::orders::NewOrder;
use crate::trading::{Amend, replace};

/// Largest frame accepted.
pub const MAX_FRAME: usize = 16 * 1024;
/// Requests of one connection being processed at once.
pub const MAX_IN_FLIGHT: usize = 1_024;
/// A connection that sends nothing (not even a ping) for this long is closed.
const IDLE: Duration = Duration::from_secs(120);
/// Outgoing messages queued per connection.
const OUTBOX: usize = 4_096;

pub(crate) async fn upgrade(AxState(s): AxState<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .on_upgrade(move |socket| session(s, socket))
}

fn error(request_id: &Value, e: &ApiError) -> Message {
    text(&json!({
        "type": "error",
        "request_id": request_id,
        "code": e.code,
        "message": e.message,
    }))
}

fn text(v: &Value) -> Message {
    Message::Text(Utf8Bytes::from(v.to_string()))
}

/// A per-connection token bucket on inbound messages.
struct Bucket {
    tokens: f64,
    at: Instant,
    per_sec: f64,
}

impl Bucket {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        let burst = self.per_sec * 2.0;
        self.tokens =
            (self.tokens + now.duration_since(self.at).as_secs_f64() * self.per_sec).min(burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

async fn session(s: AppState, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (out, mut outbox) = mpsc::channel::<Message>(OUTBOX);
    let writer = tokio::spawn(async move {
        while let Some(m) = outbox.recv().await {
            let close = matches!(m, Message::Close(_));
            if sink.send(m).await.is_err() || close {
                break;
            }
        }
    });
    let window = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let per_sec = s.0.ws_rate;
    let mut bucket = Bucket {
        tokens: per_sec * 2.0,
        at: Instant::now(),
        per_sec,
    };
    let mut who: Option<Principal> = None;
    let close = |code: u16, reason: &'static str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        }))
    };
    loop {
        let frame = match tokio::time::timeout(IDLE, stream.next()).await {
            Ok(Some(Ok(m))) => m,
            Ok(Some(Err(_))) => {
                // Oversized or malformed at the protocol level: say why, then go.
                let _ = out.send(close(1009, "frame too large or malformed")).await;
                break;
            }
            Ok(None) => break,
            Err(_) => {
                let _ = out.send(close(1001, "idle timeout")).await;
                break;
            }
        };
        let body = match frame {
            Message::Text(t) => t,
            Message::Binary(_) => {
                let e = ApiError::bad_request("BINARY_NOT_SUPPORTED", "send JSON text frames");
                let _ = out.send(error(&Value::Null, &e)).await;
                continue;
            }
            Message::Close(_) => break,
            // Pings are answered by the library.
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if !bucket.take() {
            let e = ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                "too many messages on this connection; slow down",
            );
            let _ = out.send(error(&Value::Null, &e)).await;
            continue;
        }
        let mut map = match serde_json::from_str::<Value>(&body) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                let e = ApiError::bad_request("INVALID_MESSAGE", "send a JSON object with \"op\"");
                let _ = out.send(error(&Value::Null, &e)).await;
                continue;
            }
            Err(e) => {
                let e = ApiError::bad_request("MALFORMED_JSON", e.to_string());
                let _ = out.send(error(&Value::Null, &e)).await;
                continue;
            }
        };
        let request_id = map.remove("id").unwrap_or(Value::Null);
        let op = match map.remove("op") {
            Some(Value::String(op)) => op,
            _ => {
                let e = ApiError::bad_request("INVALID_MESSAGE", "every message names its \"op\"");
                let _ = out.send(error(&request_id, &e)).await;
                continue;
            }
        };
        match op.as_str() {
            "ping" => {
                let _ = out
                    .send(text(&json!({"type": "pong", "request_id": request_id})))
                    .await;
            }
            "auth" => {
                let token = map.get("token").and_then(Value::as_str).unwrap_or("");
                match s.0.directory.authenticate(token, now()) {
                    Some(p) => {
                        who = Some(p);
                        let account = p.account.map(|a| a.get().to_string());
                        let reply = json!({
                            "type": "authenticated",
                            "request_id": request_id,
                            "account_id": account,
                        });
                        let _ = out.send(text(&reply)).await;
                    }
                    None => {
                        let e = ApiError::unauthorized("unknown, expired or revoked credentials");
                        let _ = out.send(error(&request_id, &e)).await;
                    }
                }
            }
            "order" | "cancel" | "replace" => {
                let Some(p) = who else {
                    let e = ApiError::unauthorized("send {\"op\":\"auth\",\"token\":…} first");
                    let _ = out.send(error(&request_id, &e)).await;
                    continue;
                };
                // A full window stops reading this socket until answers drain.
                let Ok(permit) = window.clone().acquire_owned().await else {
                    break;
                };
                let (s, out) = (s.clone(), out.clone());
                tokio::spawn(async move {
                    let r = execute(&s, &p, &op, map).await;
                    let msg = match r {
                        Ok(report) => text(&json!({
                            "type": "execution_report",
                            "request_id": request_id,
                            "report": report,
                        })),
                        Err(e) => error(&request_id, &e),
                    };
                    let _ = out.send(msg).await;
                    drop(permit);
                });
            }
            other => {
                let e = ApiError::bad_request(
                    "UNKNOWN_OP",
                    format!("unknown op {other:?} (auth, order, cancel, replace, ping)"),
                );
                let _ = out.send(error(&request_id, &e)).await;
            }
        }
    }
    drop(out);
    let _ = writer.await;
}

async fn execute(
    s: &AppState,
    who: &Principal,
    op: &str,
    mut map: Map<String, Value>,
) -> Result<Value, ApiError> {
    let field = |e: serde_json::Error| ApiError::unprocessable("INVALID_FIELD", e.to_string());
    match op {
        "order" => {
            let body: NewOrder = serde_json::from_value(Value::Object(map)).map_err(field)?;
            submit(s, who, body).await.map(|r| json!(r))
        }
        "cancel" => {
            let id = order_id(&mut map)?;
            let account = map.get("account_id").and_then(Value::as_str);
            cancel(s, who, &id, account).await.map(|r| json!(r))
        }
        _ => {
            let id = order_id(&mut map)?;
            let body: Amend = serde_json::from_value(Value::Object(map)).map_err(field)?;
            replace(s, who, &id, body).await.map(|r| json!(r))
        }
    }
}

fn order_id(map: &mut Map<String, Value>) -> Result<String, ApiError> {
    match map.remove("order_id") {
        Some(Value::String(s)) => Ok(s),
        Some(Value::Number(n)) => Ok(n.to_string()),
        _ => Err(ApiError::unprocessable(
            "INVALID_FIELD",
            "order_id is required",
        )),
    }
}
