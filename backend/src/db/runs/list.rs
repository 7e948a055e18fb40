//! Run lists: the filters shared with the metrics API, the sort orders and keyset pagination.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgPool, Postgres, QueryBuilder};

use super::{RunRow, COLUMNS};
use crate::domain::RunStatus;

/// Filters shared by run lists and the metrics API.
#[derive(Debug, Default, Clone)]
pub struct RunFilter {
    pub repo: Option<String>,
    pub workflow: Option<String>,
    pub branch: Option<String>,
    pub status: Option<RunStatus>,
    pub provider: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl RunFilter {
    pub fn push_where(&self, q: &mut QueryBuilder<'_, Postgres>) {
        q.push(" where true");
        if let Some(v) = &self.repo {
            q.push(" and repo = ").push_bind(v.clone());
        }
        if let Some(v) = &self.workflow {
            q.push(" and workflow = ").push_bind(v.clone());
        }
        if let Some(v) = &self.branch {
            q.push(" and branch = ").push_bind(v.clone());
        }
        if let Some(v) = self.status {
            q.push(" and status = ").push_bind(v.as_str());
        }
        if let Some(v) = &self.provider {
            q.push(" and provider = ").push_bind(v.clone());
        }
        if let Some(v) = self.from {
            q.push(" and run_at >= ").push_bind(v);
        }
        if let Some(v) = self.to {
            q.push(" and run_at < ").push_bind(v);
        }
    }
}

/// The orders a run list can come in. Each ends with the run id, so that every position is unique
/// and a page starts exactly after the last row of the previous one (keyset pagination).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunSort {
    /// Latest `run_at` first (the default).
    #[default]
    Newest,
    /// Earliest `run_at` first.
    Oldest,
    /// Longest `duration_seconds` first; runs without a duration last.
    Slowest,
    /// Shortest `duration_seconds` first; runs without a duration last.
    Fastest,
}

impl RunSort {
    pub const ALL: [RunSort; 4] = [
        RunSort::Newest,
        RunSort::Oldest,
        RunSort::Slowest,
        RunSort::Fastest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunSort::Newest => "newest",
            RunSort::Oldest => "oldest",
            RunSort::Slowest => "slowest",
            RunSort::Fastest => "fastest",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// Whether the order is by `duration_seconds` rather than by `run_at`.
    pub fn by_duration(self) -> bool {
        matches!(self, RunSort::Slowest | RunSort::Fastest)
    }

    /// The sort key of a listed run under this order.
    pub fn key_of(self, row: &RunRow, run_at: DateTime<Utc>) -> SortKey {
        if self.by_duration() {
            SortKey::Duration(row.state.duration_seconds)
        } else {
            SortKey::At(run_at)
        }
    }
}

/// Where a run sits in a [`RunSort`] order, besides its id.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SortKey {
    /// `run_at`, for `newest` and `oldest`.
    At(DateTime<Utc>),
    /// `duration_seconds` (`None` sorts last), for `slowest` and `fastest`.
    Duration(Option<f64>),
}

/// Runs matching `filter` in `sort` order, starting after the `(key, id)` position of the last
/// run of the previous page; each comes with its `run_at`.
///
/// `newest` and `oldest` walk `idx_runs_run_at` (or a repo's composite index when filtered by
/// repo) forwards or backwards and stop after `limit` rows. `slowest` and `fastest` have no index
/// of their own — one more index on the busiest table would slow every ingest for a sort that is
/// rarely used unfiltered — so they read every run in the filtered window (narrow it with `from`,
/// `to` and the filters) and keep the top `limit` in memory (a bounded top-N sort).
pub async fn list(
    pool: &PgPool,
    filter: &RunFilter,
    sort: RunSort,
    after: Option<(SortKey, String)>,
    limit: i64,
) -> sqlx::Result<Vec<(RunRow, DateTime<Utc>)>> {
    let mut q = QueryBuilder::new(format!("select {COLUMNS}, run_at from pipeline_runs"));
    filter.push_where(&mut q);
    // Rows after the cursor in this order; `op` is `<` for descending orders, `>` for ascending.
    let op = match sort {
        RunSort::Newest | RunSort::Slowest => " < ",
        RunSort::Oldest | RunSort::Fastest => " > ",
    };
    match after {
        None => {}
        Some((SortKey::At(at), id)) => {
            q.push(" and (run_at, id)")
                .push(op)
                .push("(")
                .push_bind(at)
                .push(", ")
                .push_bind(id)
                .push(")");
        }
        // Nulls come last: after a run with a duration come those with a duration further on, then
        // every run without one; after a run without one, only runs without one.
        Some((SortKey::Duration(Some(d)), id)) => {
            q.push(" and ((duration_seconds, id)")
                .push(op)
                .push("(")
                .push_bind(d)
                .push(", ")
                .push_bind(id)
                .push(") or duration_seconds is null)");
        }
        Some((SortKey::Duration(None), id)) => {
            q.push(" and duration_seconds is null and id")
                .push(op)
                .push_bind(id);
        }
    }
    q.push(match sort {
        RunSort::Newest => " order by run_at desc, id desc",
        RunSort::Oldest => " order by run_at, id",
        RunSort::Slowest => " order by duration_seconds desc nulls last, id desc",
        RunSort::Fastest => " order by duration_seconds nulls last, id",
    });
    q.push(" limit ").push_bind(limit);
    let rows = q.build().fetch_all(pool).await?;
    rows.into_iter()
        .map(|row| {
            use sqlx::Row;
            Ok((RunRow::from_row(&row)?, row.try_get("run_at")?))
        })
        .collect()
}
