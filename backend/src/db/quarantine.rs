//! The `test_quarantine` table: tests that CI should skip or ignore, per repository. Every change
//! is written to the audit log in the same transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use sqlx::{PgConnection, PgExecutor};
use utoipa::ToSchema;

use super::audit::{self, Action};
use crate::domain::access::Principal;
use crate::domain::settings::AutoQuarantine;

/// The name the auto-quarantine rule writes in `created_by` and the audit log.
pub const AUTO: &str = "auto-quarantine";

/// A quarantined test.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
pub struct Quarantined {
    pub repo: String,
    pub test_id: i64,
    pub suite: String,
    pub classname: String,
    pub name: String,
    pub file: String,
    pub reason: Option<String>,
    /// The token that added it, or `auto-quarantine`.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// The quarantine of one repository (or of every one), by class and name.
pub async fn list(db: impl PgExecutor<'_>, repo: Option<&str>) -> sqlx::Result<Vec<Quarantined>> {
    sqlx::query_as(
        "select q.repo, q.test_id, n.suite, n.classname, n.name, n.file, q.reason, q.created_by, q.created_at \
         from test_quarantine q join test_names n on n.id = q.test_id \
         where $1::text is null or q.repo = $1 order by q.repo, n.classname, n.name, n.suite, n.file",
    )
    .bind(repo)
    .fetch_all(db)
    .await
}

/// Whether a test name exists.
pub async fn test_exists(db: impl PgExecutor<'_>, test_id: i64) -> sqlx::Result<bool> {
    sqlx::query_scalar("select exists (select 1 from test_names where id = $1)")
        .bind(test_id)
        .fetch_one(db)
        .await
}

/// Quarantines a test in a repository, by a caller or (`who` is `None`) by the auto-quarantine
/// rule; `false` when it already was (nothing changes).
pub async fn add(
    tx: &mut PgConnection,
    who: Option<Principal>,
    repo: &str,
    test_id: i64,
    reason: Option<&str>,
) -> sqlx::Result<bool> {
    let added = sqlx::query(
        "insert into test_quarantine (repo, test_id, reason, created_by) \
         values ($1, $2, $3, case when not $4 then $5 \
             else coalesce((select name from api_tokens where id = $6), 'bootstrap admin') end) \
         on conflict do nothing",
    )
    .bind(repo)
    .bind(test_id)
    .bind(reason)
    .bind(who.is_some())
    .bind(AUTO)
    .bind(who.and_then(|p| p.token_id))
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if added {
        let what = Action::new("test.quarantined", "test", test_id, repo).detail(json!({"reason": reason}));
        match who {
            Some(who) => audit::record(&mut *tx, Some(who), what).await?,
            None => audit::record_system(&mut *tx, AUTO, what).await?,
        }
    }
    Ok(added)
}

/// Takes a test out of a repository's quarantine; `false` when it was not in it.
pub async fn remove(
    tx: &mut PgConnection,
    who: Option<Principal>,
    repo: &str,
    test_id: i64,
) -> sqlx::Result<bool> {
    let removed = sqlx::query("delete from test_quarantine where repo = $1 and test_id = $2")
        .bind(repo)
        .bind(test_id)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    if removed {
        audit::record(&mut *tx, who, Action::new("test.released", "test", test_id, repo)).await?;
    }
    Ok(removed)
}

/// Applies the auto-quarantine rule to the tests of `repo` that just flaked: each one that flaked
/// on at least `rule.flakes` commits within `rule.days` days before `at` is quarantined.
pub async fn apply_rule(
    tx: &mut PgConnection,
    rule: AutoQuarantine,
    repo: &str,
    test_ids: &[i64],
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    if test_ids.is_empty() {
        return Ok(());
    }
    let due: Vec<(i64, i64)> = sqlx::query_as(
        "select f.test_id, count(*) from test_flakes f \
         where f.repo = $1 and f.test_id = any($2) and f.last_seen > $3 - make_interval(days => $4) \
             and not exists (select 1 from test_quarantine q where q.repo = f.repo and q.test_id = f.test_id) \
         group by f.test_id having count(*) >= $5 order by f.test_id",
    )
    .bind(repo)
    .bind(test_ids)
    .bind(at)
    .bind(rule.days)
    .bind(i64::from(rule.flakes))
    .fetch_all(&mut *tx)
    .await?;
    for (test_id, flakes) in due {
        let reason = format!("flaky on {flakes} commits within {} days", rule.days);
        if add(tx, None, repo, test_id, Some(&reason)).await? {
            tracing::info!(
                repo,
                test_id,
                flakes,
                "test quarantined by the auto-quarantine rule"
            );
        }
    }
    Ok(())
}
