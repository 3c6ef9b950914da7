//! `rouge bench events`: how long an event takes from its commit to a work consumer having
//! handled it, in process (the relay reading the outbox) or through RabbitMQ (the outbox
//! publisher, the broker, the consumer's queue and its inbox claim). Brands are saved at a
//! steady rate on a fresh store; the consumer notes when each arrives. Prints p50, p99 and the
//! maximum. Nothing here is asserted on time.

use futures::future::BoxFuture;
use rouge_kernel::{DomainEvent, Outbox, Relays};
use rouge_messaging::durable::{Handler, RetryPolicy};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

#[derive(clap::Args)]
pub struct EventsBench {
    /// `sqlite` or `postgres`.
    #[arg(long, default_value = "postgres")]
    pub store: String,
    /// Where a fresh bench database is created and dropped again.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    pub postgres_url: String,
    /// Through this RabbitMQ; in process when absent.
    #[arg(long, env = "AMQP_URL", hide_env_values = true)]
    pub amqp_url: Option<String>,
    #[arg(long, default_value_t = 2000)]
    pub events: usize,
    /// Events committed per second.
    #[arg(long, default_value_t = 200)]
    pub rate: u64,
}

/// Notes when each brand's event arrived.
#[derive(Clone, Default)]
struct Arrivals(Arc<Mutex<HashMap<Uuid, Instant>>>);

impl Handler for Arrivals {
    fn name(&self) -> &'static str {
        "bench-latency"
    }

    fn events(&self) -> &'static [&'static str] {
        &["BrandSaved"]
    }

    fn handle(&self, e: DomainEvent) -> BoxFuture<'static, Result<(), String>> {
        self.0.lock().expect("arrivals").entry(e.aggregate_id).or_insert_with(Instant::now);
        Box::pin(async { Ok(()) })
    }
}

pub async fn events(opts: EventsBench) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("rouge-bench-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    let (url, made) = crate::bench_checkout::fresh_database(&opts.store, &opts.postgres_url, &dir).await?;
    let result = if url.starts_with("sqlite") {
        let store = rouge_store::SqliteStore::connect(&url).await?;
        store.migrate().await?;
        let r = run(store.clone(), &opts).await;
        store.close().await;
        r
    } else {
        let store = rouge_store::PgStore::connect(&url).await?;
        store.migrate().await?;
        let r = run(store.clone(), &opts).await;
        store.close().await;
        r
    };
    crate::bench_checkout::drop_database(made).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run<S>(store: S, opts: &EventsBench) -> anyhow::Result<()>
where
    S: Outbox + Relays + rouge_kernel::DeliveryLog + rouge_catalog::CatalogRepository,
{
    let arrivals = Arrivals::default();
    let handler: Arc<dyn Handler> = Arc::new(arrivals.clone());
    let policy = RetryPolicy::default();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut tasks = vec![];
    let exchange = format!("rouge.events.bench.{}", uuid::Uuid::now_v7().simple());
    let topology = Arc::new(rouge_messaging::broker::Topology::new(&exchange, std::slice::from_ref(&handler), policy));
    let transport = match &opts.amqp_url {
        Some(amqp) => {
            let now = chrono::Utc::now().timestamp_millis();
            store.claim_relay(rouge_messaging::amqp::RELAY, "bench", now, now).await?;
            let publisher =
                rouge_messaging::amqp::AmqpPublisher::new(amqp, &exchange).with_topology(topology.as_ref().clone());
            tasks.push(rouge_messaging::amqp::spawn_publisher(
                store.clone(),
                publisher,
                "bench".into(),
                stopped.clone(),
            ));
            let (url, t) = (amqp.clone(), topology.clone());
            tasks.push(rouge_messaging::broker::spawn_work(url, t, store.clone(), handler.clone(), stopped.clone()));
            "RabbitMQ (publisher confirms, work queue, inbox claim)"
        }
        None => {
            let subscriber = rouge_messaging::durable::subscriber(store.clone(), handler.clone(), policy);
            let (relay, task) = rouge_messaging::spawn(store.clone(), 0, vec![subscriber], stopped.clone());
            store.commit_hook().add(move || relay.nudge());
            tasks.push(task);
            "in process (relay, inbox claim)"
        }
    };
    // Let the consumer attach before the clock starts.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let catalog = rouge_catalog::CatalogService::new(store.clone());
    let mut committed = HashMap::with_capacity(opts.events);
    let gap = Duration::from_secs_f64(1.0 / opts.rate.max(1) as f64);
    let mut next = Instant::now();
    for i in 0..opts.events {
        tokio::time::sleep_until(next.into()).await;
        next += gap;
        let input = rouge_catalog::input::BrandInput {
            name: format!("Bench Brand {i}"),
            slug: None,
            description: "Brand of the event bench.".into(),
        };
        let brand = catalog.create_brand(input).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        committed.insert(brand.id, Instant::now());
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while arrivals.0.lock().expect("arrivals").len() < opts.events && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    for t in tasks {
        let _ = t.await;
    }
    let seen = arrivals.0.lock().expect("arrivals").clone();
    let mut latencies: Vec<Duration> =
        committed.iter().filter_map(|(id, at)| seen.get(id).map(|got| got.saturating_duration_since(*at))).collect();
    latencies.sort();
    let pct =
        |p: f64| latencies.get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1))).copied();
    let ms = |d: Option<Duration>| d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3);
    println!(
        "rouge bench events on {}, {transport}: {} events at {}/s; {} arrived",
        opts.store,
        opts.events,
        opts.rate,
        latencies.len()
    );
    println!(
        "commit -> consumer handled: p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        ms(pct(0.50)),
        ms(pct(0.99)),
        ms(latencies.last().copied())
    );
    if let Some(amqp) = &opts.amqp_url {
        let _ = topology.delete_at(amqp).await;
    }
    Ok(())
}
