//! PostgreSQL helpers shared by the journal tests: the database URL, a fresh schema per
//! test (so tests run in parallel without seeing each other), and a side connection for
//! raw SQL — the "operator" that damages tables, holds locks and terminates backends.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::atomic::{AtomicU32, Ordering};

use bourse_journal::PgJournalOptions;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, Connection, Executor};
use tokio::runtime::Runtime;

/// `BOURSE_TEST_DATABASE_URL`, or the local test database (`make pg` starts it).
pub(crate) fn database_url() -> String {
    std::env::var("BOURSE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A connection of its own, outside any journal, with its own runtime.
pub(crate) struct Side {
    rt: Runtime,
    conn: PgConnection,
}

impl Side {
    /// Connects with `search_path` set to `schema` (if any).
    pub(crate) fn connect(schema: Option<&str>) -> Self {
        Self::try_connect(schema).unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} is needed by these tests (`make pg` starts it): {e}",
                database_url()
            )
        })
    }

    fn try_connect(schema: Option<&str>) -> Result<Self, sqlx::Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let mut opts: PgConnectOptions = database_url().parse()?;
        if let Some(s) = schema {
            opts = opts.options([("search_path", s)]);
        }
        let conn = rt.block_on(PgConnection::connect_with(&opts))?;
        Ok(Self { rt, conn })
    }

    /// Runs one or more statements (simple protocol, no parameters).
    pub(crate) fn exec(&mut self, sql: &str) {
        let conn = &mut self.conn;
        self.rt
            .block_on(conn.execute(sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The one `bigint` (or NULL) a query returns.
    pub(crate) fn i64(&mut self, sql: &str) -> Option<i64> {
        let conn = &mut self.conn;
        self.rt
            .block_on(
                sqlx::query_scalar::<_, Option<i64>>(AssertSqlSafe(sql.to_owned())).fetch_one(conn),
            )
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The one `text` (or NULL) a query returns.
    pub(crate) fn text(&mut self, sql: &str) -> Option<String> {
        let conn = &mut self.conn;
        self.rt
            .block_on(
                sqlx::query_scalar::<_, Option<String>>(AssertSqlSafe(sql.to_owned()))
                    .fetch_one(conn),
            )
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Inserts a journal row as the journal would have written it.
    pub(crate) fn insert_row(&mut self, seq: i64, ts: i64, payload: &[u8]) {
        let conn = &mut self.conn;
        self.rt
            .block_on(
                sqlx::query("INSERT INTO journal (seq, ts, payload) VALUES ($1, $2, $3)")
                    .bind(seq)
                    .bind(ts)
                    .bind(payload)
                    .execute(conn),
            )
            .unwrap();
    }
}

/// A schema no other test uses, dropped (with everything in it) when this goes out of
/// scope, pass or fail.
pub(crate) struct Schema {
    pub(crate) name: String,
}

impl Schema {
    pub(crate) fn fresh(test: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let mut name = format!(
            "bjt_{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            test.to_ascii_lowercase()
        );
        name.retain(|c| c.is_ascii_alphanumeric() || c == '_');
        name.truncate(63);
        Self { name }
    }

    pub(crate) fn options(&self) -> PgJournalOptions {
        PgJournalOptions::new(database_url()).schema(self.name.clone())
    }

    /// A side connection working in this schema.
    pub(crate) fn side(&self) -> Side {
        Side::connect(Some(&self.name))
    }
}

impl Drop for Schema {
    /// Best effort and never a panic (this also runs while a failed test unwinds).
    fn drop(&mut self) {
        if let Ok(mut side) = Side::try_connect(None) {
            let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
            let conn = &mut side.conn;
            let _ = side
                .rt
                .block_on(conn.execute(sqlx::raw_sql(AssertSqlSafe(sql))));
        }
    }
}
