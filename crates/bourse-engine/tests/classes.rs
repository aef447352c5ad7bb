//! Order classes (bracket, OCO, OTO), one scenario per rule: exits held until their entry
//! stops working and sized to what it filled; one exit's execution shrinks or ends the
//! other; cancelling the entry unfilled cancels the exits; the class reserves once, for
//! the worst case. The driver checks every ledger invariant after every command.
#![allow(clippy::unwrap_used)]

mod common;

use bourse_core::{
    AccountId, CancelReason, ClassRequest, Command, Event, LegRole, OrderClass, OrderId,
    OrderRequest, OrderType, Qty, RejectReason, Side, StopLoss, Symbol, TimeInForce,
};
use bourse_engine::{Engine, EngineConfig};
use common::{Driver, limit, market, px, sym};

/// A KO market: a seller with 10,000 shares and a buyer with $1,000,000.
fn ko() -> (Driver, AccountId, AccountId) {
    let mut d = Driver::new(EngineConfig::default());
    let seller = d.funded(0);
    d.shares(seller, "KO", 10_000);
    let buyer = d.funded(1_000_000);
    (d, seller, buyer)
}

fn class(
    class: OrderClass,
    order: OrderRequest,
    tp: Option<&str>,
    sl: Option<(&str, Option<&str>)>,
) -> Command {
    Command::SubmitClass(Box::new(ClassRequest {
        class,
        order,
        take_profit: tp.map(px),
        stop_loss: sl.map(|(s, l)| StopLoss {
            stop_price: px(s),
            limit_price: l.map(px),
        }),
    }))
}

/// The class's orders by role, from its `OrderLinked` events.
fn linked(ev: &[Event]) -> Vec<(LegRole, OrderId)> {
    ev.iter()
        .filter_map(|e| match *e {
            Event::OrderLinked { role, order_id, .. } => Some((role, order_id)),
            _ => None,
        })
        .collect()
}

fn role(ev: &[Event], r: LegRole) -> OrderId {
    linked(ev)
        .into_iter()
        .find(|(x, _)| *x == r)
        .unwrap_or_else(|| panic!("no {r:?} in {ev:?}"))
        .1
}

fn canceled(ev: &[Event], id: OrderId) -> Option<(CancelReason, u64)> {
    ev.iter().find_map(|e| match *e {
        Event::OrderCanceled {
            order_id,
            reason,
            qty,
            ..
        } if order_id == id => Some((reason, qty.whole_shares())),
        _ => None,
    })
}

fn activated(ev: &[Event], id: OrderId) -> Option<u64> {
    ev.iter().find_map(|e| match *e {
        Event::OrderActivated { order_id, qty, .. } if order_id == id => Some(qty.whole_shares()),
        _ => None,
    })
}

fn filled(ev: &[Event], id: OrderId) -> u64 {
    ev.iter()
        .filter_map(|e| match *e {
            Event::OrderFilled {
                order_id, last_qty, ..
            } if order_id == id => Some(last_qty.whole_shares()),
            _ => None,
        })
        .sum()
}

fn rejected(ev: &[Event]) -> Option<RejectReason> {
    ev.iter().find_map(|e| match *e {
        Event::Rejected { reason, .. } => Some(reason),
        _ => None,
    })
}

fn ko_sym() -> Symbol {
    sym("KO")
}

/// (held, reserved) shares of KO.
fn shares(d: &Driver, a: AccountId) -> (u64, u64) {
    let (q, r) = d.engine.position(a, ko_sym()).unwrap();
    (q.whole_shares(), r.whole_shares())
}

fn sell(d: &mut Driver, a: AccountId, price: &str, qty: u64) -> Vec<Event> {
    d.run(Command::SubmitOrder(limit(a, "KO", Side::Sell, price, qty)))
}

fn buy(d: &mut Driver, a: AccountId, price: &str, qty: u64) -> Vec<Event> {
    d.run(Command::SubmitOrder(limit(a, "KO", Side::Buy, price, qty)))
}

