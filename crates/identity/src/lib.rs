//! Identity bounded context: customers with beauty profiles, tokens, and the PII vault.
//! No I/O: the store implements [`IdentityRepository`]; the HTTP layer calls [`IdentityService`].

pub mod audit;
pub mod email;
pub mod model;
pub mod password;
pub mod ports;
pub mod service;
pub mod staff;
pub mod staff_service;
pub mod tokens;
pub mod vault;

pub use audit::{AuditEntry, AuditFilter, AuditInput, ChainError};
pub use email::Email;
pub use model::*;
pub use password::{HashCost, PasswordHasher};
pub use ports::{AuditRepository, IdentityRepository, StaffRepository};
pub use service::*;
pub use staff::{Actor, ApiKeyRecord, Permission, Principal, Role, StaffRecord, builtin_roles};
pub use staff_service::*;
pub use tokens::{AccessClaims, SERVICE_AUDIENCE, SigningKey, Subject, TokenError, TokenKeys};
pub use vault::{DataKey, Secret32, Vault, VaultError, WrappedKey};
