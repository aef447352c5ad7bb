//! Cost basis by the average-cost method, in exact integer arithmetic.
//!
//! A buy adds the cash it paid (its fill's value) + fee to the cost; a sell removes the
//! average cost of the shares sold (cost × sold / held, rounded down, so selling everything
//! removes exactly what is left) and realizes proceeds − fee − removed cost. Sums are `i128`
//! in 1/10,000 $ and quantities in millionths of a share: no rounding but the one division
//! per sell, and no overflow at any realistic size.

use bourse_core::{Cash, Price, QTY_SCALE, Qty};

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
    /// A buy fill: `value` is the cash it moved (the engine's `value`), before the fee.
    pub(crate) fn buy(&mut self, value: Cash, qty: Qty, fee: Cash) {
        self.cost += i128::from(value.raw()) + i128::from(fee.raw());
        self.basis_qty = self.basis_qty.saturating_add(qty.raw());
    }

    /// A sell fill: `value` is the cash it brought in, before the fee.
    pub(crate) fn sell(&mut self, value: Cash, qty: Qty, fee: Cash) {
        let sold = qty.raw();
        let removed = if sold >= self.basis_qty {
            // Selling out (or more than the basis covers, which the engine's no-short rule
            // should make impossible): the whole remaining cost goes.
            self.cost
        } else {
            self.cost * i128::from(sold) / i128::from(self.basis_qty)
        };
        self.realized += i128::from(value.raw()) - i128::from(fee.raw()) - removed;
        self.cost -= removed;
        self.basis_qty = self.basis_qty.saturating_sub(sold);
    }

    /// Shares deposited from outside: they enter the basis at `at` (the market price when
    /// they arrived, when known; zero cost otherwise), so P&L counts from the deposit.
    pub(crate) fn deposit(&mut self, qty: Qty, at: Option<Price>) {
        let worth = at.and_then(|p| p.notional(qty)).unwrap_or(Cash::ZERO);
        self.cost += i128::from(worth.raw());
        self.basis_qty = self.basis_qty.saturating_add(qty.raw());
    }

    /// Cost per share, rounded down; `None` with no shares.
    #[must_use]
    pub(crate) fn avg_cost(&self) -> Option<Price> {
        (self.basis_qty > 0)
            .then(|| price(self.cost * i128::from(QTY_SCALE) / i128::from(self.basis_qty)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(d: i64) -> Price {
        Price::from_raw(d * 10_000)
    }

    fn at(p: Price, n: u64) -> Cash {
        p.notional(Qty::shares(n)).unwrap()
    }

    #[test]
    fn average_cost_and_realized() {
        let mut h = Holding::default();
        h.buy(at(px(10), 10), Qty::shares(10), Cash::from_raw(5_000)); // 100.50
        h.buy(at(px(13), 5), Qty::shares(5), Cash::ZERO); // 65
        assert_eq!(h.cost, 1_655_000);
        assert_eq!(h.avg_cost(), Some(Price::from_raw(110_333)));
        // Sell 6 at 12 with a 0.20 fee: removes 165.50 × 6 / 15 = 66.20.
        h.sell(at(px(12), 6), Qty::shares(6), Cash::from_raw(2_000));
        assert_eq!(h.cost, 1_655_000 - 662_000);
        assert_eq!(h.realized, 720_000 - 2_000 - 662_000);
        // Selling out removes exactly what is left, whatever the earlier rounding.
        h.sell(at(px(9), 9), Qty::shares(9), Cash::ZERO);
        assert_eq!(h.cost, 0);
        assert_eq!(h.basis_qty, 0);
        assert_eq!(h.realized, 56_000 + 810_000 - 993_000);
        assert_eq!(h.avg_cost(), None);
    }

    #[test]
    fn sell_rounds_the_removed_cost_down() {
        let mut h = Holding::default();
        let one = Price::from_raw(1);
        h.buy(at(one, 3), Qty::shares(3), Cash::from_raw(1)); // cost 4 for 3 shares
        h.sell(at(one, 1), Qty::shares(1), Cash::ZERO);
        assert_eq!(h.cost, 3); // removed 4/3 → 1
        assert_eq!(h.realized, 0);
    }

    #[test]
    fn deposits_enter_at_the_given_price() {
        let mut h = Holding::default();
        h.deposit(Qty::shares(4), Some(px(25)));
        h.deposit(Qty::shares(1), None);
        assert_eq!(h.cost, 1_000_000);
        assert_eq!(h.basis_qty, 5_000_000);
        assert_eq!(h.avg_cost(), Some(px(20)));
    }

    #[test]
    fn fractions_cost_what_they_paid() {
        let mut h = Holding::default();
        // 0.5 share for $95.0001 (a buy's value, rounded up by the engine).
        h.buy(Cash::from_raw(950_001), Qty::from_raw(500_000), Cash::ZERO);
        assert_eq!(h.avg_cost(), Some(Price::from_raw(1_900_002)));
        h.sell(Cash::from_raw(500_000), Qty::from_raw(250_000), Cash::ZERO);
        assert_eq!(h.cost, 475_001);
        assert_eq!(h.realized, 500_000 - 475_000);
    }
}
