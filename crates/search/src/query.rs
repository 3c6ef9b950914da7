//! A storefront listing request, parsed from query-string pairs and validated.

use rouge_catalog::{CertificationKind, Concern, FieldError, ProductType, SkinType, Undertone, claims};
use rouge_kernel::{Cursor, Validation};
use serde::{Deserialize, Serialize};

pub const DEFAULT_LIMIT: usize = 24;
pub const MAX_LIMIT: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    Relevance,
    PriceAsc,
    PriceDesc,
    Newest,
    Name,
    /// Best rated first (average, then the number of reviews); unrated last.
    Rating,
    /// Best suited to the customer's beauty profile first (`for_me`), newest among equals.
    Suitability,
}

impl Sort {
    fn parse(s: &str) -> Option<Sort> {
        Some(match s {
            "relevance" => Sort::Relevance,
            "price_asc" => Sort::PriceAsc,
            "price_desc" => Sort::PriceDesc,
            "newest" => Sort::Newest,
            "name" => Sort::Name,
            "suitability" => Sort::Suitability,
            "rating" => Sort::Rating,
            _ => return None,
        })
    }
}

/// Where the previous page ended: the last item's sort key and id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    pub s: Sort,
    pub n: i64,
    pub t: String,
    pub id: uuid::Uuid,
}

#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub q: Option<String>,
    /// Any of these category slugs, descendants included.
    pub categories: Vec<String>,
    /// Any of these brand slugs.
    pub brands: Vec<String>,
    /// Any of these product types.
    pub product_types: Vec<ProductType>,
    /// All of these.
    pub skin_types: Vec<SkinType>,
    pub concerns: Vec<Concern>,
    pub certifications: Vec<CertificationKind>,
    pub free_from: Vec<String>,
    pub include_ingredients: Vec<String>,
    pub exclude_ingredients: Vec<String>,
    pub attributes: Vec<(String, String)>,
    pub min_price: Option<i64>,
    pub max_price: Option<i64>,
    /// An average rating of at least this many stars (1–5).
    pub min_rating: Option<u8>,
    pub sort: Option<Sort>,
    /// Personalise for the logged-in customer (the caller fills the preferences).
    pub for_me: bool,
    /// Ranked first, most matches first: her skin type and concerns.
    pub prefer_skin_types: Vec<SkinType>,
    pub prefer_concerns: Vec<Concern>,
    /// Her shade (undertone, depth): products with a shade near it rank first.
    pub prefer_shade: Option<(Undertone, u8)>,
    /// A shade in any of these undertones (with `depth_min`/`depth_max`: the same shade).
    pub undertones: Vec<Undertone>,
    pub depth_min: Option<u8>,
    pub depth_max: Option<u8>,
    pub limit: usize,
    pub after: Option<Position>,
}

fn list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn vocab<T>(
    v: &mut Validation,
    field: &str,
    value: &str,
    parse: fn(&str) -> Option<T>,
    expected: String,
    out: &mut Vec<T>,
) {
    for item in list(value) {
        match parse(item) {
            Some(x) => out.push(x),
            None => v.push(
                field,
                "unknown_value",
                format!("`{}` is not one of: {expected}", item.chars().take(40).collect::<String>()),
            ),
        }
    }
}

