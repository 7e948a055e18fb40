//! Deployments and incidents through the generic API: statuses in any order, the commits each
//! deployment shipped first, incidents named or inferred, and the lists.

use chrono::{DateTime, TimeDelta, Utc};
use cicd_monitor::db::deployments as store;
use cicd_monitor::delivery::{CommitEvent, PushEvent};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::TestApp;

fn t(minutes: i64) -> DateTime<Utc> {
    "2026-11-02T10:00:00Z".parse::<DateTime<Utc>>().unwrap() + TimeDelta::minutes(minutes)
}

fn at(minutes: i64) -> String {
    t(minutes).to_rfc3339()
}

async fn deploy(app: &TestApp, body: Value) -> crate::support::Reply {
    let ingest = app.ingest.clone();
    app.post("/api/deployments", Some(&ingest), &body).await
}

async fn incident(app: &TestApp, body: Value) -> crate::support::Reply {
    let ingest = app.ingest.clone();
    app.post("/api/incidents", Some(&ingest), &body).await
}

/// The deployments listed for `query`, newest first.
async fn listed(app: &TestApp, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/api/deployments{query}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["deployments"].as_array().unwrap().clone()
}

async fn push(pool: &PgPool, before: &str, after: &str, minutes: i64, shas: &[(&str, i64)]) {
    let mut conn = pool.acquire().await.unwrap();
    store::record_push(
        &mut conn,
        &PushEvent {
            default_branch: None,
            repo: "org/api".into(),
            git_ref: "refs/heads/main".into(),
            before: Some(before.into()),
            after: after.into(),
            pushed_at: t(minutes),
            commits: shas
                .iter()
                .map(|(sha, m)| CommitEvent {
                    sha: (*sha).into(),
                    committed_at: Some(t(*m)),
                    merged_at: None,
                })
                .collect(),
        },
    )
    .await
    .unwrap();
}

