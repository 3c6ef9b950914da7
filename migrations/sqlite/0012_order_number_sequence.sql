-- The next order number is one more than the highest (writers take turns on SQLite, so two
-- placements never draw the same one); the counter row is no longer needed.
DROP TABLE order_numbers;

-- One held reservation per checkout attempt: the reservation is written first and a retry
-- finds it by this index.
CREATE UNIQUE INDEX stock_reservations_held ON stock_reservations (reference) WHERE state = 'held';
