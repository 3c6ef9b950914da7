//! `rouge bench catalog`: loads N demo products into a fresh SQLite store, starts `rouge serve`
//! on it as a child process, drives it from concurrent keep-alive clients on 127.0.0.1, and
//! prints requests/s, p50/p99 latency and the server's peak RSS. No timings are asserted:
//! the numbers are for BENCHMARKS.md.

use anyhow::Context;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use std::process::Stdio;
use std::time::{Duration, Instant};

pub struct BenchOptions {
    pub products: usize,
    pub connections: usize,
    pub seconds: u64,
    /// Live automatic offers while it runs (the demo's promotions and two percentages off, a
    /// brand's and a category's): every page then shows which apply to each product.
    pub offers: bool,
}

pub struct Report {
    pub name: &'static str,
    pub requests: usize,
    pub errors: usize,
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:<28} {:>9.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  ({} requests, {} errors)",
            self.name,
            self.per_second,
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3,
            self.requests,
            self.errors
        )
    }
}

/// Which path the n-th request of a scenario asks for.
pub type PathFn = std::sync::Arc<dyn Fn(usize) -> String + Send + Sync>;

/// Cycles through a fixed list of paths.
pub fn cycle(paths: Vec<String>) -> PathFn {
    std::sync::Arc::new(move |n| paths[n % paths.len()].clone())
}

/// One request of a scenario.
pub struct Req {
    pub method: &'static str,
    pub path: String,
    pub token: Option<std::sync::Arc<str>>,
    pub body: Option<Bytes>,
}

/// The n-th request of a scenario.
pub type MakeReq = std::sync::Arc<dyn Fn(usize) -> Req + Send + Sync>;

/// Plain GETs of the paths.
pub fn gets(paths: PathFn) -> MakeReq {
    std::sync::Arc::new(move |n| Req { method: "GET", path: paths(n), token: None, body: None })
}

/// Drives the paths from `connections` keep-alive connections for `seconds`.
pub async fn drive(
    addr: &str,
    name: &'static str,
    paths: PathFn,
    connections: usize,
    seconds: u64,
) -> anyhow::Result<Report> {
    drive_requests(addr, name, gets(paths), connections, seconds).await
}

/// Drives any requests from `connections` keep-alive connections for `seconds`.
pub async fn drive_requests(
    addr: &str,
    name: &'static str,
    make: MakeReq,
    connections: usize,
    seconds: u64,
) -> anyhow::Result<Report> {
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = vec![];
    for _ in 0..connections {
        let addr = addr.to_owned();
        let make = make.clone();
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(&addr).await?;
            stream.set_nodelay(true)?;
            let (mut sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(conn);
            let mut latencies = Vec::with_capacity(100_000);
            let mut errors = 0usize;
            while Instant::now() < deadline {
                let r = make(counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
                let mut req =
                    hyper::Request::builder().method(r.method).uri(r.path.as_str()).header("host", addr.as_str());
                if let Some(t) = &r.token {
                    req = req.header("authorization", format!("Bearer {t}"));
                }
                if r.body.is_some() {
                    req = req.header("content-type", "application/json");
                }
                let req = req.body(Full::new(r.body.unwrap_or_default()))?;
                let t = Instant::now();
                let res = sender.send_request(req).await?;
                let ok = res.status().is_success();
                res.into_body().collect().await?;
                latencies.push(t.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            anyhow::Ok((latencies, errors))
        }));
    }
    let mut all = vec![];
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await??;
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or_default()
    };
    Ok(Report {
        name,
        requests: all.len(),
        errors,
        per_second: all.len() as f64 / elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
    })
}

pub(crate) async fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<String>,
) -> anyhow::Result<(u16, String)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    let req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.unwrap_or_default())))?;
    let res = sender.send_request(req).await?;
    let status = res.status().as_u16();
    let bytes = res.into_body().collect().await?.to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

/// Peak resident set size of a process, from /proc (Linux).
pub(crate) fn peak_rss_mb(pid: u32) -> Option<f64> {
    proc_status_mb(pid, "VmHWM:")
}

