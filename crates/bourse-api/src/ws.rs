//! `/v1/ws`: market data, private channels and order entry on one WebSocket.
//!
//! ```text
//! → {"op":"subscribe","channels":["book","trades"],"symbols":["AAPL"]}
//!                                                  ← {"type":"book_snapshot","symbol":"AAPL","seq":41,…}
//!                                                  ← {"type":"subscribed","channels":[…],"symbols":[…],…}
//!                                                  ← {"type":"book","symbol":"AAPL","seq":42,…} …
//! → {"op":"unsubscribe","channels":["trades"],"symbols":["AAPL"]}
//! → {"op":"auth","token":"…"}                      ← {"type":"authenticated","account_id":"7"}
//!   (the web page sends `{"op":"auth"}`: the session cookie of the upgrade, same origin only)
//! → {"op":"subscribe","channels":["orders","account","alerts"]}
//! → {"op":"order","id":1,"symbol":"AAPL",…}        ← {"type":"execution_report","request_id":1,"report":{…order…}}
//! → {"op":"cancel","id":2,"order_id":"42"}         ← {"type":"execution_report","request_id":2,"report":{…}}
//! → {"op":"replace","id":3,"order_id":"42","qty":"5","limit_price":"190.10"}
//! → {"op":"ping"}                                  ← {"type":"pong"}
//!                                                  ← {"type":"heartbeat","seqs":{"AAPL":57}}
//!                                                  ← {"type":"error","request_id":…,"code":"…","message":"…"}
//!                                                  ← {"type":"auth_ended","code":"API_KEY_REVOKED",…}
//! ```
//!
//! Everything sent goes through the connection's outbox in `bourse-feed` (bounded in bytes;
//! book deltas conflated when the client lags; a client that stays behind is closed with a
//! reason). Order requests on one connection are pipelined (up to [`MAX_IN_FLIGHT`] at
//! once): each is checked as it is read, queued to the engine with a callback, and answered
//! by the publisher once the command is durable, straight into the outbox. Answers carry
//! the client's `id` verbatim as `request_id` and are the reports the REST routes give.
//! Frames are JSON text of at most [`MAX_FRAME`] bytes. The server pings every `ping_every`; a connection that sends nothing (pongs
//! count) for `idle_timeout` is closed.
//!
//! A connection's authority lasts as long as its credential: a log-out, a key revocation
//! (anywhere) or the session's expiry ends it at once (`auth_ended`; private channels
//! unsubscribed; private requests refused until a new `auth`).
//!
//! Must never: act before `auth`, or after its credential ended; let one connection's backlog grow without bound (a full
//! in-flight window stops reading from that socket); panic on any frame.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State as AxState;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use bourse_feed::{Conn, Feed, PrivateChannel};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::auth::{Principal, now};
use crate::error::ApiError;
use crate::gateway::{GatewayError, Reply};
use crate::orders::NewOrder;
use crate::state::AppState;
use crate::trading::{
    Amend, Submitted, cancel_command, canceled, replace_command, replaced, resent, submit_request,
    submitted,
};
use crate::wsframe::{ENVELOPE, ENVELOPE_WITH_ORDER, Envelope, error, fields};
use bourse_core::{Command, OrderId, OrderRequest};

/// Largest frame accepted.
pub const MAX_FRAME: usize = 16 * 1024;
/// Requests of one connection being processed at once.
pub const MAX_IN_FLIGHT: usize = 1_024;
/// Channel or symbol names in one subscribe.
const MAX_NAMES: usize = 256;

pub use crate::state::WsConfig;

/// Orders entered on a connection that asked for cancel-on-disconnect, with their account.
/// Retention: the ones no longer working are dropped whenever the set doubles past
/// [`ENTERED_PRUNE_AT`] (on the session's task, from the read model).
#[derive(Default)]
struct Entered {
    cancel_on_disconnect: bool,
    orders: rustc_hash::FxHashSet<(bourse_core::AccountId, OrderId)>,
    prune_at: usize,
}

