//! Profiles as engine state: sign-up by address and its verification gate, one-time codes
//! (single use, expiry, rate limit), password reset, change of address, TOTP steps and
//! recovery codes taken once, new-device log-ins, preferences and webhooks; and that a
//! snapshot carries all of it.
#![allow(clippy::unwrap_used)]

mod common;

use bourse_core::profile::{
    CodePurpose, Contact, ContactKind, Device, Factor, KindSet, NewCode, NoticeKind, Prefs, Sealed,
    SecurityChange,
};
use bourse_core::{
    AccountId, Cash, Command, Event, RejectReason, SecretHash, Seq, Sequenced, Side, UnixNanos,
};
use bourse_engine::{Engine, EngineConfig};
use common::{instruments, limit};

const SEC: u64 = 1_000_000_000;

struct At {
    engine: Engine,
    seq: u64,
    now: u64,
}

impl At {
    fn new() -> Self {
        At {
            engine: Engine::new(EngineConfig::default(), instruments()).unwrap(),
            seq: 0,
            now: 1_700_000_000 * SEC,
        }
    }

    /// Runs `cmd` `secs` seconds after the previous one.
    fn run(&mut self, secs: u64, cmd: Command) -> Vec<Event> {
        self.seq += 1;
        self.now += secs * SEC;
        let mut out = Vec::new();
        self.engine.apply(
            &Sequenced {
                seq: Seq(self.seq),
                ts: UnixNanos::new(self.now),
                cmd,
            },
            &mut out,
        );
        self.engine.check_invariants().unwrap();
        out
    }
}

fn h(n: u8) -> SecretHash {
    SecretHash([n; 32])
}

fn contact(kind: ContactKind, n: u8) -> Box<Contact> {
    Box::new(Contact {
        kind,
        lookup: h(n),
        sealed: Sealed(vec![n; 8]),
        verified: true, // the engine must not believe it
    })
}

fn code(purpose: CodePurpose, kind: ContactKind, n: u8, expires_at: u64) -> Box<NewCode> {
    Box::new(NewCode {
        purpose,
        kind,
        digest: h(n),
        sealed_code: Sealed(vec![n]),
        expires_at: UnixNanos::new(expires_at),
    })
}

fn rejected(ev: &[Event]) -> Option<RejectReason> {
    ev.iter().find_map(|e| match e {
        Event::Rejected { reason, .. } => Some(*reason),
        _ => None,
    })
}

fn changes(ev: &[Event]) -> Vec<SecurityChange> {
    ev.iter()
        .filter_map(|e| match e {
            Event::SecurityChanged { change, .. } => Some(*change),
            _ => None,
        })
        .collect()
}

fn sign_up(t: &mut At, name: &str, n: u8) -> AccountId {
    let exp = t.now + 600 * SEC;
    let ev = t.run(
        60,
        Command::RegisterWithContact {
            username: name.into(),
            password_hash: "phc".into(),
            contact: (contact(ContactKind::Email, n)),
            code: (code(CodePurpose::Verify, ContactKind::Email, 100 + n, exp)),
        },
    );
    assert!(
        ev.iter().any(|e| matches!(
            e,
            Event::CodeIssued {
                purpose: CodePurpose::Verify,
                ..
            }
        )),
        "{ev:?}"
    );
    ev.iter()
        .find_map(|e| match e {
            Event::UserRegistered { account, .. } => Some(*account),
            _ => None,
        })
        .unwrap()
}

