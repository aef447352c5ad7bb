//! The PostgreSQL journal (sqlx).
//!
//! Tables (`migrations/0001_journal.sql`, applied by [`PgJournal::open`]):
//! `journal(seq, ts, payload)` with `payload` the codec bytes of the whole [`Sequenced`]
//! (format version included), and `snapshots(seq, crc32, payload, taken_at)`.
//!
//! **Synchronous over a private runtime.** The [`Journal`] trait is synchronous; a
//! `PgJournal` owns a current-thread tokio runtime and blocks on it for every call. Use it
//! from plain threads (the journal writer thread, recovery at start), never from inside an
//! async runtime: tokio panics on a nested `block_on`. An async caller hands it to
//! `spawn_blocking` or a thread of its own.
//!
//! **One connection, one writer.** All calls share one connection (`application_name`
//! `bourse-journal`, `synchronous_commit = on` so a commit returns only once its WAL is
//! flushed, whatever the server's default). It holds a session advisory lock keyed by the
//! schema for its whole life, so a second writer cannot open the same journal, and — more
//! subtly — so that after a lost connection the new session cannot look at the table until
//! the old session is gone and its transaction is final (see below).
//!
//! **Group commit.** One append is one transaction: a single `COPY … FROM STDIN (FORMAT
//! binary)` or a single `INSERT … SELECT FROM UNNEST(…)` in autocommit, which commits
//! before the server answers. [`PgWrite`] picks the statement (`UNNEST` by default; see
//! there for the measurements and why).
//!
//! **Lost connections.** If an append fails in any way after it may have reached the
//! server, the outcome is unknown (the commit may have happened and only the answer been
//! lost). The journal drops the connection and marks itself in doubt; the next call
//! reconnects, takes the lock (waiting for the old session to go), and reads `max(seq)`:
//! either the lost transaction committed (max = its last seq) or it did not (max = the
//! last acknowledged seq). Anything else is [`JournalError::Diverged`]. The caller retries
//! the same batch ([`JournalError::is_retryable`] says when), and the append contract
//! (skip what is already durable) makes the retry exact. The primary key on `seq` is the
//! last line: a duplicate can never be stored.
//!
//! **Checks.** Opening checks that the seqs are exactly `1..=max` (else
//! [`JournalError::Gap`], naming the first missing seq) and decodes the last record; every
//! read decodes every record it returns and checks its seq and timestamp against the row
//! ([`JournalError::Corrupt`] names the seq). Records before the newest snapshot are not
//! decoded at open: recovery never reads them, and PostgreSQL keeps its own page checksums.

use std::fmt;
use std::future::Future;
use std::io;
use std::str::FromStr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use bourse_core::codec;
use bourse_core::{Seq, Sequenced};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgRow};
use sqlx::{AssertSqlSafe, Connection, Executor, Row};
use tokio::runtime::Runtime;

use crate::{Journal, JournalError, Location, undurable_part};

/// The workspace's migrations, embedded (`build.rs` rebuilds when they change).
pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// What `pg_stat_activity.application_name` shows for the journal's connection.
pub const APPLICATION_NAME: &str = "bourse-journal";

/// First key of the writer's advisory lock ("bour"); the second is a hash of the schema.
pub(crate) const LOCK_CLASS: i32 = 0x626F_7572;

/// Rows per round trip when reading: big enough that the round trips are noise next to
/// decoding, small enough that a page is under a megabyte.
const READ_PAGE: i64 = 8192;

/// `COPY` binary format: signature, flags, header extension length.
const PGCOPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// Per-row field count (seq, ts, payload) and the end-of-data marker.
const PGCOPY_FIELDS: [u8; 2] = 3i16.to_be_bytes();
const PGCOPY_TRAILER: [u8; 2] = (-1i16).to_be_bytes();

/// How an append reaches the table. Both are one statement and one transaction.
///
/// Measured (`benches/benches/journal.rs`, PostgreSQL 15 on the same host): over TCP,
/// `Unnest` wins by far for batches up to hundreds of commands and is ahead at 4096; over a
/// Unix socket, `Copy` is 4–33% faster at every batch size. The difference is not
/// PostgreSQL's: sqlx 0.9.0 no longer sets `TCP_NODELAY` (sqlx issue #4335, fixed upstream
/// after 0.9.0), and `COPY` sends its data and its end marker as two writes, so Nagle's
/// algorithm holds the end marker until the server's delayed ACK — about 40 ms on every
/// commit. `INSERT` goes out as one write and never waits. Hence `Unnest` is the default;
/// choose `Copy` with a Unix-socket URL (`?host=/var/run/postgresql`) or once sqlx sets
/// `TCP_NODELAY` again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PgWrite {
    /// `INSERT INTO journal SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bytea[])`:
    /// one round trip for a prepared statement, three array parameters.
    #[default]
    Unnest,
    /// `COPY journal FROM STDIN (FORMAT binary)` with the rows encoded here: two round
    /// trips (the server must accept the COPY before data is sent), cheapest per row.
    Copy,
}

