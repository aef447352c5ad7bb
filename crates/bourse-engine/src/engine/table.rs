//! The working orders: a slab of entries behind a small id → slot map.
//!
//! A hash map of whole entries (`Working` is 184 bytes) spreads them over its buckets: sized
//! for the server's 100,000 working orders that is 25 MB, and every lookup a cache and TLB
//! miss (measured: the pipeline bench's current mix ran a third slower sized so than with
//! the map grown from empty). Here the map holds 16-byte (id, slot) pairs and the entries
//! sit in a vector whose freed slots are reused last-freed first, so the data touched is as
//! large as what works, not as what was reserved, and a new order lands where the last
//! ended order was, still in the caches.
//!
//! The map keeps ids near one another in buckets near one another (see [`IdHasher`]): the
//! orders that work are mostly the latest placed, so their part of a map sized for the
//! server stays a few kilobytes wide rather than scattered over two megabytes.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};

use bourse_core::OrderId;

use super::Working;

/// Order ids start at 1: this one marks a free slot.
const FREE: OrderId = OrderId::new(0);

/// The low bits a hash keeps of the id: where in the map it goes. hashbrown places by the
/// low bits and filters a group of buckets by the top 7 (its tag).
const PLACE: u64 = (1 << 57) - 1;

/// An order id's hash: the id itself in the low 57 bits, so consecutive ids take
/// consecutive buckets (the ids of working orders are mostly recent and close together,
/// and so are their buckets), and a multiplicative hash's top bits for the tag, so that a
/// group's lookup compares one key, not sixteen (the id alone would give every id below
/// 2^57 the same tag). No crate offers this: identity hashers (`nohash-hasher`) leave the
/// tag empty, and mixing hashers (`FxHash`) scatter the ids, which sized for the server
/// cost the pipeline bench's current mix a fifth of its speed against the map grown from
/// empty (BENCHMARKS.md, 7 December 2026).
#[derive(Clone, Copy, Default)]
pub(super) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (x & PLACE) | (x.wrapping_mul(0x9E37_79B9_7F4A_7C15) & !PLACE);
    }

    /// Only `u64`s are hashed here (an `OrderId` is one); other input folds into one.
    fn write(&mut self, bytes: &[u8]) {
        let mut x = self.0;
        for &b in bytes {
            x = x.rotate_left(8) ^ u64::from(b);
        }
        self.write_u64(x);
    }
}

type IdMap = HashMap<OrderId, u32, BuildHasherDefault<IdHasher>>;

#[derive(Clone, Debug, Default)]
pub(super) struct OrderTable {
    index: IdMap,
    slots: Vec<(OrderId, Working)>,
    /// Free slots, the last freed on top.
    free: Vec<u32>,
}

impl OrderTable {
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    pub(super) fn reserve(&mut self, additional: usize) {
        self.index.reserve(additional);
        self.slots.reserve(additional);
    }

    pub(super) fn contains_key(&self, id: &OrderId) -> bool {
        self.index.contains_key(id)
    }

    pub(super) fn get(&self, id: &OrderId) -> Option<&Working> {
        let &k = self.index.get(id)?;
        self.slots.get(k as usize).map(|(_, w)| w)
    }

    pub(super) fn get_mut(&mut self, id: &OrderId) -> Option<&mut Working> {
        let &k = self.index.get(id)?;
        self.slots.get_mut(k as usize).map(|(_, w)| w)
    }

    /// Inserts or replaces `id`'s entry; the one it replaced.
    pub(super) fn insert(&mut self, id: OrderId, w: Working) -> Option<Working> {
        match self.index.entry(id) {
            Entry::Occupied(e) => self
                .slots
                .get_mut(*e.get() as usize)
                .map(|(_, old)| std::mem::replace(old, w)),
            Entry::Vacant(e) => {
                let k = match self.free.pop() {
                    Some(k) => {
                        if let Some(slot) = self.slots.get_mut(k as usize) {
                            *slot = (id, w);
                        }
                        k
                    }
                    None => {
                        self.slots.push((id, w));
                        // Slots are u32: four billion orders working at once is past any
                        // machine's memory.
                        u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
                    }
                };
                e.insert(k);
                None
            }
        }
    }

    pub(super) fn remove(&mut self, id: &OrderId) -> Option<Working> {
        let k = self.index.remove(id)?;
        let (slot_id, w) = self.slots.get_mut(k as usize)?;
        *slot_id = FREE;
        self.free.push(k);
        Some(*w)
    }

