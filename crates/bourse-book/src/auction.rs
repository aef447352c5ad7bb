//! Call-auction price discovery: the one price at which a call uncrosses.
//!
//! The rule (DESIGN §4), in order:
//! 1. the price that **maximizes the executed volume** — at price `p` the buyers are every
//!    market buy and every buy limited at `p` or above, the sellers every market sell and
//!    every sell limited at `p` or below, and `min(buyers, sellers)` executes;
//! 2. then the one that **minimizes the imbalance** `|buyers − sellers|` at that price;
//! 3. then the one **nearest the reference price** (the last trade, or the previous close);
//! 4. then, of two equally near (one above and one below the reference), the **lower**.
//!
//! Candidates are the orders' limit prices, and the reference price when no limit order is
//! in the call. Nothing executes (no uncross) when no candidate has volume.
//!
//! [`discover`] sorts the distinct prices once and walks them with running sums (n log n);
//! [`discover_levels`] walks prices already sorted (a book's, n); `tests` holds a naive
//! reference that tries every candidate from scratch.

use bourse_core::{Price, Qty, Side};

/// One order waiting in the call. `limit: None` is a market order (on open or on close).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallOrder {
    pub side: Side,
    pub limit: Option<Price>,
    pub qty: Qty,
}

/// Where a call would uncross now: the indicative price while the call runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uncross {
    pub price: Price,
    /// Shares that execute at `price`.
    pub volume: Qty,
    /// Buy interest at `price` minus sell interest: what stays unmatched (positive: buyers).
    pub imbalance: i128,
}

/// The uncrossing price of `orders` with `reference` for the last tie-break; `None` when
/// nothing would execute.
#[must_use]
pub fn discover(orders: &[CallOrder], reference: Price) -> Option<Uncross> {
    let (mut market_buy, mut market_sell) = (0u128, 0u128);
    // (price, buy qty limited there, sell qty limited there), sorted by price.
    let mut levels: Vec<(Price, u128, u128)> = Vec::with_capacity(orders.len());
    for o in orders {
        let q = u128::from(o.qty.raw());
        match (o.limit, o.side) {
            (None, Side::Buy) => market_buy += q,
            (None, Side::Sell) => market_sell += q,
            (Some(p), Side::Buy) => levels.push((p, q, 0)),
            (Some(p), Side::Sell) => levels.push((p, 0, q)),
        }
    }
    levels.sort_unstable_by_key(|l| l.0);
    levels.dedup_by(|next, kept| {
        if next.0 == kept.0 {
            kept.1 += next.1;
            kept.2 += next.2;
            true
        } else {
            false
        }
    });
    discover_levels(&levels, market_buy, market_sell, reference)
}

/// [`discover`] over limit prices already in ascending order, one entry per price:
/// (price, buy quantity limited there, sell quantity limited there), with the market
/// orders' quantities apart. A book's ladders are in price order already, so its call
/// needs no sort (`OrderBook::indicative` merges them: n, not n log n).
#[must_use]
pub fn discover_levels(
    levels: &[(Price, u128, u128)],
    market_buy: u128,
    market_sell: u128,
    reference: Price,
) -> Option<Uncross> {
    let only_reference = [(reference, 0, 0)];
    let levels = if levels.is_empty() {
        &only_reference[..]
    } else {
        levels
    };
    // Buyers at levels[i]: market buys + buys limited at levels[i..]; sellers: market sells
    // + sells limited at levels[..=i].
    let mut buyers_above: u128 = levels.iter().map(|l| l.1).sum::<u128>() + market_buy;
    let mut sellers_below = market_sell;
    let mut best: Option<(Key, Uncross)> = None;
    for &(price, buy, sell) in levels {
        sellers_below += sell;
        let volume = buyers_above.min(sellers_below);
        if volume > 0 {
            let imbalance = i128::try_from(buyers_above).unwrap_or(i128::MAX)
                - i128::try_from(sellers_below).unwrap_or(i128::MAX);
            let key = Key::of(volume, imbalance, price, reference);
            if best.as_ref().is_none_or(|(k, _)| key < *k) {
                let u = Uncross {
                    price,
                    volume: Qty::from_raw(u64::try_from(volume).unwrap_or(u64::MAX)),
                    imbalance,
                };
                best = Some((key, u));
            }
        }
        buyers_above -= buy;
    }
    best.map(|(_, u)| u)
}

/// Orders candidates: smaller is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    /// Larger volume first.
    volume: std::cmp::Reverse<u128>,
    imbalance: u128,
    distance: u128,
    price: Price,
}

