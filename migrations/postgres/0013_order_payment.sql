-- Orders are found by their payment's id (the provider's webhooks name only that).
ALTER TABLE orders.orders ADD COLUMN payment_id TEXT;
UPDATE orders.orders SET payment_id = doc -> 'payment' ->> 'payment_id';
CREATE INDEX orders_payment ON orders.orders (payment_id);
