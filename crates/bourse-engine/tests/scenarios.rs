//! Engine scenarios: accounts, risk, instrument rules, settlement, one rule per test.
#![allow(clippy::unwrap_used)]

mod common;

use bourse_core::{
    CancelReason, Cash, ClientOrderId, Command, Event, Liquidity, OrderId, OrderRequest, Price,
    Qty, RejectReason, Scopes, Side, TimeInForce,
};
use bourse_engine::EngineConfig;
use common::{Driver, limit, market, px, sym};

fn rejected(ev: &[Event]) -> Option<RejectReason> {
    ev.iter().find_map(|e| match e {
        Event::Rejected { reason, .. } => Some(*reason),
        _ => None,
    })
}

/// The command's events without the closing balance and position reports.
fn core(ev: &[Event]) -> Vec<Event> {
    ev.iter()
        .filter(|e| {
            !matches!(
                e,
                Event::BalanceChanged { .. } | Event::PositionChanged { .. }
            )
        })
        .copied()
        .collect()
}

fn accepted_id(ev: &[Event]) -> OrderId {
    ev.iter()
        .find_map(|e| match e {
            Event::OrderAccepted { order_id, .. } => Some(*order_id),
            _ => None,
        })
        .unwrap_or_else(|| panic!("not accepted: {ev:?}"))
}

#[test]
fn a_trade_moves_cash_and_shares_at_the_resting_price() {
    let mut d = Driver::new(EngineConfig::default());
    let buyer = d.funded(100_000);
    let seller = d.funded(0);
    d.shares(seller, "AAPL", 100);
    d.run(Command::SubmitOrder(limit(
        seller,
        "AAPL",
        Side::Sell,
        "190.00",
        60,
    )));
    let ev = d.run(Command::SubmitOrder(limit(
        buyer,
        "AAPL",
        Side::Buy,
        "191.00",
        100,
    )));
    let fills: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::OrderFilled {
                account,
                last_px,
                last_qty,
                liquidity,
                leaves_qty,
                ..
            } => Some((
                *account,
                *last_px,
                last_qty.whole_shares(),
                *liquidity,
                leaves_qty.whole_shares(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        fills,
        vec![
            (seller, px("190.00"), 60, Liquidity::Maker, 0),
            (buyer, px("190.00"), 60, Liquidity::Taker, 40),
        ]
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Trade { qty, .. } if qty.whole_shares() == 60))
    );
    // Buyer paid 60 × 190 and still reserves 40 × 191 for the resting remainder.
    let (cash, reserved) = d.engine.cash(buyer).unwrap();
    assert_eq!(cash, Cash::from_dollars(100_000 - 11_400).unwrap());
    assert_eq!(reserved, Cash::from_dollars(40 * 191).unwrap());
    assert_eq!(
        d.engine.position(buyer, sym("AAPL")).unwrap(),
        (Qty::shares(60), Qty::ZERO)
    );
    assert_eq!(
        d.engine.cash(seller).unwrap().0,
        Cash::from_dollars(11_400).unwrap()
    );
    assert_eq!(
        d.engine.position(seller, sym("AAPL")).unwrap(),
        (Qty::shares(40), Qty::ZERO)
    );
    // The command ends with the engine's own balances for every account and position it
    // touched, after its other events, each once.
    let reports: Vec<_> = ev
        .iter()
        .skip_while(|e| {
            !matches!(
                e,
                Event::BalanceChanged { .. } | Event::PositionChanged { .. }
            )
        })
        .copied()
        .collect();
    assert_eq!(
        core(&reports),
        Vec::<Event>::new(),
        "reports come last: {ev:?}"
    );
    let (aapl, usd) = (sym("AAPL"), |d: i64| Cash::from_dollars(d).unwrap());
    assert_eq!(
        reports,
        vec![
            Event::BalanceChanged {
                account: buyer,
                cash: usd(100_000 - 11_400),
                reserved: usd(40 * 191),
            },
            Event::PositionChanged {
                account: buyer,
                symbol: aapl,
                qty: Qty::shares(60),
                reserved: Qty::ZERO,
            },
            Event::BalanceChanged {
                account: seller,
                cash: usd(11_400),
                reserved: Cash::ZERO,
            },
            Event::PositionChanged {
                account: seller,
                symbol: aapl,
                qty: Qty::shares(40),
                reserved: Qty::ZERO,
            },
        ]
    );
}

#[test]
fn buying_power_and_position_limits() {
    let mut d = Driver::new(EngineConfig::default());
    let a = d.funded(1_000);
    let ev = d.run(Command::SubmitOrder(limit(
        a,
        "AAPL",
        Side::Buy,
        "190.00",
        6,
    )));
    assert_eq!(rejected(&ev), Some(RejectReason::InsufficientBuyingPower));
    let ev = d.run(Command::SubmitOrder(limit(
        a,
        "AAPL",
        Side::Buy,
        "190.00",
        5,
    )));
    accepted_id(&ev);
    // The first order holds $950: a second one for more than the rest is refused.
    let ev = d.run(Command::SubmitOrder(limit(a, "F", Side::Buy, "11.00", 5)));
    assert_eq!(rejected(&ev), Some(RejectReason::InsufficientBuyingPower));
    let ev = d.run(Command::Withdraw {
        account: a,
        amount: Cash::from_dollars(51).unwrap(),
    });
    assert_eq!(rejected(&ev), Some(RejectReason::InsufficientFunds));
    let ev = d.run(Command::SubmitOrder(limit(
        a,
        "AAPL",
        Side::Sell,
        "190.00",
        1,
    )));
    assert_eq!(
        rejected(&ev),
        Some(RejectReason::InsufficientPosition),
        "no short selling"
    );
}

