//! The incident state machine, one step per evaluation of a (rule, group), and the enqueuing of
//! notifications into the outbox — all in one transaction under an advisory lock on the pair (taken
//! before measuring), so replicas evaluating the same group at once take turns, each acting on a
//! measurement no older than the previous one applied, and each notification is enqueued once.
//!
//! Every change clients of `GET /api/stream` should see is announced on [`db::notify::INCIDENTS`] in the
//! same transaction.
//!
//! pending (bad, inside `groupWait`) → firing (notify) → resolved (notify "back to green" when
//! `sendResolved`). A pending incident that recovers is deleted: flapping inside `groupWait` sends
//! nothing. While firing: `repeatInterval` re-notifies unless acknowledged (never for `FlakyTest`:
//! a test turning flaky is said once); `RunFailed` without `onlyFirst` notifies each further failed
//! run; a mute silences everything until it ends.

use chrono::{DateTime, TimeDelta, Utc};
use cicd_monitor_crds::Condition;
use sqlx::{Postgres, Transaction};

use super::evaluate::{describe, Group, Measure};
use super::{Notice, NoticeKind};
use crate::db;
use crate::db::incidents::NewIncident;
use crate::db::rules::RuleRow;

/// Facts every notice carries.
#[derive(Debug, Clone, Default)]
pub struct NoticeContext {
    pub environment: String,
    /// `CICD_PUBLIC_URL`, for links to the dashboard.
    pub public_url: Option<String>,
}

type Open = db::incidents::OpenIncident;

/// Takes the (rule, group) lock for the rest of the transaction. Measure after taking it: a
/// measurement taken before could be older than one another replica has applied meanwhile.
pub async fn lock(tx: &mut Transaction<'_, Postgres>, rule: &RuleRow, group: &Group) -> sqlx::Result<()> {
    db::incidents::lock_group(tx, rule.id, &group.key).await
}

/// Applies one measurement to the (rule, group) incident, under [`lock`]; returns how many
/// notifications it enqueued.
pub async fn step(
    tx: &mut Transaction<'_, Postgres>,
    rule: &RuleRow,
    group: &Group,
    m: &Measure,
    now: DateTime<Utc>,
    ctx: &NoticeContext,
) -> sqlx::Result<usize> {
    let open = db::incidents::open_for_update(tx, rule.id, &group.key).await?;
    let s = Step {
        rule,
        group,
        m,
        now,
        ctx,
    };
    let done = match (open, m.bad) {
        (None, false) => Done::default(),
        (None, true) => s.open(tx).await?,
        (Some(o), false) => s.clear(tx, &o).await?,
        (Some(o), true) => s.still_bad(tx, &o).await?,
    };
    if let Some((id, state, what)) = done.change {
        db::notify::incident(tx, id, rule.id, state, what).await?;
    }
    Ok(done.sent)
}

/// One measurement of one (rule, group), being applied.
struct Step<'a> {
    rule: &'a RuleRow,
    group: &'a Group,
    m: &'a Measure,
    now: DateTime<Utc>,
    ctx: &'a NoticeContext,
}

/// What applying it did: the notifications it enqueued, and the change the stream's clients hear
/// of (incident, its state now, what happened).
#[derive(Default)]
struct Done {
    sent: usize,
    change: Option<(i64, &'static str, &'static str)>,
}

