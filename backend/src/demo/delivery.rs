//! The demo's delivery history: four services deployed to staging and production, the pushes that
//! brought their commits, and the incidents that followed some deployments, written through the
//! normal recording functions (so commits are linked, and lead times computed, as for real ones).
//!
//! - `acme/web` is an elite team: every push goes to staging and, when green, to production within
//!   the hour (several deployments a day); its commits are written an hour or two before they are
//!   pushed; a bad change about every eleven days (a failed deployment, a rollback or an
//!   incident), restored within the hour.
//! - `acme/api` deploys to production every working day, `acme/infra` on Tuesdays and Thursdays.
//! - `acme/payments` is a struggling team: a release train every other week, commits that wait on
//!   long-lived branches and then for the train (lead times of weeks), two releases in three that go
//!   wrong (they fail, or cause an incident), and a day or two to restore.
//!
//! Each day of each service is drawn from a generator seeded with the seed, the service and the
//! date, so that the ids and times of a day do not depend on the day the demo is loaded (loading
//! it again later adds what happened since).

use chrono::{DateTime, Datelike, TimeDelta, Utc, Weekday};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal, Poisson};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::db::deployments as store;
use crate::delivery::{
    CommitEvent, DeploymentEvent, DeploymentKind, DeploymentStatus, IncidentEvent, PushEvent,
};

/// The source the demo's deployments and incidents are recorded under (the generic API's).
const SOURCE: &str = "generic";

/// How a team gets a change to production.
#[derive(Clone, Copy)]
enum Release {
    /// Each push that passed staging, some minutes after.
    EveryPush,
    /// The head of main on these weekdays, at about this hour (UTC).
    On(&'static [Weekday], i64),
    /// The head of main every `every` days (days since the epoch equal to `phase` modulo `every`),
    /// at this hour.
    Train { every: i64, phase: i64, hour: i64 },
}

/// How a bad change shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bad {
    /// The deployment fails; a retry restores service.
    Failed,
    /// It succeeds and is rolled back.
    RolledBack,
    /// It succeeds and causes an incident that names it.
    IncidentNamed,
    /// It succeeds and causes an incident that names no deployment (linked by time).
    IncidentInferred,
}

struct Team {
    repo: &'static str,
    /// Pushes to main on a working day and on a weekend day, on average.
    pushes: (f64, f64),
    /// Commits per push (inclusive).
    commits: (u32, u32),
    /// Hours before its push a commit was written: median and spread (log-normal), and at most.
    written: (f64, f64, f64),
    /// Staging: after every push, or else nightly on working days.
    staging_every_push: bool,
    staging_failure: f64,
    release: Release,
    /// Minutes a deployment takes.
    takes: (i64, i64),
    /// The first production deployment of day `d` is a bad change when `d % bad_every` is one of
    /// `bad_phases`; its kind goes round `kinds`.
    bad_every: i64,
    bad_phases: &'static [i64],
    kinds: &'static [Bad],
    /// Minutes from a bad change to its restoration, and from a deployment to its incident.
    restore: (i64, i64),
    incident_after: (i64, i64),
    incidents: &'static [&'static str],
}

const WORKING_DAYS: &[Weekday] = &[
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
];

/// The elite team's service, and the struggling one's.
pub const ELITE: &str = "acme/web";
pub const STRUGGLING: &str = "acme/payments";

