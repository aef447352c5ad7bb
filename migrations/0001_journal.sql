-- The journal of sequenced commands and the engine snapshots (bourse-journal's PgJournal).
--
-- journal: one row per command. `payload` is the codec encoding of the whole Sequenced
-- record (format-version byte + bincode), so the format version travels with each row and
-- the row can be decoded without this table's other columns; `seq` and `ts` are copies for
-- the primary key and for operators' queries by time. Seqs are 1..=max with no gap: the
-- writer checks that on open, and the primary key refuses a duplicate.
CREATE TABLE journal (
    seq     BIGINT PRIMARY KEY CHECK (seq > 0),
    ts      BIGINT NOT NULL,
    payload BYTEA  NOT NULL
);

-- snapshots: the engine state after `seq` (opaque bytes to the journal), with a CRC-32 of
-- `payload` (stored as BIGINT: the checksum is unsigned 32-bit) so a damaged snapshot is
-- skipped for an older one instead of being restored.
CREATE TABLE snapshots (
    seq      BIGINT      PRIMARY KEY CHECK (seq >= 0),
    crc32    BIGINT      NOT NULL,
    payload  BYTEA       NOT NULL,
    taken_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
