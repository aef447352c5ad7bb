//! Scenario tests: one rule each, stated as the events and book a trader would expect.

#![allow(clippy::unwrap_used)] // a failed parse of a literal in a test is a test bug

use Side::{Buy, Sell};
use bourse_book::{BookConfig, BookEvent, LevelView, NewOrder, OrderBook, Priority, Request};
use bourse_core::{
    AccountId, CancelReason, OrderId, Price, Qty, RejectReason, SelfTradePrevention, Side,
    TimeInForce,
};

fn px(dollars: &str) -> Price {
    dollars.parse().unwrap()
}

fn book() -> OrderBook {
    OrderBook::new(BookConfig::default())
}

fn run(b: &mut OrderBook, o: NewOrder) -> Vec<BookEvent> {
    let mut out = Vec::new();
    b.submit(&o, &mut out);
    out
}

fn lim(id: u64, owner: u64, side: Side, price: &str, qty: u64) -> NewOrder {
    NewOrder::limit(id, owner, side, px(price), qty)
}

/// Rests `o`, asserting it did not trade.
fn rest(b: &mut OrderBook, o: NewOrder) {
    let ev = run(b, o);
    assert!(
        matches!(ev.last(), Some(BookEvent::Rested { .. })) && ev.len() == 2,
        "expected a plain rest, got {ev:?}"
    );
}

fn fills(ev: &[BookEvent]) -> Vec<(u64, u64, Price, u64)> {
    ev.iter()
        .filter_map(|e| match *e {
            BookEvent::Fill {
                maker,
                taker,
                price,
                qty,
                ..
            } => Some((maker.get(), taker.get(), price, qty.whole_shares())),
            _ => None,
        })
        .collect()
}

fn ids_at(b: &OrderBook, side: Side, price: &str) -> Vec<u64> {
    b.orders_at(side, px(price)).map(|o| o.id.get()).collect()
}

fn lv(price: &str, qty: u64, orders: u32) -> LevelView {
    LevelView {
        price: px(price),
        qty: Qty::shares(qty),
        orders,
    }
}

#[test]
fn price_time_priority_and_trade_at_resting_price() {
    let mut b = book();
    rest(&mut b, lim(1, 1, Sell, "10.02", 100));
    rest(&mut b, lim(2, 2, Sell, "10.01", 100));
    rest(&mut b, lim(3, 3, Sell, "10.01", 100));
    let ev = run(&mut b, lim(4, 4, Buy, "10.05", 250));
    // Better price first, then time; every trade at the maker's price, not 10.05.
    assert_eq!(
        fills(&ev),
        vec![
            (2, 4, px("10.01"), 100),
            (3, 4, px("10.01"), 100),
            (1, 4, px("10.02"), 50)
        ]
    );
    assert_eq!(b.best_ask(), Some(lv("10.02", 50, 1)));
    assert_eq!(b.best_bid(), None, "fully filled taker must not rest");
    assert_eq!(b.last_trade_price(), Some(px("10.02")));
}

#[test]
fn cancel_in_middle_of_queue_keeps_orders_behind_it() {
    let mut b = book();
    for id in 1..=4 {
        rest(&mut b, lim(id, id, Buy, "50.00", 10));
    }
    let mut out = Vec::new();
    b.cancel(OrderId::new(2), &mut out);
    assert!(matches!(
        out[..],
        [BookEvent::Canceled {
            reason: CancelReason::Requested,
            resting_price: Some(_),
            ..
        }]
    ));
    assert_eq!(ids_at(&b, Buy, "50.00"), vec![1, 3, 4]);
    assert_eq!(b.best_bid(), Some(lv("50.00", 30, 3)));
    let ev = run(&mut b, lim(9, 9, Sell, "50.00", 25));
    assert_eq!(
        fills(&ev),
        vec![
            (1, 9, px("50.00"), 10),
            (3, 9, px("50.00"), 10),
            (4, 9, px("50.00"), 5)
        ]
    );
}

