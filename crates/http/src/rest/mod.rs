pub mod admin;
pub mod audit;
pub mod auth;
pub mod inventory;
pub mod me;
pub mod staff;
pub mod storefront;
