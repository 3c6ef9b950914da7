//! Trained recommendations shared by the catalogue's replicas through Redis (with
//! `REDIS_URL`): one replica trains per period (it holds the training lease), writes what it
//! made (the lists, the model for fresh behaviour, the training's figures) to Redis as one
//! snapshot in chunks and then points `recs:current` at it; every replica follows that pointer
//! and serves the snapshot from memory once read. A training staff ask for is shared the same
//! way. Redis away: each replica trains for itself, as without Redis (degraded, never stalled).

use crate::recs::Trained;
use crate::redis_link::RedisLink;
use rouge_recommendations::training::Lists;
use std::sync::Arc;
use std::time::Duration;

/// Snapshots are written in chunks of this size (each one Redis value).
const CHUNK: usize = 4 << 20;
/// How long a snapshot's chunks stay readable (a replica reads the current one well before).
const SNAPSHOT_TTL_SECS: u64 = 3 * 86_400;
/// Deadlines: a small command, and one chunk.
const SMALL: Duration = Duration::from_millis(500);
const LARGE: Duration = Duration::from_secs(10);

/// What is shared: the training's figures, when it finished (ms), and the lists.
#[derive(serde::Deserialize)]
pub struct Snapshot {
    pub trained: Trained,
    pub finished_at: i64,
    pub lists: Lists,
}

/// A [`Snapshot`] as written (the same fields, borrowed).
#[derive(serde::Serialize)]
struct Written<'a> {
    trained: &'a Trained,
    finished_at: i64,
    lists: &'a Lists,
}

pub struct SharedLists {
    link: Arc<RedisLink>,
    prefix: String,
    /// Who holds the lease, for people reading Redis.
    me: String,
}

impl SharedLists {
    /// Sharing through the Redis at `url`, under keys starting with `prefix`.
    ///
    /// # Errors
    /// When the URL is malformed.
    pub fn new(url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        let link = RedisLink::new(url, "shared recommendations", "training on each replica")?;
        let me = format!("{}-{}", std::process::id(), uuid::Uuid::now_v7().simple());
        Ok(Self { link, prefix: prefix.to_owned(), me })
    }

    fn key(&self, name: &str) -> String {
        format!("{}:recs:{name}", self.prefix)
    }

    /// Waits a moment for a first connection (made in the background at start).
    pub async fn connected(&self) -> bool {
        for _ in 0..20 {
            let ping = |mut c: redis::aio::ConnectionManager| async move {
                redis::cmd("PING").query_async::<String>(&mut c).await
            };
            if self.link.run(SMALL, ping).await.is_some() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// Takes the training lease for `period`: whether this replica is the one to train now
    /// (also when Redis does not answer: then each replica trains for itself).
    pub async fn lease(&self, period: Duration) -> bool {
        let (key, me) = (self.key("lease"), self.me.clone());
        let ms = period.as_millis().saturating_sub(1_000).max(1_000) as u64;
        let take = |mut c: redis::aio::ConnectionManager| async move {
            redis::cmd("SET").arg(key).arg(me).arg("NX").arg("PX").arg(ms).query_async::<Option<String>>(&mut c).await
        };
        self.link.run(SMALL, take).await.is_none_or(|taken| taken.is_some())
    }

    /// The name of the snapshot replicas serve now, if any.
    pub async fn current(&self) -> Option<String> {
        let key = self.key("current");
        let get = |mut c: redis::aio::ConnectionManager| async move {
            redis::AsyncCommands::get::<_, Option<String>>(&mut c, key).await
        };
        self.link.run(SMALL, get).await.flatten()
    }

    /// Writes a snapshot and makes it the current one; its name, or `None` when Redis failed
    /// (the replicas keep the one they have).
    pub async fn publish(&self, trained: Trained, finished_at: i64, lists: Arc<Lists>) -> Option<String> {
        let written = move || rmp_serde::to_vec(&Written { trained: &trained, finished_at, lists: &lists });
        let bytes = tokio::task::spawn_blocking(written).await.ok()?.ok()?;
        let generation = uuid::Uuid::now_v7().simple().to_string();
        let chunks = bytes.chunks(CHUNK).count();
        for (n, chunk) in bytes.chunks(CHUNK).enumerate() {
            let (key, value) = (self.key(&format!("{generation}:{n}")), chunk.to_vec());
            let set = |mut c: redis::aio::ConnectionManager| async move {
                redis::AsyncCommands::set_ex::<_, _, ()>(&mut c, key, value, SNAPSHOT_TTL_SECS).await
            };
            self.link.run(LARGE, set).await?;
        }
        let name = format!("{generation}:{chunks}");
        let (key, value) = (self.key("current"), name.clone());
        let point = |mut c: redis::aio::ConnectionManager| async move {
            redis::AsyncCommands::set::<_, _, ()>(&mut c, key, value).await
        };
        self.link.run(SMALL, point).await?;
        tracing::info!(snapshot = %name, bytes = bytes.len(), "recommendations shared with the other replicas");
        Some(name)
    }

    /// Reads the snapshot `name` names; `None` when it cannot be read whole.
    pub async fn read(&self, name: &str) -> Option<Snapshot> {
        let (generation, chunks) = name.split_once(':')?;
        let chunks: usize = chunks.parse().ok()?;
        let mut bytes = vec![];
        for n in 0..chunks {
            let key = self.key(&format!("{generation}:{n}"));
            let get = |mut c: redis::aio::ConnectionManager| async move {
                redis::AsyncCommands::get::<_, Option<Vec<u8>>>(&mut c, key).await
            };
            bytes.extend(self.link.run(LARGE, get).await.flatten()?);
        }
        tokio::task::spawn_blocking(move || rmp_serde::from_slice(&bytes)).await.ok()?.ok()
    }
}
