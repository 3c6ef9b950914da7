//! The deploy files validate: the hosted CI workflow against GitHub's workflow schema
//! (check-jsonschema's vendored copy, pinned in `scripts/requirements-ci.txt`), and HAProxy's
//! config with `haproxy -c` (the Debian package `.ci/run` installs).

use std::process::Command;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// Runs a validator; `None` (SKIPPED, or a failure when services are required) when it is not
/// installed.
fn validate(what: &str, cmd: &mut Command) -> Option<String> {
    match cmd.output() {
        Ok(out) => {
            let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{what} refused it: {said}");
            Some(said)
        }
        Err(e) => {
            crate::helpers::tool_missing(what, &format!("{e} (see .ci/run)"));
            None
        }
    }
}

#[test]
fn the_hosted_ci_workflow_matches_githubs_schema() {
    let workflow = format!("{ROOT}/.github/workflows/ci.yml");
    let mut cmd = Command::new("check-jsonschema");
    cmd.args(["--builtin-schema", "vendor.github-workflows", &workflow]);
    if let Some(said) = validate("check-jsonschema", &mut cmd) {
        assert!(said.contains("ok"), "{said}");
    }
    // It runs the same steps as this machine's CI.
    let text = std::fs::read_to_string(&workflow).unwrap();
    assert!(text.contains("run: ./.ci/run"), "the workflow runs .ci/run");
}

#[test]
fn the_haproxy_config_parses() {
    let mut cmd = Command::new("haproxy");
    cmd.args(["-c", "-f", &format!("{ROOT}/deploy/haproxy/rouge.cfg")])
        .env("ROUGE_LB_LISTEN", "127.0.0.1:8080")
        .env("ROUGE_REPLICA_1", "127.0.0.1:8081")
        .env("ROUGE_REPLICA_2", "127.0.0.1:8082");
    if let Some(said) = validate("haproxy", &mut cmd) {
        assert!(said.contains("Configuration file is valid"), "{said}");
    }
}

#[test]
fn the_alert_rules_check_and_pass_their_unit_tests() {
    let dir = format!("{ROOT}/deploy/prometheus");
    let mut check = Command::new("promtool");
    check.args(["check", "rules", "alerts.yml"]).current_dir(&dir);
    if let Some(said) = validate("promtool (Debian's prometheus package)", &mut check) {
        assert!(said.contains("SUCCESS: 6 rules found"), "{said}");
        let mut test = Command::new("promtool");
        test.args(["test", "rules", "alerts.test.yml"]).current_dir(&dir);
        let said = validate("promtool", &mut test).unwrap_or_default();
        assert!(said.contains("SUCCESS"), "{said}");
    }
}

/// The metric names a PromQL text uses (histogram suffixes taken off).
fn metrics_in(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find(|c: char| c.is_ascii_lowercase()) {
        rest = &rest[at..];
        let end = rest.find(|c: char| !(c.is_ascii_lowercase() || c == '_')).unwrap_or(rest.len());
        let word = &rest[..end];
        if word.starts_with("rouge_") || word.starts_with("http_request") {
            let base = word.trim_end_matches("_bucket").trim_end_matches("_sum").trim_end_matches("_count");
            names.insert(base.to_owned());
        }
        rest = &rest[end..];
    }
    names
}

/// The alerts and the dashboard use only metrics the server describes (names drift otherwise,
/// and a panel or an alert silently shows nothing).
#[test]
fn the_alerts_and_the_dashboard_use_metrics_the_server_exports() {
    let described = std::fs::read_to_string(format!("{ROOT}/crates/http/src/ops.rs")).unwrap();
    let alerts = std::fs::read_to_string(format!("{ROOT}/deploy/prometheus/alerts.yml")).unwrap();
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{ROOT}/deploy/grafana/rouge.json")).unwrap())
            .expect("the dashboard is JSON");
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().expect("every target has a query").to_owned())
        .collect();
    assert!(exprs.len() >= 10, "the dashboard shows the business and HTTP metrics");
    let used = metrics_in(&(alerts + &exprs.join("\n")));
    assert!(used.len() >= 8, "{used:?}");
    for m in &used {
        assert!(described.contains(&format!("\"{m}\"")), "`{m}` is used but the server does not export it");
    }
}

/// Licenses, bans and sources of the dependency tree (`deny.toml`), offline.
#[test]
fn the_dependency_tree_passes_cargo_deny() {
    let mut cmd = Command::new("cargo");
    cmd.args(["deny", "--offline", "check", "licenses", "bans", "sources"]).current_dir(ROOT);
    match cmd.output() {
        Ok(out) if String::from_utf8_lossy(&out.stderr).contains("no such command") => {
            crate::helpers::tool_missing("cargo-deny", "cargo install cargo-deny --locked (see .ci/run)");
        }
        // The tree of every platform (not only this one's) must be in cargo's cache.
        Ok(out) if String::from_utf8_lossy(&out.stderr).contains("--offline was specified") => {
            crate::helpers::tool_missing("the crates of every platform", "cargo fetch --locked (see .ci/run)");
        }
        Ok(out) => {
            let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "cargo deny: {said}");
            assert!(said.contains("licenses ok") && said.contains("bans ok") && said.contains("sources ok"), "{said}");
        }
        Err(e) => crate::helpers::tool_missing("cargo", &e.to_string()),
    }
}
