//! The call auction's uncross against a naive reference: every candidate price tried from
//! scratch, then the fills worked out by sorting the willing orders by price and time. Same
//! price, same fills, same book left, on thousands of random calls.

#![allow(clippy::unwrap_used)] // a failed parse of a literal in a test is a test bug

use bourse_book::{BookConfig, BookEvent, NewOrder, OrderBook};
use bourse_core::{Price, Qty, Side};
use proptest::prelude::*;

fn px(cents: i64) -> Price {
    Price::from_raw(cents * 100)
}

/// One order of a random call: (side, limit in cents, qty, owner).
type Spec = (Side, i64, u64, u64);

/// The rule read literally: for every order's limit price, the buyers willing there and the
/// sellers willing there; most volume, then least imbalance, then nearest the reference,
/// then the lower price.
fn naive_price(orders: &[Spec], reference: i64) -> Option<(i64, u64)> {
    let mut best: Option<(u64, u64, u64, i64)> = None;
    for &(_, p, _, _) in orders {
        let buyers: u64 = orders
            .iter()
            .filter(|o| o.0 == Side::Buy && o.1 >= p)
            .map(|o| o.2)
            .sum();
        let sellers: u64 = orders
            .iter()
            .filter(|o| o.0 == Side::Sell && o.1 <= p)
            .map(|o| o.2)
            .sum();
        let volume = buyers.min(sellers);
        if volume == 0 {
            continue;
        }
        let key = (volume, buyers.abs_diff(sellers), p.abs_diff(reference), p);
        let better = best.is_none_or(|b| {
            key.0 > b.0 || (key.0 == b.0 && (key.1, key.2, key.3) < (b.1, b.2, b.3))
        });
        if better {
            best = Some(key);
        }
    }
    best.map(|b| (b.3, b.0))
}

/// The fills at `p`: willing buys by price then arrival, willing sells likewise, paired
/// head to head; the earlier arrival of each pair is the maker. (maker, taker, qty).
fn naive_fills(orders: &[Spec], p: i64) -> Vec<(u64, u64, u64)> {
    let ids = |side: Side| {
        let mut v: Vec<(u64, i64, u64)> = orders
            .iter()
            .enumerate()
            .filter(|(_, o)| {
                o.0 == side
                    && if side == Side::Buy {
                        o.1 >= p
                    } else {
                        o.1 <= p
                    }
            })
            .map(|(i, o)| (i as u64 + 1, o.1, o.2))
            .collect();
        match side {
            Side::Buy => v.sort_by_key(|&(id, price, _)| (std::cmp::Reverse(price), id)),
            Side::Sell => v.sort_by_key(|&(id, price, _)| (price, id)),
        }
        v
    };
    let (mut buys, mut sells) = (ids(Side::Buy), ids(Side::Sell));
    let (mut i, mut j) = (0, 0);
    let mut fills = Vec::new();
    while i < buys.len() && j < sells.len() {
        let q = buys[i].2.min(sells[j].2);
        let (b, s) = (buys[i].0, sells[j].0);
        fills.push((b.min(s), b.max(s), q));
        buys[i].2 -= q;
        sells[j].2 -= q;
        if buys[i].2 == 0 {
            i += 1;
        }
        if sells[j].2 == 0 {
            j += 1;
        }
    }
    fills
}

/// Submits every order into a call (ids 1, 2, … in arrival order) and uncrosses.
fn run(
    orders: &[Spec],
    reference: i64,
) -> (
    OrderBook,
    Option<bourse_book::auction::Uncross>,
    Vec<BookEvent>,
) {
    let mut book = OrderBook::new(BookConfig::default());
    book.begin_call();
    let mut out = Vec::new();
    for (i, &(side, p, qty, owner)) in orders.iter().enumerate() {
        book.submit(
            &NewOrder::limit(i as u64 + 1, owner, side, px(p), qty),
            &mut out,
        );
        assert!(
            matches!(out.last(), Some(BookEvent::Rested { .. })),
            "{out:?}"
        );
    }
    book.check_invariants().unwrap();
    out.clear();
    let u = book.uncross(px(reference), &mut out);
    (book, u, out)
}

