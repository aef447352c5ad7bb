//! Trailing stops: held like stops, with a stop price that follows the trades. For a sell
//! the water mark is the highest trade since the order was placed and the stop sits the
//! trail below it; for a buy, the lowest trade and the trail above. The stop only ever
//! moves in the order's favour; it triggers as a stop does (`stops.rs`).

use std::collections::BTreeSet;

use bourse_core::{Event, OrderId, Price, Side, Trail};
use serde::{Deserialize, Serialize};

use super::Engine;
use super::stops::Stops;

/// What a trailing stop follows with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Trailing {
    pub(super) side: Side,
    pub(super) trail: Trail,
    /// The highest trade since placement (a sell), or the lowest (a buy).
    pub(super) water: Price,
}

/// One instrument's trailing stops, by id and by water mark. A trade at `p` moves only the
/// sells whose mark is below `p` and the buys whose mark is above: the ordered sets find
/// those (none, most of the time) without a look at the others, so a book full of trailing
/// stops costs a trade one comparison unless it makes a new high or low for some of them.
#[derive(Clone, Debug, Default)]
pub(super) struct TrailingMap {
    /// Looked up on every move; never iterated where order matters (a snapshot sorts).
    by_id: rustc_hash::FxHashMap<OrderId, Trailing>,
    sells: BTreeSet<(Price, OrderId)>,
    buys: BTreeSet<(Price, OrderId)>,
}

impl TrailingMap {
    pub(super) fn new() -> TrailingMap {
        TrailingMap::default()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&OrderId, &Trailing)> {
        self.by_id.iter()
    }

    fn marks(&mut self, side: Side) -> &mut BTreeSet<(Price, OrderId)> {
        match side {
            Side::Sell => &mut self.sells,
            Side::Buy => &mut self.buys,
        }
    }

    pub(super) fn insert(&mut self, id: OrderId, t: Trailing) {
        if let Some(old) = self.by_id.insert(id, t) {
            self.marks(old.side).remove(&(old.water, id));
        }
        self.marks(t.side).insert((t.water, id));
    }

    pub(super) fn remove(&mut self, id: &OrderId) {
        if let Some(old) = self.by_id.remove(id) {
            self.marks(old.side).remove(&(old.water, *id));
        }
    }

    /// Moves `id`'s water mark to `water` (re-keyed among the marks); its trailing state.
    fn raise(&mut self, id: OrderId, water: Price) -> Option<Trailing> {
        let t = self.by_id.get_mut(&id)?;
        let old = t.water;
        t.water = water;
        let t = *t;
        let marks = self.marks(t.side);
        marks.remove(&(old, id));
        marks.insert((water, id));
        Some(t)
    }

    /// The ids whose water mark a trade at `price` betters, in id order within each side
    /// (sells, then buys).
    fn bettered(&self, price: Price) -> Vec<OrderId> {
        let mut ids: Vec<OrderId> = self
            .sells
            .range(..(price, OrderId::new(0)))
            .map(|(_, id)| *id)
            .collect();
        let sells = ids.len();
        ids.extend(
            self.buys
                .range((price, OrderId::new(u64::MAX))..)
                .filter(|(w, _)| *w > price)
                .map(|(_, id)| *id),
        );
        ids[..sells].sort_unstable();
        ids[sells..].sort_unstable();
        ids
    }

    /// Whether the sets and the map agree (for the engine's invariants).
    pub(super) fn consistent(&self) -> bool {
        self.sells.len() + self.buys.len() == self.by_id.len()
            && self.by_id.iter().all(|(id, t)| match t.side {
                Side::Sell => self.sells.contains(&(t.water, *id)),
                Side::Buy => self.buys.contains(&(t.water, *id)),
            })
    }
}

/// The stop `trail` behind `water`, on the tick: rounded away from the market (down for a
/// sell, up for a buy), so it never triggers earlier than the trail says. `None` when there
/// is no such positive price.
pub(super) fn stop_for(side: Side, water: Price, trail: Trail, tick: Price) -> Option<Price> {
    let w = i128::from(water.raw());
    let raw = match (side, trail) {
        (Side::Sell, Trail::Price(p)) => w - i128::from(p.raw()),
        (Side::Buy, Trail::Price(p)) => w + i128::from(p.raw()),
        // Floor division of a positive value: the sell stop rounds down.
        (Side::Sell, Trail::Bps(b)) => w * (10_000 - i128::from(b)) / 10_000,
        (Side::Buy, Trail::Bps(b)) => (w * (10_000 + i128::from(b)) + 9_999) / 10_000,
    };
    let p = Price::from_raw(i64::try_from(raw).ok()?);
    let p = match side {
        Side::Sell => p.floor_to(tick),
        Side::Buy => p.ceil_to(tick)?,
    };
    p.is_positive().then_some(p)
}

impl Engine {
    /// A trade at `price` in instrument `i`: every trailing stop whose water mark it betters
    /// follows, its stop moving with it (re-keyed in the trigger queue) and reported.
    pub(super) fn follow_trade(&mut self, i: usize, price: Price, out: &mut Vec<Event>) {
        let tr = &self.trailing[i];
        let quiet = tr.sells.first().is_none_or(|(w, _)| *w >= price)
            && tr.buys.last().is_none_or(|(w, _)| *w <= price);
        if quiet {
            return;
        }
        let tick = self.instruments[i].tick;
        let symbol = self.instruments[i].symbol;
        for id in self.trailing[i].bettered(price) {
            let Some(t) = self.trailing[i].raise(id, price) else {
                continue;
            };
            let Some(w) = self.orders.get_mut(&id) else {
                continue;
            };
            let Some(stop) = stop_for(w.side, price, t.trail, tick) else {
                continue;
            };
            let Some(old) = w.stop_price.filter(|old| *old != stop) else {
                continue;
            };
            w.stop_price = Some(stop);
            let (side, account) = (w.side, w.account);
            let map = self.stops[i].map(side);
            map.remove(&Stops::key(side, old, id));
            map.insert(Stops::key(side, stop, id), id);
            out.push(Event::OrderStopMoved {
                order_id: id,
                account,
                symbol,
                stop_price: stop,
                water: price,
                trail: t.trail,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(s: &str) -> Price {
        s.parse().unwrap_or(Price::ZERO)
    }

    #[test]
    fn stops_sit_the_trail_from_the_water_rounded_away_from_the_market() {
        let tick = px("0.01");
        let s = |side, water, trail| stop_for(side, px(water), trail, tick);
        assert_eq!(
            s(Side::Sell, "100", Trail::Price(px("2.5"))),
            Some(px("97.50"))
        );
        assert_eq!(
            s(Side::Buy, "100", Trail::Price(px("2.5"))),
            Some(px("102.50"))
        );
        // 1.5 % of 100.01 is 1.50015: the sell stop 98.50985 rounds down, the buy stop
        // 101.51015 up.
        assert_eq!(s(Side::Sell, "100.01", Trail::Bps(150)), Some(px("98.50")));
        assert_eq!(s(Side::Buy, "100.01", Trail::Bps(150)), Some(px("101.52")));
        assert_eq!(s(Side::Sell, "2", Trail::Price(px("2"))), None);
        assert_eq!(s(Side::Sell, "1", Trail::Bps(9_999)), None);
    }
}
