-- account_events: every account's private stream (execution reports, balance, position and
-- cash changes, triggered alerts), numbered 1, 2, 3, … per account with no gap by the
-- engine (`aseq`), for `GET /v1/events?after=`: a client that lost its connection asks for
-- what followed the last number it saw. `event` is the engine's event in the project's
-- binary codec (bourse_core::codec: a format-version byte, then bincode), as the journal
-- stores commands; `seq` and `ts` are the command's. Derived data like the rest of the
-- read model: each row is inserted once, by the projector, in the transaction that
-- advances read_model_state.last_seq.
CREATE TABLE account_events (
    account BIGINT NOT NULL,
    aseq    BIGINT NOT NULL CHECK (aseq > 0),
    seq     BIGINT NOT NULL,
    ts      BIGINT NOT NULL,
    event   BYTEA  NOT NULL,
    PRIMARY KEY (account, aseq)
);
