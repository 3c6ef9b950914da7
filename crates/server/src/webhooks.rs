//! Outbound webhooks at work: the `webhooks` consumer queues every event for the endpoints
//! that want it, and the sender attempts what is due, signed (Standard Webhooks), to the
//! addresses the target guard let through, retrying on a schedule over hours, and disables an
//! endpoint that keeps failing (telling staff by email). Replicas may all run both: a delivery
//! is queued once and claimed by one sender at a time.

use futures::future::BoxFuture;
use rouge_http::Store;
use rouge_kernel::DomainEvent;
use rouge_messaging::Mailer;
use rouge_messaging::durable::Handler;
use rouge_webhooks::{DeliveryState, Due, Secret, check_target, resolve_target, sign};
use std::time::Duration;

/// How deliveries are tried.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// The pauses before the second, third… attempt (the first is at once).
    pub retries: Vec<Duration>,
    /// Let targets in internal ranges through (tests; never a live shop).
    pub allow_internal: bool,
    /// Failed attempts in a row that disable an endpoint.
    pub disable_after: i32,
    /// An address that hears that an endpoint was disabled, besides the staff who manage
    /// webhooks.
    pub alerts_to: Option<String>,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        let m = |mins: u64| Duration::from_secs(mins * 60);
        Self {
            // Eight attempts over about 28 hours.
            retries: vec![Duration::from_secs(5), m(5), m(30), m(120), m(300), m(600), m(600)],
            allow_internal: false,
            disable_after: 40,
            alerts_to: None,
        }
    }
}

/// The consumer's name (in the dead-letter list; on a broker, its queue).
pub const NAME: &str = "webhooks";

/// The consumer: queues each event for the endpoints that want it (again: nothing).
pub struct Queue<S>(pub S);

impl<S: Store> Handler for Queue<S> {
    fn name(&self) -> &'static str {
        NAME
    }

    fn events(&self) -> &'static [&'static str] {
        rouge_http::rest::webhooks::event_types()
    }

    fn exclusive(&self) -> bool {
        false
    }

    fn handle(&self, e: DomainEvent) -> BoxFuture<'static, Result<(), String>> {
        let store = self.0.clone();
        Box::pin(async move {
            let endpoints = store.endpoints().await.map_err(|err| err.to_string())?;
            let wanted: Vec<uuid::Uuid> = endpoints.iter().filter(|p| p.wants(&e.event_type)).map(|p| p.id).collect();
            store.enqueue(&wanted, &e, chrono::Utc::now().timestamp_millis()).await.map_err(|err| err.to_string())
        })
    }
}

/// The body every endpoint receives: Standard Webhooks' `type`, `timestamp`, `data`.
pub fn body(e: &DomainEvent) -> Vec<u8> {
    let doc = serde_json::json!({
        "type": e.event_type,
        "timestamp": e.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": e.payload,
    });
    serde_json::to_vec(&doc).expect("JSON serialises")
}

/// The message id of an event (`webhook-id`): the same on every attempt and replay.
pub fn message_id(event: uuid::Uuid) -> String {
    format!("msg_{}", event.simple())
}

/// Who is told that an endpoint was disabled: the mailer, and identity where it runs in this
/// process (its staff who hold `webhooks:manage`).
pub struct Alerts<S> {
    pub mailer: Mailer,
    pub staff: Option<rouge_identity::IdentityService<S>>,
}

impl<S: Store> Alerts<S> {
    /// The configured address and every enabled staff member whose role manages webhooks.
    async fn recipients(&self, opts: &WebhookOptions) -> Vec<String> {
        let mut to: Vec<String> = opts.alerts_to.iter().cloned().collect();
        let Some(identity) = &self.staff else { return to };
        let (roles, staff) = match (identity.roles().await, identity.list_staff().await) {
            (Ok(r), Ok(s)) => (r, s),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "cannot read who manages webhooks; only the configured address is told");
                return to;
            }
        };
        let managing: Vec<uuid::Uuid> = roles
            .iter()
            .filter(|r| r.permissions.contains(&rouge_identity::Permission::WebhooksManage))
            .map(|r| r.id)
            .collect();
        for member in staff.into_iter().filter(|m| !m.disabled && managing.contains(&m.role_id)) {
            if !to.iter().any(|t| t.eq_ignore_ascii_case(&member.email)) {
                to.push(member.email);
            }
        }
        to
    }
}

