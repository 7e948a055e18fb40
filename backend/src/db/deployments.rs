//! Deployments, pushes, commits and incidents in production (`deployments`, `deployment_keys`,
//! `deployment_statuses`, `pushes`, `commits`, `deployment_commits`, `incidents`).
//!
//! Everything here is written so that the order events arrive in does not matter:
//! - a deployment's status is folded from every status it reported;
//! - a successful deployment's commits are those since the previous successful deployment of its
//!   service to its environment, and each commit counts once, at the first deployment that shipped
//!   it there; when a deployment succeeds, or a push arrives, the links of the deployments
//!   concerned are computed again;
//! - an incident names its deployment by the id it has at its source, and is linked whenever that
//!   deployment is recorded; an incident that names none is linked to the last successful
//!   deployment of its service before it started (`inferred`), recomputed when an earlier one
//!   arrives late;
//! - a deployment that names an artifact and no commit ships the commit the artifact was built
//!   from, whether the artifact arrives before it or after;
//! - a deployment that names an environment by an id its source announced is recorded under the
//!   environment's name, and those recorded under the id (or an old name) before are renamed.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::delivery::{
    ArtifactEvent, Batch, CommitEvent, DeploymentEvent, EnvironmentEvent, IncidentEvent, PushEvent,
};

/// The `stage` of a stored status, in SQL (see `DeploymentStatus::stage`).
const STAGE: &str = "case status when 'queued' then 0 when 'in_progress' then 1 \
     when 'inactive' then 3 else 2 end";

/// Most commits one walk back through pushes collects (a deployment after months without one).
const MAX_WALK: i32 = 10_000;

/// What recording a deployment status (or an incident) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded {
    pub id: i64,
    /// It was new.
    pub created: bool,
}

/// Records one status of a deployment (in the caller's transaction): its key, the status, the
/// deployment's folded state, the commits it lists; then links its commits and incidents.
pub async fn record(conn: &mut PgConnection, ev: &DeploymentEvent) -> sqlx::Result<Recorded> {
    // The commit its artifact was built from, when it names no commit.
    let built: Option<(Option<String>, String)> = match (&ev.sha, &ev.artifact) {
        (None, Some(artifact)) => {
            sqlx::query_as("select repo, sha from artifacts where id = $1 and sha is not null")
                .bind(artifact)
                .fetch_optional(&mut *conn)
                .await?
        }
        _ => None,
    };
    let (built_repo, built_sha) = built.unzip();
    let sha = ev.sha.as_ref().or(built_sha.as_ref());
    let repo = ev.repo.as_ref().or(built_repo.flatten().as_ref()).cloned();
    // A new key is a new deployment (`deployments` is partitioned: its rows have no `xmax` to
    // tell).
    let created = sqlx::query(
        "insert into deployment_keys (source, external_id, deployment_id) \
         values ($1, $2, deployment_id()) on conflict do nothing",
    )
    .bind(&ev.source)
    .bind(&ev.external_id)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    let id: i64 = sqlx::query_scalar(
        "select deployment_id from deployment_keys where source = $1 and external_id = $2 for update",
    )
    .bind(&ev.source)
    .bind(&ev.external_id)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "insert into deployment_statuses (deployment_id, status, at, description) \
         values ($1, $2, $3, $4) on conflict do nothing",
    )
    .bind(id)
    .bind(ev.status.as_str())
    .bind(ev.at)
    .bind(&ev.description)
    .execute(&mut *conn)
    .await?;
    // Fields an event does not carry keep what earlier ones said; the status, its time and the
    // creation time are folded from the whole history. An environment its source announced is
    // recorded under its name.
    sqlx::query(&format!(
        "with h as (select status, at, {STAGE} as stage from deployment_statuses where deployment_id = $1), \
             latest as (select status from h order by at desc, stage desc limit 1), \
             folded as (select (select status from latest) as status, \
                 max(at) filter (where stage = 2) as finished_at, min(at) as first_at from h) \
         insert into deployments as d (id, source, external_id, repo, service, environment, sha, ref, \
             creator, run_id, artifact, kind, status, created_at, finished_at, url, description) \
         select $1, $2, $3, $4, $5, \
             coalesce((select name from environments where source = $2 and external_id = $6), $6), \
             $7, $8, $9, $10, $11, $12, f.status, least($13, f.first_at), f.finished_at, $14, $15 \
         from folded f \
         on conflict (id) do update set \
             repo = coalesce(excluded.repo, d.repo), service = excluded.service, \
             environment = excluded.environment, sha = coalesce(excluded.sha, d.sha), \
             ref = coalesce(excluded.ref, d.ref), creator = coalesce(excluded.creator, d.creator), \
             run_id = coalesce(excluded.run_id, d.run_id), artifact = coalesce(excluded.artifact, d.artifact), \
             kind = case when excluded.kind = 'deploy' then d.kind else excluded.kind end, \
             status = excluded.status, created_at = least(d.created_at, excluded.created_at), \
             finished_at = excluded.finished_at, url = coalesce(excluded.url, d.url), \
             description = coalesce(excluded.description, d.description), updated_at = now()"
    ))
    .bind(id)
    .bind(&ev.source)
    .bind(&ev.external_id)
    .bind(&repo)
    .bind(&ev.service)
    .bind(&ev.environment)
    .bind(sha)
    .bind(&ev.git_ref)
    .bind(&ev.creator)
    .bind(&ev.run_id)
    .bind(&ev.artifact)
    .bind(ev.kind.as_str())
    .bind(ev.created_at.unwrap_or(ev.at))
    .bind(&ev.url)
    .bind(&ev.description)
    .execute(&mut *conn)
    .await?;
    let repo = repo.as_deref().unwrap_or(&ev.service);
    if !ev.commits.is_empty() {
        save_commits(conn, repo, &ev.commits, None).await?;
        sqlx::query(
            "insert into deployment_commits (deployment_id, repo, sha, listed) \
             select $1, $2, s, true from unnest($3::text[]) s \
             on conflict (deployment_id, repo, sha) do update set listed = true",
        )
        .bind(id)
        .bind(repo)
        .bind(ev.commits.iter().map(|c| c.sha.as_str()).collect::<Vec<_>>())
        .execute(&mut *conn)
        .await?;
    }
    relink_around(conn, id).await?;
    // Incidents that named this deployment before it arrived.
    sqlx::query(
        "update incidents set deployment_id = $1, link = 'named', updated_at = now() \
         where source = $2 and named_deployment = $3 and deployment_id is distinct from $1",
    )
    .bind(id)
    .bind(&ev.source)
    .bind(&ev.external_id)
    .execute(&mut *conn)
    .await?;
    Ok(Recorded { id, created })
}

