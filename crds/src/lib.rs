//! Types shared by the ci-cd-monitor backend and its operator: the `AlertRule` and `Integration`
//! custom resources (whose specs are also the REST bodies of `/api/alert-rules` and
//! `/api/integrations`), so a rule declared in YAML and one created through the API cannot mean
//! different things.

//!
//! The `resource` feature (on by default) adds the custom resources themselves: kube's derive, their
//! status, the CRD schemas and manifests. Without it, only the specs (what the backend needs).

pub mod alert_rule;
#[cfg(feature = "resource")]
pub mod crdgen;
pub mod integration;
#[cfg(feature = "resource")]
pub mod schema;
pub mod span;
#[cfg(feature = "resource")]
pub mod status;

#[cfg(feature = "resource")]
pub use alert_rule::AlertRule;
pub use alert_rule::{
    AlertRuleSpec, Annotations, Condition, GroupKey, IntegrationRef, JobRef, Notify, Percentile, Selector,
    Severity, Stat, TestRef,
};
#[cfg(feature = "resource")]
pub use integration::Integration;
pub use integration::{IntegrationSpec, IntegrationType, SecretKeyRef, SecretValue, SlackSpec, WebhookSpec};
pub use span::Span;
#[cfg(feature = "resource")]
pub use status::{AlertRuleStatus, IntegrationStatus};

/// API group of the custom resources.
pub const GROUP: &str = "cicd-monitor.dev";
/// API version of the custom resources.
pub const VERSION: &str = "v1alpha1";

/// `group/version`, as in a manifest's `apiVersion`.
pub fn api_version() -> String {
    format!("{GROUP}/{VERSION}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn api_version_joins_group_and_version() {
        assert_eq!(super::api_version(), "cicd-monitor.dev/v1alpha1");
    }
}
