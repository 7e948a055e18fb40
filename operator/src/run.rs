//! Starting the operator: CRD check, health server, leader election, one pair of controllers per
//! watched namespace, graceful shutdown.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use cicd_monitor_crds::{AlertRule, Integration};
use futures::future::{BoxFuture, FutureExt};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use kube::core::PartialObjectMeta;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{watcher, Controller, WatchStreamExt};
use kube::{Client, Resource, ResourceExt};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::backend::Backend;
use crate::config::Config;
use crate::context::{error_policy, Context};
use crate::metrics::Metrics;
use crate::server::{self, Health};
use crate::{alert_rule, integration};

/// Reconcile on spec changes (`generation`), on finalizer changes and when deletion starts; not
/// on status-only writes, which the operator makes itself.
fn spec_or_lifecycle<K: Resource>(obj: &K) -> Option<u64> {
    let m = obj.meta();
    let mut h = DefaultHasher::new();
    m.generation.hash(&mut h);
    m.finalizers.hash(&mut h);
    m.deletion_timestamp.is_some().hash(&mut h);
    Some(h.finish())
}

fn api<K>(client: &Client, ns: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match ns {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The Integration controller of one namespace (or all), re-syncing when a referenced Secret changes.
pub fn integrations(
    ctx: Arc<Context>,
    ns: Option<&str>,
    stop: watch::Receiver<bool>,
) -> BoxFuture<'static, ()> {
    let (reader, writer) = reflector::store::<Integration>();
    let main = watcher(api::<Integration>(&ctx.client, ns), watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(spec_or_lifecycle, Default::default());
    // Metadata only: Secret values are never cached by the operator.
    let secrets = watcher(
        api::<PartialObjectMeta<Secret>>(&ctx.client, ns),
        watcher::Config::default(),
    )
    .default_backoff()
    .touched_objects();
    let store = reader.clone();
    Controller::for_stream(main, reader)
        .watches_stream(secrets, move |secret| {
            let (sns, sname) = (secret.namespace(), secret.name_any());
            store
                .state()
                .into_iter()
                .filter(|i| i.namespace() == sns && integration::secret_names(&i.spec).contains(&sname))
                .map(|i| ObjectRef::from_obj(&*i))
                .collect::<Vec<_>>()
        })
        .graceful_shutdown_on(stopped(stop))
        .run(integration::reconcile, error_policy::<Integration>, ctx)
        .for_each(|_| futures::future::ready(()))
        .boxed()
}

/// The AlertRule controller of one namespace (or all), re-syncing when a referenced Integration changes.
pub fn alert_rules(
    ctx: Arc<Context>,
    ns: Option<&str>,
    stop: watch::Receiver<bool>,
) -> BoxFuture<'static, ()> {
    let (reader, writer) = reflector::store::<AlertRule>();
    let main = watcher(api::<AlertRule>(&ctx.client, ns), watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(spec_or_lifecycle, Default::default());
    let store = reader.clone();
    Controller::for_stream(main, reader)
        .watches(
            api::<Integration>(&ctx.client, ns),
            watcher::Config::default(),
            move |i: Integration| {
                let (ins, iname) = (i.namespace(), i.name_any());
                store
                    .state()
                    .into_iter()
                    .filter(|r| {
                        r.namespace() == ins && r.spec.notify.integrations.iter().any(|x| x.name == iname)
                    })
                    .map(|r| ObjectRef::from_obj(&*r))
                    .collect::<Vec<_>>()
            },
        )
        .graceful_shutdown_on(stopped(stop))
        .run(alert_rule::reconcile, error_policy::<AlertRule>, ctx)
        .for_each(|_| futures::future::ready(()))
        .boxed()
}

/// Fails with an install hint when the custom resources are not served.
pub async fn check_crds(client: &Client, ns: Option<&str>) -> anyhow::Result<()> {
    let lp = ListParams::default().limit(1);
    let rules = api::<AlertRule>(client, ns).list(&lp).await.map(|_| ());
    let integrations = api::<Integration>(client, ns).list(&lp).await.map(|_| ());
    for (kind, res) in [("AlertRule", rules), ("Integration", integrations)] {
        if let Err(e) = res {
            anyhow::bail!(
                "the {kind} custom resource ({}) is not served: {e}. Install the CRDs first: \
                 kubectl apply --server-side -f crds/alertrule.yaml -f crds/integration.yaml (the Helm chart installs them from its crds/ folder on first install)",
                cicd_monitor_crds::api_version()
            );
        }
    }
    Ok(())
}

/// Resolves once `true` is sent on the stop channel (or the sender is gone).
async fn stopped(mut rx: watch::Receiver<bool>) {
    rx.wait_for(|s| *s).await.ok();
}

/// Resolves when SIGTERM or Ctrl-C arrives.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                ctrl_c.await.ok();
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.ok();
}

/// Runs the operator until SIGTERM (or until it loses its Lease, when leader election is on).
pub async fn run(config: Config) -> anyhow::Result<()> {
    let client = Client::try_default().await?;
    let namespaces = config.namespaces();
    let scopes: Vec<Option<String>> = if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.into_iter().map(Some).collect()
    };
    for ns in &scopes {
        check_crds(&client, ns.as_deref()).await?;
    }
    let backend = Backend::new(
        config.backend_url.clone(),
        config.token()?,
        config.backend_timeout,
    )?;
    let metrics = Metrics::default();
    let health = Health {
        metrics: metrics.clone(),
        ..Health::default()
    };
    let reporter = Reporter {
        controller: "cicd-monitor-operator".into(),
        instance: config.pod_name.clone(),
    };
    let recorder = Recorder::new(client.clone(), reporter);
    let ctx = Arc::new(Context::new(
        client.clone(),
        backend,
        metrics,
        recorder,
        config.resync,
    ));

    let (stop_tx, stop_rx) = watch::channel(false);
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    info!(listen = %config.listen, "serving /healthz, /readyz and /metrics");
    let server = axum::serve(listener, server::router(health.clone()))
        .with_graceful_shutdown(stopped(stop_rx.clone()));
    let server = tokio::spawn(async move { server.await });

    let mut lost_lease = false;
    let lease = if config.leader_election {
        let identity = config
            .pod_name
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let manager = kube_lease_manager::LeaseManagerBuilder::new(client.clone(), &config.lease_name)
            .with_namespace(&config.lease_namespace)
            .with_identity(identity)
            .build()
            .await?;
        let (rx, task) = manager.watch().await;
        Some((rx, task))
    } else {
        None
    };
    health.ready.store(true, Ordering::Relaxed);

    let signal = shutdown_signal().shared();
    if let Some((mut rx, _)) = lease.as_ref().map(|(rx, t)| (rx.clone(), t)) {
        info!(lease = %config.lease_name, "waiting for the leader Lease");
        tokio::select! {
            _ = rx.wait_for(|leading| *leading) => {},
            _ = signal.clone() => {
                stop_tx.send(true).ok();
                server.await??;
                return Ok(());
            }
        }
        info!("leading: starting the controllers");
    }
    health.leading.store(true, Ordering::Relaxed);

    let mut controllers = Vec::new();
    for ns in &scopes {
        controllers.push(integrations(ctx.clone(), ns.as_deref(), stop_rx.clone()));
        controllers.push(alert_rules(ctx.clone(), ns.as_deref(), stop_rx.clone()));
    }
    let all = futures::future::join_all(controllers);
    let lease_lost = async {
        match lease.as_ref() {
            Some((rx, _)) => {
                let mut rx = rx.clone();
                rx.wait_for(|leading| !*leading).await.ok();
            }
            None => futures::future::pending::<()>().await,
        }
    };
    tokio::pin!(all);
    tokio::select! {
        _ = signal => info!("shutting down"),
        _ = lease_lost => {
            warn!("lost the leader Lease; stopping so another replica takes over");
            lost_lease = true;
        }
        _ = &mut all => {},
    }
    stop_tx.send(true).ok();
    all.await;
    if let Some((rx, task)) = lease {
        drop(rx);
        match task.await {
            Ok(Ok(manager)) => {
                if let Err(e) = manager.release().await {
                    warn!(error = %e, "could not release the Lease");
                }
            }
            Ok(Err(e)) => error!(error = %e, "leader election failed"),
            Err(e) => error!(error = %e, "leader election task panicked"),
        }
    }
    server.await??;
    anyhow::ensure!(!lost_lease, "lost the leader Lease");
    Ok(())
}