fn arb_call(owners: u64) -> impl Strategy<Value = (Vec<Spec>, i64)> {
    let order = (any::<bool>(), 990i64..1010, 1u64..400, 1..=owners)
        .prop_map(|(buy, p, q, o)| (if buy { Side::Buy } else { Side::Sell }, p, q, o));
    (prop::collection::vec(order, 0..80), 980i64..1020)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Each order its own account: no self-match, one round.
    #[test]
    fn same_price_same_fills_as_the_naive_reference((orders, reference) in arb_call(u64::MAX)) {
        // Owners are drawn from a huge range; make them distinct outright.
        let orders: Vec<Spec> = orders.iter().enumerate().map(|(i, o)| (o.0, o.1, o.2, i as u64 + 1)).collect();
        let (book, u, events) = run(&orders, reference);
        let expected = naive_price(&orders, reference);
        prop_assert_eq!(u.map(|u| (u.price, u.volume)), expected.map(|(p, v)| (px(p), Qty::shares(v))));
        let got: Vec<(u64, u64, u64)> = events
            .iter()
            .map(|e| match *e {
                BookEvent::Fill { maker, taker, price, qty, .. } => {
                    assert_eq!(Some(price), expected.map(|(p, _)| px(p)));
                    (maker.get(), taker.get(), qty.whole_shares())
                }
                other => panic!("only fills in a clean uncross, got {other:?}"),
            })
            .collect();
        let want = expected.map_or_else(Vec::new, |(p, _)| naive_fills(&orders, p));
        prop_assert_eq!(got, want);
        prop_assert!(!book.in_call());
        book.check_invariants().unwrap();
    }

    /// Few accounts: self-matches are cancelled, and the book still ends uncrossed, with
    /// no account trading with itself and every share accounted for.
    #[test]
    fn self_matches_never_trade_and_the_book_ends_uncrossed((orders, reference) in arb_call(3)) {
        let (book, _, events) = run(&orders, reference);
        book.check_invariants().unwrap();
        let mut gone = 0u64;
        for e in &events {
            match *e {
                BookEvent::Fill { maker_owner, taker_owner, qty, .. } => {
                    prop_assert_ne!(maker_owner, taker_owner);
                    gone += 2 * qty.whole_shares();
                }
                BookEvent::Canceled { qty, .. } => gone += qty.whole_shares(),
                ref other => panic!("unexpected {other:?}"),
            }
        }
        let before: u64 = orders.iter().map(|o| o.2).sum();
        let left: u64 = [Side::Buy, Side::Sell].iter().flat_map(|&s| book.orders(s)).map(|o| o.qty.whole_shares()).sum();
        prop_assert_eq!(before, gone + left);
    }
}

#[test]
fn a_worked_uncross() {
    // Buys 300 @ 10.05 (id 1), 200 @ 10.02 (id 3); sells 250 @ 10.00 (id 2), 100 @ 10.03
    // (id 4). At 10.02: 500 willing buyers, 250 sellers → 250 trade; at 10.03: 300 vs 350 →
    // 300, more: the price is 10.03 and 300 trade. Id 1 (300 @ 10.05) meets id 2 (250) and
    // then id 4 (50 of its 100); id 3 does not trade (10.02 < 10.03).
    let orders = [
        (Side::Buy, 1005, 300, 1),
        (Side::Sell, 1000, 250, 2),
        (Side::Buy, 1002, 200, 3),
        (Side::Sell, 1003, 100, 4),
    ];
    let (book, u, events) = run(&orders, 1000);
    let u = u.unwrap();
    assert_eq!(
        (u.price, u.volume, u.imbalance),
        (px(1003), Qty::shares(300), -50_000_000)
    );
    let fills: Vec<_> = events
        .iter()
        .filter_map(|e| match *e {
            BookEvent::Fill {
                maker,
                taker,
                price,
                qty,
                taker_side,
                ..
            } => Some((
                maker.get(),
                taker.get(),
                price,
                qty.whole_shares(),
                taker_side,
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        fills,
        [
            (1, 2, px(1003), 250, Side::Sell),
            (1, 4, px(1003), 50, Side::Sell)
        ]
    );
    assert_eq!(book.last_trade_price(), Some(px(1003)));
    assert_eq!(
        book.best_bid().map(|l| (l.price, l.qty)),
        Some((px(1002), Qty::shares(200)))
    );
    assert_eq!(
        book.best_ask().map(|l| (l.price, l.qty)),
        Some((px(1003), Qty::shares(50)))
    );
}

#[test]
fn a_call_rests_crossing_orders_and_refuses_what_cannot_wait() {
    let mut book = OrderBook::new(BookConfig::default());
    book.begin_call();
    let mut out = Vec::new();
    book.submit(&NewOrder::limit(1, 1, Side::Buy, px(1010), 10), &mut out);
    book.submit(
        &NewOrder::limit(2, 2, Side::Sell, px(1000), 10).with_post_only(),
        &mut out,
    );
    assert!(book.is_crossed());
    assert!(!out.iter().any(|e| matches!(e, BookEvent::Fill { .. })));
    out.clear();
    book.submit(&NewOrder::market(3, 3, Side::Buy, 5), &mut out);
    assert!(matches!(out[..], [BookEvent::Rejected { .. }]), "{out:?}");
    out.clear();
    // A replace re-enters without matching too.
    book.replace(
        bourse_core::OrderId::new(1),
        px(1020),
        Qty::shares(12),
        &mut out,
    );
    assert!(
        matches!(out.last(), Some(BookEvent::Rested { .. })),
        "{out:?}"
    );
    let u = book.indicative(px(1000)).unwrap();
    assert_eq!((u.price, u.volume), (px(1000), Qty::shares(10)));
}
