//! Orders in GraphQL: a customer's own (`myOrders`, `myOrder`, `requestReturn`) and staff's
//! (`orders`, `transitionOrder`), with the same rules as REST: a customer sees only her
//! orders (another's is "not found"), staff fields need the same permissions as the routes.

use crate::error::ApiError;
use crate::graphql::accounts::{Caller, customer_id};
use crate::state::{AppState, Store};
use async_graphql::{Context, Json, SimpleObject};
use futures::future::BoxFuture;
use rouge_identity::{Permission, Principal};
use rouge_orders::{Command, OrderFilter, OrderView, OrdersError, Status, TimelineEntry};
use uuid::Uuid;

/// The order operations GraphQL needs, without naming the store type.
pub trait Commerce: Send + Sync {
    fn orders(&self, filter: OrderFilter) -> BoxFuture<'_, Result<Vec<OrderView>, OrdersError>>;
    /// One of the customer's own orders.
    fn order(&self, customer: Uuid, id: Uuid) -> BoxFuture<'_, Result<OrderView, OrdersError>>;
    fn transition(
        &self,
        customer: Option<Uuid>,
        id: Uuid,
        cmd: Command,
    ) -> BoxFuture<'_, Result<OrderView, OrdersError>>;
    /// A staff member's transition, written to the audit trail like the REST route's.
    fn staff_transition(
        &self,
        by: Principal,
        address: String,
        id: Uuid,
        cmd: Command,
    ) -> BoxFuture<'_, Result<OrderView, OrdersError>>;
    /// Any order, for staff.
    fn staff_order(&self, id: Uuid) -> BoxFuture<'_, Result<OrderView, OrdersError>>;
    /// The staff member or API key behind a bearer credential.
    fn staff<'a>(&'a self, bearer: &'a str) -> BoxFuture<'a, Option<Principal>>;
}

impl<S: Store> Commerce for AppState<S> {
    fn orders(&self, filter: OrderFilter) -> BoxFuture<'_, Result<Vec<OrderView>, OrdersError>> {
        Box::pin(async move {
            let mut out = vec![];
            for o in self.orders.orders(&filter).await? {
                out.push(self.orders.order(rouge_orders::Access::Staff, o.id).await?);
            }
            Ok(out)
        })
    }

    fn order(&self, customer: Uuid, id: Uuid) -> BoxFuture<'_, Result<OrderView, OrdersError>> {
        Box::pin(self.orders.order(rouge_orders::Access::Owner(customer), id))
    }

    fn staff_order(&self, id: Uuid) -> BoxFuture<'_, Result<OrderView, OrdersError>> {
        Box::pin(self.orders.order(rouge_orders::Access::Staff, id))
    }

    fn transition(
        &self,
        customer: Option<Uuid>,
        id: Uuid,
        cmd: Command,
    ) -> BoxFuture<'_, Result<OrderView, OrdersError>> {
        Box::pin(async move {
            let caller = customer.map(|c| rouge_orders::Caller { customer: Some(c) });
            let view = self.orders.transition(caller, id, &cmd, None).await?;
            Ok(view)
        })
    }

    fn staff_transition(
        &self,
        by: Principal,
        address: String,
        id: Uuid,
        cmd: Command,
    ) -> BoxFuture<'_, Result<OrderView, OrdersError>> {
        // Audited under the REST route of the same change, so one filter finds both.
        let route = "/v1/admin/orders/{id}/transitions";
        let path = route.replace("{id}", &id.to_string());
        let scope = crate::audit::scope(&by, address, &axum::http::Method::POST, route, path);
        Box::pin(rouge_identity::audit::within(scope, self.transition(None, id, cmd)))
    }

    fn staff<'a>(&'a self, bearer: &'a str) -> BoxFuture<'a, Option<Principal>> {
        // The same resolution as the admin routes' (API keys, staff tokens, the issuer's).
        Box::pin(async move { crate::authz::principal(self, bearer).await.ok() })
    }
}

fn commerce<'a>(ctx: &Context<'a>) -> &'a std::sync::Arc<dyn Commerce> {
    ctx.data_unchecked::<std::sync::Arc<dyn Commerce>>()
}

