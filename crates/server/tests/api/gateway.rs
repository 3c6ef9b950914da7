//! The gateway layer: rate limits (in-process and shared through Redis by two server
//! processes), header size limit, security headers and CORS.

use crate::helpers::{TestApp, test_options};
use reqwest::StatusCode;
use rouge_http::gateway::Quota;
use rouge_store_tests::harness::{self, TempDir};
use std::process::{Child, Command, Stdio};

fn tight(read_burst: u32) -> rouge_server::Options {
    let mut opts = test_options();
    opts.gateway.read = Some(Quota { per_minute: 60, burst: read_burst });
    opts
}

#[tokio::test]
async fn over_the_budget_answers_429_with_retry_after_and_ratelimit_headers() {
    let app = TestApp::sqlite_with(tight(3)).await;
    let mut remaining = vec![];
    for _ in 0..3 {
        let res = app.get("/v1/brands").await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["ratelimit-limit"], "3");
        remaining.push(res.headers()["ratelimit-remaining"].to_str().unwrap().to_owned());
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let res = app.get("/v1/products").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    assert_eq!(res.headers()["retry-after"], "1", "one request refills in a second at 60/min");
    assert_eq!(res.headers()["ratelimit-remaining"], "0");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["type"], "/problems/too-many-requests");
    assert_eq!(body["instance"], "/v1/products", "the gateway's problems name the request too");
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK, "probes are never limited");
    let made_up = app.client.get(app.url("/v1/brands")).bearer_auth("made-up-token").send().await.unwrap();
    assert_eq!(made_up.status(), StatusCode::TOO_MANY_REQUESTS, "a made-up token buys no fresh budget");
    let customer =
        app.tokens.issue(uuid::Uuid::now_v7(), rouge_identity::Subject::Customer, chrono::Utc::now().timestamp()).0;
    let other = app.client.get(app.url("/v1/brands")).bearer_auth(&customer).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::OK, "budgets are per client: a logged-in customer has her own");
    let write = app
        .client
        .post(app.url("/v1/admin/brands"))
        .bearer_auth(&app.admin_key)
        .json(&serde_json::json!({"name": "Late Brand"}));
    assert_eq!(write.send().await.unwrap().status(), StatusCode::CREATED, "writes have their own budget");
    app.stop().await;

    let mut opts = test_options();
    opts.gateway.auth = Some(Quota { per_minute: 60, burst: 2 });
    let app = TestApp::sqlite_with(opts).await;
    let login = || {
        app.client
            .post(app.url("/v1/auth/login"))
            .json(&serde_json::json!({"email": "x@example.com", "password": "whatever it is"}))
            .send()
    };
    let statuses = [login().await.unwrap().status(), login().await.unwrap().status(), login().await.unwrap().status()];
    assert_eq!(
        statuses,
        [StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS],
        "the account routes have a tighter budget"
    );
    let other =
        app.admin(reqwest::Method::POST, "/v1/admin/brands", &serde_json::json!({"name": "Still Writable"})).await;
    assert_eq!(other.status(), StatusCode::CREATED, "other writes are not affected");
    app.stop().await;
}

