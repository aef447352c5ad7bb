//! The application layer of one session: NewOrderSingle, OrderCancelRequest,
//! OrderCancelReplaceRequest, OrderStatusRequest and OrderMassCancelRequest become the same
//! commands REST sends (checked by the same code, refused with the same stable codes), and
//! the account's released events become ExecutionReports.
//!
//! The session follows every working order of its account (seeded from the read model at
//! logon, then folded event by event), so a report carries the order's cumulative figures
//! and the ClOrdID it answers to, whichever transport entered it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bourse_api::GatewayError;
use bourse_api::auth::{Credential, Principal};
use bourse_api::orders::{DecimalText, NewOrder, OrderState, OrderStatus};
use bourse_core::{
    AccountId, ClientOrderId, Command, Event, OrderId, Price, Qty, RejectReason, Tagged,
};
use rustc_hash::{FxHashMap, FxHashSet};
use tokio::sync::mpsc;

use crate::codec::{self, Message, Outgoing};
use crate::hub::FixServices;
use crate::input::{Input, Request};
use crate::reports::{self, Tracked};
use crate::session::{Session, reject};

/// A cancel or replace sent for an order: its report answers to the request's ClOrdID.
#[derive(Debug, Clone)]
struct Amend {
    cl_ord_id: String,
    orig: String,
}

pub(crate) struct App {
    services: FixServices,
    who: Principal,
    account: AccountId,
    tx: mpsc::Sender<Input>,
    overrun: Arc<AtomicBool>,
    cancel_on_disconnect: bool,
    /// The account's working orders.
    orders: FxHashMap<OrderId, Tracked>,
    /// Cancels and replaces sent, by order.
    amends: FxHashMap<OrderId, Amend>,
    /// Client order ids this session submitted whose acceptance has not been seen.
    submitted: FxHashSet<ClientOrderId>,
    /// Numbers ExecIDs of reports that answer a request (status, rejects).
    exec_counter: u64,
    /// The last number of the account's stream reported (events at or below it that
    /// arrive again are skipped).
    stream: u64,
}

/// ExecType I for an order the account does not have.
fn unknown_status(exec: String, cl: &str, symbol: &str, side: &str) -> Outgoing {
    let mut m = Outgoing::new("8")
        .with(37, "NONE")
        .with(11, cl)
        .with(17, exec)
        .with(150, 'I')
        .with(39, '8');
    m.set(55, if symbol.is_empty() { "?" } else { symbol });
    m.set(54, if side.is_empty() { "?" } else { side });
    m.set(151, 0);
    m.set(14, 0);
    m.set(6, 0);
    m.set(58, "UNKNOWN_ORDER: no such order of this account");
    m.set(60, now_text());
    m
}

fn now_text() -> String {
    codec::utc_timestamp(bourse_api::auth::now().get())
}

impl App {
    pub(crate) fn new(
        services: FixServices,
        who: Principal,
        account: AccountId,
        tx: mpsc::Sender<Input>,
        overrun: Arc<AtomicBool>,
        cancel_on_disconnect: bool,
    ) -> App {
        App {
            services,
            who,
            account,
            tx,
            overrun,
            cancel_on_disconnect,
            orders: FxHashMap::default(),
            amends: FxHashMap::default(),
            submitted: FxHashSet::default(),
            exec_counter: 0,
            stream: 0,
        }
    }

    /// Reports from the account's stream after `n` on (a session with nothing to catch up).
    pub(crate) fn start_after(&mut self, s: &mut Session, n: u64) {
        self.stream = n;
        s.store.set_stream(n);
    }

    /// Orders among `missed` whose state before it only history has: accepted before the
    /// session went away and no longer working.
    pub(crate) fn to_look_up(&self, missed: &[Tagged]) -> Vec<OrderId> {
        crate::catchup::by_order(missed)
            .into_iter()
            .filter(|(id, evs)| {
                !matches!(evs.first(), Some(Event::OrderAccepted { .. }))
                    && !self.orders.contains_key(id)
            })
            .map(|(id, _)| id)
            .collect()
    }

