//! The binary's jobs as library calls: demo seeding and bulk import.

use rouge_catalog::ProductType;
use rouge_server::{demo, import, seed};
use rouge_store_tests::harness::{self, TempDir};

async fn seed_and_import_on<S: rouge_http::Store>(store: S) {
    let n = seed::seed_demo(&store, 300).await.unwrap();
    assert_eq!(n, 300);
    // Demo stock: most variants in stock, some low, a few sold out; seeding again adds none.
    let lots = seed::seed_demo_stock(&store, 300).await.unwrap();
    assert!(lots > 300, "{lots}");
    assert_eq!(seed::seed_demo_stock(&store, 300).await.unwrap(), 0);
    let inventory = rouge_inventory::InventoryService::new(store.clone());
    let demo = demo::generate(300);
    let skus: Vec<&str> = demo.products[demo.featured..]
        .iter()
        .flat_map(|p| p.variants.iter().map(|v| v.sku.as_str()))
        .take(12)
        .collect();
    let mut levels = vec![];
    for sku in skus {
        levels.push(inventory.stock(sku).await.unwrap().available);
    }
    assert!(
        levels.contains(&0) && levels.iter().any(|n| (1..=5).contains(n)) && levels.iter().any(|n| *n > 5),
        "{levels:?}"
    );
    assert_eq!(store.brands().await.unwrap().len(), 25);
    let products = store.products().await.unwrap();
    for t in ProductType::ALL {
        assert!(products.iter().any(|p| p.product_type == *t), "no {t:?} in the demo");
    }
    let dir = TempDir::new();
    let csv = dir.0.join("products.csv");
    std::fs::write(
        &csv,
        "name,brand,product_type,sku,price,currency,size_ml,ingredients,skin_types\n\
         Calm Gel,lumen-lab,skincare,IMP-1,1999,EUR,50,Aqua|Glycerin|Allantoin,sensitive\n\
         Bad Type,lumen-lab,perfume,IMP-2,1999,EUR,50,Aqua,\n\
         No Brand,nobody,skincare,IMP-3,1999,EUR,50,Aqua,\n\
         Cheap,lumen-lab,skincare,IMP-4,-1,EUR,50,Aqua,\n\
         Oat Balm,lumen-lab,body,IMP-5,2500,EUR,100,Aqua|Avena Sativa Kernel Flour,dry\n",
    )
    .unwrap();
    let rows = import::read_rows(&csv).unwrap();
    let summary = import::import(&store, rows).await;
    assert_eq!(summary.imported, 2);
    let rows: Vec<usize> = summary.rejected.iter().map(|(r, _)| *r).collect();
    assert_eq!(rows, [2, 3, 4]);
    assert!(summary.rejected[1].1.contains("brand"), "{:?}", summary.rejected);
    let json = dir.0.join("products.json");
    std::fs::write(&json, r#"[{"name": "Json Serum", "brand": "lumen-lab", "product_type": "skincare"}, {"name": 5}]"#)
        .unwrap();
    let summary = import::import(&store, import::read_rows(&json).unwrap()).await;
    assert_eq!((summary.imported, summary.rejected.len()), (1, 1));
    assert_eq!(store.product_count().await.unwrap(), 303);
}

#[tokio::test]
async fn demo_seed_and_import_on_sqlite() {
    let db = harness::sqlite().await;
    seed_and_import_on(db.store.clone()).await;
}

#[tokio::test]
async fn demo_seed_and_import_on_postgres() {
    let Some(db) = harness::postgres().await else { return };
    seed_and_import_on(db.store.clone()).await;
    db.cleanup().await;
}

#[test]
fn the_demo_has_at_least_300_products_with_shades_and_sizes() {
    let d = demo::generate(320);
    assert!(d.products.len() >= 300);
    assert!(d.products.iter().any(|p| p.variants.iter().any(|v| v.shade.is_some())));
    assert!(d.products.iter().any(|p| p.variants.len() > 1 && p.variants.iter().all(|v| v.size.is_some())));
}

/// `rouge serve --demo` on `database_url` (keys in `dir`), on a free port: the child, its base
/// URL, and the banner it printed on stdout.
async fn serve_demo(dir: &TempDir, database_url: &str) -> (std::process::Child, String, String) {
    serve_demo_with(dir, database_url, &[]).await
}

async fn serve_demo_with(
    dir: &TempDir,
    database_url: &str,
    env: &[(&str, &str)],
) -> (std::process::Child, String, String) {
    use std::io::BufRead;
    let addr = format!("127.0.0.1:{}", crate::helpers::free_port());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rouge"))
        .args(["serve", "--demo", "--listen", &addr, "--metrics-listen", "off"])
        .envs(env.iter().copied())
        .env("DATABASE_URL", database_url)
        .env("ROUGE_KEY_DIR", dir.0.join("keys"))
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let banner = tokio::task::spawn_blocking(move || {
        let mut lines = vec![];
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let done = line.contains("create-owner");
            lines.push(line);
            if done {
                break;
            }
        }
        lines.join("\n")
    })
    .await
    .unwrap();
    (child, format!("http://{addr}"), banner)
}

