//! Addresses: verifying one with its code, sending another code, resetting a forgotten
//! password by a code, changing an email address or phone number (re-verified before it
//! replaces the old one), and `GET /v1/me`.
//!
//! Routes that take an address without a credential answer the same whether or not it is
//! registered (`202`), so they cannot be used to find out who has an account.

use crate::audit::{Actor, AuditKind, Record};
use axum::Json;
use axum::http::StatusCode;
use bourse_core::profile::CodePurpose;
use bourse_core::{Command, RejectReason};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::password_shape_problem;
use crate::error::{ApiError, ErrorBody, first_reject};
use crate::extract::{Auth, JsonBody, SessionAuth};
use crate::people::{address, contact, issue, not_locked};
use crate::state::State;
use crate::wire;

/// A code sent back for an address.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ann@example.com", "code": "123456"}))]
pub(crate) struct Verify {
    #[schema(max_length = 254)]
    email: Option<String>,
    /// E.164, e.g. `+14155550100`.
    #[schema(max_length = 32)]
    phone: Option<String>,
    /// The six digits sent.
    #[schema(pattern = "^[0-9]{6}$")]
    code: String,
}

/// An address verified.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Verified {
    verified: bool,
    /// `email` or `phone`.
    contact: &'static str,
}

fn code_invalid() -> ApiError {
    ApiError::rejected(RejectReason::CodeInvalid)
}

/// `POST /v1/users/verify`: confirms an address (at sign-up, or a new one after a change)
/// with the code sent to it.
#[utoipa::path(
    post,
    path = "/v1/users/verify",
    tag = "identity",
    request_body = Verify,
    responses(
        (status = 200, description = "Verified, once durable.", body = Verified),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD, INVALID_EMAIL, INVALID_PHONE, CODE_INVALID \
         (wrong, used, expired, or no such address).", body = ErrorBody),
        (status = 429, description = "TOO_MANY_ATTEMPTS, RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn verify(
    axum::extract::State(s): State,
    JsonBody(body): JsonBody<Verify>,
) -> Result<Json<Verified>, ApiError> {
    let (kind, addr) = address(body.email.as_deref(), body.phone.as_deref())?;
    let people = &s.0.people;
    let lookup = people.vault.lookup(kind, &addr);
    let account = people
        .profiles
        .account_by_lookup(&lookup)
        .ok_or_else(code_invalid)?;
    not_locked(&s, account)?;
    let profile = people.profiles.get(account).ok_or_else(code_invalid)?;
    // The address waiting for a change code, or one of the account's own.
    let purpose = match &profile.pending {
        Some(c) if c.lookup == lookup => CodePurpose::Change,
        _ => CodePurpose::Verify,
    };
    let digest = people.vault.code_digest(&lookup, purpose, body.code.trim());
    // Checked here first: a wrong guess costs the guesser, not the journal.
    if profile.code(purpose).is_none_or(|c| c.digest != digest) {
        people.lockout.failed(account);
        return Err(code_invalid());
    }
    let reply =
        s.0.gateway
            .execute(Command::ConfirmCode {
                account,
                purpose,
                digest,
                password_hash: None,
            })
            .await?;
    if let Some(e) = first_reject(&reply.events) {
        people.lockout.failed(account);
        return Err(e);
    }
    people.lockout.succeeded(account);
    Ok(Json(Verified {
        verified: true,
        contact: kind.name(),
    }))
}

/// An address to send a code to.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ann@example.com"}))]
pub(crate) struct AddressOnly {
    #[schema(max_length = 254)]
    email: Option<String>,
    #[schema(max_length = 32)]
    phone: Option<String>,
}

/// Accepted: a code goes out if the address is registered.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Accepted {
    accepted: bool,
}

/// `POST /v1/users/verify/resend`: sends a new verification code to an unverified address.
#[utoipa::path(
    post,
    path = "/v1/users/verify/resend",
    tag = "identity",
    request_body = AddressOnly,
    responses(
        (status = 202, description = "A code goes out if the address is registered and \
         unverified (the answer is the same either way).", body = Accepted),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD, INVALID_EMAIL, INVALID_PHONE.",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn resend(
    axum::extract::State(s): State,
    JsonBody(body): JsonBody<AddressOnly>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let (kind, addr) = address(body.email.as_deref(), body.phone.as_deref())?;
    let people = &s.0.people;
    let lookup = people.vault.lookup(kind, &addr);
    if let Some(account) = people.profiles.account_by_lookup(&lookup)
        && let Some(p) = people.profiles.get(account)
        && p.contact(kind)
            .is_some_and(|c| c.lookup == lookup && !c.verified)
    {
        quietly(issue(&s, account, CodePurpose::Verify, kind, &lookup, None).await)?;
    }
    Ok(accepted())
}