const ENTERED_PRUNE_AT: usize = 4_096;

impl Entered {
    fn prune(&mut self, s: &AppState) {
        if self.orders.len() < self.prune_at.max(ENTERED_PRUNE_AT) {
            return;
        }
        let model = s.0.history.model().read();
        self.orders.retain(|&(account, id)| {
            model
                .order_state(account, id)
                .is_some_and(|o| o.status.is_open())
        });
        drop(model);
        self.prune_at = self.orders.len() * 2;
    }

    /// The session ended: its working orders go to the engine to be cancelled.
    fn cancel_all(&mut self, s: &AppState) {
        if !self.cancel_on_disconnect || self.orders.is_empty() {
            return;
        }
        let mut by_account: rustc_hash::FxHashMap<bourse_core::AccountId, Vec<OrderId>> =
            rustc_hash::FxHashMap::default();
        for (a, id) in self.orders.drain() {
            by_account.entry(a).or_default().push(id);
        }
        for (a, ids) in by_account {
            s.0.gateway.cancel_on_disconnect(a, ids);
        }
    }
}

/// Releases the connection's place in the feed however the session ends (also when the
/// upgrade never completes).
struct Place {
    feed: Arc<Feed>,
    conn: Arc<Conn>,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.feed.disconnect(&self.conn);
    }
}

pub(crate) async fn upgrade(
    AxState(s): AxState<AppState>,
    headers: axum::http::HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    // The browser sends the session cookie with any page's WebSocket to us: only our own
    // page may use it (cross-site WebSocket hijacking).
    let cookie = crate::cookie::session_cookie(&headers).map(str::to_owned);
    if cookie.is_some() && !crate::cookie::same_origin(&headers) {
        return ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "ORIGIN_REFUSED",
            "a WebSocket with the session cookie is opened from the exchange's own page",
        )
        .into_response();
    }
    let Some(conn) = s.0.feed.connect() else {
        return ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "TOO_MANY_CONNECTIONS",
            "the server holds as many WebSocket connections as it allows; retry later",
        )
        .into_response();
    };
    let place = Place {
        feed: s.0.feed.clone(),
        conn,
    };
    // Small buffers: an idle connection should cost little; they grow while busy.
    ws.max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(1 << 20)
        .on_upgrade(move |socket| session(s, socket, place, cookie))
}

/// `{"type":…,"request_id":…, …rest}`: `rest` is an object.
fn answer(kind: &str, request_id: &str, rest: &Value) -> Utf8Bytes {
    let mut out = format!(r#"{{"type":"{kind}","request_id":{request_id}"#);
    if let Value::Object(m) = rest {
        for (k, v) in m {
            out.push(',');
            out.push_str(&Value::from(k.as_str()).to_string());
            out.push(':');
            out.push_str(&v.to_string());
        }
    }
    out.push('}');
    Utf8Bytes::from(out)
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

fn close_frame(code: u16, reason: &str) -> Message {
    // A close reason is at most 123 bytes.
    let mut r = reason.to_owned();
    while r.len() > 123 {
        r.pop();
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(r),
    }))
}

