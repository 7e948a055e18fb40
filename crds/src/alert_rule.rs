//! The `AlertRule` spec: which runs a rule watches, what condition fires it, and how it notifies.
//! The same type is the body of `PUT /api/alert-rules/…` and the spec of the custom resource.

#[cfg(feature = "resource")]
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::span::Span;
#[cfg(feature = "resource")]
pub use crate::status::AlertRuleStatus;

// The spec of the `AlertRule` custom resource (`cicd-monitor.dev/v1alpha1`). Its CRD schema is
// assembled in `crate::schema` (`schema = "manual"`): `condition` needs a structural form there.
// No `///` here: it would become the description of the REST API's `AlertRuleSpec`.
// clippy reads the repeated `printcolumn(type_ = …)` arguments as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(
    feature = "resource",
    derive(CustomResource),
    kube(
        group = "cicd-monitor.dev",
        version = "v1alpha1",
        kind = "AlertRule",
        namespaced,
        status = "AlertRuleStatus",
        derive = "PartialEq",
        schema = "manual",
        shortname = "cicdrule",
        category = "cicd-monitor",
        printcolumn(
            name = "Ready",
            type_ = "string",
            json_path = ".status.conditions[?(@.type==\"Ready\")].status"
        ),
        printcolumn(name = "Severity", type_ = "string", json_path = ".spec.severity"),
        printcolumn(
            name = "Condition",
            type_ = "string",
            json_path = ".spec.condition.type",
            priority = 1
        ),
        printcolumn(
            name = "Firing",
            type_ = "integer",
            json_path = ".status.firing",
            description = "Groups currently firing"
        ),
        printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
    )
)]
#[serde(rename_all = "camelCase")]
pub struct AlertRuleSpec {
    /// Pauses evaluation and notifications.
    #[serde(default)]
    pub suspend: bool,
    /// Which runs the rule watches; empty matches every run.
    #[serde(default, rename = "match")]
    pub selector: Selector,
    pub condition: Condition,
    #[serde(default)]
    pub severity: Severity,
    #[serde(default)]
    pub annotations: Annotations,
    #[serde(default)]
    pub notify: Notify,
}

/// Selectors, each exact or a glob (`*` any run of characters, `?` one character).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Selector {
    /// `github`, `gitlab`, `jenkins`, `cdevents`, `generic`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Repository, e.g. `acme/payments-*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// Workflows; any of them matches. Empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workflows: Vec<String>,
    /// Branches; any of them matches (`main`, `release/*`). Empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub branches: Vec<String>,
}

