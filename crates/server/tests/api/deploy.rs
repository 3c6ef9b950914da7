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
