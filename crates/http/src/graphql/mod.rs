//! GraphQL over the same catalogue read model as the storefront REST API. Filters go
//! through the same parser, so both APIs accept and refuse the same things.

pub mod accounts;
pub mod carts;
pub mod orders;
pub mod promotions;
pub mod recommendations;
pub mod reviews;
pub mod shades;
pub mod subscriptions;
pub mod webhooks;

use crate::state::{AppState, Store};
use accounts::{Accounts, Caller};
use async_graphql::{
    ComplexObject, Context, EmptySubscription, Enum, ID, InputObject, Interface, MergedObject, Object, Schema,
    SimpleObject,
};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::Router;
use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use rouge_kernel::Cursor;
use rouge_search::{CatalogIndex, IndexedProduct, ListQuery};
use std::sync::Arc;

/// Deepest query accepted; the catalogue's real shapes need about 5.
pub const MAX_DEPTH: usize = 10;
/// Largest query complexity accepted (one point per field, times `first` in lists).
pub const MAX_COMPLEXITY: usize = 5_000;

/// The standard introspection query (graphql-js `getIntrospectionQuery()`, what GraphiQL and
/// code generators send) nests `ofType` about thirteen deep: introspection-only requests get
/// this depth instead of [`MAX_DEPTH`]. Introspection reads only the schema's own types, which
/// are finite, and the complexity limit still holds.
pub const MAX_INTROSPECTION_DEPTH: usize = 20;

/// Every mutation: accounts and orders, carts and checkout.
#[derive(MergedObject, Default)]
pub struct Mutation(
    accounts::AccountMutation,
    carts::CartMutation,
    promotions::PromotionMutation,
    reviews::ReviewMutation,
    webhooks::WebhookMutation,
    subscriptions::SubscriptionMutation,
);

pub type CatalogSchema = Schema<Query, Mutation, EmptySubscription>;

/// The schema with the limits for data queries, and the same schema with the introspection
/// depth.
#[derive(Clone)]
pub struct Schemas {
    pub data: CatalogSchema,
    pub introspection: CatalogSchema,
}

pub fn schema(index: Arc<CatalogIndex>, stock: Arc<crate::availability::StockBoard>) -> Schemas {
    let build = |depth: usize, complexity: usize| {
        Schema::build(Query::default(), Mutation::default(), EmptySubscription)
            .data(index.clone())
            .data(stock.clone())
            .limit_depth(depth)
            .limit_complexity(complexity)
            .finish()
    };
    Schemas {
        data: build(MAX_DEPTH, MAX_COMPLEXITY),
        introspection: build(MAX_INTROSPECTION_DEPTH, MAX_COMPLEXITY * 4),
    }
}

/// Whether every operation of the request selects only introspection fields (`__schema`,
/// `__type`, `__typename`) at its root.
fn introspection_only(query: &str) -> bool {
    use async_graphql::parser::types::{OperationType, Selection};
    let Ok(doc) = async_graphql::parser::parse_query(query) else { return false };
    doc.operations.iter().all(|(_, op)| {
        op.node.ty == OperationType::Query
            && op.node.selection_set.node.items.iter().all(|s| match &s.node {
                Selection::Field(f) => f.node.name.node.starts_with("__"),
                _ => false,
            })
    })
}

/// `/graphql` (and GraphiQL) answering with `schemas`, built by [`schema`] from the state's
/// index and stock board.
pub fn router<S: Store>(schemas: Schemas) -> Router<AppState<S>> {
    let schemas = Arc::new(schemas);
    let run = move |state: State<AppState<S>>,
                    headers: axum::http::HeaderMap,
                    ext: axum::http::Extensions,
                    req: GraphQLRequest| { execute::<S>(state, schemas.clone(), headers, ext, req) };
    Router::new().route("/graphql", get(graphiql).post(run)).route("/graphql/assets/{file}", get(asset))
}

/// GraphiQL, served whole by this server: its scripts and styles are vendored
/// (`crates/http/assets/graphiql`, see `VERSIONS` there and `scripts/vendor-graphiql.sh`), so
/// it works offline and the page may load nothing from elsewhere.
const GRAPHIQL_PAGE: &str = include_str!("../../assets/graphiql/index.html");
const GRAPHIQL_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The vendored files: name, content type, bytes.
const GRAPHIQL_ASSETS: [(&str, &str, &[u8]); 6] = [
    ("graphiql.min.js", "text/javascript", include_bytes!("../../assets/graphiql/graphiql.min.js")),
    ("graphiql.min.css", "text/css", include_bytes!("../../assets/graphiql/graphiql.min.css")),
    ("react.production.min.js", "text/javascript", include_bytes!("../../assets/graphiql/react.production.min.js")),
    (
        "react-dom.production.min.js",
        "text/javascript",
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    ),
    ("boot.js", "text/javascript", include_bytes!("../../assets/graphiql/boot.js")),
    ("page.css", "text/css", include_bytes!("../../assets/graphiql/page.css")),
];

