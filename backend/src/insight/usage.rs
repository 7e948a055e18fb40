//! `GET /api/usage`: billable minutes and cost per repository, workflow or label set, per day.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};

use super::*;

/// What `GET /api/usage` groups by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum UsageGroup {
    #[default]
    Repo,
    Workflow,
    Labels,
}

/// Query parameters of `GET /api/usage`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// IANA time zone whose local midnight starts each day; default `UTC`.
    #[param(max_length = 64, example = "Europe/Paris")]
    pub tz: Option<String>,
    #[param(inline)]
    pub group_by: Option<UsageGroup>,
    /// Only this repository (when grouping by repo or workflow).
    #[param(max_length = 255)]
    pub repo: Option<String>,
}

/// Minutes and cost of a group or of everything, over a period or a day.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ToSchema)]
pub struct UsageFigures {
    /// Finished jobs.
    pub jobs: i64,
    pub billable_minutes: f64,
    /// The minutes prices apply to (billable minutes before GitHub's OS multiplier).
    pub minutes: f64,
    pub cost: f64,
}

impl UsageFigures {
    fn of(t: &Totals, settings: &Settings) -> Self {
        UsageFigures {
            jobs: t.counters.jobs,
            billable_minutes: t.counters.billable_ms as f64 / 60_000.0,
            minutes: t.counters.priced_ms as f64 / 60_000.0,
            cost: t.cost(settings),
        }
    }
}

/// One day's figures.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct UsageDay {
    /// The day's first instant (local midnight in `tz`).
    pub day: DateTime<Utc>,
    #[serde(flatten)]
    pub figures: UsageFigures,
}

/// One group's figures.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct UsageRow {
    /// The repository (`repo`, `workflow` groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// The workflow (`workflow` groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow: Option<String>,
    /// The label set (`labels` groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    #[serde(flatten)]
    pub figures: UsageFigures,
    /// The same figures over the period before the window.
    pub previous: UsageFigures,
    /// Per day of the window, zero-filled.
    pub days: Vec<UsageDay>,
}

/// `GET /api/usage`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Usage {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group_by: UsageGroup,
    pub currency: String,
    pub total: UsageFigures,
    pub previous: UsageFigures,
    pub days: Vec<UsageDay>,
    /// Most billable minutes first.
    pub groups: Vec<UsageRow>,
}

