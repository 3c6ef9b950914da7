//! Builders of valid inputs; tests change only the fields they are about.

use rouge_catalog::input::{BrandInput, CategoryInput, MoneyInput, ProductInput, VariantInput};
use rouge_catalog::{ProductStatus, ProductType, SkinType};

pub fn brand(name: &str) -> BrandInput {
    BrandInput { name: name.into(), slug: None, description: format!("{name} makes skincare.") }
}

pub fn category(name: &str, parent: Option<&str>) -> CategoryInput {
    CategoryInput { name: name.into(), slug: None, parent: parent.map(Into::into), position: 0 }
}

pub fn variant(sku: &str, cents: i64) -> VariantInput {
    VariantInput {
        id: None,
        sku: sku.into(),
        gtin: None,
        size: None,
        shade: None,
        scent: None,
        formulation: None,
        price: MoneyInput { amount: cents, currency: "EUR".into() },
        compare_at_price: None,
        archived: false,
    }
}

pub fn product(name: &str, brand_slug: &str, sku: &str) -> ProductInput {
    ProductInput {
        name: name.into(),
        slug: None,
        brand: brand_slug.into(),
        product_type: ProductType::Skincare,
        category: None,
        status: ProductStatus::Active,
        description: "A light serum.".into(),
        tags: vec![],
        images: vec![],
        variants: vec![variant(sku, 2500)],
        ingredients: vec!["Aqua".into(), "Niacinamide".into(), "Glycerin".into()],
        certifications: vec![],
        skin_types: vec![SkinType::Oily],
        concerns: vec![],
        hair_types: vec![],
        finish: None,
        coverage: None,
        spf: None,
        pao_months: Some(12),
        attributes: Default::default(),
    }
}
