//! INCI names: normalisation, the EU fragrance-allergen list, and everyday names.
//!
//! Labels spell the same ingredient many ways ("Aqua (Water)", "WATER", "Sodium Laureth
//! Sulphate"). Everything that compares ingredients goes through [`normalise`] first, so
//! search, filters and claims agree on what a name means.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::OnceLock;

const ALLERGENS_CSV: &str = include_str!("../../../data/allergens.csv");
const EVERYDAY_CSV: &str = include_str!("../../../data/everyday_names.csv");

/// Whole-name spellings that mean one INCI entry.
const SYNONYMS: &[(&str, &str)] = &[
    ("water", "aqua"),
    ("aqua (water)", "aqua"),
    ("water (aqua)", "aqua"),
    ("aqua/water", "aqua"),
    ("water/aqua", "aqua"),
    ("aqua/water/eau", "aqua"),
    ("water/aqua/eau", "aqua"),
    ("eau", "aqua"),
    ("fragrance", "parfum"),
    ("parfum (fragrance)", "parfum"),
    ("fragrance (parfum)", "parfum"),
    ("parfum/fragrance", "parfum"),
    ("fragrance/parfum", "parfum"),
    ("perfume", "parfum"),
    ("alcohol denat.", "alcohol denat"),
    ("glycerine", "glycerin"),
    ("tocopheryl acetate (vitamin e)", "tocopheryl acetate"),
];

/// Spelling variants inside a name (British → INCI).
const SPELLINGS: &[(&str, &str)] =
    &[("sulphate", "sulfate"), ("sulphite", "sulfite"), ("aluminium", "aluminum"), ("sulphur", "sulfur")];

/// Tokens written in capitals in display names.
const UPPER_TOKENS: &[&str] = &[
    "ci", "peg", "ppg", "edta", "bht", "bha", "pca", "dmdm", "mea", "dea", "tea", "hdi", "pvp", "spf", "uv", "np",
    "ap", "eop", "ns",
];

/// The comparison key of an INCI name: lower case, single spaces, unified punctuation and
/// spelling, footnote marks dropped. Returns an empty string for names with no letters.
pub fn normalise(raw: &str) -> String {
    let mut s = String::with_capacity(raw.len());
    for ch in raw.chars() {
        let ch = match ch {
            '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
            '\u{2018}' | '\u{2019}' | '`' => '\'',
            '*' | '†' | '‡' | '°' | '¹' | '²' | '³' => continue,
            c if c.is_whitespace() => ' ',
            c => c,
        };
        for l in ch.to_lowercase() {
            s.push(l);
        }
    }
    let mut s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    s = s.replace("( ", "(").replace(" )", ")").replace(" / ", "/").replace(" - ", "-");
    while s.ends_with('.') && !s.ends_with("denat.") {
        s.pop();
        // "aqua ." keys as "aqua", not "aqua " (found by the fuzz target `inci`).
        s.truncate(s.trim_end().len());
    }
    for (from, to) in SPELLINGS {
        if s.contains(from) {
            s = s.replace(from, to);
        }
    }
    if let Some((_, to)) = SYNONYMS.iter().find(|(from, _)| *from == s) {
        return (*to).to_owned();
    }
    if !s.chars().any(|c| c.is_alphabetic()) {
        return String::new();
    }
    s
}

/// How an INCI key is shown: title case, with the usual abbreviations in capitals
/// ("ci 77891" → "CI 77891", "peg-100 stearate" → "PEG-100 Stearate").
pub fn display(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        if UPPER_TOKENS.contains(&word.as_str()) {
            out.push_str(&word.to_uppercase());
        } else {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        }
        word.clear();
    };
    for ch in key.chars() {
        if ch.is_alphanumeric() {
            word.push(ch);
        } else {
            flush(&mut word, &mut out);
            out.push(ch);
        }
    }
    flush(&mut word, &mut out);
    out
}

/// What Rouge knows about ingredient names: the labelled allergens and the everyday names.
pub struct IngredientBook {
    allergens: HashSet<String>,
    everyday_to_inci: HashMap<String, Vec<String>>,
    inci_to_everyday: HashMap<String, BTreeSet<String>>,
}

