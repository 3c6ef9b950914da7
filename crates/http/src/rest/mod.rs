pub mod admin;
pub mod auth;
pub mod me;
pub mod staff;
pub mod storefront;