    /// Reports `missed` (the account's stream after `from`, read from history) as a live
    /// session would have; `ended` holds the orders [`App::to_look_up`] named.
    pub(crate) fn catch_up(
        &mut self,
        s: &mut Session,
        from: u64,
        missed: &[Tagged],
        ended: &FxHashMap<OrderId, bourse_api::OrderView>,
    ) {
        use crate::catchup::{Now, before, by_order};
        for (id, evs) in by_order(missed) {
            // The seeded state already holds the missed events: rebuilt from before them.
            let seeded = self.orders.remove(&id);
            if matches!(evs.first(), Some(Event::OrderAccepted { .. })) {
                continue;
            }
            let now = match seeded {
                Some(t) => Some(Now::of_state(&t.state)),
                None => ended.get(&id).and_then(Now::of_view),
            };
            match now {
                Some(now) => {
                    self.orders.insert(id, before(now, &evs));
                }
                None => tracing::warn!(
                    order = id.get(),
                    "fix catch-up: the order is no longer in the history; its missed reports are skipped"
                ),
            }
        }
        self.stream = from;
        for t in missed {
            self.on_event(s, t);
            self.stream = self.stream.max(t.aseq);
        }
        s.store.set_stream(self.stream);
    }

    pub(crate) fn credential(&self) -> Credential {
        self.who.credential
    }

    /// Takes the account's working orders from the read model. Called after the session
    /// listens for events, so none falls between; events the snapshot already holds are
    /// skipped by their seq.
    pub(crate) fn seed(&mut self) {
        let mut accounts = vec![self.account];
        if self.who.role == bourse_core::Role::Broker {
            accounts.extend(self.services.directory.customers_of(self.account));
        }
        let model = self.services.history.model().read();
        let open: Vec<OrderState> = accounts
            .iter()
            .flat_map(|&a| model.open_order_states(a))
            .collect();
        drop(model);
        for state in open {
            let id = state.id;
            let mut t = Tracked::new(state, false);
            t.skip_through = t.state.seq;
            self.orders.entry(id).or_insert(t);
        }
    }

    fn exec_id(&mut self, prefix: char) -> String {
        self.exec_counter += 1;
        format!(
            "{prefix}{}-{}",
            bourse_api::auth::now().get(),
            self.exec_counter
        )
    }

    /// Hands a command to the gateway. Its outcome comes back as an [`Input::Outcome`] only
    /// when the session has something to say about it: an accepted order, cancel or
    /// replace is reported from its released events, so most outcomes wake nobody (one
    /// wake-up per request less, seen in a profile at 50k orders/s).
    fn call(&mut self, cmd: Command, req: Request) {
        let (tx, overrun) = (self.tx.clone(), self.overrun.clone());
        self.services.gateway.call(
            cmd,
            Box::new(move |r| {
                let quiet = matches!(req, Request::New { .. } | Request::Amend { .. })
                    && r.as_ref().is_ok_and(|reply| {
                        !reply
                            .events
                            .iter()
                            .any(|e| matches!(e, Event::Rejected { .. }))
                    });
                if !quiet && tx.try_send(Input::Outcome(req, r)).is_err() && !tx.is_closed() {
                    overrun.store(true, Ordering::Release);
                }
            }),
        );
    }

    pub(crate) fn on_input(&mut self, s: &mut Session, input: Input) {
        match input {
            Input::Events(evs) => {
                for t in &evs {
                    // The session's own account's stream: reported already by the catch-up
                    // at logon? (A broker's customers' events are numbered on theirs.)
                    let own = t.event.stream_account() == Some(self.account);
                    if own && t.aseq <= self.stream {
                        continue;
                    }
                    self.on_event(s, t);
                    if own {
                        self.stream = self.stream.max(t.aseq);
                    }
                }
                s.store.set_stream(self.stream);
            }
            Input::Outcome(req, r) => self.on_outcome(s, req, r),
            Input::Status {
                cl_ord_id,
                symbol,
                side,
                order,
            } => {
                let exec = self.exec_id('I');
                match order {
                    Some(v) => s.send(reports::view_report(&v, exec, &now_text())),
                    None => s.send(unknown_status(exec, &cl_ord_id, &symbol, &side)),
                }
            }
        }
    }

    // ---- released events → ExecutionReports ----------------------------------------

