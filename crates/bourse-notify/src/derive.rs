//! From released events to deliveries: which notices an event makes, to whom and by which
//! channels (the person's preferences, verified addresses and webhooks, as of the command),
//! and the JSON body each carries.
//!
//! Deterministic: the same events and profiles give the same deliveries with the same
//! idempotency keys (`n-<seq>-<event index>-<channel>[-<webhook id>]`), so re-deriving after
//! a restart adds nothing that was already enqueued.
//!
//! Quiet rule: with `batch_partial_fills` (the default), partial fills go to in-app and
//! webhooks only; email and SMS hear of the order once, when it is filled (the notice
//! carries the whole quantity and the number of fills is in the order's history) or when it
//! ends unfilled.

use bourse_core::funding::Direction;
use bourse_core::profile::{Channel, CodePurpose, ContactKind, NoticeKind, Prefs, Profile, Sealed};
use bourse_core::{AccountId, CancelReason, Event, RejectReason, Tagged, UnixNanos};
use serde_json::{Value, json};

use crate::NewDelivery;

/// Email and SMS deliveries name which of the person's addresses they go to: the verified
/// one (notices), whichever there is (verification and reset codes), or the address waiting
/// to replace it (a change's code).
pub const ADDRESS_VERIFIED: u64 = 0;
pub const ADDRESS_ANY: u64 = 1;
pub const ADDRESS_PENDING: u64 = 2;

/// Appends the deliveries one command's events make. `profile` gives the account's profile
/// as it is after the command.
pub fn derive<'p>(
    seq: u64,
    ts: UnixNanos,
    events: &[Tagged],
    profile: &dyn Fn(AccountId) -> Option<&'p Profile>,
    out: &mut Vec<NewDelivery>,
) {
    for (i, t) in events.iter().enumerate() {
        if let Event::CodeIssued {
            account,
            purpose,
            kind,
        } = t.event
        {
            let Some(p) = profile(account) else { continue };
            let Some(code) = p.code(purpose) else {
                continue;
            };
            let channel = match kind {
                ContactKind::Email => Channel::Email,
                ContactKind::Phone => Channel::Sms,
            };
            // A code goes to the address it proves, verified or not (the new one, for a
            // change): see the `ADDRESS_*` endpoints.
            let endpoint = if purpose == CodePurpose::Change {
                ADDRESS_PENDING
            } else {
                ADDRESS_ANY
            };
            let key = format!("n-{seq}-{i}-{}", channel.name());
            let data = json!({
                "purpose": purpose.name(),
                "code_sealed": hex(&code.sealed_code),
                "contact": kind.name(),
            });
            out.push(delivery(
                seq,
                ts,
                account,
                "verification_code",
                channel,
                endpoint,
                key,
                data,
            ));
            continue;
        }
        let Some((account, kind, data)) = notice(&t.event, profile) else {
            continue;
        };
        let Some(p) = profile(account) else { continue };
        route(seq, ts, i, account, kind, &data, p, out);
    }
}

#[allow(clippy::too_many_arguments)]
fn route(
    seq: u64,
    ts: UnixNanos,
    i: usize,
    account: AccountId,
    kind: NoticeKind,
    data: &Value,
    p: &Profile,
    out: &mut Vec<NewDelivery>,
) {
    let prefs: &Prefs = &p.prefs;
    let channels = prefs.of(kind);
    let quiet = kind == NoticeKind::OrderPartiallyFilled && prefs.batch_partial_fills;
    for c in channels.channels() {
        match c {
            // The private WebSocket channels carry every event already.
            Channel::InApp => {}
            Channel::Email | Channel::Sms if quiet => {}
            Channel::Email | Channel::Sms => {
                let contact = if c == Channel::Email {
                    &p.email
                } else {
                    &p.phone
                };
                if contact.as_ref().is_some_and(|c| c.verified) {
                    let key = format!("n-{seq}-{i}-{}", c.name());
                    out.push(delivery(
                        seq,
                        ts,
                        account,
                        kind.name(),
                        c,
                        ADDRESS_VERIFIED,
                        key,
                        data.clone(),
                    ));
                }
            }
            Channel::Webhook => {
                for w in p.webhooks.iter().filter(|w| w.events.contains(kind)) {
                    let key = format!("n-{seq}-{i}-webhook-{}", w.id);
                    out.push(delivery(
                        seq,
                        ts,
                        account,
                        kind.name(),
                        c,
                        w.id,
                        key,
                        data.clone(),
                    ));
                }
            }
        }
    }
}

