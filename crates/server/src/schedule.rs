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
/// back again, while the store cannot be told. A claiming that failed counts too: the store
/// may have taken claims whose answer was lost, so every claim of its lease is given back.
#[derive(Default)]
pub struct FailedClaims(std::sync::Mutex<Vec<(Option<uuid::Uuid>, i64)>>);

impl FailedClaims {
    pub fn push(&self, id: uuid::Uuid, lease_until: i64) {
        self.0.lock().expect("not poisoned").push((Some(id), lease_until));
    }

    /// A claiming with this lease failed: what it may have claimed is given back.
    pub fn push_lost(&self, lease_until: i64) {
        self.0.lock().expect("not poisoned").push((None, lease_until));
    }

    /// Gives every failed claim back through `release` (the store's, for one claim) and
    /// `release_all` (for every claim of a lease).
    pub async fn give_back<F, Fut, G, Gut, E>(&self, release: F, release_all: G)
    where
        F: Fn(uuid::Uuid, i64) -> Fut,
        Fut: Future<Output = Result<bool, E>>,
        G: Fn(i64) -> Gut,
        Gut: Future<Output = Result<u64, E>>,
    {
        let pending = std::mem::take(&mut *self.0.lock().expect("not poisoned"));
        for (id, lease) in pending {
            let failed = match id {
                Some(id) => release(id, lease).await.is_err(),
                None => release_all(lease).await.is_err(),
            };
            if failed {
                self.0.lock().expect("not poisoned").push((id, lease));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FailedClaims;
    use std::sync::Mutex;

    #[tokio::test]
    async fn failed_claims_are_given_back_one_by_one_or_by_lease_once_the_store_answers() {
        let failed = FailedClaims::default();
        let id = uuid::Uuid::now_v7();
        failed.push(id, 10);
        failed.push_lost(20);
        let down = |_, _| async { Err::<bool, ()>(()) };
        failed.give_back(down, |_| async { Err::<u64, ()>(()) }).await;
        let told = Mutex::new(vec![]);
        let give_back = || {
            failed.give_back(
                |i, lease| {
                    told.lock().unwrap().push((Some(i), lease));
                    async { Ok::<bool, ()>(true) }
                },
                |lease| {
                    told.lock().unwrap().push((None, lease));
                    async { Ok::<u64, ()>(1) }
                },
            )
        };
        give_back().await;
        assert_eq!(*told.lock().unwrap(), [(Some(id), 10), (None, 20)], "kept while the store was down");
        give_back().await;
        assert_eq!(told.lock().unwrap().len(), 2, "given back once");
    }
}
