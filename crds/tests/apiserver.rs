//! The CRDs and their examples against a real kube-apiserver: the CRDs are accepted (structural
//! schema, CEL rules that compile within the cost budget) and established, every valid example in
//! `crds/examples/` is accepted, and each `invalid-*.yaml` is rejected with the message that says why.
//!
//! Needs `KUBECONFIG` naming a throwaway cluster and `kubectl`, so the tests are ignored by a plain
//! `cargo test` (reported as ignored, never as passed); `make test-e2e` runs them with
//! `--include-ignored` under `scripts/with-control-plane.sh`, and there they fail rather than skip.
//! They refuse clusters that are not on the loopback interface unless `CICD_E2E_ANY_CLUSTER=1`.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

fn root() -> PathBuf {
    cicd_monitor_crds::crdgen::workspace_root()
}

fn kubectl_bin() -> String {
    std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into())
}

/// Runs kubectl; the output, whatever the exit status.
fn kubectl(args: &[&str]) -> Output {
    Command::new(kubectl_bin())
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("running {} {args:?}: {e}", kubectl_bin()))
}

/// Runs kubectl and expects success; its stdout.
fn kubectl_ok(args: &[&str]) -> String {
    let out = kubectl(args);
    assert!(
        out.status.success(),
        "kubectl {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Checks that `KUBECONFIG` is set and names a loopback server (or any, when allowed), once.
fn cluster() {
    static CHECKED: OnceLock<()> = OnceLock::new();
    CHECKED.get_or_init(|| {
        assert!(
            std::env::var_os("KUBECONFIG").is_some(),
            "KUBECONFIG is not set: run these tests under scripts/with-control-plane.sh (make test-e2e)"
        );
        let server = kubectl_ok(&[
            "config",
            "view",
            "--minify",
            "-o",
            "jsonpath={.clusters[0].cluster.server}",
        ]);
        let local = ["https://127.0.0.1:", "https://localhost:", "https://[::1]:"]
            .iter()
            .any(|p| server.starts_with(p));
        assert!(
            local || std::env::var("CICD_E2E_ANY_CLUSTER").as_deref() == Ok("1"),
            "KUBECONFIG names {server}, not a loopback server; set CICD_E2E_ANY_CLUSTER=1 to test against it"
        );
    });
}

/// Applies both CRDs once per test binary and waits until they are established.
fn install_crds() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let out = kubectl(&[
            "apply",
            "--server-side",
            "--field-manager=cicd-e2e",
            "-f",
            "crds/alertrule.yaml",
            "-f",
            "crds/integration.yaml",
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "the apiserver refused the CRDs:\n{stderr}");
        assert!(
            !stderr.contains("Warning"),
            "the apiserver warned about the CRDs:\n{stderr}"
        );
        kubectl_ok(&[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/alertrules.cicd-monitor.dev",
            "crd/integrations.cicd-monitor.dev",
        ]);
        let ns = kubectl(&["create", "namespace", "team-a"]);
        let stderr = String::from_utf8_lossy(&ns.stderr);
        assert!(
            ns.status.success() || stderr.contains("AlreadyExists"),
            "{stderr}"
        );
    });
}

fn example_files(invalid: bool) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(root().join("crds/examples"))
        .expect("crds/examples")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".yaml") && f.starts_with("invalid-") == invalid)
        .collect();
    files.sort();
    files
}

#[test]
#[ignore = "needs a kube-apiserver: make test-e2e"]
fn the_crds_are_accepted_with_a_structural_schema_and_established() {
    cluster();
    install_crds();
    for crd in ["alertrules.cicd-monitor.dev", "integrations.cicd-monitor.dev"] {
        let crd: Value = serde_json::from_str(&kubectl_ok(&["get", "crd", crd, "-o", "json"])).expect("json");
        let conditions = crd["status"]["conditions"].as_array().expect("conditions");
        let status = |t: &str| {
            conditions
                .iter()
                .find(|c| c["type"] == t)
                .map(|c| format!("{}: {}", c["status"], c["message"]))
        };
        assert!(
            status("Established").is_some_and(|s| s.starts_with("\"True\"")),
            "{conditions:?}"
        );
        assert!(
            status("NamesAccepted").is_some_and(|s| s.starts_with("\"True\"")),
            "{conditions:?}"
        );
        assert_eq!(status("NonStructuralSchema"), None, "{conditions:?}");
    }
}