#[test]
fn cancel_releases_the_reservation() {
    let mut d = Driver::new(EngineConfig::default());
    let a = d.funded(10_000);
    let id = accepted_id(&d.run(Command::SubmitOrder(limit(
        a,
        "MSFT",
        Side::Buy,
        "400.00",
        20,
    ))));
    assert_eq!(
        d.engine.cash(a).unwrap().1,
        Cash::from_dollars(8_000).unwrap()
    );
    let ev = d.run(Command::CancelOrder {
        account: a,
        order_id: id,
    });
    assert!(matches!(
        ev[0],
        Event::OrderCanceled {
            reason: CancelReason::Requested,
            ..
        }
    ));
    assert_eq!(d.engine.cash(a).unwrap().1, Cash::ZERO);
    let ev = d.run(Command::CancelOrder {
        account: a,
        order_id: id,
    });
    assert_eq!(rejected(&ev), Some(RejectReason::UnknownOrder));
}

#[test]
fn another_accounts_order_is_unknown() {
    let mut d = Driver::new(EngineConfig::default());
    let a = d.funded(10_000);
    let b = d.funded(10_000);
    let id = accepted_id(&d.run(Command::SubmitOrder(limit(
        a,
        "MSFT",
        Side::Buy,
        "400.00",
        1,
    ))));
    let ev = d.run(Command::CancelOrder {
        account: b,
        order_id: id,
    });
    assert_eq!(rejected(&ev), Some(RejectReason::UnknownOrder));
    let ev = d.run(Command::ReplaceOrder {
        account: b,
        order_id: id,
        qty: Qty::shares(1),
        price: None,
    });
    assert_eq!(rejected(&ev), Some(RejectReason::UnknownOrder));
    assert!(d.engine.is_working(id));
}

#[test]
fn instrument_rules() {
    let mut d = Driver::new(EngineConfig::default());
    let a = d.funded(10_000_000);
    let cases = [
        (
            limit(a, "AAPL", Side::Buy, "190.005", 1),
            RejectReason::PriceOffTick,
        ),
        (
            limit(a, "AAPL", Side::Buy, "209.01", 1),
            RejectReason::PriceOutOfBand,
        ),
        (
            limit(a, "AAPL", Side::Buy, "170.99", 1),
            RejectReason::PriceOutOfBand,
        ),
        (
            limit(a, "AAPL", Side::Buy, "190.00", 0),
            RejectReason::InvalidQuantity,
        ),
        (
            limit(a, "AAPL", Side::Buy, "190.00", 1_000_001),
            RejectReason::MaxQtyExceeded,
        ),
        (
            limit(a, "ZZZZ", Side::Buy, "190.00", 1),
            RejectReason::UnknownSymbol,
        ),
        (market(a, "AAPL", Side::Buy, 1), RejectReason::NoLiquidity),
    ];
    for (req, reason) in cases {
        assert_eq!(
            rejected(&d.run(Command::SubmitOrder(req))),
            Some(reason),
            "{req:?}"
        );
    }
    // Band edges are inclusive: ±10% of the 190.00 reference.
    accepted_id(&d.run(Command::SubmitOrder(limit(
        a,
        "AAPL",
        Side::Buy,
        "209.00",
        1,
    ))));
    accepted_id(&d.run(Command::SubmitOrder(limit(
        a,
        "AAPL",
        Side::Buy,
        "171.00",
        1,
    ))));
    let mut post_market = market(a, "AAPL", Side::Buy, 1);
    post_market.post_only = true;
    assert_eq!(
        rejected(&d.run(Command::SubmitOrder(post_market))),
        Some(RejectReason::InvalidOrder)
    );
}

#[test]
fn halted_symbol_rejects_orders_but_accepts_cancels() {
    let mut d = Driver::new(EngineConfig::default());
    let a = d.funded(10_000);
    let id = accepted_id(&d.run(Command::SubmitOrder(limit(a, "KO", Side::Buy, "62.00", 10))));
    d.run(Command::HaltSymbol { symbol: sym("KO") });
    let ev = d.run(Command::SubmitOrder(limit(a, "KO", Side::Buy, "62.00", 10)));
    assert_eq!(rejected(&ev), Some(RejectReason::SymbolHalted));
    let ev = d.run(Command::ReplaceOrder {
        account: a,
        order_id: id,
        qty: Qty::shares(5),
        price: None,
    });
    assert_eq!(rejected(&ev), Some(RejectReason::SymbolHalted));
    let ev = d.run(Command::CancelOrder {
        account: a,
        order_id: id,
    });
    assert!(matches!(ev[0], Event::OrderCanceled { .. }));
    d.run(Command::ResumeSymbol { symbol: sym("KO") });
    accepted_id(&d.run(Command::SubmitOrder(limit(a, "KO", Side::Buy, "62.00", 10))));
}

#[test]
fn client_order_id_is_idempotent_per_account() {
    let mut d = Driver::new(EngineConfig::default());
    let a = d.funded(10_000);
    let b = d.funded(10_000);
    let mut req = limit(a, "KO", Side::Buy, "62.00", 10);
    req.client_order_id = Some(ClientOrderId::new("abc-1").unwrap());
    let first = accepted_id(&d.run(Command::SubmitOrder(req)));
    // The same order again is a resend, naming the original; nothing new happens.
    let ev = d.run(Command::SubmitOrder(req));
    assert!(matches!(
        ev[..],
        [Event::Rejected { order_id: Some(id), reason: RejectReason::ResentOrder, .. }] if id == first
    ));
    // Any other order under the id is refused, naming the original too.
    let mut other = req;
    other.qty = Qty::shares(11);
    for changed in [
        other,
        limit(a, "KO", Side::Buy, "62.01", 10),
        limit(a, "PEP", Side::Buy, "62.00", 10),
        limit(a, "KO", Side::Sell, "62.00", 10),
    ] {
        let mut changed = changed;
        changed.client_order_id = req.client_order_id;
        let ev = d.run(Command::SubmitOrder(changed));
        assert!(
            matches!(
                ev[..],
                [Event::Rejected { order_id: Some(id), reason: RejectReason::DuplicateClientOrderId, .. }] if id == first
            ),
            "{ev:?}"
        );
    }
    assert_eq!(
        d.engine.cash(a).unwrap().1,
        Cash::from_dollars(620).unwrap(),
        "reserved once"
    );
    // Another account may use the same client id.
    req.account = b;
    accepted_id(&d.run(Command::SubmitOrder(req)));
}

