-- An order's `extended_hours` (Alpaca's field: a limit DAY order that also trades in
-- pre-market and after-hours) is part of its report. The engine's `OrderAccepted` event now
-- carries it, so the private-stream events stored in `account_events` changed their layout:
-- the read model is derived data, emptied here and projected again from the journal at the
-- next start (as 0011 did).
TRUNCATE orders, activities, account_events;
UPDATE read_model_state SET last_seq = 0;
ALTER TABLE orders ADD COLUMN extended_hours BOOLEAN NOT NULL DEFAULT false;
