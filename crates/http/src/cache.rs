//! The response cache for storefront listings, in two levels.
//!
//! **L1**, in process (moka): entries are named by the raw query and remember the index
//! generation and stock-board version they were computed at, so a hit is only served while
//! neither changed; the catalogue and stock-level events the read models apply also empty it,
//! freeing memory.
//!
//! **L2**, in Redis (with `REDIS_URL`), shared by every replica: a page is named by the
//! release, the *content epoch* (the sequence of the last applied event a storefront page
//! shows: catalogue and stock-level events), the stock board's digest and the query. Every
//! replica that has applied the same events and shows the same stock statuses reads the same
//! names, so a page one replica rendered serves the others, and a replica that starts cold is
//! warm at once; a change moves the epoch, so no replica reads a page from before it (a page
//! is stored under the epoch read *before* rendering, so its content is never older than its
//! name says). Entries expire after five minutes. Redis away: L1 and rendering answer, after at
//! most one short deadline (then a breaker keeps Redis out of the way).

use axum::body::Bytes;
use moka::sync::Cache;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// How long a request waits for Redis before rendering the page itself.
const SHARED_DEADLINE: Duration = Duration::from_millis(20);
/// How long a shared page lives (older epochs are never read again; this frees Redis).
const SHARED_TTL_SECS: u64 = 300;

struct Shared {
    link: Arc<crate::redis_link::RedisLink>,
    prefix: String,
}

/// Upper bound on the bytes the cache holds.
const CAPACITY_BYTES: u64 = 16 * 1024 * 1024;

pub struct CachedPage {
    pub generation: u64,
    /// The stock board's version the page's availability was read at.
    pub stock: u64,
    /// The version of the live offers the page shows.
    pub offers: u64,
    pub etag: String,
    pub body: Bytes,
    /// What the page shows, for CDNs (see `surrogate`).
    pub keys: Vec<String>,
}

#[derive(Clone)]
pub struct ResponseCache {
    pages: Cache<String, Arc<CachedPage>>,
    epoch: Arc<AtomicI64>,
    shared: Option<Arc<Shared>>,
}

/// Where a page was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    L1,
    L2,
    Miss,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::L1 => "hit-l1",
            Level::L2 => "hit-l2",
            Level::Miss => "miss",
        }
    }
}

impl Default for ResponseCache {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseCache {
    pub fn new() -> Self {
        let pages = Cache::builder()
            .max_capacity(CAPACITY_BYTES)
            .weigher(|k: &String, v: &Arc<CachedPage>| {
                let keys: usize = v.keys.iter().map(String::len).sum();
                (k.len() + v.body.len() + v.etag.len() + keys).try_into().unwrap_or(u32::MAX)
            })
            .build();
        Self { pages, epoch: Arc::default(), shared: None }
    }

    /// A cache whose L2 is the Redis at `url`, under keys starting with `prefix`.
    ///
    /// # Errors
    /// When the URL is malformed.
    pub fn with_redis(url: &str, prefix: &str) -> Result<Self, redis::RedisError> {
        let link = crate::redis_link::RedisLink::new(url, "shared page cache", "the in-process cache")?;
        Ok(Self { shared: Some(Arc::new(Shared { link, prefix: prefix.to_owned() })), ..Self::new() })
    }

    /// Starts the content epoch at `position` (the outbox head the index was built at).
    pub fn start_epoch(&self, position: i64) {
        self.epoch.fetch_max(position, Ordering::AcqRel);
    }

    /// What the read models applied: when one of the events is one a storefront page shows,
    /// the epoch moves to the last such and L1 is emptied (its pages are stale: the index
    /// generation or the stock board moves with them, so this only frees memory); other events
    /// (orders, accounts) leave both alone. Call after the index applied them.
    pub fn applied(&self, events: &[rouge_kernel::DomainEvent]) {
        let shown = |e: &&rouge_kernel::DomainEvent| crate::surrogate::EVENTS.contains(&e.event_type.as_str());
        if let Some(e) = events.iter().rev().find(shown) {
            self.epoch.fetch_max(e.sequence, Ordering::AcqRel);
            self.clear();
        }
    }