impl Step<'_> {
    /// How long a bad group stays pending before it fires: `groupWait`, after the `for` of a
    /// `QueuedJobs` condition (the pending incident's start is when the backlog began, stored with
    /// it, so the wait survives restarts and holds across replicas).
    fn group_wait(&self) -> TimeDelta {
        let spec = &self.rule.spec.0;
        let hold = match &spec.condition {
            Condition::QueuedJobs { for_, .. } => for_.as_secs(),
            _ => 0,
        };
        TimeDelta::seconds((spec.notify.group_wait.as_secs() + hold) as i64)
    }

    fn notice(&self, o: &Open, resolved_at: Option<DateTime<Utc>>, kind: NoticeKind) -> Notice {
        notice(
            self.rule,
            self.group,
            self.m,
            o.id,
            o.started_at,
            resolved_at,
            kind,
            self.ctx,
        )
    }

    /// The condition holds and no incident is open: a pending one, firing at once without a
    /// group wait.
    async fn open(&self, tx: &mut Transaction<'_, Postgres>) -> sqlx::Result<Done> {
        let (rule, group, m, now) = (self.rule, self.group, self.m, self.now);
        let new = NewIncident {
            rule_id: rule.id,
            group_key: &group.key,
            labels: &group.labels,
            value: m.value,
            threshold: m.threshold,
            started_at: now,
            run_ids: &m.runs,
        };
        let id = db::incidents::insert_pending(tx, &new).await?;
        if self.group_wait() > TimeDelta::zero() {
            return Ok(Done {
                sent: 0,
                change: Some((id, "pending", "opened")),
            });
        }
        Ok(Done {
            sent: fire(tx, rule, group, m, id, now, now, self.ctx).await?,
            change: Some((id, "firing", "opened")),
        })
    }

    /// The condition no longer holds: a pending incident is dropped, a firing one resolved (and
    /// said so, unless muted or the rule does not send resolved notices).
    async fn clear(&self, tx: &mut Transaction<'_, Postgres>, o: &Open) -> sqlx::Result<Done> {
        if o.state == "pending" {
            db::incidents::delete(tx, o.id).await?;
            return Ok(Done {
                sent: 0,
                change: Some((o.id, "deleted", "deleted")),
            });
        }
        db::incidents::resolve(tx, o.id, self.now, self.m.value).await?;
        let mut sent = 0;
        if self.rule.spec.0.notify.send_resolved && !muted(o, self.now) {
            let notice = self.notice(o, Some(self.now), NoticeKind::Resolved);
            sent = enqueue(tx, self.rule, o.id, "resolved", &notice).await?;
        }
        Ok(Done {
            sent,
            change: Some((o.id, "resolved", "resolved")),
        })
    }

    /// The condition still holds: a pending incident fires once its group wait is over; a firing
    /// one notifies of each new failed run (`RunFailed` without `onlyFirst`) or repeats when due.
    async fn still_bad(&self, tx: &mut Transaction<'_, Postgres>, o: &Open) -> sqlx::Result<Done> {
        let (rule, m, now) = (self.rule, self.m, self.now);
        let spec = &rule.spec.0;
        update_value(tx, o.id, m, now).await?;
        if o.state == "pending" {
            if now - o.started_at < self.group_wait() {
                return Ok(Done::default());
            }
            return Ok(Done {
                sent: fire(tx, rule, self.group, m, o.id, o.started_at, now, self.ctx).await?,
                change: Some((o.id, "firing", "fired")),
            });
        }
        let every_failure = matches!(spec.condition, Condition::RunFailed { only_first: false });
        if let Some(run) = m.runs.first().filter(|r| every_failure && !o.run_ids.contains(r)) {
            db::incidents::add_run(tx, o.id, run, now).await?;
            let mut sent = 0;
            if !muted(o, now) {
                let notice = self.notice(o, None, NoticeKind::Firing);
                sent = enqueue(tx, rule, o.id, &format!("run:{run}"), &notice).await?;
            }
            return Ok(Done {
                sent,
                change: Some((o.id, "firing", "new_run")),
            });
        }
        // A flaky test is news once: while it keeps flaking, its incident stays firing quietly.
        let repeats = !matches!(spec.condition, Condition::FlakyTest { .. });
        let repeat = TimeDelta::seconds(spec.notify.repeat_interval.as_secs() as i64);
        let due = o.last_notified_at.is_some_and(|t| now - t >= repeat);
        if !repeats || !due || o.acknowledged_at.is_some() || muted(o, now) {
            return Ok(Done::default());
        }
        let n = o.repeats + 1;
        db::incidents::repeated(tx, o.id, n, now).await?;
        let notice = self.notice(o, None, NoticeKind::Repeat);
        Ok(Done {
            sent: enqueue(tx, rule, o.id, &format!("repeat:{n}"), &notice).await?,
            change: None,
        })
    }
}

