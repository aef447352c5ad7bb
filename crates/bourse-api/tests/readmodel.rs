//! The read model against hand-built event streams shaped exactly like the engine's (every
//! command's events end with the balances and positions it touched): order states, fills,
//! activities, balances, average-cost P&L, pagination — and the PostgreSQL projection,
//! which must answer exactly like the in-memory model, however often it is fed.
#![allow(clippy::unwrap_used, clippy::too_many_arguments)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bourse_api::orders::{OrderStatus, report_submit};
use bourse_api::readmodel::{
    ActivityFilter, ActivityType, EventsPage, History, Page, PgHistory, PgProjector,
    PgReadModelOptions, ProjectionProgress, ReadModel, Retention, StatusFilter,
};
use bourse_api::readmodel::{OrderFilter, QueryError};
use bourse_core::{
    AccountId, CancelReason, Cash, ClientOrderId, Event, Liquidity, OrderId, OrderType, Price, Qty,
    RejectReason, Seq, Side, Symbol, Tagged, TimeInForce, TradeId, UnixNanos,
};
use parking_lot::RwLock;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, Connection, Executor};
use std::sync::Arc;

// ---- building events --------------------------------------------------------------------

fn p(s: &str) -> Price {
    s.parse().unwrap()
}
fn c(s: &str) -> Cash {
    s.parse().unwrap()
}
fn q(n: u64) -> Qty {
    Qty::shares(n)
}
fn a(n: u64) -> AccountId {
    AccountId::new(n)
}
fn o(n: u64) -> OrderId {
    OrderId::new(n)
}
fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}
fn aapl() -> Symbol {
    sym("AAPL")
}
fn cid(s: &str) -> ClientOrderId {
    ClientOrderId::new(s).unwrap()
}

/// 2026-01-05T14:30:00Z.
const BASE: u64 = 1_767_623_400_000_000_000;
const SEC: u64 = 1_000_000_000;

fn accepted(
    id: u64,
    account: u64,
    side: Side,
    order_type: OrderType,
    tif: TimeInForce,
    qty: u64,
    limit: Option<&str>,
    stop: Option<&str>,
    client: Option<&str>,
) -> Event {
    accepted_in(
        aapl(),
        id,
        account,
        side,
        order_type,
        tif,
        qty,
        limit,
        stop,
        client,
    )
}

fn accepted_in(
    symbol: Symbol,
    id: u64,
    account: u64,
    side: Side,
    order_type: OrderType,
    tif: TimeInForce,
    qty: u64,
    limit: Option<&str>,
    stop: Option<&str>,
    client: Option<&str>,
) -> Event {
    Event::OrderAccepted {
        order_id: o(id),
        account: a(account),
        symbol,
        client_order_id: client.map(cid),
        side,
        order_type,
        tif,
        qty: q(qty),
        limit_price: limit.map(p),
        stop_price: stop.map(p),
        notional: Cash::ZERO,
        extended_hours: false,
    }
}

/// The same order, also trading in pre-market and after-hours.
fn extended(mut e: Event) -> Event {
    if let Event::OrderAccepted { extended_hours, .. } = &mut e {
        *extended_hours = true;
    }
    e
}

fn rested(id: u64, side: Side, price: &str, qty: u64) -> Event {
    Event::OrderRested {
        order_id: o(id),
        symbol: aapl(),
        side,
        price: p(price),
        qty: q(qty),
    }
}

fn trade(id: u64, price: &str, qty: u64, aggressor: Side, maker: u64, taker: u64) -> Event {
    Event::Trade {
        symbol: aapl(),
        trade_id: TradeId::new(id),
        price: p(price),
        qty: q(qty),
        aggressor,
        maker_order: o(maker),
        taker_order: o(taker),
    }
}

fn filled(
    id: u64,
    account: u64,
    side: Side,
    trade: u64,
    px: &str,
    qty: u64,
    cum: u64,
    leaves: u64,
    notional: &str,
    liquidity: Liquidity,
    fee: &str,
) -> Event {
    Event::OrderFilled {
        order_id: o(id),
        account: a(account),
        symbol: aapl(),
        side,
        trade_id: TradeId::new(trade),
        last_px: p(px),
        last_qty: q(qty),
        cum_qty: q(cum),
        leaves_qty: q(leaves),
        cum_notional: c(notional),
        liquidity,
        fee: c(fee),
        value: p(px).notional(q(qty)).unwrap(),
    }
}

fn canceled(
    id: u64,
    account: u64,
    side: Side,
    qty: u64,
    at: Option<&str>,
    r: CancelReason,
) -> Event {
    Event::OrderCanceled {
        order_id: o(id),
        account: a(account),
        symbol: aapl(),
        side,
        qty: q(qty),
        resting_price: at.map(p),
        reason: r,
    }
}

fn bal(account: u64, cash: &str, reserved: &str) -> Event {
    Event::BalanceChanged {
        account: a(account),
        cash: c(cash),
        reserved: c(reserved),
    }
}

fn pos(account: u64, qty: u64, reserved: u64) -> Event {
    Event::PositionChanged {
        account: a(account),
        symbol: aapl(),
        qty: q(qty),
        reserved: q(reserved),
    }
}

/// One released command.
#[derive(Clone, Debug)]
struct Cmd {
    seq: Seq,
    ts: UnixNanos,
    events: Vec<Tagged>,
}

/// Commands numbered from `first`, a second apart, the day after the first end of day
/// moved on by a day; each account's stream events numbered 1, 2, 3, … as the engine does.
fn number(first: u64, list: Vec<Vec<Event>>, day_ends_after: u64) -> Vec<Cmd> {
    let mut streams: HashMap<AccountId, u64> = HashMap::new();
    list.into_iter()
        .enumerate()
        .map(|(i, evs)| {
            let seq = first + i as u64;
            let day = if seq > day_ends_after {
                86_400 * SEC
            } else {
                0
            };
            let ts = UnixNanos::new(BASE + seq * SEC + day);
            Cmd {
                seq: Seq(seq),
                ts,
                events: evs
                    .into_iter()
                    .map(|event| Tagged {
                        seq: Seq(seq),
                        ts,
                        event,
                        aseq: event.stream_account().map_or(0, |a| {
                            let n = streams.entry(a).or_default();
                            *n += 1;
                            *n
                        }),
                    })
                    .collect(),
            }
        })
        .collect()
}

fn ts_of(seq: u64) -> String {
    let day = if seq > 15 { 86_400 * SEC } else { 0 };
    UnixNanos::new(BASE + seq * SEC + day).to_rfc3339()
}

