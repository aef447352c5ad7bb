//! A person's rights over their data: `GET /v1/me/export` returns everything the exchange
//! holds about the caller, as one JSON document (GDPR art. 15 and 20).
//!
//! Everything: identity and addresses (opened from their sealed form), security settings
//! (never a secret: no password hash, TOTP secret, recovery code, key or webhook secret),
//! notification preferences and webhooks, the account, positions and portfolio, every order
//! and activity the history holds, watchlists, alerts, and the audit log's entries about
//! the account.

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::{Actor, AuditKind, AuditQuery, Record};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ClientIp, SessionAuth};
use crate::readmodel::{ActivityFilter, OrderFilter, StatusFilter};
use crate::state::State;

/// Most orders, activities or audit entries one export holds of each (a bound on one
/// answer's size; far above any real account's history).
const MAX_ITEMS: usize = 1_000_000;

/// An address the exchange holds.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HeldAddress {
    address: String,
    verified: bool,
}

/// Everything about the caller.
#[derive(Serialize, ToSchema)]
pub(crate) struct Export {
    #[schema(value_type = String)]
    exported_at: String,
    account_id: String,
    username: Option<String>,
    email: Option<HeldAddress>,
    phone: Option<HeldAddress>,
    /// A new address waiting for its code.
    pending_address: Option<HeldAddress>,
    two_factor: bool,
    recovery_codes_left: usize,
    /// Devices that logged in (the exchange keeps a digest of each, nothing readable).
    devices: usize,
    last_device: String,
    #[schema(value_type = Object)]
    notification_preferences: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    webhooks: Vec<serde_json::Value>,
    /// Linked banks, with the full account number.
    banks: Vec<crate::funding::HeldBank>,
    /// Bank transfers the exchange still lists (all cash moved is in `activities`).
    #[schema(value_type = Vec<Object>)]
    transfers: serde_json::Value,
    #[schema(value_type = Object)]
    account: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    positions: serde_json::Value,
    #[schema(value_type = Object)]
    portfolio: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    orders: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    activities: Vec<serde_json::Value>,
    #[schema(value_type = Vec<Object>)]
    watchlists: serde_json::Value,
    #[schema(value_type = Vec<Object>)]
    alerts: serde_json::Value,
    /// The audit log's entries about the account, oldest first.
    audit: Vec<crate::audit::AuditEntry>,
}

fn json(v: impl Serialize) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// `GET /v1/me/export`: everything held about the caller, as one JSON document.
#[utoipa::path(
    get,
    path = "/v1/me/export",
    tag = "identity",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Everything held about the caller.", body = Export),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "SESSION_REQUIRED: from a password session only.",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "UNAVAILABLE: the history or the audit log cannot be \
         read now.", body = ErrorBody),
    )
)]
pub(crate) async fn export(
    axum::extract::State(s): State,
    SessionAuth(who): SessionAuth,
    ClientIp(ip): ClientIp,
) -> Result<Json<Export>, ApiError> {
    let account = crate::people::account_of(&who)?;
    let people = &s.0.people;
    let p = people.profiles.get(account).unwrap_or_default();
    let held = |c: &Option<bourse_core::profile::Contact>| {
        c.as_ref().map(|c| HeldAddress {
            address: people
                .vault
                .open_string(&c.sealed)
                .unwrap_or_else(|| "(sealed under another key)".into()),
            verified: c.verified,
        })
    };
    let history = &s.0.history;
    let mut orders = Vec::new();
    let mut filter = OrderFilter {
        status: StatusFilter::All,
        limit: Some(crate::readmodel::MAX_PAGE),
        ..OrderFilter::default()
    };
    loop {
        let page = history.orders(account, &filter).await?;
        orders.extend(page.items.iter().map(json));
        match page.next {
            Some(n) if orders.len() < MAX_ITEMS => filter.after = Some(n),
            _ => break,
        }
    }
    let mut activities = Vec::new();
    let mut filter = ActivityFilter {
        limit: Some(crate::readmodel::MAX_PAGE),
        ..ActivityFilter::default()
    };
    loop {
        let page = history.activities(account, &filter).await?;
        activities.extend(page.items.iter().map(json));
        match page.next {
            Some(n) if activities.len() < MAX_ITEMS => filter.after = Some(n),
            _ => break,
        }
    }
    let unavailable = crate::sidestore::unavailable("the audit log");
    let mut audit = Vec::new();
    let mut q = AuditQuery {
        account: Some(account.get()),
        limit: crate::audit::MAX_PAGE,
        ..AuditQuery::default()
    };
    loop {
        let page = people.audit.query(&q).await.map_err(unavailable)?;
        let last = page.last().map(|e| e.id);
        let full = page.len() >= crate::audit::MAX_PAGE;
        audit.extend(page);
        match last {
            Some(id) if full && audit.len() < MAX_ITEMS => q.before = Some(id),
            _ => break,
        }
    }
    audit.reverse();
    let export = Export {
        exported_at: crate::auth::now().to_rfc3339(),
        account_id: account.get().to_string(),
        username: s.0.directory.username_of(account),
        email: held(&p.email),
        phone: held(&p.phone),
        pending_address: held(&p.pending),
        two_factor: p.two_factor(),
        recovery_codes_left: p.recovery.len(),
        devices: p.devices.len(),
        last_device: p.last_device_label.clone(),
        notification_preferences: json(crate::notices::view(&p.prefs)),
        webhooks: p
            .webhooks
            .iter()
            .map(|w| json(crate::notices::hook_view(w, None)))
            .collect(),
        banks: p
            .funding
            .banks
            .iter()
            .map(|b| crate::funding::held_bank(&people.vault, b))
            .collect(),
        transfers: json(crate::funding::transfer_items(&p.funding)),
        account: json(history.account(account)),
        positions: json(history.positions(account)),
        portfolio: json(history.portfolio(account)),
        orders,
        activities,
        watchlists: json(s.0.watchlists.of(account)),
        alerts: json(s.0.alerts.of(account)),
        audit,
    };
    let r = Record::new(AuditKind::PersonalDataExported, Actor::Account(account)).ip(ip);
    people.audit.record(r).await;
    Ok(Json(export))
}

