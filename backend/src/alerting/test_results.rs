//! The test conditions (`FlakyTest`, `TestFailureRate`): they watch tests, as the JUnit reports
//! uploaded for runs describe them, so a rule of these types has one group per test and
//! repository (`repo=acme/api,test_id=42`), whatever its `groupBy`.
//!
//! A rule's groups are the tests its open incidents are about (so that each of them resolves when
//! its test recovers), then the tests that are bad now, the worst first, up to
//! [`MAX_TEST_GROUPS`] in all: a rule never tracks more tests at once, and the tests left out
//! are taken as incidents resolve.
//!
//! - `FlakyTest`: a test is bad while a flake of it (a `test_flakes` row: it passed and failed on
//!   one commit) was last seen within the window. The rule's `match` selects the flaky commits: their
//!   repository, and (through the runs that reported on the commit) their provider, workflow and
//!   branch. Worst: flaky on the most commits in the window, then flaky most recently.
//! - `TestFailureRate`: failures / runs of the test (skipped results left out) over the whole UTC
//!   days the window touches, from the daily rollups the tests view reads. Worst: the highest rate,
//!   then the most failures.
//!
//! Messages name the test (`test`: `classname::name`, `suite`) and link to its history in the
//! dashboard's tests view (`/tests?test=42&test_repo=acme%2Fapi`).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use cicd_monitor_crds::alert_rule::MAX_TEST_GROUPS;
use cicd_monitor_crds::{Condition, Span, TestRef};
use globset::{Glob, GlobMatcher};
use sqlx::{PgConnection, PgPool, Row};

use super::evaluate::{Group, Measure};
use super::selector::Matcher;
use crate::db;
use crate::db::rules::RuleRow;

/// The most flakes read to find a rule's flaky tests (the newest first).
const MAX_FLAKES: i64 = 20_000;
/// The most failing tests read to find a `TestFailureRate` rule's bad tests (the worst first).
const MAX_FAILING: i64 = 10_000;
/// The most of a test's newest failures looked at for the runs a message links to.
const RECENT_FAILURES: i64 = 200;

/// A test's identity as `test_names` keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestName {
    pub suite: String,
    pub classname: String,
    pub name: String,
}

impl TestName {
    /// What `testMatch` is matched against and messages show: `classname::name`, or `name` for a
    /// test without a class.
    pub fn subject(&self) -> String {
        if self.classname.is_empty() {
            self.name.clone()
        } else {
            format!("{}::{}", self.classname, self.name)
        }
    }

    /// Whether `TestFailureRate`'s `test` names this test (its class and suite when it gives them).
    fn is(&self, t: &TestRef) -> bool {
        self.name == t.name.trim()
            && t.classname.as_ref().is_none_or(|c| self.classname == c.trim())
            && t.suite.as_ref().is_none_or(|s| self.suite == s.trim())
    }
}

/// A compiled `testMatch`; the reason when it is not a glob.
pub fn test_glob(pattern: &str) -> Result<GlobMatcher, String> {
    Glob::new(pattern.trim())
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("{pattern:?} is not a valid glob: {}", e.kind()))
}

/// The group of one test in one repository: labelled with the repository, the test (`test`,
/// `suite`) and its id (for the link to its history); keyed by repository and id only.
pub fn group(repo: &str, test_id: i64, name: &TestName) -> Group {
    let mut labels = BTreeMap::from([
        ("repo".to_owned(), repo.to_owned()),
        ("test".to_owned(), name.subject()),
        ("test_id".to_owned(), test_id.to_string()),
    ]);
    if !name.suite.is_empty() {
        labels.insert("suite".to_owned(), name.suite.clone());
    }
    Group {
        labels,
        key: key(repo, test_id),
        tuples: Vec::new(),
    }
}

fn key(repo: &str, test_id: i64) -> String {
    format!("repo={repo},test_id={test_id}")
}

/// The test of a group: `(repo, test id)`, from its labels (`None` for a group of another kind,
/// e.g. an incident opened before the rule's condition changed).
fn test_of(labels: &BTreeMap<String, String>) -> Option<(String, i64)> {
    Some((labels.get("repo")?.clone(), labels.get("test_id")?.parse().ok()?))
}