/// Three accounts trading AAPL (reference $100.00) with maker 10 bps / taker 20 bps fees:
/// deposits, a resting sell partly filled, a fill with fees on both sides, a maker fill
/// then a cancel, a replace, a market order sweeping two levels, a held stop, an end of
/// day expiring a DAY order, a trade that triggers the stop whose remainder is canceled,
/// a withdrawal and a rejection. The numbers are the engine's, worked out in comments.
fn scenario() -> Vec<Cmd> {
    use CancelReason::*;
    use Liquidity::*;
    use OrderType::*;
    use Side::*;
    use TimeInForce::*;
    let list = vec![
        // 1, 2, 3: three accounts.
        vec![Event::AccountOpened { account: a(1) }, bal(1, "0", "0")],
        vec![Event::AccountOpened { account: a(2) }, bal(2, "0", "0")],
        vec![Event::AccountOpened { account: a(3) }, bal(3, "0", "0")],
        // 4: alice deposits $10,000.
        vec![
            Event::CashDeposited {
                account: a(1),
                amount: c("10000"),
                balance: c("10000"),
            },
            bal(1, "10000", "0"),
        ],
        // 5: bob deposits 100 shares (cost basis: the reference price, $100).
        vec![
            Event::SharesDeposited {
                account: a(2),
                symbol: aapl(),
                qty: q(100),
                position: q(100),
            },
            pos(2, 100, 0),
        ],
        // 6: carol deposits $5,000.
        vec![
            Event::CashDeposited {
                account: a(3),
                amount: c("5000"),
                balance: c("5000"),
            },
            bal(3, "5000", "0"),
        ],
        // 7: bob sells 60 @ 101 GTC; it rests.
        vec![
            accepted(1, 2, Sell, Limit, Gtc, 60, Some("101"), None, Some("b-1")),
            rested(1, Sell, "101", 60),
            bal(2, "0", "0"),
            pos(2, 100, 60),
        ],
        // 8: alice buys 40 @ 101 DAY: takes 40 of bob's. 4040.00; maker fee 4.04, taker 8.08.
        vec![
            extended(accepted(
                2,
                1,
                Buy,
                Limit,
                Day,
                40,
                Some("101"),
                None,
                Some("a-1"),
            )),
            trade(1, "101", 40, Buy, 1, 2),
            filled(1, 2, Sell, 1, "101", 40, 40, 20, "4040", Maker, "4.04"),
            filled(2, 1, Buy, 1, "101", 40, 40, 0, "4040", Taker, "8.08"),
            bal(1, "5951.92", "0"),
            pos(1, 40, 0),
            bal(2, "4035.96", "0"),
            pos(2, 60, 20),
        ],
        // 9: alice bids 30 @ 100 GTC: rests, reserving 3000 + 6.00 fee.
        vec![
            accepted(3, 1, Buy, Limit, Gtc, 30, Some("100"), None, Some("a-2")),
            rested(3, Buy, "100", 30),
            bal(1, "5951.92", "3006"),
            pos(1, 40, 0),
        ],
        // 10: bob sells 10 @ 100 IOC into alice's bid: 1000.00; alice (maker) pays 1.00,
        // bob (taker) 2.00.
        vec![
            accepted(4, 2, Sell, Limit, Ioc, 10, Some("100"), None, None),
            trade(2, "100", 10, Sell, 3, 4),
            filled(3, 1, Buy, 2, "100", 10, 10, 20, "1000", Maker, "1"),
            filled(4, 2, Sell, 2, "100", 10, 10, 0, "1000", Taker, "2"),
            bal(2, "5033.96", "0"),
            pos(2, 50, 20),
            bal(1, "4950.92", "2004"),
            pos(1, 50, 0),
        ],
        // 11: alice cancels the rest of her bid.
        vec![
            canceled(3, 1, Buy, 20, Some("100"), Requested),
            bal(1, "4950.92", "0"),
            pos(1, 50, 0),
        ],
        // 12: alice offers 25 @ 102 DAY.
        vec![
            accepted(5, 1, Sell, Limit, Day, 25, Some("102"), None, Some("a-3")),
            rested(5, Sell, "102", 25),
            bal(1, "4950.92", "0"),
            pos(1, 50, 25),
        ],
        // 13: bob cuts his offer's open 20 to 15, keeping priority.
        vec![
            Event::OrderReplaced {
                order_id: o(1),
                account: a(2),
                symbol: aapl(),
                side: Sell,
                old_price: Some(p("101")),
                old_qty: q(20),
                price: Some(p("101")),
                qty: q(15),
                priority_kept: true,
            },
            bal(2, "5033.96", "0"),
            pos(2, 50, 15),
        ],
        // 14: carol buys 25 at market: 15 @ 101 from bob (1515.00; fees 1.515 / 3.03), then
        // 10 @ 102 from alice (1020.00; fees 1.02 / 2.04).
        vec![
            accepted(6, 3, Buy, Market, Day, 25, None, None, Some("c-1")),
            trade(3, "101", 15, Buy, 1, 6),
            filled(1, 2, Sell, 3, "101", 15, 55, 0, "5555", Maker, "1.515"),
            filled(6, 3, Buy, 3, "101", 15, 15, 10, "1515", Taker, "3.03"),
            trade(4, "102", 10, Buy, 5, 6),
            filled(5, 1, Sell, 4, "102", 10, 10, 15, "1020", Maker, "1.02"),
            filled(6, 3, Buy, 4, "102", 10, 25, 0, "2535", Taker, "2.04"),
            bal(3, "2459.93", "0"),
            pos(3, 25, 0),
            bal(2, "6547.445", "0"),
            pos(2, 35, 0),
            bal(1, "5969.90", "0"),
            pos(1, 40, 15),
        ],
        // 15: alice's buy stop 5 @ 103 GTC is held (cash reserved at the collar).
        vec![
            accepted(7, 1, Buy, Stop, Gtc, 5, None, Some("103"), Some("a-stop")),
            bal(1, "5969.90", "541.84"),
            pos(1, 40, 15),
        ],
        // 16: end of day: alice's DAY offer expires with 15 open; the close is 102.
        vec![
            canceled(5, 1, Sell, 15, Some("102"), Expired),
            Event::DayEnded {
                at: UnixNanos::new(BASE + 16 * SEC),
            },
            bal(1, "5969.90", "541.84"),
            pos(1, 40, 0),
        ],
        // 17: carol offers 5 @ 104 GTC.
        vec![
            accepted(8, 3, Sell, Limit, Gtc, 5, Some("104"), None, None),
            rested(8, Sell, "104", 5),
            bal(3, "2459.93", "0"),
            pos(3, 25, 5),
        ],
        // 18: bob lifts 1 @ 104 (IOC); the print triggers alice's stop, which takes carol's
        // other 4 @ 104 and cancels its last share (nothing left to buy).
        vec![
            accepted(9, 2, Buy, Limit, Ioc, 1, Some("104"), None, None),
            trade(5, "104", 1, Buy, 8, 9),
            filled(8, 3, Sell, 5, "104", 1, 1, 4, "104", Maker, "0.104"),
            filled(9, 2, Buy, 5, "104", 1, 1, 0, "104", Taker, "0.208"),
            Event::OrderTriggered {
                order_id: o(7),
                account: a(1),
                symbol: aapl(),
                last_price: p("104"),
            },
            trade(6, "104", 4, Buy, 8, 7),
            filled(8, 3, Sell, 6, "104", 4, 5, 0, "520", Maker, "0.416"),
            filled(7, 1, Buy, 6, "104", 4, 4, 1, "416", Taker, "0.832"),
            canceled(7, 1, Buy, 1, None, MarketRemainder),
            bal(2, "6443.237", "0"),
            pos(2, 36, 0),
            bal(3, "2979.41", "0"),
            pos(3, 20, 0),
            bal(1, "5553.068", "0"),
            pos(1, 44, 0),
        ],
        // 19: alice withdraws $1,000.
        vec![
            Event::CashWithdrawn {
                account: a(1),
                amount: c("1000"),
                balance: c("4553.068"),
            },
            bal(1, "4553.068", "0"),
        ],
        // 20: a refused order changes nothing.
        vec![Event::Rejected {
            account: Some(a(1)),
            order_id: Some(o(10)),
            client_order_id: None,
            reason: RejectReason::InsufficientBuyingPower,
        }],
    ];
    number(1, list, 16)
}

fn references() -> HashMap<Symbol, Price> {
    HashMap::from([(aapl(), p("100")), (sym("MSFT"), p("400"))])
}

fn model(cmds: &[Cmd], retention: Retention) -> ReadModel {
    let mut m = ReadModel::new(references(), retention);
    for cmd in cmds {
        m.apply(cmd.seq, cmd.ts, &cmd.events);
    }
    m
}

fn all_orders(m: &ReadModel, account: u64) -> Vec<bourse_api::OrderView> {
    m.orders(
        a(account),
        &OrderFilter {
            status: StatusFilter::All,
            limit: Some(500),
            ..OrderFilter::default()
        },
    )
    .unwrap()
    .items
}

// ---- orders -----------------------------------------------------------------------------