/// How to reach the database and how to write.
#[derive(Clone)]
pub struct PgJournalOptions {
    /// `postgres://user[:password]@host[:port]/database[?…]`.
    pub url: String,
    /// A schema of its own (created if missing; the tables and the migrations' bookkeeping
    /// go in it): lower-case letters, digits and `_`, at most 63 bytes. `None` uses the
    /// connection's default search path (normally `public`).
    pub schema: Option<String>,
    pub write: PgWrite,
    /// Bound on establishing a connection.
    pub connect_timeout: Duration,
    /// How long to wait for the writer lock: at open (another writer) and after a lost
    /// connection (the old session still going away). Then [`JournalError::Locked`].
    pub lock_wait: Duration,
    /// Bound on one append, read page or snapshot operation; past it the connection is
    /// treated as lost (a half-open TCP connection would otherwise hang the writer).
    pub io_timeout: Duration,
    /// The writer's fencing token ([`crate::Lease`]): when set, every append and snapshot
    /// checks in its own statement that `leader_lease` still carries it, and a reconnection
    /// checks it before taking the writer lock; otherwise [`JournalError::Fenced`]. Fenced
    /// appends always use the `INSERT … UNNEST` statement (whatever `write` says), which
    /// runs on the server to its end even if this process stops mid-way.
    pub fence: Option<i64>,
    /// Where the caller already knows the journal ends, having read every seq up to it (a
    /// standby taking over): the open then checks only that the table ends there and that
    /// the last record decodes, instead of counting every row (which grows with the
    /// journal and would lengthen every takeover).
    pub verified_end: Option<u64>,
}

impl PgJournalOptions {
    #[must_use]
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: None,
            write: PgWrite::default(),
            connect_timeout: Duration::from_secs(10),
            lock_wait: Duration::from_secs(10),
            io_timeout: Duration::from_secs(60),
            fence: None,
            verified_end: None,
        }
    }

    #[must_use]
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    #[must_use]
    pub fn write(mut self, write: PgWrite) -> Self {
        self.write = write;
        self
    }
}

/// `url` with any password replaced, for logs and `Debug`.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((user, host)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{name}:***@{host}")
        }
        _ => url.to_owned(),
    }
}

impl fmt::Debug for PgJournalOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgJournalOptions")
            .field("url", &redacted(&self.url))
            .field("schema", &self.schema)
            .field("write", &self.write)
            .field("connect_timeout", &self.connect_timeout)
            .field("lock_wait", &self.lock_wait)
            .field("io_timeout", &self.io_timeout)
            .field("fence", &self.fence)
            .finish()
    }
}

/// Whether a database error means the connection (not the request) failed, so that the
/// same request on a new connection may succeed.
pub(crate) fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // 08: connection exception; 57P01-03: terminated by an administrator, a crash
            // shutdown, or the server is starting; 53300: too many connections;
            // 40001/40P01: serialization failure, deadlock. 23505 (unique violation) on an
            // append means the rows exist — an earlier attempt committed and only its
            // answer was lost — which the retry's reconnection finds out (or reports as
            // `Diverged` if another writer put them there).
            code.starts_with("08")
                || matches!(
                    &*code,
                    "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01" | "23505"
                )
        }),
        _ => false,
    }
}

fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> JournalError {
    move |source| JournalError::Database { what, source }
}

fn io_error(what: &'static str, kind: io::ErrorKind, msg: &str) -> JournalError {
    JournalError::Database {
        what,
        source: sqlx::Error::Io(io::Error::new(kind, msg.to_owned())),
    }
}

/// `fut` with `limit`; past it, a timeout error naming `what` (treated as a lost connection).
async fn timed<T>(
    limit: Duration,
    what: &'static str,
    fut: impl Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, JournalError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r.map_err(db(what)),
        Err(_) => Err(io_error(what, io::ErrorKind::TimedOut, "timed out")),
    }
}

fn to_i64(seq: u64, what: &str) -> Result<i64, JournalError> {
    i64::try_from(seq).map_err(|_| JournalError::Encode {
        seq,
        source: codec::CodecError::Encode(format!("{what} {seq} exceeds BIGINT")),
    })
}

/// What does not change after open.
#[derive(Debug)]
struct Ctx {
    connect: PgConnectOptions,
    /// `journal`, or `<schema>.journal`: for messages.
    table: String,
    write: PgWrite,
    connect_timeout: Duration,
    lock_wait: Duration,
    io_timeout: Duration,
    fence: Option<i64>,
    /// Opened with [`PgJournal::open_reader`]: no writer lock, no appends, and the end is
    /// what [`PgJournal::refresh_end`] last read.
    reader: bool,
}

impl Ctx {
    fn row(&self, seq: u64) -> Location {
        Location::Row {
            table: self.table.clone(),
            seq,
        }
    }

    fn corrupt(&self, seq: u64, what: impl Into<String>) -> JournalError {
        JournalError::Corrupt {
            at: self.row(seq),
            what: what.into(),
        }
    }