/// Sends what the outbox holds, heartbeats and pings, until the connection closes.
async fn write_loop(
    feed: Arc<Feed>,
    conn: Arc<Conn>,
    mut sink: SplitSink<WebSocket, Message>,
    cfg: WsConfig,
) {
    let mut batch = Vec::new();
    let mut heartbeat = tokio::time::interval(cfg.heartbeat);
    let mut ping = tokio::time::interval(cfg.ping_every);
    heartbeat.reset();
    ping.reset();
    loop {
        tokio::select! {
            r = conn.recv(&mut batch) => match r {
                Ok(()) => {
                    for f in batch.drain(..) {
                        if sink.feed(Message::Text(f)).await.is_err() {
                            return;
                        }
                    }
                    if sink.flush().await.is_err() {
                        return;
                    }
                    feed.resync(&conn);
                }
                Err(reason) => {
                    let code = match reason.as_str() {
                        "closed" => 1000,
                        "idle timeout" => 1001,
                        r if r.starts_with("frame too large") => 1009,
                        // Policy: slow consumer.
                        _ => 1008,
                    };
                    let bye = sink.send(close_frame(code, &reason));
                    let _ = tokio::time::timeout(Duration::from_secs(1), bye).await;
                    return;
                }
            },
            _ = heartbeat.tick() => {
                if !feed.check_behind(&conn)
                    && let Some(f) = feed.heartbeat(&conn)
                {
                    conn.push(f);
                }
            }
            _ = ping.tick() => {
                if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// One connection; `cookie` is the session cookie its upgrade carried, which an `auth`
/// without a token uses.
async fn session(s: AppState, socket: WebSocket, place: Place, cookie: Option<String>) {
    let cfg = s.0.ws;
    let conn = place.conn.clone();
    let (sink, mut stream) = socket.split();
    let mut writer = tokio::spawn(write_loop(s.0.feed.clone(), conn.clone(), sink, cfg));
    let window = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut bucket = Bucket {
        tokens: cfg.rate * 2.0,
        at: Instant::now(),
        per_sec: cfg.rate,
    };
    let mut who: Option<Principal> = None;
    let entered = Arc::new(parking_lot::Mutex::new(Entered::default()));
    let rt = tokio::runtime::Handle::current();
    let say = |m: Utf8Bytes| {
        conn.push(m);
    };
    // Authority ends with the credential: a log-out or a key revocation anywhere wakes
    // `endings`, a session's expiry wakes `expiry`; then (and before every private request)
    // the credential is checked again.
    let directory = s.0.directory.clone();
    let mut endings = directory.endings();
    let mut expiry = Box::pin(tokio::time::sleep(Duration::from_secs(86_400)));
    let mut expires = false;
    // On an edge: the credential of the last `auth`, to ask the core again when the
    // edge's cached answer expires (kept by this connection only).
    let mut edge_token: Option<String> = None;
    let lose_authority = |who: &mut Option<Principal>| {
        let Some(p) = *who else { return };
        if let Err(ended) = directory.still_valid(&p.credential, now()) {
            *who = None;
            s.0.feed.unsubscribe_private(&conn, &PrivateChannel::ALL);
            conn.push(Utf8Bytes::from(
                json!({
                    "type": "auth_ended",
                    "code": ended.code(),
                    "message": format!(
                        "{}: private channels and order entry stop here; authenticate again",
                        ended.message()
                    ),
                })
                .to_string(),
            ));
        }
    };
    // Only what the client sends (pongs included) moves the idle deadline; the wake-ups
    // below must not.
    let mut idle_at = tokio::time::Instant::now() + cfg.idle_timeout;
    loop {
        let frame = tokio::select! {
            r = tokio::time::timeout_at(idle_at, stream.next()) => r,
            _ = conn.closed() => break,
            _ = &mut writer => {
                // The socket failed under the writer.
                entered.lock().cancel_all(&s);
                conn.close("closed");
                drop(place);
                return;
            }
            Ok(()) = endings.changed() => {
                lose_authority(&mut who);
                continue;
            }
            () = &mut expiry, if expires => {
                expires = false;
                // An edge's cached credential expires quickly: ask the core again, and go
                // on only if it still stands for the same account.
                if let (Some(edge), Some(token), Some(account)) =
                    (&s.0.edge, edge_token.as_deref(), who.and_then(|p| p.account))
                    && let Some(left) = edge.reverify(&directory, token, account).await
                {
                    expiry.as_mut().reset(tokio::time::Instant::now() + left);
                    expires = true;
                }
                lose_authority(&mut who);
                continue;
            }
        };
        let frame = match frame {
            Ok(Some(Ok(m))) => {
                idle_at = tokio::time::Instant::now() + cfg.idle_timeout;
                m
            }
            Ok(Some(Err(_))) => {
                // Oversized or malformed at the protocol level: say why, then go.
                conn.close("frame too large or malformed");
                break;
            }
            Ok(None) => break,
            Err(_) => {
                conn.close("idle timeout");
                break;
            }
        };
        let body = match frame {
            Message::Text(t) => t,
            Message::Binary(_) => {
                let e = ApiError::bad_request("BINARY_NOT_SUPPORTED", "send JSON text frames");
                say(error("null", &e));
                continue;
            }
            Message::Close(_) => break,
            // Pings are answered by the library; pongs only keep the connection alive.
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if !bucket.take() {
            let e = ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                "too many messages on this connection; slow down",
            );
            say(error("null", &e));
            continue;
        }
        let env = match Envelope::parse(&body) {
            Ok(env) => env,
            Err(e) => {
                say(error("null", &e));
                continue;
            }
        };
        let request_id = env.id();
        let Some(op) = env.op() else {
            let e = ApiError::bad_request("INVALID_MESSAGE", "every message names its \"op\"");
            say(error(request_id, &e));
            continue;
        };
        match op.as_ref() {
            "ping" => say(answer("pong", request_id, &Value::Null)),
            "auth" => {
                #[derive(Deserialize)]
                struct Token<'a> {
                    #[serde(borrow, default)]
                    token: Option<std::borrow::Cow<'a, str>>,
                    #[serde(default)]
                    cancel_on_disconnect: Option<bool>,
                }
                let parsed = serde_json::from_str::<Token<'_>>(&body).ok();
                let cod = parsed.as_ref().and_then(|t| t.cancel_on_disconnect);
                let token = parsed.and_then(|t| t.token);
                let token = token.as_deref().or(cookie.as_deref()).unwrap_or("");
                // On an edge, a credential it does not hold yet is asked of the core.
                if let Some(edge) = &s.0.edge
                    && !token.is_empty()
                    && s.0.directory.authenticate(token, now()).is_none()
                {
                    match edge.auth.verify(token.to_owned()).await {
                        Ok(Some(account)) => edge.remember(&s.0.directory, token, account),
                        Ok(None) => {}
                        Err(e) => {
                            say(error(request_id, &e));
                            continue;
                        }
                    }
                }
                match s.0.directory.authenticate(token, now()) {
                    Some(p) => {
                        if who.is_some_and(|w| w.account != p.account)
                            || !p.scopes.contains(bourse_core::Scopes::READ)
                        {
                            // Another identity, or one that may not read: the private
                            // channels held so far end here.
                            s.0.feed.unsubscribe_private(&conn, &PrivateChannel::ALL);
                        }
                        who = Some(p);
                        if s.0.edge.is_some() {
                            edge_token = Some(token.to_owned());
                        }
                        if let Some(c) = cod {
                            entered.lock().cancel_on_disconnect = c;
                        }
                        expires = match directory.expires_at(&p.credential) {
                            Some(at) => {
                                let left = at.get().saturating_sub(now().get());
                                expiry.as_mut().reset(
                                    tokio::time::Instant::now() + Duration::from_nanos(left),
                                );
                                true
                            }
                            None => false,
                        };
                        let account = p.account.map(|a| a.get().to_string());
                        let cod = entered.lock().cancel_on_disconnect;
                        say(answer(
                            "authenticated",
                            request_id,
                            &json!({ "account_id": account, "cancel_on_disconnect": cod }),
                        ));
                    }
                    None => {
                        let e = ApiError::unauthorized("unknown, expired or revoked credentials");
                        say(error(request_id, &e));
                    }
                }
            }
            "subscribe" | "unsubscribe" => {
                lose_authority(&mut who);
                let map = serde_json::from_str::<Map<String, Value>>(&body).unwrap_or_default();
                let mut r = subscription(&s, &conn, who.as_ref(), &op, &map);
                let mut resumed = None;
                if let Ok(Some((account, private, since))) = &r {
                    match crate::wsresume::resume(&s, &conn, *account, private, *since).await {
                        Ok(n) => resumed = Some(n),
                        Err(e) => r = Err(e),
                    }
                }
                match r {
                    Ok(_) => {
                        let (md, private) = s.0.feed.subscriptions(&conn);
                        let mut chans: Vec<&str> = md.iter().map(|(c, _)| c.as_str()).collect();
                        chans.extend(private.iter().map(|c| c.as_str()));
                        chans.sort_unstable();
                        chans.dedup();
                        let mut syms: Vec<String> =
                            md.iter().map(|(_, s)| s.as_str().to_owned()).collect();
                        syms.sort_unstable();
                        syms.dedup();
                        let pairs: Vec<String> = md
                            .iter()
                            .map(|(c, s)| format!("{}:{s}", c.as_str()))
                            .collect();
                        let kind = if op == "subscribe" {
                            "subscribed"
                        } else {
                            "unsubscribed"
                        };
                        let mut body = json!({
                            "channels": chans,
                            "symbols": syms,
                            "subscriptions": pairs,
                        });
                        if let Some(n) = resumed {
                            body["replayed"] = n.into();
                        }
                        say(answer(kind, request_id, &body));
                    }
                    Err(e) => say(error(request_id, &e)),
                }
            }
            "order" | "cancel" | "replace" => {
                if let Some(edge) = &s.0.edge {
                    say(error(request_id, &edge.use_core()));
                    continue;
                }
                lose_authority(&mut who);
                let Some(p) = who else {
                    let e = ApiError::unauthorized("send {\"op\":\"auth\",\"token\":…} first");
                    say(error(request_id, &e));
                    continue;
                };
                if let Err(e) = p.require(bourse_core::Scopes::TRADE) {
                    say(error(request_id, &e));
                    continue;
                }
                // A full window stops reading this socket until answers drain.
                let Ok(permit) = window.clone().acquire_owned().await else {
                    break;
                };
                // The wait for a place may have outlived the credential.
                lose_authority(&mut who);
                let Some(p) = who else {
                    let e = ApiError::unauthorized("send {\"op\":\"auth\",\"token\":…} first");
                    say(error(request_id, &e));
                    continue;
                };
                match prepare(&s, &p, &op, &env, &body) {
                    Ok((cmd, pending)) => {
                        let track = {
                            let mut e = entered.lock();
                            e.prune(&s);
                            e.cancel_on_disconnect.then(|| entered.clone())
                        };
                        let waiting = Waiting {
                            entered: track,
                            app: s.clone(),
                            rt: rt.clone(),
                            conn: conn.clone(),
                            request_id: request_id.into(),
                            pending,
                            permit,
                        };
                        s.0.gateway.call(cmd, Box::new(move |r| waiting.answer(r)));
                    }
                    Err(e) => say(error(request_id, &e)),
                }
            }
            other => {
                let e = ApiError::bad_request(
                    "UNKNOWN_OP",
                    format!(
                        "unknown op {other:?} (subscribe, unsubscribe, auth, order, cancel, \
                         replace, ping)"
                    ),
                );
                say(error(request_id, &e));
            }
        }
    }
    // However it ended (close, drop, idle timeout), a session that asked for it cancels the
    // orders it entered.
    entered.lock().cancel_all(&s);
    // Let the writer deliver the close frame (with the reason), then stop it.
    conn.close("closed");
    if tokio::time::timeout(Duration::from_secs(2), &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    drop(place);
}

/// A list of names in a subscribe message (`channels` or `symbols`).
fn names(map: &Map<String, Value>, key: &str) -> Result<Vec<String>, ApiError> {
    let bad = || {
        ApiError::bad_request(
            "INVALID_MESSAGE",
            format!("{key:?} is a list of at most {MAX_NAMES} strings"),
        )
    };
    match map.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) if a.len() <= MAX_NAMES => a
            .iter()
            .map(|v| v.as_str().map(str::to_ascii_lowercase).ok_or_else(bad))
            .collect(),
        Some(_) => Err(bad()),
    }
}

/// A private subscription to resume from an `account_seq`: the account, its channels and
/// the number.
type Resume = (bourse_core::AccountId, Vec<PrivateChannel>, u64);

/// Subscribes or unsubscribes; a private subscription with `since` is left to the caller
/// to resume (it may read history).
fn subscription(
    s: &AppState,
    conn: &Arc<Conn>,
    who: Option<&Principal>,
    op: &str,
    map: &Map<String, Value>,
) -> Result<Option<Resume>, ApiError> {
    let feed = &s.0.feed;
    let channels = names(map, "channels")?;
    let since = match map.get("since") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "INVALID_MESSAGE",
                        "\"since\" is the last account_seq seen: a whole number",
                    )
                })?,
        ),
    };
    let symbols: Vec<String> = names(map, "symbols")?
        .into_iter()
        .map(|s| s.to_ascii_uppercase())
        .collect();
    if channels.is_empty() {
        return Err(ApiError::bad_request(
            "INVALID_MESSAGE",
            "name at least one channel: book, trades, ticker, candles; after auth orders, \
             account, alerts",
        ));
    }
    let (private, public): (Vec<String>, Vec<String>) = channels
        .into_iter()
        .partition(|c| PrivateChannel::parse(c).is_some());
    let private: Vec<PrivateChannel> = private
        .iter()
        .filter_map(|c| PrivateChannel::parse(c))
        .collect();
    if !public.is_empty() && symbols.is_empty() {
        return Err(ApiError::bad_request(
            "INVALID_MESSAGE",
            "market-data channels need \"symbols\"",
        ));
    }
    if since.is_some() && (private.is_empty() || op != "subscribe") {
        return Err(ApiError::bad_request(
            "INVALID_MESSAGE",
            "\"since\" resumes a subscription to private channels: orders, account, alerts",
        ));
    }
    let account = if private.is_empty() {
        None
    } else {
        let Some(p) = who else {
            return Err(ApiError::unauthorized(
                "private channels need {\"op\":\"auth\",\"token\":…} first",
            ));
        };
        if op == "subscribe" {
            p.require(bourse_core::Scopes::READ)?;
        }
        if p.account.is_none() {
            return Err(ApiError::forbidden(
                "the operator has no account: private channels are a trader's",
            ));
        }
        // A broker may follow one of its customers' accounts instead of its own.
        let named = map.get("account_id").and_then(Value::as_str);
        let a = p.acting_for(named, &s.0.directory)?;
        if op == "subscribe" && s.0.feed.private_account(conn).is_some_and(|held| held != a) {
            return Err(ApiError::bad_request(
                "INVALID_MESSAGE",
                "a connection follows one account's private channels: unsubscribe first",
            ));
        }
        Some(a)
    };
    let refused = |e: bourse_feed::SubscribeError| {
        let status = match e {
            bourse_feed::SubscribeError::TooManySubscriptions(_) => {
                axum::http::StatusCode::TOO_MANY_REQUESTS
            }
            bourse_feed::SubscribeError::UnknownSymbol(_) => axum::http::StatusCode::NOT_FOUND,
            bourse_feed::SubscribeError::UnknownChannel(_) => axum::http::StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.code(), e.to_string())
    };
    if op == "subscribe" {
        if !public.is_empty() {
            feed.subscribe(conn, &public, &symbols).map_err(refused)?;
        }
        if let Some(a) = account {
            if let Some(since) = since {
                return Ok(Some((a, private, since)));
            }
            feed.subscribe_private(conn, a, &private);
        }
    } else {
        if !public.is_empty() {
            feed.unsubscribe(conn, &public, &symbols).map_err(refused)?;
        }
        if !private.is_empty() {
            feed.unsubscribe_private(conn, &private);
        }
    }
    Ok(None)
}