fn accepted() -> (StatusCode, Json<Accepted>) {
    (StatusCode::ACCEPTED, Json(Accepted { accepted: true }))
}

/// Engine refusals (rate limit, no such address) are not told to an anonymous caller;
/// failures to get an answer at all are.
fn quietly(r: Result<(), ApiError>) -> Result<(), ApiError> {
    match r {
        Err(e) if e.status.is_server_error() => Err(e),
        _ => Ok(()),
    }
}

/// `POST /v1/password-resets`: sends a password-reset code to a registered address.
#[utoipa::path(
    post,
    path = "/v1/password-resets",
    tag = "identity",
    request_body = AddressOnly,
    responses(
        (status = 202, description = "A code goes out if the address is registered (the answer \
         is the same either way).", body = Accepted),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD, INVALID_EMAIL, INVALID_PHONE.",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn start_reset(
    axum::extract::State(s): State,
    crate::extract::ClientIp(ip): crate::extract::ClientIp,
    JsonBody(body): JsonBody<AddressOnly>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let (kind, addr) = address(body.email.as_deref(), body.phone.as_deref())?;
    let people = &s.0.people;
    let lookup = people.vault.lookup(kind, &addr);
    if let Some(account) = people.profiles.account_by_lookup(&lookup)
        && people
            .profiles
            .get(account)
            .and_then(|p| p.contact(kind).map(|c| c.lookup == lookup))
            == Some(true)
    {
        quietly(issue(&s, account, CodePurpose::Reset, kind, &lookup, None).await)?;
        // Only for a known address: the entry names the account, never the address.
        let r = Record::new(AuditKind::PasswordResetRequested, Actor::Anonymous)
            .account(account)
            .ip(ip)
            .detail("via", kind.name());
        s.0.people.audit.record(r).await;
    }
    Ok(accepted())
}

/// A reset code and the new password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ann@example.com", "code": "123456",
                          "password": "a new correct horse"}))]
pub(crate) struct Reset {
    #[schema(max_length = 254)]
    email: Option<String>,
    #[schema(max_length = 32)]
    phone: Option<String>,
    #[schema(pattern = "^[0-9]{6}$")]
    code: String,
    #[schema(min_length = 8, max_length = 128)]
    password: String,
}