#[test]
fn order_lifecycle_accept_partial_fill_replace_fill() {
    let cmds = scenario();
    // After bob's offer is partly taken (seq 8).
    let m = model(&cmds[..8], Retention::EVERYTHING);
    let v = m.order(a(2), o(1)).unwrap();
    assert_eq!(v.status, "partially_filled");
    assert_eq!(
        (v.qty.as_str(), v.filled_qty.as_str(), v.leaves_qty.as_str()),
        ("60", "40", "20")
    );
    assert_eq!(v.filled_avg_price, Some(p("101")));
    assert_eq!(v.created_at, ts_of(7));
    assert_eq!(v.updated_at, ts_of(8));
    assert_eq!(v.seq, 8);
    assert_eq!(v.fills.len(), 1);
    assert_eq!(v.fills[0].fee, c("4.04"));
    assert_eq!(v.fills[0].liquidity, "maker");
    // Not bob's? Not visible.
    assert_eq!(m.order(a(1), o(1)), None);
    assert_eq!(m.order_any(o(1)).unwrap().account_id, "2");

    // The replace (seq 13) changes the open part; what filled stays.
    let m = model(&cmds[..13], Retention::EVERYTHING);
    let v = m.order(a(2), o(1)).unwrap();
    assert_eq!(v.status, "partially_filled");
    assert_eq!(
        (v.qty.as_str(), v.filled_qty.as_str(), v.leaves_qty.as_str()),
        ("55", "40", "15")
    );
    assert_eq!(v.limit_price, Some(p("101")));
    assert_eq!(v.updated_at, ts_of(13));
    assert_eq!(v.seq, 13);

    // The market order fills the rest (seq 14).
    let m = model(&cmds, Retention::EVERYTHING);
    let v = m.order(a(2), o(1)).unwrap();
    assert_eq!(v.status, "filled");
    assert_eq!(
        (v.qty.as_str(), v.filled_qty.as_str(), v.leaves_qty.as_str()),
        ("55", "55", "0")
    );
    assert_eq!(v.filled_avg_price, Some(p("101")));
    assert_eq!(
        v.fills
            .iter()
            .map(|f| f.trade_id.as_str())
            .collect::<Vec<_>>(),
        ["1", "3"]
    );
    assert_eq!(v.updated_at, ts_of(14));
    assert_eq!(v.client_order_id, Some(cid("b-1")));

    // Carol's market order swept two levels: average 2535 / 25 = 101.40.
    let v = m.order(a(3), o(6)).unwrap();
    assert_eq!(v.status, "filled");
    assert_eq!(v.order_type, OrderType::Market);
    assert_eq!(v.filled_avg_price, Some(p("101.40")));
    assert_eq!(v.fills.len(), 2);
    assert_eq!(v.limit_price, None);
}

#[test]
fn cancel_expire_and_stop_orders() {
    let cmds = scenario();
    let m = model(&cmds, Retention::EVERYTHING);
    let v = m.order(a(1), o(3)).unwrap();
    assert_eq!(v.status, "canceled");
    assert_eq!(v.cancel_reason, Some(CancelReason::Requested));
    assert_eq!((v.filled_qty.as_str(), v.leaves_qty.as_str()), ("10", "0"));
    assert_eq!(v.filled_avg_price, Some(p("100")));
    assert_eq!(v.updated_at, ts_of(11));

    let v = m.order(a(1), o(5)).unwrap();
    assert_eq!(v.status, "expired");
    assert_eq!(v.cancel_reason, Some(CancelReason::Expired));
    assert_eq!((v.filled_qty.as_str(), v.leaves_qty.as_str()), ("10", "0"));

    // The stop is held until its trigger...
    let before = model(&cmds[..17], Retention::EVERYTHING);
    let v = before.order(a(1), o(7)).unwrap();
    assert_eq!(v.status, OrderStatus::Held.as_str());
    assert_eq!(v.stop_price, Some(p("103")));
    assert_eq!(v.leaves_qty, "5");
    // ...held through the end of day (GTC), and counted as open.
    let open = before
        .orders(a(1), &OrderFilter::default())
        .unwrap()
        .items
        .iter()
        .map(|v| v.id.clone())
        .collect::<Vec<_>>();
    assert_eq!(open, ["7"]);
    // Then triggered, partly filled and its market remainder canceled in one command.
    let v = m.order(a(1), o(7)).unwrap();
    assert_eq!(v.status, "canceled");
    assert_eq!(v.cancel_reason, Some(CancelReason::MarketRemainder));
    assert_eq!((v.filled_qty.as_str(), v.leaves_qty.as_str()), ("4", "0"));
    assert_eq!(v.filled_avg_price, Some(p("104")));
    assert_eq!(v.updated_at, ts_of(18));

    // By client order id; unknown ids and other accounts' ids find nothing.
    assert_eq!(m.order_by_client_id(a(1), cid("a-stop")).unwrap().id, "7");
    assert_eq!(m.order_by_client_id(a(2), cid("a-stop")), None);
    assert_eq!(m.order_by_client_id(a(1), cid("nope")), None);
    // The rejection left no order behind.
    assert_eq!(m.order_any(o(10)), None);
    assert_eq!(m.last_seq(), Seq(20));
}

#[test]
fn report_submit_uses_the_same_fold() {
    let cmds = scenario();
    let events = |i: usize| cmds[i].events.iter().map(|t| t.event).collect::<Vec<_>>();
    // Alice's taker buy: filled at once, with its fee.
    let r = report_submit(8, cmds[7].ts, &events(7)).unwrap();
    assert_eq!(r.id, "2");
    assert_eq!(r.status, "filled");
    assert_eq!(r.fills.len(), 1);
    assert_eq!(r.fills[0].fee, c("8.08"));
    assert_eq!(r.fills[0].timestamp, ts_of(8));
    assert_eq!(r.filled_avg_price, Some(p("101")));
    // The stop's submit reports it held.
    let r = report_submit(15, cmds[14].ts, &events(14)).unwrap();
    assert_eq!(r.status, "held");
    assert_eq!(r.created_at, r.updated_at);
    // A rejection is the error, with its reason.
    let e = report_submit(20, cmds[19].ts, &events(19)).unwrap_err();
    assert_eq!(e.reason, RejectReason::InsufficientBuyingPower);
    assert_eq!(e.order_id, Some(o(10)));
}

// ---- account, positions, P&L -----------------------------------------------------------

#[test]
fn account_and_positions_by_average_cost() {
    let m = model(&scenario(), Retention::EVERYTHING);

    // Alice bought 40 @ 101 (+8.08) and 10 @ 100 (+1.00): 5049.08 for 50. Sold 10 @ 102
    // (fee 1.02), removing 5049.08 × 10/50 = 1009.816: realized 1020 − 1.02 − 1009.816 =
    // 9.164. Bought 4 @ 104 (+0.832): cost 4039.264 + 416.832 = 4456.096 for 44.
    let acct = m.account(a(1)).unwrap();
    assert_eq!(acct.cash, c("4553.068"));
    assert_eq!(acct.reserved_cash, c("0"));
    assert_eq!(acct.buying_power, c("4553.068"));
    assert_eq!(acct.long_market_value, c("4576")); // 44 × 104
    assert_eq!(acct.equity, c("9129.068"));
    assert_eq!(acct.seq, 20);

    let pos = m.position(a(1), aapl()).unwrap();
    assert_eq!(pos.qty, q(44));
    assert_eq!(pos.cost_basis, c("4456.096"));
    assert_eq!(pos.avg_entry_price, Some(p("101.2749"))); // 4456.096 / 44, rounded down
    assert_eq!(pos.current_price, Some(p("104")));
    assert_eq!(pos.lastday_price, Some(p("102")));
    assert_eq!(pos.market_value, c("4576"));
    assert_eq!(pos.unrealized_pl, c("119.904"));
    assert_eq!(pos.unrealized_pl_pct.unwrap().to_string(), "2.69");
    assert_eq!(pos.realized_pl, c("9.164"));
    assert_eq!(pos.day_change, c("88")); // 44 × (104 − 102)
    assert_eq!(pos.day_change_pct.unwrap().to_string(), "1.96"); // 88 / 4488

    // Bob's 100 deposited shares entered at the reference price (10000). Sold 40 @ 101
    // (fee 4.04): realized 4040 − 4.04 − 4000 = 35.96; 10 @ 100 (fee 2): −2.00; 15 @ 101
    // (fee 1.515): 1515 − 1.515 − 1500 = 13.485. Bought 1 @ 104 (+0.208): 3604.208 for 36.
    let pos = m.position(a(2), aapl()).unwrap();
    assert_eq!(pos.qty, q(36));
    assert_eq!(pos.cost_basis, c("3604.208"));
    assert_eq!(pos.realized_pl, c("47.445"));
    assert_eq!(pos.unrealized_pl, c("139.792"));
    assert_eq!(pos.avg_entry_price, Some(p("100.1168")));

    // Carol: 2540.07 for 25; sold 1 and 4 @ 104 with fees 0.104 and 0.416: removed 101.6028
    // and 406.4112, realized 2.2932 + 9.1728 = 11.466; 2032.056 left for 20.
    let pos = m.position(a(3), aapl()).unwrap();
    assert_eq!(pos.cost_basis, c("2032.056"));
    assert_eq!(pos.realized_pl, c("11.466"));
    assert_eq!(pos.unrealized_pl, c("47.944"));

    // Whatever the path, P&L adds up to equity less what came in: alice put in 9000 net,
    // bob 100 shares worth 10000, carol 5000.
    for (acct, contributed) in [(1, "9000"), (2, "10000"), (3, "5000")] {
        let pf = m.portfolio(a(acct)).unwrap();
        let gain = pf.equity.checked_sub(c(contributed)).unwrap();
        assert_eq!(pf.total_pl, gain, "account {acct}");
        assert_eq!(
            pf.total_pl,
            pf.realized_pl.checked_add(pf.unrealized_pl).unwrap()
        );
    }

    let pf = m.portfolio(a(1)).unwrap();
    assert_eq!(pf.equity, c("9129.068"));
    assert_eq!(pf.market_value, c("4576"));
    assert_eq!(pf.cost_basis, c("4456.096"));
    assert_eq!(pf.realized_pl, c("9.164"));
    assert_eq!(pf.day_change, c("88"));
    assert_eq!(pf.day_change_pct.unwrap().to_string(), "0.97"); // 88 / 9041.068
    assert_eq!(pf.positions, 1);

    let mk = m.market(aapl()).unwrap();
    assert_eq!(mk.last_price, Some(p("104")));
    assert_eq!(mk.previous_close, Some(p("102")));
    assert_eq!(mk.day_volume, q(5));
    assert_eq!(mk.volume, q(80));
    // A listed symbol that never traded is valued at its reference price.
    let msft = m.market(sym("MSFT")).unwrap();
    assert_eq!(
        (msft.last_price, msft.previous_close),
        (None, Some(p("400")))
    );
    assert_eq!(m.market(sym("ZZZ")), None);
}