/// The dashboard view of a test condition's group: the test's history in the tests view
/// (`tests?test=42&test_repo=acme/api`, the dashboard's URL scheme).
pub fn dashboard_view(
    c: &Condition,
    labels: &BTreeMap<String, String>,
) -> Option<(&'static str, Vec<(&'static str, String)>)> {
    if !c.is_test_condition() {
        return None;
    }
    let (repo, id) = test_of(labels)?;
    Some(("tests", vec![("test", id.to_string()), ("test_repo", repo)]))
}

/// `acme/api · tests.test_auth::test_login` (with `(suite pytest)` when the rule names one).
pub fn test_ref_text(t: &TestRef) -> String {
    let name = TestName {
        suite: String::new(),
        classname: t.classname.clone().unwrap_or_default(),
        name: t.name.clone(),
    };
    let suite = t
        .suite
        .as_deref()
        .map(|s| format!(" (suite {s})"))
        .unwrap_or_default();
    format!("{} · {}{suite}", t.repo, name.subject())
}

/// Which tests a rule watches, besides the repositories of its `match`.
enum Selection {
    /// Every test (`FlakyTest`).
    Any,
    One(TestRef),
    Matching(GlobMatcher),
}

impl Selection {
    fn of(c: &Condition) -> Option<Selection> {
        match c {
            Condition::FlakyTest { .. } => Some(Selection::Any),
            Condition::TestFailureRate {
                test: Some(t),
                test_match: None,
                ..
            } => Some(Selection::One(t.clone())),
            Condition::TestFailureRate {
                test: None,
                test_match: Some(m),
                ..
            } => test_glob(m).ok().map(Selection::Matching),
            _ => None,
        }
    }

    /// Whether the test `name` of `repo` is watched (the repository as `match` or `test` says).
    fn selects(&self, matcher: &Matcher, repo: &str, name: &TestName) -> bool {
        match self {
            Selection::Any => matcher.matches_repo(repo),
            Selection::One(t) => repo == t.repo.trim() && name.is(t),
            Selection::Matching(glob) => matcher.matches_repo(repo) && glob.is_match(name.subject()),
        }
    }
}