#[test]
fn a_bracket_holds_its_exits_until_the_entry_ends_then_sizes_them_to_its_fills() {
    let (mut d, seller, buyer) = ko();
    // Buy 100 at 62.00, take profit at 65.00, stop loss at 60.00.
    let ev = d.run(class(
        OrderClass::Bracket,
        limit(buyer, "KO", Side::Buy, "62.00", 100),
        Some("65.00"),
        Some(("60.00", None)),
    ));
    let (entry, tp, sl) = (
        role(&ev, LegRole::Entry),
        role(&ev, LegRole::TakeProfit),
        role(&ev, LegRole::StopLoss),
    );
    // The exits are accepted for the entry's quantity, held (on no book).
    let accepted: Vec<(OrderId, Side, OrderType, u64)> = ev
        .iter()
        .filter_map(|e| match *e {
            Event::OrderAccepted {
                order_id,
                side,
                order_type,
                qty,
                ..
            } => Some((order_id, side, order_type, qty.whole_shares())),
            _ => None,
        })
        .collect();
    assert_eq!(
        accepted,
        [
            (entry, Side::Buy, OrderType::Limit, 100),
            (tp, Side::Sell, OrderType::Limit, 100),
            (sl, Side::Sell, OrderType::Stop, 100),
        ]
    );
    let book = d.engine.book(ko_sym()).unwrap();
    assert!(book.order(tp).is_none() && book.order(sl).is_none());
    // 40 fill: the exits still wait (the entry works); the 40 bought are held for them.
    let ev = sell(&mut d, seller, "62.00", 40);
    assert_eq!(filled(&ev, entry), 40);
    assert_eq!(activated(&ev, tp), None);
    assert_eq!(shares(&d, buyer), (40, 40));
    // The buyer cancels the rest: the exits start, for the 40 that filled.
    let ev = d.run(Command::CancelOrder {
        account: buyer,
        order_id: entry,
    });
    assert_eq!(canceled(&ev, entry), Some((CancelReason::Requested, 60)));
    assert_eq!(activated(&ev, tp), Some(40));
    assert_eq!(activated(&ev, sl), Some(40));
    let book = d.engine.book(ko_sym()).unwrap();
    assert_eq!(
        book.order(tp).map(|o| (o.price, o.qty)),
        Some((px("65.00"), Qty::shares(40)))
    );
    // The two exits reserve the 40 shares once.
    assert_eq!(shares(&d, buyer), (40, 40));
    // 15 of the take profit fill: the stop loss shrinks to 25 with it.
    let other = d.funded(1_000_000);
    let ev = buy(&mut d, other, "65.00", 15);
    assert_eq!(filled(&ev, tp), 15);
    assert!(
        ev.iter().any(|e| matches!(*e, Event::OrderReplaced { order_id, old_qty, qty, .. } if order_id == sl && old_qty.whole_shares() == 40 && qty.whole_shares() == 25)),
        "{ev:?}"
    );
    assert_eq!(shares(&d, buyer), (25, 25));
    // The price falls through 60.00: the stop loss triggers, the take profit leaves the
    // book first, and the stop sells its 25 at market into the bid.
    buy(&mut d, other, "59.90", 100);
    let ev = sell(&mut d, seller, "60.00", 1);
    let ev = if ev.iter().any(|e| matches!(e, Event::Trade { .. })) {
        ev
    } else {
        buy(&mut d, other, "60.00", 1)
    };
    assert!(
        ev.iter()
            .any(|e| matches!(*e, Event::OrderTriggered { order_id, .. } if order_id == sl)),
        "{ev:?}"
    );
    assert_eq!(canceled(&ev, tp), Some((CancelReason::SiblingExecuted, 25)));
    assert_eq!(filled(&ev, sl), 25);
    assert!(!d.engine.is_working(tp) && !d.engine.is_working(sl));
    assert_eq!(shares(&d, buyer), (0, 0));
}