#[test]
fn best_price_never_stale_after_level_empties() {
    let mut b = book();
    rest(&mut b, lim(1, 1, Buy, "9.99", 10));
    rest(&mut b, lim(2, 1, Buy, "9.98", 10));
    rest(&mut b, lim(3, 1, Buy, "9.97", 10));
    let mut out = Vec::new();
    b.cancel(OrderId::new(1), &mut out);
    assert_eq!(b.best_bid().map(|l| l.price), Some(px("9.98")));
    run(&mut b, lim(4, 2, Sell, "9.98", 10));
    assert_eq!(b.best_bid().map(|l| l.price), Some(px("9.97")));
    assert_eq!(b.qty_at(Buy, px("9.98")), Qty::ZERO);
    assert_eq!(b.level_count(Buy), 1);
}

#[test]
fn marketable_limit_never_trades_through_its_limit() {
    let mut b = book();
    rest(&mut b, lim(1, 1, Sell, "20.00", 10));
    rest(&mut b, lim(2, 1, Sell, "20.01", 10));
    let ev = run(&mut b, lim(3, 2, Buy, "20.00", 30));
    assert_eq!(fills(&ev), vec![(1, 3, px("20.00"), 10)]);
    assert!(
        matches!(ev.last(), Some(BookEvent::Rested { qty, price, .. }) if qty.whole_shares() == 20 && *price == px("20.00"))
    );
    assert_eq!(b.best_bid(), Some(lv("20.00", 20, 1)));
    assert_eq!(b.best_ask(), Some(lv("20.01", 10, 1)));
}

#[test]
fn ioc_residual_is_canceled_never_rests() {
    let mut b = book();
    rest(&mut b, lim(1, 1, Sell, "5.00", 10));
    let ev = run(
        &mut b,
        lim(2, 2, Buy, "5.00", 15).with_tif(TimeInForce::Ioc),
    );
    assert_eq!(fills(&ev), vec![(1, 2, px("5.00"), 10)]);
    assert!(matches!(
        ev.last(),
        Some(BookEvent::Canceled { reason: CancelReason::IocRemainder, qty, resting_price: None, .. }) if qty.whole_shares() == 5
    ));
    assert!(b.is_empty());
    // An IOC that cannot trade at all is simply cancelled.
    let ev = run(
        &mut b,
        lim(3, 2, Buy, "5.00", 15).with_tif(TimeInForce::Ioc),
    );
    assert_eq!(ev.len(), 2);
    assert!(b.best_bid().is_none());
}

#[test]
fn fok_leaves_book_untouched_when_it_cannot_fill() {
    let mut b = book();
    rest(&mut b, lim(1, 1, Sell, "5.00", 10));
    rest(&mut b, lim(2, 1, Sell, "5.01", 10));
    rest(&mut b, lim(3, 1, Sell, "5.05", 100));
    let before: Vec<_> = b.orders(Sell).collect();
    let ev = run(
        &mut b,
        lim(4, 2, Buy, "5.01", 21).with_tif(TimeInForce::Fok),
    );
    assert!(fills(&ev).is_empty());
    assert!(matches!(
        ev.last(),
        Some(BookEvent::Canceled { reason: CancelReason::FokUnfilled, qty, .. }) if qty.whole_shares() == 21
    ));
    assert_eq!(b.orders(Sell).collect::<Vec<_>>(), before);
    assert_eq!(b.last_trade_price(), None);
    // Exactly enough within the limit fills completely.
    let ev = run(
        &mut b,
        lim(5, 2, Buy, "5.01", 20).with_tif(TimeInForce::Fok),
    );
    assert_eq!(
        fills(&ev),
        vec![(1, 5, px("5.00"), 10), (2, 5, px("5.01"), 10)]
    );
    assert_eq!(b.best_ask(), Some(lv("5.05", 100, 1)));
}

#[test]
fn fok_counts_liquidity_blocked_by_self_trade_prevention() {
    let mut b = book();
    rest(&mut b, lim(1, 7, Sell, "5.00", 10)); // same owner as the FOK below
    rest(&mut b, lim(2, 1, Sell, "5.00", 10));
    let ev = run(
        &mut b,
        lim(3, 7, Buy, "5.00", 10).with_tif(TimeInForce::Fok),
    );
    assert!(
        fills(&ev).is_empty(),
        "own order first in line blocks the fill: {ev:?}"
    );
    assert_eq!(b.len(), 2);
    let ev = run(
        &mut b,
        lim(4, 7, Buy, "5.00", 10)
            .with_tif(TimeInForce::Fok)
            .with_stp(SelfTradePrevention::CancelResting),
    );
    assert_eq!(fills(&ev), vec![(2, 4, px("5.00"), 10)]);
    assert!(b.is_empty(), "own resting order cancelled by STP");
}

