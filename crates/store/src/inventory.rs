//! The inventory repository. PostgreSQL keeps these tables in its `inventory` schema.

use crate::audit;
use crate::prelude::*;

use rouge_inventory::model::level_events;
use rouge_inventory::ports::InventoryResult;
use rouge_inventory::{
    Allocation, InventoryError, InventoryRepository, LedgerEntry, LineRequest, Lot, Movement, Reservation,
    ReservationState, ReserveRequest, StockRules, allocate,
};
use rouge_kernel::{DomainEvent, StoreError};
use sqlx::Transaction;
use uuid::Uuid;

type Tx<D> = Transaction<'static, D>;

fn failed(e: sqlx::Error) -> InventoryError {
    InventoryError::Store(crate::unavailable(e))
}

/// The columns of a lot, in the order [`lot`] reads them.
macro_rules! lot_columns {
    () => {
        "id, sku, location, batch, expires_on, on_hand, reserved, quarantined, received_at"
    };
}

/// Selects lots: `lots!("WHERE …")`.
macro_rules! lots {
    ($rest:literal) => {
        concat!("SELECT ", lot_columns!(), " FROM stock_lots ", $rest)
    };
}

fn lot(r: &impl Read) -> Lot {
    Lot {
        id: r.get("id"),
        sku: r.get("sku"),
        location: r.get("location"),
        batch: r.get("batch"),
        expires_on: r.get("expires_on"),
        on_hand: r.get("on_hand"),
        reserved: r.get("reserved"),
        quarantined: r.get("quarantined"),
        received_at: r.get("received_at"),
    }
}

async fn lot_in<D: Dialect>(tx: &mut Tx<D>, id: Uuid) -> InventoryResult<Lot> {
    sqlx::query(lots!("WHERE id = $1"))
        .arg(id)
        .fetch_optional(D::on(tx))
        .await
        .map_err(failed)?
        .map(|r| lot(&r))
        .ok_or_else(|| InventoryError::NotFound(format!("lot {id}")))
}

async fn lots_in<D: Dialect>(tx: &mut Tx<D>, sku: &str) -> InventoryResult<Vec<Lot>> {
    let rows = sqlx::query(lots!("WHERE sku = $1")).arg(sku).fetch_all(D::on(tx)).await.map_err(failed)?;
    Ok(rows.iter().map(lot).collect())
}

fn sellable(lots: &[Lot], rules: &StockRules) -> i64 {
    lots.iter().filter(|l| l.sellable(rules)).map(|l| l.available().max(0)).sum()
}

/// Takes each SKU's write lock, in name order (so two writers never wait on each other in a
/// circle), and returns its sellable stock as it stands under the lock. On PostgreSQL every
/// write to a SKU's stock queues here, so the stock read next is the stock written over,
/// and the low-stock and sold-out events fire exactly once.
async fn lock_skus<D: Dialect>(
    tx: &mut Tx<D>,
    skus: &[&str],
    rules: &StockRules,
) -> InventoryResult<Vec<(String, i64)>> {
    Ok(lock_and_read(tx, skus, rules).await?.into_iter().map(|(sku, before, _)| (sku, before)).collect())
}

/// As [`lock_skus`], with each SKU's lots as read under the lock.
async fn lock_and_read<D: Dialect>(
    tx: &mut Tx<D>,
    skus: &[&str],
    rules: &StockRules,
) -> InventoryResult<Vec<(String, i64, Vec<Lot>)>> {
    let mut out = vec![];
    for sku in lock_only(tx, skus).await? {
        let lots = lots_in(tx, sku).await?;
        out.push((sku.to_owned(), sellable(&lots, rules), lots));
    }
    Ok(out)
}

/// Takes the SKUs' write locks (see [`lock_skus`]).
async fn lock_only<'a, D: Dialect>(tx: &mut Tx<D>, skus: &[&'a str]) -> InventoryResult<Vec<&'a str>> {
    let mut skus: Vec<&str> = skus.to_vec();
    skus.sort_unstable();
    skus.dedup();
    for sku in &skus {
        sqlx::query(
            "INSERT INTO stock_skus (sku, version) VALUES ($1, 1) \
             ON CONFLICT (sku) DO UPDATE SET version = stock_skus.version + 1",
        )
        .arg(sku)
        .execute(D::on(tx))
        .await
        .map_err(failed)?;
    }
    Ok(skus)
}

