//! Market sessions: which orders a session admits, the orders waiting for an auction, the
//! calls and their uncross, and what the close does (DAY orders expire, regular-hours
//! orders step off the book until the next open).

use bourse_book::{BookEvent, NewOrder};
use bourse_core::{
    AccountId, CancelReason, Event, OrderId, OrderRequest, OrderType, Price, Qty, RejectReason,
    Session, Side, TimeInForce,
};
use serde::{Deserialize, Serialize};

use super::{Engine, Working};

/// Which auction a waiting order waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(super) enum Auction {
    /// The next opening call (orders placed outside regular hours, `opg`, and regular
    /// orders that stepped off the book at the close).
    Open,
    /// The next closing call (`cls`).
    Close,
}

/// Where a new order goes in the current session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Admit {
    /// Into the book now (matching, or resting in a call).
    Book,
    /// To wait for an auction.
    Wait(Auction),
}

/// One instrument's orders waiting for an auction, in the order they will enter it.
#[derive(Clone, Debug, Default)]
pub(super) struct Waiting {
    pub(super) open: WaitLine,
    pub(super) close: WaitLine,
}

/// A line of orders waiting for an auction, in the order they were put aside. Places are
/// handed out rising (`Engine::next_wait`), so an order always joins at the back and the
/// line is a vector: as a B-tree (the stops' `Line`), joining cost about 640 instructions
/// an order, a third of a whole trading day's work over a deep book, since the close puts
/// every regular-hours order in the line (BENCHMARKS.md, the day's cost). An order that
/// leaves early leaves a hole, found by its place; holes go when the line is released,
/// or when they outnumber the orders left.
#[derive(Clone, Debug, Default)]
pub(super) struct WaitLine {
    /// (place, the order; `None` once it has left), places rising.
    entries: Vec<(u64, Option<OrderId>)>,
    /// Orders in the line (entries that are not holes).
    len: usize,
}

impl WaitLine {
    /// Puts `id` in the line at `place`: at the back, as places rise (a place already in
    /// the line, which rising places never give, is not taken twice).
    pub(super) fn join(&mut self, place: u64, id: OrderId) {
        match self.entries.last() {
            Some(last) if last.0 >= place => {
                // Not reached while places rise; kept correct rather than fast.
                let k = self.entries.partition_point(|e| e.0 < place);
                if self.entries.get(k).is_some_and(|e| e.0 == place) {
                    return;
                }
                self.entries.insert(k, (place, Some(id)));
            }
            _ => self.entries.push((place, Some(id))),
        }
        self.len += 1;
    }

    /// The line from (place, id) pairs in any order, e.g. a snapshot's.
    pub(super) fn from_unordered(mut pairs: Vec<(u64, OrderId)>) -> Self {
        pairs.sort_unstable();
        pairs.dedup_by_key(|p| p.0);
        Self {
            len: pairs.len(),
            entries: pairs.into_iter().map(|(p, id)| (p, Some(id))).collect(),
        }
    }

    fn find(&self, place: u64, id: OrderId) -> Option<usize> {
        let k = self.entries.binary_search_by_key(&place, |e| e.0).ok()?;
        (self.entries[k].1 == Some(id)).then_some(k)
    }

    /// Whether `id` waits at `place`.
    pub(super) fn contains(&self, place: u64, id: OrderId) -> bool {
        self.find(place, id).is_some()
    }

    /// Takes `id` (at `place`) out of the line; `false` if it was not there.
    pub(super) fn remove(&mut self, place: u64, id: OrderId) -> bool {
        let Some(k) = self.find(place, id) else {
            return false;
        };
        self.entries[k].1 = None;
        self.len -= 1;
        if self.entries.len() > 2 * self.len + 64 {
            self.entries.retain(|e| e.1.is_some());
        }
        true
    }

