//! The `AlertRule` controller: checks the integrations a rule notifies exist and are Ready in its
//! namespace, validates the spec and upserts the rule into the backend, mirroring what is firing.

use std::sync::Arc;

use cicd_monitor_crds::status::{reason, INTEGRATIONS_RESOLVED, READY};
use cicd_monitor_crds::{AlertRule, AlertRuleSpec, AlertRuleStatus, Integration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{finalizer, Event as Finalizer};
use kube::ResourceExt;
use tracing::{field, info, instrument, Span};

use crate::backend::{RuleInfo, Upsert};
use crate::conditions::{self, Outcome};
use crate::context::{apply_status, finish, Context, FINALIZER};
use crate::integration::backend_outcome;
use crate::{telemetry, Error, Result};

/// The spec the backend gets: integrations are named `namespace/name` there.
pub fn backend_spec(ns: &str, spec: &AlertRuleSpec) -> AlertRuleSpec {
    let mut out = spec.clone();
    for i in &mut out.notify.integrations {
        i.name = format!("{ns}/{}", i.name);
    }
    out
}

/// Problems the schema cannot catch, as one message (`None`: the spec is valid).
pub fn problems(spec: &AlertRuleSpec) -> Option<String> {
    let p: Vec<String> = spec
        .condition
        .problems()
        .into_iter()
        .map(|(field, message)| format!("spec.{field}: {message}"))
        .collect();
    (!p.is_empty()).then(|| p.join("; "))
}

/// Why the referenced integrations are not usable yet (`None`: all exist and are Ready).
/// `found` holds, per referenced name, the Integration if it exists.
pub fn unresolved(found: &[(String, Option<Integration>)]) -> Option<String> {
    let p: Vec<String> = found
        .iter()
        .filter_map(|(name, i)| match i {
            None => Some(format!("Integration {name:?} not found")),
            Some(i) if !i.status.as_ref().is_some_and(|s| s.is_ready()) => {
                Some(format!("Integration {name:?} is not Ready"))
            }
            Some(_) => None,
        })
        .collect();
    (!p.is_empty()).then(|| p.join("; "))
}

/// Reconciles one `AlertRule` (wrapped in the finalizer).
#[instrument(skip_all, fields(trace_id = %telemetry::trace_id(), kind = "AlertRule",
    namespace = %obj.namespace().unwrap_or_default(), name = %obj.name_any(), reason = field::Empty))]
