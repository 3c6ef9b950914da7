use axum::Router; use crate::state::{AppState, Store}; pub fn router<S: Store>() -> Router<AppState<S>> { Router::new() }