#[test]
fn client_order_ids_are_kept_while_working_then_within_the_retention_and_the_day() {
    let mut d = Driver::new(EngineConfig {
        client_id_retention: 2,
        ..EngineConfig::default()
    });
    let a = d.funded(100_000);
    let with_id = |cid: &str| {
        let mut r = limit(a, "KO", Side::Buy, "62.00", 1);
        r.client_order_id = Some(ClientOrderId::new(cid).unwrap());
        r
    };
    // One working order, then three that end (cancelled).
    let working = accepted_id(&d.run(Command::SubmitOrder(with_id("w"))));
    for cid in ["e1", "e2", "e3"] {
        let id = accepted_id(&d.run(Command::SubmitOrder(with_id(cid))));
        d.run(Command::CancelOrder {
            account: a,
            order_id: id,
        });
    }
    // e1 fell out of the two remembered: its id is free again; e2 and e3 are resends.
    accepted_id(&d.run(Command::SubmitOrder(with_id("e1"))));
    for cid in ["e2", "e3"] {
        let ev = d.run(Command::SubmitOrder(with_id(cid)));
        assert_eq!(rejected(&ev), Some(RejectReason::ResentOrder), "{cid}");
    }
    // However many orders end after it, a working order keeps its id.
    for k in 0..5 {
        let id = accepted_id(&d.run(Command::SubmitOrder(with_id(&format!("x{k}")))));
        d.run(Command::CancelOrder {
            account: a,
            order_id: id,
        });
    }
    let ev = d.run(Command::SubmitOrder(with_id("w")));
    assert!(
        matches!(ev[..], [Event::Rejected { order_id: Some(id), reason: RejectReason::ResentOrder, .. }] if id == working),
        "{ev:?}"
    );
    // The end of the day frees every ended order's id (not the GTC order still working).
    let ev = d.run(Command::SubmitOrder(with_id("x4")));
    assert_eq!(rejected(&ev), Some(RejectReason::ResentOrder));
    d.run(Command::EndOfDay);
    accepted_id(&d.run(Command::SubmitOrder(with_id("x4"))));
    assert_eq!(
        rejected(&d.run(Command::SubmitOrder(with_id("w")))),
        Some(RejectReason::ResentOrder)
    );
    d.engine.check_invariants().unwrap();
}

#[test]
fn market_buy_reserves_at_the_collar_and_releases_the_rest() {
    let mut d = Driver::new(EngineConfig::default());
    let seller = d.funded(0);
    d.shares(seller, "F", 1_000);
    d.run(Command::SubmitOrder(limit(
        seller,
        "F",
        Side::Sell,
        "11.00",
        100,
    )));
    let buyer = d.funded(1_000);
    // 91 × 11.55 (collar) = 1051 > 1000: refused although the fill would cost 1001.
    let ev = d.run(Command::SubmitOrder(market(buyer, "F", Side::Buy, 91)));
    assert_eq!(rejected(&ev), Some(RejectReason::InsufficientBuyingPower));
    let ev = d.run(Command::SubmitOrder(market(buyer, "F", Side::Buy, 86)));
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::OrderFilled { leaves_qty, .. } if leaves_qty.is_zero()))
    );
    assert_eq!(
        d.engine.cash(buyer).unwrap(),
        (Cash::from_dollars(1_000 - 946).unwrap(), Cash::ZERO)
    );
}

#[test]
fn fees_are_charged_and_collected() {
    let mut d = Driver::new(EngineConfig {
        maker_fee_bps: 10,
        taker_fee_bps: 30,
        ..EngineConfig::default()
    });
    let seller = d.funded(100);
    d.shares(seller, "F", 100);
    d.run(Command::SubmitOrder(limit(
        seller,
        "F",
        Side::Sell,
        "10.00",
        100,
    )));
    let buyer = d.funded(2_000);
    let ev = d.run(Command::SubmitOrder(limit(
        buyer,
        "F",
        Side::Buy,
        "10.00",
        100,
    )));
    let fees: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::OrderFilled { fee, .. } => Some(*fee),
            _ => None,
        })
        .collect();
    assert_eq!(
        fees,
        vec![px("1.00").raw(), px("3.00").raw()]
            .into_iter()
            .map(Cash::from_raw)
            .collect::<Vec<_>>()
    );
    assert_eq!(d.engine.fees_collected(), Cash::from_dollars(4).unwrap());
    assert_eq!(
        d.engine.cash(buyer).unwrap(),
        (Cash::from_dollars(2_000 - 1_003).unwrap(), Cash::ZERO)
    );
    assert_eq!(
        d.engine.cash(seller).unwrap().0,
        Cash::from_dollars(100 + 999).unwrap()
    );
}

#[test]
fn end_of_day_expires_day_orders_only() {
    let mut d = Driver::new(EngineConfig::default());
    let a = d.funded(10_000);
    let mut day = limit(a, "KO", Side::Buy, "62.00", 10);
    day.tif = TimeInForce::Day;
    let day_id = accepted_id(&d.run(Command::SubmitOrder(day)));
    let gtc_id = accepted_id(&d.run(Command::SubmitOrder(limit(a, "KO", Side::Buy, "61.00", 10))));
    let ev = d.run(Command::EndOfDay);
    assert!(
        matches!(ev[0], Event::OrderCanceled { order_id, reason: CancelReason::Expired, .. } if order_id == day_id)
    );
    assert!(matches!(core(&ev).last(), Some(Event::DayEnded { .. })));
    assert!(!d.engine.is_working(day_id) && d.engine.is_working(gtc_id));
    assert_eq!(
        d.engine.cash(a).unwrap().1,
        Cash::from_dollars(610).unwrap()
    );
}

