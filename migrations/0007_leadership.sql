-- Leadership between a primary and its standbys (DESIGN §9).
--
-- leader_lease: one row, the writer's lease. `token` is the fencing token: it rises by one
-- at every change of holder and never falls. The holder renews `expires_at` (in the
-- server's clock, so the machines' clocks need not agree); a standby may take the lease
-- only once it has lapsed, and taking it raises the token. Every journal append checks,
-- in its own statement and under a share lock on this row, that the lease still carries
-- the writer's token: a deposed primary (crashed, partitioned, paused) can never append
-- again, and a takeover waits for an append already under way to finish.
CREATE TABLE leader_lease (
    id          SMALLINT    PRIMARY KEY CHECK (id = 1),
    token       BIGINT      NOT NULL CHECK (token > 0),
    holder      TEXT        NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    acquired_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);

-- journal.token: the fencing token of the writer that appended the row (0: written without
-- a lease, before this migration or by a file-journal import). Non-decreasing in seq order
-- whenever writers took turns properly: what a test (or an operator) checks "no two
-- writers ever" with.
ALTER TABLE journal ADD COLUMN token BIGINT NOT NULL DEFAULT 0;

-- Standbys tail the journal: every append statement wakes them (payload: the schema, so
-- one database can hold several journals). Statement-level, so one notification per group
-- commit, sent when the transaction commits.
CREATE FUNCTION journal_appended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bourse_journal', TG_TABLE_SCHEMA);
    RETURN NULL;
END
$$;
CREATE TRIGGER journal_appended AFTER INSERT ON journal
    FOR EACH STATEMENT EXECUTE FUNCTION journal_appended();