pub async fn reconcile(obj: Arc<AlertRule>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.start("AlertRule");
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<AlertRule> = Api::namespaced(ctx.client.clone(), &ns);
    finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            Finalizer::Apply(obj) => apply(&obj, &api, &ctx).await,
            Finalizer::Cleanup(obj) => cleanup(&obj, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

async fn apply(obj: &AlertRule, api: &Api<AlertRule>, ctx: &Context) -> Result<Action> {
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let uid = obj.uid().unwrap_or_default();
    let integrations: Api<Integration> = Api::namespaced(ctx.client.clone(), &ns);
    let mut found = Vec::new();
    for r in &obj.spec.notify.integrations {
        found.push((
            r.name.clone(),
            integrations.get_opt(&r.name).await.map_err(Error::Kube)?,
        ));
    }
    let unresolved = unresolved(&found);
    let mut info: Option<RuleInfo> = None;
    let outcome = if let Some(m) = &unresolved {
        Outcome::new(reason::INTEGRATION_NOT_FOUND, m.clone())
    } else if let Some(m) = problems(&obj.spec) {
        Outcome::new(reason::INVALID_SPEC, m)
    } else {
        let spec = backend_spec(&ns, &obj.spec);
        let body = Upsert {
            namespace: &ns,
            name: &name,
            spec: &spec,
        };
        match ctx.backend.upsert_rule(&uid, &body).await {
            Ok(i) => {
                info = Some(i);
                if spec.suspend {
                    Outcome::new(reason::SUSPENDED, "synced; evaluation is paused (spec.suspend)")
                } else {
                    Outcome::new(reason::SYNCED, format!("synced as {ns}/{name}"))
                }
            }
            Err(e) => backend_outcome(&e),
        }
    };
    Span::current().record("reason", outcome.reason);
    info!(message = %outcome.message, "reconciled");

    let old = obj.status.clone().unwrap_or_default();
    let status = rule_status(
        &old,
        obj.metadata.generation,
        &outcome,
        unresolved.as_deref(),
        info.as_ref(),
        Timestamp::now(),
    );
    if status != old {
        apply_status(api, obj, &status).await?;
    }
    ctx.transition(obj, conditions::ready_reason(&old.conditions), &outcome)
        .await;
    finish(ctx, obj, &outcome)
}

/// The status after a reconciliation; `lastSyncTime` moves only when something else changed.
pub fn rule_status(
    old: &AlertRuleStatus,
    generation: Option<i64>,
    outcome: &Outcome,
    unresolved: Option<&str>,
    info: Option<&RuleInfo>,
    now: Timestamp,
) -> AlertRuleStatus {
    let ready = conditions::condition(
        READY,
        outcome.is_ready(),
        outcome.reason,
        &outcome.message,
        generation,
        now,
    );
    let resolved = match unresolved {
        Some(m) => conditions::condition(
            INTEGRATIONS_RESOLVED,
            false,
            reason::INTEGRATION_NOT_FOUND,
            m,
            generation,
            now,
        ),
        None => conditions::condition(
            INTEGRATIONS_RESOLVED,
            true,
            "Resolved",
            "every integration is Ready",
            generation,
            now,
        ),
    };
    let mut status = AlertRuleStatus {
        observed_generation: generation,
        backend_id: info.map(|i| i.id.to_string()).or(old.backend_id.clone()),
        last_sync_time: old.last_sync_time.clone(),
        firing: info.map(|i| u32::try_from(i.firing).unwrap_or(0)).or(old.firing),
        last_triggered: match info {
            Some(i) => i
                .last_triggered
                .as_deref()
                .and_then(|t| t.parse::<Timestamp>().ok())
                .map(Time),
            None => old.last_triggered.clone(),
        },
        conditions: conditions::merge(&old.conditions, vec![ready, resolved]),
    };
    if &status != old && outcome.is_ready() {
        status.last_sync_time = Some(Time(now));
    }
    status
}

async fn cleanup(obj: &AlertRule, ctx: &Context) -> Result<Action> {
    ctx.backend
        .delete_rule(&obj.uid().unwrap_or_default())
        .await
        .map_err(Error::Backend)?;
    ctx.event(
        obj,
        EventType::Normal,
        "Deleted",
        "removed from the backend".into(),
    )
    .await;
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: serde_json::Value) -> AlertRuleSpec {
        serde_json::from_value(v).expect("valid spec")
    }

    #[test]
    fn integrations_are_named_with_their_namespace_for_the_backend() {
        let s = spec(serde_json::json!({"condition": {"type": "RunFailed"},
            "notify": {"integrations": [{"name": "slack"}, {"name": "hook"}]}}));
        let body = serde_json::to_value(Upsert {
            namespace: "team-a",
            name: "red",
            spec: &backend_spec("team-a", &s),
        })
        .expect("json");
        assert_eq!(body["namespace"], "team-a");
        assert_eq!(body["name"], "red");
        assert_eq!(
            body["spec"]["notify"]["integrations"],
            serde_json::json!([{"name": "team-a/slack"}, {"name": "team-a/hook"}])
        );
        assert_eq!(body["spec"]["condition"]["type"], "RunFailed");
    }

    #[test]
    fn out_of_range_conditions_are_invalid() {
        let bad =
            spec(serde_json::json!({"condition": {"type": "FailureRate", "threshold": 150, "window": "1h"}}));
        assert_eq!(
            problems(&bad).as_deref(),
            Some("spec.condition.threshold: must be a percentage above 0 and at most 100")
        );
        assert_eq!(
            problems(&spec(serde_json::json!({"condition": {"type": "RunFailed"}}))),
            None
        );
    }

    /// The job and runner conditions reach the backend as written in the resource (the backend
    /// reads the same type), with only the integrations renamed.
    #[test]
    fn job_and_runner_conditions_are_sent_unchanged() {
        let conditions = [
            serde_json::json!({"type": "JobQueueTime", "labels": ["self-hosted", "gpu"], "stat": "p50",
                               "threshold": "10m", "window": "1h"}),
            serde_json::json!({"type": "QueuedJobs", "labels": ["gpu"], "threshold": 5, "for": "15m"}),
            serde_json::json!({"type": "JobFailureRate", "job": {"repo": "acme/api", "workflow": "ci", "name": "test"},
                               "threshold": 30.0, "window": "1d", "minRuns": 10}),
            serde_json::json!({"type": "JobDuration", "job": {"repo": "acme/api", "workflow": "ci", "name": "test"},
                               "stat": "p95", "threshold": "20m", "window": "6h"}),
        ];
        for condition in conditions {
            let s = spec(serde_json::json!({"condition": condition,
                "notify": {"integrations": [{"name": "slack"}]}}));
            assert_eq!(problems(&s), None, "{condition}");
            let body = serde_json::to_value(Upsert {
                namespace: "team-a",
                name: "jobs",
                spec: &backend_spec("team-a", &s),
            })
            .expect("json");
            assert_eq!(body["spec"]["condition"], condition);
            assert_eq!(
                body["spec"]["notify"]["integrations"],
                serde_json::json!([{"name": "team-a/slack"}])
            );
        }
        // A resource without `stat` gets the default percentile, p95.
        let s = spec(serde_json::json!({"condition": {"type": "JobDuration",
            "job": {"repo": "a", "workflow": "b", "name": "c"}, "threshold": "5m", "window": "1h"}}));
        assert_eq!(
            serde_json::to_value(backend_spec("ns", &s)).expect("json")["condition"]["stat"],
            "p95"
        );
    }

    /// The test conditions too (the backend reads the same type): `FlakyTest` with its default
    /// window filled in, `TestFailureRate` with one test or a glob.
    #[test]
    fn test_conditions_are_sent_unchanged() {
        let conditions = [
            (
                serde_json::json!({"type": "FlakyTest"}),
                serde_json::json!({"type": "FlakyTest", "window": "7d"}),
            ),
            (
                serde_json::json!({"type": "FlakyTest", "window": "14d"}),
                serde_json::json!({"type": "FlakyTest", "window": "14d"}),
            ),
            (
                serde_json::json!({"type": "TestFailureRate",
                                   "test": {"repo": "acme/api", "classname": "tests.test_auth", "name": "test_login",
                                            "suite": "pytest"},
                                   "threshold": 20.0, "window": "7d", "minRuns": 10}),
                serde_json::json!({"type": "TestFailureRate",
                                   "test": {"repo": "acme/api", "classname": "tests.test_auth", "name": "test_login",
                                            "suite": "pytest"},
                                   "threshold": 20.0, "window": "7d", "minRuns": 10}),
            ),
            (
                serde_json::json!({"type": "TestFailureRate", "testMatch": "tests.api.*::*", "threshold": 50,
                                   "window": "1d"}),
                serde_json::json!({"type": "TestFailureRate", "testMatch": "tests.api.*::*", "threshold": 50.0,
                                   "window": "1d", "minRuns": 5}),
            ),
        ];
        for (condition, sent) in conditions {
            let s = spec(
                serde_json::json!({"match": {"repo": "acme/*"}, "condition": condition,
                "notify": {"integrations": [{"name": "slack"}]}}),
            );
            assert_eq!(problems(&s), None, "{condition}");
            let body = serde_json::to_value(Upsert {
                namespace: "team-a",
                name: "tests",
                spec: &backend_spec("team-a", &s),
            })
            .expect("json");
            assert_eq!(body["spec"]["condition"], sent);
            assert_eq!(body["spec"]["match"], serde_json::json!({"repo": "acme/*"}));
        }
    }

    /// The delivery conditions, with their defaults filled in.
    #[test]
    fn delivery_conditions_are_sent_with_their_defaults() {
        for (condition, sent) in [
            (
                serde_json::json!({"type": "DeploymentFailed"}),
                serde_json::json!({"type": "DeploymentFailed"}),
            ),
            (
                serde_json::json!({"type": "ChangeFailureRate", "threshold": 15, "window": "30d", "service": "api"}),
                serde_json::json!({"type": "ChangeFailureRate", "threshold": 15.0, "window": "30d",
                                   "minDeployments": 5, "service": "api"}),
            ),
            (
                serde_json::json!({"type": "LeadTime", "threshold": "2d", "window": "30d"}),
                serde_json::json!({"type": "LeadTime", "stat": "p95", "threshold": "2d", "window": "30d"}),
            ),
        ] {
            let s = spec(serde_json::json!({"condition": condition}));
            assert_eq!(problems(&s), None, "{condition}");
            assert_eq!(
                serde_json::to_value(backend_spec("ns", &s)).expect("json")["condition"],
                sent
            );
        }
    }

    #[test]
    fn out_of_range_job_runner_and_test_conditions_are_invalid() {
        let cases = [
            (
                serde_json::json!({"type": "QueuedJobs", "labels": ["gpu"], "threshold": 0, "for": "2d"}),
                "spec.condition.threshold: must be at least 1; spec.condition.for: must be at most 1d",
            ),
            (
                serde_json::json!({"type": "JobFailureRate", "job": {"repo": "a", "workflow": "b", "name": " "},
                                   "threshold": 120, "window": "1h"}),
                "spec.condition.threshold: must be a percentage above 0 and at most 100; \
                 spec.condition.job.name: must not be empty: a job is named by its repo, workflow and name",
            ),
            (
                serde_json::json!({"type": "JobQueueTime", "labels": [" "], "threshold": "5m", "window": "100d"}),
                "spec.condition.labels: must name the runner label set, e.g. [self-hosted, gpu]; \
                 spec.condition.window: must be between 1m and 90d",
            ),
            (
                serde_json::json!({"type": "TestFailureRate", "test": {"repo": "acme/api", "name": " "},
                                   "threshold": 20, "window": "1h"}),
                "spec.condition.test.name: must not be empty: a test is named by its repo and name; \
                 spec.condition.window: must be between 1d and 90d (tests are counted by UTC day)",
            ),
            (
                serde_json::json!({"type": "TestFailureRate", "threshold": 20, "window": "7d"}),
                "spec.condition.test: give test (one test: repo and name) or testMatch (a glob on classname::name)",
            ),
            (
                serde_json::json!({"type": "FlakyTest", "window": "100d"}),
                "spec.condition.window: must be between 1m and 90d",
            ),
        ];
        for (condition, expected) in cases {
            let s = spec(serde_json::json!({ "condition": condition }));
            assert_eq!(problems(&s).as_deref(), Some(expected), "{condition}");
        }
    }

    #[test]
    fn missing_integrations_are_named() {
        let found = vec![("slack".to_string(), None)];
        assert_eq!(
            unresolved(&found).as_deref(),
            Some("Integration \"slack\" not found")
        );
        assert_eq!(unresolved(&[]), None);
    }

    #[test]
    fn firing_and_last_triggered_are_mirrored_and_an_unchanged_status_keeps_its_sync_time() {
        let t0 = Timestamp::from_second(1_000).expect("time");
        let synced = Outcome::new(reason::SYNCED, "synced as a/b");
        let info = RuleInfo {
            id: 7,
            firing: 2,
            last_triggered: Some("2026-01-02T03:04:05Z".into()),
        };
        let first = rule_status(
            &AlertRuleStatus::default(),
            Some(1),
            &synced,
            None,
            Some(&info),
            t0,
        );
        assert_eq!(first.backend_id.as_deref(), Some("7"));
        assert_eq!(first.firing, Some(2));
        assert_eq!(
            first.last_triggered,
            Some(Time("2026-01-02T03:04:05Z".parse().expect("time")))
        );
        assert_eq!(first.last_sync_time, Some(Time(t0)));
        let later = Timestamp::from_second(2_000).expect("time");
        let again = rule_status(&first, Some(1), &synced, None, Some(&info), later);
        assert_eq!(again, first, "nothing changed: no status write");

        let down = Outcome::new(reason::BACKEND_UNAVAILABLE, "cannot connect");
        let failed = rule_status(&first, Some(2), &down, None, None, later);
        assert_eq!(failed.firing, Some(2), "the last known firing count stays");
        assert_eq!(failed.last_sync_time, Some(Time(t0)));
        let ready = cicd_monitor_crds::status::find(&failed.conditions, READY).expect("Ready");
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "BackendUnavailable")
        );
        assert_eq!(ready.last_transition_time, Time(later));
        assert_eq!(ready.observed_generation, Some(2));
    }
}