#[test]
fn replace_rereserves_and_mass_cancel_clears() {
    let mut d = Driver::new(EngineConfig::default());
    let a = d.funded(10_000);
    let id = accepted_id(&d.run(Command::SubmitOrder(limit(a, "KO", Side::Buy, "62.00", 10))));
    d.run(Command::ReplaceOrder {
        account: a,
        order_id: id,
        qty: Qty::shares(100),
        price: Some(px("60.00")),
    });
    assert_eq!(
        d.engine.cash(a).unwrap().1,
        Cash::from_dollars(6_000).unwrap()
    );
    let ev = d.run(Command::ReplaceOrder {
        account: a,
        order_id: id,
        qty: Qty::shares(200),
        price: None,
    });
    assert_eq!(rejected(&ev), Some(RejectReason::InsufficientBuyingPower));
    d.run(Command::SubmitOrder(limit(
        a,
        "PFE",
        Side::Buy,
        "28.00",
        10,
    )));
    let ev = d.run(Command::MassCancel {
        account: Some(a),
        symbol: None,
    });
    assert_eq!(core(&ev).len(), 2);
    assert_eq!(d.engine.cash(a).unwrap().1, Cash::ZERO);
}

#[test]
fn identity_users_sessions_and_api_keys() {
    use bourse_core::{Role, SecretHash, UnixNanos};
    let mut d = Driver::new(EngineConfig::default());
    let reg = |name: &str| Command::RegisterUser {
        username: name.to_owned(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned(),
        role: Role::Trader,
    };
    let ev = d.run(reg("alice"));
    let Event::UserRegistered {
        account,
        role: Role::Trader,
    } = ev[1]
    else {
        panic!("{ev:?}")
    };
    assert!(matches!(ev[0], Event::AccountOpened { account: a } if a == account));
    assert_eq!(
        rejected(&d.run(reg("alice"))),
        Some(RejectReason::UsernameTaken)
    );
    assert_eq!(
        rejected(&d.run(reg("Bad Name"))),
        Some(RejectReason::InvalidUsername)
    );
    let id = d.engine.identity();
    assert_eq!(id.user("alice").map(|u| u.account), Some(account));
    assert_eq!(id.role(account), Some(Role::Trader));

    let token = SecretHash([7; 32]);
    let expires_at = UnixNanos::new(1_000_000_000);
    d.run(Command::CreateSession {
        account,
        token,
        expires_at,
    });
    assert_eq!(
        d.engine.identity().session(&token, UnixNanos::new(5)),
        Some(account)
    );
    assert_eq!(
        d.engine.identity().session(&token, expires_at),
        None,
        "expired"
    );
    let ev = d.run(Command::EndSession { token });
    assert!(matches!(ev[0], Event::SessionEnded { .. }));
    assert_eq!(
        d.engine.identity().session(&token, UnixNanos::new(5)),
        None,
        "revoked"
    );
    assert_eq!(
        rejected(&d.run(Command::EndSession { token })),
        Some(RejectReason::UnknownSession)
    );

    let secret = SecretHash([9; 32]);
    let ev = d.run(Command::CreateApiKey {
        account,
        secret,
        label: "algo".to_owned(),
    });
    let Event::ApiKeyCreated { key_id, .. } = ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!(
        d.engine.identity().api_key(&secret),
        Some((key_id, account))
    );
    let other = d.funded(0);
    let ev = d.run(Command::RevokeApiKey {
        account: other,
        key_id,
    });
    assert_eq!(
        rejected(&ev),
        Some(RejectReason::UnknownApiKey),
        "not theirs to revoke"
    );
    d.run(Command::RevokeApiKey { account, key_id });
    assert_eq!(d.engine.identity().api_key(&secret), None);

    // Keys from before scopes read and trade; new ones hold what they name, never nothing.
    let legacy = d.engine.identity().keys().next().map(|(_, k)| k.scopes);
    assert_eq!(legacy, None, "revoked");
    let secret = SecretHash([10; 32]);
    d.run(Command::CreateApiKey {
        account,
        secret,
        label: String::new(),
    });
    let secret2 = SecretHash([11; 32]);
    let ev = d.run(Command::CreateScopedApiKey {
        account,
        secret: secret2,
        label: String::new(),
        scopes: Scopes::TRANSFER,
    });
    assert!(
        matches!(ev[0], Event::ApiKeyCreated { scopes, .. } if scopes == Scopes::TRANSFER),
        "{ev:?}"
    );
    let secret3 = SecretHash([12; 32]);
    let ev = d.run(Command::CreateScopedApiKey {
        account,
        secret: secret3,
        label: String::new(),
        scopes: Scopes::from_bits(0),
    });
    assert!(matches!(ev[0], Event::ApiKeyCreated { scopes, .. } if scopes == Scopes::READ));
    let scopes: Vec<Scopes> = d.engine.identity().keys().map(|(_, k)| k.scopes).collect();
    assert_eq!(scopes, [Scopes::LEGACY, Scopes::TRANSFER, Scopes::READ]);
}

#[test]
fn an_account_holds_at_most_a_hundred_api_keys() {
    use bourse_core::SecretHash;
    use bourse_engine::identity::MAX_API_KEYS_PER_ACCOUNT;
    let mut d = Driver::new(EngineConfig::default());
    let a = d.funded(0);
    let b = d.funded(0);
    let key = |account, i: u32| Command::CreateScopedApiKey {
        account,
        secret: SecretHash(blake3::hash(&i.to_le_bytes()).into()),
        label: String::new(),
        scopes: Scopes::READ,
    };
    let mut first = None;
    for i in 0..MAX_API_KEYS_PER_ACCOUNT {
        let ev = d.run(key(a, i));
        let Event::ApiKeyCreated { key_id, .. } = ev[0] else {
            panic!("{ev:?}")
        };
        first.get_or_insert(key_id);
    }
    assert_eq!(
        rejected(&d.run(key(a, 1000))),
        Some(RejectReason::TooManyApiKeys)
    );
    // Another account is not limited by it.
    assert!(matches!(
        d.run(key(b, 2000))[0],
        Event::ApiKeyCreated { .. }
    ));
    // The limit survives a snapshot, where the count is rebuilt from the keys.
    let restored = bourse_engine::Engine::restore(d.engine.snapshot()).unwrap();
    let mut r = Driver {
        engine: restored,
        seq: d.seq,
    };
    assert_eq!(
        rejected(&r.run(key(a, 1001))),
        Some(RejectReason::TooManyApiKeys)
    );
    // A revoked key makes room for one more.
    let key_id = first.unwrap();
    r.run(Command::RevokeApiKey { account: a, key_id });
    assert!(matches!(
        r.run(key(a, 1002))[0],
        Event::ApiKeyCreated { .. }
    ));
    assert_eq!(
        rejected(&r.run(key(a, 1003))),
        Some(RejectReason::TooManyApiKeys)
    );
}

#[test]
fn share_deposits_that_could_not_be_valued_are_refused() {
    let mut d = Driver::new(EngineConfig::default());
    let a = d.funded(0);
    let b = d.funded(0);
    d.shares(a, "KO", 1_000_000);
    // Near 2^64 millionths: no price could value them in Cash.
    let ev = d.run(Command::DepositShares {
        account: b,
        symbol: sym("KO"),
        qty: Qty::shares(u64::MAX / 1_000_000 - 1_000_000),
    });
    assert_eq!(rejected(&ev), Some(RejectReason::PositionLimit));
    // The limit is on all the symbol's shares: another account cannot get around it.
    let ev = d.run(Command::DepositShares {
        account: b,
        symbol: sym("KO"),
        qty: Qty::shares(1_000_000_000_000),
    });
    assert_eq!(rejected(&ev), Some(RejectReason::PositionLimit));
    assert_eq!(
        d.engine.position(b, sym("KO")).map(|p| p.0),
        Some(Qty::shares(0))
    );
    // Cash likewise: the exchange holds at most half of what Cash can, in all accounts.
    let ev = d.run(Command::Deposit {
        account: b,
        amount: Cash::from_raw(i64::MAX / 2 + 1),
    });
    assert_eq!(rejected(&ev), Some(RejectReason::CashLimit));
    let ev = d.run(Command::Deposit {
        account: b,
        amount: Cash::from_raw(i64::MAX / 4),
    });
    assert!(matches!(ev[0], Event::CashDeposited { .. }), "{ev:?}");
    let ev = d.run(Command::Deposit {
        account: a,
        amount: Cash::from_raw(i64::MAX / 4 + 10),
    });
    assert_eq!(
        rejected(&ev),
        Some(RejectReason::CashLimit),
        "across accounts"
    );
}

fn stop(
    account: bourse_core::AccountId,
    symbol: &str,
    side: Side,
    stop_price: &str,
    limit_price: Option<&str>,
    qty: u64,
) -> bourse_core::OrderRequest {
    let mut req = limit(account, symbol, side, "1", qty);
    req.stop_price = Some(px(stop_price));
    req.limit_price = limit_price.map(px);
    req.order_type = if limit_price.is_some() {
        bourse_core::OrderType::StopLimit
    } else {
        bourse_core::OrderType::Stop
    };
    req
}

/// A seller with 10,000 KO and an account to trade against.
fn ko_market() -> (Driver, bourse_core::AccountId, bourse_core::AccountId) {
    let mut d = Driver::new(EngineConfig::default());
    let mm = d.funded(1_000_000);
    d.shares(mm, "KO", 10_000);
    let t = d.funded(100_000);
    d.shares(t, "KO", 1_000);
    (d, mm, t)
}

/// A third account holding KO, to trade against the market maker without self-trading.
fn other_seller(d: &mut Driver) -> bourse_core::AccountId {
    let x = d.funded(0);
    d.shares(x, "KO", 1_000);
    x
}

#[test]
fn stop_orders_wait_for_the_last_trade_then_enter_the_book() {
    let (mut d, mm, t) = ko_market();
    for (p, q) in [("62.00", 100), ("62.10", 100), ("62.20", 100)] {
        d.run(Command::SubmitOrder(limit(mm, "KO", Side::Sell, p, q)));
    }
    // Buy stop at 62.10: held (no trade yet), reserving at the stop + 5% collar.
    let ev = d.run(Command::SubmitOrder(stop(
        t,
        "KO",
        Side::Buy,
        "62.10",
        None,
        150,
    )));
    let id = accepted_id(&ev);
    assert_eq!(core(&ev).len(), 1, "held, not in the book: {ev:?}");
    assert!(d.engine.book(sym("KO")).unwrap().order(id).is_none());
    // 62.10 + 5% = 65.205, rounded down to the tick.
    let reserved = px("65.20").notional(Qty::shares(150)).unwrap();
    assert_eq!(d.engine.cash(t).unwrap().1, reserved);
    // A trade at 62.00 does not reach it; one at 62.10 does, in the same command.
    let other = d.funded(100_000);
    d.run(Command::SubmitOrder(limit(
        other,
        "KO",
        Side::Buy,
        "62.00",
        100,
    )));
    assert!(d.engine.is_working(id));
    let ev = d.run(Command::SubmitOrder(limit(
        other,
        "KO",
        Side::Buy,
        "62.10",
        10,
    )));
    let trig = ev
        .iter()
        .position(|e| matches!(e, Event::OrderTriggered { order_id, .. } if *order_id == id));
    assert!(trig.is_some(), "{ev:?}");
    let filled: u64 = ev
        .iter()
        .filter_map(|e| match e {
            Event::OrderFilled {
                order_id, last_qty, ..
            } if *order_id == id => Some(last_qty.whole_shares()),
            _ => None,
        })
        .sum();
    assert_eq!(filled, 150, "90 left at 62.10, then 60 at 62.20");
    assert!(!d.engine.is_working(id));
    assert_eq!(
        d.engine.cash(t).unwrap().1,
        Cash::ZERO,
        "reservation released"
    );
}

#[test]
fn stops_cascade_in_stop_price_order_within_one_command() {
    let (mut d, mm, t) = ko_market();
    let x = other_seller(&mut d);
    for p in ["61.90", "61.80", "61.70", "61.60"] {
        d.run(Command::SubmitOrder(limit(mm, "KO", Side::Buy, p, 100)));
    }
    // Two sell stops; the higher stop is reached first, and its sale triggers the next.
    let low = accepted_id(&d.run(Command::SubmitOrder(stop(
        t,
        "KO",
        Side::Sell,
        "61.80",
        None,
        100,
    ))));
    let high = accepted_id(&d.run(Command::SubmitOrder(stop(
        t,
        "KO",
        Side::Sell,
        "61.90",
        None,
        100,
    ))));
    let ev = d.run(Command::SubmitOrder(limit(
        x,
        "KO",
        Side::Sell,
        "61.90",
        100,
    )));
    let order: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::OrderTriggered { order_id, .. } => Some(*order_id),
            _ => None,
        })
        .collect();
    assert_eq!(order, vec![high, low]);
    assert!(!d.engine.is_working(high) && !d.engine.is_working(low));
    assert_eq!(
        d.engine.position(t, sym("KO")).unwrap(),
        (Qty::shares(800), Qty::ZERO)
    );
}

