//! `GET /api/dora` against a scenario computed by hand: out-of-order statuses, a failed
//! deployment, a rollback, an incident that names its deployment (before it is recorded) and one
//! that does not, a staging deployment and another service, and days that start at midnight in
//! New York rather than UTC. And the demo's delivery history, whose elite and struggling teams
//! are in the bands they were made for.

use serde_json::{json, Value};

use crate::support::TestApp;

async fn deploy(app: &TestApp, id: &str, service: &str, status: &str, at: &str, extra: Value) {
    let mut body = json!({"id": id, "service": service, "repo": format!("org/{service}"),
        "environment": "production", "status": status, "at": at});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let ingest = app.ingest.clone();
    let r = app.post("/api/deployments", Some(&ingest), &body).await;
    assert!(r.status == 200 || r.status == 201, "{}", r.text);
}

async fn incident(app: &TestApp, body: Value) {
    let ingest = app.ingest.clone();
    let r = app.post("/api/incidents", Some(&ingest), &body).await;
    assert!(r.status == 200 || r.status == 201, "{}", r.text);
}

fn commit(sha: &str, committed_at: &str) -> Value {
    json!({"sha": sha, "committed_at": committed_at})
}

/// Records the scenario (times UTC; New York is UTC−5 in November 2026).
async fn scenario(app: &TestApp) {
    // The period before the window: one success, lead time 2 h.
    deploy(
        app,
        "d0",
        "api",
        "success",
        "2026-11-01T12:00:00Z",
        json!({"commits": [commit("p1", "2026-11-01T10:00:00Z")]}),
    )
    .await;
    // d1: the success arrives before the statuses that preceded it. Lead times 2 h and 1 h.
    let d1 = json!({"commits": [commit("a1", "2026-11-02T08:00:00Z"), commit("a2", "2026-11-02T09:00:00Z")]});
    deploy(app, "d1", "api", "success", "2026-11-02T10:00:00Z", d1.clone()).await;
    deploy(
        app,
        "d1",
        "api",
        "in_progress",
        "2026-11-02T09:50:00Z",
        d1.clone(),
    )
    .await;
    deploy(app, "d1", "api", "queued", "2026-11-02T09:45:00Z", d1).await;
    // d2 fails; d3 restores it an hour later (lead time 30 min).
    deploy(app, "d2", "api", "in_progress", "2026-11-02T13:50:00Z", json!({})).await;
    deploy(app, "d2", "api", "failure", "2026-11-02T14:00:00Z", json!({})).await;
    // An incident naming d3, received before d3 itself: 1 h.
    incident(
        app,
        json!({"id": "INC-1", "service": "api", "environment": "production", "deployment": "d3",
        "started_at": "2026-11-02T15:30:00Z", "resolved_at": "2026-11-02T16:30:00Z"}),
    )
    .await;
    deploy(
        app,
        "d3",
        "api",
        "success",
        "2026-11-02T15:00:00Z",
        json!({"commits": [commit("b1", "2026-11-02T14:30:00Z")]}),
    )
    .await;
    // d3 is rolled back two hours after it ended.
    deploy(
        app,
        "d4",
        "api",
        "success",
        "2026-11-02T17:00:00Z",
        json!({"kind": "rollback"}),
    )
    .await;
    // 03:00 UTC on the 3rd is 22:00 on the 2nd in New York. Lead time 4 h.
    deploy(
        app,
        "d5",
        "api",
        "success",
        "2026-11-03T03:00:00Z",
        json!({"commits": [commit("c1", "2026-11-02T23:00:00Z")]}),
    )
    .await;
    // An incident that names no deployment: inferred to be d5's. 2 h.
    incident(
        app,
        json!({"id": "INC-2", "service": "api",
        "started_at": "2026-11-03T04:00:00Z", "resolved_at": "2026-11-03T06:00:00Z"}),
    )
    .await;
    deploy(
        app,
        "d6",
        "api",
        "success",
        "2026-11-03T12:00:00Z",
        json!({"commits": [commit("e1", "2026-11-03T11:00:00Z")]}),
    )
    .await;
    // Not production.
    deploy(
        app,
        "s1",
        "api",
        "failure",
        "2026-11-02T11:00:00Z",
        json!({"environment": "staging"}),
    )
    .await;
    // Another service.
    deploy(app, "w1", "web", "success", "2026-11-02T20:00:00Z", json!({})).await;
}