    fn on_event(&mut self, s: &mut Session, t: &Tagged) {
        let time = codec::utc_timestamp(t.ts.get());
        if let Event::OrderAccepted {
            order_id,
            client_order_id,
            ..
        } = t.event
        {
            if self.orders.contains_key(&order_id) {
                return;
            }
            let Some(state) = OrderState::accepted(t.seq, t.ts, &t.event) else {
                return;
            };
            let ours = client_order_id.is_some_and(|c| self.submitted.remove(&c));
            let tr = Tracked::new(state, ours);
            let exec = format!("N{}-{}", t.seq.0, order_id.get());
            let cl = tr.cl_ord_id.clone();
            s.send(reports::execution_report(&tr, exec, '0', &cl, None, &time));
            self.orders.insert(order_id, tr);
            return;
        }
        let id = match t.event {
            Event::OrderTriggered { order_id, .. }
            | Event::OrderFilled { order_id, .. }
            | Event::OrderCanceled { order_id, .. }
            | Event::OrderReplaced { order_id, .. }
            | Event::OrderLinked { order_id, .. }
            | Event::OrderActivated { order_id, .. } => order_id,
            _ => return,
        };
        let Some(tr) = self.orders.get_mut(&id) else {
            return;
        };
        if t.seq <= tr.skip_through {
            return;
        }
        tr.state.apply(t.seq, t.ts, &t.event);
        // An order class's exit (entered over REST or WebSocket): its state follows, so the
        // reports that come later carry its size, but nothing here is a FIX execution.
        if matches!(
            t.event,
            Event::OrderLinked { .. } | Event::OrderActivated { .. }
        ) {
            return;
        }
        let report = match t.event {
            Event::OrderTriggered { .. } => {
                let exec = format!("L{}-{}", t.seq.0, id.get());
                reports::execution_report(tr, exec, 'L', &tr.cl_ord_id, None, &time)
            }
            Event::OrderFilled {
                trade_id,
                last_px,
                last_qty,
                side,
                ..
            } => {
                let exec = format!("F{}{}", trade_id.get(), reports::side(side));
                let mut m = reports::execution_report(tr, exec, 'F', &tr.cl_ord_id, None, &time);
                m.set(32, reports::qty(last_qty));
                m.set(31, reports::px(last_px));
                m
            }
            Event::OrderCanceled { reason, .. } => {
                let exec = format!("C{}-{}", t.seq.0, id.get());
                let kind = if tr.state.status == OrderStatus::Expired {
                    'C'
                } else {
                    '4'
                };
                let amend = self.amends.remove(&id);
                let (cl, orig) = match &amend {
                    Some(a) => (a.cl_ord_id.as_str(), Some(a.orig.as_str())),
                    None => (tr.cl_ord_id.as_str(), None),
                };
                let mut m = reports::execution_report(tr, exec, kind, cl, orig, &time);
                m.set(58, reports::cancel_text(reason));
                m
            }
            Event::OrderReplaced { .. } => {
                let exec = format!("R{}-{}", t.seq.0, id.get());
                match self.amends.remove(&id) {
                    Some(a) => {
                        tr.cl_ord_id.clone_from(&a.cl_ord_id);
                        reports::execution_report(tr, exec, '5', &a.cl_ord_id, Some(&a.orig), &time)
                    }
                    None => reports::execution_report(tr, exec, '5', &tr.cl_ord_id, None, &time),
                }
            }
            _ => return,
        };
        s.send(report);
        if !matches!(
            tr.state.status,
            OrderStatus::Held | OrderStatus::New | OrderStatus::PartiallyFilled
        ) {
            self.orders.remove(&id);
            self.amends.remove(&id);
        }
    }

    // ---- outcomes of our own requests -----------------------------------------------

