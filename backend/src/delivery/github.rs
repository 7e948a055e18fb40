//! GitHub's `deployment`, `deployment_status` and `push` deliveries.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::{Batch, DeploymentEvent, DeploymentKind, DeploymentStatus, PushEvent};
use crate::domain::limits::{MAX_TEXT, MAX_URL};
use crate::ingest::{at, bounded, int, text, time};

/// The source GitHub's deployments are recorded under.
pub const SOURCE: &str = "github";

/// A sha of zeros: the `before` of a new branch, the `after` of a deleted one.
fn is_null_sha(sha: &str) -> bool {
    !sha.is_empty() && sha.bytes().all(|b| b == b'0')
}

/// A deployment state as GitHub names it (`pending` is queued; anything new, queued as well: it
/// never ends a deployment).
fn status(state: &str) -> DeploymentStatus {
    match state {
        "in_progress" => DeploymentStatus::InProgress,
        "success" => DeploymentStatus::Success,
        "failure" => DeploymentStatus::Failure,
        "error" => DeploymentStatus::Error,
        "inactive" => DeploymentStatus::Inactive,
        _ => DeploymentStatus::Queued,
    }
}

fn cut(s: Option<String>, max: usize) -> Option<String> {
    s.map(|s| crate::domain::limits::cut(s, max))
}

/// A `deployment` (created: queued at its creation) or `deployment_status` delivery.
pub fn deployment(payload: &Value, with_status: bool, now: DateTime<Utc>) -> Result<Batch, String> {
    let d = at(payload, "deployment").ok_or("deployment event without a deployment object")?;
    let repo = text(payload, "repository/full_name")
        .map(bounded)
        .ok_or("deployment event without repository.full_name")?;
    let external_id = text(d, "id").ok_or("deployment without an id")?;
    let (state, at_time, description, url) = if with_status {
        let s = at(payload, "deployment_status")
            .ok_or("deployment_status event without a deployment_status object")?;
        (
            status(&text(s, "state").unwrap_or_default()),
            time(s, "created_at").or_else(|| time(s, "updated_at")),
            text(s, "description").or_else(|| text(d, "description")),
            text(s, "log_url").or_else(|| text(s, "target_url")),
        )
    } else {
        (
            DeploymentStatus::Queued,
            time(d, "created_at"),
            text(d, "description"),
            None,
        )
    };
    // A time GitHub did not send, or far off, is the time of receipt.
    let at_time = at_time
        .filter(|t| (*t - now) < TimeDelta::hours(24))
        .unwrap_or(now);
    let environment = text(d, "environment")
        .or_else(|| text(payload, "deployment_status/environment"))
        .unwrap_or_else(|| "production".to_owned());
    // The run that made it: `workflow_run` beside the deployment (Actions deployments).
    let run_id = text(payload, "workflow_run/id").map(|id| {
        let attempt = int(payload, "workflow_run/run_attempt")
            .filter(|a| *a >= 1)
            .unwrap_or(1);
        crate::ingest::github::run_ids(&repo, &id, attempt).0
    });
    Ok(Batch {
        deployments: vec![DeploymentEvent {
            source: SOURCE.into(),
            external_id: format!("{repo}:{external_id}"),
            service: repo.clone(),
            environment: bounded(environment),
            sha: text(d, "sha").map(bounded),
            git_ref: text(d, "ref").map(bounded),
            creator: text(d, "creator/login").map(bounded),
            run_id,
            artifact: None,
            kind: DeploymentKind::Deploy,
            status: state,
            at: at_time,
            created_at: time(d, "created_at").filter(|c| *c <= at_time),
            url: cut(url, MAX_URL),
            description: cut(description, MAX_TEXT),
            commits: Vec::new(),
            repo: Some(repo),
        }],
        ..Batch::default()
    })
}

