//! CDEvents about delivery (0.4 and 0.5): `service.{deployed,upgraded,rolledback,removed}`,
//! `incident.{detected,reported,resolved}`, `change.merged`, `artifact.{packaged,published}` and
//! `environment.{created,modified,deleted}`.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use super::{
    ArtifactEvent, Batch, CommitEvent, DeploymentEvent, DeploymentKind, DeploymentStatus, EnvironmentEvent,
    IncidentEvent, PushEvent,
};
use crate::domain::limits::{self, MAX_NAME, MAX_TEXT, MAX_URL};
use crate::ingest::{at, bounded, text};

/// The source CDEvents deployments and incidents are recorded under.
pub const SOURCE: &str = "cdevents";

/// The event types read here (any version), for the message about the others.
pub const TYPES: &str = "dev.cdevents.service.{deployed,upgraded,rolledback,removed}, \
     dev.cdevents.incident.{detected,reported,resolved}, dev.cdevents.change.merged, \
     dev.cdevents.artifact.{packaged,published} and dev.cdevents.environment.{created,modified,deleted}";

fn cut(s: Option<String>, max: usize) -> Option<String> {
    s.map(|s| limits::cut(s, max))
}

/// The subject and predicate of an event of type `ty`, if it is one of [`TYPES`].
fn classify(ty: &str) -> Option<(&'static str, &'static str)> {
    const KNOWN: [(&str, &str); 13] = [
        ("service", "deployed"),
        ("service", "upgraded"),
        ("service", "rolledback"),
        ("service", "removed"),
        ("incident", "detected"),
        ("incident", "reported"),
        ("incident", "resolved"),
        ("change", "merged"),
        ("artifact", "packaged"),
        ("artifact", "published"),
        ("environment", "created"),
        ("environment", "modified"),
        ("environment", "deleted"),
    ];
    let ty = ty.trim().to_ascii_lowercase();
    let mut parts = ty.strip_prefix("dev.cdevents.")?.splitn(3, '.');
    let (subject, predicate) = (parts.next()?, parts.next()?);
    KNOWN.into_iter().find(|k| *k == (subject, predicate))
}

/// Whether events of type `ty` are read here.
pub fn tracks(ty: &str) -> bool {
    classify(ty).is_some()
}