/// `rouge serve --demo` greets a first run on stdout: where the shop is, its docs and GraphQL,
/// and how to make the first owner; and the demo shop takes the test provider's cards.
#[tokio::test]
async fn serve_demo_prints_a_banner_and_takes_test_cards() {
    let dir = TempDir::new();
    let (mut child, base, banner) = serve_demo(&dir, &format!("sqlite://{}", dir.0.join("shop.db").display())).await;
    for needle in [format!("{base}/docs"), format!("{base}/graphql"), "rouge admin create-owner".to_owned()] {
        assert!(banner.contains(&needle), "the banner names {needle}: {banner}");
    }
    let sku = demo::generate(320).products[0].variants[0].sku.clone();
    let c = reqwest::Client::new();
    let cart: serde_json::Value = c.post(format!("{base}/v1/carts")).send().await.unwrap().json().await.unwrap();
    let id = cart["id"].as_str().unwrap();
    let line = c.post(format!("{base}/v1/carts/{id}/lines")).json(&serde_json::json!({"sku": sku, "quantity": 1}));
    assert!(line.send().await.unwrap().status().is_success());
    let details = serde_json::json!({"email": "camille@example.com", "shipping_method": "standard",
        "shipping_address": {"name": "Camille Martin", "line1": "12 rue des Lilas", "city": "Lyon", "postal_code": "69003", "country": "FR"}});
    c.put(format!("{base}/v1/carts/{id}/checkout")).json(&details).send().await.unwrap();
    let res = c
        .post(format!("{base}/v1/carts/{id}/complete"))
        .header("idempotency-key", "demo-1")
        .json(&serde_json::json!({"payment": {"provider": "test", "token": "tok_visa"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::CREATED, "the demo takes test cards");
    let _ = child.kill();
    let _ = child.wait();
}

/// Runs `scripts/{name}`, which the README shows word for word from its marker line (`# ---
/// {part} (the README's copy starts here) ---`), with `env`: it succeeds, each command (a line
/// starting with one of `commands`) gives one JSON answer, and none is a problem or empty
/// (no empty list, no GraphQL error). Returns the answers.
async fn readme_script(name: &str, part: &str, commands: &[&str], env: &[(&str, &str)]) -> Vec<serde_json::Value> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = std::fs::read_to_string(root.join("scripts").join(name)).unwrap();
    let marker = format!("# --- {part} (the README's copy starts here) ---\n");
    let shown = script.split_once(&marker).unwrap_or_else(|| panic!("the marker in scripts/{name}")).1;
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(readme.contains(&format!("```sh\n{shown}```")), "the README shows scripts/{name} as it is");
    let expected = shown.lines().filter(|l| commands.iter().any(|c| l.starts_with(c))).count();
    let out = tokio::process::Command::new("sh")
        .arg(root.join("scripts").join(name))
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "scripts/{name} failed: {said}{}", String::from_utf8_lossy(&out.stderr));
    let answers: Vec<serde_json::Value> =
        said.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert_eq!(answers.len(), expected, "one answer per command: {said}");
    for a in &answers {
        let problem = a["type"].as_str().is_some_and(|t| t.starts_with("/problems/"));
        let empty = a["items"].as_array().is_some_and(Vec::is_empty)
            || a.as_array().is_some_and(Vec::is_empty)
            || a["total"] == 0
            || a["data"]["products"]["totalCount"] == 0
            || a["errors"].is_array();
        assert!(!problem && !empty, "every command finds something: {a}");
    }
    answers
}

/// MovieLens 100K as the recommenders' evaluation reads it: from the installed PyPI package
/// `recbole==1.2.1` (`.ci/run` installs it with `--no-deps`), never from the repository.
fn movielens() -> Option<std::path::PathBuf> {
    let find = "import importlib.util, os; s = importlib.util.find_spec('recbole'); \
        print(os.path.join(s.submodule_search_locations[0], 'dataset_example/ml-100k/ml-100k.inter') if s else '')";
    let out = std::process::Command::new("python3").args(["-c", find]).output().ok()?;
    let path = std::path::PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if path.is_file() {
        return Some(path);
    }
    crate::helpers::tool_missing("recbole (PyPI, --no-deps)", "MovieLens 100K for `rouge recs eval` (see .ci/run)");
    None
}

/// `rouge recs eval` replays the protocol: the split's digest is the published one, each model
/// has validation and test figures with standard errors, the JSON report holds them; a file
/// that is not MovieLens 100K as the protocol reads it is refused, naming the digest.
#[tokio::test]
async fn recs_eval_replays_the_protocol_and_refuses_another_split() {
    let Some(data) = movielens() else { return };
    let dir = TempDir::new();
    let report = dir.0.join("report.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rouge"))
        .args(["recs", "eval", "--movielens"])
        .arg(&data)
        .arg("--report")
        .arg(&report)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{said}{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains(&format!("digest {}", rouge_recommendations::PROTOCOL_DIGEST)), "{said}");
    assert!(said.contains("943 users, 1682 items, 98114 train interactions"), "{said}");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let popularity = &doc["models"][0];
    assert_eq!(popularity["model"], "popularity", "{doc}");
    assert!(doc["models"][1]["model"].as_str().is_some_and(|m| m.starts_with("item-knn(k=100)")), "{doc}");
    let ease = &doc["models"][2];
    assert!(ease["model"].as_str().is_some_and(|m| m.starts_with("ease(λ=")), "chosen on validation: {doc}");
    assert!(said.contains(&format!("chosen on validation: {}", ease["model"].as_str().unwrap())), "{said}");
    let als = &doc["models"][3];
    assert!(als["model"].as_str().is_some_and(|m| m.starts_with("als(f=")), "{doc}");
    assert!(said.contains(&format!("chosen on validation: {}", als["model"].as_str().unwrap())), "{said}");
    // Ours, chosen on validation, against the baseline validation prefers, on test: the
    // issue's target (≥ 0.015 HR@10, above two paired SE, coverage@10 ≥ 0.30).
    let ours = &doc["models"][4];
    let verdict = &doc["verdict"];
    assert!(ours["model"].as_str().is_some_and(|m| m.starts_with("seq-ease(")), "{doc}");
    assert_eq!(verdict["ours"], ours["model"], "{doc}");
    let best = doc["models"].as_array().unwrap()[..4]
        .iter()
        .max_by(|a, b| {
            let key = |m: &serde_json::Value| {
                (m["validation"]["hr10"]["mean"].as_f64().unwrap(), m["validation"]["ndcg10"]["mean"].as_f64().unwrap())
            };
            key(a).partial_cmp(&key(b)).unwrap()
        })
        .unwrap();
    assert_eq!(verdict["best_baseline"], best["model"], "{doc}");
    let gain = verdict["gain"]["mean"].as_f64().unwrap();
    let hr = |m: &serde_json::Value| m["test"]["hr10"]["mean"].as_f64().unwrap();
    assert!((gain - (hr(ours) - hr(best))).abs() < 1e-9, "{doc}");
    assert!(gain >= 0.015 && gain > 2.0 * verdict["gain"]["se"].as_f64().unwrap(), "{doc}");
    assert!(ours["test"]["coverage10"].as_f64().unwrap() >= 0.30, "{doc}");
    assert_eq!(verdict["target_met"], true, "{doc}");
    assert!(said.contains("): met"), "{said}");
    for ranking in ["validation", "test"] {
        let hr = popularity[ranking]["hr10"]["mean"].as_f64().unwrap();
        let se = popularity[ranking]["hr10"]["se"].as_f64().unwrap();
        assert!(hr > 0.0 && hr < 1.0 && se > 0.0, "{ranking}: {popularity}");
    }
    // One more interaction, user 1's latest: another split, refused.
    let mut text = std::fs::read_to_string(&data).unwrap();
    text.push_str("1\t1\t5\t9999999999\n");
    let other = dir.0.join("other.inter");
    std::fs::write(&other, text).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rouge"))
        .args(["recs", "eval", "--movielens"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not the protocol's"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The README's tour is `scripts/tour.sh`, word for word, and every command in it finds
/// something in the demo shop (no empty list, no problem answer), down to a placed order; on
/// both stores.
async fn the_readme_tour_works_on(database_url: &str, dir: &TempDir) {
    let (mut child, base, _) = serve_demo(dir, database_url).await;
    let answers = readme_script("tour.sh", "the tour", &["get ", "send ", "curl "], &[("ROUGE", &base)]).await;
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(answers[0]["items"][0]["name"], "Niacinamide 10% Serum", "{}", answers[0]);
    assert!(answers[1]["items"][0]["name"].as_str().is_some_and(|n| n.contains("Retinol")), "{}", answers[1]);
    // Recommendations: a new visitor's, from her skin type alone, each saying why.
    let recs: Vec<&serde_json::Value> = answers.iter().filter(|a| a.get("model").is_some()).collect();
    assert_eq!(recs.len(), 2, "{answers:?}");
    assert_eq!(recs[0]["items"][0]["why"], "Popular with oily skin", "{}", recs[0]);
    assert!(recs[1]["items"].as_array().is_some_and(|i| i.len() == 3), "{}", recs[1]);
    let order = answers.last().unwrap();
    assert_eq!((order["status"].as_str(), order["lines"][0]["sku"].as_str()), (Some("authorized"), Some("LL-NIA-30")));
    // The demo's promotions: 10 % off with the code, a mini from 40.00, two picked minis.
    let skus: Vec<&str> = order["lines"].as_array().unwrap().iter().filter_map(|l| l["sku"].as_str()).collect();
    assert_eq!(skus, ["LL-NIA-30", "LL-NIA-5", "LL-GLOW-5", "LL-HYA-5"], "{order}");
    assert_eq!(order["totals"]["discount"], 480, "{order}");
    assert_eq!(order["promotions"][0]["code"], "WELCOME10");
}

/// The README's back office is `scripts/back-office.sh`, word for word; run against a demo
/// server with an owner and a verified customer, every command answers (no problem, no empty
/// list): her box avoids what she avoids, her review is shown by skin type, her cart has the
/// promotion for her skin; on both stores.
async fn the_readme_back_office_works_on(database_url: &str, dir: &TempDir) {
    let smtp = crate::smtp::SmtpSink::start().await;
    let (mut child, base, _) = serve_demo_with(dir, database_url, &[("ROUGE_SMTP_URL", smtp.url.as_str())]).await;
    let owner = std::process::Command::new(env!("CARGO_BIN_EXE_rouge"))
        .args(["admin", "create-owner", "--email", "owner@shop.example", "--name", "Olga Owner"])
        .env("DATABASE_URL", database_url)
        .env("ROUGE_KEY_DIR", dir.0.join("keys"))
        .env("ROUGE_OWNER_PASSWORD", "a long passphrase")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(owner.status.success(), "{}", String::from_utf8_lossy(&owner.stderr));
    let c = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| c.post(format!("{base}{path}")).json(&body).send();
    let staff: serde_json::Value = post(
        "/v1/admin/auth/login",
        serde_json::json!({"email": "owner@shop.example",
        "password": "a long passphrase"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let account = serde_json::json!({"email": "ana@example.com", "password": "correct horse battery", "name": "Ana"});
    assert_eq!(post("/v1/auth/register", account).await.unwrap().status(), reqwest::StatusCode::ACCEPTED);
    let link = crate::smtp::link_token(&smtp.wait_for("ana@example.com", "verify-email?token=").await);
    post("/v1/auth/verify-email", serde_json::json!({"token": link})).await.unwrap();
    let login = serde_json::json!({"email": "ana@example.com", "password": "correct horse battery"});
    let session: serde_json::Value = post("/v1/auth/login", login).await.unwrap().json().await.unwrap();

    let (key, token) = (staff["access_token"].as_str().unwrap(), session["access_token"].as_str().unwrap());
    let env = [("ROUGE", base.as_str()), ("KEY", key), ("TOKEN", token)];
    let answers = readme_script("back-office.sh", "the back office", &["her ", "staff "], &env).await;
    let _ = child.kill();
    let _ = child.wait();
    let find = |what: &dyn Fn(&serde_json::Value) -> bool| answers.iter().find(|a| what(a)).cloned();
    let her_box = find(&|a| a.as_array().is_some_and(|b| b[0]["skus"].is_array())).expect("her box");
    let skus = her_box[0]["skus"].as_array().unwrap();
    assert!(skus.len() == 2 && !skus.contains(&serde_json::json!("ST-RET-30")), "never retinol for her: {her_box}");
    let reviews = find(&|a| a["summary"]["by_skin_type"].is_array()).expect("the reviews");
    assert!(
        reviews["items"].as_array().unwrap().iter().any(|r| r["reviewer"]["display_name"] == "Ana S."),
        "{reviews}"
    );
    let cart = answers.iter().rev().find(|a| a["lines"][0]["sku"] == "LL-GLOW-30").expect("her last cart");
    assert!(cart["totals"]["discount"].as_i64().is_some_and(|d| d > 0), "15 % off for oily skin: {cart}");
}

#[tokio::test]
async fn the_readme_back_office_works_on_sqlite() {
    let dir = TempDir::new();
    the_readme_back_office_works_on(&format!("sqlite://{}", dir.0.join("shop.db").display()), &dir).await;
}

#[tokio::test]
async fn the_readme_back_office_works_on_postgres() {
    let Some(db) = harness::postgres().await else { return };
    let dir = TempDir::new();
    the_readme_back_office_works_on(&db.url, &dir).await;
    db.cleanup().await;
}

#[tokio::test]
async fn the_readme_tour_works_on_sqlite() {
    let dir = TempDir::new();
    the_readme_tour_works_on(&format!("sqlite://{}", dir.0.join("shop.db").display()), &dir).await;
}

#[tokio::test]
async fn the_readme_tour_works_on_postgres() {
    let Some(db) = harness::postgres().await else { return };
    let dir = TempDir::new();
    the_readme_tour_works_on(&db.url, &dir).await;
    db.cleanup().await;
}