#[test]
fn reservations_and_values_before_the_first_trade() {
    let cmds = scenario();
    // After bob's offer rests (seq 7): 60 of his 100 shares promised, valued at the
    // reference price; nothing realized.
    let m = model(&cmds[..7], Retention::EVERYTHING);
    let pos = m.position(a(2), aapl()).unwrap();
    assert_eq!(
        (pos.qty, pos.reserved_qty, pos.qty_available),
        (q(100), q(60), q(40))
    );
    assert_eq!(pos.current_price, Some(p("100")));
    assert_eq!(pos.market_value, c("10000"));
    assert_eq!(pos.unrealized_pl, c("0"));
    assert_eq!(pos.day_change, c("0"));
    // After alice's bid rests (seq 9): cash reserved, buying power down.
    let m = model(&cmds[..9], Retention::EVERYTHING);
    let acct = m.account(a(1)).unwrap();
    assert_eq!(acct.reserved_cash, c("3006"));
    assert_eq!(acct.buying_power, c("2945.92"));
    assert_eq!(acct.equity, c("9991.92")); // 5951.92 + 40 × 101
    // An account that only opened shows zeros; an unknown one nothing.
    let m = model(&cmds[..3], Retention::EVERYTHING);
    assert_eq!(m.account(a(3)).unwrap().equity, c("0"));
    assert!(m.positions(a(3)).is_empty());
    assert_eq!(m.account(a(9)), None);
}

#[test]
fn activities_list_fills_deposits_withdrawals() {
    let m = model(&scenario(), Retention::EVERYTHING);
    let page = m
        .activities(
            a(1),
            &ActivityFilter {
                limit: Some(500),
                ..ActivityFilter::default()
            },
        )
        .unwrap();
    let kinds: Vec<_> = page
        .items
        .iter()
        .map(|v| (v.id.to_string(), v.activity_type))
        .collect();
    assert_eq!(
        kinds,
        [
            ("19-0".to_owned(), "WITHDRAWAL"),
            ("18-7".to_owned(), "FILL"),
            ("14-5".to_owned(), "FILL"),
            ("10-2".to_owned(), "FILL"),
            ("8-3".to_owned(), "FILL"),
            ("4-0".to_owned(), "DEPOSIT"),
        ]
    );
    assert_eq!(page.next, None);
    let w = &page.items[0];
    assert_eq!(w.net_amount, Some(c("-1000")));
    assert_eq!(w.balance, Some(c("4553.068")));
    let f = &page.items[4];
    assert_eq!(f.order_id, Some(o(2)));
    assert_eq!(f.side, Some(Side::Buy));
    assert_eq!(
        (f.price, f.qty, f.fee),
        (Some(p("101")), Some(q(40)), Some(c("8.08")))
    );
    assert_eq!(f.liquidity, Some("taker"));
    assert_eq!(f.net_amount, Some(c("-4048.08")));
    assert_eq!(f.transaction_time, ts_of(8));
    // A sell's net amount is what it brought in.
    assert_eq!(page.items[2].net_amount, Some(c("1018.98")));

    let shares = m
        .activities(
            a(2),
            &ActivityFilter {
                activity_type: Some(ActivityType::ShareDeposit),
                ..ActivityFilter::default()
            },
        )
        .unwrap();
    assert_eq!(shares.items.len(), 1);
    assert_eq!(shares.items[0].qty, Some(q(100)));
    assert_eq!(shares.items[0].position_qty, Some(q(100)));
    assert_eq!(shares.items[0].net_amount, None);
}

#[test]
fn json_shapes() {
    let m = model(&scenario(), Retention::EVERYTHING);
    let v = serde_json::to_value(m.order(a(1), o(7)).unwrap()).unwrap();
    assert_eq!(v["id"], "7");
    assert_eq!(v["type"], "stop");
    assert_eq!(v["time_in_force"], "gtc");
    assert_eq!(v["qty"], "5");
    assert_eq!(v["stop_price"], "103.00");
    assert_eq!(v["limit_price"], serde_json::Value::Null);
    assert_eq!(v["filled_avg_price"], "104.00");
    assert_eq!(v["cancel_reason"], "MARKET_REMAINDER");
    assert_eq!(v["fills"][0]["fee"], "0.832");
    assert_eq!(v["fills"][0]["timestamp"], ts_of(18));
    assert_eq!(v["extended_hours"], false);
    let v = serde_json::to_value(m.order(a(1), o(2)).unwrap()).unwrap();
    assert_eq!(
        (v["time_in_force"].as_str(), &v["extended_hours"]),
        (Some("day"), &serde_json::Value::Bool(true))
    );

    let v = serde_json::to_value(m.position(a(1), aapl()).unwrap()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "symbol": "AAPL", "qty": "44", "qty_available": "44", "reserved_qty": "0",
            "avg_entry_price": "101.2749", "cost_basis": "4456.096",
            "current_price": "104.00", "lastday_price": "102.00",
            "market_value": "4576.00", "unrealized_pl": "119.904",
            "unrealized_pl_pct": "2.69", "realized_pl": "9.164",
            "day_change": "88.00", "day_change_pct": "1.96"
        })
    );
    let v = serde_json::to_value(m.account(a(1)).unwrap()).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "account_id": "1", "cash": "4553.068", "reserved_cash": "0.00",
            "buying_power": "4553.068", "unsettled_cash": "0.00",
            "withdrawable_cash": "4553.068", "long_market_value": "4576.00",
            "equity": "9129.068", "seq": 20
        })
    );
    let v = serde_json::to_value(m.portfolio(a(1)).unwrap()).unwrap();
    assert_eq!(v["total_pl"], "129.068");
    assert_eq!(v["day_change_pct"], "0.97");
    assert_eq!(v["unrealized_pl_pct"], "2.69");

    let page = m
        .activities(
            a(1),
            &ActivityFilter {
                limit: Some(1),
                ..ActivityFilter::default()
            },
        )
        .unwrap();
    assert_eq!(
        serde_json::to_value(&page).unwrap(),
        serde_json::json!({
            "items": [{
                "id": "19-0", "activity_type": "WITHDRAWAL", "account_id": "1",
                "transaction_time": ts_of(19), "seq": 19,
                "net_amount": "-1000.00", "balance": "4553.068"
            }],
            "next": "19-0"
        })
    );
    let page = m
        .activities(
            a(1),
            &ActivityFilter {
                activity_type: Some(ActivityType::Fill),
                limit: Some(1),
                ..ActivityFilter::default()
            },
        )
        .unwrap();
    assert_eq!(
        serde_json::to_value(&page.items[0]).unwrap(),
        serde_json::json!({
            "id": "18-7", "activity_type": "FILL", "account_id": "1",
            "transaction_time": ts_of(18), "seq": 18, "symbol": "AAPL", "side": "buy",
            "order_id": "7", "trade_id": "6", "price": "104.00", "qty": "4", "fee": "0.832",
            "liquidity": "taker", "cum_qty": "4", "leaves_qty": "1", "net_amount": "-416.832"
        })
    );
}

