//! What the storefront shows of stock, per SKU: in stock, low or sold out. Product pages are
//! served from memory, so the statuses are kept in memory too: filled at start with one
//! query, changed by inventory's level events (`inventory.stock_low`, `stock_out`,
//! `back_in_stock`, which fire exactly when a status changes) and refreshed every minute
//! (a lot entering the expiry window changes stock without an event).

use serde::Serialize;
use std::collections::HashMap;
use std::sync::RwLock;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema, async_graphql::Enum, PartialEq, Eq, Debug, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum StockStatus {
    InStock,
    LowStock,
    SoldOut,
}

impl StockStatus {
    /// The status of `sellable` units when `low` or fewer count as low.
    pub fn of(sellable: i64, low: i64) -> Self {
        match sellable {
            n if n <= 0 => Self::SoldOut,
            n if n <= low => Self::LowStock,
            _ => Self::InStock,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::InStock => "in_stock",
            Self::LowStock => "low_stock",
            Self::SoldOut => "sold_out",
        }
    }

    /// One letter, for ETags.
    fn letter(self) -> char {
        match self {
            Self::InStock => 'i',
            Self::LowStock => 'l',
            Self::SoldOut => 's',
        }
    }
}

/// The inventory event types after which a SKU's status is read again.
pub const LEVEL_EVENTS: [&str; 3] = ["inventory.stock_low", "inventory.stock_out", "inventory.back_in_stock"];

/// The status of every SKU with stock; a SKU that never had any is sold out.
#[derive(Default)]
pub struct StockBoard {
    statuses: RwLock<HashMap<String, StockStatus>>,
    /// Bumped whenever a status changes (pages showing statuses are cached against it).
    version: std::sync::atomic::AtomicU64,
    /// The statuses' digest: the same on every replica that shows the same statuses (pages
    /// shared through Redis are named by it).
    digest: std::sync::atomic::AtomicU64,
}

/// One SKU's status in the digest (a fixed-key hash: the same in every process of a build).
/// Sold out counts as absent, as a SKU never stocked shows.
fn fingerprint(sku: &str, status: StockStatus) -> u64 {
    use std::hash::{Hash, Hasher};
    if status == StockStatus::SoldOut {
        return 0;
    }
    let mut h = std::hash::DefaultHasher::new();
    (sku, status.letter()).hash(&mut h);
    h.finish()
}

impl StockBoard {
    /// A digest of every status (sold-out SKUs that were never stocked aside).
    pub fn digest(&self) -> u64 {
        self.digest.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Changes whenever a status does.
    pub fn version(&self) -> u64 {
        self.version.load(std::sync::atomic::Ordering::Acquire)
    }

    fn changed(&self) {
        self.version.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    pub fn status(&self, sku: &str) -> StockStatus {
        self.statuses.read().expect("stock board lock").get(sku).copied().unwrap_or(StockStatus::SoldOut)
    }

    pub fn set(&self, sku: &str, sellable: i64, low: i64) {
        let status = StockStatus::of(sellable, low);
        let mut statuses = self.statuses.write().expect("stock board lock");
        let before = statuses.insert(sku.to_owned(), status);
        if before != Some(status) {
            let old = before.map_or(0, |b| fingerprint(sku, b));
            self.digest.fetch_xor(old ^ fingerprint(sku, status), std::sync::atomic::Ordering::AcqRel);
            self.changed();
        }
    }

    /// Replaces every status with these sellable figures (SKUs not listed are sold out).
    pub fn replace_all(&self, sellable: &[(String, i64)], low: i64) {
        let fresh: HashMap<String, StockStatus> =
            sellable.iter().map(|(sku, n)| (sku.clone(), StockStatus::of(*n, low))).collect();
        let mut statuses = self.statuses.write().expect("stock board lock");
        if *statuses != fresh {
            let digest = fresh.iter().fold(0, |d, (sku, s)| d ^ fingerprint(sku, *s));
            *statuses = fresh;
            self.digest.store(digest, std::sync::atomic::Ordering::Release);
            self.changed();
        }
    }

    /// A product document (a JSON object) with `"availability": {sku: status}` added for
    /// `skus`, and its ETag (a quoted tag) extended by the statuses, so that a cached copy
    /// is revalidated when one changes.
    pub fn decorate<'a>(&self, json: &[u8], etag: &str, skus: impl Iterator<Item = &'a str>) -> (Vec<u8>, String) {
        let statuses = self.statuses.read().expect("stock board lock");
        let mut out = Vec::with_capacity(json.len() + 64);
        let mut tag = etag.trim_end_matches('"').to_owned();
        tag.push('-');
        match json.iter().rposition(|b| *b == b'}') {
            Some(end) => {
                out.extend_from_slice(&json[..end]);
                out.extend_from_slice(br#","availability":{"#);
                for (i, sku) in skus.enumerate() {
                    let status = statuses.get(sku).copied().unwrap_or(StockStatus::SoldOut);
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(serde_json::to_string(sku).expect("a string").as_bytes());
                    out.push(b':');
                    out.push(b'"');
                    out.extend_from_slice(status.as_str().as_bytes());
                    out.push(b'"');
                    tag.push(status.letter());
                }
                out.extend_from_slice(b"}}");
            }
            None => out.extend_from_slice(json),
        }
        tag.push('"');
        (out, tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_carry_their_variants_statuses_and_the_etag_follows_them() {
        let board = StockBoard::default();
        board.replace_all(&[("A-1".into(), 50), ("A-2".into(), 3)], 5);
        let (json, tag) = board.decorate(br#"{"slug":"a","name":"A"}"#, "\"abc\"", ["A-1", "A-2", "A-3"].into_iter());
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["availability"], serde_json::json!({"A-1": "in_stock", "A-2": "low_stock", "A-3": "sold_out"}));
        assert_eq!(v["slug"], "a");
        assert_eq!(tag, "\"abc-ils\"");
        board.set("A-2", 0, 5);
        let (_, after) = board.decorate(br#"{"slug":"a"}"#, "\"abc\"", ["A-1", "A-2", "A-3"].into_iter());
        assert_eq!(after, "\"abc-iss\"", "a status change makes a new ETag");
        let v = board.version();
        board.set("A-2", 6, 5);
        assert_eq!(board.status("A-2"), StockStatus::InStock);
        assert!(board.version() > v, "a change moves the version");
        let v = board.version();
        board.set("A-2", 7, 5);
        assert_eq!(board.version(), v, "no change, same version");
        // The digest is a function of the statuses, however they were reached.
        let other = StockBoard::default();
        other.replace_all(&[("A-2".into(), 7), ("A-1".into(), 50)], 5);
        assert_eq!(other.digest(), board.digest());
        other.set("A-1", 0, 5);
        assert_ne!(other.digest(), board.digest());
        other.set("A-1", 50, 5);
        other.set("A-9", 0, 5);
        assert_eq!(other.digest(), board.digest(), "a sold-out SKU shows as one never stocked");
    }
}
