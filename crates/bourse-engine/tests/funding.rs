//! Funding as engine state: a bank linked and verified by its micro-deposits (three
//! guesses), ACH deposits with their instant part, withdrawals from settled cash only,
//! settlement when due, returns (of a pending deposit already spent, leaving a debt, and
//! of a withdrawal), and that a snapshot carries all of it.
#![allow(clippy::unwrap_used)]

mod common;

use bourse_core::funding::{BankStatus, Direction, MAX_BANKS, NewBank, ReturnCode, TransferStatus};
use bourse_core::profile::Sealed;
use bourse_core::{
    AccountId, CancelReason, Cash, Command, Event, RejectReason, SecretHash, Side, UnixNanos,
};
use bourse_engine::{Engine, EngineConfig};
use common::{Driver, limit};

fn usd(d: i64) -> Cash {
    Cash::from_dollars(d).unwrap()
}

fn bank(account: AccountId, n: u8) -> Command {
    Command::LinkBank(Box::new(NewBank {
        account,
        holder: Sealed(vec![1; 30]),
        number: Sealed(vec![2; 30]),
        number_lookup: SecretHash([n; 32]),
        last4: "6789".into(),
        routing: "021000021".into(),
        micro_digest: SecretHash([0xAA; 32]),
        sealed_micro: Sealed(vec![3; 30]),
    }))
}

fn rejected(ev: &[Event]) -> Option<RejectReason> {
    ev.iter().find_map(|e| match e {
        Event::Rejected { reason, .. } => Some(*reason),
        _ => None,
    })
}

/// The transfer event of `ev`: (id, status, moved, balance).
fn transfer(ev: &[Event]) -> (u64, TransferStatus, Cash, Cash) {
    ev.iter()
        .find_map(|e| match *e {
            Event::TransferChanged {
                transfer,
                status,
                moved,
                balance,
                ..
            } => Some((transfer, status, moved, balance)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no transfer in {ev:?}"))
}

fn move_cash(
    account: AccountId,
    bank: u64,
    direction: Direction,
    amount: i64,
    instant: i64,
    settle_at: u64,
) -> Command {
    Command::BankTransfer {
        account,
        bank,
        direction,
        amount: usd(amount),
        instant_limit: usd(instant),
        settle_at: UnixNanos::new(settle_at),
    }
}

/// An account with a verified bank (id returned).
fn verified(d: &mut Driver) -> (AccountId, u64) {
    let a = d.funded(0);
    d.run(bank(a, 1));
    let id = d.engine.profiles().get(a).unwrap().funding.banks[0].id;
    d.run(Command::VerifyBank {
        account: a,
        bank: id,
        digest: SecretHash([0xAA; 32]),
    });
    (a, id)
}

#[test]
fn a_bank_is_verified_by_its_micro_deposits_and_fails_after_three_wrong_guesses() {
    let mut d = Driver::new(EngineConfig::default());
    let a = d.funded(0);
    let ev = d.run(bank(a, 1));
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::SecurityChanged { .. })),
        "{ev:?}"
    );
    assert_eq!(
        rejected(&d.run(bank(a, 1))),
        Some(RejectReason::BankAlreadyLinked)
    );
    let id = d.engine.profiles().get(a).unwrap().funding.banks[0].id;
    // Not verified: no transfer.
    assert_eq!(
        rejected(&d.run(move_cash(a, id, Direction::Deposit, 100, 0, 10_000))),
        Some(RejectReason::BankNotVerified)
    );
    let guess = |d: &mut Driver, n: u8| {
        d.run(Command::VerifyBank {
            account: a,
            bank: id,
            digest: SecretHash([n; 32]),
        })
    };
    // A wrong guess is not a rejection: it uses up a try.
    assert_eq!(rejected(&guess(&mut d, 1)), None);
    let link = |d: &Driver| d.engine.profiles().get(a).unwrap().funding.banks[0].clone();
    assert_eq!(
        (link(&d).status, link(&d).attempts_left),
        (BankStatus::Pending, 2)
    );
    guess(&mut d, 0xAA);
    assert_eq!(link(&d).status, BankStatus::Verified);
    assert_eq!(
        rejected(&guess(&mut d, 0xAA)),
        Some(RejectReason::BankNotPending)
    );

    // Another bank, guessed wrong three times, fails for good.
    d.run(bank(a, 2));
    let id2 = d.engine.profiles().get(a).unwrap().funding.banks[1].id;
    for _ in 0..3 {
        d.run(Command::VerifyBank {
            account: a,
            bank: id2,
            digest: SecretHash([7; 32]),
        });
    }
    let b2 = d.engine.profiles().get(a).unwrap().funding.banks[1].clone();
    assert_eq!((b2.status, b2.attempts_left), (BankStatus::Failed, 0));
    let right = Command::VerifyBank {
        account: a,
        bank: id2,
        digest: SecretHash([0xAA; 32]),
    };
    assert_eq!(rejected(&d.run(right)), Some(RejectReason::BankNotPending));

    // Someone else's bank id is unknown to them.
    let b = d.funded(0);
    assert_eq!(
        rejected(&d.run(move_cash(b, id, Direction::Deposit, 100, 0, 10_000))),
        Some(RejectReason::UnknownBank)
    );
    // At most MAX_BANKS; removing one makes room.
    for n in 3..=u8::try_from(MAX_BANKS).unwrap() {
        d.run(bank(a, n));
    }
    assert_eq!(
        rejected(&d.run(bank(a, 50))),
        Some(RejectReason::TooManyBanks)
    );
    d.run(Command::UnlinkBank {
        account: a,
        bank: id2,
    });
    assert_eq!(rejected(&d.run(bank(a, 50))), None);
}

