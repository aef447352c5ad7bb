//! Support: a person opens a ticket (a subject and a first message), operators answer, both
//! see the thread and its status (`open` → `answered` when an operator replies → `open`
//! again when the person does; `closed` by either, after which nothing is added).
//!
//! Stored as an append-only log of changes beside the journal (table `support_log`, or
//! `support.jsonl` beside the file journal; memory only on an edge or in tests), with the
//! subject and every message sealed by the data key: people write personal details into
//! support messages. The routes read a model folded from the log; on PostgreSQL each request
//! first folds what other writers appended (a standby that took over sees every ticket).
//! A ticket's id is its first change's place in the log.
//!
//! Bounds: a subject up to 200 characters, a message up to 5,000, 200 messages per ticket,
//! 20 tickets not closed per person; the model keeps the newest [`KEPT`] tickets, forgetting
//! the oldest closed ones first (open ones are never forgotten: at most 20 per person).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Json;
use axum::http::StatusCode;
use bourse_core::profile::Sealed;
use bourse_core::{AccountId, UnixNanos};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPool;
use utoipa::{IntoParams, ToSchema};

use crate::audit::{Actor, AuditKind, Record};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Auth, ClientIp, JsonBody, Operator, Path, Query};
use crate::state::State;
use crate::vault::Vault;

const MAX_SUBJECT: usize = 200;
const MAX_BODY: usize = 5_000;
const MAX_MESSAGES: usize = 200;
const MAX_OPEN: usize = 20;
/// Tickets the model holds: past it, the oldest closed ones are forgotten by the server
/// (they stay in the log, and come back if it starts again with room).
pub const KEPT: usize = 100_000;

/// Where a ticket stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Waiting for an operator.
    Open,
    /// An operator replied; waiting for the person.
    Answered,
    Closed,
}

/// Who wrote a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    Customer,
    Operator,
}

/// One change, as logged (texts sealed, as hex).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Change {
    Opened {
        account: u64,
        subject: String,
        body: String,
    },
    Message {
        ticket: u64,
        author: Author,
        body: String,
    },
    Closed {
        ticket: u64,
        by: Author,
    },
}

/// A message in a thread.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub(crate) struct MessageView {
    author: Author,
    body: String,
    #[schema(value_type = String)]
    at: String,
}

/// A ticket and its thread.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub(crate) struct TicketView {
    id: String,
    account_id: String,
    subject: String,
    status: TicketStatus,
    #[schema(value_type = String)]
    created_at: String,
    #[schema(value_type = String)]
    updated_at: String,
    messages: Vec<MessageView>,
}

#[derive(Clone, Debug)]
struct Ticket {
    account: AccountId,
    subject: String,
    status: TicketStatus,
    created: UnixNanos,
    updated: UnixNanos,
    messages: Vec<(Author, String, UnixNanos)>,
}

impl Ticket {
    fn view(&self, id: u64) -> TicketView {
        TicketView {
            id: id.to_string(),
            account_id: self.account.get().to_string(),
            subject: self.subject.clone(),
            status: self.status,
            created_at: self.created.to_rfc3339(),
            updated_at: self.updated.to_rfc3339(),
            messages: self
                .messages
                .iter()
                .map(|(author, body, at)| MessageView {
                    author: *author,
                    body: body.clone(),
                    at: at.to_rfc3339(),
                })
                .collect(),
        }
    }
}

/// What a text shows that no longer opens: its person was erased (their key deleted), or
/// it was sealed under another data key.
const ERASED: &str = "(erased, or sealed under another key)";

struct Model {
    tickets: BTreeMap<u64, Ticket>,
    /// The last log id folded in.
    last: u64,
    /// How many tickets it holds at most ([`KEPT`]; fewer in tests).
    kept: usize,
}

impl Default for Model {
    fn default() -> Model {
        Model {
            tickets: BTreeMap::new(),
            last: 0,
            kept: KEPT,
        }
    }
}

impl Model {
    /// Past `kept` tickets, forgets the oldest closed ones.
    fn forget_closed(&mut self) {
        if self.tickets.len() <= self.kept {
            return;
        }
        let excess = self.tickets.len() - self.kept;
        let old: Vec<u64> = self
            .tickets
            .iter()
            .filter(|(_, t)| t.status == TicketStatus::Closed)
            .map(|(id, _)| *id)
            .take(excess)
            .collect();
        for id in old {
            self.tickets.remove(&id);
        }
    }

