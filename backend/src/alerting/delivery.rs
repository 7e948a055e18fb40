//! The delivery conditions (`DeploymentFailed`, `ChangeFailureRate`, `LeadTime`): they watch
//! production deployments (the environments the `production_environments` setting names), so a
//! rule of these types has one group per service (`service=payments`), whatever its `groupBy`.
//!
//! A rule's groups are the services of its open incidents (so that each resolves when its
//! service recovers) and the services, among those its `service` glob matches, with a production
//! deployment that ended within the condition's window (7 days for `DeploymentFailed`).
//!
//! - `DeploymentFailed`: bad while the service's latest finished production deployment failed
//!   (`failure` or `error`); its next successful deployment resolves it.
//! - `ChangeFailureRate`, `LeadTime`: the figures of `GET /api/dora` for the service over the
//!   window ending now.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, TimeDelta, Utc};
use cicd_monitor_crds::{Condition, Percentile, Span};
use globset::{Glob, GlobMatcher};
use sqlx::PgPool;

use super::evaluate::{Group, Measure};
use crate::db;
use crate::db::deployments::Scope;
use crate::db::rules::RuleRow;
use crate::delivery::dora::{self, KeyKind};
use crate::delivery::Production;

/// How far back `DeploymentFailed` looks for services to watch.
const FAILED_LOOKBACK_DAYS: i64 = 7;

/// A compiled `service` glob (`None`: every service); the reason when it is not a glob.
pub fn service_glob(c: &Condition) -> Result<Option<GlobMatcher>, String> {
    c.service_glob()
        .map(|pattern| {
            Glob::new(pattern.trim())
                .map(|g| g.compile_matcher())
                .map_err(|e| format!("{pattern:?} is not a valid glob: {}", e.kind()))
        })
        .transpose()
}

/// The group of one service.
pub fn group(service: &str) -> Group {
    Group {
        labels: BTreeMap::from([("service".to_owned(), service.to_owned())]),
        key: format!("service={service}"),
        tuples: Vec::new(),
    }
}

/// The dashboard view of a delivery condition's group: the Delivery view of its service.
pub fn dashboard_view(
    c: &Condition,
    labels: &BTreeMap<String, String>,
) -> Option<(&'static str, Vec<(&'static str, String)>)> {
    if !c.is_delivery_condition() {
        return None;
    }
    Some(("delivery", vec![("service", labels.get("service")?.clone())]))
}

fn window(c: &Condition) -> TimeDelta {
    match c {
        Condition::ChangeFailureRate { window, .. } | Condition::LeadTime { window, .. } => span(*window),
        _ => TimeDelta::days(FAILED_LOOKBACK_DAYS),
    }
}

fn span(s: Span) -> TimeDelta {
    TimeDelta::seconds(s.as_secs() as i64)
}

async fn production(
    pool: &PgPool,
) -> sqlx::Result<(Vec<String>, Vec<crate::domain::settings::ChangeFailureCause>)> {
    let settings = db::settings::load(pool).await?;
    Ok((
        Production::new(settings.production_environments).like_patterns(),
        settings.change_failure_causes,
    ))
}

/// The services a rule watches now.
pub async fn groups(pool: &PgPool, rule: &RuleRow, now: DateTime<Utc>) -> sqlx::Result<Vec<Group>> {
    let c = &rule.spec.0.condition;
    let Ok(glob) = service_glob(c) else {
        return Ok(Vec::new());
    };
    let (patterns, _) = production(pool).await?;
    let recent: Vec<String> = sqlx::query_scalar(
        "select distinct service from deployments \
         where finished_at >= $1 and environment ilike any($2) and kind <> 'remove'",
    )
    .bind(now - window(c))
    .bind(&patterns)
    .fetch_all(pool)
    .await?;
    let open = db::incidents::open_groups(pool, rule.id)
        .await?
        .into_iter()
        .filter_map(|(_, labels)| labels.0.get("service").cloned());
    let services: BTreeSet<String> = recent
        .into_iter()
        .filter(|s| glob.as_ref().is_none_or(|g| g.is_match(s)))
        .chain(open)
        .collect();
    Ok(services.iter().map(|s| group(s)).collect())
}

/// Measures a delivery condition for one service at `now`.
pub async fn measure(pool: &PgPool, c: &Condition, g: &Group, now: DateTime<Utc>) -> sqlx::Result<Measure> {
    let Some(service) = g.labels.get("service") else {
        return Ok(Measure::good());
    };
    let (patterns, causes) = production(pool).await?;
    if let Condition::DeploymentFailed { .. } = c {
        return deployment_failed(pool, service, &patterns).await;
    }
    let from = now - window(c);
    let scope = Scope {
        service: Some(service.clone()),
        environment: None,
        production: patterns,
    };
    let input = db::deployments::dora_input(pool, &scope, from, now).await?;
    let mut m = Measure::good();
    match c {
        Condition::ChangeFailureRate {
            threshold,
            min_deployments,
            ..
        } => {
            let (rate, _, n) = dora::figure(&input, &causes, KeyKind::ChangeFailureRate, from, now);
            if let Some(rate) = rate {
                let percent = 100.0 * rate;
                m.value = Some(percent);
                m.value_text = Some(format!("{percent:.1}% of {n} deployments"));
                m.bad = n >= i64::from(*min_deployments) && percent >= *threshold;
            }
            m.threshold = Some(*threshold);
            m.threshold_text = Some(format!("{threshold}%"));
        }
        Condition::LeadTime { stat, threshold, .. } => {
            let (p50, p95, n) = dora::figure(&input, &causes, KeyKind::LeadTime, from, now);
            let value = match stat {
                Percentile::P50 => p50,
                Percentile::P95 => p95,
            };
            let limit = threshold.as_secs() as f64;
            if let Some(v) = value {
                m.value = Some(v);
                m.value_text = Some(format!(
                    "{} over {n} commits",
                    Span::from_secs(v.round().max(0.0) as u64)
                ));
                m.bad = v > limit;
            }
            m.threshold = Some(limit);
            m.threshold_text = Some(threshold.to_string());
        }
        _ => {}
    }
    Ok(m)
}

/// Bad when the service's latest finished production deployment failed.
async fn deployment_failed(pool: &PgPool, service: &str, patterns: &[String]) -> sqlx::Result<Measure> {
    let latest: Option<(String, String, String, Option<String>)> = sqlx::query_as(
        "select external_id, environment, status, run_id from deployments \
         where service = $1 and environment ilike any($2) and kind <> 'remove' and finished_at is not null \
             and status in ('success', 'inactive', 'failure', 'error') \
         order by finished_at desc, id desc limit 1",
    )
    .bind(service)
    .bind(patterns)
    .fetch_optional(pool)
    .await?;
    let mut m = Measure::good();
    if let Some((id, environment, status, run_id)) = latest {
        m.bad = matches!(status.as_str(), "failure" | "error");
        m.value_text = Some(format!("deployment {id} to {environment}: {status}"));
        if m.bad {
            // The notice's run: the one that made the deployment.
            m.runs = run_id.into_iter().collect();
        }
    }
    Ok(m)
}