#[test]
fn reapplying_is_harmless_and_open_orders_retention_forgets_closed_orders() {
    let cmds = scenario();
    let once = model(&cmds, Retention::EVERYTHING);
    let mut twice = model(&cmds, Retention::EVERYTHING);
    for cmd in &cmds[5..] {
        twice.apply(cmd.seq, cmd.ts, &cmd.events);
    }
    assert_eq!(all_orders(&once, 1), all_orders(&twice, 1));
    assert_eq!(once.portfolio(a(1)), twice.portfolio(a(1)));
    assert_eq!(once.positions(a(2)), twice.positions(a(2)));

    let lean = model(&cmds[..17], Retention::OpenOrders);
    let full = model(&cmds[..17], Retention::EVERYTHING);
    // Only the held stop is still working: it is all the lean model keeps of alice's.
    assert_eq!(
        all_orders(&lean, 1)
            .iter()
            .map(|v| v.id.as_str())
            .collect::<Vec<_>>(),
        ["7"]
    );
    assert_eq!(all_orders(&full, 1).len(), 4);
    assert_eq!(lean.order(a(1), o(3)), None);
    assert_eq!(lean.order_by_client_id(a(1), cid("a-1")), None);
    assert!(
        lean.activities(a(1), &ActivityFilter::default())
            .unwrap()
            .items
            .is_empty()
    );
    // Money, positions and P&L are kept in full.
    assert_eq!(lean.portfolio(a(1)), full.portfolio(a(1)));
    assert_eq!(lean.positions(a(3)), full.positions(a(3)));
}

// ---- pagination -------------------------------------------------------------------------

/// Many orders for account 7 over two symbols: every fifth fills against account 8 at
/// once, every third of the rest is canceled in a later command, the others stay open;
/// a deposit every ten.
fn bulk(first_seq: u64, n: u64, day_ends_after: u64) -> Vec<Cmd> {
    use Side::*;
    let mut list = Vec::new();
    let mut next_order = 1000;
    let mut next_trade = 1000;
    for i in 0..n {
        let symbol = if i % 2 == 0 { aapl() } else { sym("MSFT") };
        let client = format!("bulk-{i}");
        if i % 5 == 0 {
            let maker = next_order;
            let taker = next_order + 1;
            next_order += 2;
            list.push(vec![
                accepted_in(
                    symbol,
                    maker,
                    8,
                    Sell,
                    OrderType::Limit,
                    TimeInForce::Gtc,
                    2,
                    Some("10"),
                    None,
                    None,
                ),
                Event::OrderRested {
                    order_id: o(maker),
                    symbol,
                    side: Sell,
                    price: p("10"),
                    qty: q(2),
                },
            ]);
            let fill = |id: u64, account: u64, side: Side, liq: Liquidity| Event::OrderFilled {
                order_id: o(id),
                account: a(account),
                symbol,
                side,
                trade_id: TradeId::new(next_trade),
                last_px: p("10"),
                last_qty: q(2),
                cum_qty: q(2),
                leaves_qty: q(0),
                cum_notional: c("20"),
                liquidity: liq,
                fee: c("0.01"),
                value: p("10").notional(q(2)).unwrap(),
            };
            list.push(vec![
                accepted_in(
                    symbol,
                    taker,
                    7,
                    Buy,
                    OrderType::Limit,
                    TimeInForce::Day,
                    2,
                    Some("10"),
                    None,
                    Some(&client),
                ),
                Event::Trade {
                    symbol,
                    trade_id: TradeId::new(next_trade),
                    price: p("10"),
                    qty: q(2),
                    aggressor: Buy,
                    maker_order: o(maker),
                    taker_order: o(taker),
                },
                fill(maker, 8, Sell, Liquidity::Maker),
                fill(taker, 7, Buy, Liquidity::Taker),
            ]);
            next_trade += 1;
        } else {
            let id = next_order;
            next_order += 1;
            list.push(vec![
                accepted_in(
                    symbol,
                    id,
                    7,
                    Buy,
                    OrderType::Limit,
                    TimeInForce::Gtc,
                    1,
                    Some("9"),
                    None,
                    Some(&client),
                ),
                Event::OrderRested {
                    order_id: o(id),
                    symbol,
                    side: Buy,
                    price: p("9"),
                    qty: q(1),
                },
            ]);
            if i % 3 == 0 {
                list.push(vec![Event::OrderCanceled {
                    order_id: o(id),
                    account: a(7),
                    symbol,
                    side: Buy,
                    qty: q(1),
                    resting_price: Some(p("9")),
                    reason: CancelReason::MassCancel,
                }]);
            }
        }
        if i % 10 == 0 {
            list.push(vec![Event::CashDeposited {
                account: a(7),
                amount: c("100"),
                balance: c("100"),
            }]);
        }
    }
    number(first_seq, list, day_ends_after)
}

/// Every page of a walk, following `next` until it ends.
fn walk<T: Clone>(mut page: impl FnMut(Option<String>) -> Page<T>) -> (Vec<T>, usize) {
    let mut all = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let p = page(after.take());
        pages += 1;
        all.extend(p.items.iter().cloned());
        match p.next {
            Some(n) => after = Some(n),
            None => return (all, pages),
        }
    }
}

#[test]
fn order_pages_cover_everything_once_newest_first() {
    let cmds = bulk(1, 137, u64::MAX);
    let m = model(&cmds, Retention::EVERYTHING);
    let everything = all_orders(&m, 7);
    assert_eq!(everything.len(), 137);
    for (status, symbol, limit) in [
        (StatusFilter::All, None, 10),
        (StatusFilter::Open, None, 7),
        (StatusFilter::Closed, None, 1),
        (StatusFilter::All, Some(sym("MSFT")), 25),
        (StatusFilter::Closed, Some(aapl()), 3),
        (StatusFilter::All, None, 137),
    ] {
        let filter = |after| OrderFilter {
            status,
            symbol,
            after,
            limit: Some(limit),
        };
        let (got, pages) = walk(|after| m.orders(a(7), &filter(after)).unwrap());
        let ids: Vec<u64> = got.iter().map(|v| v.id.parse().unwrap()).collect();
        let want: Vec<u64> = everything
            .iter()
            .filter(|v| status.matches(OrderStatus::parse(v.status).unwrap()))
            .filter(|v| symbol.is_none_or(|s| s == v.symbol))
            .map(|v| v.id.parse().unwrap())
            .collect();
        assert!(!want.is_empty());
        assert_eq!(ids, want, "{status:?} {symbol:?} by {limit}");
        assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
        assert_eq!(pages, want.len().div_ceil(limit), "no empty last page");
    }
    // Counts by status add up.
    let open = walk(|after| {
        m.orders(
            a(7),
            &OrderFilter {
                after,
                limit: Some(50),
                ..OrderFilter::default()
            },
        )
        .unwrap()
    })
    .0;
    assert!(open.iter().all(|v| v.status == "new"));
    let filled = everything.iter().filter(|v| v.status == "filled").count();
    let canceled = everything.iter().filter(|v| v.status == "canceled").count();
    assert_eq!(filled, 28); // i % 5 == 0 for i < 137
    assert_eq!(open.len() + filled + canceled, 137);
    // A junk cursor is an error, not an empty page.
    let bad = m.orders(
        a(7),
        &OrderFilter {
            after: Some("x".into()),
            ..OrderFilter::default()
        },
    );
    assert!(matches!(bad, Err(QueryError::BadCursor { .. })));
    // Somebody else's orders are not in the account's list.
    assert!(all_orders(&m, 8).iter().all(|v| v.account_id == "8"));
}

