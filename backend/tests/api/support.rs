use std::path::PathBuf;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use cicd_monitor::auth::{self, Scope};
use cicd_monitor::config::{Config, WebhookConfig};
use http_body_util::BodyExt;
use serde_json::Value;
use sqlx::PgPool;
use tower::ServiceExt;

pub const ADMIN: &str = "test-admin-token";
/// The bootstrap operator token (`CICD_OPERATOR_TOKEN`).
pub const OPERATOR: &str = "test-operator-token";
pub const GITHUB_SECRET: &str = "github-webhook-secret-for-tests";
/// The previous secret, still accepted while rotating.
pub const GITHUB_OLD_SECRET: &str = "the-previous-github-secret";
pub const GITLAB_TOKEN: &str = "gitlab-token-for-tests";
pub const SECRET_KEY: &str = "0123456789abcdef0123456789abcdef-test-key";

/// The tests' configuration: [`Config::for_tests`] with the tokens, webhook secrets and key above.
pub fn config(public_read: bool, static_dir: PathBuf) -> Config {
    Config {
        webhooks: WebhookConfig {
            github_webhook_secret: Some(format!("{GITHUB_SECRET},{GITHUB_OLD_SECRET}").into()),
            gitlab_webhook_token: Some(GITLAB_TOKEN.into()),
        },
        secret_key: Some(SECRET_KEY.into()),
        public_url: Some("https://cicd.example.com".into()),
        admin_token: Some(ADMIN.into()),
        operator_token: Some(OPERATOR.into()),
        public_read,
        static_dir,
        ..Config::for_tests()
    }
}

#[derive(Clone)]
pub struct TestApp {
    pub router: Router,
    pub state: cicd_monitor::http::AppState,
    pub pool: PgPool,
    pub ingest: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestApp {
    pub async fn new(pool: PgPool) -> Self {
        Self::with(pool, true, PathBuf::from("/nonexistent")).await
    }

    pub async fn with(pool: PgPool, public_read: bool, static_dir: PathBuf) -> Self {
        Self::with_config(pool, config(public_read, static_dir)).await
    }

    /// An app with exactly this configuration (e.g. [`config`] with rate limits turned on).
    pub async fn with_config(pool: PgPool, cfg: Config) -> Self {
        partition(&pool).await;
        let state = cicd_monitor::state(pool.clone(), &cfg).unwrap();
        let router = cicd_monitor::http::router(state.clone(), &cfg.static_dir);
        let (ingest, _) = auth::create(&pool, "tests", Scope::Ingest).await.unwrap();
        TestApp {
            router,
            state,
            pool,
            ingest,
        }
    }

    pub async fn token(&self, scope: Scope) -> String {
        auth::create(&self.pool, "extra", scope).await.unwrap().0
    }

    pub async fn raw(&self, method: Method, uri: &str, token: Option<&str>, body: Body) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        self.request(req.body(body).unwrap()).await
    }

    /// POSTs exactly these headers and body.
    pub async fn send(&self, uri: &str, headers: &[(&str, &str)], body: impl Into<Body>) -> Reply {
        self.with_headers(Method::POST, uri, headers, body.into()).await
    }

    /// A GET with exactly these headers.
    pub async fn get_with(&self, uri: &str, headers: &[(&str, &str)]) -> Reply {
        self.with_headers(Method::GET, uri, headers, Body::empty()).await
    }

    async fn with_headers(&self, method: Method, uri: &str, headers: &[(&str, &str)], body: Body) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.request(req.body(body).unwrap()).await
    }

    async fn request(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.raw(Method::GET, uri, None, Body::empty()).await
    }

    pub async fn get_as(&self, uri: &str, token: &str) -> Reply {
        self.raw(Method::GET, uri, Some(token), Body::empty()).await
    }

    pub async fn post(&self, uri: &str, token: Option<&str>, body: &Value) -> Reply {
        self.raw(Method::POST, uri, token, Body::from(body.to_string()))
            .await
    }

    /// Replaces the settings as the admin; they must be accepted.
    pub async fn put_settings(&self, body: &Value) {
        let r = self
            .raw(
                Method::PUT,
                "/api/settings",
                Some(ADMIN),
                Body::from(body.to_string()),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }

    /// Posts one event with the ingest token.
    pub async fn event(&self, body: &Value) -> Reply {
        self.post("/api/events", Some(&self.ingest.clone()), body).await
    }
}

/// A valid event: the seed's example with overrides.
pub fn event(overrides: Value) -> Value {
    let mut base = serde_json::json!({
        "id": "run_20250827_001", "workflow": "build", "status": "success", "duration_seconds": 123,
        "started_at": "2025-08-27T06:00:00Z", "finished_at": "2025-08-27T06:02:03Z",
        "repo": "org/repo", "branch": "main", "triggered_by": "push", "meta": {"runner": "ubuntu-latest"}
    });
    if let (Value::Object(b), Value::Object(o)) = (&mut base, overrides) {
        for (k, v) in o {
            b.insert(k, v);
        }
    }
    base
}

/// The error fields named by a 422.
pub fn fields(body: &Value) -> Vec<String> {
    body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap().to_owned())
        .collect()
}

/// A new, migrated database of its own (for tests that run outside `#[sqlx::test]`).
/// Partitions the tables by time, as `serve` does after migrating (`sqlx::test` only migrates).
pub async fn partition(pool: &PgPool) {
    cicd_monitor::db::partitions::prepare(&mut pool.acquire().await.unwrap(), chrono::Utc::now())
        .await
        .unwrap();
}

pub async fn fresh_database(prefix: &str) -> PgPool {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL (make test sets it)");
    let admin = PgPool::connect(&url).await.unwrap();
    let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("create database {name}"))
        .execute(&admin)
        .await
        .unwrap();
    let (base, _) = url.rsplit_once('/').unwrap();
    let pool = PgPool::connect(&format!("{base}/{name}")).await.unwrap();
    cicd_monitor::db::migrate(&pool).await.unwrap();
    pool
}