    fn on_outcome(
        &mut self,
        s: &mut Session,
        req: Request,
        r: Result<bourse_api::Reply, GatewayError>,
    ) {
        let rejected = match &r {
            Ok(reply) => reply.events.iter().find_map(|e| match *e {
                Event::Rejected {
                    reason, order_id, ..
                } => Some((reason.code(), reason.message(), Some(reason), order_id)),
                _ => None,
            }),
            Err(e) => match e {
                GatewayError::Overloaded => Some((
                    "OVERLOADED",
                    "the exchange is overloaded; retry shortly",
                    None,
                    None,
                )),
                GatewayError::Closed => {
                    Some(("SHUTTING_DOWN", "the exchange is shutting down", None, None))
                }
                // The outcome is unknown: the order's own reports follow if it took effect;
                // OrderStatusRequest tells.
                GatewayError::Timeout(_) | GatewayError::Stopped => {
                    tracing::warn!("fix: no durable outcome in time for a request: {e}");
                    return;
                }
            },
        };
        match req {
            Request::New {
                cl_ord_id,
                symbol,
                side,
            } => {
                let Some((code, text, reason, named)) = rejected else {
                    return;
                };
                if let Ok(c) = ClientOrderId::new(&cl_ord_id) {
                    self.submitted.remove(&c);
                }
                if reason == Some(RejectReason::ResentOrder)
                    && let Some(original) = named
                {
                    // The same order again: answered with where that order stands.
                    self.status_report(s, Some(original), &cl_ord_id, &symbol, &side);
                    return;
                }
                let text = format!("{code}: {text}");
                self.reject_new(s, &cl_ord_id, &symbol, &side, code, &text);
            }
            Request::Amend {
                order_id,
                cl_ord_id,
                orig,
                replace,
            } => {
                let Some((code, text, reason, _)) = rejected else {
                    return;
                };
                self.amends.remove(&order_id);
                let why = reason.map_or(99, reports::cxl_rej_reason);
                self.cancel_reject(
                    s,
                    Some(order_id),
                    &cl_ord_id,
                    &orig,
                    replace,
                    why,
                    &format!("{code}: {text}"),
                );
            }
            Request::Mass {
                cl_ord_id,
                request_type,
            } => {
                let mut m = Outgoing::new("r");
                m.set(11, &cl_ord_id);
                let seq = r.as_ref().map_or(0, |reply| reply.seq.0);
                m.set(37, format!("MC{seq}"));
                m.set(530, &request_type);
                match rejected {
                    Some((code, text, ..)) => {
                        m.set(531, 0);
                        m.set(532, 99);
                        m.set(58, format!("{code}: {text}"));
                    }
                    None => {
                        let n = r.as_ref().map_or(0, |reply| {
                            reply
                                .events
                                .iter()
                                .filter(|e| matches!(e, Event::OrderCanceled { .. }))
                                .count()
                        });
                        m.set(531, &request_type);
                        m.set(533, n);
                    }
                }
                s.send(m);
            }
        }
    }

    fn reject_new(
        &mut self,
        s: &mut Session,
        cl: &str,
        symbol: &str,
        side: &str,
        code: &str,
        text: &str,
    ) {
        let exec = self.exec_id('J');
        let mut m = Outgoing::new("8")
            .with(37, "NONE")
            .with(11, cl)
            .with(17, exec)
            .with(150, '8')
            .with(39, '8');
        m.set(1, self.account.get());
        m.set(55, if symbol.is_empty() { "?" } else { symbol });
        m.set(54, if side.is_empty() { "?" } else { side });
        m.set(151, 0);
        m.set(14, 0);
        m.set(6, 0);
        m.set(103, reports::ord_rej_reason(code));
        m.set(58, text);
        m.set(60, now_text());
        s.send(m);
    }

    #[allow(clippy::too_many_arguments)]
    fn cancel_reject(
        &mut self,
        s: &mut Session,
        order: Option<OrderId>,
        cl: &str,
        orig: &str,
        replace: bool,
        reason: u32,
        text: &str,
    ) {
        let status = order
            .and_then(|id| self.orders.get(&id))
            .map_or('8', |t| reports::ord_status(t.state.status));
        let m = Outgoing::new("9")
            .with(
                37,
                order.map_or_else(|| "NONE".to_owned(), |o| o.get().to_string()),
            )
            .with(11, cl)
            .with(41, orig)
            .with(39, status)
            .with(434, if replace { 2 } else { 1 })
            .with(102, reason)
            .with(58, text);
        s.send(m);
    }

