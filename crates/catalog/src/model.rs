//! The catalogue's aggregates as stored and served.

use crate::values::{Gtin, HexColour, Size, Sku};
use crate::vocab::*;
use chrono::{DateTime, NaiveDate, Utc};
use rouge_kernel::{Money, Slug};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Product {
    pub id: Uuid,
    #[schema(value_type = String)]
    pub slug: Slug,
    pub name: String,
    pub brand_id: Uuid,
    pub product_type: ProductType,
    pub category_id: Option<Uuid>,
    pub status: ProductStatus,
    pub description: String,
    pub tags: Vec<String>,
    pub images: Vec<Image>,
    pub variants: Vec<Variant>,
    /// The INCI list in label order; derived flags, never typed by hand.
    pub ingredients: Vec<Ingredient>,
    /// Free-from claims derived from `ingredients` by the rules in `data/free_from.json`.
    pub free_from: Vec<String>,
    pub certifications: Vec<Certification>,
    pub skin_types: Vec<SkinType>,
    pub concerns: Vec<Concern>,
    pub hair_types: Vec<HairType>,
    pub finish: Option<Finish>,
    pub coverage: Option<Coverage>,
    pub spf: Option<u16>,
    /// Period after opening, in months.
    pub pao_months: Option<u16>,
    #[schema(value_type = Object)]
    pub attributes: BTreeMap<String, serde_json::Value>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub url: String,
    pub alt: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Variant {
    pub id: Uuid,
    pub sku: Sku,
    pub gtin: Option<Gtin>,
    pub size: Option<Size>,
    pub shade: Option<Shade>,
    pub scent: Option<String>,
    pub formulation: Option<String>,
    #[schema(value_type = MoneySchema)]
    pub price: Money,
    #[schema(value_type = Option<MoneySchema>)]
    pub compare_at_price: Option<Money>,
    pub archived: bool,
}

/// Money on the wire: integer minor units and an ISO 4217 code.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MoneySchema {
    /// Minor units (cents for EUR).
    amount: i64,
    /// ISO 4217 code, e.g. EUR.
    currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Shade {
    pub name: String,
    pub hex: HexColour,
    pub undertone: Undertone,
    /// 1 (fairest) to 10 (deepest).
    pub depth: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Ingredient {
    /// The INCI name as shown on labels.
    pub inci: String,
    /// Whether EU rules require it to be labelled as a fragrance allergen.
    pub allergen: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Certification {
    pub kind: CertificationKind,
    /// The certifying body, e.g. "The Vegan Society", "Leaping Bunny".
    pub body: String,
    pub expires_on: NaiveDate,
}

impl Certification {
    pub fn is_valid_on(&self, day: NaiveDate) -> bool {
        self.expires_on >= day
    }
}

impl Product {
    /// The variants a shopper can buy.
    pub fn live_variants(&self) -> impl Iterator<Item = &Variant> {
        self.variants.iter().filter(|v| !v.archived)
    }

    /// The lowest live price, which listings sort and filter by.
    pub fn from_price(&self) -> Option<Money> {
        self.live_variants().map(|v| v.price).min_by_key(|m| m.amount())
    }

    pub fn is_listed(&self) -> bool {
        self.status == ProductStatus::Active
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Brand {
    pub id: Uuid,
    #[schema(value_type = String)]
    pub slug: Slug,
    pub name: String,
    pub description: String,
    pub archived: bool,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Category {
    pub id: Uuid,
    #[schema(value_type = String)]
    pub slug: Slug,
    pub name: String,
    pub parent_id: Option<Uuid>,
    pub position: i32,
    pub archived: bool,
    pub version: i64,
}

/// A staff-defined attribute for one product type (e.g. `bristle_type` for tools).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AttributeDefinition {
    pub id: Uuid,
    pub product_type: ProductType,
    /// snake_case key used in `attributes` and in `attr.<name>` filters.
    pub name: String,
    pub label: String,
    pub kind: AttributeKind,
    pub filterable: bool,
    pub archived: bool,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AttributeKind {
    Text,
    Number { unit: Option<String> },
    Enum { values: Vec<String> },
    Boolean,
    List,
}
