//! Replace, mass cancel, transfers, the stock list, and the operator's market controls.

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use bourse_core::{Cash, Command, Event, Qty, Symbol};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::Principal;
use crate::error::ApiError;
use crate::http::{AppState, Auth, JsonBody, Operator, State, first_reject};
use crate::orders::{Decimal, parse_order_id};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Amend {
    /// New open quantity.
    pub(crate) qty: Option<Decimal>,
    pub(crate) limit_price: Option<Decimal>,
    #[serde(default)]
    pub(crate) account_id: Option<String>,
}

/// `PATCH /v1/orders/{id}`: new open quantity and/or limit price. Same id; priority is kept
/// only for a same-price reduction.
pub(crate) async fn replace_order(
    axum::extract::State(s): State,
    Auth(who): Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Amend>,
) -> Result<Json<Value>, ApiError> {
    replace(&s, &who, &id, body).await.map(Json)
}

/// Replace, shared by REST and WebSocket.
pub(crate) async fn replace(
    s: &AppState,
    who: &Principal,
    id: &str,
    body: Amend,
) -> Result<Value, ApiError> {
    let order_id = parse_order_id(id)?;
    let account = who.acting_for(body.account_id.as_deref())?;
    let price = body
        .limit_price
        .as_ref()
        .map(|d| crate::orders::parse_price("limit_price", d))
        .transpose()?;
    // The engine takes the new open quantity with every replace: the open quantity is
    // the engine's to know, so it is required (a read of the order gives it).
    let qty = match &body.qty {
        Some(d) => parse_qty(d)?,
        None => {
            return Err(ApiError::unprocessable(
                "INVALID_QUANTITY",
                "give the new open qty (and optionally limit_price); DELETE cancels",
            ));
        }
    };
    let reply =
        s.0.gateway
            .execute(Command::ReplaceOrder {
                account,
                order_id,
                qty,
                price,
            })
            .await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    let mut out = json!({ "id": order_id.get().to_string(), "seq": reply.seq.0 });
    for e in &reply.events {
        match *e {
            Event::OrderReplaced {
                price,
                qty,
                priority_kept,
                ..
            } => {
                out["event"] = json!("replaced");
                out["status"] = json!("new");
                out["limit_price"] = json!(price);
                out["leaves_qty"] = json!(qty.get().to_string());
                out["priority_kept"] = json!(priority_kept);
            }
            Event::OrderFilled {
                order_id: o,
                cum_qty,
                leaves_qty,
                ..
            } if o == order_id => {
                out["filled_qty"] = json!(cum_qty.get().to_string());
                out["leaves_qty"] = json!(leaves_qty.get().to_string());
                out["status"] = json!(if leaves_qty.is_zero() {
                    "filled"
                } else {
                    "partially_filled"
                });
            }
            Event::OrderCanceled { order_id: o, .. } if o == order_id => {
                out["status"] = json!("canceled");
            }
            _ => {}
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
pub(crate) struct MassCancelQuery {
    symbol: Option<String>,
    account_id: Option<String>,
}

/// `DELETE /v1/orders`: cancels every working order of the caller (optionally one symbol).
pub(crate) async fn mass_cancel(
    axum::extract::State(s): State,
    Auth(who): Auth,
    Query(q): Query<MassCancelQuery>,
) -> Result<Json<Value>, ApiError> {
    let account = who.acting_for(q.account_id.as_deref())?;
    let symbol = q.symbol.as_deref().map(|t| listed(&s, t)).transpose()?;
    let reply =
        s.0.gateway
            .execute(Command::MassCancel {
                account: Some(account),
                symbol,
            })
            .await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    let canceled: Vec<String> = reply
        .events
        .iter()
        .filter_map(|e| match e {
            Event::OrderCanceled { order_id, .. } => Some(order_id.get().to_string()),
            _ => None,
        })
        .collect();
    Ok(Json(json!({ "canceled": canceled, "seq": reply.seq.0 })))
}

fn listed(s: &crate::http::AppState, text: &str) -> Result<Symbol, ApiError> {
    text.parse::<Symbol>()
        .ok()
        .filter(|sym| s.0.listings.get(*sym).is_some())
        .ok_or_else(|| ApiError::not_found("UNKNOWN_SYMBOL", "no such listed symbol"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Transfer {
    /// `deposit` or `withdraw`.
    #[serde(rename = "type")]
    kind: String,
    amount: String,
    #[serde(default)]
    account_id: Option<String>,
}

/// `POST /v1/transfers`: cash in or out of the caller's account.
pub(crate) async fn transfer(
    axum::extract::State(s): State,
    Auth(who): Auth,
    JsonBody(body): JsonBody<Transfer>,
) -> Result<impl IntoResponse, ApiError> {
    let account = who.acting_for(body.account_id.as_deref())?;
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
    let cmd = match body.kind.as_str() {
        "deposit" => Command::Deposit { account, amount },
        "withdraw" => Command::Withdraw { account, amount },
        _ => {
            return Err(ApiError::unprocessable(
                "INVALID_TRANSFER_TYPE",
                "type is \"deposit\" or \"withdraw\"",
            ));
        }
    };
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
        Json(json!({
            "account_id": account.get().to_string(),
            "type": body.kind,
            "amount": amount,
            "cash": balance,
            "seq": reply.seq.0,
        })),
    ))
}

#[derive(Deserialize)]
pub(crate) struct StockQuery {
    q: Option<String>,
    page: Option<usize>,
    size: Option<usize>,
}

fn stock_json(l: &crate::orders::Listing) -> Value {
    json!({
        "symbol": l.symbol,
        "name": l.name,
        "tick": l.tick,
        "lot": l.lot.get().to_string(),
        "max_qty": l.max_qty.get().to_string(),
    })
}

/// `GET /v1/stocks?q=&page=&size=`: the listed stocks, searched by symbol or name.
pub(crate) async fn stocks(
    axum::extract::State(s): State,
    Query(q): Query<StockQuery>,
) -> Result<Json<Value>, ApiError> {
    let size = q.size.unwrap_or(20);
    if !(1..=100).contains(&size) {
        return Err(ApiError::unprocessable(
            "INVALID_PAGE_SIZE",
            "size is 1 to 100",
        ));
    }
    let page = q.page.unwrap_or(1).max(1);
    let needle = q.q.as_deref().unwrap_or("").trim().to_ascii_lowercase();
    if needle.len() > 64 {
        return Err(ApiError::unprocessable(
            "INVALID_QUERY",
            "the search text is at most 64 characters",
        ));
    }
    let hits: Vec<&crate::orders::Listing> =
        s.0.listings
            .all()
            .iter()
            .filter(|l| {
                needle.is_empty()
                    || l.symbol.as_str().to_ascii_lowercase().contains(&needle)
                    || l.name.to_ascii_lowercase().contains(&needle)
            })
            .collect();
    // Exact symbol first, then symbol prefix, then the rest in symbol order.
    let mut hits = hits;
    hits.sort_by_key(|l| {
        let sym = l.symbol.as_str().to_ascii_lowercase();
        (sym != needle, !sym.starts_with(&needle), l.symbol)
    });
    let total = hits.len();
    let items: Vec<Value> = hits
        .into_iter()
        .skip((page - 1).saturating_mul(size))
        .take(size)
        .map(stock_json)
        .collect();
    Ok(Json(json!({
        "items": items,
        "page": page,
        "size": size,
        "total": total,
    })))
}

/// `GET /v1/stocks/{symbol}`: one stock's profile.
pub(crate) async fn stock(
    axum::extract::State(s): State,
    Path(symbol): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let sym = listed(&s, &symbol.to_ascii_uppercase())?;
    let l =
        s.0.listings
            .get(sym)
            .ok_or_else(|| ApiError::not_found("UNKNOWN_SYMBOL", "no such listed symbol"))?;
    Ok(Json(stock_json(l)))
}

/// `POST /v1/admin/symbols/{symbol}/halt` and `/resume`.
pub(crate) async fn halt(
    axum::extract::State(s): State,
    _op: Operator,
    Path((symbol, action)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let symbol = listed(&s, &symbol)?;
    let cmd = match action.as_str() {
        "halt" => Command::HaltSymbol { symbol },
        "resume" => Command::ResumeSymbol { symbol },
        _ => return Err(ApiError::not_found("NOT_FOUND", "no such route")),
    };
    let reply = s.0.gateway.execute(cmd).await?;
    if let Some(e) = first_reject(&reply.events) {
        return Err(e);
    }
    Ok(Json(json!({
        "symbol": symbol,
        "halted": action == "halt",
        "seq": reply.seq.0,
    })))
}

/// `POST /v1/admin/end-of-day`: expires DAY orders and ends the trading day.
pub(crate) async fn end_of_day(
    axum::extract::State(s): State,
    _op: Operator,
) -> Result<Json<Value>, ApiError> {
    let reply = s.0.gateway.execute(Command::EndOfDay).await?;
    let expired = reply
        .events
        .iter()
        .filter(|e| matches!(e, Event::OrderCanceled { .. }))
        .count();
    Ok(Json(
        json!({ "expired_orders": expired, "seq": reply.seq.0 }),
    ))
}

/// A positive whole number of shares.
fn parse_qty(d: &Decimal) -> Result<Qty, ApiError> {
    let text = d.text();
    text.parse::<Qty>()
        .ok()
        .filter(|q| !q.is_zero())
        .ok_or_else(|| {
            ApiError::unprocessable(
                "INVALID_QUANTITY",
                format!("qty {text:?} is not a positive whole number of shares"),
            )
        })
}
