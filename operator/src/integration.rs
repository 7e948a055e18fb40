//! The `Integration` controller: resolves the Secrets the spec references and upserts the
//! integration into the backend.

use std::collections::BTreeMap;
use std::sync::Arc;

use cicd_monitor_crds::status::{reason, READY};
use cicd_monitor_crds::{Integration, IntegrationSpec, IntegrationStatus, SecretKeyRef, SecretValue};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{finalizer, Event as Finalizer};
use kube::ResourceExt;
use tracing::{field, info, instrument, Span};

use crate::backend::{BackendError, Upsert};
use crate::conditions::{self, Outcome};
use crate::context::{apply_status, finish, Context, FINALIZER};
use crate::{telemetry, Error, Result};

/// Secret data by Secret name, as read from the resource's namespace (`None`: no such Secret).
pub type Secrets = BTreeMap<String, Option<BTreeMap<String, String>>>;

/// The Secrets a spec references, by name, without repeats.
pub fn secret_names(spec: &IntegrationSpec) -> Vec<String> {
    let mut names: Vec<String> = secret_values(spec)
        .into_iter()
        .filter_map(|v| v.secret_key_ref.as_ref().map(|r| r.name.clone()))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn secret_values(spec: &IntegrationSpec) -> Vec<&SecretValue> {
    let mut out = Vec::new();
    if let Some(s) = &spec.slack {
        out.push(&s.webhook_url);
    }
    if let Some(w) = &spec.webhook {
        out.push(&w.url);
        out.extend(w.hmac_secret.as_ref());
    }
    out
}

/// The spec the backend gets: every `secretKeyRef` replaced by the value it points to.
pub fn resolve(spec: &IntegrationSpec, secrets: &Secrets) -> Result<IntegrationSpec, String> {
    let mut out = spec.clone();
    let lookup = |v: &mut SecretValue| -> Result<(), String> {
        let Some(SecretKeyRef { name, key }) = v.secret_key_ref.take() else {
            return Ok(());
        };
        let data = secrets
            .get(&name)
            .and_then(Option::as_ref)
            .ok_or_else(|| format!("Secret {name:?} not found"))?;
        let value = data
            .get(&key)
            .ok_or_else(|| format!("Secret {name:?} has no key {key:?}"))?;
        v.value = Some(value.trim().to_owned());
        Ok(())
    };
    if let Some(s) = &mut out.slack {
        lookup(&mut s.webhook_url)?;
    }
    if let Some(w) = &mut out.webhook {
        lookup(&mut w.url)?;
        if let Some(h) = &mut w.hmac_secret {
            lookup(h)?;
        }
    }
    Ok(out)
}

/// Reads the Secrets a spec references (values decoded as UTF-8).
async fn read_secrets(ctx: &Context, ns: &str, spec: &IntegrationSpec) -> Result<Secrets> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let mut out = Secrets::new();
    for name in secret_names(spec) {
        let data = api.get_opt(&name).await.map_err(Error::Kube)?.map(|s| {
            s.data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                .chain(s.string_data.unwrap_or_default())
                .collect()
        });
        out.insert(name, data);
    }
    Ok(out)
}

/// Maps a backend failure to the `Ready` reason it shows as.
pub fn backend_outcome(e: &BackendError) -> Outcome {
    match e {
        BackendError::Unavailable(_) | BackendError::Unauthorized(_) => {
            Outcome::new(reason::BACKEND_UNAVAILABLE, e.to_string())
        }
        BackendError::InvalidSpec(m) => Outcome::new(reason::INVALID_SPEC, m.clone()),
        BackendError::Conflict(_) => Outcome::new(reason::INVALID_SPEC, e.to_string()),
    }
}

/// Reconciles one `Integration` (wrapped in the finalizer).
#[instrument(skip_all, fields(trace_id = %telemetry::trace_id(), kind = "Integration",
    namespace = %obj.namespace().unwrap_or_default(), name = %obj.name_any(), reason = field::Empty))]