/// What makes a group of runs fire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
// Each variant renames its own fields: schemars does not read `rename_all_fields`.
#[serde(tag = "type")]
pub enum Condition {
    /// A run failed: every failure, or with `onlyFirst` only the first after a success.
    #[serde(rename_all = "camelCase")]
    RunFailed {
        #[serde(default)]
        only_first: bool,
    },
    /// The last `threshold` finished runs all failed.
    ConsecutiveFailures { threshold: u32 },
    /// Failures / (successes + failures) over `window` is at least `threshold` percent, counted only
    /// once at least `minRuns` runs finished.
    #[serde(rename_all = "camelCase")]
    FailureRate {
        threshold: f64,
        window: Span,
        #[serde(default = "default_min_runs")]
        min_runs: u32,
    },
    /// The average or p95 duration over `window` is above `threshold`.
    Duration {
        #[serde(default)]
        stat: Stat,
        threshold: Span,
        window: Span,
    },
    /// The p95 duration over `window` is at least `percent` above the p95 of the `baselineWindow`
    /// before it.
    #[serde(rename_all = "camelCase")]
    DurationRegression {
        percent: f64,
        window: Span,
        baseline_window: Span,
    },
    /// The average or p95 queue time (started − queued) over `window` is above `threshold`.
    QueueTime {
        #[serde(default)]
        stat: Stat,
        threshold: Span,
        window: Span,
    },
    /// No successful run for longer than `window` (a red branch, or a scheduled workflow gone silent).
    NoSuccessWithin { window: Span },
    /// The p50 or p95 queue time (started − queued) over `window` of the jobs asking for the
    /// runner label set `labels` is above `threshold`.
    JobQueueTime {
        labels: Vec<String>,
        #[serde(default)]
        stat: Percentile,
        threshold: Span,
        window: Span,
    },
    /// At least `threshold` jobs asking for the runner label set `labels` are queued now, and
    /// have been for `for` (a backlog that persists, not a blip).
    QueuedJobs {
        labels: Vec<String>,
        threshold: u32,
        #[serde(rename = "for")]
        for_: Span,
    },
    /// Failures / (successes + failures) of one job over `window` is at least `threshold`
    /// percent, counted only once at least `minRuns` of its executions succeeded or failed.
    #[serde(rename_all = "camelCase")]
    JobFailureRate {
        job: JobRef,
        threshold: f64,
        window: Span,
        #[serde(default = "default_min_runs")]
        min_runs: u32,
    },
    /// The p50 or p95 duration of one job over `window` is above `threshold`.
    JobDuration {
        job: JobRef,
        #[serde(default)]
        stat: Percentile,
        threshold: Span,
        window: Span,
    },
    /// A test flaked (passed and failed on one commit) within `window`: one incident per test and
    /// repository, opened (and notified) once when it starts flaking, resolved when no flake of it
    /// is left in the window. `match` selects the repositories, workflows and branches of the
    /// flaky commits' runs.
    FlakyTest {
        #[serde(default = "default_flaky_window")]
        window: Span,
    },
    /// Failures / runs (skipped results left out) of one test, or of each test matching
    /// `testMatch`, over the whole UTC days `window` touches is at least `threshold` percent,
    /// counted only once the test ran at least `minRuns` times.
    #[serde(rename_all = "camelCase")]
    TestFailureRate {
        /// One test, named exactly (exclusive with `testMatch`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        test: Option<TestRef>,
        /// A glob on `classname::name` (`name` alone for a test without a class), e.g.
        /// `tests.test_api::*`: each matching test is its own incident (exclusive with `test`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        test_match: Option<String>,
        threshold: f64,
        window: Span,
        #[serde(default = "default_min_runs")]
        min_runs: u32,
    },
    /// A production deployment failed: the latest finished production deployment of a service
    /// (of each service matching `service`) ended in `failure` or `error`. One incident per
    /// service, resolved by its next successful deployment.
    DeploymentFailed {
        /// A glob on the service (absent: every service).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
    },
    /// A service's change failure rate (as `GET /api/dora` computes it) over `window` is at least
    /// `threshold` percent, counted only once at least `minDeployments` production deployments
    /// ended in the window. One incident per service.
    #[serde(rename_all = "camelCase")]
    ChangeFailureRate {
        threshold: f64,
        window: Span,
        #[serde(default = "default_min_deployments")]
        min_deployments: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
    },
    /// The p50 or p95 lead time for changes of a service (commit to production) over `window` is
    /// above `threshold`. One incident per service.
    LeadTime {
        #[serde(default)]
        stat: Percentile,
        threshold: Span,
        window: Span,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
    },
}

/// One test, named as the tests API names it: the repository that runs it and its name, with
/// its class and suite when the name alone is not unique (each is exact; absent matches any).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TestRef {
    /// Repository, e.g. `acme/api`.
    pub repo: String,
    /// The test case's name, e.g. `test_login`.
    pub name: String,
    /// Its class, e.g. `tests.test_api` (absent: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classname: Option<String>,
    /// Its suite, e.g. `pytest` (absent: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
}

/// One job, named as the jobs API names it: its repository, workflow and job name (exact).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct JobRef {
    /// Repository, e.g. `acme/api`.
    pub repo: String,
    /// Workflow, e.g. `ci`.
    pub workflow: String,
    /// The job's name, e.g. `test`.
    pub name: String,
}

/// Which percentile of the jobs' times a job or runner condition compares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Percentile {
    P50,
    #[default]
    P95,
}

/// The longest `for` of a `QueuedJobs` condition.
pub const MAX_FOR_SECS: u64 = 86_400;

/// The most tests a `FlakyTest` or `TestFailureRate` rule tracks at once (its open incidents
/// first, then the worst new tests).
pub const MAX_TEST_GROUPS: usize = 100;

/// The longest `testMatch`.
pub const MAX_TEST_MATCH_LEN: usize = 1000;

fn default_min_runs() -> u32 {
    5
}

fn default_min_deployments() -> u32 {
    5
}

fn default_flaky_window() -> Span {
    Span::from_secs(7 * 86_400)
}

