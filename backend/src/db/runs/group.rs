//! The runs of one alert group: a set of exact `(provider, repo, workflow, branch)` tuples (an
//! empty branch stands for none), read through the `(repo, workflow, run_at)` index.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::RunStatus;

/// The tuples as four parallel arrays, as `unnest` takes them.
type Columns = (Vec<String>, Vec<String>, Vec<String>, Vec<String>);

fn columns(tuples: &[[String; 4]]) -> Columns {
    let mut t: Columns = Default::default();
    for [p, r, w, b] in tuples {
        t.0.push(p.clone());
        t.1.push(r.clone());
        t.2.push(w.clone());
        t.3.push(b.clone());
    }
    t
}

/// The newest `n` runs that succeeded or failed, newest first: `(id, status, url)`.
pub async fn latest(
    conn: &mut PgConnection,
    tuples: &[[String; 4]],
    n: i64,
) -> sqlx::Result<Vec<(String, RunStatus, Option<String>)>> {
    let (p, r, w, b) = columns(tuples);
    let rows = sqlx::query!(
        r#"select id, status as "status: RunStatus", url from pipeline_runs
           where (provider, repo, workflow, coalesce(branch, '')) in
               (select * from unnest($1::text[], $2::text[], $3::text[], $4::text[]))
               and status in ('success', 'failure')
           order by run_at desc, id desc limit $5"#,
        &p,
        &r,
        &w,
        &b,
        n,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.status, r.url)).collect())
}

/// Finished runs in `[from, to)`, newest first: `(id, status, duration, queue seconds)`.
pub async fn window(
    conn: &mut PgConnection,
    tuples: &[[String; 4]],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> sqlx::Result<Vec<(String, RunStatus, Option<f64>, Option<f64>)>> {
    let (p, r, w, b) = columns(tuples);
    let rows = sqlx::query!(
        r#"select id, status as "status: RunStatus", duration_seconds,
               case when started_at >= queued_at then extract(epoch from started_at - queued_at)::float8 end
                   as queue_seconds
           from pipeline_runs
           where (provider, repo, workflow, coalesce(branch, '')) in
               (select * from unnest($1::text[], $2::text[], $3::text[], $4::text[]))
               and run_at >= $5 and run_at < $6
               and status in ('success', 'failure', 'cancelled', 'skipped')
           order by run_at desc, id desc"#,
        &p,
        &r,
        &w,
        &b,
        from,
        to,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.id, r.status, r.duration_seconds, r.queue_seconds))
        .collect())
}

/// When the newest success since `since` was charted; `None` when there was none.
pub async fn last_success(
    conn: &mut PgConnection,
    tuples: &[[String; 4]],
    since: DateTime<Utc>,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    let (p, r, w, b) = columns(tuples);
    sqlx::query_scalar!(
        "select max(run_at) from pipeline_runs \
         where (provider, repo, workflow, coalesce(branch, '')) in \
             (select * from unnest($1::text[], $2::text[], $3::text[], $4::text[])) \
             and status = 'success' and run_at >= $5",
        &p,
        &r,
        &w,
        &b,
        since,
    )
    .fetch_one(conn)
    .await
}
