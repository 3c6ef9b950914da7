//! Orders: carts, tax and shipping, checkout, and orders kept as the sequence of their
//! events. No I/O: stores implement [`OrdersRepository`]; inventory, the catalogue and the
//! vault are reached through the typed clients in [`ports`].

pub mod cart;
pub mod order;
pub mod ports;
pub mod pricing;
pub mod service;

pub use cart::{Address, Cart, CartLine, CartState, Contact};
pub use order::{Command, Order, OrderEvent, OrderLine, Status, TimelineEntry, Units};
pub use ports::{
    Catalog, OrderFilter, OrdersRepository, PromotionError, Promotions, Sealed, SealedKeyRef, Sealer, SkuView, Stock,
    StockError, StoreError,
};
pub use pricing::{Channel, Totals};
pub use service::{
    Access, Caller, CartPromotions, CheckoutInput, FreeItem, OrderView, OrdersError, OrdersService, PaymentInput,
    PricedCart, ShippingOption,
};