#[test]
fn an_unverified_sign_up_cannot_trade_or_withdraw_until_its_code_comes_back() {
    let mut t = At::new();
    let a = sign_up(&mut t, "ann", 1);
    let p = t.engine.profiles().get(a).unwrap();
    assert!(!p.email.as_ref().unwrap().verified);
    assert_eq!(t.engine.profiles().account_by_lookup(&h(1)), Some(a));
    // The same address again is taken.
    let ev = t.run(
        60,
        Command::RegisterWithContact {
            username: "ann2".into(),
            password_hash: "phc".into(),
            contact: contact(ContactKind::Email, 1),
            code: code(
                CodePurpose::Verify,
                ContactKind::Email,
                9,
                t.now + 600 * SEC,
            ),
        },
    );
    assert_eq!(rejected(&ev), Some(RejectReason::ContactTaken));
    t.run(
        1,
        Command::Deposit {
            account: a,
            amount: Cash::from_dollars(1_000).unwrap(),
        },
    );
    let order = Command::SubmitOrder(limit(a, "AAPL", Side::Buy, "190.00", 1));
    assert_eq!(
        rejected(&t.run(1, order.clone())),
        Some(RejectReason::ContactNotVerified)
    );
    let w = Command::Withdraw {
        account: a,
        amount: Cash::from_dollars(1).unwrap(),
    };
    assert_eq!(
        rejected(&t.run(1, w.clone())),
        Some(RejectReason::ContactNotVerified)
    );
    // A wrong code, then the right one; the right one again is used up.
    let confirm = |n| Command::ConfirmCode {
        account: a,
        purpose: CodePurpose::Verify,
        digest: h(n),
        password_hash: None,
    };
    assert_eq!(
        rejected(&t.run(1, confirm(7))),
        Some(RejectReason::CodeInvalid)
    );
    let ev = t.run(1, confirm(101));
    assert_eq!(changes(&ev), [SecurityChange::ContactVerified]);
    assert_eq!(
        rejected(&t.run(1, confirm(101))),
        Some(RejectReason::CodeInvalid)
    );
    assert_eq!(rejected(&t.run(1, order)), None);
    assert_eq!(rejected(&t.run(1, w)), None);
}

#[test]
fn codes_expire_and_are_rate_limited_by_the_commands_time() {
    let mut t = At::new();
    let a = sign_up(&mut t, "bob", 2);
    // One was sent at sign-up: another 31 s later is fine, 10 s after that too soon.
    let again = |t: &At, n| Command::IssueCode {
        account: a,
        code: code(
            CodePurpose::Verify,
            ContactKind::Email,
            n,
            t.now + 600 * SEC,
        ),
        new_contact: None,
    };
    let c = again(&t, 3);
    assert_eq!(rejected(&t.run(31, c)), None);
    let c = again(&t, 4);
    assert_eq!(rejected(&t.run(10, c)), Some(RejectReason::CodeRateLimited));
    let c = again(&t, 5);
    assert_eq!(rejected(&t.run(31, c)), None);
    // The newest replaced the older: 3 no longer works.
    let confirm = |n| Command::ConfirmCode {
        account: a,
        purpose: CodePurpose::Verify,
        digest: h(n),
        password_hash: None,
    };
    assert_eq!(
        rejected(&t.run(1, confirm(3))),
        Some(RejectReason::CodeInvalid)
    );
    // Ten an hour at most.
    let mut refused = 0;
    for i in 0..12u8 {
        let c = again(&t, 20 + i);
        if rejected(&t.run(31, c)) == Some(RejectReason::CodeRateLimited) {
            refused += 1;
        }
    }
    assert!(refused >= 3, "{refused}");
    // Expired: issued 600 s ago.
    let c = again(&t, 50);
    t.run(3_600, c);
    assert_eq!(
        rejected(&t.run(601, confirm(50))),
        Some(RejectReason::CodeInvalid)
    );
    // A phone the account does not have gets no code.
    let c = Command::IssueCode {
        account: a,
        code: code(
            CodePurpose::Verify,
            ContactKind::Phone,
            60,
            t.now + 600 * SEC,
        ),
        new_contact: None,
    };
    assert_eq!(rejected(&t.run(60, c)), Some(RejectReason::NoSuchContact));
}

