//! The outbox in PostgreSQL: the journal's database and schema (migration 0008). Every batch
//! is one statement over arrays (`UNNEST`): enqueue, claim and outcomes alike.

use std::str::FromStr;

use bourse_core::profile::Channel;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, Row};

use crate::store::{Claimed, Finish, ListQuery, Opened, to_i64, to_u64};
use crate::{DeliveryView, NewDelivery, NotifyError, Status, channel_code, channel_from_code};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// What `pg_stat_activity.application_name` shows for the outbox's connections.
const APPLICATION_NAME: &str = "bourse-notify";

#[derive(Debug)]
pub(crate) struct PgStore {
    pool: PgPool,
}

fn db(what: &'static str) -> impl Fn(sqlx::Error) -> NotifyError {
    move |e| NotifyError::Store {
        what,
        detail: e.to_string(),
    }
}

fn valid_schema(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Enqueues and outcomes commit without waiting for the WAL flush (`synchronous_commit =
/// off` for that transaction). They share the journal's database, and waiting doubled the
/// journal's commit latency at 20k orders/s with a webhook per order. What this risks is
/// only a crash of PostgreSQL itself (not of bourse) losing the last few hundred ms of them,
/// and both are safe to lose: enqueued rows go together with `derived_through`, so they are
/// derived again from the journal at the next start; a lost outcome is attempted again, with
/// the same idempotency key. Replays, which a user is told about, keep the default.
async fn relaxed(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>) -> Result<(), NotifyError> {
    sqlx::query("SET LOCAL synchronous_commit = off")
        .execute(&mut **tx)
        .await
        .map_err(db("relax the commit"))?;
    Ok(())
}

impl PgStore {
    /// Connects like the journal does (the schema through `search_path`, so the tables
    /// resolve unqualified), creates the schema if missing, applies the migrations (a no-op
    /// when the journal already did), and releases what a previous process had in flight.
    pub(crate) async fn open(url: &str, schema: &str) -> Result<(PgStore, Opened), NotifyError> {
        if !schema.is_empty() && !valid_schema(schema) {
            return Err(NotifyError::Config(format!(
                "schema name {schema:?}: use lower-case letters, digits and _, at most 63 bytes"
            )));
        }
        let mut opts = PgConnectOptions::from_str(url)
            .map_err(|e| NotifyError::Config(format!("notify database url: {e}")))?
            .application_name(APPLICATION_NAME);
        if !schema.is_empty() {
            opts = opts.options([("search_path", schema)]);
            let mut conn = PgConnection::connect_with(&opts)
                .await
                .map_err(db("connect"))?;
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                    .bind(schema)
                    .fetch_one(&mut conn)
                    .await
                    .map_err(db("look up the schema"))?;
            if !exists {
                conn.execute(AssertSqlSafe(format!(
                    "CREATE SCHEMA IF NOT EXISTS {schema}"
                )))
                .await
                .map_err(db("create the schema"))?;
            }
            let _ = conn.close().await;
        }
        // The writer, the dispatcher, the outcome writer, and the API's reads.
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(db("connect"))?;
        MIGRATOR.run(&pool).await.map_err(|e| NotifyError::Store {
            what: "apply the migrations",
            detail: e.to_string(),
        })?;
        sqlx::query("UPDATE notify_deliveries SET inflight = false WHERE inflight")
            .execute(&pool)
            .await
            .map_err(db("release deliveries in flight"))?;
        let derived: i64 =
            sqlx::query_scalar("SELECT derived_through FROM notify_state WHERE id = 1")
                .fetch_one(&pool)
                .await
                .map_err(db("read derived_through"))?;
        let pending: i64 =
            sqlx::query_scalar("SELECT count(*) FROM notify_deliveries WHERE status = 0")
                .fetch_one(&pool)
                .await
                .map_err(db("count pending deliveries"))?;
        Ok((
            PgStore { pool },
            Opened {
                derived_through: to_u64(derived),
                pending: to_u64(pending),
            },
        ))
    }

    pub(crate) async fn commit(
        &self,
        batch: &[NewDelivery],
        through: u64,
        hand_off: bool,
    ) -> Result<(u64, Vec<Claimed>), NotifyError> {
        const WHAT: &str = "enqueue deliveries";
        let n = batch.len();
        let (mut keys, mut seqs, mut accounts, mut kinds) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut chans, mut endpoints, mut created, mut payloads) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for d in batch {
            keys.push(d.key.as_str());
            seqs.push(to_i64(d.seq));
            accounts.push(to_i64(d.account));
            kinds.push(d.kind.as_str());
            chans.push(channel_code(d.channel));
            endpoints.push(to_i64(d.endpoint));
            created.push(to_i64(d.created_at_ns));
            payloads.push(d.payload.to_string());
        }
        let mut tx = self.pool.begin().await.map_err(db(WHAT))?;
        relaxed(&mut tx).await?;
        let rows = if n == 0 {
            Vec::new()
        } else {
            sqlx::query(
                "INSERT INTO notify_deliveries
                    (key, seq, account, kind, channel, endpoint, created_at, payload,
                     next_attempt_at, inflight)
                 SELECT u.*, $9, $10 FROM UNNEST($1::text[], $2::int8[], $3::int8[], $4::text[],
                    $5::int2[], $6::int8[], $7::int8[], $8::text[]) AS u
                 ON CONFLICT (key) DO NOTHING
                 RETURNING id, key, account, kind, channel, endpoint, attempts, created_at,
                    CASE WHEN $10 THEN payload ELSE '' END AS payload",
            )
            .bind(&keys)
            .bind(&seqs)
            .bind(&accounts)
            .bind(&kinds)
            .bind(&chans)
            .bind(&endpoints)
            .bind(&created)
            .bind(&payloads)
            .bind(to_i64(crate::now_ns()))
            .bind(hand_off)
            .fetch_all(&mut *tx)
            .await
            .map_err(db(WHAT))?
        };
        sqlx::query(
            "UPDATE notify_state SET derived_through = GREATEST(derived_through, $1) WHERE id = 1",
        )
        .bind(to_i64(through))
        .execute(&mut *tx)
        .await
        .map_err(db(WHAT))?;
        tx.commit().await.map_err(db(WHAT))?;
        let inserted = u64::try_from(rows.len()).unwrap_or(u64::MAX);
        let claimed = if hand_off {
            rows.iter().map(claimed).collect::<Result<_, _>>()?
        } else {
            Vec::new()
        };
        Ok((inserted, claimed))
    }

    pub(crate) async fn claim(&self, now_ns: u64, limit: u32) -> Result<Vec<Claimed>, NotifyError> {
        let rows = sqlx::query(
            "UPDATE notify_deliveries d SET inflight = true
             FROM (SELECT id FROM notify_deliveries
                   WHERE status = 0 AND NOT inflight AND next_attempt_at <= $1
                   ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED) c
             WHERE d.id = c.id
             RETURNING d.id, d.key, d.account, d.kind, d.channel, d.endpoint, d.attempts,
                       d.payload, d.created_at",
        )
        .bind(to_i64(now_ns))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("claim due deliveries"))?;
        rows.iter().map(claimed).collect()
    }

    pub(crate) async fn finish(&self, batch: &[Finish]) -> Result<(), NotifyError> {
        const WHAT: &str = "record delivery outcomes";
        if batch.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = batch.iter().map(|f| f.id).collect();
        let status: Vec<i16> = batch.iter().map(|f| f.status.code()).collect();
        let attempts: Vec<i32> = batch
            .iter()
            .map(|f| i32::try_from(f.attempts).unwrap_or(i32::MAX))
            .collect();
        let next: Vec<i64> = batch.iter().map(|f| to_i64(f.next_ns)).collect();
        let errors: Vec<Option<&str>> = batch.iter().map(|f| f.error.as_deref()).collect();
        let delivered: Vec<Option<i64>> =
            batch.iter().map(|f| f.delivered_ns.map(to_i64)).collect();
        let mut tx = self.pool.begin().await.map_err(db(WHAT))?;
        relaxed(&mut tx).await?;
        sqlx::query(
            "UPDATE notify_deliveries d
             SET status = u.status, attempts = u.attempts, next_attempt_at = u.next,
                 last_error = COALESCE(u.err, d.last_error),
                 delivered_at = COALESCE(u.dat, d.delivered_at), inflight = false
             FROM UNNEST($1::int8[], $2::int2[], $3::int4[], $4::int8[], $5::text[], $6::int8[])
                  AS u(id, status, attempts, next, err, dat)
             WHERE d.id = u.id",
        )
        .bind(&ids)
        .bind(&status)
        .bind(&attempts)
        .bind(&next)
        .bind(&errors)
        .bind(&delivered)
        .execute(&mut *tx)
        .await
        .map_err(db(WHAT))?;
        tx.commit().await.map_err(db(WHAT))?;
        Ok(())
    }

    pub(crate) async fn list(&self, q: ListQuery) -> Result<Vec<DeliveryView>, NotifyError> {
        let rows = sqlx::query(
            "SELECT id, key, kind, channel, endpoint, status, attempts, last_error, created_at,
                    next_attempt_at, delivered_at
             FROM notify_deliveries
             WHERE account = $1
               AND ($2::int2 IS NULL OR (channel = $2 AND endpoint = $3))
               AND ($4::int2 IS NULL OR status = $4)
               AND ($5::int8 IS NULL OR id < $5)
             ORDER BY id DESC LIMIT $6",
        )
        .bind(to_i64(q.account))
        .bind(q.endpoint.map(|(c, _)| channel_code(c)))
        .bind(to_i64(q.endpoint.map_or(0, |(_, e)| e)))
        .bind(q.status.map(Status::code))
        .bind(q.before_id)
        .bind(i64::from(q.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db("list deliveries"))?;
        rows.iter().map(view).collect()
    }

    pub(crate) async fn replay(
        &self,
        account: u64,
        id: i64,
        now_ns: u64,
    ) -> Result<bool, NotifyError> {
        let r = sqlx::query(
            "UPDATE notify_deliveries SET status = 0, attempts = 0, next_attempt_at = $3,
                    inflight = false
             WHERE id = $1 AND account = $2 AND status IN (2, 3)",
        )
        .bind(id)
        .bind(to_i64(account))
        .bind(to_i64(now_ns))
        .execute(&self.pool)
        .await
        .map_err(db("replay a delivery"))?;
        Ok(r.rows_affected() > 0)
    }

    pub(crate) async fn replay_dead(
        &self,
        account: u64,
        channel: Channel,
        endpoint: u64,
        now_ns: u64,
    ) -> Result<u64, NotifyError> {
        let r = sqlx::query(
            "UPDATE notify_deliveries SET status = 0, attempts = 0, next_attempt_at = $4,
                    inflight = false
             WHERE account = $1 AND channel = $2 AND endpoint = $3 AND status = 2",
        )
        .bind(to_i64(account))
        .bind(channel_code(channel))
        .bind(to_i64(endpoint))
        .bind(to_i64(now_ns))
        .execute(&self.pool)
        .await
        .map_err(db("replay dead deliveries"))?;
        Ok(r.rows_affected())
    }
}