/// An orders error as GraphQL reports it: the same problem as REST's.
pub fn gql_error(e: OrdersError) -> async_graphql::Error {
    crate::error::ApiError::from(e).into_graphql()
}

/// The staff member behind the request, holding `p`; `UNAUTHENTICATED` or `FORBIDDEN` otherwise.
pub(super) async fn staff(ctx: &Context<'_>, p: Permission) -> async_graphql::Result<Principal> {
    let bearer = ctx.data_opt::<Caller>().and_then(|c| c.bearer.clone());
    let Some(principal) = (match bearer {
        Some(b) => commerce(ctx).staff(&b).await,
        None => None,
    }) else {
        return Err(ApiError::Unauthorized("staff fields need a staff token or API key".into()).into_graphql());
    };
    if !principal.may(p) {
        return Err(ApiError::Forbidden(format!("this needs the `{}` permission", p.as_str())).into_graphql());
    }
    Ok(principal)
}

#[derive(SimpleObject)]
pub struct OrderLineGql {
    pub sku: String,
    pub name: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub total: i64,
    /// The promotions' share of this line.
    pub discount: i64,
    pub tax: i64,
    /// For a gift or sample a promotion added: that promotion.
    pub promotion_id: Option<Uuid>,
}

#[derive(SimpleObject)]
#[graphql(name = "Order", complex)]
pub struct OrderGql {
    #[graphql(skip)]
    pub id: Uuid,
    pub number: i64,
    pub status: String,
    pub customer_id: Option<Uuid>,
    pub currency: String,
    pub subtotal: i64,
    /// What promotions took off the lines.
    pub discount: i64,
    pub shipping: i64,
    pub tax: i64,
    pub total: i64,
    pub lines: Vec<OrderLineGql>,
    /// The promotions that applied, and why.
    pub promotions: Vec<super::promotions::AppliedPromotion>,
    pub email: Option<String>,
    /// When the order was placed (RFC 3339 `DateTime`, not a 64-bit number a JavaScript client
    /// would round).
    pub placed_at: chrono::DateTime<chrono::Utc>,
    pub version: i64,
    /// Every event of the order, oldest first.
    pub timeline: Json<Vec<TimelineEntry>>,
}

#[async_graphql::ComplexObject]
impl OrderGql {
    /// Also the order's id in REST and for `node(id:)`.
    pub async fn id(&self) -> async_graphql::ID {
        self.id.into()
    }
}

impl From<OrderView> for OrderGql {
    fn from(v: OrderView) -> Self {
        let o = v.order;
        OrderGql {
            id: o.id,
            number: o.number,
            status: o.status.as_str().to_owned(),
            customer_id: o.customer_id,
            currency: o.currency,
            subtotal: o.totals.subtotal,
            discount: o.totals.discount,
            shipping: o.totals.shipping,
            tax: o.totals.tax,
            total: o.totals.total,
            lines: o
                .lines
                .into_iter()
                .map(|l| OrderLineGql {
                    sku: l.sku,
                    name: l.name,
                    quantity: l.quantity,
                    unit_price: l.unit_price,
                    total: l.total,
                    discount: l.discount,
                    tax: l.tax,
                    promotion_id: l.promotion_id,
                })
                .collect(),
            promotions: o.promotions.iter().map(super::promotions::applied).collect(),
            email: v.email,
            placed_at: chrono::DateTime::from_timestamp_millis(o.placed_at).unwrap_or_default(),
            version: o.version,
            timeline: Json(v.timeline),
        }
    }
}

fn bad_argument(field: &str, code: &'static str, message: String) -> async_graphql::Error {
    ApiError::BadQuery(vec![rouge_catalog::FieldError { field: field.into(), code, message }]).into_graphql()
}

fn first(first: Option<i32>) -> async_graphql::Result<i64> {
    let n = first.unwrap_or(20);
    if !(1..=100).contains(&n) {
        return Err(bad_argument("first", "out_of_range", "1 to 100".into()));
    }
    Ok(i64::from(n))
}