    /// Decodes the payload of the row of `seq` and checks it is that row's record.
    fn decode(&self, seq: u64, ts: i64, payload: &[u8]) -> Result<Sequenced, JournalError> {
        let rec = codec::decode::<Sequenced>(payload)
            .map_err(|e| self.corrupt(seq, format!("payload does not decode: {e}")))?;
        if rec.seq.0 != seq {
            return Err(self.corrupt(seq, format!("payload holds seq {}", rec.seq.0)));
        }
        if i64::try_from(rec.ts.get()).ok() != Some(ts) {
            return Err(self.corrupt(
                seq,
                format!("payload has ts {}, the row {ts}", rec.ts.get()),
            ));
        }
        Ok(rec)
    }
}

/// The connection and what is known about the last append.
#[derive(Debug, Default)]
struct Link {
    conn: Option<PgConnection>,
    /// The last seq of an append whose outcome is unknown (the connection failed while it
    /// was in flight). Until resolved, `durable` is a lower bound.
    in_doubt: Option<u64>,
}

/// The PostgreSQL-backed [`Journal`]. See the module docs.
pub struct PgJournal {
    ctx: Ctx,
    rt: Runtime,
    /// Appends reach it through `&mut self` (no locking); reads, through `&self`, lock it.
    link: Mutex<Link>,
    durable: AtomicU64,
    /// Server process id of the current connection, 0 when there is none.
    pid: AtomicU32,
    schema: Option<String>,
    // Reused append buffers: the COPY stream, or the UNNEST arrays.
    buf: Vec<u8>,
    seqs: Vec<i64>,
    tss: Vec<i64>,
    ends: Vec<usize>,
}

impl fmt::Debug for PgJournal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgJournal")
            .field("table", &self.ctx.table)
            .field("write", &self.ctx.write)
            .field("durable", &self.durable.load(Ordering::Acquire))
            .field("backend_pid", &self.backend_pid())
            .finish_non_exhaustive()
    }
}

pub(crate) fn valid_schema(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Connects, bounded by `connect_timeout`.
async fn establish(ctx: &Ctx) -> Result<PgConnection, JournalError> {
    match tokio::time::timeout(
        ctx.connect_timeout,
        PgConnection::connect_with(&ctx.connect),
    )
    .await
    {
        Ok(r) => r.map_err(db("connect")),
        Err(_) => Err(io_error(
            "connect",
            io::ErrorKind::TimedOut,
            "connecting timed out",
        )),
    }
}

/// Takes the writer lock (retrying until `lock_wait`) and records the backend pid.
async fn claim(conn: &mut PgConnection, ctx: &Ctx, pid: &AtomicU32) -> Result<(), JournalError> {
    let start = Instant::now();
    loop {
        // `current_schema()` is the schema the unqualified table names resolve to; NULL if
        // the configured one does not exist (dropped underneath us).
        let got: Option<bool> =
            sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext(current_schema()))")
                .bind(LOCK_CLASS)
                .fetch_one(&mut *conn)
                .await
                .map_err(db("take the writer lock"))?;
        match got {
            Some(true) => break,
            Some(false) if start.elapsed() < ctx.lock_wait => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Some(false) => {
                return Err(JournalError::Locked {
                    table: ctx.table.clone(),
                });
            }
            None => {
                return Err(JournalError::Config(format!(
                    "the schema of {} does not exist",
                    ctx.table
                )));
            }
        }
    }
    let p: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *conn)
        .await
        .map_err(db("connect"))?;
    pid.store(u32::try_from(p).unwrap_or(0), Ordering::Release);
    Ok(())
}

/// The journal's end, after checking its seqs are exactly `1..=end` and decoding the
/// last record.
async fn check_end(conn: &mut PgConnection, ctx: &Ctx) -> Result<u64, JournalError> {
    const WHAT: &str = "check the journal";
    let (count, min, max): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), coalesce(min(seq), 0), coalesce(max(seq), 0) FROM journal",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(db(WHAT))?;
    // The table's CHECK keeps seqs positive, so these conversions only fail on damage.
    let as_seq = |v: i64| {
        u64::try_from(v).map_err(|_| ctx.corrupt(0, format!("impossible seq {v} in the table")))
    };
    let (count, min, max) = (as_seq(count)?, as_seq(min)?, as_seq(max)?);
    if count == 0 {
        return Ok(0);
    }
    if min != 1 {
        return Err(JournalError::Gap {
            at: ctx.row(min),
            expected: 1,
            found: min,
        });
    }
    if count != max {
        // Only on the error path: find the first hole for the message.
        let expected: i64 = sqlx::query_scalar(
            "SELECT s.seq + 1 FROM journal s WHERE s.seq < $1 \
             AND NOT EXISTS (SELECT 1 FROM journal n WHERE n.seq = s.seq + 1) \
             ORDER BY s.seq LIMIT 1",
        )
        .bind(to_i64(max, "seq")?)
        .fetch_one(&mut *conn)
        .await
        .map_err(db(WHAT))?;
        let found: i64 = sqlx::query_scalar("SELECT min(seq) FROM journal WHERE seq > $1")
            .bind(expected)
            .fetch_one(&mut *conn)
            .await
            .map_err(db(WHAT))?;
        return Err(JournalError::Gap {
            at: ctx.row(as_seq(found)?),
            expected: as_seq(expected)?,
            found: as_seq(found)?,
        });
    }
    let (ts, payload): (i64, Vec<u8>) =
        sqlx::query_as("SELECT ts, payload FROM journal WHERE seq = $1")
            .bind(to_i64(max, "seq")?)
            .fetch_one(&mut *conn)
            .await
            .map_err(db(WHAT))?;
    ctx.decode(max, ts, &payload)?;
    Ok(max)
}