/// Stores commits (their times as far as known), as pushed in `pushed_in` if given.
async fn save_commits(
    conn: &mut PgConnection,
    repo: &str,
    commits: &[CommitEvent],
    pushed_in: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into commits as c (repo, sha, committed_at, merged_at, pushed_in) \
         select $1, u.sha, u.committed_at, u.merged_at, $5 \
         from unnest($2::text[], $3::timestamptz[], $4::timestamptz[]) as u(sha, committed_at, merged_at) \
         order by u.sha \
         on conflict (repo, sha) do update set \
             committed_at = coalesce(c.committed_at, excluded.committed_at), \
             merged_at = least(c.merged_at, excluded.merged_at), \
             pushed_in = coalesce(c.pushed_in, excluded.pushed_in)",
    )
    .bind(repo)
    .bind(commits.iter().map(|c| c.sha.as_str()).collect::<Vec<_>>())
    .bind(commits.iter().map(|c| c.committed_at).collect::<Vec<_>>())
    .bind(commits.iter().map(|c| c.merged_at).collect::<Vec<_>>())
    .bind(pushed_in)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records a push (or a merge): its commits, and the links of the successful deployments whose
/// commit it brought.
pub async fn record_push(conn: &mut PgConnection, push: &PushEvent) -> sqlx::Result<()> {
    sqlx::query(
        "insert into pushes (repo, ref, before, after, pushed_at) values ($1, $2, $3, $4, $5) \
         on conflict do nothing",
    )
    .bind(&push.repo)
    .bind(&push.git_ref)
    .bind(&push.before)
    .bind(&push.after)
    .bind(push.pushed_at)
    .execute(&mut *conn)
    .await?;
    if let Some(branch) = &push.default_branch {
        sqlx::query(
            "insert into repositories as r (repo, default_branch) values ($1, $2) \
             on conflict (repo) do update set default_branch = excluded.default_branch, updated_at = now() \
             where r.default_branch <> excluded.default_branch",
        )
        .bind(&push.repo)
        .bind(branch)
        .execute(&mut *conn)
        .await?;
    }
    let commits: Vec<CommitEvent> = push
        .commits
        .iter()
        .map(|c| CommitEvent {
            merged_at: c.merged_at.or(Some(push.pushed_at)),
            ..c.clone()
        })
        .collect();
    save_commits(conn, &push.repo, &commits, Some(&push.after)).await?;
    let deployed: Vec<i64> = sqlx::query_scalar(
        "select id from deployments where coalesce(repo, service) = $1 and sha = $2 and status in ('success', 'inactive')",
    )
    .bind(&push.repo)
    .bind(&push.after)
    .fetch_all(&mut *conn)
    .await?;
    relink_all(conn, deployed).await
}

