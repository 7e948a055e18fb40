//! The GitHub Actions API poller: fetches workflow runs through the REST API and writes them
//! through the same ingest path as webhooks, filling the gaps of missed deliveries (GitHub never
//! redelivers by itself). `cicd-monitor github-sync` runs it once; `serve` runs it in the
//! background when `GITHUB_TOKEN` and `CICD_GITHUB_REPOS` are set.
//!
//! It pages through `GET /repos/{owner}/{repo}/actions/runs` (newest first, `created` within the
//! look-back window), sends the ETag of the last first page (`If-None-Match`; a 304 costs no rate
//! limit), honours `retry-after` and `x-ratelimit-remaining`/`x-ratelimit-reset`, retries 5xx and
//! network errors with exponential backoff, and holds a PostgreSQL advisory lock while it runs so
//! that replicas never poll at once.
//!
//! Each pass then asks the compare API for the commits of the repository's GitHub deployments that
//! no push covered ([`compare`]).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, ETAG, IF_NONE_MATCH, LINK, RETRY_AFTER, USER_AGENT};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;

use crate::config::GithubConfig;
use crate::db;
use crate::ingest::github;
use crate::writer::Writer;

mod compare;
pub use compare::Compared;

/// Advisory lock key of the poller ("ghsync" in ASCII).
const LOCK_KEY: i64 = 0x6768_7379_6e63;
/// Attempts per request on 5xx or network errors.
const ATTEMPTS: u32 = 4;

/// What one repository's sync did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepoReport {
    pub repo: String,
    /// `synced`, `not_modified`, `rate_limited` or `failed`.
    pub outcome: &'static str,
    pub pages: usize,
    pub runs: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When the API allows the next request (after a rate limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
    /// Deployments no push covered whose commits were asked of the compare API, and the commits
    /// that found ([`Poller::fill_commits`]).
    pub compared: usize,
    pub compared_commits: usize,
}

/// One page of the API, or why there is none.
enum Fetch {
    Page {
        body: Value,
        etag: Option<String>,
        next: Option<String>,
        /// Set when the rate limit is exhausted after this page.
        exhausted_until: Option<DateTime<Utc>>,
    },
    NotModified,
    Limited(DateTime<Utc>),
    /// A client error other than a rate limit (no access, unknown repository or sha): asking
    /// again at once would not help.
    Refused(StatusCode, String),
    /// A server or network error that outlasted the retries, or an unreadable answer.
    Failed(String),
}

pub struct Poller {
    http: reqwest::Client,
    api: String,
    token: SecretString,
    pool: PgPool,
    writer: Writer,
    lookback: TimeDelta,
    /// First backoff after a 5xx or network error (doubles each attempt).
    pub retry_base: Duration,
    /// Longest `retry-after` waited in place; a longer one ends the repository's sync for now.
    pub max_wait: Duration,
    /// Most pages read per repository and sync (100 runs each).
    pub max_pages: usize,
    /// Most deployments asked of the compare API per repository and sync.
    pub max_compares: usize,
    /// Most pages of one comparison read (100 commits each).
    pub max_compare_pages: usize,
}

impl Poller {
    pub fn new(
        config: &GithubConfig,
        token: SecretString,
        pool: PgPool,
        writer: Writer,
    ) -> anyhow::Result<Self> {
        Ok(Poller {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .connect_timeout(Duration::from_secs(10))
                .build()?,
            api: config.github_api_url.trim_end_matches('/').to_owned(),
            token,
            pool,
            writer,
            lookback: TimeDelta::hours(i64::from(config.github_lookback_hours.max(1))),
            retry_base: Duration::from_secs(1),
            max_wait: Duration::from_secs(60),
            max_pages: 10,
            max_compares: 20,
            max_compare_pages: 10,
        })
    }

    /// Syncs every repository (its runs, then the commits of its deployments that no push
    /// covered), unless another replica is syncing (then `None`).
    pub async fn sync(&self, repos: &[String]) -> anyhow::Result<Option<Vec<RepoReport>>> {
        let all = async {
            let mut reports = Vec::with_capacity(repos.len());
            for repo in repos {
                let mut report = self.sync_repo(repo).await;
                if report.outcome != "rate_limited" {
                    let compared = self.fill_commits(repo).await;
                    report.compared = compared.deployments;
                    report.compared_commits = compared.commits;
                }
                reports.push(report);
            }
            anyhow::Ok(reports)
        };
        db::exclusively(&self.pool, LOCK_KEY, all).await
    }

