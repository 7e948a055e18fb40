//! `GET /api/alerts` (incidents), `POST /api/alerts/{id}/ack`, `POST /api/alerts/{id}/mute` and
//! `POST /api/alerts/test` (the seed's endpoint).

use std::collections::BTreeMap;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use cicd_monitor_crds::Severity;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Json as JsonBody, Path, Query};
use super::{AdminAuth, AppState, ReadAuth};
use crate::alerting::{Delivery, Notice, NoticeKind};
use crate::db::audit::{self, Action};
use crate::db::incidents::{self, Incident};
use crate::db::integrations;
use crate::error::{ApiError, ApiResult, ErrorBody, FieldError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(ack))
        .routes(routes!(mute))
        .routes(routes!(test))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    /// Which incidents (default `active`).
    #[param(inline)]
    pub state: Option<StateFilter>,
    pub rule_id: Option<i64>,
    /// At most this many, newest first (default 100, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

/// The incident states `GET /api/alerts` lists.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StateFilter {
    /// Pending and firing.
    #[default]
    Active,
    Firing,
    Pending,
    Resolved,
    /// Every state.
    All,
}

impl StateFilter {
    fn states(self) -> &'static [&'static str] {
        match self {
            StateFilter::Active => &["pending", "firing"],
            StateFilter::Firing => &["firing"],
            StateFilter::Pending => &["pending"],
            StateFilter::Resolved => &["resolved"],
            StateFilter::All => &["pending", "firing", "resolved"],
        }
    }
}

/// Incidents, active first then recent.
#[utoipa::path(get, path = "/alerts", tag = "alerting", params(AlertQuery),
    responses((status = 200, body = Vec<Incident>), (status = 422, body = ErrorBody)),
    security((), ("bearer" = ["read"])))]
async fn list(
    State(state): State<AppState>,
    _auth: ReadAuth,
    Query(q): Query<AlertQuery>,
) -> ApiResult<Json<Vec<Incident>>> {
    let states = q.state.unwrap_or_default().states();
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "limit",
            "must be between 1 and 500",
        )]));
    }
    Ok(Json(
        incidents::list(&state.pool, states, q.rule_id, limit).await?,
    ))
}

async fn one(db: impl sqlx::PgExecutor<'_>, id: i64) -> ApiResult<Incident> {
    incidents::get(db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no incident with id {id}")))
}

/// Acknowledge an incident: no more repeats while it keeps firing (resolution is still notified).
#[utoipa::path(post, path = "/alerts/{id}/ack", tag = "alerting", params(("id" = i64, Path)),
    responses((status = 200, body = Incident),
              (status = 404, body = ErrorBody)),
    security(("bearer" = ["admin"])))]
async fn ack(
    State(state): State<AppState>,
    AdminAuth(who): AdminAuth,
    Path(id): Path<i64>,
) -> ApiResult<Json<Incident>> {
    let mut tx = state.pool.begin().await?;
    let acked = incidents::acknowledge(&mut tx, id).await?;
    let incident = one(&mut *tx, id).await?;
    if acked {
        audit::record(&mut *tx, who, audited("incident.acknowledged", &incident, None)).await?;
    }
    tx.commit().await?;
    Ok(Json(incident))
}

/// The audit record of an acknowledgement or a mute.
fn audited<'a>(action: &'a str, incident: &'a Incident, until: Option<DateTime<Utc>>) -> Action<'a> {
    let mut detail = serde_json::json!({"rule_id": incident.rule_id, "labels": incident.labels.0});
    if let Some(until) = until {
        detail["muted_until"] = until.to_rfc3339().into();
    }
    Action::new(action, "incident", incident.id, &incident.rule_name).detail(detail)
}

/// A mute's body: `until` an instant or `for` a while, exactly one of them (its schema says so).
#[derive(Debug, Deserialize)]
pub struct MuteBody {
    pub until: Option<DateTime<Utc>>,
    #[serde(rename = "for")]
    pub duration: Option<String>,
}

/// What `for` may be: up to four parts of up to four digits and a unit (`30m`, `4h`, `1d12h`), so
/// the end of a mute is always a representable instant (at most about a century away).
const MUTE_FOR_PATTERN: &str = "^([0-9]{1,4}[smhd]){1,4}$";

/// How long `for` says, when it matches [`MUTE_FOR_PATTERN`].
fn mute_for(text: &str) -> Option<chrono::TimeDelta> {
    let (mut secs, mut parts, mut digits, mut n) = (0i64, 0, 0, 0i64);
    for c in text.chars() {
        match c {
            '0'..='9' if digits < 4 => {
                digits += 1;
                n = n * 10 + i64::from(c as u8 - b'0');
            }
            's' | 'm' | 'h' | 'd' if digits > 0 && parts < 4 => {
                let unit = match c {
                    's' => 1,
                    'm' => 60,
                    'h' => 3600,
                    _ => 86_400,
                };
                secs += n * unit;
                (parts, digits, n) = (parts + 1, 0, 0);
            }
            _ => return None,
        }
    }
    (parts > 0 && digits == 0).then(|| chrono::TimeDelta::seconds(secs))
}

impl ToSchema for MuteBody {}

/// One branch with `until`, one with `for`.
impl utoipa::PartialSchema for MuteBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        mute_body_schema().into()
    }
}