/// The groups of a test rule at `now`: the tests of its open incidents that it still watches,
/// then the worst tests that are bad now, up to [`MAX_TEST_GROUPS`] in all. `dims` are the known
/// run dimensions (the repositories `match.repo` can name).
pub async fn groups(
    pool: &PgPool,
    rule: &RuleRow,
    matcher: &Matcher,
    dims: &[db::runs::DimensionRow],
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<Group>> {
    let c = &rule.spec.0.condition;
    let Some(selection) = Selection::of(c) else {
        return Ok(Vec::new());
    };
    let open: Vec<(String, i64)> = db::incidents::open_groups(pool, rule.id)
        .await?
        .into_iter()
        .filter_map(|(_, labels)| test_of(&labels.0))
        .collect();
    let mut names = names(pool, &open.iter().map(|t| t.1).collect::<Vec<_>>()).await?;
    // The bad tests the rule watches, the worst first (some may have an incident open already).
    let bad: Vec<(String, i64)> = match c {
        Condition::FlakyTest { window } => {
            let mut conn = pool.acquire().await?;
            worst_flaky(flaky_tests(&mut conn, matcher, since(now, *window)).await?)
        }
        Condition::TestFailureRate {
            test,
            threshold,
            window,
            min_runs,
            ..
        } => {
            let repos: Option<Vec<String>> = match test {
                Some(t) => Some(vec![t.repo.trim().to_owned()]),
                None if matcher.any_repo() => None,
                None => Some(
                    dims.iter()
                        .filter(|d| matcher.matches_repo(&d.repo))
                        .map(|d| d.repo.clone())
                        .collect::<BTreeSet<_>>()
                        .into_iter()
                        .collect(),
                ),
            };
            let rows = failing(pool, repos, test.as_ref(), *threshold, *window, *min_runs, now).await?;
            let mut bad = Vec::new();
            for (repo, id, name) in rows {
                if selection.selects(matcher, &repo, &name) {
                    names.insert(id, name);
                    bad.push((repo, id));
                }
            }
            bad
        }
        _ => Vec::new(),
    };
    let mut chosen: Vec<(String, i64)> = open
        .into_iter()
        .filter(|(repo, id)| names.get(id).is_some_and(|n| selection.selects(matcher, repo, n)))
        .collect();
    for t in bad {
        if chosen.len() >= MAX_TEST_GROUPS {
            break;
        }
        if !chosen.contains(&t) {
            chosen.push(t);
        }
    }
    let missing: Vec<i64> = chosen
        .iter()
        .map(|t| t.1)
        .filter(|id| !names.contains_key(id))
        .collect();
    names.extend(self::names(pool, &missing).await?);
    Ok(chosen
        .iter()
        .filter_map(|(repo, id)| Some(group(repo, *id, names.get(id)?)))
        .collect())
}

/// Measures a test condition for one test (its group), with the rule's `match`.
pub async fn measure(
    conn: &mut PgConnection,
    matcher: &Matcher,
    c: &Condition,
    g: &Group,
    now: DateTime<Utc>,
) -> sqlx::Result<Measure> {
    let Some((repo, id)) = test_of(&g.labels) else {
        return Ok(Measure::good());
    };
    Ok(match c {
        Condition::FlakyTest { window } => {
            let all = test_flakes(conn, &repo, id).await?;
            let first_seen = all.iter().map(|f| f.first_seen).min();
            let start = since(now, *window);
            let recent: Vec<Flake> = all.into_iter().filter(|f| f.last_seen >= start).collect();
            let recent = selected_flakes(conn, matcher, recent).await?;
            let mut m = flaky(recent.len(), first_seen, *window);
            if m.bad {
                let commits: Vec<&str> = recent.iter().map(|f| f.commit_ref.as_str()).collect();
                (m.runs, m.latest) = flaky_runs(conn, &repo, id, &commits).await?;
            }
            m
        }
        Condition::TestFailureRate {
            threshold,
            window,
            min_runs,
            ..
        } => {
            let (first, end) = days(now, *window);
            let row = sqlx::query(
                "select coalesce(sum(runs), 0)::int8, coalesce(sum(failures), 0)::int8, \
                     coalesce(sum(skipped), 0)::int8 \
                 from test_rollups where repo = $1 and test_id = $2 and day >= $3 and day < $4",
            )
            .bind(&repo)
            .bind(id)
            .bind(first)
            .bind(end)
            .fetch_one(&mut *conn)
            .await?;
            let (runs, failures, skipped): (i64, i64, i64) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            let mut m = failure_rate(runs - skipped, failures, *threshold, *min_runs);
            if m.bad {
                (m.runs, m.latest) = failed_runs(conn, &repo, id, start_of(first)).await?;
            }
            m
        }
        _ => Measure::good(),
    })
}

fn since(now: DateTime<Utc>, span: Span) -> DateTime<Utc> {
    now - TimeDelta::seconds(span.as_secs() as i64)
}

/// The whole UTC days the window before `now` touches: the first, and the day after the last (as
/// the tests view counts them).
fn days(now: DateTime<Utc>, window: Span) -> (NaiveDate, NaiveDate) {
    let last = (now - TimeDelta::microseconds(1)).date_naive();
    (since(now, window).date_naive(), last + TimeDelta::days(1))
}

fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

fn utc_minute(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn plural(n: i64, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// Bad when the test flaked on at least one (selected) commit within the window.
fn flaky(commits: usize, first_seen: Option<DateTime<Utc>>, window: Span) -> Measure {
    let n = commits as i64;
    let value_text = match first_seen {
        _ if n == 0 => format!("no flake in the last {window}"),
        Some(first) => format!(
            "flaky on {} in the last {window} (first seen {})",
            plural(n, "commit"),
            utc_minute(first)
        ),
        None => format!("flaky on {} in the last {window}", plural(n, "commit")),
    };
    Measure {
        bad: n > 0,
        value: Some(n as f64),
        value_text: Some(value_text),
        ..Measure::good()
    }
}

/// Bad when at least `threshold` percent of the `counted` runs (passed, failed or flaky) failed,
/// out of at least `min_runs`.
fn failure_rate(counted: i64, failures: i64, threshold: f64, min_runs: u32) -> Measure {
    let mut m = Measure::good();
    if counted > 0 {
        let rate = 100.0 * failures as f64 / counted as f64;
        m.value = Some(rate);
        m.value_text = Some(format!(
            "{rate:.1}% of {} ({} failed)",
            plural(counted, "run"),
            failures
        ));
        m.bad = counted >= i64::from(min_runs) && rate >= threshold;
    }
    m.threshold = Some(threshold);
    m.threshold_text = Some(format!("{threshold}% (at least {min_runs} runs)"));
    m
}

/// A test flaked on a commit.
#[derive(Debug, Clone)]
struct Flake {
    repo: String,
    test_id: i64,
    commit_ref: String,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
}

fn flake_of(row: &sqlx::postgres::PgRow) -> sqlx::Result<Flake> {
    Ok(Flake {
        repo: row.try_get(0)?,
        test_id: row.try_get(1)?,
        commit_ref: row.try_get(2)?,
        first_seen: row.try_get(3)?,
        last_seen: row.try_get(4)?,
    })
}

/// The flakes last seen since `start`, the newest first (at most [`MAX_FLAKES`]).
async fn flakes_since(conn: &mut PgConnection, start: DateTime<Utc>) -> sqlx::Result<Vec<Flake>> {
    sqlx::query(
        "select repo, test_id, commit_ref, first_seen, last_seen from test_flakes \
         where last_seen >= $1 order by last_seen desc limit $2",
    )
    .bind(start)
    .bind(MAX_FLAKES)
    .try_map(|row| flake_of(&row))
    .fetch_all(conn)
    .await
}

/// Every flake of one test in one repository.
async fn test_flakes(conn: &mut PgConnection, repo: &str, test_id: i64) -> sqlx::Result<Vec<Flake>> {
    sqlx::query(
        "select repo, test_id, commit_ref, first_seen, last_seen from test_flakes \
         where repo = $1 and test_id = $2",
    )
    .bind(repo)
    .bind(test_id)
    .try_map(|row| flake_of(&row))
    .fetch_all(conn)
    .await
}

/// The flakes on commits the rule's `match` selects: the commit's repository, and, when `match`
/// names providers, workflows or branches, one of the runs that reported on the commit.
async fn selected_flakes(
    conn: &mut PgConnection,
    matcher: &Matcher,
    mut flakes: Vec<Flake>,
) -> sqlx::Result<Vec<Flake>> {
    flakes.retain(|f| matcher.matches_repo(&f.repo));
    if matcher.selects_repo_only() || flakes.is_empty() {
        return Ok(flakes);
    }
    let commits: BTreeSet<(&str, &str)> = flakes
        .iter()
        .map(|f| (f.repo.as_str(), f.commit_ref.as_str()))
        .collect();
    let (repos, refs): (Vec<&str>, Vec<&str>) = commits.into_iter().unzip();
    let rows = sqlx::query(
        "select distinct u.repo, u.commit_ref, coalesce(p.provider, ''), coalesce(u.workflow, ''), \
             coalesce(u.branch, '') \
         from unnest($1::text[], $2::text[]) k(repo, commit_ref) \
         join test_uploads u on u.repo = k.repo and u.commit_ref = k.commit_ref and u.repo is not null \
         left join pipeline_runs p on p.id = u.run_id",
    )
    .bind(&repos)
    .bind(&refs)
    .fetch_all(&mut *conn)
    .await?;
    let mut watched: BTreeSet<(String, String)> = BTreeSet::new();
    for row in rows {
        let (repo, commit): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        let (provider, workflow, branch): (String, String, String) =
            (row.try_get(2)?, row.try_get(3)?, row.try_get(4)?);
        if matcher.matches(&provider, &repo, &workflow, &branch) {
            watched.insert((repo, commit));
        }
    }
    flakes.retain(|f| watched.contains(&(f.repo.clone(), f.commit_ref.clone())));
    Ok(flakes)
}

/// A flaky test: `(repo, test id)`, the commits it flaked on and when it last did.
type FlakyTestRow = ((String, i64), i64, DateTime<Utc>);

/// The tests with a flake last seen since `start` on a commit the rule's `match` selects.
async fn flaky_tests(
    conn: &mut PgConnection,
    matcher: &Matcher,
    start: DateTime<Utc>,
) -> sqlx::Result<Vec<FlakyTestRow>> {
    if matcher.selects_repo_only() {
        // Counted in the database: one row per flaky test.
        let rows = sqlx::query(
            "select repo, test_id, count(*), max(last_seen) from test_flakes where last_seen >= $1 \
             group by repo, test_id",
        )
        .bind(start)
        .fetch_all(&mut *conn)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let repo: String = r.try_get(0)?;
            if matcher.matches_repo(&repo) {
                out.push(((repo, r.try_get(1)?), r.try_get(2)?, r.try_get(3)?));
            }
        }
        return Ok(out);
    }
    let flakes = flakes_since(conn, start).await?;
    let flakes = selected_flakes(conn, matcher, flakes).await?;
    let mut by_test: BTreeMap<(String, i64), (i64, DateTime<Utc>)> = BTreeMap::new();
    for f in flakes {
        let e = by_test.entry((f.repo, f.test_id)).or_insert((0, f.last_seen));
        e.0 += 1;
        e.1 = e.1.max(f.last_seen);
    }
    Ok(by_test.into_iter().map(|(k, (n, last))| (k, n, last)).collect())
}

/// The flaky tests, the worst first: flaky on the most commits, then most recently.
fn worst_flaky(mut tests: Vec<FlakyTestRow>) -> Vec<(String, i64)> {
    tests.sort_by(|(ka, na, la), (kb, nb, lb)| nb.cmp(na).then(lb.cmp(la)).then(ka.cmp(kb)));
    tests.into_iter().map(|(k, _, _)| k).collect()
}

/// The tests failing at least `threshold` percent of at least `min_runs` runs over the window's
/// days, in `repos` (every repository when `None`), named as `test` says when given, with their
/// names; the worst first (at most [`MAX_FAILING`]).
async fn failing(
    pool: &PgPool,
    repos: Option<Vec<String>>,
    test: Option<&TestRef>,
    threshold: f64,
    window: Span,
    min_runs: u32,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<(String, i64, TestName)>> {
    if repos.as_ref().is_some_and(Vec::is_empty) {
        return Ok(Vec::new());
    }
    let (first, end) = days(now, window);
    let trimmed = |s: Option<&String>| s.map(|s| s.trim().to_owned());
    let rows = sqlx::query(
        "select t.repo, n.id, n.suite, n.classname, n.name from test_rollups t \
             join test_names n on n.id = t.test_id \
         where t.day >= $1 and t.day < $2 and ($3::text[] is null or t.repo = any($3)) \
             and ($4::text is null or n.name = $4) and ($5::text is null or n.classname = $5) \
             and ($6::text is null or n.suite = $6) \
         group by t.repo, n.id \
         having sum(t.failures) > 0 and sum(t.runs) - sum(t.skipped) >= greatest($7, 1) \
             and 100 * sum(t.failures)::float8 >= $8 * (sum(t.runs) - sum(t.skipped))::float8 \
         order by sum(t.failures)::float8 / (sum(t.runs) - sum(t.skipped)) desc, sum(t.failures) desc, \
             t.repo, n.id \
         limit $9",
    )
    .bind(first)
    .bind(end)
    .bind(repos)
    .bind(trimmed(test.map(|t| &t.name)))
    .bind(trimmed(test.and_then(|t| t.classname.as_ref())))
    .bind(trimmed(test.and_then(|t| t.suite.as_ref())))
    .bind(i64::from(min_runs))
    .bind(threshold)
    .bind(MAX_FAILING)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let name = TestName {
                suite: r.try_get(2)?,
                classname: r.try_get(3)?,
                name: r.try_get(4)?,
            };
            Ok((r.try_get(0)?, r.try_get(1)?, name))
        })
        .collect()
}

/// The names of some tests, by id.
async fn names(pool: &PgPool, ids: &[i64]) -> sqlx::Result<BTreeMap<i64, TestName>> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows = sqlx::query("select id, suite, classname, name from test_names where id = any($1)")
        .bind(ids)
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get(0)?,
                TestName {
                    suite: r.try_get(1)?,
                    classname: r.try_get(2)?,
                    name: r.try_get(3)?,
                },
            ))
        })
        .collect()
}

