-- Orders are found by their payment's id (the provider's webhooks name only that).
ALTER TABLE orders ADD COLUMN payment_id TEXT;
UPDATE orders SET payment_id = json_extract(doc, '$.payment.payment_id');
CREATE INDEX orders_payment ON orders (payment_id);