#[test]
fn a_take_profit_that_fills_cancels_the_stop_loss() {
    let (mut d, seller, buyer) = ko();
    sell(&mut d, seller, "62.00", 100);
    // A market entry fills at once: the exits start in the same command, for all 100.
    let ev = d.run(class(
        OrderClass::Bracket,
        OrderRequest {
            tif: TimeInForce::Day,
            ..market(buyer, "KO", Side::Buy, 100)
        },
        Some("63.00"),
        Some(("61.00", Some("60.90"))),
    ));
    let (tp, sl) = (role(&ev, LegRole::TakeProfit), role(&ev, LegRole::StopLoss));
    assert_eq!(activated(&ev, tp), Some(100));
    assert_eq!(activated(&ev, sl), Some(100));
    assert_eq!(shares(&d, buyer), (100, 100));
    let other = d.funded(1_000_000);
    let ev = buy(&mut d, other, "63.00", 150);
    assert_eq!(filled(&ev, tp), 100);
    assert_eq!(
        canceled(&ev, sl),
        Some((CancelReason::SiblingExecuted, 100))
    );
    assert_eq!(shares(&d, buyer), (0, 0));
}

#[test]
fn an_entry_that_ends_unfilled_cancels_its_exits() {
    let (mut d, _seller, buyer) = ko();
    let before = d.engine.cash(buyer).unwrap();
    let ev = d.run(class(
        OrderClass::Bracket,
        limit(buyer, "KO", Side::Buy, "62.00", 100),
        Some("65.00"),
        Some(("60.00", None)),
    ));
    let (entry, tp, sl) = (
        role(&ev, LegRole::Entry),
        role(&ev, LegRole::TakeProfit),
        role(&ev, LegRole::StopLoss),
    );
    let ev = d.run(Command::CancelOrder {
        account: buyer,
        order_id: entry,
    });
    assert_eq!(canceled(&ev, entry), Some((CancelReason::Requested, 100)));
    assert_eq!(canceled(&ev, tp), Some((CancelReason::ParentUnfilled, 100)));
    assert_eq!(canceled(&ev, sl), Some((CancelReason::ParentUnfilled, 100)));
    assert_eq!(d.engine.cash(buyer).unwrap(), before);
    // A held exit is cancelled by its owner with its sibling; the entry goes on alone.
    let ev = d.run(class(
        OrderClass::Bracket,
        limit(buyer, "KO", Side::Buy, "62.00", 100),
        Some("65.00"),
        Some(("60.00", None)),
    ));
    let (entry, tp, sl) = (
        role(&ev, LegRole::Entry),
        role(&ev, LegRole::TakeProfit),
        role(&ev, LegRole::StopLoss),
    );
    let ev = d.run(Command::CancelOrder {
        account: buyer,
        order_id: sl,
    });
    assert_eq!(canceled(&ev, sl), Some((CancelReason::Requested, 100)));
    assert_eq!(canceled(&ev, tp), Some((CancelReason::Requested, 100)));
    assert!(d.engine.is_working(entry));
    // The mass cancel takes an entry and its held exits at once.
    let ev = d.run(class(
        OrderClass::Oto,
        limit(buyer, "KO", Side::Buy, "61.00", 10),
        None,
        Some(("59.00", None)),
    ));
    let sl2 = role(&ev, LegRole::StopLoss);
    let ev = d.run(Command::MassCancel {
        account: Some(buyer),
        symbol: None,
    });
    assert_eq!(canceled(&ev, entry), Some((CancelReason::MassCancel, 100)));
    assert_eq!(canceled(&ev, sl2), Some((CancelReason::MassCancel, 10)));
    assert_eq!(d.engine.cash(buyer).unwrap(), before);
}