    /// Orders in the line.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The orders in line order.
    pub(super) fn iter(&self) -> impl Iterator<Item = OrderId> + '_ {
        self.entries.iter().filter_map(|e| e.1)
    }

    /// Empties the line: its orders in line order.
    pub(super) fn take(&mut self) -> Vec<OrderId> {
        self.len = 0;
        let ids = self.entries.iter().filter_map(|e| e.1).collect();
        self.entries.clear();
        ids
    }
}

/// What the close does with the orders on a book (each list in priority order).
#[derive(Default)]
pub(super) struct Closing {
    /// Regular-hours DAY orders: they expire.
    expiring: Vec<OrderId>,
    /// Regular-hours orders that outlive the day: they step off until the next open.
    parking: Vec<OrderId>,
}

/// Whether the close expires `w`: a regular-hours DAY order (extended-hours ones expire at
/// the end of after-hours).
fn expires_at_close(w: &Working) -> bool {
    w.tif == TimeInForce::Day && w.wait.is_none() && !w.extended_hours
}

impl Waiting {
    pub(super) fn map(&mut self, a: Auction) -> &mut WaitLine {
        match a {
            Auction::Open => &mut self.open,
            Auction::Close => &mut self.close,
        }
    }

    pub(super) fn line(&self, a: Auction) -> &WaitLine {
        match a {
            Auction::Open => &self.open,
            Auction::Close => &self.close,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.open.len() + self.close.len()
    }
}

impl Engine {
    /// The market's current session.
    #[must_use]
    pub fn session(&self) -> Session {
        self.session
    }

    /// Where a new order goes now, or why it is refused (after the instrument rules passed).
    /// Stops are held by the engine in any session (they trigger only in continuous
    /// trading), so they are not asked about.
    pub(super) fn admit(&self, req: &OrderRequest) -> Result<Admit, RejectReason> {
        let s = self.session;
        Ok(match req.tif {
            TimeInForce::Opg => match s {
                Session::OpeningCall => Admit::Book,
                Session::Continuous | Session::ClosingCall => {
                    return Err(RejectReason::AuctionClosed);
                }
                Session::Closed | Session::PreMarket | Session::AfterHours => {
                    Admit::Wait(Auction::Open)
                }
            },
            TimeInForce::Cls if s == Session::ClosingCall => Admit::Book,
            TimeInForce::Cls => Admit::Wait(Auction::Close),
            TimeInForce::Ioc | TimeInForce::Fok if s != Session::Continuous => {
                return Err(RejectReason::MarketClosed);
            }
            _ => match s {
                Session::Continuous | Session::OpeningCall | Session::ClosingCall => Admit::Book,
                Session::PreMarket | Session::AfterHours if req.opts.extended_hours => Admit::Book,
                Session::PreMarket | Session::AfterHours | Session::Closed => {
                    Admit::Wait(Auction::Open)
                }
            },
        })
    }

    /// The price a market order is reserved at, and rests at in a call, when it cannot be
    /// taken from the opposite side (in a call the book may be crossed, and outside regular
    /// hours the order waits): the market collar around the reference price (the last trade,
    /// else the instrument's reference), rounded inward to the tick.
    pub(super) fn reference_collar(&self, i: usize, side: Side) -> Price {
        let tick = self.instruments[i].tick;
        let reference = self.reference(i);
        let bps = i64::from(self.cfg.market_collar_bps);
        match side {
            Side::Buy => reference
                .offset_bps(bps)
                .map_or(reference, |p| p.floor_to(tick).max(reference)),
            Side::Sell => reference
                .offset_bps(-bps)
                .and_then(|p| p.ceil_to(tick))
                .map_or(reference, |p| p.min(reference).max(tick)),
        }
    }

    /// The last trade, or before any the instrument's reference price.
    pub(super) fn reference(&self, i: usize) -> Price {
        self.books[i]
            .last_trade_price()
            .unwrap_or(self.instruments[i].reference_price)
    }

