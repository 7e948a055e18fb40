//! Test results: JUnit uploads (before and after their run), idempotency, limits and refusals,
//! flaky tests across runs of a commit, the test views and the quarantine.

use std::io::Write;

use axum::http::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::{event, TestApp, ADMIN};

/// A JUnit report of class `Calc` with one case per `(name, outcome)`: `pass`, `fail`, `error`,
/// `skip`.
pub fn junit(cases: &[(&str, &str)]) -> String {
    let mut xml =
        String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n<testsuite name=\"unit\">\n");
    for (name, outcome) in cases {
        let body = match *outcome {
            "fail" => "<failure message=\"expected 2, got 3\">assertion failed at calc.py:10</failure><system-out>computing</system-out>",
            "error" => "<error message=\"ConnectionError\" type=\"ConnectionError\"/>",
            "skip" => "<skipped message=\"not on linux\"/>",
            _ => "",
        };
        xml.push_str(&format!(
            "<testcase classname=\"Calc\" name=\"{name}\" time=\"0.25\">{body}</testcase>\n"
        ));
    }
    xml.push_str("</testsuite>\n</testsuites>\n");
    xml
}

pub(crate) async fn upload(app: &TestApp, run_id: &str, query: &str, xml: &str) -> crate::support::Reply {
    let auth = format!("Bearer {}", app.ingest);
    let uri = format!("/api/runs/{}/tests{query}", urlencode(run_id));
    app.send(
        &uri,
        &[("authorization", &auth), ("content-type", "application/xml")],
        xml.to_owned(),
    )
    .await
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

async fn run(app: &TestApp, id: &str, status: &str, commit: &str, attempt: i32, started: &str) {
    let r = app
        .event(&event(
            json!({"id": id, "repo": "org/app", "workflow": "ci", "status": status,
            "commit_sha": commit, "attempt": attempt, "run_key": id.rsplit_once(':').map_or(id, |p| p.0),
            "started_at": started, "finished_at": null, "duration_seconds": 600}),
        ))
        .await;
    assert!(r.status.is_success(), "{}", r.text);
}

fn counts(body: &Value) -> [u64; 6] {
    ["tests", "passed", "failed", "skipped", "flaky", "errors"].map(|k| body[k].as_u64().unwrap())
}

#[sqlx::test(migrations = "../migrations")]
async fn a_report_uploaded_before_its_run_is_attached_when_the_run_arrives(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let xml = junit(&[
        ("adds", "pass"),
        ("divides", "fail"),
        ("connects", "error"),
        ("windows", "skip"),
    ]);
    let r = upload(&app, "run-1", "?job=unit", &xml).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(counts(&r.body), [4, 1, 2, 1, 0, 1]);
    assert_eq!(r.body["attached"], false);

    // The run's tests are readable before the run itself arrives.
    let before = app.get("/api/runs/run-1/tests").await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.text);
    // … but count in no figure until it does.
    assert_eq!(app.get("/api/tests").await.body["total"], 0);

    run(&app, "run-1", "failure", "c1", 1, "2026-12-01T10:00:00Z").await;
    app.state.folder.run_once().await.unwrap();
    let list = app
        .get("/api/tests?from=2026-11-30T00:00:00Z&to=2026-12-02T00:00:00Z")
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(list.body["total"], 4, "{}", list.text);

    let tests = app.get("/api/runs/run-1/tests").await;
    assert_eq!(tests.body["summary"]["tests"], 4);
    let cases = tests.body["cases"].as_array().unwrap();
    let order: Vec<(&str, &str)> = cases
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        order,
        [
            ("divides", "failed"),
            ("connects", "error"),
            ("windows", "skipped"),
            ("adds", "passed")
        ],
        "failures first"
    );
    assert_eq!(cases[0]["message"], "expected 2, got 3");
    assert!(
        cases[0]["output"].as_str().unwrap().contains("computing"),
        "{}",
        cases[0]
    );
    assert_eq!(cases[0]["job"], "unit");
    assert_eq!(cases[0]["duration_seconds"], 0.25);

    assert_eq!(
        app.get("/api/runs/nothing-here/tests").await.status,
        StatusCode::NOT_FOUND
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn the_same_report_for_the_same_run_and_job_counts_once(pool: PgPool) {
    let app = TestApp::new(pool).await;
    run(&app, "run-1", "success", "c1", 1, "2026-12-01T10:00:00Z").await;
    let xml = junit(&[("adds", "pass"), ("subtracts", "pass")]);
    let first = upload(&app, "run-1", "?job=unit", &xml).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(first.body["attached"], true);
    let again = upload(&app, "run-1", "?job=unit", &xml).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["duplicate"], true);
    assert_eq!(counts(&again.body), counts(&first.body));
    // Another job's identical report is its own.
    assert_eq!(
        upload(&app, "run-1", "?job=lint", &xml).await.status,
        StatusCode::CREATED
    );

    let tests = app.get("/api/runs/run-1/tests").await;
    assert_eq!(tests.body["reports"], 2);
    let list = app
        .get("/api/tests?from=2026-11-30T00:00:00Z&to=2026-12-02T00:00:00Z")
        .await;
    let runs: Vec<i64> = list.body["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["runs"].as_i64().unwrap())
        .collect();
    assert_eq!(runs, [2, 2], "{}", list.text);
}

#[sqlx::test(migrations = "../migrations")]
async fn gzip_bodies_and_multipart_forms_are_read(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let auth = format!("Bearer {}", app.ingest);
    let gz = gzip(junit(&[("adds", "pass"), ("divides", "fail")]).as_bytes());
    let r = app
        .send(
            "/api/runs/run-1/tests",
            &[
                ("authorization", &auth),
                ("content-type", "application/xml"),
                ("content-encoding", "gzip"),
            ],
            gz.clone(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(counts(&r.body), [2, 1, 1, 0, 0, 0]);

    let boundary = "XyZ";
    let mut body = Vec::new();
    for (name, bytes) in [
        ("a.xml", junit(&[("one", "pass")]).into_bytes()),
        ("b.xml.gz", gz),
    ] {
        write!(body, "--{boundary}\r\nContent-Disposition: form-data; name=\"report\"; filename=\"{name}\"\r\nContent-Type: application/xml\r\n\r\n").unwrap();
        body.extend_from_slice(&bytes);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{boundary}--\r\n").unwrap();
    let r = app
        .send(
            "/api/runs/run-2/tests?job=unit",
            &[
                ("authorization", &auth),
                (
                    "content-type",
                    &format!("multipart/form-data; boundary={boundary}"),
                ),
            ],
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(counts(&r.body), [3, 2, 1, 0, 0, 0]);
    let files: Vec<&str> = r.body["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["a.xml", "b.xml.gz"]);
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn bad_reports_are_refused_with_the_reason_and_nothing_is_written(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let laughs = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">{}]><testsuite>&lol9;</testsuite>",
        (1..10)
            .map(|i| format!("<!ENTITY lol{i} \"{}\">", format!("&lol{};", i - 1).repeat(10)))
            .collect::<String>()
    );
    for (body, says) in [
        ("{\"tests\": 1}", "not XML"),
        ("<html><body>502 Bad Gateway</body></html>", "<html>"),
        ("<testsuite><testcase name=\"x\">", "not XML"),
        (laughs.as_str(), "DTD"),
    ] {
        let r = upload(&app, "run-1", "", body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", r.text);
        let message = r.body["error"]["details"][0]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
    // One bad file in a form refuses the whole upload.
    let auth = format!("Bearer {}", app.ingest);
    let body = format!(
        "--b\r\nContent-Disposition: form-data; name=\"r\"; filename=\"good.xml\"\r\n\r\n{}\r\n\
         --b\r\nContent-Disposition: form-data; name=\"r\"; filename=\"bad.xml\"\r\n\r\nnot xml\r\n--b--\r\n",
        junit(&[("one", "pass")])
    );
    let r = app
        .send(
            "/api/runs/run-1/tests",
            &[
                ("authorization", &auth),
                ("content-type", "multipart/form-data; boundary=b"),
            ],
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.body["error"]["details"][0]["field"], "bad.xml");

    // A gzip bomb: 80 MiB of zeros in 80 KiB.
    let bomb = gzip(&vec![b' '; 80 * 1024 * 1024]);
    let r = app
        .send(
            "/api/runs/run-1/tests",
            &[("authorization", &auth), ("content-encoding", "gzip")],
            bomb,
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);

    // No token, or a read-only one: refused.
    let r = app
        .send("/api/runs/run-1/tests", &[], junit(&[("one", "pass")]))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);

    let uploads: i64 = sqlx::query_scalar("select count(*) from test_uploads")
        .fetch_one(&pool)
        .await
        .unwrap();
    let names: i64 = sqlx::query_scalar("select count(*) from test_names")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((uploads, names), (0, 0));
}

#[sqlx::test(migrations = "../migrations")]
async fn a_test_that_fails_then_passes_on_one_commit_is_flaky_and_costs_its_red_run(pool: PgPool) {
    let app = TestApp::new(pool).await;
    // Attempt 1 fails on `login`; the re-run (attempt 2) passes. Another commit fails for real.
    run(&app, "gh:1:1", "failure", "c1", 1, "2026-12-01T10:00:00Z").await;
    run(&app, "gh:1:2", "success", "c1", 2, "2026-12-01T10:20:00Z").await;
    run(&app, "gh:2:1", "failure", "c2", 1, "2026-12-01T11:00:00Z").await;
    let r = upload(
        &app,
        "gh:1",
        "?attempt=1",
        &junit(&[("login", "fail"), ("adds", "pass")]),
    )
    .await;
    assert_eq!(r.body["run_id"], "gh:1:1", "{}", r.text);
    upload(
        &app,
        "gh:1",
        "?attempt=2",
        &junit(&[("login", "pass"), ("adds", "pass")]),
    )
    .await;
    upload(&app, "gh:2:1", "", &junit(&[("login", "pass"), ("adds", "fail")])).await;

    let window = "from=2026-11-30T00:00:00Z&to=2026-12-02T00:00:00Z";
    let flaky = app.get(&format!("/api/tests/flaky?{window}")).await;
    assert_eq!(flaky.status, StatusCode::OK, "{}", flaky.text);
    let tests = flaky.body["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 1, "only login flaked: {}", flaky.text);
    assert_eq!(tests[0]["name"], "login");
    assert_eq!(tests[0]["flakes"], 1);
    assert_eq!(tests[0]["runs"], 3);
    assert_eq!(tests[0]["red_runs"], 1);
    assert_eq!(tests[0]["red_minutes"], 10.0);
    assert_eq!(tests[0]["first_seen"], "2026-12-01T10:00:00Z");

    let list = app.get(&format!("/api/tests?{window}&sort=flaky")).await;
    let first = &list.body["tests"][0];
    assert_eq!(
        (first["name"].as_str(), first["flakes"].as_i64()),
        (Some("login"), Some(1))
    );
    // `adds` fails in its newest report: it started failing on c2, after passing on c1.
    let adds = app.get(&format!("/api/tests?{window}&q=adds")).await;
    let since = &adds.body["tests"][0]["failing_since"];
    assert_eq!(since["first_failing_commit"], "c2", "{}", adds.text);
    assert_eq!(since["last_passing_commit"], "c1");

    let id = first["test_id"].as_i64().unwrap();
    let history = app.get(&format!("/api/tests/history?test_id={id}")).await;
    let statuses: Vec<(&str, &str, bool)> = history.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["commit"].as_str().unwrap(),
                h["status"].as_str().unwrap(),
                h["flaky_commit"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("c2", "passed", false),
            ("c1", "passed", true),
            ("c1", "failed", true)
        ]
    );
}

#[sqlx::test(migrations = "../migrations")]
async fn retries_within_one_report_are_one_flaky_test(pool: PgPool) {
    let app = TestApp::new(pool).await;
    run(&app, "run-1", "success", "c1", 1, "2026-12-01T10:00:00Z").await;
    let r = upload(
        &app,
        "run-1",
        "",
        &junit(&[("login", "fail"), ("login", "pass"), ("adds", "pass")]),
    )
    .await;
    assert_eq!(counts(&r.body), [2, 1, 0, 0, 1, 0], "{}", r.text);
    let tests = app.get("/api/runs/run-1/tests").await;
    assert_eq!(tests.body["cases"][0]["status"], "flaky");
    assert_eq!(tests.body["cases"][0]["attempts"], 2);
    let flaky = app
        .get("/api/tests/flaky?from=2026-11-30T00:00:00Z&to=2026-12-02T00:00:00Z")
        .await;
    assert_eq!(flaky.body["tests"][0]["name"], "login", "{}", flaky.text);
    assert_eq!(flaky.body["tests"][0]["red_runs"], 0, "the run passed in the end");
}

#[sqlx::test(migrations = "../migrations")]
async fn the_quarantine_is_kept_per_repository_read_as_text_and_audited(pool: PgPool) {
    let app = TestApp::new(pool).await;
    run(&app, "run-1", "failure", "c1", 1, "2026-12-01T10:00:00Z").await;
    upload(&app, "run-1", "", &junit(&[("login", "fail"), ("adds", "pass")])).await;
    let list = app
        .get("/api/tests?from=2026-11-30T00:00:00Z&to=2026-12-02T00:00:00Z&q=login")
        .await;
    let id = list.body["tests"][0]["test_id"].as_i64().unwrap();

    let add = json!({"repo": "org/app", "test_id": id, "reason": "times out on CI"});
    assert_eq!(
        app.post("/api/tests/quarantine", None, &add).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.post("/api/tests/quarantine", Some(&app.ingest.clone()), &add)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = app.post("/api/tests/quarantine", Some(ADMIN), &add).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        app.post("/api/tests/quarantine", Some(ADMIN), &add).await.status,
        StatusCode::OK
    );
    let unknown = app
        .post(
            "/api/tests/quarantine",
            Some(ADMIN),
            &json!({"repo": "org/app", "test_id": 999999}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);

    let text = app.get("/api/tests/quarantine?repo=org/app&format=text").await;
    assert_eq!(text.text, "login\n");
    assert!(text.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(
        app.get("/api/tests/quarantine?repo=org/other&format=text")
            .await
            .text,
        ""
    );
    let json = app.get("/api/tests/quarantine?repo=org/app").await;
    assert_eq!(json.body[0]["reason"], "times out on CI");
    let listed = app
        .get("/api/tests?from=2026-11-30T00:00:00Z&to=2026-12-02T00:00:00Z&q=login")
        .await;
    assert_eq!(listed.body["tests"][0]["quarantined"], true);

    let uri = format!("/api/tests/quarantine?repo=org/app&test_id={id}");
    let del = app
        .raw(
            axum::http::Method::DELETE,
            &uri,
            Some(ADMIN),
            axum::body::Body::empty(),
        )
        .await;
    assert_eq!(del.status, StatusCode::NO_CONTENT, "{}", del.text);
    let again = app
        .raw(
            axum::http::Method::DELETE,
            &uri,
            Some(ADMIN),
            axum::body::Body::empty(),
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    let audit = app.get_as("/api/audit?target_kind=test", ADMIN).await;
    let actions: Vec<&str> = audit.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["test.released", "test.quarantined"], "{}", audit.text);
}

#[sqlx::test(migrations = "../migrations")]
async fn the_auto_quarantine_rule_quarantines_a_test_flaky_n_times(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let settings = json!({"retention_days": 90, "rollup_retention_days": 400, "auto_quarantine": {"flakes": 2, "days": 7}});
    app.put_settings(&settings).await;
    for (i, commit) in ["c1", "c2"].iter().enumerate() {
        let id = format!("run-{i}");
        run(
            &app,
            &id,
            "success",
            commit,
            1,
            &format!("2026-12-0{}T10:00:00Z", i + 1),
        )
        .await;
        upload(&app, &id, "", &junit(&[("login", "fail"), ("login", "pass")])).await;
        let text = app
            .get("/api/tests/quarantine?repo=org/app&format=text")
            .await
            .text;
        assert_eq!(
            text,
            if i == 0 { "" } else { "login\n" },
            "after {} flakes",
            i + 1
        );
    }
    let json = app.get("/api/tests/quarantine?repo=org/app").await;
    assert_eq!(json.body[0]["created_by"], "auto-quarantine");
    assert_eq!(json.body[0]["reason"], "flaky on 2 commits within 7 days");
    let audit = app.get_as("/api/audit?target_kind=test", ADMIN).await;
    assert_eq!(
        audit.body["entries"][0]["actor"], "auto-quarantine",
        "{}",
        audit.text
    );
}

/// The reports that pytest, jest (jest-junit) and `go test` (gotestsum) wrote for the sample
/// projects in tests/junit (by scripts/junit-reports.sh: `make test` runs it and names the
/// directory in `CICD_JUNIT_REPORTS`; without it, the script is run here).
fn real_reports() -> std::path::PathBuf {
    if let Ok(dir) = std::env::var("CICD_JUNIT_REPORTS") {
        return dir.into();
    }
    let dir = std::env::temp_dir().join(format!("junit-reports-{}", std::process::id()));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = std::process::Command::new(root.join("scripts/junit-reports.sh"))
        .arg(&dir)
        .status()
        .expect("scripts/junit-reports.sh runs");
    assert!(status.success(), "scripts/junit-reports.sh failed");
    dir
}

#[sqlx::test(migrations = "../migrations")]
async fn reports_written_by_real_test_runners_are_read_as_their_tests_meant(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let dir = real_reports();
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    for (i, tool) in ["pytest", "jest", "go"].iter().enumerate() {
        // Run 1 (its flaky test fails) and its re-run (it passes) share a commit; the run with
        // retries is another commit.
        let key = format!("gh:{i}");
        run(
            &app,
            &format!("{key}:1"),
            "failure",
            &format!("{tool}-c1"),
            1,
            "2026-12-01T10:00:00Z",
        )
        .await;
        run(
            &app,
            &format!("{key}:2"),
            "failure",
            &format!("{tool}-c1"),
            2,
            "2026-12-01T10:30:00Z",
        )
        .await;
        run(
            &app,
            &format!("{key}r:1"),
            "failure",
            &format!("{tool}-c2"),
            1,
            "2026-12-01T11:00:00Z",
        )
        .await;
        for (file, run_id) in [
            ("run1", format!("{key}:1")),
            ("run2", format!("{key}:2")),
            ("retries", format!("{key}r:1")),
        ] {
            let name = format!("{tool}-{file}.xml");
            let xml = std::fs::read_to_string(dir.join(&name)).unwrap();
            let want = &expected[&name];
            let r = upload(&app, &run_id, "?job=test", &xml).await;
            assert_eq!(r.status, StatusCode::CREATED, "{name}: {}", r.text);
            let keys = ["tests", "passed", "failed", "skipped", "flaky", "errors"];
            assert_eq!(
                counts(&r.body),
                keys.map(|k| want[k].as_u64().unwrap()),
                "{name}: {}",
                r.text
            );
            let got = app.get(&format!("/api/runs/{}/tests", urlencode(&run_id))).await;
            let statuses: std::collections::BTreeMap<String, String> = got.body["cases"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        format!(
                            "{}::{}",
                            c["classname"].as_str().unwrap(),
                            c["name"].as_str().unwrap()
                        ),
                        c["status"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            let wanted: std::collections::BTreeMap<String, String> = want["cases"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect();
            assert_eq!(statuses, wanted, "{name}");
        }
    }
    // Each tool's flaky test flaked across the run and its re-run; pytest's and Go's retries
    // show it within one report as well.
    let flaky = app
        .get("/api/tests/flaky?from=2026-11-30T00:00:00Z&to=2026-12-02T00:00:00Z")
        .await;
    let mut found: Vec<(String, i64)> = flaky.body["tests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_owned(),
                t["flakes"].as_i64().unwrap(),
            )
        })
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            ("TestReconnects".to_owned(), 2),
            ("reconnects after a dropped connection".to_owned(), 1),
            ("test_reconnects".to_owned(), 2)
        ],
        "{}",
        flaky.text
    );
    assert!(
        flaky.body["tests"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["red_runs"] == 1),
        "{}",
        flaky.text
    );
}

/// CDEvents test case runs (0.4 and 0.5) that name their pipeline run become its test results;
/// a test that fails and then passes in the same run is flaky; an event sent twice counts once.
#[sqlx::test(migrations = "../migrations")]
async fn cdevents_test_case_runs_are_recorded_under_their_pipeline_run(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let auth = format!("Bearer {}", app.ingest);
    let post = |ev: Value| {
        let app = &app;
        let auth = auth.clone();
        async move {
            let r = app
                .send(
                    "/api/webhooks/cdevents",
                    &[("authorization", &auth), ("content-type", "application/json")],
                    ev.to_string(),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            r
        }
    };
    let context = |id: &str, ty: &str| json!({"specversion": "0.5.0", "id": id, "source": "/tekton/acme", "type": ty, "timestamp": "2026-12-01T10:00:00Z"});
    post(json!({
        "context": context("p1", "dev.cdevents.pipelinerun.started.0.3.0"),
        "subject": {"id": "run-9", "content": {"pipelineName": "release"}},
        "customData": {"repo": "acme/api", "sha": "abc"}
    }))
    .await;
    let case = |id: &str, version: &str, outcome: &str| {
        json!({
            "context": context(id, &format!("dev.cdevents.testcaserun.finished.{version}")),
            "subject": {"id": format!("case-{id}"), "content": {
                "outcome": outcome, "reason": "timed out",
                "testCase": {"id": "login", "name": "logs in"},
                "testSuiteRun": {"id": "suite-1"},
                "pipelineRun": {"id": "run-9", "source": "/tekton/acme"}}}
        })
    };
    let first = post(case("c1", "0.2.0", "fail")).await;
    assert_eq!(
        (first.body["status"].as_str(), first.body["tests"].as_u64()),
        (Some("recorded"), Some(1)),
        "{}",
        first.text
    );
    post(case("c1", "0.2.0", "fail")).await;
    post(case("c2", "0.3.0", "pass")).await;
    post(case("c3", "0.3.0", "pass")).await;

    let run_id = urlencode("cdevents:/tekton/acme:run-9");
    let tests = app.get(&format!("/api/runs/{run_id}/tests")).await;
    assert_eq!(tests.status, StatusCode::OK, "{}", tests.text);
    assert_eq!(
        tests.body["reports"], 3,
        "the repeated event counts once: {}",
        tests.text
    );
    assert_eq!(tests.body["cases"][0]["status"], "failed");
    assert_eq!(tests.body["cases"][0]["message"], "timed out");
    let flaky = app
        .get("/api/tests/flaky?from=2026-11-30T00:00:00Z&to=2026-12-02T00:00:00Z")
        .await;
    assert_eq!(flaky.body["tests"][0]["name"], "logs in", "{}", flaky.text);
    assert_eq!(flaky.body["tests"][0]["runs"], 3);
}

#[sqlx::test(migrations = "../migrations")]
async fn test_results_past_their_retention_go_with_their_details_rollups_and_flakes(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let now = chrono::Utc::now();
    let at = |days: i64| (now - chrono::TimeDelta::days(days)).to_rfc3339();
    // An old commit whose test flaked (failed, then passed on the re-run), and a recent run.
    run(&app, "old:1", "failure", "c-old", 1, &at(20)).await;
    run(&app, "old:2", "success", "c-old", 2, &at(20)).await;
    run(&app, "new:1", "failure", "c-new", 1, &at(2)).await;
    upload(&app, "old:1", "", &junit(&[("login", "fail"), ("adds", "pass")])).await;
    upload(&app, "old:2", "", &junit(&[("login", "pass"), ("adds", "pass")])).await;
    upload(&app, "new:1", "", &junit(&[("login", "pass"), ("adds", "fail")])).await;
    let count = |table: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(&format!("select count(*) from {table}"))
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        (
            count("test_results").await,
            count("test_result_details").await,
            count("test_flakes").await
        ),
        (6, 2, 1)
    );
    // The runs stay (90 days); the tests' figures go after 10.
    let settings = json!({"retention_days": 90, "rollup_retention_days": 400, "test_retention_days": 10});
    app.put_settings(&settings).await;
    let report = cicd_monitor::retention::Retention::new(pool.clone(), &prometheus::Registry::new())
        .run(now)
        .await
        .unwrap()
        .expect("the lock was free");
    assert_eq!(report.runs, 0);
    // Two reports, the old day's two rollup rows and the flake.
    assert_eq!(report.tests, 5, "{report:?}");
    assert_eq!(
        (
            count("test_uploads").await,
            count("test_results").await,
            count("test_result_details").await,
            count("test_rollups").await,
            count("test_flakes").await
        ),
        (1, 2, 1, 2, 0)
    );
    let tests = app.get("/api/runs/new:1/tests").await;
    assert_eq!(tests.body["summary"]["failed"], 1, "{}", tests.text);
    assert_eq!(tests.body["cases"][0]["message"], "expected 2, got 3");
    assert_eq!(app.get("/api/runs/old:1/tests").await.body["reports"], 0);
    let again = cicd_monitor::retention::Retention::new(pool.clone(), &prometheus::Registry::new())
        .run(now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.tests, 0);
}

#[sqlx::test(migrations = "../migrations")]
async fn filters_longer_than_a_name_are_refused(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let long = "r".repeat(256);
    for uri in [
        format!("/api/tests?workflow={long}"),
        format!("/api/tests?q={long}"),
        format!("/api/tests/flaky?branch={long}"),
        format!("/api/tests/history?test_id=1&repo={long}"),
        format!("/api/tests/quarantine?repo={long}"),
    ] {
        let r = app.get(&uri).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{uri}: {}", r.text);
        assert_eq!(r.body["error"]["code"], "validation_failed", "{}", r.text);
    }
    assert_eq!(
        app.get(&format!("/api/tests?repo={}", "r".repeat(255)))
            .await
            .status,
        StatusCode::OK
    );
}