fn mute_body_schema() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{KnownFormat, SchemaFormat};
    use utoipa::openapi::{ObjectBuilder, OneOfBuilder, Type};
    let branch = |given: &str, other: &str, schema: ObjectBuilder| {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(given, schema)
            .property(other, ObjectBuilder::new().schema_type(Type::Null))
            .required(given)
    };
    let until = ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        .description(Some("Mute until this instant."));
    let duration = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(MUTE_FOR_PATTERN))
        .description(Some("Mute for this long from now: `30m`, `4h`, `1d12h`."));
    OneOfBuilder::new()
        .description(Some("Exactly one of `until` and `for`."))
        .item(branch("until", "for", until))
        .item(branch("for", "until", duration))
        .build()
        .into()
}

/// Mute an incident until a time: nothing is sent for it until then.
#[utoipa::path(post, path = "/alerts/{id}/mute", tag = "alerting", params(("id" = i64, Path)), request_body = MuteBody,
    responses((status = 200, body = Incident),
              (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = ["admin"])))]
async fn mute(
    State(state): State<AppState>,
    AdminAuth(who): AdminAuth,
    Path(id): Path<i64>,
    JsonBody(body): JsonBody<MuteBody>,
) -> ApiResult<Json<Incident>> {
    let until = match (body.until, body.duration) {
        (Some(t), None) => t,
        (None, Some(d)) => match mute_for(&d) {
            Some(d) => Utc::now() + d,
            None => {
                return Err(ApiError::Validation(vec![FieldError::new(
                    "for",
                    "must be like 30m, 4h or 1d12h (up to four parts of up to four digits)",
                )]));
            }
        },
        _ => {
            return Err(ApiError::Validation(vec![FieldError::new(
                "until",
                "give either until or for",
            )]));
        }
    };
    let mut tx = state.pool.begin().await?;
    let muted = incidents::mute(&mut tx, id, until).await?;
    let incident = one(&mut *tx, id).await?;
    if muted {
        audit::record(&mut *tx, who, audited("incident.muted", &incident, Some(until))).await?;
    }
    tx.commit().await?;
    Ok(Json(incident))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TestBody {
    /// The integration to test; all of them when absent.
    pub integration: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestResult {
    pub integration: String,
    /// `sent`, `retry` (the receiver asked to try later) or `failed`.
    pub outcome: &'static str,
    pub error: Option<String>,
}

/// Send a test message through one or every integration, now, and report each result.
#[utoipa::path(post, path = "/alerts/test", tag = "alerting", request_body = TestBody,
    responses((status = 200, body = Vec<TestResult>),
              (status = 404, body = ErrorBody), (status = 422, description = "A field of the body has the wrong type", body = ErrorBody)),
    security(("bearer" = ["admin"])))]
async fn test(
    State(state): State<AppState>,
    _auth: AdminAuth,
    JsonBody(body): JsonBody<TestBody>,
) -> ApiResult<Json<Vec<TestResult>>> {
    let rows = match &body.integration {
        Some(name) => integrations::by_names(&state.pool, std::slice::from_ref(name)).await?,
        None => integrations::list(&state.pool).await?,
    };
    if rows.is_empty() {
        return Err(ApiError::NotFound(match body.integration {
            Some(name) => format!("no integration named {name:?}"),
            None => "no integration is configured".into(),
        }));
    }
    let notice = Notice {
        kind: NoticeKind::Test,
        rule_id: None,
        rule_name: "test".into(),
        severity: Severity::Info,
        summary: None,
        runbook_url: None,
        condition: "test".into(),
        labels: BTreeMap::new(),
        value: None,
        threshold: None,
        incident_id: None,
        started_at: Utc::now(),
        resolved_at: None,
        run_id: None,
        run_url: None,
        dashboard_url: state.info.public_url.clone(),
        environment: state.info.environment.clone(),
    };
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let result = match state.outbox.target(&row) {
            Some(t) => state.outbox.send(&row, &t, &notice).await,
            None => Delivery::Permanent {
                reason: "the integration's secrets cannot be opened".into(),
            },
        };
        // A test is sent once: one that would be retried has failed.
        let (outcome, counted, error) = match result {
            Delivery::Sent => ("sent", "sent", None),
            Delivery::Retry { reason, .. } => ("retry", "failed", Some(reason)),
            Delivery::Permanent { reason } => ("failed", "failed", Some(reason)),
        };
        state
            .outbox
            .count(&row.kind, NoticeKind::Test, counted, error.as_deref());
        out.push(TestResult {
            integration: row.name,
            outcome,
            error,
        });
    }
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::mute_for;

    #[test]
    fn a_mute_lasts_what_for_says_within_its_pattern() {
        assert_eq!(mute_for("30m").unwrap().num_seconds(), 1800);
        assert_eq!(mute_for("1d12h").unwrap().num_seconds(), 129_600);
        assert_eq!(mute_for("9999d9999d9999d9999d").unwrap().num_days(), 39_996);
        for refused in [
            "",
            "m",
            "30",
            "30x",
            "10000d",
            "1s1s1s1s1s",
            "1 hour",
            "-1h",
            "1.5h",
        ] {
            assert_eq!(mute_for(refused), None, "{refused:?}");
        }
    }
}
