use super::*;
use serde_json::json;

#[test]
fn times_in_the_formats_providers_send() {
    let utc = |s| parse_time(s).map(|t| t.to_rfc3339());
    assert_eq!(utc("2025-08-27T06:00:00Z").unwrap(), "2025-08-27T06:00:00+00:00");
    assert_eq!(
        utc("2025-08-27T08:00:00+02:00").unwrap(),
        "2025-08-27T06:00:00+00:00"
    );
    assert_eq!(
        utc("2016-08-12 15:23:28 UTC").unwrap(),
        "2016-08-12T15:23:28+00:00"
    );
    assert_eq!(
        utc("2016-08-12 17:23:28 +0200").unwrap(),
        "2016-08-12T15:23:28+00:00"
    );
    assert_eq!(utc("yesterday"), None);
    assert_eq!(
        epoch_millis(&json!({"t": "1472994568123"}), "t")
            .unwrap()
            .to_rfc3339(),
        "2016-09-04T13:09:28.123+00:00"
    );
}

#[test]
fn loose_access_treats_wrong_types_as_absent() {
    let v = json!({"a": {"b": 7, "s": "  x ", "e": "", "n": null, "arr": ["p", 3, " "]}});
    assert_eq!(text(&v, "a/b").as_deref(), Some("7"));
    assert_eq!(text(&v, "a/s").as_deref(), Some("x"));
    assert_eq!(text(&v, "a/e"), None);
    assert_eq!(text(&v, "a/n"), None);
    assert_eq!(int(&v, "a/s"), None);
    assert_eq!(text(&v, "a/b/c"), None);
    assert_eq!(strings(&v, "a/arr"), ["p"]);
}

#[test]
fn absurd_values_are_dropped_and_noted() {
    let now = parse_time("2025-08-27T12:00:00Z").unwrap();
    let mut ev = RunEvent {
        id: "x".into(),
        provider: "github".into(),
        repo: "r".into(),
        workflow: "w".into(),
        branch: None,
        commit_sha: None,
        status: crate::domain::RunStatus::Success,
        attempt: None,
        run_key: None,
        duration_seconds: Some(-5.0),
        queued_at: parse_time("2025-08-27T11:00:00Z"),
        started_at: parse_time("2025-08-27T10:00:00Z"),
        finished_at: parse_time("2031-01-01T00:00:00Z"),
        triggered_by: None,
        url: None,
        metadata: json!({}),
    };
    clean_run(&mut ev, now);
    assert_eq!(ev.duration_seconds, None);
    assert_eq!(ev.finished_at, None);
    assert_eq!(ev.queued_at, None);
    assert_eq!(ev.started_at, parse_time("2025-08-27T10:00:00Z"));
    assert_eq!(ev.metadata["cleaned"].as_array().unwrap().len(), 3);
}

#[test]
fn long_names_are_cut_at_a_character_boundary() {
    assert_eq!(bounded("é".repeat(300)).chars().count(), MAX_NAME);
    assert_eq!(bounded("short".into()), "short");
}
