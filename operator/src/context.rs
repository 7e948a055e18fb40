//! What every reconciliation shares, and the parts of it that do not depend on the kind.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::backend::Backend;
use crate::conditions::Outcome;
use crate::metrics::Metrics;
use crate::{Error, Result};

/// Field manager of the status written with server-side apply.
pub const MANAGER: &str = "cicd-monitor-operator";
/// Finalizer that deletes the backend's copy before the resource goes.
pub const FINALIZER: &str = "cicd-monitor.dev/backend-cleanup";

/// Shared by every reconciliation of both controllers.
pub struct Context {
    pub client: Client,
    pub backend: Backend,
    pub metrics: Metrics,
    pub recorder: Recorder,
    /// Requeue period after a reconciliation that needs nothing else (undoes drift).
    pub resync: Duration,
    /// Consecutive failures per resource uid, for the backoff.
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    pub fn new(
        client: Client,
        backend: Backend,
        metrics: Metrics,
        recorder: Recorder,
        resync: Duration,
    ) -> Self {
        Context {
            client,
            backend,
            metrics,
            recorder,
            resync,
            failures: Mutex::default(),
        }
    }

    /// Forgets a resource's failures after a reconciliation that did not error.
    pub fn succeeded(&self, uid: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(uid);
    }

    /// Counts a failure and says how long to wait before the next try.
    pub fn failed(&self, uid: &str) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = failures.entry(uid.to_owned()).or_default();
        *n = n.saturating_add(1);
        backoff(*n)
    }

    /// Publishes an Event about `obj`; a failure to publish is logged, never fatal.
    pub async fn event<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        type_: EventType,
        reason: &str,
        note: String,
    ) {
        let ev = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(note),
            action: "Reconcile".to_owned(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, &obj.object_ref(&())).await {
            tracing::warn!(error = %e, reason, "could not publish an event");
        }
    }

    /// Publishes the Event of a change of the `Ready` reason (nothing when it stays the same).
    pub async fn transition<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        before: Option<&str>,
        now: &Outcome,
    ) {
        if before == Some(now.reason) {
            return;
        }
        let type_ = if now.is_ready() {
            EventType::Normal
        } else {
            EventType::Warning
        };
        self.event(obj, type_, now.reason, now.message.clone()).await;
    }
}

/// `5s · 2^(n-1)`, at most 5 minutes.
pub fn backoff(failures: u32) -> Duration {
    let secs = 5u64.saturating_mul(1u64 << failures.saturating_sub(1).min(16));
    Duration::from_secs(secs.min(300))
}

/// Writes `status` with server-side apply on the status subresource.
pub async fn apply_status<K, S>(api: &Api<K>, obj: &K, status: &S) -> Result<()>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
    S: Serialize,
{
    let patch = Patch::Apply(serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    }));
    api.patch_status(&obj.name_any(), &PatchParams::apply(MANAGER).force(), &patch)
        .await
        .map_err(Error::Kube)?;
    Ok(())
}

/// What to do after a reconciliation that reached `outcome`: backend outages are errors (backoff in
/// [`error_policy`]), everything else waits for a change or the resync.
pub fn finish<K: Resource<DynamicType = ()>>(ctx: &Context, obj: &K, outcome: &Outcome) -> Result<Action> {
    let uid = obj.meta().uid.clone().unwrap_or_default();
    if !outcome.is_ready() {
        ctx.metrics.failure(&K::kind(&()), outcome.reason);
    }
    if outcome.reason == cicd_monitor_crds::status::reason::BACKEND_UNAVAILABLE {
        return Err(Error::Backend(crate::backend::BackendError::Unavailable(
            outcome.message.clone(),
        )));
    }
    ctx.succeeded(&uid);
    Ok(Action::requeue(ctx.resync))
}

/// Backs off per resource on errors: backend outages and Kubernetes API failures.
pub fn error_policy<K: Resource<DynamicType = ()>>(obj: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action {
    let uid = obj.meta().uid.clone().unwrap_or_default();
    let wait = ctx.failed(&uid);
    tracing::warn!(error = %error, name = %obj.meta().name.clone().unwrap_or_default(),
        retry_in = ?wait, "reconcile failed");
    // Backend outages of the apply path were counted when the status was written.
    if !error.counted_in_status() {
        ctx.metrics.failure(&K::kind(&()), error.metric_label());
    }
    Action::requeue(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_five_seconds_up_to_five_minutes() {
        assert_eq!(backoff(1), Duration::from_secs(5));
        assert_eq!(backoff(2), Duration::from_secs(10));
        assert_eq!(backoff(4), Duration::from_secs(40));
        assert_eq!(backoff(7), Duration::from_secs(300));
        assert_eq!(backoff(1000), Duration::from_secs(300));
    }
}
