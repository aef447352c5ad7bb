//! One FIX connection: the logon handshake, then a loop over the socket, the account's
//! released events, the outcomes of the session's own requests and a one-second tick for
//! heartbeats. The session-level rules live here; the application messages in
//! [`crate::app`].

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bourse_api::auth::{Credential, Principal};
use bourse_core::Scopes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::app::App;
use crate::codec::{self, Frame, Header, Message, Outgoing};
use crate::hub::{FixHub, FixServices};
use crate::input::Input;
use crate::store::Store;

/// The acceptor's settings.
#[derive(Debug, Clone)]
pub struct FixConfig {
    /// Our CompID: every message's TargetCompID must be it.
    pub comp_id: String,
    /// Where each session keeps its sequence numbers and sent messages.
    pub store_dir: PathBuf,
    /// How long a new connection has to send its Logon.
    pub logon_timeout: Duration,
    /// Released-event batches and outcomes that may wait for one session.
    pub queue: usize,
    /// Cancel the session's orders when it ends unless the Logon says otherwise (tag 8013).
    pub cancel_on_disconnect_default: bool,
}

impl Default for FixConfig {
    fn default() -> Self {
        FixConfig {
            comp_id: "BOURSE".to_owned(),
            store_dir: PathBuf::from("data/fix"),
            logon_timeout: Duration::from_secs(10),
            queue: 4_096,
            cancel_on_disconnect_default: false,
        }
    }
}

/// SessionRejectReason (373) values we send.
pub(crate) mod reject {
    pub(crate) const REQUIRED_TAG_MISSING: u32 = 1;
    pub(crate) const VALUE_INCORRECT: u32 = 5;
    pub(crate) const INCORRECT_FORMAT: u32 = 6;
    pub(crate) const COMP_ID_PROBLEM: u32 = 9;
    pub(crate) const INVALID_MSG_TYPE: u32 = 11;
    pub(crate) const TAG_APPEARS_TWICE: u32 = 13;
}

/// Accepts connections until `shutdown` turns true. `tls` wraps each connection when the
/// server has a certificate.
pub async fn serve(
    listener: TcpListener,
    cfg: Arc<FixConfig>,
    services: FixServices,
    hub: Arc<FixHub>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        let (tcp, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("fix accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let (cfg, services, hub, tls, shutdown) = (
            cfg.clone(),
            services.clone(),
            hub.clone(),
            tls.clone(),
            shutdown.clone(),
        );
        tokio::spawn(async move {
            let result = match tls {
                Some(acceptor) => {
                    match tokio::time::timeout(cfg.logon_timeout, acceptor.accept(tcp)).await {
                        Ok(Ok(s)) => connection(s, cfg, services, hub, shutdown).await,
                        Ok(Err(e)) => Err(format!("TLS handshake: {e}")),
                        Err(_) => Err("TLS handshake timed out".to_owned()),
                    }
                }
                None => connection(tcp, cfg, services, hub, shutdown).await,
            };
            match result {
                Ok(()) => tracing::debug!(%peer, "fix connection closed"),
                Err(why) => tracing::info!(%peer, "fix connection ended: {why}"),
            }
        });
    }
}

/// Reads whole messages off a socket.
struct Reader<R> {
    io: R,
    buf: Vec<u8>,
}

enum Read {
    Message(Message),
    /// A framed message whose fields cannot be read: counted, then rejected.
    Unreadable(codec::FieldError, Option<u64>),
    Closed,
}

impl<R> Reader<R> {
    /// A whole, readable message already in the buffer, without reading the socket.
    /// Anything else (garbage, an unreadable message) is left for [`Reader::next`].
    fn buffered(&mut self, hub: &FixHub) -> Option<Message> {
        let Frame::Message(n) = codec::frame(&self.buf) else {
            return None;
        };
        let m = Message::parse(&self.buf[..n]).ok()?;
        self.buf.drain(..n);
        hub.messages_in.fetch_add(1, Ordering::Relaxed);
        Some(m)
    }
}

