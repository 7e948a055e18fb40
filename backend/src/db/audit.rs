//! The `audit_log` table: who changed what, written in the transaction of the change.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgExecutor};
use utoipa::ToSchema;

use crate::domain::access::Principal;

/// One admin action.
#[derive(Debug, Clone, FromRow, Serialize, ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The token's name, `kubernetes operator` (a token with the operator scope), `bootstrap admin`,
    /// or the rule that acted (`auto-quarantine`, scope `system`).
    #[schema(example = "ci-admin")]
    pub actor: String,
    /// The token's id; absent for the bootstrap admin token.
    pub actor_token_id: Option<i64>,
    #[schema(example = "admin")]
    pub actor_scope: String,
    /// `<kind>.<verb>`: `token.created`, `token.revoked`, `alert_rule.created|updated|deleted`,
    /// `integration.created|updated|deleted`, `webhook_source.created|deleted`,
    /// `incident.acknowledged|muted`, `settings.changed`, `test.quarantined|released`.
    #[schema(example = "alert_rule.created")]
    pub action: String,
    /// `token`, `alert_rule`, `integration`, `webhook_source`, `incident`, `settings` or `test`
    /// (its id is the test's id, its name the repository).
    #[schema(example = "alert_rule")]
    pub target_kind: String,
    pub target_id: Option<String>,
    pub target_name: Option<String>,
    /// A few facts about the change (scope, type, source, new values); never a secret.
    #[schema(value_type = Object)]
    pub detail: Value,
}

/// What was done to what.
pub struct Action<'a> {
    pub action: &'a str,
    pub target_kind: &'a str,
    pub target_id: Option<String>,
    pub target_name: Option<&'a str>,
    pub detail: Value,
}

impl<'a> Action<'a> {
    pub fn new(
        action: &'a str,
        target_kind: &'a str,
        target_id: impl ToString,
        target_name: &'a str,
    ) -> Self {
        Action {
            action,
            target_kind,
            target_id: Some(target_id.to_string()),
            target_name: Some(target_name),
            detail: Value::Object(Default::default()),
        }
    }

    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
}

/// Records an action by `who` (`None` cannot happen on admin routes; it is recorded as `anonymous`).
pub async fn record(db: impl PgExecutor<'_>, who: Option<Principal>, what: Action<'_>) -> sqlx::Result<()> {
    let (token_id, scope) = match who {
        Some(p) => (p.token_id, p.scope.as_str()),
        None => (None, "none"),
    };
    sqlx::query!(
        "insert into audit_log (actor, actor_token_id, actor_scope, action, target_kind, target_id, \
             target_name, detail) \
         values (case when $3 = 'operator' then 'kubernetes operator' \
                      when $2::bigint is null and $3 = 'admin' then 'bootstrap admin' \
                      else coalesce((select name from api_tokens where id = $2), 'anonymous') end, \
                 $2, $3, $1, $4, $5, $6, $7)",
        what.action,
        token_id,
        scope,
        what.target_kind,
        what.target_id,
        what.target_name,
        what.detail,
    )
    .execute(db)
    .await
    .map(drop)
}

/// Records an action taken by the backend itself under a rule (`actor` names the rule; the scope
/// is `system`).
pub async fn record_system(db: impl PgExecutor<'_>, actor: &str, what: Action<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "insert into audit_log (actor, actor_scope, action, target_kind, target_id, target_name, detail) \
         values ($1, 'system', $2, $3, $4, $5, $6)",
    )
    .bind(actor)
    .bind(what.action)
    .bind(what.target_kind)
    .bind(what.target_id)
    .bind(what.target_name)
    .bind(what.detail)
    .execute(db)
    .await
    .map(drop)
}

/// Filters of the listing.
#[derive(Debug, Default)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Only entries older than this id (the keyset cursor).
    pub before_id: Option<i64>,
}

/// Newest first, at most `limit` entries.
pub async fn list(db: impl PgExecutor<'_>, f: &AuditFilter, limit: i64) -> sqlx::Result<Vec<AuditEntry>> {
    sqlx::query_as!(
        AuditEntry,
        "select id, at, actor, actor_token_id, actor_scope, action, target_kind, target_id, target_name, detail \
         from audit_log \
         where ($1::text is null or action = $1) and ($2::text is null or target_kind = $2) \
           and ($3::text is null or target_id = $3) and ($4::timestamptz is null or at >= $4) \
           and ($5::timestamptz is null or at < $5) and ($6::bigint is null or id < $6) \
         order by id desc limit $7",
        f.action.as_deref(),
        f.target_kind.as_deref(),
        f.target_id.as_deref(),
        f.from,
        f.to,
        f.before_id,
        limit,
    )
    .fetch_all(db)
    .await
}