    /// Folds one logged change (texts opened with `vault`; one it cannot open shows so).
    fn apply(&mut self, id: u64, at: UnixNanos, c: &Change, vault: &Vault) {
        let open = |hex: &str| {
            hex::decode(hex)
                .ok()
                .and_then(|b| vault.open_string(&Sealed(b)))
                .unwrap_or_else(|| ERASED.into())
        };
        self.last = self.last.max(id);
        match c {
            Change::Opened {
                account,
                subject,
                body,
            } => {
                self.tickets.insert(
                    id,
                    Ticket {
                        account: AccountId::new(*account),
                        subject: open(subject),
                        status: TicketStatus::Open,
                        created: at,
                        updated: at,
                        messages: vec![(Author::Customer, open(body), at)],
                    },
                );
                self.forget_closed();
            }
            Change::Message {
                ticket,
                author,
                body,
            } => {
                if let Some(t) = self.tickets.get_mut(ticket) {
                    t.messages.push((*author, open(body), at));
                    t.updated = at;
                    t.status = match author {
                        Author::Customer => TicketStatus::Open,
                        Author::Operator => TicketStatus::Answered,
                    };
                }
            }
            Change::Closed { ticket, .. } => {
                if let Some(t) = self.tickets.get_mut(ticket) {
                    t.status = TicketStatus::Closed;
                    t.updated = at;
                }
            }
        }
    }
}

enum Store {
    Pg(PgPool),
    File(PathBuf),
    Memory,
}

/// Why the log could not be read or written.
pub use crate::sidestore::StoreError as SupportError;

/// The tickets, and the log they are kept in.
pub struct SupportDesk {
    store: Store,
    vault: Arc<Vault>,
    /// Held across a change (the check, the append and the fold), so checks see every
    /// earlier change.
    model: tokio::sync::Mutex<Model>,
}

impl std::fmt::Debug for SupportDesk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupportDesk").finish_non_exhaustive()
    }
}

impl SupportDesk {
    /// Memory only (an edge, tests).
    #[must_use]
    pub fn memory(vault: Arc<Vault>) -> SupportDesk {
        SupportDesk {
            store: Store::Memory,
            vault,
            model: tokio::sync::Mutex::default(),
        }
    }

    /// The JSON-lines log at `path` (created on the first change), folded now.
    ///
    /// # Errors
    /// The file cannot be read or holds a line that is not a change.
    pub fn file(path: PathBuf, vault: Arc<Vault>) -> Result<SupportDesk, SupportError> {
        let mut model = Model::default();
        crate::sidestore::read_lines(&path, |(id, at, c): (u64, u64, Change)| {
            model.apply(id, UnixNanos::new(at), &c, &vault);
            Ok(())
        })?;
        Ok(SupportDesk {
            store: Store::File(path),
            vault,
            model: tokio::sync::Mutex::new(model),
        })
    }

    /// In table `support_log` (migration 0014) through `pool` ([`crate::sidestore::pool`]),
    /// folded now.
    ///
    /// # Errors
    /// The table cannot be read.
    pub async fn postgres(pool: PgPool, vault: Arc<Vault>) -> Result<SupportDesk, SupportError> {
        let desk = SupportDesk {
            store: Store::Pg(pool),
            vault,
            model: tokio::sync::Mutex::default(),
        };
        drop(desk.model_now().await?);
        Ok(desk)
    }

    /// The model, with whatever other writers appended folded in (PostgreSQL).
    /// Drops the opened texts of an erased person's tickets from memory (their key is
    /// gone, so the log's copies no longer open either).
    pub async fn forget_person(&self, account: AccountId) {
        let mut m = self.model.lock().await;
        for t in m.tickets.values_mut().filter(|t| t.account == account) {
            ERASED.clone_into(&mut t.subject);
            for (_, body, _) in &mut t.messages {
                ERASED.clone_into(body);
            }
        }
    }

