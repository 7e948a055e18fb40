//! Every route of the OpenAPI document × every kind of caller: who is refused (401/403) and who
//! gets through. The routes come from the document itself, so a new route without a line in
//! [`NEEDS`] fails this test instead of going unchecked.

use std::path::PathBuf;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use cicd_monitor::auth::Scope;
use sqlx::PgPool;
use tower::ServiceExt;

use crate::support::{TestApp, ADMIN};

/// What a route asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// Anyone (probes, Prometheus, UI config, the API document).
    Public,
    /// `read` (or `admin`, `operator`); anyone when `CICD_PUBLIC_READ` is on.
    Read,
    Ingest,
    Admin,
    /// The Kubernetes operator's token only (not even admin).
    Operator,
    /// A provider signature or shared token (GitHub, GitLab); bearer tokens do not count.
    Signature,
}

use Needs::*;

const NEEDS: &[(&str, &str, Needs)] = &[
    ("GET", "/health", Public),
    ("GET", "/ready", Public),
    ("GET", "/metrics", Public),
    ("GET", "/api/config", Public),
    ("GET", "/api/openapi.json", Public),
    ("POST", "/api/events", Ingest),
    ("POST", "/api/events/batch", Ingest),
    ("POST", "/api/webhooks/github", Signature),
    ("POST", "/api/webhooks/gitlab", Signature),
    ("POST", "/api/webhooks/jenkins", Ingest),
    ("POST", "/api/webhooks/cdevents", Ingest),
    ("GET", "/api/webhook-sources", Admin),
    ("POST", "/api/webhook-sources", Admin),
    ("DELETE", "/api/webhook-sources/{id}", Admin),
    ("GET", "/api/webhook-receivers", Admin),
    ("GET", "/api/integrations", Admin),
    ("POST", "/api/integrations", Admin),
    ("GET", "/api/integrations/{id}", Admin),
    ("PUT", "/api/integrations/{id}", Admin),
    ("DELETE", "/api/integrations/{id}", Admin),
    ("PUT", "/api/integrations/by-uid/{uid}", Operator),
    ("DELETE", "/api/integrations/by-uid/{uid}", Operator),
    ("GET", "/api/alert-rules", Read),
    ("POST", "/api/alert-rules", Admin),
    ("GET", "/api/alert-rules/{id}", Read),
    ("PUT", "/api/alert-rules/{id}", Admin),
    ("DELETE", "/api/alert-rules/{id}", Admin),
    ("PUT", "/api/alert-rules/by-uid/{uid}", Operator),
    ("DELETE", "/api/alert-rules/by-uid/{uid}", Operator),
    ("GET", "/api/alerts", Read),
    ("POST", "/api/alerts/{id}/ack", Admin),
    ("POST", "/api/alerts/{id}/mute", Admin),
    ("POST", "/api/alerts/test", Admin),
    ("GET", "/api/metrics", Read),
    ("GET", "/api/jobs", Read),
    ("GET", "/api/jobs/timeseries", Read),
    ("GET", "/api/runners", Read),
    ("GET", "/api/runners/timeseries", Read),
    ("GET", "/api/usage", Read),
    ("GET", "/api/runs", Read),
    ("GET", "/api/runs/{id}", Read),
    ("GET", "/api/filters", Read),
    ("POST", "/api/deployments", Ingest),
    ("POST", "/api/deployments/batch", Ingest),
    ("GET", "/api/deployments", Read),
    ("POST", "/api/incidents", Ingest),
    ("POST", "/api/incidents/batch", Ingest),
    ("GET", "/api/incidents", Read),
    ("GET", "/api/dora", Read),
    ("GET", "/api/branches/health", Read),
    ("POST", "/api/runs/{run_id}/tests", Ingest),
    ("GET", "/api/runs/{run_id}/tests", Read),
    ("GET", "/api/tests", Read),
    ("GET", "/api/tests/flaky", Read),
    ("GET", "/api/tests/history", Read),
    ("GET", "/api/tests/quarantine", Read),
    ("POST", "/api/tests/quarantine", Admin),
    ("DELETE", "/api/tests/quarantine", Admin),
    ("GET", "/api/stream", Read),
    ("GET", "/api/settings", Read),
    ("PUT", "/api/settings", Admin),
    ("GET", "/api/tokens", Admin),
    ("POST", "/api/tokens", Admin),
    ("DELETE", "/api/tokens/{id}", Admin),
    ("GET", "/api/audit", Admin),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Nobody,
    /// A bearer token that no one issued.
    Unknown,
    Token(Scope),
    /// `CICD_ADMIN_TOKEN`.
    Bootstrap,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allowed,
    Unauthorized,
    Forbidden,
}