const WINDOW: &str = "from=2026-11-02T05:00:00Z&to=2026-11-04T05:00:00Z&tz=America/New_York";

async fn dora(app: &TestApp, query: &str) -> Value {
    let r = app.get(&format!("/api/dora?{WINDOW}{query}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

fn series(key: &Value) -> Vec<(String, Value)> {
    key["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["start"].as_str().unwrap().to_owned(), p["value"].clone()))
        .collect()
}

#[sqlx::test(migrations = "../migrations")]
async fn the_four_keys_match_the_scenario_computed_by_hand(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    scenario(&app).await;
    let d = dora(&app, "&service=api").await;
    assert_eq!(d["bands_edition"], "Accelerate State of DevOps Report 2023");

    // Successful deployments d1, d3, d4 (the rollback), d5, d6 in 2 days; before: d0 alone.
    let f = &d["deployment_frequency"];
    assert_eq!((f["value"].as_f64(), f["sample"].as_i64()), (Some(2.5), Some(5)));
    assert_eq!(
        (f["per_week"].as_f64(), f["band"].as_str()),
        (Some(17.5), Some("elite"))
    );
    assert_eq!(
        (f["previous"]["value"].as_f64(), f["previous"]["band"].as_str()),
        (Some(0.5), Some("high"))
    );
    assert_eq!(f["change"].as_f64(), Some(4.0));
    // New York days: d5 (22:00 local) belongs to the 2nd.
    assert_eq!(
        series(f),
        [
            ("2026-11-02T05:00:00Z".to_owned(), json!(4.0)),
            ("2026-11-03T05:00:00Z".to_owned(), json!(1.0))
        ]
    );

    // Lead times 1800, 3600, 3600, 7200, 14400: p50 3600, p95 7200 + 0.8 × 7200.
    let l = &d["lead_time_for_changes"];
    assert_eq!(
        (l["value"].as_f64(), l["p95"].as_f64()),
        (Some(3600.0), Some(12960.0))
    );
    assert_eq!(
        (l["sample"].as_i64(), l["band"].as_str(), l["unit"].as_str()),
        (Some(5), Some("elite"), Some("seconds"))
    );
    assert_eq!(l["previous"]["value"].as_f64(), Some(7200.0));
    assert_eq!(l["change"].as_f64(), Some(-0.5));

    // Failed changes: d2 (failed), d3 (rolled back, and INC-1 names it), d5 (INC-2, inferred);
    // of d1–d6.
    let c = &d["change_failure_rate"];
    assert_eq!(
        (c["value"].as_f64(), c["sample"].as_i64(), c["band"].as_str()),
        (Some(0.5), Some(6), Some("low"))
    );
    assert_eq!(
        (c["previous"]["value"].as_f64(), c["previous"]["band"].as_str()),
        (Some(0.0), Some("elite"))
    );
    assert_eq!(c["change"], Value::Null, "no change from 0");

    // Restores: d2 → d3 1 h, d3 → its rollback 2 h, INC-1 1 h, INC-2 2 h.
    let r = &d["time_to_restore"];
    assert_eq!(
        (r["value"].as_f64(), r["p95"].as_f64(), r["sample"].as_i64()),
        (Some(5400.0), Some(7200.0), Some(4))
    );
    assert_eq!(r["band"], "high");
    assert_eq!(r["previous"]["sample"], 0);

    // Every service: web's success counts too.
    let all = dora(&app, "").await;
    assert_eq!(all["deployment_frequency"]["value"].as_f64(), Some(3.0));
    assert_eq!(all["change_failure_rate"]["sample"], 7);
    // Staging alone, by name.
    let staging = dora(&app, "&environment=staging").await;
    assert_eq!(staging["change_failure_rate"]["value"].as_f64(), Some(1.0));
    assert_eq!(staging["deployment_frequency"]["sample"], 0);

    // Only incidents make failed changes, and only they are restored.
    app.put_settings(&json!({"retention_days": 90, "rollup_retention_days": 400,
                              "change_failure_causes": ["incident"]}))
        .await;
    let d = dora(&app, "&service=api").await;
    assert_eq!(d["change_failure_causes"], json!(["incident"]));
    let c = &d["change_failure_rate"]["value"].as_f64().unwrap();
    assert!((c - 2.0 / 6.0).abs() < 1e-12, "{c}");
    assert_eq!(d["time_to_restore"]["sample"], 2);
    assert_eq!(d["time_to_restore"]["value"].as_f64(), Some(5400.0));
}

#[sqlx::test(migrations = "../migrations")]
async fn utc_days_and_weeks_split_the_window_elsewhere_and_bad_parameters_are_named(pool: sqlx::PgPool) {
    let app = TestApp::new(pool).await;
    scenario(&app).await;
    let r = app
        .get("/api/dora?service=api&from=2026-11-02T00:00:00Z&to=2026-11-04T00:00:00Z")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // UTC days: d1, d3, d4 on the 2nd; d5, d6 on the 3rd.
    assert_eq!(
        series(&r.body["deployment_frequency"]),
        [
            ("2026-11-02T00:00:00Z".to_owned(), json!(3.0)),
            ("2026-11-03T00:00:00Z".to_owned(), json!(2.0))
        ]
    );
    let r = app
        .get("/api/dora?service=api&from=2026-11-02T00:00:00Z&to=2026-11-04T00:00:00Z&group_by=week")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // One week (from Monday the 2nd), of which the window holds two days.
    assert_eq!(
        series(&r.body["deployment_frequency"]),
        [("2026-11-02T00:00:00Z".to_owned(), json!(2.5))]
    );
    for (query, field) in [
        ("tz=Mars/Olympus", "tz"),
        ("from=2026-11-05T00:00:00Z&to=2026-11-04T00:00:00Z", "from"),
        (&*format!("service={}", "s".repeat(256)), "service"),
    ] {
        let r = app.get(&format!("/api/dora?{query}")).await;
        assert_eq!(r.status, 422, "{query}: {}", r.text);
        assert_eq!(r.body["error"]["details"][0]["field"], field, "{query}");
    }
}

/// The four bands of `service` over the 30 days before `to`.
async fn bands(app: &TestApp, service: &str, to: chrono::DateTime<chrono::Utc>) -> [String; 4] {
    use chrono::SecondsFormat::Secs;
    let from = to - chrono::TimeDelta::days(30);
    let r = app
        .get(&format!(
            "/api/dora?service={service}&from={}&to={}",
            from.to_rfc3339_opts(Secs, true),
            to.to_rfc3339_opts(Secs, true)
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    [
        "deployment_frequency",
        "lead_time_for_changes",
        "change_failure_rate",
        "time_to_restore",
    ]
    .map(|key| {
        r.body[key]["band"]
            .as_str()
            .unwrap_or_else(|| panic!("{service} to {to}: no band for {key}: {}", r.body[key]))
            .to_owned()
    })
}

#[sqlx::test(migrations = "../migrations")]
async fn the_demo_has_an_elite_team_and_a_struggling_one(pool: sqlx::PgPool) {
    use cicd_monitor::demo::delivery;
    let app = TestApp::new(pool.clone()).await;
    let now: chrono::DateTime<chrono::Utc> = "2026-12-01T12:34:56Z".parse().unwrap();
    let written = delivery::load(&pool, 90, 42, now).await.unwrap();
    assert!(written.pushes > 500 && written.incidents > 5, "{written:?}");
    // Windows ending on each other day of the struggling team's two-week release train.
    for days_before in [0, 2, 4, 6, 8, 10, 12, 14] {
        let to = now - chrono::TimeDelta::days(days_before);
        assert_eq!(
            bands(&app, delivery::ELITE, to).await,
            ["elite", "elite", "elite", "elite"],
            "{to}"
        );
        assert_eq!(
            bands(&app, delivery::STRUGGLING, to).await,
            ["medium", "medium", "low", "medium"],
            "{to}"
        );
    }
    // Commits are linked from the pushes, with lead times; incidents name their deployment or not.
    let r = app
        .get("/api/deployments?service=acme/web&environment=production&status=success&limit=20")
        .await;
    let shipped: Vec<&Value> = r.body["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["commits"].as_array().unwrap())
        .collect();
    assert!(shipped.len() >= 20, "{}", r.text);
    assert!(shipped.iter().all(|c| c["lead_seconds"].as_f64().unwrap() > 0.0));
    let r = app.get("/api/incidents?limit=200").await;
    let links: Vec<&str> = r.body["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["link"].as_str())
        .collect();
    assert!(
        links.contains(&"named") && links.contains(&"inferred"),
        "{links:?}"
    );
}
