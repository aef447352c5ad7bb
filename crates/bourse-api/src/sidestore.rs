//! What the stores kept beside the journal share (the audit log, news, support tickets):
//! a small pool into the journal's PostgreSQL schema, whole-line appends to a JSON-lines
//! file beside the file journal, reading such a file back, their one error type, and the
//! answer a route gives when one cannot be reached.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use sqlx::postgres::PgPool;

use crate::error::ApiError;

/// Why a store could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("file: {0}")]
    Io(#[from] std::io::Error),
    #[error("entry {0} is malformed")]
    Malformed(u64),
    #[error("{0}")]
    Config(String),
}

/// The stores' one pool into the journal's schema (`bourse-stores` in
/// `pg_stat_activity`): two connections, since their requests are rare (a log-in, a news
/// item, a ticket), never per order.
///
/// # Errors
/// The options are invalid, or the database cannot be reached.
pub async fn pool(opts: &crate::readmodel::PgReadModelOptions) -> Result<PgPool, StoreError> {
    let connect = opts
        .connect_options("bourse-stores")
        .map_err(|e| StoreError::Config(e.to_string()))?;
    Ok(sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(opts.connect_timeout)
        .connect_with(connect)
        .await?)
}

/// Checks a store's table is there (migrated): `probe` is a query that reads it.
///
/// # Errors
/// The table cannot be read.
pub async fn probe(pool: &PgPool, probe: &'static str) -> Result<(), StoreError> {
    sqlx::query(probe).fetch_optional(pool).await?;
    Ok(())
}

/// Appends `line` and a newline to the file at `path` (created if missing) in one write,
/// synced before it returns, off the async threads.
///
/// # Errors
/// The file cannot be opened, written or synced.
pub async fn append_line(path: &Path, mut line: Vec<u8>) -> Result<(), StoreError> {
    line.push(b'\n');
    let path: PathBuf = path.to_owned();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        f.write_all(&line)?;
        f.sync_data()
    })
    .await
    .map_err(|e| std::io::Error::other(e.to_string()))??;
    Ok(())
}

/// Every line of the JSON-lines file at `path`, in order (none if it does not exist);
/// `visit` gets each with its line number.
///
/// # Errors
/// The file cannot be read, a line is not a `T`, or `visit` fails.
pub fn read_lines<T: DeserializeOwned>(
    path: &Path,
    mut visit: impl FnMut(T) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    for (n, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let v = serde_json::from_str(&line).map_err(|_| StoreError::Malformed(n as u64 + 1))?;
        visit(v)?;
    }
    Ok(())
}

/// `503 UNAVAILABLE` for a store that cannot be reached (the cause is logged, not shown).
pub fn unavailable(what: &'static str) -> impl Fn(StoreError) -> ApiError + Copy {
    move |e| {
        tracing::error!("{what}: {e}");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            format!("{what} cannot be reached now"),
        )
    }
}

/// Cuts `items` (fetched one longer than a page) to `limit`; the cursor of the next page
/// (the last item's id) when there was more.
pub fn page_end<T>(items: &mut Vec<T>, limit: usize, id: impl Fn(&T) -> u64) -> Option<u64> {
    let more = items.len() > limit;
    items.truncate(limit);
    if more { items.last().map(id) } else { None }
}