#[test]
fn a_deposit_is_usable_in_part_at_once_and_withdrawable_once_settled() {
    let mut d = Driver::new(EngineConfig::default());
    let (a, id) = verified(&mut d);
    // $1,000 with a $400 instant limit: $400 now, the rest at settlement.
    let ev = d.run(move_cash(a, id, Direction::Deposit, 1_000, 400, 100_000));
    let (t, status, moved, balance) = transfer(&ev);
    assert_eq!(
        (status, moved, balance),
        (TransferStatus::Pending, usd(400), usd(400))
    );
    // Tradable at once...
    let ev = d.run(Command::SubmitOrder(limit(
        a,
        "AAPL",
        Side::Buy,
        "180.00",
        2,
    )));
    assert_eq!(rejected(&ev), None, "{ev:?}");
    // ...but not withdrawable, by bank or by book.
    assert_eq!(d.engine.withdrawable(a), Some(Cash::ZERO));
    assert_eq!(
        rejected(&d.run(move_cash(a, id, Direction::Withdrawal, 1, 0, 100_000))),
        Some(RejectReason::InsufficientFunds)
    );
    assert_eq!(
        rejected(&d.run(Command::Withdraw {
            account: a,
            amount: usd(1)
        })),
        Some(RejectReason::InsufficientFunds)
    );
    // A second deposit gets only what is left of the limit (none).
    let ev = d.run(move_cash(a, id, Direction::Deposit, 50, 400, 200_000));
    assert_eq!(transfer(&ev).2, Cash::ZERO);
    // Not due yet: nothing settles.
    let ev = d.run(Command::SettleTransfers);
    assert!(ev.is_empty(), "{ev:?}");
    // Due (the driver's clock is 1 µs a command): the first settles with its other $600.
    while d.seq * 1_000 < 100_000 {
        d.run(Command::SettleTransfers);
    }
    assert_eq!(d.engine.cash(a).map(|c| c.0), Some(usd(1_000)));
    assert_eq!(
        d.engine.profiles().get(a).unwrap().funding.transfers[0].status,
        TransferStatus::Settled
    );
    assert_eq!(
        d.engine.profiles().get(a).unwrap().funding.transfers[0].id,
        t
    );
    // $360 is reserved by the buy (the pending $50 credited nothing): $640 may leave.
    assert_eq!(d.engine.withdrawable(a), Some(usd(640)));
    assert_eq!(
        rejected(&d.run(move_cash(a, id, Direction::Withdrawal, 641, 0, 300_000))),
        Some(RejectReason::InsufficientFunds)
    );
    let ev = d.run(move_cash(a, id, Direction::Withdrawal, 640, 0, 300_000));
    let (w, status, moved, balance) = transfer(&ev);
    assert_eq!(
        (status, moved, balance),
        (TransferStatus::Pending, usd(-640), usd(360))
    );
    // The bank sends the withdrawal back: the cash returns.
    let ev = d.run(Command::ReturnTransfer {
        account: a,
        transfer: w,
        code: ReturnCode::R02,
    });
    assert_eq!(transfer(&ev).1, TransferStatus::Returned);
    assert_eq!(transfer(&ev).3, usd(1_000));
    // A settled withdrawal cannot come back; nor can a returned one twice.
    assert_eq!(
        rejected(&d.run(Command::ReturnTransfer {
            account: a,
            transfer: w,
            code: ReturnCode::R02,
        })),
        Some(RejectReason::TransferNotReturnable)
    );
}