impl IngredientBook {
    /// The book built from the data files shipped in `data/`.
    pub fn get() -> &'static IngredientBook {
        static BOOK: OnceLock<IngredientBook> = OnceLock::new();
        BOOK.get_or_init(|| IngredientBook::from_csv(ALLERGENS_CSV, EVERYDAY_CSV))
    }

    fn from_csv(allergens: &str, everyday: &str) -> Self {
        let mut book = IngredientBook {
            allergens: HashSet::new(),
            everyday_to_inci: HashMap::new(),
            inci_to_everyday: HashMap::new(),
        };
        let mut r = csv::Reader::from_reader(allergens.as_bytes());
        for rec in r.records().flatten() {
            if let Some(name) = rec.get(1) {
                book.allergens.insert(normalise(name));
            }
        }
        let mut r = csv::Reader::from_reader(everyday.as_bytes());
        for rec in r.records().flatten() {
            if let (Some(every), Some(inci)) = (rec.get(0), rec.get(1)) {
                let (every, inci) = (normalise(every), normalise(inci));
                let list = book.everyday_to_inci.entry(every.clone()).or_default();
                if !list.contains(&inci) {
                    list.push(inci.clone());
                }
                book.inci_to_everyday.entry(inci).or_default().insert(every);
            }
        }
        book
    }

    /// Whether the EU requires this ingredient to be named as a fragrance allergen.
    pub fn is_allergen(&self, key: &str) -> bool {
        self.allergens.contains(key)
    }

    pub fn allergen_count(&self) -> usize {
        self.allergens.len()
    }

    /// Everyday names a shopper may use for this INCI key ("vitamin c" for ascorbic acid).
    pub fn everyday_names(&self, key: &str) -> impl Iterator<Item = &str> {
        self.inci_to_everyday.get(key).into_iter().flatten().map(String::as_str).filter(move |e| *e != key)
    }

    /// The INCI keys a shopper's term stands for: an everyday name's INCI names, plus the
    /// term itself read as an INCI name.
    pub fn resolve(&self, term: &str) -> BTreeSet<String> {
        let key = normalise(term);
        let mut out: BTreeSet<String> = self.everyday_to_inci.get(&key).into_iter().flatten().cloned().collect();
        if !key.is_empty() {
            out.insert(key);
        }
        out
    }

    pub fn is_everyday_name(&self, term: &str) -> bool {
        self.everyday_to_inci.contains_key(&normalise(term))
    }

    /// The INCI keys an everyday name stands for, most typical first (file order).
    pub fn inci_for(&self, everyday: &str) -> &[String] {
        self.everyday_to_inci.get(&normalise(everyday)).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_spacing_and_spelling() {
        assert_eq!(normalise("  Sodium   Laureth Sulphate "), "sodium laureth sulfate");
        assert_eq!(normalise("AQUA (WATER)"), "aqua");
        assert_eq!(normalise("Water"), "aqua");
        assert_eq!(normalise("Aqua / Water / Eau"), "aqua");
        assert_eq!(normalise("Parfum (Fragrance)"), "parfum");
        assert_eq!(normalise("Limonene*"), "limonene");
        assert_eq!(normalise("Rosa Canina Fruit Oil ( Rosehip )"), "rosa canina fruit oil (rosehip)");
        assert_eq!(normalise("Alcohol Denat."), "alcohol denat");
        assert_eq!(normalise("Glycerin."), "glycerin");
        assert_eq!(normalise("Glycerin ."), "glycerin", "no space left behind the full stop");
        assert_eq!(normalise("S\u{b}.\u{b}"), normalise("s"));
        assert_eq!(normalise("PEG\u{2011}100 Stearate"), "peg-100 stearate");
        assert_eq!(normalise("***"), "");
    }

    #[test]
    fn displays_inci_names_as_labels_do() {
        assert_eq!(display("ci 77891"), "CI 77891");
        assert_eq!(display("peg-100 stearate"), "PEG-100 Stearate");
        assert_eq!(display("sodium hyaluronate"), "Sodium Hyaluronate");
        assert_eq!(display("ceramide np"), "Ceramide NP");
    }

    #[test]
    fn flags_eu_labelled_fragrance_allergens() {
        let book = IngredientBook::get();
        assert!(book.allergen_count() >= 80, "the 2023 amendment lists over 80 allergens");
        for a in ["linalool", "limonene", "citronellol", "geraniol", "coumarin", "hexyl cinnamal"] {
            assert!(book.is_allergen(&normalise(a)), "{a} is a labelled allergen");
        }
        assert!(!book.is_allergen("glycerin"));
        assert!(!book.is_allergen("aqua"));
    }

    #[test]
    fn resolves_everyday_names_both_ways() {
        let book = IngredientBook::get();
        let vit_c = book.resolve("Vitamin C");
        assert!(vit_c.contains("ascorbic acid") && vit_c.contains("sodium ascorbyl phosphate"));
        assert!(book.resolve("hyaluronic acid").contains("sodium hyaluronate"));
        assert_eq!(book.resolve("Sodium Hyaluronate").into_iter().collect::<Vec<_>>(), vec!["sodium hyaluronate"]);
        assert!(book.everyday_names("sodium hyaluronate").any(|e| e == "hyaluronic acid"));
        assert!(book.is_everyday_name("tea tree oil"));
    }
}