impl Key {
    fn of(volume: u128, imbalance: i128, price: Price, reference: Price) -> Key {
        Key {
            volume: std::cmp::Reverse(volume),
            imbalance: imbalance.unsigned_abs(),
            distance: (i128::from(price.raw()) - i128::from(reference.raw())).unsigned_abs(),
            price,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn px(cents: i64) -> Price {
        Price::from_raw(cents * 100)
    }

    fn order(side: Side, limit: Option<i64>, qty: u64) -> CallOrder {
        CallOrder {
            side,
            limit: limit.map(px),
            qty: Qty::from_raw(qty),
        }
    }

    /// Every candidate tried from scratch, the rule read literally.
    fn naive(orders: &[CallOrder], reference: Price) -> Option<Uncross> {
        let mut candidates: Vec<Price> = orders.iter().filter_map(|o| o.limit).collect();
        if candidates.is_empty() {
            candidates.push(reference);
        }
        let mut best: Option<Uncross> = None;
        for p in candidates {
            let buyers: u128 = orders
                .iter()
                .filter(|o| o.side == Side::Buy && o.limit.is_none_or(|l| l >= p))
                .map(|o| u128::from(o.qty.raw()))
                .sum();
            let sellers: u128 = orders
                .iter()
                .filter(|o| o.side == Side::Sell && o.limit.is_none_or(|l| l <= p))
                .map(|o| u128::from(o.qty.raw()))
                .sum();
            let volume = buyers.min(sellers);
            if volume == 0 {
                continue;
            }
            let u = Uncross {
                price: p,
                volume: Qty::from_raw(u64::try_from(volume).unwrap_or(u64::MAX)),
                imbalance: i128::try_from(buyers).unwrap_or(0)
                    - i128::try_from(sellers).unwrap_or(0),
            };
            let dist = |x: &Uncross| (x.price.raw() - reference.raw()).unsigned_abs();
            let better = match &best {
                None => true,
                Some(b) => {
                    (u.volume, std::cmp::Reverse(u.imbalance.unsigned_abs()))
                        > (b.volume, std::cmp::Reverse(b.imbalance.unsigned_abs()))
                        || ((u.volume, u.imbalance.unsigned_abs())
                            == (b.volume, b.imbalance.unsigned_abs())
                            && (dist(&u) < dist(b) || (dist(&u) == dist(b) && u.price < b.price)))
                }
            };
            if better {
                best = Some(u);
            }
        }
        best
    }

    #[test]
    fn a_worked_example() {
        use Side::{Buy, Sell};
        // Buyers: 100 @ 10.05, 200 @ 10.02, 50 market. Sellers: 150 @ 10.00, 100 @ 10.03,
        // 80 market. At 10.02: buyers 350, sellers 230 → 230. At 10.03: 150 vs 330 → 150.
        // At 10.00: 350 vs 230 → 230, imbalance 120, as at 10.02 — 10.02 is nearer 10.02.
        let orders = [
            order(Buy, Some(1005), 100),
            order(Buy, Some(1002), 200),
            order(Buy, None, 50),
            order(Sell, Some(1000), 150),
            order(Sell, Some(1003), 100),
            order(Sell, None, 80),
        ];
        let u = discover(&orders, px(1002)).unwrap_or_else(|| panic!("no uncross"));
        assert_eq!(
            (u.price, u.volume, u.imbalance),
            (px(1002), Qty::from_raw(230), 120)
        );
        // Nearer 10.00 instead: the same volume and imbalance there.
        assert_eq!(discover(&orders, px(999)).map(|u| u.price), Some(px(1000)));
        assert_eq!(naive(&orders, px(999)).map(|u| u.price), Some(px(1000)));
    }

    #[test]
    fn no_cross_no_uncross_and_markets_alone_use_the_reference() {
        use Side::{Buy, Sell};
        assert_eq!(discover(&[], px(100)), None);
        let apart = [order(Buy, Some(99), 10), order(Sell, Some(101), 10)];
        assert_eq!(discover(&apart, px(100)), None);
        let markets = [order(Buy, None, 10), order(Sell, None, 4)];
        let u = discover(&markets, px(100)).unwrap_or_else(|| panic!("no uncross"));
        assert_eq!(
            (u.price, u.volume, u.imbalance),
            (px(100), Qty::from_raw(4), 6)
        );
    }

    #[test]
    fn equally_near_prices_take_the_lower() {
        use Side::{Buy, Sell};
        // 10 execute at 9.99 and at 10.01 (imbalance 0 at both); the reference is 10.00.
        let orders = [order(Buy, Some(1001), 10), order(Sell, Some(999), 10)];
        assert_eq!(discover(&orders, px(1000)).map(|u| u.price), Some(px(999)));
    }

    fn arb_order() -> impl Strategy<Value = CallOrder> {
        (
            any::<bool>(),
            prop::option::weighted(0.9, 990i64..1010),
            1u64..500,
        )
            .prop_map(|(buy, limit, qty)| {
                order(if buy { Side::Buy } else { Side::Sell }, limit, qty)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn same_as_trying_every_candidate(
            orders in prop::collection::vec(arb_order(), 0..60),
            reference in 985i64..1015,
        ) {
            prop_assert_eq!(discover(&orders, px(reference)), naive(&orders, px(reference)));
        }
    }
}