#[test]
fn post_only_rejected_if_it_would_take() {
    let mut b = book();
    rest(&mut b, lim(1, 1, Sell, "5.00", 10));
    let ev = run(&mut b, lim(2, 2, Buy, "5.00", 10).with_post_only());
    assert_eq!(
        ev,
        vec![BookEvent::Rejected {
            id: OrderId::new(2),
            request: Request::Submit,
            reason: RejectReason::PostOnlyWouldTake
        }]
    );
    rest(&mut b, lim(3, 2, Buy, "4.99", 10).with_post_only());
    assert_eq!(b.best_bid(), Some(lv("4.99", 10, 1)));
}

#[test]
fn market_order_fills_within_collar_and_cancels_rest() {
    let mut b = book();
    rest(&mut b, lim(1, 1, Sell, "100.00", 10));
    rest(&mut b, lim(2, 1, Sell, "104.00", 10));
    rest(&mut b, lim(3, 1, Sell, "105.00", 10));
    rest(&mut b, lim(4, 1, Sell, "105.01", 10)); // beyond the 5% collar from 100.00
    let ev = run(&mut b, NewOrder::market(5, 2, Buy, 50));
    assert!(matches!(ev[0], BookEvent::Accepted { price: None, .. }));
    assert_eq!(
        fills(&ev),
        vec![
            (1, 5, px("100.00"), 10),
            (2, 5, px("104.00"), 10),
            (3, 5, px("105.00"), 10)
        ]
    );
    assert!(matches!(
        ev.last(),
        Some(BookEvent::Canceled { reason: CancelReason::MarketRemainder, qty, .. }) if qty.whole_shares() == 20
    ));
    assert_eq!(b.best_ask(), Some(lv("105.01", 10, 1)));
    assert!(b.best_bid().is_none(), "market remainder never rests");
}

#[test]
fn market_sell_collar_and_empty_side_rejection() {
    let mut b = book();
    let ev = run(&mut b, NewOrder::market(1, 1, Sell, 10));
    assert!(matches!(
        ev[..],
        [BookEvent::Rejected {
            reason: RejectReason::NoLiquidity,
            ..
        }]
    ));
    rest(&mut b, lim(2, 2, Buy, "10.00", 10));
    rest(&mut b, lim(3, 2, Buy, "9.50", 10));
    rest(&mut b, lim(4, 2, Buy, "9.49", 10));
    let ev = run(&mut b, NewOrder::market(5, 1, Sell, 100));
    assert_eq!(
        fills(&ev),
        vec![(2, 5, px("10.00"), 10), (3, 5, px("9.50"), 10)]
    );
    assert_eq!(b.best_bid(), Some(lv("9.49", 10, 1)));
}

#[test]
fn replace_reduce_at_same_price_keeps_priority() {
    let mut b = book();
    rest(&mut b, lim(1, 1, Buy, "10.00", 100));
    rest(&mut b, lim(2, 2, Buy, "10.00", 100));
    let mut out = Vec::new();
    b.replace(OrderId::new(1), px("10.00"), Qty::shares(40), &mut out);
    assert!(matches!(
        out[..],
        [BookEvent::Replaced {
            priority: Priority::Kept,
            ..
        }]
    ));
    assert_eq!(ids_at(&b, Buy, "10.00"), vec![1, 2]);
    assert_eq!(b.best_bid(), Some(lv("10.00", 140, 2)));
}

#[test]
fn replace_increase_or_reprice_loses_priority() {
    let mut b = book();
    rest(&mut b, lim(1, 1, Buy, "10.00", 100));
    rest(&mut b, lim(2, 2, Buy, "10.00", 100));
    let mut out = Vec::new();
    b.replace(OrderId::new(1), px("10.00"), Qty::shares(101), &mut out);
    assert!(matches!(
        out[0],
        BookEvent::Replaced {
            priority: Priority::Lost,
            ..
        }
    ));
    assert_eq!(ids_at(&b, Buy, "10.00"), vec![2, 1]);
    out.clear();
    b.replace(OrderId::new(2), px("10.01"), Qty::shares(100), &mut out);
    b.replace(OrderId::new(2), px("10.00"), Qty::shares(100), &mut out);
    assert_eq!(
        ids_at(&b, Buy, "10.00"),
        vec![1, 2],
        "moving away and back goes to the back"
    );
    assert_eq!(
        b.order(OrderId::new(2)).map(|o| o.qty),
        Some(Qty::shares(100))
    );
}