fn proc_status_mb(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub async fn catalog(opts: BenchOptions) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("rouge-bench-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    eprintln!("bench: loading {} demo products into {url}", opts.products);
    let t = Instant::now();
    let store = rouge_store::SqliteStore::connect(&url).await?;
    store.migrate().await?;
    let loaded = crate::seed::seed_demo(&store, opts.products).await?;
    if opts.offers {
        crate::seed::seed_demo_promotions(&store).await?;
        let svc = rouge_promotions::PromotionsService::new(store.clone());
        for offer in [
            serde_json::json!({"name": "-20 % Lumen Lab", "benefit": {"kind": "percent_off", "percent_bp": 2000},
                "target": {"kind": "brand", "slug": "lumen-lab"}}),
            serde_json::json!({"name": "-10 % on serums", "benefit": {"kind": "percent_off", "percent_bp": 1000},
                "target": {"kind": "category", "slug": "serums"}}),
        ] {
            svc.create(serde_json::from_value(offer)?).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        eprintln!("bench: 5 promotions live (4 automatic offers)");
    }
    // An owner and an API key for the writes of the commit → searchable scenario.
    let key_dir = crate::keys::KeyDir(dir.join("keys"));
    key_dir.ensure()?;
    let keys = key_dir.load(chrono::Utc::now().timestamp(), 900)?;
    let token = owner_key(&store, &keys, &[rouge_identity::Permission::CatalogWrite]).await?;
    // A customer with a beauty profile, her password hashed at the production cost.
    let profile = serde_json::json!({
        "skin_type": "oily", "concerns": ["acne", "pores"], "avoid_ingredients": ["fragrance", "alcohol"]
    });
    verified_shoppers(
        &store,
        &keys,
        rouge_identity::HashCost::DEFAULT,
        &[("shopper@example.com".to_owned(), profile)],
        SHOPPER_PASSWORD,
    )
    .await?;
    store.close().await;
    eprintln!("bench: loaded {loaded} products in {:.1} s", t.elapsed().as_secs_f64());

    let (mut child, addr, pid) = spawn_server(&url, &key_dir.0, &token, &[]).await?;

    let demo = crate::demo::generate(opts.products);
    let demo_slugs: Vec<String> =
        demo.products.iter().filter_map(|p| p.slug.clone()).map(|s| format!("/v1/products/{s}")).collect();
    let slugs = demo_slugs.clone();
    // Three filters each; the price bound varies so that (almost) every request is a distinct
    // query and misses the response cache: this measures filtering and facet counting.
    let bases = [
        "skin_type=oily&free_from=fragrance",
        "product_type=skincare&concern=dehydration",
        "category=foundation&brand=lumen-lab,nordic-dew,mineral-muse",
        "category=skincare&free_from=alcohol",
        "product_type=haircare&free_from=sulfate",
        "skin_type=sensitive&exclude_ingredient=fragrance",
    ];
    let distinct: PathFn =
        std::sync::Arc::new(move |n| format!("/v1/products?{}&max_price={}", bases[n % bases.len()], 3000 + n));
    let repeated: Vec<String> = bases.iter().map(|b| format!("/v1/products?{b}&max_price=3000")).collect();
    let words = ["vitamin%20c", "hyaluronic%20acid%20serum", "niacinamide", "rose", "curl%20shampoo"];
    let search: PathFn = std::sync::Arc::new(move |n| {
        format!("/v1/products?q={}&skin_type=normal&max_price={}", words[n % words.len()], 4000 + n)
    });

    // Warm up, then measure.
    let slugs = cycle(slugs);
    drive(&addr, "warm-up", slugs.clone(), opts.connections, 2).await?;
    let scenarios: [(&'static str, PathFn); 4] = [
        ("product detail by slug", slugs),
        ("listing, 3 filters + facets", distinct),
        ("same, repeated (cache hits)", cycle(repeated)),
        ("text search + 2 filters", search),
    ];
    let mut reports = vec![];
    for (name, paths) in scenarios {
        reports.push(drive(&addr, name, paths, opts.connections, opts.seconds).await?);
        let rss = proc_status_mb(pid, "VmRSS:").unwrap_or(0.0);
        eprintln!("bench: {name}: done; server RSS now {rss:.0} MB, peak {:.0} MB", peak_rss_mb(pid).unwrap_or(0.0));
    }

    // Write-to-searchable: rename a product to a unique word and poll the search for it.
    let (_, listing) = request(&addr, "GET", "/v1/products?limit=1", &token, None).await?;
    let v: serde_json::Value = serde_json::from_str(&listing)?;
    let id = v["items"][0]["id"].as_str().context("a product id")?.to_owned();
    let mut propagation = vec![];
    for round in 0..20 {
        let word = format!("benchword{round}x{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
        let body = serde_json::json!({"description": word}).to_string();
        let t = Instant::now();
        let (status, _) = request(&addr, "PATCH", &format!("/v1/admin/products/{id}"), &token, Some(body)).await?;
        anyhow::ensure!(status == 200, "PATCH answered {status}");
        let committed = t.elapsed();
        loop {
            let (_, body) = request(&addr, "GET", &format!("/v1/products?q={word}"), &token, None).await?;
            if body.contains("\"total\":1") {
                break;
            }
            anyhow::ensure!(
                t.elapsed() < Duration::from_secs(10),
                "the change never became searchable: {}",
                body.chars().take(300).collect::<String>()
            );
        }
        propagation.push(t.elapsed().saturating_sub(committed));
    }
    propagation.sort();

    // Accounts: log-in at the production argon2 cost, one client and several; then the
    // personalised listing with a customer token (distinct queries, so no cache helps).
    let login_body =
        Bytes::from(serde_json::json!({"email": "shopper@example.com", "password": SHOPPER_PASSWORD}).to_string());
    let login: MakeReq = std::sync::Arc::new(move |_| Req {
        method: "POST",
        path: "/v1/auth/login".into(),
        token: None,
        body: Some(login_body.clone()),
    });
    reports.push(drive_requests(&addr, "login, 1 client", login.clone(), 1, opts.seconds.min(5)).await?);
    reports.push(drive_requests(&addr, "login, 8 clients", login, 8, opts.seconds.min(5)).await?);
    let (status, body) = request(
        &addr,
        "POST",
        "/v1/auth/login",
        "",
        Some(serde_json::json!({"email": "shopper@example.com", "password": SHOPPER_PASSWORD}).to_string()),
    )
    .await?;
    anyhow::ensure!(status == 200, "login answered {status}: {body}");
    let access: std::sync::Arc<str> =
        serde_json::from_str::<serde_json::Value>(&body)?["access_token"].as_str().context("a token")?.into();
    let for_me: MakeReq = std::sync::Arc::new(move |n| Req {
        method: "GET",
        path: format!("/v1/products?for_me=true&product_type=skincare&max_price={}", 3000 + n),
        token: Some(access.clone()),
        body: None,
    });
    reports.push(drive_requests(&addr, "for_me listing, logged in", for_me, opts.connections, opts.seconds).await?);
    let rss = peak_rss_mb(pid).unwrap_or(0.0);

    // What the gateway layer costs: product detail with and without it on two servers over the
    // same store, in six pairs of short rounds, alternating which goes first; the VM's own swings
    // move both of a pair alike, so the median of the pairs' costs is what is reported.
    let (bare, bare_addr, _) = spawn_server(&url, &key_dir.0, &token, &["--no-gateway"]).await?;
    let detail = cycle(demo_slugs.clone());
    let round = (opts.seconds / 3).max(2);
    let mut pairs: Vec<(f64, f64)> = vec![];
    for i in 0..6 {
        let mut pair = (0.0, 0.0);
        for gateway in if i % 2 == 0 { [true, false] } else { [false, true] } {
            let (target, name) = if gateway { (&addr, "detail, gateway") } else { (&bare_addr, "detail, no gateway") };
            let r = drive(target, name, detail.clone(), opts.connections, round).await?.per_second;
            if gateway { pair.0 = r } else { pair.1 = r }
        }
        pairs.push(pair);
    }
    let mut costs: Vec<f64> = pairs.iter().map(|(with, without)| (1.0 - with / without) * 100.0).collect();
    costs.sort_by(f64::total_cmp);
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    let with = median(pairs.iter().map(|p| p.0).collect());
    let without = median(pairs.iter().map(|p| p.1).collect());
    let cost = median(costs.clone());
    drop(bare);
    let _ = child.start_kill();
    let _ = child.wait().await;
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "rouge bench catalog: {} products, {} connections, {} s per scenario",
        loaded, opts.connections, opts.seconds
    );
    for r in &reports {
        println!("{r}");
    }
    println!(
        "commit -> searchable: median {:.1} ms, max {:.1} ms over {} writes",
        propagation[propagation.len() / 2].as_secs_f64() * 1e3,
        propagation.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        propagation.len()
    );
    println!("server peak RSS: {rss:.0} MB");
    println!(
        "gateway cost on product detail: {with:.0} req/s with it, {without:.0} without (medians of 6 rounds each): \
         {cost:.1} % of throughput (median of the 6 pairs; {:.1} % to {:.1} %)",
        costs[0],
        costs[costs.len() - 1]
    );
    Ok(())
}

const SHOPPER_PASSWORD: &str = "bench shopper passphrase";

/// Identity on the store with these keys, passwords hashed at `cost`.
fn identity_on<S: rouge_http::Store>(
    store: &S,
    keys: &rouge_identity::Keys,
    cost: rouge_identity::HashCost,
) -> anyhow::Result<rouge_identity::IdentityService<S>> {
    let hasher = rouge_identity::PasswordHasher::new(cost).map_err(|e| anyhow::anyhow!(e))?;
    Ok(rouge_identity::IdentityService::new(
        store.clone(),
        keys.vault.clone(),
        hasher,
        keys.tokens.clone(),
        Default::default(),
    ))
}

/// An owner (bench@example.com) and an API key of hers with `permissions`; the key.
pub(crate) async fn owner_key<S: rouge_http::Store>(
    store: &S,
    keys: &rouge_identity::Keys,
    permissions: &[rouge_identity::Permission],
) -> anyhow::Result<String> {
    let identity = identity_on(store, keys, rouge_identity::HashCost::TEST)?;
    identity.create_owner("bench@example.com", "Bench", "bench passphrase").await.map_err(|e| anyhow::anyhow!(e))?;
    let staff =
        identity.staff_login("bench@example.com", "bench passphrase", "bench").await.map_err(|e| anyhow::anyhow!(e))?;
    let owner = identity.authorize(&staff.access_token).await.map_err(|e| anyhow::anyhow!(e))?;
    let key_input = rouge_identity::ApiKeyInput { name: "bench".into(), permissions: permissions.to_vec() };
    Ok(identity.create_api_key(&owner, key_input).await.map_err(|e| anyhow::anyhow!(e))?.secret)
}

/// Customers registered, verified (they follow their emails' links) and logged in, each with
/// her beauty profile: (email, profile) in, (customer id, access token) out.
pub(crate) async fn verified_shoppers<S: rouge_http::Store>(
    store: &S,
    keys: &rouge_identity::Keys,
    cost: rouge_identity::HashCost,
    shoppers: &[(String, serde_json::Value)],
    password: &str,
) -> anyhow::Result<Vec<(uuid::Uuid, String)>> {
    let identity = identity_on(store, keys, cost)?;
    for (email, _) in shoppers {
        let reg = rouge_identity::RegisterInput { email: email.clone(), password: password.into(), name: None };
        identity.register(reg).await.map_err(|e| anyhow::anyhow!(e))?;
    }
    // They follow the links of their verification emails, as anyone who logs in has.
    let mut after = 0;
    loop {
        let events = rouge_kernel::Outbox::events_after(store, after, 10_000).await.map_err(|e| anyhow::anyhow!(e))?;
        let Some(last) = events.last() else { break };
        after = last.sequence;
        for e in events.iter().filter(|e| e.event_type == "EmailRequested") {
            let mail: rouge_identity::service::EmailRequested = serde_json::from_value(e.payload.clone())?;
            let Some(body) = identity.render_email(&mail, "http://bench").await.map_err(|e| anyhow::anyhow!(e))? else {
                continue;
            };
            if let Some(link) = body.body.split("token=").nth(1).and_then(|t| t.split_whitespace().next()) {
                let _ = identity.verify_email(link).await;
            }
        }
    }
    let mut out = vec![];
    for (email, profile) in shoppers {
        let session = identity.login(email, password, "bench").await.map_err(|e| anyhow::anyhow!(e))?;
        let customer = identity.tokens().verify(&session.access_token)?.sub;
        let profile: rouge_identity::BeautyProfile = serde_json::from_value(profile.clone())?;
        let update = rouge_identity::MeUpdate { beauty_profile: Some(profile), ..Default::default() };
        identity.update_me(customer, update, None).await.map_err(|e| anyhow::anyhow!(e))?;
        out.push((customer, session.access_token));
    }
    Ok(out)
}

/// Starts `rouge serve` on the store as a child process and waits until it is ready.
pub(crate) async fn spawn_server(
    url: &str,
    key_dir: &std::path::Path,
    token: &str,
    extra: &[&str],
) -> anyhow::Result<(tokio::process::Child, String, u32)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr = format!("127.0.0.1:{port}");
    // ROUGE_BENCH_SERVER runs another build's binary as the server (old against new).
    let exe = std::env::var_os("ROUGE_BENCH_SERVER").map_or(std::env::current_exe()?, std::path::PathBuf::from);
    let child = tokio::process::Command::new(exe)
        .args(["serve", "--listen", &addr, "--database-url", url, "--metrics-listen", "off"])
        .arg("--key-dir")
        .arg(key_dir)
        .args(extra)
        // Every bench connection comes from 127.0.0.1: a budget the load cannot spend keeps
        // the limiter running (its cost is measured) without refusing anything.
        // (A million a second: never spent. The burst is of the size real budgets have, so the
        // RateLimit-Remaining header is rendered as in production, and so that a short
        // tolerance keeps the limiter honest: with it, the limiter's stale-clock refusal
        // showed up as one error per run until it was fixed.)
        .env("ROUGE_RATE_LIMIT_READ", "60000000/min,burst=4000")
        .env("ROUGE_RATE_LIMIT_WRITE", "60000000/min,burst=4000")
        .env("ROUGE_RATE_LIMIT_AUTH", "60000000/min,burst=4000")
        .env("RUST_LOG", "warn")
        // The checkout bench pays with the test provider's cards.
        .env("ROUGE_TEST_PAYMENTS", "true")
        // Run as the README recommends for glibc: two malloc arenas instead of one per thread
        // (up to 16 here), which keeps freed memory from piling up in idle arenas (peak RSS
        // 277 MB against 312 MB with 10,000 products). A value in the environment wins.
        .env("MALLOC_ARENA_MAX", std::env::var("MALLOC_ARENA_MAX").unwrap_or_else(|_| "2".into()))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("starting rouge serve")?;
    let pid = child.id().context("server pid")?;
    let started = Instant::now();
    while request(&addr, "GET", "/readyz", token, None).await.map(|r| r.0).ok() != Some(200) {
        anyhow::ensure!(started.elapsed() < Duration::from_secs(120), "the server did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "bench: server pid {pid} ready in {:.1} s; RSS after start {:.0} MB",
        started.elapsed().as_secs_f64(),
        peak_rss_mb(pid).unwrap_or(0.0)
    );
    Ok((child, addr, pid))
}
