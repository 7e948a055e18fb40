//! The operator end to end: the `cicd-monitor-operator` binary against a real kube-apiserver, as the
//! Helm chart's operator ServiceAccount (a token of it, and only the chart's RBAC for it),
//! syncing into the real backend (`cicd-monitor serve`) on a real PostgreSQL. Resources are written
//! with kubectl, as a user would.
//!
//! Needs `KUBECONFIG` (an admin of a throwaway cluster), `kubectl`, `helm`, `DATABASE_URL`, and the backend
//! binary (`CICD_BIN`, or one built in this target directory): `make test-e2e` provides them all.
//! A plain `cargo test` reports it as ignored; `make test-e2e` runs it with `--include-ignored`.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};
use support::{eventually, ready, Backend, Kubectl, Process};

const WAIT: Duration = Duration::from_secs(45);
const FINALIZER: &str = "cicd-monitor.dev/backend-cleanup";

/// The chart's release namespace, and the namespace the operator watches (where the resources live).
const RELEASE_NS: &str = "cicd-monitor";
const NS: &str = "team-e2e";

/// The operator's ServiceAccount and RBAC exactly as the Helm chart renders them (`helm template`,
/// the objects labelled `app.kubernetes.io/component: operator`), watching `NS` only: a `List` to
/// apply, and the ServiceAccount's name.
fn chart_rbac() -> (Value, String) {
    let helm = std::env::var("HELM").unwrap_or_else(|_| "helm".into());
    let out = Command::new(&helm)
        .args([
            "template",
            "cicd-monitor",
            "charts/ci-cd-monitor",
            "--namespace",
            RELEASE_NS,
        ])
        .args(["--set", &format!("operator.watchNamespaces={{{NS}}}")])
        .args(["--set", "database.url=postgres://unused"])
        .current_dir(support::root())
        .output()
        .unwrap_or_else(|e| panic!("running {helm} (set HELM; make test-e2e uses scripts/helm.sh): {e}"));
    assert!(
        out.status.success(),
        "helm template: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kinds = [
        "ServiceAccount",
        "Role",
        "ClusterRole",
        "RoleBinding",
        "ClusterRoleBinding",
    ];
    let mut items = Vec::new();
    for doc in serde_yaml::Deserializer::from_slice(&out.stdout) {
        let v = Value::deserialize(doc).expect("helm renders YAML");
        let component = &v["metadata"]["labels"]["app.kubernetes.io/component"];
        if component == "operator" && kinds.iter().any(|k| v["kind"] == *k) {
            items.push(v);
        }
    }
    let sa = items
        .iter()
        .find(|v| v["kind"] == "ServiceAccount")
        .and_then(|v| v["metadata"]["name"].as_str())
        .expect("the chart renders the operator's ServiceAccount")
        .to_owned();
    assert!(
        items.iter().any(|v| v["kind"] == "RoleBinding"),
        "no RoleBinding for {NS}"
    );
    (json!({"apiVersion": "v1", "kind": "List", "items": items}), sa)
}

/// A kubeconfig that authenticates with `token` and nothing else.
fn token_kubeconfig(admin: &Kubectl, token: &str, path: &Path) {
    let view: Value =
        serde_json::from_str(&admin.ok(&["config", "view", "--raw", "--minify", "--flatten", "-o", "json"]))
            .expect("kubeconfig JSON");
    let cluster = &view["clusters"][0]["cluster"];
    let config = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "e2e", "cluster": {
            "server": cluster["server"],
            "certificate-authority-data": cluster["certificate-authority-data"]}}],
        "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [{"name": "operator", "context": {"cluster": "e2e", "user": "operator"}}],
        "current-context": "operator",
    });
    std::fs::write(path, config.to_string()).expect("write kubeconfig");
}

