//! Fractional shares and notional orders: a scenario table. Quantities are millionths of a
//! share; cash moves as each order's exact value rounded as a whole (up for the buyer, down
//! for the seller), the house keeps the difference, and reservations always cover what an
//! order can still cost. The driver checks every ledger invariant after every command.

#![allow(clippy::unwrap_used)]

mod common;

use bourse_core::{
    Cash, Command, Event, OrderOptions, OrderRequest, OrderType, Qty, RejectReason, Side,
    TimeInForce,
};
use bourse_engine::EngineConfig;
use common::{Driver, limit, market, px, sym};

fn usd(s: &str) -> Cash {
    s.parse().unwrap()
}

fn q(s: &str) -> Qty {
    s.parse().unwrap()
}

fn with_qty(mut r: OrderRequest, qty: &str) -> OrderRequest {
    r.qty = q(qty);
    r
}

fn notional(
    account: bourse_core::AccountId,
    symbol: &str,
    side: Side,
    dollars: &str,
) -> OrderRequest {
    OrderRequest {
        qty: Qty::ZERO,
        tif: TimeInForce::Day,
        opts: OrderOptions {
            notional: Some(usd(dollars)),
            ..OrderOptions::default()
        },
        ..market(account, symbol, side, 0)
    }
}

fn rejected(ev: &[Event]) -> Option<RejectReason> {
    ev.iter().find_map(|e| match e {
        Event::Rejected { reason, .. } => Some(*reason),
        _ => None,
    })
}

/// (value, fee, last_qty) of each fill of `side` in `ev`.
fn fills(ev: &[Event], side: Side) -> Vec<(Cash, Cash, Qty)> {
    ev.iter()
        .filter_map(|e| match *e {
            Event::OrderFilled {
                side: s,
                value,
                fee,
                last_qty,
                ..
            } if s == side => Some((value, fee, last_qty)),
            _ => None,
        })
        .collect()
}

fn cash(d: &Driver, a: bourse_core::AccountId) -> (Cash, Cash) {
    d.engine.cash(a).unwrap()
}

fn held(d: &Driver, a: bourse_core::AccountId, s: &str) -> (Qty, Qty) {
    d.engine.position(a, sym(s)).unwrap()
}

#[test]
fn whole_share_instruments_refuse_fractions_and_notional_orders() {
    let mut d = Driver::new(EngineConfig::default());
    let a = d.funded(10_000);
    // KO trades whole shares only (config/instruments.toml).
    let ev = d.run(Command::SubmitOrder(with_qty(
        limit(a, "KO", Side::Buy, "62.00", 0),
        "1.5",
    )));
    assert_eq!(rejected(&ev), Some(RejectReason::FractionalNotAllowed));
    let ev = d.run(Command::SubmitOrder(notional(a, "KO", Side::Buy, "100")));
    assert_eq!(rejected(&ev), Some(RejectReason::FractionalNotAllowed));
    let ev = d.run(Command::DepositShares {
        account: a,
        symbol: sym("KO"),
        qty: q("0.5"),
    });
    assert_eq!(rejected(&ev), Some(RejectReason::FractionalNotAllowed));
    // Whole shares on a fractional instrument are whole shares as ever.
    let ev = d.run(Command::SubmitOrder(limit(
        a,
        "AAPL",
        Side::Buy,
        "190.00",
        2,
    )));
    assert_eq!(rejected(&ev), None, "{ev:?}");
}

