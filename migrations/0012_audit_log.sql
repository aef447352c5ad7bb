-- The audit log (DESIGN §7): security events and operators' actions, written by the API as
-- they happen (`bourse-api`'s `audit` module), read by operators (`GET /v1/admin/audit`).
--
-- Append-only: a trigger refuses every UPDATE, DELETE and TRUNCATE, so not even the server's
-- own connection can change an entry. Each row carries the BLAKE3 hash of its fields chained
-- to the previous row's (`prev`), so a row removed or edited with the trigger disabled shows
-- as a broken chain. `detail` is the JSON text the hash covers (not jsonb, which would
-- reformat it). No secret, address or phone number is ever written here.
CREATE TABLE audit_log (
    id      BIGINT  PRIMARY KEY CHECK (id > 0),
    at      BIGINT  NOT NULL,
    kind    TEXT    NOT NULL,
    actor   TEXT    NOT NULL,
    account BIGINT,
    ip      TEXT,
    detail  TEXT    NOT NULL,
    prev    BYTEA   NOT NULL CHECK (length(prev) = 32),
    hash    BYTEA   NOT NULL CHECK (length(hash) = 32)
);
CREATE INDEX audit_log_account ON audit_log (account, id) WHERE account IS NOT NULL;
CREATE INDEX audit_log_kind ON audit_log (kind, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
