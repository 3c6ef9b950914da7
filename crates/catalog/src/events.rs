//! The catalogue's domain events. Payloads carry the new state, so consumers (the search
//! index, caches) apply them without reading the store back.

use crate::model::{AttributeDefinition, Brand, Category, Product};
use rouge_kernel::{DomainEvent, Money};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
pub enum CatalogEvent {
    ProductCreated(Box<Product>),
    ProductUpdated(Box<Product>),
    ProductArchived(Box<Product>),
    VariantPriceChanged { product_id: Uuid, variant_id: Uuid, sku: String, old: Money, new: Money },
    BrandSaved(Brand),
    CategorySaved(Category),
    AttributeDefined(AttributeDefinition),
}

impl CatalogEvent {
    pub fn name(&self) -> &'static str {
        match self {
            CatalogEvent::ProductCreated(_) => "ProductCreated",
            CatalogEvent::ProductUpdated(_) => "ProductUpdated",
            CatalogEvent::ProductArchived(_) => "ProductArchived",
            CatalogEvent::VariantPriceChanged { .. } => "VariantPriceChanged",
            CatalogEvent::BrandSaved(_) => "BrandSaved",
            CatalogEvent::CategorySaved(_) => "CategorySaved",
            CatalogEvent::AttributeDefined(_) => "AttributeDefined",
        }
    }

    fn aggregate(&self) -> (&'static str, Uuid) {
        match self {
            CatalogEvent::ProductCreated(p) | CatalogEvent::ProductUpdated(p) | CatalogEvent::ProductArchived(p) => {
                ("product", p.id)
            }
            CatalogEvent::VariantPriceChanged { product_id, .. } => ("product", *product_id),
            CatalogEvent::BrandSaved(b) => ("brand", b.id),
            CatalogEvent::CategorySaved(c) => ("category", c.id),
            CatalogEvent::AttributeDefined(d) => ("attribute_definition", d.id),
        }
    }

    /// Wraps the event in the envelope the outbox stores.
    pub fn envelope(&self) -> DomainEvent {
        let (kind, id) = self.aggregate();
        DomainEvent::new(kind, id, self.name(), serde_json::to_value(self).expect("events serialise"))
    }

    /// Reads a catalogue event back from its envelope; `None` for other contexts' events.
    pub fn from_envelope(e: &DomainEvent) -> Option<Self> {
        serde_json::from_value(e.payload.clone()).ok()
    }
}
