//! The writer's lease in PostgreSQL, with its fencing token (DESIGN §9).
//!
//! One row (`leader_lease`, migration 0007) says who may append to the journal of this
//! schema: its `token` rises by one at every change of holder, and `expires_at` is pushed
//! forward by the holder's renewals. Time is the database server's (`clock_timestamp()`),
//! so the machines' clocks need not agree.
//!
//! - A process may take the lease only once it has lapsed (or was released); taking it
//!   raises the token. [`Lease::try_acquire`] answers the new token.
//! - The holder renews it ([`Lease::renew`]) well within its time to live; a renewal that
//!   finds another token means this process was deposed and must stop.
//! - Safety does not rest on timing: the journal checks the token in every append
//!   ([`crate::PgJournalOptions::fence`]), so a deposed writer that wakes up after a pause
//!   cannot append even before it learns it lost the lease. The lease only decides *when*
//!   a standby may take over.
//! - [`Lease::fence_out`] ends the database sessions of the journal's previous writer (a
//!   paused process keeps its connection, and with it the writer lock), so the new holder
//!   can open the journal at once.
//!
//! Synchronous over a private current-thread runtime, like [`crate::PgJournal`]: call it
//! from plain threads.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tokio::runtime::Runtime;

use crate::JournalError;
use crate::pg::{LOCK_CLASS, MIGRATOR, prepare_schema, valid_schema};

/// What `pg_stat_activity.application_name` shows for the lease's connection.
pub const APPLICATION_NAME: &str = "bourse-lease";

/// How to reach the lease, and for how long a holder keeps it without renewing.
#[derive(Clone)]
pub struct LeaseOptions {
    /// `postgres://…`, as for the journal.
    pub url: String,
    /// The journal's schema (the lease lives beside it).
    pub schema: Option<String>,
    /// Who this process is, for operators (`host:pid`, say).
    pub holder: String,
    /// How long the lease lasts after each renewal.
    pub ttl: Duration,
    /// Bound on connecting and on each statement; past it the connection is dropped.
    pub io_timeout: Duration,
}

impl fmt::Debug for LeaseOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may carry a password.
        f.debug_struct("LeaseOptions")
            .field("schema", &self.schema)
            .field("holder", &self.holder)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// The lease as the database has it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseView {
    pub token: i64,
    pub holder: String,
    /// Milliseconds until it lapses; negative once it has.
    pub expires_in_ms: i64,
}

/// A connection to the lease row. See the module docs.
pub struct Lease {
    opts: LeaseOptions,
    connect: PgConnectOptions,
    rt: Runtime,
    conn: Option<PgConnection>,
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("opts", &self.opts)
            .field("connected", &self.conn.is_some())
            .finish_non_exhaustive()
    }
}

fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> JournalError {
    move |source| JournalError::Database { what, source }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Lease {
    /// Connects, creates the schema if missing and applies the migrations (so a standby
    /// may start before any primary has).
    pub fn connect(opts: LeaseOptions) -> Result<Lease, JournalError> {
        if let Some(s) = &opts.schema
            && !valid_schema(s)
        {
            return Err(JournalError::Config(format!(
                "schema name {s:?}: use lower-case letters, digits and _, at most 63 bytes"
            )));
        }
        let mut connect = PgConnectOptions::from_str(&opts.url)
            .map_err(|e| JournalError::Config(format!("database url: {e}")))?
            .application_name(APPLICATION_NAME);
        if let Some(s) = &opts.schema {
            connect = connect.options([("search_path", s.as_str())]);
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| JournalError::Database {
                what: "start the lease's runtime",
                source: sqlx::Error::Io(e),
            })?;
        let mut lease = Lease {
            opts,
            connect,
            rt,
            conn: None,
        };
        let schema = lease.opts.schema.clone();
        lease.run("prepare the schema", async |conn| {
            prepare_schema(conn, schema.as_deref()).await?;
            MIGRATOR
                .run(&mut *conn)
                .await
                .map_err(JournalError::Migrate)
        })?;
        Ok(lease)
    }

    #[must_use]
    pub fn options(&self) -> &LeaseOptions {
        &self.opts
    }

    /// Runs `op` on the connection (reconnecting first if needed), bounded by the I/O
    /// timeout; any failure drops the connection so the next call starts clean.
    fn run<T>(
        &mut self,
        what: &'static str,
        op: impl AsyncFnOnce(&mut PgConnection) -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        let limit = self.opts.io_timeout;
        let Self {
            connect, rt, conn, ..
        } = self;
        let r = rt.block_on(async {
            tokio::time::timeout(limit, async {
                if conn.is_none() {
                    *conn = Some(
                        PgConnection::connect_with(connect)
                            .await
                            .map_err(db("connect (lease)"))?,
                    );
                }
                let c = conn.as_mut().ok_or_else(|| JournalError::Database {
                    what,
                    source: sqlx::Error::PoolClosed,
                })?;
                op(c).await
            })
            .await
            .unwrap_or_else(|_| {
                Err(JournalError::Database {
                    what,
                    source: sqlx::Error::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "timed out",
                    )),
                })
            })
        });
        if r.is_err() {
            *conn = None;
        }
        r
    }

    /// The lease now (`None`: nobody ever held it).
    pub fn view(&mut self) -> Result<Option<LeaseView>, JournalError> {
        self.run("read the lease", async |conn| {
            let row: Option<(i64, String, i64)> = sqlx::query_as(
                "SELECT token, holder, \
                   (extract(epoch FROM expires_at - clock_timestamp()) * 1000)::bigint \
                 FROM leader_lease WHERE id = 1",
            )
            .fetch_optional(&mut *conn)
            .await
            .map_err(db("read the lease"))?;
            Ok(row.map(|(token, holder, expires_in_ms)| LeaseView {
                token,
                holder,
                expires_in_ms,
            }))
        })
    }

    /// Takes the lease if nobody holds it or it has lapsed: the new token, or `None` if a
    /// live holder has it. The row lock taken by the update waits for an append already
    /// running under the old token, so once this returns no old append can still commit.
    pub fn try_acquire(&mut self) -> Result<Option<i64>, JournalError> {
        let (holder, ttl) = (self.opts.holder.clone(), millis(self.opts.ttl));
        self.run("take the lease", async |conn| {
            sqlx::query_scalar(
                "INSERT INTO leader_lease (id, token, holder, expires_at) \
                 VALUES (1, 1, $1, clock_timestamp() + $2 * interval '1 millisecond') \
                 ON CONFLICT (id) DO UPDATE SET token = leader_lease.token + 1, \
                   holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at, \
                   acquired_at = clock_timestamp() \
                 WHERE leader_lease.expires_at < clock_timestamp() \
                 RETURNING token",
            )
            .bind(holder)
            .bind(ttl)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db("take the lease"))
        })
    }

    /// Pushes the lease's end forward, if it still carries `token` (lapsed or not: as long
    /// as nobody took it, the holder may go on). False: another process took it.
    pub fn renew(&mut self, token: i64) -> Result<bool, JournalError> {
        let ttl = millis(self.opts.ttl);
        self.run("renew the lease", async |conn| {
            let done = sqlx::query(
                "UPDATE leader_lease \
                 SET expires_at = clock_timestamp() + $2 * interval '1 millisecond' \
                 WHERE id = 1 AND token = $1",
            )
            .bind(token)
            .bind(ttl)
            .execute(&mut *conn)
            .await
            .map_err(db("renew the lease"))?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Gives the lease up at a clean stop, so a standby may take it at once.
    pub fn release(&mut self, token: i64) -> Result<(), JournalError> {
        self.run("release the lease", async |conn| {
            sqlx::query(
                "UPDATE leader_lease SET expires_at = '-infinity' WHERE id = 1 AND token = $1",
            )
            .bind(token)
            .execute(&mut *conn)
            .await
            .map_err(db("release the lease"))?;
            Ok(())
        })
    }

    /// Ends every other database session that holds this schema's journal writer lock (a
    /// deposed writer's: a paused process keeps its connection open). Call it only while
    /// holding the lease. Returns how many it ended.
    pub fn fence_out(&mut self) -> Result<u64, JournalError> {
        self.run("end the previous writer's sessions", async |conn| {
            // The lock's two int4 keys show in pg_locks as classid/objid (unsigned oids).
            let ended: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(l.pid) FROM pg_locks l \
                 WHERE l.locktype = 'advisory' AND l.granted \
                   AND l.database = (SELECT oid FROM pg_database \
                                     WHERE datname = current_database()) \
                   AND l.classid = ($1::bigint & 4294967295)::oid \
                   AND l.objid = (hashtext(current_schema())::bigint & 4294967295)::oid \
                   AND l.objsubid = 2 AND l.pid <> pg_backend_pid()) AS t",
            )
            .bind(i64::from(LOCK_CLASS))
            .fetch_one(&mut *conn)
            .await
            .map_err(db("end the previous writer's sessions"))?;
            Ok(u64::try_from(ended).unwrap_or(0))
        })
    }

    /// Closes the connection.
    pub fn close(mut self) {
        if let Some(conn) = self.conn.take() {
            self.rt.block_on(async {
                let _ = tokio::time::timeout(Duration::from_secs(2), conn.close()).await;
            });
        }
    }
}