    async fn model_now(&self) -> Result<tokio::sync::MutexGuard<'_, Model>, SupportError> {
        let mut m = self.model.lock().await;
        if let Store::Pg(pool) = &self.store {
            let rows: Vec<(i64, i64, String)> =
                sqlx::query_as("SELECT id, at, change FROM support_log WHERE id > $1 ORDER BY id")
                    .bind(i64::try_from(m.last).unwrap_or(i64::MAX))
                    .fetch_all(pool)
                    .await?;
            for (id, at, change) in rows {
                let id = u64::try_from(id).unwrap_or(0);
                let c: Change =
                    serde_json::from_str(&change).map_err(|_| SupportError::Malformed(id))?;
                m.apply(
                    id,
                    UnixNanos::new(u64::try_from(at).unwrap_or(0)),
                    &c,
                    &self.vault,
                );
            }
        }
        Ok(m)
    }

    /// Appends `c` and folds it in; its log id.
    async fn append(&self, m: &mut Model, c: Change) -> Result<u64, SupportError> {
        let at = crate::auth::now();
        let id = match &self.store {
            Store::Pg(pool) => {
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO support_log (at, change) VALUES ($1, $2) RETURNING id",
                )
                .bind(i64::try_from(at.get()).unwrap_or(i64::MAX))
                .bind(serde_json::to_string(&c).unwrap_or_default())
                .fetch_one(pool)
                .await?;
                u64::try_from(id).unwrap_or(0)
            }
            Store::File(path) => {
                let id = m.last + 1;
                let line = serde_json::to_vec(&(id, at.get(), &c)).unwrap_or_default();
                crate::sidestore::append_line(path, line).await?;
                id
            }
            Store::Memory => m.last + 1,
        };
        m.apply(id, at, &c, &self.vault);
        Ok(id)
    }

    /// Sealed with the ticket's person's key (erasing them makes it unreadable).
    fn seal(&self, key: crate::vault::KeyId, text: &str) -> String {
        hex::encode(self.vault.seal_for(Some(key), text.as_bytes()).0)
    }
}

fn unavailable(e: SupportError) -> ApiError {
    crate::sidestore::unavailable("support")(e)
}

fn unknown() -> ApiError {
    ApiError::not_found("UNKNOWN_TICKET", "no such ticket")
}

fn text(field: &str, v: &str, max: usize) -> Result<String, ApiError> {
    let v = v.trim();
    let n = v.chars().count();
    let bad = v
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t');
    if n == 0 || n > max || bad {
        return Err(ApiError::unprocessable(
            "INVALID_FIELD",
            format!("{field} is 1 to {max} characters"),
        ));
    }
    Ok(v.to_owned())
}

fn ticket_id(id: &str) -> Result<u64, ApiError> {
    id.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(unknown)
}

/// A new ticket.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"subject": "A deposit I cannot see", "body": "I sent $500 on Monday…"}))]
pub(crate) struct NewTicket {
    #[schema(min_length = 1, max_length = 200)]
    subject: String,
    #[schema(min_length = 1, max_length = 5000)]
    body: String,
}

/// A reply.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Reply {
    #[schema(min_length = 1, max_length = 5000)]
    body: String,
}

/// Tickets, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TicketList {
    items: Vec<TicketView>,
}

