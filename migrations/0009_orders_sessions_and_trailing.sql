-- Order types and times in force of market sessions and trailing stops: on-open and
-- on-close orders, trailing stops with their trail (a price or basis points) and the
-- high-water (sell) or low-water (buy) mark their stop follows.
ALTER TABLE orders
    DROP CONSTRAINT IF EXISTS orders_order_type_check,
    ADD CONSTRAINT orders_order_type_check
        CHECK (order_type IN ('limit', 'market', 'stop', 'stop_limit', 'trailing_stop')),
    DROP CONSTRAINT IF EXISTS orders_time_in_force_check,
    ADD CONSTRAINT orders_time_in_force_check
        CHECK (time_in_force IN ('gtc', 'day', 'ioc', 'fok', 'opg', 'cls')),
    ADD COLUMN trail_price BIGINT,
    ADD COLUMN trail_bps   INTEGER,
    ADD COLUMN hwm         BIGINT;