#[test]
fn a_password_reset_ends_every_session_and_a_change_of_address_moves_the_lookup() {
    let mut t = At::new();
    let a = sign_up(&mut t, "cat", 3);
    let login = |n| Command::LogIn {
        account: a,
        token: h(n),
        expires_at: UnixNanos::new(u64::MAX),
        factor: Factor::None,
        device: Box::new(Device {
            id: h(n),
            label: format!("device {n}"),
        }),
    };
    let ev = t.run(1, login(30));
    assert!(
        !ev.iter().any(|e| matches!(e, Event::NewDeviceLogIn { .. })),
        "the first device is not news"
    );
    let ev = t.run(1, login(31));
    assert!(ev.iter().any(|e| matches!(e, Event::NewDeviceLogIn { .. })));
    assert_eq!(
        t.engine.profiles().get(a).unwrap().last_device_label,
        "device 31"
    );
    let ev = t.run(1, login(31));
    assert!(!ev.iter().any(|e| matches!(e, Event::NewDeviceLogIn { .. })));
    let reset = Command::IssueCode {
        account: a,
        code: code(
            CodePurpose::Reset,
            ContactKind::Email,
            40,
            t.now + 700 * SEC,
        ),
        new_contact: None,
    };
    t.run(60, reset);
    let ev = t.run(
        1,
        Command::ConfirmCode {
            account: a,
            purpose: CodePurpose::Reset,
            digest: h(40),
            password_hash: Some("new".into()),
        },
    );
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Event::SessionEnded { .. }))
            .count(),
        2,
        "{ev:?}"
    );
    assert_eq!(changes(&ev), [SecurityChange::PasswordReset]);
    assert_eq!(
        t.engine.identity().user("cat").unwrap().password_hash,
        "new"
    );
    // Change of email: the new address is held by the account while pending, replaces the
    // old one once confirmed.
    let b = sign_up(&mut t, "dan", 4);
    let change = |to: u8, n: u8, t: &At| Command::IssueCode {
        account: a,
        code: code(
            CodePurpose::Change,
            ContactKind::Email,
            n,
            t.now + 700 * SEC,
        ),
        new_contact: Some(contact(ContactKind::Email, to)),
    };
    let c = change(4, 41, &t);
    assert_eq!(
        rejected(&t.run(60, c)),
        Some(RejectReason::ContactTaken),
        "dan's address"
    );
    let c = change(5, 42, &t);
    assert_eq!(rejected(&t.run(60, c)), None);
    assert_eq!(t.engine.profiles().account_by_lookup(&h(5)), Some(a));
    let ev = t.run(
        1,
        Command::ConfirmCode {
            account: a,
            purpose: CodePurpose::Change,
            digest: h(42),
            password_hash: None,
        },
    );
    assert_eq!(changes(&ev), [SecurityChange::EmailChanged]);
    let p = t.engine.profiles().get(a).unwrap();
    assert_eq!(p.email.as_ref().unwrap().lookup, h(5));
    assert!(p.email.as_ref().unwrap().verified);
    assert_eq!(t.engine.profiles().account_by_lookup(&h(3)), None);
    assert_eq!(t.engine.profiles().account_by_lookup(&h(4)), Some(b));
}

