-- service: orders
-- A locked box's items are set aside in inventory (one reservation per box) until her renewal
-- order takes them; the order that ships each box.
ALTER TABLE orders.box_contents ADD COLUMN reservation_id UUID;
ALTER TABLE orders.box_contents ADD COLUMN order_id UUID;
CREATE INDEX box_contents_of_order ON orders.box_contents (order_id);
