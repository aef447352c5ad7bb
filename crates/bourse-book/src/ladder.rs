//! One side of the book: price levels with stable slots, indexed directly by tick in a
//! window that follows the market, with a bitmap of the non-empty ticks.
//!
//! Orders carry their level's slot, so a cancel, fill or amend reaches its level without a
//! search. A price finds its level by one array read (`cells[tick - base]`), creating or
//! emptying a level flips one bit, and the next level after the best is the next set bit
//! (a word, then a 256-bit summary). The window spans [`WINDOW`] ticks; levels worse than
//! it (far from the touch) wait in a sorted `Vec`, and the window slides when the market
//! leaves it: up when a better price arrives above it, down when the window empties or a
//! worse price arrives that fits beside the best. A slide costs one pass over the bitmap.
//!
//! Why not a hash map of prices plus a sorted `Vec` (the previous layout): in flows where
//! the price swings over a wide range, levels are born and die all the time, and each
//! birth or death deep in the book moved the sorted `Vec` and probed the hash; measured in
//! docs/BENCHMARKS.md ("The worst case").

use std::fmt;

use bourse_core::{Divisor, Price, Side};

/// Sentinel for "no node" / "no level" in the intrusive lists.
pub(crate) const NIL: u32 = u32::MAX;

/// Ticks covered by the window: 64 KiB of cells and 2 KiB of bitmap per side. At a cent
/// tick that is $163.84 around the touch.
const WINDOW: usize = 1 << 14;
const WORDS: usize = WINDOW / 64;
const SUMMARY: usize = WORDS / 64;
/// Room kept beyond the new price when the window slides, so that a trending market slides
/// it once per `HEADROOM` ticks rather than on every new level.
const HEADROOM: i64 = (WINDOW / 8) as i64;

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

#[derive(Clone)]
pub(crate) struct Ladder {
    side: Side,
    /// Prices to ticks. Prices reach `get_or_insert` only once on the tick; a query at an
    /// off-tick price lands on a neighbour's cell and is refused by the price check.
    tick: Divisor,
    /// Level storage; slots are stable while the level lives.
    slots: Vec<Level>,
    free: u32,
    /// Key of `cells[0]`. A key is the tick index, negated for asks, so that on both sides
    /// a greater key is a better price.
    base: i64,
    /// Slot of the level at key `base + i`, or `NIL`.
    cells: Box<[u32]>,
    /// Bit `i` set: `cells[i]` holds a level.
    bits: Box<[u64]>,
    /// Bit `w` set: `bits[w]` is not zero.
    summary: [u64; SUMMARY],
    in_window: usize,
    /// Key of the best level; meaningful while `in_window > 0`.
    best: i64,
    /// Levels worse than the window, `(key, slot)` ascending (best last). Invariants: every
    /// key is below `base`, and the window is empty only when this is too.
    outer: Vec<(i64, u32)>,
    /// Scratch for slides, kept to avoid allocating in the steady state.
    scratch: Vec<(i64, u32)>,
    /// Sum of all resting quantity on this side. It bounds every level's aggregate, so an
    /// order that keeps it within `u64` needs no per-level overflow check; `u128` so the
    /// sum itself cannot overflow.
    pub(crate) total: u128,
}

impl fmt::Debug for Ladder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ladder")
            .field("side", &self.side)
            .field("base", &self.base)
            .field("levels", &self.iter().collect::<Vec<_>>())
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

impl Ladder {
    /// An empty side for prices on `tick` (raw units; `None` when nothing can rest).
    pub(crate) fn with_capacity(side: Side, cap: usize, tick: Option<Divisor>) -> Self {
        Self {
            side,
            tick: tick.unwrap_or(Divisor::ONE),
            slots: Vec::with_capacity(cap),
            free: NIL,
            base: 0,
            cells: vec![NIL; WINDOW].into_boxed_slice(),
            bits: vec![0; WORDS].into_boxed_slice(),
            summary: [0; SUMMARY],
            in_window: 0,
            best: 0,
            outer: Vec::new(),
            scratch: Vec::new(),
            total: 0,
        }
    }

    /// Sort key: ascending key = improving price. Prices that reach the ladder are positive;
    /// anything else maps to a key no level has.
    #[inline]
    fn key(&self, price: Price) -> i64 {
        let raw = u64::try_from(price.raw()).unwrap_or(0);
        // At most `raw`, which came from an `i64`: the cast is exact.
        #[allow(clippy::cast_possible_wrap)]
        let ticks = self.tick.quotient(raw) as i64;
        match self.side {
            Side::Buy => ticks,
            Side::Sell => -ticks,
        }
    }

