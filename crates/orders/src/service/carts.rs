//! Shopping: carts, their lines, the checkout details and shipping, merging a guest cart.

use super::*;

impl<R: OrdersRepository> OrdersService<R> {
    /// A cart the caller may use: a customer's only to her; another's answers 404.
    pub(super) async fn load(&self, caller: Caller, id: Uuid) -> Result<(Cart, Option<Sealed>)> {
        let (cart, sealed) = self.repo.cart(id).await?.ok_or_else(|| OrdersError::NotFound("cart".into()))?;
        if cart.customer_id.is_some() && cart.customer_id != caller.customer {
            return Err(OrdersError::NotFound("cart".into()));
        }
        Ok((cart, sealed))
    }

    async fn load_open(&self, caller: Caller, id: Uuid) -> Result<(Cart, Option<Sealed>)> {
        let (cart, sealed) = self.load(caller, id).await?;
        if cart.state != CartState::Open {
            return Err(OrdersError::Conflict(format!("the cart is {}; start a new one", cart.state.as_str())));
        }
        if cart.checkout_until.is_some_and(|t| t > now()) {
            return Err(OrdersError::Conflict("a checkout of this cart is in progress; wait for its answer".into()));
        }
        Ok((cart, sealed))
    }

    /// The catalogue's view of the cart's lines, in one call (none for an empty cart).
    ///
    /// # Errors
    /// `Store` (503) when the catalogue cannot be asked.
    pub(super) async fn views(&self, cart: &Cart) -> Result<Vec<Option<SkuView>>> {
        if cart.lines.is_empty() {
            return Ok(vec![]);
        }
        let skus: Vec<String> = cart.lines.iter().map(|l| l.sku.clone()).collect();
        self.catalog.skus(&skus).await.map_err(|e| OrdersError::Store(format!("the catalogue did not answer: {e}")))
    }

    pub(super) fn price_lines(cart: &Cart, views: &[Option<SkuView>]) -> Vec<PriceLine> {
        cart.lines
            .iter()
            .zip(views)
            .map(|(l, v)| PriceLine {
                unit_price: v.as_ref().map_or(l.price_when_added, |v| v.unit_price),
                quantity: l.quantity,
                discount: 0,
                tax_class: v.as_ref().map_or_else(|| "standard".into(), |v| v.tax_class.clone()),
                unit_grams: v.as_ref().map_or(0, |v| v.unit_grams),
            })
            .collect()
    }

    async fn priced(&self, cart: &Cart, contact: Contact) -> Result<PricedCart> {
        let q = self.quote_now(cart).await?;
        let lines = cart
            .lines
            .iter()
            .zip(q.views.iter().zip(&q.money))
            .map(|(l, (v, m))| {
                let unit = v.as_ref().map_or(l.price_when_added, |v| v.unit_price);
                PricedLine {
                    id: l.id,
                    sku: l.sku.clone(),
                    name: v.as_ref().map_or_else(|| l.sku.clone(), |v| v.name.clone()),
                    quantity: l.quantity,
                    unit_price: unit,
                    total: m.total,
                    discount: m.discount,
                    tax: m.tax,
                    price_when_added: l.price_when_added,
                    price_changed: unit != l.price_when_added,
                    on_sale: v.as_ref().is_some_and(|v| v.on_sale),
                }
            })
            .collect();
        Ok(PricedCart {
            id: cart.id,
            customer_id: cart.customer_id,
            state: cart.state,
            currency: cart.currency.clone(),
            lines,
            free_items: q.free.into_iter().map(|(item, _)| item).collect(),
            totals: q.totals,
            promotions: q.promotions,
            prices_include_tax: self.channel.prices_include_tax,
            email: contact.email,
            shipping_address: contact.shipping_address,
            billing_address: contact.billing_address,
            shipping_method: cart.shipping_method.clone(),
            version: cart.version,
        })
    }