impl ListQuery {
    /// Parses query-string pairs; every bad parameter is reported with its name.
    pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, Vec<FieldError>> {
        let mut v = Validation::new();
        let mut q = ListQuery { limit: DEFAULT_LIMIT, ..Default::default() };
        let mut cursor = None;
        for (key, value) in pairs {
            if value.len() > 1000 {
                v.push(key, "length", "at most 1000 characters");
                continue;
            }
            match key {
                "q" => q.q = Some(value.trim().to_owned()).filter(|s| !s.is_empty()),
                "category" => q.categories.extend(list(value).map(str::to_owned)),
                "brand" => q.brands.extend(list(value).map(str::to_owned)),
                "product_type" => {
                    vocab(&mut v, key, value, ProductType::parse, ProductType::expected(), &mut q.product_types)
                }
                "skin_type" => vocab(&mut v, key, value, SkinType::parse, SkinType::expected(), &mut q.skin_types),
                "concern" => vocab(&mut v, key, value, Concern::parse, Concern::expected(), &mut q.concerns),
                "certification" => vocab(
                    &mut v,
                    key,
                    value,
                    CertificationKind::parse,
                    CertificationKind::expected(),
                    &mut q.certifications,
                ),
                "free_from" => {
                    for c in list(value) {
                        let claim = if c.ends_with("-free") { c.to_owned() } else { format!("{c}-free") };
                        if claims::is_known_claim(&claim) {
                            q.free_from.push(claim);
                        } else {
                            let known: Vec<_> = claims::rules().iter().map(|r| r.claim.as_str()).collect();
                            v.push(key, "unknown_value", format!("unknown claim; one of: {}", known.join(", ")));
                        }
                    }
                }
                "include_ingredient" => q.include_ingredients.extend(list(value).map(str::to_owned)),
                "exclude_ingredient" => q.exclude_ingredients.extend(list(value).map(str::to_owned)),
                "undertone" => vocab(&mut v, key, value, Undertone::parse, Undertone::expected(), &mut q.undertones),
                "depth_min" | "depth_max" => match value.parse::<u8>() {
                    Ok(n) if (1..=10).contains(&n) => {
                        if key == "depth_min" {
                            q.depth_min = Some(n)
                        } else {
                            q.depth_max = Some(n)
                        }
                    }
                    _ => v.push(key, "range", "a shade depth from 1 (fairest) to 10 (deepest)"),
                },
                "min_price" | "max_price" => match value.parse::<i64>() {
                    Ok(n) if n >= 0 => {
                        if key == "min_price" {
                            q.min_price = Some(n)
                        } else {
                            q.max_price = Some(n)
                        }
                    }
                    _ => v.push(key, "type", "a non-negative whole number of minor units (2999 = 29.99)"),
                },
                "min_rating" => match value.parse::<u8>() {
                    Ok(n) if (1..=5).contains(&n) => q.min_rating = Some(n),
                    _ => v.push(key, "range", "a whole number of stars from 1 to 5"),
                },
                "sort" => match Sort::parse(value) {
                    Some(s) => q.sort = Some(s),
                    None => v.push(
                        key,
                        "unknown_value",
                        "one of: relevance, price_asc, price_desc, newest, name, suitability, rating",
                    ),
                },
                "for_me" => match value {
                    "true" | "1" => q.for_me = true,
                    "false" | "0" => q.for_me = false,
                    _ => v.push(key, "type", "true or false"),
                },
                "limit" => match value.parse::<usize>() {
                    Ok(n) if (1..=MAX_LIMIT).contains(&n) => q.limit = n,
                    _ => v.push(key, "range", format!("a whole number from 1 to {MAX_LIMIT}")),
                },
                "cursor" => cursor = Some(value.to_owned()),
                k if k.starts_with("attr.") && k.len() > 5 => q.attributes.push((k[5..].to_owned(), value.to_owned())),
                other => v.push(
                    other.chars().take(40).collect::<String>(),
                    "unknown_parameter",
                    "this filter does not exist",
                ),
            }
        }
        if let (Some(lo), Some(hi)) = (q.depth_min, q.depth_max)
            && lo > hi
        {
            v.push("depth_min", "range", "must not exceed depth_max");
        }
        if let (Some(lo), Some(hi)) = (q.min_price, q.max_price)
            && lo > hi
        {
            v.push("min_price", "range", "must not exceed max_price");
        }
        if let Some(raw) = cursor {
            match Cursor::decode::<Position>(&raw) {
                Ok(p) if p.s == q.effective_sort() => q.after = Some(p),
                Ok(_) => v.push("cursor", "cursor", "this cursor belongs to another sort order"),
                Err(e) => v.push("cursor", "cursor", e.to_string()),
            }
        }
        v.finish(|| q)
    }

    /// Relevance when searching by text, suitability for `for_me`, newest otherwise, unless
    /// `sort` says.
    pub fn effective_sort(&self) -> Sort {
        self.sort.unwrap_or(if self.q.is_some() {
            Sort::Relevance
        } else if self.for_me {
            Sort::Suitability
        } else {
            Sort::Newest
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_filters_and_reports_bad_ones_by_name() {
        let q =
            ListQuery::parse([("skin_type", "oily,sensitive"), ("free_from", "fragrance"), ("limit", "10")]).unwrap();
        assert_eq!(q.skin_types, vec![SkinType::Oily, SkinType::Sensitive]);
        assert_eq!(q.free_from, vec!["fragrance-free"]);
        assert_eq!(q.limit, 10);
        let errs = ListQuery::parse([("skin_type", "greasy"), ("limit", "101"), ("bogus", "1"), ("cursor", "%%")])
            .unwrap_err();
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["skin_type", "limit", "bogus", "cursor"]);
    }
}
