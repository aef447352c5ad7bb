//! One side of the book: price levels with stable slots, found by price in one hash probe,
//! and an ordering of their prices with the best LAST.
//!
//! Orders carry their level's slot, so a cancel, fill or amend reaches its level without a
//! search. A price search happens only when a level is created or destroyed, and then over
//! a dense `Vec` of sort keys where the touch is at the end: matching pops from the end, and
//! adding or removing a level near the touch moves only a few elements.

use bourse_core::{Price, Side};
use rustc_hash::FxHashMap;

/// Sentinel for "no node" / "no level" in the intrusive lists.
pub(crate) const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Level {
    pub(crate) price: Price,
    /// Sum of the resting quantities at this level.
    pub(crate) qty: u64,
    pub(crate) count: u32,
    /// First order in time priority; for a free slot, the next free slot.
    pub(crate) head: u32,
    pub(crate) tail: u32,
}

#[derive(Clone, Debug)]
pub(crate) struct Ladder {
    side: Side,
    /// Level storage; slots are stable while the level lives.
    slots: Vec<Level>,
    free: u32,
    by_price: FxHashMap<Price, u32>,
    /// (sort key, slot) ascending by key, i.e. from the worst price to the best; the last
    /// entry is the touch. The key makes "better" mean "greater" on both sides.
    order: Vec<(i64, u32)>,
    /// Sum of all resting quantity on this side. It bounds every level's aggregate, so an
    /// order that keeps it within `u64` needs no per-level overflow check; `u128` so the
    /// sum itself cannot overflow.
    pub(crate) total: u128,
}

impl Ladder {
    pub(crate) fn with_capacity(side: Side, cap: usize) -> Self {
        let mut by_price = FxHashMap::default();
        by_price.reserve(cap);
        Self {
            side,
            slots: Vec::with_capacity(cap),
            free: NIL,
            by_price,
            order: Vec::with_capacity(cap),
            total: 0,
        }
    }

    /// Sort key: ascending key = improving price. `!p` flips the order of asks without the
    /// overflow a negation would have at `i64::MIN`.
    #[inline]
    fn key(&self, price: Price) -> i64 {
        match self.side {
            Side::Buy => price.raw(),
            Side::Sell => !price.raw(),
        }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// Slot of the best level.
    #[inline]
    pub(crate) fn best_slot(&self) -> Option<u32> {
        self.order.last().map(|&(_, s)| s)
    }

    #[inline]
    pub(crate) fn best(&self) -> Option<&Level> {
        self.best_slot().map(|s| &self.slots[s as usize])
    }

    #[inline]
    pub(crate) fn level(&self, slot: u32) -> &Level {
        &self.slots[slot as usize]
    }

    #[inline]
    pub(crate) fn level_mut(&mut self, slot: u32) -> &mut Level {
        &mut self.slots[slot as usize]
    }

    /// Slot of the level at `price`, if there is one.
    #[inline]
    pub(crate) fn get(&self, price: Price) -> Option<u32> {
        self.by_price.get(&price).copied()
    }

    /// Levels from the best to the worst.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = &Level> + '_ {
        self.order
            .iter()
            .rev()
            .map(|&(_, s)| &self.slots[s as usize])
    }

    /// Slot of the level at position `pos` counted from the worst (`len() - 1` is the best).
    #[inline]
    pub(crate) fn slot_at(&self, pos: usize) -> u32 {
        self.order[pos].1
    }