/// Links the commits of deployment `id` and of the next successful deployment of its service to
/// its environment (whose share depends on this one), and the inferred incidents after it.
async fn relink_around(conn: &mut PgConnection, id: i64) -> sqlx::Result<()> {
    let next: Option<i64> = sqlx::query_scalar(
        "select n.id from deployments d join deployments n on n.service = d.service \
             and n.environment = d.environment and n.finished_at > d.finished_at \
             and n.status in ('success', 'inactive') and n.kind <> 'remove' \
         where d.id = $1 and d.status in ('success', 'inactive') \
         order by n.finished_at limit 1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    link_commits(conn, id).await?;
    if let Some(next) = next {
        link_commits(conn, next).await?;
    }
    // Incidents linked by inference to an earlier deployment than this one, which started after it.
    sqlx::query(
        "update incidents i set deployment_id = d.id, updated_at = now() \
         from deployments d \
         where d.id = $1 and d.status in ('success', 'inactive') and i.link = 'inferred' \
             and i.service = d.service and i.started_at >= d.finished_at \
             and (i.environment is null or i.environment = d.environment) \
             and i.deployment_id is distinct from d.id \
             and not exists (select 1 from deployments o where o.service = d.service \
                 and o.environment = d.environment and o.status in ('success', 'inactive') \
                 and o.finished_at > d.finished_at and o.finished_at <= i.started_at)",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Computes again the commits deployment `id` shipped, once it succeeded, with their lead time:
/// those it listed; or else those of the pushes walked back from its sha to the previous
/// successful deployment's (its own sha alone when no push is known), less those an earlier
/// deployment to the same environment shipped.
async fn link_commits(conn: &mut PgConnection, id: i64) -> sqlx::Result<()> {
    type Linked = (String, Option<String>, Option<DateTime<Utc>>, bool);
    let row: Option<Linked> = sqlx::query_as(
        "select coalesce(repo, service), sha, finished_at, \
             exists (select 1 from deployment_commits c where c.deployment_id = d.id and c.listed) \
         from deployments d where id = $1 and status in ('success', 'inactive') and kind <> 'remove'",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((repo, sha, Some(finished_at), listed)) = row else {
        return Ok(());
    };
    if listed {
        sqlx::query(
            "update deployment_commits c set lead_seconds = \
                 extract(epoch from $2 - coalesce(k.committed_at, k.merged_at))::float8 \
             from commits k where c.deployment_id = $1 and k.repo = c.repo and k.sha = c.sha",
        )
        .bind(id)
        .bind(finished_at)
        .execute(&mut *conn)
        .await?;
    } else if let Some(sha) = sha {
        link_walked(conn, id, &repo, &sha, finished_at).await?;
    }
    // The lead times, sorted, on the deployment itself: the DORA keys read only deployments.
    sqlx::query(
        "update deployments d set leads = (select string_agg(float8send(c.lead_seconds), ''::bytea \
                 order by c.lead_seconds) \
             from deployment_commits c where c.deployment_id = d.id and c.lead_seconds is not null) \
         where d.id = $1",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Links the commits of the pushes walked back from `sha` (see [`link_commits`]).
async fn link_walked(
    conn: &mut PgConnection,
    id: i64,
    repo: &str,
    sha: &str,
    finished_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "with d as (select * from deployments where id = $1), \
         prev as (select p.sha from deployments p, d where p.service = d.service \
                 and p.environment = d.environment and p.status in ('success', 'inactive') \
                 and p.kind <> 'remove' and p.finished_at < d.finished_at \
             order by p.finished_at desc limit 1), \
         walk as (select sha from ( \
             with recursive w(sha, depth) as ( \
                 select $3::text, 0 \
                 union all \
                 select p.before, w.depth + 1 from w \
                 cross join lateral (select before from pushes where repo = $2 and after = w.sha \
                     order by pushed_at limit 1) p \
                 where w.depth < $5 and p.before is not null \
                     and w.sha is distinct from (select sha from prev)) \
             select sha from w) s where sha is distinct from (select sha from prev)), \
         pushed as (select c.sha from commits c where c.repo = $2 and c.pushed_in in (select sha from walk)), \
         found as (select sha from pushed union select $3 where not exists (select 1 from pushed)), \
         shipped_before as (select c.sha from deployment_commits c \
             join deployments e on e.id = c.deployment_id, d \
             where c.repo = $2 and e.service = d.service and e.environment = d.environment \
                 and e.finished_at < d.finished_at), \
         keep as (select sha from found except select sha from shipped_before), \
         gone as (delete from deployment_commits c where c.deployment_id = $1 \
             and c.sha not in (select sha from keep)) \
         insert into deployment_commits (deployment_id, repo, sha, lead_seconds) \
         select $1, $2, k.sha, extract(epoch from $4 - coalesce(c.committed_at, c.merged_at))::float8 \
         from keep k left join commits c on c.repo = $2 and c.sha = k.sha \
         on conflict (deployment_id, repo, sha) do update set lead_seconds = excluded.lead_seconds",
    )
    .bind(id)
    .bind(repo)
    .bind(sha)
    .bind(finished_at)
    .bind(MAX_WALK)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Records an incident (opened, or updated), linked to the deployment it names, or the one it
/// follows.
pub async fn record_incident(conn: &mut PgConnection, ev: &IncidentEvent) -> sqlx::Result<Recorded> {
    let environment: Option<String> = match &ev.environment {
        Some(id) => Some(
            sqlx::query_scalar(
                "select coalesce((select name from environments where source = $1 and external_id = $2), $2)",
            )
            .bind(&ev.source)
            .bind(id)
            .fetch_one(&mut *conn)
            .await?,
        ),
        None => None,
    };
    let (id, created) = sqlx::query_as(
        "with named as ( \
             select k.deployment_id as id from deployment_keys k where k.source = $1 and k.external_id = $5 \
             union all \
             select d.id from deployments d where $5::text is null and $6::text is not null and d.artifact = $6 \
                 and ($4::text is null or d.environment = $4) and d.created_at <= $9 \
             order by 1 desc limit 1), \
         inferred as ( \
             select d.id from deployments d where $5::text is null and $6::text is null \
                 and d.service = $3 and ($4::text is null or d.environment = $4) \
                 and d.status in ('success', 'inactive') and d.kind <> 'remove' and d.finished_at <= $9 \
             order by d.finished_at desc limit 1) \
         insert into incidents as i (source, external_id, service, environment, named_deployment, artifact, \
             title, url, started_at, resolved_at, deployment_id, link) \
         select $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, coalesce((select id from named), (select id from inferred)), \
             case when (select id from named) is not null then 'named' \
                 when (select id from inferred) is not null then 'inferred' end \
         on conflict (source, external_id) do update set service = excluded.service, \
             environment = coalesce(excluded.environment, i.environment), \
             named_deployment = coalesce(excluded.named_deployment, i.named_deployment), \
             artifact = coalesce(excluded.artifact, i.artifact), title = coalesce(excluded.title, i.title), \
             url = coalesce(excluded.url, i.url), started_at = least(i.started_at, excluded.started_at), \
             resolved_at = coalesce(excluded.resolved_at, i.resolved_at), \
             deployment_id = coalesce(excluded.deployment_id, i.deployment_id), \
             link = coalesce(excluded.link, i.link), updated_at = now() \
         returning id, xmax = 0",
    )
    .bind(&ev.source)
    .bind(&ev.external_id)
    .bind(&ev.service)
    .bind(&environment)
    .bind(&ev.deployment)
    .bind(&ev.artifact)
    .bind(&ev.title)
    .bind(&ev.url)
    .bind(ev.started_at)
    .bind(ev.resolved_at)
    .fetch_one(conn)
    .await?;
    Ok(Recorded { id, created })
}

/// Records an environment a source announced, and renames the deployments and incidents of that
/// source recorded under its id or its former name (their commits linked again, as the
/// deployments before each may have changed).
pub async fn record_environment(conn: &mut PgConnection, ev: &EnvironmentEvent) -> sqlx::Result<()> {
    let before: Option<String> =
        sqlx::query_scalar("select name from environments where source = $1 and external_id = $2 for update")
            .bind(&ev.source)
            .bind(&ev.external_id)
            .fetch_optional(&mut *conn)
            .await?;
    let name: Option<String> = sqlx::query_scalar(
        "insert into environments as e (source, external_id, name, url, deleted_at, changed_at) \
         values ($1, $2, coalesce($3, $2), $4, case when $5 then $6 end, $6) \
         on conflict (source, external_id) do update set name = coalesce($3, e.name), \
             url = coalesce(excluded.url, e.url), deleted_at = excluded.deleted_at, \
             changed_at = excluded.changed_at, updated_at = now() \
         where e.changed_at <= excluded.changed_at \
         returning name",
    )
    .bind(&ev.source)
    .bind(&ev.external_id)
    .bind(&ev.name)
    .bind(&ev.url)
    .bind(ev.deleted)
    .bind(ev.at)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(name) = name else {
        return Ok(()); // an older event than the one recorded
    };
    let former: Vec<&str> = [Some(ev.external_id.as_str()), before.as_deref()]
        .into_iter()
        .flatten()
        .filter(|n| *n != name)
        .collect();
    if former.is_empty() {
        return Ok(());
    }
    let renamed: Vec<i64> = sqlx::query_scalar(
        "update deployments set environment = $3, updated_at = now() \
         where source = $1 and environment = any($2) returning id",
    )
    .bind(&ev.source)
    .bind(&former)
    .bind(&name)
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query("update incidents set environment = $3, updated_at = now() where source = $1 and environment = any($2)")
        .bind(&ev.source)
        .bind(&former)
        .bind(&name)
        .execute(&mut *conn)
        .await?;
    relink_all(conn, renamed).await
}

/// Records an artifact, and gives the deployments that named it and no commit the commit it was
/// built from.
pub async fn record_artifact(conn: &mut PgConnection, ev: &ArtifactEvent) -> sqlx::Result<()> {
    let (repo, sha): (Option<String>, Option<String>) = sqlx::query_as(
        "insert into artifacts as a (id, repo, sha, packaged_at, published_at) \
         values ($1, coalesce((select c.repo from commits c where c.sha = $2 and c.repo = any($3) \
                 order by array_position($3, c.repo) limit 1), $3[1]), $2, $4, $5) \
         on conflict (id) do update set repo = coalesce(excluded.repo, a.repo), \
             sha = coalesce(excluded.sha, a.sha), \
             packaged_at = least(a.packaged_at, excluded.packaged_at), \
             published_at = least(a.published_at, excluded.published_at), updated_at = now() \
         returning repo, sha",
    )
    .bind(&ev.id)
    .bind(&ev.sha)
    .bind(&ev.repos)
    .bind(ev.packaged_at)
    .bind(ev.published_at)
    .fetch_one(&mut *conn)
    .await?;
    let Some(sha) = sha else {
        return Ok(());
    };
    let built: Vec<i64> = sqlx::query_scalar(
        "update deployments set sha = $2, repo = coalesce(repo, $3), updated_at = now() \
         where artifact = $1 and sha is null returning id",
    )
    .bind(&ev.id)
    .bind(&sha)
    .bind(&repo)
    .fetch_all(&mut *conn)
    .await?;
    relink_all(conn, built).await
}

/// [`relink_around`] each of deployments `ids`, in id order (so that concurrent writers lock
/// alike).
async fn relink_all(conn: &mut PgConnection, mut ids: Vec<i64>) -> sqlx::Result<()> {
    ids.sort_unstable();
    for id in ids {
        relink_around(conn, id).await?;
    }
    Ok(())
}

/// What recording a [`Batch`] did, item by item in its order.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub deployments: Vec<Recorded>,
    pub incidents: Vec<Recorded>,
}

/// Records a batch in one transaction: its environments, artifacts and pushes, then its
/// deployment statuses, then its incidents (deployments and incidents in key order, so that
/// concurrent batches lock alike);
/// again when PostgreSQL aborts it as a deadlock.
pub async fn record_batch(pool: &sqlx::PgPool, batch: &Batch) -> sqlx::Result<Outcome> {
    let mut attempt = 1;
    loop {
        match try_batch(pool, batch).await {
            Err(e) if super::is_retryable(&e) && attempt < super::RETRY_ATTEMPTS => attempt += 1,
            other => return other,
        }
    }
}

async fn try_batch(pool: &sqlx::PgPool, batch: &Batch) -> sqlx::Result<Outcome> {
    let mut tx = pool.begin().await?;
    for environment in &batch.environments {
        record_environment(&mut tx, environment).await?;
    }
    for artifact in &batch.artifacts {
        record_artifact(&mut tx, artifact).await?;
    }
    for push in &batch.pushes {
        record_push(&mut tx, push).await?;
    }
    let unset = Recorded {
        id: 0,
        created: false,
    };
    let mut out = Outcome {
        deployments: vec![unset; batch.deployments.len()],
        incidents: vec![unset; batch.incidents.len()],
    };
    let mut order: Vec<usize> = (0..batch.deployments.len()).collect();
    order.sort_by_key(|&i| (&batch.deployments[i].source, &batch.deployments[i].external_id));
    for i in order {
        out.deployments[i] = record(&mut tx, &batch.deployments[i]).await?;
    }
    let mut order: Vec<usize> = (0..batch.incidents.len()).collect();
    order.sort_by_key(|&i| (&batch.incidents[i].source, &batch.incidents[i].external_id));
    for i in order {
        out.incidents[i] = record_incident(&mut tx, &batch.incidents[i]).await?;
    }
    tx.commit().await?;
    Ok(out)
}

/// Which deployments a list shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub service: Option<String>,
    pub environment: Option<String>,
    pub repo: Option<String>,
    pub status: Option<String>,
    /// Only production environments (as `ilike` patterns), when given.
    pub production: Option<Vec<String>>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// A deployment as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    pub id: i64,
    pub source: String,
    pub external_id: String,
    pub repo: Option<String>,
    pub service: String,
    pub environment: String,
    pub sha: Option<String>,
    #[sqlx(rename = "ref")]
    pub git_ref: Option<String>,
    pub creator: Option<String>,
    pub run_id: Option<String>,
    pub artifact: Option<String>,
    pub kind: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub url: Option<String>,
    pub description: Option<String>,
    pub commit_count: i64,
}

/// A page of deployments, newest first (by `created_at`, then id), after `after`.
pub async fn list(
    pool: &sqlx::PgPool,
    f: &Filter,
    after: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> sqlx::Result<Vec<Row>> {
    sqlx::query_as(
        "select d.id, d.source, d.external_id, d.repo, d.service, d.environment, d.sha, d.ref, d.creator, \
             d.run_id, d.artifact, d.kind, d.status, d.created_at, d.finished_at, d.url, d.description, \
             (select count(*) from deployment_commits c where c.deployment_id = d.id) as commit_count \
         from deployments d \
         where ($1::text is null or d.service = $1) and ($2::text is null or d.environment = $2) \
             and ($3::text is null or d.repo = $3) and ($4::text is null or d.status = $4) \
             and ($5::text[] is null or d.environment ilike any($5)) \
             and ($6::timestamptz is null or d.created_at >= $6) and ($7::timestamptz is null or d.created_at < $7) \
             and ($8::timestamptz is null or (d.created_at, d.id) < ($8, $9)) \
         order by d.created_at desc, d.id desc limit $10",
    )
    .bind(&f.service)
    .bind(&f.environment)
    .bind(&f.repo)
    .bind(&f.status)
    .bind(&f.production)
    .bind(f.from)
    .bind(f.to)
    .bind(after.map(|a| a.0))
    .bind(after.map_or(0, |a| a.1))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A commit a deployment shipped.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Shipped {
    pub deployment_id: i64,
    pub sha: String,
    pub committed_at: Option<DateTime<Utc>>,
    pub merged_at: Option<DateTime<Utc>>,
    pub lead_seconds: Option<f64>,
}

/// The commits of deployments `ids`, at most `per` each, the longest lead time first.
pub async fn commits_of(pool: &sqlx::PgPool, ids: &[i64], per: i64) -> sqlx::Result<Vec<Shipped>> {
    sqlx::query_as(
        "select c.deployment_id, c.sha, k.committed_at, k.merged_at, c.lead_seconds \
         from unnest($1::int8[]) d(id) cross join lateral ( \
             select c.deployment_id, c.repo, c.sha, c.lead_seconds from deployment_commits c \
             where c.deployment_id = d.id order by c.lead_seconds desc nulls last, c.sha limit $2) c \
         left join commits k on k.repo = c.repo and k.sha = c.sha \
         order by c.lead_seconds desc nulls last, c.sha",
    )
    .bind(ids)
    .bind(per)
    .fetch_all(pool)
    .await
}

/// An incident in production, as stored and as the API shows it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
#[schema(as = ProductionIncident)]
pub struct IncidentRow {
    pub id: i64,
    /// Where it came from (`generic`, `cdevents`) and its id there.
    pub source: String,
    pub external_id: String,
    pub service: String,
    pub environment: Option<String>,
    /// The deployment it is linked to (its id here).
    pub deployment_id: Option<i64>,
    /// `named` (the incident named the deployment or its artifact) or `inferred` (the last
    /// successful deployment of its service before it started).
    pub link: Option<String>,
    pub title: Option<String>,
    pub url: Option<String>,
    pub started_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
}

const INCIDENT_COLUMNS: &str = "i.id, i.source, i.external_id, i.service, i.environment, i.deployment_id, \
     i.link, i.title, i.url, i.started_at, i.resolved_at";

/// The incidents linked to deployments `ids`.
pub async fn incidents_of(pool: &sqlx::PgPool, ids: &[i64]) -> sqlx::Result<Vec<IncidentRow>> {
    sqlx::query_as(&format!(
        "select {INCIDENT_COLUMNS} from incidents i where i.deployment_id = any($1) order by i.started_at"
    ))
    .bind(ids)
    .fetch_all(pool)
    .await
}

/// A page of incidents, latest started first, after `after`.
pub async fn incidents(
    pool: &sqlx::PgPool,
    f: &Filter,
    open: Option<bool>,
    after: Option<(DateTime<Utc>, i64)>,
    limit: i64,
) -> sqlx::Result<Vec<IncidentRow>> {
    sqlx::query_as(&format!(
        "select {INCIDENT_COLUMNS} from incidents i \
         where ($1::text is null or i.service = $1) and ($2::text is null or i.environment = $2) \
             and ($3::timestamptz is null or i.started_at >= $3) and ($4::timestamptz is null or i.started_at < $4) \
             and ($5::bool is null or (i.resolved_at is null) = $5) \
             and ($6::timestamptz is null or (i.started_at, i.id) < ($6, $7)) \
             and ($9::text[] is null or i.environment ilike any($9)) \
         order by i.started_at desc, i.id desc limit $8"
    ))
    .bind(&f.service)
    .bind(&f.environment)
    .bind(f.from)
    .bind(f.to)
    .bind(open)
    .bind(after.map(|a| a.0))
    .bind(after.map_or(0, |a| a.1))
    .bind(limit)
    .bind(&f.production)
    .fetch_all(pool)
    .await
}

/// Which deployments and incidents the DORA keys count: those of `service` (all when `None`) in
/// `environment`, or else in the production environments (`ilike` patterns).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub service: Option<String>,
    pub environment: Option<String>,
    pub production: Vec<String>,
}

/// The environments deployments went to whose names match `patterns` (`ilike`), read by
/// skipping through the `(environment, finished_at)` index: there are few of them.
pub async fn environments_like(pool: &sqlx::PgPool, patterns: &[String]) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "with recursive e(name) as ( \
             select min(environment) from deployments \
             union all \
             select (select min(environment) from deployments where environment > e.name) \
             from e where e.name is not null) \
         select name from e where name is not null and name ilike any($1)",
    )
    .bind(patterns)
    .fetch_all(pool)
    .await
}

/// What the DORA keys over `[from, to)` and the period of the same length before it are
/// computed from (see [`crate::delivery::dora::Input`]).
pub async fn dora_input(
    pool: &sqlx::PgPool,
    scope: &Scope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<crate::delivery::dora::Input> {
    use crate::delivery::dora::{After, Deployment, Incident, Input};
    let previous_from = from - (to - from);
    let environments = match &scope.environment {
        Some(e) => vec![e.clone()],
        None => environments_like(pool, &scope.production).await?,
    };
    // One statement per shape, so that a cached generic plan never trades the service's index
    // for a test that a parameter is null.
    let service = if scope.service.is_some() {
        "d.service = $3"
    } else {
        "$3::text is null"
    };
    let sql: std::sync::Arc<str> = format!(
        "select d.id, d.service, d.environment, {flags}, d.finished_at, coalesce(d.leads, '') \
         from deployments d \
         where d.finished_at >= $1 and d.finished_at < $2 and {service} and d.environment = any($4) \
             and d.kind <> 'remove' and d.status in ('success', 'inactive', 'failure', 'error')",
        flags = crate::delivery::dora::FLAGS_SQL
    )
    .into();
    // The two periods are read at once, each on its own connection and task: while the database
    // sends one, the other is decoded (tens of thousands of rows over every service).
    let mut reads = tokio::task::JoinSet::new();
    for (from, to) in [(previous_from, from), (from, to)] {
        let (pool, sql, service, environments) = (
            pool.clone(),
            sql.clone(),
            scope.service.clone(),
            environments.clone(),
        );
        reads.spawn(async move {
            sqlx::query_as::<_, Deployment>(&sql)
                .bind(from)
                .bind(to)
                .bind(service)
                .bind(environments)
                .fetch_all(&pool)
                .await
        });
    }
    let mut deployments = Vec::new();
    while let Some(read) = reads.join_next().await {
        deployments.extend(read.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))?);
    }
    // Grouped by service and environment (numbered as first seen, so that the sort compares
    // numbers), each group in order of end.
    let group: Vec<u32> = {
        let mut seen: std::collections::HashMap<(&str, &str), u32> = Default::default();
        deployments
            .iter()
            .map(|d| {
                let next = seen.len() as u32;
                *seen.entry((&d.service, &d.environment)).or_insert(next)
            })
            .collect()
    };
    let mut keyed: Vec<(u32, Deployment)> = group.into_iter().zip(deployments).collect();
    keyed.sort_unstable_by_key(|(g, d)| (*g, d.finished_at, d.id));
    deployments = keyed.into_iter().map(|(_, d)| d).collect();
    let mut pairs: Vec<(&str, &str)> = deployments
        .iter()
        .map(|d| (d.service.as_str(), d.environment.as_str()))
        .collect();
    pairs.dedup();
    let after: Vec<After> = sqlx::query_as(
        "select p.service, p.environment, n.kind, n.finished_at, \
             (select s.finished_at from deployments s where s.service = p.service \
                 and s.environment = p.environment and s.finished_at >= $3 and s.kind <> 'remove' \
                 and s.status in ('success', 'inactive') order by s.finished_at limit 1) as success_at \
         from unnest($1::text[], $2::text[]) p(service, environment) \
         cross join lateral (select d.kind, d.finished_at from deployments d \
             where d.service = p.service and d.environment = p.environment and d.finished_at >= $3 \
                 and d.kind <> 'remove' and d.status in ('success', 'inactive', 'failure', 'error') \
             order by d.finished_at limit 1) n",
    )
    .bind(pairs.iter().map(|p| p.0).collect::<Vec<_>>())
    .bind(pairs.iter().map(|p| p.1).collect::<Vec<_>>())
    .bind(to)
    .fetch_all(pool)
    .await?;
    // Incidents of the scope (in its environments, theirs or their deployment's, or in none)
    // since the previous period began; later ones too, as they may be linked to its deployments.
    let incidents: Vec<Incident> = sqlx::query_as(&format!(
        "select i.started_at, i.resolved_at, i.deployment_id from incidents i \
         left join deployments d on d.id = i.deployment_id \
         where i.started_at >= $1 and {} \
             and (coalesce(i.environment, d.environment) is null \
                 or coalesce(i.environment, d.environment) = any($3))",
        if scope.service.is_some() {
            "i.service = $2"
        } else {
            "$2::text is null"
        }
    ))
    .bind(previous_from)
    .bind(&scope.service)
    .bind(&environments)
    .fetch_all(pool)
    .await?;
    Ok(Input {
        deployments,
        after,
        incidents,
    })
}
