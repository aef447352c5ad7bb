//! Call auctions on the book: while a call runs, orders rest without matching and the book
//! may cross; the uncross then trades everything it can at one price (see
//! [`crate::auction`] for how that price is chosen) in price-time priority.

use bourse_core::{CancelReason, OrderId, Price, Qty, Side};

use super::{NIL, OrderBook, RestingOrder};
use crate::auction::{Uncross, discover_levels};
use crate::event::{BookEvent, EventSink};

impl OrderBook {
    /// Starts a call: from now on orders rest without matching until [`OrderBook::uncross`].
    pub fn begin_call(&mut self) {
        self.call = true;
    }

    /// Whether a call is running.
    #[must_use]
    pub fn in_call(&self) -> bool {
        self.call
    }

    /// Whether the best bid meets or passes the best ask (possible only during a call).
    #[must_use]
    pub fn is_crossed(&self) -> bool {
        matches!((self.bids.best(), self.asks.best()), (Some(b), Some(a)) if b.price >= a.price)
    }

    /// Where the call would uncross now (the indicative price, volume and imbalance), with
    /// `reference` for the last tie-break; `None` when nothing would trade. One pass over
    /// the price levels: every order in a call is priced, so levels are all it needs.
    #[must_use]
    pub fn indicative(&self, reference: Price) -> Option<Uncross> {
        // Both ladders are in price order (bids best first, so descending): merged into
        // ascending prices in one pass, not sorted (the sort was a sixth of a deep call's
        // uncross, callgrind).
        let bids: Vec<(Price, u64)> = self.bids.iter().map(|l| (l.price, l.qty)).collect();
        let mut buys = bids.iter().rev().copied().peekable();
        let mut sells = self.asks.iter().map(|l| (l.price, l.qty)).peekable();
        let mut levels: Vec<(Price, u128, u128)> = Vec::with_capacity(bids.len() + self.asks.len());
        loop {
            let level = match (buys.peek().copied(), sells.peek().copied()) {
                (None, None) => break,
                (Some((bp, bq)), Some((sp, sq))) if bp == sp => {
                    buys.next();
                    sells.next();
                    (bp, u128::from(bq), u128::from(sq))
                }
                (Some((bp, bq)), Some((sp, _))) if bp < sp => {
                    buys.next();
                    (bp, u128::from(bq), 0)
                }
                (Some((bp, bq)), None) => {
                    buys.next();
                    (bp, u128::from(bq), 0)
                }
                (_, Some((sp, sq))) => {
                    sells.next();
                    (sp, 0, u128::from(sq))
                }
            };
            levels.push(level);
        }
        discover_levels(&levels, 0, 0, reference)
    }

    /// Ends the call: trades at the discovered price, best price first and in time order
    /// within a price, each trade between the head buy and the head sell, the earlier of the
    /// two as maker. Orders of one account never trade with each other: the later of the
    /// two is cancelled (`SELF_TRADE`), and if that leaves the book crossed the rest is
    /// uncrossed again at a price discovered anew. Returns the price of the first round in
    /// which shares traded, with its imbalance, and the volume that traded in all; `None` if
    /// nothing traded. (A round that only cancelled self-matches names no price: none of its
    /// shares traded there.)
    pub fn uncross(&mut self, reference: Price, out: &mut impl EventSink) -> Option<Uncross> {
        let mut result: Option<Uncross> = None;
        let mut volume = 0u64;
        while let Some(u) = self.indicative(reference) {
            let traded = self.trade_at(u.price, out);
            volume = volume.saturating_add(traded);
            if traded > 0 && result.is_none() {
                result = Some(u);
            }
            if !self.is_crossed() {
                break;
            }
        }
        self.call = false;
        result.map(|u| Uncross {
            volume: Qty::from_raw(volume),
            ..u
        })
    }

    /// Takes a resting order off the book without a report (the caller reports it as it
    /// sees fit): what it was, or `None` if it is not resting.
    pub fn withdraw(&mut self, id: OrderId) -> Option<RestingOrder> {
        let slot = self.lookup(id)?;
        let o = self.view(slot);
        self.unlink(slot);
        self.release(slot);
        Some(o)
    }

    /// Trades the head buy against the head sell while both are willing at `price`; returns
    /// the shares traded.
    fn trade_at(&mut self, price: Price, out: &mut impl EventSink) -> u64 {
        let mut traded = 0u64;
        while let (Some(bl), Some(al)) = (self.bids.best_slot(), self.asks.best_slot()) {
            if self.bids.level(bl).price < price || self.asks.level(al).price > price {
                break;
            }
            let (b, a) = (self.bids.level(bl).head, self.asks.level(al).head);
            let (bn, an) = (self.nodes[b as usize], self.nodes[a as usize]);
            // The earlier arrival (lower id) is the maker.
            let (maker, taker) = if bn.id < an.id { (bn, an) } else { (an, bn) };
            if maker.owner == taker.owner {
                let slot = if taker.id == bn.id { b } else { a };
                self.take_resting(slot, CancelReason::SelfTrade, out);
                continue;
            }
            let q = bn.qty.min(an.qty);
            self.reduce_head(Side::Buy, bl, q);
            self.reduce_head(Side::Sell, al, q);
            traded += q;
            out.emit(BookEvent::Fill {
                maker: maker.id,
                maker_owner: maker.owner,
                taker: taker.id,
                taker_owner: taker.owner,
                taker_side: taker.side,
                price,
                qty: Qty::from_raw(q),
                maker_leaves: Qty::from_raw(maker.qty - q),
                taker_leaves: Qty::from_raw(taker.qty - q),
            });
            self.last_trade = Some(price);
        }
        traded
    }

    /// Takes `q` shares (at most its quantity) from the head order of the level in `lslot`
    /// on `side`, removing the order, and the level, when they empty.
    fn reduce_head(&mut self, side: Side, lslot: u32, q: u64) {
        let ladder = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        ladder.total -= u128::from(q);
        let level = ladder.level_mut(lslot);
        let slot = level.head;
        let node = &mut self.nodes[slot as usize];
        node.qty -= q;
        level.qty -= q;
        if node.qty > 0 {
            return;
        }
        let next = node.next;
        level.head = next;
        level.count -= 1;
        if next == NIL {
            ladder.remove(lslot);
        } else {
            self.nodes[next as usize].prev = NIL;
        }
        self.release(slot);
    }
}