    /// An ExecutionReport with ExecType I (order status) for an order of the account, or a
    /// rejected one saying it is unknown. An order the session does not follow is looked up
    /// in the history (memory, then PostgreSQL) off the session's task; its report follows.
    fn status_report(
        &mut self,
        s: &mut Session,
        id: Option<OrderId>,
        cl: &str,
        symbol: &str,
        side: &str,
    ) {
        if let Some(t) = id.and_then(|id| self.orders.get(&id)) {
            let (t, exec) = (t.clone(), self.exec_id('I'));
            let own = t.cl_ord_id.clone();
            s.send(reports::execution_report(
                &t,
                exec,
                'I',
                &own,
                None,
                &now_text(),
            ));
            return;
        }
        let by_client = if id.is_none() {
            ClientOrderId::new(cl).ok()
        } else {
            None
        };
        let (history, account, tx) = (self.services.history.clone(), self.account, self.tx.clone());
        let (cl, symbol, side) = (cl.to_owned(), symbol.to_owned(), side.to_owned());
        tokio::spawn(async move {
            let found = match (id, by_client) {
                (Some(id), _) => history.order(account, id).await,
                (None, Some(c)) => history.order_by_client_id(account, c).await,
                (None, None) => Ok(None),
            };
            let order = found.ok().flatten().map(Box::new);
            // The session may have ended meanwhile: nobody to tell.
            let _ = tx
                .send(Input::Status {
                    cl_ord_id: cl,
                    symbol,
                    side,
                    order,
                })
                .await;
        });
    }

    // ---- inbound application messages ------------------------------------------------

    pub(crate) fn on_message(&mut self, s: &mut Session, m: &Message, seq: u64) {
        let t = m.msg_type().to_owned();
        let required: &[u32] = match t.as_str() {
            "D" => &[11, 55, 54, 38, 40],
            "F" => &[11, 55, 54],
            "G" => &[11, 55, 54, 38, 40],
            "H" => &[55, 54],
            "q" => &[11, 530],
            _ => {
                let known =
                    t.len() <= 2 && t.bytes().all(|b| b.is_ascii_alphanumeric()) && !t.is_empty();
                if known {
                    s.send(
                        Outgoing::new("j")
                            .with(45, seq)
                            .with(372, &t)
                            .with(380, 3)
                            .with(58, format!("message type {t} is not supported")),
                    );
                } else {
                    let m = Outgoing::new("3")
                        .with(45, seq)
                        .with(372, &t)
                        .with(373, reject::INVALID_MSG_TYPE)
                        .with(58, "invalid MsgType");
                    s.send(m);
                }
                return;
            }
        };
        if let Some(&tag) = required.iter().find(|&&tag| m.get(tag).is_none()) {
            s.send(
                Outgoing::new("3")
                    .with(45, seq)
                    .with(371, tag)
                    .with(372, &t)
                    .with(373, reject::REQUIRED_TAG_MISSING)
                    .with(58, format!("required tag {tag} missing")),
            );
            return;
        }
        match t.as_str() {
            "D" => self.new_order(s, m),
            "F" => self.amend(s, m, false),
            "G" => self.amend(s, m, true),
            "H" => {
                let id = self.find_tracked(m).or_else(|| {
                    m.get(37)
                        .and_then(|v| v.parse::<u64>().ok())
                        .filter(|&v| v > 0)
                        .map(OrderId::new)
                });
                let cl = m.get(11).unwrap_or("").to_owned();
                let (sym, side) = (
                    m.get(55).unwrap_or("").to_owned(),
                    m.get(54).unwrap_or("").to_owned(),
                );
                self.status_report(s, id, &cl, &sym, &side);
            }
            "q" => self.mass_cancel(s, m),
            _ => {}
        }
    }

