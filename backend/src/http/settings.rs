//! `GET /api/settings` and `PUT /api/settings`: runtime policy (retention and similar).

use axum::extract::State;
use axum::Json;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::extract::Json as JsonBody;
use super::{AdminAuth, AppState, ReadAuth};
use crate::db;
use crate::db::audit::Action;
use crate::domain::settings::Settings;
use crate::error::{ApiError, ApiResult, ErrorBody};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_settings, replace))
}

/// The runtime settings.
#[utoipa::path(get, path = "/settings", tag = "settings",
    responses((status = 200, body = Settings)),
    security((), ("bearer" = ["read"])))]
async fn get_settings(State(state): State<AppState>, _auth: ReadAuth) -> ApiResult<Json<Settings>> {
    Ok(Json(db::settings::load(&state.pool).await?))
}

/// Replace the runtime settings: every setting must be given, and no other key (each problem is a
/// 422 naming the field; nothing is stored then).
#[utoipa::path(put, path = "/settings", tag = "settings", request_body = Settings,
    responses((status = 200, body = Settings), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = ["admin"])))]
async fn replace(
    State(state): State<AppState>,
    AdminAuth(who): AdminAuth,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Settings>> {
    let settings = Settings::parse(&body).map_err(ApiError::Validation)?;
    let mut tx = state.pool.begin().await?;
    let before = db::settings::load(&mut *tx).await?;
    db::settings::save(&mut *tx, &settings).await?;
    let what = Action {
        action: "settings.changed",
        target_kind: "settings",
        target_id: None,
        target_name: None,
        detail: serde_json::json!({"before": before, "after": settings}),
    };
    db::audit::record(&mut *tx, who, what).await?;
    tx.commit().await?;
    tracing::info!(
        retention_days = settings.retention_days,
        rollup_retention_days = settings.rollup_retention_days,
        "settings changed"
    );
    Ok(Json(settings))
}
