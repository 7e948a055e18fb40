//! A local stand-in for Slack incoming webhooks: records every message and answers as Slack does —
//! `200 ok`, or a scripted error (`429` with `Retry-After`, `500 rollup_error`, `404 no_service`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde_json::Value;

#[derive(Clone, Debug)]
pub enum Answer {
    Ok,
    TooMany { retry_after: u64 },
    ServerError,
    NoService,
}

#[derive(Default)]
struct Inner {
    /// (hook, message) of every request, in arrival order (errors included).
    received: Vec<(String, Value)>,
    script: VecDeque<Answer>,
}

#[derive(Clone, Default)]
pub struct FakeSlack {
    inner: Arc<Mutex<Inner>>,
    pub base: String,
}

async fn hook(State(fake): State<FakeSlack>, Path(hook): Path<String>, body: Bytes) -> Response {
    let message: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let answer = {
        let mut inner = fake.inner.lock().unwrap();
        inner.received.push((hook.clone(), message.clone()));
        inner.script.pop_front().unwrap_or(Answer::Ok)
    };
    // Slack refuses a message without text (generic webhooks, on `/services/wh-…`, have none).
    if !hook.starts_with("wh")
        && message
            .get("text")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
    {
        return (StatusCode::BAD_REQUEST, "no_text").into_response();
    }
    match answer {
        Answer::Ok => (StatusCode::OK, "ok").into_response(),
        Answer::TooMany { retry_after } => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", retry_after.to_string())],
            "rate_limited",
        )
            .into_response(),
        Answer::ServerError => (StatusCode::INTERNAL_SERVER_ERROR, "rollup_error").into_response(),
        Answer::NoService => (StatusCode::NOT_FOUND, "no_service").into_response(),
    }
}

impl FakeSlack {
    pub async fn start() -> Self {
        let mut fake = FakeSlack::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        fake.base = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/services/{hook}", post(hook))
            .with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        fake
    }

    pub fn url(&self, hook: &str) -> String {
        format!("{}/services/{hook}", self.base)
    }

    pub fn script(&self, answers: impl IntoIterator<Item = Answer>) {
        self.inner.lock().unwrap().script.extend(answers);
    }

    /// Every request so far: (hook, message).
    pub fn received(&self) -> Vec<(String, Value)> {
        self.inner.lock().unwrap().received.clone()
    }
}
