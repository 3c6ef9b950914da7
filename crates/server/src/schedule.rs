//! The background jobs' rhythm: work, then wait, until the server stops.

use std::future::Future;
use std::time::Duration;

/// Runs `tick` at once and then every `every`, until `stop` changes.
pub async fn every<F, Fut>(every: Duration, mut stop: tokio::sync::watch::Receiver<bool>, mut tick: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    loop {
        tick().await;
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
    }
}

/// A day and month in words ("3 March"), for emails.
pub fn day(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.format("%e %B").to_string().trim().to_owned())
        .unwrap_or_default()
}

/// Claims (an id and the lease it was claimed until) of work that failed, given back at the
/// next look so it is tried again then rather than when its lease runs out; kept, and given
/// back again, while the store cannot be told.
#[derive(Default)]
pub struct FailedClaims(std::sync::Mutex<Vec<(uuid::Uuid, i64)>>);

impl FailedClaims {
    pub fn push(&self, id: uuid::Uuid, lease_until: i64) {
        self.0.lock().expect("not poisoned").push((id, lease_until));
    }

    /// Gives every failed claim back through `release` (the store's).
    pub async fn give_back<F, Fut, E>(&self, release: F)
    where
        F: Fn(uuid::Uuid, i64) -> Fut,
        Fut: Future<Output = Result<bool, E>>,
    {
        let pending = std::mem::take(&mut *self.0.lock().expect("not poisoned"));
        for (id, lease) in pending {
            if release(id, lease).await.is_err() {
                self.push(id, lease);
            }
        }
    }
}
