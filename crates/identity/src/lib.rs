//! Identity bounded context: customers with beauty profiles, tokens, and the PII vault.
//! No I/O: the store implements [`IdentityRepository`]; the HTTP layer calls [`IdentityService`].

pub mod vault;

pub use vault::{DataKey, Secret32, Vault, VaultError, WrappedKey};
pub mod email;
pub mod password;
pub use email::Email;
pub mod tokens;
pub use tokens::{AccessClaims, SigningKey, Subject, TokenError, TokenKeys};