async fn graphiql() -> impl IntoResponse {
    ([(axum::http::header::CONTENT_SECURITY_POLICY, GRAPHIQL_CSP)], Html(GRAPHIQL_PAGE))
}

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> axum::response::Response {
    use axum::http::header;
    match GRAPHIQL_ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, kind, bytes)) => {
            ([(header::CONTENT_TYPE, *kind), (header::CACHE_CONTROL, "public, max-age=86400")], *bytes).into_response()
        }
        None => crate::error::ApiError::NotFound(format!("no GraphiQL asset `{file}`")).into_response(),
    }
}

async fn execute<S: Store>(
    State(app): State<AppState<S>>,
    schemas: Arc<Schemas>,
    headers: axum::http::HeaderMap,
    ext: axum::http::Extensions,
    req: GraphQLRequest,
) -> GraphQLResponse {
    let peer = ext.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0);
    let caller = Caller {
        auth_budget: app.gateway.auth_budget(&headers, peer),
        bearer: crate::rest::auth::bearer(&headers).map(str::to_owned),
        verified: ext.get::<crate::gateway::Verified>().cloned(),
        address: crate::rest::auth::peer(&ext),
    };
    // The account operations travel with the request: the schema lives inside the state.
    let shared = Arc::new(app.clone());
    let accounts: Arc<dyn Accounts> = shared.clone();
    let commerce: Arc<dyn orders::Commerce> = shared.clone();
    let promoting: Arc<dyn promotions::Promoting> = shared.clone();
    let reviewing: Arc<dyn reviews::Reviewing> = shared.clone();
    let recommending: Arc<dyn recommendations::Recommending> = shared.clone();
    let hooking: Arc<dyn webhooks::Hooking> = shared.clone();
    let subscribing: Arc<dyn subscriptions::Subscribing> = shared.clone();
    let carts: Arc<dyn carts::Carts> = shared;
    let req = req.into_inner();
    let schema = if introspection_only(&req.query) { &schemas.introspection } else { &schemas.data };
    schema
        .execute(
            req.data(caller)
                .data(accounts)
                .data(commerce)
                .data(carts)
                .data(promoting)
                .data(reviewing)
                .data(recommending)
                .data(hooking)
                .data(subscribing),
        )
        .await
        .into()
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub enum ProductSort {
    Relevance,
    PriceAsc,
    PriceDesc,
    Newest,
    Name,
    /// For `forMe`: suited to the customer's profile first.
    Suitability,
    /// Best rated first (average, then the number of reviews).
    Rating,
}

/// The storefront filters; see `GET /v1/products` for their meaning.
#[derive(InputObject, Default)]
pub struct ProductFilter {
    pub q: Option<String>,
    pub category: Option<Vec<String>>,
    pub brand: Option<Vec<String>>,
    pub product_type: Option<Vec<String>>,
    pub skin_type: Option<Vec<String>>,
    pub concern: Option<Vec<String>>,
    pub certification: Option<Vec<String>>,
    pub free_from: Option<Vec<String>>,
    pub include_ingredient: Option<Vec<String>>,
    pub exclude_ingredient: Option<Vec<String>>,
    /// Minor units.
    pub min_price: Option<i64>,
    /// Minor units.
    pub max_price: Option<i64>,
    /// A shade in any of these undertones (warm, cool, neutral, olive).
    pub undertone: Option<Vec<String>>,
    /// A shade at least this deep (1 fairest to 10 deepest); with undertone, the same shade.
    pub depth_min: Option<i32>,
    /// A shade at most this deep.
    pub depth_max: Option<i32>,
    /// An average rating of at least this many stars (1–5).
    pub min_rating: Option<i32>,
}

