-- News items operators publish (`POST /v1/admin/news`, `bourse-api`'s `news` module), each
-- tagged with listed symbols; read newest first, by symbol (the GIN index) or all.
-- Reference data beside the journal, not derived from it: every item is kept.
CREATE TABLE news (
    id       BIGSERIAL PRIMARY KEY,
    at       BIGINT    NOT NULL,
    headline TEXT      NOT NULL CHECK (length(headline) BETWEEN 1 AND 200),
    summary  TEXT      NOT NULL,
    source   TEXT      NOT NULL,
    url      TEXT,
    symbols  TEXT[]    NOT NULL CHECK (cardinality(symbols) BETWEEN 1 AND 10)
);
CREATE INDEX news_symbols ON news USING GIN (symbols);
