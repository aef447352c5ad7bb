//! TOTP second factor (RFC 6238: SHA-1, six digits, 30 s steps, one step of drift either
//! way) and recovery codes: enrol (a secret and its `otpauth://` URI, QR-ready), confirm with
//! a first code (the recovery codes are shown then, once), turn off, and renew the recovery
//! codes. The gateway checks a code against the sealed secret; the engine takes each step
//! and each recovery code once, so a code seen by someone else cannot be used again.

use axum::Json;
use axum::http::StatusCode;
use bourse_core::profile::{Factor, RECOVERY_CODES};
use bourse_core::{AccountId, Command, RejectReason, SecretHash};
use serde::{Deserialize, Serialize};
use totp_rs::{Algorithm, TOTP};
use utoipa::ToSchema;

use crate::auth::now;
use crate::error::{ApiError, ErrorBody, first_reject};
use crate::extract::{JsonBody, SessionAuth};
use crate::people::account_of;
use crate::people::{internal, not_locked, second_factor_invalid};
use crate::state::{AppState, State};
use crate::vault::Vault;

const STEP_SECS: u64 = 30;

fn totp(secret: Vec<u8>, label: &str) -> Result<TOTP, ApiError> {
    TOTP::new(
        Algorithm::SHA1,
        6,
        1,
        STEP_SECS,
        secret,
        Some("bourse".to_owned()),
        label.to_owned(),
    )
    .map_err(|_| internal())
}

/// The time step `code` is right for (now, or one step either side), if any.
pub(crate) fn matching_step(
    v: &Vault,
    sealed: &bourse_core::profile::Sealed,
    code: &str,
) -> Option<u64> {
    let secret = v.open(sealed)?;
    let t = totp(secret, "x").ok()?;
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let step = now().get() / 1_000_000_000 / STEP_SECS;
    // Newest first: the engine takes only steps after the last one taken.
    [step + 1, step, step.saturating_sub(1)]
        .into_iter()
        .find(|s| constant_time_eq(t.generate(s * STEP_SECS).as_bytes(), code.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A recovery code as typed: lower-case, without dashes or spaces.
fn recovery_norm(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

pub(crate) fn recovery_digest(v: &Vault, account: AccountId, code: &str) -> SecretHash {
    v.secret_digest(&format!("recovery {}", account.get()), &recovery_norm(code))
}

/// The second factor a request carries, checked against the profile: `Factor::None` when
/// two-factor is off. Wrong codes count toward the lock-out.
pub(crate) fn factor(
    s: &AppState,
    account: AccountId,
    totp_code: Option<&str>,
    recovery_code: Option<&str>,
) -> Result<Factor, ApiError> {
    let people = &s.0.people;
    let Some(p) = people.profiles.get(account).filter(|p| p.two_factor()) else {
        return Ok(Factor::None);
    };
    let wrong = || {
        people.lockout.failed(account);
        second_factor_invalid()
    };
    match (totp_code, recovery_code) {
        (Some(code), None) => {
            let t = p.totp.as_ref().ok_or_else(wrong)?;
            let step = matching_step(&people.vault, &t.sealed_secret, code)
                .filter(|s| *s > t.last_step)
                .ok_or_else(wrong)?;
            Ok(Factor::Totp { step })
        }
        (None, Some(code)) => {
            let digest = recovery_digest(&people.vault, account, code);
            if p.recovery.contains(&digest) {
                Ok(Factor::Recovery { digest })
            } else {
                Err(wrong())
            }
        }
        (None, None) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "TWO_FACTOR_REQUIRED",
            "two-factor authentication is on: send totp_code (or a recovery_code)",
        )),
        (Some(_), Some(_)) => Err(ApiError::unprocessable(
            "INVALID_FIELD",
            "send totp_code or recovery_code, not both",
        )),
    }
}

/// Ten fresh recovery codes (`xxxxx-xxxxx`, base-32 letters and digits) and their digests.
fn new_recovery(v: &Vault, account: AccountId) -> Result<(Vec<String>, Vec<SecretHash>), ApiError> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut codes = Vec::with_capacity(RECOVERY_CODES);
    for _ in 0..RECOVERY_CODES {
        let mut b = [0u8; 10];
        getrandom::fill(&mut b).map_err(|_| internal())?;
        let chars: String = b
            .iter()
            .map(|x| char::from(ALPHABET[usize::from(*x) % ALPHABET.len()]))
            .collect();
        codes.push(format!("{}-{}", &chars[..5], &chars[5..]));
    }
    let digests = codes
        .iter()
        .map(|c| recovery_digest(v, account, c))
        .collect();
    Ok((codes, digests))
}

/// A TOTP secret to add to an authenticator.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Enrolment {
    /// Base-32, for typing in.
    secret: String,
    /// `otpauth://totp/...`: render it as a QR code for the authenticator to scan.
    otpauth_uri: String,
}