/// `POST /v1/support/tickets`: opens a ticket.
#[utoipa::path(
    post,
    path = "/v1/support/tickets",
    tag = "support",
    security(("bearer" = [])),
    request_body = NewTicket,
    responses(
        (status = 201, description = "Opened.", body = TicketView),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the operator token has no account.",
         body = ErrorBody),
        (status = 413, description = "BODY_TOO_LARGE.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD, TOO_MANY_TICKETS (20 not closed).",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "UNAVAILABLE.", body = ErrorBody),
    )
)]
pub(crate) async fn open(
    axum::extract::State(s): State,
    Auth(who): Auth,
    JsonBody(body): JsonBody<NewTicket>,
) -> Result<(StatusCode, Json<TicketView>), ApiError> {
    let account = crate::people::account_of(&who)?;
    let subject = text("subject", &body.subject, MAX_SUBJECT)?;
    let first = text("body", &body.body, MAX_BODY)?;
    let desk = &s.0.support;
    let key = crate::people::key_of(&s, Some(account)).await?;
    let mut m = desk.model_now().await.map_err(unavailable)?;
    let not_closed = m
        .tickets
        .values()
        .filter(|t| t.account == account && t.status != TicketStatus::Closed)
        .count();
    if not_closed >= MAX_OPEN {
        return Err(ApiError::unprocessable(
            "TOO_MANY_TICKETS",
            "20 tickets are open; close one first",
        ));
    }
    let c = Change::Opened {
        account: account.get(),
        subject: desk.seal(key, &subject),
        body: desk.seal(key, &first),
    };
    let id = desk.append(&mut m, c).await.map_err(unavailable)?;
    let view = m.tickets.get(&id).map(|t| t.view(id)).ok_or_else(unknown)?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// `GET /v1/support/tickets`: the caller's tickets, newest first.
#[utoipa::path(
    get,
    path = "/v1/support/tickets",
    tag = "support",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's tickets.", body = TicketList),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the operator token has no account.",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "UNAVAILABLE.", body = ErrorBody),
    )
)]
pub(crate) async fn mine(
    axum::extract::State(s): State,
    Auth(who): Auth,
) -> Result<Json<TicketList>, ApiError> {
    let account = crate::people::account_of(&who)?;
    let m = s.0.support.model_now().await.map_err(unavailable)?;
    let items = m
        .tickets
        .iter()
        .rev()
        .filter(|(_, t)| t.account == account)
        .map(|(id, t)| t.view(*id))
        .collect();
    Ok(Json(TicketList { items }))
}

/// `GET /v1/support/tickets/{id}`: one of the caller's tickets and its thread.
#[utoipa::path(
    get,
    path = "/v1/support/tickets/{id}",
    tag = "support",
    security(("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9]+$", description = "The ticket.")),
    responses(
        (status = 200, description = "The ticket.", body = TicketView),
        (status = 400, description = "MALFORMED_PATH.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the operator token has no account.",
         body = ErrorBody),
        (status = 404, description = "UNKNOWN_TICKET (none such, or another person's).",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "UNAVAILABLE.", body = ErrorBody),
    )
)]
pub(crate) async fn one(
    axum::extract::State(s): State,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Json<TicketView>, ApiError> {
    let account = crate::people::account_of(&who)?;
    let id = ticket_id(&id)?;
    let m = s.0.support.model_now().await.map_err(unavailable)?;
    m.tickets
        .get(&id)
        .filter(|t| t.account == account)
        .map(|t| Json(t.view(id)))
        .ok_or_else(unknown)
}

/// Adds a message (or closes) as `author`, after `allowed` passed on the ticket.
async fn change(
    s: &crate::state::AppState,
    id: u64,
    allowed: impl Fn(&Ticket) -> bool,
    author: Author,
    body: Option<String>,
) -> Result<TicketView, ApiError> {
    let desk = &s.0.support;
    let mut m = desk.model_now().await.map_err(unavailable)?;
    let t = m
        .tickets
        .get(&id)
        .filter(|t| allowed(t))
        .ok_or_else(unknown)?;
    if t.status == TicketStatus::Closed {
        return Err(ApiError::unprocessable(
            "TICKET_CLOSED",
            "the ticket is closed; open a new one",
        ));
    }
    let owner = t.account;
    let c = match body {
        Some(b) => {
            let key = crate::people::key_of(s, Some(owner)).await?;
            if t.messages.len() >= MAX_MESSAGES {
                return Err(ApiError::unprocessable(
                    "TOO_MANY_MESSAGES",
                    "the thread is full (200 messages); open a new ticket",
                ));
            }
            Change::Message {
                ticket: id,
                author,
                body: desk.seal(key, &b),
            }
        }
        None => Change::Closed {
            ticket: id,
            by: author,
        },
    };
    desk.append(&mut m, c).await.map_err(unavailable)?;
    m.tickets.get(&id).map(|t| t.view(id)).ok_or_else(unknown)
}

/// `POST /v1/support/tickets/{id}/messages`: the caller replies (the ticket is `open`
/// again).
#[utoipa::path(
    post,
    path = "/v1/support/tickets/{id}/messages",
    tag = "support",
    security(("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9]+$", description = "The ticket.")),
    request_body = Reply,
    responses(
        (status = 200, description = "The ticket with the reply.", body = TicketView),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY, MALFORMED_PATH.",
         body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the operator token has no account.",
         body = ErrorBody),
        (status = 404, description = "UNKNOWN_TICKET.", body = ErrorBody),
        (status = 413, description = "BODY_TOO_LARGE.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD, TICKET_CLOSED, TOO_MANY_MESSAGES.",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "UNAVAILABLE.", body = ErrorBody),
    )
)]
pub(crate) async fn reply(
    axum::extract::State(s): State,
    Auth(who): Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Reply>,
) -> Result<Json<TicketView>, ApiError> {
    let account = crate::people::account_of(&who)?;
    let id = ticket_id(&id)?;
    let b = text("body", &body.body, MAX_BODY)?;
    let v = change(&s, id, |t| t.account == account, Author::Customer, Some(b)).await?;
    Ok(Json(v))
}