    /// Every entry, in no meaningful order (sort where order matters).
    pub(super) fn iter(&self) -> impl Iterator<Item = (&OrderId, &Working)> {
        self.into_iter()
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &Working> {
        self.iter().map(|(_, w)| w)
    }

    /// Whether the map, the slots and the free list agree (for the engine's invariants).
    pub(super) fn consistent(&self) -> bool {
        self.index.len() + self.free.len() == self.slots.len()
            && self.slots.iter().enumerate().all(|(k, (id, _))| {
                *id == FREE || self.index.get(id).is_some_and(|&s| s as usize == k)
            })
            && self.free.iter().all(|&k| {
                self.slots
                    .get(k as usize)
                    .is_some_and(|(id, _)| *id == FREE)
            })
    }
}

impl FromIterator<(OrderId, Working)> for OrderTable {
    fn from_iter<I: IntoIterator<Item = (OrderId, Working)>>(iter: I) -> Self {
        let mut t = OrderTable::default();
        for (id, w) in iter {
            t.insert(id, w);
        }
        t
    }
}

fn split(e: &(OrderId, Working)) -> Option<(&OrderId, &Working)> {
    (e.0 != FREE).then_some((&e.0, &e.1))
}

impl<'a> IntoIterator for &'a OrderTable {
    type Item = (&'a OrderId, &'a Working);
    type IntoIter = std::iter::FilterMap<
        std::slice::Iter<'a, (OrderId, Working)>,
        fn(&'a (OrderId, Working)) -> Option<(&'a OrderId, &'a Working)>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        self.slots.iter().filter_map(split)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use bourse_core::{AccountId, Cash, OrderType, Price, SelfTradePrevention, Side, TimeInForce};

    fn entry(leaves: u64) -> Working {
        Working {
            account: AccountId::new(1),
            instrument: 0,
            side: Side::Buy,
            order_type: OrderType::Limit,
            limit_price: Some(Price::from_raw(1_000_000)),
            client_order_id: None,
            cum_qty: 0,
            cum_notional: Cash::ZERO,
            round: super::super::ledger::Rounding::default(),
            leaves,
            reserve_px: Price::from_raw(1_000_000),
            reserved_cash: Cash::ZERO,
            tif: TimeInForce::Gtc,
            stp: SelfTradePrevention::CancelIncoming,
            stop_price: None,
            held: false,
            extended_hours: false,
            wait: None,
            class: None,
        }
    }

    #[test]
    fn freed_slots_are_reused_and_every_id_is_still_found() {
        let mut t = OrderTable::default();
        for k in 1..=5 {
            assert!(t.insert(OrderId::new(k), entry(k)).is_none());
        }
        assert_eq!(t.remove(&OrderId::new(2)).map(|w| w.leaves), Some(2));
        assert_eq!(t.remove(&OrderId::new(2)), None);
        assert!(t.consistent());
        for k in [1, 3, 4, 5] {
            assert_eq!(t.get(&OrderId::new(k)).map(|w| w.leaves), Some(k));
        }
        // Replacing keeps one entry.
        assert_eq!(
            t.insert(OrderId::new(5), entry(50)).map(|w| w.leaves),
            Some(5)
        );
        assert_eq!(t.len(), 4);
        // A freed slot is taken by the next new order.
        t.remove(&OrderId::new(5));
        assert!(t.consistent());
        t.insert(OrderId::new(6), entry(6));
        assert_eq!(t.slots.len(), 5);
        t.remove(&OrderId::new(6));
        if let Some(w) = t.get_mut(&OrderId::new(4)) {
            w.leaves = 40;
        }
        assert!(t.consistent());
        let mut seen: Vec<(u64, u64)> = t.iter().map(|(id, w)| (id.get(), w.leaves)).collect();
        seen.sort_unstable();
        assert_eq!(seen, vec![(1, 1), (3, 3), (4, 40)]);
    }

    fn hash(id: u64) -> u64 {
        use std::hash::BuildHasher;
        BuildHasherDefault::<IdHasher>::default().hash_one(OrderId::new(id))
    }

    #[test]
    fn ids_near_one_another_hash_near_one_another_with_tags_that_differ() {
        let tags: std::collections::HashSet<u64> = (1_000..1_128)
            .map(|id| {
                let h = hash(id);
                // The place is the id: consecutive ids take consecutive buckets.
                assert_eq!(h & PLACE, id);
                h >> 57
            })
            .collect();
        // The tags spread over the 128 values a group filters on (the id alone: one tag).
        assert!(tags.len() > 64, "{} distinct tags", tags.len());
        // Past 2^57 the place wraps but the hash still tells ids apart.
        assert_ne!(hash(1 << 57), hash(0));
    }
}
