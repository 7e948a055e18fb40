//! Queries on `github_compares`: which GitHub deployments the poller asks the compare API about,
//! and what each attempt came to.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool};

/// A successful GitHub deployment whose commits no push covered: only its own sha was linked.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Candidate {
    pub deployment_id: i64,
    /// Its repository, as stored.
    pub repo: String,
    /// The sha of the previous successful deployment of its service to its environment.
    pub base: String,
    /// Its own sha.
    pub head: String,
    /// Failed attempts so far.
    pub attempts: i32,
}

/// Up to `limit` deployments of `repo` (from GitHub, successful, with a previous successful one
/// of another sha) whose linked commits are their own sha alone, no push having brought that sha;
/// never asked about, or failed fewer than `max_attempts` times and due again. The latest first.
pub async fn candidates(
    pool: &PgPool,
    repo: &str,
    max_attempts: i32,
    limit: i64,
) -> sqlx::Result<Vec<Candidate>> {
    // Only hex shas: they go into the request's path.
    sqlx::query_as(
        "select d.id as deployment_id, d.repo, p.sha as base, d.sha as head, coalesce(g.attempts, 0) as attempts \
         from deployments d \
         cross join lateral (select p.sha from deployments p where p.service = d.service \
                 and p.environment = d.environment and p.status in ('success', 'inactive') \
                 and p.kind <> 'remove' and p.finished_at < d.finished_at \
             order by p.finished_at desc limit 1) p \
         left join github_compares g on g.deployment_id = d.id \
         where d.source = 'github' and lower(d.repo) = lower($1) \
             and d.status in ('success', 'inactive') and d.kind <> 'remove' and d.finished_at is not null \
             and d.sha ~ '^[0-9a-fA-F]{7,64}$' and p.sha ~ '^[0-9a-fA-F]{7,64}$' and p.sha <> d.sha \
             and (g.deployment_id is null \
                 or (g.outcome = 'failed' and g.attempts < $2 and coalesce(g.not_before, '-infinity') <= now())) \
             and exists (select 1 from deployment_commits c where c.deployment_id = d.id \
                 and c.sha = d.sha and not c.listed) \
             and not exists (select 1 from deployment_commits c where c.deployment_id = d.id \
                 and (c.listed or c.sha <> d.sha)) \
             and not exists (select 1 from pushes u where u.repo = d.repo and u.after = d.sha) \
         order by d.finished_at desc limit $3",
    )
    .bind(repo)
    .bind(max_attempts)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// What asking about a deployment came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Its commits were recorded (this many).
    Filled(i32),
    /// GitHub does not know the shas (or no path joins them): not asked again.
    Unknown,
    /// Failed: asked again after `not_before`.
    Failed { not_before: DateTime<Utc> },
}

/// Saves the outcome of an attempt for `c` (a failure counts one more attempt).
pub async fn save(
    db: impl PgExecutor<'_>,
    c: &Candidate,
    outcome: Outcome,
    error: Option<&str>,
) -> sqlx::Result<()> {
    let (name, commits, not_before) = match outcome {
        Outcome::Filled(n) => ("filled", n, None),
        Outcome::Unknown => ("unknown", 0, None),
        Outcome::Failed { not_before } => ("failed", 0, Some(not_before)),
    };
    sqlx::query(
        "insert into github_compares as g (deployment_id, base, head, outcome, commits, attempts, \
             not_before, error) \
         values ($1, $2, $3, $4, $5, $6, $7, $8) \
         on conflict (deployment_id) do update set base = excluded.base, head = excluded.head, \
             outcome = excluded.outcome, commits = excluded.commits, attempts = excluded.attempts, \
             not_before = excluded.not_before, error = excluded.error, updated_at = now()",
    )
    .bind(c.deployment_id)
    .bind(&c.base)
    .bind(&c.head)
    .bind(name)
    .bind(commits)
    .bind(c.attempts + i32::from(name == "failed"))
    .bind(not_before)
    .bind(error)
    .execute(db)
    .await
    .map(drop)
}
