//! When rules are evaluated: at once for the groups of runs that just finished (so `RunFailed` and
//! `ConsecutiveFailures` fire within a second of the event), and on a periodic tick for every rule
//! and group (windows, `groupWait`, repeats, `NoSuccessWithin`, and the test conditions, whose
//! groups are tests). The tick runs on one replica at a
//! time (an advisory lock); concurrent evaluations of one group are serialised in
//! [`incidents::step`].

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::Notify;

use super::delivery;
use super::evaluate::{self, Group, Measure, Sources};
use super::incidents::{self, NoticeContext};
use super::jobs;
use super::selector::Matcher;
use super::test_results;
use crate::db;
use crate::db::rules::RuleRow;
use crate::telemetry::Metrics;

/// `(provider, repo, workflow, branch)` of a run that reached a final status.
pub type Finished = [String; 4];

/// Advisory lock key of the evaluation tick ("alrtick" in ASCII).
const TICK_LOCK: i64 = 0x61_6c72_7469_636b;

pub struct Alerts {
    pool: PgPool,
    ctx: NoticeContext,
    /// Jobs queued for longer are stale and leave the queued counts (`CICD_STALE_JOB_HOURS`).
    stale_after: chrono::TimeDelta,
    metrics: Arc<Metrics>,
    /// Dimensions of runs finished since the last evaluation: a set, so its size is bounded by the
    /// number of distinct dimensions however fast runs arrive.
    finished: Mutex<BTreeSet<Finished>>,
    wake: Notify,
}

type Rule = (RuleRow, Matcher);

impl Alerts {
    pub fn new(
        pool: PgPool,
        ctx: NoticeContext,
        metrics: Arc<Metrics>,
        stale_after: chrono::TimeDelta,
    ) -> Self {
        Alerts {
            pool,
            ctx,
            stale_after,
            metrics,
            finished: Mutex::default(),
            wake: Notify::new(),
        }
    }

    /// Called by the writer after a commit with the runs that reached a final status. Never
    /// blocks ingest: runs arriving during an evaluation are taken by the next one.
    pub fn runs_finished(&self, runs: Vec<Finished>) {
        if !runs.is_empty() {
            self.finished
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend(runs);
            self.wake.notify_one();
        }
    }

    /// The enabled rules, read at each evaluation (so a change applies at once on every replica).
    async fn rules(&self) -> sqlx::Result<Vec<Rule>> {
        Ok(db::rules::enabled(&self.pool)
            .await?
            .into_iter()
            .filter_map(|r| Matcher::new(&r.spec.0.selector).ok().map(|m| (r, m)))
            .collect())
    }