#[test]
fn an_oco_reserves_its_shares_once_and_one_exit_ends_the_other() {
    let (mut d, seller, buyer) = ko();
    // An OCO sells 100 held shares: take profit at 64.00, stop loss at 60.00.
    let mut tp_order = limit(seller, "KO", Side::Sell, "64.00", 100);
    tp_order.tif = TimeInForce::Day;
    let ev = d.run(class(
        OrderClass::Oco,
        tp_order,
        Some("64.00"),
        Some(("60.00", None)),
    ));
    let (tp, sl) = (role(&ev, LegRole::TakeProfit), role(&ev, LegRole::StopLoss));
    assert!(linked(&ev).iter().all(|(r, _)| *r != LegRole::Entry));
    assert_eq!(shares(&d, seller), (10_000, 100));
    assert!(d.engine.book(ko_sym()).unwrap().order(tp).is_some());
    // More than is free: refused.
    let ev = d.run(class(
        OrderClass::Oco,
        limit(seller, "KO", Side::Sell, "64.00", 9_950),
        Some("64.00"),
        Some(("60.00", None)),
    ));
    assert_eq!(rejected(&ev), Some(RejectReason::InsufficientPosition));
    // 30 of the take profit fill; then the rest.
    let ev = buy(&mut d, buyer, "64.00", 30);
    assert_eq!(filled(&ev, tp), 30);
    assert_eq!(shares(&d, seller), (9_970, 70));
    let ev = buy(&mut d, buyer, "64.00", 70);
    assert_eq!(filled(&ev, tp), 70);
    assert_eq!(canceled(&ev, sl), Some((CancelReason::SiblingExecuted, 70)));
    assert_eq!(shares(&d, seller), (9_900, 0));
}

#[test]
fn a_sell_entry_reserves_its_buy_exits_worst_case_up_front() {
    let (mut d, seller, buyer) = ko();
    let poor = d.funded(1_000);
    d.shares(poor, "KO", 100);
    // Sell 100 at 62.00, buy back at 58.00 (profit) or on a stop at 64.00: the worst case is
    // 100 shares at the stop's collar (64.00 + 5 % = 67.20) = 6,720.00, more than it has.
    let ev = d.run(class(
        OrderClass::Bracket,
        limit(poor, "KO", Side::Sell, "62.00", 100),
        Some("58.00"),
        Some(("64.00", None)),
    ));
    assert_eq!(rejected(&ev), Some(RejectReason::InsufficientBuyingPower));
    let rich = d.funded(10_000);
    d.shares(rich, "KO", 100);
    let ev = d.run(class(
        OrderClass::Bracket,
        limit(rich, "KO", Side::Sell, "62.00", 100),
        Some("58.00"),
        Some(("64.00", None)),
    ));
    let (entry, tp) = (role(&ev, LegRole::Entry), role(&ev, LegRole::TakeProfit));
    let (cash, reserved) = d.engine.cash(rich).unwrap();
    assert_eq!(
        (cash.to_string(), reserved.to_string()),
        ("10000.00".into(), "6720.00".into())
    );
    // A larger entry would need more than was reserved: refused; a smaller one is fine.
    let ev = d.run(Command::ReplaceOrder {
        account: rich,
        order_id: entry,
        qty: Qty::shares(150),
        price: None,
    });
    assert_eq!(rejected(&ev), Some(RejectReason::InvalidOrder));
    // 40 sell; the entry expires at the end of the day: the exits start for 40, and hold
    // cash for 40 only.
    buy(&mut d, buyer, "62.00", 40);
    let ev = d.run(Command::CancelOrder {
        account: rich,
        order_id: entry,
    });
    assert_eq!(activated(&ev, tp), Some(40));
    let (cash, reserved) = d.engine.cash(rich).unwrap();
    assert_eq!(
        (cash.to_string(), reserved.to_string()),
        ("12480.00".into(), "2688.00".into())
    );
    // The take profit buys back 40 at 58.00.
    let ev = sell(&mut d, seller, "58.00", 40);
    assert_eq!(filled(&ev, tp), 40);
    let (cash, reserved) = d.engine.cash(rich).unwrap();
    assert_eq!(
        (cash.to_string(), reserved.to_string()),
        ("10160.00".into(), "0.00".into())
    );
}

