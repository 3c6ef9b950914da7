//! The admin API: validated writes through the catalogue service. Every response carries the
//! resource's ETag (`"v<version>"`); updates honour `If-Match` and answer 412 when stale.

use crate::authz::need;
use crate::error::{ApiError, Problem};
use crate::extract::{IfMatch, ValidJson, version_etag};
use crate::idempotency::idempotent;
use crate::state::{AppState, Store};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use rouge_catalog::input::{AttributeDefinitionInput, BrandInput, CategoryInput, ProductInput, VariantInput};
use rouge_catalog::{AttributeDefinition, Brand, Category, Product};
use rouge_identity::Permission;
use serde::Serialize;
use uuid::Uuid;

pub fn router<S: Store>(app: &AppState<S>) -> Router<AppState<S>> {
    use Permission::{CatalogRead, CatalogWrite};
    Router::new()
        .route("/v1/admin/products", need(app, CatalogWrite, idempotent(app, false, post(create_product::<S>))))
        .route(
            "/v1/admin/products/{id}",
            need(app, CatalogRead, get(get_product::<S>)).merge(need(
                app,
                CatalogWrite,
                patch(update_product::<S>).delete(archive_product::<S>),
            )),
        )
        .route(
            "/v1/admin/products/{id}/variants",
            need(app, CatalogWrite, idempotent(app, false, post(add_variant::<S>))),
        )
        .route(
            "/v1/admin/products/{id}/variants/{variant_id}",
            need(app, CatalogWrite, patch(update_variant::<S>).delete(archive_variant::<S>)),
        )
        .route("/v1/admin/brands", need(app, CatalogWrite, idempotent(app, false, post(create_brand::<S>))))
        .route("/v1/admin/brands/{id}", need(app, CatalogWrite, patch(update_brand::<S>).delete(archive_brand::<S>)))
        .route("/v1/admin/categories", need(app, CatalogWrite, idempotent(app, false, post(create_category::<S>))))
        .route(
            "/v1/admin/categories/{id}",
            need(app, CatalogWrite, patch(update_category::<S>).delete(archive_category::<S>)),
        )
        .route(
            "/v1/admin/attributes",
            need(app, CatalogWrite, idempotent(app, false, post(define_attribute::<S>))).merge(need(
                app,
                CatalogRead,
                get(list_attributes::<S>),
            )),
        )
        .route(
            "/v1/admin/attributes/{id}",
            need(app, CatalogWrite, patch(update_attribute::<S>).delete(archive_attribute::<S>)),
        )
}

/// A written resource with its ETag; 201 with Location when it was created.
fn written<T: Serialize>(body: &T, version: i64, created: Option<String>) -> Response {
    let status = if created.is_some() { StatusCode::CREATED } else { StatusCode::OK };
    let mut res = (status, Json(body)).into_response();
    let h = res.headers_mut();
    h.insert(header::ETAG, HeaderValue::from_str(&version_etag(version)).expect("ascii"));
    if let Some(loc) = created {
        h.insert(header::LOCATION, HeaderValue::from_str(&loc).expect("ascii"));
    }
    res
}

type Res = Result<Response, ApiError>;