    /// Slots from the best to the worst.
    pub(crate) fn slots_best_first(&self) -> impl Iterator<Item = u32> + '_ {
        self.order.iter().rev().map(|&(_, s)| s)
    }

    /// Slot of the level at `price`, creating an empty one if needed.
    #[inline]
    pub(crate) fn get_or_insert(&mut self, price: Price) -> u32 {
        if let Some(&s) = self.by_price.get(&price) {
            return s;
        }
        let level = Level {
            price,
            qty: 0,
            count: 0,
            head: NIL,
            tail: NIL,
        };
        let slot = if self.free == NIL {
            let s = u32::try_from(self.slots.len()).unwrap_or(NIL);
            self.slots.push(level);
            s
        } else {
            let s = self.free;
            self.free = self.slots[s as usize].head;
            self.slots[s as usize] = level;
            s
        };
        self.by_price.insert(price, slot);
        let key = self.key(price);
        let at = self.position(key).unwrap_or_else(|i| i);
        self.order.insert(at, (key, slot));
        slot
    }

    /// Drops the (empty) level in `slot`.
    #[inline]
    pub(crate) fn remove(&mut self, slot: u32) {
        let price = self.slots[slot as usize].price;
        self.by_price.remove(&price);
        if self.order.last().is_some_and(|&(_, s)| s == slot) {
            self.order.pop();
        } else if let Ok(at) = self.position(self.key(price)) {
            self.order.remove(at);
        }
        self.slots[slot as usize].head = self.free;
        self.free = slot;
    }

    /// Index in `order` of `key`, or where it would be inserted. Levels are created and
    /// destroyed mostly at or next to the touch, so the last two entries are tried first.
    #[inline]
    fn position(&self, key: i64) -> Result<usize, usize> {
        let n = self.order.len();
        for i in (n.saturating_sub(2)..n).rev() {
            let k = self.order[i].0;
            if k == key {
                return Ok(i);
            }
            if k < key {
                return Err(i + 1);
            }
        }
        let deeper = &self.order[..n.saturating_sub(2)];
        let at = deeper.partition_point(|&(k, _)| k < key);
        match deeper.get(at) {
            Some(&(k, _)) if k == key => Ok(at),
            _ => Err(at),
        }
    }

    /// Checks the ladder's own bookkeeping: `order` strictly sorted, and `order`, `by_price`
    /// and the live slots naming the same levels.
    pub(crate) fn check(&self) -> Result<(), String> {
        for w in self.order.windows(2) {
            if w[0].0 >= w[1].0 {
                return Err("levels out of order".to_owned());
            }
        }
        if self.by_price.len() != self.order.len() {
            return Err("price index and level order disagree in size".to_owned());
        }
        for &(key, slot) in &self.order {
            let level = self
                .slots
                .get(slot as usize)
                .ok_or("level slot out of range")?;
            if self.key(level.price) != key || self.by_price.get(&level.price) != Some(&slot) {
                return Err(format!("level at {:?} misindexed", level.price));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ladder(side: Side, prices: &[i64]) -> Ladder {
        let mut l = Ladder::with_capacity(side, 4);
        for &p in prices {
            l.get_or_insert(Price::from_raw(p));
        }
        l
    }

    fn prices(l: &Ladder) -> Vec<i64> {
        l.iter().map(|l| l.price.raw()).collect()
    }

    #[test]
    fn bids_best_first() {
        let l = ladder(Side::Buy, &[5, 1, 9, 3, 9, 7]);
        assert_eq!(prices(&l), vec![9, 7, 5, 3, 1]);
        assert_eq!(l.best().map(|l| l.price.raw()), Some(9));
        l.check().unwrap();
    }

    #[test]
    fn asks_best_first() {
        let l = ladder(Side::Sell, &[5, 1, 9, 3, 7]);
        assert_eq!(prices(&l), vec![1, 3, 5, 7, 9]);
        l.check().unwrap();
    }

    #[test]
    fn insert_and_remove_anywhere_keeps_order_and_reuses_slots() {
        for side in [Side::Buy, Side::Sell] {
            let all: Vec<i64> = (0..40).map(|i| (i * 37) % 40 * 10).collect();
            let mut l = ladder(side, &all);
            let mut expect: Vec<i64> = all.clone();
            expect.sort_unstable();
            if side == Side::Buy {
                expect.reverse();
            }
            assert_eq!(prices(&l), expect);
            for p in [0, 390, 200, 10, 380] {
                let slot = l.get(Price::from_raw(p)).unwrap();
                l.remove(slot);
                expect.retain(|&x| x != p);
                assert_eq!(prices(&l), expect);
                assert_eq!(l.get(Price::from_raw(p)), None);
                l.check().unwrap();
            }
            let slots_before = l.slots.len();
            l.get_or_insert(Price::from_raw(5));
            assert_eq!(l.slots.len(), slots_before, "a freed slot is reused");
            l.check().unwrap();
        }
    }
}
