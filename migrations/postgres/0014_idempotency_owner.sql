-- Stored answers are sealed; the customer they belong to (if any) is named so that erasing
-- her account deletes them.
ALTER TABLE gateway.idempotency_keys ADD COLUMN owner TEXT;
CREATE INDEX idempotency_keys_owner ON gateway.idempotency_keys (owner);
-- Answers stored before they were sealed may hold personal data in clear: forget them (a retry
-- with such a key runs again, which checkout's own attempt records make safe).
DELETE FROM gateway.idempotency_keys WHERE state = 'done';