    /// Offset of `key` in the window, if it is inside. Keys of one side share a sign and
    /// the base stays within a window of them, so the wrapping difference is exact.
    #[inline]
    fn offset(&self, key: i64) -> Option<usize> {
        #[allow(clippy::cast_sign_loss)]
        let off = key.wrapping_sub(self.base) as u64;
        // Below WINDOW, so the cast is exact.
        #[allow(clippy::cast_possible_truncation)]
        (off < WINDOW as u64).then_some(off as usize)
    }

    #[inline]
    fn key_at(&self, off: usize) -> i64 {
        // off < WINDOW
        #[allow(clippy::cast_possible_wrap)]
        self.base.wrapping_add(off as i64)
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.in_window + self.outer.len()
    }

    /// Slot of the best level.
    #[inline]
    pub(crate) fn best_slot(&self) -> Option<u32> {
        if self.in_window == 0 {
            return None;
        }
        self.offset(self.best).map(|o| self.cells[o])
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

    /// Slot of the level at `key`, if there is one.
    #[inline]
    fn slot_of_key(&self, key: i64) -> Option<u32> {
        match self.offset(key) {
            Some(o) => Some(self.cells[o]).filter(|&s| s != NIL),
            None if key < self.base => self
                .outer
                .binary_search_by_key(&key, |&(k, _)| k)
                .ok()
                .map(|i| self.outer[i].1),
            None => None,
        }
    }

    /// Slot of the level at `price`, if there is one.
    #[inline]
    pub(crate) fn get(&self, price: Price) -> Option<u32> {
        self.slot_of_key(self.key(price))
            .filter(|&s| self.slots[s as usize].price == price)
    }

    /// Levels from the best to the worst.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Level> + '_ {
        self.slots_best_first().map(|s| &self.slots[s as usize])
    }