impl<R: AsyncRead + Unpin> Reader<R> {
    async fn next(&mut self, hub: &FixHub) -> Result<Read, String> {
        loop {
            match codec::frame(&self.buf) {
                Frame::Message(n) => {
                    let bytes: Vec<u8> = self.buf.drain(..n).collect();
                    hub.messages_in.fetch_add(1, Ordering::Relaxed);
                    return Ok(match Message::parse(&bytes) {
                        Ok(m) => Read::Message(m),
                        Err(e) => Read::Unreadable(e, seq_of(&bytes)),
                    });
                }
                Frame::Garbled(n, why) => {
                    hub.garbled.fetch_add(1, Ordering::Relaxed);
                    tracing::info!("fix: dropped {n} garbled bytes ({why})");
                    self.buf.drain(..n);
                    continue;
                }
                Frame::Broken(why) => return Err(why.to_owned()),
                Frame::Incomplete => {}
            }
            if self.buf.len() > codec::MAX_MESSAGE * 2 {
                return Err("message too large".to_owned());
            }
            let n = self
                .io
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Ok(Read::Closed);
            }
        }
    }
}

/// MsgSeqNum of a message whose fields could not all be read.
fn seq_of(bytes: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(bytes);
    text.split('\x01')
        .find_map(|f| f.strip_prefix("34="))
        .and_then(|v| v.parse().ok())
}

/// What the session asks of the loop after a message.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Next {
    Continue,
    /// Send what is queued, then close (after a Logout of ours, or answering theirs).
    Close(String),
}

/// The session's state once logged on.
pub(crate) struct Session {
    pub ours: String,
    pub theirs: String,
    pub store: Store,
    pub heartbeat: Duration,
    pub last_in: Instant,
    pub last_out: Instant,
    pub test_sent: Option<Instant>,
    pub test_count: u64,
    /// We asked for a resend up to here (inclusive; `u64::MAX` for "everything").
    pub resend_asked: Option<u64>,
    /// Framed messages waiting to be written.
    pub out: Vec<Vec<u8>>,
    pub hub: Arc<FixHub>,
    /// We sent a Logout and wait for theirs.
    pub logout_sent: bool,
}

impl Session {
    /// Stamps, stores (application messages) and queues a message.
    pub(crate) fn send(&mut self, m: Outgoing) {
        let seq = self.store.next_out();
        let now = codec::utc_timestamp(bourse_api::auth::now().get());
        let bytes = codec::encode(
            &Header {
                sender: &self.ours,
                target: &self.theirs,
                seq,
                sending_time: &now,
                orig_sending_time: None,
            },
            m.msg_type,
            &m.body,
        );
        let keep = (!m.is_admin()).then_some(bytes.as_slice());
        if let Err(e) = self.store.sent(seq, keep) {
            // Sent anyway: a resend of it will gap-fill instead.
            tracing::error!(store = %self.store.dir().display(), "fix store: {e}");
        }
        self.out.push(bytes);
    }

    fn session_reject(
        &mut self,
        ref_seq: u64,
        ref_type: &str,
        tag: Option<u32>,
        why: u32,
        text: &str,
    ) {
        let mut m = Outgoing::new("3").with(45, ref_seq);
        if let Some(t) = tag {
            m.set(371, t);
        }
        if !ref_type.is_empty() {
            m.set(372, ref_type);
        }
        m.set(373, why);
        m.set(58, text);
        self.send(m);
    }

    fn logout(&mut self, text: &str) -> Next {
        self.send(Outgoing::new("5").with(58, text));
        self.logout_sent = true;
        Next::Close(text.to_owned())
    }

