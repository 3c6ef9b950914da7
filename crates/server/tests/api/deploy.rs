//! The deploy files validate: the hosted CI workflow against GitHub's workflow schema
//! (check-jsonschema's vendored copy, pinned in `scripts/requirements-ci.txt`), HAProxy's
//! config with `haproxy -c` (the Debian package `.ci/run` installs), the Dockerfile with
//! hadolint and checkov, compose.yaml against the Compose specification's schema, the
//! Kubernetes manifests (kustomize base and production overlay) with kubernetes-validate and
//! checkov, and the Terraform module with python-hcl2 and checkov. The Python validators live
//! in their own virtual environment, `target/deploy-tools` (`scripts/requirements-deploy.txt`,
//! installed by `.ci/run`).

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

/// Every alert links a runbook that exists: a heading of docs/operations.md (GitHub's anchor).
#[test]
fn every_alert_has_a_runbook() {
    let alerts = std::fs::read_to_string(format!("{ROOT}/deploy/prometheus/alerts.yml")).unwrap();
    let ops = std::fs::read_to_string(format!("{ROOT}/docs/operations.md")).unwrap();
    let anchors: Vec<String> =
        ops.lines().filter_map(|l| l.strip_prefix("### ")).map(|h| h.trim().to_lowercase().replace(' ', "-")).collect();
    let alert_count = alerts.matches("- alert:").count();
    let links: Vec<&str> = alerts
        .lines()
        .filter_map(|l| l.trim().strip_prefix("runbook_url: \"docs/operations.md#"))
        .map(|l| l.trim_end_matches('"'))
        .collect();
    assert_eq!(links.len(), alert_count, "one runbook per alert");
    for link in links {
        assert!(anchors.iter().any(|a| a == link), "no runbook `### …` heading for #{link} in docs/operations.md");
    }
}

/// A validator from `target/deploy-tools/bin`; `None` (SKIPPED, or a failure when services are
/// required) when that environment is not installed.
fn deploy_tool(name: &str) -> Option<Command> {
    let path = format!("{ROOT}/target/deploy-tools/bin/{name}");
    if std::path::Path::new(&path).exists() {
        return Some(Command::new(path));
    }
    crate::helpers::tool_missing(
        name,
        "python3 -m venv target/deploy-tools && target/deploy-tools/bin/pip install -r scripts/requirements-deploy.txt (see .ci/run)",
    );
    None
}

/// checkov on `target` (a file or a directory) for `framework`: no failed check.
fn checkov(framework: &str, target: &str) {
    let Some(mut cmd) = deploy_tool("checkov") else { return };
    let flag = if std::path::Path::new(target).is_dir() { "-d" } else { "-f" };
    cmd.args(["--skip-download", "--quiet", "--compact", "--framework", framework, flag, target]);
    let said = validate("checkov", &mut cmd).unwrap_or_default();
    assert!(said.contains("Failed checks: 0"), "checkov ({framework}) on {target}: {said}");
}

#[test]
fn the_container_image_and_compose_files_validate() {
    let dockerfile = format!("{ROOT}/deploy/Dockerfile");
    if let Some(mut hadolint) = deploy_tool("hadolint") {
        validate("hadolint", hadolint.arg(&dockerfile));
    }
    checkov("dockerfile", &dockerfile);
    let text = std::fs::read_to_string(&dockerfile).unwrap();
    for needed in ["--locked", "USER 10001", "HEALTHCHECK", "/healthz", "AS build"] {
        assert!(text.contains(needed), "the Dockerfile lacks `{needed}`");
    }
    let compose = format!("{ROOT}/deploy/compose.yaml");
    let mut cmd = Command::new("check-jsonschema");
    cmd.args(["--builtin-schema", "vendor.compose-spec", &compose]);
    if let Some(said) = validate("check-jsonschema", &mut cmd) {
        assert!(said.contains("ok"), "{said}");
    }
    let text = std::fs::read_to_string(&compose).unwrap();
    for service in
        ["postgres:", "redis:", "rabbitmq:", "haproxy:", "init:", "catalog:", "inventory:", "orders:", "identity:"]
    {
        assert!(text.contains(&format!("\n  {service}")), "compose.yaml has no `{service}` service");
    }
}

