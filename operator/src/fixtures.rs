//! Test helpers: resource builders, a fake backend on a local port and a mock Kubernetes API server
//! driven by named scenarios (as in controller-rs).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::routing::put;
use axum::{Json, Router};
use cicd_monitor_crds::{AlertRule, AlertRuleSpec, Integration, IntegrationSpec};
use http::{Request, Response};
use kube::client::Body;
use kube::runtime::events::{Recorder, Reporter};
use kube::{Client, Resource};
use serde_json::{json, Value};

use crate::backend::Backend;
use crate::context::{Context, FINALIZER};
use crate::metrics::Metrics;

pub fn rule(spec: Value) -> AlertRule {
    let spec: AlertRuleSpec = serde_json::from_value(spec).expect("valid spec");
    let mut r = AlertRule::new("test", spec);
    meta(&mut r);
    r
}

pub fn integration(spec: Value) -> Integration {
    let spec: IntegrationSpec = serde_json::from_value(spec).expect("valid spec");
    let mut i = Integration::new("test", spec);
    meta(&mut i);
    i
}

fn meta<K: Resource>(obj: &mut K) {
    let m = obj.meta_mut();
    m.namespace = Some("default".into());
    m.uid = Some("uid-1".into());
    m.generation = Some(1);
}

pub fn finalized<K: Resource>(mut obj: K) -> K {
    obj.meta_mut().finalizers = Some(vec![FINALIZER.into()]);
    obj
}

pub fn deleting<K: Resource>(mut obj: K) -> K {
    obj.meta_mut().deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        "2026-01-01T00:00:00Z".parse().expect("time"),
    ));
    obj
}

/// What the fake backend received: method, path and JSON body.
pub type Calls = Arc<Mutex<Vec<(Method, String, Value)>>>;

/// A backend answering the operator routes like the real one, recording every call.
pub async fn fake_backend(answer: StatusCode) -> (String, Calls) {
    let calls: Calls = Arc::default();
    async fn upsert(
        State((calls, answer)): State<(Calls, StatusCode)>,
        method: Method,
        Path((kind, uid)): Path<(String, String)>,
        body: Option<Json<Value>>,
    ) -> (StatusCode, Json<Value>) {
        let body = body.map(|b| b.0).unwrap_or(Value::Null);
        calls
            .lock()
            .expect("lock")
            .push((method.clone(), format!("/api/{kind}/by-uid/{uid}"), body));
        if !answer.is_success() {
            let err = json!({"error": {"code": "x", "message": "rejected",
                "details": [{"field": "spec.match.repo", "message": "bad glob"}]}});
            return (answer, Json(err));
        }
        if method == Method::DELETE {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"error": {"code": "not_found", "message": "gone"}})),
            );
        }
        (
            StatusCode::OK,
            Json(json!({"id": 7, "firing": 1, "last_triggered": "2026-01-02T03:04:05Z"})),
        )
    }
    let app = Router::new()
        .route("/api/{kind}/by-uid/{uid}", put(upsert).delete(upsert))
        .with_state((calls.clone(), answer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), calls)
}

/// A backend URL nothing listens on.
pub async fn dead_backend() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}")
}

type ApiServerHandle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

/// The mock Kubernetes API server: each step expects one request and answers it.
pub struct ApiServerVerifier(ApiServerHandle);

/// The requests one reconciliation is expected to make, in order.
pub enum Step {
    /// JSON patch adding the finalizer.
    AddFinalizer,
    /// GET of this path, answered with this object (`None`: 404).
    Get(&'static str, Option<Value>),
    /// Server-side apply of the status; the applied status is checked by the closure.
    PatchStatus(Box<dyn FnOnce(&Value) + Send>),
    /// POST of an Event with this reason.
    Event(&'static str),
    /// JSON patch removing the finalizer.
    RemoveFinalizer,
}

impl ApiServerVerifier {
    /// Serves `steps` in order; await the handle (with [`within_1s`]) to check all happened.
    pub fn run<K: serde::Serialize>(
        mut self,
        plural: &'static str,
        obj: &K,
        steps: Vec<Step>,
    ) -> tokio::task::JoinHandle<()> {
        let obj = serde_json::to_value(obj).expect("json");
        tokio::spawn(async move {
            for step in steps {
                let (req, send) = self.0.next_request().await.expect("service not called");
                let method = req.method().clone();
                let uri = req.uri().to_string();
                let body: Value = {
                    let bytes = req.into_body().collect_bytes().await.expect("body");
                    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
                };
                let obj_path = format!("/apis/cicd-monitor.dev/v1alpha1/namespaces/default/{plural}/test");
                let reply = match step {
                    Step::AddFinalizer | Step::RemoveFinalizer => {
                        assert_eq!(method, http::Method::PATCH, "{uri}");
                        assert!(uri.starts_with(&format!("{obj_path}?")), "{uri}");
                        let op = if matches!(step, Step::AddFinalizer) {
                            "add"
                        } else {
                            "remove"
                        };
                        assert!(
                            body.as_array().expect("json patch").iter().any(|o| o["op"] == op),
                            "{body}"
                        );
                        obj.clone()
                    }
                    Step::Get(path, object) => {
                        assert_eq!(method, http::Method::GET);
                        assert_eq!(uri.trim_end_matches('?'), path);
                        match object {
                            Some(o) => o,
                            None => {
                                let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                    "reason": "NotFound", "code": 404, "message": "not found"});
                                send.send_response(
                                    Response::builder()
                                        .status(404)
                                        .body(Body::from(status.to_string().into_bytes()))
                                        .expect("response"),
                                );
                                continue;
                            }
                        }
                    }
                    Step::PatchStatus(check) => {
                        assert_eq!(method, http::Method::PATCH);
                        assert_eq!(
                            uri,
                            format!("{obj_path}/status?&force=true&fieldManager=cicd-monitor-operator")
                        );
                        check(&body["status"]);
                        obj.clone()
                    }
                    Step::Event(reason) => {
                        assert_eq!(method, http::Method::POST);
                        assert_eq!(uri, "/apis/events.k8s.io/v1/namespaces/default/events?");
                        assert_eq!(body["reason"], reason, "{body}");
                        body
                    }
                };
                send.send_response(
                    Response::builder()
                        .body(Body::from(reply.to_string().into_bytes()))
                        .expect("response"),
                );
            }
        })
    }
}

/// Waits for the mock server to have served every step.
pub async fn within_1s(handle: tokio::task::JoinHandle<()>) {
    tokio::time::timeout(Duration::from_secs(1), handle)
        .await
        .expect("the reconciler made fewer requests than expected")
        .expect("scenario completed");
}

/// A context whose Kubernetes client is the mock server and whose backend is `backend_url`.
pub fn context(backend_url: &str) -> (Arc<Context>, ApiServerVerifier) {
    context_with_token(backend_url, "operator-token")
}

/// [`context`] with this backend token.
pub fn context_with_token(backend_url: &str, token: &str) -> (Arc<Context>, ApiServerVerifier) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "default");
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "cicd-monitor-operator-test".into(),
            instance: None,
        },
    );
    let backend = Backend::new(
        backend_url.parse().expect("url"),
        token.to_owned().into(),
        Duration::from_secs(2),
    )
    .expect("client");
    let ctx = Context::new(
        client,
        backend,
        Metrics::default(),
        recorder,
        Duration::from_secs(600),
    );
    (Arc::new(ctx), ApiServerVerifier(handle))
}
