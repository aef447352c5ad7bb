//! News: items operators publish (`POST /v1/admin/news`), each tagged with listed symbols;
//! read by anyone, newest first (`GET /v1/news?symbol=&after=&limit=`), and pushed as they
//! are published to WebSocket connections subscribed to the `news` channel of one of their
//! symbols.
//!
//! Reference data beside the journal, not engine state (it moves no money and holds text the
//! engine has no use for): table `news` in the journal's PostgreSQL schema, or `news.jsonl`
//! beside the file journal, or (an edge, tests) memory only. Retention: PostgreSQL keeps
//! every item; the file keeps every item and the server answers from its newest
//! [`KEPT`]; memory keeps the newest [`KEPT`].

use std::collections::VecDeque;
use std::path::PathBuf;

use axum::Json;
use axum::http::StatusCode;
use bourse_core::{Symbol, UnixNanos};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgPool;
use utoipa::{IntoParams, ToSchema};

use crate::audit::{Actor, AuditKind, Record};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ClientIp, JsonBody, Operator, Query};
use crate::state::State;
use crate::wire;

/// Items answered from memory (the file and memory stores).
pub const KEPT: usize = 10_000;
/// Most items one page holds.
pub const MAX_PAGE: usize = 100;
/// Most symbols one item is tagged with.
pub const MAX_SYMBOLS: usize = 10;

/// One news item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NewsItem {
    /// Rises with each item published.
    pub id: u64,
    /// When it was published (RFC 3339, UTC).
    pub published_at: String,
    pub headline: String,
    /// Empty when there is none.
    pub summary: String,
    /// Who reported it.
    pub source: String,
    /// A link to the full story.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The listed symbols it is about.
    #[schema(value_type = Vec<wire::Symbol>)]
    pub symbols: Vec<String>,
}

/// As stored in the file (with the timestamp the JSON answer leaves out).
#[derive(Serialize, Deserialize)]
struct Line {
    id: u64,
    ts: u64,
    headline: String,
    summary: String,
    source: String,
    url: Option<String>,
    symbols: Vec<String>,
}

impl From<Line> for NewsItem {
    fn from(l: Line) -> NewsItem {
        NewsItem {
            id: l.id,
            published_at: UnixNanos::new(l.ts).to_rfc3339(),
            headline: l.headline,
            summary: l.summary,
            source: l.source,
            url: l.url,
            symbols: l.symbols,
        }
    }
}

/// Why the store could not be read or written.
pub use crate::sidestore::StoreError as NewsError;

enum Store {
    Pg(PgPool),
    /// The file, and its newest items in memory.
    File(PathBuf, RwLock<VecDeque<NewsItem>>),
    Memory(RwLock<VecDeque<NewsItem>>),
}

/// Where the news lives.
pub struct NewsStore {
    store: Store,
    /// The next id (file and memory stores; PostgreSQL numbers with a sequence). Held
    /// across a file write, so ids and lines stay in order.
    next: tokio::sync::Mutex<u64>,
}

impl std::fmt::Debug for NewsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewsStore").finish_non_exhaustive()
    }
}

fn keep(items: &mut VecDeque<NewsItem>, item: NewsItem) {
    if items.len() == KEPT {
        items.pop_front();
    }
    items.push_back(item);
}

impl NewsStore {
    /// Memory only (an edge, tests).
    #[must_use]
    pub fn memory() -> NewsStore {
        NewsStore {
            store: Store::Memory(RwLock::default()),
            next: tokio::sync::Mutex::new(1),
        }
    }

    /// The JSON-lines file at `path` (created on the first item).
    ///
    /// # Errors
    /// The file cannot be read or holds a line that is not an item.
    pub fn file(path: PathBuf) -> Result<NewsStore, NewsError> {
        let mut items = VecDeque::new();
        let mut next = 1;
        crate::sidestore::read_lines(&path, |l: Line| {
            next = l.id + 1;
            keep(&mut items, l.into());
            Ok(())
        })?;
        Ok(NewsStore {
            store: Store::File(path, RwLock::new(items)),
            next: tokio::sync::Mutex::new(next),
        })
    }

