//! The bulk-import formats (docs/import.md): a JSON array of product inputs, or CSV rows of
//! one variant each, lists separated by `|`. Parsing only: each row becomes a product input
//! or the reason it cannot be one (a bad row never stops the good ones).

use crate::input::{ProductInput, VariantInput};
use crate::values::{Size, SizeUnit};
use crate::{Concern, ProductStatus, ProductType, SkinType};
use serde::Deserialize;

/// The file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

/// One row of the CSV format (see docs/import.md). Lists are separated by `|`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CsvRow {
    name: String,
    #[serde(default)]
    slug: String,
    brand: String,
    product_type: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    description: String,
    sku: String,
    price: i64,
    currency: String,
    #[serde(default)]
    size_ml: Option<u32>,
    #[serde(default)]
    ingredients: String,
    #[serde(default)]
    skin_types: String,
    #[serde(default)]
    concerns: String,
}

fn split(s: &str) -> impl Iterator<Item = &str> {
    s.split('|').map(str::trim).filter(|x| !x.is_empty())
}

fn vocab<T>(field: &str, raw: &str, parse: fn(&str) -> Option<T>) -> Result<Vec<T>, String> {
    split(raw).map(|x| parse(x).ok_or_else(|| format!("{field}: unknown value `{x}`"))).collect()
}

impl CsvRow {
    fn into_input(self) -> Result<ProductInput, String> {
        let product_type = ProductType::parse(&self.product_type)
            .ok_or_else(|| format!("product_type: one of {}", ProductType::expected()))?;
        let status = if self.status.is_empty() {
            ProductStatus::Active
        } else {
            ProductStatus::parse(&self.status).ok_or("status: one of draft, active, archived")?
        };
        let variant = VariantInput {
            size: self.size_ml.map(|amount| Size { amount, unit: SizeUnit::Ml }),
            ..VariantInput::new(self.sku, self.price, self.currency)
        };
        Ok(ProductInput {
            slug: Some(self.slug).filter(|s| !s.is_empty()),
            category: Some(self.category).filter(|s| !s.is_empty()),
            status,
            description: self.description,
            variants: vec![variant],
            ingredients: split(&self.ingredients).map(str::to_owned).collect(),
            skin_types: vocab("skin_types", &self.skin_types, SkinType::parse)?,
            concerns: vocab("concerns", &self.concerns, Concern::parse)?,
            ..ProductInput::new(self.name, self.brand, product_type)
        })
    }
}

/// Parses `text` into rows: each a product input or the reason it cannot be one.
///
/// # Errors
/// When a JSON file is not an array (a CSV file's bad rows are reported one by one instead).
pub fn parse_rows(format: Format, text: &str) -> Result<Vec<Result<ProductInput, String>>, String> {
    match format {
        Format::Json => {
            let values: Vec<serde_json::Value> =
                serde_json::from_str(text).map_err(|e| format!("not a JSON array of products: {e}"))?;
            Ok(values
                .into_iter()
                .map(|v| serde_path_to_error::deserialize(v).map_err(|e| format!("{}: {}", e.path(), e.inner())))
                .collect())
        }
        Format::Csv => {
            let mut reader = csv::Reader::from_reader(text.as_bytes());
            Ok(reader
                .deserialize::<CsvRow>()
                .map(|r| r.map_err(|e| e.to_string()).and_then(CsvRow::into_input))
                .collect())
        }
    }
}