#[test]
#[ignore = "needs a kube-apiserver: make test-e2e"]
fn every_valid_example_is_accepted() {
    cluster();
    install_crds();
    let files = example_files(false);
    assert!(files.len() >= 6, "{files:?}");
    for file in &files {
        let path = format!("crds/examples/{file}");
        let out = kubectl(&["apply", "--server-side", "--field-manager=cicd-e2e", "-f", &path]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{file} was refused:\n{stderr}");
        assert!(
            !stderr.contains("Warning"),
            "{file}: the apiserver warned:\n{stderr}"
        );
    }
    // The schema's defaults are applied by the apiserver (what the operator then reads).
    let rule: Value = serde_json::from_str(&kubectl_ok(&[
        "get",
        "alertrule",
        "nightly-silent",
        "-n",
        "team-a",
        "-o",
        "json",
    ]))
    .expect("json");
    assert_eq!(rule["spec"]["severity"], "warning", "{rule}");
    assert_eq!(rule["spec"]["notify"]["repeatInterval"], "4h", "{rule}");
    assert_eq!(rule["spec"]["suspend"], false, "{rule}");
    let names = kubectl_ok(&["get", "alertrules,integrations", "-n", "team-a", "-o", "name"]);
    for name in [
        "alertrule.cicd-monitor.dev/main-is-red",
        "integration.cicd-monitor.dev/pager",
    ] {
        assert!(names.lines().any(|l| l == name), "{name} missing from:\n{names}");
    }
}

/// Applies one AlertRule in team-a with this condition (as YAML flow); the apiserver's stderr
/// when it refuses it.
fn apply_condition(name: &str, condition: &str) -> Result<(), String> {
    let manifest = format!(
        "apiVersion: cicd-monitor.dev/v1alpha1\nkind: AlertRule\n\
         metadata: {{name: {name}, namespace: team-a}}\nspec:\n  condition: {condition}\n"
    );
    let path = std::env::temp_dir().join(format!("cicd-e2e-{name}-{}.yaml", std::process::id()));
    std::fs::write(&path, manifest).expect("a temporary manifest");
    let out = kubectl(&[
        "apply",
        "--server-side",
        "--field-manager=cicd-e2e",
        "-f",
        path.to_str().expect("a UTF-8 path"),
    ]);
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() && !stderr.contains("Warning") {
        Ok(())
    } else {
        Err(stderr)
    }
}

#[test]
#[ignore = "needs a kube-apiserver: make test-e2e"]
fn job_and_runner_conditions_are_checked_by_the_apiserver() {
    cluster();
    install_crds();
    // `for` is a CEL reserved word, escaped as `__for__` in the rules: accepted when given.
    apply_condition(
        "e2e-backlog",
        "{type: QueuedJobs, labels: [gpu, self-hosted], threshold: 3, for: 10m}",
    )
    .unwrap_or_else(|e| panic!("a valid QueuedJobs was refused:\n{e}"));
    apply_condition(
        "e2e-job-p50",
        "{type: JobDuration, job: {repo: acme/api, workflow: ci, name: test}, stat: p50, threshold: 5m, window: 1h}",
    )
    .unwrap_or_else(|e| panic!("a valid JobDuration was refused:\n{e}"));
    let refused: &[(&str, &str, &str)] = &[
        (
            "e2e-avg-job",
            "{type: JobQueueTime, labels: [gpu], stat: avg, threshold: 5m, window: 1h}",
            "JobQueueTime, JobDuration, LeadTime: stat is p50 or p95",
        ),
        (
            "e2e-p50-run",
            "{type: Duration, stat: p50, threshold: 5m, window: 1h}",
            "Duration, QueueTime: stat is avg or p95",
        ),
        (
            "e2e-zero-backlog",
            "{type: QueuedJobs, labels: [gpu], threshold: 0, for: 5m}",
            "QueuedJobs: threshold is a whole number of queued jobs, at least 1",
        ),
        (
            "e2e-span-backlog",
            "{type: QueuedJobs, labels: [gpu], threshold: 5m, for: 5m}",
            "QueuedJobs: threshold is a whole number of queued jobs, at least 1",
        ),
        (
            "e2e-job-rate",
            "{type: JobFailureRate, job: {repo: acme/api, workflow: ci, name: test}, threshold: 150, window: 1d}",
            "JobFailureRate: threshold is a whole percentage above 0 and at most 100",
        ),
        (
            "e2e-no-labels",
            "{type: QueuedJobs, labels: [], threshold: 2, for: 5m}",
            "spec.condition.labels: Invalid value",
        ),
        (
            "e2e-half-job",
            "{type: JobDuration, job: {repo: acme/api, name: test}, threshold: 5m, window: 1h}",
            "spec.condition.job.workflow: Required value",
        ),
        (
            "e2e-job-on-labels",
            "{type: JobDuration, labels: [gpu], job: {repo: a, workflow: b, name: c}, threshold: 5m, window: 1h}",
            "labels applies only to type JobQueueTime, QueuedJobs",
        ),
    ];
    for (name, condition, message) in refused {
        let stderr = apply_condition(name, condition)
            .err()
            .unwrap_or_else(|| panic!("{name} was accepted: {condition}"));
        assert!(
            stderr.contains("is invalid"),
            "{name}: refused for another reason:\n{stderr}"
        );
        assert!(stderr.contains(message), "{name}: no {message:?} in:\n{stderr}");
    }
}

#[test]
#[ignore = "needs a kube-apiserver: make test-e2e"]
fn test_and_delivery_conditions_are_checked_by_the_apiserver() {
    cluster();
    install_crds();
    for (name, condition) in [
        ("e2e-flaky", "{type: FlakyTest}"),
        ("e2e-flaky-window", "{type: FlakyTest, window: 14d}"),
        (
            "e2e-test-rate",
            "{type: TestFailureRate, test: {repo: acme/api, name: test_login}, threshold: 20, window: 7d}",
        ),
        (
            "e2e-test-rate-full",
            "{type: TestFailureRate, test: {repo: acme/api, classname: tests.test_auth, name: test_login, \
             suite: pytest}, threshold: 20, window: 7d, minRuns: 10}",
        ),
        (
            "e2e-test-glob",
            "{type: TestFailureRate, testMatch: \"tests.api.*::*\", threshold: 50, window: 1d}",
        ),
        ("e2e-deploy-failed", "{type: DeploymentFailed}"),
        (
            "e2e-deploy-failed-svc",
            "{type: DeploymentFailed, service: \"payments-*\"}",
        ),
        (
            "e2e-cfr",
            "{type: ChangeFailureRate, threshold: 15, window: 30d, minDeployments: 10, service: api}",
        ),
        (
            "e2e-lead",
            "{type: LeadTime, stat: p50, threshold: 2d, window: 30d}",
        ),
    ] {
        apply_condition(name, condition)
            .unwrap_or_else(|e| panic!("a valid {name} was refused: {condition}\n{e}"));
    }
    let refused: &[(&str, &str, &str)] = &[
        (
            "e2e-both-tests",
            "{type: TestFailureRate, test: {repo: a, name: b}, testMatch: \"*\", threshold: 20, window: 7d}",
            "TestFailureRate: give exactly one of test (one test) and testMatch (a glob on classname::name)",
        ),
        (
            "e2e-no-test",
            "{type: TestFailureRate, threshold: 20, window: 7d}",
            "TestFailureRate: give exactly one of test (one test) and testMatch (a glob on classname::name)",
        ),
        (
            "e2e-test-rate-150",
            "{type: TestFailureRate, testMatch: \"*\", threshold: 150, window: 7d}",
            "TestFailureRate: threshold is a whole percentage above 0 and at most 100",
        ),
        (
            "e2e-test-rate-span",
            "{type: TestFailureRate, testMatch: \"*\", threshold: 5m, window: 7d}",
            "TestFailureRate: threshold is a whole percentage above 0 and at most 100",
        ),
        (
            "e2e-test-rate-no-window",
            "{type: TestFailureRate, testMatch: \"*\", threshold: 20}",
            "window is required for type",
        ),
        (
            "e2e-test-without-name",
            "{type: TestFailureRate, test: {repo: acme/api}, threshold: 20, window: 7d}",
            "spec.condition.test.name: Required value",
        ),
        (
            "e2e-empty-glob",
            "{type: TestFailureRate, testMatch: \"\", threshold: 20, window: 7d}",
            "spec.condition.testMatch: Invalid value",
        ),
        (
            "e2e-flaky-threshold",
            "{type: FlakyTest, threshold: 3}",
            "threshold applies only to type",
        ),
        (
            "e2e-flaky-min-runs",
            "{type: FlakyTest, minRuns: 3}",
            "minRuns applies only to type FailureRate, JobFailureRate, TestFailureRate",
        ),
        (
            "e2e-cfr-150",
            "{type: ChangeFailureRate, threshold: 150, window: 7d}",
            "ChangeFailureRate: threshold is a whole percentage above 0 and at most 100",
        ),
        (
            "e2e-lead-avg",
            "{type: LeadTime, stat: avg, threshold: 1d, window: 7d}",
            "JobQueueTime, JobDuration, LeadTime: stat is p50 or p95",
        ),
        (
            "e2e-service-on-run-failed",
            "{type: RunFailed, service: api}",
            "service applies only to type DeploymentFailed, ChangeFailureRate, LeadTime",
        ),
        (
            "e2e-test-on-job-rate",
            "{type: JobFailureRate, job: {repo: a, workflow: b, name: c}, test: {repo: a, name: b}, \
             threshold: 20, window: 1d}",
            "test applies only to type TestFailureRate",
        ),
    ];
    for (name, condition, message) in refused {
        let stderr = apply_condition(name, condition)
            .err()
            .unwrap_or_else(|| panic!("{name} was accepted: {condition}"));
        assert!(
            stderr.contains("is invalid"),
            "{name}: refused for another reason:\n{stderr}"
        );
        assert!(stderr.contains(message), "{name}: no {message:?} in:\n{stderr}");
    }
}

#[test]
#[ignore = "needs a kube-apiserver: make test-e2e"]
fn every_invalid_example_is_rejected_with_its_message() {
    cluster();
    install_crds();
    let expected: &[(&str, &[&str])] = &[
        (
            "invalid-condition-fields.yaml",
            &[
                "threshold is required for type ConsecutiveFailures, FailureRate, Duration, QueueTime, \
                 JobQueueTime, QueuedJobs, JobFailureRate, JobDuration, TestFailureRate, \
                 ChangeFailureRate, LeadTime",
                "window applies only to type FailureRate, Duration, DurationRegression, QueueTime, \
                 NoSuccessWithin, JobQueueTime, JobFailureRate, JobDuration, FlakyTest, TestFailureRate, \
                 ChangeFailureRate, LeadTime",
            ],
        ),
        (
            "invalid-failure-rate.yaml",
            &["FailureRate: threshold is a whole percentage above 0 and at most 100"],
        ),
        (
            "invalid-queued-jobs.yaml",
            &[
                "for is required for type QueuedJobs",
                "stat applies only to type Duration, QueueTime, JobQueueTime, JobDuration, LeadTime",
            ],
        ),
        (
            "invalid-secret-by-value.yaml",
            &[
                "secrets are given by secretKeyRef (a key of a Secret in this namespace), not by value",
                "secretKeyRef is required",
            ],
        ),
        (
            "invalid-severity.yaml",
            &[
                r#"spec.severity: Unsupported value: "urgent": supported values: "info", "warning", "critical""#,
            ],
        ),
        (
            "invalid-test-failure-rate.yaml",
            &[
                "TestFailureRate: give exactly one of test (one test) and testMatch (a glob on \
                 classname::name)",
            ],
        ),
        (
            "invalid-type-without-block.yaml",
            &[
                "type Webhook needs a webhook block",
                "type Webhook takes no slack block",
            ],
        ),
    ];
    assert_eq!(
        example_files(true),
        expected.iter().map(|(f, _)| f.to_string()).collect::<Vec<_>>(),
        "every invalid example has its expected messages here"
    );
    for (file, messages) in expected {
        let path = format!("crds/examples/{file}");
        let out = kubectl(&["apply", "--server-side", "--field-manager=cicd-e2e", "-f", &path]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{file} was accepted");
        assert!(
            stderr.contains("is invalid"),
            "{file} was refused for another reason:\n{stderr}"
        );
        for message in *messages {
            assert!(stderr.contains(message), "{file}: no {message:?} in:\n{stderr}");
        }
    }
}
