//! The catalogue bounded context: what a beauty product is, how admins change it, and the
//! events those changes publish. No I/O: stores implement [`ports::CatalogRepository`].

pub mod attributes;
pub mod claims;
pub mod events;
pub mod import;
pub mod inci;
pub mod input;
pub mod model;
pub mod ports;
pub mod service;
pub mod values;
pub mod vocab;

pub use events::CatalogEvent;
pub use model::*;
pub use ports::{CatalogRepository, RepoError};
pub use rouge_kernel::FieldError;
pub use service::{CatalogError, CatalogService};
pub use vocab::*;
