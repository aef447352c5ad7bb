//! matchcore 0.4.0 behind the [`Venue`] interface.
//!
//! - Ids: matchcore assigns each order the sequence number of its submit command, and every
//!   command needs the next sequence number; a `Vec` indexed by our (dense) id maps ours to
//!   theirs, sized once for the flow.
//! - Bug workaround: a crossing limit order (GTC or IOC), and a reprice that crosses, is
//!   matched with no limit price (`match_order(.., None, ..)` in `submit_crossable_order` and
//!   in `amend`), so it sweeps through worse prices like a market order. Before any order that
//!   can cross we add up the liquidity inside its limit and send only that much as the
//!   taking part; a GTC remainder goes in as a second, non-crossing order.

use bourse_benches::adapters::Venue;
use bourse_benches::flow::{Flow, Op, Tally};
use bourse_core::{Side, TimeInForce};
use matchcore as mc;

pub(crate) struct Matchcore {
    book: mc::OrderBook,
    seq: u64,
    ids: Vec<u64>,
}

fn side(s: Side) -> mc::Side {
    match s {
        Side::Buy => mc::Side::Buy,
        Side::Sell => mc::Side::Sell,
    }
}

fn limit(s: Side, px: u64, qty: u64, tif: mc::TimeInForce) -> mc::CommandKind {
    mc::CommandKind::Submit(mc::SubmitCmd {
        order: mc::NewOrder::Limit(mc::LimitOrder::new(
            mc::Price(px),
            mc::QuantityPolicy::Standard {
                quantity: mc::Quantity(qty),
            },
            mc::OrderFlags::new(side(s), false, tif),
        )),
    })
}

#[inline]
fn tally(out: &mc::CommandOutcome) -> Tally {
    match out {
        mc::CommandOutcome::Applied(mc::CommandReport::Submit(e) | mc::CommandReport::Amend(e)) => {
            e.target_order()
                .match_result()
                .map_or_else(Tally::default, |m| Tally {
                    fills: u32::try_from(m.trades().len()).unwrap_or(u32::MAX),
                    qty: m.executed_quantity().0,
                    rejects: 0,
                })
        }
        mc::CommandOutcome::Applied(_) => Tally::default(),
        mc::CommandOutcome::Rejected(_) => Tally {
            rejects: 1,
            ..Tally::default()
        },
    }
}

impl Matchcore {
    #[inline]
    fn exec(&mut self, kind: mc::CommandKind) -> mc::CommandOutcome {
        let meta = mc::CommandMeta {
            sequence_number: mc::SequenceNumber(self.seq),
            timestamp: mc::Timestamp(self.seq),
        };
        self.seq += 1;
        self.book.execute(&mc::Command { meta, kind })
    }

    /// Resting quantity a `s` order limited at `px` could take, counted until `need`.
    #[inline]
    fn liquidity_within(&self, s: Side, px: u64, need: u64) -> u64 {
        let lb = self.book.limit();
        let mut sum = 0;
        let mut add = |level: &usize| {
            sum += lb.levels()[*level].total_quantity().0;
            sum >= need
        };
        match s {
            Side::Buy => {
                for level in lb.asks().range(..=mc::Price(px)).map(|(_, l)| l) {
                    if add(level) {
                        break;
                    }
                }
            }
            Side::Sell => {
                for level in lb.bids().range(mc::Price(px)..).rev().map(|(_, l)| l) {
                    if add(level) {
                        break;
                    }
                }
            }
        }
        sum
    }

    /// A limit order that may cross, split so that matchcore cannot trade it past `px`.
    fn submit(&mut self, id: u64, s: Side, px: u64, qty: u64, rests: bool) -> Tally {
        let avail = self.liquidity_within(s, px, qty);
        if avail == 0 {
            // Nothing crosses: matchcore's own non-crossing path is correct.
            let tif = if rests {
                self.ids[idx(id)] = self.seq;
                mc::TimeInForce::Gtc
            } else {
                mc::TimeInForce::Ioc
            };
            return tally(&self.exec(limit(s, px, qty, tif)));
        }
        let take = avail.min(qty);
        let mut t = tally(&self.exec(limit(s, px, take, mc::TimeInForce::Ioc)));
        if rests && qty > take {
            self.ids[idx(id)] = self.seq;
            t += tally(&self.exec(limit(s, px, qty - take, mc::TimeInForce::Gtc)));
        }
        t
    }
}

fn idx(id: u64) -> usize {
    usize::try_from(id).unwrap_or(usize::MAX)
}

impl Venue for Matchcore {
    const NAME: &'static str = "matchcore 0.4.0";

    fn new(flow: &Flow) -> Self {
        Self {
            book: mc::OrderBook::new("BENCH"),
            seq: 0,
            ids: vec![u64::MAX; idx(flow.next_free_id())],
        }
    }

    #[inline]
    fn apply(&mut self, op: &Op) -> Tally {
        match *op {
            Op::Submit {
                id,
                side,
                price,
                qty,
                tif,
                ..
            } => {
                let rests = match tif {
                    TimeInForce::Gtc | TimeInForce::Day => true,
                    TimeInForce::Ioc => false,
                    TimeInForce::Fok | TimeInForce::Opg | TimeInForce::Cls => {
                        unreachable!("the flow sends no FOK and no auction orders")
                    }
                };
                self.submit(
                    id.get(),
                    side,
                    price.raw().unsigned_abs(),
                    qty.whole_shares(),
                    rests,
                )
            }
            Op::Cancel { id } => {
                let order_id = mc::OrderId(self.ids[idx(id.get())]);
                tally(&self.exec(mc::CommandKind::Cancel(mc::CancelCmd {
                    order_id,
                    order_kind: mc::OrderKind::Limit,
                })))
            }
            Op::Replace {
                id,
                side: s,
                price,
                qty,
            } => {
                let order_id = mc::OrderId(self.ids[idx(id.get())]);
                let px = price.raw().unsigned_abs();
                let lb = self.book.limit();
                let crosses = match s {
                    Side::Buy => lb.asks().first_key_value().is_some_and(|(p, _)| p.0 <= px),
                    Side::Sell => lb.bids().last_key_value().is_some_and(|(p, _)| p.0 >= px),
                };
                if crosses {
                    // An amend would sweep past `px` (the bug above): cancel, then enter anew.
                    let mut t = tally(&self.exec(mc::CommandKind::Cancel(mc::CancelCmd {
                        order_id,
                        order_kind: mc::OrderKind::Limit,
                    })));
                    t += self.submit(id.get(), s, px, qty.whole_shares(), true);
                    return t;
                }
                // Same price and a smaller size keeps priority; anything else re-queues.
                let patch = mc::LimitOrderPatch::new()
                    .with_price(mc::Price(px))
                    .with_quantity_policy(mc::QuantityPolicy::Standard {
                        quantity: mc::Quantity(qty.whole_shares()),
                    });
                tally(&self.exec(mc::CommandKind::Amend(mc::AmendCmd {
                    order_id,
                    patch: mc::AmendPatch::Limit(patch),
                })))
            }
        }
    }

    fn touch(&self) -> (Option<i64>, Option<i64>) {
        let lb = self.book.limit();
        let raw = |p: &mc::Price| i64::try_from(p.0).ok();
        (
            lb.bids().last_key_value().and_then(|(p, _)| raw(p)),
            lb.asks().first_key_value().and_then(|(p, _)| raw(p)),
        )
    }
}