    /// Answers a ResendRequest from the store: stored application messages again with
    /// PossDupFlag and OrigSendingTime, runs of session messages as one
    /// SequenceReset-GapFill each.
    fn resend(&mut self, begin: u64, end: u64) {
        let last = self.store.next_out().saturating_sub(1);
        let end = if end == 0 || end > last { last } else { end };
        if begin == 0 || begin > end {
            return;
        }
        let stored = match self.store.range(begin, end) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("fix store read: {e}");
                Vec::new()
            }
        };
        let now = codec::utc_timestamp(bourse_api::auth::now().get());
        let mut next = begin;
        let mut frames = Vec::new();
        let gap_fill = |from: u64, to: u64, frames: &mut Vec<Vec<u8>>, s: &Session| {
            frames.push(codec::encode(
                &Header {
                    sender: &s.ours,
                    target: &s.theirs,
                    seq: from,
                    sending_time: &now,
                    orig_sending_time: Some(&now),
                },
                "4",
                &[(123, "Y".to_owned()), (36, to.to_string())],
            ));
        };
        for (seq, bytes) in stored {
            if seq > next {
                gap_fill(next, seq, &mut frames, self);
            }
            match Message::parse(&bytes) {
                Ok(orig) => {
                    let sent_at = orig.get(52).unwrap_or(&now).to_owned();
                    frames.push(codec::encode(
                        &Header {
                            sender: &self.ours,
                            target: &self.theirs,
                            seq,
                            sending_time: &now,
                            orig_sending_time: Some(&sent_at),
                        },
                        orig.msg_type(),
                        &codec::body_of(&orig),
                    ));
                }
                Err(_) => gap_fill(seq, seq + 1, &mut frames, self),
            }
            next = seq + 1;
        }
        if next <= end {
            gap_fill(next, end + 1, &mut frames, self);
        }
        self.out.extend(frames);
    }

    /// Session-level handling of one inbound message after logon. Application messages go
    /// to `app`.
    fn on_message(&mut self, m: &Message, app: &mut App) -> Next {
        self.last_in = Instant::now();
        let msg_type = m.msg_type().to_owned();
        let Some(seq) = m.seq() else {
            return self.logout("MsgSeqNum (34) missing");
        };
        if m.get(49) != Some(self.theirs.as_str()) || m.get(56) != Some(self.ours.as_str()) {
            self.session_reject(
                seq,
                &msg_type,
                Some(if m.get(49) != Some(self.theirs.as_str()) {
                    49
                } else {
                    56
                }),
                reject::COMP_ID_PROBLEM,
                "CompID problem",
            );
            return self.logout("CompID problem");
        }
        // SequenceReset-Reset moves the expected number whatever MsgSeqNum says.
        if msg_type == "4" && !m.flag(123) {
            return self.sequence_reset(m, seq);
        }
        let expected = self.store.next_in();
        if seq < expected {
            if m.flag(43) {
                return Next::Continue; // a duplicate we already processed
            }
            return self.logout(&format!(
                "MsgSeqNum too low, expecting {expected} but received {seq}"
            ));
        }
        if seq > expected {
            // Ask once for everything from the gap on; the counterparty resends this one too.
            if self.resend_asked.is_none_or(|to| to < seq) {
                self.send(Outgoing::new("2").with(7, expected).with(16, 0));
                self.resend_asked = Some(u64::MAX);
            }
            if msg_type == "5" {
                return self.logout("logout while messages are missing");
            }
            return Next::Continue;
        }
        if self.resend_asked.is_some() && !m.flag(43) && msg_type != "4" {
            // The gap is filled once the counterparty sends new messages again.
            self.resend_asked = None;
        }
        self.set_next_in(seq + 1);
        if let Some(tag) = m.repeated_tag() {
            self.session_reject(
                seq,
                &msg_type,
                Some(tag),
                reject::TAG_APPEARS_TWICE,
                "tag appears more than once",
            );
            return Next::Continue;
        }
        match msg_type.as_str() {
            "0" => {
                if m.get(112).is_some() {
                    self.test_sent = None;
                }
                Next::Continue
            }
            "1" => {
                let id = m.get(112).unwrap_or("").to_owned();
                if id.is_empty() {
                    self.session_reject(
                        seq,
                        "1",
                        Some(112),
                        reject::REQUIRED_TAG_MISSING,
                        "TestReqID (112) missing",
                    );
                } else {
                    self.send(Outgoing::new("0").with(112, id));
                }
                Next::Continue
            }
            "2" => {
                let (Some(b), Some(e)) = (
                    m.get(7).and_then(|v| v.parse::<u64>().ok()),
                    m.get(16).and_then(|v| v.parse::<u64>().ok()),
                ) else {
                    self.session_reject(
                        seq,
                        "2",
                        Some(7),
                        reject::REQUIRED_TAG_MISSING,
                        "BeginSeqNo (7) and EndSeqNo (16) are required",
                    );
                    return Next::Continue;
                };
                self.resend(b, e);
                Next::Continue
            }
            "3" => {
                tracing::info!(
                    text = m.get(58).unwrap_or(""),
                    "fix: counterparty rejected our message {}",
                    m.get(45).unwrap_or("?")
                );
                Next::Continue
            }
            "4" => self.gap_fill(m, seq),
            "5" => {
                if self.logout_sent {
                    Next::Close("logged out".to_owned())
                } else {
                    self.send(Outgoing::new("5"));
                    Next::Close("counterparty logged out".to_owned())
                }
            }
            "A" => {
                self.session_reject(
                    seq,
                    "A",
                    Some(35),
                    reject::VALUE_INCORRECT,
                    "already logged on",
                );
                Next::Continue
            }
            _ => {
                app.on_message(self, m, seq);
                Next::Continue
            }
        }
    }

    fn set_next_in(&mut self, n: u64) {
        if let Err(e) = self.store.set_next_in(n) {
            tracing::error!("fix store: {e}");
        }
    }

    fn gap_fill(&mut self, m: &Message, seq: u64) -> Next {
        match m.get(36).and_then(|v| v.parse::<u64>().ok()) {
            Some(n) if n > seq => {
                self.set_next_in(n);
                Next::Continue
            }
            Some(_) => {
                self.session_reject(
                    seq,
                    "4",
                    Some(36),
                    reject::VALUE_INCORRECT,
                    "NewSeqNo must be above MsgSeqNum",
                );
                Next::Continue
            }
            None => {
                self.session_reject(
                    seq,
                    "4",
                    Some(36),
                    reject::REQUIRED_TAG_MISSING,
                    "NewSeqNo (36) missing",
                );
                Next::Continue
            }
        }
    }

    fn sequence_reset(&mut self, m: &Message, seq: u64) -> Next {
        match m.get(36).and_then(|v| v.parse::<u64>().ok()) {
            Some(n) if n >= self.store.next_in() => {
                self.set_next_in(n);
                self.resend_asked = None;
            }
            Some(_) => self.session_reject(
                seq,
                "4",
                Some(36),
                reject::VALUE_INCORRECT,
                "NewSeqNo may not go back",
            ),
            None => self.session_reject(
                seq,
                "4",
                Some(36),
                reject::REQUIRED_TAG_MISSING,
                "NewSeqNo (36) missing",
            ),
        }
        Next::Continue
    }

    /// Heartbeats, and a TestRequest then a disconnect for a silent counterparty.
    fn tick(&mut self, now: Instant) -> Next {
        if let Some(at) = self.test_sent {
            if now.duration_since(at) >= self.heartbeat {
                return Next::Close("heartbeat timeout: no answer to a TestRequest".to_owned());
            }
        } else if now.duration_since(self.last_in) >= self.heartbeat + self.heartbeat / 5 {
            self.test_count += 1;
            let id = format!("TEST-{}", self.test_count);
            self.send(Outgoing::new("1").with(112, id));
            self.test_sent = Some(now);
        }
        if now.duration_since(self.last_out) >= self.heartbeat {
            self.send(Outgoing::new("0"));
        }
        Next::Continue
    }
}

