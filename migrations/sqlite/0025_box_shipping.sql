-- service: orders
-- A locked box's items are set aside in inventory (one reservation per box) until her renewal
-- order takes them; the order that ships each box.
ALTER TABLE box_contents ADD COLUMN reservation_id BLOB;
ALTER TABLE box_contents ADD COLUMN order_id BLOB;
CREATE INDEX box_contents_of_order ON box_contents (order_id);