/// What an erasure did.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Erased {
    #[schema(value_type = crate::wire::AccountId)]
    account_id: String,
    /// The person's keys deleted: everything sealed with them is unreadable now.
    keys_deleted: usize,
}

/// `DELETE /v1/me`: erases the caller's personal data. The account must be empty (no cash,
/// shares, working orders or pending transfers). The user, its sessions and keys, the
/// addresses, second factor, devices, webhooks and banks go; the person's key is deleted,
/// so what was sealed with it (in the journal, snapshots, backups) is unreadable. Orders,
/// fills, activities and transfers stay under the account number, as the law requires.
#[utoipa::path(
    delete,
    path = "/v1/me",
    tag = "identity",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Erased.", body = Erased),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "SESSION_REQUIRED: from a password session only.",
         body = ErrorBody),
        (status = 422, description = "ACCOUNT_NOT_EMPTY (sell, cancel and withdraw \
         first), ERASURE_NOT_ALLOWED (a broker's or the operator's account).",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN; UNAVAILABLE: erased, but \
         the key store could not be written (the server deletes the key at its next start).",
         body = ErrorBody),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn erase(
    axum::extract::State(s): State,
    SessionAuth(who): SessionAuth,
    ClientIp(ip): ClientIp,
) -> Result<Json<Erased>, ApiError> {
    let account = crate::people::account_of(&who)?;
    let people = &s.0.people;
    // The keys the person's data is sealed with, as it is held now.
    let ids: Vec<crate::vault::KeyId> = people
        .profiles
        .get(account)
        .map(|p| {
            let contacts = [&p.email, &p.phone, &p.pending]
                .into_iter()
                .flatten()
                .map(|c| &c.sealed);
            let banks = p
                .funding
                .banks
                .iter()
                .flat_map(|b| [&b.holder, &b.number, &b.sealed_micro]);
            contacts
                .chain(banks)
                .filter_map(crate::vault::Vault::person_key_of)
                .collect()
        })
        .unwrap_or_default();
    let reply =
        s.0.gateway
            .execute(bourse_core::Command::ErasePerson { account })
            .await?;
    if let Some(e) = crate::error::first_reject(&reply.events) {
        return Err(e);
    }
    let deleted = people.keys.erase(Some(account), &ids).await;
    s.0.support.forget_person(account).await;
    let r = Record::new(AuditKind::PersonalDataErased, Actor::Account(account)).ip(ip);
    people.audit.record(r).await;
    let keys_deleted = deleted.map_err(crate::sidestore::unavailable("the key store"))?;
    Ok(Json(Erased {
        account_id: account.get().to_string(),
        keys_deleted,
    }))
}