    /// Syncs one repository (`owner/name`).
    pub async fn sync_repo(&self, repo: &str) -> RepoReport {
        let mut report = RepoReport {
            repo: repo.to_owned(),
            outcome: "synced",
            pages: 0,
            runs: 0,
            error: None,
            not_before: None,
            compared: 0,
            compared_commits: 0,
        };
        let state = match db::sync_state::load(&self.pool, repo).await {
            Ok(s) => s,
            Err(e) => return report.failed(format!("reading the sync state: {e}")),
        };
        if let Some(t) = state.not_before.filter(|t| *t > Utc::now()) {
            report.outcome = "rate_limited";
            report.not_before = Some(t);
            return report;
        }
        let since = (Utc::now() - self.lookback).format("%Y-%m-%dT%H:%M:%SZ");
        let mut url = format!(
            "{}/repos/{repo}/actions/runs?per_page=100&created=%3E%3D{since}",
            self.api
        );
        let mut first_etag = None;
        loop {
            let etag = if report.pages == 0 {
                state.etag.as_deref()
            } else {
                None
            };
            match self.fetch(&url, etag).await {
                Fetch::NotModified => {
                    report.outcome = "not_modified";
                    break;
                }
                Fetch::Limited(until) => {
                    report.outcome = "rate_limited";
                    report.not_before = Some(until);
                    break;
                }
                Fetch::Failed(e) | Fetch::Refused(_, e) => {
                    report = report.failed(e);
                    break;
                }
                Fetch::Page {
                    body,
                    etag,
                    next,
                    exhausted_until,
                } => {
                    if report.pages == 0 {
                        first_etag = etag;
                    }
                    report.pages += 1;
                    let runs = body
                        .get("workflow_runs")
                        .and_then(Value::as_array)
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    let now = Utc::now();
                    let events: Vec<_> = runs.iter().filter_map(|r| github::run_from_api(r, now)).collect();
                    for written in self.writer.write_all(events).await {
                        match written {
                            Ok(_) => report.runs += 1,
                            Err(e) => {
                                report.error = Some(format!("writing a run: {e}"));
                            }
                        }
                    }
                    if report.error.is_some() {
                        report.outcome = "failed";
                        break;
                    }
                    match (next, exhausted_until) {
                        (Some(_), Some(until)) => {
                            report.outcome = "rate_limited";
                            report.not_before = Some(until);
                            break;
                        }
                        (Some(next), None) if report.pages < self.max_pages => url = next,
                        _ => break,
                    }
                }
            }
        }
        // The ETag stands for "everything up to this first page is stored": keep it only after a
        // complete pass, so that a sync cut short (rate limit, error) reads every page again.
        let etag = match report.outcome {
            "synced" => first_etag,
            "not_modified" => state.etag,
            _ => None,
        };
        if let Err(e) = save_state(&self.pool, &report, etag).await {
            tracing::warn!(repo, error = %e, "could not save the GitHub sync state");
        }
        match report.outcome {
            "failed" => tracing::warn!(repo, error = ?report.error, "GitHub sync failed"),
            "rate_limited" => {
                tracing::warn!(repo, not_before = ?report.not_before, "GitHub API rate limit reached")
            }
            _ => tracing::info!(
                repo,
                outcome = report.outcome,
                pages = report.pages,
                runs = report.runs,
                "GitHub sync"
            ),
        }
        report
    }