#[test]
fn a_totp_step_and_a_recovery_code_are_each_taken_once() {
    let mut t = At::new();
    let a = sign_up(&mut t, "eve", 6);
    assert_eq!(
        rejected(&t.run(
            1,
            Command::EnableTotp {
                account: a,
                step: 5,
                recovery: vec![]
            }
        )),
        Some(RejectReason::TwoFactorNotEnrolled)
    );
    t.run(
        1,
        Command::EnrolTotp {
            account: a,
            sealed_secret: Sealed(vec![1, 2]),
        },
    );
    let ev = t.run(
        1,
        Command::EnableTotp {
            account: a,
            step: 100,
            recovery: vec![h(70), h(71)],
        },
    );
    assert_eq!(changes(&ev), [SecurityChange::TwoFactorEnabled]);
    let login = |factor| Command::LogIn {
        account: a,
        token: h(80),
        expires_at: UnixNanos::new(u64::MAX),
        factor,
        device: Box::new(Device {
            id: h(80),
            label: String::new(),
        }),
    };
    assert_eq!(
        rejected(&t.run(1, login(Factor::None))),
        Some(RejectReason::SecondFactorInvalid)
    );
    assert_eq!(
        rejected(&t.run(1, login(Factor::Totp { step: 100 }))),
        Some(RejectReason::SecondFactorInvalid),
        "the enrolment's step"
    );
    assert_eq!(rejected(&t.run(1, login(Factor::Totp { step: 101 }))), None);
    assert_eq!(
        rejected(&t.run(1, login(Factor::Totp { step: 101 }))),
        Some(RejectReason::SecondFactorInvalid),
        "replayed"
    );
    let ev = t.run(1, login(Factor::Recovery { digest: h(70) }));
    assert_eq!(rejected(&ev), None);
    assert_eq!(changes(&ev), [SecurityChange::RecoveryCodeUsed]);
    assert_eq!(
        rejected(&t.run(1, login(Factor::Recovery { digest: h(70) }))),
        Some(RejectReason::SecondFactorInvalid)
    );
    let ev = t.run(
        1,
        Command::DisableTotp {
            account: a,
            factor: Factor::Totp { step: 102 },
        },
    );
    assert_eq!(changes(&ev), [SecurityChange::TwoFactorDisabled]);
    assert_eq!(rejected(&t.run(1, login(Factor::None))), None);
}

#[test]
fn preferences_and_webhooks_and_a_snapshot_that_carries_them() {
    let mut t = At::new();
    let a = sign_up(&mut t, "fay", 7);
    let b = sign_up(&mut t, "gus", 8);
    let prefs = Prefs {
        batch_partial_fills: false,
        ..Prefs::default()
    };
    t.run(
        1,
        Command::SetNotificationPrefs {
            account: a,
            prefs: prefs.clone(),
        },
    );
    let hook = |acc, url: &str, events| Command::CreateWebhook {
        account: acc,
        url: url.into(),
        events,
        sealed_secret: Sealed(vec![9]),
    };
    assert_eq!(
        rejected(&t.run(1, hook(a, "", KindSet::ALL))),
        Some(RejectReason::InvalidWebhook)
    );
    assert_eq!(
        rejected(&t.run(1, hook(a, "https://x", KindSet(0)))),
        Some(RejectReason::InvalidWebhook)
    );
    let mut ids = vec![];
    for _ in 0..10 {
        t.run(
            1,
            hook(
                a,
                "https://example.com/h",
                KindSet::default().with(NoticeKind::OrderFilled),
            ),
        );
        ids.push(
            t.engine
                .profiles()
                .get(a)
                .unwrap()
                .webhooks
                .last()
                .unwrap()
                .id,
        );
    }
    assert_eq!(
        rejected(&t.run(1, hook(a, "https://x", KindSet::ALL))),
        Some(RejectReason::TooManyWebhooks)
    );
    t.run(1, hook(b, "https://b", KindSet::ALL));
    let bid = t.engine.profiles().get(b).unwrap().webhooks[0].id;
    assert!(!ids.contains(&bid), "webhook ids are exchange-wide");
    assert_eq!(
        rejected(&t.run(
            1,
            Command::DeleteWebhook {
                account: a,
                webhook_id: bid
            }
        )),
        Some(RejectReason::UnknownWebhook),
        "another's"
    );
    assert_eq!(
        changes(&t.run(
            1,
            Command::DeleteWebhook {
                account: a,
                webhook_id: ids[0]
            }
        )),
        [SecurityChange::WebhookDeleted]
    );
    // A restore from the snapshot is the same state, indexes included.
    let snap = t.engine.snapshot();
    let restored = Engine::restore(snap).unwrap();
    assert_eq!(
        restored.state_hash().unwrap(),
        t.engine.state_hash().unwrap()
    );
    assert_eq!(restored.profiles(), t.engine.profiles());
    assert_eq!(restored.profiles().account_by_lookup(&h(8)), Some(b));
    assert!(restored.profiles().is_unverified(a));
    assert!(
        !restored
            .profiles()
            .get(a)
            .unwrap()
            .prefs
            .batch_partial_fills
    );
}
