//! A connection to Redis that is never waited on for long: each call has a short deadline; a
//! failure opens a breaker for a while, during which callers use their in-process fallback at
//! once; then one call tries Redis again. The connection is made in the background, so a server
//! starts without Redis and uses it once it answers. Each change of state is logged once, naming
//! what Redis is used for. Shared by the rate limiter and the page cache.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// How long Redis is left alone after it failed.
const BREAKER_OPEN: Duration = Duration::from_secs(2);

pub struct RedisLink {
    client: redis::Client,
    conn: std::sync::Mutex<Option<redis::aio::ConnectionManager>>,
    connecting: AtomicBool,
    /// What Redis is used for, and what answers without it (for the log).
    purpose: &'static str,
    fallback: &'static str,
    epoch: Instant,
    /// Until when (microseconds since `epoch`) Redis is not asked.
    open_until: AtomicI64,
    /// Whether Redis answered last time it was asked (for logging transitions only).
    up: AtomicBool,
}

impl RedisLink {
    /// A link to the Redis at `url`, used for `purpose` (e.g. "shared rate limits"), with
    /// `fallback` answering while it is away; it starts connecting at once.
    ///
    /// # Errors
    /// When the URL is malformed.
    pub fn new(url: &str, purpose: &'static str, fallback: &'static str) -> Result<Arc<Self>, redis::RedisError> {
        let link = Arc::new(Self {
            client: redis::Client::open(url)?,
            conn: std::sync::Mutex::new(None),
            connecting: AtomicBool::new(false),
            purpose,
            fallback,
            epoch: Instant::now(),
            open_until: AtomicI64::new(0),
            up: AtomicBool::new(true),
        });
        link.connection();
        Ok(link)
    }

    fn now(&self) -> i64 {
        self.epoch.elapsed().as_micros() as i64
    }

    /// Whether Redis is known to be away (its fallback answers without asking).
    pub fn is_open(&self) -> bool {
        self.now() < self.open_until.load(Ordering::Acquire)
    }

    fn trip(&self, why: &str) {
        let until = self.now() + BREAKER_OPEN.as_micros() as i64;
        self.open_until.store(until, Ordering::Release);
        if self.up.swap(false, Ordering::AcqRel) {
            tracing::warn!(
                reason = why,
                purpose = self.purpose,
                "Redis does not answer: {} answers meanwhile",
                self.fallback
            );
        }
    }

    fn healthy(&self) {
        if !self.up.swap(true, Ordering::AcqRel) {
            tracing::info!(purpose = self.purpose, "Redis answers again");
        }
    }

    /// The connection, or `None` (a connection is then being made in the background).
    fn connection(self: &Arc<Self>) -> Option<redis::aio::ConnectionManager> {
        if let Some(c) = self.conn.lock().expect("redis conn").as_ref() {
            return Some(c.clone());
        }
        if !self.connecting.swap(true, Ordering::AcqRel) {
            let me = self.clone();
            tokio::spawn(async move {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_millis(500)))
                    .set_response_timeout(Some(Duration::from_millis(500)))
                    .set_number_of_retries(1);
                match redis::aio::ConnectionManager::new_with_config(me.client.clone(), config).await {
                    Ok(c) => {
                        *me.conn.lock().expect("redis conn") = Some(c);
                        tracing::info!(purpose = me.purpose, "connected to Redis");
                    }
                    Err(e) => me.trip(&e.to_string()),
                }
                me.connecting.store(false, Ordering::Release);
            });
        }
        None
    }

    /// Runs `call` on the connection within `deadline`; `None` when Redis is away, fails or is
    /// late (the breaker then opens: the caller's fallback answers).
    pub async fn run<T, F, Fut>(self: &Arc<Self>, deadline: Duration, call: F) -> Option<T>
    where
        F: FnOnce(redis::aio::ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if self.is_open() {
            return None;
        }
        let conn = self.connection()?;
        match tokio::time::timeout(deadline, call(conn)).await {
            Ok(Ok(v)) => {
                self.healthy();
                Some(v)
            }
            Ok(Err(e)) => {
                self.trip(&e.to_string());
                None
            }
            Err(_) => {
                self.trip("no answer within the deadline");
                None
            }
        }
    }
}
