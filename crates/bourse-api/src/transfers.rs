//! `POST /v1/transfers`: cash into or out of the caller's account — from or to a linked bank
//! (`bank_id`: an ACH transfer that settles later, see `funding`), or without one, a book
//! transfer done at once (how operators and brokers fund accounts, and the demo's shortcut).

use axum::Json;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use bourse_core::funding::Direction;
use bourse_core::{Cash, Command, Event};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ErrorBody, first_reject};
use crate::extract::{Can, CanTransfer, JsonBody};
use crate::state::State;
use crate::wire;

/// Cash in or out.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"type": "deposit", "amount": "1000.00"}))]
pub(crate) struct Transfer {
    /// `deposit` or `withdraw`.
    #[serde(rename = "type")]
    #[schema(value_type = wire::TransferType)]
    kind: String,
    #[schema(value_type = wire::AmountInput)]
    amount: String,
    /// The account acted for: the operator names any, a broker its customers' (any caller may name its own).
    #[serde(default)]
    #[schema(value_type = Option<wire::AccountId>)]
    account_id: Option<String>,
    /// A verified linked bank of the caller's (`GET /v1/banks`): the transfer goes by ACH,
    /// pending until it settles.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "1")]
    bank_id: Option<String>,
}

/// A transfer done.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Transferred)]
pub(crate) struct TransferView {
    #[schema(value_type = wire::AccountId)]
    account_id: String,
    #[serde(rename = "type")]
    #[schema(value_type = wire::TransferType)]
    kind: String,
    #[schema(value_type = wire::Cash)]
    amount: Cash,
    /// The account's cash after the transfer.
    #[schema(value_type = Option<wire::Cash>)]
    cash: Option<Cash>,
    seq: u64,
    /// A bank transfer: where it stands (see `GET /v1/transfers/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::funding::TransferItem>)]
    transfer: Option<crate::funding::TransferItem>,
}

/// `POST /v1/transfers`: cash in or out of the caller's account.
#[utoipa::path(
    post,
    path = "/v1/transfers",
    tag = "account",
    security(("bearer" = [])),
    request_body = Transfer,
    responses(
        (status = 201, description = "Done, once durable.", body = TransferView),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE: an API key without the `transfer` scope.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_ACCOUNT, UNKNOWN_BANK.", body = ErrorBody),
        (status = 413, description = "BODY_TOO_LARGE.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD, INVALID_AMOUNT, INVALID_TRANSFER_TYPE, \
         INVALID_ACCOUNT_ID, MISSING_ACCOUNT_ID, INVALID_BANK_ID, or the engine's rejection \
         (INSUFFICIENT_FUNDS: more than the settled cash free of working orders; \
         BANK_NOT_VERIFIED, TOO_MANY_TRANSFERS, CONTACT_NOT_VERIFIED, CASH_LIMIT, \
         ARITHMETIC_OVERFLOW).", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "OVERLOADED, SHUTTING_DOWN.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 504, description = "OUTCOME_UNKNOWN.", body = ErrorBody),
    )
)]
pub(crate) async fn transfer(
    axum::extract::State(s): State,
    Can(who): CanTransfer,
    JsonBody(body): JsonBody<Transfer>,
) -> Result<impl IntoResponse, ApiError> {
    let account = who.acting_for(body.account_id.as_deref(), &s.0.directory)?;
    let amount: Cash = body
        .amount
        .parse()
        .ok()
        .filter(|c: &Cash| c.is_positive())
        .ok_or_else(|| {
            ApiError::unprocessable(
                "INVALID_AMOUNT",
                "amount must be a positive sum with at most 4 decimals",
            )
        })?;
    let (cmd, direction) = match body.kind.as_str() {
        "deposit" => (Command::Deposit { account, amount }, Direction::Deposit),
        "withdraw" => (Command::Withdraw { account, amount }, Direction::Withdrawal),
        _ => {
            return Err(ApiError::unprocessable(
                "INVALID_TRANSFER_TYPE",
                "type is \"deposit\" or \"withdraw\"",
            ));
        }
    };
    if let Some(bank) = body.bank_id.as_deref() {
        let (t, cash, seq) =
            crate::funding::bank_transfer(&s, account, bank, direction, amount).await?;
        return Ok((
            StatusCode::CREATED,
            Json(TransferView {
                account_id: account.get().to_string(),
                kind: body.kind,
                amount,
                cash,
                seq,
                transfer: Some(t),
            }),
        ));
    }
    let reply = s.0.gateway.execute(cmd).await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    let balance = reply.events.iter().find_map(|e| match e {
        Event::CashDeposited { balance, .. } | Event::CashWithdrawn { balance, .. } => {
            Some(*balance)
        }
        _ => None,
    });
    Ok((
        StatusCode::CREATED,
        Json(TransferView {
            account_id: account.get().to_string(),
            kind: body.kind,
            amount,
            cash: balance,
            seq: reply.seq.0,
            transfer: None,
        }),
    ))
}