    /// Enters a promotion code (any case): a code the shop does not have is refused; one that
    /// does not apply stays on the cart with the reason (it may apply once the cart changes).
    ///
    /// # Errors
    /// `Invalid` for a code the shop does not have, or one code too many.
    #[tracing::instrument(name = "orders.add_code", skip_all, fields(cart = %id))]
    pub async fn add_code(&self, caller: Caller, id: Uuid, code: &str) -> Result<PricedCart> {
        let (mut cart, sealed) = self.load_open(caller, id).await?;
        let Some(code) = rouge_promotions::codes::normalize(code) else {
            return Err(invalid("code", "invalid", "a code is 3 to 32 letters, digits, `-` or `_`"));
        };
        if !cart.codes.contains(&code) {
            if cart.codes.len() >= crate::cart::MAX_CODES {
                return Err(invalid(
                    "code",
                    "too_many_codes",
                    format!("a cart takes at most {} codes", crate::cart::MAX_CODES),
                ));
            }
            if !self.promotions.knows_code(&code).await? {
                return Err(invalid("code", "unknown_code", format!("{code} is not a code of this shop")));
            }
            cart.codes.push(code);
        }
        let cart = self.save(cart, sealed.as_ref()).await?;
        let contact = self.open_contact(cart.id, sealed.as_ref())?;
        self.priced(&cart, contact).await
    }

    /// Takes a code off the cart.
    ///
    /// # Errors
    /// `NotFound` when the cart has no such code.
    pub async fn remove_code(&self, caller: Caller, id: Uuid, code: &str) -> Result<PricedCart> {
        let (mut cart, sealed) = self.load_open(caller, id).await?;
        let code = rouge_promotions::codes::normalize(code).unwrap_or_default();
        let before = cart.codes.len();
        cart.codes.retain(|c| c != &code);
        if cart.codes.len() == before {
            return Err(OrdersError::NotFound("code on this cart".into()));
        }
        let cart = self.save(cart, sealed.as_ref()).await?;
        let contact = self.open_contact(cart.id, sealed.as_ref())?;
        self.priced(&cart, contact).await
    }

    /// Picks the samples to receive (replacing an earlier pick); they must be among those a
    /// samples promotion offers the cart now, and no more than it allows.
    ///
    /// # Errors
    /// `Invalid` naming each SKU not on offer, or too many.
    pub async fn set_samples(&self, caller: Caller, id: Uuid, skus: &[String]) -> Result<PricedCart> {
        let (mut cart, sealed) = self.load_open(caller, id).await?;
        let mut picked: Vec<String> = vec![];
        for s in skus.iter().map(|s| s.trim()) {
            if !picked.iter().any(|p| p == s) {
                picked.push(s.to_owned());
            }
        }
        let views = self.views(&cart).await?;
        let basket = self.basket(&cart, &views).await?;
        let offer = self.promotions.evaluate(&basket).await?.samples;
        let mut v = Validation::new();
        match &offer {
            None if !picked.is_empty() => v.push("skus", "no_samples_offered", "no samples are on offer for this cart"),
            None => {}
            Some(o) => {
                if picked.len() > o.choose as usize {
                    v.push("skus", "too_many", format!("pick at most {} samples", o.choose));
                }
                for (i, s) in picked.iter().enumerate() {
                    if !o.skus.contains(s) {
                        v.push(format!("skus.{i}"), "not_offered", format!("{s} is not one of the samples on offer"));
                    }
                }
            }
        }
        if !v.is_empty() {
            return Err(OrdersError::Invalid(v.errors().to_vec()));
        }
        cart.samples = picked;
        let cart = self.save(cart, sealed.as_ref()).await?;
        let contact = self.open_contact(cart.id, sealed.as_ref())?;
        self.priced(&cart, contact).await
    }

    async fn save(&self, mut cart: Cart, sealed: Option<&Sealed>) -> Result<Cart> {
        cart.version += 1;
        cart.updated_at = now();
        self.repo.save_cart(&cart, sealed).await?;
        Ok(cart)
    }

    /// A new cart: the customer's if she is logged in (her open cart, when she has one).
    ///
    /// # Errors
    /// The store's errors.
    #[tracing::instrument(name = "orders.create_cart", skip_all)]
    pub async fn create_cart(&self, caller: Caller) -> Result<(PricedCart, bool)> {
        if let Some(c) = caller.customer
            && let Some(id) = self.repo.open_cart_of(c).await?
        {
            return Ok((self.cart(caller, id).await?, false));
        }
        let cart = self.save(Cart::new(caller.customer, &self.channel.currency, now()), None).await?;
        Ok((self.priced(&cart, Contact::default()).await?, true))
    }

