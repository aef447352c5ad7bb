-- Fractional shares and notional orders. Quantities are millionths of a share from here on
-- (`qty` 1 is 0.000001 share), and the private-stream events stored in `account_events`
-- changed their layout. The read model is derived data, so it is emptied here and projected
-- again from the journal at the next start (older journal commands are read in whole
-- shares). `orders.notional` is a notional order's dollar amount (1/10,000 $).
TRUNCATE orders, activities, account_events;
UPDATE read_model_state SET last_seq = 0;
ALTER TABLE orders ADD COLUMN notional BIGINT;