/// Attempts due deliveries every half second until `stop`.
pub async fn send_due<S: Store>(
    store: S,
    sealer: std::sync::Arc<dyn rouge_orders::Sealer>,
    opts: WebhookOptions,
    alerts: Alerts<S>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    crate::schedule::every(Duration::from_millis(500), stop, || async {
        let now = chrono::Utc::now().timestamp_millis();
        match store.claim_due(now, now + 60_000, 20).await {
            Ok(due) => {
                for d in due {
                    attempt(&store, sealer.as_ref(), &opts, &alerts, d).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read due webhook deliveries; will retry"),
        }
    })
    .await
}

/// One attempt of one delivery; its outcome recorded.
async fn attempt<S: Store>(
    store: &S,
    sealer: &dyn rouge_orders::Sealer,
    opts: &WebhookOptions,
    alerts: &Alerts<S>,
    due: Due,
) {
    let Due { mut delivery, event } = due;
    let now = chrono::Utc::now();
    let outcome = match store.endpoint(delivery.endpoint_id).await {
        Ok(Some((endpoint, _))) if !endpoint.enabled => Err((None, "the endpoint is disabled".to_owned())),
        Ok(Some((endpoint, secrets))) => {
            match rouge_http::rest::webhooks::open_secrets(sealer, endpoint.id, &secrets, now.timestamp_millis()) {
                Ok((current, previous)) => {
                    let previous = previous.and_then(|s| Secret::parse(&s).ok());
                    match Secret::parse(&current) {
                        Ok(current) => {
                            let mut keys = vec![&current];
                            keys.extend(previous.as_ref());
                            post(opts, &endpoint.url, &keys, &event, now.timestamp()).await
                        }
                        Err(e) => Err((None, e.to_string())),
                    }
                }
                Err(e) => Err((None, format!("its signing secret does not open: {e}"))),
            }
        }
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read a webhook endpoint; its delivery is tried again later");
            return;
        }
    };
    delivery.attempts += 1;
    let delivered = outcome.is_ok();
    match outcome {
        Ok(status) => {
            delivery.state = DeliveryState::Delivered;
            delivery.last_status = Some(status);
            delivery.last_error = None;
        }
        Err((status, error)) => {
            delivery.last_status = status;
            delivery.last_error = Some(error.chars().take(500).collect());
            match opts.retries.get(delivery.attempts as usize - 1) {
                Some(pause) => {
                    delivery.state = DeliveryState::Pending;
                    delivery.next_at = now.timestamp_millis() + pause.as_millis() as i64;
                }
                None => delivery.state = DeliveryState::Failed,
            }
        }
    }
    let failures = match store.record_attempt(&delivery, delivered, now.timestamp_millis()).await {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(error = %e, "cannot record a webhook attempt; it is tried again when its lease ends");
            return;
        }
    };
    tracing::info!(endpoint = %delivery.endpoint_id, event = %delivery.event_id, kind = %delivery.event_type,
        state = delivery.state.as_str(), attempts = delivery.attempts, status = ?delivery.last_status, "webhook attempt");
    if !delivered && failures >= opts.disable_after {
        disable(store, opts, alerts, delivery.endpoint_id, failures).await;
    }
}

async fn disable<S: Store>(store: &S, opts: &WebhookOptions, alerts: &Alerts<S>, id: uuid::Uuid, failures: i32) {
    let reason = format!("disabled after {failures} failed attempts in a row");
    let Ok(Some((endpoint, _))) = store.endpoint(id).await else { return };
    if !endpoint.enabled {
        return;
    }
    if let Err(e) = store.disable_endpoint(id, &reason, chrono::Utc::now().timestamp_millis()).await {
        tracing::warn!(error = %e, "cannot disable a failing webhook endpoint; will retry");
        return;
    }
    tracing::warn!(endpoint = %id, url = %endpoint.url, failures, "webhook endpoint disabled");
    let recipients = alerts.recipients(opts).await;
    if recipients.is_empty() {
        tracing::warn!(endpoint = %id, "nobody to email that a webhook endpoint was disabled: no staff manage webhooks and ROUGE_WEBHOOKS_ALERTS_TO is not set");
    }
    for to in &recipients {
        let body = format!(
            "The webhook endpoint {} ({}) failed {failures} attempts in a row and was disabled.\n\n\
             Its deliveries wait in its log; fix the receiver, enable the endpoint again \
             (PATCH /v1/admin/webhooks/{id} {{\"enabled\": true}}) and replay what failed.\n",
            endpoint.url, endpoint.description
        );
        if let Err(e) = alerts.mailer.send(to, "A webhook endpoint was disabled", &body).await {
            tracing::warn!(error = %e, "cannot email that a webhook endpoint was disabled");
        }
    }
}

/// POSTs the event; the status of a 2xx answer, or the status (if any) and why it failed.
async fn post(
    opts: &WebhookOptions,
    url: &str,
    secrets: &[&Secret],
    event: &DomainEvent,
    now: i64,
) -> Result<i32, (Option<i32>, String)> {
    let target = check_target(url, opts.allow_internal).map_err(|e| (None, e.to_string()))?;
    let addrs = resolve_target(&target, opts.allow_internal).await.map_err(|e| (None, e.to_string()))?;
    let body = body(event);
    let headers = sign(secrets, &message_id(event.id), now, &body);
    // Connect to the address just checked, not to whatever a second lookup would say; a
    // redirect could lead inward past the guard, so none is followed (a 3xx is a failure).
    let host = target.host_str().unwrap_or_default().to_owned();
    let pinned = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Rouge-Webhooks/", env!("CARGO_PKG_VERSION")))
        .resolve(&host, addrs[0])
        .build()
        .map_err(|e| (None, e.to_string()))?;
    let mut req = pinned.post(target).header("content-type", "application/json").body(body);
    for (k, v) in headers.pairs() {
        req = req.header(k, v);
    }
    match req.send().await {
        Ok(res) if res.status().is_success() => Ok(i32::from(res.status().as_u16())),
        Ok(res) => Err((Some(i32::from(res.status().as_u16())), format!("answered {}", res.status()))),
        Err(e) => Err((None, if e.is_timeout() { "timed out".into() } else { e.to_string() })),
    }
}