fn expect(needs: Needs, caller: Caller, public_read: bool) -> Expect {
    use Expect::*;
    let scope = match caller {
        _ if needs == Public => return Allowed,
        _ if needs == Signature => return Unauthorized,
        Caller::Nobody if needs == Read && public_read => return Allowed,
        Caller::Nobody | Caller::Unknown => return Unauthorized,
        Caller::Bootstrap => Scope::Admin,
        Caller::Token(s) => s,
    };
    let needed = match needs {
        Read => Scope::Read,
        Ingest => Scope::Ingest,
        Admin => Scope::Admin,
        Operator => Scope::Operator,
        Public | Signature => unreachable!(),
    };
    if scope.allows(needed) {
        Allowed
    } else {
        Forbidden
    }
}

/// `(method, path template, security requirements)` of every operation in the document.
fn operations() -> Vec<(String, String, serde_json::Value)> {
    let doc = serde_json::to_value(cicd_monitor::http::openapi::document()).unwrap();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in [
            "get", "put", "post", "delete", "patch", "head", "options", "trace",
        ] {
            if let Some(op) = item.get(method) {
                let security = op.get("security").cloned().unwrap_or_default();
                ops.push((method.to_uppercase(), path.clone(), security));
            }
        }
    }
    ops
}

/// A concrete URI for a template: ids that exist nowhere, so that allowed calls change nothing.
fn uri(template: &str) -> String {
    template
        .split('/')
        .map(|seg| match seg {
            "{id}" => "999999",
            "{uid}" => "no-such-uid",
            "{run_id}" => "no-such-run",
            s if s.starts_with('{') => panic!("{template}: give the parameter {s} a value in uri()"),
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn status(app: &TestApp, method: &str, uri: &str, token: Option<&str>) -> StatusCode {
    let method: Method = method.parse().unwrap();
    let body = if method == Method::GET || method == Method::DELETE {
        Body::empty()
    } else {
        Body::from("{}")
    };
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    // The body is not read: `/api/stream` would never end.
    app.router
        .clone()
        .oneshot(req.body(body).unwrap())
        .await
        .unwrap()
        .status()
}

#[sqlx::test(migrations = "../migrations")]
async fn every_route_refuses_callers_without_the_scope_it_needs_and_lets_the_others_through(pool: PgPool) {
    let mut callers = vec![
        (Caller::Nobody, None),
        (Caller::Unknown, Some("cicd_nobodyissuedthis".to_owned())),
    ];
    let public = TestApp::with(pool.clone(), true, PathBuf::from("/nonexistent")).await;
    let private = TestApp::with(pool.clone(), false, PathBuf::from("/nonexistent")).await;
    for scope in [Scope::Ingest, Scope::Read, Scope::Admin, Scope::Operator] {
        callers.push((Caller::Token(scope), Some(public.token(scope).await)));
    }
    callers.push((Caller::Bootstrap, Some(ADMIN.to_owned())));

    let ops = operations();
    let mut failures = Vec::new();
    for (method, path, _) in &ops {
        let Some(&(_, _, needs)) = NEEDS.iter().find(|(m, p, _)| m == method && p == path) else {
            failures.push(format!("{method} {path}: not in NEEDS — say who may call it"));
            continue;
        };
        for (app, public_read) in [(&public, true), (&private, false)] {
            for (caller, token) in &callers {
                let got = status(app, method, &uri(path), token.as_deref()).await;
                let want = expect(needs, *caller, public_read);
                let ok = match want {
                    Expect::Unauthorized => got == StatusCode::UNAUTHORIZED,
                    Expect::Forbidden => got == StatusCode::FORBIDDEN,
                    Expect::Allowed => {
                        got != StatusCode::UNAUTHORIZED
                            && got != StatusCode::FORBIDDEN
                            && !got.is_server_error()
                    }
                };
                if !ok {
                    failures.push(format!(
                        "{method} {path} by {caller:?} (public_read={public_read}): {got}, expected {want:?}"
                    ));
                }
            }
        }
    }
    for (method, path, _) in NEEDS {
        if !ops.iter().any(|(m, p, _)| m == method && p == path) {
            failures.push(format!(
                "{method} {path}: in NEEDS but not in the OpenAPI document"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_document_says_which_routes_take_a_bearer_token() {
    let mut failures = Vec::new();
    for (method, path, security) in operations() {
        let Some(&(_, _, needs)) = NEEDS.iter().find(|(m, p, _)| *m == method && *p == path) else {
            continue;
        };
        let schemes: Vec<String> = security
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| {
                        r.as_object()
                            .unwrap()
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join("+")
                    })
                    .collect()
            })
            .unwrap_or_default();
        let want: &[&str] = match needs {
            Public | Signature => &[],
            // Anonymous (public reads) or a bearer token.
            Read => &["", "bearer"],
            Ingest | Admin | Operator => &["bearer"],
        };
        if schemes != want {
            failures.push(format!(
                "{method} {path}: security {schemes:?}, expected {want:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
