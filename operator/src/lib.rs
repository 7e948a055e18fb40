//! The ci-cd-monitor Kubernetes operator: reconciles `AlertRule` and `Integration` resources into
//! the backend through its operator API, in the shape of kube-rs' controller-rs.

pub mod alert_rule;
pub mod backend;
pub mod conditions;
pub mod config;
pub mod context;
pub mod integration;
pub mod metrics;
pub mod run;
pub mod server;
pub mod telemetry;

/// Everything a reconciliation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[source] kube::Error),
    #[error("finalizer: {0}")]
    // Boxed: finalizer::Error embeds this type.
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
    #[error(transparent)]
    Backend(#[from] backend::BackendError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<kube::Error> for Error {
    fn from(e: kube::Error) -> Self {
        Error::Kube(e)
    }
}

impl Error {
    /// Whether the error was already counted as the outcome written to the status (a backend outage
    /// during apply), so the error policy does not count it twice.
    pub fn counted_in_status(&self) -> bool {
        match self {
            Error::Backend(_) => true,
            Error::Finalizer(e) => matches!(
                &**e,
                kube::runtime::finalizer::Error::ApplyFailed(Error::Backend(_))
            ),
            Error::Kube(_) => false,
        }
    }

    /// The `reason` label of `reconcile_errors_total`.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube(_) => "KubeError",
            Error::Finalizer(e) => match &**e {
                kube::runtime::finalizer::Error::ApplyFailed(inner)
                | kube::runtime::finalizer::Error::CleanupFailed(inner) => inner.metric_label(),
                _ => "FinalizerError",
            },
            Error::Backend(_) => "BackendUnavailable",
        }
    }
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod mock_tests;
#[cfg(test)]
mod real_backend_tests;
