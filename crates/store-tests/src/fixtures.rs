//! Builders of valid inputs; tests change only the fields they are about.

use rouge_catalog::input::{BrandInput, CategoryInput, ProductInput, VariantInput};
use rouge_catalog::{ProductStatus, ProductType, SkinType};

pub fn brand(name: &str) -> BrandInput {
    BrandInput { name: name.into(), slug: None, description: format!("{name} makes skincare.") }
}

pub fn category(name: &str, parent: Option<&str>) -> CategoryInput {
    CategoryInput { name: name.into(), slug: None, parent: parent.map(Into::into), position: 0 }
}

pub fn variant(sku: &str, cents: i64) -> VariantInput {
    VariantInput::new(sku, cents, "EUR")
}

pub fn product(name: &str, brand_slug: &str, sku: &str) -> ProductInput {
    ProductInput {
        status: ProductStatus::Active,
        description: "A light serum.".into(),
        variants: vec![variant(sku, 2500)],
        ingredients: vec!["Aqua".into(), "Niacinamide".into(), "Glycerin".into()],
        skin_types: vec![SkinType::Oily],
        pao_months: Some(12),
        ..ProductInput::new(name, brand_slug, ProductType::Skincare)
    }
}