#[test]
fn a_returned_deposit_already_spent_leaves_a_debt_and_cancels_the_working_buys() {
    let mut d = Driver::new(EngineConfig::default());
    let seller = d.funded(0);
    d.shares(seller, "AAPL", 100);
    let (a, id) = verified(&mut d);
    let ev = d.run(move_cash(
        a,
        id,
        Direction::Deposit,
        5_000,
        5_000,
        1_000_000_000,
    ));
    let t = transfer(&ev).0;
    // Spend most of it: buy 20 at $190 from the seller, and leave a buy working.
    d.run(Command::SubmitOrder(limit(
        seller,
        "AAPL",
        Side::Sell,
        "190.00",
        20,
    )));
    let ev = d.run(Command::SubmitOrder(limit(
        a,
        "AAPL",
        Side::Buy,
        "190.00",
        20,
    )));
    assert!(
        ev.iter().any(|e| matches!(e, Event::Trade { .. })),
        "{ev:?}"
    );
    let ev = d.run(Command::SubmitOrder(limit(
        a,
        "AAPL",
        Side::Buy,
        "180.00",
        5,
    )));
    assert_eq!(rejected(&ev), None);
    assert_eq!(d.engine.cash(a), Some((usd(1_200), usd(900))));
    // R01: the $5,000 goes back out; $3,800 is owed.
    let ev = d.run(Command::ReturnTransfer {
        account: a,
        transfer: t,
        code: ReturnCode::R01,
    });
    let (_, status, moved, balance) = transfer(&ev);
    assert_eq!(
        (status, moved, balance),
        (TransferStatus::Returned, usd(-5_000), usd(-3_800))
    );
    assert!(
        ev.iter().any(|e| matches!(
            e,
            Event::OrderCanceled {
                reason: CancelReason::DepositReturned,
                ..
            }
        )),
        "{ev:?}"
    );
    assert_eq!(d.engine.cash(a), Some((usd(-3_800), Cash::ZERO)));
    // No buys, no withdrawals, no more instant credit.
    let ev = d.run(Command::SubmitOrder(limit(
        a,
        "AAPL",
        Side::Buy,
        "180.00",
        1,
    )));
    assert_eq!(
        rejected(&ev),
        Some(RejectReason::InsufficientBuyingPower),
        "{ev:?}"
    );
    assert_eq!(d.engine.withdrawable(a), Some(Cash::ZERO));
    let ev = d.run(move_cash(
        a,
        id,
        Direction::Deposit,
        10_000,
        5_000,
        2_000_000_000,
    ));
    assert_eq!(transfer(&ev).2, Cash::ZERO);
    // Selling the shares pays part of the debt.
    let buyer = d.funded(10_000);
    d.run(Command::SubmitOrder(limit(
        buyer,
        "AAPL",
        Side::Buy,
        "190.00",
        20,
    )));
    let ev = d.run(Command::SubmitOrder(limit(
        a,
        "AAPL",
        Side::Sell,
        "190.00",
        20,
    )));
    assert!(
        ev.iter().any(|e| matches!(e, Event::Trade { .. })),
        "{ev:?}"
    );
    assert_eq!(d.engine.cash(a).map(|c| c.0), Some(usd(0)), "{ev:?}");
}