const TEAMS: [Team; 4] = [
    Team {
        repo: ELITE,
        pushes: (5.0, 0.3),
        commits: (1, 3),
        written: (1.5, 0.6, 8.0),
        staging_every_push: true,
        staging_failure: 0.04,
        release: Release::EveryPush,
        takes: (3, 6),
        bad_every: 11,
        bad_phases: &[5],
        kinds: &[
            Bad::Failed,
            Bad::IncidentNamed,
            Bad::RolledBack,
            Bad::IncidentInferred,
        ],
        restore: (10, 45),
        incident_after: (5, 30),
        incidents: &[
            "Checkout page errors after a deploy",
            "Storefront 5xx above 1 %",
            "Product images not loading",
        ],
    },
    Team {
        repo: "acme/api",
        pushes: (3.0, 0.2),
        commits: (1, 4),
        written: (6.0, 0.8, 72.0),
        staging_every_push: true,
        staging_failure: 0.05,
        release: Release::On(WORKING_DAYS, 15),
        takes: (5, 10),
        bad_every: 9,
        bad_phases: &[2],
        kinds: &[
            Bad::RolledBack,
            Bad::Failed,
            Bad::IncidentInferred,
            Bad::IncidentNamed,
        ],
        restore: (60, 360),
        incident_after: (15, 120),
        incidents: &[
            "p99 latency of /orders above the SLO",
            "Search results empty for some users",
        ],
    },
    Team {
        repo: "acme/infra",
        pushes: (1.2, 0.0),
        commits: (1, 3),
        written: (10.0, 0.8, 96.0),
        staging_every_push: true,
        staging_failure: 0.06,
        release: Release::On(&[Weekday::Tue, Weekday::Thu], 11),
        takes: (8, 20),
        bad_every: 10,
        bad_phases: &[7],
        kinds: &[Bad::IncidentInferred, Bad::Failed, Bad::IncidentNamed],
        restore: (120, 600),
        incident_after: (30, 240),
        incidents: &[
            "DNS resolution failures in eu-west-1",
            "Ingress certificates not renewed",
        ],
    },
    Team {
        repo: STRUGGLING,
        pushes: (2.0, 0.0),
        commits: (2, 6),
        written: (96.0, 0.5, 480.0),
        staging_every_push: false,
        staging_failure: 0.10,
        release: Release::Train {
            every: 14,
            phase: 9,
            hour: 19,
        },
        takes: (30, 90),
        // Releases fall on days 9, 23 and 37 modulo 42: the first two of each three go wrong.
        bad_every: 42,
        bad_phases: &[9, 23],
        kinds: &[
            Bad::Failed,
            Bad::IncidentNamed,
            Bad::Failed,
            Bad::IncidentInferred,
        ],
        restore: (1440, 2880),
        incident_after: (120, 720),
        incidents: &[
            "Card payments failing for EU customers",
            "Settlement batch stuck",
            "Refunds double-booked",
        ],
    },
];

/// One thing to record, at its time.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Push(PushEvent),
    Deployment(DeploymentEvent),
    Incident(IncidentEvent),
}

impl Item {
    fn at(&self) -> DateTime<Utc> {
        match self {
            Item::Push(p) => p.pushed_at,
            Item::Deployment(d) => d.at,
            Item::Incident(i) => i.started_at,
        }
    }

    /// At one instant: pushes, then deployments, then incidents.
    fn rank(&self) -> u8 {
        match self {
            Item::Push(_) => 0,
            Item::Deployment(_) => 1,
            Item::Incident(_) => 2,
        }
    }
}

/// 40 hex digits from the seed and `parts`.
fn sha(seed: u64, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(seed.to_le_bytes());
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..20])
}

/// The generator of one day of one team (`salt` tells its uses apart).
fn day_rng(seed: u64, team: usize, day: i64, salt: &str) -> StdRng {
    let digest = Sha256::new()
        .chain_update(seed.to_le_bytes())
        .chain_update(team.to_le_bytes())
        .chain_update(day.to_le_bytes())
        .chain_update(salt.as_bytes())
        .finalize();
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(&digest);
    StdRng::from_seed(bytes)
}

fn minutes(m: i64) -> TimeDelta {
    TimeDelta::minutes(m)
}

fn day_start(day: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(day * 86_400, 0).unwrap_or_default()
}

fn working(day: i64) -> bool {
    WORKING_DAYS.contains(&day_start(day).weekday())
}

/// What one team's days produce.
struct Days<'a> {
    team: &'a Team,
    index: usize,
    seed: u64,
    now: DateTime<Utc>,
    items: Vec<Item>,
}

