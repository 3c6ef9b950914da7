//! An order is the sequence of its events; its state is their projection. Commands are
//! decided against the current state: a valid one yields new events, an invalid one a
//! [`TransitionError`] that names what the order's state allows.

use crate::pricing::Totals;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderLine {
    pub sku: String,
    pub product_id: Uuid,
    pub name: String,
    pub quantity: i64,
    /// Minor units, in the channel's price basis.
    pub unit_price: i64,
    pub total: i64,
    /// The promotions' share of this line (the line was paid `total - discount`, plus `tax`
    /// where prices exclude it).
    #[serde(default)]
    pub discount: i64,
    pub tax: i64,
    pub tax_rate_bp: u32,
    /// For a gift or a sample a promotion added (free): that promotion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_id: Option<Uuid>,
}

/// Units of a SKU, as shipped or returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Units {
    pub sku: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderEvent {
    Placed {
        customer_id: Option<Uuid>,
        cart_id: Uuid,
        currency: String,
        lines: Vec<OrderLine>,
        totals: Totals,
        shipping_method: String,
        /// Destination country and region (for tax); the full address is sealed on the order.
        country: String,
        region: Option<String>,
        reservation_id: Uuid,
        /// The promotions that applied, and why.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        promotions: Vec<rouge_promotions::Applied>,
        /// Their budgets' hold, spent by this order (given back if it is cancelled).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        promotion_hold: Option<Uuid>,
    },
    PaymentAuthorized {
        provider: String,
        payment_id: String,
        amount: i64,
    },
    PaymentCaptured {
        amount: i64,
    },
    Shipped {
        shipment_id: Uuid,
        carrier: String,
        tracking: String,
        lines: Vec<Units>,
    },
    Delivered,
    Cancelled {
        reason: String,
    },
    ReturnRequested {
        return_id: Uuid,
        lines: Vec<Units>,
        reason: String,
        /// What the customer paid for these units (their share of each line after its
        /// discount): the refund this return calls for.
        #[serde(default)]
        refund_due: i64,
    },
    ReturnReceived {
        return_id: Uuid,
        /// Back to sellable stock; otherwise (opened beauty products) to quarantine.
        restock: bool,
    },
    Refunded {
        refund_id: String,
        amount: i64,
    },
}

impl OrderEvent {
    pub fn kind(&self) -> &'static str {
        match self {
            OrderEvent::Placed { .. } => "order.placed",
            OrderEvent::PaymentAuthorized { .. } => "order.payment_authorized",
            OrderEvent::PaymentCaptured { .. } => "order.payment_captured",
            OrderEvent::Shipped { .. } => "order.shipped",
            OrderEvent::Delivered => "order.delivered",
            OrderEvent::Cancelled { .. } => "order.cancelled",
            OrderEvent::ReturnRequested { .. } => "order.return_requested",
            OrderEvent::ReturnReceived { .. } => "order.return_received",
            OrderEvent::Refunded { .. } => "order.refunded",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Placed, waiting for the payment's authorization.
    Placed,
    /// Money held; ready to capture.
    Authorized,
    /// Money taken; ready to ship.
    Paid,
    PartiallyShipped,
    Shipped,
    Delivered,
    Cancelled,
    ReturnRequested,
    Returned,
    Refunded,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Placed => "placed",
            Status::Authorized => "authorized",
            Status::Paid => "paid",
            Status::PartiallyShipped => "partially_shipped",
            Status::Shipped => "shipped",
            Status::Delivered => "delivered",
            Status::Cancelled => "cancelled",
            Status::ReturnRequested => "return_requested",
            Status::Returned => "returned",
            Status::Refunded => "refunded",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        use Status::*;
        [Placed, Authorized, Paid, PartiallyShipped, Shipped, Delivered, Cancelled, ReturnRequested, Returned, Refunded]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
pub struct PaymentState {
    pub provider: String,
    pub payment_id: String,
    pub authorized: i64,
    pub captured: i64,
    pub refunded: i64,
}

/// One step of the order's life, as the customer and staff see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntry {
    pub seq: i64,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    #[schema(value_type = Object)]
    pub event: OrderEvent,
}

/// The projection of an order's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Order {
    pub id: Uuid,
    /// Human-friendly, increasing (assigned by the store when placed).
    pub number: i64,
    pub customer_id: Option<Uuid>,
    pub cart_id: Uuid,
    pub status: Status,
    pub currency: String,
    pub lines: Vec<OrderLine>,
    pub totals: Totals,
    pub shipping_method: String,
    pub country: String,
    pub region: Option<String>,
    pub reservation_id: Uuid,
    /// The promotions that applied, and why.
    #[serde(default)]
    pub promotions: Vec<rouge_promotions::Applied>,
    /// Their budgets' hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_hold: Option<Uuid>,
    pub payment: Option<PaymentState>,
    pub shipped: Vec<Units>,
    pub returned: Vec<Units>,
    /// Returns requested and not yet received.
    pub open_returns: Vec<Uuid>,
    /// Milliseconds since the Unix epoch.
    pub placed_at: i64,
    pub updated_at: i64,
    /// The sequence number of the last event applied.
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TransitionError(pub String);

/// What staff or the customer ask of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Command {
    /// Take the authorized money.
    Capture,
    /// Ship units (all that remain when `lines` is omitted).
    Ship {
        carrier: String,
        tracking: String,
        lines: Option<Vec<Units>>,
    },
    MarkDelivered,
    /// Cancel before anything shipped: the stock goes back, the payment is voided or refunded.
    Cancel {
        reason: String,
    },
    RequestReturn {
        lines: Vec<Units>,
        reason: String,
    },
    /// The parcel came back; `restock` puts opened products back on sale (default: quarantine).
    ReceiveReturn {
        return_id: Uuid,
        restock: bool,
    },
    /// Give money back (part or all of what was captured).
    Refund {
        amount: i64,
    },
}