    /// The cart `id` for a subscription's renewal, made now: hers but apart from the one she
    /// shops with (the renewal records `id` first, so the store never gives it as her open
    /// cart).
    ///
    /// # Errors
    /// The store's errors (`Conflict` when another renewer made it first).
    pub async fn renewal_cart(&self, customer: Uuid, id: Uuid) -> Result<PricedCart> {
        let mut cart = Cart::new(Some(customer), &self.channel.currency, now());
        cart.id = id;
        let cart = self.save(cart, None).await?;
        self.priced(&cart, Contact::default()).await
    }

    /// # Errors
    /// `NotFound` for a cart that is not the caller's.
    pub async fn cart(&self, caller: Caller, id: Uuid) -> Result<PricedCart> {
        let (cart, sealed) = self.load(caller, id).await?;
        let contact = self.open_contact(cart.id, sealed.as_ref())?;
        self.priced(&cart, contact).await
    }

    /// # Errors
    /// `Invalid` for an unknown SKU or a product not on sale, or quantities out of bounds.
    #[tracing::instrument(name = "orders.add_line", skip_all, fields(cart = %id, sku = %sku))]
    pub async fn add_line(&self, caller: Caller, id: Uuid, sku: &str, quantity: i64) -> Result<PricedCart> {
        let (mut cart, sealed) = self.load_open(caller, id).await?;
        let asked = [sku.trim().to_owned()];
        let found = self
            .catalog
            .skus(&asked)
            .await
            .map_err(|e| OrdersError::Store(format!("the catalogue did not answer: {e}")))?;
        let view = found.into_iter().next().flatten().filter(|v| v.on_sale).ok_or_else(|| {
            invalid("sku", "unknown_sku", format!("`{}` is not on sale", sku.chars().take(64).collect::<String>()))
        })?;
        cart.add(&view.sku, quantity, view.unit_price).map_err(|v| OrdersError::Invalid(v.errors().to_vec()))?;
        let cart = self.save(cart, sealed.as_ref()).await?;
        let contact = self.open_contact(cart.id, sealed.as_ref())?;
        self.priced(&cart, contact).await
    }

    /// Sets a line's quantity; 0 removes it.
    ///
    /// # Errors
    /// `NotFound` for a line the cart does not have; `Invalid` for a quantity out of bounds.
    pub async fn set_quantity(&self, caller: Caller, id: Uuid, line: Uuid, quantity: i64) -> Result<PricedCart> {
        let (mut cart, sealed) = self.load_open(caller, id).await?;
        if !(0..=crate::cart::MAX_QUANTITY).contains(&quantity) {
            return Err(invalid("quantity", "out_of_range", format!("between 0 and {}", crate::cart::MAX_QUANTITY)));
        }
        let pos =
            cart.lines.iter().position(|l| l.id == line).ok_or_else(|| OrdersError::NotFound("cart line".into()))?;
        if quantity == 0 {
            cart.lines.remove(pos);
        } else {
            cart.lines[pos].quantity = quantity;
        }
        let cart = self.save(cart, sealed.as_ref()).await?;
        let contact = self.open_contact(cart.id, sealed.as_ref())?;
        self.priced(&cart, contact).await
    }

