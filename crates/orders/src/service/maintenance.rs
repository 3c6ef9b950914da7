//! Customers' data (export, erasure) and store-wide jobs: rebuilding projections, re-wrapping
//! sealed keys.

use super::*;

impl<R: OrdersRepository> OrdersService<R> {
    /// Every order of a customer with its contact and timeline (her data export).
    ///
    /// # Errors
    /// The store's errors.
    pub async fn export_for(&self, customer: Uuid) -> Result<Vec<OrderView>> {
        let mut out = vec![];
        let mut filter = OrderFilter { customer_id: Some(customer), limit: 100, ..OrderFilter::default() };
        loop {
            let page = self.repo.orders(&filter).await?;
            let last = page.last().map(|o| o.number);
            for o in page.iter() {
                out.push(self.order(Access::Staff, o.id).await?);
            }
            match last {
                Some(n) if page.len() as i64 == filter.limit => filter.before_number = Some(n),
                _ => return Ok(out),
            }
        }
    }

    /// Erasure: her carts and orders lose their email and addresses; orders keep their lines,
    /// amounts and destination country (what accounts and tax law need). Returns how many
    /// records changed.
    ///
    /// # Errors
    /// The store's errors.
    pub async fn forget_customer(&self, customer: Uuid) -> Result<u64> {
        Ok(self.repo.forget_contacts_of(customer).await?)
    }
}

/// Rebuilds every order's projection from its events; returns how many differed from the
/// live projection (and were replaced). `rouge orders rebuild` runs it.
///
/// # Errors
/// The store's errors, or a history that does not replay.
pub async fn rebuild<R: OrdersRepository>(repo: &R) -> Result<usize> {
    let mut changed = 0;
    for (id, number) in repo.order_ids().await? {
        let events = repo.order_events(id).await?;
        let rebuilt = Order::replay(id, number, &events).map_err(|e| OrdersError::Store(e.0))?;
        let live = repo.order(id).await?.map(|(o, _)| o);
        if live.as_ref() != Some(&rebuilt) {
            changed += 1;
            repo.replace_projection(&rebuilt).await?;
        }
    }
    Ok(changed)
}

/// Re-wraps every cart's and order's data key under the sealer's current master key (after a
/// master key rotation, before the old key is removed); returns how many changed.
///
/// # Errors
/// The store's errors, or a key that does not open.
pub async fn rewrap_keys<R: OrdersRepository>(repo: &R, sealer: &dyn Sealer, current: &str) -> Result<usize> {
    let mut changed = 0;
    for k in repo.sealed_keys(current).await? {
        if let Some((master, key)) =
            sealer.rewrap(&k.owner.to_string(), &k.master_id, &k.key).map_err(OrdersError::Store)?
            && repo.replace_sealed_key(&k, &master, &key).await?
        {
            changed += 1;
        }
    }
    Ok(changed)
}