    /// Puts a working order aside until `auction`; its owner (`None`: no such order).
    #[inline(never)]
    pub(super) fn wait_for(
        &mut self,
        i: usize,
        id: OrderId,
        auction: Auction,
    ) -> Option<AccountId> {
        let w = self.orders.get_mut(&id)?;
        let key = self.next_wait;
        self.next_wait += 1;
        w.wait = Some((auction, key));
        self.waiting[i].map(auction).join(key, id);
        Some(w.account)
    }

    /// Moves the market to `target` through every session between, in the day's order.
    #[cold]
    #[inline(never)]
    pub(super) fn set_session(&mut self, target: Session, out: &mut Vec<Event>) {
        while self.session != target {
            let next = self.session.next();
            self.session = next;
            match next {
                Session::Closed => {
                    // The end of after-hours: extended-hours DAY orders expire too.
                    for i in 0..self.books.len() {
                        self.expire_day(i, |_| true, out);
                    }
                }
                Session::PreMarket => {}
                Session::OpeningCall | Session::ClosingCall => {
                    let auction = if next == Session::OpeningCall {
                        Auction::Open
                    } else {
                        Auction::Close
                    };
                    for i in 0..self.books.len() {
                        if next == Session::ClosingCall && self.books[i].in_call() {
                            // A book halted through the opening call still holds orders
                            // for that auction, which is over: they do not join this one.
                            // (On-open orders enter a book only in a call, and its uncross
                            // ends them: a book out of its call holds none, and is not
                            // walked.)
                            self.cancel_leftovers(i, |w| w.tif == TimeInForce::Opg, out);
                        }
                        self.books[i].begin_call();
                        self.release_waiting(i, auction, out);
                    }
                }
                Session::Continuous => {
                    for i in 0..self.books.len() {
                        if !self.halted[i] {
                            self.uncross(i, Session::OpeningCall, out);
                        }
                    }
                }
                Session::AfterHours => {
                    for i in 0..self.books.len() {
                        if self.halted[i] {
                            // Halted through the closing call: no auction, and what was for
                            // it ends as after one, rather than wait for tomorrow's open.
                            self.cancel_leftovers(i, |_| true, out);
                            self.close_book(i, None, out);
                        } else if !self.uncross_call(i, Session::ClosingCall, true, out) {
                            self.close_book(i, None, out);
                        }
                    }
                }
            }
            out.push(Event::SessionChanged { session: next });
        }
        if self.session == Session::Continuous {
            // Extended-hours and auction trades may have reached stops: they trigger now.
            for i in 0..self.books.len() {
                self.run_triggers(i, out);
            }
        }
    }

    /// Sends the orders waiting for `auction` into instrument `i`'s call, in the order they
    /// were put aside.
    fn release_waiting(&mut self, i: usize, auction: Auction, out: &mut Vec<Event>) {
        for id in self.waiting[i].map(auction).take() {
            let Some(w) = self.orders.get_mut(&id) else {
                continue;
            };
            w.wait = None;
            let w = *w;
            self.enter_book(i, id, &w, out);
        }
    }

    /// Puts a working order (not held, not waiting) into instrument `i`'s book: a market
    /// order at the price it reserved cash at (a call holds priced orders only).
    pub(super) fn enter_book(&mut self, i: usize, id: OrderId, w: &Working, out: &mut Vec<Event>) {
        let price = match w.order_type {
            OrderType::Market if self.books[i].in_call() => Some(w.reserve_px),
            _ => w.limit_price,
        };
        let mut ev = std::mem::take(&mut self.scratch);
        ev.clear();
        self.books[i].submit(
            &NewOrder {
                id,
                owner: w.account,
                side: w.side,
                price,
                qty: Qty::from_raw(w.leaves),
                tif: if price.is_none() {
                    TimeInForce::Ioc
                } else {
                    w.tif
                },
                post_only: false,
                stp: w.stp,
                notional: None,
            },
            &mut ev,
        );
        if let [
            BookEvent::Accepted { .. },
            BookEvent::Rested {
                side, price, qty, ..
            },
        ] = *ev
        {
            // Rested whole, as every order entering a call does: reported here, where the
            // order is at hand, rather than looked up again by `translate` (a cache miss an
            // order when the open brings back every order parked at the close).
            out.push(Event::OrderRested {
                order_id: id,
                symbol: self.instruments[i].symbol,
                side,
                price,
                qty,
            });
        } else {
            // The book's `Accepted` has no engine event: the order was accepted when placed.
            self.translate(&ev, None, out);
        }
        self.scratch = ev;
    }