    /// In table `news` (migration 0013) through `pool` ([`crate::sidestore::pool`]).
    ///
    /// # Errors
    /// The table cannot be read.
    pub async fn postgres(pool: PgPool) -> Result<NewsStore, NewsError> {
        crate::sidestore::probe(&pool, "SELECT 1 FROM news LIMIT 1").await?;
        Ok(NewsStore {
            store: Store::Pg(pool),
            next: tokio::sync::Mutex::new(1),
        })
    }

    /// Stores an item (its id and time given here).
    ///
    /// # Errors
    /// The store cannot be written.
    pub async fn publish(&self, mut item: NewsItem, at: UnixNanos) -> Result<NewsItem, NewsError> {
        item.published_at = at.to_rfc3339();
        match &self.store {
            Store::Pg(pool) => {
                let (id,): (i64,) = sqlx::query_as(
                    "INSERT INTO news (at, headline, summary, source, url, symbols) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(i64::try_from(at.get()).unwrap_or(i64::MAX))
                .bind(&item.headline)
                .bind(&item.summary)
                .bind(&item.source)
                .bind(&item.url)
                .bind(&item.symbols)
                .fetch_one(pool)
                .await?;
                item.id = u64::try_from(id).unwrap_or(0);
            }
            Store::File(path, items) => {
                // Appended and synced before the item is shown, under the id's lock.
                let mut next = self.next.lock().await;
                item.id = *next;
                let line = serde_json::to_vec(&Line {
                    id: item.id,
                    ts: at.get(),
                    headline: item.headline.clone(),
                    summary: item.summary.clone(),
                    source: item.source.clone(),
                    url: item.url.clone(),
                    symbols: item.symbols.clone(),
                })
                .unwrap_or_default();
                crate::sidestore::append_line(path, line).await?;
                *next += 1;
                keep(&mut items.write(), item.clone());
            }
            Store::Memory(items) => {
                let mut next = self.next.lock().await;
                item.id = *next;
                *next += 1;
                keep(&mut items.write(), item.clone());
            }
        }
        Ok(item)
    }

    /// Items about `symbol` (or all), older than `after` (an id), newest first.
    ///
    /// # Errors
    /// The store cannot be read.
    pub async fn page(
        &self,
        symbol: Option<&str>,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<NewsItem>, NewsError> {
        // One more than a page, so a caller can tell whether another follows.
        let limit = limit.clamp(1, MAX_PAGE + 1);
        let from_memory = |items: &RwLock<VecDeque<NewsItem>>| {
            items
                .read()
                .iter()
                .rev()
                .filter(|i| after.is_none_or(|a| i.id < a))
                .filter(|i| symbol.is_none_or(|s| i.symbols.iter().any(|x| x == s)))
                .take(limit)
                .cloned()
                .collect()
        };
        match &self.store {
            Store::Pg(pool) => {
                type Row = (
                    i64,
                    i64,
                    String,
                    String,
                    String,
                    Option<String>,
                    Vec<String>,
                );
                let rows: Vec<Row> = sqlx::query_as(
                    "SELECT id, at, headline, summary, source, url, symbols FROM news \
                     WHERE ($1::text IS NULL OR $1 = ANY (symbols)) \
                       AND ($2::bigint IS NULL OR id < $2) \
                     ORDER BY id DESC LIMIT $3",
                )
                .bind(symbol)
                .bind(after.map(|a| i64::try_from(a).unwrap_or(i64::MAX)))
                .bind(i64::try_from(limit).unwrap_or(100))
                .fetch_all(pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|(id, at, headline, summary, source, url, symbols)| {
                        NewsItem::from(Line {
                            id: u64::try_from(id).unwrap_or(0),
                            ts: u64::try_from(at).unwrap_or(0),
                            headline,
                            summary,
                            source,
                            url,
                            symbols,
                        })
                    })
                    .collect())
            }
            Store::File(_, items) | Store::Memory(items) => Ok(from_memory(items)),
        }
    }
}

/// What an operator publishes.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"headline": "Apple opens a new campus", "summary": "…",
    "source": "Newswire", "url": "https://example.com/story", "symbols": ["AAPL"]}))]
