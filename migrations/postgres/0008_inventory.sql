-- Inventory: lots (stock per SKU, location and batch), the ledger they are derived from,
-- and reservations held for checkouts. CHECKs are the last guard: stock is never negative
-- and never more is reserved than is on hand. Queries find the schema through the
-- connection's search path.
CREATE SCHEMA IF NOT EXISTS inventory;

-- One row per SKU: every write to a SKU's stock updates it first, so writers of one SKU
-- queue in order and its stock-level events fire exactly once.
CREATE TABLE inventory.stock_skus (
    sku     TEXT PRIMARY KEY,
    version BIGINT NOT NULL
);

CREATE TABLE inventory.stock_lots (
    id          UUID PRIMARY KEY,
    sku         TEXT NOT NULL,
    location    TEXT NOT NULL,
    batch       TEXT NOT NULL,
    expires_on  DATE,
    on_hand     BIGINT NOT NULL CHECK (on_hand >= 0),
    reserved    BIGINT NOT NULL CHECK (reserved >= 0 AND reserved <= on_hand),
    quarantined BOOLEAN NOT NULL DEFAULT FALSE,
    received_at BIGINT NOT NULL,
    UNIQUE (sku, location, batch)
);
CREATE INDEX stock_lots_batch ON inventory.stock_lots (batch);

CREATE TABLE inventory.stock_ledger (
    seq            BIGSERIAL PRIMARY KEY,
    lot_id         UUID NOT NULL REFERENCES inventory.stock_lots (id),
    sku            TEXT NOT NULL,
    location       TEXT NOT NULL,
    batch          TEXT NOT NULL,
    movement       TEXT NOT NULL,
    on_hand_delta  BIGINT NOT NULL,
    reserved_delta BIGINT NOT NULL,
    reason         TEXT,
    reference      TEXT,
    at             BIGINT NOT NULL
);
CREATE INDEX stock_ledger_sku ON inventory.stock_ledger (sku, seq);
CREATE INDEX stock_ledger_lot ON inventory.stock_ledger (lot_id);

CREATE TABLE inventory.stock_reservations (
    id         UUID PRIMARY KEY,
    reference  TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('held', 'released', 'committed', 'restocked')),
    expires_at BIGINT NOT NULL,
    order_id   UUID,
    created_at BIGINT NOT NULL
);
CREATE INDEX stock_reservations_due ON inventory.stock_reservations (state, expires_at);
CREATE INDEX stock_reservations_reference ON inventory.stock_reservations (reference);

CREATE TABLE inventory.stock_reservation_lines (
    reservation_id UUID NOT NULL REFERENCES inventory.stock_reservations (id),
    lot_id         UUID NOT NULL REFERENCES inventory.stock_lots (id),
    sku            TEXT NOT NULL,
    quantity       BIGINT NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (reservation_id, lot_id)
);
CREATE INDEX stock_reservation_lines_lot ON inventory.stock_reservation_lines (lot_id);
