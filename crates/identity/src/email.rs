//! Email addresses live in the kernel (orders need them too).

pub use rouge_kernel::email::{Email, EmailError};