fn muted(o: &Open, now: DateTime<Utc>) -> bool {
    o.muted_until.is_some_and(|t| t > now)
}

async fn update_value(
    tx: &mut Transaction<'_, Postgres>,
    id: i64,
    m: &Measure,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    db::incidents::update_value(tx, id, m.value, m.threshold, now).await
}

#[allow(clippy::too_many_arguments)]
async fn fire(
    tx: &mut Transaction<'_, Postgres>,
    rule: &RuleRow,
    group: &Group,
    m: &Measure,
    id: i64,
    started_at: DateTime<Utc>,
    now: DateTime<Utc>,
    ctx: &NoticeContext,
) -> sqlx::Result<usize> {
    db::incidents::fire(tx, id, now, &m.runs).await?;
    db::rules::mark_triggered(tx, rule.id, now).await?;
    let notice = notice(rule, group, m, id, started_at, None, NoticeKind::Firing, ctx);
    enqueue(tx, rule, id, "firing", &notice).await
}

#[allow(clippy::too_many_arguments)]
fn notice(
    rule: &RuleRow,
    group: &Group,
    m: &Measure,
    incident: i64,
    started_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    kind: NoticeKind,
    ctx: &NoticeContext,
) -> Notice {
    let spec = &rule.spec.0;
    let dashboard_url = ctx.public_url.as_ref().map(|base| {
        // A job or runner condition links to its job's trend or its runner pool, a test condition
        // to the test's history; the others to the dashboard filtered on the group.
        let (path, pairs) = super::jobs::dashboard_view(&spec.condition, &group.labels)
            .or_else(|| super::test_results::dashboard_view(&spec.condition, &group.labels))
            .or_else(|| super::delivery::dashboard_view(&spec.condition, &group.labels))
            .unwrap_or_else(|| {
                let pairs = group
                    .labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.clone()))
                    .collect();
                ("", pairs)
            });
        let query: Vec<String> = pairs
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                )
            })
            .collect();
        format!("{}/{path}?{}", base.trim_end_matches('/'), query.join("&"))
    });
    let (run_id, run_url) = match &m.latest {
        Some((id, url)) => (Some(id.clone()), url.clone()),
        None => (m.runs.first().cloned(), None),
    };
    Notice {
        kind,
        rule_id: Some(rule.id),
        rule_name: rule.name.clone(),
        severity: spec.severity,
        summary: spec.annotations.summary.clone(),
        runbook_url: spec.annotations.runbook_url.clone(),
        condition: describe(&spec.condition),
        labels: group.labels.clone(),
        value: m.value_text.clone(),
        threshold: m.threshold_text.clone(),
        incident_id: Some(incident),
        started_at,
        resolved_at,
        run_id,
        run_url,
        dashboard_url,
        environment: ctx.environment.clone(),
    }
}

/// Puts a notice in the outbox for each of the rule's integrations — or, when it names none, the
/// `SLACK_WEBHOOK_URL` one — once per incident, integration and kind; wakes the delivery workers
/// at commit.
async fn enqueue(
    tx: &mut Transaction<'_, Postgres>,
    rule: &RuleRow,
    incident: i64,
    kind: &str,
    notice: &Notice,
) -> sqlx::Result<usize> {
    let names: Vec<String> = rule
        .spec
        .0
        .notify
        .integrations
        .iter()
        .map(|i| i.name.clone())
        .collect();
    let resolved = notice.kind == NoticeKind::Resolved;
    let added = db::notifications::enqueue(tx, incident, kind, notice, &names, resolved).await?;
    if added > 0 {
        db::notify::wake_outbox(&mut **tx).await?;
    }
    Ok(added as usize)
}
