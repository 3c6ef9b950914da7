//! Which of the shop's services a process runs (`rouge serve --services …`): each serves its
//! context's routes and consumers, and reaches the contexts it does not run over HTTP.

use std::fmt;

/// One deployable service: a bounded context and what it serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    Catalog,
    Inventory,
    Orders,
    Identity,
    /// The payment providers (and their credentials) and their webhooks; it keeps no tables of
    /// its own (the orders it pays are orders').
    Payments,
}

impl Service {
    pub const ALL: [Service; 5] =
        [Service::Catalog, Service::Inventory, Service::Orders, Service::Identity, Service::Payments];

    pub fn as_str(self) -> &'static str {
        match self {
            Service::Catalog => "catalog",
            Service::Inventory => "inventory",
            Service::Orders => "orders",
            Service::Identity => "identity",
            Service::Payments => "payments",
        }
    }

    /// The PostgreSQL schema the service owns; payments own none (they reach only the shared
    /// schemas: idempotency keys, the outbox).
    pub fn schema(self) -> Option<&'static str> {
        match self {
            Service::Payments => None,
            s => Some(s.as_str()),
        }
    }

    /// The PostgreSQL role the service connects as: granted its schema and the shared ones.
    pub fn role(self) -> String {
        format!("rouge_{}", self.as_str())
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of services; every one by default (the embedded, single-process shop).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Services(u8);

impl Default for Services {
    fn default() -> Self {
        Self::all()
    }
}

impl Services {
    pub fn all() -> Self {
        Self(Service::ALL.iter().fold(0, |b, s| b | s.bit()))
    }

    /// A comma-separated list of service names, or `all`.
    ///
    /// # Errors
    /// An unknown or repeated name, or an empty list.
    pub fn parse(list: &str) -> Result<Self, String> {
        if list.trim() == "all" {
            return Ok(Self::all());
        }
        let mut set = 0u8;
        for name in list.split(',').map(str::trim) {
            let s = Service::ALL.iter().find(|s| s.as_str() == name).ok_or_else(|| {
                format!(
                    "unknown service `{name}`: choose among {} (comma-separated), or `all`",
                    Service::ALL.map(Service::as_str).join(", ")
                )
            })?;
            if set & s.bit() != 0 {
                return Err(format!("service `{name}` is named twice"));
            }
            set |= s.bit();
        }
        Ok(Self(set))
    }

    pub fn has(self, s: Service) -> bool {
        self.0 & s.bit() != 0
    }

    pub fn is_all(self) -> bool {
        self == Self::all()
    }

    pub fn iter(self) -> impl Iterator<Item = Service> {
        Service::ALL.into_iter().filter(move |s| self.has(*s))
    }
}

impl fmt::Display for Services {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Service::as_str).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_into_sets_and_bad_lists_say_why() {
        let s = Services::parse("catalog, inventory").unwrap();
        assert!(s.has(Service::Catalog) && s.has(Service::Inventory) && !s.has(Service::Orders));
        assert_eq!(s.to_string(), "catalog,inventory");
        assert!(Services::parse("all").unwrap().is_all());
        assert!(Services::parse("catalog,inventory,orders,identity,payments").unwrap().is_all());
        assert!(Services::parse("catalogue").unwrap_err().contains("unknown service `catalogue`"));
        assert!(Services::parse("orders,orders,payments").unwrap_err().contains("twice"));
        assert!(Services::parse("payments").unwrap().has(Service::Payments));
        assert!(Services::parse("").is_err());
        assert_eq!((Service::Payments.role(), Service::Payments.schema()), ("rouge_payments".into(), None));
        assert_eq!((Service::Orders.role(), Service::Orders.schema()), ("rouge_orders".into(), Some("orders")));
    }
}