#[test]
fn activity_pages_cover_everything_once() {
    let m = model(&bulk(1, 137, u64::MAX), Retention::EVERYTHING);
    let (all, _) = walk(|after| {
        m.activities(
            a(7),
            &ActivityFilter {
                after,
                limit: Some(500),
                ..ActivityFilter::default()
            },
        )
        .unwrap()
    });
    assert_eq!(all.len(), 28 + 14);
    for limit in [1, 4, 41, 42] {
        let (got, pages) = walk(|after| {
            m.activities(
                a(7),
                &ActivityFilter {
                    after,
                    limit: Some(limit),
                    ..ActivityFilter::default()
                },
            )
            .unwrap()
        });
        assert_eq!(got, all);
        assert_eq!(pages, all.len().div_ceil(limit));
    }
    assert!(all.windows(2).all(|w| w[0].id > w[1].id));
    let (deposits, _) = walk(|after| {
        m.activities(
            a(7),
            &ActivityFilter {
                activity_type: Some(ActivityType::Deposit),
                after,
                limit: Some(3),
            },
        )
        .unwrap()
    });
    assert_eq!(deposits.len(), 14);
    assert!(deposits.iter().all(|d| d.activity_type == "DEPOSIT"));
}

#[test]
fn recent_retention_keeps_working_orders_and_a_window_of_history() {
    let cmds = bulk(1, 137, u64::MAX);
    let full = model(&cmds, Retention::EVERYTHING);
    let window = model(
        &cmds,
        Retention::Recent {
            ended_orders: 10,
            activities: 7,
            events: 5,
        },
    );
    let orders = |m: &ReadModel, account: u64, status: StatusFilter| {
        m.orders(
            a(account),
            &OrderFilter {
                status,
                limit: Some(500),
                ..OrderFilter::default()
            },
        )
        .unwrap()
        .items
    };
    // Every working order is kept, whatever its age.
    let open = orders(&full, 7, StatusFilter::Open);
    assert!(open.len() > 10);
    assert_eq!(orders(&window, 7, StatusFilter::Open), open);
    // Of the ended ones, the ten that ended last (here: the ten highest ids, as each order
    // ends in its own command or the next), across both accounts.
    let ended = |m: &ReadModel| {
        let mut v: Vec<_> = [7, 8]
            .into_iter()
            .flat_map(|acct| orders(m, acct, StatusFilter::Closed))
            .collect();
        v.sort_by_key(|o| std::cmp::Reverse(o.id.parse::<u64>().unwrap()));
        v
    };
    let kept = ended(&window);
    assert_eq!(kept, ended(&full)[..10]);
    // A forgotten order is gone by id and by client order id; a kept one is found both ways.
    let oldest_ended = ended(&full).pop().unwrap();
    let gone = o(oldest_ended.id.parse().unwrap());
    assert!(full.order(a(7), gone).is_some() || full.order(a(8), gone).is_some());
    assert_eq!(window.order(a(7), gone), None);
    assert_eq!(window.order(a(8), gone), None);
    let forgotten_client = ended(&full)
        .into_iter()
        .filter(|v| !kept.contains(v))
        .find_map(|v| v.client_order_id)
        .unwrap();
    assert_eq!(window.order_by_client_id(a(7), forgotten_client), None);
    let kept_client = kept.iter().find_map(|v| v.client_order_id).unwrap();
    assert!(window.order_by_client_id(a(7), kept_client).is_some());
    // The seven newest activities of all accounts, page by page as before.
    let activities = |m: &ReadModel, limit: usize| {
        let mut v: Vec<_> = [7, 8]
            .into_iter()
            .flat_map(|acct| {
                walk(|after| {
                    m.activities(
                        a(acct),
                        &ActivityFilter {
                            after,
                            limit: Some(limit),
                            ..ActivityFilter::default()
                        },
                    )
                    .unwrap()
                })
                .0
            })
            .collect();
        v.sort_by_key(|x| std::cmp::Reverse(x.id));
        v
    };
    assert_eq!(activities(&window, 2), activities(&full, 500)[..7]);
    // Balances and positions are whole either way.
    assert_eq!(window.portfolio(a(7)), full.portfolio(a(7)));
    assert_eq!(window.positions(a(8)), full.positions(a(8)));
}

// ---- the private stream ------------------------------------------------------------------

/// The account's stream events, in the order the commands released them.
fn stream(cmds: &[Cmd], account: u64) -> Vec<Tagged> {
    cmds.iter()
        .flat_map(|c| c.events.iter())
        .filter(|t| t.aseq != 0 && t.event.stream_account() == Some(a(account)))
        .copied()
        .collect()
}

/// Every page from `after` to the end of the stream, as a client pages it: on from the
/// last event's number until it is the account's last. Returns the events and the pages.
fn walk_events(
    mut page: impl FnMut(u64) -> Result<EventsPage, QueryError>,
    mut after: u64,
) -> (Vec<Tagged>, usize) {
    let mut all = Vec::new();
    let mut pages = 0;
    loop {
        let p = page(after).unwrap();
        pages += 1;
        assert!(p.events.len() <= 500);
        if let Some(last) = p.events.last() {
            after = last.aseq;
        }
        all.extend(p.events);
        if after == p.last_account_seq {
            return (all, pages);
        }
    }
}

#[test]
fn event_pages_walk_each_stream_in_order_without_gaps() {
    let cmds = everything();
    let m = model(&cmds, Retention::EVERYTHING);
    for acct in [1, 2, 3, 7, 8] {
        let want = stream(&cmds, acct);
        let n = want.len() as u64;
        assert!(n > 5, "account {acct} has a stream");
        assert!(
            want.iter().map(|t| t.aseq).eq(1..=n),
            "the fixture numbers each stream 1..n"
        );
        assert_eq!(m.last_account_seq(a(acct)), n);
        for limit in [1, 3, 7, 500] {
            let (got, pages) = walk_events(|after| m.events(a(acct), after, limit), 0);
            assert_eq!(got, want, "account {acct} by {limit}");
            assert_eq!(pages, want.len().div_ceil(limit), "no empty last page");
        }
        // From the middle on, and at the end.
        let mid = n / 2;
        let (got, _) = walk_events(|after| m.events(a(acct), after, 4), mid);
        assert_eq!(got, want[usize::try_from(mid).unwrap()..]);
        let end = m.events(a(acct), n, 10).unwrap();
        assert_eq!((end.events.len(), end.last_account_seq), (0, n));
        // A number the stream has not reached is no cursor of it.
        assert!(matches!(
            m.events(a(acct), n + 1, 10),
            Err(QueryError::CursorAhead { after, latest }) if after == n + 1 && latest == n
        ));
    }
    // Other accounts' events are never on a stream; a rejected order is on its account's.
    let one = stream(&cmds, 1);
    assert!(
        one.iter()
            .any(|t| matches!(t.event, Event::Rejected { .. }))
    );
    assert!(one.iter().all(|t| t.event.stream_account() == Some(a(1))));
    // An account without events: an empty stream at 0, and nothing after 0.
    let none = m.events(a(999), 0, 10).unwrap();
    assert_eq!(none, EventsPage::default());
    assert!(matches!(
        m.events(a(999), 1, 10),
        Err(QueryError::CursorAhead { latest: 0, .. })
    ));
    assert!(m.events(a(1), 0, 0).unwrap().events.is_empty());
}