#[test]
fn bad_shapes_and_replaces_are_refused_with_codes() {
    let (mut d, _seller, buyer) = ko();
    let entry = || limit(buyer, "KO", Side::Buy, "62.00", 100);
    let bad = [
        // A bracket without a stop loss; an OTO with both; an OCO without a take profit.
        class(OrderClass::Bracket, entry(), Some("65.00"), None),
        class(
            OrderClass::Oto,
            entry(),
            Some("65.00"),
            Some(("60.00", None)),
        ),
        class(OrderClass::Oco, entry(), None, Some(("60.00", None))),
        // Take profit below the entry; stop loss above it; an IOC entry.
        class(
            OrderClass::Bracket,
            entry(),
            Some("61.00"),
            Some(("60.00", None)),
        ),
        class(
            OrderClass::Bracket,
            entry(),
            Some("65.00"),
            Some(("63.00", None)),
        ),
        class(
            OrderClass::Bracket,
            OrderRequest {
                tif: TimeInForce::Ioc,
                ..entry()
            },
            Some("65.00"),
            Some(("60.00", None)),
        ),
        // An OCO's order is its take profit.
        class(
            OrderClass::Oco,
            limit(buyer, "KO", Side::Sell, "64.00", 1),
            Some("65.00"),
            Some(("60.00", None)),
        ),
    ];
    for cmd in bad {
        let ev = d.run(cmd.clone());
        assert_eq!(rejected(&ev), Some(RejectReason::InvalidLegs), "{cmd:?}");
    }
    // Off-tick exit prices are the instrument's rule.
    let ev = d.run(class(
        OrderClass::Bracket,
        entry(),
        Some("65.001"),
        Some(("60.00", None)),
    ));
    assert_eq!(rejected(&ev), Some(RejectReason::PriceOffTick));
    // An exit is not replaced (the class shares one reservation): cancel and enter again.
    let ev = d.run(class(
        OrderClass::Bracket,
        entry(),
        Some("65.00"),
        Some(("60.00", None)),
    ));
    let (e, tp) = (role(&ev, LegRole::Entry), role(&ev, LegRole::TakeProfit));
    let ev = d.run(Command::ReplaceOrder {
        account: buyer,
        order_id: tp,
        qty: Qty::shares(100),
        price: Some(px("66.00")),
    });
    assert_eq!(rejected(&ev), Some(RejectReason::InvalidOrder));
    // A buy entry may be replaced: its exits size to what it fills.
    let ev = d.run(Command::ReplaceOrder {
        account: buyer,
        order_id: e,
        qty: Qty::shares(120),
        price: Some(px("61.50")),
    });
    assert!(
        ev.iter().any(|x| matches!(x, Event::OrderReplaced { .. })),
        "{ev:?}"
    );
}

#[test]
fn stop_losses_trigger_in_a_cascade() {
    let (mut d, seller, buyer) = ko();
    // Two holders, each with an OCO: stops at 61.00 and 60.50.
    let a = d.funded(0);
    let b = d.funded(0);
    d.shares(a, "KO", 100);
    d.shares(b, "KO", 100);
    let ev = d.run(class(
        OrderClass::Oco,
        limit(a, "KO", Side::Sell, "64.00", 100),
        Some("64.00"),
        Some(("61.00", None)),
    ));
    let (a_tp, a_sl) = (role(&ev, LegRole::TakeProfit), role(&ev, LegRole::StopLoss));
    let ev = d.run(class(
        OrderClass::Oco,
        limit(b, "KO", Side::Sell, "64.50", 100),
        Some("64.50"),
        Some(("60.50", None)),
    ));
    let (b_tp, b_sl) = (role(&ev, LegRole::TakeProfit), role(&ev, LegRole::StopLoss));
    // Bids at 60.90 (100) and 60.40 (500); a trade at 61.00 triggers A's stop, which sells
    // into 60.90 and 60.40: the 60.40 trade triggers B's stop.
    buy(&mut d, buyer, "60.90", 60);
    buy(&mut d, buyer, "60.40", 500);
    buy(&mut d, buyer, "61.00", 1);
    let ev = sell(&mut d, seller, "61.00", 1);
    let triggered: Vec<OrderId> = ev
        .iter()
        .filter_map(|e| match *e {
            Event::OrderTriggered { order_id, .. } => Some(order_id),
            _ => None,
        })
        .collect();
    assert_eq!(triggered, [a_sl, b_sl]);
    assert_eq!(
        canceled(&ev, a_tp),
        Some((CancelReason::SiblingExecuted, 100))
    );
    assert_eq!(
        canceled(&ev, b_tp),
        Some((CancelReason::SiblingExecuted, 100))
    );
    assert_eq!(filled(&ev, a_sl), 100);
    assert_eq!(filled(&ev, b_sl), 100);
    assert_eq!(shares(&d, a), (0, 0));
    assert_eq!(shares(&d, b), (0, 0));
}