#[test]
fn fractions_rest_and_match_exactly_and_round_each_order_as_a_whole() {
    let mut d = Driver::new(EngineConfig {
        maker_fee_bps: 10,
        taker_fee_bps: 30,
        ..EngineConfig::default()
    });
    let seller = d.funded(0);
    let buyer = d.funded(1_000);
    d.shares(seller, "AAPL", 1);
    // 0.333333 share at 190.01 rests; a buy of 0.1 then another of 0.1 take from it.
    let ev = d.run(Command::SubmitOrder(with_qty(
        limit(seller, "AAPL", Side::Sell, "190.01", 0),
        "0.333333",
    )));
    assert_eq!(rejected(&ev), None, "{ev:?}");
    assert_eq!(held(&d, seller, "AAPL"), (q("1"), q("0.333333")));
    let buy = with_qty(limit(buyer, "AAPL", Side::Buy, "190.01", 0), "0.2");
    // Reserved: ceil(190.01 × 0.2) = 38.002 plus the dearer fee, ceil(38.002 × 30 bps).
    let ev = d.run(Command::SubmitOrder(OrderRequest {
        tif: TimeInForce::Day,
        ..buy
    }));
    let taker = fills(&ev, Side::Buy);
    let maker = fills(&ev, Side::Sell);
    assert_eq!(taker, [(usd("38.002"), usd("0.1141"), q("0.2"))]);
    assert_eq!(maker, [(usd("38.002"), usd("0.0381"), q("0.2"))]);
    // A fraction whose exact value is not on the cash grid: 0.000007 × 190.01 = 0.00133007.
    let ev = d.run(Command::SubmitOrder(with_qty(
        limit(buyer, "AAPL", Side::Buy, "190.01", 0),
        "0.000007",
    )));
    assert_eq!(fills(&ev, Side::Buy)[0].0, usd("0.0014")); // the buyer's rounded up
    assert_eq!(fills(&ev, Side::Sell)[0].0, usd("0.0013")); // the seller's down
    // The seller's order has now sold 0.200007 for 38.0033 (exact 38.00333007, rounded
    // down as a whole); the house holds the 0.0001 between the two roundings.
    assert_eq!(d.engine.rounding_collected(), usd("0.0001"));
    assert_eq!(held(&d, buyer, "AAPL"), (q("0.200007"), Qty::ZERO));
    assert_eq!(held(&d, seller, "AAPL"), (q("0.799993"), q("0.133326")));
    // The rest of the seller's order sells against a bigger buy; its total is its exact
    // value rounded down once: 190.01 × 0.333333 = 63.33660333 → 63.3366.
    let ev = d.run(Command::SubmitOrder(with_qty(
        limit(buyer, "AAPL", Side::Buy, "190.01", 0),
        "1",
    )));
    let cum = ev.iter().find_map(|e| match *e {
        Event::OrderFilled {
            side: Side::Sell,
            cum_notional,
            leaves_qty,
            ..
        } if leaves_qty.is_zero() => Some(cum_notional),
        _ => None,
    });
    assert_eq!(cum, Some(usd("63.3366")));
    let (cash_b, reserved_b) = cash(&d, buyer);
    assert!(
        reserved_b.is_positive(),
        "the rest of the 1-share buy rests reserved"
    );
    assert!(cash_b < usd("1000"));
}

#[test]
fn a_notional_buy_spends_at_most_its_money_across_levels() {
    let mut d = Driver::new(EngineConfig::default());
    let seller = d.funded(0);
    let buyer = d.funded(300);
    d.shares(seller, "AAPL", 10);
    d.run(Command::SubmitOrder(limit(
        seller,
        "AAPL",
        Side::Sell,
        "190.00",
        1,
    )));
    d.run(Command::SubmitOrder(limit(
        seller,
        "AAPL",
        Side::Sell,
        "190.50",
        5,
    )));
    // $250: one share at 190.00, then $60 / 190.50 = 0.314960 share (0.31496062…).
    let ev = d.run(Command::SubmitOrder(notional(
        buyer,
        "AAPL",
        Side::Buy,
        "250",
    )));
    let accepted = ev.iter().find_map(|e| match *e {
        Event::OrderAccepted { qty, notional, .. } => Some((qty, notional)),
        _ => None,
    });
    assert_eq!(accepted, Some((q("1.31496"), usd("250"))));
    let got = fills(&ev, Side::Buy);
    assert_eq!(
        got.iter().map(|f| (f.0, f.2)).collect::<Vec<_>>(),
        [(usd("190"), q("1")), (usd("59.9999"), q("0.31496"))]
    );
    // Filled, nothing reserved, and no more than $250 spent.
    assert!(ev.iter().any(|e| matches!(e, Event::OrderFilled { leaves_qty, side: Side::Buy, .. } if leaves_qty.is_zero())));
    assert_eq!(cash(&d, buyer), (usd("50.0001"), Cash::ZERO));
    assert_eq!(held(&d, buyer, "AAPL"), (q("1.31496"), Qty::ZERO));
}

