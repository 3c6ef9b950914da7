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
