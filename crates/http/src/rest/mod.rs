pub mod admin;
pub mod storefront;