/// The lease's token now (0 if there is no lease row).
async fn lease_token(conn: &mut PgConnection, ctx: &Ctx) -> Result<i64, JournalError> {
    Ok(timed(
        ctx.io_timeout,
        "read the lease",
        sqlx::query_scalar::<_, Option<i64>>("SELECT max(token) FROM leader_lease WHERE id = 1")
            .fetch_one(&mut *conn),
    )
    .await?
    .unwrap_or(0))
}

/// With a fencing token: refuses a connection on which the lease carries another one.
async fn check_fence(conn: &mut PgConnection, ctx: &Ctx) -> Result<(), JournalError> {
    let Some(token) = ctx.fence else {
        return Ok(());
    };
    let current = lease_token(conn, ctx).await?;
    if current == token {
        Ok(())
    } else {
        Err(JournalError::Fenced { token, current })
    }
}

/// The journal's end, after checking it is `known` (which the caller read gap-free) and
/// decoding the last record.
async fn check_known_end(
    conn: &mut PgConnection,
    ctx: &Ctx,
    known: u64,
) -> Result<u64, JournalError> {
    const WHAT: &str = "check the journal";
    let row: Option<(i64, i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, ts, payload FROM journal ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await
            .map_err(db(WHAT))?;
    let Some((seq, ts, payload)) = row else {
        return if known == 0 {
            Ok(0)
        } else {
            Err(ctx.corrupt(known, "the journal is empty"))
        };
    };
    let seq = u64::try_from(seq).unwrap_or(0);
    if seq != known {
        return Err(JournalError::Diverged {
            table: ctx.table.clone(),
            acknowledged: known,
            in_flight: known,
            found: seq,
        });
    }
    ctx.decode(seq, ts, &payload)?;
    Ok(seq)
}

/// Creates `schema` if it is missing (applying the migrations is the caller's).
pub(crate) async fn prepare_schema(
    conn: &mut PgConnection,
    schema: Option<&str>,
) -> Result<(), JournalError> {
    let Some(s) = schema else {
        return Ok(());
    };
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(s)
            .fetch_one(&mut *conn)
            .await
            .map_err(db("look up the schema"))?;
    // Only when missing: CREATE SCHEMA needs a privilege a production role may rightly
    // lack once the schema exists.
    if !exists {
        conn.execute(AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS {s}")))
            .await
            .map_err(db("create the schema"))?;
    }
    Ok(())
}

/// Makes sure `link` has a connection and that no append is in doubt: reconnects if
/// needed, then reads where the table ends and settles `durable` by it.
async fn ensure(
    ctx: &Ctx,
    link: &mut Link,
    durable: &AtomicU64,
    pid: &AtomicU32,
) -> Result<(), JournalError> {
    if link.conn.is_none() {
        let mut conn = establish(ctx).await?;
        // A deposed writer learns it here, before it could wait for the writer lock that
        // its successor holds.
        check_fence(&mut conn, ctx).await?;
        if !ctx.reader {
            claim(&mut conn, ctx, pid).await?;
        }
        link.conn = Some(conn);
    }
    let (Some(in_flight), Some(conn)) = (link.in_doubt, link.conn.as_mut()) else {
        return Ok(());
    };
    // We hold the writer lock on a new session, so the session that carried the lost
    // append is gone and its transaction is final: max(seq) tells whether it committed.
    let found: Result<i64, _> = timed(
        ctx.io_timeout,
        "find where the journal ends after a lost connection",
        sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM journal").fetch_one(&mut *conn),
    )
    .await;
    let found = match found {
        Ok(v) => u64::try_from(v).unwrap_or(0),
        Err(e) => {
            link.conn = None;
            pid.store(0, Ordering::Release);
            return Err(e);
        }
    };
    let acknowledged = durable.load(Ordering::Acquire);
    if found != acknowledged && found != in_flight {
        return Err(JournalError::Diverged {
            table: ctx.table.clone(),
            acknowledged,
            in_flight,
            found,
        });
    }
    durable.store(found, Ordering::Release);
    link.in_doubt = None;
    Ok(())
}

impl PgJournal {
    /// Connects, creates the schema if asked for one and it is missing, takes the writer
    /// lock, applies the migrations and checks the journal (see the module docs).
    pub fn open(opts: PgJournalOptions) -> Result<Self, JournalError> {
        Self::open_as(opts, false)
    }

    /// Opens the journal to follow it, as a standby does: no writer lock (the primary
    /// holds it), every append refused; reads end where [`Self::refresh_end`] last found
    /// the table's end. The schema and migrations are prepared as by [`Self::open`], so a
    /// standby may start before its primary.
    pub fn open_reader(mut opts: PgJournalOptions) -> Result<Self, JournalError> {
        opts.fence = None;
        Self::open_as(opts, true)
    }

    fn open_as(opts: PgJournalOptions, reader: bool) -> Result<Self, JournalError> {
        if let Some(s) = &opts.schema
            && !valid_schema(s)
        {
            return Err(JournalError::Config(format!(
                "schema name {s:?}: use lower-case letters, digits and _, at most 63 bytes"
            )));
        }
        let mut connect = PgConnectOptions::from_str(&opts.url)
            .map_err(|e| {
                JournalError::Config(format!("database url {}: {e}", redacted(&opts.url)))
            })?
            .application_name(APPLICATION_NAME);
        // Session settings travel in the startup packet, so a reconnect gets them too.
        // The keepalives make the server notice a vanished client within half a minute,
        // which bounds how long a reconnect waits for the writer lock of its lost session.
        let mut settings = vec![
            ("synchronous_commit", "on".to_owned()),
            ("tcp_keepalives_idle", "10".to_owned()),
            ("tcp_keepalives_interval", "5".to_owned()),
            ("tcp_keepalives_count", "3".to_owned()),
        ];
        if let Some(s) = &opts.schema {
            settings.push(("search_path", s.clone()));
        }
        connect = connect.options(settings);
        let ctx = Ctx {
            connect,
            table: opts
                .schema
                .as_ref()
                .map_or_else(|| "journal".to_owned(), |s| format!("{s}.journal")),
            write: opts.write,
            connect_timeout: opts.connect_timeout,
            lock_wait: opts.lock_wait,
            io_timeout: opts.io_timeout,
            fence: opts.fence,
            reader,
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| JournalError::Database {
                what: "start the journal's runtime",
                source: sqlx::Error::Io(e),
            })?;
        let pid = AtomicU32::new(0);
        let (conn, end) = rt.block_on(async {
            let mut conn = establish(&ctx).await?;
            prepare_schema(&mut conn, opts.schema.as_deref()).await?;
            if !reader {
                check_fence(&mut conn, &ctx).await?;
                claim(&mut conn, &ctx, &pid).await?;
            }
            MIGRATOR
                .run(&mut conn)
                .await
                .map_err(JournalError::Migrate)?;
            let end = match opts.verified_end {
                Some(known) => check_known_end(&mut conn, &ctx, known).await?,
                None => check_end(&mut conn, &ctx).await?,
            };
            Ok::<_, JournalError>((conn, end))
        })?;
        Ok(Self {
            ctx,
            rt,
            link: Mutex::new(Link {
                conn: Some(conn),
                in_doubt: None,
            }),
            durable: AtomicU64::new(end),
            pid,
            schema: opts.schema,
            buf: Vec::with_capacity(64 << 10),
            seqs: Vec::new(),
            tss: Vec::new(),
            ends: Vec::new(),
        })
    }

    /// The server process id of the journal's connection, if it has one (for operators:
    /// `pg_stat_activity`, `pg_terminate_backend`).
    #[must_use]
    pub fn backend_pid(&self) -> Option<u32> {
        match self.pid.load(Ordering::Acquire) {
            0 => None,
            p => Some(p),
        }
    }

    /// For a journal opened with [`Self::open_reader`]: reads where the table ends now and
    /// makes that the end of reads. Cheap (the primary key's index), so a standby calls it
    /// at every wake-up. A writer's end is its own and is returned as is.
    pub fn refresh_end(&self) -> Result<Seq, JournalError> {
        if !self.ctx.reader {
            return Ok(self.durable_seq());
        }
        let end: i64 = self.with_conn(async |conn| {
            timed(
                self.ctx.io_timeout,
                "find where the journal ends",
                sqlx::query_scalar("SELECT coalesce(max(seq), 0) FROM journal")
                    .fetch_one(&mut *conn),
            )
            .await
        })?;
        let end = u64::try_from(end).unwrap_or(0);
        // Never backwards: a journal only grows.
        self.durable.fetch_max(end, Ordering::AcqRel);
        Ok(self.durable_seq())
    }

    /// The fencing token of the writer of each row in `from..=to`, in seq order (0 for rows
    /// written without a lease). For checking that writers took turns ("no two writers").
    pub fn writer_tokens(&self, from: Seq, to: Seq) -> Result<Vec<(Seq, i64)>, JournalError> {
        let rows: Vec<(i64, i64)> = self.with_conn(async |conn| {
            timed(
                self.ctx.io_timeout,
                "read the writers' tokens",
                sqlx::query_as(
                    "SELECT seq, token FROM journal WHERE seq >= $1 AND seq <= $2 ORDER BY seq",
                )
                .bind(to_i64(from.0, "seq")?)
                .bind(to_i64(to.0, "seq")?)
                .fetch_all(&mut *conn),
            )
            .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(s, t)| (Seq(u64::try_from(s).unwrap_or(0)), t))
            .collect())
    }

    /// Whether an append's outcome is unknown until the next call reconnects.
    #[must_use]
    pub fn in_doubt(&self) -> bool {
        self.link
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .in_doubt
            .is_some()
    }

    /// Drops this journal's schema with everything in it. For tests and benchmarks that
    /// isolate themselves in a throwaway schema; refused for a journal without a schema of
    /// its own.
    pub fn drop_schema(mut self) -> Result<(), JournalError> {
        let Some(schema) = self.schema.clone() else {
            return Err(JournalError::Config(
                "drop_schema needs a journal opened with a schema of its own".to_owned(),
            ));
        };
        let Self {
            ctx,
            rt,
            link,
            durable,
            pid,
            ..
        } = &mut self;
        let link = link.get_mut().unwrap_or_else(PoisonError::into_inner);
        rt.block_on(async {
            ensure(ctx, link, durable, pid).await?;
            let conn = link.conn.as_mut().ok_or_else(no_connection)?;
            conn.execute(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .await
                .map_err(db("drop the schema"))?;
            Ok(())
        })
    }

    /// Encodes `todo` into the append buffers for the configured statement.
    fn encode(&mut self, todo: &[Sequenced], method: PgWrite) -> Result<(), JournalError> {
        self.buf.clear();
        self.seqs.clear();
        self.tss.clear();
        self.ends.clear();
        if method == PgWrite::Copy {
            self.buf.extend_from_slice(PGCOPY_HEADER);
        }
        for rec in todo {
            let seq = to_i64(rec.seq.0, "seq")?;
            let ts = to_i64(rec.ts.get(), "timestamp")?;
            let payload = codec::encode(rec).map_err(|source| JournalError::Encode {
                seq: rec.seq.0,
                source,
            })?;
            match method {
                PgWrite::Copy => {
                    let len = i32::try_from(payload.len()).map_err(|_| JournalError::Encode {
                        seq: rec.seq.0,
                        source: codec::CodecError::Encode("record too large".to_owned()),
                    })?;
                    self.buf.extend_from_slice(&PGCOPY_FIELDS);
                    self.buf.extend_from_slice(&8i32.to_be_bytes());
                    self.buf.extend_from_slice(&seq.to_be_bytes());
                    self.buf.extend_from_slice(&8i32.to_be_bytes());
                    self.buf.extend_from_slice(&ts.to_be_bytes());
                    self.buf.extend_from_slice(&len.to_be_bytes());
                    self.buf.extend_from_slice(&payload);
                }
                PgWrite::Unnest => {
                    self.seqs.push(seq);
                    self.tss.push(ts);
                    self.buf.extend_from_slice(&payload);
                    self.ends.push(self.buf.len());
                }
            }
        }
        if method == PgWrite::Copy {
            self.buf.extend_from_slice(&PGCOPY_TRAILER);
        }
        Ok(())
    }

    /// Runs `op` on the connection under the link's lock (for the `&self` calls), after
    /// [`ensure`]; a database error drops the connection so the next call starts clean.
    fn with_conn<T>(
        &self,
        op: impl AsyncFnOnce(&mut PgConnection) -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        let mut link = self.link.lock().unwrap_or_else(PoisonError::into_inner);
        let link = &mut *link;
        self.rt.block_on(async {
            ensure(&self.ctx, link, &self.durable, &self.pid).await?;
            let conn = link.conn.as_mut().ok_or_else(no_connection)?;
            let r = op(conn).await;
            if matches!(r, Err(JournalError::Database { .. })) {
                link.conn = None;
                self.pid.store(0, Ordering::Release);
            }
            r
        })
    }
}

fn no_connection() -> JournalError {
    io_error(
        "use the connection",
        io::ErrorKind::NotConnected,
        "no connection",
    )
}

/// Writes the encoded batch of `rows` rows in one statement; returns the rows written.
/// With a fencing token the rows are written only if the lease still carries it (0 rows
/// otherwise): the share lock on the lease row makes a takeover wait for this statement,
/// and a statement that starts after a takeover sees the new token.
async fn write(
    conn: &mut PgConnection,
    method: PgWrite,
    fence: Option<i64>,
    buf: &[u8],
    seqs: &[i64],
    tss: &[i64],
    ends: &[usize],
) -> Result<u64, sqlx::Error> {
    if let Some(token) = fence {
        let payloads = split(buf, ends);
        let done = sqlx::query(
            "INSERT INTO journal (seq, ts, payload, token) \
             SELECT u.seq, u.ts, u.payload, l.token \
             FROM UNNEST($1::bigint[], $2::bigint[], $3::bytea[]) AS u(seq, ts, payload) \
             CROSS JOIN (SELECT token FROM leader_lease WHERE id = 1 AND token = $4 \
                         FOR SHARE) AS l",
        )
        .bind(seqs)
        .bind(tss)
        .bind(&payloads[..])
        .bind(token)
        .execute(&mut *conn)
        .await?;
        return Ok(done.rows_affected());
    }
    match method {
        PgWrite::Copy => {
            let mut copy = conn
                .copy_in_raw("COPY journal (seq, ts, payload) FROM STDIN (FORMAT binary)")
                .await?;
            copy.send(buf).await?;
            copy.finish().await
        }
        PgWrite::Unnest => {
            let payloads = split(buf, ends);
            let done = sqlx::query(
                "INSERT INTO journal (seq, ts, payload) \
                 SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bytea[])",
            )
            .bind(seqs)
            .bind(tss)
            .bind(&payloads[..])
            .execute(&mut *conn)
            .await?;
            Ok(done.rows_affected())
        }
    }
}

/// The payloads of an `Unnest` batch: `buf` cut at `ends`.
fn split<'a>(buf: &'a [u8], ends: &[usize]) -> Vec<&'a [u8]> {
    let mut payloads = Vec::with_capacity(ends.len());
    let mut start = 0;
    for &end in ends {
        payloads.push(&buf[start..end]);
        start = end;
    }
    payloads
}

impl Journal for PgJournal {
    fn append(&mut self, batch: &[Sequenced]) -> Result<(), JournalError> {
        if self.ctx.reader {
            return Err(JournalError::Config(
                "this journal was opened to follow it (a standby): it cannot append".to_owned(),
            ));
        }
        let known = self.durable.load(Ordering::Acquire);
        let in_doubt = self
            .link
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .in_doubt
            .is_some();
        // Refuse a malformed batch, and finish a no-op, without the database; an order
        // violation waits for a pending doubt to be settled (the end may have moved).
        match undurable_part(known, batch) {
            Ok([]) => return Ok(()),
            Err(e @ JournalError::OutOfOrder { .. }) if !in_doubt => return Err(e),
            Err(e @ JournalError::NotContiguous { .. }) => return Err(e),
            _ => {}
        }
        {
            let Self {
                ctx,
                rt,
                link,
                durable,
                pid,
                ..
            } = self;
            let link = link.get_mut().unwrap_or_else(PoisonError::into_inner);
            rt.block_on(ensure(ctx, link, durable, pid))?;
        }
        let todo = undurable_part(self.durable.load(Ordering::Acquire), batch)?;
        let (Some(first), Some(last)) = (todo.first(), todo.last()) else {
            return Ok(());
        };
        let (first, last) = (first.seq.0, last.seq.0);
        // A fenced append is always an `INSERT … UNNEST`: see `write`.
        let method = if self.ctx.fence.is_some() {
            PgWrite::Unnest
        } else {
            self.ctx.write
        };
        self.encode(todo, method)?;
        let rows = todo.len() as u64;
        let Self {
            ctx,
            rt,
            link,
            durable,
            pid,
            buf,
            seqs,
            tss,
            ends,
            ..
        } = self;
        let link = link.get_mut().unwrap_or_else(PoisonError::into_inner);
        let what = match method {
            PgWrite::Copy => "append (COPY)",
            PgWrite::Unnest => "append (INSERT … UNNEST)",
        };
        let result = rt.block_on(async {
            let conn = link.conn.as_mut().ok_or_else(no_connection)?;
            let written = timed(
                ctx.io_timeout,
                what,
                write(conn, method, ctx.fence, buf, seqs, tss, ends),
            )
            .await?;
            if written == 0
                && let Some(token) = ctx.fence
            {
                // The statement ran to its end and wrote nothing: the lease moved on.
                let current = lease_token(conn, ctx).await.unwrap_or(-1);
                return Err(JournalError::Fenced { token, current });
            }
            if written != rows {
                return Err(JournalError::Database {
                    what,
                    source: sqlx::Error::Protocol(format!(
                        "wrote {written} rows for seqs {first}..={last}"
                    )),
                });
            }
            Ok(())
        });
        match result {
            Ok(()) => {
                durable.store(last, Ordering::Release);
                Ok(())
            }
            Err(e @ JournalError::Fenced { .. }) => Err(e),
            Err(e) => {
                // Whatever failed, the transaction may have committed: settle it on the
                // next call, on a new connection.
                link.conn = None;
                link.in_doubt = Some(last);
                pid.store(0, Ordering::Release);
                Err(e)
            }
        }
    }

    fn durable_seq(&self) -> Seq {
        Seq(self.durable.load(Ordering::Acquire))
    }

    fn for_each_from(
        &self,
        from: Seq,
        f: &mut dyn FnMut(Sequenced) -> Result<(), JournalError>,
    ) -> Result<(), JournalError> {
        const WHAT: &str = "read the journal";
        let mut next = from.0.max(1);
        loop {
            // Pages are fetched under the link's lock and handed to `f` outside it.
            let (end, rows) = self.with_conn(async |conn| {
                let end = self.durable.load(Ordering::Acquire);
                if next > end {
                    return Ok((end, Vec::new()));
                }
                let rows: Vec<PgRow> = timed(
                    self.ctx.io_timeout,
                    WHAT,
                    sqlx::query(
                        "SELECT seq, ts, payload FROM journal WHERE seq >= $1 AND seq <= $2 \
                         ORDER BY seq LIMIT $3",
                    )
                    .bind(to_i64(next, "seq")?)
                    .bind(to_i64(end, "seq")?)
                    .bind(READ_PAGE)
                    .fetch_all(&mut *conn),
                )
                .await?;
                Ok((end, rows))
            })?;
            if next > end {
                return Ok(());
            }
            if rows.is_empty() {
                return Err(JournalError::Diverged {
                    table: self.ctx.table.clone(),
                    acknowledged: end,
                    in_flight: end,
                    found: next - 1,
                });
            }
            for row in &rows {
                let seq: i64 = row.try_get(0).map_err(db(WHAT))?;
                let ts: i64 = row.try_get(1).map_err(db(WHAT))?;
                let payload: &[u8] = row.try_get(2).map_err(db(WHAT))?;
                let seq = u64::try_from(seq).unwrap_or(0);
                if seq != next {
                    return Err(JournalError::Gap {
                        at: self.ctx.row(seq),
                        expected: next,
                        found: seq,
                    });
                }
                f(self.ctx.decode(seq, ts, payload)?)?;
                next += 1;
            }
        }
    }

    fn save_snapshot(&mut self, seq: Seq, bytes: &[u8]) -> Result<(), JournalError> {
        let seq = to_i64(seq.0, "snapshot seq")?;
        let crc = i64::from(crc32fast::hash(bytes));
        // One statement in autocommit with synchronous_commit on: durable when it returns;
        // a retaken snapshot of the same seq replaces the old one atomically.
        if self.ctx.reader {
            return Err(JournalError::Config(
                "this journal was opened to follow it (a standby): it cannot save snapshots"
                    .to_owned(),
            ));
        }
        // With a fencing token, only while the lease carries it (like an append).
        let fence = self.ctx.fence;
        self.with_conn(async |conn| {
            let done = timed(
                self.ctx.io_timeout,
                "save a snapshot",
                sqlx::query(
                    "INSERT INTO snapshots (seq, crc32, payload) SELECT $1, $2, $3 \
                     WHERE $4::bigint IS NULL OR EXISTS (SELECT 1 FROM leader_lease \
                       WHERE id = 1 AND token = $4 FOR SHARE) \
                     ON CONFLICT (seq) DO UPDATE \
                     SET crc32 = EXCLUDED.crc32, payload = EXCLUDED.payload, taken_at = now()",
                )
                .bind(seq)
                .bind(crc)
                .bind(bytes)
                .bind(fence)
                .execute(&mut *conn),
            )
            .await?;
            if done.rows_affected() == 0
                && let Some(token) = fence
            {
                let current = lease_token(conn, &self.ctx).await.unwrap_or(-1);
                return Err(JournalError::Fenced { token, current });
            }
            Ok(())
        })
    }

    fn latest_snapshot(&self) -> Result<Option<(Seq, Vec<u8>)>, JournalError> {
        // Newest first, one at a time: snapshots are large and usually the first is good.
        let mut below = i64::MAX;
        loop {
            let row: Option<(i64, i64, Vec<u8>)> = self.with_conn(async |conn| {
                timed(
                    self.ctx.io_timeout,
                    "read a snapshot",
                    sqlx::query_as(
                        "SELECT seq, crc32, payload FROM snapshots WHERE seq < $1 \
                         ORDER BY seq DESC LIMIT 1",
                    )
                    .bind(below)
                    .fetch_optional(&mut *conn),
                )
                .await
            })?;
            let Some((seq, crc, payload)) = row else {
                return Ok(None);
            };
            if i64::from(crc32fast::hash(&payload)) == crc
                && let Ok(s) = u64::try_from(seq)
            {
                return Ok(Some((Seq(s), payload)));
            }
            below = seq;
        }
    }

    fn snapshot_at(&self, seq: Seq) -> Result<Option<Vec<u8>>, JournalError> {
        let seq = to_i64(seq.0, "snapshot seq")?;
        let row: Option<(i64, Vec<u8>)> = self.with_conn(async |conn| {
            timed(
                self.ctx.io_timeout,
                "read a snapshot",
                sqlx::query_as("SELECT crc32, payload FROM snapshots WHERE seq = $1")
                    .bind(seq)
                    .fetch_optional(&mut *conn),
            )
            .await
        })?;
        Ok(row.and_then(|(crc, payload)| {
            (i64::from(crc32fast::hash(&payload)) == crc).then_some(payload)
        }))
    }

    fn prune_snapshots(&mut self, keep: usize) -> Result<(), JournalError> {
        if self.ctx.reader {
            return Ok(());
        }
        let keep = i64::try_from(keep.max(1)).unwrap_or(i64::MAX);
        self.with_conn(async |conn| {
            timed(
                self.ctx.io_timeout,
                "prune snapshots",
                sqlx::query(
                    "DELETE FROM snapshots WHERE seq <> 0 AND seq < \
                     (SELECT min(seq) FROM (SELECT seq FROM snapshots \
                      ORDER BY seq DESC LIMIT $1) newest)",
                )
                .bind(keep)
                .execute(&mut *conn),
            )
            .await?;
            Ok(())
        })
    }
}

impl Drop for PgJournal {
    fn drop(&mut self) {
        let link = self.link.get_mut().unwrap_or_else(PoisonError::into_inner);
        let Some(mut conn) = link.conn.take() else {
            return;
        };
        // Inside an async runtime we must not block: just drop the socket and let the
        // server release the lock when it notices.
        if tokio::runtime::Handle::try_current().is_ok() {
            return;
        }
        // Release the writer lock before closing, so a successor opening right after finds
        // it free instead of waiting for the server to notice the closed socket.
        self.rt.block_on(async {
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                let _ = conn.execute("SELECT pg_advisory_unlock_all()").await;
                let _ = conn.close().await;
            })
            .await;
        });
    }
}