#[utoipa::path(post, path = "/v1/admin/products", tag = "admin", request_body = ProductInput, security(("staff" = ["catalog:write"])),
    responses((status = 201, body = Product, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"), ("Location" = String, description = "Where the created (or found) resource is"))), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 409, body = Problem), (status = 415, body = Problem), (status = 422, body = Problem)))]
pub async fn create_product<S: Store>(
    State(app): State<AppState<S>>,
    ValidJson(input): ValidJson<ProductInput>,
) -> Res {
    let p = app.catalog.create_product(input).await?;
    Ok(written(&p, p.version, Some(format!("/v1/admin/products/{}", p.id))))
}

#[utoipa::path(get, path = "/v1/admin/products/{id}", tag = "admin", security(("staff" = ["catalog:read"])),
    responses((status = 200, body = Product, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"))), (status = 404, body = Problem)))]
pub async fn get_product<S: Store>(State(app): State<AppState<S>>, Path(id): Path<Uuid>) -> Res {
    let p = app.catalog.product(id).await?;
    let mut res = Json(&p).into_response();
    res.headers_mut().insert(header::ETAG, HeaderValue::from_str(&version_etag(p.version)).expect("ascii"));
    Ok(res)
}

/// JSON merge patch (RFC 7396) of the product's input form.
#[utoipa::path(patch, path = "/v1/admin/products/{id}", tag = "admin", request_body = Object, security(("staff" = ["catalog:write"])),
    params(("If-Match" = Option<String>, Header, description = "The product's ETag")),
    responses((status = 200, body = Product, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"))), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn update_product<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
    IfMatch(v): IfMatch,
    ValidJson(patch): ValidJson<serde_json::Value>,
) -> Res {
    let p = app.catalog.update_product(id, v, &patch).await?;
    Ok(written(&p, p.version, None))
}

/// Archives the product: it leaves the storefront but stays in the store.
#[utoipa::path(delete, path = "/v1/admin/products/{id}", tag = "admin", security(("staff" = ["catalog:write"])),
    responses((status = 200, body = Product, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"))), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn archive_product<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
    IfMatch(v): IfMatch,
) -> Res {
    let p = app.catalog.archive_product(id, v).await?;
    Ok(written(&p, p.version, None))
}

#[utoipa::path(post, path = "/v1/admin/products/{id}/variants", tag = "admin", request_body = VariantInput, security(("staff" = ["catalog:write"])),
    responses((status = 201, body = Product, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"), ("Location" = String, description = "Where the created (or found) resource is"))), (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn add_variant<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
    IfMatch(v): IfMatch,
    ValidJson(input): ValidJson<VariantInput>,
) -> Res {
    let p = app.catalog.add_variant(id, v, input).await?;
    Ok(written(&p, p.version, Some(format!("/v1/admin/products/{}", p.id))))
}

#[utoipa::path(patch, path = "/v1/admin/products/{id}/variants/{variant_id}", tag = "admin", request_body = Object, security(("staff" = ["catalog:write"])),
    responses((status = 200, body = Product, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"))), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn update_variant<S: Store>(
    State(app): State<AppState<S>>,
    Path((id, variant_id)): Path<(Uuid, Uuid)>,
    IfMatch(v): IfMatch,
    ValidJson(patch): ValidJson<serde_json::Value>,
) -> Res {
    let p = app.catalog.update_variant(id, variant_id, v, &patch).await?;
    Ok(written(&p, p.version, None))
}

#[utoipa::path(delete, path = "/v1/admin/products/{id}/variants/{variant_id}", tag = "admin", security(("staff" = ["catalog:write"])),
    responses((status = 200, body = Product, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"))), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn archive_variant<S: Store>(
    State(app): State<AppState<S>>,
    Path((id, variant_id)): Path<(Uuid, Uuid)>,
    IfMatch(v): IfMatch,
) -> Res {
    let p = app.catalog.archive_variant(id, variant_id, v).await?;
    Ok(written(&p, p.version, None))
}

#[utoipa::path(post, path = "/v1/admin/brands", tag = "admin", request_body = BrandInput, security(("staff" = ["catalog:write"])),
    responses((status = 201, body = Brand, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"), ("Location" = String, description = "Where the created (or found) resource is"))), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_brand<S: Store>(State(app): State<AppState<S>>, ValidJson(input): ValidJson<BrandInput>) -> Res {
    let b = app.catalog.create_brand(input).await?;
    Ok(written(&b, b.version, Some(format!("/v1/admin/brands/{}", b.id))))
}

#[utoipa::path(patch, path = "/v1/admin/brands/{id}", tag = "admin", request_body = Object, security(("staff" = ["catalog:write"])),
    responses((status = 200, body = Brand, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"))), (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn update_brand<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
    IfMatch(v): IfMatch,
    ValidJson(patch): ValidJson<serde_json::Value>,
) -> Res {
    let b = app.catalog.update_brand(id, v, &patch).await?;
    Ok(written(&b, b.version, None))
}

#[utoipa::path(delete, path = "/v1/admin/brands/{id}", tag = "admin", security(("staff" = ["catalog:write"])),
    responses((status = 200, body = Brand, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"))), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn archive_brand<S: Store>(State(app): State<AppState<S>>, Path(id): Path<Uuid>, IfMatch(v): IfMatch) -> Res {
    let b = app.catalog.archive_brand(id, v).await?;
    Ok(written(&b, b.version, None))
}

#[utoipa::path(post, path = "/v1/admin/categories", tag = "admin", request_body = CategoryInput, security(("staff" = ["catalog:write"])),
    responses((status = 201, body = Category, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"), ("Location" = String, description = "Where the created (or found) resource is"))), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_category<S: Store>(
    State(app): State<AppState<S>>,
    ValidJson(input): ValidJson<CategoryInput>,
) -> Res {
    let c = app.catalog.create_category(input).await?;
    Ok(written(&c, c.version, Some(format!("/v1/admin/categories/{}", c.id))))
}

#[utoipa::path(patch, path = "/v1/admin/categories/{id}", tag = "admin", request_body = Object, security(("staff" = ["catalog:write"])),
    responses((status = 200, body = Category, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"))), (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn update_category<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
    IfMatch(v): IfMatch,
    ValidJson(patch): ValidJson<serde_json::Value>,
) -> Res {
    let c = app.catalog.update_category(id, v, &patch).await?;
    Ok(written(&c, c.version, None))
}

#[utoipa::path(delete, path = "/v1/admin/categories/{id}", tag = "admin", security(("staff" = ["catalog:write"])),
    responses((status = 200, body = Category, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"))), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn archive_category<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
    IfMatch(v): IfMatch,
) -> Res {
    let c = app.catalog.archive_category(id, v).await?;
    Ok(written(&c, c.version, None))
}

#[utoipa::path(post, path = "/v1/admin/attributes", tag = "admin", request_body = AttributeDefinitionInput, security(("staff" = ["catalog:write"])),
    responses((status = 201, body = AttributeDefinition, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"), ("Location" = String, description = "Where the created (or found) resource is"))), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn define_attribute<S: Store>(
    State(app): State<AppState<S>>,
    ValidJson(input): ValidJson<AttributeDefinitionInput>,
) -> Res {
    let d = app.catalog.define_attribute(input).await?;
    Ok(written(&d, d.version, Some(format!("/v1/admin/attributes/{}", d.id))))
}

#[utoipa::path(get, path = "/v1/admin/attributes", tag = "admin", security(("staff" = ["catalog:read"])),
    params(crate::page::PageQuery),
    responses((status = 200, body = crate::page::AttributePage)))]
pub async fn list_attributes<S: Store>(State(app): State<AppState<S>>, paging: crate::page::Paging) -> Res {
    let defs = app.store.attributes().await.map_err(rouge_catalog::CatalogError::from)?;
    Ok(Json(crate::page::AttributePage::of(defs, &paging)).into_response())
}

#[utoipa::path(patch, path = "/v1/admin/attributes/{id}", tag = "admin", request_body = Object, security(("staff" = ["catalog:write"])),
    responses((status = 200, body = AttributeDefinition, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"))), (status = 404, body = Problem), (status = 412, body = Problem), (status = 422, body = Problem)))]
pub async fn update_attribute<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
    IfMatch(v): IfMatch,
    ValidJson(patch): ValidJson<serde_json::Value>,
) -> Res {
    let d = app.catalog.update_attribute(id, v, &patch).await?;
    Ok(written(&d, d.version, None))
}

#[utoipa::path(delete, path = "/v1/admin/attributes/{id}", tag = "admin", security(("staff" = ["catalog:write"])),
    responses((status = 200, body = AttributeDefinition, headers(("ETag" = String, description = "The version of what was read or written: send it back in If-Match (or If-None-Match on storefront reads)"))), (status = 404, body = Problem), (status = 412, body = Problem)))]
pub async fn archive_attribute<S: Store>(
    State(app): State<AppState<S>>,
    Path(id): Path<Uuid>,
    IfMatch(v): IfMatch,
) -> Res {
    let d = app.catalog.archive_attribute(id, v).await?;
    Ok(written(&d, d.version, None))
}