#[test]
fn exits_of_an_entry_that_ends_in_a_halt_wait_for_the_resume() {
    let (mut d, seller, buyer) = ko();
    let ev = d.run(class(
        OrderClass::Oto,
        limit(buyer, "KO", Side::Buy, "62.00", 100),
        Some("65.00"),
        None,
    ));
    let (entry, tp) = (role(&ev, LegRole::Entry), role(&ev, LegRole::TakeProfit));
    sell(&mut d, seller, "62.00", 30);
    d.run(Command::HaltSymbol { symbol: ko_sym() });
    let ev = d.run(Command::CancelOrder {
        account: buyer,
        order_id: entry,
    });
    assert_eq!(activated(&ev, tp), None);
    let ev = d.run(Command::ResumeSymbol { symbol: ko_sym() });
    assert_eq!(activated(&ev, tp), Some(30));
    assert!(d.engine.book(ko_sym()).unwrap().order(tp).is_some());
}

#[test]
fn a_restart_in_the_middle_goes_on_as_the_straight_run_does() {
    let (mut d, seller, buyer) = ko();
    d.run(class(
        OrderClass::Bracket,
        limit(buyer, "KO", Side::Buy, "62.00", 100),
        Some("64.00"),
        Some(("61.00", Some("60.80"))),
    ));
    d.run(class(
        OrderClass::Oco,
        limit(seller, "KO", Side::Sell, "66.00", 50),
        Some("66.00"),
        Some(("59.00", None)),
    ));
    sell(&mut d, seller, "62.00", 40);
    let other = d.funded(1_000_000);
    let mut restored = Engine::restore(d.engine.snapshot()).unwrap();
    assert_eq!(
        restored.state_hash().unwrap(),
        d.engine.state_hash().unwrap()
    );
    let cmds = [
        Command::SubmitOrder(limit(seller, "KO", Side::Sell, "62.00", 60)),
        Command::SubmitOrder(limit(other, "KO", Side::Buy, "64.00", 30)),
        Command::SubmitOrder(limit(other, "KO", Side::Buy, "60.70", 500)),
        Command::SubmitOrder(limit(seller, "KO", Side::Sell, "61.00", 5)),
        Command::SubmitOrder(limit(other, "KO", Side::Buy, "61.00", 5)),
        Command::SubmitOrder(limit(seller, "KO", Side::Sell, "58.00", 200)),
    ];
    let mut seen = Vec::new();
    for c in cmds {
        let seq = d.seq + 1;
        let straight = d.run(c.clone());
        let mut out = Vec::new();
        restored.apply(
            &bourse_core::Sequenced {
                seq: bourse_core::Seq(seq),
                ts: bourse_core::UnixNanos::new(seq * 1_000),
                cmd: c,
            },
            &mut out,
        );
        assert_eq!(out, straight);
        seen.extend(straight);
    }
    // The run went through the classes' rules: exits started, filled, triggered, ended.
    for want in [
        |e: &Event| matches!(e, Event::OrderActivated { .. }),
        |e: &Event| matches!(e, Event::OrderTriggered { .. }),
        |e: &Event| {
            matches!(
                e,
                Event::OrderCanceled {
                    reason: CancelReason::SiblingExecuted,
                    ..
                }
            )
        },
    ] {
        assert!(seen.iter().any(want), "{seen:?}");
    }
}