/// `POST /v1/support/tickets/{id}/close`: the caller closes the ticket.
#[utoipa::path(
    post,
    path = "/v1/support/tickets/{id}/close",
    tag = "support",
    security(("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9]+$", description = "The ticket.")),
    responses(
        (status = 200, description = "Closed.", body = TicketView),
        (status = 400, description = "MALFORMED_PATH.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: the operator token has no account.",
         body = ErrorBody),
        (status = 404, description = "UNKNOWN_TICKET.", body = ErrorBody),
        (status = 422, description = "TICKET_CLOSED.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "UNAVAILABLE.", body = ErrorBody),
    )
)]
pub(crate) async fn close(
    axum::extract::State(s): State,
    Auth(who): Auth,
    Path(id): Path<String>,
) -> Result<Json<TicketView>, ApiError> {
    let account = crate::people::account_of(&who)?;
    let id = ticket_id(&id)?;
    let v = change(&s, id, |t| t.account == account, Author::Customer, None).await?;
    Ok(Json(v))
}

/// `?status=` of the operator's list.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeskQuery {
    /// `open` (default: waiting for an operator), `answered`, `closed` or `all`.
    #[param(pattern = "^(open|answered|closed|all)$")]
    status: Option<String>,
}

/// `GET /v1/admin/support/tickets?status=`: every person's tickets, oldest first (the
/// queue to answer).
#[utoipa::path(
    get,
    path = "/v1/admin/support/tickets",
    tag = "operator",
    security(("bearer" = [])),
    params(DeskQuery),
    responses(
        (status = 200, description = "Tickets, oldest first.", body = TicketList),
        (status = 400, description = "MALFORMED_QUERY.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not the operator.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD (status).", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED (never for the operator token).",
         body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "UNAVAILABLE.", body = ErrorBody),
    )
)]
pub(crate) async fn desk(
    axum::extract::State(s): State,
    _op: Operator,
    Query(q): Query<DeskQuery>,
) -> Result<Json<TicketList>, ApiError> {
    let want: Option<TicketStatus> = match q.status.as_deref() {
        None | Some("open") => Some(TicketStatus::Open),
        Some("answered") => Some(TicketStatus::Answered),
        Some("closed") => Some(TicketStatus::Closed),
        Some("all") => None,
        Some(_) => {
            return Err(ApiError::unprocessable(
                "INVALID_FIELD",
                "status is open, answered, closed or all",
            ));
        }
    };
    let m = s.0.support.model_now().await.map_err(unavailable)?;
    let items = m
        .tickets
        .iter()
        .filter(|(_, t)| want.is_none_or(|w| t.status == w))
        .map(|(id, t)| t.view(*id))
        .collect();
    Ok(Json(TicketList { items }))
}

/// `GET /v1/admin/support/tickets/{id}`: any ticket and its thread.
#[utoipa::path(
    get,
    path = "/v1/admin/support/tickets/{id}",
    tag = "operator",
    security(("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9]+$", description = "The ticket.")),
    responses(
        (status = 200, description = "The ticket.", body = TicketView),
        (status = 400, description = "MALFORMED_PATH.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not the operator.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_TICKET.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED (never for the operator token).",
         body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "UNAVAILABLE.", body = ErrorBody),
    )
)]
pub(crate) async fn desk_one(
    axum::extract::State(s): State,
    _op: Operator,
    Path(id): Path<String>,
) -> Result<Json<TicketView>, ApiError> {
    let id = ticket_id(&id)?;
    let m = s.0.support.model_now().await.map_err(unavailable)?;
    m.tickets
        .get(&id)
        .map(|t| Json(t.view(id)))
        .ok_or_else(unknown)
}

