-- An order's fills are its FILL activities, which carry every column the `fills` table
-- had: the projector writes each fill once, as an activity, and the table goes. The view
-- keeps `fills` readable for anyone who queried it. Order ids appear only on FILL rows,
-- hence the partial index (an order's fills, read with the order).
DROP TABLE fills;
CREATE INDEX activities_order ON activities (order_id) WHERE order_id IS NOT NULL;
CREATE VIEW fills AS
    SELECT order_id, trade_id, account, symbol, side, price, qty, fee, liquidity, ts, seq
    FROM activities
    WHERE activity_type = 'FILL';
