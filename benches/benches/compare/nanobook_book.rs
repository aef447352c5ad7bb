//! nanobook 0.19.3 behind the [`Venue`] interface.
//!
//! - Ids: nanobook assigns its own (`OrderId` from 1); a `Vec` indexed by our dense id maps
//!   ours to theirs, sized once for the flow.
//! - Bug workaround: `Exchange::cancel` (and `modify`, which cancels) tombstones the queue
//!   slot recorded when the order was added, but matching pops filled makers off the front,
//!   so the recorded slot goes stale: the wrong order is cancelled and a later taker can spin
//!   forever on a zero-quantity entry. We cancel through the book instead — find the order
//!   in its level by id, remove it, mark it cancelled — which is correct but O(level).
//! - nanobook has no in-place amend (`modify` is cancel + new, losing priority even for a
//!   size reduction), so a same-price reduction lowers the order's and its level's quantity
//!   through the public book API, keeping priority as a price-time book must; a reprice is
//!   our cancel + a new order (a new nanobook id).
//! - The exchange keeps every trade and every order ever submitted; the documented
//!   `clear_trades` / `clear_order_history` run every 2^16 messages, inside the timing.

use bourse_benches::adapters::Venue;
use bourse_benches::flow::{Flow, Op, Tally};
use bourse_core::{Side, TimeInForce};
use nanobook as nb;

const CLEAR_EVERY: u32 = 1 << 16;

pub(crate) struct Nanobook {
    ex: nb::Exchange,
    ids: Vec<nb::OrderId>,
    since_clear: u32,
}

fn side(s: Side) -> nb::Side {
    match s {
        Side::Buy => nb::Side::Buy,
        Side::Sell => nb::Side::Sell,
    }
}

#[inline]
fn tally(r: &nb::SubmitResult) -> Tally {
    Tally {
        fills: u32::try_from(r.trades.len()).unwrap_or(u32::MAX),
        qty: r.filled_quantity,
        rejects: 0,
    }
}

fn idx(id: u64) -> usize {
    usize::try_from(id).unwrap_or(usize::MAX)
}

impl Nanobook {
    /// Cancel that stays correct after fills (see the module docs).
    #[inline]
    fn safe_cancel(&mut self, id: nb::OrderId) -> bool {
        let (s, price, rem) = match self.ex.get_order(id) {
            Some(o) if o.is_active() => (o.side, o.price, o.remaining_quantity),
            _ => return false,
        };
        let book = self.ex.book_mut();
        book.side_mut(s).remove_order(price, id, rem);
        if let Some(o) = book.get_order_mut(id) {
            o.cancel();
        }
        true
    }
}

impl Venue for Nanobook {
    const NAME: &'static str = "nanobook 0.19.3";

    fn new(flow: &Flow) -> Self {
        Self {
            ex: nb::Exchange::new(),
            ids: vec![nb::OrderId(0); idx(flow.next_free_id())],
            since_clear: 0,
        }
    }

    #[inline]
    fn apply(&mut self, op: &Op) -> Tally {
        self.since_clear += 1;
        if self.since_clear == CLEAR_EVERY {
            self.since_clear = 0;
            self.ex.clear_trades();
            self.ex.clear_order_history();
        }
        match *op {
            Op::Submit {
                id,
                side: s,
                price,
                qty,
                tif,
                ..
            } => {
                let tif = match tif {
                    TimeInForce::Gtc | TimeInForce::Day => nb::TimeInForce::GTC,
                    TimeInForce::Ioc => nb::TimeInForce::IOC,
                    TimeInForce::Fok => nb::TimeInForce::FOK,
                    TimeInForce::Opg | TimeInForce::Cls => {
                        unreachable!("the flow sends no auction orders")
                    }
                };
                let r =
                    self.ex
                        .submit_limit(side(s), nb::Price(price.raw()), qty.whole_shares(), tif);
                self.ids[idx(id.get())] = r.order_id;
                tally(&r)
            }
            Op::Cancel { id } => {
                let ok = self.safe_cancel(self.ids[idx(id.get())]);
                Tally {
                    rejects: u32::from(!ok),
                    ..Tally::default()
                }
            }
            Op::Replace {
                id,
                side: s,
                price,
                qty,
            } => {
                let nid = self.ids[idx(id.get())];
                let (old_price, rem) = match self.ex.get_order(nid) {
                    Some(o) if o.is_active() => (o.price, o.remaining_quantity),
                    _ => {
                        return Tally {
                            rejects: 1,
                            ..Tally::default()
                        };
                    }
                };
                let price = nb::Price(price.raw());
                if price == old_price && qty.whole_shares() <= rem {
                    let book = self.ex.book_mut();
                    if let Some(o) = book.get_order_mut(nid) {
                        o.remaining_quantity = qty.whole_shares();
                    }
                    if let Some(level) = book.side_mut(side(s)).get_level_mut(price) {
                        level.decrease_quantity(rem - qty.whole_shares());
                    }
                    return Tally::default();
                }
                self.safe_cancel(nid);
                let r =
                    self.ex
                        .submit_limit(side(s), price, qty.whole_shares(), nb::TimeInForce::GTC);
                self.ids[idx(id.get())] = r.order_id;
                tally(&r)
            }
        }
    }

    fn touch(&self) -> (Option<i64>, Option<i64>) {
        (
            self.ex.best_bid().map(|p| p.0),
            self.ex.best_ask().map(|p| p.0),
        )
    }
}
