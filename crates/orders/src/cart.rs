//! Carts: lines of SKUs, the shopper's contact and addresses (sealed at rest), the chosen
//! shipping method. A guest cart's id is random and is its key; a customer's cart answers
//! only to her.

use rouge_kernel::Validation;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub const MAX_LINES: usize = 100;
pub const MAX_QUANTITY: i64 = 99;
/// Codes one cart may carry.
pub const MAX_CODES: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CartLine {
    pub id: Uuid,
    pub sku: String,
    pub quantity: i64,
    /// The unit price when the line was added, to tell the shopper when it changed.
    pub price_when_added: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CartState {
    Open,
    /// Became an order.
    Completed,
    /// Merged into the customer's cart at log-in.
    Merged,
}

impl CartState {
    pub fn as_str(self) -> &'static str {
        match self {
            CartState::Open => "open",
            CartState::Completed => "completed",
            CartState::Merged => "merged",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(CartState::Open),
            "completed" => Some(CartState::Completed),
            "merged" => Some(CartState::Merged),
            _ => None,
        }
    }
}

pub use rouge_kernel::Address;

/// What checkout collects; kept sealed at rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
pub struct Contact {
    pub email: Option<String>,
    pub shipping_address: Option<Address>,
    pub billing_address: Option<Address>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    pub id: Uuid,
    pub customer_id: Option<Uuid>,
    pub currency: String,
    pub lines: Vec<CartLine>,
    /// Destination country and region, kept in the clear for tax and shipping.
    pub country: Option<String>,
    pub region: Option<String>,
    pub shipping_method: Option<String>,
    pub state: CartState,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Promotion codes the shopper entered (normalized).
    #[serde(default)]
    pub codes: Vec<String>,
    /// Sample SKUs she picked (a samples promotion gives those it offers).
    #[serde(default)]
    pub samples: Vec<String>,
    /// Until when (ms) a checkout attempt holds the cart; it cannot change meanwhile.
    #[serde(default, skip_serializing)]
    pub checkout_until: Option<i64>,
}

impl Cart {
    pub fn new(customer_id: Option<Uuid>, currency: &str, now: i64) -> Self {
        Cart {
            // Random, not time-ordered: a guest cart's id is all that guards it.
            id: Uuid::new_v4(),
            customer_id,
            currency: currency.to_owned(),
            lines: vec![],
            country: None,
            region: None,
            shipping_method: None,
            state: CartState::Open,
            codes: vec![],
            samples: vec![],
            version: 0,
            created_at: now,
            updated_at: now,
            checkout_until: None,
        }
    }

    /// Adds units of a SKU (to its line when it has one).
    ///
    /// # Errors
    /// A field error when the quantity or the number of lines goes out of bounds.
    pub fn add(&mut self, sku: &str, quantity: i64, price: i64) -> Result<Uuid, Validation> {
        let mut v = Validation::new();
        if let Some(line) = self.lines.iter_mut().find(|l| l.sku == sku) {
            let q = line.quantity + quantity;
            if !(1..=MAX_QUANTITY).contains(&quantity) || q > MAX_QUANTITY {
                v.push("quantity", "out_of_range", format!("at most {MAX_QUANTITY} of one SKU per cart"));
                return Err(v);
            }
            line.quantity = q;
            return Ok(line.id);
        }
        if !(1..=MAX_QUANTITY).contains(&quantity) {
            v.push("quantity", "out_of_range", format!("quantity must be between 1 and {MAX_QUANTITY}"));
            return Err(v);
        }
        if self.lines.len() >= MAX_LINES {
            v.push("sku", "too_many_lines", format!("a cart holds at most {MAX_LINES} lines"));
            return Err(v);
        }
        let id = rouge_kernel::new_id();
        self.lines.push(CartLine { id, sku: sku.to_owned(), quantity, price_when_added: price });
        Ok(id)
    }

    /// Merges another cart's lines (quantities add up, capped) and codes into this one.
    pub fn absorb(&mut self, other: &Cart) {
        for c in &other.codes {
            if !self.codes.contains(c) && self.codes.len() < MAX_CODES {
                self.codes.push(c.clone());
            }
        }
        for l in &other.lines {
            let room = self.lines.len() < MAX_LINES;
            match self.lines.iter_mut().find(|m| m.sku == l.sku) {
                Some(m) => m.quantity = (m.quantity + l.quantity).min(MAX_QUANTITY),
                None if room => self.lines.push(l.clone()),
                None => {}
            }
        }
    }
}