/// `POST /v1/me/totp`: starts TOTP enrolment (replaces one not yet confirmed).
#[utoipa::path(
    post,
    path = "/v1/me/totp",
    tag = "identity",
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The secret, once durable; confirm it with a first code.",
         body = Enrolment),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "SESSION_REQUIRED.", body = ErrorBody),
        (status = 422, description = "TWO_FACTOR_ENABLED.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn enrol(
    axum::extract::State(s): State,
    SessionAuth(who): SessionAuth,
    crate::extract::ClientIp(ip): crate::extract::ClientIp,
) -> Result<(StatusCode, Json<Enrolment>), ApiError> {
    let account = account_of(&who)?;
    let mut secret = vec![0u8; 20];
    getrandom::fill(&mut secret).map_err(|_| internal())?;
    let label =
        s.0.directory
            .username_of(account)
            .unwrap_or_else(|| account.get().to_string());
    let t = totp(secret.clone(), &label)?;
    let sealed_secret = s.0.people.vault.seal(&secret);
    let reply =
        s.0.gateway
            .execute(Command::EnrolTotp {
                account,
                sealed_secret,
            })
            .await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    let r = crate::audit::Record::new(
        crate::audit::AuditKind::TotpEnrolled,
        crate::audit::Actor::Account(account),
    )
    .ip(ip);
    s.0.people.audit.record(r).await;
    Ok((
        StatusCode::CREATED,
        Json(Enrolment {
            secret: t.get_secret_base32(),
            otpauth_uri: t.get_url(),
        }),
    ))
}

/// A code from the authenticator.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "123456"}))]
pub(crate) struct Code {
    #[schema(pattern = "^[0-9]{6}$")]
    code: String,
}

/// Recovery codes, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RecoveryCodes {
    /// Each works once, in place of a TOTP code. Store them somewhere safe.
    recovery_codes: Vec<String>,
}

