//! The test alert conditions (`FlakyTest`, `TestFailureRate`) against a real database and a fake
//! Slack, fed by JUnit reports uploaded for runs: a test that turns flaky opens one incident per
//! test and repository, said once with a link to its history, and resolves when its flakes leave
//! the window; a test that fails too often (named, or matched by a glob) fires once it ran
//! `minRuns` times and resolves when its rate drops or its runs leave the window. The engine's
//! clock is the `now` given to `tick`.

use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::alerting::{rule, slack_integration};
use crate::delivery::drain;
use crate::fake_slack::FakeSlack;
use crate::job_alerts::{condition_variants, incidents, kinds};
use crate::support::{event, fields, TestApp, ADMIN};
use crate::test_results::junit;

/// A finished run of `repo`'s `ci` on `main`, on `commit`, started at `at`.
async fn run(app: &TestApp, repo: &str, id: &str, status: &str, commit: &str, at: DateTime<Utc>) {
    let r = app
        .event(&event(json!({
            "id": id, "repo": repo, "workflow": "ci", "branch": "main", "status": status,
            "commit_sha": commit, "started_at": at.to_rfc3339(),
            "finished_at": (at + TimeDelta::seconds(90)).to_rfc3339(), "duration_seconds": 90,
            "url": format!("https://ci.example.com/{id}")
        })))
        .await;
    assert!(r.status.is_success(), "{}", r.text);
}

/// Uploads a JUnit report for run `run_id`, which exists (so the report is attached at once).
async fn upload(app: &TestApp, run_id: &str, xml: &str) {
    let auth = format!("Bearer {}", app.ingest);
    let r = app
        .send(
            &format!("/api/runs/{run_id}/tests"),
            &[("authorization", &auth), ("content-type", "application/xml")],
            xml.to_owned(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["attached"], true, "{}", r.text);
}

/// A run of `repo` on `commit` at `at` with one report of class `Calc` (see [`junit`]); failed
/// when a case fails.
async fn tested(
    app: &TestApp,
    repo: &str,
    id: &str,
    commit: &str,
    at: DateTime<Utc>,
    cases: &[(&str, &str)],
) {
    let failed = cases.iter().any(|(_, o)| matches!(*o, "fail" | "error"));
    run(
        app,
        repo,
        id,
        if failed { "failure" } else { "success" },
        commit,
        at,
    )
    .await;
    upload(app, id, &junit(cases)).await;
}

/// The rule's notifications, in order: `(kind, notice)`.
async fn outbox(pool: &PgPool, rule: i64) -> Vec<(String, Value)> {
    sqlx::query_as::<_, (String, sqlx::types::Json<Value>)>(
        "select n.kind, n.notice from notifications n join alert_incidents i on i.id = n.incident_id \
         where i.rule_id = $1 order by n.id",
    )
    .bind(rule)
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|(k, n)| (k, n.0))
    .collect()
}

