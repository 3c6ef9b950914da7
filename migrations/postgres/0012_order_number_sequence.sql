-- Order numbers come from a sequence: the single counter row made every order placement
-- queue on it until commit. A number is never reused; one can be skipped when an attempt
-- that drew it rolls back (two attempts racing for one cart).
CREATE SEQUENCE orders.order_number_seq START WITH 1001;
SELECT setval('orders.order_number_seq', GREATEST((SELECT last FROM orders.order_numbers WHERE id = 1), 1000));
DROP TABLE orders.order_numbers;

-- One held reservation per checkout attempt: the reservation is written first and a retry
-- finds it by this index (before, a read looked for it on every attempt).
CREATE UNIQUE INDEX stock_reservations_held ON inventory.stock_reservations (reference) WHERE state = 'held';