impl ProductFilter {
    fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![];
        let lists = [
            ("category", &self.category),
            ("brand", &self.brand),
            ("product_type", &self.product_type),
            ("skin_type", &self.skin_type),
            ("concern", &self.concern),
            ("certification", &self.certification),
            ("free_from", &self.free_from),
            ("include_ingredient", &self.include_ingredient),
            ("exclude_ingredient", &self.exclude_ingredient),
            ("undertone", &self.undertone),
        ];
        for (k, v) in lists {
            for item in v.iter().flatten() {
                out.push((k, item.clone()));
            }
        }
        if let Some(q) = &self.q {
            out.push(("q", q.clone()));
        }
        if let Some(p) = self.min_price {
            out.push(("min_price", p.to_string()));
        }
        if let Some(p) = self.max_price {
            out.push(("max_price", p.to_string()));
        }
        if let Some(d) = self.depth_min {
            out.push(("depth_min", d.to_string()));
        }
        if let Some(d) = self.depth_max {
            out.push(("depth_max", d.to_string()));
        }
        if let Some(r) = self.min_rating {
            out.push(("min_rating", r.to_string()));
        }
        out
    }
}

/// How shoppers rated a product.
#[derive(SimpleObject)]
pub struct ProductRating {
    pub average: f64,
    pub count: i64,
}

#[derive(SimpleObject)]
pub struct Money {
    /// Minor units.
    pub amount: i64,
    pub currency: String,
}

impl From<rouge_kernel::Money> for Money {
    fn from(m: rouge_kernel::Money) -> Self {
        Money { amount: m.amount(), currency: m.currency().code().to_owned() }
    }
}

#[derive(SimpleObject)]
pub struct FacetValue {
    pub value: String,
    pub count: i32,
}

#[derive(SimpleObject)]
pub struct Facet {
    pub name: String,
    pub values: Vec<FacetValue>,
}