/// Where a ledger line belongs: a lot and what it holds.
struct Place<'a> {
    id: Uuid,
    sku: &'a str,
    location: &'a str,
    batch: &'a str,
}

impl<'a> From<&'a Lot> for Place<'a> {
    fn from(l: &'a Lot) -> Self {
        Place { id: l.id, sku: &l.sku, location: &l.location, batch: &l.batch }
    }
}

impl<'a> From<&'a Allocation> for Place<'a> {
    fn from(a: &'a Allocation) -> Self {
        Place { id: a.lot_id, sku: &a.sku, location: &a.location, batch: &a.batch }
    }
}

/// One ledger line for a lot.
async fn ledger<D: Dialect>(
    tx: &mut Tx<D>,
    l: Place<'_>,
    m: Movement,
    on_hand: i64,
    reserved: i64,
    reason: Option<&str>,
    reference: Option<&str>,
) -> InventoryResult<()> {
    sqlx::query(
        "INSERT INTO stock_ledger (lot_id, sku, location, batch, movement, on_hand_delta, reserved_delta, reason, reference, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .arg(l.id)
    .arg(l.sku)
    .arg(l.location)
    .arg(l.batch)
    .arg(m.as_str())
    .arg(on_hand)
    .arg(reserved)
    .arg(reason)
    .arg(reference)
    .arg(chrono::Utc::now().timestamp_millis())
    .execute(D::on(tx))
    .await
    .map_err(failed)?;
    Ok(())
}

/// Writes the events a known change of sellable stock calls for (`(sku, before, after)`),
/// then commits.
async fn finish_known<D: Dialect>(
    store: &Store<D>,
    tx: Tx<D>,
    changes: &[(String, i64, i64)],
    rules: &StockRules,
) -> InventoryResult<()> {
    let events: Vec<DomainEvent> =
        changes.iter().flat_map(|(sku, before, after)| level_events(sku, *before, *after, rules.low_stock)).collect();
    store.commit(tx, &events).await.map_err(failed)?;
    Ok(())
}

/// Compares a SKU's sellable stock with what it was and writes the events that calls for;
/// then commits.
async fn finish<D: Dialect>(
    store: &Store<D>,
    mut tx: Tx<D>,
    sku_before: &[(String, i64)],
    rules: &StockRules,
) -> InventoryResult<()> {
    let mut events: Vec<DomainEvent> = vec![];
    for (sku, before) in sku_before {
        let after = sellable(&lots_in(&mut tx, sku).await?, rules);
        events.extend(level_events(sku, *before, after, rules.low_stock));
    }
    store.commit(tx, &events).await.map_err(failed)?;
    Ok(())
}

/// Reads a reservation and its lines in one statement (a round trip less than two).
async fn reservation_in<D: Dialect>(db: &mut D::Connection, id: Uuid) -> InventoryResult<Option<Reservation>> {
    let rows = sqlx::query(
        "SELECT s.id, s.reference, s.state, s.expires_at, s.order_id, \
                r.lot_id, r.sku, r.quantity, l.location, l.batch, l.expires_on \
         FROM stock_reservations s \
         LEFT JOIN stock_reservation_lines r ON r.reservation_id = s.id \
         LEFT JOIN stock_lots l ON l.id = r.lot_id \
         WHERE s.id = $1 ORDER BY l.expires_on, r.lot_id",
    )
    .arg(id)
    .fetch_all(D::on(db))
    .await
    .map_err(failed)?;
    let Some(r) = rows.first() else {
        return Ok(None);
    };
    let state: String = r.get("state");
    Ok(Some(Reservation {
        id: r.get("id"),
        reference: r.get("reference"),
        state: ReservationState::parse(&state).ok_or_else(|| {
            InventoryError::Store(StoreError::Unavailable(format!("unknown reservation state `{state}`")))
        })?,
        expires_at: r.get("expires_at"),
        order_id: r.get("order_id"),
        lines: rows
            .iter()
            .filter_map(|l| {
                Some(Allocation {
                    lot_id: l.get::<Option<Uuid>>("lot_id")?,
                    sku: l.get("sku"),
                    location: l.get("location"),
                    batch: l.get("batch"),
                    expires_on: l.get("expires_on"),
                    quantity: l.get("quantity"),
                })
            })
            .collect(),
    }))
}

/// Moves a reservation from `from` to `to` (recording `order` when given). `Ok(Err(r))` when
/// it was not in `from`: the caller decides whether its state means "already done".
async fn move_reservation<D: Dialect>(
    tx: &mut Tx<D>,
    id: Uuid,
    from: ReservationState,
    to: ReservationState,
    order: Option<Uuid>,
) -> InventoryResult<Result<Reservation, Reservation>> {
    let done = sqlx::query(
        "UPDATE stock_reservations SET state = $3, order_id = COALESCE($4, order_id) WHERE id = $1 AND state = $2",
    )
    .arg(id)
    .arg(from.as_str())
    .arg(to.as_str())
    .arg(order)
    .execute(D::on(tx))
    .await
    .map_err(failed)?
    .rows_affected();
    let r = reservation_in::<D>(tx, id).await?.ok_or_else(|| InventoryError::NotFound(format!("reservation {id}")))?;
    Ok(if done == 1 { Ok(r) } else { Err(r) })
}

fn not_in(r: &Reservation) -> InventoryError {
    InventoryError::Conflict(format!("reservation {} is {}", r.id, r.state.as_str()))
}

/// Changes one lot (`set` is the SQL assignment and `condition` an extra guard, `$1` is
/// `quantity`) and writes its ledger line; `false` when the guard kept the lot unchanged (and
/// no line was written). On PostgreSQL both happen in one statement (one round trip).
#[allow(clippy::too_many_arguments)]
async fn change_lot<D: Dialect>(
    tx: &mut Tx<D>,
    l: Place<'_>,
    quantity: i64,
    set: &str,
    condition: &str,
    movement: Movement,
    deltas: (i64, i64),
    reason: Option<&str>,
    reference: Option<&str>,
) -> InventoryResult<bool> {
    if D::WRITABLE_CTE {
        let sql = format!(
            "WITH changed AS (UPDATE stock_lots SET {set} WHERE id = $2{condition} RETURNING id) \
             INSERT INTO stock_ledger (lot_id, sku, location, batch, movement, on_hand_delta, reserved_delta, reason, reference, at) \
             SELECT id, $3, $4, $5, $6, $7, $8, $9, $10, $11 FROM changed"
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .arg(quantity)
            .arg(l.id)
            .arg(l.sku)
            .arg(l.location)
            .arg(l.batch)
            .arg(movement.as_str())
            .arg(deltas.0)
            .arg(deltas.1)
            .arg(reason)
            .arg(reference)
            .arg(chrono::Utc::now().timestamp_millis())
            .execute(D::on(tx))
            .await
            .map_err(failed)?
            .rows_affected();
        return Ok(done == 1);
    }
    let done = sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE stock_lots SET {set} WHERE id = $2{condition}")))
        .arg(quantity)
        .arg(l.id)
        .execute(D::on(tx))
        .await
        .map_err(failed)?
        .rows_affected();
    if done == 1 {
        ledger(tx, l, movement, deltas.0, deltas.1, reason, reference).await?;
    }
    Ok(done == 1)
}

/// Applies a reservation's lines to their lots (`set` is the SQL assignment, `$1` the
/// quantity) and writes one ledger line each.
async fn apply_lines<D: Dialect>(
    tx: &mut Tx<D>,
    r: &Reservation,
    set: &'static str,
    movement: Movement,
    signs: (i64, i64),
    reason: Option<&str>,
    reference: Option<&str>,
) -> InventoryResult<()> {
    for a in &r.lines {
        let deltas = (signs.0 * a.quantity, signs.1 * a.quantity);
        if !change_lot(tx, a.into(), a.quantity, set, "", movement, deltas, reason, reference).await? {
            return Err(InventoryError::NotFound(format!("lot {}", a.lot_id)));
        }
    }
    Ok(())
}

/// Tries a reservation once; `Ok(None)` when a concurrent writer took stock between the read
/// and the write (PostgreSQL only: SQLite's write transactions run one at a time).
#[tracing::instrument(name = "store.reserve", skip_all, fields(otel.kind = "client", db.system = D::SYSTEM))]
async fn try_reserve<D: Dialect>(
    store: &Store<D>,
    req: &ReserveRequest,
    rules: &StockRules,
) -> InventoryResult<Option<Reservation>> {
    let mut tx = store.write_tx().await.map_err(failed)?;
    // The reservation first: one held reservation per reference (a unique index), so a retry
    // of this attempt finds the one it already holds instead of taking stock twice.
    let fresh = sqlx::query(
        "INSERT INTO stock_reservations (id, reference, state, expires_at, created_at) VALUES ($1, $2, 'held', $3, $4) \
         ON CONFLICT (reference) WHERE state = 'held' DO NOTHING",
    )
    .arg(req.id)
    .arg(&req.reference)
    .arg(req.expires_at)
    .arg(chrono::Utc::now().timestamp_millis())
    .execute(D::on(&mut tx))
    .await
    .map_err(failed)?
    .rows_affected();
    if fresh == 0 {
        let held = sqlx::query("SELECT id FROM stock_reservations WHERE reference = $1 AND state = 'held'")
            .arg(&req.reference)
            .fetch_one(D::on(&mut tx))
            .await
            .map_err(failed)?;
        return reservation_in::<D>(&mut tx, held.get("id")).await;
    }
    let mut taken: Vec<Allocation> = vec![];
    let skus: Vec<&str> = req.lines.iter().map(|l| l.sku.as_str()).collect();
    let locked = lock_and_read(&mut tx, &skus, rules).await?;
    let mut changes = vec![];
    for line in &req.lines {
        let Some((_, before, lots)) = locked.iter().find(|(s, _, _)| *s == line.sku) else { continue };
        // Under the SKU's lock nobody else changes its lots: what is taken is what leaves.
        changes.push((line.sku.clone(), *before, before - line.quantity));
        match allocate(lots, line.quantity, rules) {
            Ok(a) => taken.extend(a),
            Err(available) => {
                return Err(InventoryError::Insufficient {
                    sku: line.sku.clone(),
                    requested: line.quantity,
                    available,
                });
            }
        }
    }
    let reference = req.id.to_string();
    for a in &taken {
        // The condition is checked again under the row's lock: a lot that another checkout
        // emptied meanwhile is not touched.
        let (set, guard) = ("reserved = reserved + $1", " AND on_hand - reserved >= $1");
        let deltas = (0, a.quantity);
        if !change_lot(&mut tx, a.into(), a.quantity, set, guard, Movement::Reserve, deltas, None, Some(&reference))
            .await?
        {
            return Ok(None);
        }
    }
    for a in &taken {
        sqlx::query(
            "INSERT INTO stock_reservation_lines (reservation_id, lot_id, sku, quantity) VALUES ($1, $2, $3, $4)",
        )
        .arg(req.id)
        .arg(a.lot_id)
        .arg(&a.sku)
        .arg(a.quantity)
        .execute(D::on(&mut tx))
        .await
        .map_err(failed)?;
    }
    finish_known(store, tx, &changes, rules).await?;
    Ok(Some(Reservation {
        id: req.id,
        reference: req.reference.clone(),
        state: ReservationState::Held,
        expires_at: req.expires_at,
        order_id: None,
        lines: taken,
    }))
}

impl<D: Dialect> InventoryRepository for Store<D> {
    async fn receive(
        &self,
        new: &Lot,
        quantity: i64,
        reference: Option<&str>,
        rules: &StockRules,
    ) -> InventoryResult<Lot> {
        let mut tx = self.write_tx().await.map_err(failed)?;
        let before = lock_skus(&mut tx, &[&new.sku], rules).await?;
        let stocked = if rouge_identity::audit::current().is_some() {
            let lots = lots_in(&mut tx, &new.sku).await?;
            lots.into_iter().find(|l| l.location == new.location && l.batch == new.batch)
        } else {
            None
        };
        let row = sqlx::query(concat!(
            "INSERT INTO stock_lots (id, sku, location, batch, expires_on, on_hand, reserved, quarantined, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, FALSE, $7) \
             ON CONFLICT (sku, location, batch) DO UPDATE SET on_hand = stock_lots.on_hand + excluded.on_hand \
             RETURNING ",
            lot_columns!()
        ))
        .arg(new.id)
        .arg(&new.sku)
        .arg(&new.location)
        .arg(&new.batch)
        .arg(new.expires_on)
        .arg(quantity)
        .arg(new.received_at)
        .fetch_one(D::on(&mut tx))
        .await
        .map_err(failed)?;
        let l = lot(&row);
        if l.expires_on != new.expires_on {
            return Err(InventoryError::Conflict(format!(
                "batch {} of {} at {} is already stocked with expiry {}",
                l.batch,
                l.sku,
                l.location,
                l.expires_on.map_or("none".into(), |d| d.to_string())
            )));
        }
        ledger(&mut tx, (&l).into(), Movement::Receive, quantity, 0, None, reference).await?;
        audit::record::<D>(&mut tx, stocked.as_ref().and_then(audit::json), audit::json(&l)).await.map_err(failed)?;
        finish(self, tx, &before, rules).await?;
        Ok(l)
    }

    async fn adjust(&self, id: Uuid, delta: i64, reason: &str, rules: &StockRules) -> InventoryResult<Lot> {
        let mut tx = self.write_tx().await.map_err(failed)?;
        let l = lot_in(&mut tx, id).await?;
        let before = lock_skus(&mut tx, &[&l.sku], rules).await?;
        let (set, guard) = ("on_hand = on_hand + $1", " AND on_hand + $1 >= reserved");
        if !change_lot(&mut tx, (&l).into(), delta, set, guard, Movement::Adjust, (delta, 0), Some(reason), None)
            .await?
        {
            let available = l.available();
            return Err(InventoryError::Insufficient { sku: l.sku, requested: -delta, available });
        }
        let after = lot_in(&mut tx, id).await?;
        audit::record::<D>(&mut tx, audit::json(&l), audit::json(&after)).await.map_err(failed)?;
        finish(self, tx, &before, rules).await?;
        Ok(after)
    }

    async fn transfer(&self, id: Uuid, to: &str, quantity: i64, rules: &StockRules) -> InventoryResult<(Lot, Lot)> {
        let mut tx = self.write_tx().await.map_err(failed)?;
        let from = lot_in(&mut tx, id).await?;
        let before = lock_skus(&mut tx, &[&from.sku], rules).await?;
        let reference = format!("transfer {} -> {}", from.location, to);
        let (set, guard) = ("on_hand = on_hand - $1", " AND on_hand - reserved >= $1");
        let out = Movement::TransferOut;
        if !change_lot(&mut tx, (&from).into(), quantity, set, guard, out, (-quantity, 0), None, Some(&reference))
            .await?
        {
            let available = from.available();
            return Err(InventoryError::Insufficient { sku: from.sku, requested: quantity, available });
        }
        let row = sqlx::query(
            "INSERT INTO stock_lots (id, sku, location, batch, expires_on, on_hand, reserved, quarantined, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8) \
             ON CONFLICT (sku, location, batch) DO UPDATE SET on_hand = stock_lots.on_hand + excluded.on_hand \
             RETURNING id",
        )
        .arg(rouge_kernel::new_id())
        .arg(&from.sku)
        .arg(to)
        .arg(&from.batch)
        .arg(from.expires_on)
        .arg(quantity)
        .arg(from.quarantined)
        .arg(from.received_at)
        .fetch_one(D::on(&mut tx))
        .await
        .map_err(failed)?;
        let to_lot = lot_in(&mut tx, row.get("id")).await?;
        ledger(&mut tx, (&to_lot).into(), Movement::TransferIn, quantity, 0, None, Some(&reference)).await?;
        let from_after = lot_in(&mut tx, id).await?;
        audit::record::<D>(&mut tx, audit::json(&[&from]), audit::json(&[&from_after, &to_lot]))
            .await
            .map_err(failed)?;
        finish(self, tx, &before, rules).await?;
        Ok((from_after, to_lot))
    }

    async fn set_quarantine(&self, id: Uuid, quarantined: bool, rules: &StockRules) -> InventoryResult<Lot> {
        let mut tx = self.write_tx().await.map_err(failed)?;
        let l = lot_in(&mut tx, id).await?;
        let before = lock_skus(&mut tx, &[&l.sku], rules).await?;
        sqlx::query("UPDATE stock_lots SET quarantined = $1 WHERE id = $2")
            .arg(quarantined)
            .arg(id)
            .execute(D::on(&mut tx))
            .await
            .map_err(failed)?;
        let after = lot_in(&mut tx, id).await?;
        audit::record::<D>(&mut tx, audit::json(&l), audit::json(&after)).await.map_err(failed)?;
        finish(self, tx, &before, rules).await?;
        Ok(after)
    }

    async fn lot(&self, id: Uuid) -> InventoryResult<Option<Lot>> {
        let row = sqlx::query(lots!("WHERE id = $1")).arg(id).fetch_optional(self.db()).await.map_err(failed)?;
        Ok(row.map(|r| lot(&r)))
    }

    async fn lots(&self, sku: &str) -> InventoryResult<Vec<Lot>> {
        let q = sqlx::query(lots!("WHERE sku = $1 ORDER BY location, expires_on, batch")).arg(sku);
        let rows = self.all(q).await?;
        Ok(rows.iter().map(lot).collect())
    }

    async fn sellable_by_sku(&self, rules: &StockRules) -> InventoryResult<Vec<(String, i64)>> {
        let q = sqlx::query(
            "SELECT sku, CAST(SUM(CASE WHEN quarantined = FALSE AND (expires_on IS NULL OR expires_on > $1) \
                     AND on_hand > reserved THEN on_hand - reserved ELSE 0 END) AS BIGINT) AS sellable \
             FROM stock_lots GROUP BY sku",
        )
        .arg(rules.cutoff);
        let rows = self.all(q).await?;
        Ok(rows.iter().map(|r| (r.get("sku"), r.get("sellable"))).collect())
    }

    async fn lots_of_batch(&self, batch: &str) -> InventoryResult<Vec<Lot>> {
        let q = sqlx::query(lots!("WHERE batch = $1 ORDER BY sku, location")).arg(batch);
        let rows = self.all(q).await?;
        Ok(rows.iter().map(lot).collect())
    }

    async fn reserve(&self, req: &ReserveRequest, rules: &StockRules) -> InventoryResult<Reservation> {
        // A lost race re-reads the lots: the loser either finds other stock or learns it is
        // sold out. Each round is won by someone, so a few rounds settle it.
        for _ in 0..20 {
            if let Some(r) = try_reserve(self, req, rules).await? {
                return Ok(r);
            }
        }
        Err(InventoryError::Store(StoreError::Unavailable("too much contention for this stock; try again".into())))
    }

    async fn reservation(&self, id: Uuid) -> InventoryResult<Option<Reservation>> {
        let mut conn = self.pool().acquire().await.map_err(failed)?;
        reservation_in::<D>(&mut conn, id).await
    }

    #[tracing::instrument(name = "store.release", skip_all, fields(otel.kind = "client", db.system = D::SYSTEM))]
    async fn release(&self, id: Uuid, reason: &str, rules: &StockRules) -> InventoryResult<Reservation> {
        use ReservationState::{Held, Released};
        let mut tx = self.write_tx().await.map_err(failed)?;
        let r = match move_reservation(&mut tx, id, Held, Released, None).await? {
            Ok(r) => r,
            Err(r) if r.state == Released => return Ok(r),
            Err(r) => return Err(not_in(&r)),
        };
        let skus: Vec<&str> = r.lines.iter().map(|a| a.sku.as_str()).collect();
        let before = lock_skus(&mut tx, &skus, rules).await?;
        let reference = id.to_string();
        apply_lines(
            &mut tx,
            &r,
            "reserved = reserved - $1",
            Movement::Release,
            (0, -1),
            Some(reason),
            Some(&reference),
        )
        .await?;
        finish(self, tx, &before, rules).await?;
        Ok(r)
    }

    #[tracing::instrument(name = "store.commit", skip_all, fields(otel.kind = "client", db.system = D::SYSTEM))]
    async fn commit(&self, id: Uuid, order: Uuid) -> InventoryResult<Reservation> {
        use ReservationState::{Committed, Held};
        let mut tx = self.write_tx().await.map_err(failed)?;
        let r = match move_reservation(&mut tx, id, Held, Committed, Some(order)).await? {
            Ok(r) => r,
            Err(r) if r.state == Committed && r.order_id == Some(order) => return Ok(r),
            Err(r) => return Err(not_in(&r)),
        };
        let skus: Vec<&str> = r.lines.iter().map(|a| a.sku.as_str()).collect();
        lock_only(&mut tx, &skus).await?;
        let reference = order.to_string();
        let set = "on_hand = on_hand - $1, reserved = reserved - $1";
        apply_lines(&mut tx, &r, set, Movement::Commit, (-1, -1), None, Some(&reference)).await?;
        tx.commit().await.map_err(failed)?;
        Ok(r)
    }

    #[tracing::instrument(name = "store.restock", skip_all, fields(otel.kind = "client", db.system = D::SYSTEM))]
    async fn restock(&self, id: Uuid, rules: &StockRules) -> InventoryResult<Reservation> {
        use ReservationState::{Committed, Held, Released, Restocked};
        // States only move forward (held → committed → restocked), so this settles within
        // two passes.
        let mut passes = 0;
        let (r, mut tx) = loop {
            passes += 1;
            let mut tx = self.write_tx().await.map_err(failed)?;
            match move_reservation(&mut tx, id, Committed, Restocked, None).await? {
                Ok(r) => break (r, tx),
                Err(r) if matches!(r.state, Restocked | Released) => return Ok(r),
                // Cancelled before the order's stock was committed: it was only held, so it
                // is released (and the commitment that comes later finds nothing to take).
                Err(r) if r.state == Held => {
                    drop(tx);
                    match self.release(id, "order cancelled", rules).await {
                        // Committed by its order in between: restocked on the next pass.
                        Err(InventoryError::Conflict(_)) if passes < 3 => continue,
                        done => return done,
                    }
                }
                Err(r) => return Err(not_in(&r)),
            }
        };
        let skus: Vec<&str> = r.lines.iter().map(|a| a.sku.as_str()).collect();
        let before = lock_skus(&mut tx, &skus, rules).await?;
        let reference = r.order_id.map(|o| o.to_string());
        let reason = Some("order cancelled");
        apply_lines(&mut tx, &r, "on_hand = on_hand + $1", Movement::Restock, (1, 0), reason, reference.as_deref())
            .await?;
        finish(self, tx, &before, rules).await?;
        Ok(r)
    }

    async fn take_back(
        &self,
        id: Uuid,
        units: &[LineRequest],
        sellable: bool,
        rules: &StockRules,
    ) -> InventoryResult<Vec<Lot>> {
        let mut tx = self.write_tx().await.map_err(failed)?;
        let r = reservation_in::<D>(&mut tx, id)
            .await?
            .ok_or_else(|| InventoryError::NotFound(format!("reservation {id}")))?;
        if r.state != ReservationState::Committed {
            return Err(InventoryError::Conflict(format!("reservation {id} is {}", r.state.as_str())));
        }
        let skus: Vec<&str> = units.iter().map(|u| u.sku.as_str()).collect();
        let before = lock_skus(&mut tx, &skus, rules).await?;
        let reference = r.order_id.map(|o| o.to_string());
        let reason = if sellable { "returned, back on sale" } else { "returned, quarantined" };
        let mut touched = vec![];
        for u in units {
            let mut need = u.quantity;
            // Back where they came from, latest expiry first (the units the customer kept longest).
            for a in r.lines.iter().rev().filter(|a| a.sku == u.sku) {
                if need == 0 {
                    break;
                }
                let q = need.min(a.quantity);
                need -= q;
                let target = if sellable {
                    a.lot_id
                } else {
                    let from = lot_in(&mut tx, a.lot_id).await?;
                    let row = sqlx::query(
                        "INSERT INTO stock_lots (id, sku, location, batch, expires_on, on_hand, reserved, quarantined, received_at) \
                         VALUES ($1, $2, 'quarantine', $3, $4, 0, 0, TRUE, $5) \
                         ON CONFLICT (sku, location, batch) DO UPDATE SET quarantined = TRUE RETURNING id",
                    )
                    .arg(rouge_kernel::new_id())
                    .arg(&from.sku)
                    .arg(&from.batch)
                    .arg(from.expires_on)
                    .arg(chrono::Utc::now().timestamp_millis())
                    .fetch_one(D::on(&mut tx))
                    .await
                    .map_err(failed)?;
                    row.get("id")
                };
                sqlx::query("UPDATE stock_lots SET on_hand = on_hand + $1 WHERE id = $2")
                    .arg(q)
                    .arg(target)
                    .execute(D::on(&mut tx))
                    .await
                    .map_err(failed)?;
                let l = lot_in(&mut tx, target).await?;
                ledger(&mut tx, (&l).into(), Movement::Restock, q, 0, Some(reason), reference.as_deref()).await?;
                touched.push(l);
            }
            if need > 0 {
                return Err(InventoryError::Conflict(format!(
                    "reservation {id} did not sell {} of {}",
                    u.quantity, u.sku
                )));
            }
        }
        finish(self, tx, &before, rules).await?;
        Ok(touched)
    }

    async fn expired(&self, now: i64, limit: i64) -> InventoryResult<Vec<Uuid>> {
        let q = sqlx::query(
            "SELECT id FROM stock_reservations WHERE state = 'held' AND expires_at < $1 ORDER BY expires_at LIMIT $2",
        )
        .arg(now)
        .arg(limit);
        let rows = self.all(q).await?;
        Ok(rows.iter().map(|r| r.get("id")).collect())
    }

    async fn orders_of_batch(&self, batch: &str) -> InventoryResult<Vec<(Uuid, String, i64)>> {
        let q = sqlx::query(
            "SELECT r.order_id, l.sku, CAST(SUM(rl.quantity) AS BIGINT) AS quantity FROM stock_reservations r \
             JOIN stock_reservation_lines rl ON rl.reservation_id = r.id JOIN stock_lots l ON l.id = rl.lot_id \
             WHERE l.batch = $1 AND r.state = 'committed' GROUP BY r.order_id, l.sku ORDER BY r.order_id",
        )
        .arg(batch);
        let rows = self.all(q).await?;
        Ok(rows.iter().map(|r| (r.get("order_id"), r.get("sku"), r.get("quantity"))).collect())
    }

    async fn ledger(&self, sku: &str, after: i64, limit: i64) -> InventoryResult<Vec<LedgerEntry>> {
        let q = sqlx::query(
            "SELECT seq, lot_id, sku, location, batch, movement, on_hand_delta, reserved_delta, reason, reference, at \
             FROM stock_ledger WHERE sku = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .arg(sku)
        .arg(after)
        .arg(limit);
        let rows = self.all(q).await?;
        rows.iter()
            .map(|r| {
                let m: String = r.get("movement");
                Ok(LedgerEntry {
                    seq: r.get("seq"),
                    lot_id: r.get("lot_id"),
                    sku: r.get("sku"),
                    location: r.get("location"),
                    batch: r.get("batch"),
                    movement: Movement::parse(&m).ok_or_else(|| {
                        InventoryError::Store(StoreError::Unavailable(format!("unknown movement `{m}`")))
                    })?,
                    on_hand_delta: r.get("on_hand_delta"),
                    reserved_delta: r.get("reserved_delta"),
                    reason: r.get("reason"),
                    reference: r.get("reference"),
                    at: r.get("at"),
                })
            })
            .collect()
    }

    async fn discrepancies(&self) -> InventoryResult<Vec<(Uuid, [i64; 4])>> {
        let q = sqlx::query(
            "SELECT l.id, l.on_hand, l.reserved, \
             CAST(COALESCE(SUM(g.on_hand_delta), 0) AS BIGINT) AS ledger_on_hand, \
             CAST(COALESCE(SUM(g.reserved_delta), 0) AS BIGINT) AS ledger_reserved \
             FROM stock_lots l LEFT JOIN stock_ledger g ON g.lot_id = l.id GROUP BY l.id, l.on_hand, l.reserved \
             HAVING l.on_hand <> COALESCE(SUM(g.on_hand_delta), 0) OR l.reserved <> COALESCE(SUM(g.reserved_delta), 0)",
        );
        let rows = self.all(q).await?;
        Ok(rows
            .iter()
            .map(|r| {
                (r.get("id"), [r.get("on_hand"), r.get("reserved"), r.get("ledger_on_hand"), r.get("ledger_reserved")])
            })
            .collect())
    }

    async fn rebuild(&self) -> InventoryResult<u64> {
        let mut tx = self.write_tx().await.map_err(failed)?;
        let wrong = self.discrepancies().await?.len() as u64;
        sqlx::query(
            "UPDATE stock_lots SET \
             on_hand = (SELECT COALESCE(SUM(on_hand_delta), 0) FROM stock_ledger WHERE lot_id = stock_lots.id), \
             reserved = (SELECT COALESCE(SUM(reserved_delta), 0) FROM stock_ledger WHERE lot_id = stock_lots.id)",
        )
        .execute(D::on(&mut tx))
        .await
        .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        Ok(wrong)
    }
}
