//! The server answers as its OpenAPI document says: schemathesis (pinned in
//! `scripts/requirements-ci.txt`) generates requests for every operation from `/openapi.json`
//! (its examples, boundary values, random and schema-violating data, and stateful sequences)
//! and checks that none gets a server error, that every answer matches its documented schema,
//! content type and headers, and that invalid requests are refused. Bounded (a fixed number of cases
//! per operation, deterministic generation) so CI stays quick and repeatable.

use crate::helpers::TestApp;
use tokio::process::Command;

crate::on_both_stores!(every_operation_answers_as_documented);

/// The standard checks, and Rouge's own (`tools/schemathesis/rouge_checks.py`): every ETag,
/// Location, Idempotent-Replayed and Retry-After header sent is declared on its response.
const CHECKS: &str = "not_a_server_error,response_schema_conformance,content_type_conformance,\
    negative_data_rejection,response_headers_conformance,documented_headers";

async fn every_operation_answers_as_documented(app: &TestApp) {
    if Command::new("st").arg("--version").output().await.map(|o| !o.status.success()).unwrap_or(true) {
        return crate::helpers::tool_missing("schemathesis (`st`)", "pip install -r scripts/requirements-ci.txt");
    }
    // Something to find, buy and administer.
    crate::checkout::stocked(app, "ST-GLOW-30", 50).await;
    let dir = rouge_store_tests::harness::TempDir::new();
    let hooks = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/schemathesis");
    let out = Command::new("st")
        .current_dir(&dir.0)
        .env("PYTHONPATH", hooks)
        .env("SCHEMATHESIS_HOOKS", "rouge_checks")
        .args(["run", &app.url("/openapi.json"), "--checks", CHECKS])
        .args(["--header", &format!("Authorization: Bearer {}", app.admin_key)])
        .args(["--max-examples", "10", "--generation-deterministic", "--request-timeout", "10", "--no-color"])
        .output()
        .await
        .expect("schemathesis runs");
    let said = String::from_utf8_lossy(&out.stdout);
    // The failures and the summary, not the whole progress log.
    let report = said.find("FAILURES").or_else(|| said.find("SUMMARY")).map_or(&*said, |i| &said[i..]);
    assert!(out.status.success(), "schemathesis found answers that break the document:\n{report}");
    assert!(said.contains(" passed"), "schemathesis ran cases: {said}");
}