/// `POST /v1/password-resets/confirm`: sets a new password with the code; every session of
/// the account ends.
#[utoipa::path(
    post,
    path = "/v1/password-resets/confirm",
    tag = "identity",
    request_body = Reset,
    responses(
        (status = 204, description = "The password is changed and every session ended, once \
         durable."),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD, INVALID_EMAIL, INVALID_PHONE, \
         INVALID_PASSWORD, CODE_INVALID.", body = ErrorBody),
        (status = 429, description = "TOO_MANY_ATTEMPTS, RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 500, description = "INTERNAL: the password could not be hashed.",
         body = ErrorBody),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn confirm_reset(
    axum::extract::State(s): State,
    crate::extract::ClientIp(ip): crate::extract::ClientIp,
    JsonBody(body): JsonBody<Reset>,
) -> Result<StatusCode, ApiError> {
    let (kind, addr) = address(body.email.as_deref(), body.phone.as_deref())?;
    if let Some(problem) = password_shape_problem(&body.password) {
        return Err(ApiError::unprocessable("INVALID_PASSWORD", problem));
    }
    let people = &s.0.people;
    let lookup = people.vault.lookup(kind, &addr);
    let account = people
        .profiles
        .account_by_lookup(&lookup)
        .ok_or_else(code_invalid)?;
    not_locked(&s, account)?;
    let profile = people.profiles.get(account).ok_or_else(code_invalid)?;
    let digest = people
        .vault
        .code_digest(&lookup, CodePurpose::Reset, body.code.trim());
    if profile
        .code(CodePurpose::Reset)
        .is_none_or(|c| c.digest != digest)
    {
        people.lockout.failed(account);
        return Err(code_invalid());
    }
    let username = s.0.directory.username_of(account).unwrap_or_default();
    let hash = s.0.passwords.hash(body.password, &username).await?;
    let reply =
        s.0.gateway
            .execute(Command::ConfirmCode {
                account,
                purpose: CodePurpose::Reset,
                digest,
                password_hash: Some(hash.clone()),
            })
            .await?;
    if let Some(e) = first_reject(&reply.events) {
        people.lockout.failed(account);
        return Err(e);
    }
    people.lockout.succeeded(account);
    s.0.directory.set_password(account, hash);
    let r = Record::new(AuditKind::PasswordReset, Actor::Anonymous)
        .account(account)
        .ip(ip);
    s.0.people.audit.record(r).await;
    Ok(StatusCode::NO_CONTENT)
}

/// A new email address or phone number.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ann@new.example.com"}))]
pub(crate) struct NewAddress {
    #[schema(max_length = 254)]
    email: Option<String>,
    #[schema(max_length = 32)]
    phone: Option<String>,
}

/// `POST /v1/me/contact`: changes (or adds) the caller's email address or phone number:
/// a code goes to the new one, which replaces the old once confirmed at
/// `POST /v1/users/verify`.
#[utoipa::path(
    post,
    path = "/v1/me/contact",
    tag = "identity",
    security(("bearer" = [])),
    request_body = NewAddress,
    responses(
        (status = 202, description = "A code went to the new address.", body = Accepted),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "SESSION_REQUIRED.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD, INVALID_EMAIL, INVALID_PHONE, \
         CONTACT_TAKEN, CODE_RATE_LIMITED.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn change_contact(
    axum::extract::State(s): State,
    SessionAuth(who): SessionAuth,
    crate::extract::ClientIp(ip): crate::extract::ClientIp,
    JsonBody(body): JsonBody<NewAddress>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let account = crate::people::account_of(&who)?;
    let (kind, addr) = address(body.email.as_deref(), body.phone.as_deref())?;
    let key = crate::people::key_of(&s, Some(account)).await?;
    let c = contact(&s.0.people.vault, key, kind, &addr);
    let to = c.lookup;
    issue(&s, account, CodePurpose::Change, kind, &to, Some(c)).await?;
    let r = Record::new(AuditKind::ContactChangeRequested, Actor::Account(account))
        .ip(ip)
        .detail("kind", kind.name());
    s.0.people.audit.record(r).await;
    Ok(accepted())
}

/// One of the caller's addresses.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AddressView {
    address: String,
    verified: bool,
}

/// The caller's identity and security settings.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Me {
    #[schema(value_type = wire::AccountId)]
    account_id: String,
    username: Option<String>,
    email: Option<AddressView>,
    phone: Option<AddressView>,
    /// A new address waiting for its code.
    pending: Option<AddressView>,
    /// Signed up by address and none verified yet: may not trade or withdraw.
    verification_required: bool,
    two_factor: bool,
    recovery_codes_left: usize,
    devices: usize,
    webhooks: usize,
}

/// `GET /v1/me`: who the caller is, their addresses and security settings.
#[utoipa::path(
    get,
    path = "/v1/me",
    tag = "identity",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller.", body = Me),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the operator token has no person.",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody),
    )
)]
pub(crate) async fn me(
    axum::extract::State(s): State,
    Auth(who): Auth,
) -> Result<Json<Me>, ApiError> {
    who.require(bourse_core::Scopes::READ)?;
    let account = who
        .account
        .ok_or_else(|| ApiError::forbidden("the operator token has no person"))?;
    let p = s.0.people.profiles.get(account).unwrap_or_default();
    let view = |c: &Option<bourse_core::profile::Contact>| {
        c.as_ref().map(|c| AddressView {
            address: s
                .0
                .people
                .vault
                .open_string(&c.sealed)
                .unwrap_or_else(|| "(sealed under another key)".into()),
            verified: c.verified,
        })
    };
    Ok(Json(Me {
        account_id: account.get().to_string(),
        username: s.0.directory.username_of(account),
        email: view(&p.email),
        phone: view(&p.phone),
        pending: view(&p.pending),
        verification_required: p.unverified(),
        two_factor: p.two_factor(),
        recovery_codes_left: p.recovery.len(),
        devices: p.devices.len(),
        webhooks: p.webhooks.len(),
    }))
}
