//! `rouge import FILE.csv|FILE.json`: bulk-loads products. A bad row is reported and skipped;
//! it never stops the good ones.

use indicatif::{ProgressBar, ProgressStyle};
use rouge_catalog::import::Format;
use rouge_catalog::input::ProductInput;
use rouge_catalog::{CatalogError, CatalogService};
use rouge_http::Store;
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

/// Reads the file into rows: each a product input or the reason it cannot be one.
pub fn read_rows(path: &Path) -> anyhow::Result<Vec<Result<ProductInput, String>>> {
    let text = std::fs::read_to_string(path)?;
    let format = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        _ => anyhow::bail!("import takes a .csv or .json file"),
    };
    rouge_catalog::import::parse_rows(format, &text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
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