#[test]
fn a_snapshot_keeps_banks_transfers_and_what_is_due() {
    let mut d = Driver::new(EngineConfig::default());
    let (a, id) = verified(&mut d);
    d.run(move_cash(a, id, Direction::Deposit, 1_000, 100, 50_000));
    d.run(move_cash(a, id, Direction::Deposit, 2_000, 100, 60_000));
    let snap = d.engine.snapshot();
    let mut restored = Engine::restore(snap.clone()).unwrap();
    assert_eq!(restored.snapshot(), snap);
    // The restored engine settles the same transfers at the same time.
    let mut out = Vec::new();
    let settle = bourse_core::Sequenced {
        seq: bourse_core::Seq(d.seq + 1),
        ts: UnixNanos::new(55_000),
        cmd: Command::SettleTransfers,
    };
    restored.apply(&settle, &mut out);
    let mut out2 = Vec::new();
    d.engine.apply(&settle, &mut out2);
    assert_eq!(out, out2);
    assert_eq!(transfer(&out).1, TransferStatus::Settled);
    assert_eq!(
        restored.state_hash().unwrap(),
        d.engine.state_hash().unwrap()
    );
    restored.check_invariants().unwrap();
}

#[test]
fn erasure_needs_an_empty_account_and_leaves_only_the_records() {
    let mut d = Driver::new(EngineConfig::default());
    let seller = d.funded(0);
    d.shares(seller, "AAPL", 10);
    let ev = d.run(Command::RegisterUser {
        username: "carol".into(),
        password_hash: "$argon2id$fake".into(),
        role: bourse_core::Role::Trader,
    });
    let a = ev
        .iter()
        .find_map(|e| match e {
            Event::UserRegistered { account, .. } => Some(*account),
            _ => None,
        })
        .unwrap();
    d.run(Command::CreateSession {
        account: a,
        token: SecretHash([9; 32]),
        expires_at: UnixNanos::new(u64::MAX),
    });
    d.run(Command::Deposit {
        account: a,
        amount: usd(1_000),
    });
    d.run(bank(a, 1));
    // Cash left: refused.
    let erase = Command::ErasePerson { account: a };
    assert_eq!(
        rejected(&d.run(erase.clone())),
        Some(RejectReason::AccountNotEmpty)
    );
    // A position left: refused.
    d.run(Command::SubmitOrder(limit(
        seller,
        "AAPL",
        Side::Sell,
        "190.00",
        1,
    )));
    d.run(Command::SubmitOrder(limit(
        a,
        "AAPL",
        Side::Buy,
        "190.00",
        1,
    )));
    d.run(Command::Withdraw {
        account: a,
        amount: usd(810),
    });
    assert_eq!(
        rejected(&d.run(erase.clone())),
        Some(RejectReason::AccountNotEmpty)
    );
    // A working order left: refused.
    d.run(Command::SubmitOrder(limit(
        a,
        "AAPL",
        Side::Sell,
        "200.00",
        1,
    )));
    assert_eq!(
        rejected(&d.run(erase.clone())),
        Some(RejectReason::AccountNotEmpty)
    );
    let buyer = d.funded(1_000);
    d.run(Command::SubmitOrder(limit(
        buyer,
        "AAPL",
        Side::Buy,
        "200.00",
        1,
    )));
    d.run(Command::Withdraw {
        account: a,
        amount: usd(200),
    });
    assert_eq!(d.engine.cash(a), Some((Cash::ZERO, Cash::ZERO)));
    // Empty: erased. Sessions end, the name is free, the profile keeps nothing personal.
    let ev = d.run(erase.clone());
    assert_eq!(rejected(&ev), None, "{ev:?}");
    assert!(
        ev.iter().any(|e| matches!(e, Event::SessionEnded { .. })),
        "{ev:?}"
    );
    assert!(
        ev.iter().any(|e| matches!(e, Event::PersonErased { .. })),
        "{ev:?}"
    );
    let p = d.engine.profiles().get(a).unwrap();
    assert!(p.erased && p.funding.banks.is_empty() && p.email.is_none());
    assert!(d.engine.identity().user("carol").is_none());
    // Once only; and the name can be taken again.
    assert_eq!(
        rejected(&d.run(erase)),
        Some(RejectReason::ErasureNotAllowed)
    );
    let ev = d.run(Command::RegisterUser {
        username: "carol".into(),
        password_hash: "$argon2id$fake".into(),
        role: bourse_core::Role::Trader,
    });
    assert_eq!(rejected(&ev), None, "{ev:?}");
    // The account's trading record is intact.
    let snap = d.engine.snapshot();
    assert_eq!(Engine::restore(snap.clone()).unwrap().snapshot(), snap);
}