/// `(repo, test)` of each incident, sorted.
fn tests_of(incidents: &[Value]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = incidents
        .iter()
        .map(|i| {
            (
                i["labels"]["repo"].as_str().unwrap().to_owned(),
                i["labels"]["test"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

/// The id of a test as the tests API names it (by class and name; every test here is in suite
/// `unit`).
async fn test_id(app: &TestApp, classname: &str, name: &str) -> i64 {
    let r = app.get(&format!("/api/tests?q={name}&limit=100")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["tests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["classname"] == classname && t["name"] == name)
        .unwrap_or_else(|| panic!("no {classname}::{name} in {}", r.text))["test_id"]
        .as_i64()
        .unwrap()
}

/// The text of every block and field of a Slack message, and its buttons' URLs.
fn slack_text(message: &Value) -> (String, Vec<String>) {
    let mut text = message["text"].as_str().unwrap_or_default().to_owned();
    let mut urls = Vec::new();
    for block in message["blocks"].as_array().unwrap() {
        if let Some(t) = block["text"]["text"].as_str() {
            text.push('\n');
            text.push_str(t);
        }
        for f in block["fields"].as_array().into_iter().flatten() {
            text.push('\n');
            text.push_str(f["text"].as_str().unwrap());
        }
        for e in block["elements"].as_array().into_iter().flatten() {
            if let Some(url) = e["url"].as_str() {
                urls.push(url.to_owned());
            }
        }
    }
    (text, urls)
}

/// A report in which `Calc::logout` fails then passes on a retry, and `Net::connects` passes
/// after a `<flakyFailure>` (a Surefire rerun): both flaky within the one run.
const RETRIED: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
<testsuite name="unit">
<testcase classname="Calc" name="logout" time="0.1"><failure message="session still open"/></testcase>
<testcase classname="Calc" name="logout" time="0.1"/>
<testcase classname="Net" name="connects" time="0.3"><flakyFailure message="timed out" type="TimeoutError"/></testcase>
<testcase classname="Calc" name="adds" time="0.1"/>
</testsuite>
</testsuites>
"#;

#[sqlx::test(migrations = "../migrations")]
async fn a_newly_flaky_test_fires_once_per_test_and_repo_and_resolves_when_its_flakes_leave_the_window(
    pool: PgPool,
) {
    let app = TestApp::new(pool.clone()).await;
    let slack = FakeSlack::start().await;
    slack_integration(&app, "slack", &slack.url("T1")).await;
    // A repeat interval of a minute: a FlakyTest incident still says nothing more.
    let id = rule(
        &app,
        "newly-flaky",
        json!({"match": {"repo": "acme/*", "branches": ["main"]}, "condition": {"type": "FlakyTest"},
               "severity": "info",
               "notify": {"integrations": [{"name": "slack"}], "groupWait": "0s", "repeatInterval": "1m"}}),
    )
    .await;
    // The flaky commits' runs are on main, and in acme/*: these rules see none of them.
    let on_release = rule(
        &app,
        "flaky-on-release",
        json!({"match": {"branches": ["release"]}, "condition": {"type": "FlakyTest"},
               "notify": {"groupWait": "0s"}}),
    )
    .await;
    let elsewhere = rule(
        &app,
        "flaky-elsewhere",
        json!({"match": {"repo": "other/*"}, "condition": {"type": "FlakyTest", "window": "1d"},
               "notify": {"groupWait": "0s"}}),
    )
    .await;

    // The runs' provider (events sent to /api/events are `generic`) selects them; another does not.
    let generic = rule(
        &app,
        "flaky-generic",
        json!({"match": {"provider": "generic", "workflows": ["ci"]}, "condition": {"type": "FlakyTest"},
               "notify": {"groupWait": "0s"}}),
    )
    .await;
    let github = rule(
        &app,
        "flaky-github",
        json!({"match": {"provider": "github"}, "condition": {"type": "FlakyTest"},
               "notify": {"groupWait": "0s"}}),
    )
    .await;

    let t0 = Utc::now();
    let ago = |minutes: i64| t0 - TimeDelta::minutes(minutes);
    // acme/api: `login` fails on c1, and passes when c1 is run again.
    tested(
        &app,
        "acme/api",
        "api-1",
        "c1",
        ago(300),
        &[("login", "fail"), ("adds", "pass")],
    )
    .await;
    tested(
        &app,
        "acme/api",
        "api-2",
        "c1",
        ago(290),
        &[("login", "pass"), ("adds", "pass")],
    )
    .await;
    // `logout` and `connects` flake within one run of c2.
    run(&app, "acme/api", "api-3", "success", "c2", ago(240)).await;
    upload(&app, "api-3", RETRIED).await;
    // `divides` fails on c3 and passes on c4: broken then fixed, not flaky.
    tested(&app, "acme/api", "api-4", "c3", ago(180), &[("divides", "fail")]).await;
    tested(&app, "acme/api", "api-5", "c4", ago(170), &[("divides", "pass")]).await;
    // The same `login` test flakes in acme/web: an incident of its own.
    tested(&app, "acme/web", "web-1", "w1", ago(240), &[("login", "fail")]).await;
    tested(&app, "acme/web", "web-2", "w1", ago(230), &[("login", "pass")]).await;

    let alerts = &app.state.alerts;
    alerts.tick(t0).await.unwrap();
    let firing = incidents(&app, id, "firing").await;
    assert_eq!(
        tests_of(&firing),
        pairs(&[
            ("acme/api", "Calc::login"),
            ("acme/api", "Calc::logout"),
            ("acme/api", "Net::connects"),
            ("acme/web", "Calc::login"),
        ]),
        "{firing:?}"
    );
    assert!(incidents(&app, on_release, "all").await.is_empty());
    assert!(incidents(&app, elsewhere, "all").await.is_empty());
    assert!(incidents(&app, github, "all").await.is_empty());
    assert_eq!(
        tests_of(&incidents(&app, generic, "firing").await),
        tests_of(&firing)
    );

    let login = test_id(&app, "Calc", "login").await;
    let api_login = firing
        .iter()
        .find(|i| i["labels"]["repo"] == "acme/api" && i["labels"]["test"] == "Calc::login")
        .unwrap();
    assert_eq!(
        api_login["labels"],
        json!({"repo": "acme/api", "suite": "unit", "test": "Calc::login", "test_id": login.to_string()})
    );
    assert_eq!(api_login["value"], 1.0, "flaky on one commit");
    assert_eq!(api_login["run_ids"], json!(["api-1"]), "the run it made red");

    let sent = outbox(&pool, id).await;
    assert_eq!(kinds(&sent), ["firing"; 4]);
    let notice = sent
        .iter()
        .map(|(_, n)| n)
        .find(|n| n["labels"]["repo"] == "acme/api" && n["labels"]["test"] == "Calc::login")
        .unwrap();
    let history = format!("https://cicd.example.com/tests?test={login}&test_repo=acme%2Fapi");
    assert_eq!(notice["dashboard_url"], history);
    assert_eq!(
        notice["condition"],
        "a test flaked (passed and failed on one commit) within 7d"
    );
    let value = notice["value"].as_str().unwrap();
    assert!(
        value.starts_with("flaky on 1 commit in the last 7d (first seen "),
        "{value}"
    );
    assert_eq!(notice["run_id"], "api-1");
    assert_eq!(notice["run_url"], "https://ci.example.com/api-1");
    let web = sent
        .iter()
        .map(|(_, n)| n)
        .find(|n| n["labels"]["repo"] == "acme/web")
        .unwrap();
    assert_eq!(
        web["dashboard_url"],
        format!("https://cicd.example.com/tests?test={login}&test_repo=acme%2Fweb")
    );

    // Slack gets each once: the test named in the text and a field, the history behind a button,
    // the test's id (only for the link) not shown.
    drain(&app, Duration::from_secs(15)).await;
    let received = slack.received();
    assert_eq!(received.len(), 4, "{received:?}");
    let (text, urls) = received
        .iter()
        .map(|(_, m)| slack_text(m))
        .find(|(_, urls)| urls.contains(&history))
        .expect("a message links to acme/api's login history");
    assert!(text.contains("acme/api · Calc::login · unit"), "{text}");
    assert!(text.contains("*Test*\nCalc::login"), "{text}");
    assert!(text.contains("*Suite*\nunit"), "{text}");
    assert!(text.contains("flaky on 1 commit in the last 7d"), "{text}");
    assert!(!text.contains(&format!("\n{login}\n")), "{text}");
    assert!(
        urls.contains(&"https://ci.example.com/api-1".to_owned()),
        "{urls:?}"
    );
    for (_, m) in &received {
        let (text, _) = slack_text(m);
        assert!(text.contains("newly-flaky"), "{text}");
    }

    // `login` flakes again, on another commit: its incident holds (with two commits now) and
    // nothing is said again, however long it keeps firing.
    tested(
        &app,
        "acme/api",
        "api-6",
        "c5",
        ago(60),
        &[("login", "fail"), ("adds", "pass")],
    )
    .await;
    tested(
        &app,
        "acme/api",
        "api-7",
        "c5",
        ago(50),
        &[("login", "pass"), ("adds", "pass")],
    )
    .await;
    alerts.tick(t0 + TimeDelta::minutes(10)).await.unwrap();
    alerts.tick(t0 + TimeDelta::hours(5)).await.unwrap();
    alerts.tick(t0 + TimeDelta::days(2)).await.unwrap();
    let firing = incidents(&app, id, "firing").await;
    assert_eq!(
        firing.len(),
        4,
        "one incident per test and repository: {firing:?}"
    );
    let api_login = firing
        .iter()
        .find(|i| i["labels"]["repo"] == "acme/api" && i["labels"]["test"] == "Calc::login")
        .unwrap();
    assert_eq!(api_login["value"], 2.0, "flaky on two commits");
    assert_eq!(kinds(&outbox(&pool, id).await), ["firing"; 4]);

    // A week after the older flakes, only `login` of acme/api (flaky 50 minutes before t0) is
    // still within the window; the others resolve.
    alerts
        .tick(t0 + TimeDelta::days(7) - TimeDelta::hours(2))
        .await
        .unwrap();
    assert_eq!(
        tests_of(&incidents(&app, id, "firing").await),
        pairs(&[("acme/api", "Calc::login")])
    );
    assert_eq!(
        tests_of(&incidents(&app, id, "resolved").await),
        pairs(&[
            ("acme/api", "Calc::logout"),
            ("acme/api", "Net::connects"),
            ("acme/web", "Calc::login"),
        ])
    );
    alerts
        .tick(t0 + TimeDelta::days(7) + TimeDelta::hours(1))
        .await
        .unwrap();
    assert!(incidents(&app, id, "firing").await.is_empty());
    assert_eq!(incidents(&app, id, "resolved").await.len(), 4);
    let sent = outbox(&pool, id).await;
    assert_eq!(
        kinds(&sent),
        ["firing", "firing", "firing", "firing", "resolved", "resolved", "resolved", "resolved"]
    );
    assert_eq!(
        sent.last().unwrap().1["dashboard_url"],
        history,
        "the resolution links to the history too"
    );
    drain(&app, Duration::from_secs(15)).await;
    let received = slack.received();
    assert_eq!(received.len(), 8, "{received:?}");
    assert!(received[4..]
        .iter()
        .all(|(_, m)| m["text"].as_str().unwrap().starts_with("✅ resolved")));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_named_test_failure_rate_waits_for_min_runs_fires_and_resolves(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let slack = FakeSlack::start().await;
    slack_integration(&app, "slack", &slack.url("T1")).await;
    let id = rule(
        &app,
        "divides-failing",
        json!({"condition": {"type": "TestFailureRate",
                             "test": {"repo": "acme/api", "classname": "Calc", "name": "divides"},
                             "threshold": 50, "window": "1d", "minRuns": 4},
               "notify": {"integrations": [{"name": "slack"}], "groupWait": "0s"}}),
    )
    .await;
    // The same name in another repository, another suite or another class is another test.
    let others = [
        json!({"repo": "acme/web", "name": "divides"}),
        json!({"repo": "acme/api", "name": "divides", "suite": "integration"}),
        json!({"repo": "acme/api", "name": "divides", "classname": "Other"}),
    ];
    let mut other_rules = Vec::new();
    for (i, test) in others.into_iter().enumerate() {
        other_rules.push(
            rule(
                &app,
                &format!("other-{i}"),
                json!({"condition": {"type": "TestFailureRate", "test": test, "threshold": 1, "window": "1d",
                                     "minRuns": 1},
                       "notify": {"groupWait": "0s"}}),
            )
            .await,
        );
    }

    let t0 = Utc::now();
    let ago = |minutes: i64| t0 - TimeDelta::minutes(minutes);
    tested(
        &app,
        "acme/api",
        "r1",
        "c1",
        ago(240),
        &[("divides", "fail"), ("adds", "pass")],
    )
    .await;
    tested(
        &app,
        "acme/api",
        "r2",
        "c2",
        ago(230),
        &[("divides", "pass"), ("adds", "pass")],
    )
    .await;
    tested(
        &app,
        "acme/api",
        "r3",
        "c3",
        ago(220),
        &[("divides", "error"), ("adds", "pass")],
    )
    .await;
    // A skipped result is not a run.
    tested(
        &app,
        "acme/api",
        "r4",
        "c4",
        ago(210),
        &[("divides", "skip"), ("adds", "pass")],
    )
    .await;
    tested(&app, "acme/web", "w1", "w1", ago(200), &[("divides", "pass")]).await;

    let alerts = &app.state.alerts;
    alerts.tick(t0).await.unwrap();
    assert!(
        incidents(&app, id, "all").await.is_empty(),
        "2 failures of 3 runs: fewer than minRuns"
    );

    tested(
        &app,
        "acme/api",
        "r5",
        "c5",
        ago(120),
        &[("divides", "fail"), ("adds", "pass")],
    )
    .await;
    alerts.tick(t0).await.unwrap();
    alerts.tick(t0 + TimeDelta::minutes(1)).await.unwrap();
    let firing = incidents(&app, id, "firing").await;
    assert_eq!(firing.len(), 1, "3 failures of 4 runs: {firing:?}");
    let divides = test_id(&app, "Calc", "divides").await;
    assert_eq!(
        firing[0]["labels"],
        json!({"repo": "acme/api", "suite": "unit", "test": "Calc::divides", "test_id": divides.to_string()})
    );
    assert_eq!(firing[0]["value"], 75.0);
    assert_eq!(firing[0]["threshold"], 50.0);
    assert_eq!(
        firing[0]["run_ids"],
        json!(["r5", "r3", "r1"]),
        "its failed runs, newest first"
    );
    for other in &other_rules {
        assert!(incidents(&app, *other, "all").await.is_empty(), "rule {other}");
    }
    let sent = outbox(&pool, id).await;
    assert_eq!(kinds(&sent), ["firing"]);
    let notice = &sent[0].1;
    assert_eq!(
        notice["condition"],
        "failure rate of test acme/api · Calc::divides ≥ 50% over 1d (at least 4 runs)"
    );
    assert_eq!(notice["value"], "75.0% of 4 runs (3 failed)");
    assert_eq!(notice["threshold"], "50% (at least 4 runs)");
    assert_eq!(notice["run_url"], "https://ci.example.com/r5");
    let history = format!("https://cicd.example.com/tests?test={divides}&test_repo=acme%2Fapi");
    assert_eq!(notice["dashboard_url"], history);

    // Two passes: 3 of 6 is still half. A third: 3 of 7 is below, and it resolves.
    tested(&app, "acme/api", "r6", "c6", ago(60), &[("divides", "pass")]).await;
    tested(&app, "acme/api", "r7", "c7", ago(50), &[("divides", "pass")]).await;
    alerts.tick(t0 + TimeDelta::minutes(2)).await.unwrap();
    assert_eq!(incidents(&app, id, "firing").await.len(), 1);
    tested(&app, "acme/api", "r8", "c8", ago(40), &[("divides", "pass")]).await;
    alerts.tick(t0 + TimeDelta::minutes(3)).await.unwrap();
    let resolved = incidents(&app, id, "resolved").await;
    assert_eq!(resolved.len(), 1);
    let rate = resolved[0]["value"].as_f64().unwrap();
    assert!((rate - 300.0 / 7.0).abs() < 1e-9, "{rate}");
    assert_eq!(kinds(&outbox(&pool, id).await), ["firing", "resolved"]);

    drain(&app, Duration::from_secs(10)).await;
    let received = slack.received();
    assert_eq!(received.len(), 2, "{received:?}");
    let (text, urls) = slack_text(&received[0].1);
    assert!(text.contains("*Test*\nCalc::divides"), "{text}");
    assert!(
        text.contains("75.0% of 4 runs (3 failed) (threshold 50% (at least 4 runs))"),
        "{text}"
    );
    assert!(urls.contains(&history), "{urls:?}");
    assert!(received[1].1["text"].as_str().unwrap().starts_with("✅ resolved"));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_test_match_rule_fires_for_each_matching_test_of_its_repositories(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    // Never delivered here: the notices are read from the outbox.
    slack_integration(&app, "slack", "https://hooks.slack.com/services/T0/B0/x").await;
    let scoped = rule(
        &app,
        "calc-sub",
        json!({"match": {"repo": "acme/*"},
               "condition": {"type": "TestFailureRate", "testMatch": "Calc::sub*", "threshold": 50,
                             "window": "1d", "minRuns": 3},
               "notify": {"integrations": [{"name": "slack"}], "groupWait": "0s"}}),
    )
    .await;
    let everywhere = rule(
        &app,
        "subtracts-anywhere",
        json!({"condition": {"type": "TestFailureRate", "testMatch": "*::subtracts", "threshold": 50,
                             "window": "2d"},
               "notify": {"groupWait": "0s"}}),
    )
    .await;

    let t0 = Utc::now();
    let ago = |minutes: i64| t0 - TimeDelta::minutes(minutes);
    // acme/api: `subtracts` fails 2 of 3 runs, `subscribes` 2 of 2 (fewer than minRuns), `adds`
    // (not matched) always.
    let api = [
        [("subtracts", "fail"), ("subscribes", "fail"), ("adds", "fail")],
        [("subtracts", "fail"), ("subscribes", "fail"), ("adds", "fail")],
        [("subtracts", "pass"), ("subscribes", "skip"), ("adds", "fail")],
    ];
    for (i, cases) in api.iter().enumerate() {
        let n = i as i64;
        tested(
            &app,
            "acme/api",
            &format!("api-{n}"),
            &format!("a{n}"),
            ago(200 - n),
            cases,
        )
        .await;
    }
    // acme/web and other/lib: `subtracts` always fails (other/lib is outside acme/*).
    for repo in ["acme/web", "other/lib"] {
        for n in 0..5 {
            let id = format!("{repo}-{n}").replace('/', "-");
            tested(
                &app,
                repo,
                &id,
                &format!("{id}-c"),
                ago(150 - n),
                &[("subtracts", "fail")],
            )
            .await;
        }
    }

    let alerts = &app.state.alerts;
    alerts.tick(t0).await.unwrap();
    assert_eq!(
        tests_of(&incidents(&app, scoped, "firing").await),
        pairs(&[("acme/api", "Calc::subtracts"), ("acme/web", "Calc::subtracts")])
    );
    // minRuns defaults to 5: acme/api's 3 runs of `subtracts` are too few.
    assert_eq!(
        tests_of(&incidents(&app, everywhere, "firing").await),
        pairs(&[("acme/web", "Calc::subtracts"), ("other/lib", "Calc::subtracts")])
    );

    // A third failure of `subscribes`: it ran 3 times now, and fires too.
    tested(
        &app,
        "acme/api",
        "api-9",
        "a9",
        ago(30),
        &[("subscribes", "fail")],
    )
    .await;
    alerts.tick(t0 + TimeDelta::minutes(1)).await.unwrap();
    let firing = incidents(&app, scoped, "firing").await;
    assert_eq!(
        tests_of(&firing),
        pairs(&[
            ("acme/api", "Calc::subscribes"),
            ("acme/api", "Calc::subtracts"),
            ("acme/web", "Calc::subtracts"),
        ])
    );
    let subscribes = firing
        .iter()
        .find(|i| i["labels"]["test"] == "Calc::subscribes")
        .unwrap();
    assert_eq!(subscribes["value"], 100.0);
    let notices = outbox(&pool, scoped).await;
    assert_eq!(kinds(&notices), ["firing"; 3]);
    let notice = &notices[2].1;
    assert_eq!(notice["labels"]["test"], "Calc::subscribes");
    assert_eq!(
        notice["condition"],
        "failure rate of a test matching Calc::sub* ≥ 50% over 1d (at least 3 runs)"
    );
    assert_eq!(notice["value"], "100.0% of 3 runs (3 failed)");
    assert_eq!(notice["run_url"], "https://ci.example.com/api-9");

    // Three days on, the window's days hold no run of them: everything resolves.
    alerts.tick(t0 + TimeDelta::days(3)).await.unwrap();
    assert!(incidents(&app, scoped, "firing").await.is_empty());
    assert_eq!(incidents(&app, scoped, "resolved").await.len(), 3);
    assert!(incidents(&app, everywhere, "firing").await.is_empty());
    assert_eq!(incidents(&app, everywhere, "resolved").await.len(), 2);
}

/// The tests of the rule's open incidents, sorted.
async fn open_tests(pool: &PgPool, rule: i64) -> Vec<String> {
    let mut tests: Vec<String> = sqlx::query_scalar(
        "select labels ->> 'test' from alert_incidents where rule_id = $1 and state <> 'resolved'",
    )
    .bind(rule)
    .fetch_all(pool)
    .await
    .unwrap();
    tests.sort();
    tests
}

#[sqlx::test(migrations = "../migrations")]
async fn a_rule_tracks_at_most_100_tests_and_takes_the_others_as_incidents_resolve(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let id = rule(
        &app,
        "flaky",
        json!({"condition": {"type": "FlakyTest"}, "notify": {"groupWait": "0s"}}),
    )
    .await;
    let t0 = Utc::now();
    let ago = |minutes: i64| t0 - TimeDelta::minutes(minutes);
    // 100 tests flaky (retried within their run) on two commits each, 5 and 4 hours ago; one more
    // flaky on one commit an hour ago, so ranked after them.
    let names: Vec<String> = (0..100).map(|i| format!("t{i:03}")).collect();
    let retried: Vec<(&str, &str)> = names
        .iter()
        .flat_map(|n| [(n.as_str(), "fail"), (n.as_str(), "pass")])
        .collect();
    tested(&app, "acme/api", "r1", "c1", ago(300), &retried).await;
    tested(&app, "acme/api", "r2", "c2", ago(240), &retried).await;
    tested(
        &app,
        "acme/api",
        "r3",
        "c3",
        ago(60),
        &[("late", "fail"), ("late", "pass")],
    )
    .await;

    let alerts = &app.state.alerts;
    alerts.tick(t0).await.unwrap();
    let first = open_tests(&pool, id).await;
    assert_eq!(first.len(), 100);
    assert!(!first.contains(&"Calc::late".to_owned()));
    alerts.tick(t0 + TimeDelta::minutes(1)).await.unwrap();
    assert_eq!(open_tests(&pool, id).await, first, "the same 100 tests");

    // A week on, the 100 are no longer flaky: they resolve, and `late` (still within the window)
    // takes a place.
    let later = t0 + TimeDelta::days(7) - TimeDelta::hours(2);
    alerts.tick(later).await.unwrap();
    alerts.tick(later + TimeDelta::minutes(1)).await.unwrap();
    assert_eq!(open_tests(&pool, id).await, ["Calc::late"]);
    let resolved: i64 =
        sqlx::query_scalar("select count(*) from alert_incidents where rule_id = $1 and state = 'resolved'")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(resolved, 100);
}

#[sqlx::test(migrations = "../migrations")]
async fn test_rules_are_validated_naming_the_field(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let post = |spec: Value| {
        let app = &app;
        async move {
            app.post(
                "/api/alert-rules",
                Some(ADMIN),
                &json!({"name": "bad", "spec": spec}),
            )
            .await
        }
    };
    let login = json!({"repo": "acme/api", "name": "test_login"});
    let rate = |extra: Value| {
        let mut c = json!({"type": "TestFailureRate", "threshold": 20, "window": "7d"});
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    let cases = [
        (
            json!({"condition": rate(json!({"test": login, "testMatch": "*"}))}),
            vec!["spec.condition.testMatch"],
            "not both",
        ),
        (
            json!({"condition": rate(json!({}))}),
            vec!["spec.condition.test"],
            "give test",
        ),
        (
            json!({"condition": rate(json!({"testMatch": "tests.[oops::*"}))}),
            vec!["spec.condition.testMatch"],
            "is not a valid glob",
        ),
        (
            json!({"condition": rate(json!({"testMatch": " "}))}),
            vec!["spec.condition.testMatch"],
            "must not be empty",
        ),
        (
            json!({"match": {"repo": "acme/*"}, "condition": rate(json!({"test": login}))}),
            vec!["spec.match"],
            "must be empty for TestFailureRate with test",
        ),
        (
            json!({"match": {"repo": "acme/*", "workflows": ["ci"], "branches": ["main"]},
                   "condition": rate(json!({"testMatch": "*"}))}),
            vec!["spec.match.workflows", "spec.match.branches"],
            "only match.repo selects",
        ),
        (
            json!({"condition": {"type": "TestFailureRate", "test": {"repo": " ", "name": "x"},
                                 "threshold": 150, "window": "1h"}}),
            vec![
                "spec.condition.threshold",
                "spec.condition.test.repo",
                "spec.condition.window",
            ],
            "tests are counted by UTC day",
        ),
        (
            json!({"condition": {"type": "FlakyTest", "window": "30s"}}),
            vec!["spec.condition.window"],
            "between 1m and 90d",
        ),
    ];
    for (spec, expected, message) in cases {
        let r = post(spec.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{spec}: {}", r.text);
        assert_eq!(r.body["error"]["code"], "validation_failed", "{}", r.text);
        assert!(r.body["error"]["message"].is_string(), "{}", r.text);
        assert_eq!(fields(&r.body), expected, "{spec}: {}", r.text);
        assert!(r.text.contains(message), "{spec}: no {message:?} in {}", r.text);
    }
    // A test without its name, and a threshold that is not a number, do not read: refused in the
    // same shape.
    for condition in [
        json!({"type": "TestFailureRate", "test": {"repo": "acme/api"}, "threshold": 20, "window": "7d"}),
        json!({"type": "TestFailureRate", "testMatch": "*", "threshold": "5m", "window": "7d"}),
    ] {
        let r = post(json!({ "condition": condition })).await;
        assert!(r.status.is_client_error(), "{condition}: {}", r.text);
        assert!(r.body["error"]["code"].is_string(), "{condition}: {}", r.text);
        assert!(r.body["error"]["message"].is_string(), "{condition}: {}", r.text);
    }

    // Valid ones read back with their defaults; FlakyTest takes any match (the flaky commits'
    // runs are matched).
    let flaky = rule(
        &app,
        "flaky",
        json!({"match": {"repo": "acme/*", "workflows": ["ci"], "branches": ["main"]},
               "condition": {"type": "FlakyTest"}}),
    )
    .await;
    let got = app.get(&format!("/api/alert-rules/{flaky}")).await;
    assert_eq!(
        got.body["spec"]["condition"],
        json!({"type": "FlakyTest", "window": "7d"})
    );
    let named = rule(&app, "named", json!({"condition": rate(json!({"test": login}))})).await;
    let got = app.get(&format!("/api/alert-rules/{named}")).await;
    assert_eq!(
        got.body["spec"]["condition"],
        json!({"type": "TestFailureRate", "test": login, "threshold": 20.0, "window": "7d", "minRuns": 5})
    );
    let glob = rule(
        &app,
        "glob",
        json!({"match": {"repo": "acme/*"}, "condition": rate(json!({"testMatch": "tests.api.*::*"}))}),
    )
    .await;
    let seeds: Vec<(String, Option<f64>)> =
        sqlx::query_as("select threshold_type, threshold_value from alerts where id = any($1) order by id")
            .bind(vec![flaky, named, glob])
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        seeds,
        [
            ("FlakyTest".to_owned(), Some(7.0 * 86_400.0)),
            ("TestFailureRate".to_owned(), Some(20.0)),
            ("TestFailureRate".to_owned(), Some(20.0)),
        ]
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_openapi_document_describes_the_test_conditions(pool: PgPool) {
    let variant = condition_variants(&TestApp::new(pool).await).await;
    let flaky = variant("FlakyTest");
    assert!(flaky["properties"]["window"].is_object(), "{flaky}");
    let rate = variant("TestFailureRate");
    for field in ["test", "testMatch", "threshold", "window", "minRuns"] {
        assert!(rate["properties"][field].is_object(), "{field} in {rate}");
    }
    let mut required: Vec<String> = serde_json::from_value(rate["required"].clone()).unwrap();
    required.sort();
    assert_eq!(required, ["threshold", "type", "window"]);
}