    /// Starts evaluation on finished runs and the periodic tick.
    pub fn spawn(self: &Arc<Self>, tick: Duration) {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                me.wake.notified().await;
                let touched = std::mem::take(&mut *me.finished.lock().unwrap_or_else(|e| e.into_inner()));
                if let Err(e) = me.evaluate_touched(&touched, Utc::now()).await {
                    tracing::warn!(error = %e, "alert evaluation after new runs failed");
                }
            }
        });
        let me = self.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                if let Err(e) = me.tick(Utc::now()).await {
                    tracing::warn!(error = %e, "alert evaluation tick failed");
                }
            }
        });
    }

    /// Evaluates every rule for the groups that contain one of `touched`.
    pub async fn evaluate_touched(
        &self,
        touched: &BTreeSet<Finished>,
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        let rules = self.rules().await?;
        if rules.is_empty() || touched.is_empty() {
            return Ok(());
        }
        let dims = db::runs::dimensions(&self.pool).await?;
        for (rule, matcher) in rules {
            // A test condition's groups are tests, which finished runs do not touch: the tick
            // evaluates them.
            if rule.spec.0.condition.is_test_condition() || rule.spec.0.condition.is_delivery_condition() {
                continue;
            }
            for g in rule_groups(&rule, &matcher, &dims) {
                if g.tuples.iter().any(|t| touched.contains(t)) {
                    self.evaluate(&rule, &matcher, &g, now).await?;
                }
            }
        }
        Ok(())
    }

    /// Evaluates every rule and group, unless another replica is doing so; returns whether it ran.
    pub async fn tick(&self, now: DateTime<Utc>) -> sqlx::Result<bool> {
        if db::exclusively(&self.pool, TICK_LOCK, self.evaluate_all(now))
            .await?
            .is_none()
        {
            return Ok(false);
        }
        let firing = db::incidents::count_firing(&self.pool).await?;
        self.metrics.incidents_firing.set(firing);
        Ok(true)
    }

    async fn evaluate_all(&self, now: DateTime<Utc>) -> sqlx::Result<()> {
        let dims = db::runs::dimensions(&self.pool).await?;
        for (rule, matcher) in self.rules().await? {
            let groups = self.groups(&rule, &matcher, &dims, now).await?;
            for g in &groups {
                self.evaluate(&rule, &matcher, g, now).await?;
            }
            // Open incidents of groups the rule no longer watches (its selector changed) resolve.
            let open = db::incidents::open_groups(&self.pool, rule.id).await?;
            let missing = |groups: &[Group], key: &str| !groups.iter().any(|g| g.key == key);
            if !open.iter().any(|(key, _)| missing(&groups, key)) {
                continue;
            }
            // Another replica may have opened an incident for a dimension newer than the snapshot
            // above: read the dimensions again (they are committed before any incident on them).
            let dims = db::runs::dimensions(&self.pool).await?;
            let fresh = self.groups(&rule, &matcher, &dims, now).await?;
            for (key, labels) in open {
                if missing(&fresh, &key) {
                    let gone = Group {
                        labels: labels.0,
                        key,
                        tuples: Vec::new(),
                    };
                    self.apply(&rule, &matcher, &gone, Some(&Measure::good()), now)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// The groups a rule watches now: [`rule_groups`], or for a test condition the tests of its
    /// open incidents and the worst tests that are bad now ([`test_results::groups`]).
    async fn groups(
        &self,
        rule: &RuleRow,
        matcher: &Matcher,
        dims: &[db::runs::DimensionRow],
        now: DateTime<Utc>,
    ) -> sqlx::Result<Vec<Group>> {
        if rule.spec.0.condition.is_test_condition() {
            test_results::groups(&self.pool, rule, matcher, dims, now).await
        } else if rule.spec.0.condition.is_delivery_condition() {
            delivery::groups(&self.pool, rule, now).await
        } else {
            Ok(rule_groups(rule, matcher, dims))
        }
    }

    async fn evaluate(
        &self,
        rule: &RuleRow,
        matcher: &Matcher,
        g: &Group,
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        self.apply(rule, matcher, g, None, now).await
    }

    /// Measures (unless `given`) and steps the incident, in one transaction under the group's lock.
    async fn apply(
        &self,
        rule: &RuleRow,
        matcher: &Matcher,
        g: &Group,
        given: Option<&Measure>,
        now: DateTime<Utc>,
    ) -> sqlx::Result<()> {
        let mut tx = self.pool.begin().await?;
        // The rule may have been deleted since it was read: then there is nothing to evaluate. While
        // it exists, KEY SHARE keeps a concurrent delete waiting until this transaction ends.
        if !db::rules::exists_key_share(&mut tx, rule.id).await? {
            return Ok(());
        }
        incidents::lock(&mut tx, rule, g).await?;
        let measured;
        let m = match given {
            Some(m) => m,
            None => {
                let sources = Sources {
                    pool: &self.pool,
                    stale_after: self.stale_after,
                    matcher,
                };
                measured = evaluate::measure(&mut tx, sources, &rule.spec.0.condition, g, now).await?;
                &measured
            }
        };
        let n = incidents::step(&mut tx, rule, g, m, now, &self.ctx).await?;
        tx.commit().await?;
        if n > 0 {
            tracing::info!(rule = %rule.name, group = %g.key, notifications = n, "alert notifications enqueued");
        }
        Ok(())
    }
}

/// The groups a rule watches: the one label set or job of a job or runner condition, else the
/// groups of the runs its selector matches.
fn rule_groups(rule: &RuleRow, matcher: &Matcher, dims: &[db::runs::DimensionRow]) -> Vec<Group> {
    match jobs::group(&rule.spec.0.condition) {
        Some(g) => vec![g],
        None => evaluate::groups(matcher, &rule.spec.0.notify.group_by, dims),
    }
}

/// Forgets delivered or failed notifications and resolved incidents older than 30 days; returns
/// how many rows went.
pub async fn prune(pool: &PgPool) -> sqlx::Result<u64> {
    let notifications = db::notifications::prune(pool).await?;
    let incidents = db::incidents::prune_resolved(pool).await?;
    Ok(notifications + incidents)
}
