//! What the identity and notification routes share: the profile book, the data key, the
//! failure counts, and the notifier's delivery log (behind [`Notifications`], implemented by
//! the server over `bourse-notify`, so this crate does not depend on the delivery machinery).

use std::sync::Arc;

use bourse_core::profile::{CodePurpose, Contact, ContactKind, NewCode};
use bourse_core::{AccountId, Command, UnixNanos};
use futures_util::future::BoxFuture;

use crate::auth::now;
use crate::error::{ApiError, first_reject};
use crate::lockout::Lockout;
use crate::profilebook::ProfileBook;
use crate::state::AppState;
use crate::vault::{Vault, normalize_email, normalize_phone};

/// How long a one-time code is good for.
pub const CODE_TTL_SECS: u64 = 600;

/// The delivery log of the notifier, as the routes need it.
pub trait Notifications: Send + Sync + 'static {
    /// Whether a webhook may point there (`Err` says why not).
    fn check_url(&self, url: &str) -> Result<(), &'static str>;
    /// The account's deliveries (to one webhook, or all), newest first, as JSON objects.
    fn deliveries(
        &self,
        account: AccountId,
        webhook: Option<u64>,
        status: Option<String>,
        before: Option<i64>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<serde_json::Value>, String>>;
    /// One dead delivery of the account's back to pending; `false` if none such.
    fn replay(&self, account: AccountId, id: i64) -> BoxFuture<'_, Result<bool, String>>;
    /// Every dead delivery to one of the account's webhooks back to pending.
    fn replay_dead(&self, account: AccountId, webhook: u64) -> BoxFuture<'_, Result<u64, String>>;
}

/// Notifications off (no delivery log): webhooks may still be registered (HTTPS only).
#[derive(Debug)]
pub struct NoNotifications;

impl Notifications for NoNotifications {
    fn check_url(&self, url: &str) -> Result<(), &'static str> {
        if url.starts_with("https://") && url.len() <= bourse_core::profile::MAX_WEBHOOK_URL {
            Ok(())
        } else {
            Err("webhooks need an https:// URL")
        }
    }
    fn deliveries(
        &self,
        _: AccountId,
        _: Option<u64>,
        _: Option<String>,
        _: Option<i64>,
        _: u32,
    ) -> BoxFuture<'_, Result<Vec<serde_json::Value>, String>> {
        Box::pin(async { Ok(Vec::new()) })
    }
    fn replay(&self, _: AccountId, _: i64) -> BoxFuture<'_, Result<bool, String>> {
        Box::pin(async { Ok(false) })
    }
    fn replay_dead(&self, _: AccountId, _: u64) -> BoxFuture<'_, Result<u64, String>> {
        Box::pin(async { Ok(0) })
    }
}

/// The identity and notification services.
#[derive(Clone)]
pub struct People {
    pub profiles: Arc<ProfileBook>,
    pub vault: Arc<Vault>,
    pub notifications: Arc<dyn Notifications>,
    pub lockout: Arc<Lockout>,
    /// Security events and operators' actions.
    pub audit: Arc<crate::audit::AuditLog>,
    /// Each person's own key (their data is sealed with it; erasure deletes it).
    pub keys: Arc<crate::personkeys::PersonKeys>,
}

impl People {
    /// For a router that serves no identity route (an edge, tests): an empty book and a
    /// key nothing is sealed with.
    #[must_use]
    pub fn inert() -> People {
        People {
            profiles: Arc::default(),
            vault: Arc::new(Vault::new(&[0; 32])),
            notifications: Arc::new(NoNotifications),
            lockout: Arc::default(),
            audit: Arc::new(crate::audit::AuditLog::memory()),
            keys: Arc::new(crate::personkeys::PersonKeys::memory(Arc::new(Vault::new(
                &[0; 32],
            )))),
        }
    }
}

impl std::fmt::Debug for People {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("People").finish_non_exhaustive()
    }
}