#[test]
fn stop_limit_rests_at_its_limit_and_held_stops_cancel_and_expire() {
    let (mut d, mm, t) = ko_market();
    let x = other_seller(&mut d);
    d.run(Command::SubmitOrder(limit(
        mm,
        "KO",
        Side::Buy,
        "62.00",
        10,
    )));
    d.run(Command::SubmitOrder(limit(
        x,
        "KO",
        Side::Sell,
        "62.00",
        10,
    )));
    // Last is 62.00: a sell stop-limit at 62.00 triggers at once and rests at 62.50.
    let ev = d.run(Command::SubmitOrder(stop(
        t,
        "KO",
        Side::Sell,
        "62.00",
        Some("62.50"),
        10,
    )));
    assert!(ev.iter().any(|e| matches!(e, Event::OrderTriggered { .. })));
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::OrderRested { price, .. } if *price == px("62.50")))
    );
    // Held stops: cancel releases the shares; DAY ones expire; mass cancel takes the rest.
    let a = accepted_id(&d.run(Command::SubmitOrder(stop(
        t,
        "KO",
        Side::Sell,
        "60.00",
        None,
        100,
    ))));
    assert_eq!(d.engine.position(t, sym("KO")).unwrap().1, Qty::shares(110));
    d.run(Command::CancelOrder {
        account: t,
        order_id: a,
    });
    assert_eq!(d.engine.position(t, sym("KO")).unwrap().1, Qty::shares(10));
    let mut day = stop(t, "KO", Side::Sell, "60.00", None, 5);
    day.tif = TimeInForce::Day;
    let day_id = accepted_id(&d.run(Command::SubmitOrder(day)));
    let gtc = accepted_id(&d.run(Command::SubmitOrder(stop(
        t,
        "KO",
        Side::Sell,
        "60.00",
        None,
        5,
    ))));
    let ev = d.run(Command::EndOfDay);
    assert!(ev.iter().any(|e| matches!(e, Event::OrderCanceled { order_id, reason: CancelReason::Expired, .. } if *order_id == day_id)));
    let ev = d.run(Command::ReplaceOrder {
        account: t,
        order_id: gtc,
        qty: Qty::shares(1),
        price: None,
    });
    assert_eq!(
        rejected(&ev),
        Some(RejectReason::InvalidOrder),
        "held stops are not amendable"
    );
    d.run(Command::MassCancel {
        account: Some(t),
        symbol: None,
    });
    assert!(!d.engine.is_working(gtc));
    assert_eq!(d.engine.position(t, sym("KO")).unwrap().1, Qty::ZERO);
}

