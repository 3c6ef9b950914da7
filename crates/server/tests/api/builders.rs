//! Typed builders for test data: a product is built from the catalogue's own input type, so a
//! renamed or retyped field fails to compile here instead of sending JSON the server refuses.

use rouge_catalog::input::{ProductInput, VariantInput};
use rouge_catalog::values::{Size, SizeUnit};
use rouge_catalog::{Concern, ProductStatus, ProductType, SkinType};

pub struct ProductBuilder(ProductInput);

impl ProductBuilder {
    /// An active skincare serum of `brand` (a slug), with no variant yet.
    pub fn serum(name: &str, brand: &str) -> Self {
        let mut p = ProductInput::new(name, brand, ProductType::Skincare);
        p.status = ProductStatus::Active;
        p.description = "A light serum for every day.".into();
        p.ingredients = ["Aqua", "Niacinamide", "Glycerin", "Phenoxyethanol"].map(String::from).to_vec();
        Self(p)
    }

    /// A 30 ml variant at `cents` EUR.
    pub fn variant(mut self, sku: &str, cents: i64) -> Self {
        let mut v = VariantInput::new(sku, cents, "EUR");
        v.size = Some(Size { amount: 30, unit: SizeUnit::Ml });
        self.0.variants.push(v);
        self
    }

    pub fn for_skin(mut self, skin: SkinType, concern: Concern) -> Self {
        self.0.skin_types.push(skin);
        self.0.concerns.push(concern);
        self
    }

    pub fn build(self) -> ProductInput {
        self.0
    }
}