    /// Sets any of email, addresses and shipping method (unset fields keep their values).
    ///
    /// # Errors
    /// `Invalid` with every bad field.
    pub async fn set_checkout(&self, caller: Caller, id: Uuid, input: CheckoutInput) -> Result<PricedCart> {
        let (mut cart, sealed) = self.load_open(caller, id).await?;
        let mut contact = self.open_contact(cart.id, sealed.as_ref())?;
        let mut v = Validation::new();
        if let Some(email) = &input.email {
            match rouge_kernel::email::Email::parse(email) {
                Ok(e) => contact.email = Some(e.as_str().to_owned()),
                Err(e) => v.push("email", "invalid", e.to_string()),
            }
        }
        if let Some(a) = &input.shipping_address {
            a.validate("shipping_address", &mut v);
        }
        if let Some(a) = &input.billing_address {
            a.validate("billing_address", &mut v);
        }
        if !v.is_empty() {
            return Err(OrdersError::Invalid(v.errors().to_vec()));
        }
        if let Some(a) = input.shipping_address {
            cart.country = Some(a.country.clone());
            cart.region = a.region.clone();
            if contact.billing_address.is_none() && input.billing_address.is_none() {
                contact.billing_address = Some(a.clone());
            }
            contact.shipping_address = Some(a);
        }
        if let Some(a) = input.billing_address {
            contact.billing_address = Some(a);
        }
        if let Some(m) = input.shipping_method {
            cart.shipping_method = Some(m);
        }
        if let Some(m) = &cart.shipping_method {
            let country = cart.country.clone().unwrap_or_default();
            let views = self.views(&cart).await?;
            match self.channel.price(
                &Self::price_lines(&cart, &views),
                Some((&country, cart.region.as_deref())),
                Some(m),
            ) {
                Ok(_) => {}
                Err(e @ PricingError::NoSuchMethod(..)) if cart.country.is_some() => {
                    return Err(invalid("shipping_method", "unavailable", e.to_string()));
                }
                Err(e @ PricingError::TooHeavy(..)) => {
                    return Err(invalid("shipping_method", "too_heavy", e.to_string()));
                }
                Err(_) => return Err(invalid("shipping_method", "needs_address", "set a shipping address first")),
            }
        }
        let bytes = serde_json::to_vec(&contact).map_err(|e| OrdersError::Store(e.to_string()))?;
        let sealed = self.sealer.seal(&cart.id.to_string(), &bytes);
        let cart = self.save(cart, Some(&sealed)).await?;
        self.priced(&cart, contact).await
    }

    /// The shipping methods for the cart's destination, priced for its parcel.
    ///
    /// # Errors
    /// `Invalid` when the cart has no shipping address yet.
    pub async fn shipping_options(&self, caller: Caller, id: Uuid) -> Result<Vec<ShippingOption>> {
        let (cart, _) = self.load(caller, id).await?;
        let country = cart
            .country
            .clone()
            .ok_or_else(|| invalid("shipping_address", "required", "set a shipping address first"))?;
        let views = self.views(&cart).await?;
        let lines = Self::price_lines(&cart, &views);
        let basket = self.basket(&cart, &views).await?;
        let free = self.promotions.evaluate(&basket).await?.free_shipping;
        Ok(self
            .channel
            .methods_for(&lines, &country)
            .into_iter()
            .map(|(m, p)| ShippingOption {
                code: m.code.clone(),
                name: m.name.clone(),
                price: p.ok().map(|p| if free { 0 } else { p }),
            })
            .collect())
    }

    /// Merges a guest cart into the customer's open cart (or makes it hers).
    ///
    /// # Errors
    /// `NotFound` for a cart that is another customer's; `Conflict` when it is not open.
    pub async fn merge(&self, customer: Uuid, guest: Uuid) -> Result<PricedCart> {
        let caller = Caller { customer: Some(customer) };
        let (mut cart, sealed) = self.load_open(caller, guest).await?;
        if cart.customer_id == Some(customer) {
            return self.cart(caller, guest).await;
        }
        match self.repo.open_cart_of(customer).await? {
            Some(mine) => {
                let (mut target, target_sealed) = self.load_open(caller, mine).await?;
                target.absorb(&cart);
                let target = self.save(target, target_sealed.as_ref()).await?;
                cart.state = CartState::Merged;
                self.save(cart, sealed.as_ref()).await?;
                let contact = self.open_contact(target.id, target_sealed.as_ref())?;
                self.priced(&target, contact).await
            }
            None => {
                cart.customer_id = Some(customer);
                let cart = self.save(cart, sealed.as_ref()).await?;
                let contact = self.open_contact(cart.id, sealed.as_ref())?;
                self.priced(&cart, contact).await
            }
        }
    }
}
