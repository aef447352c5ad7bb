//! Bank accounts and ACH transfers (docs/FUNDING.md): linking a bank and confirming its two
//! micro-deposits (`/v1/banks…`), transfers with a linked bank (`POST /v1/transfers` with a
//! `bank_id`, `GET /v1/transfers…`), the operator's record of a bank's return notice, and
//! the settlement clock that settles transfers when they are due.
//!
//! Bank details are sealed with the data key before they are journaled; the engine keeps
//! them opaquely, with a keyed digest of the account number to refuse the same one twice.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use bourse_core::funding::{BankLink, BankStatus, Direction, ReturnCode, Transfer, TransferStatus};
use bourse_core::{AccountId, Cash, Command, Event, SecretHash, UnixNanos};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::audit::{Actor, AuditKind, Record};
use crate::error::{ApiError, ErrorBody, first_reject};
use crate::extract::{Can, CanRead, CanTransfer, ClientIp, JsonBody, Operator, Path, Query};
use crate::gateway::{Gateway, GatewayError};
use crate::profilebook::ProfileBook;
use crate::state::{AppState, State};
use crate::vault::Vault;
use crate::wire;

/// How bank transfers behave.
#[derive(Clone, Copy, Debug)]
pub struct FundingConfig {
    /// How long a transfer stays pending before it settles (ACH: one to three business
    /// days; the demo: two minutes).
    pub settle_after: Duration,
    /// How much of a person's pending deposits may be traded before they settle.
    pub instant_limit: Cash,
    /// `GET /v1/banks/{id}/statement` shows the micro-deposits, standing in for the
    /// person's bank statement where no bank is connected (the demo and tests).
    pub sandbox: bool,
}

impl Default for FundingConfig {
    fn default() -> Self {
        FundingConfig {
            settle_after: Duration::from_secs(120),
            instant_limit: Cash::from_dollars(1_000).unwrap_or(Cash::ZERO),
            sandbox: true,
        }
    }
}

/// Longest account holder name.
const MAX_HOLDER: usize = 100;

/// A bank account to link.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"holder_name": "Ada Lovelace", "account_number": "000123456789",
    "routing_number": "021000021"}))]
pub(crate) struct LinkBody {
    /// As the bank knows the account's holder (1-100 characters).
    #[schema(min_length = 1, max_length = 100)]
    holder_name: String,
    /// 4 to 17 digits.
    #[schema(pattern = "^[0-9]{4,17}$")]
    account_number: String,
    /// The bank's nine-digit ABA routing number (its check digit is checked).
    #[schema(pattern = "^[0-9]{9}$")]
    routing_number: String,
}

/// A linked bank account, as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BankView {
    #[schema(value_type = String, example = "1")]
    id: String,
    holder_name: String,
    /// The account number's last four digits behind a mask.
    #[schema(example = "••••6789")]
    account_number_masked: String,
    routing_number: String,
    /// `pending` (confirm the micro-deposits), `verified`, or `failed` (remove and link again).
    #[schema(example = "pending")]
    status: &'static str,
    /// Guesses left at the micro-deposits while pending.
    attempts_left: u8,
    #[schema(value_type = wire::Timestamp)]
    linked_at: String,
}

fn bank_view(vault: &Vault, b: &BankLink) -> BankView {
    BankView {
        id: b.id.to_string(),
        holder_name: vault.open_string(&b.holder).unwrap_or_default(),
        account_number_masked: format!("••••{}", b.last4),
        routing_number: b.routing.clone(),
        status: b.status.name(),
        attempts_left: b.attempts_left,
        linked_at: b.linked_at.to_rfc3339(),
    }
}

/// A linked bank in a personal-data export: what is held, opened.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HeldBank {
    #[serde(flatten)]
    bank: BankView,
    account_number: String,
}

pub(crate) fn held_bank(vault: &Vault, b: &BankLink) -> HeldBank {
    HeldBank {
        bank: bank_view(vault, b),
        account_number: vault
            .open_string(&b.number)
            .unwrap_or_else(|| "(sealed under another key)".into()),
    }
}

/// The caller's banks.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct BankList {
    banks: Vec<BankView>,
}