#[test]
fn replace_that_crosses_trades_at_resting_price() {
    let mut b = book();
    rest(&mut b, lim(1, 1, Sell, "10.05", 30));
    rest(&mut b, lim(2, 2, Buy, "10.00", 50));
    let mut out = Vec::new();
    b.replace(OrderId::new(2), px("10.10"), Qty::shares(50), &mut out);
    assert_eq!(fills(&out), vec![(1, 2, px("10.05"), 30)]);
    assert!(
        matches!(out.last(), Some(BookEvent::Rested { qty, price, .. }) if qty.whole_shares() == 20 && *price == px("10.10"))
    );
    assert_eq!(b.best_bid(), Some(lv("10.10", 20, 1)));
    assert_eq!(b.best_ask(), None);
}

#[test]
fn cancel_or_replace_after_full_fill_is_rejected() {
    let mut b = book();
    rest(&mut b, lim(1, 1, Sell, "10.00", 10));
    run(&mut b, lim(2, 2, Buy, "10.00", 10));
    let mut out = Vec::new();
    b.cancel(OrderId::new(1), &mut out);
    b.replace(OrderId::new(1), px("10.00"), Qty::shares(5), &mut out);
    b.cancel(OrderId::new(2), &mut out); // the taker never rested
    assert_eq!(
        out,
        vec![
            BookEvent::Rejected {
                id: OrderId::new(1),
                request: Request::Cancel,
                reason: RejectReason::UnknownOrder
            },
            BookEvent::Rejected {
                id: OrderId::new(1),
                request: Request::Replace,
                reason: RejectReason::UnknownOrder
            },
            BookEvent::Rejected {
                id: OrderId::new(2),
                request: Request::Cancel,
                reason: RejectReason::UnknownOrder
            },
        ]
    );
}

#[test]
fn post_only_replace_that_would_cross_is_rejected_and_order_kept() {
    let mut b = book();
    rest(&mut b, lim(1, 1, Sell, "10.05", 30));
    rest(&mut b, lim(2, 2, Buy, "10.00", 50).with_post_only());
    let mut out = Vec::new();
    b.replace(OrderId::new(2), px("10.05"), Qty::shares(50), &mut out);
    assert!(matches!(
        out[..],
        [BookEvent::Rejected {
            reason: RejectReason::PostOnlyWouldTake,
            ..
        }]
    ));
    assert_eq!(b.order(OrderId::new(2)).map(|o| o.price), Some(px("10.00")));
}

#[test]
fn self_trade_prevention_modes() {
    // Default: cancel the incoming remainder, resting order stays.
    let mut b = book();
    rest(&mut b, lim(1, 1, Sell, "10.00", 10));
    rest(&mut b, lim(2, 7, Sell, "10.00", 10));
    rest(&mut b, lim(3, 1, Sell, "10.00", 10));
    let ev = run(&mut b, lim(4, 7, Buy, "10.00", 30));
    assert_eq!(fills(&ev), vec![(1, 4, px("10.00"), 10)]);
    assert!(
        matches!(ev.last(), Some(BookEvent::Canceled { id, reason: CancelReason::SelfTrade, qty, resting_price: None, .. }) if id.get() == 4 && qty.whole_shares() == 20)
    );
    assert_eq!(ids_at(&b, Sell, "10.00"), vec![2, 3]);

    // Cancel resting: own order removed, matching continues behind it.
    let ev = run(
        &mut b,
        lim(5, 7, Buy, "10.00", 10).with_stp(SelfTradePrevention::CancelResting),
    );
    assert!(
        matches!(ev[1], BookEvent::Canceled { id, reason: CancelReason::SelfTrade, resting_price: Some(_), .. } if id.get() == 2)
    );
    assert_eq!(fills(&ev), vec![(3, 5, px("10.00"), 10)]);
    assert!(b.is_empty());

    // Cancel both.
    rest(&mut b, lim(6, 7, Sell, "10.00", 10));
    rest(&mut b, lim(7, 1, Sell, "10.00", 10));
    let ev = run(
        &mut b,
        lim(8, 7, Buy, "10.00", 10).with_stp(SelfTradePrevention::CancelBoth),
    );
    assert!(fills(&ev).is_empty());
    let canceled: Vec<u64> = ev
        .iter()
        .filter_map(|e| match e {
            BookEvent::Canceled {
                id,
                reason: CancelReason::SelfTrade,
                ..
            } => Some(id.get()),
            _ => None,
        })
        .collect();
    assert_eq!(canceled, vec![6, 8]);
    assert_eq!(ids_at(&b, Sell, "10.00"), vec![7]);
}

