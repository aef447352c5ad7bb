//! Reading the read model's PostgreSQL tables back (see [`super::pg`] for what writes them):
//! [`PgHistory`] answers the history queries — orders with their fills, activities, an
//! account's private-stream events — and turns each row back into the fold's own types,
//! refusing (as [`QueryError::Corrupt`]) a row that does not read back as written.

use std::time::Duration;

use bourse_core::{
    AccountId, Cash, ClientOrderId, OrderId, Price, Qty, Seq, Side, Symbol, Tagged, TradeId, Trail,
    UnixNanos,
};
use sqlx::Row;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};

use rustc_hash::FxHashMap;

use super::pg::{
    ACTIVITY_COLUMNS, FILL_COLUMNS, HISTORY_APPLICATION_NAME, ORDER_COLUMNS, PgReadModelOptions,
    big, parse_cancel_reason, parse_liquidity, parse_order_type, parse_side, parse_tif, timed_out,
};
use crate::orders::{OrderFill, OrderState, OrderStatus, OrderView};
use crate::readmodel::QueryError;
use crate::readmodel::activity::{Activity, ActivityKind};
use crate::readmodel::views::{
    ActivityFilter, ActivityId, ActivityType, ActivityView, OrderFilter, Page, StatusFilter,
};

// ---- reading rows ---------------------------------------------------------------------

/// Reads one column, naming it in the error.
fn col<'r, T>(row: &'r PgRow, name: &'static str) -> Result<T, QueryError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(name)
        .map_err(|e| QueryError::Corrupt(format!("column {name}: {e}")))
}

fn unsigned(v: i64, name: &'static str) -> Result<u64, QueryError> {
    u64::try_from(v).map_err(|_| QueryError::Corrupt(format!("column {name}: negative {v}")))
}

fn text<T>(
    v: &str,
    name: &'static str,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, QueryError> {
    parse(v).ok_or_else(|| QueryError::Corrupt(format!("column {name}: unknown value {v:?}")))
}

fn order_from_row(r: &PgRow) -> Result<OrderState, QueryError> {
    let client: Option<String> = col(r, "client_order_id")?;
    let reason: Option<String> = col(r, "cancel_reason")?;
    Ok(OrderState {
        id: OrderId::new(unsigned(col(r, "id")?, "id")?),
        account: AccountId::new(unsigned(col(r, "account")?, "account")?),
        symbol: text(&col::<String>(r, "symbol")?, "symbol", |s| {
            Symbol::new(s).ok()
        })?,
        client_order_id: client
            .map(|c| text(&c, "client_order_id", |s| ClientOrderId::new(s).ok()))
            .transpose()?,
        side: text(&col::<String>(r, "side")?, "side", parse_side)?,
        order_type: text(
            &col::<String>(r, "order_type")?,
            "order_type",
            parse_order_type,
        )?,
        tif: text(
            &col::<String>(r, "time_in_force")?,
            "time_in_force",
            parse_tif,
        )?,
        qty: Qty::from_raw(unsigned(col(r, "qty")?, "qty")?),
        limit_price: col::<Option<i64>>(r, "limit_price")?.map(Price::from_raw),
        stop_price: col::<Option<i64>>(r, "stop_price")?.map(Price::from_raw),
        trail: match (
            col::<Option<i64>>(r, "trail_price")?,
            col::<Option<i32>>(r, "trail_bps")?,
        ) {
            (Some(p), _) => Some(Trail::Price(Price::from_raw(p))),
            (None, Some(b)) => u32::try_from(b).ok().map(Trail::Bps),
            (None, None) => None,
        },
        hwm: col::<Option<i64>>(r, "hwm")?.map(Price::from_raw),
        status: text(&col::<String>(r, "status")?, "status", OrderStatus::parse)?,
        filled_qty: Qty::from_raw(unsigned(col(r, "filled_qty")?, "filled_qty")?),
        leaves_qty: Qty::from_raw(unsigned(col(r, "leaves_qty")?, "leaves_qty")?),
        cum_notional: Cash::from_raw(col(r, "cum_notional")?),
        notional: col::<Option<i64>>(r, "notional")?.map(Cash::from_raw),
        extended_hours: col(r, "extended_hours")?,
        cancel_reason: reason
            .map(|c| text(&c, "cancel_reason", parse_cancel_reason))
            .transpose()?,
        created_at: UnixNanos::new(unsigned(col(r, "created_at")?, "created_at")?),
        updated_at: UnixNanos::new(unsigned(col(r, "updated_at")?, "updated_at")?),
        seq: Seq(unsigned(col(r, "seq")?, "seq")?),
        class: match (
            col::<Option<String>>(r, "order_class")?,
            col::<Option<i64>>(r, "class_id")?,
            col::<Option<String>>(r, "leg")?,
        ) {
            (Some(c), Some(g), Some(l)) => Some((
                text(&c, "order_class", bourse_core::OrderClass::parse)?,
                OrderId::new(unsigned(g, "class_id")?),
                text(&l, "leg", bourse_core::LegRole::parse)?,
            )),
            _ => None,
        },
        fills: Vec::new(),
    })
}

