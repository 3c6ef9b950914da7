//! What admins send: inputs that validate field by field into catalogue aggregates.
//!
//! Identifiers that must parse (slug, SKU, GTIN, currency) arrive as strings so that every bad
//! field is reported at once with its path, rather than the first one serde trips over.

use crate::claims;
use crate::inci::{self, IngredientBook};
use crate::model::*;
use crate::values::{Gtin, HexColour, Size, Sku};
use crate::vocab::*;
use chrono::{DateTime, Utc};
use rouge_kernel::{Currency, FieldError, Money, Slug, Validation, new_id};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use utoipa::ToSchema;
use uuid::Uuid;

pub const MAX_VARIANTS: usize = 100;
pub const MAX_INGREDIENTS: usize = 200;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    pub name: String,
    /// Derived from the name when absent.
    #[serde(default)]
    pub slug: Option<String>,
    /// The brand's slug.
    pub brand: String,
    pub product_type: ProductType,
    /// The category's slug.
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default = "draft")]
    pub status: ProductStatus,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub variants: Vec<VariantInput>,
    /// INCI names in label order.
    #[serde(default)]
    pub ingredients: Vec<String>,
    #[serde(default)]
    pub certifications: Vec<Certification>,
    #[serde(default)]
    pub skin_types: Vec<SkinType>,
    #[serde(default)]
    pub concerns: Vec<Concern>,
    #[serde(default)]
    pub hair_types: Vec<HairType>,
    #[serde(default)]
    pub finish: Option<Finish>,
    #[serde(default)]
    pub coverage: Option<Coverage>,
    #[serde(default)]
    pub spf: Option<u16>,
    #[serde(default)]
    pub pao_months: Option<u16>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub attributes: BTreeMap<String, serde_json::Value>,
}

fn draft() -> ProductStatus {
    ProductStatus::Draft
}

impl ProductInput {
    /// A draft with only the required fields; callers set what else they know.
    pub fn new(name: impl Into<String>, brand: impl Into<String>, product_type: ProductType) -> Self {
        ProductInput {
            name: name.into(),
            slug: None,
            brand: brand.into(),
            product_type,
            category: None,
            status: ProductStatus::Draft,
            description: String::new(),
            tags: vec![],
            images: vec![],
            variants: vec![],
            ingredients: vec![],
            certifications: vec![],
            skin_types: vec![],
            concerns: vec![],
            hair_types: vec![],
            finish: None,
            coverage: None,
            spf: None,
            pao_months: None,
            attributes: BTreeMap::new(),
        }
    }
}