/// Reads the account's stream after `from` from history and reports it (see
/// [`crate::catchup`]). Called after the session listens for live events and was seeded,
/// so the stream read reaches at least as far as both.
async fn catch_up(
    services: &FixServices,
    account: bourse_core::AccountId,
    from: u64,
    app: &mut App,
    s: &mut Session,
) -> Result<(), String> {
    let mut missed = Vec::new();
    let mut after = from;
    loop {
        let page = services
            .history
            .events(account, after, crate::catchup::PAGE)
            .await
            .map_err(|e| format!("the reports missed since the last logon cannot be read: {e}"))?;
        let Some(last) = page.events.last() else {
            break;
        };
        after = last.aseq;
        missed.extend(
            page.events
                .into_iter()
                .filter(|t| crate::catchup::order_of(&t.event).is_some()),
        );
        if missed.len() > crate::catchup::MAX_MISSED {
            // Too far behind to replay report by report: from now on, and say so.
            app.start_after(s, services.history.model().read().last_account_seq(account));
            return Err(format!(
                "more than {} order events happened while the session was away: read the \
                 orders afresh (OrderStatusRequest or REST) and log on again",
                crate::catchup::MAX_MISSED
            ));
        }
        if after >= page.last_account_seq {
            break;
        }
    }
    let mut ended = rustc_hash::FxHashMap::default();
    for id in app.to_look_up(&missed) {
        match services.history.order(account, id).await {
            Ok(Some(v)) => {
                ended.insert(id, v);
            }
            Ok(None) => {}
            Err(e) => return Err(format!("the history cannot be read: {e}")),
        }
    }
    app.catch_up(s, from, &missed, &ended);
    tracing::info!(
        account = account.get(),
        from,
        reports = missed.len(),
        "fix session caught up"
    );
    Ok(())
}

