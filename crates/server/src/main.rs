//! `rouge`: the commerce backend for beauty retailers. Reads settings and wires; the work is
//! in the library crates.

use clap::{Parser, Subcommand};
use rouge_http::Store;
use rouge_server::{DEFAULT_DATABASE_URL, Options, StoreFn, launch, shutdown_signal, with_store};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "rouge", version, about = "Commerce backend for niche beauty retailers", long_about = None)]
struct Cli {
    /// Database URL: sqlite://path/to/file.db (embedded default) or postgres://user@host/db.
    #[arg(long, env = "DATABASE_URL", global = true, default_value = DEFAULT_DATABASE_URL)]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API (migrations run first).
    Serve {
        /// Address to listen on.
        #[arg(long, env = "ROUGE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Load the demo catalogue if the store has no products.
        #[arg(long)]
        demo: bool,
        /// Bearer token for /v1/admin calls; without it the admin API answers 401.
        #[arg(long, env = "ROUGE_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Load data into the store.
    Seed {
        /// Load the demo catalogue (deterministic, from data/demo.json).
        #[arg(long, required = true)]
        demo: bool,
        /// How many demo products to generate.
        #[arg(long, default_value_t = 320)]
        count: usize,
    },
    /// Measure throughput, latency and memory on 127.0.0.1 (use a release build).
    Bench {
        #[command(subcommand)]
        scenario: BenchScenario,
    },
    /// Bulk-load products from a .csv or .json file; bad rows are reported, not fatal.
    Import {
        /// The file to load (see docs/import.md for the formats).
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum BenchScenario {
    /// Load N demo products into a fresh SQLite store and drive the storefront API.
    Catalog {
        #[arg(long, default_value_t = 10_000)]
        products: usize,
        /// Concurrent keep-alive connections.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Seconds per scenario.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

struct Serve {
    listen: String,
    opts: Options,
}

impl StoreFn<()> for Serve {
    async fn call<S: Store>(self, store: S) -> anyhow::Result<()> {
        let listener = tokio::net::TcpListener::bind(&self.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", self.listen))?;
        launch(store, self.opts, listener, shutdown_signal()).await
    }
}

struct Migrate;

impl StoreFn<()> for Migrate {
    async fn call<S: Store>(self, _: S) -> anyhow::Result<()> {
        tracing::info!("migrations are up to date");
        Ok(())
    }
}

struct Seed(usize);

impl StoreFn<()> for Seed {
    async fn call<S: Store>(self, store: S) -> anyhow::Result<()> {
        let n = rouge_server::seed::seed_demo(&store, self.0).await?;
        println!("seeded {n} demo products");
        Ok(())
    }
}

struct Import(PathBuf);

impl StoreFn<()> for Import {
    async fn call<S: Store>(self, store: S) -> anyhow::Result<()> {
        let rows = rouge_server::import::read_rows(&self.0)?;
        let total = rows.len();
        let summary = rouge_server::import::import(&store, rows).await;
        println!("imported {} of {total} rows; {} rejected", summary.imported, summary.rejected.len());
        for (row, reason) in &summary.rejected {
            println!("  row {row}: {reason}");
        }
        Ok(())
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let url = cli.database_url;
    match cli.command {
        Command::Serve { listen, demo, admin_token } => {
            with_store(
                &url,
                Serve { listen, opts: Options { admin_token: admin_token.filter(|t| !t.is_empty()), demo } },
            )
            .await
        }
        Command::Migrate => with_store(&url, Migrate).await,
        Command::Seed { count, .. } => with_store(&url, Seed(count)).await,
        Command::Import { file } => with_store(&url, Import(file)).await,
        Command::Bench { scenario: BenchScenario::Catalog { products, connections, seconds } } => {
            rouge_server::bench::catalog(rouge_server::bench::BenchOptions { products, connections, seconds }).await
        }
    }
}
