//! Rendering and delivery tests, against a local fake Slack / webhook receiver.
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use secrecy::SecretString;

use super::*;
use crate::ingest::github::signature_matches;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn notice(kind: NoticeKind) -> Notice {
    Notice {
        kind,
        rule_id: Some(7),
        rule_name: "main is red".into(),
        severity: Severity::Critical,
        summary: Some("The main branch of acme/api is failing".into()),
        runbook_url: Some("https://runbooks.example.com/ci#main-red".into()),
        condition: "3 consecutive failures".into(),
        labels: labels(&[("repo", "acme/api"), ("workflow", "ci"), ("branch", "main")]),
        value: Some("3".into()),
        threshold: Some("3".into()),
        incident_id: Some(42),
        started_at: at("2025-08-27T12:00:00Z"),
        resolved_at: (kind == NoticeKind::Resolved).then(|| at("2025-08-27T13:05:00Z")),
        run_id: Some("30433642".into()),
        run_url: Some("https://github.com/acme/api/actions/runs/30433642".into()),
        dashboard_url: Some("https://cicd.example.com/?repo=acme%2Fapi&branch=main".into()),
        environment: "production".into(),
    }
}

fn block<'a>(msg: &'a Value, kind: &str) -> Option<&'a Value> {
    msg["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == kind)
}

