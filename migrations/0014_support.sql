-- Support tickets (`bourse-api`'s `support` module): an append-only log of changes (a
-- ticket opened, a message, a close), folded into tickets by the server. `change` is JSON
-- whose subject and message texts are sealed with the data key (people write personal
-- details into support messages). A ticket's id is the id of the change that opened it.
CREATE TABLE support_log (
    id     BIGSERIAL PRIMARY KEY,
    at     BIGINT    NOT NULL,
    change TEXT      NOT NULL
);