#[test]
fn the_kubernetes_manifests_validate() {
    for dir in ["base", "overlays/production"] {
        let out = match Command::new("kubectl").args(["kustomize", &format!("{ROOT}/deploy/k8s/{dir}")]).output() {
            Ok(out) => out,
            Err(e) => return crate::helpers::tool_missing("kubectl (kustomize)", &e.to_string()),
        };
        assert!(out.status.success(), "kustomize {dir}: {}", String::from_utf8_lossy(&out.stderr));
        let rendered = String::from_utf8(out.stdout).unwrap();
        for kind in [
            "Deployment",
            "Service",
            "HorizontalPodAutoscaler",
            "PodDisruptionBudget",
            "Ingress",
            "Job",
            "NetworkPolicy",
            "ConfigMap",
        ] {
            assert!(rendered.contains(&format!("\nkind: {kind}\n")), "{dir} renders no {kind}");
        }
        for probe in ["startupProbe:", "livenessProbe:", "readinessProbe:", "secretName: rouge-keys"] {
            assert!(rendered.contains(probe), "{dir}: no `{probe}`");
        }
        let tmp = rouge_store_tests::harness::TempDir::new();
        let file = tmp.0.join("rendered.yaml");
        std::fs::write(&file, &rendered).unwrap();
        let file = file.to_str().unwrap();
        if let Some(mut cmd) = deploy_tool("kubernetes-validate") {
            let said = validate("kubernetes-validate", cmd.args(["--strict", file])).unwrap_or_default();
            assert!(!said.contains("ERROR"), "{dir}: {said}");
        }
        // The base names no namespace (its overlays do): checkov's scan is of what is deployed.
        if dir != "base" {
            checkov("kubernetes", file);
        }
    }
}

#[test]
fn the_terraform_module_parses_scans_clean_and_documents_its_variables() {
    let module = format!("{ROOT}/deploy/terraform/aws");
    let Some(mut python) = deploy_tool("python") else { return };
    // Every file parses; every variable and output says what it is.
    let script = "import hcl2, glob, json, sys\n\
        def text(v):\n\
        \x20   while isinstance(v, list): v = v[0] if v else ''\n\
        \x20   return str(v or '').strip('\"').strip()\n\
        undocumented = []\n\
        for f in sorted(glob.glob(sys.argv[1] + '/*.tf')):\n\
        \x20   d = hcl2.load(open(f))\n\
        \x20   for kind in ('variable', 'output'):\n\
        \x20       for block in d.get(kind, []):\n\
        \x20           for name, body in block.items():\n\
        \x20               if not text(body.get('description')): undocumented.append(kind + ' ' + name)\n\
        print(json.dumps(undocumented))\n";
    let said = validate("python-hcl2", python.args(["-c", script, &module])).unwrap_or_default();
    assert_eq!(said.trim(), "[]", "undocumented variables or outputs: {said}");
    checkov("terraform", &module);
    let main = std::fs::read_to_string(format!("{module}/main.tf")).unwrap();
    for part in [
        "aws_eks_cluster",
        "multi_az                            = true",
        "aws_elasticache_replication_group",
        "aws_mq_broker",
        "aws_s3_bucket",
        "aws_secretsmanager_secret",
    ] {
        assert!(main.contains(part), "the module has no {part}");
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

/// What the deploy files run: `rouge keys init` makes one key directory for every replica and
/// never replaces a key; `rouge healthcheck` (the image's HEALTHCHECK) passes only while the
/// server answers.
#[tokio::test]
async fn the_init_and_healthcheck_commands_deploy_files_run() {
    let rouge = env!("CARGO_BIN_EXE_rouge");
    let dir = rouge_store_tests::harness::TempDir::new();
    let keys = dir.0.join("keys");
    let init = || Command::new(rouge).arg("--key-dir").arg(&keys).args(["keys", "init"]).output().unwrap();
    assert!(init().status.success());
    let files = |d: &std::path::Path| {
        let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
            .collect();
        v.sort();
        v
    };
    let first = files(&keys);
    let names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"blind-index.key") && names.iter().any(|n| n.starts_with("master-")), "{names:?}");
    assert!(init().status.success());
    assert_eq!(files(&keys), first, "a second init replaces nothing");

    let app = crate::helpers::TestApp::sqlite().await;
    let check = |url: String| async move {
        tokio::process::Command::new(rouge).args(["healthcheck", "--url", &url]).output().await.unwrap().status
    };
    assert!(check(app.url("/healthz")).await.success());
    let closed = crate::helpers::free_port();
    assert!(!check(format!("http://127.0.0.1:{closed}/healthz")).await.success(), "nothing listens there");
}

/// The fuzz targets of the parsers that take outside input (INCI names, import files, cursors,
/// trace headers, webhook signatures, merge patches) build and run clean for a few seconds each
/// (`scripts/fuzz.sh`; longer runs are documented in the README).
#[test]
fn the_fuzz_targets_run_clean() {
    let has_fuzz = Command::new("cargo").args(["fuzz", "--version"]).output().is_ok_and(|o| o.status.success());
    if !has_fuzz {
        crate::helpers::tool_missing("cargo-fuzz", "cargo install cargo-fuzz --locked (see .ci/run)");
        return;
    }
    let out =
        Command::new("bash").arg(format!("{ROOT}/scripts/fuzz.sh")).arg("4").output().expect("run the fuzz script");
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    for target in ["cursor", "import", "inci", "merge_patch", "traceparent", "webhook_signature"] {
        assert!(said.contains(&format!("fuzz: {target} ok (Done ")), "{target} did not run: {said}");
    }
}