    /// Ends instrument `i`'s call (`call` names it): one price, the trades, then what may
    /// not outlive the auction is cancelled — `opg`/`cls` remainders (`AUCTION_UNFILLED`)
    /// and market remainders (`MARKET_REMAINDER`) — then `AuctionUncrossed`, then an
    /// `OrderRested` for every order left on the book (at the close, after the close has
    /// expired and parked what does not stay for after-hours).
    pub(super) fn uncross(&mut self, i: usize, call: Session, out: &mut Vec<Event>) {
        self.uncross_call(i, call, false, out);
    }

    /// [`Engine::uncross`]; at the close (`close`), the walk of the book that finds what may
    /// not outlive the auction also sorts the rest, and the close expires and parks it
    /// before `AuctionUncrossed`: the `OrderRested` list after it then names only the
    /// orders that stay for after-hours, not each order the close takes off a moment later
    /// (measured: BENCHMARKS.md, the day's cost). `false` if the book was not in a call.
    fn uncross_call(&mut self, i: usize, call: Session, close: bool, out: &mut Vec<Event>) -> bool {
        if !self.books[i].in_call() {
            return false;
        }
        let reference = self.reference(i);
        let mut ev = std::mem::take(&mut self.scratch);
        ev.clear();
        let result = self.books[i].uncross(reference, &mut ev);
        self.translate(&ev, None, out);
        self.scratch = ev;
        let (leftovers, closing) = self.sort_book(i, |_| true, close);
        self.cancel_all(&leftovers, out);
        if closing.is_some() {
            self.close_book(i, closing, out);
        }
        let (price, volume, imbalance) = match result {
            Some(u) => (Some(u.price), u.volume, u.imbalance),
            None => (None, Qty::ZERO, 0),
        };
        out.push(Event::AuctionUncrossed {
            symbol: self.instruments[i].symbol,
            session: call,
            price,
            volume,
            imbalance: Qty::from_raw(u64::try_from(imbalance.unsigned_abs()).unwrap_or(u64::MAX)),
            imbalance_side: match imbalance.signum() {
                1 => Some(Side::Buy),
                -1 => Some(Side::Sell),
                _ => None,
            },
        });
        // The book as the uncross left it, order by order in priority: the public book is
        // rebuilt from these (an auction trades resting orders at a price that need not be
        // theirs, which a level-by-level delta of the fills cannot say).
        let symbol = self.instruments[i].symbol;
        for side in [Side::Buy, Side::Sell] {
            out.extend(self.books[i].orders(side).map(|o| Event::OrderRested {
                order_id: o.id,
                symbol,
                side,
                price: o.price,
                qty: o.qty,
            }));
        }
        true
    }

    /// One walk of instrument `i`'s book, in priority order: what may not outlive an
    /// auction, of the orders `pred` picks — `opg`/`cls` orders (`AUCTION_UNFILLED`) and
    /// market orders (`MARKET_REMAINDER`) — and, when `close`, what the close does with
    /// the rest. Each walk of a deep book costs about 150 ns an order in cache misses
    /// (BENCHMARKS.md, the close's cost), so the closing uncross walks once for both.
    fn sort_book(
        &self,
        i: usize,
        pred: impl Fn(&Working) -> bool,
        close: bool,
    ) -> (Vec<(OrderId, CancelReason)>, Option<Closing>) {
        let mut leftovers = Vec::new();
        let mut closing = close.then(Closing::default);
        for o in [Side::Buy, Side::Sell]
            .into_iter()
            .flat_map(|side| self.books[i].orders(side))
        {
            let Some(w) = self.orders.get(&o.id) else {
                continue;
            };
            if pred(w) && w.tif.is_auction() {
                leftovers.push((o.id, CancelReason::AuctionUnfilled));
            } else if pred(w) && w.order_type == OrderType::Market {
                leftovers.push((o.id, CancelReason::MarketRemainder));
            } else if let Some(c) = closing.as_mut() {
                if expires_at_close(w) {
                    c.expiring.push(o.id);
                } else if !w.extended_hours {
                    c.parking.push(o.id);
                }
            }
        }
        (leftovers, closing)
    }