    /// Slots from the best to the worst.
    pub(crate) fn slots_best_first(&self) -> impl Iterator<Item = u32> + '_ {
        let mut next = if self.in_window > 0 {
            self.offset(self.best)
        } else {
            None
        };
        let window = std::iter::from_fn(move || {
            let o = next?;
            next = self.highest_below(o);
            Some(self.cells[o])
        });
        window.chain(self.outer.iter().rev().map(|&(_, s)| s))
    }

    /// Slot of the best level worse than the level in `slot` (which must be live).
    pub(crate) fn worse(&self, slot: u32) -> Option<u32> {
        let key = self.key(self.slots[slot as usize].price);
        if let Some(o) = self.offset(key) {
            if let Some(b) = self.highest_below(o) {
                return Some(self.cells[b]);
            }
            return self.outer.last().map(|&(_, s)| s);
        }
        let at = self.outer.partition_point(|&(k, _)| k < key);
        at.checked_sub(1).map(|i| self.outer[i].1)
    }

    /// Slot of the level at `price`, creating an empty one if needed.
    #[inline]
    pub(crate) fn get_or_insert(&mut self, price: Price) -> u32 {
        let key = self.key(price);
        if let Some(s) = self.slot_of_key(key) {
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
        self.place(key, slot);
        slot
    }

    /// Puts a new level at `key`, sliding the window if the key calls for it.
    fn place(&mut self, key: i64, slot: u32) {
        if self.in_window == 0 {
            // Empty side (the window is empty only when everything is): centre on it.
            self.base = key.saturating_sub((WINDOW / 2) as i64);
        } else if self.offset(key).is_none() {
            if key > self.base {
                // A better price above the window: slide up, leaving headroom above it.
                self.rebase(key.saturating_sub(WINDOW as i64 - 1 - HEADROOM));
            } else if key.saturating_add(WINDOW as i64 - 1 - HEADROOM) >= self.best {
                // Worse, but it fits beside the best: slide down to take it in.
                self.rebase(key.saturating_sub(HEADROOM));
            }
        }
        match self.offset(key) {
            Some(o) => self.set(o, slot),
            None => {
                // Far below the touch: a sorted insert, rare by construction.
                let at = self.outer.partition_point(|&(k, _)| k < key);
                self.outer.insert(at, (key, slot));
            }
        }
    }

    #[inline]
    fn set(&mut self, o: usize, slot: u32) {
        self.cells[o] = slot;
        self.bits[o / 64] |= 1 << (o % 64);
        self.summary[o / 4096] |= 1 << ((o / 64) % 64);
        let key = self.key_at(o);
        if self.in_window == 0 || key > self.best {
            self.best = key;
        }
        self.in_window += 1;
    }

    #[inline]
    fn clear(&mut self, o: usize) {
        self.cells[o] = NIL;
        let w = o / 64;
        self.bits[w] &= !(1 << (o % 64));
        if self.bits[w] == 0 {
            self.summary[w / 64] &= !(1 << (w % 64));
        }
        self.in_window -= 1;
    }

    /// Highest set offset strictly below `o`.
    #[inline]
    fn highest_below(&self, o: usize) -> Option<usize> {
        let (w, b) = (o / 64, o % 64);
        let below = self.bits[w] & ((1u64 << b) - 1);
        if below != 0 {
            return Some(w * 64 + 63 - below.leading_zeros() as usize);
        }
        let (s, sb) = (w / 64, w % 64);
        let mut words = self.summary[s] & ((1u64 << sb) - 1);
        let mut s = s;
        loop {
            if words != 0 {
                let ww = s * 64 + 63 - words.leading_zeros() as usize;
                return Some(ww * 64 + 63 - self.bits[ww].leading_zeros() as usize);
            }
            s = s.checked_sub(1)?;
            words = self.summary[s];
        }
    }

    /// Highest set offset in the window.
    fn highest(&self) -> Option<usize> {
        (0..SUMMARY).rev().find_map(|s| {
            let words = self.summary[s];
            (words != 0).then(|| {
                let ww = s * 64 + 63 - words.leading_zeros() as usize;
                ww * 64 + 63 - self.bits[ww].leading_zeros() as usize
            })
        })
    }

    /// Moves the window to start at `new_base`: levels below it go to `outer`, levels of
    /// `outer` inside it come in. The caller keeps the best level inside the new window.
    fn rebase(&mut self, new_base: i64) {
        let mut moving = std::mem::take(&mut self.scratch);
        moving.clear();
        for w in 0..WORDS {
            let mut word = self.bits[w];
            while word != 0 {
                let o = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                moving.push((self.key_at(o), self.cells[o]));
                self.cells[o] = NIL;
            }
            self.bits[w] = 0;
        }
        self.summary = [0; SUMMARY];
        self.in_window = 0;
        self.base = new_base;
        // Ascending, and above every key in `outer` (those are below the old base).
        for &(k, s) in &moving {
            match self.offset(k) {
                Some(o) => self.set(o, s),
                None => {
                    debug_assert!(k < new_base, "a slide pushed a level above the window");
                    self.outer.push((k, s));
                }
            }
        }
        while let Some(&(k, s)) = self.outer.last() {
            let Some(o) = self.offset(k) else { break };
            self.outer.pop();
            self.set(o, s);
        }
        self.scratch = moving;
    }

    /// Drops the (empty) level in `slot`.
    #[inline]
    pub(crate) fn remove(&mut self, slot: u32) {
        let key = self.key(self.slots[slot as usize].price);
        match self.offset(key) {
            Some(o) if self.cells[o] == slot => {
                self.clear(o);
                if self.in_window == 0 {
                    if let Some(&(top, _)) = self.outer.last() {
                        // The window emptied: slide down onto the best remaining level.
                        self.rebase(top.saturating_sub(WINDOW as i64 - 1 - HEADROOM));
                    }
                } else if key == self.best
                    && let Some(b) = self.highest_below(o)
                {
                    self.best = self.key_at(b);
                }
            }
            _ => {
                if let Ok(i) = self.outer.binary_search_by_key(&key, |&(k, _)| k) {
                    self.outer.remove(i);
                }
            }
        }
        self.slots[slot as usize].head = self.free;
        self.free = slot;
    }

    /// Checks the ladder's own bookkeeping: bitmap, summary and cells agree, the best is the
    /// highest level, `outer` is sorted below the window, and every level sits at its price.
    /// `deep` also checks that every cell without its bit is empty: a scan of the whole
    /// window (16,384 cells), which dominates a randomized run that checks after every
    /// command, so such runs do it every so often rather than every time.
    pub(crate) fn check(&self, deep: bool) -> Result<(), String> {
        let mut count = 0;
        for (w, &word) in self.bits.iter().enumerate() {
            let mut rest = word;
            while rest != 0 {
                let o = w * 64 + rest.trailing_zeros() as usize;
                rest &= rest - 1;
                count += 1;
                let slot = self.cells[o];
                if slot == NIL {
                    return Err(format!("bitmap and cells disagree at offset {o}"));
                }
                let level = self
                    .slots
                    .get(slot as usize)
                    .ok_or("level slot out of range")?;
                if self.key(level.price) != self.key_at(o) {
                    return Err(format!("level at {:?} misindexed", level.price));
                }
            }
        }
        if deep {
            for o in 0..WINDOW {
                let bit = self.bits[o / 64] >> (o % 64) & 1 == 1;
                if !bit && self.cells[o] != NIL {
                    return Err(format!("bitmap and cells disagree at offset {o}"));
                }
            }
        }
        for w in 0..WORDS {
            let bit = self.summary[w / 64] >> (w % 64) & 1 == 1;
            if bit != (self.bits[w] != 0) {
                return Err(format!("summary wrong for word {w}"));
            }
        }
        if count != self.in_window {
            return Err("window level count wrong".to_owned());
        }
        if count > 0 && self.highest().map(|o| self.key_at(o)) != Some(self.best) {
            return Err("best is not the highest level".to_owned());
        }
        if count == 0 && !self.outer.is_empty() {
            return Err("empty window with levels beyond it".to_owned());
        }
        for w in self.outer.windows(2) {
            if w[0].0 >= w[1].0 {
                return Err("levels beyond the window out of order".to_owned());
            }
        }
        for &(key, slot) in &self.outer {
            let level = self
                .slots
                .get(slot as usize)
                .ok_or("level slot out of range")?;
            if key >= self.base || self.key(level.price) != key {
                return Err(format!(
                    "level at {:?} misplaced beyond the window",
                    level.price
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ladder(side: Side, prices: &[i64]) -> Ladder {
        let mut l = Ladder::with_capacity(side, 4, Some(Divisor::ONE));
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
        l.check(true).unwrap();
    }

    #[test]
    fn asks_best_first() {
        let l = ladder(Side::Sell, &[5, 1, 9, 3, 7]);
        assert_eq!(prices(&l), vec![1, 3, 5, 7, 9]);
        l.check(true).unwrap();
    }

    #[test]
    fn insert_and_remove_anywhere_keeps_order_and_reuses_slots() {
        for side in [Side::Buy, Side::Sell] {
            let all: Vec<i64> = (0..40).map(|i| (i * 37) % 40 * 10 + 1).collect();
            let mut l = ladder(side, &all);
            let mut expect: Vec<i64> = all.clone();
            expect.sort_unstable();
            if side == Side::Buy {
                expect.reverse();
            }
            assert_eq!(prices(&l), expect);
            for p in [1, 391, 201, 11, 381] {
                let slot = l.get(Price::from_raw(p)).unwrap();
                l.remove(slot);
                expect.retain(|&x| x != p);
                assert_eq!(prices(&l), expect);
                assert_eq!(l.get(Price::from_raw(p)), None);
                l.check(true).unwrap();
            }
            let slots_before = l.slots.len();
            l.get_or_insert(Price::from_raw(5));
            assert_eq!(l.slots.len(), slots_before, "a freed slot is reused");
            l.check(true).unwrap();
        }
    }

    #[test]
    fn off_tick_queries_find_nothing() {
        let mut l = Ladder::with_capacity(Side::Buy, 4, Divisor::new(100));
        l.get_or_insert(Price::from_raw(1_000));
        assert!(l.get(Price::from_raw(1_000)).is_some());
        for p in [999, 1_001, 1_050, 0, -1_000, i64::MAX, i64::MIN] {
            assert_eq!(l.get(Price::from_raw(p)), None, "{p}");
        }
        l.check(true).unwrap();
    }

    /// Prices spread far wider than the window, inserted and removed in a random order,
    /// agree with a sorted model at every step (slides up, down, and levels beyond).
    #[test]
    fn wide_and_moving_prices_match_a_sorted_model() {
        for side in [Side::Buy, Side::Sell] {
            let mut l = Ladder::with_capacity(side, 4, Some(Divisor::ONE));
            let mut model = std::collections::BTreeMap::<i64, u32>::new();
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            let mut centre: i64 = 1_000_000;
            for step in 0..20_000u32 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // A centre that trends for a while, then jumps now and then.
                if step % 2_000 == 0 {
                    centre += if x.is_multiple_of(2) { 40_000 } else { -30_000 };
                }
                centre += i64::from(step % 7 == 0) * if (step / 1_000) % 2 == 0 { 3 } else { -3 };
                let spread = [50u64, 5_000, 60_000][usize::try_from(x % 3).unwrap()];
                let p = (centre + i64::try_from((x >> 8) % (2 * spread)).unwrap()
                    - i64::try_from(spread).unwrap())
                .max(1);
                if x % 5 < 3 {
                    let slot = l.get_or_insert(Price::from_raw(p));
                    model.insert(p, slot);
                } else if let Some((&q, &slot)) = model.range(p..).next() {
                    l.remove(slot);
                    model.remove(&q);
                }
                if step % 97 == 0 {
                    l.check(true).unwrap();
                    let mut want: Vec<i64> = model.keys().copied().collect();
                    if side == Side::Buy {
                        want.reverse();
                    }
                    assert_eq!(prices(&l), want, "step {step}");
                    for (&p, &s) in &model {
                        assert_eq!(l.get(Price::from_raw(p)), Some(s));
                        let worse = l.worse(s).map(|w| l.level(w).price.raw());
                        let expect = match side {
                            Side::Buy => model.range(..p).next_back().map(|(&k, _)| k),
                            Side::Sell => model.range(p + 1..).next().map(|(&k, _)| k),
                        };
                        assert_eq!(worse, expect);
                    }
                }
            }
        }
    }
}