fn count(units: &[Units], sku: &str) -> i64 {
    units.iter().filter(|u| u.sku == sku).map(|u| u.quantity).sum()
}

fn add(units: &mut Vec<Units>, more: &[Units]) {
    for m in more {
        match units.iter_mut().find(|u| u.sku == m.sku) {
            Some(u) => u.quantity += m.quantity,
            None => units.push(m.clone()),
        }
    }
}

impl Order {
    /// The order as its first event describes it.
    ///
    /// # Errors
    /// When the first event is not `Placed`.
    pub fn start(id: Uuid, number: i64, first: &OrderEvent, at: i64) -> Result<Order, TransitionError> {
        let OrderEvent::Placed {
            customer_id,
            cart_id,
            currency,
            lines,
            totals,
            shipping_method,
            country,
            region,
            reservation_id,
            promotions,
            promotion_hold,
        } = first
        else {
            return Err(TransitionError("an order starts with `placed`".into()));
        };
        Ok(Order {
            id,
            number,
            customer_id: *customer_id,
            cart_id: *cart_id,
            status: Status::Placed,
            currency: currency.clone(),
            lines: lines.clone(),
            totals: *totals,
            shipping_method: shipping_method.clone(),
            country: country.clone(),
            region: region.clone(),
            reservation_id: *reservation_id,
            promotions: promotions.clone(),
            promotion_hold: *promotion_hold,
            payment: None,
            shipped: vec![],
            returned: vec![],
            open_returns: vec![],
            placed_at: at,
            updated_at: at,
            version: 1,
        })
    }

    /// Rebuilds an order from all its events, oldest first.
    ///
    /// # Errors
    /// When the history is empty or does not start with `Placed`.
    pub fn replay(id: Uuid, number: i64, events: &[TimelineEntry]) -> Result<Order, TransitionError> {
        let first = events.first().ok_or_else(|| TransitionError("no events".into()))?;
        let mut o = Order::start(id, number, &first.event, first.at)?;
        for e in &events[1..] {
            o.apply(&e.event, e.at);
        }
        Ok(o)
    }

    pub fn ordered(&self, sku: &str) -> i64 {
        self.lines.iter().filter(|l| l.sku == sku).map(|l| l.quantity).sum()
    }

    fn all_shipped(&self) -> bool {
        self.lines.iter().all(|l| count(&self.shipped, &l.sku) >= l.quantity)
    }