    /// Cancels what may not outlive an auction, of the orders on instrument `i`'s book that
    /// `pred` picks (see [`Engine::sort_book`]), in priority order.
    fn cancel_leftovers(
        &mut self,
        i: usize,
        pred: impl Fn(&Working) -> bool,
        out: &mut Vec<Event>,
    ) {
        let (leftovers, _) = self.sort_book(i, pred, false);
        self.cancel_all(&leftovers, out);
    }

    /// Cancels each of `ids` still working, for its reason.
    fn cancel_all(&mut self, ids: &[(OrderId, CancelReason)], out: &mut Vec<Event>) {
        for &(id, reason) in ids {
            if let Some(w) = self.orders.get(&id) {
                self.cancel_for(w.account, id, reason, out);
            }
        }
    }

    /// Expires instrument `i`'s DAY orders that `pred` picks: on the book, held stops, and
    /// (for the operator's end of day) those waiting for the open.
    pub(super) fn expire_day(
        &mut self,
        i: usize,
        pred: impl Fn(&Working) -> bool,
        out: &mut Vec<Event>,
    ) {
        let day = |w: &Working| w.tif == TimeInForce::Day && w.wait.is_none() && pred(w);
        let ids: Vec<OrderId> = [Side::Buy, Side::Sell]
            .into_iter()
            .flat_map(|side| self.books[i].orders(side))
            .filter(|o| self.orders.get(&o.id).is_some_and(day))
            .map(|o| o.id)
            .collect();
        self.expire(i, &ids, day, out);
    }

    /// Expires `ids` (on instrument `i`'s book), then the held stops that `day` picks.
    fn expire(
        &mut self,
        i: usize,
        ids: &[OrderId],
        day: impl Fn(&Working) -> bool,
        out: &mut Vec<Event>,
    ) {
        for &id in ids {
            if let Some(w) = self.orders.get(&id) {
                self.cancel_for(w.account, id, CancelReason::Expired, out);
            }
        }
        self.cancel_held_where(i, day, CancelReason::Expired, out);
    }

    /// The close of instrument `i`'s regular hours: its regular-hours DAY orders expire (on
    /// the book, then held stops), then the regular-hours orders left on the book (GTC)
    /// step off it, in priority order, and wait for the next opening call: outside regular
    /// hours only extended-hours orders trade. `sorted`: the book's orders already sorted
    /// for it by the closing uncross's walk (else the book is walked here).
    fn close_book(&mut self, i: usize, sorted: Option<Closing>, out: &mut Vec<Event>) {
        let Closing { expiring, parking } =
            sorted.unwrap_or_else(|| self.sort_book(i, |_| false, true).1.unwrap_or_default());
        self.expire(i, &expiring, expires_at_close, out);
        let symbol = self.instruments[i].symbol;
        for id in parking {
            // Gone already if a cancel above ended it (an exit's sibling).
            let Some(o) = self.books[i].withdraw(id) else {
                continue;
            };
            let Some(account) = self.wait_for(i, id, Auction::Open) else {
                continue;
            };
            out.push(Event::OrderParked {
                order_id: id,
                account,
                symbol,
                side: o.side,
                qty: o.qty,
                resting_price: Some(o.price),
            });
        }
    }