/// `POST /v1/me/totp/confirm`: turns two-factor on with a first code; answers the recovery
/// codes (shown only here).
#[utoipa::path(
    post,
    path = "/v1/me/totp/confirm",
    tag = "identity",
    security(("bearer" = [])),
    request_body = Code,
    responses(
        (status = 200, description = "Two-factor is on, once durable.", body = RecoveryCodes),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED, SECOND_FACTOR_INVALID.", body = ErrorBody),
        (status = 403, description = "SESSION_REQUIRED.", body = ErrorBody),
        (status = 422, description = "TWO_FACTOR_NOT_ENROLLED, TWO_FACTOR_ENABLED.",
         body = ErrorBody),
        (status = 429, description = "TOO_MANY_ATTEMPTS, RATE_LIMITED.", body = ErrorBody),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn confirm(
    axum::extract::State(s): State,
    SessionAuth(who): SessionAuth,
    crate::extract::ClientIp(ip): crate::extract::ClientIp,
    JsonBody(body): JsonBody<Code>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let account = account_of(&who)?;
    not_locked(&s, account)?;
    let people = &s.0.people;
    let p = people.profiles.get(account).unwrap_or_default();
    let Some(t) = p.totp.as_ref() else {
        return Err(ApiError::rejected(RejectReason::TwoFactorNotEnrolled));
    };
    if t.enabled {
        return Err(ApiError::rejected(RejectReason::TwoFactorEnabled));
    }
    let Some(step) = matching_step(&people.vault, &t.sealed_secret, &body.code) else {
        people.lockout.failed(account);
        return Err(second_factor_invalid());
    };
    let (codes, recovery) = new_recovery(&people.vault, account)?;
    let reply =
        s.0.gateway
            .execute(Command::EnableTotp {
                account,
                step,
                recovery,
            })
            .await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    people.lockout.succeeded(account);
    let r = crate::audit::Record::new(
        crate::audit::AuditKind::TotpEnabled,
        crate::audit::Actor::Account(account),
    )
    .ip(ip);
    s.0.people.audit.record(r).await;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}

/// The second factor a change of it needs.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"totp_code": "123456"}))]
pub(crate) struct Proof {
    #[schema(pattern = "^[0-9]{6}$")]
    totp_code: Option<String>,
    recovery_code: Option<String>,
}

async fn with_factor(
    s: &AppState,
    account: AccountId,
    body: &Proof,
    make: impl FnOnce(Factor) -> Command,
) -> Result<(), ApiError> {
    not_locked(s, account)?;
    if !s
        .0
        .people
        .profiles
        .get(account)
        .is_some_and(|p| p.two_factor())
    {
        return Err(ApiError::rejected(RejectReason::TwoFactorDisabled));
    }
    let f = factor(
        s,
        account,
        body.totp_code.as_deref(),
        body.recovery_code.as_deref(),
    )?;
    let reply = s.0.gateway.execute(make(f)).await?;
    if let Some(e) = first_reject(&reply.events) {
        s.0.people.lockout.failed(account);
        return Err(e);
    }
    s.0.people.lockout.succeeded(account);
    Ok(())
}

/// `DELETE /v1/me/totp`: turns two-factor off (with a current code or a recovery code).
#[utoipa::path(
    delete,
    path = "/v1/me/totp",
    tag = "identity",
    security(("bearer" = [])),
    request_body = Proof,
    responses(
        (status = 204, description = "Two-factor is off, once durable."),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED, TWO_FACTOR_REQUIRED, SECOND_FACTOR_INVALID.",
         body = ErrorBody),
        (status = 403, description = "SESSION_REQUIRED.", body = ErrorBody),
        (status = 422, description = "TWO_FACTOR_DISABLED, INVALID_FIELD.", body = ErrorBody),
        (status = 429, description = "TOO_MANY_ATTEMPTS, RATE_LIMITED.", body = ErrorBody),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn disable(
    axum::extract::State(s): State,
    SessionAuth(who): SessionAuth,
    crate::extract::ClientIp(ip): crate::extract::ClientIp,
    JsonBody(body): JsonBody<Proof>,
) -> Result<StatusCode, ApiError> {
    let account = account_of(&who)?;
    with_factor(&s, account, &body, |factor| Command::DisableTotp {
        account,
        factor,
    })
    .await?;
    let r = crate::audit::Record::new(
        crate::audit::AuditKind::TotpDisabled,
        crate::audit::Actor::Account(account),
    )
    .ip(ip);
    s.0.people.audit.record(r).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/me/recovery-codes`: replaces the recovery codes (with a current code or a
/// recovery code); the new ones are shown only here.
#[utoipa::path(
    post,
    path = "/v1/me/recovery-codes",
    tag = "identity",
    security(("bearer" = [])),
    request_body = Proof,
    responses(
        (status = 200, description = "New codes, once durable; the old ones no longer work.",
         body = RecoveryCodes),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED, TWO_FACTOR_REQUIRED, SECOND_FACTOR_INVALID.",
         body = ErrorBody),
        (status = 403, description = "SESSION_REQUIRED.", body = ErrorBody),
        (status = 422, description = "TWO_FACTOR_DISABLED, INVALID_FIELD.", body = ErrorBody),
        (status = 429, description = "TOO_MANY_ATTEMPTS, RATE_LIMITED.", body = ErrorBody),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn renew(
    axum::extract::State(s): State,
    SessionAuth(who): SessionAuth,
    crate::extract::ClientIp(ip): crate::extract::ClientIp,
    JsonBody(body): JsonBody<Proof>,
) -> Result<Json<RecoveryCodes>, ApiError> {
    let account = account_of(&who)?;
    let (codes, recovery) = new_recovery(&s.0.people.vault, account)?;
    with_factor(&s, account, &body, |factor| Command::RenewRecoveryCodes {
        account,
        factor,
        recovery,
    })
    .await?;
    let r = crate::audit::Record::new(
        crate::audit::AuditKind::RecoveryCodesRenewed,
        crate::audit::Actor::Account(account),
    )
    .ip(ip);
    s.0.people.audit.record(r).await;
    Ok(Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}