    /// One GET, retried on 5xx and network errors; waits out short `retry-after`s.
    async fn fetch(&self, url: &str, etag: Option<&str>) -> Fetch {
        let mut backoff = self.retry_base;
        let mut last_error = String::new();
        for attempt in 1..=ATTEMPTS {
            if attempt > 1 {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
            let mut req = self
                .http
                .get(url)
                .header(ACCEPT, "application/vnd.github+json")
                .header("X-GitHub-Api-Version", "2022-11-28")
                .header(USER_AGENT, concat!("ci-cd-monitor/", env!("CARGO_PKG_VERSION")))
                .header(AUTHORIZATION, format!("Bearer {}", self.token.expose_secret()));
            if let Some(etag) = etag {
                req = req.header(IF_NONE_MATCH, etag);
            }
            let res = match req.send().await {
                Ok(res) => res,
                Err(e) => {
                    last_error = format!("request failed: {e}");
                    continue;
                }
            };
            let status = res.status();
            let headers = res.headers().clone();
            match status {
                StatusCode::NOT_MODIFIED => return Fetch::NotModified,
                s if s.is_success() => {
                    let body: Value = match res.json().await {
                        Ok(b) => b,
                        Err(e) => {
                            last_error = format!("unreadable response: {e}");
                            continue;
                        }
                    };
                    return Fetch::Page {
                        body,
                        etag: header(&headers, ETAG.as_str()).map(str::to_owned),
                        next: next_link(&headers),
                        exhausted_until: (header(&headers, "x-ratelimit-remaining") == Some("0"))
                            .then(|| reset_time(&headers)),
                    };
                }
                StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS if is_rate_limit(status, &headers) => {
                    match retry_after(&headers) {
                        Some(wait) if wait <= self.max_wait && attempt < ATTEMPTS => {
                            tokio::time::sleep(wait).await;
                            backoff = self.retry_base;
                            last_error = format!("rate limited ({status})");
                            continue;
                        }
                        Some(wait) => {
                            return Fetch::Limited(
                                Utc::now() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::MAX),
                            );
                        }
                        None if header(&headers, "x-ratelimit-remaining") == Some("0") => {
                            return Fetch::Limited(reset_time(&headers));
                        }
                        // A secondary limit without advice: GitHub asks for at least a minute.
                        None => return Fetch::Limited(Utc::now() + TimeDelta::minutes(1)),
                    }
                }
                s if s.is_server_error() => {
                    last_error = format!("GitHub answered {s}");
                }
                s => {
                    let message = res
                        .json::<Value>()
                        .await
                        .ok()
                        .and_then(|b| b.get("message").and_then(Value::as_str).map(str::to_owned))
                        .unwrap_or_default();
                    return Fetch::Refused(s, format!("GitHub answered {s}: {message}"));
                }
            }
        }
        Fetch::Failed(format!("gave up after {ATTEMPTS} attempts: {last_error}"))
    }

    /// Syncs every `interval` until the process ends.
    pub fn spawn(self: Arc<Self>, repos: Vec<String>, interval: Duration) {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match self.sync(&repos).await {
                    Ok(Some(_)) => {}
                    Ok(None) => tracing::debug!("another replica is syncing GitHub runs"),
                    Err(e) => tracing::warn!(error = %e, "GitHub sync could not start"),
                }
            }
        });
    }
}

impl RepoReport {
    fn failed(mut self, error: String) -> Self {
        self.outcome = "failed";
        self.error = Some(error);
        self
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// A 403 is a rate limit only when GitHub says so (otherwise: no access).
fn is_rate_limit(status: StatusCode, headers: &HeaderMap) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS
        || headers.contains_key(RETRY_AFTER)
        || header(headers, "x-ratelimit-remaining") == Some("0")
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    header(headers, RETRY_AFTER.as_str())?
        .parse()
        .ok()
        .map(Duration::from_secs)
}

/// `x-ratelimit-reset` (epoch seconds), or a minute from now when absent.
fn reset_time(headers: &HeaderMap) -> DateTime<Utc> {
    header(headers, "x-ratelimit-reset")
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|t| DateTime::from_timestamp(t, 0))
        .unwrap_or_else(|| Utc::now() + TimeDelta::minutes(1))
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(headers: &HeaderMap) -> Option<String> {
    header(headers, LINK.as_str())?.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params.split(';').any(|p| p.trim() == "rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

async fn save_state(pool: &PgPool, report: &RepoReport, etag: Option<String>) -> sqlx::Result<()> {
    let ok = matches!(report.outcome, "synced" | "not_modified");
    db::sync_state::save(
        pool,
        &report.repo,
        etag.as_deref(),
        ok,
        report.error.as_deref(),
        report.not_before,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn the_next_link_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            LINK,
            HeaderValue::from_static(
                "<https://api.github.com/repositories/1/actions/runs?page=1>; rel=\"prev\", \
                 <https://api.github.com/repositories/1/actions/runs?page=3>; rel=\"next\", \
                 <https://api.github.com/repositories/1/actions/runs?page=9>; rel=\"last\"",
            ),
        );
        assert_eq!(
            next_link(&h).as_deref(),
            Some("https://api.github.com/repositories/1/actions/runs?page=3")
        );
        h.insert(
            LINK,
            HeaderValue::from_static("<https://x/?page=1>; rel=\"first\""),
        );
        assert_eq!(next_link(&h), None);
    }

    #[test]
    fn a_forbidden_answer_is_a_rate_limit_only_when_github_says_so() {
        let mut h = HeaderMap::new();
        assert!(!is_rate_limit(StatusCode::FORBIDDEN, &h));
        assert!(is_rate_limit(StatusCode::TOO_MANY_REQUESTS, &h));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-reset", HeaderValue::from_static("1767225600"));
        assert!(is_rate_limit(StatusCode::FORBIDDEN, &h));
        assert_eq!(reset_time(&h).to_rfc3339(), "2026-01-01T00:00:00+00:00");
    }
}
