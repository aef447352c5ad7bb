-- An order is found by its client order id only to answer a resent submit. A hash index
-- serves that equality lookup (the few orders of any account with the id, then the
-- account's newest) and costs about half as much per inserted order as the b-tree over
-- (account, client_order_id, id), which compared long, common-prefixed ids on every insert.
DROP INDEX orders_account_client;
CREATE INDEX orders_client ON orders USING hash (client_order_id)
    WHERE client_order_id IS NOT NULL;
