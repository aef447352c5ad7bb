-- People's own keys (`bourse-api`'s `personkeys`): each person's data (addresses, bank
-- details, support texts) is sealed with a random key of their own, kept here wrapped by
-- the data key. Erasing a person deletes their row, which leaves everything sealed with it
-- unreadable wherever it was copied (the journal, snapshots, backups).
CREATE TABLE person_keys (
    key_id     BYTEA  PRIMARY KEY,
    account    BIGINT,
    wrapped    BYTEA  NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX person_keys_account ON person_keys (account);