/// The notice an event is, if any: whose, of which kind, and its `data`.
fn notice<'p>(
    e: &Event,
    profile: &dyn Fn(AccountId) -> Option<&'p Profile>,
) -> Option<(AccountId, NoticeKind, Value)> {
    Some(match *e {
        Event::OrderFilled {
            order_id,
            account,
            symbol,
            side,
            trade_id,
            last_px,
            last_qty,
            cum_qty,
            leaves_qty,
            ..
        } => {
            let kind = if leaves_qty.is_zero() {
                NoticeKind::OrderFilled
            } else {
                NoticeKind::OrderPartiallyFilled
            };
            (
                account,
                kind,
                json!({
                    "order_id": order_id.to_string(),
                    "symbol": symbol.as_str(),
                    "side": side,
                    "trade_id": trade_id.to_string(),
                    "last_qty": last_qty.to_string(),
                    "last_price": last_px.to_string(),
                    "cum_qty": cum_qty.to_string(),
                    "leaves_qty": leaves_qty.to_string(),
                }),
            )
        }
        Event::OrderCanceled {
            order_id,
            account,
            symbol,
            side,
            qty,
            reason,
            ..
        } => {
            let kind = if reason == CancelReason::Expired {
                NoticeKind::OrderExpired
            } else {
                NoticeKind::OrderCanceled
            };
            (
                account,
                kind,
                json!({
                    "order_id": order_id.to_string(),
                    "symbol": symbol.as_str(),
                    "side": side,
                    "canceled_qty": qty.to_string(),
                    "reason": reason.code(),
                }),
            )
        }
        Event::Rejected {
            account: Some(account),
            order_id: Some(order_id),
            client_order_id,
            reason,
        } if !matches!(
            reason,
            RejectReason::UnknownOrder | RejectReason::ResentOrder
        ) =>
        {
            (
                account,
                NoticeKind::OrderRejected,
                json!({
                    "order_id": order_id.to_string(),
                    "client_order_id": client_order_id.map(|c| c.to_string()),
                    "reason": reason.code(),
                }),
            )
        }
        Event::AlertTriggered {
            alert_id,
            account,
            symbol,
            condition,
            price,
            trade_price,
        } => (
            account,
            NoticeKind::PriceAlert,
            json!({
                "alert_id": alert_id.to_string(),
                "symbol": symbol.as_str(),
                "condition": condition,
                "price": price.to_string(),
                "trade_price": trade_price.to_string(),
            }),
        ),
        Event::CashDeposited {
            account,
            amount,
            balance,
        } => (
            account,
            NoticeKind::Deposit,
            json!({"amount": amount.to_string(), "balance": balance.to_string()}),
        ),
        Event::CashWithdrawn {
            account,
            amount,
            balance,
        } => (
            account,
            NoticeKind::Withdrawal,
            json!({"amount": amount.to_string(), "balance": balance.to_string()}),
        ),
        Event::TransferChanged {
            account,
            transfer,
            direction,
            status,
            amount,
            moved,
            balance,
        } => (
            account,
            match direction {
                Direction::Deposit => NoticeKind::Deposit,
                Direction::Withdrawal => NoticeKind::Withdrawal,
            },
            json!({
                "transfer_id": transfer.to_string(),
                "status": status.name(),
                "amount": amount.to_string(),
                "moved": moved.to_string(),
                "balance": balance.to_string(),
                "return_code": profile(account).and_then(|p| {
                    p.funding.transfers.iter().find(|t| t.id == transfer)
                        .and_then(|t| t.return_code).map(|c| c.code())
                }),
            }),
        ),
        Event::NewDeviceLogIn { account } => (
            account,
            NoticeKind::LogIn,
            json!({"device": profile(account).map(|p| p.last_device_label.clone()).unwrap_or_default()}),
        ),
        Event::SecurityChanged { account, change } => (
            account,
            NoticeKind::SecurityChange,
            json!({"change": change.name()}),
        ),
        _ => return None,
    })
}

#[allow(clippy::too_many_arguments)]
fn delivery(
    seq: u64,
    ts: UnixNanos,
    account: AccountId,
    kind: &str,
    channel: Channel,
    endpoint: u64,
    key: String,
    data: Value,
) -> NewDelivery {
    let payload = json!({
        "id": key,
        "type": kind,
        "created_at": ts.to_rfc3339(),
        "account_id": account.get().to_string(),
        "data": data,
    });
    NewDelivery {
        key,
        seq,
        account: account.get(),
        kind: kind.to_owned(),
        channel,
        endpoint,
        payload,
        created_at_ns: ts.get(),
    }
}

fn hex(s: &Sealed) -> String {
    s.0.iter().map(|b| format!("{b:02x}")).collect()
}
