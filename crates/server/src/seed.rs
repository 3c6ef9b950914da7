//! Loading the demo catalogue.

use crate::demo;
use rouge_catalog::{CatalogError, CatalogService};
use rouge_http::Store;

/// Loads the demo shop with `count` products; existing brands and categories are kept.
pub async fn seed_demo<S: Store>(store: &S, count: usize) -> anyhow::Result<usize> {
    let svc = CatalogService::new(store.clone());
    let demo = demo::generate(count);
    let ok_or_taken = |r: Result<(), CatalogError>| match r {
        Ok(()) | Err(CatalogError::Conflict(..)) => Ok(()),
        Err(e) => Err(anyhow::anyhow!("{e}: {e:?}")),
    };
    for b in demo.brands {
        ok_or_taken(svc.create_brand(b).await.map(|_| ()))?;
    }
    for c in demo.categories {
        ok_or_taken(svc.create_category(c).await.map(|_| ()))?;
    }
    let mut created = 0;
    let progress = crate::import::progress_bar(demo.products.len() as u64, "seeding demo products");
    for p in demo.products {
        let name = p.name.clone();
        match svc.create_product(p).await {
            Ok(_) => created += 1,
            Err(e) => tracing::warn!(product = %name, error = ?e, "demo product skipped"),
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    tracing::info!(created, "demo catalogue loaded");
    Ok(created)
}