impl Condition {
    /// The condition's name, as in its `type` field.
    pub fn kind(&self) -> &'static str {
        match self {
            Condition::RunFailed { .. } => "RunFailed",
            Condition::ConsecutiveFailures { .. } => "ConsecutiveFailures",
            Condition::FailureRate { .. } => "FailureRate",
            Condition::Duration { .. } => "Duration",
            Condition::DurationRegression { .. } => "DurationRegression",
            Condition::QueueTime { .. } => "QueueTime",
            Condition::NoSuccessWithin { .. } => "NoSuccessWithin",
            Condition::JobQueueTime { .. } => "JobQueueTime",
            Condition::QueuedJobs { .. } => "QueuedJobs",
            Condition::JobFailureRate { .. } => "JobFailureRate",
            Condition::JobDuration { .. } => "JobDuration",
            Condition::FlakyTest { .. } => "FlakyTest",
            Condition::TestFailureRate { .. } => "TestFailureRate",
            Condition::DeploymentFailed { .. } => "DeploymentFailed",
            Condition::ChangeFailureRate { .. } => "ChangeFailureRate",
            Condition::LeadTime { .. } => "LeadTime",
        }
    }

    /// Whether the condition watches production deployments: then a rule has one incident per
    /// service (those its `service` glob matches), and `match` and `groupBy` do not apply.
    pub fn is_delivery_condition(&self) -> bool {
        matches!(
            self,
            Condition::DeploymentFailed { .. }
                | Condition::ChangeFailureRate { .. }
                | Condition::LeadTime { .. }
        )
    }

    /// The `service` glob of a delivery condition.
    pub fn service_glob(&self) -> Option<&str> {
        match self {
            Condition::DeploymentFailed { service }
            | Condition::ChangeFailureRate { service, .. }
            | Condition::LeadTime { service, .. } => service.as_deref(),
            _ => None,
        }
    }

    /// Whether the condition watches tests (from their JUnit reports): then a rule has one
    /// incident per test and repository, `groupBy` does not apply, and at most
    /// [`MAX_TEST_GROUPS`] tests are tracked at once.
    pub fn is_test_condition(&self) -> bool {
        matches!(
            self,
            Condition::FlakyTest { .. } | Condition::TestFailureRate { .. }
        )
    }

    /// Whether the condition watches one runner label set or one job rather than groups of runs:
    /// then `match` does not apply, and the rule has one incident at most.
    pub fn is_job_condition(&self) -> bool {
        matches!(
            self,
            Condition::JobQueueTime { .. }
                | Condition::QueuedJobs { .. }
                | Condition::JobFailureRate { .. }
                | Condition::JobDuration { .. }
        )
    }

    /// Problems that the types cannot express (ranges), as `(field, message)`.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        match self {
            Condition::ConsecutiveFailures { threshold } if *threshold < 1 => {
                out.push(("condition.threshold", "must be at least 1".into()));
            }
            Condition::FailureRate { threshold, .. }
            | Condition::JobFailureRate { threshold, .. }
            | Condition::TestFailureRate { threshold, .. }
            | Condition::ChangeFailureRate { threshold, .. }
                if !(threshold.is_finite() && *threshold > 0.0 && *threshold <= 100.0) =>
            {
                out.push((
                    "condition.threshold",
                    "must be a percentage above 0 and at most 100".into(),
                ));
            }
            Condition::DurationRegression { percent, .. } if !(percent.is_finite() && *percent > 0.0) => {
                out.push(("condition.percent", "must be above 0".into()));
            }
            Condition::QueuedJobs { threshold, .. } if *threshold < 1 => {
                out.push(("condition.threshold", "must be at least 1".into()));
            }
            _ => {}
        }
        if let Some(glob) = self.service_glob() {
            if glob.trim().is_empty() || glob.chars().count() > 255 {
                out.push((
                    "condition.service",
                    "must be a service name or glob of 1 to 255 characters (leave it out for every service)"
                        .into(),
                ));
            }
        }
        match self {
            Condition::JobQueueTime { labels, .. } | Condition::QueuedJobs { labels, .. }
                if labels.iter().all(|l| l.split(',').all(|p| p.trim().is_empty())) =>
            {
                out.push((
                    "condition.labels",
                    "must name the runner label set, e.g. [self-hosted, gpu]".into(),
                ));
            }
            Condition::JobFailureRate { job, .. } | Condition::JobDuration { job, .. } => {
                for (field, value) in [
                    ("condition.job.repo", &job.repo),
                    ("condition.job.workflow", &job.workflow),
                    ("condition.job.name", &job.name),
                ] {
                    if value.trim().is_empty() {
                        out.push((
                            field,
                            "must not be empty: a job is named by its repo, workflow and name".into(),
                        ));
                    }
                }
            }
            Condition::TestFailureRate { test, test_match, .. } => match (test, test_match) {
                (Some(_), Some(_)) => out.push((
                    "condition.testMatch",
                    "give either test (one test) or testMatch (a glob), not both".into(),
                )),
                (None, None) => out.push((
                    "condition.test",
                    "give test (one test: repo and name) or testMatch (a glob on classname::name)".into(),
                )),
                (Some(t), None) => {
                    for (field, value) in [("condition.test.repo", &t.repo), ("condition.test.name", &t.name)]
                    {
                        if value.trim().is_empty() {
                            out.push((
                                field,
                                "must not be empty: a test is named by its repo and name".into(),
                            ));
                        }
                    }
                }
                (None, Some(m)) if m.trim().is_empty() => {
                    out.push((
                        "condition.testMatch",
                        "must not be empty (* matches every test)".into(),
                    ));
                }
                (None, Some(m)) if m.chars().count() > MAX_TEST_MATCH_LEN => {
                    out.push((
                        "condition.testMatch",
                        format!("must be at most {MAX_TEST_MATCH_LEN} characters"),
                    ));
                }
                (None, Some(_)) => {}
            },
            _ => {}
        }
        if let Condition::QueuedJobs { for_, .. } = self {
            if for_.as_secs() > MAX_FOR_SECS {
                out.push(("condition.for", "must be at most 1d".into()));
            }
        }
        let windows: Vec<(&'static str, &Span)> = match self {
            Condition::FailureRate { window, .. }
            | Condition::Duration { window, .. }
            | Condition::QueueTime { window, .. }
            | Condition::NoSuccessWithin { window }
            | Condition::JobQueueTime { window, .. }
            | Condition::JobFailureRate { window, .. }
            | Condition::JobDuration { window, .. }
            | Condition::FlakyTest { window }
            | Condition::ChangeFailureRate { window, .. }
            | Condition::LeadTime { window, .. } => vec![("condition.window", window)],
            Condition::DurationRegression {
                window,
                baseline_window,
                ..
            } => {
                vec![
                    ("condition.window", window),
                    ("condition.baselineWindow", baseline_window),
                ]
            }
            _ => Vec::new(),
        };
        for (field, w) in windows {
            if w.as_secs() < 60 || w.as_secs() > 90 * 86_400 {
                out.push((field, "must be between 1m and 90d".into()));
            }
        }
        // Test figures are kept per UTC day: a window shorter than a day would still read days.
        if let Condition::TestFailureRate { window, .. } = self {
            if window.as_secs() < 86_400 || window.as_secs() > 90 * 86_400 {
                out.push((
                    "condition.window",
                    "must be between 1d and 90d (tests are counted by UTC day)".into(),
                ));
            }
        }
        out
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Stat {
    Avg,
    #[default]
    P95,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    #[default]
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Annotations {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook_url: Option<String>,
}

/// The dimensions incidents are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GroupKey {
    Repo,
    Workflow,
    Branch,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notify {
    /// Integrations to notify, by name.
    #[serde(default)]
    pub integrations: Vec<IntegrationRef>,
    /// One incident per distinct combination of these (default: repo, workflow, branch).
    #[serde(default = "default_group_by")]
    pub group_by: Vec<GroupKey>,
    /// How long a group must stay bad before the first notification (absorbs flapping).
    #[serde(default = "default_group_wait")]
    pub group_wait: Span,
    /// Notify again after this long while the group keeps firing and is not acknowledged.
    #[serde(default = "default_repeat")]
    pub repeat_interval: Span,
    /// Send a "back to green" message when the group resolves.
    #[serde(default = "default_true")]
    pub send_resolved: bool,
}

impl Default for Notify {
    fn default() -> Self {
        Notify {
            integrations: Vec::new(),
            group_by: default_group_by(),
            group_wait: default_group_wait(),
            repeat_interval: default_repeat(),
            send_resolved: true,
        }
    }
}

fn default_group_by() -> Vec<GroupKey> {
    vec![GroupKey::Repo, GroupKey::Workflow, GroupKey::Branch]
}
fn default_group_wait() -> Span {
    Span::from_secs(30)
}
fn default_repeat() -> Span {
    Span::from_secs(4 * 3600)
}
fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IntegrationRef {
    pub name: String,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One condition of each type.
    pub(crate) fn one_of_each_condition() -> Vec<Condition> {
        let span = Span::from_secs;
        vec![
            Condition::RunFailed { only_first: true },
            Condition::ConsecutiveFailures { threshold: 3 },
            Condition::FailureRate {
                threshold: 20.0,
                window: span(3600),
                min_runs: 5,
            },
            Condition::Duration {
                stat: Stat::Avg,
                threshold: span(600),
                window: span(86_400),
            },
            Condition::DurationRegression {
                percent: 50.0,
                window: span(86_400),
                baseline_window: span(7 * 86_400),
            },
            Condition::QueueTime {
                stat: Stat::P95,
                threshold: span(300),
                window: span(3600),
            },
            Condition::NoSuccessWithin {
                window: span(2 * 86_400),
            },
            Condition::JobQueueTime {
                labels: vec!["gpu".into(), "self-hosted".into()],
                stat: Percentile::P50,
                threshold: span(600),
                window: span(3600),
            },
            Condition::QueuedJobs {
                labels: vec!["gpu".into()],
                threshold: 10,
                for_: span(900),
            },
            Condition::JobFailureRate {
                job: job(),
                threshold: 30.0,
                window: span(86_400),
                min_runs: 8,
            },
            Condition::JobDuration {
                job: job(),
                stat: Percentile::P95,
                threshold: span(1200),
                window: span(6 * 3600),
            },
            Condition::FlakyTest {
                window: span(7 * 86_400),
            },
            Condition::TestFailureRate {
                test: Some(TestRef {
                    repo: "acme/api".into(),
                    name: "test_login".into(),
                    classname: Some("tests.test_api".into()),
                    suite: None,
                }),
                test_match: None,
                threshold: 20.0,
                window: span(7 * 86_400),
                min_runs: 5,
            },
        ]
    }

    fn job() -> JobRef {
        JobRef {
            repo: "acme/api".into(),
            workflow: "ci".into(),
            name: "test".into(),
        }
    }

    #[test]
    fn every_condition_type_round_trips() {
        for c in one_of_each_condition() {
            let json = serde_json::to_value(&c).unwrap();
            assert_eq!(json["type"], c.kind());
            assert_eq!(serde_json::from_value::<Condition>(json).unwrap(), c);
        }
    }

    /// Every property name in the schema is one serde writes: a field renamed for serde but not
    /// for schemars would make the CRD reject (or prune) what the types produce.
    #[test]
    fn schema_property_names_are_the_serialized_names() {
        fn names(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::Object(m) => {
                    if let Some(serde_json::Value::Object(props)) = m.get("properties") {
                        out.extend(props.keys().cloned());
                    }
                    m.values().for_each(|x| names(x, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|x| names(x, out)),
                _ => {}
            }
        }
        let schema = serde_json::to_value(schemars::schema_for!(AlertRuleSpec)).unwrap();
        let mut found = Vec::new();
        names(&schema, &mut found);
        let snake: Vec<_> = found.iter().filter(|n| n.contains('_')).collect();
        assert!(snake.is_empty(), "snake_case properties in the schema: {snake:?}");
        for expected in [
            "onlyFirst",
            "minRuns",
            "baselineWindow",
            "groupWait",
            "runbookUrl",
            "labels",
            "for",
            "job",
            "test",
            "testMatch",
            "classname",
        ] {
            assert!(found.iter().any(|n| n == expected), "{expected} missing");
        }
    }

    #[test]
    fn the_documented_example_reads_with_defaults() {
        let spec: AlertRuleSpec = serde_json::from_value(serde_json::json!({
            "match": {"provider": "github", "repo": "org/payments-*", "workflows": ["ci"],
                      "branches": ["main", "release/*"]},
            "condition": {"type": "ConsecutiveFailures", "threshold": 3},
            "severity": "critical",
            "annotations": {"summary": "main is red", "runbookUrl": "https://runbooks/x"},
            "notify": {"integrations": [{"name": "slack-payments"}], "groupBy": ["repo", "workflow", "branch"],
                       "groupWait": "30s", "repeatInterval": "4h", "sendResolved": true}
        }))
        .unwrap();
        assert_eq!(spec.condition, Condition::ConsecutiveFailures { threshold: 3 });
        assert_eq!(spec.notify.repeat_interval.as_secs(), 4 * 3600);
        assert_eq!(spec.selector.branches, ["main", "release/*"]);
        assert!(!spec.suspend);

        let minimal: AlertRuleSpec =
            serde_json::from_value(serde_json::json!({"condition": {"type": "RunFailed"}})).unwrap();
        assert_eq!(minimal.severity, Severity::Warning);
        assert_eq!(minimal.notify.group_wait.as_secs(), 30);
        assert_eq!(minimal.notify.group_by.len(), 3);
    }

    #[test]
    fn every_condition_round_trips_in_camel_case() {
        let c: Condition = serde_json::from_value(serde_json::json!({
            "type": "DurationRegression", "percent": 50, "window": "1d", "baselineWindow": "7d"
        }))
        .unwrap();
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(back["baselineWindow"], "7d");
        assert_eq!(serde_json::from_value::<Condition>(back).unwrap(), c);
        let fr: Condition = serde_json::from_value(
            serde_json::json!({"type": "FailureRate", "threshold": 20, "window": "1h"}),
        )
        .unwrap();
        assert!(matches!(fr, Condition::FailureRate { min_runs: 5, .. }));
        assert!(serde_json::from_value::<Condition>(serde_json::json!({"type": "Nope"})).is_err());
    }

    #[test]
    fn ranges_are_checked() {
        let bad = Condition::FailureRate {
            threshold: 120.0,
            window: Span::from_secs(10),
            min_runs: 1,
        };
        let fields: Vec<_> = bad.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields, ["condition.threshold", "condition.window"]);
        assert!(Condition::ConsecutiveFailures { threshold: 3 }
            .problems()
            .is_empty());
    }

    #[test]
    fn job_and_runner_conditions_read_with_defaults_and_check_their_fields() {
        let q: Condition = serde_json::from_value(serde_json::json!({
            "type": "QueuedJobs", "labels": ["self-hosted", "gpu"], "threshold": 5, "for": "10m"
        }))
        .unwrap();
        assert_eq!(
            q,
            Condition::QueuedJobs {
                labels: vec!["self-hosted".into(), "gpu".into()],
                threshold: 5,
                for_: Span::from_secs(600),
            }
        );
        assert_eq!(serde_json::to_value(&q).unwrap()["for"], "10m");
        assert!(q.is_job_condition());
        let d: Condition = serde_json::from_value(serde_json::json!({
            "type": "JobDuration", "job": {"repo": "acme/api", "workflow": "ci", "name": "test"},
            "threshold": "20m", "window": "6h"
        }))
        .unwrap();
        assert!(matches!(
            d,
            Condition::JobDuration {
                stat: Percentile::P95,
                ..
            }
        ));
        let fr: Condition = serde_json::from_value(serde_json::json!({
            "type": "JobFailureRate", "job": {"repo": "acme/api", "workflow": "ci", "name": "test"},
            "threshold": 30, "window": "1d"
        }))
        .unwrap();
        assert!(matches!(fr, Condition::JobFailureRate { min_runs: 5, .. }));
        assert!(!Condition::RunFailed { only_first: false }.is_job_condition());
        // p50 is a percentile of the job conditions only; avg is not one.
        assert!(serde_json::from_value::<Condition>(serde_json::json!({
            "type": "JobQueueTime", "labels": ["gpu"], "stat": "avg", "threshold": "5m", "window": "1h"
        }))
        .is_err());

        let bad = [
            (
                Condition::QueuedJobs {
                    labels: vec![" ".into(), ",".into()],
                    threshold: 0,
                    for_: Span::from_secs(2 * 86_400),
                },
                vec!["condition.threshold", "condition.labels", "condition.for"],
            ),
            (
                Condition::JobFailureRate {
                    job: JobRef {
                        repo: "acme/api".into(),
                        workflow: " ".into(),
                        name: String::new(),
                    },
                    threshold: 0.0,
                    window: Span::from_secs(30),
                    min_runs: 1,
                },
                vec![
                    "condition.threshold",
                    "condition.job.workflow",
                    "condition.job.name",
                    "condition.window",
                ],
            ),
            (
                Condition::JobQueueTime {
                    labels: Vec::new(),
                    stat: Percentile::P95,
                    threshold: Span::from_secs(60),
                    window: Span::from_secs(91 * 86_400),
                },
                vec!["condition.labels", "condition.window"],
            ),
        ];
        for (c, expected) in bad {
            let fields: Vec<_> = c.problems().into_iter().map(|(f, _)| f).collect();
            assert_eq!(fields, expected, "{c:?}");
        }
        for c in one_of_each_condition() {
            assert!(c.problems().is_empty(), "{c:?}: {:?}", c.problems());
        }
    }

    #[test]
    fn test_conditions_read_with_defaults_and_check_their_fields() {
        let flaky: Condition = serde_json::from_value(serde_json::json!({"type": "FlakyTest"})).unwrap();
        assert_eq!(
            flaky,
            Condition::FlakyTest {
                window: Span::from_secs(7 * 86_400)
            }
        );
        assert_eq!(serde_json::to_value(&flaky).unwrap()["window"], "7d");
        assert!(flaky.is_test_condition() && !flaky.is_job_condition());
        let one: Condition = serde_json::from_value(serde_json::json!({
            "type": "TestFailureRate", "test": {"repo": "acme/api", "name": "test_login"},
            "threshold": 30, "window": "7d"
        }))
        .unwrap();
        let Condition::TestFailureRate {
            test: Some(t),
            test_match: None,
            min_runs: 5,
            ..
        } = &one
        else {
            panic!("{one:?}");
        };
        assert_eq!((t.classname.as_deref(), t.suite.as_deref()), (None, None));
        // Absent optional parts stay absent when written back.
        let back = serde_json::to_value(&one).unwrap();
        assert_eq!(
            back["test"],
            serde_json::json!({"repo": "acme/api", "name": "test_login"})
        );
        assert!(back.get("testMatch").is_none());
        let glob: Condition = serde_json::from_value(serde_json::json!({
            "type": "TestFailureRate", "testMatch": "tests.test_api::*", "threshold": 30, "window": "7d",
            "minRuns": 10
        }))
        .unwrap();
        assert!(glob.is_test_condition() && glob.problems().is_empty());
        assert_eq!(
            serde_json::to_value(&glob).unwrap()["testMatch"],
            "tests.test_api::*"
        );

        let rate = |test: Option<TestRef>, test_match: Option<&str>, threshold: f64, window: u64| {
            Condition::TestFailureRate {
                test,
                test_match: test_match.map(str::to_owned),
                threshold,
                window: Span::from_secs(window),
                min_runs: 5,
            }
        };
        let named = |repo: &str, name: &str| TestRef {
            repo: repo.into(),
            name: name.into(),
            classname: None,
            suite: None,
        };
        let day = 86_400;
        let bad = [
            (rate(None, None, 20.0, day), vec!["condition.test"]),
            (
                rate(Some(named("a", "b")), Some("*"), 0.0, day),
                vec!["condition.threshold", "condition.testMatch"],
            ),
            (
                rate(Some(named(" ", "")), None, 101.0, day),
                vec![
                    "condition.threshold",
                    "condition.test.repo",
                    "condition.test.name",
                ],
            ),
            (rate(None, Some(" "), 20.0, day), vec!["condition.testMatch"]),
            (
                rate(None, Some(&"x".repeat(MAX_TEST_MATCH_LEN + 1)), 20.0, day),
                vec!["condition.testMatch"],
            ),
            // Whole UTC days: a window of hours is refused.
            (rate(None, Some("*"), 20.0, 3600), vec!["condition.window"]),
            (rate(None, Some("*"), 20.0, 91 * day), vec!["condition.window"]),
            (
                Condition::FlakyTest {
                    window: Span::from_secs(30),
                },
                vec!["condition.window"],
            ),
        ];
        for (c, expected) in bad {
            let fields: Vec<_> = c.problems().into_iter().map(|(f, _)| f).collect();
            assert_eq!(fields, expected, "{c:?}");
        }
        assert!(serde_json::from_value::<Condition>(serde_json::json!({
            "type": "TestFailureRate", "test": {"repo": "acme/api"}, "threshold": 30, "window": "7d"
        }))
        .is_err());
    }
}