#[test]
fn mass_cancel_by_owner_and_side() {
    let mut b = book();
    rest(&mut b, lim(1, 1, Buy, "10.00", 10));
    rest(&mut b, lim(2, 2, Buy, "10.00", 10));
    rest(&mut b, lim(3, 1, Buy, "9.99", 10));
    rest(&mut b, lim(4, 1, Sell, "10.01", 10));
    let mut out = Vec::new();
    assert_eq!(b.mass_cancel(AccountId::new(1), Some(Buy), &mut out), 2);
    assert_eq!(b.len(), 2);
    assert!(out.iter().all(|e| matches!(
        e,
        BookEvent::Canceled {
            reason: CancelReason::MassCancel,
            ..
        }
    )));
    assert_eq!(b.mass_cancel(AccountId::new(1), None, &mut out), 1);
    assert_eq!(b.best_bid(), Some(lv("10.00", 10, 1)));
    assert_eq!(b.best_ask(), None);
}

#[test]
fn day_orders_expire() {
    let mut b = book();
    rest(
        &mut b,
        lim(1, 1, Buy, "10.00", 10).with_tif(TimeInForce::Day),
    );
    rest(&mut b, lim(2, 1, Buy, "10.00", 10));
    let mut out = Vec::new();
    assert_eq!(b.expire_day_orders(&mut out), 1);
    assert!(matches!(
        out[..],
        [BookEvent::Canceled {
            reason: CancelReason::Expired,
            ..
        }]
    ));
    assert_eq!(ids_at(&b, Buy, "10.00"), vec![2]);
}

#[test]
fn validation_rejections() {
    let mut b = book();
    let cases = [
        (lim(1, 1, Buy, "10.00", 0), RejectReason::InvalidQuantity),
        (lim(2, 1, Buy, "0", 10), RejectReason::InvalidPrice),
        (lim(3, 1, Buy, "-1", 10), RejectReason::InvalidPrice),
        (lim(4, 1, Buy, "10.005", 10), RejectReason::PriceOffTick),
        (
            NewOrder::market(5, 1, Buy, 10).with_post_only(),
            RejectReason::InvalidOrder,
        ),
    ];
    for (o, reason) in cases {
        let ev = run(&mut b, o);
        assert_eq!(
            ev,
            vec![BookEvent::Rejected {
                id: o.id,
                request: Request::Submit,
                reason
            }]
        );
    }
    let mut lots = OrderBook::new(BookConfig {
        lot: Qty::shares(100),
        ..BookConfig::default()
    });
    let ev = run(&mut lots, lim(6, 1, Buy, "10.00", 150));
    assert!(matches!(
        ev[..],
        [BookEvent::Rejected {
            reason: RejectReason::QtyOffLot,
            ..
        }]
    ));
    rest(&mut b, lim(7, 1, Buy, "10.00", 10));
    let ev = run(&mut b, lim(7, 1, Buy, "10.00", 10));
    assert!(matches!(
        ev[..],
        [BookEvent::Rejected {
            reason: RejectReason::DuplicateOrderId,
            ..
        }]
    ));
    let huge = NewOrder {
        qty: Qty::shares(u64::MAX / 1_000_000),
        ..lim(8, 1, Buy, "10.00", 0)
    };
    let ev = run(&mut b, huge);
    assert!(matches!(
        ev[..],
        [BookEvent::Rejected {
            reason: RejectReason::ArithmeticOverflow,
            ..
        }]
    ));
    assert!(
        !b.is_empty() && b.len() == 1,
        "rejections never change the book"
    );
}

