//! GitLab's deployment hook (`object_kind: deployment`) and push hook (`object_kind: push`).

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::{Batch, DeploymentEvent, DeploymentKind, DeploymentStatus, PushEvent};
use crate::domain::limits::MAX_URL;
use crate::ingest::{bounded, text, time};

/// The source GitLab's deployments are recorded under.
pub const SOURCE: &str = "gitlab";

/// A deployment status as GitLab names it. A canceled (or skipped) deployment never reached its
/// environment: neither a success nor a failed change.
fn status(s: &str) -> DeploymentStatus {
    match s {
        "running" => DeploymentStatus::InProgress,
        "success" => DeploymentStatus::Success,
        "failed" => DeploymentStatus::Failure,
        "canceled" | "skipped" => DeploymentStatus::Cancelled,
        _ => DeploymentStatus::Queued,
    }
}

fn within_a_day(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
    t.filter(|t| (*t - now) < TimeDelta::hours(24)).unwrap_or(now)
}

/// A deployment hook: one status of deployment `deployment_id` of the project.
pub fn deployment(v: &Value, now: DateTime<Utc>) -> Result<Batch, String> {
    let repo = text(v, "project/path_with_namespace")
        .map(bounded)
        .ok_or("deployment hook without project.path_with_namespace")?;
    let id = text(v, "deployment_id").ok_or("deployment hook without deployment_id")?;
    let environment = text(v, "environment").ok_or("deployment hook without environment")?;
    // The full sha is the last segment of `commit_url`; `short_sha` is all else there is.
    let sha = text(v, "commit_url")
        .and_then(|u| u.rsplit('/').next().map(str::to_owned))
        .filter(|s| s.len() >= 7 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .or_else(|| text(v, "short_sha"));
    Ok(Batch {
        deployments: vec![DeploymentEvent {
            source: SOURCE.into(),
            external_id: format!("{repo}:{id}"),
            service: repo.clone(),
            environment: bounded(environment),
            sha: sha.map(bounded),
            git_ref: text(v, "ref").map(bounded),
            creator: text(v, "user/username").map(bounded),
            run_id: None,
            artifact: None,
            kind: DeploymentKind::Deploy,
            status: status(&text(v, "status").unwrap_or_default()),
            at: within_a_day(time(v, "status_changed_at"), now),
            created_at: None,
            url: text(v, "deployable_url").filter(|u| u.chars().count() <= MAX_URL),
            description: None,
            commits: Vec::new(),
            repo: Some(repo),
        }],
        ..Batch::default()
    })
}

/// A push hook: the commits that reached a branch.
pub fn push(v: &Value, now: DateTime<Utc>) -> Result<Batch, String> {
    let repo = text(v, "project/path_with_namespace")
        .map(bounded)
        .ok_or("push hook without project.path_with_namespace")?;
    let git_ref = text(v, "ref").ok_or("push hook without ref")?;
    if !git_ref.starts_with("refs/heads/") {
        return Err(format!("{git_ref} is not a branch"));
    }
    let zero = |s: &String| s.bytes().all(|b| b == b'0');
    let after = text(v, "after")
        .filter(|a| !zero(a))
        .ok_or("the branch was deleted")?;
    let commits = super::pushed_commits(v);
    // GitLab sends no push time: the latest commit's, or the time of receipt.
    let pushed_at = within_a_day(commits.iter().filter_map(|c| c.committed_at).max(), now);
    Ok(Batch {
        pushes: vec![PushEvent {
            repo,
            default_branch: text(v, "project/default_branch").map(bounded),
            git_ref: bounded(git_ref),
            before: text(v, "before").filter(|b| !zero(b)),
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

    #[test]
    fn a_deployment_hook_is_a_status_of_the_projects_deployment() {
        // Shaped as GitLab documents the deployment event (trimmed to what is read).
        let hook = json!({
            "object_kind": "deployment", "status": "success", "status_changed_at": "2026-12-01 12:50:00 +0100",
            "deployment_id": 15, "deployable_id": 796, "deployable_url": "https://gitlab.example.com/g/p/-/jobs/796",
            "environment": "production", "environment_tier": "production",
            "project": {"path_with_namespace": "g/p"}, "short_sha": "279484c0",
            "commit_url": "https://gitlab.example.com/g/p/-/commit/279484c09fbe69ededfced8c1bb6e6d24616b468",
            "ref": "main", "user": {"username": "root"}
        });
        let d = &deployment(&hook, now()).unwrap().deployments[0];
        assert_eq!(
            (d.external_id.as_str(), d.status),
            ("g/p:15", DeploymentStatus::Success)
        );
        assert_eq!(d.sha.as_deref(), Some("279484c09fbe69ededfced8c1bb6e6d24616b468"));
        assert_eq!(d.at, "2026-12-01T11:50:00Z".parse::<DateTime<Utc>>().unwrap());
        for (s, want) in [
            ("created", DeploymentStatus::Queued),
            ("running", DeploymentStatus::InProgress),
            ("failed", DeploymentStatus::Failure),
            ("canceled", DeploymentStatus::Cancelled),
        ] {
            let mut h = hook.clone();
            h["status"] = json!(s);
            assert_eq!(deployment(&h, now()).unwrap().deployments[0].status, want);
        }
    }

    #[test]
    fn a_push_hook_brings_its_commits() {
        let hook = json!({
            "object_kind": "push", "before": "95790bf8", "after": "da156088", "ref": "refs/heads/main",
            "project": {"path_with_namespace": "g/p"},
            "commits": [{"id": "b6568db1", "timestamp": "2026-12-01T10:00:00+00:00"},
                        {"id": "da156088", "timestamp": "2026-12-01T11:00:00+00:00"}]
        });
        let p = &push(&hook, now()).unwrap().pushes[0];
        assert_eq!(
            (p.before.as_deref(), p.after.as_str()),
            (Some("95790bf8"), "da156088")
        );
        assert_eq!(
            p.pushed_at,
            "2026-12-01T11:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(p.commits.len(), 2);
    }
}
