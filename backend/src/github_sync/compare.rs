//! The commits of GitHub deployments that no push covered, from GitHub's compare API.
//!
//! A successful deployment's commits are walked from the pushes received; when none brought its
//! sha (the push webhook is not configured, or its deliveries were lost), it ships its own sha
//! alone, and its lead time is unknown. For such deployments of the repositories it polls, the
//! poller asks `GET /repos/{owner}/{repo}/compare/{base}...{head}` (base: the sha of the previous
//! successful deployment of the same service to the same environment; head: the deployment's),
//! page by page, and records the commits as a push from base to head: the normal linking then
//! gives the deployment those commits, with lead times from their author dates.
//!
//! Each deployment is asked once (`github_compares`): a 404 (GitHub does not know a sha) gives it
//! up, other errors are tried again later, a few times; a rate limit pauses the repository (as it
//! does its runs) without counting as an attempt.

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::StatusCode;
use serde::Serialize;
use serde_json::Value;

use super::{Fetch, Poller};
use crate::db;
use crate::db::compares::{Candidate, Outcome};
use crate::delivery::{CommitEvent, PushEvent};
use crate::ingest::{text, time};

/// Commits per page asked for (GitHub's most; a comparison without `per_page` lists at most 250
/// commits and no more pages).
const PER_PAGE: usize = 100;
/// Failed attempts after which a deployment is given up.
const MAX_ATTEMPTS: i32 = 5;
/// The wait after a first failure (doubled after each further one).
const FIRST_RETRY: TimeDelta = TimeDelta::minutes(15);

/// What one pass over a repository's deployments did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Compared {
    /// Deployments whose commits were recorded, and how many commits that was.
    pub deployments: usize,
    pub commits: usize,
    /// Deployments given up (GitHub knows a sha not), and those to ask again later.
    pub unknown: usize,
    pub failed: usize,
    /// Set when a rate limit ended the pass: no request before then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
    /// Why the pass stopped short (the database).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What GitHub answered about one comparison.
enum Comparison {
    /// Every commit (or as many as the pages allowed), and whether the rate limit is spent.
    Commits {
        commits: Vec<CommitEvent>,
        exhausted_until: Option<DateTime<Utc>>,
    },
    Unknown(String),
    Limited(DateTime<Utc>),
    Failed(String),
}

impl Poller {
    /// Asks the compare API for the commits of `repo`'s successful deployments that no push
    /// covered (at most [`Poller::max_compares`] of them, the latest first), and records them.
    pub async fn fill_commits(&self, repo: &str) -> Compared {
        let mut out = Compared::default();
        match db::sync_state::load(&self.pool, repo).await {
            Ok(state) => {
                if let Some(t) = state.not_before.filter(|t| *t > Utc::now()) {
                    out.not_before = Some(t);
                    return out;
                }
            }
            Err(e) => {
                out.error = Some(format!("reading the sync state: {e}"));
                tracing::warn!(repo, error = %e, "GitHub compare: could not read the sync state");
                return out;
            }
        }
        let limit = i64::try_from(self.max_compares).unwrap_or(i64::MAX);
        let candidates = match db::compares::candidates(&self.pool, repo, MAX_ATTEMPTS, limit).await {
            Ok(c) => c,
            Err(e) => {
                out.error = Some(format!("finding the deployments: {e}"));
                tracing::warn!(repo, error = %e, "GitHub compare: could not find the deployments");
                return out;
            }
        };
        for c in &candidates {
            let saved = match self.compare(repo, &c.base, &c.head).await {
                Comparison::Commits {
                    commits,
                    exhausted_until,
                } => {
                    let n = commits.len();
                    if let Err(e) = self.record(c, commits).await {
                        out.error = Some(format!("recording the commits: {e}"));
                        break;
                    }
                    out.deployments += 1;
                    out.commits += n;
                    if let Some(until) = exhausted_until {
                        out.not_before = Some(until);
                        break;
                    }
                    Ok(())
                }
                Comparison::Unknown(e) => {
                    out.unknown += 1;
                    db::compares::save(&self.pool, c, Outcome::Unknown, Some(&e)).await
                }
                Comparison::Failed(e) => {
                    out.failed += 1;
                    let wait = FIRST_RETRY * 2i32.pow(c.attempts.clamp(0, 10) as u32);
                    let outcome = Outcome::Failed {
                        not_before: Utc::now() + wait,
                    };
                    db::compares::save(&self.pool, c, outcome, Some(&e)).await
                }
                Comparison::Limited(until) => {
                    out.not_before = Some(until);
                    break;
                }
            };
            if let Err(e) = saved {
                out.error = Some(format!("saving an outcome: {e}"));
                break;
            }
        }
        if let Some(until) = out.not_before {
            if let Err(e) = db::sync_state::pause(&self.pool, repo, until).await {
                tracing::warn!(repo, error = %e, "could not save the GitHub rate limit");
            }
            tracing::warn!(repo, not_before = %until, "GitHub API rate limit reached (compare)");
        }
        if let Some(e) = &out.error {
            tracing::warn!(repo, error = %e, "GitHub compare stopped");
        }
        if !candidates.is_empty() {
            tracing::info!(
                repo,
                deployments = out.deployments,
                commits = out.commits,
                unknown = out.unknown,
                failed = out.failed,
                "GitHub compare: commits of deployments no push covered"
            );
        }
        out
    }