async fn flush<W: AsyncWrite + Unpin>(w: &mut W, s: &mut Session) -> Result<(), String> {
    // The store first: nothing reaches the counterparty that a restart would not resend, and
    // the inbound number is on disk before anything else is read.
    if let Err(e) = s.store.flush() {
        tracing::error!(store = %s.store.dir().display(), "fix store: {e}");
    }
    if s.out.is_empty() {
        return Ok(());
    }
    let n = s.out.len() as u64;
    let mut all = Vec::with_capacity(s.out.iter().map(Vec::len).sum());
    for f in s.out.drain(..) {
        all.extend_from_slice(&f);
    }
    s.hub.messages_out.fetch_add(n, Ordering::Relaxed);
    s.last_out = Instant::now();
    w.write_all(&all).await.map_err(|e| e.to_string())
}

/// A refusal before the session exists: a Logout with the reason, unsequenced (seq 1 of a
/// session that never started), then the socket closes.
async fn refuse<W: AsyncWrite + Unpin>(w: &mut W, ours: &str, theirs: &str, seq: u64, text: &str) {
    let now = codec::utc_timestamp(bourse_api::auth::now().get());
    let bytes = codec::encode(
        &Header {
            sender: ours,
            target: theirs,
            seq,
            sending_time: &now,
            orig_sending_time: None,
        },
        "5",
        &[(58, text.to_owned())],
    );
    let _ = w.write_all(&bytes).await;
    let _ = w.shutdown().await;
}

/// A SenderCompID we accept, which also names the session's store directory.
fn valid_comp_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// Checks the Logon's API key: Username (553) is the key's id, Password (554) its secret.
fn authenticate(services: &FixServices, m: &Message) -> Result<(Principal, u64), &'static str> {
    let (Some(user), Some(secret)) = (m.get(553), m.get(554)) else {
        return Err("Logon needs Username (553, the API key id) and Password (554, its secret)");
    };
    let key: u64 = user.parse().map_err(|_| "invalid API key or secret")?;
    let who = services
        .directory
        .authenticate(secret, bourse_api::auth::now())
        .ok_or("invalid API key or secret")?;
    if who.credential != Credential::ApiKey(key) {
        return Err("invalid API key or secret");
    }
    if !who.scopes.contains(Scopes::TRADE) {
        return Err("the API key lacks the trade scope");
    }
    Ok((who, key))
}

