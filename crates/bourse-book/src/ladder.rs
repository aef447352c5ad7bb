//! One side of the book: price levels kept sorted with the best level LAST.
//!
//! Almost all activity is at or near the touch, so keeping the best level at the end of a
//! `Vec` makes finding, adding and removing near-touch levels touch only the last few
//! elements (no tree rebalancing, no pointer chasing, no allocation once warmed up).

use bourse_core::{Price, Side};

/// Sentinel for "no node" in the intrusive order lists.
pub(crate) const NIL: u32 = u32::MAX;

/// Levels this close to the touch are found by a linear scan; deeper ones by bisection.
const LINEAR_WINDOW: usize = 8;

#[derive(Clone, Copy, Debug)]
pub(crate) struct Level {
    pub(crate) price: Price,
    /// Sum of the resting quantities at this level.
    pub(crate) qty: u64,
    pub(crate) count: u32,
    pub(crate) head: u32,
    pub(crate) tail: u32,
}

#[derive(Clone, Debug)]
pub(crate) struct Ladder {
    side: Side,
    /// Sorted from worst to best price; `levels.last()` is the touch.
    pub(crate) levels: Vec<Level>,
    /// Sum of all resting quantity on this side. It bounds every level's aggregate, so an
    /// order that keeps it within `u64` needs no per-level overflow check; `u128` so the
    /// sum itself cannot overflow.
    pub(crate) total: u128,
}

impl Ladder {
    pub(crate) fn with_capacity(side: Side, cap: usize) -> Self {
        Self {
            side,
            levels: Vec::with_capacity(cap),
            total: 0,
        }
    }

    /// Whether `a` is a strictly better price than `b` for this side.
    #[inline]
    pub(crate) fn better(&self, a: Price, b: Price) -> bool {
        match self.side {
            Side::Buy => a > b,
            Side::Sell => a < b,
        }
    }

    #[inline]
    pub(crate) fn best(&self) -> Option<&Level> {
        self.levels.last()
    }

    /// `Ok(index)` of the level at `price`, or `Err(index)` where it would be inserted.
    #[inline]
    pub(crate) fn find(&self, price: Price) -> Result<usize, usize> {
        let len = self.levels.len();
        let floor = len.saturating_sub(LINEAR_WINDOW);
        let mut i = len;
        while i > floor {
            let p = self.levels[i - 1].price;
            if p == price {
                return Ok(i - 1);
            }
            if self.better(price, p) {
                return Err(i);
            }
            i -= 1;
        }
        if floor == 0 {
            return Err(0);
        }
        // `price` is worse than levels[floor]: bisect the deeper part.
        let deeper = &self.levels[..floor];
        let pos = deeper.partition_point(|l| self.better(price, l.price));
        match deeper.get(pos) {
            Some(l) if l.price == price => Ok(pos),
            _ => Err(pos),
        }
    }

    /// Index of the level at `price`, creating an empty one if needed.
    #[inline]
    pub(crate) fn find_or_insert(&mut self, price: Price) -> usize {
        match self.find(price) {
            Ok(i) => i,
            Err(i) => {
                self.levels.insert(
                    i,
                    Level {
                        price,
                        qty: 0,
                        count: 0,
                        head: NIL,
                        tail: NIL,
                    },
                );
                i
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ladder(side: Side, prices: &[i64]) -> Ladder {
        let mut l = Ladder::with_capacity(side, 4);
        for &p in prices {
            l.find_or_insert(Price::from_raw(p));
        }
        l
    }

    fn prices(l: &Ladder) -> Vec<i64> {
        l.levels.iter().map(|l| l.price.raw()).collect()
    }

    #[test]
    fn bids_sorted_best_last() {
        let l = ladder(Side::Buy, &[5, 1, 9, 3, 9, 7]);
        assert_eq!(prices(&l), vec![1, 3, 5, 7, 9]);
        assert_eq!(l.best().map(|l| l.price.raw()), Some(9));
    }

    #[test]
    fn asks_sorted_best_last() {
        let l = ladder(Side::Sell, &[5, 1, 9, 3, 7]);
        assert_eq!(prices(&l), vec![9, 7, 5, 3, 1]);
    }

    #[test]
    fn find_agrees_with_naive_search_beyond_linear_window() {
        for side in [Side::Buy, Side::Sell] {
            let levels: Vec<i64> = (0..40).map(|i| i * 10).collect();
            let l = ladder(side, &levels);
            for probe in -5..405 {
                let p = Price::from_raw(probe);
                let expected = l
                    .levels
                    .iter()
                    .position(|x| x.price == p)
                    .ok_or_else(|| l.levels.iter().filter(|x| l.better(p, x.price)).count());
                assert_eq!(l.find(p), expected, "side {side:?} probe {probe}");
            }
        }
    }
}
