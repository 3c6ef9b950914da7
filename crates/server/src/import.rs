//! `rouge import FILE.csv|FILE.json`: bulk-loads products. A bad row is reported and skipped;
//! it never stops the good ones.

use indicatif::{ProgressBar, ProgressStyle};
use rouge_catalog::input::{ProductInput, VariantInput};
use rouge_catalog::values::{Size, SizeUnit};
use rouge_catalog::{CatalogError, CatalogService, Concern, ProductStatus, ProductType, SkinType};
use rouge_http::Store;
use serde::Deserialize;
use std::path::Path;

pub fn progress_bar(len: u64, msg: &'static str) -> ProgressBar {
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::new(len)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({per_sec}, eta {eta})")
            .expect("template")
            .progress_chars("=> "),
    );
    bar.set_message(msg);
    bar
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

/// Reads the file into rows: each a product input or the reason it cannot be one.
pub fn read_rows(path: &Path) -> anyhow::Result<Vec<Result<ProductInput, String>>> {
    let text = std::fs::read_to_string(path)?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => {
            let values: Vec<serde_json::Value> = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: not a JSON array of products: {e}", path.display()))?;
            Ok(values
                .into_iter()
                .map(|v| serde_path_to_error::deserialize(v).map_err(|e| format!("{}: {}", e.path(), e.inner())))
                .collect())
        }
        Some("csv") => {
            let mut reader = csv::Reader::from_reader(text.as_bytes());
            Ok(reader
                .deserialize::<CsvRow>()
                .map(|r| r.map_err(|e| e.to_string()).and_then(CsvRow::into_input))
                .collect())
        }
        _ => anyhow::bail!("import takes a .csv or .json file"),
    }
}

pub struct Summary {
    pub imported: usize,
    /// (row number, starting at 1, and the reason)
    pub rejected: Vec<(usize, String)>,
}

pub async fn import<S: Store>(store: &S, rows: Vec<Result<ProductInput, String>>) -> Summary {
    let svc = CatalogService::new(store.clone());
    let bar = progress_bar(rows.len() as u64, "importing");
    let mut summary = Summary { imported: 0, rejected: vec![] };
    for (i, row) in rows.into_iter().enumerate() {
        let result = match row {
            Ok(input) => svc.create_product(input).await.map(|_| ()).map_err(|e| match e {
                CatalogError::Invalid(errs) => {
                    errs.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
                }
                CatalogError::Conflict(msg, _) => msg,
                other => other.to_string(),
            }),
            Err(reason) => Err(reason),
        };
        match result {
            Ok(()) => summary.imported += 1,
            Err(reason) => summary.rejected.push((i + 1, reason)),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    summary
}