pub(crate) struct NewNews {
    #[schema(min_length = 1, max_length = 200)]
    headline: String,
    #[schema(max_length = 2000)]
    summary: Option<String>,
    /// Default `bourse`.
    #[schema(max_length = 100)]
    source: Option<String>,
    /// `http://` or `https://`, at most 500 characters.
    #[schema(max_length = 500)]
    url: Option<String>,
    /// 1 to 10 listed symbols.
    #[schema(value_type = Vec<wire::Symbol>, min_items = 1, max_items = 10)]
    symbols: Vec<String>,
}

fn text(field: &str, v: &str, min: usize, max: usize) -> Result<String, ApiError> {
    let v = v.trim();
    let n = v.chars().count();
    if n < min || n > max || v.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "INVALID_FIELD",
            format!("{field} is {min} to {max} characters, no control characters"),
        ));
    }
    Ok(v.to_owned())
}

/// `POST /v1/admin/news`: publishes an item; subscribers to the `news` channel of any of
/// its symbols get it at once.
#[utoipa::path(
    post,
    path = "/v1/admin/news",
    tag = "operator",
    security(("bearer" = [])),
    request_body = NewNews,
    responses(
        (status = 201, description = "Published.", body = NewsItem),
        (status = 400, description = "MALFORMED_JSON, INVALID_BODY.", body = ErrorBody),
        (status = 401, description = "UNAUTHORIZED.", body = ErrorBody),
        (status = 403, description = "FORBIDDEN: not the operator.", body = ErrorBody),
        (status = 413, description = "BODY_TOO_LARGE.", body = ErrorBody),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE.", body = ErrorBody),
        (status = 422, description = "INVALID_FIELD, UNKNOWN_SYMBOL.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED (never for the operator token).",
         body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "UNAVAILABLE: the news store cannot be written.",
         body = ErrorBody),
    )
)]
pub(crate) async fn publish(
    axum::extract::State(s): State,
    _op: Operator,
    ClientIp(ip): ClientIp,
    JsonBody(body): JsonBody<NewNews>,
) -> Result<(StatusCode, Json<NewsItem>), ApiError> {
    let headline = text("headline", &body.headline, 1, 200)?;
    let summary = text("summary", body.summary.as_deref().unwrap_or(""), 0, 2000)?;
    let source = text("source", body.source.as_deref().unwrap_or("bourse"), 1, 100)?;
    let url = match body.url.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(u) => {
            let ok = (u.starts_with("https://") || u.starts_with("http://"))
                && u.len() <= 500
                && !u.chars().any(|c| c.is_control() || c.is_whitespace());
            if !ok {
                return Err(ApiError::unprocessable(
                    "INVALID_FIELD",
                    "url is an http:// or https:// address of at most 500 characters",
                ));
            }
            Some(u.to_owned())
        }
    };
    if body.symbols.is_empty() || body.symbols.len() > MAX_SYMBOLS {
        return Err(ApiError::unprocessable(
            "INVALID_FIELD",
            "symbols holds 1 to 10 listed symbols",
        ));
    }
    let mut symbols: Vec<Symbol> = Vec::new();
    for t in &body.symbols {
        let sym = t
            .to_ascii_uppercase()
            .parse::<Symbol>()
            .ok()
            .filter(|sym| s.0.listings.get(*sym).is_some())
            .ok_or_else(|| ApiError::unprocessable("UNKNOWN_SYMBOL", "no such listed symbol"))?;
        if !symbols.contains(&sym) {
            symbols.push(sym);
        }
    }
    let item = NewsItem {
        id: 0,
        published_at: String::new(),
        headline,
        summary,
        source,
        url,
        symbols: symbols.iter().map(ToString::to_string).collect(),
    };
    let item =
        s.0.news
            .publish(item, crate::auth::now())
            .await
            .map_err(crate::sidestore::unavailable("the news"))?;
    let mut frame = serde_json::to_value(&item).unwrap_or_default();
    frame["type"] = serde_json::Value::from("news");
    let frame = bourse_feed::Frame::from(frame.to_string());
    s.0.feed.publish_news(&symbols, &frame);
    let r = Record::new(AuditKind::NewsPublished, Actor::Operator)
        .ip(ip)
        .detail("news_id", item.id.to_string())
        .detail("symbols", item.symbols.join(","));
    s.0.people.audit.record(r).await;
    Ok((StatusCode::CREATED, Json(item)))
}

