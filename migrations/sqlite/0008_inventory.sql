-- Inventory: lots (stock per SKU, location and batch), the ledger they are derived from,
-- and reservations held for checkouts. CHECKs are the last guard: stock is never negative
-- and never more is reserved than is on hand.
-- One row per SKU: every write to a SKU's stock updates it first, so writers of one SKU
-- queue in order and its stock-level events fire exactly once.
CREATE TABLE stock_skus (
    sku     TEXT PRIMARY KEY,
    version BIGINT NOT NULL
);

CREATE TABLE stock_lots (
    id          BLOB PRIMARY KEY,
    sku         TEXT NOT NULL,
    location    TEXT NOT NULL,
    batch       TEXT NOT NULL,
    expires_on  TEXT,
    on_hand     INTEGER NOT NULL CHECK (on_hand >= 0),
    reserved    INTEGER NOT NULL CHECK (reserved >= 0 AND reserved <= on_hand),
    quarantined BOOLEAN NOT NULL DEFAULT FALSE,
    received_at INTEGER NOT NULL,
    UNIQUE (sku, location, batch)
);
CREATE INDEX stock_lots_batch ON stock_lots (batch);

CREATE TABLE stock_ledger (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    lot_id         BLOB NOT NULL REFERENCES stock_lots (id),
    sku            TEXT NOT NULL,
    location       TEXT NOT NULL,
    batch          TEXT NOT NULL,
    movement       TEXT NOT NULL,
    on_hand_delta  INTEGER NOT NULL,
    reserved_delta INTEGER NOT NULL,
    reason         TEXT,
    reference      TEXT,
    at             INTEGER NOT NULL
);
CREATE INDEX stock_ledger_sku ON stock_ledger (sku, seq);
CREATE INDEX stock_ledger_lot ON stock_ledger (lot_id);

CREATE TABLE stock_reservations (
    id         BLOB PRIMARY KEY,
    reference  TEXT NOT NULL,
    state      TEXT NOT NULL CHECK (state IN ('held', 'released', 'committed', 'restocked')),
    expires_at INTEGER NOT NULL,
    order_id   BLOB,
    created_at INTEGER NOT NULL
);
CREATE INDEX stock_reservations_due ON stock_reservations (state, expires_at);
CREATE INDEX stock_reservations_reference ON stock_reservations (reference);

CREATE TABLE stock_reservation_lines (
    reservation_id BLOB NOT NULL REFERENCES stock_reservations (id),
    lot_id         BLOB NOT NULL REFERENCES stock_lots (id),
    sku            TEXT NOT NULL,
    quantity       INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (reservation_id, lot_id)
);
CREATE INDEX stock_reservation_lines_lot ON stock_reservation_lines (lot_id);