fn shas(deployment: &Value) -> Vec<String> {
    let mut s: Vec<String> = deployment["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["sha"].as_str().unwrap().to_owned())
        .collect();
    s.sort();
    s
}

#[sqlx::test(migrations = "../migrations")]
async fn statuses_in_any_order_make_one_deployment_whose_status_is_the_latest(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let base =
        json!({"id": "d1", "repo": "org/api", "environment": "production", "sha": "c3", "ref": "main"});
    let with = |status: &str, minute: i64| {
        let mut b = base.clone();
        b["status"] = json!(status);
        b["at"] = json!(at(minute));
        b
    };
    // The success arrives first, then the earlier statuses.
    let first = deploy(&app, with("success", 12)).await;
    assert_eq!(first.status, 201, "{}", first.text);
    for (status, minute) in [("in_progress", 5), ("queued", 1), ("success", 12)] {
        let r = deploy(&app, with(status, minute)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["id"], first.body["id"], "one deployment");
    }
    let list = listed(&app, "").await;
    assert_eq!(list.len(), 1);
    let d = &list[0];
    assert_eq!(d["status"], "success");
    assert_eq!(d["service"], "org/api", "the service defaults to the repository");
    assert_eq!(d["created_at"].as_str().unwrap(), "2026-11-02T10:01:00Z");
    assert_eq!(d["finished_at"].as_str().unwrap(), "2026-11-02T10:12:00Z");
    // Superseded later: inactive, still finished when it succeeded.
    deploy(&app, with("inactive", 30)).await;
    let d = &listed(&app, "").await[0];
    assert_eq!(
        (d["status"].as_str(), d["finished_at"].as_str()),
        (Some("inactive"), Some("2026-11-02T10:12:00Z"))
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_deployments_and_incidents_are_refused_with_every_field_named(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let r = deploy(&app, json!({"id": "d1", "status": "shipped", "kind": "big-bang"})).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let fields: Vec<&str> = r.body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["environment", "status", "kind", "service"]);
    let r = deploy(&app, json!([{"id": "d1"}])).await;
    assert_eq!(r.status, 422, "an array belongs to /batch: {}", r.text);
    let r = app
        .send(
            "/api/deployments",
            &[("authorization", &format!("Bearer {}", app.ingest))],
            "{\"id\":",
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let r = incident(&app, json!({"id": "INC-1", "service": "api"})).await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.body["error"]["details"][0]["field"], "started_at");
    let r = app.post("/api/deployments", None, &json!({})).await;
    assert_eq!(r.status, 401, "ingest needs a token");
    assert!(listed(&app, "").await.is_empty(), "nothing was written");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_batch_records_the_valid_items_and_names_the_others(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ingest = app.ingest.clone();
    let r = app
        .post(
            "/api/deployments/batch",
            Some(&ingest),
            &json!([
                {"id": "a", "service": "api", "environment": "staging", "status": "success", "at": at(1)},
                {"id": "b", "service": "api", "environment": "production"},
                {"id": "c", "service": "web", "environment": "prod", "status": "failure", "at": at(2)},
            ]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.body["accepted"].as_u64(), r.body["rejected"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(r.body["results"][1]["status"], 422);
    assert_eq!(r.body["results"][1]["error"]["details"][0]["field"], "[1].status");
    assert_eq!(r.body["results"][2]["status"], 201);
    // Production is a setting: `prod` and `production` by default.
    let prod = listed(&app, "?production=true").await;
    assert_eq!(prod.len(), 1);
    assert_eq!(prod[0]["external_id"], "c");
    app.put_settings(&json!({"retention_days": 90, "rollup_retention_days": 400,
                              "production_environments": ["stag*"]}))
        .await;
    let prod = listed(&app, "?production=true").await;
    assert_eq!(prod.len(), 1);
    assert_eq!(prod[0]["external_id"], "a");
    let r = app
        .post("/api/deployments/batch", Some(&ingest), &json!([]))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_deployment_ships_the_commits_pushed_since_the_one_before_each_once(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    // main: c0 → (push) c1, c2 → (push) c3 → (push) c4, c5.
    push(&pool, "c0", "c2", 10, &[("c1", 5), ("c2", 8)]).await;
    push(&pool, "c2", "c3", 20, &[("c3", 18)]).await;
    let prod = |id: &str, sha: &str, minute: i64| {
        json!({"id": id, "repo": "org/api", "environment": "production", "sha": sha,
               "status": "success", "at": at(minute)})
    };
    deploy(&app, prod("d-old", "c0", 0)).await;
    deploy(&app, prod("d1", "c3", 30)).await;
    let d1 = &listed(&app, "").await[0];
    assert_eq!(shas(d1), ["c1", "c2", "c3"]);
    assert_eq!(d1["commit_count"], 3);
    // Lead time: from each commit to the deployment's success, the longest first.
    assert_eq!(d1["commits"][0]["sha"], "c1");
    assert_eq!(d1["commits"][0]["lead_seconds"], 25.0 * 60.0);
    // Pushed after the deployment succeeded: the deployment of c5 is linked when the push arrives.
    deploy(&app, prod("d2", "c5", 50)).await;
    assert_eq!(
        shas(&listed(&app, "").await[0]),
        ["c5"],
        "no push known yet: its own sha"
    );
    push(&pool, "c3", "c5", 40, &[("c4", 35), ("c5", 38)]).await;
    let list = listed(&app, "").await;
    assert_eq!(shas(&list[0]), ["c4", "c5"]);
    assert_eq!(shas(&list[1]), ["c1", "c2", "c3"], "each commit counts once");
    // A deployment of c2 whose success arrives late, between the two: it takes c1 and c2, and
    // d1 keeps only c3.
    deploy(&app, prod("d-late", "c2", 25)).await;
    let list = listed(&app, "").await;
    let by_id = |id: &str| list.iter().find(|d| d["external_id"] == id).unwrap().clone();
    assert_eq!(shas(&by_id("d-late")), ["c1", "c2"]);
    assert_eq!(shas(&by_id("d1")), ["c3"]);
    // Another environment ships the same commits on its own.
    deploy(
        &app,
        json!({"id": "s1", "repo": "org/api", "environment": "staging", "sha": "c3", "status": "success", "at": at(22)}),
    )
    .await;
    let staging = listed(&app, "?environment=staging").await;
    assert_eq!(shas(&staging[0]), ["c1", "c2", "c3"]);
}

#[sqlx::test(migrations = "../migrations")]
async fn commits_a_deployment_lists_are_its_commits(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let r = deploy(
        &app,
        json!({"id": "d1", "service": "api", "environment": "production", "status": "success", "at": at(60),
               "sha": "b2", "commits": [{"sha": "b1", "committed_at": at(0)}, {"sha": "b2", "merged_at": at(30)}]}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let d = &listed(&app, "").await[0];
    assert_eq!(shas(d), ["b1", "b2"]);
    let leads: Vec<f64> = d["commits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["lead_seconds"].as_f64().unwrap())
        .collect();
    assert_eq!(leads, [3600.0, 1800.0], "from the commit, or else its merge");
}

#[sqlx::test(migrations = "../migrations")]
async fn incidents_link_to_the_deployment_they_name_or_else_the_last_one_before_them(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let prod = |id: &str, minute: i64| json!({"id": id, "service": "api", "environment": "production", "status": "success", "at": at(minute)});
    deploy(&app, prod("d1", 0)).await;
    deploy(&app, prod("d2", 60)).await;
    // Named, before the deployment it names arrives.
    let r = incident(
        &app,
        json!({"id": "INC-1", "service": "api", "deployment": "d3", "started_at": at(130)}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // Not named: the last successful deployment of the service before it started.
    incident(
        &app,
        json!({"id": "INC-2", "service": "api", "environment": "production", "started_at": at(90)}),
    )
    .await;
    let list = app.get("/api/incidents").await;
    assert_eq!(list.status, 200, "{}", list.text);
    let inc = |id: &str| {
        list.body["incidents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["external_id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(
        (
            inc("INC-1")["deployment_id"].clone(),
            inc("INC-1")["link"].clone()
        ),
        (Value::Null, Value::Null)
    );
    let d2 = listed(&app, "").await[0]["id"].clone();
    assert_eq!(
        (
            inc("INC-2")["deployment_id"].clone(),
            inc("INC-2")["link"].clone()
        ),
        (d2, json!("inferred"))
    );
    // d3 arrives: INC-1 is linked to it, named.
    let d3 = deploy(&app, prod("d3", 120)).await.body["id"].clone();
    let list = listed(&app, "").await;
    assert_eq!(list[0]["id"], d3);
    assert_eq!(list[0]["incidents"][0]["external_id"], "INC-1");
    assert_eq!(list[0]["incidents"][0]["link"], "named");
    // A deployment between d2 and INC-2 that arrives late takes the inferred link over.
    let late = deploy(&app, prod("d-late", 80)).await.body["id"].clone();
    let incidents = app.get("/api/incidents?open=true").await;
    let inc2 = incidents.body["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["external_id"] == "INC-2")
        .unwrap()
        .clone();
    assert_eq!(inc2["deployment_id"], late);
    // Resolved: posted again with its end; it is no longer open.
    let r = incident(
        &app,
        json!({"id": "INC-2", "service": "api", "started_at": at(90), "resolved_at": at(95)}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let open = app.get("/api/incidents?open=true").await;
    assert_eq!(open.body["incidents"].as_array().unwrap().len(), 1);
    let resolved = app.get("/api/incidents?open=false").await;
    assert_eq!(
        resolved.body["incidents"][0]["resolved_at"].as_str(),
        Some("2026-11-02T11:35:00Z")
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn deployments_page_newest_first(pool: PgPool) {
    let app = TestApp::new(pool).await;
    for i in 0..5 {
        deploy(
            &app,
            json!({"id": format!("d{i}"), "service": "api", "environment": "production", "status": "success", "at": at(i)}),
        )
        .await;
    }
    let first = app.get("/api/deployments?limit=2").await;
    let ids = |r: &crate::support::Reply| -> Vec<String> {
        r.body["deployments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["external_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&first), ["d4", "d3"]);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app
        .get(&format!("/api/deployments?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(ids(&second), ["d2", "d1"]);
    assert_eq!(app.get("/api/deployments?cursor=nope").await.status, 400);
    assert_eq!(app.get("/api/deployments?limit=0").await.status, 422);
}

#[sqlx::test(migrations = "../migrations")]
async fn github_deployments_and_pushes_arrive_as_webhooks(pool: PgPool) {
    use crate::support::GITHUB_SECRET;
    use crate::webhooks::deliver;
    let app = TestApp::new(pool).await;
    // Shaped as GitHub documents the deliveries (trimmed).
    let push = json!({
        "ref": "refs/heads/main", "before": "a0", "after": "a2",
        "repository": {"full_name": "acme/api", "pushed_at": t(10).timestamp()},
        "commits": [{"id": "a1", "timestamp": at(2)}, {"id": "a2", "timestamp": at(5)}],
        "head_commit": {"id": "a2", "timestamp": at(5)}
    });
    let r = deliver(&app, "push", "p-1", GITHUB_SECRET, &push).await;
    assert_eq!(
        (r.status.as_u16(), r.body["pushes"].as_u64()),
        (200, Some(1)),
        "{}",
        r.text
    );
    let deployment = json!({"id": 77, "sha": "a2", "ref": "main", "environment": "production",
        "created_at": at(20), "creator": {"login": "octocat"}});
    let created = json!({"action": "created", "deployment": deployment, "repository": {"full_name": "acme/api"},
        "workflow_run": {"id": 9001, "run_attempt": 1}});
    let status = |state: &str, minute: i64| {
        json!({"action": "created", "deployment": deployment, "repository": {"full_name": "acme/api"},
            "deployment_status": {"id": minute, "state": state, "created_at": at(minute),
                "environment": "production"}})
    };
    // The success first, then the creation and the progress.
    for (event, guid, body) in [
        ("deployment_status", "s-3", status("success", 30)),
        ("deployment", "s-1", created),
        ("deployment_status", "s-2", status("in_progress", 25)),
    ] {
        let r = deliver(&app, event, guid, GITHUB_SECRET, &body).await;
        assert_eq!(r.body["deployments"], 1, "{}", r.text);
    }
    let d = &listed(&app, "?production=true").await[0];
    assert_eq!(
        (d["status"].as_str(), d["external_id"].as_str()),
        (Some("success"), Some("acme/api:77"))
    );
    assert_eq!(d["run_id"], "github:acme/api:9001:1");
    assert_eq!(d["created_at"].as_str(), Some("2026-11-02T10:20:00Z"));
    assert_eq!(shas(d), ["a1", "a2"]);
    assert_eq!(d["commits"][0]["lead_seconds"], 28.0 * 60.0);
    let again = deliver(
        &app,
        "deployment_status",
        "s-3",
        GITHUB_SECRET,
        &status("success", 30),
    )
    .await;
    assert_eq!(again.body["status"], "duplicate");
}

#[sqlx::test(migrations = "../migrations")]
async fn cdevents_incidents_name_the_artifact_deployed(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ingest = app.ingest.clone();
    let send = |ty: &str, subject: Value, minute: i64| {
        json!({"context": {"version": "0.4.1", "id": format!("ev-{minute}"), "source": "/argo",
            "type": ty, "timestamp": at(minute)}, "subject": subject})
    };
    let deployed = |artifact: &str, minute: i64| {
        send(
            "dev.cdevents.service.deployed.0.2.0",
            json!({"id": "checkout", "type": "service",
                "content": {"environment": {"id": "production"}, "artifactId": artifact}}),
            minute,
        )
    };
    for body in [
        deployed("pkg:oci/checkout@sha256:aa", 0),
        deployed("pkg:oci/checkout@sha256:bb", 10),
    ] {
        let r = app.post("/api/webhooks/cdevents", Some(&ingest), &body).await;
        assert_eq!(r.body["deployments"], 1, "{}", r.text);
    }
    // The incident names the older artifact: it is linked to that deployment, not the last one.
    let detected = send(
        "dev.cdevents.incident.detected.0.1.0",
        json!({"id": "inc-9", "type": "incident", "content": {"description": "5xx",
            "environment": {"id": "production"}, "service": {"id": "checkout"},
            "artifactId": "pkg:oci/checkout@sha256:aa"}}),
        20,
    );
    let r = app.post("/api/webhooks/cdevents", Some(&ingest), &detected).await;
    assert_eq!(r.body["incidents"], 1, "{}", r.text);
    let list = listed(&app, "?service=checkout").await;
    assert_eq!(list.len(), 2);
    assert!(list[0]["incidents"].as_array().unwrap().is_empty());
    assert_eq!(list[1]["incidents"][0]["external_id"], "inc-9");
    assert_eq!(list[1]["incidents"][0]["link"], "named");
}

#[sqlx::test(migrations = "../migrations")]
async fn cdevents_artifacts_give_deployments_their_commit_and_environments_their_name(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ingest = app.ingest.clone();
    let send = |ty: &str, id: &str, subject: Value, minute: i64| {
        json!({"context": {"version": "0.5.0", "id": id, "source": "/argo", "type": ty,
            "timestamp": at(minute)}, "subject": subject})
    };
    let merged = |sha: &str, minute: i64| {
        send(
            "dev.cdevents.change.merged.0.2.0",
            &format!("merged-{sha}"),
            json!({"id": sha, "source": "/forge", "content": {"repository": {"id": "an-org/a-repo"}}}),
            minute,
        )
    };
    let packaged = |artifact: &str, sha: &str, minute: i64| {
        send(
            "dev.cdevents.artifact.packaged.0.2.0",
            &format!("packaged-{sha}"),
            json!({"id": artifact, "content": {"change": {"id": sha,
                "source": "https://git.example/an-org/a-repo"}}}),
            minute,
        )
    };
    let deployed = |artifact: &str, minute: i64| {
        send(
            "dev.cdevents.service.deployed.0.2.0",
            &format!("deployed-{minute}"),
            json!({"id": "checkout", "content": {"environment": {"id": "env-prod"}, "artifactId": artifact}}),
            minute,
        )
    };
    let environment = |predicate: &str, name: &str, minute: i64| {
        send(
            &format!("dev.cdevents.environment.{predicate}.0.2.0"),
            &format!("env-{predicate}-{minute}"),
            json!({"id": "env-prod", "content": {"name": name, "uri": "https://prod.example"}}),
            minute,
        )
    };
    let post = |body: Value| {
        let app = &app;
        let ingest = ingest.clone();
        async move {
            let r = app.post("/api/webhooks/cdevents", Some(&ingest), &body).await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(r.body["status"], "recorded", "{}", r.text);
            r.body
        }
    };

    // Deployed before its artifact and its environment are known: recorded under the
    // environment's id, with no commit.
    post(merged("c1", 0)).await;
    post(deployed("pkg:oci/checkout@sha256:01", 30)).await;
    let list = listed(&app, "?service=checkout").await;
    assert_eq!(
        (list[0]["environment"].clone(), list[0]["sha"].clone()),
        (json!("env-prod"), Value::Null)
    );
    // The artifact arrives: the deployment ships the commit it was built from.
    let r = post(packaged("pkg:oci/checkout@sha256:01", "c1", 10)).await;
    assert_eq!(r["artifacts"], 1);
    // The environment is announced: what was recorded under its id is renamed.
    let r = post(environment("created", "production", -100)).await;
    assert_eq!(r["environments"], 1);

    // Known beforehand: the next deployment has both at once.
    post(merged("c2", 35)).await;
    post(packaged("pkg:oci/checkout@sha256:02", "c2", 40)).await;
    post(deployed("pkg:oci/checkout@sha256:02", 50)).await;
    let list = listed(&app, "?service=checkout").await;
    let seen: Vec<(Value, Value, Vec<String>, Value)> = list
        .iter()
        .map(|d| {
            (
                d["environment"].clone(),
                d["sha"].clone(),
                shas(d),
                d["commits"][0]["lead_seconds"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (
                json!("production"),
                json!("c2"),
                vec!["c2".to_owned()],
                json!(15.0 * 60.0)
            ),
            (
                json!("production"),
                json!("c1"),
                vec!["c1".to_owned()],
                json!(30.0 * 60.0)
            ),
        ]
    );
    // They count as production deployments with their lead times.
    let r = app
        .get("/api/dora?service=checkout&from=2026-11-02T00:00:00Z&to=2026-11-03T00:00:00Z")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["deployment_frequency"]["sample"], 2, "{}", r.text);
    assert_eq!(r.body["lead_time_for_changes"]["sample"], 2, "{}", r.text);

    // An incident names the environment by its id too.
    post(send(
        "dev.cdevents.incident.detected.0.1.0",
        "inc",
        json!({"id": "inc-1", "content": {"environment": {"id": "env-prod"}, "service": {"id": "checkout"}}}),
        60,
    ))
    .await;
    let r = app.get("/api/incidents?service=checkout").await;
    assert_eq!(r.body["incidents"][0]["environment"], "production", "{}", r.text);

    // An older event than the one recorded changes nothing; a deletion is kept.
    post(environment("modified", "old-name", -200)).await;
    post(environment("deleted", "production", 70)).await;
    let (name, deleted): (String, bool) = sqlx::query_as(
        "select name, deleted_at is not null from environments where external_id = 'env-prod'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((name.as_str(), deleted), ("production", true));
    assert_eq!(listed(&app, "?environment=production").await.len(), 2);
}