#[test]
fn depth_reports_levels_best_first() {
    let mut b = book();
    rest(&mut b, lim(1, 1, Buy, "10.00", 10));
    rest(&mut b, lim(2, 1, Buy, "10.00", 5));
    rest(&mut b, lim(3, 1, Buy, "9.98", 7));
    rest(&mut b, lim(4, 1, Buy, "9.99", 1));
    let d: Vec<_> = b.depth(Buy, 2).collect();
    assert_eq!(d, vec![lv("10.00", 15, 2), lv("9.99", 1, 1)]);
    assert_eq!(b.depth(Sell, 5).count(), 0);
    assert_eq!(b.qty_at(Buy, px("9.98")), Qty::shares(7));
}

#[test]
fn invariants_hold_through_a_busy_sequence() {
    let mut b = book();
    let mut out = Vec::new();
    for i in 0..200u64 {
        let side = if i % 2 == 0 { Buy } else { Sell };
        let price = Price::from_raw(100_000 + i64::try_from(i % 7).unwrap() * 100);
        b.submit(
            &NewOrder::limit(i, i % 5, side, price, 1 + i % 13),
            &mut out,
        );
        if i % 3 == 0 {
            b.cancel(OrderId::new(i / 2), &mut out);
        }
        if i % 4 == 0 {
            b.replace(OrderId::new(i / 3), price, Qty::shares(1 + i % 5), &mut out);
        }
        b.check_invariants().unwrap();
    }
    assert!(fills(&out).len() > 10);
}

/// Orders are found by id through a ring of entries (4,096 for a default book): ids a
/// ring apart share an entry, so the later ones spill. Every path must find, fill, cancel and
/// replace them exactly as any other order, and a freed entry is reused.
#[test]
fn orders_sharing_a_ring_entry_behave_like_any_other() {
    let mut b = book();
    let ring = 4096;
    let ids: Vec<u64> = (0..6).map(|k| 7 + k * ring).collect();
    for (k, &id) in ids.iter().enumerate() {
        rest(&mut b, lim(id, 1, Buy, &format!("10.0{k}"), 10));
        b.check_invariants().unwrap();
    }
    assert_eq!(b.len(), 6);
    for &id in &ids {
        assert_eq!(b.order(OrderId::new(id)).map(|o| o.id.get()), Some(id));
    }
    // A duplicate of a spilled id and of the entry holder are both refused.
    for id in [ids[0], ids[3]] {
        let ev = run(&mut b, lim(id, 1, Buy, "9.00", 1));
        assert!(
            matches!(
                ev[..],
                [BookEvent::Rejected {
                    reason: RejectReason::DuplicateOrderId,
                    ..
                }]
            ),
            "{ev:?}"
        );
    }
    // Free the entry holder; the spilled orders are still found, a new id takes the entry.
    let mut out = Vec::new();
    b.cancel(OrderId::new(ids[0]), &mut out);
    b.check_invariants().unwrap();
    assert!(b.order(OrderId::new(ids[0])).is_none());
    for &id in &ids[1..] {
        assert!(b.order(OrderId::new(id)).is_some(), "{id} lost");
    }
    let late = 7 + 6 * ring;
    rest(&mut b, lim(late, 2, Buy, "10.10", 5));
    // Replace a spilled order (loses priority: re-enters), then sell into the book: fills
    // come best price first, and spilled makers leave the pool when filled.
    b.replace(OrderId::new(ids[4]), px("10.20"), Qty::shares(10), &mut out);
    b.check_invariants().unwrap();
    let ev = run(&mut b, lim(99, 3, Sell, "10.03", 35));
    let makers: Vec<u64> = fills(&ev).iter().map(|f| f.0).collect();
    assert_eq!(makers, vec![ids[4], late, ids[5], ids[3]]);
    b.check_invariants().unwrap();
    for &id in &[ids[4], late, ids[5], ids[3]] {
        assert!(b.order(OrderId::new(id)).is_none());
    }
    assert_eq!(b.len(), 2);
    // Many more ids sharing the entry, cancelled in turn, keep the book sound.
    for k in 0..50u64 {
        let id = 7 + (10 + k) * ring;
        rest(&mut b, lim(id, 4, Sell, "11.00", 1));
        if k % 2 == 1 {
            b.cancel(OrderId::new(id - ring), &mut out);
        }
        b.check_invariants().unwrap();
    }
    assert_eq!(b.mass_cancel(AccountId::new(4), None, &mut out), 25);
    b.check_invariants().unwrap();
    assert_eq!(b.len(), 2);
}