/// A page of orders as a Relay connection: `first` after the cursor `after` (the same opaque
/// cursors as `GET /v1/me/orders` and `/v1/admin/orders` give), newest first.
#[derive(SimpleObject)]
pub struct OrderConnection {
    pub edges: Vec<OrderEdge>,
    pub page_info: crate::graphql::PageInfo,
}

#[derive(SimpleObject)]
pub struct OrderEdge {
    pub cursor: String,
    pub node: OrderGql,
}

async fn connection(
    ctx: &Context<'_>,
    mut filter: OrderFilter,
    n: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<OrderConnection> {
    let has_previous_page = after.is_some();
    if let Some(a) = after {
        let before =
            crate::page::position::<i64>("orders", &a).map_err(|e| bad_argument("after", e.code, e.message))?;
        filter.before_number = Some(before);
    }
    let limit = first(n)?;
    // One more than asked: whether there is a next page, without a second query.
    filter.limit = limit + 1;
    let mut views = commerce(ctx).orders(filter).await.map_err(gql_error)?;
    let has_next_page = views.len() as i64 > limit;
    views.truncate(limit as usize);
    let edges: Vec<OrderEdge> = views
        .into_iter()
        .map(|v| OrderEdge { cursor: crate::page::cursor_after("orders", v.order.number), node: v.into() })
        .collect();
    let page_info = crate::graphql::PageInfo {
        has_next_page,
        has_previous_page,
        start_cursor: edges.first().map(|e| e.cursor.clone()),
        end_cursor: edges.last().map(|e| e.cursor.clone()),
    };
    Ok(OrderConnection { edges, page_info })
}

pub async fn my_orders(
    ctx: &Context<'_>,
    n: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<OrderConnection> {
    let me = customer_id(ctx).await?;
    connection(ctx, OrderFilter { customer_id: Some(me), ..OrderFilter::default() }, n, after).await
}

pub async fn my_order(ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<OrderGql> {
    let me = customer_id(ctx).await?;
    commerce(ctx).order(me, id).await.map(OrderGql::from).map_err(gql_error)
}

/// The order `id` for `node(id:)`: a customer's own, or any for staff with `orders:read`.
pub async fn node(ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<Option<OrderGql>> {
    let found = if let Ok(me) = customer_id(ctx).await {
        commerce(ctx).order(me, id).await
    } else if staff(ctx, Permission::OrdersRead).await.is_ok() {
        commerce(ctx).staff_order(id).await
    } else {
        return Ok(None);
    };
    match found {
        Ok(view) => Ok(Some(view.into())),
        Err(OrdersError::NotFound(_)) => Ok(None),
        Err(e) => Err(gql_error(e)),
    }
}

pub async fn staff_orders(
    ctx: &Context<'_>,
    status: Option<String>,
    n: Option<i32>,
    after: Option<String>,
) -> async_graphql::Result<OrderConnection> {
    staff(ctx, Permission::OrdersRead).await?;
    let status = match status {
        Some(s) => Some(
            Status::parse(&s)
                .ok_or_else(|| bad_argument("status", "unknown", format!("`{s}` is not an order status")))?,
        ),
        None => None,
    };
    connection(ctx, OrderFilter { status, ..OrderFilter::default() }, n, after).await
}

pub async fn request_return(
    ctx: &Context<'_>,
    order: Uuid,
    lines: Json<Vec<rouge_orders::Units>>,
    reason: String,
) -> async_graphql::Result<OrderGql> {
    let me = customer_id(ctx).await?;
    let cmd = Command::RequestReturn { lines: lines.0, reason };
    commerce(ctx).transition(Some(me), order, cmd).await.map(OrderGql::from).map_err(gql_error)
}

pub async fn transition_order(
    ctx: &Context<'_>,
    order: Uuid,
    command: Json<Command>,
) -> async_graphql::Result<OrderGql> {
    let needed =
        if matches!(command.0, Command::Refund { .. }) { Permission::OrdersRefund } else { Permission::OrdersWrite };
    let by = staff(ctx, needed).await?;
    let address = ctx.data_opt::<Caller>().map_or_else(|| "unknown".to_owned(), |c| c.address.clone());
    commerce(ctx).staff_transition(by, address, order, command.0).await.map(OrderGql::from).map_err(gql_error)
}