    /// Cancels an order waiting for an auction.
    pub(super) fn cancel_waiting(
        &mut self,
        id: OrderId,
        reason: CancelReason,
        out: &mut Vec<Event>,
    ) {
        let Some(w) = self.orders.get(&id).copied() else {
            return;
        };
        let Some((auction, key)) = w.wait else {
            return;
        };
        let i = w.instrument as usize;
        self.waiting[i].map(auction).remove(key, id);
        self.finish(id);
        out.push(Event::OrderCanceled {
            order_id: id,
            account: w.account,
            symbol: self.instruments[i].symbol,
            side: w.side,
            qty: Qty::from_raw(w.leaves),
            resting_price: None,
            reason,
        });
    }

    /// Waiting orders of instrument `i` that `pred` picks, cancelled in waiting order.
    pub(super) fn cancel_waiting_where(
        &mut self,
        i: usize,
        pred: impl Fn(&Working) -> bool,
        reason: CancelReason,
        out: &mut Vec<Event>,
    ) {
        let ids: Vec<OrderId> = self.waiting[i]
            .open
            .iter()
            .chain(self.waiting[i].close.iter())
            .filter(|id| self.orders.get(id).is_some_and(&pred))
            .collect();
        for id in ids {
            self.cancel_waiting(id, reason, out);
        }
    }

    /// A halted instrument missed its uncross; when it resumes outside a call, it uncrosses
    /// then (a re-opening auction).
    pub(super) fn uncross_on_resume(&mut self, i: usize, out: &mut Vec<Event>) {
        if self.books[i].in_call() && !self.session.is_call() {
            let call = if self.session == Session::Continuous {
                Session::OpeningCall
            } else {
                Session::ClosingCall
            };
            self.uncross(i, call, out);
            self.run_triggers(i, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(line: &WaitLine) -> Vec<u64> {
        line.iter().map(OrderId::get).collect()
    }

    #[test]
    fn a_wait_line_keeps_places_through_holes_and_compaction() {
        let mut line = WaitLine::default();
        for k in 1..=200 {
            line.join(k * 10, OrderId::new(k));
        }
        assert_eq!(line.len(), 200);
        // Out of place: found only at its own place.
        assert!(!line.remove(15, OrderId::new(2)));
        assert!(!line.remove(20, OrderId::new(3)));
        assert!(line.contains(20, OrderId::new(2)));
        // Leaving twice takes one order out once.
        assert!(line.remove(20, OrderId::new(2)));
        assert!(!line.remove(20, OrderId::new(2)));
        assert!(!line.contains(20, OrderId::new(2)));
        assert_eq!(line.len(), 199);
        // Most of the line leaves: holes are dropped, the rest keep their places.
        for k in 3..=150 {
            assert!(line.remove(k * 10, OrderId::new(k)));
        }
        assert!(line.entries.len() <= 2 * line.len() + 64);
        assert_eq!(line.len(), 51);
        assert!(line.contains(1_600, OrderId::new(160)));
        // A place between others (not reached while places rise) still lands in order.
        line.join(5, OrderId::new(999));
        line.join(1_605, OrderId::new(998));
        line.join(1_600, OrderId::new(997));
        let want: Vec<u64> = [999, 1]
            .into_iter()
            .chain(151..=160)
            .chain([998])
            .chain(161..=200)
            .collect();
        assert_eq!(ids(&line), want);
        assert_eq!(line.len(), want.len());
        assert_eq!(
            line.take()
                .into_iter()
                .map(OrderId::get)
                .collect::<Vec<_>>(),
            want
        );
        assert_eq!(line.len(), 0);
        assert_eq!(line.iter().count(), 0);
    }

    #[test]
    fn a_wait_line_from_a_snapshot_is_in_place_order() {
        let line = WaitLine::from_unordered(vec![
            (30, OrderId::new(3)),
            (10, OrderId::new(1)),
            (20, OrderId::new(2)),
            (20, OrderId::new(9)),
        ]);
        // One order per place: a second claim on a place is dropped (the snapshot's
        // invariant check then refuses the snapshot, its order being nowhere).
        assert_eq!(ids(&line), [1, 2, 3]);
        assert_eq!(line.len(), 3);
        assert!(line.contains(30, OrderId::new(3)));
    }
}
