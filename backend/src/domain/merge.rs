//! How an event changes a stored run. Pure, so that replays, reordering and corrections are unit-
//! and property-tested without a database.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::run::{RunEvent, RunState};

/// What an event did to the stored run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The run did not exist before (`201`).
    Created,
    /// The run changed (`200`).
    Updated,
    /// The event repeated what was stored: a replay (`200`).
    Unchanged,
    /// The event would have moved the status backwards (a late `running` after `success`): ignored (`200`).
    IgnoredStale,
}

impl Outcome {
    pub fn changed(self) -> bool {
        matches!(self, Outcome::Created | Outcome::Updated)
    }
}

/// Applies `event` to `existing` (or creates the run); `now` is the creation time of a new run.
pub fn merge(existing: Option<&RunState>, event: &RunEvent, now: DateTime<Utc>) -> (RunState, Outcome) {
    let Some(old) = existing else {
        let mut state = RunState {
            id: event.id.clone(),
            provider: event.provider.clone(),
            repo: event.repo.clone(),
            workflow: event.workflow.clone(),
            branch: event.branch.clone(),
            commit_sha: event.commit_sha.clone(),
            status: event.status,
            attempt: event.attempt.unwrap_or(1),
            run_key: event.run_key.clone(),
            duration_seconds: event.duration_seconds,
            queued_at: event.queued_at,
            started_at: event.started_at,
            finished_at: event.finished_at,
            triggered_by: event.triggered_by.clone(),
            url: event.url.clone(),
            metadata: object_or_empty(&event.metadata),
            created_at: now,
        };
        derive_duration(&mut state);
        return (state, Outcome::Created);
    };

    if event.status.stage() < old.status.stage() {
        return (old.clone(), Outcome::IgnoredStale);
    }

    let mut new = old.clone();
    new.provider.clone_from(&event.provider);
    new.repo.clone_from(&event.repo);
    new.workflow.clone_from(&event.workflow);
    new.status = event.status;
    overwrite(&mut new.branch, &event.branch);
    overwrite(&mut new.commit_sha, &event.commit_sha);
    overwrite(&mut new.triggered_by, &event.triggered_by);
    overwrite(&mut new.url, &event.url);
    overwrite(&mut new.run_key, &event.run_key);
    if let Some(attempt) = event.attempt {
        new.attempt = attempt;
    }
    overwrite(&mut new.queued_at, &event.queued_at);
    overwrite(&mut new.started_at, &event.started_at);
    overwrite(&mut new.finished_at, &event.finished_at);
    match event.duration_seconds {
        Some(d) => new.duration_seconds = Some(d),
        // A duration derived from timestamps is recomputed when they change.
        None if event.started_at.is_some() || event.finished_at.is_some() => {
            new.duration_seconds = old.duration_seconds.filter(|_| !derived(old));
        }
        None => {}
    }
    if let (serde_json::Value::Object(into), serde_json::Value::Object(from)) =
        (&mut new.metadata, &event.metadata)
    {
        for (k, v) in from {
            into.insert(k.clone(), v.clone());
        }
    }
    // Keys merged from many events could grow without end: past the limit, the latest wins.
    if super::limits::json_size(&new.metadata) > super::limits::MAX_STORED_METADATA {
        new.metadata = object_or_empty(&event.metadata);
    }
    derive_duration(&mut new);

    let outcome = if new == *old {
        Outcome::Unchanged
    } else {
        Outcome::Updated
    };
    (new, outcome)
}

fn overwrite<T: Clone>(field: &mut Option<T>, value: &Option<T>) {
    if value.is_some() {
        field.clone_from(value);
    }
}

fn object_or_empty(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Object(_) => v.clone(),
        _ => serde_json::Value::Object(Default::default()),
    }
}

fn span_seconds(state: &RunState) -> Option<f64> {
    let (start, end) = (state.started_at?, state.finished_at?);
    let ms = (end - start).num_milliseconds();
    (ms >= 0).then(|| ms as f64 / 1000.0)
}

/// Whether the stored duration is exactly what the timestamps give (so it was derived, or agrees).
fn derived(state: &RunState) -> bool {
    state.duration_seconds.is_some() && state.duration_seconds == span_seconds(state)
}