/// Every refusal the engine can give, each provoked once, each changing nothing.
#[test]
fn every_rejection_reason_has_a_scenario() {
    use bourse_core::AccountId;
    let mut ins = common::instruments();
    ins[0].lot = Qty::shares(10); // AAPL trades in lots of 10 here, whole shares only
    ins[0].fractional = false;
    ins[0].max_notional = Cash::from_dollars(100_000).unwrap();
    let mut d = Driver {
        engine: bourse_engine::Engine::new(EngineConfig::default(), ins).unwrap(),
        seq: 0,
    };
    let a = d.funded(1_000_000);
    let nobody = AccountId::new(999);
    let mut post = limit(a, "KO", Side::Buy, "62.00", 1);
    post.post_only = true;
    let cases: Vec<(Command, RejectReason)> = vec![
        (
            Command::SubmitOrder(limit(a, "AAPL", Side::Buy, "190.00", 0)),
            RejectReason::InvalidQuantity,
        ),
        (
            Command::SubmitOrder(limit(a, "AAPL", Side::Buy, "190.00", 15)),
            RejectReason::QtyOffLot,
        ),
        (
            Command::SubmitOrder(limit(a, "AAPL", Side::Buy, "0", 10)),
            RejectReason::InvalidPrice,
        ),
        (
            Command::SubmitOrder(limit(a, "AAPL", Side::Buy, "190.001", 10)),
            RejectReason::PriceOffTick,
        ),
        (
            Command::SubmitOrder(limit(a, "AAPL", Side::Buy, "250.00", 10)),
            RejectReason::PriceOutOfBand,
        ),
        (
            Command::SubmitOrder(limit(a, "AAPL", Side::Buy, "190.00", 1_000_010)),
            RejectReason::MaxQtyExceeded,
        ),
        (
            Command::SubmitOrder(limit(a, "AAPL", Side::Buy, "190.00", 1_000)),
            RejectReason::MaxNotionalExceeded,
        ),
        (
            Command::SubmitOrder(market(a, "KO", Side::Buy, 1)),
            RejectReason::NoLiquidity,
        ),
        (
            Command::SubmitOrder(limit(a, "KO", Side::Buy, "62.00", 100_000)),
            RejectReason::InsufficientBuyingPower,
        ),
        (
            Command::SubmitOrder(limit(a, "KO", Side::Sell, "62.00", 1)),
            RejectReason::InsufficientPosition,
        ),
        (
            Command::SubmitOrder(limit(nobody, "KO", Side::Buy, "62.00", 1)),
            RejectReason::UnknownAccount,
        ),
        (
            Command::SubmitOrder(limit(a, "NOPE", Side::Buy, "62.00", 1)),
            RejectReason::UnknownSymbol,
        ),
        (
            Command::CancelOrder {
                account: a,
                order_id: OrderId::new(12345),
            },
            RejectReason::UnknownOrder,
        ),
        (
            Command::Withdraw {
                account: a,
                amount: Cash::from_dollars(2_000_000).unwrap(),
            },
            RejectReason::InsufficientFunds,
        ),
        (
            Command::Deposit {
                account: a,
                amount: Cash::ZERO,
            },
            RejectReason::InvalidAmount,
        ),
        (
            Command::Deposit {
                account: nobody,
                amount: Cash::from_dollars(1).unwrap(),
            },
            RejectReason::UnknownAccount,
        ),
        (
            Command::Deposit {
                account: a,
                amount: Cash::MAX,
            },
            RejectReason::ArithmeticOverflow,
        ),
        (
            Command::EndSession {
                token: bourse_core::SecretHash([1; 32]),
            },
            RejectReason::UnknownSession,
        ),
        (
            Command::RevokeApiKey {
                account: a,
                key_id: 77,
            },
            RejectReason::UnknownApiKey,
        ),
        (
            Command::DeleteAlert {
                account: a,
                alert_id: 77,
            },
            RejectReason::UnknownAlert,
        ),
        (
            Command::CreateAlert {
                account: a,
                symbol: sym("KO"),
                condition: bourse_core::AlertCondition::Above,
                price: Price::from_raw(0),
            },
            RejectReason::InvalidPrice,
        ),
        (
            // KO trades whole shares only.
            Command::SubmitOrder(OrderRequest {
                qty: Qty::from_raw(1_500_000),
                ..limit(a, "KO", Side::Buy, "62.00", 1)
            }),
            RejectReason::FractionalNotAllowed,
        ),
    ];
    for (cmd, reason) in cases {
        let before = d.engine.state_hash().unwrap();
        let snap_before = d.engine.snapshot();
        let ev = d.run(cmd.clone());
        assert_eq!(ev.len(), 1, "{cmd:?} → {ev:?}");
        assert_eq!(rejected(&ev), Some(reason), "{cmd:?}");
        let mut after = d.engine.snapshot();
        after.seq = bourse_core::Seq(d.seq - 1);
        // The rejection is a message on the account's stream: its number moved, and only it.
        after.streams_from(&snap_before);
        assert_eq!(
            bourse_engine::Engine::restore(after)
                .unwrap()
                .state_hash()
                .unwrap(),
            before,
            "{cmd:?} changed state"
        );
    }
    // Post-only that would cross, and a halted symbol.
    let mm = d.funded(0);
    d.shares(mm, "KO", 10);
    d.run(Command::SubmitOrder(limit(
        mm,
        "KO",
        Side::Sell,
        "62.00",
        10,
    )));
    assert_eq!(
        rejected(&d.run(Command::SubmitOrder(post))),
        Some(RejectReason::PostOnlyWouldTake)
    );
    d.run(Command::HaltSymbol { symbol: sym("KO") });
    let ev = d.run(Command::SubmitOrder(limit(a, "KO", Side::Buy, "62.00", 1)));
    assert_eq!(rejected(&ev), Some(RejectReason::SymbolHalted));
}