/// An address as a request gives it: exactly one of `email` and `phone`.
pub(crate) fn address(
    email: Option<&str>,
    phone: Option<&str>,
) -> Result<(ContactKind, String), ApiError> {
    match (email, phone) {
        (Some(e), None) => normalize_email(e)
            .map(|n| (ContactKind::Email, n))
            .ok_or_else(|| ApiError::unprocessable("INVALID_EMAIL", "not an email address")),
        (None, Some(p)) => normalize_phone(p)
            .map(|n| (ContactKind::Phone, n))
            .ok_or_else(|| {
                ApiError::unprocessable(
                    "INVALID_PHONE",
                    "phone numbers are in E.164: '+', the country code and the number",
                )
            }),
        _ => Err(ApiError::unprocessable(
            "INVALID_FIELD",
            "give exactly one of email and phone",
        )),
    }
}

/// A digested address for a command, sealed with the person's key `key`.
pub(crate) fn contact(
    v: &Vault,
    key: crate::vault::KeyId,
    kind: ContactKind,
    normalized: &str,
) -> Contact {
    Contact {
        kind,
        lookup: v.lookup(kind, normalized),
        sealed: v.seal_for(Some(key), normalized.as_bytes()),
        verified: false,
    }
}

/// The person's key (made and stored first if they have none); `503 UNAVAILABLE` if the
/// key store cannot be written, as nothing of theirs may be sealed without it.
pub(crate) async fn key_of(
    s: &crate::state::AppState,
    account: Option<AccountId>,
) -> Result<crate::vault::KeyId, ApiError> {
    s.0.people
        .keys
        .key_for(account)
        .await
        .map_err(crate::sidestore::unavailable("the key store"))
}

/// Six random digits.
pub(crate) fn random_code() -> Result<String, ApiError> {
    loop {
        let mut b = [0u8; 4];
        getrandom::fill(&mut b).map_err(|_| internal())?;
        let n = u32::from_le_bytes(b);
        // Rejection sampling: every code equally likely.
        if n < 4_294_000_000 {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

pub(crate) fn internal() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL",
        "no randomness available",
    )
}

/// A new code for the `kind` address whose lookup digest is `to`, sealed for the notifier
/// and digested for the engine.
pub(crate) fn new_code(
    v: &Vault,
    to: &bourse_core::SecretHash,
    purpose: CodePurpose,
    kind: ContactKind,
) -> Result<NewCode, ApiError> {
    let code = random_code()?;
    let ttl = CODE_TTL_SECS * 1_000_000_000;
    Ok(NewCode {
        purpose,
        kind,
        digest: v.code_digest(to, purpose, &code),
        sealed_code: v.seal(code.as_bytes()),
        expires_at: UnixNanos::new(now().get().saturating_add(ttl)),
    })
}

/// Sends a code to the address `to` (the engine rate-limits, and refuses addresses the
/// account lacks).
pub(crate) async fn issue(
    s: &AppState,
    account: AccountId,
    purpose: CodePurpose,
    kind: ContactKind,
    to: &bourse_core::SecretHash,
    new_contact: Option<Contact>,
) -> Result<(), ApiError> {
    let code = new_code(&s.0.people.vault, to, purpose, kind)?;
    let reply =
        s.0.gateway
            .execute(Command::IssueCode {
                account,
                code: Box::new(code),
                new_contact: new_contact.map(Box::new),
            })
            .await?;
    match first_reject(&reply.events) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// The caller's account: `403` for the operator token, which has no person.
pub(crate) fn account_of(who: &crate::auth::Principal) -> Result<AccountId, ApiError> {
    who.account
        .ok_or_else(|| ApiError::forbidden("log in as the account's user"))
}

/// `401 SECOND_FACTOR_INVALID`: a wrong, used or replayed second factor.
pub(crate) fn second_factor_invalid() -> ApiError {
    let r = bourse_core::RejectReason::SecondFactorInvalid;
    ApiError::new(axum::http::StatusCode::UNAUTHORIZED, r.code(), r.message())
}

/// `429 TOO_MANY_ATTEMPTS` if the account must wait.
pub(crate) fn not_locked(s: &AppState, account: AccountId) -> Result<(), ApiError> {
    s.0.people.lockout.check(account).map_err(|secs| {
        let mut e = ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "TOO_MANY_ATTEMPTS",
            format!("too many failed attempts; try again in {secs} s"),
        );
        e.retry_after = Some(u32::try_from(secs).unwrap_or(u32::MAX));
        e
    })
}