/// A finished run without a reported duration gets `finished_at - started_at`.
fn derive_duration(state: &mut RunState) {
    if state.duration_seconds.is_none() && state.status.is_terminal() {
        state.duration_seconds = span_seconds(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RunStatus;
    use chrono::TimeZone;

    fn t(min: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 8, 27, 6, 0, 0).unwrap() + chrono::Duration::minutes(min)
    }

    fn event(status: RunStatus) -> RunEvent {
        RunEvent {
            id: "run_1".into(),
            provider: "generic".into(),
            repo: "org/repo".into(),
            workflow: "build".into(),
            branch: Some("main".into()),
            commit_sha: None,
            status,
            attempt: None,
            run_key: None,
            duration_seconds: None,
            queued_at: None,
            started_at: Some(t(0)),
            finished_at: status.is_terminal().then(|| t(2)),
            triggered_by: Some("push".into()),
            url: None,
            metadata: serde_json::json!({"runner": "ubuntu-latest"}),
        }
    }

    #[test]
    fn a_new_run_is_created_with_a_derived_duration() {
        let (state, outcome) = merge(None, &event(RunStatus::Success), t(5));
        assert_eq!(outcome, Outcome::Created);
        assert_eq!(state.duration_seconds, Some(120.0));
        assert_eq!(state.created_at, t(5));
        assert_eq!(state.attempt, 1);
    }

    #[test]
    fn replaying_the_same_event_changes_nothing() {
        let (state, _) = merge(None, &event(RunStatus::Success), t(5));
        let (again, outcome) = merge(Some(&state), &event(RunStatus::Success), t(9));
        assert_eq!(outcome, Outcome::Unchanged);
        assert_eq!(again, state);
    }

    #[test]
    fn a_late_running_event_after_success_is_ignored() {
        let (done, _) = merge(None, &event(RunStatus::Success), t(5));
        let (after, outcome) = merge(Some(&done), &event(RunStatus::Running), t(9));
        assert_eq!(outcome, Outcome::IgnoredStale);
        assert_eq!(after, done);
    }

    #[test]
    fn running_then_success_moves_forward_and_keeps_earlier_fields() {
        let mut running = event(RunStatus::Running);
        running.commit_sha = Some("abc".into());
        let (state, _) = merge(None, &running, t(0));
        let mut success = event(RunStatus::Success);
        success.branch = None;
        let (state, outcome) = merge(Some(&state), &success, t(3));
        assert_eq!(outcome, Outcome::Updated);
        assert_eq!(state.status, RunStatus::Success);
        assert_eq!(state.commit_sha.as_deref(), Some("abc"));
        assert_eq!(state.branch.as_deref(), Some("main"));
        assert_eq!(state.duration_seconds, Some(120.0));
    }

    #[test]
    fn a_different_terminal_status_is_a_correction() {
        let (failed, _) = merge(None, &event(RunStatus::Failure), t(0));
        let (fixed, outcome) = merge(Some(&failed), &event(RunStatus::Success), t(1));
        assert_eq!(outcome, Outcome::Updated);
        assert_eq!(fixed.status, RunStatus::Success);
    }

    #[test]
    fn a_corrected_finish_time_recomputes_a_derived_duration() {
        let (state, _) = merge(None, &event(RunStatus::Success), t(0));
        let mut later = event(RunStatus::Success);
        later.finished_at = Some(t(4));
        let (state, _) = merge(Some(&state), &later, t(1));
        assert_eq!(state.duration_seconds, Some(240.0));
    }

    #[test]
    fn a_reported_duration_wins_over_timestamps() {
        let mut e = event(RunStatus::Success);
        e.duration_seconds = Some(100.0);
        let (state, _) = merge(None, &e, t(0));
        assert_eq!(state.duration_seconds, Some(100.0));
    }

    #[test]
    fn metadata_is_merged_shallowly() {
        let (state, _) = merge(None, &event(RunStatus::Running), t(0));
        let mut done = event(RunStatus::Success);
        done.metadata = serde_json::json!({"exit_code": 0});
        let (state, _) = merge(Some(&state), &done, t(1));
        assert_eq!(
            state.metadata,
            serde_json::json!({"runner": "ubuntu-latest", "exit_code": 0})
        );
    }

    #[test]
    fn merged_metadata_past_the_limit_keeps_only_the_latest_event() {
        let mut first = event(RunStatus::Running);
        first.metadata =
            serde_json::json!({"a": "x".repeat(super::super::limits::MAX_STORED_METADATA - 100)});
        let (state, _) = merge(None, &first, t(0));
        let mut done = event(RunStatus::Success);
        done.metadata = serde_json::json!({"b": "y".repeat(200)});
        let (state, _) = merge(Some(&state), &done, t(1));
        assert_eq!(state.metadata, done.metadata);
    }
}