    /// Applies an event that was decided (or is being replayed).
    pub fn apply(&mut self, e: &OrderEvent, at: i64) {
        match e {
            OrderEvent::Placed { .. } => {}
            OrderEvent::PaymentAuthorized { provider, payment_id, amount } => {
                self.payment = Some(PaymentState {
                    provider: provider.clone(),
                    payment_id: payment_id.clone(),
                    authorized: *amount,
                    ..PaymentState::default()
                });
                self.status = Status::Authorized;
            }
            OrderEvent::PaymentCaptured { amount } => {
                if let Some(p) = self.payment.as_mut() {
                    p.captured += amount;
                }
                self.status = Status::Paid;
            }
            OrderEvent::Shipped { lines, .. } => {
                add(&mut self.shipped, lines);
                self.status = if self.all_shipped() { Status::Shipped } else { Status::PartiallyShipped };
            }
            OrderEvent::Delivered => self.status = Status::Delivered,
            OrderEvent::Cancelled { .. } => self.status = Status::Cancelled,
            OrderEvent::ReturnRequested { return_id, lines, .. } => {
                add(&mut self.returned, lines);
                self.open_returns.push(*return_id);
                self.status = Status::ReturnRequested;
            }
            OrderEvent::ReturnReceived { return_id, .. } => {
                self.open_returns.retain(|r| r != return_id);
                self.status = Status::Returned;
            }
            OrderEvent::Refunded { amount, .. } => {
                if let Some(p) = self.payment.as_mut() {
                    p.refunded += amount;
                    if p.refunded >= p.captured && !matches!(self.status, Status::Cancelled) {
                        self.status = Status::Refunded;
                    }
                }
            }
        }
        self.version += 1;
        self.updated_at = at;
    }

    /// What the customer paid for `units` not returned before: each line's paid amount (after
    /// its discount; with its tax where prices exclude it) shared over its units so that the
    /// shares of all its units add up to it exactly (the last unit returned takes the rounding).
    pub fn paid_for(&self, units: &[Units]) -> i64 {
        let t = &self.totals;
        let exclusive = t.total != t.subtotal - t.discount + t.shipping;
        let mut due = 0;
        for u in units {
            let Some(line) = self.lines.iter().find(|l| l.sku == u.sku && l.promotion_id.is_none()) else { continue };
            let paid = i128::from(line.total - line.discount + if exclusive { line.tax } else { 0 });
            let n = i128::from(line.quantity.max(1));
            let share = |m: i64| (paid * i128::from(m.clamp(0, line.quantity))) / n;
            let before = count(&self.returned, &u.sku);
            due += (share(before + u.quantity) - share(before)) as i64;
        }
        due
    }

    fn refuse<T>(&self, what: &str) -> Result<T, TransitionError> {
        Err(TransitionError(format!("cannot {what}: the order is {}", self.status.as_str())))
    }

