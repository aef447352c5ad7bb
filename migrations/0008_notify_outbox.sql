-- The notification outbox (bourse-notify, DESIGN §6 "Notifications").
--
-- notify_deliveries: one row per notification per channel (per webhook). `key` is the
-- idempotency key: re-deriving events after a restart inserts nothing twice. No address,
-- secret or one-time code is stored: destinations are resolved at delivery time, a
-- verification code travels sealed inside the payload.
--   channel: 1 email, 2 sms, 3 webhook; endpoint: the webhook id, else 0.
--   status: 0 pending, 1 delivered, 2 dead (dead letter, replayable), 3 canceled.
--   inflight: claimed by the running process's dispatcher; cleared for every row when the
--   outbox is opened, so what was in flight at a crash is attempted again (at least once).
--   Times are nanoseconds since the epoch; payload is the exact JSON text webhooks receive.
CREATE TABLE notify_deliveries (
    id              BIGINT   GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key             TEXT     NOT NULL UNIQUE,
    seq             BIGINT   NOT NULL,
    account         BIGINT   NOT NULL,
    kind            TEXT     NOT NULL,
    channel         SMALLINT NOT NULL,
    endpoint        BIGINT   NOT NULL,
    status          SMALLINT NOT NULL DEFAULT 0,
    inflight        BOOLEAN  NOT NULL DEFAULT false,
    attempts        INTEGER  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT   NOT NULL,
    last_error      TEXT,
    created_at      BIGINT   NOT NULL,
    delivered_at    BIGINT,
    payload         TEXT     NOT NULL
);

-- The dispatcher's scan: due, pending, not claimed.
CREATE INDEX notify_deliveries_due ON notify_deliveries (next_attempt_at)
    WHERE status = 0 AND NOT inflight;
-- An account's deliveries, newest first.
CREATE INDEX notify_deliveries_account ON notify_deliveries (account, id);

-- One row: the seq through which deliveries are enqueued, advanced in the same transaction
-- as the rows.
CREATE TABLE notify_state (
    id              SMALLINT PRIMARY KEY CHECK (id = 1),
    derived_through BIGINT   NOT NULL
);
INSERT INTO notify_state (id, derived_through) VALUES (1, 0);
