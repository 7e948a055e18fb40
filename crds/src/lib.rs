//! Types shared by the ci-cd-monitor backend and its operator: the `AlertRule` and `Integration`
//! custom resources (whose specs are also the REST bodies of `/api/alert-rules` and
//! `/api/integrations`). The resource types arrive with the alerting and operator work; this crate
//! already fixes the API group and version they are served under.

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