    /// The commits from `base` to `head`, page by page (at most [`Poller::max_compare_pages`]).
    async fn compare(&self, repo: &str, base: &str, head: &str) -> Comparison {
        let first = format!(
            "{}/repos/{repo}/compare/{base}...{head}?per_page={PER_PAGE}",
            self.api
        );
        let mut url = format!("{first}&page=1");
        let mut commits = Vec::new();
        let mut seen = HashSet::new();
        let mut page = 1;
        loop {
            match self.fetch(&url, None).await {
                Fetch::Page {
                    body,
                    next,
                    exhausted_until,
                    ..
                } => {
                    let listed = body
                        .get("commits")
                        .and_then(Value::as_array)
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    let before = commits.len();
                    for c in listed.iter().filter_map(commit) {
                        if seen.insert(c.sha.clone()) {
                            commits.push(c);
                        }
                    }
                    let total = body
                        .get("total_commits")
                        .and_then(Value::as_u64)
                        .map_or(0, |t| usize::try_from(t).unwrap_or(usize::MAX));
                    // A page that adds nothing ends it too (a server that ignores `page`).
                    let more = commits.len() < total && commits.len() > before;
                    if !more || page >= self.max_compare_pages {
                        if more {
                            tracing::info!(
                                repo,
                                base,
                                head,
                                total,
                                kept = commits.len(),
                                "GitHub compare: more commits than the pages read"
                            );
                        }
                        return Comparison::Commits {
                            commits,
                            exhausted_until,
                        };
                    }
                    if let Some(until) = exhausted_until {
                        return Comparison::Limited(until);
                    }
                    page += 1;
                    url = next.unwrap_or_else(|| format!("{first}&page={page}"));
                }
                Fetch::Limited(until) => return Comparison::Limited(until),
                Fetch::Refused(StatusCode::NOT_FOUND, e) => return Comparison::Unknown(e),
                Fetch::Refused(_, e) | Fetch::Failed(e) => return Comparison::Failed(e),
                Fetch::NotModified => return Comparison::Failed("GitHub answered 304 unasked".into()),
            }
        }
    }

    /// Records the commits of a comparison as a push from its base to its head (which links them
    /// to the deployments of its head), and the outcome.
    async fn record(&self, c: &Candidate, commits: Vec<CommitEvent>) -> sqlx::Result<()> {
        let n = i32::try_from(commits.len()).unwrap_or(i32::MAX);
        let push = (!commits.is_empty()).then(|| PushEvent {
            repo: c.repo.clone(),
            default_branch: None,
            // Not a branch: the comparison it came from.
            git_ref: format!("{}...{}", c.base, c.head),
            before: Some(c.base.clone()),
            after: c.head.clone(),
            pushed_at: commits
                .iter()
                .filter_map(|k| k.merged_at.or(k.committed_at))
                .max()
                .unwrap_or_else(Utc::now),
            commits,
        });
        let mut attempt = 1;
        loop {
            let result = async {
                let mut tx = self.pool.begin().await?;
                if let Some(push) = &push {
                    db::deployments::record_push(&mut tx, push).await?;
                }
                db::compares::save(&mut *tx, c, Outcome::Filled(n), None).await?;
                tx.commit().await
            }
            .await;
            match result {
                Err(e) if db::is_retryable(&e) && attempt < db::RETRY_ATTEMPTS => attempt += 1,
                other => return other,
            }
        }
    }
}

/// A commit of a comparison: its sha, written at its author date, landed at its committer date.
fn commit(c: &Value) -> Option<CommitEvent> {
    let sha = text(c, "sha").filter(|s| s.chars().count() <= crate::domain::limits::MAX_NAME)?;
    let merged_at = time(c, "commit/committer/date");
    Some(CommitEvent {
        sha,
        committed_at: time(c, "commit/author/date").or(merged_at),
        merged_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_commit_is_written_at_its_author_date_and_lands_at_its_committer_date() {
        let c = commit(&json!({"sha": "6dcb09b5b57875f334f61aebed695e2e4193db5e",
            "commit": {"author": {"date": "2026-11-02T08:00:00Z"}, "committer": {"date": "2026-11-02T09:30:00Z"}}}))
        .unwrap();
        assert_eq!(c.committed_at.unwrap().to_rfc3339(), "2026-11-02T08:00:00+00:00");
        assert_eq!(c.merged_at.unwrap().to_rfc3339(), "2026-11-02T09:30:00+00:00");
        let c = commit(&json!({"sha": "abc", "commit": {"committer": {"date": "2026-11-02T09:30:00Z"}}}))
            .unwrap();
        assert_eq!(c.committed_at, c.merged_at);
        assert!(commit(&json!({"commit": {}})).is_none());
    }
}
