//! Staff, roles made of permissions, and API keys for integrations.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

macro_rules! permissions {
    ($($variant:ident => $s:literal : $doc:literal),+ $(,)?) => {
        /// One thing a staff member or API key may do.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum Permission {
            $(#[doc = $doc] #[serde(rename = $s)] $variant),+
        }

        // Written out: the derive does not see a `serde(rename)` a macro passes it.
        impl utoipa::PartialSchema for Permission {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::Type::String)
                    .description(Some("A permission, e.g. `catalog:write`"))
                    .enum_values(Some([$($s),+]))
                    .into()
            }
        }

        impl ToSchema for Permission {}

        impl Permission {
            pub const ALL: &'static [Permission] = &[$(Permission::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Permission::$variant => $s),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Permission::$variant),)+ _ => None }
            }
        }
    };
}

permissions! {
    CatalogRead => "catalog:read": "Read drafts and archived records in the admin API.",
    CatalogWrite => "catalog:write": "Create, change and archive products, brands, categories, attributes.",
    OrdersRead => "orders:read": "Read orders.",
    OrdersWrite => "orders:write": "Move orders through fulfilment.",
    OrdersRefund => "orders:refund": "Refund orders.",
    InventoryRead => "inventory:read": "Read stock levels, the inventory ledger and batches.",
    InventoryWrite => "inventory:write": "Receive, adjust, transfer and quarantine stock.",
    CustomersRead => "customers:read": "List customers (ids and dates).",
    CustomersReadPii => "customers:read_pii": "Read customers' personal data.",
    StaffManage => "staff:manage": "Create staff accounts and roles.",
    ApiKeysManage => "api_keys:manage": "Create and revoke API keys.",
    AuditRead => "audit:read": "Read the audit log.",
    EventsManage => "events:manage": "Inspect and replay events their consumers failed on (dead letters).",
    WebhooksManage => "webhooks:manage": "Register outbound webhook endpoints, rotate their secrets, read and replay their deliveries.",
    PromotionsManage => "promotions:manage": "Set up promotions and their codes; read their uses.",
    ReviewsModerate => "reviews:moderate": "Moderate reviews (approve, reject with a reason), reply to them, read their reports.",
    SettingsWrite => "settings:write": "Change shop settings.",
}

/// A named set of permissions. The built-in roles cannot be changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Role {
    pub id: Uuid,
    pub name: String,
    pub permissions: Vec<Permission>,
    pub builtin: bool,
}

/// The built-in roles, with fixed ids so every store agrees on them.
pub fn builtin_roles() -> Vec<Role> {
    use Permission::*;
    let role = |n: u128, name: &str, permissions: Vec<Permission>| Role {
        id: Uuid::from_u128(0x0196_0000_0000_7000_8000_0000_0000_0000 | n),
        name: name.to_owned(),
        permissions,
        builtin: true,
    };
    vec![
        role(1, "owner", Permission::ALL.to_vec()),
        role(
            2,
            "manager",
            vec![
                CatalogRead,
                CatalogWrite,
                OrdersRead,
                OrdersWrite,
                OrdersRefund,
                InventoryRead,
                InventoryWrite,
                CustomersRead,
                CustomersReadPii,
                AuditRead,
                EventsManage,
                PromotionsManage,
                ReviewsModerate,
            ],
        ),
        role(3, "catalogue_editor", vec![CatalogRead, CatalogWrite]),
        role(
            4,
            "support",
            vec![CatalogRead, OrdersRead, OrdersWrite, InventoryRead, CustomersRead, CustomersReadPii, ReviewsModerate],
        ),
    ]
}

/// A staff member as stored: personal fields sealed like a customer's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffRecord {
    pub id: Uuid,
    pub email_index: String,
    pub key: crate::vault::WrappedKey,
    pub email: Vec<u8>,
    pub name: Vec<u8>,
    pub password_hash: String,
    pub role_id: Uuid,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
}

/// An API key as stored: the secret only as a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: Uuid,
    pub name: String,
    pub hash: String,
    pub permissions: Vec<Permission>,
    pub created_by: Uuid,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// Who is making an admin call, and what they may do (sent between services as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub actor: Actor,
    pub permissions: Vec<Permission>,
    /// A staff member with the built-in `owner` role (API keys never are): only owners make
    /// owners or change an owner's account.
    pub owner: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Actor {
    Staff(Uuid),
    ApiKey(Uuid),
}

impl Principal {
    pub fn may(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    /// Pushes an error for every permission in `granted` this principal does not hold itself:
    /// nobody grants what they lack (roles, role assignments and API keys alike).
    pub fn check_grant(&self, v: &mut rouge_kernel::Validation, field: &str, granted: &[Permission]) {
        for (i, p) in granted.iter().enumerate() {
            if !self.may(*p) {
                v.push(
                    format!("{field}[{i}]"),
                    "not_yours",
                    format!("you cannot grant `{}`: you do not have it", p.as_str()),
                );
            }
        }
    }
}

/// The built-in role every other one is measured against.
pub fn owner_role_id() -> Uuid {
    builtin_roles().into_iter().find(|r| r.name == "owner").map(|r| r.id).expect("built in")
}
