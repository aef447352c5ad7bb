-- The read model's `orders` table holds only orders that have ended (filled, canceled,
-- expired): each is inserted once, when it ends. Working orders are answered from the
-- server's memory, which rebuilds them from the journal at start. Inserting once instead of
-- upserting every change spares PostgreSQL the dead row versions and index entries of
-- states that do not last.
--
-- Rows of working orders written by the earlier projector go; the orders reappear, ended,
-- when they end. The partial index over working orders has nothing left to cover.
DELETE FROM orders WHERE status IN ('held', 'new', 'partially_filled');
DROP INDEX orders_account_open;