fn start_operator(dir: &Path, kubeconfig: &Path, backend: &Backend, token: &str, ns: &str) -> Process {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cicd-monitor-operator"));
    cmd.env("KUBECONFIG", kubeconfig)
        .env("CICD_BACKEND_URL", &backend.url)
        .env("CICD_OPERATOR_TOKEN", token)
        .env("WATCH_NAMESPACES", ns)
        .env(
            "CICD_OPERATOR_LISTEN",
            format!("127.0.0.1:{}", support::free_port()),
        )
        .env("POD_NAME", "e2e-operator")
        .env("LOG_FORMAT", "pretty")
        .env("RUST_LOG", "info,kube=warn");
    Process::spawn("operator", cmd, dir.join("operator.log"))
}

fn secret(ns: &str, name: &str, url: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {ns}}}\nstringData: {{url: \"{url}\"}}\n"
    )
}

fn slack(ns: &str, name: &str, secret: &str) -> String {
    format!(
        "apiVersion: cicd-monitor.dev/v1alpha1\nkind: Integration\nmetadata: {{name: {name}, namespace: {ns}}}\n\
         spec:\n  type: Slack\n  slack:\n    webhookUrl: {{secretKeyRef: {{name: {secret}, key: url}}}}\n"
    )
}

fn rule(ns: &str, name: &str, severity: &str, integration: &str, repeat: &str) -> String {
    format!(
        "apiVersion: cicd-monitor.dev/v1alpha1\nkind: AlertRule\nmetadata: {{name: {name}, namespace: {ns}}}\n\
         spec:\n  match: {{repo: \"acme/*\", branches: [main]}}\n  condition: {{type: ConsecutiveFailures, threshold: 3}}\n\
         \x20 severity: {severity}\n  notify: {{integrations: [{{name: {integration}}}], repeatInterval: {repeat}}}\n"
    )
}