impl Days<'_> {
    /// A deployment from `start` to `end`: in progress from its start, then `status` at its end
    /// (what has happened by now).
    #[allow(clippy::too_many_arguments)]
    fn deploy(
        &mut self,
        id: String,
        environment: &str,
        sha: &str,
        kind: DeploymentKind,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        status: DeploymentStatus,
    ) {
        if start > self.now {
            return;
        }
        let repo = self.team.repo;
        let short = &sha[..7];
        let event = |status, at| DeploymentEvent {
            source: SOURCE.into(),
            external_id: id.clone(),
            repo: Some(repo.into()),
            service: repo.into(),
            environment: environment.into(),
            sha: Some(sha.into()),
            git_ref: Some("main".into()),
            creator: Some("deploy-bot".into()),
            run_id: None,
            artifact: Some(format!("registry.example.com/{repo}:{short}")),
            kind,
            status,
            at,
            created_at: Some(start),
            // example.com: the demo's links must not lead to somebody's real project.
            url: Some(format!("https://cd.example.com/{repo}/deployments/{id}")),
            description: Some(match kind {
                DeploymentKind::Rollback => format!("Roll {environment} back to {short}"),
                _ => format!("Deploy {short} to {environment}"),
            }),
            commits: Vec::new(),
        };
        self.items
            .push(Item::Deployment(event(DeploymentStatus::InProgress, start)));
        if end <= self.now {
            self.items.push(Item::Deployment(event(status, end)));
        }
    }

    fn incident(
        &mut self,
        id: String,
        title: &str,
        deployment: Option<&str>,
        started: DateTime<Utc>,
        resolved: DateTime<Utc>,
    ) {
        if started > self.now {
            return;
        }
        self.items.push(Item::Incident(IncidentEvent {
            source: SOURCE.into(),
            url: Some(format!("https://status.example.com/incidents/{id}")),
            external_id: id,
            service: self.team.repo.into(),
            environment: Some("production".into()),
            deployment: deployment.map(Into::into),
            artifact: None,
            title: Some(title.into()),
            started_at: started,
            resolved_at: (resolved <= self.now).then_some(resolved),
        }));
    }

    /// The pushes to main of days `first..=last`: (time, sha after) in order.
    fn pushes(&mut self, first: i64, last: i64, initial: &str) -> Vec<(DateTime<Utc>, String)> {
        let team = self.team;
        let written = LogNormal::new(team.written.0.ln(), team.written.1).expect("valid distribution");
        let mut head = initial.to_owned();
        let mut out = Vec::new();
        for day in first..=last {
            let mut rng = day_rng(self.seed, self.index, day, "pushes");
            let (rate, from_h, span_h) = if working(day) {
                (team.pushes.0, 8.0, 10.0)
            } else {
                (team.pushes.1, 10.0, 6.0)
            };
            let n = Poisson::new(rate).map_or(0.0, |p| p.sample(&mut rng)) as usize;
            let mut times: Vec<DateTime<Utc>> = (0..n)
                .map(|_| {
                    let h: f64 = from_h + rng.gen::<f64>() * span_h;
                    day_start(day) + TimeDelta::seconds((h * 3600.0) as i64)
                })
                .collect();
            times.sort();
            for (i, at) in times.into_iter().enumerate() {
                if at > self.now {
                    break;
                }
                let (d, i) = (day.to_string(), i.to_string());
                let after = sha(self.seed, &[team.repo, &d, &i]);
                let k = rng.gen_range(team.commits.0..=team.commits.1);
                let commits = (0..k)
                    .map(|j| {
                        let hours = written.sample(&mut rng).min(team.written.2);
                        CommitEvent {
                            // The last commit is the push's head.
                            sha: if j + 1 == k {
                                after.clone()
                            } else {
                                sha(self.seed, &[team.repo, &d, &i, &j.to_string()])
                            },
                            committed_at: Some(at - TimeDelta::seconds((hours * 3600.0) as i64)),
                            merged_at: None,
                        }
                    })
                    .collect();
                self.items.push(Item::Push(PushEvent {
                    repo: team.repo.into(),
                    default_branch: Some("main".into()),
                    git_ref: "refs/heads/main".into(),
                    before: Some(head.clone()),
                    after: after.clone(),
                    pushed_at: at,
                    commits,
                }));
                head = after.clone();
                out.push((at, after));
            }
        }
        out
    }

    /// The deployments and incidents of days `first..=last`.
    fn deployments(&mut self, first: i64, last: i64, pushes: &[(DateTime<Utc>, String)], initial: &str) {
        let team = self.team;
        let short = team.repo.rsplit('/').next().unwrap_or(team.repo);
        let head_at = |t: DateTime<Utc>| match pushes.partition_point(|p| p.0 <= t) {
            0 => initial.to_owned(),
            n => pushes[n - 1].1.clone(),
        };
        let range = |rng: &mut StdRng, (a, b): (i64, i64)| minutes(rng.gen_range(a..=b));
        let mut last_staged = String::new();
        // The sha production runs (after its last successful deployment).
        let mut live: Option<String> = None;
        for day in first..=last {
            let mut rng = day_rng(self.seed, self.index, day, "deployments");
            let start = day_start(day);
            let stamp = start.format("%Y%m%d").to_string();
            let mut production: Vec<(DateTime<Utc>, String)> = Vec::new();
            let mut staged = 0;
            let mut stage = |days: &mut Self, rng: &mut StdRng, at: DateTime<Utc>, sha: &str| {
                staged += 1;
                let end = at + range(rng, team.takes);
                let ok = !rng.gen_bool(team.staging_failure);
                let status = if ok {
                    DeploymentStatus::Success
                } else {
                    DeploymentStatus::Failure
                };
                let id = format!("{short}-staging-{stamp}-{staged}");
                days.deploy(id, "staging", sha, DeploymentKind::Deploy, at, end, status);
                (ok, end)
            };
            if team.staging_every_push {
                let today = pushes
                    .iter()
                    .filter(|p| p.0 >= start && p.0 < start + TimeDelta::days(1));
                for (at, sha) in today {
                    let begin = *at + minutes(rng.gen_range(5..=15));
                    let (ok, end) = stage(self, &mut rng, begin, sha);
                    if ok && matches!(team.release, Release::EveryPush) {
                        production.push((end + minutes(rng.gen_range(10..=25)), sha.clone()));
                    }
                }
            } else if working(day) {
                let at = start + TimeDelta::hours(2) + minutes(rng.gen_range(0..=20));
                let sha = head_at(at);
                if sha != last_staged {
                    stage(self, &mut rng, at, &sha);
                    last_staged = sha;
                }
            }
            match team.release {
                Release::EveryPush => {}
                Release::On(weekdays, hour) => {
                    if weekdays.contains(&start.weekday()) {
                        let at = start + TimeDelta::hours(hour) + minutes(rng.gen_range(-60..=60));
                        production.push((at, head_at(at)));
                    }
                }
                Release::Train { every, phase, hour } => {
                    if day.rem_euclid(every) == phase {
                        let at = start + TimeDelta::hours(hour) + minutes(rng.gen_range(0..=30));
                        production.push((at, head_at(at)));
                    }
                }
            }
            let mut bad = team
                .bad_phases
                .iter()
                .position(|&p| day.rem_euclid(team.bad_every) == p)
                .map(|i| {
                    let turn = usize::try_from(day.div_euclid(team.bad_every)).unwrap_or(0) + i;
                    team.kinds[turn % team.kinds.len()]
                });
            let mut deployed = 0;
            for (begin, sha) in production {
                if live.as_deref() == Some(sha.as_str()) {
                    continue;
                }
                deployed += 1;
                let id = format!("{short}-production-{stamp}-{deployed}");
                let end = begin + range(&mut rng, team.takes);
                let ok = DeploymentStatus::Success;
                let title = team.incidents[rng.gen_range(0..team.incidents.len())];
                match bad.take() {
                    None => {
                        self.deploy(id, "production", &sha, DeploymentKind::Deploy, begin, end, ok);
                        live = Some(sha);
                    }
                    Some(Bad::Failed) => {
                        let failed = DeploymentStatus::Failure;
                        self.deploy(
                            id.clone(),
                            "production",
                            &sha,
                            DeploymentKind::Deploy,
                            begin,
                            end,
                            failed,
                        );
                        // Fixed (a setting, a migration), then deployed again.
                        let again = end + range(&mut rng, team.restore);
                        let done = again + range(&mut rng, team.takes);
                        let retry = format!("{id}-retry");
                        self.deploy(retry, "production", &sha, DeploymentKind::Deploy, again, done, ok);
                        live = Some(sha);
                    }
                    Some(Bad::RolledBack) => {
                        self.deploy(
                            id.clone(),
                            "production",
                            &sha,
                            DeploymentKind::Deploy,
                            begin,
                            end,
                            ok,
                        );
                        let back = live.clone().unwrap_or_else(|| initial.to_owned());
                        let done = end + range(&mut rng, team.restore);
                        let at = (done - range(&mut rng, team.takes)).max(end + minutes(1));
                        let rollback = format!("{id}-rollback");
                        self.deploy(
                            rollback,
                            "production",
                            &back,
                            DeploymentKind::Rollback,
                            at,
                            done,
                            ok,
                        );
                    }
                    Some(kind @ (Bad::IncidentNamed | Bad::IncidentInferred)) => {
                        self.deploy(
                            id.clone(),
                            "production",
                            &sha,
                            DeploymentKind::Deploy,
                            begin,
                            end,
                            ok,
                        );
                        live = Some(sha);
                        let started = end + range(&mut rng, team.incident_after);
                        let resolved = started + range(&mut rng, team.restore);
                        let named = (kind == Bad::IncidentNamed).then_some(id.as_str());
                        let incident = format!("INC-{short}-{stamp}");
                        self.incident(incident, title, named, started, resolved);
                    }
                }
            }
        }
    }
}