/// Whether `routing` is a routing number: nine digits whose weighted sum (3, 7, 1, …) is a
/// multiple of ten.
fn aba_ok(routing: &str) -> bool {
    let d: Vec<u32> = routing.chars().filter_map(|c| c.to_digit(10)).collect();
    d.len() == 9
        && routing.len() == 9
        && (0..3)
            .map(|i| 3 * d[3 * i] + 7 * d[3 * i + 1] + d[3 * i + 2])
            .sum::<u32>()
            % 10
            == 0
}

/// The digest the two micro-deposit amounts (in cents, smaller first) are compared by:
/// keyed, and bound to the bank account they were sent to.
fn micro_digest(vault: &Vault, number_lookup: &SecretHash, cents: [u8; 2]) -> SecretHash {
    let [a, b] = if cents[0] <= cents[1] {
        cents
    } else {
        [cents[1], cents[0]]
    };
    let bound: String = number_lookup.0.iter().map(|b| format!("{b:02x}")).collect();
    vault.secret_digest("micro-deposits", &format!("{bound}:{a},{b}"))
}

fn two_cents() -> Result<[u8; 2], ApiError> {
    let mut bytes = [0u8; 2];
    getrandom::fill(&mut bytes).map_err(|_| ApiError::internal("no randomness"))?;
    Ok([1 + bytes[0] % 99, 1 + bytes[1] % 99])
}

fn cents_text(c: u8) -> String {
    format!("0.{c:02}")
}

fn bank_of(s: &AppState, account: AccountId, id: u64) -> Result<BankLink, ApiError> {
    s.0.people
        .profiles
        .get(account)
        .and_then(|p| p.funding.bank(id).cloned())
        .ok_or_else(|| ApiError::rejected(bourse_core::RejectReason::UnknownBank))
}

fn id_in_path(text: &str, what: &'static str) -> Result<u64, ApiError> {
    text.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "MALFORMED_PATH",
            format!("the {what} id is a positive integer"),
        )
    })
}

/// `POST /v1/banks`: links a bank account and sends it two micro-deposits.
#[utoipa::path(
    post,
    path = "/v1/banks",
    tag = "funding",
    security(("bearer" = [])),
    request_body = LinkBody,
    responses(
        (status = 201, description = "Linked, waiting for the micro-deposits to be confirmed.",
         body = BankView),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE, FORBIDDEN.", body = ErrorBody),
        (status = 409, description = "BANK_ALREADY_LINKED.", body = ErrorBody),
        (status = 413, description = "BODY_TOO_LARGE.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_HOLDER_NAME, INVALID_ACCOUNT_NUMBER, \
         INVALID_ROUTING_NUMBER, TOO_MANY_BANKS.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn link(
    axum::extract::State(s): State,
    Can(who): CanTransfer,
    JsonBody(body): JsonBody<LinkBody>,
) -> Result<impl IntoResponse, ApiError> {
    let account = crate::people::account_of(&who)?;
    let holder = body.holder_name.trim();
    if holder.is_empty()
        || holder.chars().count() > MAX_HOLDER
        || holder.chars().any(char::is_control)
    {
        return Err(ApiError::unprocessable(
            "INVALID_HOLDER_NAME",
            "holder_name is 1 to 100 characters",
        ));
    }
    let number = body.account_number.trim();
    if !(4..=17).contains(&number.len()) || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::unprocessable(
            "INVALID_ACCOUNT_NUMBER",
            "account_number is 4 to 17 digits",
        ));
    }
    let routing = body.routing_number.trim();
    if !aba_ok(routing) {
        return Err(ApiError::unprocessable(
            "INVALID_ROUTING_NUMBER",
            "routing_number is a nine-digit ABA routing number",
        ));
    }
    let vault = &s.0.people.vault;
    let number_lookup = vault.secret_digest("bank-account", &format!("{routing}:{number}"));
    let cents = two_cents()?;
    let key = Some(crate::people::key_of(&s, Some(account)).await?);
    let reply =
        s.0.gateway
            .execute(Command::LinkBank(Box::new(bourse_core::funding::NewBank {
                account,
                holder: vault.seal_for(key, holder.as_bytes()),
                number: vault.seal_for(key, number.as_bytes()),
                number_lookup,
                last4: number[number.len() - 4..].to_owned(),
                routing: routing.to_owned(),
                micro_digest: micro_digest(vault, &number_lookup, cents),
                sealed_micro: vault.seal_for(key, format!("{},{}", cents[0], cents[1]).as_bytes()),
            })))
            .await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    let bank =
        s.0.people
            .profiles
            .get(account)
            .and_then(|p| {
                p.funding
                    .banks
                    .iter()
                    .filter(|b| b.number_lookup == number_lookup)
                    .max_by_key(|b| b.id)
                    .cloned()
            })
            .ok_or_else(|| ApiError::internal("the bank linked is not in the profile"))?;
    Ok((StatusCode::CREATED, Json(bank_view(vault, &bank))))
}