#[test]
fn the_event_window_forgets_oldest_first_and_says_what_is_gone() {
    let cmds = bulk(1, 137, u64::MAX);
    let window = 5;
    let m = model(
        &cmds,
        Retention::Recent {
            ended_orders: usize::MAX,
            activities: usize::MAX,
            events: window,
        },
    );
    // The newest five stream events of all accounts are kept.
    let all: Vec<Tagged> = cmds
        .iter()
        .flat_map(|c| c.events.iter())
        .filter(|t| t.aseq != 0 && t.event.stream_account().is_some())
        .copied()
        .collect();
    let kept = &all[all.len() - window..];
    let mut seen = 0;
    for acct in [7, 8] {
        let full = stream(&cmds, acct);
        let latest = full.len() as u64;
        assert_eq!(
            m.last_account_seq(a(acct)),
            latest,
            "numbers are kept whole"
        );
        let mine: Vec<Tagged> = kept
            .iter()
            .filter(|t| t.event.stream_account() == Some(a(acct)))
            .copied()
            .collect();
        seen += mine.len();
        let oldest = mine.first().map_or(latest + 1, |t| t.aseq);
        // From just before the oldest kept: everything kept, in pages.
        if !mine.is_empty() {
            let (got, _) = walk_events(|after| m.events(a(acct), after, 2), oldest - 1);
            assert_eq!(got, mine, "account {acct}");
        }
        // Earlier: gone, and the error says from where it is kept.
        for after in [0, oldest.saturating_sub(2)] {
            if after + 1 >= oldest {
                continue;
            }
            match m.events(a(acct), after, 10) {
                Err(QueryError::EventsExpired {
                    after: x,
                    oldest: o,
                    latest: l,
                }) => assert_eq!((x, o, l), (after, oldest, latest)),
                other => panic!("account {acct} after {after}: {other:?}"),
            }
        }
        // At the end it is simply the end, kept or not; beyond it a bad cursor.
        assert_eq!(m.events(a(acct), latest, 10).unwrap().events, vec![]);
        assert!(matches!(
            m.events(a(acct), latest + 1, 10),
            Err(QueryError::CursorAhead { .. })
        ));
    }
    assert_eq!(seen, window);
    // The message names the oldest still kept.
    let e = m.events(a(7), 0, 10).unwrap_err();
    assert!(matches!(e, QueryError::EventsExpired { .. }));
    let api = bourse_api::ApiError::from(e);
    assert_eq!((api.status.as_u16(), api.code), (410, "EVENTS_EXPIRED"));
    let api = bourse_api::ApiError::from(m.events(a(7), 10_000, 1).unwrap_err());
    assert_eq!((api.status.as_u16(), api.code), (400, "INVALID_CURSOR"));

    // Kept for no one: only the numbers, so anything but "nothing new" is gone.
    let lean = model(&cmds, Retention::OpenOrders);
    let latest = stream(&cmds, 8).len() as u64;
    assert_eq!(lean.last_account_seq(a(8)), latest);
    assert_eq!(
        lean.events(a(8), latest, 10).unwrap().last_account_seq,
        latest
    );
    assert!(matches!(
        lean.events(a(8), latest - 1, 10),
        Err(QueryError::EventsExpired { oldest, .. }) if oldest == latest + 1
    ));
    // A window of nothing is the same.
    let none = model(
        &cmds,
        Retention::Recent {
            ended_orders: 1,
            activities: 1,
            events: 0,
        },
    );
    assert!(matches!(
        none.events(a(7), 0, 10),
        Err(QueryError::EventsExpired { .. })
    ));
}

// ---- PostgreSQL ---------------------------------------------------------------------------

fn database_url() -> String {
    std::env::var("BOURSE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A schema of its own with the workspace's migrations applied (read from the folder at
/// run time, so the test always sees the current files); dropped when done, pass or fail.
struct Schema {
    name: String,
    rt: tokio::runtime::Runtime,
}

impl Schema {
    fn fresh(test: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "brm_{}_{}_{test}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut conn = Self::connect(None).await;
            conn.execute(AssertSqlSafe(format!("CREATE SCHEMA {name}")))
                .await
                .unwrap();
            let mut conn = Self::connect(Some(&name)).await;
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
            let migrator = sqlx::migrate::Migrator::new(dir.as_path()).await.unwrap();
            migrator.run(&mut conn).await.unwrap();
        });
        Schema { name, rt }
    }

    async fn connect(schema: Option<&str>) -> PgConnection {
        let mut opts: PgConnectOptions = database_url().parse().unwrap();
        if let Some(s) = schema {
            opts = opts.options([("search_path", s)]);
        }
        PgConnection::connect_with(&opts).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} is needed by these tests (`make pg` starts it): {e}",
                database_url()
            )
        })
    }

    fn options(&self) -> PgReadModelOptions {
        PgReadModelOptions::new(database_url()).schema(self.name.clone())
    }

    fn exec(&self, sql: &str) {
        self.rt.block_on(async {
            let mut conn = Self::connect(Some(&self.name)).await;
            conn.execute(AssertSqlSafe(sql.to_owned())).await.unwrap();
        });
    }

    fn count(&self, table: &str) -> i64 {
        self.rt.block_on(async {
            let mut conn = Self::connect(Some(&self.name)).await;
            sqlx::query_scalar::<_, i64>(AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut conn)
                .await
                .unwrap()
        })
    }

    fn history(&self) -> PgHistory {
        self.rt
            .block_on(PgHistory::connect(&self.options()))
            .unwrap()
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        self.rt.block_on(async {
            if let Ok(mut conn) =
                PgConnection::connect_with(&database_url().parse::<PgConnectOptions>().unwrap())
                    .await
            {
                let _ = conn.execute(AssertSqlSafe(sql)).await;
            }
        });
    }
}

/// Feeds commands as the publisher would: a few per release, flushed after each.
fn feed(projector: &mut PgProjector, cmds: &[Cmd], per_release: usize) {
    for release in cmds.chunks(per_release) {
        for cmd in release {
            projector.apply(cmd.seq, cmd.ts, &cmd.events);
        }
        projector.flush();
    }
}

fn project(schema: &Schema, cmds: &[Cmd], per_release: usize) -> Seq {
    let mut projector = PgProjector::start(schema.options()).unwrap();
    feed(&mut projector, cmds, per_release);
    let progress = projector.progress();
    let last = cmds.last().map_or(Seq(0), |c| c.seq);
    assert!(progress.wait_blocking(last, Duration::from_secs(30)));
    projector.close(Duration::from_secs(5))
}