#[tokio::test]
async fn oversized_headers_answer_431_and_every_answer_has_security_headers() {
    let app = TestApp::sqlite().await;
    let res = app.client.get(app.url("/v1/brands")).header("x-padding", "a".repeat(20_000)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let res = app.get("/v1/brands").await;
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    assert!(res.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    let docs = app.get("/docs/").await;
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.headers().get("content-security-policy").is_none(), "the docs page keeps its scripts");
    assert_eq!(docs.headers()["referrer-policy"], "no-referrer", "pages do not leak their address");
    app.stop().await;
}

#[tokio::test]
async fn cors_answers_configured_origins_only() {
    let mut opts = test_options();
    opts.gateway.cors_origins = vec!["https://shop.example".parse().unwrap()];
    let app = TestApp::sqlite_with(opts).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/v1/products"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    let ok = preflight("https://shop.example").await.unwrap();
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://shop.example");
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    let plain = app.get("/v1/brands").await;
    assert_eq!(plain.status(), StatusCode::OK);
    app.stop().await;
}

/// A `rouge serve` child process, killed when dropped.
struct Server(Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn serve(db: &std::path::Path, redis: &str, prefix: &str) -> Server {
    let addr = format!("127.0.0.1:{}", crate::helpers::free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_rouge"))
        .args(["serve", "--listen", &addr, "--metrics-listen", "off"])
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("REDIS_URL", redis)
        .env("ROUGE_REDIS_PREFIX", prefix)
        .env("ROUGE_RATE_LIMIT_READ", "60/min,burst=5")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rouge serve");
    let server = Server(child, format!("http://{addr}"));
    for _ in 0..600 {
        if let Ok(r) = reqwest::get(format!("{}/healthz", server.1)).await
            && r.status() == StatusCode::OK
        {
            return server;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("rouge serve did not answer on {addr}");
}

#[tokio::test]
async fn two_server_processes_sharing_redis_spend_one_budget() {
    let Some(redis) = harness::redis_url().await else { return };
    let dir = TempDir::new();
    let prefix = format!("rouge-test-{}", uuid::Uuid::now_v7().simple());
    // Two files: each process owns its store; only the budget is shared.
    let a = serve(&dir.0.join("a.db"), &redis, &prefix).await;
    let b = serve(&dir.0.join("b.db"), &redis, &prefix).await;
    let client = reqwest::Client::new();
    let mut statuses = vec![];
    for i in 0..7 {
        let base = if i % 2 == 0 { &a.1 } else { &b.1 };
        statuses.push(client.get(format!("{base}/v1/brands")).send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429, 429], "a burst of 5 across both replicas");
}

#[tokio::test]
async fn https_with_a_configured_certificate() {
    let dir = TempDir::new();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert, key) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    let mut opts = test_options();
    opts.tls = Some(rouge_server::tls::acceptor(&cert, &key).unwrap());
    let app = TestApp::sqlite_with(opts).await;
    let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(generated.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", addr)
        .build()
        .unwrap();
    let res = client.get(format!("https://localhost:{}/v1/brands", addr.port())).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["strict-transport-security"].to_str().unwrap().starts_with("max-age="));
    assert!(app.client.get(app.url("/healthz")).send().await.is_err(), "plain HTTP is not served on the HTTPS port");
    let untrusting = reqwest::Client::builder().resolve("localhost", addr).build().unwrap();
    assert!(
        untrusting.get(format!("https://localhost:{}/healthz", addr.port())).send().await.is_err(),
        "the client checks the certificate"
    );
    let other = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(&key, other.signing_key.serialize_pem()).unwrap();
    let mismatch = rouge_server::tls::acceptor(&cert, &key).err().expect("a key that is not the certificate's");
    assert!(mismatch.to_string().contains("do not match"), "{mismatch}");
    app.stop().await;
}

#[tokio::test]
async fn a_request_that_waits_past_the_time_out_answers_408_and_memory_reads_are_not_delayed() {
    let mut opts = test_options();
    opts.gateway.request_timeout = std::time::Duration::from_nanos(1);
    // A password check that takes far longer than a timer tick, so the log-in surely waits.
    opts.identity.hash_cost = rouge_identity::HashCost { memory_kib: 32 * 1024, iterations: 24, lanes: 1 };
    let app = TestApp::sqlite_with(opts).await;
    // Answered from memory on the first poll: no timer is armed, so no time-out applies.
    assert_eq!(app.get("/v1/brands").await.status(), StatusCode::OK);
    // A log-in waits for a hashing thread, so its (already past) deadline applies.
    let res = app
        .client
        .post(app.url("/v1/auth/login"))
        .json(&serde_json::json!({"email": "x@example.com", "password": "whatever it is"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::REQUEST_TIMEOUT);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    app.stop().await;
}

/// GraphQL's account mutations spend the account budget, one unit per field, shared with the
/// REST account routes: aliases in one request or a switch of transport buy no extra guesses.
async fn graphql_account_mutations_spend_the_account_budget(pg: bool) {
    let mut opts = test_options();
    opts.gateway.auth = Some(Quota { per_minute: 60, burst: 3 });
    let Some(app) = TestApp::on(pg, opts).await else { return };
    let gql =
        |query: &'static str| app.client.post(app.url("/graphql")).json(&serde_json::json!({"query": query})).send();
    let one = "mutation { login(email: \"x@example.com\", password: \"whatever it is\") { accessToken } }";
    let first: serde_json::Value = gql(one).await.unwrap().json().await.unwrap();
    assert_eq!(first["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "a wrong password: {first}");
    let aliased = "mutation { a: login(email: \"x@example.com\", password: \"guess one\") { accessToken } \
        b: login(email: \"x@example.com\", password: \"guess two\") { accessToken } \
        c: login(email: \"x@example.com\", password: \"guess three\") { accessToken } }";
    let r: serde_json::Value = gql(aliased).await.unwrap().json().await.unwrap();
    let codes: Vec<&str> =
        r["errors"].as_array().unwrap().iter().map(|e| e["extensions"]["code"].as_str().unwrap()).collect();
    assert_eq!(codes.iter().filter(|c| **c == "RATE_LIMITED").count(), 1, "the third guess is over budget: {r}");
    let limited = r["errors"].as_array().unwrap().iter().find(|e| e["extensions"]["code"] == "RATE_LIMITED").unwrap();
    assert!(limited["extensions"]["retryAfter"].as_u64().unwrap() >= 1, "{limited}");
    assert_eq!(wrong_login(&app).await, StatusCode::TOO_MANY_REQUESTS, "one budget for REST and GraphQL");
    app.stop().await;
}

#[tokio::test]
async fn sqlite_graphql_account_mutations_spend_the_account_budget() {
    graphql_account_mutations_spend_the_account_budget(false).await;
}

#[tokio::test]
async fn postgres_graphql_account_mutations_spend_the_account_budget() {
    graphql_account_mutations_spend_the_account_budget(true).await;
}

/// Behind a load balancer (here: the test client on 127.0.0.1 plays it) each shopper has her
/// own budget, taken from the right-most untrusted `X-Forwarded-For` hop; a made-up hop to its
/// left changes nothing; and a server that trusts no proxy ignores the header.
async fn clients_behind_a_trusted_proxy_have_their_own_budgets(pg: bool) {
    let start = |trusted: bool| async move {
        let mut opts = tight(2);
        if trusted {
            opts.gateway.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        }
        TestApp::on(pg, opts).await
    };
    let Some(app) = start(true).await else { return };
    let via = |xff: &'static str| app.client.get(app.url("/v1/brands")).header("x-forwarded-for", xff).send();
    assert_eq!(via("203.0.113.1").await.unwrap().status(), StatusCode::OK);
    assert_eq!(via("203.0.113.1").await.unwrap().status(), StatusCode::OK);
    assert_eq!(via("203.0.113.1").await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS, "her budget is spent");
    assert_eq!(via("203.0.113.2").await.unwrap().status(), StatusCode::OK, "another shopper has her own");
    assert_eq!(
        via("198.51.100.77, 203.0.113.1").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a hop she made up to the left buys nothing"
    );
    app.stop().await;

    let Some(app) = start(false).await else { return };
    let via = |xff: &'static str| app.client.get(app.url("/v1/brands")).header("x-forwarded-for", xff).send();
    assert_eq!(via("203.0.113.1").await.unwrap().status(), StatusCode::OK);
    assert_eq!(via("203.0.113.2").await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        via("203.0.113.3").await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS,
        "without trusted proxies the header is ignored: one peer, one budget"
    );
    app.stop().await;
}

#[tokio::test]
async fn sqlite_clients_behind_a_trusted_proxy_have_their_own_budgets() {
    clients_behind_a_trusted_proxy_have_their_own_budgets(false).await;
}

#[tokio::test]
async fn postgres_clients_behind_a_trusted_proxy_have_their_own_budgets() {
    clients_behind_a_trusted_proxy_have_their_own_budgets(true).await;
}

/// Redis, which shares the rate-limit budgets, is cut by a proxy the test owns: at start (the
/// server starts and serves anyway), then under load (no request waits on it, none fails), and
/// it comes back (budgets are shared through it again, with no restart).
async fn a_dead_redis_never_stalls_requests(pg: bool) {
    use crate::faults::{FaultProxy, Mode};
    use redis::AsyncCommands;
    let Some(redis_url) = harness::redis_url().await else { return };
    let proxy = FaultProxy::start(redis_url.trim_start_matches("redis://").trim_end_matches('/')).await;
    proxy.set(Mode::Blackhole);
    let prefix = format!("rouge-test-{}", uuid::Uuid::now_v7().simple());
    let mut opts = test_options();
    opts.redis_url = Some(proxy.url("redis"));
    opts.redis_prefix = prefix.clone();
    let Some(app) = TestApp::on(pg, opts).await else { return };
    // A generous client deadline: a liveness check (a stalled request would take seconds), not
    // a latency target; the latencies are printed for the record.
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(2)).build().unwrap();
    let reads = |n: usize| {
        let (client, url) = (client.clone(), app.url("/v1/brands"));
        async move {
            let mut took = vec![];
            for _ in 0..n {
                let t = std::time::Instant::now();
                let status = client.get(&url).send().await.expect("answered").status();
                assert!(!status.is_server_error(), "{status}");
                took.push(t.elapsed());
            }
            took
        }
    };
    let p99 = |mut t: Vec<std::time::Duration>| {
        t.sort();
        t[t.len() * 99 / 100]
    };
    let at_start = reads(50).await;
    eprintln!("Redis black-holed at start: p99 {:?}", p99(at_start));

    // Redis comes back: budgets go through it (its key appears), no restart needed.
    proxy.set(Mode::Pass);
    let mut direct = redis::Client::open(redis_url.as_str()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let pattern = format!("{prefix}:rl:*");
    let mut shared = false;
    for _ in 0..100 {
        reads(1).await;
        let keys: Vec<String> = direct.keys(&pattern).await.unwrap();
        if !keys.is_empty() {
            shared = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(shared, "budgets are shared through Redis once it answers");

    // Cut under load: eight clients reading at once, through the cut and after it.
    let load: Vec<_> = (0..8).map(|_| tokio::spawn(reads(60))).collect();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    proxy.set(Mode::Blackhole);
    let mut all = vec![];
    for l in load {
        all.extend(l.await.unwrap());
    }
    eprintln!("Redis black-holed under load: {} reads, p99 {:?}", all.len(), p99(all));
    proxy.set(Mode::Refuse);
    let refused = reads(50).await;
    eprintln!("Redis refusing connections: p99 {:?}", p99(refused));
    let _: () = redis::cmd("DEL")
        .arg(direct.keys::<_, Vec<String>>(&pattern).await.unwrap())
        .query_async(&mut direct)
        .await
        .unwrap_or(());
    app.stop().await;
}

#[tokio::test]
async fn sqlite_a_dead_redis_never_stalls_requests() {
    a_dead_redis_never_stalls_requests(false).await;
}

#[tokio::test]
async fn postgres_a_dead_redis_never_stalls_requests() {
    a_dead_redis_never_stalls_requests(true).await;
}

/// A log-in with a wrong password; its status.
async fn wrong_login(app: &TestApp) -> StatusCode {
    let body = serde_json::json!({"email": "x@example.com", "password": "whatever it is"});
    app.client.post(app.url("/v1/auth/login")).json(&body).send().await.unwrap().status()
}

/// Calls between services (a service token on `/internal/v1`) spend no shopper's budget: a
/// burst of reservations from one orders process is not throttled, while a public write from
/// the same address is; and without a service token the internal routes answer 401.
#[tokio::test]
async fn calls_between_services_are_not_rate_limited_as_one_client() {
    let mut opts = test_options();
    opts.gateway.write = Some(Quota { per_minute: 60, burst: 2 });
    let app = TestApp::sqlite_with(opts).await;
    let token = app.tokens.issue_service("orders", chrono::Utc::now().timestamp());
    for i in 0..6 {
        let res = app
            .client
            .post(app.url("/internal/v1/reservations"))
            .bearer_auth(&token)
            .header("idempotency-key", format!("burst-{i}"))
            .json(&serde_json::json!({"reference": format!("cart-{i}"), "lines": [["NO-SUCH", 1]]}))
            .send()
            .await
            .unwrap();
        assert_ne!(res.status(), StatusCode::TOO_MANY_REQUESTS, "call {i}");
        assert!(res.status().is_success(), "call {i}: {}", res.status());
    }
    let public = |n: u32| app.client.post(app.url("/v1/carts")).header("idempotency-key", format!("c{n}")).send();
    let statuses =
        [public(1).await.unwrap().status(), public(2).await.unwrap().status(), public(3).await.unwrap().status()];
    assert_eq!(statuses[2], StatusCode::TOO_MANY_REQUESTS, "a shopper's writes are still limited: {statuses:?}");
    // A malformed body is a problem document and changes nothing.
    let sellable = || async {
        app.client.get(app.url("/internal/v1/sellable")).bearer_auth(&token).send().await.unwrap().text().await.unwrap()
    };
    let before = sellable().await;
    let bad = app
        .client
        .post(app.url("/internal/v1/reservations"))
        .bearer_auth(&token)
        .header("idempotency-key", "bad-body")
        .json(&serde_json::json!({"reference": "cart-bad", "lines": "none"}))
        .send()
        .await
        .unwrap();
    assert!(bad.status().is_client_error(), "{}", bad.status());
    assert_eq!(bad.headers()["content-type"], "application/problem+json");
    let problem: serde_json::Value = bad.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "lines", "the field is named: {problem}");
    assert_eq!(sellable().await, before, "nothing held");
    let anonymous =
        app.client.post(app.url("/internal/v1/reservations")).json(&serde_json::json!({})).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let customer =
        app.tokens.issue(uuid::Uuid::now_v7(), rouge_identity::Subject::Customer, chrono::Utc::now().timestamp()).0;
    let as_customer = app.client.get(app.url("/internal/v1/sellable")).bearer_auth(customer).send().await.unwrap();
    assert_eq!(as_customer.status(), StatusCode::UNAUTHORIZED, "a customer's token is no service token");
    app.stop().await;
}