/// `GET /v1/banks`: the caller's linked banks.
#[utoipa::path(
    get,
    path = "/v1/banks",
    tag = "funding",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Linked banks, oldest first.", body = BankList),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE, FORBIDDEN.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn banks(
    axum::extract::State(s): State,
    Can(who): CanRead,
) -> Result<Json<BankList>, ApiError> {
    let account = crate::people::account_of(&who)?;
    let vault = &s.0.people.vault;
    let banks =
        s.0.people
            .profiles
            .get(account)
            .map(|p| {
                p.funding
                    .banks
                    .iter()
                    .map(|b| bank_view(vault, b))
                    .collect()
            })
            .unwrap_or_default();
    Ok(Json(BankList { banks }))
}

/// The two amounts the bank statement shows.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amounts": ["0.32", "0.45"]}))]
pub(crate) struct VerifyBody {
    /// Both micro-deposits, in dollars (0.01 to 0.99), in any order.
    #[schema(value_type = Vec<String>, min_items = 2, max_items = 2)]
    amounts: Vec<String>,
}

/// `POST /v1/banks/{id}/verify`: confirms the two micro-deposits.
#[utoipa::path(
    post,
    path = "/v1/banks/{id}/verify",
    tag = "funding",
    security(("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9]+$", description = "The bank.")),
    request_body = VerifyBody,
    responses(
        (status = 200, description = "Verified: the bank may fund the account.", body = BankView),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY, MALFORMED_PATH.",
         body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE, FORBIDDEN.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_BANK.", body = ErrorBody),
        (status = 413, description = "BODY_TOO_LARGE.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_AMOUNT; WRONG_AMOUNTS (a try used; the \
         message says how many are left); BANK_VERIFICATION_FAILED (the last try: remove the \
         bank and link it again); BANK_NOT_PENDING.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn verify(
    axum::extract::State(s): State,
    Can(who): CanTransfer,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<VerifyBody>,
) -> Result<Json<BankView>, ApiError> {
    let account = crate::people::account_of(&who)?;
    let id = id_in_path(&id, "bank")?;
    let bad = || {
        ApiError::unprocessable(
            "INVALID_AMOUNT",
            "amounts are the two micro-deposits, each 0.01 to 0.99",
        )
    };
    let [a, b] = <[String; 2]>::try_from(body.amounts).map_err(|_| bad())?;
    let cents = |t: &str| -> Result<u8, ApiError> {
        let c: Cash = t.trim().parse().map_err(|_| bad())?;
        let raw = c.raw();
        let per_cent = bourse_core::num::SCALE / 100;
        if raw % per_cent != 0 || !(1..=99).contains(&(raw / per_cent)) {
            return Err(bad());
        }
        u8::try_from(raw / per_cent).map_err(|_| bad())
    };
    let guess = [cents(&a)?, cents(&b)?];
    let link = bank_of(&s, account, id)?;
    let digest = micro_digest(&s.0.people.vault, &link.number_lookup, guess);
    let reply =
        s.0.gateway
            .execute(Command::VerifyBank {
                account,
                bank: id,
                digest,
            })
            .await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    let now = bank_of(&s, account, id)?;
    match now.status {
        BankStatus::Verified => Ok(Json(bank_view(&s.0.people.vault, &now))),
        BankStatus::Pending => Err(ApiError::unprocessable(
            "WRONG_AMOUNTS",
            format!(
                "those are not the two amounts; {} {} left",
                now.attempts_left,
                if now.attempts_left == 1 {
                    "try"
                } else {
                    "tries"
                }
            ),
        )),
        BankStatus::Failed => Err(ApiError::unprocessable(
            "BANK_VERIFICATION_FAILED",
            "no tries left: remove this bank and link it again",
        )),
    }
}

/// `DELETE /v1/banks/{id}`: removes a linked bank (transfers under way still complete).
#[utoipa::path(
    delete,
    path = "/v1/banks/{id}",
    tag = "funding",
    security(("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9]+$", description = "The bank.")),
    responses(
        (status = 204, description = "Removed, once durable."),
        (status = 400, description = "MALFORMED_PATH.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE, FORBIDDEN.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_BANK.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn unlink(
    axum::extract::State(s): State,
    Can(who): CanTransfer,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let account = crate::people::account_of(&who)?;
    let id = id_in_path(&id, "bank")?;
    let reply =
        s.0.gateway
            .execute(Command::UnlinkBank { account, bank: id })
            .await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A line of the sandbox bank statement.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct StatementLine {
    #[schema(example = "BOURSE MICRO-DEPOSIT")]
    description: &'static str,
    #[schema(value_type = wire::Cash)]
    amount: String,
}

/// What the person's bank would show: the two micro-deposits.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Statement {
    #[schema(value_type = String)]
    bank_id: String,
    lines: Vec<StatementLine>,
}

/// `GET /v1/banks/{id}/statement`: the sandbox's stand-in for the bank statement.
#[utoipa::path(
    get,
    path = "/v1/banks/{id}/statement",
    tag = "funding",
    security(("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9]+$", description = "The bank.")),
    responses(
        (status = 200, description = "The micro-deposits as the bank shows them.",
         body = Statement),
        (status = 400, description = "MALFORMED_PATH.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE, FORBIDDEN.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_BANK; SANDBOX_ONLY (a real bank sends its \
         own statement).", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn statement(
    axum::extract::State(s): State,
    Can(who): CanRead,
    Path(id): Path<String>,
) -> Result<Json<Statement>, ApiError> {
    if !s.0.funding.sandbox {
        return Err(ApiError::not_found(
            "SANDBOX_ONLY",
            "the micro-deposits show on your bank statement",
        ));
    }
    let account = crate::people::account_of(&who)?;
    let id = id_in_path(&id, "bank")?;
    let link = bank_of(&s, account, id)?;
    let text =
        s.0.people
            .vault
            .open_string(&link.sealed_micro)
            .ok_or_else(|| ApiError::internal("the micro-deposits cannot be opened"))?;
    let lines = text
        .split(',')
        .filter_map(|c| c.parse::<u8>().ok())
        .map(|c| StatementLine {
            description: "BOURSE MICRO-DEPOSIT",
            amount: cents_text(c),
        })
        .collect();
    Ok(Json(Statement {
        bank_id: id.to_string(),
        lines,
    }))
}

/// A transfer with a linked bank.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TransferItem {
    #[schema(value_type = String, example = "7")]
    id: String,
    #[schema(value_type = String, example = "1")]
    bank_id: String,
    /// `deposit` or `withdrawal`.
    #[schema(example = "deposit")]
    direction: &'static str,
    #[schema(value_type = wire::Cash)]
    amount: Cash,
    /// The part of a deposit usable before it settles (its instant part).
    #[schema(value_type = wire::Cash)]
    instant: Cash,
    /// `pending`, `settled` or `returned`.
    #[schema(example = "pending")]
    status: &'static str,
    #[schema(value_type = wire::Timestamp)]
    created_at: String,
    /// When it settles (pending) or was due to.
    #[schema(value_type = wire::Timestamp)]
    settle_at: String,
    /// When it settled or came back.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<wire::Timestamp>)]
    ended_at: Option<String>,
    /// The bank's return code (R01 insufficient funds, R02 account closed, R03 no account,
    /// R10 not authorized).
    #[serde(skip_serializing_if = "Option::is_none")]
    return_code: Option<&'static str>,
}

/// A person's bank transfers, newest first.
pub(crate) fn transfer_items(f: &bourse_core::funding::Funding) -> Vec<TransferItem> {
    let mut all: Vec<&Transfer> = f.transfers.iter().collect();
    all.sort_by_key(|t| std::cmp::Reverse(t.id));
    all.into_iter().map(transfer_item).collect()
}

fn transfer_item(t: &Transfer) -> TransferItem {
    TransferItem {
        id: t.id.to_string(),
        bank_id: t.bank.to_string(),
        direction: t.direction.name(),
        amount: t.amount,
        instant: t.instant,
        status: t.status.name(),
        created_at: t.created_at.to_rfc3339(),
        settle_at: t.settle_at.to_rfc3339(),
        ended_at: t.ended_at.map(UnixNanos::to_rfc3339),
        return_code: t.return_code.map(ReturnCode::code),
    }
}

/// A bank transfer from `POST /v1/transfers` with a `bank_id`: the engine's transfer, and
/// the account's cash after it.
pub(crate) async fn bank_transfer(
    s: &AppState,
    account: AccountId,
    bank: &str,
    direction: Direction,
    amount: Cash,
) -> Result<(TransferItem, Option<Cash>, u64), ApiError> {
    let bank = bank
        .trim()
        .parse::<u64>()
        .map_err(|_| ApiError::unprocessable("INVALID_BANK_ID", "bank_id is a linked bank's id"))?;
    let cfg = s.0.funding;
    let now = crate::auth::now();
    let settle_at = UnixNanos::new(
        now.get()
            .saturating_add(u64::try_from(cfg.settle_after.as_nanos()).unwrap_or(u64::MAX)),
    );
    let reply =
        s.0.gateway
            .execute(Command::BankTransfer {
                account,
                bank,
                direction,
                amount,
                instant_limit: cfg.instant_limit,
                settle_at,
            })
            .await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    let (id, balance) = reply
        .events
        .iter()
        .find_map(|e| match e {
            Event::TransferChanged {
                transfer, balance, ..
            } => Some((*transfer, *balance)),
            _ => None,
        })
        .ok_or_else(|| ApiError::internal("the engine made no transfer"))?;
    let t = transfer_of(s, account, id)?;
    Ok((transfer_item(&t), Some(balance), reply.seq.0))
}

fn transfer_of(s: &AppState, account: AccountId, id: u64) -> Result<Transfer, ApiError> {
    s.0.people
        .profiles
        .get(account)
        .and_then(|p| p.funding.transfers.iter().find(|t| t.id == id).cloned())
        .ok_or_else(|| ApiError::rejected(bourse_core::RejectReason::UnknownTransfer))
}

/// `?status=` of the caller's bank transfers.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TransfersQuery {
    /// `pending`, `settled` or `returned`; all by default.
    status: Option<String>,
}

/// The caller's bank transfers, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TransferList {
    transfers: Vec<TransferItem>,
}

/// `GET /v1/transfers`: the caller's bank transfers, newest first (the pending ones and
/// the 50 newest ended ones; all cash they moved is in `/v1/activities`).
#[utoipa::path(
    get,
    path = "/v1/transfers",
    tag = "funding",
    security(("bearer" = [])),
    params(TransfersQuery),
    responses(
        (status = 200, description = "Transfers, newest first.", body = TransferList),
        (status = 400, description = "MALFORMED_QUERY.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE, FORBIDDEN.", body = ErrorBody),
        (status = 422, description = "INVALID_STATUS.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn transfers(
    axum::extract::State(s): State,
    Can(who): CanRead,
    Query(q): Query<TransfersQuery>,
) -> Result<Json<TransferList>, ApiError> {
    let account = crate::people::account_of(&who)?;
    let status = match q.status.as_deref() {
        None => None,
        Some(t) => Some(
            [
                TransferStatus::Pending,
                TransferStatus::Settled,
                TransferStatus::Returned,
            ]
            .into_iter()
            .find(|st| st.name() == t)
            .ok_or_else(|| {
                ApiError::unprocessable("INVALID_STATUS", "status is pending, settled or returned")
            })?,
        ),
    };
    let transfers =
        s.0.people
            .profiles
            .get(account)
            .map(|p| transfer_items(&p.funding))
            .unwrap_or_default()
            .into_iter()
            .filter(|t| status.is_none_or(|st| t.status == st.name()))
            .collect();
    Ok(Json(TransferList { transfers }))
}

/// `GET /v1/transfers/{id}`: one of the caller's bank transfers.
#[utoipa::path(
    get,
    path = "/v1/transfers/{id}",
    tag = "funding",
    security(("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9]+$", description = "The transfer.")),
    responses(
        (status = 200, description = "The transfer.", body = TransferItem),
        (status = 400, description = "MALFORMED_PATH.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE, FORBIDDEN.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_TRANSFER (none such, another's, or ended \
         long ago).", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
    )
)]
pub(crate) async fn transfer(
    axum::extract::State(s): State,
    Can(who): CanRead,
    Path(id): Path<String>,
) -> Result<Json<TransferItem>, ApiError> {
    let account = crate::people::account_of(&who)?;
    let id = id_in_path(&id, "transfer")?;
    Ok(Json(transfer_item(&transfer_of(&s, account, id)?)))
}

/// The bank's return notice.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"account_id": "7", "code": "R01"}))]
pub(crate) struct ReturnBody {
    #[schema(value_type = wire::AccountId)]
    account_id: String,
    /// R01 (insufficient funds), R02 (account closed), R03 (no account), R10 (not authorized).
    #[schema(example = "R01")]
    code: String,
}

/// `POST /v1/admin/transfers/{id}/return`: records the bank's return of a transfer.
#[utoipa::path(
    post,
    path = "/v1/admin/transfers/{id}/return",
    tag = "operator",
    security(("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9]+$", description = "The transfer.")),
    request_body = ReturnBody,
    responses(
        (status = 200, description = "Returned, once durable.", body = TransferItem),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY, MALFORMED_PATH.",
         body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not the operator.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_TRANSFER, UNKNOWN_ACCOUNT.", body = ErrorBody),
        (status = 413, description = "BODY_TOO_LARGE.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_ACCOUNT_ID, INVALID_RETURN_CODE, \
         TRANSFER_NOT_RETURNABLE.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED (never for the operator token).",
         body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn return_transfer(
    axum::extract::State(s): State,
    _op: Operator,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ReturnBody>,
) -> Result<Json<TransferItem>, ApiError> {
    let id = id_in_path(&id, "transfer")?;
    let account = crate::orders::parse_account(&body.account_id)?;
    let code = ReturnCode::parse(&body.code).ok_or_else(|| {
        ApiError::unprocessable("INVALID_RETURN_CODE", "code is R01, R02, R03 or R10")
    })?;
    let reply =
        s.0.gateway
            .execute(Command::ReturnTransfer {
                account,
                transfer: id,
                code,
            })
            .await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    let t = transfer_of(&s, account, id)?;
    let r = Record::new(AuditKind::TransferReturnedByOperator, Actor::Operator)
        .account(account)
        .ip(ip)
        .detail("transfer_id", id.to_string())
        .detail("amount", t.amount.to_string())
        .detail("code", code.code().to_owned());
    s.0.people.audit.record(r).await;
    Ok(Json(transfer_item(&t)))
}

/// Settles bank transfers as they come due: sleeps until the first pending one's time (at
/// most `check` at a time, as new ones arrive), then sends `SettleTransfers`, which settles
/// every one due by the command's own time. Runs until the gateway closes.
pub async fn settle_when_due(gateway: Arc<Gateway>, profiles: Arc<ProfileBook>, check: Duration) {
    loop {
        let now = crate::auth::now();
        match profiles.next_due() {
            Some(at) if at <= now => match gateway.execute(Command::SettleTransfers).await {
                Ok(_) => {
                    // The released profiles drop what settled before the next look.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                Err(GatewayError::Closed) => return,
                Err(e) => tracing::warn!("could not settle transfers: {e}"),
            },
            Some(at) => {
                let wait = Duration::from_nanos(at.get() - now.get());
                tokio::time::sleep(wait.min(check) + Duration::from_millis(1)).await;
                continue;
            }
            None => {}
        }
        tokio::time::sleep(check).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_numbers_need_their_check_digit() {
        for ok in ["021000021", "011401533", "091000019", "121000358"] {
            assert!(aba_ok(ok), "{ok}");
        }
        for bad in ["021000022", "12345678", "0210000210", "02100002a", ""] {
            assert!(!aba_ok(bad), "{bad}");
        }
    }

    #[test]
    fn the_micro_deposit_digest_ignores_order_and_binds_the_account() {
        let v = Vault::new(&[7; 32]);
        let one = SecretHash([1; 32]);
        let two = SecretHash([2; 32]);
        assert_eq!(
            micro_digest(&v, &one, [12, 45]),
            micro_digest(&v, &one, [45, 12])
        );
        assert_ne!(
            micro_digest(&v, &one, [12, 45]),
            micro_digest(&v, &one, [12, 46])
        );
        assert_ne!(
            micro_digest(&v, &one, [12, 45]),
            micro_digest(&v, &two, [12, 45])
        );
    }
}