/// Price alerts fire once, at the first trade that meets them, in the command of that
/// trade; they belong to their account; a snapshot keeps the live ones.
#[test]
fn price_alerts_fire_once_on_the_trade_that_meets_them() {
    use bourse_core::AlertCondition::{Above, Below};
    let mut d = Driver::new(EngineConfig::default());
    let a = d.funded(100_000);
    let b = d.funded(100_000);
    d.shares(b, "AAPL", 1_000);
    let alert = |d: &mut Driver, account, condition, price: &str| {
        let ev = d.run(Command::CreateAlert {
            account,
            symbol: sym("AAPL"),
            condition,
            price: px(price),
        });
        match ev[..] {
            [Event::AlertCreated { alert_id, .. }] => alert_id,
            _ => panic!("{ev:?}"),
        }
    };
    let up = alert(&mut d, a, Above, "191.00");
    let down = alert(&mut d, a, Below, "189.00");
    let far = alert(&mut d, a, Above, "199.00");
    let gone = alert(&mut d, a, Below, "150.00");
    // Only the owner deletes; unknown ids and symbols are refused.
    let del = |d: &mut Driver, account, alert_id| d.run(Command::DeleteAlert { account, alert_id });
    assert_eq!(
        rejected(&del(&mut d, b, gone)),
        Some(RejectReason::UnknownAlert)
    );
    assert!(matches!(
        del(&mut d, a, gone)[..],
        [Event::AlertDeleted { .. }]
    ));
    assert_eq!(
        rejected(&del(&mut d, a, gone)),
        Some(RejectReason::UnknownAlert)
    );
    let ev = d.run(Command::CreateAlert {
        account: a,
        symbol: bourse_core::Symbol::new("ZZZZ").unwrap(),
        condition: Above,
        price: px("1.00"),
    });
    assert_eq!(rejected(&ev), Some(RejectReason::UnknownSymbol));

    // A trade at 190: nothing fires.
    d.run(Command::SubmitOrder(limit(
        b,
        "AAPL",
        Side::Sell,
        "190.00",
        10,
    )));
    let ev = d.run(Command::SubmitOrder(limit(
        a,
        "AAPL",
        Side::Buy,
        "190.00",
        10,
    )));
    assert!(!ev.iter().any(|e| matches!(e, Event::AlertTriggered { .. })));
    // A sweep from 191 to 191.50 fires `up` (once), not `far`.
    d.run(Command::SubmitOrder(limit(
        b,
        "AAPL",
        Side::Sell,
        "191.00",
        5,
    )));
    d.run(Command::SubmitOrder(limit(
        b,
        "AAPL",
        Side::Sell,
        "191.50",
        5,
    )));
    let snap = d.engine.snapshot();
    let ev = d.run(Command::SubmitOrder(limit(
        a,
        "AAPL",
        Side::Buy,
        "191.50",
        10,
    )));
    let fired: Vec<_> = ev
        .iter()
        .filter_map(|e| match *e {
            Event::AlertTriggered {
                alert_id,
                trade_price,
                ..
            } => Some((alert_id, trade_price)),
            _ => None,
        })
        .collect();
    assert_eq!(fired, vec![(up, px("191.50"))]);
    // Fired alerts are gone: the next trade above does not fire it again.
    d.run(Command::SubmitOrder(limit(
        b,
        "AAPL",
        Side::Sell,
        "192.00",
        1,
    )));
    let ev = d.run(Command::SubmitOrder(limit(
        a,
        "AAPL",
        Side::Buy,
        "192.00",
        1,
    )));
    assert!(!ev.iter().any(|e| matches!(e, Event::AlertTriggered { .. })));
    d.run(Command::SubmitOrder(limit(
        a,
        "AAPL",
        Side::Buy,
        "188.50",
        3,
    )));
    let ev = d.run(Command::SubmitOrder(limit(
        b,
        "AAPL",
        Side::Sell,
        "188.50",
        3,
    )));
    assert!(
        ev.iter()
            .any(|e| matches!(*e, Event::AlertTriggered { alert_id, .. } if alert_id == down))
    );
    assert_eq!(d.engine.alerts().len(), 1, "only the far one is left");
    let _ = far;
    // At most 100 live alerts per account.
    for _ in 0..100 {
        alert(&mut d, b, Below, "100.00");
    }
    let ev = d.run(Command::CreateAlert {
        account: b,
        symbol: sym("AAPL"),
        condition: Below,
        price: px("100.00"),
    });
    assert_eq!(rejected(&ev), Some(RejectReason::TooManyAlerts));
    // The snapshot taken before the sweep still holds all three live alerts.
    let restored = bourse_engine::Engine::restore(snap).unwrap();
    assert_eq!(restored.alerts().len(), 3);
}