async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    cfg: Arc<FixConfig>,
    services: FixServices,
    hub: Arc<FixHub>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), String> {
    let (rd, mut wr) = tokio::io::split(stream);
    let mut reader = Reader {
        io: rd,
        buf: Vec::with_capacity(8192),
    };
    // Logon first.
    let logon = match tokio::time::timeout(cfg.logon_timeout, reader.next(&hub)).await {
        Err(_) => return Err("no Logon in time".to_owned()),
        Ok(Err(e)) => return Err(e),
        Ok(Ok(Read::Closed)) => return Ok(()),
        Ok(Ok(Read::Unreadable(..))) => return Err("unreadable first message".to_owned()),
        Ok(Ok(Read::Message(m))) => m,
    };
    let theirs = logon.get(49).unwrap_or("").to_owned();
    let ours = cfg.comp_id.clone();
    if logon.msg_type() != "A" {
        return Err(format!(
            "first message was {:?}, not a Logon",
            logon.msg_type()
        ));
    }
    if !valid_comp_id(&theirs) {
        refuse(
            &mut wr,
            &ours,
            "UNKNOWN",
            1,
            "SenderCompID must be 1-64 of A-Z a-z 0-9 _ - .",
        )
        .await;
        return Err("bad SenderCompID".to_owned());
    }
    if logon.get(56) != Some(ours.as_str()) {
        refuse(
            &mut wr,
            &ours,
            &theirs,
            1,
            &format!("TargetCompID must be {ours}"),
        )
        .await;
        return Err("wrong TargetCompID".to_owned());
    }
    let (who, key) = match authenticate(&services, &logon) {
        Ok(x) => x,
        Err(why) => {
            refuse(&mut wr, &ours, &theirs, 1, why).await;
            return Err(format!("logon refused: {why}"));
        }
    };
    let Some(account) = who.account else {
        refuse(&mut wr, &ours, &theirs, 1, "the key acts for no account").await;
        return Err("no account".to_owned());
    };
    let hb = logon
        .get(108)
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|&s| (1..=300).contains(&s));
    let Some(hb) = hb else {
        refuse(
            &mut wr,
            &ours,
            &theirs,
            1,
            "HeartBtInt (108) must be 1-300 seconds",
        )
        .await;
        return Err("bad HeartBtInt".to_owned());
    };
    let cancel_on_disconnect = match logon.get(8013) {
        Some("Y") => true,
        Some("N") => false,
        _ => cfg.cancel_on_disconnect_default,
    };
    let (tx, mut rx) = mpsc::channel::<Input>(cfg.queue.max(16));
    let overrun = Arc::new(AtomicBool::new(false));
    let Some(_claim) = hub.claim(key, account, tx.clone(), overrun.clone()) else {
        refuse(
            &mut wr,
            &ours,
            &theirs,
            1,
            "this API key already has a live FIX session",
        )
        .await;
        return Err("second session for one key".to_owned());
    };
    let dir = cfg.store_dir.join(format!("{key}-{theirs}"));
    let store = Store::open(&dir).map_err(|e| format!("fix store {}: {e}", dir.display()))?;
    let mut s = Session {
        ours,
        theirs,
        store,
        heartbeat: Duration::from_secs(hb),
        last_in: Instant::now(),
        last_out: Instant::now(),
        test_sent: None,
        test_count: 0,
        resend_asked: None,
        out: Vec::new(),
        hub: hub.clone(),
        logout_sent: false,
    };
    let Some(seq) = logon.seq() else {
        refuse(
            &mut wr,
            &s.ours,
            &s.theirs,
            s.store.next_out(),
            "MsgSeqNum (34) missing",
        )
        .await;
        return Err("Logon without MsgSeqNum".to_owned());
    };
    let reset = logon.flag(141);
    if reset {
        s.store
            .reset()
            .map_err(|e| format!("fix store reset: {e}"))?;
        if seq != 1 {
            refuse(
                &mut wr,
                &s.ours,
                &s.theirs,
                1,
                "a Logon with ResetSeqNumFlag must have MsgSeqNum 1",
            )
            .await;
            return Err("reset logon with seq != 1".to_owned());
        }
    }
    let expected = s.store.next_in();
    if seq < expected {
        let text = format!("MsgSeqNum too low, expecting {expected} but received {seq}");
        let out = s.store.next_out();
        refuse(&mut wr, &s.ours, &s.theirs, out, &text).await;
        let _ = s.store.sent(out, None);
        let _ = s.store.flush();
        return Err(text);
    }
    let mut reply = Outgoing::new("A").with(98, 0).with(108, hb);
    if reset {
        reply.set(141, "Y");
    }
    s.send(reply);
    if seq > expected {
        s.send(Outgoing::new("2").with(7, expected).with(16, 0));
        s.resend_asked = Some(u64::MAX);
    } else {
        s.set_next_in(seq + 1);
    }
    tracing::info!(account = account.get(), key, sender = %s.theirs, reset, "fix session logged on");
    let mut app = App::new(
        services.clone(),
        who,
        account,
        tx,
        overrun.clone(),
        cancel_on_disconnect,
    );
    app.seed();
    match s.store.stream() {
        // What happened while the session was away, before anything live.
        Some(from) => {
            if let Err(e) = catch_up(&services, account, from, &mut app, &mut s).await {
                s.logout(&e);
                let _ = flush(&mut wr, &mut s).await;
                return Err(e);
            }
        }
        // A new session reports from now on: the read model is ahead of the live events
        // (it is released to first), so any event at or below its number that still
        // arrives is skipped.
        None => {
            let now = services.history.model().read().last_account_seq(account);
            app.start_after(&mut s, now);
        }
    }
    flush(&mut wr, &mut s).await?;

    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut endings = services.directory.endings();
    let end: Result<String, String> = loop {
        let next = tokio::select! {
            r = reader.next(&hub) => match r {
                Err(e) => break Err(e),
                Ok(Read::Closed) => break Err("connection dropped".to_owned()),
                Ok(Read::Unreadable(e, seq)) => {
                    // Counted (it framed), then rejected.
                    if let Some(q) = seq.filter(|&q| q == s.store.next_in()) {
                        s.set_next_in(q + 1);
                        s.session_reject(q, "", Some(e.tag).filter(|&t| t > 0), reject::INCORRECT_FORMAT, e.reason);
                    }
                    Next::Continue
                }
                Ok(Read::Message(m)) => {
                    // Every whole message already read is handled before the one write (and
                    // store flush) that answers them all.
                    let mut next = s.on_message(&m, &mut app);
                    while next == Next::Continue {
                        match reader.buffered(&hub) {
                            Some(m) => next = s.on_message(&m, &mut app),
                            None => break,
                        }
                    }
                    next
                }
            },
            Some(input) = rx.recv() => {
                app.on_input(&mut s, input);
                Next::Continue
            }
            _ = tick.tick() => s.tick(Instant::now()),
            _ = endings.changed() => {
                match services.directory.still_valid(&app.credential(), bourse_api::auth::now()) {
                    Ok(()) => Next::Continue,
                    Err(e) => s.logout(e.message()),
                }
            }
            _ = shutdown.changed() => s.logout("the exchange is shutting down"),
        };
        if overrun.load(Ordering::Acquire) {
            s.logout("reports overran the session's queue; log on again");
            let _ = flush(&mut wr, &mut s).await;
            break Ok("overrun".to_owned());
        }
        // Drain whatever else is ready before writing, so one write carries a burst.
        while let Ok(input) = rx.try_recv() {
            app.on_input(&mut s, input);
        }
        if let Err(e) = flush(&mut wr, &mut s).await {
            break Err(e);
        }
        if let Next::Close(why) = next {
            if s.logout_sent {
                // Give the counterparty a moment to answer our Logout.
                let _ = tokio::time::timeout(Duration::from_secs(2), async {
                    while let Ok(Read::Message(m)) = reader.next(&hub).await {
                        if m.msg_type() == "5" {
                            if let Some(q) = m.seq().filter(|&q| q == s.store.next_in()) {
                                s.set_next_in(q + 1);
                            }
                            break;
                        }
                    }
                })
                .await;
            }
            break Ok(why);
        }
    };
    let _ = s.store.sync();
    let _ = wr.shutdown().await;
    app.ended();
    tracing::info!(
        account = account.get(),
        key,
        "fix session ended: {}",
        match &end {
            Ok(w) | Err(w) => w.as_str(),
        }
    );
    end.map(|_| ())
}