fn fill_from_row(r: &PgRow) -> Result<(OrderId, OrderFill), QueryError> {
    Ok((
        OrderId::new(unsigned(col(r, "order_id")?, "order_id")?),
        OrderFill {
            trade_id: TradeId::new(unsigned(col(r, "trade_id")?, "trade_id")?),
            price: Price::from_raw(col(r, "price")?),
            qty: Qty::from_raw(unsigned(col(r, "qty")?, "qty")?),
            fee: Cash::from_raw(col(r, "fee")?),
            liquidity: text(
                &col::<String>(r, "liquidity")?,
                "liquidity",
                parse_liquidity,
            )?,
            ts: UnixNanos::new(unsigned(col(r, "ts")?, "ts")?),
            seq: Seq(unsigned(col(r, "seq")?, "seq")?),
        },
    ))
}

fn activity_from_row(r: &PgRow) -> Result<Activity, QueryError> {
    let kind = text(
        &col::<String>(r, "activity_type")?,
        "activity_type",
        ActivityType::parse,
    )?;
    let need = |v: Option<i64>, name: &'static str| {
        v.ok_or_else(|| QueryError::Corrupt(format!("column {name}: NULL for a {kind:?}")))
    };
    let need_u = |v: Option<i64>, name: &'static str| unsigned(need(v, name)?, name);
    let need_text = |v: Option<String>, name: &'static str| {
        v.ok_or_else(|| QueryError::Corrupt(format!("column {name}: NULL for a {kind:?}")))
    };
    let symbol = || -> Result<Symbol, QueryError> {
        let s = need_text(col(r, "symbol")?, "symbol")?;
        text(&s, "symbol", |s| Symbol::new(s).ok())
    };
    let kind = match kind {
        ActivityType::Fill => ActivityKind::Fill {
            order_id: OrderId::new(need_u(col(r, "order_id")?, "order_id")?),
            trade_id: TradeId::new(need_u(col(r, "trade_id")?, "trade_id")?),
            symbol: symbol()?,
            side: text(&need_text(col(r, "side")?, "side")?, "side", parse_side)?,
            price: Price::from_raw(need(col(r, "price")?, "price")?),
            qty: Qty::from_raw(need_u(col(r, "qty")?, "qty")?),
            value: fill_value(
                &need_text(col(r, "side")?, "side")?,
                need(col(r, "net_amount")?, "net_amount")?,
                need(col(r, "fee")?, "fee")?,
            )?,
            fee: Cash::from_raw(need(col(r, "fee")?, "fee")?),
            liquidity: text(
                &need_text(col(r, "liquidity")?, "liquidity")?,
                "liquidity",
                parse_liquidity,
            )?,
            cum_qty: Qty::from_raw(need_u(col(r, "cum_qty")?, "cum_qty")?),
            leaves_qty: Qty::from_raw(need_u(col(r, "leaves_qty")?, "leaves_qty")?),
        },
        ActivityType::Deposit => ActivityKind::Deposit {
            amount: Cash::from_raw(need(col(r, "net_amount")?, "net_amount")?),
            balance: Cash::from_raw(need(col(r, "balance")?, "balance")?),
        },
        ActivityType::Withdrawal => ActivityKind::Withdrawal {
            amount: Cash::from_raw(-need(col(r, "net_amount")?, "net_amount")?),
            balance: Cash::from_raw(need(col(r, "balance")?, "balance")?),
        },
        ActivityType::DepositReturned => ActivityKind::DepositReturned {
            amount: Cash::from_raw(-need(col(r, "net_amount")?, "net_amount")?),
            balance: Cash::from_raw(need(col(r, "balance")?, "balance")?),
        },
        ActivityType::WithdrawalReturned => ActivityKind::WithdrawalReturned {
            amount: Cash::from_raw(need(col(r, "net_amount")?, "net_amount")?),
            balance: Cash::from_raw(need(col(r, "balance")?, "balance")?),
        },
        ActivityType::ShareDeposit => ActivityKind::ShareDeposit {
            symbol: symbol()?,
            qty: Qty::from_raw(need_u(col(r, "qty")?, "qty")?),
            position: Qty::from_raw(need_u(col(r, "position_qty")?, "position_qty")?),
        },
    };
    let idx: i32 = col(r, "idx")?;
    Ok(Activity {
        id: ActivityId {
            seq: unsigned(col(r, "seq")?, "seq")?,
            idx: u32::try_from(idx)
                .map_err(|_| QueryError::Corrupt(format!("column idx: negative {idx}")))?,
        },
        ts: UnixNanos::new(unsigned(col(r, "ts")?, "ts")?),
        account: AccountId::new(unsigned(col(r, "account")?, "account")?),
        kind,
    })
}

