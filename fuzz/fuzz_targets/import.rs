//! Bulk-import files (CSV and JSON, docs/import.md): any text parses into rows or a reason,
//! never a panic. The first byte picks the format (`{` or `[`: JSON, else CSV).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rouge_catalog::import::{Format, parse_rows};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let format = if text.starts_with(['[', '{']) { Format::Json } else { Format::Csv };
    if let Ok(rows) = parse_rows(format, text) {
        for row in rows.into_iter().flatten() {
            assert!(!row.variants.is_empty() || format == Format::Json, "a CSV row is one variant");
        }
    }
});