/// A `push` delivery: the commits that reached a ref (tags and deleted refs are left out).
pub fn push(payload: &Value, now: DateTime<Utc>) -> Result<Batch, String> {
    let repo = text(payload, "repository/full_name")
        .map(bounded)
        .ok_or("push without repository.full_name")?;
    let git_ref = text(payload, "ref").ok_or("push without a ref")?;
    if !git_ref.starts_with("refs/heads/") {
        return Err(format!("a push to {git_ref}, which is not a branch"));
    }
    let after = text(payload, "after").ok_or("push without after")?;
    if is_null_sha(&after) || at(payload, "deleted").and_then(Value::as_bool) == Some(true) {
        return Err("a push that deleted its branch".into());
    }
    // `repository.pushed_at` is epoch seconds in push deliveries; else the head commit's time.
    let pushed_at = int(payload, "repository/pushed_at")
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .or_else(|| time(payload, "head_commit/timestamp"))
        .filter(|t| (*t - now) < TimeDelta::hours(24))
        .unwrap_or(now);
    let commits = super::pushed_commits(payload);
    let before = text(payload, "before").filter(|b| !is_null_sha(b));
    Ok(Batch {
        pushes: vec![PushEvent {
            repo,
            default_branch: text(payload, "repository/default_branch").map(bounded),
            git_ref: bounded(git_ref),
            before,
            after: bounded(after),
            pushed_at,
            commits,
        }],
        ..Batch::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-12-01T12:00:00Z".parse().unwrap()
    }

    // Shaped as GitHub documents the deliveries (trimmed to what is read).
    fn deployment_status_delivery(state: &str) -> Value {
        json!({
            "action": "created",
            "deployment_status": {"id": 1, "state": state, "environment": "production",
                "created_at": "2026-12-01T11:58:00Z", "log_url": "https://github.com/o/r/actions/runs/42",
                "description": "Deployment finished"},
            "deployment": {"id": 123456, "sha": "9fceb02d0ae598e95dc970b74767f19372d61af8", "ref": "main",
                "task": "deploy", "environment": "production", "created_at": "2026-12-01T11:50:00Z",
                "creator": {"login": "octocat"}},
            "workflow_run": {"id": 42, "run_attempt": 2},
            "repository": {"full_name": "o/r"}
        })
    }

    #[test]
    fn a_deployment_status_is_a_status_of_the_deployment_with_its_run() {
        let b = deployment(&deployment_status_delivery("success"), true, now()).unwrap();
        let d = &b.deployments[0];
        assert_eq!(
            (d.external_id.as_str(), d.service.as_str()),
            ("o/r:123456", "o/r")
        );
        assert_eq!(
            (d.status, d.environment.as_str()),
            (DeploymentStatus::Success, "production")
        );
        assert_eq!(d.at, "2026-12-01T11:58:00Z".parse::<DateTime<Utc>>().unwrap());
        assert_eq!(d.created_at, Some("2026-12-01T11:50:00Z".parse().unwrap()));
        assert_eq!(d.run_id.as_deref(), Some("github:o/r:42:2"));
        assert_eq!(d.creator.as_deref(), Some("octocat"));
        for (state, want) in [
            ("pending", DeploymentStatus::Queued),
            ("error", DeploymentStatus::Error),
            ("inactive", DeploymentStatus::Inactive),
            ("waiting", DeploymentStatus::Queued),
        ] {
            assert_eq!(
                deployment(&deployment_status_delivery(state), true, now())
                    .unwrap()
                    .deployments[0]
                    .status,
                want
            );
        }
    }

    #[test]
    fn a_created_deployment_is_queued_when_created() {
        let b = deployment(&deployment_status_delivery("success"), false, now()).unwrap();
        let d = &b.deployments[0];
        assert_eq!(
            (d.status, d.at),
            (DeploymentStatus::Queued, "2026-12-01T11:50:00Z".parse().unwrap())
        );
    }

    #[test]
    fn a_push_to_a_branch_brings_its_commits() {
        let p = json!({
            "ref": "refs/heads/main", "before": "0000000000000000000000000000000000000000",
            "after": "c2", "created": true, "deleted": false,
            "repository": {"full_name": "o/r", "pushed_at": 1764590400},
            "commits": [{"id": "c1", "timestamp": "2026-12-01T10:00:00+01:00"}, {"id": "c2", "timestamp": "2026-12-01T11:00:00Z"}],
            "head_commit": {"id": "c2", "timestamp": "2026-12-01T11:00:00Z"}
        });
        let push = &push(&p, now()).unwrap().pushes[0];
        assert_eq!((push.before.as_deref(), push.after.as_str()), (None, "c2"));
        assert_eq!(
            push.pushed_at,
            DateTime::from_timestamp(1_764_590_400, 0).unwrap()
        );
        assert_eq!(
            push.commits[0].committed_at,
            Some("2026-12-01T09:00:00Z".parse().unwrap())
        );
        let mut tag = p.clone();
        tag["ref"] = json!("refs/tags/v1");
        assert!(super::push(&tag, now()).is_err());
        let mut deleted = p;
        deleted["deleted"] = json!(true);
        assert!(super::push(&deleted, now()).is_err());
    }
}