/// An order request checked and queued, waiting for its outcome.
enum Pending {
    Order(OrderRequest),
    Cancel(OrderId),
    Replace(OrderId),
}

/// Checks an order-entry request and makes its command; nothing reaches the engine when
/// this fails.
fn prepare(
    s: &AppState,
    who: &Principal,
    op: &str,
    env: &Envelope<'_>,
    text: &str,
) -> Result<(Command, Pending), ApiError> {
    match op {
        "order" => {
            let body: NewOrder = fields(text, ENVELOPE)?;
            let (req, cmd) = submit_request(s, who, &body)?;
            Ok((cmd, Pending::Order(req)))
        }
        "cancel" => {
            #[derive(Deserialize)]
            #[serde(deny_unknown_fields)]
            struct CancelBody {
                #[serde(default)]
                account_id: Option<String>,
            }
            let id = env.order_id()?;
            let body: CancelBody = fields(text, ENVELOPE_WITH_ORDER)?;
            let (cmd, order_id) = cancel_command(s, who, &id, body.account_id.as_deref())?;
            Ok((cmd, Pending::Cancel(order_id)))
        }
        _ => {
            let id = env.order_id()?;
            let body: Amend = fields(text, ENVELOPE_WITH_ORDER)?;
            let (cmd, order_id) = replace_command(s, who, &id, &body)?;
            Ok((cmd, Pending::Replace(order_id)))
        }
    }
}