fn event_from_row(r: &PgRow) -> Result<Tagged, QueryError> {
    let bytes: Vec<u8> = col(r, "event")?;
    let aseq = unsigned(col(r, "aseq")?, "aseq")?;
    let event = bourse_core::codec::decode(&bytes)
        .map_err(|e| QueryError::Corrupt(format!("column event (aseq {aseq}): {e}")))?;
    Ok(Tagged {
        seq: Seq(unsigned(col(r, "seq")?, "seq")?),
        ts: UnixNanos::new(unsigned(col(r, "ts")?, "ts")?),
        event,
        aseq,
    })
}

// ---- history queries ------------------------------------------------------------------

/// History from PostgreSQL, for the HTTP handlers: the same answers, in the same shapes
/// and with the same cursors, as [`ReadModel`](crate::readmodel::ReadModel) gives from
/// memory. Cheap to clone (a pool).
#[derive(Clone, Debug)]
pub struct PgHistory {
    pool: PgPool,
    io_timeout: Duration,
}

fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> QueryError {
    move |source| QueryError::Database { what, source }
}

impl PgHistory {
    /// Opens a pool of [`PgReadModelOptions::pool_size`] connections (one now, to fail
    /// early on a wrong address).
    pub async fn connect(opts: &PgReadModelOptions) -> Result<PgHistory, QueryError> {
        let connect = opts
            .connect_options(HISTORY_APPLICATION_NAME)
            .map_err(|e| QueryError::Config(e.to_string()))?;
        let pool = PgPoolOptions::new()
            .max_connections(opts.pool_size.max(1))
            .acquire_timeout(opts.connect_timeout)
            .connect_with(connect)
            .await
            .map_err(db("connect"))?;
        Ok(PgHistory {
            pool,
            io_timeout: opts.io_timeout,
        })
    }