#[test]
fn a_notional_sell_brings_in_at_most_its_money_and_needs_the_shares() {
    let mut d = Driver::new(EngineConfig::default());
    let seller = d.funded(0);
    let buyer = d.funded(10_000);
    d.shares(seller, "AAPL", 1);
    d.run(Command::SubmitOrder(limit(
        buyer,
        "AAPL",
        Side::Buy,
        "190.00",
        5,
    )));
    // $1,000 is more than 1 share is worth here: refused, nothing sold.
    let ev = d.run(Command::SubmitOrder(notional(
        seller,
        "AAPL",
        Side::Sell,
        "1000",
    )));
    assert_eq!(rejected(&ev), Some(RejectReason::InsufficientPosition));
    // $95 sells exactly half a share.
    let ev = d.run(Command::SubmitOrder(notional(
        seller,
        "AAPL",
        Side::Sell,
        "95",
    )));
    assert_eq!(
        fills(&ev, Side::Sell)
            .iter()
            .map(|f| (f.0, f.2))
            .collect::<Vec<_>>(),
        [(usd("95"), q("0.5"))]
    );
    assert_eq!(cash(&d, seller), (usd("95"), Cash::ZERO));
    assert_eq!(held(&d, seller, "AAPL"), (q("0.5"), Qty::ZERO));
}

#[test]
fn notional_orders_are_market_day_orders_in_continuous_trading() {
    let mut d = Driver::new(EngineConfig::default());
    let a = d.funded(1_000);
    let as_limit = OrderRequest {
        order_type: OrderType::Limit,
        limit_price: Some(px("190.00")),
        ..notional(a, "AAPL", Side::Buy, "100")
    };
    assert_eq!(
        rejected(&d.run(Command::SubmitOrder(as_limit))),
        Some(RejectReason::InvalidOrder)
    );
    let gtc = OrderRequest {
        tif: TimeInForce::Gtc,
        ..notional(a, "AAPL", Side::Buy, "100")
    };
    assert_eq!(
        rejected(&d.run(Command::SubmitOrder(gtc))),
        Some(RejectReason::InvalidOrder)
    );
    // Nothing to buy from: as any market order.
    assert_eq!(
        rejected(&d.run(Command::SubmitOrder(notional(a, "AAPL", Side::Buy, "100")))),
        Some(RejectReason::NoLiquidity)
    );
    // More money than the account has.
    let s = d.funded(0);
    d.shares(s, "AAPL", 10);
    d.run(Command::SubmitOrder(limit(
        s,
        "AAPL",
        Side::Sell,
        "190.00",
        10,
    )));
    assert_eq!(
        rejected(&d.run(Command::SubmitOrder(notional(
            a,
            "AAPL",
            Side::Buy,
            "1000.01"
        )))),
        Some(RejectReason::InsufficientBuyingPower)
    );
    // Outside continuous trading: refused.
    d.run(Command::SetSession {
        session: bourse_core::Session::PreMarket,
    });
    assert_eq!(
        rejected(&d.run(Command::SubmitOrder(notional(a, "AAPL", Side::Buy, "100")))),
        Some(RejectReason::MarketClosed)
    );
}

/// A journal written before fractions holds whole shares: its frozen commands replay as
/// the same whole-share orders.
#[test]
fn older_commands_replay_in_whole_shares() {
    use bourse_core::{OrderOptionsV1, OrderRequestV2, WholeQty};
    let mut d = Driver::new(EngineConfig::default());
    let s = d.funded(0);
    let b = d.funded(1_000);
    let ev = d.run(Command::DepositSharesV1 {
        account: s,
        symbol: sym("AAPL"),
        qty: WholeQty(3),
    });
    assert!(matches!(ev[0], Event::SharesDeposited { qty, .. } if qty == q("3")));
    let r = limit(s, "AAPL", Side::Sell, "190.00", 0);
    let v2 = OrderRequestV2 {
        account: r.account,
        symbol: r.symbol,
        client_order_id: None,
        side: r.side,
        order_type: r.order_type,
        tif: r.tif,
        qty: WholeQty(2),
        limit_price: r.limit_price,
        stop_price: None,
        post_only: false,
        stp: r.stp,
        opts: OrderOptionsV1::default(),
    };
    d.run(Command::SubmitOrderV2(v2));
    assert_eq!(held(&d, s, "AAPL"), (q("3"), q("2")));
    let ev = d.run(Command::SubmitOrder(limit(
        b,
        "AAPL",
        Side::Buy,
        "190.00",
        2,
    )));
    assert_eq!(fills(&ev, Side::Buy), [(usd("380"), Cash::ZERO, q("2"))]);
}