/// `POST /v1/admin/support/tickets/{id}/messages`: an operator answers (the ticket is
/// `answered`).
#[utoipa::path(
    post,
    path = "/v1/admin/support/tickets/{id}/messages",
    tag = "operator",
    security(("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9]+$", description = "The ticket.")),
    request_body = Reply,
    responses(
        (status = 200, description = "The ticket with the answer.", body = TicketView),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY, MALFORMED_PATH.",
         body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not the operator.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_TICKET.", body = ErrorBody),
        (status = 413, description = "BODY_TOO_LARGE.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD, TICKET_CLOSED, TOO_MANY_MESSAGES.",
         body = ErrorBody),
        (status = 429, description = "RATE_LIMITED (never for the operator token).",
         body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "UNAVAILABLE.", body = ErrorBody),
    )
)]
pub(crate) async fn answer(
    axum::extract::State(s): State,
    _op: Operator,
    ClientIp(ip): ClientIp,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Reply>,
) -> Result<Json<TicketView>, ApiError> {
    let id = ticket_id(&id)?;
    let b = text("body", &body.body, MAX_BODY)?;
    let v = change(&s, id, |_| true, Author::Operator, Some(b)).await?;
    let account = v.account_id.parse().map(AccountId::new).ok();
    let mut r = Record::new(AuditKind::SupportAnswered, Actor::Operator)
        .ip(ip)
        .detail("ticket", id.to_string());
    if let Some(a) = account {
        r = r.account(a);
    }
    s.0.people.audit.record(r).await;
    Ok(Json(v))
}

/// `POST /v1/admin/support/tickets/{id}/close`: an operator closes a ticket.
#[utoipa::path(
    post,
    path = "/v1/admin/support/tickets/{id}/close",
    tag = "operator",
    security(("bearer" = [])),
    params(("id" = String, Path, pattern = "^[0-9]+$", description = "The ticket.")),
    responses(
        (status = 200, description = "Closed.", body = TicketView),
        (status = 400, description = "MALFORMED_PATH.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not the operator.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_TICKET.", body = ErrorBody),
        (status = 422, description = "TICKET_CLOSED.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED (never for the operator token).",
         body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "UNAVAILABLE.", body = ErrorBody),
    )
)]
pub(crate) async fn desk_close(
    axum::extract::State(s): State,
    _op: Operator,
    Path(id): Path<String>,
) -> Result<Json<TicketView>, ApiError> {
    let id = ticket_id(&id)?;
    let v = change(&s, id, |_| true, Author::Operator, None).await?;
    Ok(Json(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_bound_the_oldest_closed_tickets_are_forgotten_never_open_ones() {
        let vault = Vault::new(&[7; 32]);
        let mut m = Model {
            kept: 3,
            ..Model::default()
        };
        let sealed = |t: &str| hex::encode(vault.seal(t.as_bytes()).0);
        let open = |account| Change::Opened {
            account,
            subject: sealed("s"),
            body: sealed("first"),
        };
        let close = |ticket| Change::Closed {
            ticket,
            by: Author::Customer,
        };
        let at = UnixNanos::new(1);
        // Tickets 1 (open), 2 and 3 (closed), then 4, 5 and 6 (open).
        m.apply(1, at, &open(1), &vault);
        m.apply(2, at, &open(2), &vault);
        m.apply(3, at, &open(2), &vault);
        m.apply(10, at, &close(2), &vault);
        m.apply(11, at, &close(3), &vault);
        m.apply(4, at, &open(3), &vault);
        let ids = |m: &Model| m.tickets.keys().copied().collect::<Vec<_>>();
        // Four tickets: the oldest closed one (2) goes.
        assert_eq!(ids(&m), [1, 3, 4]);
        m.apply(5, at, &open(3), &vault);
        assert_eq!(ids(&m), [1, 4, 5]);
        // Only open ones left: nothing is forgotten, the bound gives way.
        m.apply(6, at, &open(3), &vault);
        assert_eq!(ids(&m), [1, 4, 5, 6]);
        assert_eq!(
            m.tickets.get(&1).map(|t| t.messages[0].1.as_str()),
            Some("first")
        );
    }
}