/// The delivery history of the `days` before `now`, in the order to record it.
pub fn generate(days: i64, seed: u64, now: DateTime<Utc>) -> Vec<Item> {
    let first = (now - TimeDelta::days(days)).timestamp().div_euclid(86_400);
    let last = now.timestamp().div_euclid(86_400);
    let mut items = Vec::new();
    for (index, team) in TEAMS.iter().enumerate() {
        let mut days = Days {
            team,
            index,
            seed,
            now,
            items: Vec::new(),
        };
        // What main held before the history begins.
        let initial = sha(seed, &[team.repo, "initial"]);
        let pushes = days.pushes(first, last, &initial);
        days.deployments(first, last, &pushes, &initial);
        items.extend(days.items);
    }
    items.sort_by_key(|i| (i.at(), i.rank()));
    items
}

/// What [`load`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Deployment statuses, pushes, the commits they brought, and incidents.
    pub deployment_statuses: usize,
    pub pushes: usize,
    pub commits: usize,
    pub incidents: usize,
}

/// Records the history of the `days` before `now` in time order, 500 items a transaction.
pub async fn load(pool: &PgPool, days: i64, seed: u64, now: DateTime<Utc>) -> anyhow::Result<Written> {
    let items = generate(days, seed, now);
    let mut written = Written::default();
    for chunk in items.chunks(500) {
        let mut tx = pool.begin().await?;
        for item in chunk {
            match item {
                Item::Push(p) => {
                    store::record_push(&mut tx, p).await?;
                    written.pushes += 1;
                    written.commits += p.commits.len();
                }
                Item::Deployment(d) => {
                    store::record(&mut tx, d).await?;
                    written.deployment_statuses += 1;
                }
                Item::Incident(i) => {
                    store::record_incident(&mut tx, i).await?;
                    written.incidents += 1;
                }
            }
        }
        tx.commit().await?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-01T12:34:56Z".parse().unwrap()
    }

    /// The production deployments of `service` that ended in the 30 days before `now`: (id,
    /// status, kind).
    fn production(items: &[Item], service: &str, now: DateTime<Utc>) -> Vec<(String, DeploymentStatus)> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Deployment(d)
                    if d.service == service
                        && d.environment == "production"
                        && d.status != DeploymentStatus::InProgress
                        && d.at >= now - TimeDelta::days(30) =>
                {
                    Some((d.external_id.clone(), d.status))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_history_and_a_day_is_the_same_whenever_loaded() {
        let a = generate(90, 7, now());
        assert_eq!(a, generate(90, 7, now()));
        assert!(a.iter().all(|i| i.at() <= now()));
        assert_ne!(a, generate(90, 8, now()));
        // Loaded a week later, the days both hold are the same (but for the first ones, whose
        // pushes start from another head, and the last ones, which have gone on since).
        let later = generate(90, 7, now() + TimeDelta::days(7));
        let span = |items: &[Item]| -> Vec<Item> {
            items
                .iter()
                .filter(|i| i.at() >= now() - TimeDelta::days(60) && i.at() < now() - TimeDelta::days(3))
                .cloned()
                .collect()
        };
        let (x, y) = (span(&a), span(&later));
        assert!(x.len() > 1000, "{}", x.len());
        assert_eq!(x, y);
    }

    #[test]
    fn the_elite_team_deploys_several_times_a_day_and_the_struggling_one_every_other_week() {
        let items = generate(90, 42, now());
        let elite = production(&items, ELITE, now());
        assert!(elite.len() > 60, "{}", elite.len());
        let failed = elite.iter().filter(|d| d.1 == DeploymentStatus::Failure).count();
        assert!(failed <= 3, "{failed}");
        let struggling = production(&items, STRUGGLING, now());
        assert!((2..=6).contains(&struggling.len()), "{struggling:?}");
        // Some incidents name their deployment, others do not.
        let incidents: Vec<&IncidentEvent> = items
            .iter()
            .filter_map(|i| match i {
                Item::Incident(i) => Some(i),
                _ => None,
            })
            .collect();
        assert!(incidents.iter().any(|i| i.deployment.is_some()));
        assert!(incidents.iter().any(|i| i.deployment.is_none()));
        assert!(items
            .iter()
            .any(|i| matches!(i, Item::Deployment(d) if d.kind == DeploymentKind::Rollback)));
    }
}