    fn new_order(&mut self, s: &mut Session, m: &Message) {
        let g = |tag| m.get(tag).unwrap_or("").to_owned();
        let (cl, symbol, side_raw) = (g(11), g(55), g(54));
        let bad = |this: &mut Self, s: &mut Session, code: &str, text: String| {
            this.reject_new(s, &cl, &symbol, &side_raw, code, &format!("{code}: {text}"));
        };
        let Some(side) = reports::side_word(&side_raw) else {
            return bad(
                self,
                s,
                "INVALID_SIDE",
                format!("Side {side_raw} is not 1 (buy) or 2 (sell)"),
            );
        };
        let Some(order_type) = reports::ord_type_word(&g(40)) else {
            return bad(
                self,
                s,
                "INVALID_ORDER_TYPE",
                format!("OrdType {} is not 1, 2, 3 or 4", g(40)),
            );
        };
        let tif = match m.get(59) {
            None => "day",
            Some(v) => match reports::tif_word(v) {
                Some(w) => w,
                None => {
                    return bad(
                        self,
                        s,
                        "INVALID_TIME_IN_FORCE",
                        format!("TimeInForce {v} is not 0, 1, 2, 3, 4 or 7"),
                    );
                }
            },
        };
        let order = NewOrder {
            symbol: symbol.clone(),
            side: side.to_owned(),
            order_type: order_type.to_owned(),
            time_in_force: Some(tif.to_owned()),
            // OrderQty (38), or CashOrderQty (152) for a notional order.
            qty: m.get(38).map(DecimalText::from_text),
            notional: m.get(152).map(DecimalText::from_text),
            limit_price: m.get(44).map(DecimalText::from_text),
            stop_price: m.get(99).map(DecimalText::from_text),
            client_order_id: Some(cl.clone()),
            post_only: m.get(18).map(|v| v.split(' ').any(|i| i == "6")),
            extended_hours: None,
            trail_price: None,
            trail_percent: None,
            order_class: None,
            take_profit: None,
            stop_loss: None,
            account_id: None,
        };
        let req = self
            .acting_for(m)
            .and_then(|account| order.validate(account, &self.services.listings));
        let req = match req {
            Ok(r) => r,
            Err(e) => return bad(self, s, e.code, e.message),
        };
        if let Some(c) = req.client_order_id {
            self.submitted.insert(c);
        }
        self.call(
            Command::SubmitOrder(req),
            Request::New {
                cl_ord_id: cl.clone(),
                symbol: symbol.clone(),
                side: side_raw.clone(),
            },
        );
    }

    /// The account the message acts for: Account (1), which must be the session's own or,
    /// for a broker, one of its customers'.
    fn acting_for(&self, m: &Message) -> Result<AccountId, bourse_api::ApiError> {
        self.who.acting_for(m.get(1), &self.services.directory)
    }