pub async fn reconcile(obj: Arc<Integration>, ctx: Arc<Context>) -> Result<Action> {
    let _timer = ctx.metrics.start("Integration");
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<Integration> = Api::namespaced(ctx.client.clone(), &ns);
    finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            Finalizer::Apply(obj) => apply(&obj, &api, &ctx).await,
            Finalizer::Cleanup(obj) => cleanup(&obj, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

async fn apply(obj: &Integration, api: &Api<Integration>, ctx: &Context) -> Result<Action> {
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let uid = obj.uid().unwrap_or_default();
    let secrets = read_secrets(ctx, &ns, &obj.spec).await?;
    let (outcome, backend_id) = match resolve(&obj.spec, &secrets) {
        Err(m) => (Outcome::new(reason::SECRET_NOT_FOUND, m), None),
        Ok(spec) => {
            let body = Upsert {
                namespace: &ns,
                name: &name,
                spec: &spec,
            };
            match ctx.backend.upsert_integration(&uid, &body).await {
                Ok(info) if spec.suspend => (
                    Outcome::new(reason::SUSPENDED, "synced; deliveries are paused (spec.suspend)"),
                    Some(info.id),
                ),
                Ok(info) => (
                    Outcome::new(reason::SYNCED, format!("synced as {ns}/{name}")),
                    Some(info.id),
                ),
                Err(e) => (backend_outcome(&e), None),
            }
        }
    };
    Span::current().record("reason", outcome.reason);
    info!(message = %outcome.message, "reconciled");

    let old = obj.status.clone().unwrap_or_default();
    let generation = obj.metadata.generation;
    let now = Timestamp::now();
    let ready = conditions::condition(
        READY,
        outcome.is_ready(),
        outcome.reason,
        &outcome.message,
        generation,
        now,
    );
    let mut status = IntegrationStatus {
        observed_generation: generation,
        backend_id: backend_id.map(|id| id.to_string()).or(old.backend_id.clone()),
        last_sync_time: old.last_sync_time.clone(),
        conditions: conditions::merge(&old.conditions, vec![ready]),
    };
    if status != old {
        if outcome.is_ready() {
            status.last_sync_time = Some(Time(now));
        }
        apply_status(api, obj, &status).await?;
    }
    ctx.transition(obj, conditions::ready_reason(&old.conditions), &outcome)
        .await;
    finish(ctx, obj, &outcome)
}

async fn cleanup(obj: &Integration, ctx: &Context) -> Result<Action> {
    ctx.backend
        .delete_integration(&obj.uid().unwrap_or_default())
        .await
        .map_err(Error::Backend)?;
    ctx.event(
        obj,
        EventType::Normal,
        "Deleted",
        "removed from the backend".into(),
    )
    .await;
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: serde_json::Value) -> IntegrationSpec {
        serde_json::from_value(v).expect("valid spec")
    }

    fn secrets(entries: &[(&str, &[(&str, &str)])]) -> Secrets {
        entries
            .iter()
            .map(|(n, kv)| {
                let data = kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                (n.to_string(), Some(data))
            })
            .collect()
    }

    #[test]
    fn secret_references_become_values_for_the_backend() {
        let s = spec(serde_json::json!({"type": "Webhook", "webhook": {
            "url": {"secretKeyRef": {"name": "hook", "key": "url"}},
            "hmacSecret": {"secretKeyRef": {"name": "hook", "key": "hmac"}}}}));
        assert_eq!(secret_names(&s), vec!["hook"]);
        let resolved = resolve(
            &s,
            &secrets(&[("hook", &[("url", "https://x/h\n"), ("hmac", "k")])]),
        )
        .expect("resolves");
        let body = serde_json::to_value(&resolved).expect("json");
        assert_eq!(
            body["webhook"]["url"],
            serde_json::json!({"value": "https://x/h"})
        );
        assert_eq!(body["webhook"]["hmacSecret"], serde_json::json!({"value": "k"}));
    }

    #[test]
    fn a_missing_secret_or_key_is_named() {
        let s = spec(serde_json::json!({"type": "Slack",
            "slack": {"webhookUrl": {"secretKeyRef": {"name": "slack", "key": "url"}}}}));
        let mut none = Secrets::new();
        none.insert("slack".into(), None);
        assert_eq!(resolve(&s, &none).unwrap_err(), "Secret \"slack\" not found");
        assert_eq!(
            resolve(&s, &secrets(&[("slack", &[("other", "x")])])).unwrap_err(),
            "Secret \"slack\" has no key \"url\""
        );
    }

    #[test]
    fn backend_answers_map_to_reasons() {
        assert_eq!(
            backend_outcome(&BackendError::Unavailable("x".into())).reason,
            reason::BACKEND_UNAVAILABLE
        );
        assert_eq!(
            backend_outcome(&BackendError::InvalidSpec(
                "spec.slack.webhookUrl: must be an http(s) URL".into()
            )),
            Outcome::new(
                reason::INVALID_SPEC,
                "spec.slack.webhookUrl: must be an http(s) URL"
            )
        );
        assert_eq!(
            backend_outcome(&BackendError::Conflict("taken".into())).reason,
            reason::INVALID_SPEC
        );
    }
}
