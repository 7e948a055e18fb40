//! Client of the backend's operator API: `PUT`/`DELETE /api/{alert-rules,integrations}/by-uid/{uid}`.

use std::time::Duration;

use cicd_monitor_crds::{AlertRuleSpec, IntegrationSpec};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// Why a backend call failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BackendError {
    /// Connection refused, timeout, 5xx or 429: retried with backoff.
    #[error("backend unavailable: {0}")]
    Unavailable(String),
    /// 401/403: the operator's token is wrong or lacks the `operator` scope; retried with backoff,
    /// since fixing the token fixes every resource and no spec change would.
    #[error("backend refused the operator's token: {0}")]
    Unauthorized(String),
    /// 400/422: the backend rejected the spec; its message says why.
    #[error("{0}")]
    InvalidSpec(String),
    /// 409: e.g. a rule or integration of the same name made through the API.
    #[error("conflict: {0}")]
    Conflict(String),
}

impl BackendError {
    /// Whether retrying the same request later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, BackendError::Unavailable(_) | BackendError::Unauthorized(_))
    }
}

/// Body of the upserts: the resource's namespace and name and its spec.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Upsert<'a, S> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub spec: &'a S,
}

/// What the backend answers about a rule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RuleInfo {
    pub id: i64,
    #[serde(default)]
    pub firing: i64,
    #[serde(default)]
    pub last_triggered: Option<String>,
}

/// What the backend answers about an integration.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct IntegrationInfo {
    pub id: i64,
}

/// The backend's HTTP client.
#[derive(Clone)]
pub struct Backend {
    http: reqwest::Client,
    base: reqwest::Url,
    token: SecretString,
}

impl Backend {
    pub fn new(base: reqwest::Url, token: SecretString, timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("cicd-monitor-operator/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Backend { http, base, token })
    }

    fn url(&self, path: &str) -> reqwest::Url {
        let mut url = self.base.clone();
        let base_path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&format!("{base_path}{path}"));
        url
    }

    /// Creates or replaces the rule of an `AlertRule` (integration names already `namespace/name`).
    pub async fn upsert_rule(
        &self,
        uid: &str,
        body: &Upsert<'_, AlertRuleSpec>,
    ) -> Result<RuleInfo, BackendError> {
        self.put(&format!("/api/alert-rules/by-uid/{uid}"), body).await
    }

    /// Creates or replaces the integration of an `Integration` (secrets resolved to values).
    pub async fn upsert_integration(
        &self,
        uid: &str,
        body: &Upsert<'_, IntegrationSpec>,
    ) -> Result<IntegrationInfo, BackendError> {
        self.put(&format!("/api/integrations/by-uid/{uid}"), body).await
    }

    /// Deletes the rule of an `AlertRule`; one already gone is not an error.
    pub async fn delete_rule(&self, uid: &str) -> Result<(), BackendError> {
        self.delete(&format!("/api/alert-rules/by-uid/{uid}")).await
    }

    /// Deletes the integration of an `Integration`; one already gone is not an error.
    pub async fn delete_integration(&self, uid: &str) -> Result<(), BackendError> {
        self.delete(&format!("/api/integrations/by-uid/{uid}")).await
    }

    async fn put<B: Serialize, T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, BackendError> {
        let res = self
            .http
            .put(self.url(path))
            .bearer_auth(self.token.expose_secret())
            .json(body)
            .send()
            .await
            .map_err(transport)?;
        let status = res.status();
        let bytes = res.bytes().await.map_err(transport)?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| BackendError::Unavailable(format!("unreadable answer from the backend: {e}")));
        }
        Err(classify(status, &bytes))
    }

    async fn delete(&self, path: &str) -> Result<(), BackendError> {
        let res = self
            .http
            .delete(self.url(path))
            .bearer_auth(self.token.expose_secret())
            .send()
            .await
            .map_err(transport)?;
        let status = res.status();
        if status.is_success() || status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        let bytes = res.bytes().await.map_err(transport)?;
        Err(classify(status, &bytes))
    }
}

fn transport(e: reqwest::Error) -> BackendError {
    BackendError::Unavailable(if e.is_timeout() {
        "request timed out".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        e.to_string()
    })
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    message: String,
    #[serde(default)]
    details: Vec<FieldError>,
}

#[derive(Deserialize)]
struct FieldError {
    field: String,
    message: String,
}

/// The backend's message: `field: message; …` for validation errors, else its `message`.
fn message(status: StatusCode, body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { error }) if !error.details.is_empty() => error
            .details
            .iter()
            .map(|d| format!("{}: {}", d.field, d.message))
            .collect::<Vec<_>>()
            .join("; "),
        Ok(ErrorBody { error }) => error.message,
        Err(_) => format!("HTTP {status}"),
    }
}

/// Sorts a failed answer into transient and permanent errors.
pub fn classify(status: StatusCode, body: &[u8]) -> BackendError {
    let msg = message(status, body);
    match status {
        s if s.is_server_error()
            || s == StatusCode::TOO_MANY_REQUESTS
            || s == StatusCode::REQUEST_TIMEOUT =>
        {
            BackendError::Unavailable(msg)
        }
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => BackendError::Unauthorized(msg),
        StatusCode::CONFLICT => BackendError::Conflict(msg),
        _ => BackendError::InvalidSpec(msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_and_rate_limits_are_transient_and_spec_errors_are_not() {
        assert!(classify(StatusCode::SERVICE_UNAVAILABLE, b"").is_transient());
        assert!(classify(StatusCode::BAD_GATEWAY, b"").is_transient());
        assert!(classify(StatusCode::TOO_MANY_REQUESTS, b"").is_transient());
        assert!(classify(StatusCode::FORBIDDEN, b"").is_transient());
        assert!(!classify(StatusCode::UNPROCESSABLE_ENTITY, b"").is_transient());
        assert!(!classify(StatusCode::CONFLICT, b"").is_transient());
        assert!(!BackendError::InvalidSpec("x".into()).is_transient());
    }

    #[test]
    fn validation_errors_carry_the_backends_fields_and_messages() {
        let body = br#"{"error":{"code":"validation_failed","message":"invalid","details":[
            {"field":"spec.match.repo","message":"bad glob"},{"field":"spec.notify.repeatInterval","message":"must be at least 1m"}]}}"#;
        assert_eq!(
            classify(StatusCode::UNPROCESSABLE_ENTITY, body),
            BackendError::InvalidSpec(
                "spec.match.repo: bad glob; spec.notify.repeatInterval: must be at least 1m".into()
            )
        );
        let conflict = br#"{"error":{"code":"conflict","message":"already exists (name)"}}"#;
        assert_eq!(
            classify(StatusCode::CONFLICT, conflict),
            BackendError::Conflict("already exists (name)".into())
        );
        assert_eq!(
            classify(StatusCode::BAD_GATEWAY, b"<html>"),
            BackendError::Unavailable("HTTP 502 Bad Gateway".into())
        );
    }

    #[test]
    fn urls_keep_a_base_path() {
        let b = Backend::new(
            "http://backend:8080/monitor/".parse().expect("url"),
            SecretString::from("t"),
            Duration::from_secs(1),
        )
        .expect("client");
        assert_eq!(
            b.url("/api/alert-rules/by-uid/u1").as_str(),
            "http://backend:8080/monitor/api/alert-rules/by-uid/u1"
        );
    }
}