    /// The name of the shared page for `query` as this replica sees the shop now (read it
    /// before rendering): `digest` is that of what pages show besides the index (stock levels,
    /// live offers).
    pub fn shared_name(&self, query: &str, digest: u64) -> Option<String> {
        let shared = self.shared.as_ref()?;
        let q = std::hash::BuildHasher::hash_one(
            &std::hash::BuildHasherDefault::<std::hash::DefaultHasher>::default(),
            query,
        );
        let epoch = self.epoch.load(Ordering::Acquire);
        Some(format!("{}:page:{}:{epoch}:{digest:x}:{q:x}", shared.prefix, env!("CARGO_PKG_VERSION")))
    }

    /// The shared page of that name, if Redis has it and answers in time.
    pub async fn get_shared(&self, name: &str) -> Option<(String, Vec<String>, Bytes)> {
        let shared = self.shared.as_ref()?;
        let name = name.to_owned();
        let got: Option<Vec<u8>> = shared
            .link
            .run(SHARED_DEADLINE, |mut c| async move { redis::AsyncCommands::get(&mut c, name).await })
            .await?;
        let got = Bytes::from(got?);
        // etag \n keys \n body
        let first = got.iter().position(|b| *b == b'\n')?;
        let second = first + 1 + got[first + 1..].iter().position(|b| *b == b'\n')?;
        let etag = std::str::from_utf8(&got[..first]).ok()?.to_owned();
        let keys = std::str::from_utf8(&got[first + 1..second]).ok()?.split(' ').map(str::to_owned).collect();
        Some((etag, keys, got.slice(second + 1..)))
    }

    /// Stores a page for the other replicas, in the background.
    pub fn put_shared(&self, name: String, page: &CachedPage) {
        let Some(shared) = self.shared.clone() else { return };
        let mut value = Vec::with_capacity(page.body.len() + 256);
        value.extend_from_slice(page.etag.as_bytes());
        value.push(b'\n');
        value.extend_from_slice(page.keys.join(" ").as_bytes());
        value.push(b'\n');
        value.extend_from_slice(&page.body);
        tokio::spawn(async move {
            let set = |mut c: redis::aio::ConnectionManager| async move {
                redis::AsyncCommands::set_ex::<_, _, ()>(&mut c, name, value, SHARED_TTL_SECS).await
            };
            shared.link.run(SHARED_DEADLINE * 5, set).await;
        });
    }

    /// The page for this query if it was computed at `generation` of the index, `stock` of
    /// the stock board and `offers` of the live offers.
    pub fn get(&self, query: &str, generation: u64, stock: u64, offers: u64) -> Option<Arc<CachedPage>> {
        self.pages.get(query).filter(|p| p.generation == generation && p.stock == stock && p.offers == offers)
    }

    pub fn put(&self, query: String, page: CachedPage) {
        self.pages.insert(query, Arc::new(page));
    }

    /// Drops every page.
    pub fn clear(&self) {
        self.pages.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_a_page_only_for_its_generation() {
        let cache = ResponseCache::new();
        cache.put(
            "q=a".into(),
            CachedPage {
                generation: 3,
                stock: 7,
                offers: 5,
                etag: "\"e\"".into(),
                body: Bytes::from_static(b"{}"),
                keys: vec![],
            },
        );
        assert!(cache.get("q=a", 3, 7, 5).is_some());
        assert!(cache.get("q=a", 4, 7, 5).is_none(), "a newer catalogue makes the page stale");
        assert!(cache.get("q=a", 3, 8, 5).is_none(), "so does a change of stock status");
        assert!(cache.get("q=a", 3, 7, 6).is_none(), "and offers starting or ending");
        assert!(cache.get("q=b", 3, 7, 5).is_none());
        cache.clear();
        assert!(cache.get("q=a", 3, 7, 5).is_none());
    }
}