    async fn timed<T>(
        &self,
        what: &'static str,
        fut: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, QueryError> {
        match tokio::time::timeout(self.io_timeout, fut).await {
            Ok(r) => r.map_err(db(what)),
            Err(_) => Err(QueryError::Database {
                what,
                source: timed_out(what),
            }),
        }
    }

    /// The last seq the tables cover.
    pub async fn projected_seq(&self) -> Result<Seq, QueryError> {
        let v: i64 = self
            .timed(
                "read read_model_state",
                sqlx::query_scalar("SELECT last_seq FROM read_model_state").fetch_one(&self.pool),
            )
            .await?;
        Ok(Seq(unsigned(v, "last_seq")?))
    }

    /// Orders with their fills, in the order given.
    async fn with_fills(&self, rows: &[PgRow]) -> Result<Vec<OrderView>, QueryError> {
        let mut orders = rows
            .iter()
            .map(order_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        if orders.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = orders.iter().map(|o| big(o.id.get())).collect();
        let fills = self
            .timed(
                "read fills",
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {FILL_COLUMNS} FROM activities \
                     WHERE order_id = ANY($1) AND activity_type = 'FILL' \
                     ORDER BY order_id, trade_id"
                )))
                .bind(&ids)
                .fetch_all(&self.pool),
            )
            .await?;
        let mut at: FxHashMap<OrderId, usize> = FxHashMap::default();
        for (i, o) in orders.iter().enumerate() {
            at.insert(o.id, i);
        }
        for r in &fills {
            let (id, f) = fill_from_row(r)?;
            if let Some(&i) = at.get(&id) {
                orders[i].fills.push(f);
            }
        }
        Ok(orders.iter().map(OrderState::view).collect())
    }

    /// An order of `account` (`None` if it is another account's).
    pub async fn order(
        &self,
        account: AccountId,
        id: OrderId,
    ) -> Result<Option<OrderView>, QueryError> {
        let rows = self
            .timed(
                "read an order",
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1 AND account = $2"
                )))
                .bind(big(id.get()))
                .bind(big(account.get()))
                .fetch_all(&self.pool),
            )
            .await?;
        Ok(self.with_fills(&rows).await?.pop())
    }

    /// Any account's order, for the operator.
    pub async fn order_any(&self, id: OrderId) -> Result<Option<OrderView>, QueryError> {
        let rows = self
            .timed(
                "read an order",
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1"
                )))
                .bind(big(id.get()))
                .fetch_all(&self.pool),
            )
            .await?;
        Ok(self.with_fills(&rows).await?.pop())
    }

    /// The account's newest order with this client order id.
    pub async fn order_by_client_id(
        &self,
        account: AccountId,
        client_order_id: ClientOrderId,
    ) -> Result<Option<OrderView>, QueryError> {
        let rows = self
            .timed(
                "read an order by client order id",
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {ORDER_COLUMNS} FROM orders \
                     WHERE account = $1 AND client_order_id = $2 ORDER BY id DESC LIMIT 1"
                )))
                .bind(big(account.get()))
                .bind(client_order_id.as_str())
                .fetch_all(&self.pool),
            )
            .await?;
        Ok(self.with_fills(&rows).await?.pop())
    }

    /// The account's ended orders, newest first, one page at a time (working orders are not
    /// in the table: see the module docs).
    pub async fn orders(
        &self,
        account: AccountId,
        filter: &OrderFilter,
    ) -> Result<Page<OrderView>, QueryError> {
        let before = filter.before()?;
        let limit = filter.limit();
        // The table holds ended orders only: working ones are the in-memory model's.
        if filter.status == StatusFilter::Open {
            return Ok(Page::empty());
        }
        let rows = self
            .timed(
                "list orders",
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {ORDER_COLUMNS} FROM orders \
                     WHERE account = $1 AND ($2::bigint IS NULL OR id < $2) \
                       AND ($3::text IS NULL OR symbol = $3) \
                     ORDER BY id DESC LIMIT $4"
                )))
                .bind(big(account.get()))
                .bind(before.map(|b| big(b.get())))
                .bind(filter.symbol.map(|s| s.as_str().to_owned()))
                .bind(i64::try_from(limit + 1).unwrap_or(i64::MAX))
                .fetch_all(&self.pool),
            )
            .await?;
        let more = rows.len() > limit;
        let items = self.with_fills(&rows[..rows.len().min(limit)]).await?;
        let next = if more {
            items.last().map(|o| o.id.clone())
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// The account's activities, newest first, one page at a time.
    pub async fn activities(
        &self,
        account: AccountId,
        filter: &ActivityFilter,
    ) -> Result<Page<ActivityView>, QueryError> {
        let before = filter.before()?;
        let limit = filter.limit();
        let rows = self
            .timed(
                "list activities",
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {ACTIVITY_COLUMNS} FROM activities \
                     WHERE account = $1 AND ($2::bigint IS NULL OR (seq, idx) < ($2, $3)) \
                       AND ($4::text IS NULL OR activity_type = $4) \
                     ORDER BY seq DESC, idx DESC LIMIT $5"
                )))
                .bind(big(account.get()))
                .bind(before.map(|b| big(b.seq)))
                .bind(before.map_or(0, |b| i32::try_from(b.idx).unwrap_or(i32::MAX)))
                .bind(filter.activity_type.map(ActivityType::as_str))
                .bind(i64::try_from(limit + 1).unwrap_or(i64::MAX))
                .fetch_all(&self.pool),
            )
            .await?;
        let more = rows.len() > limit;
        let items = rows[..rows.len().min(limit)]
            .iter()
            .map(|r| activity_from_row(r).map(|a| a.view()))
            .collect::<Result<Vec<_>, _>>()?;
        let next = if more {
            items.last().map(|a| a.id.to_string())
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// The account's private-stream events numbered above `after`, oldest first, at most
    /// `limit` (all that the tables hold: a prefix of the stream, as the projection
    /// commits whole commands in seq order).
    pub async fn events(
        &self,
        account: AccountId,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Tagged>, QueryError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = self
            .timed(
                "list account events",
                sqlx::query(
                    "SELECT aseq, seq, ts, event FROM account_events \
                     WHERE account = $1 AND aseq > $2 ORDER BY aseq LIMIT $3",
                )
                .bind(big(account.get()))
                .bind(big(after))
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&self.pool),
            )
            .await?;
        rows.iter().map(event_from_row).collect()
    }
}

/// A fill's value from its stored cash effect: a buy's is −(value + fee), a sell's
/// value − fee.
fn fill_value(side: &str, net: i64, fee: i64) -> Result<Cash, QueryError> {
    let v = match parse_side(side) {
        Some(Side::Buy) => net.checked_neg().and_then(|n| n.checked_sub(fee)),
        Some(Side::Sell) => net.checked_add(fee),
        None => None,
    };
    v.map(Cash::from_raw)
        .ok_or_else(|| QueryError::Corrupt(format!("fill cash {net} / fee {fee} on side {side}")))
}