/// Waits until the resource's `Ready` condition, for its current generation, has this status and
/// reason; returns the resource and the condition's message.
async fn until_ready(
    k: &Kubectl,
    kind: &str,
    ns: &str,
    name: &str,
    status: &str,
    reason: &str,
) -> (Value, String) {
    let what = format!("{kind} {name} is Ready={status} ({reason})");
    eventually(&what, WAIT, || async {
        let obj = k.get(kind, ns, name).ok_or("not found")?;
        match ready(&obj) {
            Some((s, r, m)) if s == status && r == reason => Ok((obj, m)),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

/// Waits until the backend's copy named `ns/name` satisfies `check`; returns it.
async fn until_backend(backend: &Backend, what: &str, name: &str, check: impl Fn(&Value) -> bool) -> Value {
    eventually(&format!("backend {what} {name}"), WAIT, || async {
        match backend.find(what, name).await? {
            Some(v) if check(&v) => Ok(v),
            other => Err(format!("{other:?}")),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a kube-apiserver and the release backend: make test-e2e"]
async fn the_operator_syncs_resources_into_the_backend_as_its_service_account() {
    let admin = Kubectl::admin();
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!("cicd-e2e-operator-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");

    // The CRDs, and the operator's ServiceAccount with only its RBAC.
    admin.ok(&[
        "apply",
        "--server-side",
        "--field-manager=cicd-e2e",
        "-f",
        "crds/alertrule.yaml",
        "-f",
        "crds/integration.yaml",
    ]);
    admin.ok(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/alertrules.cicd-monitor.dev",
        "crd/integrations.cicd-monitor.dev",
    ]);
    let (rbac, sa) = chart_rbac();
    for ns in [RELEASE_NS, NS] {
        let out = admin.run(&["create", "namespace", ns], None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || stderr.contains("AlreadyExists"),
            "{stderr}"
        );
    }
    admin.apply(&rbac.to_string());
    let token = admin.ok(&["create", "token", &sa, "-n", RELEASE_NS, "--duration=2h"]);
    let kubeconfig = dir.join("operator.kubeconfig");
    token_kubeconfig(&admin, token.trim(), &kubeconfig);
    let op = admin.with_kubeconfig(&kubeconfig);
    let whoami = op.ok(&["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]);
    assert_eq!(whoami, format!("system:serviceaccount:{RELEASE_NS}:{sa}"));
    let ns = NS.to_owned();
    let can = |verb: &str, what: &str, ns: &str| {
        op.run(&["auth", "can-i", verb, what, "-n", ns], None)
            .status
            .success()
    };
    assert!(
        can("patch", "alertrules.cicd-monitor.dev/status", NS),
        "the operator may write statuses"
    );
    assert!(
        !can("create", "secrets", NS),
        "the operator may not write Secrets"
    );
    assert!(
        !can("delete", "alertrules.cicd-monitor.dev", NS),
        "the operator may not delete rules"
    );
    assert!(
        !can("list", "secrets", "default"),
        "the operator may not read other namespaces"
    );

    let backend = Backend::start(&dir).await;
    let backend_token = backend.operator_token().await;
    let mut operator = start_operator(&dir, &kubeconfig, &backend, &backend_token, &ns);
    eprintln!(
        "set up in {:.1} s; the scenario:",
        started.elapsed().as_secs_f64()
    );

    // 1. A Secret, an Integration reading it, an AlertRule notifying it: both synced and Ready.
    admin.apply(&secret(
        &ns,
        "slack-webhook",
        "https://hooks.slack.com/services/T0/B0/AAAA",
    ));
    admin.apply(&slack(&ns, "slack", "slack-webhook"));
    admin.apply(&rule(&ns, "main-is-red", "critical", "slack", "4h"));
    let (integration, _) = until_ready(&admin, "integration", &ns, "slack", "True", "Synced").await;
    let (main_rule, _) = until_ready(&admin, "alertrule", &ns, "main-is-red", "True", "Synced").await;
    let copy = until_backend(&backend, "integrations", &format!("{ns}/slack"), |i| {
        i["url_hint"].as_str().is_some_and(|h| h.ends_with("AAAA"))
    })
    .await;
    assert_eq!(copy["source"], "kubernetes", "{copy}");
    assert_eq!(
        integration["status"]["backendId"],
        copy["id"].to_string(),
        "{integration}"
    );
    let copy = until_backend(&backend, "alert-rules", &format!("{ns}/main-is-red"), |_| true).await;
    assert_eq!(copy["source"], "kubernetes", "{copy}");
    assert_eq!(copy["spec"]["severity"], "critical", "{copy}");
    assert_eq!(
        main_rule["status"]["backendId"],
        copy["id"].to_string(),
        "{main_rule}"
    );
    assert_eq!(
        main_rule["metadata"]["finalizers"],
        json!([FINALIZER]),
        "{main_rule}"
    );
    // The job and runner conditions reach the backend as written (`for` included); one with a
    // `match` is refused by the backend, naming the field.
    let job_rule = |name: &str, extra: &str, condition: &str| {
        format!(
            "apiVersion: cicd-monitor.dev/v1alpha1\nkind: AlertRule\nmetadata: {{name: {name}, namespace: {ns}}}\n\
             spec:\n{extra}  condition: {condition}\n  notify: {{integrations: [{{name: slack}}]}}\n"
        )
    };
    admin.apply(&job_rule(
        "gpu-backlog",
        "",
        "{type: QueuedJobs, labels: [self-hosted, gpu], threshold: 5, for: 15m}",
    ));
    admin.apply(&job_rule(
        "flaky-tests",
        "",
        "{type: JobFailureRate, job: {repo: acme/api, workflow: ci, name: test}, threshold: 30, window: 1d}",
    ));
    admin.apply(&job_rule(
        "scoped-backlog",
        "  match: {repo: \"acme/*\"}\n",
        "{type: QueuedJobs, labels: [gpu], threshold: 5, for: 15m}",
    ));
    until_ready(&admin, "alertrule", &ns, "gpu-backlog", "True", "Synced").await;
    until_ready(&admin, "alertrule", &ns, "flaky-tests", "True", "Synced").await;
    let backlog = until_backend(&backend, "alert-rules", &format!("{ns}/gpu-backlog"), |_| true).await;
    assert_eq!(
        backlog["spec"]["condition"],
        json!({"type": "QueuedJobs", "labels": ["self-hosted", "gpu"], "threshold": 5, "for": "15m"}),
        "{backlog}"
    );
    let flaky = until_backend(&backend, "alert-rules", &format!("{ns}/flaky-tests"), |_| true).await;
    assert_eq!(
        flaky["spec"]["condition"],
        json!({"type": "JobFailureRate", "job": {"repo": "acme/api", "workflow": "ci", "name": "test"},
               "threshold": 30.0, "window": "1d", "minRuns": 5}),
        "{flaky}"
    );
    let (_, message) = until_ready(&admin, "alertrule", &ns, "scoped-backlog", "False", "InvalidSpec").await;
    assert!(message.contains("spec.match"), "{message}");
    // An Integration whose URL points at the cloud's metadata service is refused by the backend's
    // outbound guard, and says why (nothing is called: the address is only compared).
    admin.apply(&secret(
        &ns,
        "metadata-hook",
        "http://169.254.169.254/latest/meta-data/",
    ));
    admin.apply(&slack(&ns, "metadata", "metadata-hook"));
    let (_, message) = until_ready(&admin, "integration", &ns, "metadata", "False", "InvalidSpec").await;
    assert!(
        message.contains("spec.slack.webhookUrl") && message.contains("link-local"),
        "{message}"
    );
    // The test conditions too: FlakyTest with its default window filled in, TestFailureRate with a
    // glob; one naming a test and also a `match`, or a glob that does not compile, is refused by
    // the backend, naming the field.
    admin.apply(&job_rule(
        "newly-flaky",
        "  match: {repo: \"acme/*\", branches: [main]}\n",
        "{type: FlakyTest}",
    ));
    admin.apply(&job_rule(
        "api-tests-failing",
        "  match: {repo: \"acme/*\"}\n",
        "{type: TestFailureRate, testMatch: \"tests.api.*::*\", threshold: 20, window: 7d, minRuns: 10}",
    ));
    admin.apply(&job_rule(
        "scoped-test",
        "  match: {repo: \"acme/*\"}\n",
        "{type: TestFailureRate, test: {repo: acme/api, name: test_login}, threshold: 20, window: 7d}",
    ));
    admin.apply(&job_rule(
        "bad-glob",
        "",
        "{type: TestFailureRate, testMatch: \"tests.[oops\", threshold: 20, window: 7d}",
    ));
    until_ready(&admin, "alertrule", &ns, "newly-flaky", "True", "Synced").await;
    until_ready(&admin, "alertrule", &ns, "api-tests-failing", "True", "Synced").await;
    let flaky_tests = until_backend(&backend, "alert-rules", &format!("{ns}/newly-flaky"), |_| true).await;
    assert_eq!(
        flaky_tests["spec"]["condition"],
        json!({"type": "FlakyTest", "window": "7d"}),
        "{flaky_tests}"
    );
    assert_eq!(
        flaky_tests["spec"]["match"],
        json!({"repo": "acme/*", "branches": ["main"]}),
        "{flaky_tests}"
    );
    let failing = until_backend(
        &backend,
        "alert-rules",
        &format!("{ns}/api-tests-failing"),
        |_| true,
    )
    .await;
    assert_eq!(
        failing["spec"]["condition"],
        json!({"type": "TestFailureRate", "testMatch": "tests.api.*::*", "threshold": 20.0, "window": "7d",
               "minRuns": 10}),
        "{failing}"
    );
    let (_, message) = until_ready(&admin, "alertrule", &ns, "scoped-test", "False", "InvalidSpec").await;
    assert!(message.contains("spec.match"), "{message}");
    let (_, message) = until_ready(&admin, "alertrule", &ns, "bad-glob", "False", "InvalidSpec").await;
    assert!(message.contains("spec.condition.testMatch"), "{message}");

    eventually("an Event from the operator on main-is-red", WAIT, || async {
        let events: Value =
            serde_json::from_str(&admin.ok(&["get", "events.events.k8s.io", "-n", &ns, "-o", "json"]))
                .map_err(|e| e.to_string())?;
        let found = events["items"].as_array().into_iter().flatten().any(|e| {
            e["regarding"]["name"] == "main-is-red" && e["reportingController"] == "cicd-monitor-operator"
        });
        found.then_some(()).ok_or_else(|| events.to_string())
    })
    .await;

    // 2. Rotating the Secret re-syncs the Integration that reads it.
    admin.apply(&secret(
        &ns,
        "slack-webhook",
        "https://hooks.slack.com/services/T0/B0/BBBB",
    ));
    until_backend(&backend, "integrations", &format!("{ns}/slack"), |i| {
        i["url_hint"].as_str().is_some_and(|h| h.ends_with("BBBB"))
    })
    .await;

    // 3. A spec the CRD accepts and the backend refuses, and a rule naming a missing Integration.
    admin.apply(&rule(&ns, "too-chatty", "info", "slack", "30s"));
    let (_, message) = until_ready(&admin, "alertrule", &ns, "too-chatty", "False", "InvalidSpec").await;
    assert!(message.contains("repeatInterval"), "{message}");
    admin.apply(&rule(&ns, "paged", "critical", "pager", "4h"));
    let (_, message) = until_ready(&admin, "alertrule", &ns, "paged", "False", "IntegrationNotFound").await;
    assert!(message.contains("pager"), "{message}");
    for name in ["too-chatty", "paged"] {
        assert_eq!(
            backend.find("alert-rules", &format!("{ns}/{name}")).await,
            Ok(None),
            "{name}"
        );
    }

    // 4. The operator crashes; changes made meanwhile converge once it is back.
    operator.kill();
    admin.apply(&rule(&ns, "main-is-red", "warning", "slack", "4h"));
    admin.apply(&secret(
        &ns,
        "pager-webhook",
        "https://hooks.slack.com/services/T0/B0/PAGE",
    ));
    admin.apply(&slack(&ns, "pager", "pager-webhook"));
    let mut operator = start_operator(&dir, &kubeconfig, &backend, &backend_token, &ns);
    until_backend(&backend, "alert-rules", &format!("{ns}/main-is-red"), |r| {
        r["spec"]["severity"] == "warning"
    })
    .await;
    until_ready(&admin, "integration", &ns, "pager", "True", "Synced").await;
    until_ready(&admin, "alertrule", &ns, "paged", "True", "Synced").await;
    until_backend(&backend, "alert-rules", &format!("{ns}/paged"), |_| true).await;

    // 5. Deleting a rule deletes the backend's copy, then releases the finalizer.
    admin.ok(&["delete", "alertrule", "main-is-red", "-n", &ns, "--wait=false"]);
    eventually(
        "main-is-red is gone from Kubernetes and the backend",
        WAIT,
        || async {
            if let Some(obj) = admin.get("alertrule", &ns, "main-is-red") {
                return Err(format!("still in Kubernetes: {}", obj["metadata"]));
            }
            match backend.find("alert-rules", &format!("{ns}/main-is-red")).await? {
                Some(r) => Err(format!("still in the backend: {r}")),
                None => Ok(()),
            }
        },
    )
    .await;

    assert_eq!(
        operator.terminate(),
        Some(0),
        "the operator exits cleanly on SIGTERM"
    );
    eprintln!("scenario done in {:.1} s", started.elapsed().as_secs_f64());
    std::fs::remove_dir_all(&dir).ok();
}
