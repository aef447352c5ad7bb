//! Trailing stops: held like stops, with a stop price that follows the trades. For a sell
//! the water mark is the highest trade since the order was placed and the stop sits the
//! trail below it; for a buy, the lowest trade and the trail above. The stop only ever
//! moves in the order's favour; it triggers as a stop does (`stops.rs`).

use bourse_core::{Event, OrderId, Price, Side, Trail};
use serde::{Deserialize, Serialize};

use super::Engine;
use super::stops::{Line, Stops};

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
    /// (water mark, id), raw prices.
    sells: Line,
    buys: Line,
    /// The ids a trade moves (scratch, not state: empty between commands' use).
    scratch: Vec<OrderId>,
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

    fn marks(&mut self, side: Side) -> &mut Line {
        match side {
            Side::Sell => &mut self.sells,
            Side::Buy => &mut self.buys,
        }
    }

    pub(super) fn insert(&mut self, id: OrderId, t: Trailing) {
        if let Some(old) = self.by_id.insert(id, t) {
            self.marks(old.side).remove(&(old.water.raw(), id));
        }
        self.marks(t.side).insert((t.water.raw(), id));
    }

    pub(super) fn remove(&mut self, id: &OrderId) {
        if let Some(old) = self.by_id.remove(id) {
            self.marks(old.side).remove(&(old.water.raw(), *id));
        }
    }

    /// Takes out of the marks, into `ids`, the sells whose water mark a trade at `hi`
    /// betters, then the buys whose mark a trade at `lo` betters, each side in id order;
    /// [`TrailingMap::settle`] puts each back at its new mark. Walked from the ends with
    /// the same B-tree calls the stop queues make (first, last, remove, insert) rather than
    /// a range iterator: fewer distinct code paths for the instruction cache, and no more
    /// tree operations.
    fn take_bettered(&mut self, hi: Price, lo: Price, ids: &mut Vec<OrderId>) {
        ids.clear();
        while let Some(&(w, id)) = self.sells.first()
            && w < hi.raw()
        {
            self.sells.remove(&(w, id));
            ids.push(id);
        }
        let sells = ids.len();
        while let Some(&(w, id)) = self.buys.last()
            && w > lo.raw()
        {
            self.buys.remove(&(w, id));
            ids.push(id);
        }
        ids[..sells].sort_unstable();
        ids[sells..].sort_unstable();
    }

    /// Puts `id` (taken out by [`TrailingMap::take_bettered`]) back at its new water mark,
    /// `hi` for a sell and `lo` for a buy; its trailing state.
    fn settle(&mut self, id: OrderId, hi: Price, lo: Price) -> Option<Trailing> {
        let t = self.by_id.get_mut(&id)?;
        t.water = match t.side {
            Side::Sell => hi,
            Side::Buy => lo,
        };
        let t = *t;
        self.marks(t.side).insert((t.water.raw(), id));
        Some(t)
    }

    /// Whether the sets and the map agree (for the engine's invariants).
    pub(super) fn consistent(&self) -> bool {
        self.sells.len() + self.buys.len() == self.by_id.len()
            && self.by_id.iter().all(|(id, t)| match t.side {
                Side::Sell => self.sells.contains(&(t.water.raw(), *id)),
                Side::Buy => self.buys.contains(&(t.water.raw(), *id)),
            })
    }
}

/// The stop `trail` behind `water`, on the tick: rounded away from the market (down for a
/// sell, up for a buy), so it never triggers earlier than the trail says. `None` when there
/// is no such positive price.
pub(super) fn stop_for(side: Side, water: Price, trail: Trail, tick: Price) -> Option<Price> {
    let w = water.raw();
    // In i64 while it fits (any price below $92bn at 10⁻⁴ $): a 128-bit division showed in
    // the trailing-stop mix's profile. Floor division of a positive value rounds the sell
    // stop down; the buy's adds 9,999 first to round up.
    let raw = match (side, trail) {
        (Side::Sell, Trail::Price(p)) => w.checked_sub(p.raw()),
        (Side::Buy, Trail::Price(p)) => w.checked_add(p.raw()),
        (Side::Sell, Trail::Bps(b)) => w
            .checked_mul(10_000 - i64::from(b))
            .map(|v| v / 10_000)
            .or_else(|| i64::try_from(i128::from(w) * (10_000 - i128::from(b)) / 10_000).ok()),
        (Side::Buy, Trail::Bps(b)) => w
            .checked_mul(10_000 + i64::from(b))
            .and_then(|v| v.checked_add(9_999))
            .map(|v| v / 10_000)
            .or_else(|| {
                i64::try_from((i128::from(w) * (10_000 + i128::from(b)) + 9_999) / 10_000).ok()
            }),
    }?;
    let p = Price::from_raw(raw);
    let p = match side {
        Side::Sell => p.floor_to(tick),
        Side::Buy => p.ceil_to(tick)?,
    };
    p.is_positive().then_some(p)
}

impl Engine {
    /// Trades from `lo` to `hi` in instrument `i` (one submission's): every trailing stop
    /// whose water mark they better follows, its stop moving with it (re-keyed in the
    /// trigger queue) and reported once.
    pub(super) fn follow_trades(&mut self, i: usize, hi: Price, lo: Price, out: &mut Vec<Event>) {
        let tr = &self.trailing[i];
        let quiet = tr.sells.first().is_none_or(|(w, _)| *w >= hi.raw())
            && tr.buys.last().is_none_or(|(w, _)| *w <= lo.raw());
        if !quiet {
            self.move_trailing(i, hi, lo, out);
        }
    }

    /// [`Engine::follow_trades`] when some mark moves: out of line, so that the common
    /// look (nothing moves) stays small where it is inlined.
    #[inline(never)]
    fn move_trailing(&mut self, i: usize, hi: Price, lo: Price, out: &mut Vec<Event>) {
        let tick = self.instruments[i].tick;
        let symbol = self.instruments[i].symbol;
        let mut ids = std::mem::take(&mut self.trailing[i].scratch);
        self.trailing[i].take_bettered(hi, lo, &mut ids);
        for &id in &ids {
            // Back in the marks before anything else: the maps agree whatever follows.
            let Some(t) = self.trailing[i].settle(id, hi, lo) else {
                continue;
            };
            let water = t.water;
            let Some(w) = self.orders.get_mut(&id) else {
                continue;
            };
            let Some(stop) = stop_for(w.side, water, t.trail, tick) else {
                continue;
            };
            let Some(old) = w.stop_price.filter(|old| *old != stop) else {
                continue;
            };
            w.stop_price = Some(stop);
            let (side, account) = (w.side, w.account);
            let map = self.stops[i].map(side);
            map.remove(&Stops::key(side, old, id));
            map.insert(Stops::key(side, stop, id));
            out.push(Event::OrderStopMoved {
                order_id: id,
                account,
                symbol,
                stop_price: stop,
                water,
                trail: t.trail,
            });
        }
        self.trailing[i].scratch = ids;
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
