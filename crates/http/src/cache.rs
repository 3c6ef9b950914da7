//! The in-process response cache for storefront listings. Entries are named by the raw query
//! and remember the index generation they were computed at, so a hit is only served while the
//! catalogue is unchanged; catalogue and stock-level events also empty it (see `start`),
//! freeing memory (a listing shows its items' availability).

use axum::body::Bytes;
use moka::sync::Cache;
use std::sync::Arc;

/// Upper bound on the bytes the cache holds.
const CAPACITY_BYTES: u64 = 16 * 1024 * 1024;

pub struct CachedPage {
    pub generation: u64,
    /// The stock board's version the page's availability was read at.
    pub stock: u64,
    pub etag: String,
    pub body: Bytes,
    /// What the page shows, for CDNs (see `surrogate`).
    pub keys: Vec<String>,
}

#[derive(Clone)]
pub struct ResponseCache {
    pages: Cache<String, Arc<CachedPage>>,
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
        Self { pages }
    }

    /// The page for this query if it was computed at `generation` of the index and `stock` of
    /// the stock board.
    pub fn get(&self, query: &str, generation: u64, stock: u64) -> Option<Arc<CachedPage>> {
        self.pages.get(query).filter(|p| p.generation == generation && p.stock == stock)
    }

    pub fn put(&self, query: String, page: CachedPage) {
        self.pages.insert(query, Arc::new(page));
    }

    /// Drops every page; called when catalogue events arrive.
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
            CachedPage { generation: 3, stock: 7, etag: "\"e\"".into(), body: Bytes::from_static(b"{}"), keys: vec![] },
        );
        assert!(cache.get("q=a", 3, 7).is_some());
        assert!(cache.get("q=a", 4, 7).is_none(), "a newer catalogue makes the page stale");
        assert!(cache.get("q=a", 3, 8).is_none(), "so does a change of stock status");
        assert!(cache.get("q=b", 3, 7).is_none());
        cache.clear();
        assert!(cache.get("q=a", 3, 7).is_none());
    }
}
