//! One contract suite for every store: the same test code runs against SQLite and
//! PostgreSQL (`tests/contract.rs`), each test on a database of its own.

pub mod contract;
pub mod fixtures;
pub mod harness;
pub mod identity;
pub mod inventory;
pub mod orders;
pub mod raw;