/// What an event of type `ty` carries, if it is one of [`TYPES`] (`None` otherwise); `Err` says
/// why a delivery event of a known type cannot be recorded.
pub fn parse(
    ty: &str,
    ev: &Value,
    timestamp: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<Result<Batch, String>> {
    let (subject, predicate) = classify(ty)?;
    let when = timestamp
        .filter(|t| (*t - now) < TimeDelta::hours(24))
        .unwrap_or(now);
    let null = Value::Null;
    let content = at(ev, "subject/content").unwrap_or(&null);
    let subject_id = text(ev, "subject/id");
    Some(match (subject, predicate) {
        ("service", "deployed" | "upgraded" | "rolledback" | "removed") => {
            let kind = match predicate {
                "rolledback" => DeploymentKind::Rollback,
                "removed" => DeploymentKind::Remove,
                _ => DeploymentKind::Deploy,
            };
            service(ev, content, subject_id, kind, when)
        }
        ("incident", "detected" | "reported" | "resolved") => {
            incident(content, subject_id, predicate == "resolved", when)
        }
        ("artifact", _) => artifact(content, subject_id, predicate == "published", when),
        ("environment", _) => environment(content, subject_id, predicate == "deleted", when),
        _ => merged(ev, content, subject_id, when),
    })
}

/// A service deployed (upgraded, rolled back, removed): one deployment, done when the event was
/// sent; the event's own id identifies it. The spec gives it no link to the pipeline run that
/// made it: `content.pipelineRun` or `customData.pipelineRun` (`{id, source}`, the source
/// defaulting to `context.source`) names it, as for test case runs.
fn service(
    ev: &Value,
    content: &Value,
    service: Option<String>,
    kind: DeploymentKind,
    at_time: DateTime<Utc>,
) -> Result<Batch, String> {
    let service = service.ok_or("the event's subject (the service) has no id")?;
    let environment = text(content, "environment/id").ok_or("the event names no environment")?;
    let id = text(ev, "context/id").ok_or("the event has no context.id")?;
    let source = text(ev, "context/source").unwrap_or_default();
    let run_id = [Some(content), at(ev, "customData")]
        .into_iter()
        .flatten()
        .find_map(|v| {
            let run = text(v, "pipelineRun/id")?;
            let from = text(v, "pipelineRun/source").unwrap_or_else(|| source.clone());
            Some(crate::ingest::cdevents::run_id(&from, &run))
        });
    Ok(Batch {
        deployments: vec![DeploymentEvent {
            source: SOURCE.into(),
            external_id: limits::cut(format!("{source}:{id}"), MAX_NAME * 2),
            repo: None,
            service: bounded(service),
            environment: bounded(environment),
            sha: None,
            git_ref: None,
            creator: None,
            run_id,
            artifact: cut(text(content, "artifactId"), MAX_URL),
            kind,
            status: DeploymentStatus::Success,
            at: at_time,
            created_at: None,
            url: None,
            description: None,
            commits: Vec::new(),
        }],
        ..Batch::default()
    })
}

/// An incident detected, reported or resolved, about a service and (maybe) the artifact at
/// fault.
fn incident(
    content: &Value,
    id: Option<String>,
    resolved: bool,
    at_time: DateTime<Utc>,
) -> Result<Batch, String> {
    let id = id.ok_or("the incident has no id")?;
    let service = text(content, "service/id").ok_or("the incident names no service")?;
    Ok(Batch {
        incidents: vec![IncidentEvent {
            source: SOURCE.into(),
            external_id: bounded(id),
            service: bounded(service),
            environment: text(content, "environment/id").map(bounded),
            deployment: None,
            artifact: cut(text(content, "artifactId"), MAX_URL),
            title: cut(text(content, "description"), MAX_TEXT),
            url: cut(text(content, "ticketURI"), MAX_URL),
            started_at: at_time,
            resolved_at: resolved.then_some(at_time),
        }],
        ..Batch::default()
    })
}

/// A change merged into its repository: its id is the commit, merged when the event was sent.
fn merged(ev: &Value, content: &Value, id: Option<String>, at_time: DateTime<Utc>) -> Result<Batch, String> {
    let sha = id.ok_or("the change has no id")?;
    let repo = text(content, "repository/id")
        .or_else(|| text(ev, "subject/source"))
        .ok_or("the change names no repository")?;
    Ok(Batch {
        pushes: vec![PushEvent {
            repo: bounded(repo),
            default_branch: None,
            git_ref: "refs/heads/(merged)".into(),
            before: None,
            after: bounded(sha.clone()),
            pushed_at: at_time,
            commits: vec![CommitEvent {
                sha: bounded(sha),
                committed_at: None,
                merged_at: Some(at_time),
            }],
        }],
        ..Batch::default()
    })
}

/// An artifact packaged (from the change it names) or published.
fn artifact(
    content: &Value,
    id: Option<String>,
    published: bool,
    at_time: DateTime<Utc>,
) -> Result<Batch, String> {
    let id = id.ok_or("the artifact has no id")?;
    if id.chars().count() > MAX_URL {
        return Err(format!("the artifact's id is longer than {MAX_URL} characters"));
    }
    let sha = text(content, "change/id").map(bounded);
    let repos = text(content, "change/source")
        .map(|source| change_repos(&source))
        .unwrap_or_default();
    Ok(Batch {
        artifacts: vec![ArtifactEvent {
            id,
            sha,
            repos,
            packaged_at: (!published).then_some(at_time),
            published_at: published.then_some(at_time),
        }],
        ..Batch::default()
    })
}

/// The repositories a change's source may name: its last two path segments (`org/repo`, as
/// `change.merged` names repositories), then the source itself.
fn change_repos(source: &str) -> Vec<String> {
    let trimmed = source.trim().trim_end_matches('/').trim_end_matches(".git");
    let path = trimmed.split_once("://").map_or(trimmed, |(_, rest)| rest);
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let mut repos = Vec::with_capacity(2);
    if let [.., owner, name] = segments.as_slice() {
        repos.push(bounded(format!("{owner}/{name}")));
    }
    let whole = bounded(source.trim().to_owned());
    if !repos.contains(&whole) {
        repos.push(whole);
    }
    repos
}

/// An environment created, modified (renamed) or deleted, named by its id in deployment events.
fn environment(
    content: &Value,
    id: Option<String>,
    deleted: bool,
    at_time: DateTime<Utc>,
) -> Result<Batch, String> {
    let id = id.ok_or("the environment has no id")?;
    Ok(Batch {
        environments: vec![EnvironmentEvent {
            source: SOURCE.into(),
            external_id: bounded(id),
            name: text(content, "name").map(bounded),
            url: cut(text(content, "uri").or_else(|| text(content, "url")), MAX_URL),
            deleted,
            at: at_time,
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

    fn ts() -> Option<DateTime<Utc>> {
        Some("2026-12-01T11:00:00Z".parse().unwrap())
    }

    // Shaped as the CDEvents 0.4 specification's examples.
    fn deployed(ty: &str) -> Value {
        json!({
            "context": {"version": "0.4.1", "id": "271069a8-fc18-44f1-b38f-9d70a1695819",
                "source": "/event/source/123", "type": ty, "timestamp": "2026-12-01T11:00:00Z"},
            "subject": {"id": "service/myApp", "source": "/event/source/123", "type": "service",
                "content": {"environment": {"id": "production", "source": "/event/source/123"},
                    "artifactId": "pkg:oci/myapp@sha256%3A0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427"}}
        })
    }

    #[test]
    fn a_service_event_is_a_deployment_done_when_sent() {
        let ty = "dev.cdevents.service.deployed.0.1.1";
        let b = parse(ty, &deployed(ty), ts(), now()).unwrap().unwrap();
        let d = &b.deployments[0];
        assert_eq!(
            (d.service.as_str(), d.environment.as_str()),
            ("service/myApp", "production")
        );
        assert_eq!(
            (d.status, d.kind, d.at),
            (DeploymentStatus::Success, DeploymentKind::Deploy, ts().unwrap())
        );
        assert!(d.artifact.as_deref().unwrap().starts_with("pkg:oci/myapp"));
        assert_eq!(d.run_id, None);
        // The pipeline run that made it, when named.
        let mut ev = deployed(ty);
        ev["customData"] = json!({"pipelineRun": {"id": "build-7"}});
        let b = parse(ty, &ev, ts(), now()).unwrap().unwrap();
        assert_eq!(
            b.deployments[0].run_id.as_deref(),
            Some("cdevents:/event/source/123:build-7")
        );
        let ty = "dev.cdevents.service.rolledback.0.2.0";
        assert_eq!(
            parse(ty, &deployed(ty), ts(), now())
                .unwrap()
                .unwrap()
                .deployments[0]
                .kind,
            DeploymentKind::Rollback
        );
        assert!(parse(
            "dev.cdevents.pipelinerun.finished.0.1.1",
            &deployed(ty),
            ts(),
            now()
        )
        .is_none());
    }

    #[test]
    fn an_incident_event_opens_or_resolves_an_incident() {
        let ev = json!({
            "context": {"type": "dev.cdevents.incident.resolved.0.1.0", "id": "x", "source": "/monitor"},
            "subject": {"id": "incident-123", "type": "incident",
                "content": {"description": "Response time too long", "environment": {"id": "production"},
                    "service": {"id": "service/myApp"}, "artifactId": "pkg:oci/myapp@sha256%3A0b31"}}
        });
        let b = parse("dev.cdevents.incident.resolved.0.1.0", &ev, ts(), now())
            .unwrap()
            .unwrap();
        let i = &b.incidents[0];
        assert_eq!(
            (i.external_id.as_str(), i.service.as_str()),
            ("incident-123", "service/myApp")
        );
        assert_eq!(i.resolved_at, ts());
        let b = parse("dev.cdevents.incident.detected.0.1.0", &ev, ts(), now())
            .unwrap()
            .unwrap();
        assert_eq!(b.incidents[0].resolved_at, None);
    }

    #[test]
    fn a_merged_change_is_a_commit_merged() {
        let ev = json!({"subject": {"id": "a1b2c3d", "source": "my-git.example/an-org/a-repo",
            "content": {"repository": {"id": "an-org/a-repo", "source": "my-git.example"}}}});
        let b = parse("dev.cdevents.change.merged.0.2.0", &ev, ts(), now())
            .unwrap()
            .unwrap();
        assert_eq!(b.pushes[0].repo, "an-org/a-repo");
        assert_eq!(b.pushes[0].commits[0].merged_at, ts());
    }

    // Shaped as the CDEvents 0.5 conformance examples.
    #[test]
    fn a_packaged_artifact_names_the_change_it_was_built_from() {
        let ev = json!({"context": {"type": "dev.cdevents.artifact.packaged.0.2.0"},
            "subject": {"id": "pkg:golang/mygit.com/myorg/myapp@234fd47e07d1004f0aed9c",
                "source": "/event/source/123",
                "content": {"change": {"id": "a1b2c3d", "source": "https://my-git.example/an-org/a-repo.git"},
                    "sbom": {"uri": "https://sbom.repo/myorg/234fd47e07d1004f0aed9c.sbom"}}}});
        let b = parse("dev.cdevents.artifact.packaged.0.2.0", &ev, ts(), now())
            .unwrap()
            .unwrap();
        let a = &b.artifacts[0];
        assert_eq!(a.id, "pkg:golang/mygit.com/myorg/myapp@234fd47e07d1004f0aed9c");
        assert_eq!(a.sha.as_deref(), Some("a1b2c3d"));
        assert_eq!(
            a.repos,
            ["an-org/a-repo", "https://my-git.example/an-org/a-repo.git"]
        );
        assert_eq!((a.packaged_at, a.published_at), (ts(), None));

        // Published: when, and nothing of a change.
        let ev = json!({"subject": {"id": "pkg:oci/myapp@sha256%3A0b31", "type": "artifact",
            "content": {"user": "mybot-myapp"}}});
        let b = parse("dev.cdevents.artifact.published.0.2.0", &ev, ts(), now())
            .unwrap()
            .unwrap();
        let a = &b.artifacts[0];
        assert_eq!((a.sha.as_ref(), a.repos.len()), (None, 0));
        assert_eq!((a.packaged_at, a.published_at), (None, ts()));
        assert_eq!(change_repos("an-org/a-repo"), ["an-org/a-repo"]);
        let no_id = json!({"subject": {"content": {}}});
        assert!(
            parse("dev.cdevents.artifact.published.0.2.0", &no_id, ts(), now())
                .unwrap()
                .is_err()
        );
    }

    #[test]
    fn environment_events_name_an_environment_or_delete_it() {
        let ev = json!({"subject": {"id": "env-42", "source": "/event/source/123",
            "content": {"name": "production", "uri": "https://example.org/production"}}});
        let b = parse("dev.cdevents.environment.created.0.2.0", &ev, ts(), now())
            .unwrap()
            .unwrap();
        let e = &b.environments[0];
        assert_eq!(
            (e.external_id.as_str(), e.name.as_deref(), e.url.as_deref()),
            (
                "env-42",
                Some("production"),
                Some("https://example.org/production")
            )
        );
        assert_eq!((e.deleted, e.at), (false, ts().unwrap()));
        let b = parse("dev.cdevents.environment.deleted.0.2.0", &ev, ts(), now())
            .unwrap()
            .unwrap();
        assert!(b.environments[0].deleted);
    }
}