/// `?symbol=&after=&limit=` of the news.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct NewsQuery {
    /// Only items about this stock (case-insensitive).
    #[param(value_type = Option<String>)]
    symbol: Option<String>,
    /// The `next` cursor of the previous page: older items.
    #[param(minimum = 1)]
    after: Option<u64>,
    /// Page length, 1-100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
}

/// A page of news, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NewsPage {
    items: Vec<NewsItem>,
    /// The `after` of the next (older) page; absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<u64>,
}

/// `GET /v1/news`: news items, newest first, for one stock or all.
#[utoipa::path(
    get,
    path = "/v1/news",
    tag = "market",
    params(NewsQuery),
    responses(
        (status = 200, description = "Items, newest first.", body = NewsPage),
        (status = 400, description = "MALFORMED_QUERY.", body = ErrorBody),
        (status = 404, description = "UNKNOWN_SYMBOL.", body = ErrorBody),
        (status = 422, description = "INVALID_LIMIT.", body = ErrorBody),
        (status = 429, description = "RATE_LIMITED.", body = ErrorBody,
         headers(("Retry-After" = u32, description = "Seconds to wait."))),
        (status = 503, description = "UNAVAILABLE: the news store cannot be read.",
         body = ErrorBody),
    )
)]
pub(crate) async fn list(
    axum::extract::State(s): State,
    Query(q): Query<NewsQuery>,
) -> Result<Json<NewsPage>, ApiError> {
    let symbol = match q.symbol.as_deref() {
        None => None,
        Some(t) => Some(crate::state::listed(&s, &t.to_ascii_uppercase())?.to_string()),
    };
    let limit = match q.limit {
        None => 20,
        Some(n @ 1..=MAX_PAGE) => n,
        Some(_) => {
            return Err(ApiError::unprocessable(
                "INVALID_LIMIT",
                "limit is 1 to 100",
            ));
        }
    };
    let mut items =
        s.0.news
            .page(symbol.as_deref(), q.after, limit + 1)
            .await
            .map_err(crate::sidestore::unavailable("the news"))?;
    let next = crate::sidestore::page_end(&mut items, limit, |i| i.id);
    Ok(Json(NewsPage { items, next }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(h: &str, syms: &[&str]) -> NewsItem {
        NewsItem {
            id: 0,
            published_at: String::new(),
            headline: h.into(),
            summary: String::new(),
            source: "test".into(),
            url: None,
            symbols: syms.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn a_file_store_numbers_pages_filters_and_survives_a_restart() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        rt.block_on(async {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let path = dir.path().join("news.jsonl");
            let n = NewsStore::file(path.clone()).unwrap_or_else(|e| panic!("{e}"));
            for (h, s) in [
                ("a", &["AAPL"][..]),
                ("b", &["MSFT"]),
                ("c", &["AAPL", "MSFT"]),
            ] {
                n.publish(item(h, s), UnixNanos::new(1_000))
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            drop(n);
            let n = NewsStore::file(path).unwrap_or_else(|e| panic!("{e}"));
            let heads = |v: Vec<NewsItem>| {
                v.into_iter()
                    .map(|i| (i.id, i.headline))
                    .collect::<Vec<_>>()
            };
            let all = n.page(None, None, 10).await.unwrap_or_default();
            assert_eq!(
                heads(all),
                [(3, "c".into()), (2, "b".into()), (1, "a".into())]
            );
            let aapl = n.page(Some("AAPL"), None, 10).await.unwrap_or_default();
            assert_eq!(heads(aapl), [(3, "c".into()), (1, "a".into())]);
            let older = n.page(Some("AAPL"), Some(3), 1).await.unwrap_or_default();
            assert_eq!(heads(older), [(1, "a".into())]);
            let next = n.publish(item("d", &["KO"]), UnixNanos::new(2_000)).await;
            assert_eq!(next.map(|i| i.id).ok(), Some(4));
        });
    }
}
