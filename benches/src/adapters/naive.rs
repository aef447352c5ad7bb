//! The naive baseline: the textbook book — a `BTreeMap` of price levels per side, each a
//! `VecDeque` FIFO, and a std `HashMap` from order id to where the order rests. Cancel and
//! amend search the level linearly. It is also an independent check of the flow's expected
//! outcomes.

use std::collections::{BTreeMap, HashMap, VecDeque};

use bourse_core::{Side, TimeInForce};

use super::Venue;
use crate::flow::{Flow, Op, Tally};

type Levels = BTreeMap<i64, VecDeque<(u64, u64)>>;

/// Price → FIFO of (order id, open quantity), per side.
#[derive(Debug, Default)]
pub struct Naive {
    bids: Levels,
    asks: Levels,
    index: HashMap<u64, (Side, i64)>,
}

impl Naive {
    /// Matches an incoming order; returns what is left of it.
    fn take(&mut self, side: Side, limit: i64, mut qty: u64, t: &mut Tally) -> u64 {
        while qty > 0 {
            let entry = match side {
                Side::Buy => self.asks.first_entry(),
                Side::Sell => self.bids.last_entry(),
            };
            let Some(mut level) = entry else { break };
            let price = *level.key();
            let crosses = match side {
                Side::Buy => price <= limit,
                Side::Sell => price >= limit,
            };
            if !crosses {
                break;
            }
            let queue = level.get_mut();
            while qty > 0 {
                let Some(front) = queue.front_mut() else {
                    break;
                };
                let q = qty.min(front.1);
                front.1 -= q;
                qty -= q;
                t.fills += 1;
                t.qty += q;
                if front.1 == 0 {
                    let (maker, _) = queue.pop_front().unwrap_or_default();
                    self.index.remove(&maker);
                }
            }
            if queue.is_empty() {
                level.remove();
            }
        }
        qty
    }

    fn rest(&mut self, id: u64, side: Side, price: i64, qty: u64) {
        let levels = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        levels.entry(price).or_default().push_back((id, qty));
        self.index.insert(id, (side, price));
    }

    fn levels(&mut self, side: Side) -> &mut Levels {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// Takes a resting order off its level; returns its open quantity.
    fn remove(&mut self, id: u64) -> Option<u64> {
        let (side, price) = self.index.remove(&id)?;
        let levels = self.levels(side);
        let queue = levels.get_mut(&price)?;
        let pos = queue.iter().position(|&(o, _)| o == id)?;
        let (_, qty) = queue.remove(pos)?;
        if queue.is_empty() {
            levels.remove(&price);
        }
        Some(qty)
    }
}

impl Venue for Naive {
    const NAME: &'static str = "naive (BTreeMap+VecDeque)";

    fn new(_flow: &Flow) -> Self {
        Self::default()
    }

    fn apply(&mut self, op: &Op) -> Tally {
        let mut t = Tally::default();
        match *op {
            Op::Submit {
                id,
                side,
                price,
                qty,
                tif,
                ..
            } => {
                let left = self.take(side, price.raw(), qty.whole_shares(), &mut t);
                if left > 0 && tif.may_rest() {
                    self.rest(id.get(), side, price.raw(), left);
                } else if left > 0 && tif == TimeInForce::Fok {
                    unreachable!("the flow sends no FOK");
                }
            }
            Op::Cancel { id } => {
                if self.remove(id.get()).is_none() {
                    t.rejects += 1;
                }
            }
            Op::Replace {
                id,
                side,
                price,
                qty,
            } => {
                let Some(&(_, old_price)) = self.index.get(&id.get()) else {
                    t.rejects += 1;
                    return t;
                };
                let raw = price.raw();
                if raw == old_price {
                    let queue = self.levels(side).get_mut(&raw);
                    if let Some(entry) = queue.and_then(|q| q.iter_mut().find(|e| e.0 == id.get()))
                        && qty.whole_shares() <= entry.1
                    {
                        entry.1 = qty.whole_shares();
                        return t;
                    }
                }
                self.remove(id.get());
                let left = self.take(side, raw, qty.whole_shares(), &mut t);
                if left > 0 {
                    self.rest(id.get(), side, raw, left);
                }
            }
        }
        t
    }

    fn touch(&self) -> (Option<i64>, Option<i64>) {
        (
            self.bids.keys().next_back().copied(),
            self.asks.keys().next().copied(),
        )
    }
}
