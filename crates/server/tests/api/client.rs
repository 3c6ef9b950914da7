//! A TypeScript storefront client generated from the live OpenAPI document with
//! openapi-typescript and used through openapi-fetch, unedited (`clients/typescript/`): it must
//! type-check with `tsc --strict` and run list → product → cart → line → checkout → complete
//! against this server.

use crate::helpers::TestApp;
use std::path::Path;
use tokio::process::Command;

crate::on_both_stores!(the_generated_typescript_client_checks_out);

/// Runs a tool without blocking the test's runtime (the server under test shares it).
async fn run(what: &str, cmd: &mut Command) -> String {
    let out = cmd.output().await.unwrap_or_else(|e| panic!("{what}: {e}"));
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{what} failed: {said}");
    said
}

async fn the_generated_typescript_client_checks_out(app: &TestApp) {
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../clients/typescript");
    let bin = client.join("node_modules/.bin");
    if !bin.join("tsc").exists() || !bin.join("openapi-typescript").exists() {
        return crate::helpers::tool_missing("the TypeScript client's tools", "npm ci --prefix clients/typescript");
    }
    crate::checkout::stocked(app, "TS-1", 5).await;
    // A copy of the client, so the source tree is never written to.
    let dir = rouge_store_tests::harness::TempDir::new();
    std::fs::create_dir_all(dir.0.join("src")).unwrap();
    for f in ["package.json", "tsconfig.json", "src/checkout.ts"] {
        std::fs::copy(client.join(f), dir.0.join(f)).unwrap();
    }
    std::os::unix::fs::symlink(client.join("node_modules"), dir.0.join("node_modules")).unwrap();
    let schema = dir.0.join("src/schema.d.ts");
    run(
        "openapi-typescript",
        Command::new(bin.join("openapi-typescript")).arg(app.url("/openapi.json")).arg("-o").arg(&schema),
    )
    .await;
    run("tsc --strict", Command::new(bin.join("tsc")).arg("-p").arg(&dir.0)).await;
    let said =
        run("the checkout", Command::new("node").arg(dir.0.join("dist/checkout.js")).env("ROUGE_URL", &app.base)).await;
    let order: serde_json::Value = serde_json::from_str(said.trim().lines().last().unwrap()).unwrap();
    assert_eq!(order["status"], "authorized", "{said}");
    let (_, seen) = app.get_json_as_admin(&format!("/v1/admin/orders/{}", order["order"].as_str().unwrap())).await;
    assert_eq!(seen["lines"][0]["sku"], "TS-1", "{seen}");
}