/// Where a page sits in its list (Relay's `PageInfo`).
#[derive(SimpleObject)]
pub struct PageInfo {
    pub has_next_page: bool,
    /// True when the page was asked for `after` a cursor: the list goes on before it.
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

/// Anything fetchable by its id alone with `node(id:)` (Relay's object identification). Ids are
/// UUIDs, unique across every type, and the same ids REST uses.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Unique across every type; the id REST uses too"))]
pub enum Node {
    Product(Product),
    Order(Box<orders::OrderGql>),
    Cart(Box<carts::Cart>),
}

#[derive(SimpleObject)]
pub struct ProductEdge {
    pub cursor: String,
    pub node: Product,
}

#[derive(SimpleObject)]
pub struct ProductConnection {
    pub edges: Vec<ProductEdge>,
    pub page_info: PageInfo,
    pub total_count: i32,
    pub facets: Vec<Facet>,
}

#[derive(SimpleObject)]
pub struct Ingredient {
    pub inci: String,
    pub allergen: bool,
    pub everyday_names: Vec<String>,
}

#[derive(SimpleObject)]
pub struct Shade {
    pub name: String,
    pub hex: String,
    pub undertone: String,
    pub depth: i32,
}

#[derive(SimpleObject)]
pub struct Variant {
    pub sku: String,
    pub gtin: Option<String>,
    /// e.g. "30 ml".
    pub size: Option<String>,
    pub shade: Option<Shade>,
    pub scent: Option<String>,
    pub price: Money,
    pub compare_at_price: Option<Money>,
    /// What the storefront shows of its stock.
    pub availability: crate::availability::StockStatus,
}

#[derive(SimpleObject)]
pub struct Certification {
    pub kind: String,
    pub body: String,
    pub expires_on: String,
}

#[derive(SimpleObject)]
pub struct BrandRef {
    pub slug: String,
    pub name: String,
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Category {
    pub slug: String,
    pub name: String,
    pub product_count: i32,
    #[graphql(skip)]
    id: uuid::Uuid,
}

#[ComplexObject]
impl Category {
    async fn children(&self, ctx: &Context<'_>) -> Vec<Category> {
        categories(ctx, Some(self.id))
    }
}

fn categories(ctx: &Context<'_>, parent: Option<uuid::Uuid>) -> Vec<Category> {
    let index = ctx.data_unchecked::<Arc<CatalogIndex>>();
    index
        .categories()
        .into_iter()
        .filter(|(c, _)| c.parent_id == parent)
        .map(|(c, n)| Category { slug: c.slug.to_string(), name: c.name, product_count: n as i32, id: c.id })
        .collect()
}

/// A listed product.
pub struct Product(Arc<IndexedProduct>);

#[Object]
impl Product {
    pub async fn id(&self) -> ID {
        self.0.view.id.into()
    }
    async fn slug(&self) -> &str {
        &self.0.view.slug
    }
    async fn name(&self) -> &str {
        &self.0.view.name
    }
    async fn brand(&self) -> BrandRef {
        BrandRef { slug: self.0.view.brand.slug.clone(), name: self.0.view.brand.name.clone() }
    }
    async fn product_type(&self) -> &str {
        self.0.view.product_type.as_str()
    }
    /// Category names from the top of the tree down.
    async fn category_path(&self) -> Vec<String> {
        self.0.view.category.as_ref().map(|c| c.path.clone()).unwrap_or_default()
    }
    async fn description(&self) -> &str {
        &self.0.view.description
    }
    async fn price_from(&self) -> Option<Money> {
        self.0.view.price_from.map(Money::from)
    }
    /// From approved reviews; null before the first.
    async fn rating(&self) -> Option<ProductRating> {
        self.0.view.rating.as_ref().map(|r| ProductRating { average: r.average, count: r.count })
    }
    async fn variants(&self, ctx: &Context<'_>) -> Vec<Variant> {
        let stock = ctx.data_unchecked::<Arc<crate::availability::StockBoard>>();
        self.0
            .view
            .variants
            .iter()
            .map(|v| Variant {
                sku: v.sku.to_string(),
                gtin: v.gtin.as_ref().map(|g| g.to_string()),
                size: v.size.as_ref().map(|s| s.to_string()),
                shade: v.shade.as_ref().map(|s| Shade {
                    name: s.name.clone(),
                    hex: s.hex.to_string(),
                    undertone: s.undertone.as_str().to_owned(),
                    depth: i32::from(s.depth),
                }),
                scent: v.scent.clone(),
                price: v.price.into(),
                compare_at_price: v.compare_at_price.map(Money::from),
                availability: stock.status(v.sku.as_str()),
            })
            .collect()
    }
    async fn ingredients(&self) -> Vec<Ingredient> {
        self.0
            .view
            .ingredients
            .iter()
            .map(|i| Ingredient {
                inci: i.inci.clone(),
                allergen: i.allergen,
                everyday_names: i.everyday_names.clone(),
            })
            .collect()
    }
    async fn free_from(&self) -> &[String] {
        &self.0.view.free_from
    }
    async fn certifications(&self) -> Vec<Certification> {
        self.0
            .view
            .certifications
            .iter()
            .map(|c| Certification {
                kind: c.kind.as_str().into(),
                body: c.body.clone(),
                expires_on: c.expires_on.to_string(),
            })
            .collect()
    }
    async fn skin_types(&self) -> Vec<&str> {
        self.0.view.skin_types.iter().map(|s| s.as_str()).collect()
    }
    async fn concerns(&self) -> Vec<&str> {
        self.0.view.concerns.iter().map(|s| s.as_str()).collect()
    }
    async fn hair_types(&self) -> Vec<&str> {
        self.0.view.hair_types.iter().map(|s| s.as_str()).collect()
    }
    async fn spf(&self) -> Option<u16> {
        self.0.view.spf
    }
    async fn pao_months(&self) -> Option<u16> {
        self.0.view.pao_months
    }
    /// Staff-defined attributes as a JSON object.
    async fn attributes(&self) -> async_graphql::Json<std::collections::BTreeMap<String, serde_json::Value>> {
        async_graphql::Json(self.0.view.attributes.clone())
    }
}

#[derive(Default)]
pub struct CatalogQuery;

/// Every query: the catalogue (and the customer's and staff's reads), shade matching.
#[derive(MergedObject, Default)]
pub struct Query(
    CatalogQuery,
    shades::ShadeQuery,
    promotions::PromotionQuery,
    reviews::ReviewQuery,
    recommendations::RecommendationQuery,
    webhooks::WebhookQuery,
    subscriptions::SubscriptionQuery,
);

fn invalid(errors: Vec<rouge_catalog::FieldError>) -> async_graphql::Error {
    crate::error::ApiError::BadQuery(errors).into_graphql()
}

#[Object]
impl CatalogQuery {
    /// Products matching the filter, as a Relay connection with facets over the filtered set.
    #[graphql(complexity = "first.unwrap_or(24).clamp(1, 100) as usize * child_complexity")]
    async fn products(
        &self,
        ctx: &Context<'_>,
        filter: Option<ProductFilter>,
        first: Option<i32>,
        after: Option<String>,
        sort: Option<ProductSort>,
        #[graphql(desc = "With a customer token: leave out what her profile avoids, suited products first")]
        for_me: Option<bool>,
    ) -> async_graphql::Result<ProductConnection> {
        let index = ctx.data_unchecked::<Arc<CatalogIndex>>();
        let mut pairs = filter.unwrap_or_default().pairs();
        if let Some(first) = first {
            pairs.push(("limit", first.to_string()));
        }
        let has_previous_page = after.is_some();
        if let Some(after) = after {
            pairs.push(("cursor", after));
        }
        if let Some(sort) = sort {
            let s = match sort {
                ProductSort::Relevance => "relevance",
                ProductSort::PriceAsc => "price_asc",
                ProductSort::PriceDesc => "price_desc",
                ProductSort::Newest => "newest",
                ProductSort::Name => "name",
                ProductSort::Suitability => "suitability",
                ProductSort::Rating => "rating",
            };
            pairs.push(("sort", s.to_owned()));
        }
        if for_me == Some(true) {
            pairs.push(("for_me", "true".to_owned()));
        }
        let mut query = ListQuery::parse(pairs.iter().map(|(k, v)| (*k, v.as_str()))).map_err(invalid)?;
        if query.for_me {
            let profile = accounts::profile(ctx).await?;
            query.exclude_ingredients.extend(profile.avoid_ingredients);
            query.prefer_skin_types.extend(profile.skin_type);
            query.prefer_concerns.extend(profile.concerns);
            query.prefer_shade = profile.shade.map(|s| (s.undertone, s.depth));
        }
        let listing = index.list(&query).map_err(invalid)?;
        let edges = listing
            .items
            .iter()
            .zip(&listing.positions)
            .map(|(p, pos)| ProductEdge { cursor: Cursor::encode(pos).into_string(), node: Product(p.clone()) })
            .collect::<Vec<_>>();
        Ok(ProductConnection {
            page_info: PageInfo {
                has_next_page: listing.next_cursor.is_some(),
                has_previous_page,
                start_cursor: edges.first().map(|e| e.cursor.clone()),
                end_cursor: edges.last().map(|e| e.cursor.clone()),
            },
            edges,
            total_count: listing.total as i32,
            facets: listing
                .facets
                .into_iter()
                .map(|(name, values)| Facet {
                    name: name.to_owned(),
                    values: values.into_iter().map(|v| FacetValue { value: v.value, count: v.count as i32 }).collect(),
                })
                .collect(),
        })
    }