    /// The events a command calls for. Payment-side effects (capturing, refunding through the
    /// provider) are the service's; here only whether the order's state allows it.
    ///
    /// # Errors
    /// When the order's state does not allow the command, or its quantities or amounts do not fit.
    pub fn decide(&self, cmd: &Command) -> Result<Vec<OrderEvent>, TransitionError> {
        use Status::*;
        let captured = self.payment.as_ref().map_or(0, |p| p.captured);
        let refunded = self.payment.as_ref().map_or(0, |p| p.refunded);
        match cmd {
            Command::Capture => match self.status {
                Authorized => {
                    let amount = self.payment.as_ref().map_or(0, |p| p.authorized);
                    Ok(vec![OrderEvent::PaymentCaptured { amount }])
                }
                _ => self.refuse("capture"),
            },
            Command::Ship { carrier, tracking, lines } => {
                if !matches!(self.status, Paid | PartiallyShipped) {
                    return self.refuse("ship (capture the payment first)");
                }
                if carrier.trim().is_empty() || tracking.trim().is_empty() {
                    return Err(TransitionError("a shipment needs a carrier and a tracking number".into()));
                }
                let lines: Vec<Units> = match lines {
                    Some(l) => l.clone(),
                    None => self
                        .lines
                        .iter()
                        .map(|l| Units { sku: l.sku.clone(), quantity: l.quantity - count(&self.shipped, &l.sku) })
                        .filter(|u| u.quantity > 0)
                        .collect(),
                };
                if lines.is_empty() {
                    return Err(TransitionError("nothing left to ship".into()));
                }
                if lines.iter().any(|u| u.quantity <= 0) {
                    return Err(TransitionError("shipped quantities must be positive".into()));
                }
                let mut seen: Vec<Units> = vec![];
                add(&mut seen, &lines);
                for u in &seen {
                    let left = self.ordered(&u.sku) - count(&self.shipped, &u.sku);
                    if u.quantity <= 0 || u.quantity > left {
                        return Err(TransitionError(format!(
                            "{} units of {} cannot ship: {left} left",
                            u.quantity, u.sku
                        )));
                    }
                }
                Ok(vec![OrderEvent::Shipped {
                    shipment_id: rouge_kernel::new_id(),
                    carrier: carrier.trim().to_owned(),
                    tracking: tracking.trim().to_owned(),
                    lines: seen,
                }])
            }
            Command::MarkDelivered => match self.status {
                Shipped => Ok(vec![OrderEvent::Delivered]),
                _ => self.refuse("mark delivered"),
            },
            Command::Cancel { reason } => match self.status {
                Placed | Authorized | Paid => {
                    let mut ev = vec![OrderEvent::Cancelled { reason: reason.clone() }];
                    if captured > refunded {
                        ev.push(OrderEvent::Refunded { refund_id: String::new(), amount: captured - refunded });
                    }
                    Ok(ev)
                }
                _ => self.refuse("cancel"),
            },
            Command::RequestReturn { lines, reason } => {
                if !matches!(self.status, Shipped | Delivered | Returned) {
                    return self.refuse("return");
                }
                if lines.is_empty() || reason.trim().is_empty() {
                    return Err(TransitionError("a return names its units and a reason".into()));
                }
                if lines.iter().any(|u| u.quantity <= 0) {
                    return Err(TransitionError("return quantities must be positive".into()));
                }
                let mut merged: Vec<Units> = vec![];
                add(&mut merged, lines);
                for u in &merged {
                    let open = count(&self.shipped, &u.sku) - count(&self.returned, &u.sku);
                    if u.quantity > open {
                        return Err(TransitionError(format!(
                            "{} units of {} cannot return: {open} kept",
                            u.quantity, u.sku
                        )));
                    }
                }
                let refund_due = self.paid_for(&merged);
                Ok(vec![OrderEvent::ReturnRequested {
                    return_id: rouge_kernel::new_id(),
                    lines: merged,
                    reason: reason.trim().to_owned(),
                    refund_due,
                }])
            }
            Command::ReceiveReturn { return_id, restock } => {
                if !self.open_returns.contains(return_id) {
                    return Err(TransitionError(format!("no open return {return_id}")));
                }
                Ok(vec![OrderEvent::ReturnReceived { return_id: *return_id, restock: *restock }])
            }
            Command::Refund { amount } => {
                if matches!(self.status, Placed | Authorized) || captured == 0 {
                    return self.refuse("refund (nothing was captured)");
                }
                if *amount <= 0 || *amount > captured - refunded {
                    return Err(TransitionError(format!(
                        "a refund must be between 1 and {} (captured less refunded)",
                        captured - refunded
                    )));
                }
                Ok(vec![OrderEvent::Refunded { refund_id: String::new(), amount: *amount }])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn returns_are_refunded_what_the_units_cost_after_their_discount() {
        let mut o = placed();
        // A: 3 × 10.00 with 10.00 off the line: 20.00 paid, 6.66 + 6.67 + 6.67 by return order.
        o.lines[0].discount = 1000;
        o.totals.discount = 1000;
        o.totals.total = 3000;
        let u = |q| vec![Units { sku: "A".into(), quantity: q }];
        assert_eq!(o.paid_for(&u(1)), 666);
        o.returned = u(1);
        assert_eq!(o.paid_for(&u(2)), 1334, "all units' shares add up to what was paid");
        assert_eq!(o.paid_for(&[Units { sku: "B".into(), quantity: 1 }]), 1000);
        // Where prices exclude tax, the line's tax was paid too.
        o.lines[1].tax = 80;
        o.totals.tax = 80;
        o.totals.total = 3080;
        assert_eq!(o.paid_for(&[Units { sku: "B".into(), quantity: 1 }]), 1080);
    }

    fn placed() -> Order {
        let line = |sku: &str, q| OrderLine {
            sku: sku.into(),
            product_id: Uuid::nil(),
            name: sku.into(),
            quantity: q,
            unit_price: 1000,
            total: 1000 * q,
            discount: 0,
            tax: 0,
            tax_rate_bp: 0,
            promotion_id: None,
        };
        let first = OrderEvent::Placed {
            customer_id: None,
            cart_id: Uuid::nil(),
            currency: "EUR".into(),
            lines: vec![line("A", 3), line("B", 1)],
            totals: Totals { subtotal: 4000, total: 4000, ..Totals::default() },
            shipping_method: "standard".into(),
            country: "FR".into(),
            region: None,
            reservation_id: Uuid::nil(),
            promotions: vec![],
            promotion_hold: None,
        };
        let mut o = Order::start(Uuid::nil(), 1, &first, 0).unwrap();
        o.apply(&OrderEvent::PaymentAuthorized { provider: "test".into(), payment_id: "p".into(), amount: 4000 }, 0);
        o
    }

    fn command() -> impl Strategy<Value = Command> {
        let units = proptest::collection::vec(
            (prop_oneof![Just("A"), Just("B"), Just("C")], -1i64..4)
                .prop_map(|(s, q)| Units { sku: s.into(), quantity: q }),
            0..3,
        );
        prop_oneof![
            Just(Command::Capture),
            proptest::option::of(units.clone()).prop_map(|lines| Command::Ship {
                carrier: "UPS".into(),
                tracking: "1Z".into(),
                lines
            }),
            Just(Command::MarkDelivered),
            Just(Command::Cancel { reason: "asked".into() }),
            units.prop_map(|lines| Command::RequestReturn { lines, reason: "too dark".into() }),
            any::<bool>().prop_map(|restock| Command::ReceiveReturn { return_id: Uuid::nil(), restock }),
            (-100i64..5000).prop_map(|amount| Command::Refund { amount }),
        ]
    }

    proptest! {
        /// Whatever staff and customers ask, in any order: nothing ships that was not ordered
        /// and paid for, nothing returns that did not ship, no refund exceeds the capture,
        /// nothing happens to a cancelled order but refunds, and replaying the events gives the
        /// same order.
        #[test]
        fn the_state_machine_keeps_its_invariants(cmds in proptest::collection::vec(command(), 1..25)) {
            let mut o = placed();
            let mut history = vec![];
            for cmd in &cmds {
                // Received returns name the order's open return, when it has one.
                let cmd = match cmd {
                    Command::ReceiveReturn { restock, .. } => Command::ReceiveReturn {
                        return_id: o.open_returns.first().copied().unwrap_or_else(Uuid::nil),
                        restock: *restock,
                    },
                    c => c.clone(),
                };
                let before = o.clone();
                match o.decide(&cmd) {
                    Ok(events) => {
                        prop_assert!(!events.is_empty());
                        for e in &events { o.apply(e, 1); history.push(e.clone()); }
                    }
                    Err(_) => prop_assert_eq!(&o, &before),
                }
                let pay = o.payment.clone().unwrap();
                prop_assert!(pay.refunded <= pay.captured && pay.captured <= pay.authorized);
                for sku in ["A", "B", "C"] {
                    let shipped = count(&o.shipped, sku);
                    let returned = count(&o.returned, sku);
                    prop_assert!(shipped <= o.ordered(sku) && returned <= shipped);
                }
                if !o.shipped.is_empty() { prop_assert!(pay.captured > 0); }
                if before.status == Status::Cancelled {
                    prop_assert!(matches!(o.status, Status::Cancelled | Status::Refunded));
                    prop_assert_eq!(&o.shipped, &before.shipped);
                }
            }
            let mut timeline = vec![
                TimelineEntry { seq: 1, at: 0, event: OrderEvent::Placed {
                    customer_id: None, cart_id: Uuid::nil(), currency: "EUR".into(), lines: o.lines.clone(),
                    totals: o.totals, shipping_method: "standard".into(), country: "FR".into(), region: None,
                    reservation_id: Uuid::nil(), promotions: vec![], promotion_hold: None } },
                TimelineEntry { seq: 2, at: 0, event: OrderEvent::PaymentAuthorized { provider: "test".into(), payment_id: "p".into(), amount: 4000 } },
            ];
            timeline.extend(history.into_iter().enumerate().map(|(i, e)| TimelineEntry { seq: i as i64 + 3, at: 1, event: e }));
            let replayed = Order::replay(Uuid::nil(), 1, &timeline).unwrap();
            prop_assert_eq!(replayed, o);
        }
    }
}