fn units(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Every mrkdwn string of the message: `text` and each mrkdwn text object.
fn mrkdwn_texts(msg: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if o.get("type").and_then(Value::as_str) == Some("mrkdwn") {
                    out.push(o["text"].as_str().unwrap().to_owned());
                }
                o.values().for_each(|v| walk(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = vec![msg["text"].as_str().unwrap().to_owned()];
    walk(&msg["blocks"], &mut out);
    out
}

/// The limits Slack enforces, checked on any message.
fn assert_within_slack_limits(msg: &Value) {
    assert!(!msg["text"].as_str().unwrap().is_empty());
    let blocks = msg["blocks"].as_array().unwrap();
    assert!(!blocks.is_empty() && blocks.len() <= 50);
    let header = block(msg, "header").unwrap();
    assert_eq!(header["text"]["type"], "plain_text");
    assert!(units(header["text"]["text"].as_str().unwrap()) <= 150);
    let section = block(msg, "section").unwrap();
    assert!(units(section["text"]["text"].as_str().unwrap()) <= 3000);
    // `fields` is absent or holds 1 to 10 (Slack refuses an empty array).
    let fields = section.get("fields").map_or(&[][..], |f| f.as_array().unwrap());
    assert!(section.get("fields").is_none() || (1..=10).contains(&fields.len()));
    for f in fields {
        assert_eq!(f["type"], "mrkdwn");
        assert!(units(f["text"].as_str().unwrap()) <= 2000);
    }
    let context = block(msg, "context").unwrap()["elements"].as_array().unwrap();
    assert!(!context.is_empty() && context.len() <= 10);
    assert!(context.iter().all(|e| units(e["text"].as_str().unwrap()) <= 3000));
    if let Some(actions) = block(msg, "actions") {
        let buttons = actions["elements"].as_array().unwrap();
        assert!(!buttons.is_empty() && buttons.len() <= 25);
        for b in buttons {
            assert!(units(b["text"]["text"].as_str().unwrap()) <= 75);
            let url = b["url"].as_str().unwrap();
            assert!(url.starts_with("https://") || url.starts_with("http://"));
        }
    }
    // No entity cut in half: every `&` in mrkdwn starts one of the three escapes.
    for text in mrkdwn_texts(msg) {
        for (i, _) in text.match_indices('&') {
            let rest = &text[i..];
            assert!(
                rest.starts_with("&amp;") || rest.starts_with("&lt;") || rest.starts_with("&gt;"),
                "broken entity in {text:?}"
            );
        }
    }
}

fn field_texts(msg: &Value) -> Vec<String> {
    block(msg, "section").unwrap()["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap().to_owned())
        .collect()
}

fn button_urls(msg: &Value) -> Vec<(String, String)> {
    block(msg, "actions")
        .map(|a| {
            a["elements"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| {
                    (
                        b["text"]["text"].as_str().unwrap().to_owned(),
                        b["url"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn firing_reads_as_the_notification() {
    let msg = slack_message(&notice(NoticeKind::Firing));
    assert_within_slack_limits(&msg);
    assert_eq!(
        msg["text"],
        "🔴 [critical] main is red — acme/api · ci · main: 3 consecutive failures"
    );
    assert_eq!(block(&msg, "header").unwrap()["text"]["text"], "🔴 main is red");
    let section = block(&msg, "section").unwrap()["text"]["text"].as_str().unwrap();
    assert!(section.starts_with("🔴 *Firing:* 3 consecutive failures"));
    assert!(section.contains("The main branch of acme/api is failing"));
    assert_eq!(
        field_texts(&msg),
        [
            "*Severity*\ncritical",
            "*Repo*\nacme/api",
            "*Workflow*\nci",
            "*Branch*\nmain",
            "*Value*\n3 (threshold 3)",
            "*Started*\n<!date^1756296000^{date_short_pretty} {time}|2025-08-27 12:00 UTC>",
        ]
    );
    let context: Vec<_> = block(&msg, "context").unwrap()["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        context,
        [
            "Environment: *production*",
            "Rule: main is red (#7)",
            "Incident #42",
            "Run 30433642"
        ]
    );
    assert_eq!(
        button_urls(&msg),
        [
            (
                "View run".into(),
                "https://github.com/acme/api/actions/runs/30433642".into()
            ),
            (
                "Dashboard".into(),
                "https://cicd.example.com/?repo=acme%2Fapi&branch=main".into()
            ),
            (
                "Runbook".into(),
                "https://runbooks.example.com/ci#main-red".into()
            ),
        ]
    );
}

#[test]
fn severity_sets_the_firing_emoji() {
    for (severity, emoji) in [
        (Severity::Critical, "🔴"),
        (Severity::Warning, "🟠"),
        (Severity::Info, "🔵"),
    ] {
        let mut n = notice(NoticeKind::Firing);
        n.severity = severity;
        let msg = slack_message(&n);
        let text = msg["text"].as_str().unwrap();
        assert!(
            text.starts_with(&format!("{emoji} [{}]", severity.as_str())),
            "{text}"
        );
        assert!(field_texts(&msg).contains(&format!("*Severity*\n{}", severity.as_str())));
    }
}

#[test]
fn repeat_says_still_firing_since() {
    let msg = slack_message(&notice(NoticeKind::Repeat));
    assert_within_slack_limits(&msg);
    assert_eq!(
        msg["text"],
        "🔁 [critical] main is red — acme/api · ci · main: still firing since 2025-08-27 12:00 UTC \
         (3 consecutive failures)"
    );
    assert_eq!(
        block(&msg, "header").unwrap()["text"]["text"],
        "🔁 Still firing: main is red"
    );
    let section = block(&msg, "section").unwrap()["text"]["text"].as_str().unwrap();
    assert!(section.starts_with("🔁 *Still firing* since <!date^1756296000^"));
}

#[test]
fn resolved_says_resolved_with_duration() {
    let msg = slack_message(&notice(NoticeKind::Resolved));
    assert_within_slack_limits(&msg);
    assert_eq!(
        msg["text"],
        "✅ resolved: [critical] main is red — acme/api · ci · main (after 1h 5m)"
    );
    assert_eq!(
        block(&msg, "header").unwrap()["text"]["text"],
        "✅ Resolved: main is red"
    );
    let section = block(&msg, "section").unwrap()["text"]["text"].as_str().unwrap();
    assert!(section.starts_with("✅ *Resolved* after 1h 5m (was: 3 consecutive failures)"));
    let fields = field_texts(&msg);
    assert_eq!(fields.len(), 6);
    assert!(fields[5].starts_with("*Resolved*\n<!date^1756299900^"));
    assert!(fields[5].ends_with("|2025-08-27 13:05 UTC> (after 1h 5m)"));
    // The value it ended with (all green) is not the news: the headline says what was wrong.
    assert!(!fields.iter().any(|f| f.starts_with("*Value*")), "{fields:?}");

    let mut unknown_end = notice(NoticeKind::Resolved);
    unknown_end.resolved_at = None;
    let msg = slack_message(&unknown_end);
    assert_within_slack_limits(&msg);
    assert_eq!(
        msg["text"],
        "✅ resolved: [critical] main is red — acme/api · ci · main"
    );
}

#[test]
fn test_message_says_so() {
    let msg = slack_message(&notice(NoticeKind::Test));
    assert_within_slack_limits(&msg);
    assert_eq!(
        msg["text"],
        "🧪 Test message from ci-cd-monitor: if you can read this, the integration works."
    );
    assert_eq!(
        block(&msg, "header").unwrap()["text"]["text"],
        "🧪 Test message from ci-cd-monitor"
    );
    // Said once: no sample alert, no rule, no fields after the header.
    let section = block(&msg, "section").unwrap();
    let words = section["text"]["text"].as_str().unwrap();
    assert!(
        words.starts_with("If you can read this, the integration works."),
        "{words}"
    );
    assert!(!words.contains("Test message"), "{words}");
    assert!(section.get("fields").is_none(), "{section}");
    let context = block(&msg, "context").unwrap().to_string();
    assert!(!context.contains("Rule:"), "{context}");
}

#[test]
fn each_kind_looks_different() {
    let kinds = [
        NoticeKind::Firing,
        NoticeKind::Repeat,
        NoticeKind::Resolved,
        NoticeKind::Test,
    ];
    let headers: std::collections::HashSet<String> = kinds
        .iter()
        .map(|k| block(&slack_message(&notice(*k)), "header").unwrap()["text"]["text"].to_string())
        .collect();
    assert_eq!(headers.len(), kinds.len());
}

#[test]
fn a_bare_notice_still_renders() {
    let n = Notice {
        kind: NoticeKind::Firing,
        rule_id: None,
        rule_name: "slow builds".into(),
        severity: Severity::Warning,
        summary: None,
        runbook_url: None,
        condition: "p95 duration above 10m".into(),
        labels: BTreeMap::new(),
        value: None,
        threshold: None,
        incident_id: None,
        started_at: at("2025-08-27T12:00:00Z"),
        resolved_at: None,
        run_id: None,
        run_url: None,
        dashboard_url: None,
        environment: "staging".into(),
    };
    let msg = slack_message(&n);
    assert_within_slack_limits(&msg);
    assert_eq!(msg["text"], "🟠 [warning] slow builds: p95 duration above 10m");
    assert!(block(&msg, "actions").is_none(), "no URL, no actions block");
    assert_eq!(field_texts(&msg).len(), 2);
}

#[test]
fn buttons_only_for_present_http_urls() {
    let mut n = notice(NoticeKind::Firing);
    n.run_url = Some("javascript:alert(1)".into());
    n.dashboard_url = None;
    n.runbook_url = Some("http://wiki.internal/runbooks/ci".into());
    let msg = slack_message(&n);
    assert_within_slack_limits(&msg);
    assert_eq!(
        button_urls(&msg),
        [("Runbook".into(), "http://wiki.internal/runbooks/ci".into())]
    );

    for bad in [
        "",
        "/relative/path",
        "ftp://files.example.com/x",
        "https://exa mple.com/",
        "mailto:ops@example.com",
        "https://",
    ] {
        let mut n = notice(NoticeKind::Firing);
        n.run_url = Some(bad.into());
        n.dashboard_url = Some(bad.into());
        n.runbook_url = Some(bad.into());
        let msg = slack_message(&n);
        assert!(block(&msg, "actions").is_none(), "{bad:?} made a button");
    }

    let mut long = notice(NoticeKind::Firing);
    long.runbook_url = Some(format!("https://example.com/{}", "a".repeat(3000)));
    assert_eq!(button_urls(&slack_message(&long)).len(), 2);
}

#[test]
fn user_text_is_escaped_in_mrkdwn() {
    let mut n = notice(NoticeKind::Firing);
    n.rule_name = "<script>&".into();
    n.summary = Some("<script>alert(1)</script> & <!channel> <https://evil.example|click>".into());
    n.condition = "a > b & c < d".into();
    n.environment = "<!here>".into();
    n.labels = labels(&[("repo", "<@U024BE7LH>"), ("branch", "feat/<x>&y")]);
    n.value = Some("<v>".into());
    n.run_id = Some("<!everyone>".into());
    let msg = slack_message(&n);
    assert_within_slack_limits(&msg);

    assert_eq!(
        msg["text"],
        "🔴 [critical] &lt;script&gt;&amp; — &lt;@U024BE7LH&gt; · feat/&lt;x&gt;&amp;y: \
         a &gt; b &amp; c &lt; d"
    );
    for text in mrkdwn_texts(&msg) {
        // Our only control sequence is the date token.
        let without_dates = text.replace("<!date^", "");
        assert!(!without_dates.contains('<'), "unescaped < in {text:?}");
        assert!(!text.contains("<script"), "{text:?}");
        assert!(
            !text.contains("<!channel>") && !text.contains("<!here>"),
            "{text:?}"
        );
    }
    let section = block(&msg, "section").unwrap()["text"]["text"].as_str().unwrap();
    assert!(section.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;!channel&gt;"));
    assert!(field_texts(&msg).contains(&"*Repo*\n&lt;@U024BE7LH&gt;".to_owned()));
    // Plain text is not parsed by Slack: the header shows the name as written.
    assert_eq!(block(&msg, "header").unwrap()["text"]["text"], "🔴 <script>&");
}

#[test]
fn long_values_are_cut_within_limits() {
    let mut n = notice(NoticeKind::Resolved);
    // Escapes, multi-byte and astral characters, so cuts land at every kind of boundary.
    n.summary = Some("é&<😀".repeat(2500));
    assert_eq!(n.summary.as_ref().unwrap().chars().count(), 10_000);
    n.rule_name = "r&".repeat(1000);
    n.condition = "c>".repeat(3000);
    n.environment = "e".repeat(5000);
    n.run_id = Some("9".repeat(5000));
    n.value = Some("&".repeat(5000));
    n.threshold = Some("<".repeat(5000));
    n.labels = labels(&[
        ("repo", &"😀".repeat(5000)),
        ("workflow", &"w&".repeat(5000)),
        ("branch", &"b".repeat(5000)),
    ]);
    let msg = slack_message(&n);
    // Valid JSON once serialized (no split UTF-8, nothing unrepresentable).
    let wire = msg.to_string();
    let back: Value = serde_json::from_str(&wire).unwrap();
    assert_eq!(back, msg);
    assert_within_slack_limits(&msg);
    for f in field_texts(&msg) {
        assert!(f.chars().count() <= 2000);
    }
    let section = block(&msg, "section").unwrap()["text"]["text"].as_str().unwrap();
    assert!(section.ends_with('…'));
    assert!(units(msg["text"].as_str().unwrap()) <= 3000);
    assert!(wire.len() < 40_000, "{}", wire.len());

    assert_eq!(truncate("héllo", 5), "héllo");
    assert_eq!(truncate("héllo!", 5), "héll…");
    assert_eq!(truncate("😀😀😀", 5), "😀😀…");
    assert_eq!(esc("a&b", 5), "a…");
    assert_eq!(esc("a&b", 7), "a&amp;b");
    assert_eq!(esc("a&bc", 7), "a&amp;…");
}

#[test]
fn fields_never_exceed_ten() {
    let mut n = notice(NoticeKind::Resolved);
    n.labels = (0..20)
        .map(|i| (format!("label{i:02}"), format!("v{i}")))
        .collect();
    n.labels.insert("repo".into(), "acme/api".into());
    let msg = slack_message(&n);
    assert_within_slack_limits(&msg);
    let fields = field_texts(&msg);
    assert_eq!(fields.len(), 10);
    assert_eq!(fields[0], "*Severity*\ncritical");
    assert_eq!(fields[1], "*Repo*\nacme/api");
    assert!(fields[7].starts_with("*label"), "{}", fields[7]);
    assert!(fields[8].starts_with("*Started*"));
    assert!(fields[9].starts_with("*Resolved*"));
}

#[test]
fn durations_read_naturally() {
    assert_eq!(human_duration(-5), "0s");
    assert_eq!(human_duration(45), "45s");
    assert_eq!(human_duration(750), "12m 30s");
    assert_eq!(human_duration(3900), "1h 5m");
    assert_eq!(human_duration(2 * 86_400 + 4 * 3600 + 59), "2d 4h");
}

#[test]
fn webhook_body_is_the_documented_shape() {
    assert_eq!(
        webhook_body(&notice(NoticeKind::Firing)),
        json!({
            "version": "1",
            "kind": "firing",
            "rule": {
                "id": 7,
                "name": "main is red",
                "severity": "critical",
                "condition": "3 consecutive failures",
                "summary": "The main branch of acme/api is failing",
                "runbook_url": "https://runbooks.example.com/ci#main-red"
            },
            "group": {"branch": "main", "repo": "acme/api", "workflow": "ci"},
            "value": "3",
            "threshold": "3",
            "incident_id": 42,
            "started_at": "2025-08-27T12:00:00Z",
            "resolved_at": null,
            "run": {"id": "30433642", "url": "https://github.com/acme/api/actions/runs/30433642"},
            "dashboard_url": "https://cicd.example.com/?repo=acme%2Fapi&branch=main",
            "environment": "production"
        })
    );
    let resolved = webhook_body(&notice(NoticeKind::Resolved));
    assert_eq!(resolved["kind"], "resolved");
    assert_eq!(resolved["resolved_at"], "2025-08-27T13:05:00Z");
    assert_eq!(webhook_body(&notice(NoticeKind::Repeat))["kind"], "repeat");
    assert_eq!(webhook_body(&notice(NoticeKind::Test))["kind"], "test");
}

#[test]
fn webhook_body_keeps_every_key_as_null() {
    let mut n = notice(NoticeKind::Firing);
    n.rule_id = None;
    n.summary = None;
    n.runbook_url = None;
    n.labels.clear();
    n.value = None;
    n.threshold = None;
    n.incident_id = None;
    n.run_id = None;
    n.run_url = None;
    n.dashboard_url = None;
    n.started_at = at("2025-08-27T12:00:00.123456Z");
    let body = webhook_body(&n);
    for key in [
        "value",
        "threshold",
        "incident_id",
        "resolved_at",
        "dashboard_url",
    ] {
        assert!(body.as_object().unwrap().contains_key(key), "{key}");
        assert_eq!(body[key], Value::Null, "{key}");
    }
    for key in ["id", "summary", "runbook_url"] {
        assert_eq!(body["rule"][key], Value::Null, "{key}");
    }
    assert_eq!(body["run"], json!({"id": null, "url": null}));
    assert_eq!(body["group"], json!({}));
    assert_eq!(body["started_at"], "2025-08-27T12:00:00Z");
}

#[test]
fn signature_matches_known_vectors() {
    // `printf '%s' '{"kind":"test","version":"1"}' | openssl dgst -sha256 -hmac whsec_ci-cd-monitor`
    assert_eq!(
        sign(b"whsec_ci-cd-monitor", br#"{"kind":"test","version":"1"}"#),
        "sha256=76c361441c75e6e561744b38b4551442777c68fc09c4794573c8ce1d5a48cc02"
    );
    // GitHub's documented vector (same construction as `X-Hub-Signature-256`).
    assert_eq!(
        sign(b"It's a Secret to Everybody", b"Hello, World!"),
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
    // `printf '' | openssl dgst -sha256 -hmac key`
    assert_eq!(
        sign(b"key", b""),
        "sha256=5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0"
    );
}

// --- `send` against a local fake Slack / webhook receiver ---

#[derive(Debug, Clone)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<Received>>>);

impl Log {
    fn take(&self) -> Vec<Received> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

async fn receiver(State(log): State<Log>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_owned();
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    log.0.lock().unwrap().push(Received {
        path: path.clone(),
        headers,
        body,
    });
    let status = |code: u16| axum::http::StatusCode::from_u16(code).unwrap();
    match path.as_str() {
        "/services/ok" | "/hook" => (status(200), "ok").into_response(),
        "/hook/accepted" => status(202).into_response(),
        "/services/rate-limited" => (status(429), [("retry-after", "3")], "rate_limited").into_response(),
        "/services/rollup" => (status(500), "rollup_error").into_response(),
        "/services/unavailable" => (status(503), [("retry-after", "120")], "").into_response(),
        "/services/no-service" => (status(404), "no_service").into_response(),
        "/services/archived" => (status(410), "channel_is_archived").into_response(),
        "/services/invalid" => (status(400), "invalid_payload").into_response(),
        "/services/html" => (status(403), "<html>\n  <body>Forbidden</body>\n</html>").into_response(),
        "/services/echo" => {
            (status(403), format!("action_prohibited for http://{host}{path}")).into_response()
        }
        "/services/long" => (status(400), "x".repeat(10_000)).into_response(),
        "/services/slow" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            (status(200), "ok").into_response()
        }
        "/services/moved" => (status(301), [("location", "/services/ok")]).into_response(),
        _ => (status(404), "no such hook").into_response(),
    }
}

async fn fake_server() -> (SocketAddr, Log) {
    let log = Log::default();
    let app = Router::new().fallback(receiver).with_state(log.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, log)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn slack(addr: SocketAddr, path: &str) -> (Target, String) {
    let url = format!("http://{addr}{path}");
    (
        Target::Slack {
            url: SecretString::from(url.clone()),
        },
        url,
    )
}

fn reason(d: &Delivery) -> &str {
    match d {
        Delivery::Sent => "",
        Delivery::Retry { reason, .. } | Delivery::Permanent { reason } => reason,
    }
}

#[tokio::test]
async fn slack_responses_are_classified() {
    let (addr, log) = fake_server().await;
    let client = client();
    let n = notice(NoticeKind::Firing);
    let cases: Vec<(&str, Delivery)> = vec![
        ("/services/ok", Delivery::Sent),
        (
            "/services/rate-limited",
            Delivery::Retry {
                after: Some(Duration::from_secs(3)),
                reason: "HTTP 429: rate_limited".into(),
            },
        ),
        (
            "/services/rollup",
            Delivery::Retry {
                after: None,
                reason: "HTTP 500: rollup_error".into(),
            },
        ),
        (
            "/services/unavailable",
            Delivery::Retry {
                after: Some(Duration::from_secs(120)),
                reason: "HTTP 503".into(),
            },
        ),
        (
            "/services/no-service",
            Delivery::Permanent {
                reason: "no_service".into(),
            },
        ),
        (
            "/services/archived",
            Delivery::Permanent {
                reason: "channel_is_archived".into(),
            },
        ),
        (
            "/services/invalid",
            Delivery::Permanent {
                reason: "invalid_payload".into(),
            },
        ),
        (
            "/services/html",
            Delivery::Permanent {
                reason: "HTTP 403: <html> <body>Forbidden</body> </html>".into(),
            },
        ),
        (
            "/services/moved",
            Delivery::Permanent {
                reason: "HTTP 301 (unexpected status; redirects are not followed)".into(),
            },
        ),
    ];
    for (path, expected) in cases {
        let (target, _) = slack(addr, path);
        assert_eq!(send(&client, &target, &n).await, expected, "{path}");
        let received = log.take();
        assert_eq!(received.len(), 1, "{path}");
        let r = &received[0];
        assert_eq!(r.path, path);
        assert_eq!(r.headers["content-type"], "application/json");
        assert_eq!(
            r.headers["user-agent"],
            concat!("ci-cd-monitor/", env!("CARGO_PKG_VERSION"))
        );
        assert!(r.headers.get(SIGNATURE_HEADER).is_none());
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert!(body["text"].as_str().is_some_and(|t| !t.is_empty()), "{path}");
        assert!(body["blocks"].as_array().is_some_and(|b| !b.is_empty()), "{path}");
        assert_eq!(body, slack_message(&n));
    }
}

#[tokio::test]
async fn reasons_are_short_and_never_show_the_url() {
    let (addr, log) = fake_server().await;
    let client = client();
    let n = notice(NoticeKind::Firing);

    let (target, url) = slack(addr, "/services/echo");
    let outcome = send(&client, &target, &n).await;
    assert!(matches!(outcome, Delivery::Permanent { .. }), "{outcome:?}");
    assert!(!reason(&outcome).contains(&url), "{outcome:?}");
    assert!(!reason(&outcome).contains("/services/echo"), "{outcome:?}");

    let (target, _) = slack(addr, "/services/long");
    let outcome = send(&client, &target, &n).await;
    let Delivery::Permanent { reason } = &outcome else {
        panic!("{outcome:?}")
    };
    assert!(reason.starts_with("HTTP 400: xxx"), "{reason}");
    assert!(reason.chars().count() <= "HTTP 400: ".len() + 200, "{reason}");
    log.take();
}

#[tokio::test]
async fn a_slow_receiver_is_retried() {
    let (addr, log) = fake_server().await;
    let (target, url) = slack(addr, "/services/slow");
    let started = std::time::Instant::now();
    let outcome = send(&client(), &target, &notice(NoticeKind::Firing)).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    let Delivery::Retry { after, reason } = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(*after, None);
    assert!(reason.starts_with("timed out"), "{reason}");
    assert!(
        !reason.contains(&url) && !reason.contains("/services/"),
        "{reason}"
    );
    assert_eq!(log.take().len(), 1);
}

#[tokio::test]
async fn a_closed_port_is_retried() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap();
    drop(closed);
    let (target, url) = slack(addr, "/services/T000/B000/XXXXXXXX");
    let outcome = send(&client(), &target, &notice(NoticeKind::Firing)).await;
    let Delivery::Retry { after, reason } = &outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(*after, None);
    assert!(reason.starts_with("connection failed"), "{reason}");
    assert!(!reason.contains(&url) && !reason.contains("XXXXXXXX"), "{reason}");
}

#[tokio::test]
async fn an_unusable_url_is_permanent() {
    for url in ["not a url", "ftp://example.com/hook"] {
        let target = Target::Webhook {
            url: SecretString::from(url.to_owned()),
            hmac_secret: None,
        };
        let outcome = send(&client(), &target, &notice(NoticeKind::Test)).await;
        assert!(
            matches!(outcome, Delivery::Permanent { .. }),
            "{url}: {outcome:?}"
        );
        assert!(!reason(&outcome).contains(url), "{outcome:?}");
    }
}

#[tokio::test]
async fn webhooks_are_signed_over_the_exact_body() {
    let (addr, log) = fake_server().await;
    let client = client();
    let n = notice(NoticeKind::Resolved);
    let signed = Target::Webhook {
        url: SecretString::from(format!("http://{addr}/hook")),
        hmac_secret: Some(SecretString::from("s3cr3t-shared".to_owned())),
    };
    assert_eq!(send(&client, &signed, &n).await, Delivery::Sent);
    let received = log.take();
    let r = &received[0];
    let signature = r.headers[SIGNATURE_HEADER].to_str().unwrap();
    assert!(
        signature_matches(b"s3cr3t-shared", &r.body, signature),
        "{signature}"
    );
    assert!(!signature_matches(b"another secret", &r.body, signature));
    assert_eq!(signature, sign(b"s3cr3t-shared", &r.body));
    assert_eq!(r.headers["content-type"], "application/json");
    assert!(r.headers["user-agent"]
        .to_str()
        .unwrap()
        .starts_with("ci-cd-monitor/"));
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body, webhook_body(&n));

    let unsigned = Target::Webhook {
        url: SecretString::from(format!("http://{addr}/hook/accepted")),
        hmac_secret: None,
    };
    assert_eq!(send(&client, &unsigned, &n).await, Delivery::Sent);
    assert!(log.take()[0].headers.get(SIGNATURE_HEADER).is_none());

    let missing = Target::Webhook {
        url: SecretString::from(format!("http://{addr}/nowhere")),
        hmac_secret: None,
    };
    assert_eq!(
        send(&client, &missing, &n).await,
        Delivery::Permanent {
            reason: "HTTP 404: no such hook".into()
        }
    );
    log.take();
}

#[test]
fn a_runner_pool_notice_names_its_label_set_figure_and_view() {
    let n = Notice {
        condition: "≥ 5 jobs queued for runners [gpu, self-hosted] for 15m".into(),
        labels: labels(&[("labels", "gpu,self-hosted")]),
        value: Some("7 jobs queued (the oldest for 23m)".into()),
        threshold: Some("5 jobs queued for 15m".into()),
        run_id: None,
        run_url: None,
        dashboard_url: Some("https://cicd.example.com/runners?labels=gpu%2Cself-hosted".into()),
        ..notice(NoticeKind::Firing)
    };
    let msg = slack_message(&n);
    assert_within_slack_limits(&msg);
    assert_eq!(
        msg["text"],
        "🔴 [critical] main is red — gpu,self-hosted: ≥ 5 jobs queued for runners [gpu, self-hosted] for 15m"
    );
    let fields = field_texts(&msg);
    assert_eq!(fields[1], "*Runner labels*\ngpu,self-hosted");
    assert_eq!(
        fields[2],
        "*Value*\n7 jobs queued (the oldest for 23m) (threshold 5 jobs queued for 15m)"
    );
    assert_eq!(
        button_urls(&msg)[0],
        (
            "Dashboard".into(),
            "https://cicd.example.com/runners?labels=gpu%2Cself-hosted".into()
        )
    );
    let body = webhook_body(&n);
    assert_eq!(body["group"], serde_json::json!({"labels": "gpu,self-hosted"}));
    assert_eq!(body["value"], "7 jobs queued (the oldest for 23m)");
    assert_eq!(
        body["dashboard_url"],
        "https://cicd.example.com/runners?labels=gpu%2Cself-hosted"
    );
}

#[test]
fn a_job_notice_names_the_job_in_order() {
    let n = Notice {
        condition: "failure rate of job acme/api · ci · test ≥ 30% over 1d (at least 10 runs)".into(),
        labels: labels(&[("job", "test"), ("repo", "acme/api"), ("workflow", "ci")]),
        value: Some("40.0% of 20 runs".into()),
        threshold: Some("30% (at least 10 runs)".into()),
        dashboard_url: Some(
            "https://cicd.example.com/jobs?job_repo=acme%2Fapi&job_workflow=ci&job=test".into(),
        ),
        ..notice(NoticeKind::Firing)
    };
    let msg = slack_message(&n);
    assert_within_slack_limits(&msg);
    assert!(
        msg["text"]
            .as_str()
            .unwrap()
            .contains("— acme/api · ci · test: failure rate of job"),
        "{}",
        msg["text"]
    );
    assert_eq!(
        field_texts(&msg)[1..5],
        [
            "*Repo*\nacme/api",
            "*Workflow*\nci",
            "*Job*\ntest",
            "*Value*\n40.0% of 20 runs (threshold 30% (at least 10 runs))",
        ]
    );
    let urls = button_urls(&msg);
    assert!(urls.contains(&(
        "Dashboard".into(),
        "https://cicd.example.com/jobs?job_repo=acme%2Fapi&job_workflow=ci&job=test".into()
    )));
    let resolved = slack_message(&Notice {
        kind: NoticeKind::Resolved,
        resolved_at: Some(at("2025-08-27T13:05:00Z")),
        ..n
    });
    assert_within_slack_limits(&resolved);
    assert!(field_texts(&resolved).contains(&"*Job*\ntest".to_owned()));
}
