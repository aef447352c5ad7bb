-- The read model for history queries (bourse-api's PgProjector writes it, PgHistory reads
-- it). Derived data only: every row is folded from the journal's released events and the
-- whole schema can be emptied and rebuilt by projecting the journal again. Nothing here is
-- ever read back into the engine.
--
-- Units: money and prices are BIGINT counts of 1/10,000 $ (the raw value of Price/Cash);
-- quantities are whole shares; times are nanoseconds since the Unix epoch (UTC); `seq` is
-- the journal seq of the command that caused the row (for orders: that last changed it).
-- Enumerations are their lower-case wire names (statuses, sides, types, time in force,
-- liquidity) or upper-case codes (cancel reasons, activity types), as the JSON API shows them.

-- read_model_state: the last seq whose effects are all in the tables below; it advances in
-- the same transaction as the rows, so the tables are always exactly "every command up to
-- last_seq". One row.
CREATE TABLE read_model_state (
    id       BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    last_seq BIGINT  NOT NULL CHECK (last_seq >= 0)
);
INSERT INTO read_model_state (id, last_seq) VALUES (TRUE, 0);

-- orders: one row per accepted order, its current state. `qty` is filled plus open (a
-- replace changes the open part); rows are upserted by id, and only by a newer seq.
CREATE TABLE orders (
    id              BIGINT PRIMARY KEY,
    account         BIGINT NOT NULL,
    client_order_id TEXT,
    symbol          TEXT   NOT NULL,
    side            TEXT   NOT NULL CHECK (side IN ('buy', 'sell')),
    order_type      TEXT   NOT NULL CHECK (order_type IN ('limit', 'market', 'stop', 'stop_limit')),
    time_in_force   TEXT   NOT NULL CHECK (time_in_force IN ('gtc', 'day', 'ioc', 'fok')),
    qty             BIGINT NOT NULL,
    limit_price     BIGINT,
    stop_price      BIGINT,
    status          TEXT   NOT NULL CHECK (status IN
                        ('held', 'new', 'partially_filled', 'filled', 'canceled', 'expired')),
    filled_qty      BIGINT NOT NULL,
    leaves_qty      BIGINT NOT NULL,
    cum_notional    BIGINT NOT NULL,
    cancel_reason   TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    seq             BIGINT NOT NULL
);
-- An account's orders newest first; its open ones; its newest order by client order id
-- (client order ids are unique only among live and recent orders, so not a unique key).
CREATE INDEX orders_account_id ON orders (account, id DESC);
CREATE INDEX orders_account_open ON orders (account, id DESC)
    WHERE status IN ('held', 'new', 'partially_filled');
CREATE INDEX orders_account_client ON orders (account, client_order_id, id DESC)
    WHERE client_order_id IS NOT NULL;

-- fills: one row per order per trade (a trade fills a maker and a taker order).
CREATE TABLE fills (
    order_id  BIGINT NOT NULL,
    trade_id  BIGINT NOT NULL,
    account   BIGINT NOT NULL,
    symbol    TEXT   NOT NULL,
    side      TEXT   NOT NULL CHECK (side IN ('buy', 'sell')),
    price     BIGINT NOT NULL,
    qty       BIGINT NOT NULL,
    fee       BIGINT NOT NULL,
    liquidity TEXT   NOT NULL CHECK (liquidity IN ('maker', 'taker')),
    ts        BIGINT NOT NULL,
    seq       BIGINT NOT NULL,
    PRIMARY KEY (order_id, trade_id)
);

-- activities: what moved an account's cash or shares (fills, cash deposits and
-- withdrawals, share deposits). The id is (seq, idx): the command and the position of
-- the event among its events — stable, since replaying the journal gives the same events.
-- Columns that do not apply to the activity type are NULL. `net_amount` is the signed cash
-- effect; `balance` the cash after a deposit or withdrawal; `position_qty` the shares held
-- after a share deposit.
CREATE TABLE activities (
    seq           BIGINT  NOT NULL,
    idx           INTEGER NOT NULL,
    account       BIGINT  NOT NULL,
    activity_type TEXT    NOT NULL CHECK (activity_type IN
                        ('FILL', 'DEPOSIT', 'WITHDRAWAL', 'SHARE_DEPOSIT')),
    ts            BIGINT  NOT NULL,
    symbol        TEXT,
    side          TEXT,
    order_id      BIGINT,
    trade_id      BIGINT,
    price         BIGINT,
    qty           BIGINT,
    fee           BIGINT,
    liquidity     TEXT,
    cum_qty       BIGINT,
    leaves_qty    BIGINT,
    net_amount    BIGINT,
    balance       BIGINT,
    position_qty  BIGINT,
    PRIMARY KEY (seq, idx)
);
CREATE INDEX activities_account ON activities (account, seq DESC, idx DESC);
