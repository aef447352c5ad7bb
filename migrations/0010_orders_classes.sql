-- Order classes (bracket, OCO, OTO): the class an order belongs to, the class's id (its
-- first order's) and the order's part in it. NULL for a simple order.
ALTER TABLE orders
    ADD COLUMN order_class TEXT CHECK (order_class IN ('bracket', 'oco', 'oto')),
    ADD COLUMN class_id    BIGINT,
    ADD COLUMN leg         TEXT CHECK (leg IN ('entry', 'take_profit', 'stop_loss'));
