//! The `status` of the custom resources, written by the operator (server-side apply on the status
//! subresource) and read by `kubectl get`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Condition type: the resource is synced to the backend and works.
pub const READY: &str = "Ready";
/// Condition type (AlertRule): every integration in `notify.integrations` exists and is ready.
pub const INTEGRATIONS_RESOLVED: &str = "IntegrationsResolved";

/// Condition reasons the operator uses.
pub mod reason {
    pub const SYNCED: &str = "Synced";
    pub const INVALID_SPEC: &str = "InvalidSpec";
    pub const SECRET_NOT_FOUND: &str = "SecretNotFound";
    pub const INTEGRATION_NOT_FOUND: &str = "IntegrationNotFound";
    pub const BACKEND_UNAVAILABLE: &str = "BackendUnavailable";
    pub const SUSPENDED: &str = "Suspended";
}

/// Status of an `AlertRule`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertRuleStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Id of the rule in the backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_id: Option<String>,
    /// When the operator last wrote the rule to the backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
    /// Groups (incidents) currently firing, mirrored from the backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firing: Option<u32>,
    /// When the rule last started firing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_triggered: Option<Time>,
    /// `Ready` and `IntegrationsResolved`, keyed by `type`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// Status of an `Integration`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Id of the integration in the backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_id: Option<String>,
    /// When the operator last wrote the integration to the backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<Time>,
    /// `Ready`, keyed by `type`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// The condition of type `type_` in `conditions`, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

impl AlertRuleStatus {
    /// Whether the `Ready` condition is `True`.
    pub fn is_ready(&self) -> bool {
        find(&self.conditions, READY).is_some_and(|c| c.status == "True")
    }
}

impl IntegrationStatus {
    /// Whether the `Ready` condition is `True`.
    pub fn is_ready(&self) -> bool {
        find(&self.conditions, READY).is_some_and(|c| c.status == "True")
    }
}