    /// The logged-in customer (from the bearer token); `UNAUTHENTICATED` without one.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<accounts::Customer> {
        accounts::me(ctx).await
    }

    /// The logged-in customer's orders, newest first, as a Relay connection (the cursors of
    /// `GET /v1/me/orders`).
    async fn my_orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<orders::OrderConnection> {
        orders::my_orders(ctx, first, after).await
    }

    /// One of the logged-in customer's orders; another's is `NOT_FOUND`.
    async fn my_order(&self, ctx: &Context<'_>, id: uuid::Uuid) -> async_graphql::Result<orders::OrderGql> {
        orders::my_order(ctx, id).await
    }

    /// Staff (`orders:read`): orders, newest first, optionally of one status, as a Relay
    /// connection (the cursors of `GET /v1/admin/orders`).
    async fn orders(
        &self,
        ctx: &Context<'_>,
        status: Option<String>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<orders::OrderConnection> {
        orders::staff_orders(ctx, status, first, after).await
    }

    /// Any object by its id: a listed product, a cart the caller may see, or an order she may
    /// see (her own, or any with `orders:read`); null for anything else.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Node>> {
        let Ok(id) = uuid::Uuid::parse_str(&id) else { return Ok(None) };
        if let Some(p) = ctx.data_unchecked::<Arc<CatalogIndex>>().product_by_id(&id) {
            return Ok(Some(Node::Product(Product(p))));
        }
        if let Some(cart) = carts::node(ctx, id).await? {
            return Ok(Some(Node::Cart(Box::new(cart))));
        }
        Ok(orders::node(ctx, id).await?.map(|o| Node::Order(Box::new(o))))
    }

    /// The shopper's cart (a guest's by its id alone; a customer's only with her token).
    async fn cart(&self, ctx: &Context<'_>, id: uuid::Uuid) -> async_graphql::Result<carts::Cart> {
        carts::cart(ctx, id).await
    }

    /// One listed product by slug.
    async fn product(&self, ctx: &Context<'_>, slug: String) -> Option<Product> {
        ctx.data_unchecked::<Arc<CatalogIndex>>().product(&slug).map(Product)
    }

    /// The top of the category tree; each category lists its children.
    async fn categories(&self, ctx: &Context<'_>) -> Vec<Category> {
        categories(ctx, None)
    }

    async fn brands(&self, ctx: &Context<'_>) -> Vec<BrandRef> {
        ctx.data_unchecked::<Arc<CatalogIndex>>()
            .brands()
            .into_iter()
            .map(|(b, _)| BrandRef { slug: b.slug.to_string(), name: b.name })
            .collect()
    }
}