impl VariantInput {
    /// A variant with only its SKU and price.
    pub fn new(sku: impl Into<String>, amount: i64, currency: impl Into<String>) -> Self {
        VariantInput {
            id: None,
            sku: sku.into(),
            gtin: None,
            size: None,
            shade: None,
            scent: None,
            formulation: None,
            price: MoneyInput { amount, currency: currency.into() },
            compare_at_price: None,
            archived: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VariantInput {
    /// Present when updating an existing variant; new variants get an id.
    #[serde(default)]
    pub id: Option<Uuid>,
    pub sku: String,
    #[serde(default)]
    pub gtin: Option<String>,
    #[serde(default)]
    pub size: Option<Size>,
    #[serde(default)]
    pub shade: Option<ShadeInput>,
    #[serde(default)]
    pub scent: Option<String>,
    #[serde(default)]
    pub formulation: Option<String>,
    pub price: MoneyInput,
    #[serde(default)]
    pub compare_at_price: Option<MoneyInput>,
    #[serde(default)]
    pub archived: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShadeInput {
    pub name: String,
    pub hex: String,
    pub undertone: Undertone,
    pub depth: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoneyInput {
    /// Integer minor units (2999 = 29.99 EUR).
    pub amount: i64,
    pub currency: String,
}

/// The other aggregates a product input names, looked up by the service beforehand.
pub struct Resolved<'a> {
    pub brand: Option<&'a Brand>,
    pub category: Option<&'a Category>,
    pub attribute_defs: &'a [AttributeDefinition],
}

/// Checks a free text: trimmed, within bounds, no control characters.
pub fn text(v: &mut Validation, field: &str, value: &str, min: usize, max: usize) -> String {
    let t = value.trim();
    let n = t.chars().count();
    if n < min || n > max {
        let what =
            if min > 0 { format!("between {min} and {max} characters") } else { format!("at most {max} characters") };
        v.push(field, "length", format!("must be {what}"));
    } else if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        v.push(field, "control_characters", "must not contain control characters");
    }
    t.to_owned()
}

fn money(v: &mut Validation, field: &str, m: &MoneyInput) -> Option<Money> {
    let cur = v.check(format!("{field}.currency"), "currency", Currency::parse(&m.currency))?;
    if m.amount > 10_000_000_000 {
        v.push(format!("{field}.amount"), "range", "must be at most 10000000000 minor units");
        return None;
    }
    v.check(format!("{field}.amount"), "range", Money::new(m.amount, cur))
}

impl VariantInput {
    fn build(&self, v: &mut Validation, f: &str, existing: &[Variant]) -> Option<Variant> {
        let sku = v.check(format!("{f}.sku"), "sku", Sku::parse(&self.sku));
        let gtin = self.gtin.as_deref().map(|g| v.check(format!("{f}.gtin"), "gtin", Gtin::parse(g)));
        if let Some(size) = &self.size {
            v.check(format!("{f}.size"), "size", size.validate());
        }
        let shade = self.shade.as_ref().map(|s| {
            let name = text(v, &format!("{f}.shade.name"), &s.name, 1, 60);
            let hex = v.check(format!("{f}.shade.hex"), "colour", HexColour::parse(&s.hex));
            if !(1..=10).contains(&s.depth) {
                v.push(format!("{f}.shade.depth"), "range", "must be between 1 and 10");
            }
            hex.map(|hex| Shade { name, hex, undertone: s.undertone, depth: s.depth })
        });
        let scent = self.scent.as_deref().map(|s| text(v, &format!("{f}.scent"), s, 1, 60));
        let formulation = self.formulation.as_deref().map(|s| text(v, &format!("{f}.formulation"), s, 1, 60));
        let price = money(v, &format!("{f}.price"), &self.price);
        let compare = self.compare_at_price.as_ref().map(|c| money(v, &format!("{f}.compare_at_price"), c));
        if let (Some(p), Some(Some(c))) = (price, compare) {
            if c.currency() != p.currency() {
                v.push(format!("{f}.compare_at_price.currency"), "currency", "must be the price's currency");
            } else if c.amount() <= p.amount() {
                v.push(format!("{f}.compare_at_price.amount"), "range", "must be higher than the price");
            }
        }
        let id = match self.id {
            Some(id) if existing.iter().any(|e| e.id == id) => id,
            Some(_) => {
                v.push(format!("{f}.id"), "unknown_variant", "no such variant on this product; omit `id` to add one");
                return None;
            }
            None => new_id(),
        };
        Some(Variant {
            id,
            sku: sku?,
            gtin: gtin.flatten(),
            size: self.size.clone(),
            shade: shade.flatten(),
            scent,
            formulation,
            price: price?,
            compare_at_price: compare.flatten(),
            archived: self.archived,
        })
    }
}

impl ProductInput {
    /// Validates every field and builds the product; `existing` keeps ids and creation time.
    pub fn into_product(
        self,
        r: Resolved<'_>,
        existing: Option<&Product>,
        now: DateTime<Utc>,
    ) -> Result<Product, Vec<FieldError>> {
        let mut v = Validation::new();
        let name = text(&mut v, "name", &self.name, 1, 200);
        let slug = match &self.slug {
            Some(s) => v.check("slug", "slug", Slug::parse(s)),
            None => v.check("slug", "slug", Slug::from_name(&name)),
        };
        if r.brand.is_none() {
            v.push("brand", "unknown_brand", format!("no brand with slug `{}`", short(&self.brand)));
        }
        if let (Some(c), None) = (&self.category, r.category) {
            v.push("category", "unknown_category", format!("no category with slug `{}`", short(c)));
        }
        let description = text(&mut v, "description", &self.description, 0, 10_000);
        if self.tags.len() > 30 {
            v.push("tags", "too_many", "at most 30 tags");
        }
        let mut tags: Vec<String> = self
            .tags
            .iter()
            .enumerate()
            .map(|(i, t)| text(&mut v, &format!("tags[{i}]"), t, 1, 50).to_lowercase())
            .collect();
        tags.dedup();
        if self.images.len() > 20 {
            v.push("images", "too_many", "at most 20 images");
        }
        for (i, img) in self.images.iter().enumerate() {
            let ok = (img.url.starts_with("https://") || img.url.starts_with("http://") || img.url.starts_with('/'))
                && img.url.len() <= 2048
                && !img.url.chars().any(char::is_whitespace);
            if !ok {
                v.push(
                    format!("images[{i}].url"),
                    "url",
                    "must be an http(s) URL or a path starting with '/', at most 2048 characters",
                );
            }
            text(&mut v, &format!("images[{i}].alt"), &img.alt, 1, 300);
        }
        let old_variants = existing.map(|p| p.variants.as_slice()).unwrap_or_default();
        if self.variants.len() > MAX_VARIANTS {
            v.push("variants", "too_many", format!("at most {MAX_VARIANTS} variants"));
        }
        let variants: Vec<Option<Variant>> = self
            .variants
            .iter()
            .enumerate()
            .map(|(i, vi)| vi.build(&mut v, &format!("variants[{i}]"), old_variants))
            .collect();
        let mut skus = HashSet::new();
        for (i, var) in variants.iter().enumerate() {
            if let Some(var) = var
                && !skus.insert(var.sku.clone())
            {
                v.push(format!("variants[{i}].sku"), "duplicate", format!("SKU {} appears twice", var.sku));
            }
        }
        let currencies: HashSet<_> = variants.iter().flatten().map(|x| x.price.currency()).collect();
        if currencies.len() > 1 {
            v.push("variants", "currency", "all variants of a product are priced in one currency");
        }
        if self.status == ProductStatus::Active && !variants.iter().flatten().any(|x| !x.archived) {
            v.push("variants", "required", "an active product needs at least one variant that is not archived");
        }
        let ingredients = ingredients(&mut v, &self.ingredients);
        for (i, c) in self.certifications.iter().enumerate() {
            text(&mut v, &format!("certifications[{i}].body"), &c.body, 1, 100);
        }
        if let Some(spf) = self.spf
            && !(1..=100).contains(&spf)
        {
            v.push("spf", "range", "must be between 1 and 100");
        }
        if let Some(pao) = self.pao_months
            && !(1..=60).contains(&pao)
        {
            v.push("pao_months", "range", "must be between 1 and 60 months");
        }
        let defs: Vec<_> = r.attribute_defs.iter().filter(|d| d.product_type == self.product_type).cloned().collect();
        crate::attributes::validate(&self.attributes, &defs, &mut v);
        if !v.is_empty() {
            return Err(v.errors().to_vec());
        }
        let keys: Vec<String> = ingredients.iter().map(|i| inci::normalise(&i.inci)).collect();
        Ok(Product {
            id: existing.map_or_else(new_id, |p| p.id),
            slug: slug.expect("validated"),
            name,
            brand_id: r.brand.expect("validated").id,
            product_type: self.product_type,
            category_id: r.category.map(|c| c.id),
            status: self.status,
            description,
            tags,
            images: self.images,
            variants: variants.into_iter().flatten().collect(),
            free_from: claims::free_from(&keys),
            ingredients,
            certifications: self.certifications,
            skin_types: dedup(self.skin_types),
            concerns: dedup(self.concerns),
            hair_types: dedup(self.hair_types),
            finish: self.finish,
            coverage: self.coverage,
            spf: self.spf,
            pao_months: self.pao_months,
            attributes: self.attributes,
            version: existing.map_or(1, |p| p.version + 1),
            created_at: existing.map_or(now, |p| p.created_at),
            updated_at: now,
        })
    }
}

fn short(s: &str) -> String {
    s.chars().take(64).collect()
}

fn dedup<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v.dedup();
    v
}

fn ingredients(v: &mut Validation, raw: &[String]) -> Vec<Ingredient> {
    if raw.len() > MAX_INGREDIENTS {
        v.push("ingredients", "too_many", format!("at most {MAX_INGREDIENTS} ingredients"));
        return Vec::new();
    }
    let book = IngredientBook::get();
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(raw.len());
    for (i, name) in raw.iter().enumerate() {
        let field = format!("ingredients[{i}]");
        if name.chars().count() > 200 {
            v.push(field, "length", "an INCI name is at most 200 characters");
            continue;
        }
        let key = inci::normalise(name);
        if key.is_empty() {
            v.push(field, "inci", "an INCI name needs letters");
        } else if !seen.insert(key.clone()) {
            v.push(field, "duplicate", format!("{} is listed twice", inci::display(&key)));
        } else {
            out.push(Ingredient { allergen: book.is_allergen(&key), inci: inci::display(&key) });
        }
    }
    out
}

impl Product {
    /// The product as an input again, for JSON merge-patch updates.
    pub fn to_input(&self, brand_slug: &str, category_slug: Option<&str>) -> ProductInput {
        ProductInput {
            name: self.name.clone(),
            slug: Some(self.slug.to_string()),
            brand: brand_slug.to_owned(),
            product_type: self.product_type,
            category: category_slug.map(str::to_owned),
            status: self.status,
            description: self.description.clone(),
            tags: self.tags.clone(),
            images: self.images.clone(),
            variants: self.variants.iter().map(Variant::to_input).collect(),
            ingredients: self.ingredients.iter().map(|i| i.inci.clone()).collect(),
            certifications: self.certifications.clone(),
            skin_types: self.skin_types.clone(),
            concerns: self.concerns.clone(),
            hair_types: self.hair_types.clone(),
            finish: self.finish,
            coverage: self.coverage,
            spf: self.spf,
            pao_months: self.pao_months,
            attributes: self.attributes.clone(),
        }
    }
}

impl Variant {
    pub fn to_input(&self) -> VariantInput {
        let m = |m: &Money| MoneyInput { amount: m.amount(), currency: m.currency().code().to_owned() };
        VariantInput {
            id: Some(self.id),
            sku: self.sku.to_string(),
            gtin: self.gtin.as_ref().map(|g| g.to_string()),
            size: self.size.clone(),
            shade: self.shade.as_ref().map(|s| ShadeInput {
                name: s.name.clone(),
                hex: s.hex.to_string(),
                undertone: s.undertone,
                depth: s.depth,
            }),
            scent: self.scent.clone(),
            formulation: self.formulation.clone(),
            price: m(&self.price),
            compare_at_price: self.compare_at_price.as_ref().map(m),
            archived: self.archived,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandInput {
    pub name: String,
    #[serde(default)]
    pub slug: Option<String>,
    #[serde(default)]
    pub description: String,
}

impl BrandInput {
    pub fn into_brand(self, existing: Option<&Brand>) -> Result<Brand, Vec<FieldError>> {
        let mut v = Validation::new();
        let name = text(&mut v, "name", &self.name, 1, 100);
        let slug = match &self.slug {
            Some(s) => v.check("slug", "slug", Slug::parse(s)),
            None => v.check("slug", "slug", Slug::from_name(&name)),
        };
        let description = text(&mut v, "description", &self.description, 0, 5000);
        v.finish(|| Brand {
            id: existing.map_or_else(new_id, |b| b.id),
            slug: slug.expect("validated"),
            name,
            description,
            archived: existing.is_some_and(|b| b.archived),
            version: existing.map_or(1, |b| b.version + 1),
        })
    }
}

impl Brand {
    pub fn to_input(&self) -> BrandInput {
        BrandInput { name: self.name.clone(), slug: Some(self.slug.to_string()), description: self.description.clone() }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryInput {
    pub name: String,
    #[serde(default)]
    pub slug: Option<String>,
    /// The parent category's slug; absent for a top-level category.
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub position: i32,
}

impl CategoryInput {
    /// `parent` is the looked-up parent (None when absent or unknown); `ancestors_of_parent`
    /// lets the caller refuse cycles.
    pub fn into_category(
        self,
        parent: Option<&Category>,
        parent_chain: &[Uuid],
        existing: Option<&Category>,
    ) -> Result<Category, Vec<FieldError>> {
        let mut v = Validation::new();
        let name = text(&mut v, "name", &self.name, 1, 100);
        let slug = match &self.slug {
            Some(s) => v.check("slug", "slug", Slug::parse(s)),
            None => v.check("slug", "slug", Slug::from_name(&name)),
        };
        if let (Some(p), None) = (&self.parent, parent) {
            v.push("parent", "unknown_category", format!("no category with slug `{}`", short(p)));
        }
        if let Some(e) = existing
            && parent_chain.contains(&e.id)
        {
            v.push("parent", "cycle", "a category cannot sit under itself or its own descendants");
        }
        v.finish(|| Category {
            id: existing.map_or_else(new_id, |c| c.id),
            slug: slug.expect("validated"),
            name,
            parent_id: parent.map(|p| p.id),
            position: self.position,
            archived: existing.is_some_and(|c| c.archived),
            version: existing.map_or(1, |c| c.version + 1),
        })
    }
}

impl Category {
    pub fn to_input(&self, parent_slug: Option<&str>) -> CategoryInput {
        CategoryInput {
            name: self.name.clone(),
            slug: Some(self.slug.to_string()),
            parent: parent_slug.map(str::to_owned),
            position: self.position,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttributeDefinitionInput {
    pub product_type: ProductType,
    pub name: String,
    pub label: String,
    pub kind: AttributeKind,
    #[serde(default)]
    pub filterable: bool,
}

impl AttributeDefinitionInput {
    pub fn into_definition(
        self,
        existing: Option<&AttributeDefinition>,
    ) -> Result<AttributeDefinition, Vec<FieldError>> {
        let mut v = Validation::new();
        let ok_name = (1..=40).contains(&self.name.len())
            && self.name.starts_with(|c: char| c.is_ascii_lowercase())
            && self.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok_name {
            v.push("name", "attribute_name", "1–40 characters of a-z, 0-9 and '_', starting with a letter");
        }
        let label = text(&mut v, "label", &self.label, 1, 100);
        match &self.kind {
            AttributeKind::Enum { values } => {
                if values.is_empty() || values.len() > 100 {
                    v.push("kind.values", "length", "an enum has 1 to 100 values");
                }
                for (i, val) in values.iter().enumerate() {
                    text(&mut v, &format!("kind.values[{i}]"), val, 1, 100);
                }
            }
            AttributeKind::Number { unit: Some(u) } => {
                text(&mut v, "kind.unit", u, 1, 20);
            }
            _ => {}
        }
        if let Some(e) = existing
            && (e.product_type != self.product_type || e.name != self.name)
        {
            v.push("name", "immutable", "an attribute's product type and name cannot change; define a new one");
        }
        v.finish(|| AttributeDefinition {
            id: existing.map_or_else(new_id, |d| d.id),
            product_type: self.product_type,
            name: self.name,
            label,
            kind: self.kind,
            filterable: self.filterable,
            archived: existing.is_some_and(|d| d.archived),
            version: existing.map_or(1, |d| d.version + 1),
        })
    }
}

impl AttributeDefinition {
    pub fn to_input(&self) -> AttributeDefinitionInput {
        AttributeDefinitionInput {
            product_type: self.product_type,
            name: self.name.clone(),
            label: self.label.clone(),
            kind: self.kind.clone(),
            filterable: self.filterable,
        }
    }
}