/// `GET /api/usage`.
pub async fn usage(
    pool: &PgPool,
    cache: &TileCache,
    params: &UsageParams,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Result<Usage, Error> {
    check_filters([("repo", &params.repo), ("workflow", &None), ("branch", &None)])?;
    let window = TimeWindow::parse(params.from, params.to, params.tz.as_deref(), now)?;
    let span = Span::new(window, now);
    let group_by = params.group_by.unwrap_or_default();
    let scope = match group_by {
        UsageGroup::Repo => JobScope::RepoLabels,
        UsageGroup::Workflow => JobScope::WorkflowLabels,
        UsageGroup::Labels => JobScope::Labels,
    };
    let repo = non_empty(&params.repo);
    if repo.is_some() && group_by == UsageGroup::Labels {
        return Err(invalid(
            "repo",
            "cannot filter usage grouped by labels; group by repo or workflow",
        ));
    }
    // Each local day is tiled on its own, tagged with its place in `days` (after PREVIOUS), so
    // every row falls in one day.
    let days = periods(&window, Period::Day);
    let mut tiles_all = tagged(tiles(span.previous_from(), window.from, false), PREVIOUS);
    for (i, &d) in days.iter().enumerate() {
        let end = Period::Day.next(d, window.tz).min(window.to);
        let last = i + 1 == days.len();
        tiles_all.extend(tagged(
            tiles(d.max(window.from), end, span.open && last),
            PREVIOUS + 1 + i as u32,
        ));
    }
    let filter = KeyFilter {
        repo,
        ..KeyFilter::default()
    };
    // Usage shows no quantiles: the database adds the rows up per tag and key.
    let rows = sums_of(pool, cache, scope, &tiles_all, &filter, Sum::Counters, now).await?;
    type Group = (String, String, String);
    type Days = BTreeMap<DateTime<Utc>, Totals>;
    let mut groups: BTreeMap<Group, (Totals, Totals, Days)> = BTreeMap::new();
    let (mut total, mut previous) = (Totals::default(), Totals::default());
    let mut per_day: BTreeMap<DateTime<Utc>, Totals> = BTreeMap::new();
    for (tag, k, c) in rows {
        let group = match group_by {
            UsageGroup::Repo => (k.repo.clone(), String::new(), String::new()),
            UsageGroup::Workflow => (k.repo.clone(), k.workflow.clone(), String::new()),
            UsageGroup::Labels => (String::new(), String::new(), k.labels.clone()),
        };
        let g = groups.entry(group).or_default();
        let (labels, c) = (&k.labels, &c);
        match tag.checked_sub(PREVIOUS + 1) {
            Some(i) => {
                let day = days[i as usize];
                g.0.add(labels, c, 1);
                g.2.entry(day).or_default().add(labels, c, 1);
                total.add(labels, c, 1);
                per_day.entry(day).or_default().add(labels, c, 1);
            }
            None => {
                g.1.add(labels, c, 1);
                previous.add(labels, c, 1);
            }
        }
    }
    let day_list = |m: &BTreeMap<DateTime<Utc>, Totals>| -> Vec<UsageDay> {
        days.iter()
            .map(|d| UsageDay {
                day: *d,
                figures: m
                    .get(d)
                    .map(|t| UsageFigures::of(t, settings))
                    .unwrap_or_default(),
            })
            .collect()
    };
    let mut rows: Vec<UsageRow> = groups
        .into_iter()
        .filter(|(_, (cur, _, _))| cur.counters.jobs > 0)
        .map(|((repo, workflow, labels), (cur, prev, by_day))| UsageRow {
            repo: (group_by != UsageGroup::Labels).then_some(repo),
            workflow: (group_by == UsageGroup::Workflow).then_some(workflow),
            labels: (group_by == UsageGroup::Labels).then(|| labels_of(&labels)),
            figures: UsageFigures::of(&cur, settings),
            previous: UsageFigures::of(&prev, settings),
            days: day_list(&by_day),
        })
        .collect();
    rows.sort_by(|a, b| {
        b.figures
            .billable_minutes
            .total_cmp(&a.figures.billable_minutes)
            .then_with(|| (&a.repo, &a.workflow, &a.labels).cmp(&(&b.repo, &b.workflow, &b.labels)))
    });
    Ok(Usage {
        from: window.from,
        to: window.to,
        group_by,
        currency: settings.currency.clone(),
        total: UsageFigures::of(&total, settings),
        previous: UsageFigures::of(&previous, settings),
        days: day_list(&per_day),
        groups: rows,
    })
}

/// Usage as CSV: one line per group and day (`day,repo,workflow,labels,jobs,billable_minutes,minutes,cost,currency`).
pub fn usage_csv(u: &Usage) -> String {
    let field = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let mut out = String::from("day,repo,workflow,labels,jobs,billable_minutes,minutes,cost,currency\n");
    for g in &u.groups {
        for d in &g.days {
            out.push_str(&format!(
                "{},{},{},{},{},{:.2},{:.2},{:.4},{}\n",
                d.day.to_rfc3339(),
                field(g.repo.as_deref().unwrap_or("")),
                field(g.workflow.as_deref().unwrap_or("")),
                field(&g.labels.as_ref().map(|l| l.join(" ")).unwrap_or_default()),
                d.figures.jobs,
                d.figures.billable_minutes,
                d.figures.minutes,
                d.figures.cost,
                field(&u.currency),
            ));
        }
    }
    out
}
