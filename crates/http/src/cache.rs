//! The in-process response cache for storefront listings. Entries are named by the raw query
//! and remember the index generation they were computed at, so a hit is only served while the
//! catalogue is unchanged; catalogue events also empty it (see `launch`), freeing memory.

use axum::body::Bytes;
use moka::sync::Cache;
use std::sync::Arc;

/// Upper bound on the bytes the cache holds.
const CAPACITY_BYTES: u64 = 16 * 1024 * 1024;

pub struct CachedPage {
    pub generation: u64,
    pub etag: String,
    pub body: Bytes,
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
                (k.len() + v.body.len() + v.etag.len()).try_into().unwrap_or(u32::MAX)
            })
            .build();
        Self { pages }
    }

    /// The page for this query if it was computed at `generation`.
    pub fn get(&self, query: &str, generation: u64) -> Option<Arc<CachedPage>> {
        self.pages.get(query).filter(|p| p.generation == generation)
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
        cache.put("q=a".into(), CachedPage { generation: 3, etag: "\"e\"".into(), body: Bytes::from_static(b"{}") });
        assert!(cache.get("q=a", 3).is_some());
        assert!(cache.get("q=a", 4).is_none(), "a newer catalogue makes the page stale");
        assert!(cache.get("q=b", 3).is_none());
        cache.clear();
        assert!(cache.get("q=a", 3).is_none());
    }
}
