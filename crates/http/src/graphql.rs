use crate::state::{AppState, Store};
use axum::Router;
pub fn router<S: Store>() -> Router<AppState<S>> {
    Router::new()
}
