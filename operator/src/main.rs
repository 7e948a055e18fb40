//! The ci-cd-monitor Kubernetes operator: reconciles `AlertRule` and `Integration` resources into
//! the backend. The controllers are not built yet; until they are, this binary says so and fails,
//! rather than pretending to run.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "cicd-monitor-operator {}: the {} controllers are not implemented yet",
        env!("CARGO_PKG_VERSION"),
        cicd_monitor_crds::api_version()
    );
    ExitCode::from(2)
}