/// Every question the HTTP layer asks, answered alike by the in-memory model of `cmds` and
/// by PostgreSQL (ended orders, activities) with a model keeping only working orders, as
/// the server runs it; and the table holds exactly the ended orders.
fn assert_same(schema: &Schema, cmds: &[Cmd], accounts: &[u64]) {
    let m = model(cmds, Retention::EVERYTHING);
    let memory = History::Memory(Arc::new(RwLock::new(model(cmds, Retention::EVERYTHING))));
    let pg = History::Postgres {
        model: Arc::new(RwLock::new(model(cmds, Retention::OpenOrders))),
        db: schema.history(),
        // The projection has caught up (the caller waited): nothing to wait for.
        progress: ProjectionProgress::default(),
        fresh_within: Duration::from_secs(1),
    };
    let rt = &schema.rt;
    let ended = (1..=8)
        .flat_map(|acct| all_orders(&m, acct))
        .filter(|o| !matches!(o.status, "new" | "partially_filled" | "held"))
        .count();
    assert_eq!(
        schema.count("orders"),
        i64::try_from(ended).unwrap(),
        "only ended orders"
    );
    for &acct in accounts {
        let acct = a(acct);
        for status in [StatusFilter::Open, StatusFilter::Closed, StatusFilter::All] {
            for symbol in [None, Some(aapl()), Some(sym("MSFT"))] {
                for limit in [1, 7, 500] {
                    let filter = |after| OrderFilter {
                        status,
                        symbol,
                        after,
                        limit: Some(limit),
                    };
                    let mem =
                        walk(|after| rt.block_on(memory.orders(acct, &filter(after))).unwrap());
                    let db = walk(|after| rt.block_on(pg.orders(acct, &filter(after))).unwrap());
                    assert_eq!(mem, db, "{acct:?} {status:?} {symbol:?} by {limit}");
                }
            }
        }
        for order in all_orders(&m, acct.get()) {
            let id = o(order.id.parse().unwrap());
            assert_eq!(
                rt.block_on(pg.order(acct, id)).unwrap(),
                Some(order.clone())
            );
            assert_eq!(rt.block_on(pg.order_any(id)).unwrap(), Some(order.clone()));
            assert_eq!(rt.block_on(pg.order(a(999), id)).unwrap(), None);
            if let Some(c) = order.client_order_id {
                assert_eq!(
                    rt.block_on(pg.order_by_client_id(acct, c)).unwrap(),
                    m.order_by_client_id(acct, c)
                );
            }
        }
        for activity_type in [None, Some(ActivityType::Fill), Some(ActivityType::Deposit)] {
            for limit in [1, 5, 500] {
                let filter = |after| ActivityFilter {
                    activity_type,
                    after,
                    limit: Some(limit),
                };
                let mem = walk(|after| m.activities(acct, &filter(after)).unwrap());
                let db = walk(|after| rt.block_on(pg.activities(acct, &filter(after))).unwrap());
                assert_eq!(mem, db, "{acct:?} {activity_type:?} by {limit}");
            }
        }
    }
    for &acct in accounts {
        let want = stream(cmds, acct);
        for limit in [1, 7, 500] {
            let (db, pages) = walk_events(|after| rt.block_on(pg.events(a(acct), after, limit)), 0);
            assert_eq!(db, want, "account {acct}'s stream by {limit}");
            assert_eq!(pages, want.len().div_ceil(limit).max(1));
            let (mem, _) =
                walk_events(|after| rt.block_on(memory.events(a(acct), after, limit)), 0);
            assert_eq!(mem, db);
        }
        let latest = want.len() as u64;
        assert!(matches!(
            rt.block_on(pg.events(a(acct), latest + 1, 5)),
            Err(QueryError::CursorAhead { .. })
        ));
    }
    let on_streams = cmds
        .iter()
        .flat_map(|c| c.events.iter())
        .filter(|t| t.aseq != 0 && t.event.stream_account().is_some())
        .count();
    assert_eq!(
        schema.count("account_events"),
        i64::try_from(on_streams).unwrap(),
        "every stream event, once"
    );
    let bad = rt.block_on(pg.orders(
        a(1),
        &OrderFilter {
            after: Some("-1".into()),
            ..OrderFilter::default()
        },
    ));
    assert!(matches!(bad, Err(QueryError::BadCursor { .. })));
}

fn everything() -> Vec<Cmd> {
    let mut cmds = scenario();
    let next = cmds.len() as u64 + 1;
    cmds.extend(bulk(next, 137, 16));
    cmds
}

#[test]
fn postgres_answers_like_memory() {
    let schema = Schema::fresh("same");
    let cmds = everything();
    let last = project(&schema, &cmds, 3);
    assert_eq!(last, cmds.last().unwrap().seq);
    assert_same(&schema, &cmds, &[1, 2, 3, 7, 8]);
    assert_eq!(
        schema
            .rt
            .block_on(schema.history().projected_seq())
            .unwrap(),
        last
    );
}

#[test]
fn postgres_projection_is_idempotent() {
    let schema = Schema::fresh("idem");
    let cmds = everything();
    let counts = |s: &Schema| {
        (
            s.count("orders"),
            s.count("fills"),
            s.count("activities"),
            s.count("account_events"),
        )
    };

    // One projector fed everything, then a range of it again: the second pass is skipped.
    let mut projector = PgProjector::start(schema.options()).unwrap();
    feed(&mut projector, &cmds, 5);
    feed(&mut projector, &cmds[10..60], 2);
    let end = cmds.last().unwrap().seq;
    assert!(
        projector
            .progress()
            .wait_blocking(end, Duration::from_secs(30))
    );
    assert_eq!(projector.close(Duration::from_secs(5)), end);
    let once = counts(&schema);
    assert_same(&schema, &cmds, &[1, 2, 3, 7]);

    // A new projector (a restart) fed everything from the start: nothing changes.
    assert_eq!(project(&schema, &cmds, 50), end);
    assert_eq!(counts(&schema), once);

    // Forget how far the projection got (without emptying the tables) and feed it all
    // again: the rows already there are kept, none doubled, the answers stay the same.
    schema.exec("UPDATE read_model_state SET last_seq = 0");
    assert_eq!(project(&schema, &cmds, 7), end);
    assert_eq!(counts(&schema), once);
    assert_same(&schema, &cmds, &[1, 2, 3, 7, 8]);
}

#[test]
fn postgres_projection_resumes_after_a_restart_mid_stream() {
    let schema = Schema::fresh("resume");
    let cmds = everything();
    // The first process projects up to the middle of the scenario: orders 1 and 5 are
    // still working, and later commands replace, fill and expire them.
    assert_eq!(project(&schema, &cmds[..12], 4), Seq(12));
    assert_same(&schema, &cmds[..12], &[1, 2]);
    // The next process is fed from the start (as after a rebuild): it folds what is in
    // without writing it, which tells it the orders still working.
    assert_eq!(project(&schema, &cmds, 1), cmds.last().unwrap().seq);
    assert_same(&schema, &cmds, &[1, 2, 3, 7, 8]);
}

#[test]
fn history_facade_serves_both_stores_alike() {
    let schema = Schema::fresh("facade");
    let cmds = scenario();
    let full = Arc::new(RwLock::new(model(&cmds, Retention::EVERYTHING)));
    let lean = Arc::new(RwLock::new(model(&cmds, Retention::OpenOrders)));
    let mut projector = PgProjector::start(schema.options()).unwrap();
    let progress = projector.progress();
    feed(&mut projector, &cmds, 4);
    let memory = History::Memory(full);
    let pg = History::Postgres {
        model: lean,
        db: schema.history(),
        progress,
        fresh_within: Duration::from_secs(10),
    };
    // No explicit wait: the facade waits for what was handed to the projector.
    schema.rt.block_on(async {
        for acct in [a(1), a(2), a(3)] {
            let f = OrderFilter {
                status: StatusFilter::All,
                ..OrderFilter::default()
            };
            assert_eq!(
                memory.orders(acct, &f).await.unwrap(),
                pg.orders(acct, &f).await.unwrap()
            );
            let f = ActivityFilter::default();
            assert_eq!(
                memory.activities(acct, &f).await.unwrap(),
                pg.activities(acct, &f).await.unwrap()
            );
            assert_eq!(memory.portfolio(acct), pg.portfolio(acct));
            assert_eq!(memory.positions(acct), pg.positions(acct));
            assert_eq!(memory.account(acct), pg.account(acct));
        }
        assert_eq!(
            memory.order(a(1), o(5)).await.unwrap(),
            pg.order(a(1), o(5)).await.unwrap()
        );
        assert_eq!(
            memory.order_by_client_id(a(2), cid("b-1")).await.unwrap(),
            pg.order_by_client_id(a(2), cid("b-1")).await.unwrap()
        );
        assert!(pg.order(a(1), o(1)).await.unwrap().is_none());
        for acct in [a(1), a(2), a(3)] {
            assert_eq!(
                memory.events(acct, 0, 500).await.unwrap(),
                pg.events(acct, 0, 500).await.unwrap()
            );
        }
    });
    projector.close(Duration::from_secs(5));
}

#[test]
fn history_is_shareable_and_its_queries_can_cross_threads() {
    fn shared<T: Send + Sync + Clone + 'static>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let h = History::Memory(Arc::new(RwLock::new(model(
        &scenario(),
        Retention::EVERYTHING,
    ))));
    shared(&h);
    // Axum runs handlers on a multi-threaded runtime: their futures must be Send.
    let f = OrderFilter::default();
    send(&h.orders(a(1), &f));
    send(&h.order(a(1), o(1)));
    send(&h.order_by_client_id(a(1), cid("a-1")));
    send(&h.activities(a(1), &ActivityFilter::default()));
    send(&h.events(a(1), 0, 10));
    let p: Option<PgProjector> = None;
    send(&p);
}
