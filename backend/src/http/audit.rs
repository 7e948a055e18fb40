//! `GET /api/audit`: the audit log of admin actions (admin), newest first, with keyset pagination.

use axum::extract::State;
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::Query;
use super::{AdminAuth, AppState};
use crate::db::audit::{self, AuditEntry, AuditFilter};
use crate::domain::limits::MAX_PAGE;
use crate::error::{ApiError, ApiResult, ErrorBody, FieldError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only this action, e.g. `token.revoked`.
    pub action: Option<String>,
    /// Only actions on this kind of target (`token`, `alert_rule`, `integration`, `webhook_source`,
    /// `incident`, `settings`).
    pub target_kind: Option<String>,
    /// Only actions on the target with this id (with `target_kind`).
    pub target_id: Option<String>,
    /// Only entries at or after this instant (RFC 3339).
    pub from: Option<DateTime<Utc>>,
    /// Only entries before this instant (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// Page size (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page (another string is a 400).
    #[param(min_length = 1, pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn encode_cursor(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("audit|{id}"))
}

fn decode_cursor(c: &str) -> Option<i64> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(c).ok()?).ok()?;
    raw.strip_prefix("audit|")?.parse().ok()
}

/// Admin actions, newest first: who (token name, `kubernetes operator` or `bootstrap admin`) did
/// what to which target, and when.
#[utoipa::path(get, path = "/audit", tag = "tokens", params(AuditParams),
    responses((status = 200, body = AuditPage), (status = 400, description = "Bad parameter or cursor", body = ErrorBody),
              (status = 422, description = "`limit` out of range", body = ErrorBody)),
    security(("bearer" = ["admin"])))]
async fn list(
    State(state): State<AppState>,
    _auth: AdminAuth,
    Query(q): Query<AuditParams>,
) -> ApiResult<Json<AuditPage>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        )]));
    }
    let before_id = match q.cursor.as_deref() {
        Some(c) => Some(
            decode_cursor(c)
                .ok_or_else(|| ApiError::BadRequest("cursor is not a cursor of this listing".into()))?,
        ),
        None => None,
    };
    let filter = AuditFilter {
        action: q.action,
        target_kind: q.target_kind,
        target_id: q.target_id,
        from: q.from,
        to: q.to,
        before_id,
    };
    let mut entries = audit::list(&state.pool, &filter, limit + 1).await?;
    let next_cursor = if entries.len() as i64 > limit {
        entries.truncate(limit as usize);
        entries.last().map(|e| encode_cursor(e.id))
    } else {
        None
    };
    Ok(Json(AuditPage { entries, next_cursor }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        assert_eq!(super::decode_cursor(&super::encode_cursor(42)), Some(42));
        assert_eq!(super::decode_cursor("bm9wZQ"), None);
        assert_eq!(super::decode_cursor("!!"), None);
    }
}