#[test]
fn cancel_on_disconnect_cancels_the_named_working_orders_with_its_reason() {
    let (mut d, mm, t) = ko_market();
    let resting = accepted_id(&d.run(Command::SubmitOrder(limit(
        mm,
        "KO",
        Side::Sell,
        "63.00",
        100,
    ))));
    let held = accepted_id(&d.run(Command::SubmitOrder(stop(
        mm,
        "KO",
        Side::Sell,
        "61.00",
        None,
        10,
    ))));
    let kept = accepted_id(&d.run(Command::SubmitOrder(limit(
        mm,
        "KO",
        Side::Sell,
        "64.00",
        100,
    ))));
    let others = accepted_id(&d.run(Command::SubmitOrder(limit(t, "KO", Side::Buy, "60.00", 10))));
    let ev = d.run(Command::CancelOnDisconnect {
        account: mm,
        // Another account's order and an id that never was are skipped quietly.
        order_ids: vec![resting, held, others, OrderId::new(999_999)],
    });
    let canceled: Vec<(OrderId, CancelReason)> = ev
        .iter()
        .filter_map(|e| match *e {
            Event::OrderCanceled {
                order_id, reason, ..
            } => Some((order_id, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(
        canceled,
        vec![
            (resting, CancelReason::CancelOnDisconnect),
            (held, CancelReason::CancelOnDisconnect)
        ]
    );
    assert!(rejected(&ev).is_none(), "{ev:?}");
    // The order not named, and the other account's, still work.
    for (account, id) in [(mm, kept), (t, others)] {
        let ev = d.run(Command::CancelOrder {
            account,
            order_id: id,
        });
        assert!(rejected(&ev).is_none(), "{ev:?}");
    }
}

#[test]
fn brokers_open_customer_accounts_and_give_them_one_login_each() {
    use bourse_core::Role;
    let mut d = Driver::new(EngineConfig::default());
    let user = |d: &mut Driver, name: &str, role| {
        let ev = d.run(Command::RegisterUser {
            username: name.into(),
            password_hash: "h".into(),
            role,
        });
        let Event::AccountOpened { account } = ev[0] else {
            panic!("{ev:?}")
        };
        account
    };
    let broker = user(&mut d, "broker-one", Role::Broker);
    let other = user(&mut d, "broker-two", Role::Broker);
    let trader = user(&mut d, "trader", Role::Trader);
    let open = |d: &mut Driver, broker| d.run(Command::OpenCustomerAccount { broker });
    let ev = open(&mut d, broker);
    let (
        Event::AccountOpened { account },
        Event::CustomerAccountOpened {
            account: c,
            broker: b,
        },
    ) = (ev[0], ev[1])
    else {
        panic!("{ev:?}")
    };
    assert_eq!((c, b), (account, broker));
    assert_eq!(d.engine.identity().broker_of(account), Some(broker));
    assert_eq!(d.engine.identity().role(account), None, "no login yet");
    assert_eq!(
        rejected(&open(&mut d, trader)),
        Some(RejectReason::NotABroker)
    );
    // Unknown accounts are not brokers either.
    assert_eq!(
        rejected(&open(&mut d, bourse_core::AccountId::new(999))),
        Some(RejectReason::NotABroker)
    );
    let login = |d: &mut Driver, broker, account, name: &str| {
        d.run(Command::RegisterCustomerLogin {
            broker,
            account,
            username: name.into(),
            password_hash: "h".into(),
        })
    };
    // Another broker's customer is as if it did not exist; so is a broker's own account.
    assert_eq!(
        rejected(&login(&mut d, other, account, "cust")),
        Some(RejectReason::UnknownAccount)
    );
    assert_eq!(
        rejected(&login(&mut d, broker, trader, "cust")),
        Some(RejectReason::UnknownAccount)
    );
    assert_eq!(
        rejected(&login(&mut d, broker, account, "trader")),
        Some(RejectReason::UsernameTaken)
    );
    let ev = login(&mut d, broker, account, "cust");
    assert_eq!(
        ev,
        vec![Event::UserRegistered {
            account,
            role: Role::Trader
        }]
    );
    assert_eq!(d.engine.identity().user("cust").unwrap().account, account);
    assert_eq!(
        rejected(&login(&mut d, broker, account, "cust2")),
        Some(RejectReason::AccountHasLogin)
    );
    // Kept by snapshots, and so by restarts and replays.
    let r = bourse_engine::Engine::restore(d.engine.snapshot()).unwrap();
    assert_eq!(r.identity().broker_of(account), Some(broker));
    assert_eq!(r.identity().customers().count(), 1);
    assert_eq!(r.state_hash().unwrap(), d.engine.state_hash().unwrap());
}
