//! Cost basis by the average-cost method, in exact integer arithmetic.
//!
//! A buy adds price × qty + fee to the cost; a sell removes the average cost of the shares
//! sold (cost × sold / held, rounded down, so selling everything removes exactly what is
//! left) and realizes proceeds − fee − removed cost. Sums are `i128` in 1/10,000 $: no
//! rounding but the one division per sell, and no overflow at any realistic size.

use bourse_core::{Price, Qty};

use crate::readmodel::views::price;

/// One account's holding of one symbol.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) struct Holding {
    /// The engine's numbers (`PositionChanged`): the truth about what is held.
    pub(crate) qty: Qty,
    pub(crate) reserved: Qty,
    /// Shares the cost basis covers (follows the fills and deposits; equals `qty`).
    pub(crate) basis_qty: u64,
    /// Cost basis of `basis_qty` shares, fees included.
    pub(crate) cost: i128,
    /// Realized P&L over every sell.
    pub(crate) realized: i128,
}

impl Holding {
    pub(crate) fn buy(&mut self, px: Price, qty: Qty, fee: bourse_core::Cash) {
        self.cost += i128::from(px.raw()) * i128::from(qty.get()) + i128::from(fee.raw());
        self.basis_qty = self.basis_qty.saturating_add(qty.get());
    }

    pub(crate) fn sell(&mut self, px: Price, qty: Qty, fee: bourse_core::Cash) {
        let sold = qty.get();
        let removed = if sold >= self.basis_qty {
            // Selling out (or more than the basis covers, which the engine's no-short rule
            // should make impossible): the whole remaining cost goes.
            self.cost
        } else {
            self.cost * i128::from(sold) / i128::from(self.basis_qty)
        };
        let proceeds = i128::from(px.raw()) * i128::from(sold);
        self.realized += proceeds - i128::from(fee.raw()) - removed;
        self.cost -= removed;
        self.basis_qty = self.basis_qty.saturating_sub(sold);
    }

    /// Shares deposited from outside: they enter the basis at `at` (the market price when
    /// they arrived, when known; zero cost otherwise), so P&L counts from the deposit.
    pub(crate) fn deposit(&mut self, qty: Qty, at: Option<Price>) {
        let px = at.map_or(0, |p| i128::from(p.raw()));
        self.cost += px * i128::from(qty.get());
        self.basis_qty = self.basis_qty.saturating_add(qty.get());
    }

    /// Cost per share, rounded down; `None` with no shares.
    #[must_use]
    pub(crate) fn avg_cost(&self) -> Option<Price> {
        (self.basis_qty > 0).then(|| price(self.cost / i128::from(self.basis_qty)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bourse_core::Cash;

    fn px(d: i64) -> Price {
        Price::from_raw(d * 10_000)
    }

    #[test]
    fn average_cost_and_realized() {
        let mut h = Holding::default();
        h.buy(px(10), Qty::new(10), Cash::from_raw(5_000)); // 100.50
        h.buy(px(13), Qty::new(5), Cash::ZERO); // 65
        assert_eq!(h.cost, 1_655_000);
        assert_eq!(h.avg_cost(), Some(Price::from_raw(110_333)));
        // Sell 6 at 12 with a 0.20 fee: removes 165.50 × 6 / 15 = 66.20.
        h.sell(px(12), Qty::new(6), Cash::from_raw(2_000));
        assert_eq!(h.cost, 1_655_000 - 662_000);
        assert_eq!(h.realized, 720_000 - 2_000 - 662_000);
        // Selling out removes exactly what is left, whatever the earlier rounding.
        h.sell(px(9), Qty::new(9), Cash::ZERO);
        assert_eq!(h.cost, 0);
        assert_eq!(h.basis_qty, 0);
        assert_eq!(h.realized, 56_000 + 810_000 - 993_000);
        assert_eq!(h.avg_cost(), None);
    }

    #[test]
    fn sell_rounds_the_removed_cost_down() {
        let mut h = Holding::default();
        h.buy(Price::from_raw(1), Qty::new(3), Cash::from_raw(1)); // cost 4 for 3 shares
        h.sell(Price::from_raw(1), Qty::new(1), Cash::ZERO);
        assert_eq!(h.cost, 3); // removed 4/3 → 1
        assert_eq!(h.realized, 0);
    }

    #[test]
    fn deposits_enter_at_the_given_price() {
        let mut h = Holding::default();
        h.deposit(Qty::new(4), Some(px(25)));
        h.deposit(Qty::new(1), None);
        assert_eq!(h.cost, 1_000_000);
        assert_eq!(h.basis_qty, 5);
        assert_eq!(h.avg_cost(), Some(px(20)));
    }
}