/// Everything needed to answer a queued request from the publisher's thread.
struct Waiting {
    /// Where an order that rests is recorded, for cancel-on-disconnect.
    entered: Option<Arc<parking_lot::Mutex<Entered>>>,
    app: AppState,
    rt: tokio::runtime::Handle,
    conn: Arc<Conn>,
    request_id: Box<str>,
    pending: Pending,
    /// The request's place in the connection's window, given back with the answer.
    permit: OwnedSemaphorePermit,
}

impl Waiting {
    /// Writes the answer into the connection's outbox.
    fn answer(self, outcome: Result<Reply, GatewayError>) {
        let id = &*self.request_id;
        let reply = match outcome {
            Ok(r) => r,
            Err(e) => {
                self.conn.push(error(id, &ApiError::from(e)));
                return;
            }
        };
        let frame = match self.pending {
            Pending::Order(req) => match submitted(&reply, &req) {
                Ok(Submitted::Report(view)) => {
                    if let Some(e) = &self.entered
                        && crate::orders::OrderStatus::parse(view.status)
                            .is_some_and(crate::orders::OrderStatus::is_open)
                        && let Ok(order_id) = crate::orders::parse_order_id(&view.id)
                    {
                        e.lock().orders.insert((req.account, order_id));
                    }
                    crate::wsframe::report(id, &view)
                }
                Ok(Submitted::Resent(original)) => {
                    // The order the id created is read from the history: off this thread.
                    let Waiting {
                        app,
                        rt,
                        conn,
                        request_id,
                        permit,
                        ..
                    } = self;
                    rt.spawn(async move {
                        let frame = match resent(&app, &req, original).await {
                            Ok(view) => crate::wsframe::report(&request_id, &view),
                            Err(e) => error(&request_id, &e),
                        };
                        conn.push(frame);
                        drop(permit);
                    });
                    return;
                }
                Err(e) => error(id, &e),
            },
            Pending::Cancel(order_id) => match canceled(order_id, &reply) {
                Ok(view) => crate::wsframe::report(id, &view),
                Err(e) => error(id, &e),
            },
            Pending::Replace(order_id) => match replaced(order_id, &reply) {
                Ok(view) => crate::wsframe::report(id, &view),
                Err(e) => error(id, &e),
            },
        };
        self.conn.push(frame);
    }
}