    /// The order a cancel or replace names: OrderID (37), else the ClOrdID it answers
    /// to (41).
    fn find_order(&self, m: &Message) -> Option<OrderId> {
        if let Some(id) = m
            .get(37)
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|&v| v > 0)
        {
            let id = OrderId::new(id);
            let known = self.orders.contains_key(&id)
                || self
                    .services
                    .history
                    .model()
                    .read()
                    .order_state(self.account, id)
                    .is_some();
            return known.then_some(id);
        }
        let cl = m.get(41)?;
        if let Some((id, _)) = self.orders.iter().find(|(_, t)| t.cl_ord_id == cl) {
            return Some(*id);
        }
        let cid = ClientOrderId::new(cl).ok()?;
        self.services
            .history
            .model()
            .read()
            .order_id_by_client(self.account, cid)
    }

    /// A followed (working) order the message names by OrderID (37) or current ClOrdID (11).
    fn find_tracked(&self, m: &Message) -> Option<OrderId> {
        if let Some(id) = m.get(37).and_then(|v| v.parse::<u64>().ok()) {
            let id = OrderId::new(id);
            return self.orders.contains_key(&id).then_some(id);
        }
        let cl = m.get(11)?;
        self.orders
            .iter()
            .find(|(_, t)| t.cl_ord_id == cl)
            .map(|(id, _)| *id)
    }

    fn amend(&mut self, s: &mut Session, m: &Message, replace: bool) {
        let cl = m.get(11).unwrap_or("").to_owned();
        let orig = m.get(41).unwrap_or("").to_owned();
        if let Err(e) = self.acting_for(m) {
            return self.cancel_reject(
                s,
                None,
                &cl,
                &orig,
                replace,
                99,
                &format!("{}: {}", e.code, e.message),
            );
        }
        if m.get(41).is_none() && m.get(37).is_none() {
            return self.cancel_reject(
                s,
                None,
                &cl,
                &orig,
                replace,
                1,
                "UNKNOWN_ORDER: give OrigClOrdID (41) or OrderID (37)",
            );
        }
        let Some(order_id) = self.find_order(m) else {
            return self.cancel_reject(
                s,
                None,
                &cl,
                &orig,
                replace,
                1,
                "UNKNOWN_ORDER: no working order of this account answers to it",
            );
        };
        let Some(tracked) = self.orders.get(&order_id) else {
            // Known, but no longer working.
            return self.cancel_reject(
                s,
                Some(order_id),
                &cl,
                &orig,
                replace,
                0,
                "UNKNOWN_ORDER: the order is no longer working",
            );
        };
        let current = tracked.cl_ord_id.clone();
        let cmd = if replace {
            let filled = tracked.state.filled_qty;
            let total = DecimalText::from_text(m.get(38).unwrap_or("")).to::<Qty>();
            let leaves = match total {
                Ok(q) if q > filled => q.saturating_sub(filled),
                Ok(_) => {
                    return self.cancel_reject(
                        s,
                        Some(order_id),
                        &cl,
                        &current,
                        true,
                        99,
                        "INVALID_QUANTITY: OrderQty must be above the quantity already filled",
                    );
                }
                Err(_) => {
                    return self.cancel_reject(
                        s,
                        Some(order_id),
                        &cl,
                        &current,
                        true,
                        99,
                        "INVALID_QUANTITY: OrderQty is not a whole number of shares",
                    );
                }
            };
            let price = match m.get(44).map(|p| DecimalText::from_text(p).to::<Price>()) {
                None => None,
                Some(Ok(p)) if p.raw() > 0 => Some(p),
                Some(_) => {
                    return self.cancel_reject(
                        s,
                        Some(order_id),
                        &cl,
                        &current,
                        true,
                        99,
                        "INVALID_PRICE: Price is not a positive price",
                    );
                }
            };
            Command::ReplaceOrder {
                account: self.account,
                order_id,
                qty: leaves,
                price,
            }
        } else {
            Command::CancelOrder {
                account: self.account,
                order_id,
            }
        };
        self.amends.insert(
            order_id,
            Amend {
                cl_ord_id: cl.clone(),
                orig: current.clone(),
            },
        );
        self.call(
            cmd,
            Request::Amend {
                order_id,
                cl_ord_id: cl,
                orig: current,
                replace,
            },
        );
    }

    fn mass_cancel(&mut self, s: &mut Session, m: &Message) {
        let cl = m.get(11).unwrap_or("").to_owned();
        let kind = m.get(530).unwrap_or("").to_owned();
        let refuse = |s: &mut Session, reason: u32, text: &str| {
            s.send(
                Outgoing::new("r")
                    .with(11, &cl)
                    .with(37, "NONE")
                    .with(530, &kind)
                    .with(531, 0)
                    .with(532, reason)
                    .with(58, text),
            );
        };
        if let Err(e) = self.acting_for(m) {
            return refuse(s, 99, &format!("{}: {}", e.code, e.message));
        }
        let symbol = match kind.as_str() {
            "7" => None,
            "1" => match m
                .get(55)
                .and_then(|v| v.parse().ok())
                .filter(|sym| self.services.listings.get(*sym).is_some())
            {
                Some(sym) => Some(sym),
                None => return refuse(s, 1, "UNKNOWN_SYMBOL: no such listed symbol"),
            },
            _ => {
                return refuse(
                    s,
                    0,
                    "MassCancelRequestType must be 1 (by security) or 7 (all orders)",
                );
            }
        };
        self.call(
            Command::MassCancel {
                account: Some(self.account),
                symbol,
            },
            Request::Mass {
                cl_ord_id: cl,
                request_type: kind,
            },
        );
    }

    /// The session ended: with cancel-on-disconnect, its working orders are cancelled by a
    /// journaled command whose reports say why.
    pub(crate) fn ended(&mut self) {
        if !self.cancel_on_disconnect {
            return;
        }
        // One command per account (a broker's session may have entered its customers').
        let mut by_account: FxHashMap<AccountId, Vec<OrderId>> = FxHashMap::default();
        for (id, t) in &self.orders {
            if t.ours {
                by_account.entry(t.state.account).or_default().push(*id);
            }
        }
        if by_account.is_empty() {
            by_account.insert(self.account, Vec::new());
        }
        for (account, ids) in by_account {
            self.services.gateway.cancel_on_disconnect(account, ids);
        }
    }
}