type Runs = (Vec<String>, Option<(String, Option<String>)>);

/// Run ids, newest first, and the newest run with its link.
fn runs_of(rows: Vec<(String, Option<String>)>) -> Runs {
    let latest = rows.first().cloned();
    let mut runs: Vec<String> = Vec::new();
    for (run, _) in rows {
        if !runs.contains(&run) {
            runs.push(run);
        }
    }
    (runs, latest)
}

/// The runs in which the test failed or was flaky on these commits (newest first, at most 10).
async fn flaky_runs(
    conn: &mut PgConnection,
    repo: &str,
    test_id: i64,
    commits: &[&str],
) -> sqlx::Result<Runs> {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "select u.run_id, p.url from test_uploads u \
         join test_results r on r.upload_id = u.id and r.test_id = $2 and r.status in (0, 1, 2) \
         left join pipeline_runs p on p.id = u.run_id \
         where u.repo = $1 and u.repo is not null and u.commit_ref = any($3) \
         order by u.run_at desc, u.id desc limit 10",
    )
    .bind(repo)
    .bind(test_id)
    .bind(commits)
    .fetch_all(conn)
    .await?;
    Ok(runs_of(rows))
}

/// The runs of `repo` since `from` in which the test failed, among its newest failures
/// (newest first, at most 10).
async fn failed_runs(
    conn: &mut PgConnection,
    repo: &str,
    test_id: i64,
    from: DateTime<Utc>,
) -> sqlx::Result<Runs> {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "select u.run_id, p.url from ( \
             select upload_id from test_results where test_id = $2 and status in (0, 1) \
             order by upload_id desc limit $4) r \
         join test_uploads u on u.id = r.upload_id \
         left join pipeline_runs p on p.id = u.run_id \
         where u.repo = $1 and u.run_at >= $3 \
         order by u.run_at desc, u.id desc limit 10",
    )
    .bind(repo)
    .bind(test_id)
    .bind(from)
    .bind(RECENT_FAILURES)
    .fetch_all(conn)
    .await?;
    Ok(runs_of(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(suite: &str, classname: &str, name: &str) -> TestName {
        TestName {
            suite: suite.into(),
            classname: classname.into(),
            name: name.into(),
        }
    }

    #[test]
    fn a_test_is_a_group_keyed_by_repo_and_id_and_links_to_its_history() {
        let g = group("acme/api", 42, &name("pytest", "tests.test_auth", "test_login"));
        assert_eq!(g.key, "repo=acme/api,test_id=42");
        assert_eq!(
            g.labels,
            BTreeMap::from([
                ("repo".to_owned(), "acme/api".to_owned()),
                ("suite".to_owned(), "pytest".to_owned()),
                ("test".to_owned(), "tests.test_auth::test_login".to_owned()),
                ("test_id".to_owned(), "42".to_owned()),
            ])
        );
        let flaky = Condition::FlakyTest {
            window: Span::from_secs(86_400),
        };
        assert_eq!(
            dashboard_view(&flaky, &g.labels).unwrap(),
            (
                "tests",
                vec![("test", "42".to_owned()), ("test_repo", "acme/api".to_owned())]
            )
        );
        assert!(dashboard_view(&Condition::ConsecutiveFailures { threshold: 2 }, &g.labels).is_none());
        // No class: the name alone; no suite: no label.
        let bare = group("acme/api", 7, &name("", "", "TestReconnects"));
        assert_eq!(bare.labels["test"], "TestReconnects");
        assert!(!bare.labels.contains_key("suite"));
        assert_eq!(test_of(&bare.labels), Some(("acme/api".to_owned(), 7)));
        assert_eq!(
            test_of(&BTreeMap::from([("repo".to_owned(), "acme/api".to_owned())])),
            None
        );
    }

    #[test]
    fn a_rule_selects_one_test_or_the_tests_its_glob_matches() {
        let all = Matcher::new(&Default::default()).unwrap();
        let login = name("pytest", "tests.test_auth", "test_login");
        let one = |classname: Option<&str>, suite: Option<&str>| {
            Selection::One(TestRef {
                repo: "acme/api".into(),
                name: "test_login".into(),
                classname: classname.map(str::to_owned),
                suite: suite.map(str::to_owned),
            })
        };
        assert!(one(None, None).selects(&all, "acme/api", &login));
        assert!(one(Some("tests.test_auth"), Some("pytest")).selects(&all, "acme/api", &login));
        assert!(!one(Some("tests.other"), None).selects(&all, "acme/api", &login));
        assert!(!one(None, Some("jest")).selects(&all, "acme/api", &login));
        assert!(!one(None, None).selects(&all, "acme/web", &login));
        let glob = Selection::Matching(test_glob("tests.test_*::test_log*").unwrap());
        assert!(glob.selects(&all, "acme/api", &login));
        assert!(!glob.selects(&all, "acme/api", &name("", "tests.other", "test_login")));
        assert!(!glob.selects(&all, "acme/api", &name("", "", "test_login")));
        let acme =
            Matcher::new(&serde_json::from_value(serde_json::json!({"repo": "acme/*"})).unwrap()).unwrap();
        assert!(glob.selects(&acme, "acme/api", &login));
        assert!(!glob.selects(&acme, "other/api", &login));
        assert!(Selection::Any.selects(&acme, "acme/web", &login));
        assert!(!Selection::Any.selects(&acme, "other/web", &login));
        assert!(test_glob("[oops").unwrap_err().contains("not a valid glob"));
        // As docs/alerting.md says: `*` crosses dots and slashes, `[[]` is a literal `[` (a
        // parametrized name), and case counts.
        let deep = test_glob("tests.*::*").unwrap();
        assert!(deep.is_match("tests.api/v2.users::test_get"));
        let param = test_glob("Calc::test_div[[]*").unwrap();
        assert!(param.is_match("Calc::test_div[0-1]") && !param.is_match("Calc::test_div"));
        assert!(!test_glob("calc::*").unwrap().is_match("Calc::test_div"));
    }

    #[test]
    fn the_flakiest_tests_come_first_then_the_most_recent() {
        let ago = |h: i64| Utc::now() - TimeDelta::hours(h);
        let tests = vec![
            (("a".to_owned(), 2), 1, ago(5)),
            (("a".to_owned(), 1), 2, ago(20)),
            (("b".to_owned(), 1), 2, ago(1)),
            (("a".to_owned(), 3), 1, ago(2)),
        ];
        assert_eq!(
            worst_flaky(tests),
            [
                ("b".to_owned(), 1),
                ("a".to_owned(), 1),
                ("a".to_owned(), 3),
                ("a".to_owned(), 2)
            ]
        );
    }

    #[test]
    fn a_flaky_test_says_on_how_many_commits_and_since_when() {
        let first = "2026-12-01T10:00:00Z".parse().unwrap();
        let m = flaky(2, Some(first), Span::from_secs(7 * 86_400));
        assert!(m.bad);
        assert_eq!(m.value, Some(2.0));
        assert_eq!(
            m.value_text.as_deref(),
            Some("flaky on 2 commits in the last 7d (first seen 2026-12-01 10:00 UTC)")
        );
        let one = flaky(1, Some(first), Span::from_secs(86_400));
        assert!(one
            .value_text
            .unwrap()
            .starts_with("flaky on 1 commit in the last 1d"));
        let gone = flaky(0, Some(first), Span::from_secs(86_400));
        assert!(!gone.bad);
        assert_eq!(gone.value_text.as_deref(), Some("no flake in the last 1d"));
    }

    #[test]
    fn a_test_failure_rate_waits_for_min_runs() {
        let m = failure_rate(10, 4, 30.0, 5);
        assert!(m.bad);
        assert_eq!(m.value, Some(40.0));
        assert_eq!(m.value_text.as_deref(), Some("40.0% of 10 runs (4 failed)"));
        assert_eq!(m.threshold_text.as_deref(), Some("30% (at least 5 runs)"));
        assert!(!failure_rate(4, 4, 30.0, 5).bad, "4 runs are fewer than 5");
        assert!(!failure_rate(10, 2, 30.0, 5).bad);
        assert!(failure_rate(10, 3, 30.0, 5).bad, "at least the threshold");
        let none = failure_rate(0, 0, 1.0, 0);
        assert!(!none.bad && none.value.is_none());
    }

    #[test]
    fn the_window_covers_the_whole_days_it_touches() {
        let now: DateTime<Utc> = "2026-12-08T10:30:00Z".parse().unwrap();
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(
            days(now, Span::from_secs(7 * 86_400)),
            (d("2026-12-01"), d("2026-12-09"))
        );
        let midnight: DateTime<Utc> = "2026-12-08T00:00:00Z".parse().unwrap();
        assert_eq!(
            days(midnight, Span::from_secs(86_400)),
            (d("2026-12-07"), d("2026-12-08"))
        );
    }

    #[test]
    fn a_named_test_is_described_with_its_class_and_suite() {
        let t = TestRef {
            repo: "acme/api".into(),
            name: "test_login".into(),
            classname: Some("tests.test_auth".into()),
            suite: Some("pytest".into()),
        };
        assert_eq!(
            test_ref_text(&t),
            "acme/api · tests.test_auth::test_login (suite pytest)"
        );
        let bare = TestRef {
            classname: None,
            suite: None,
            ..t
        };
        assert_eq!(test_ref_text(&bare), "acme/api · test_login");
    }
}