/// Fractions of a share rest and match like any quantity when the lot allows them.
#[test]
fn fractional_quantities_match_exactly_with_a_fine_lot() {
    let mut b = OrderBook::new(BookConfig {
        lot: Qty::from_raw(1),
        ..BookConfig::default()
    });
    let frac = |o: NewOrder, raw: u64| NewOrder {
        qty: Qty::from_raw(raw),
        ..o
    };
    rest(&mut b, frac(lim(1, 1, Sell, "10.00", 0), 1_500_000));
    let ev = run(&mut b, frac(lim(2, 2, Buy, "10.00", 0), 250_001));
    assert!(matches!(ev[1], BookEvent::Fill { qty, maker_leaves, .. }
        if qty == Qty::from_raw(250_001) && maker_leaves == Qty::from_raw(1_249_999)));
    assert_eq!(b.qty_at(Sell, px("10.00")), Qty::from_raw(1_249_999));
    // The default lot is one share: a fraction is off lot.
    let ev = run(&mut book(), frac(lim(3, 1, Buy, "10.00", 0), 500_000));
    assert!(matches!(
        ev[..],
        [BookEvent::Rejected {
            reason: RejectReason::QtyOffLot,
            ..
        }]
    ));
}

/// A notional market order spends no more than its money, level by level, and buys the
/// millionths the money affords at the last level (Alpaca's `notional`).
#[test]
fn a_notional_market_order_spends_at_most_its_money() {
    let mut b = OrderBook::new(BookConfig {
        lot: Qty::from_raw(1),
        ..BookConfig::default()
    });
    rest(&mut b, lim(1, 1, Sell, "10.00", 2));
    rest(&mut b, lim(2, 1, Sell, "10.01", 5));
    // $25: 2 shares at $10.00 ($20), then $5 / $10.01 = 0.499500… share at $10.01.
    let o = NewOrder {
        qty: Qty::shares(100),
        notional: Some("25".parse().unwrap()),
        ..NewOrder::market(3, 2, Buy, 0)
    };
    let ev = run(&mut b, o);
    let got: Vec<(Price, Qty)> = ev
        .iter()
        .filter_map(|e| match *e {
            BookEvent::Fill { price, qty, .. } => Some((price, qty)),
            _ => None,
        })
        .collect();
    assert_eq!(
        got,
        [
            (px("10.00"), Qty::shares(2)),
            (px("10.01"), Qty::from_raw(499_500))
        ]
    );
    // 20 + 10.01 × 0.4995 = 24.999995 ≤ 25; one more millionth would pass it.
    assert!(matches!(
        ev.last(),
        Some(BookEvent::Canceled {
            reason: CancelReason::MarketRemainder,
            ..
        })
    ));
    assert_eq!(b.qty_at(Sell, px("10.01")), Qty::from_raw(4_500_500));
}

/// Self-trade prevention that removes the account's own resting order lets the sweep go on
/// to dearer levels, and the cap still holds there.
#[test]
fn a_notional_cap_holds_when_self_trade_prevention_skips_a_level() {
    let mut b = OrderBook::new(BookConfig {
        lot: Qty::from_raw(1),
        ..BookConfig::default()
    });
    rest(&mut b, lim(1, 2, Sell, "10.00", 10)); // the buyer's own
    rest(&mut b, lim(2, 1, Sell, "10.10", 10));
    let o = NewOrder {
        qty: Qty::shares(3),
        notional: Some("20.20".parse().unwrap()),
        ..NewOrder::market(3, 2, Buy, 0).with_stp(SelfTradePrevention::CancelResting)
    };
    let ev = run(&mut b, o);
    assert_eq!(fills(&ev), [(2, 3, px("10.10"), 2)]);
}