fn bad_row(detail: String) -> NotifyError {
    NotifyError::Store {
        what: "read a delivery",
        detail,
    }
}

fn channel_of(code: i16) -> Result<Channel, NotifyError> {
    channel_from_code(code).ok_or_else(|| bad_row(format!("unknown channel code {code}")))
}

fn claimed(r: &PgRow) -> Result<Claimed, NotifyError> {
    let e = |e: sqlx::Error| bad_row(e.to_string());
    Ok(Claimed {
        id: r.try_get("id").map_err(e)?,
        key: r.try_get("key").map_err(e)?,
        account: to_u64(r.try_get("account").map_err(e)?),
        kind: r.try_get("kind").map_err(e)?,
        channel: channel_of(r.try_get("channel").map_err(e)?)?,
        endpoint: to_u64(r.try_get("endpoint").map_err(e)?),
        attempts: u32::try_from(r.try_get::<i32, _>("attempts").map_err(e)?).unwrap_or(0),
        payload: r.try_get("payload").map_err(e)?,
        created_at_ns: to_u64(r.try_get("created_at").map_err(e)?),
    })
}

fn view(r: &PgRow) -> Result<DeliveryView, NotifyError> {
    let e = |e: sqlx::Error| bad_row(e.to_string());
    let code: i16 = r.try_get("status").map_err(e)?;
    let status = Status::from_code(code).ok_or_else(|| bad_row(format!("status {code}")))?;
    Ok(DeliveryView {
        id: r.try_get("id").map_err(e)?,
        key: r.try_get("key").map_err(e)?,
        kind: r.try_get("kind").map_err(e)?,
        channel: channel_of(r.try_get("channel").map_err(e)?)?,
        endpoint: to_u64(r.try_get("endpoint").map_err(e)?),
        status,
        attempts: u32::try_from(r.try_get::<i32, _>("attempts").map_err(e)?).unwrap_or(0),
        last_error: r.try_get("last_error").map_err(e)?,
        created_at_ns: to_u64(r.try_get("created_at").map_err(e)?),
        next_attempt_at_ns: (status == Status::Pending)
            .then(|| r.try_get("next_attempt_at").map(to_u64))
            .transpose()
            .map_err(e)?,
        delivered_at_ns: r
            .try_get::<Option<i64>, _>("delivered_at")
            .map_err(e)?
            .map(to_u64),
    })
}
