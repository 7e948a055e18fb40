//! The `Integration` spec: where notifications go. The same type is the body of
//! `PUT /api/integrations/…` and the spec of the custom resource; secrets are given by value through
//! the API and by reference to a Secret in Kubernetes (the operator resolves them).

#[cfg(feature = "resource")]
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[cfg(feature = "resource")]
pub use crate::status::IntegrationStatus;

// The spec of the `Integration` custom resource (`cicd-monitor.dev/v1alpha1`). Its CRD schema is
// assembled in `crate::schema` (`schema = "manual"`), which adds the CEL rules.
// No `///` here: it would become the description of the REST API's `IntegrationSpec`.
// clippy reads the repeated `printcolumn(type_ = …)` arguments as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(
    feature = "resource",
    derive(CustomResource),
    kube(
        group = "cicd-monitor.dev",
        version = "v1alpha1",
        kind = "Integration",
        namespaced,
        status = "IntegrationStatus",
        derive = "PartialEq",
        schema = "manual",
        shortname = "cicdint",
        category = "cicd-monitor",
        printcolumn(
            name = "Ready",
            type_ = "string",
            json_path = ".status.conditions[?(@.type==\"Ready\")].status"
        ),
        printcolumn(name = "Type", type_ = "string", json_path = ".spec.type"),
        printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
    )
)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationSpec {
    #[serde(rename = "type")]
    pub kind: IntegrationType,
    /// Pauses deliveries (they wait in the outbox).
    #[serde(default)]
    pub suspend: bool,
    /// For `type: Slack`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<SlackSpec>,
    /// For `type: Webhook`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookSpec>,
    /// Send "resolved" messages through this integration.
    #[serde(default = "default_true")]
    pub send_resolved: bool,
}

fn default_true() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum IntegrationType {
    Slack,
    Webhook,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlackSpec {
    /// The incoming webhook URL (`https://hooks.slack.com/services/…`).
    pub webhook_url: SecretValue,
    /// Informational: the channel the webhook posts to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookSpec {
    pub url: SecretValue,
    /// Key of the `X-CICD-Signature-256` HMAC-SHA256 signature of each body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hmac_secret: Option<SecretValue>,
}

/// A secret: its value (REST API) or a reference to a key of a Secret in the same namespace
/// (Kubernetes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(
    rename_all = "camelCase",
    expecting = "an object with `value` or `secretKeyRef`"
)]
pub struct SecretValue {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<SecretKeyRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(expecting = "an object with `name` and `key`")]
pub struct SecretKeyRef {
    pub name: String,
    pub key: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kubernetes_style_slack_integration_reads() {
        let spec: IntegrationSpec = serde_json::from_value(serde_json::json!({
            "type": "Slack",
            "slack": {"webhookUrl": {"secretKeyRef": {"name": "slack-webhook", "key": "url"}},
                      "channel": "#ci-alerts"}
        }))
        .unwrap();
        assert_eq!(spec.kind, IntegrationType::Slack);
        assert!(spec.send_resolved);
        let slack = spec.slack.unwrap();
        assert_eq!(slack.webhook_url.secret_key_ref.unwrap().key, "url");
        assert_eq!(slack.webhook_url.value, None);
    }
}
