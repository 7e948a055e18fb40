//! ci-cd-monitor's backend: ingest of CI/CD run events, dashboard metrics, and the HTTP API.

pub mod alerting;
pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod dashboard;
pub mod db;
pub mod delivery;
pub mod demo;
pub mod domain;
pub mod error;
pub mod fold;
pub mod github_sync;
pub mod http;
pub mod ingest;
pub mod insight;
pub mod live;
pub mod outbound;
pub mod retention;
pub mod signatures;
pub mod telemetry;
pub mod throttle;
pub mod writer;

use std::sync::Arc;
use std::time::Instant;

use secrecy::ExposeSecret;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::alerting::engine::Alerts;
use crate::alerting::incidents::NoticeContext;
use crate::alerting::outbox::Outbox;
use crate::auth::Authenticator;
use crate::config::Config;
use crate::crypto::SecretBox;
use crate::http::{AppState, Info};
use crate::signatures::Verifier;
use crate::telemetry::Metrics;
use crate::writer::Writer;

/// Builds the application state on an existing pool (also used by tests).
pub fn state(pool: PgPool, config: &Config) -> anyhow::Result<AppState> {
    for origin in &config.security.cors_origins {
        let o = origin.trim();
        anyhow::ensure!(
            o == "*"
                || ((o.starts_with("https://") || o.starts_with("http://"))
                    && o.parse::<axum::http::HeaderValue>().is_ok()),
            "CICD_CORS_ORIGINS: {o:?} is not an origin such as https://dash.example.com (or *)"
        );
    }
    let secret_box = config.secret_key.as_ref().map(SecretBox::new).transpose()?;
    let metrics = Arc::new(Metrics::new());
    let alerts = Arc::new(Alerts::new(
        pool.clone(),
        NoticeContext {
            environment: config.environment.clone(),
            public_url: config.public_url.clone(),
        },
        metrics.clone(),
        chrono::TimeDelta::hours(config.stale_job_hours.into()),
    ));
    let run_folder = fold::RunFolder::new(pool.clone());
    let guard = Arc::new(outbound::Guard::new(
        config.security.outbound_allow.clone(),
        config.security.outbound_hosts.clone(),
        Arc::new(outbound::SystemLookup),
    ));
    // Connections with a session of their own (LISTEN), apart from a transaction pooler.
    let sessions = match config.db.direct() {
        Some(url) => db::lazy_pool(url.expose_secret(), 4)?,
        None => pool.clone(),
    };
    let replica = match config.db.read_url() {
        Some(url) => Some(db::lazy_pool(url.expose_secret(), config.db.db_max_connections)?),
        None => None,
    };
    let reads = Arc::new(db::reads::Reads::new(
        pool.clone(),
        replica,
        std::time::Duration::from_millis(config.db.read_max_wait_ms),
        &metrics.registry,
    ));
    Ok(AppState::new(http::Shared {
        writer: Writer::start(
            pool.clone(),
            metrics.clone(),
            config.ingest_writers,
            config.ingest_max_batch,
            Some(alerts.clone()),
            Some(run_folder.clone()),
        ),
        run_folder,
        alerts,
        outbox: Arc::new(Outbox {
            pool: pool.clone(),
            sessions: sessions.clone(),
            secret_box: secret_box.clone(),
            env_slack: config.slack_webhook_url.clone(),
            // Redirects are not followed: a followed 301 would turn the POST into a GET.
            client: guard.client(reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)))?,
            trusted: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            guard,
            metrics: metrics.clone(),
            backoff_base: std::time::Duration::from_secs(2),
        }),
        auth: Arc::new(Authenticator::new(
            pool.clone(),
            config.admin_token.as_ref(),
            config.operator_token.as_ref(),
        )),
        verifier: Arc::new(Verifier::new(pool.clone(), &config.webhooks, secret_box.clone())),
        secret_box,
        metrics,
        info: Arc::new(Info {
            environment: config.environment.clone(),
            public_read: config.public_read,
            public_url: config.public_url.clone(),
            cors_origins: config.security.cors_origins.clone(),
            started: Instant::now(),
        }),
        live: Arc::new(
            live::Live::new(pool.clone())
                .listening_on(sessions)
                .announcing(reads.clone()),
        ),
        reads,
        limits: Arc::new(http::rate_limit::Limits::new(&config.security)),
        folder: fold::Folder::new(pool.clone()),
        tile_cache: Arc::default(),
        stale_after: chrono::TimeDelta::hours(config.stale_job_hours.into()),
        pool,
    }))
}

/// `cicd-monitor serve`: migrate (waiting for the database if needed), then serve until SIGTERM/ctrl-c.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let pool = db::connect(
        config.db.database_url.expose_secret(),
        config.db.db_max_connections,
    )
    .await?;
    // Migrations hold a session-level lock: on the direct connection when there is one.
    db::migrate_when_ready(&db::lazy_pool(config.db.direct_url().expose_secret(), 1)?).await?;
    let listener = TcpListener::bind(config.listen).await?;
    tracing::info!(addr = %listener.local_addr()?, environment = %config.environment, "serving");
    let state = state(pool.clone(), &config)?;
    let hint = config
        .slack_webhook_url
        .as_ref()
        .map(|u| alerting::integrations::mask(u.expose_secret()));
    db::integrations::sync_env_slack(&pool, hint.as_deref()).await?;
    seed_settings(&pool, &config).await?;
    background(&config, &state)?;
    let live = state.live.clone();
    let app = http::router(state, &config.static_dir);
    // The socket peer is the client address of rate limits (unless a trusted proxy forwards).
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        // Open streams would otherwise hold the shutdown up for ever.
        live.close();
    })
    .await?;
    Ok(())
}

/// The configuration's initial price table, currency and production environments, each stored
/// unless the settings hold one.
async fn seed_settings(pool: &PgPool, config: &Config) -> anyhow::Result<()> {
    use crate::domain::settings::{currency, production_environments, runner_prices};
    if let Some(json) = &config.runner_prices {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| anyhow::anyhow!("CICD_RUNNER_PRICES is not JSON: {e}"))?;
        runner_prices(&value).map_err(|e| anyhow::anyhow!("CICD_RUNNER_PRICES: {e}"))?;
        db::settings::seed(pool, "runner_prices", &value).await?;
    }
    if let Some(c) = &config.currency {
        let value = serde_json::Value::from(c.as_str());
        currency(&value).map_err(|e| anyhow::anyhow!("CICD_CURRENCY: {e}"))?;
        db::settings::seed(pool, "currency", &value).await?;
    }
    if let Some(list) = &config.production_environments {
        let value = serde_json::Value::from(list.split(',').map(str::trim).collect::<Vec<_>>());
        production_environments(&value).map_err(|e| anyhow::anyhow!("CICD_PRODUCTION_ENVIRONMENTS: {e}"))?;
        db::settings::seed(pool, "production_environments", &value).await?;
    }
    Ok(())
}

/// Background work of `serve`: the stream's listener, the GitHub poller (when configured), alert
/// evaluation and delivery, and housekeeping.
fn background(config: &Config, state: &AppState) -> anyhow::Result<()> {
    let gh = &config.github;
    match (
        &gh.github_token,
        gh.github_repos.is_empty(),
        gh.github_poll_interval,
    ) {
        (Some(token), false, secs) if secs > 0 => {
            let poller =
                github_sync::Poller::new(gh, token.clone(), state.pool.clone(), state.writer.clone())?;
            tracing::info!(
                repos = gh.github_repos.len(),
                interval_s = secs,
                "polling the GitHub Actions API"
            );
            Arc::new(poller).spawn(gh.github_repos.clone(), std::time::Duration::from_secs(secs));
        }
        (None, false, _) => {
            tracing::warn!("CICD_GITHUB_REPOS is set but GITHUB_TOKEN is not: not polling GitHub")
        }
        _ => {}
    }
    state.live.spawn();
    state.folder.clone().spawn(std::time::Duration::from_secs(5));
    state.run_folder.clone().spawn(std::time::Duration::from_secs(1));
    let limits = state.limits.clone();
    tokio::spawn(async move {
        // Idle limiter keys are forgotten within seconds (their buckets refill that fast).
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
        loop {
            tick.tick().await;
            limits.prune();
        }
    });
    state
        .alerts
        .spawn(std::time::Duration::from_secs(config.alert_tick.max(1)));
    tokio::spawn(state.outbox.clone().run());
    if config.retention_interval > 0 {
        Arc::new(retention::Retention::new(
            state.pool.clone(),
            &state.metrics.registry,
        ))
        .spawn(std::time::Duration::from_secs(config.retention_interval));
    }
    let pool = state.pool.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match db::partitions::maintain(&pool, chrono::Utc::now()).await {
                Ok(n) if n > 0 => tracing::info!(created = n, "created the coming weeks' partitions"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not create the coming weeks' partitions"),
            }
            for (what, pruned) in [
                (
                    "webhook deliveries older than a week",
                    db::sources::prune_deliveries(&pool).await,
                ),
                (
                    "delivered notifications and resolved incidents older than 30 days",
                    alerting::engine::prune(&pool).await,
                ),
            ] {
                match pruned {
                    Ok(n) if n > 0 => tracing::info!(deleted = n, "forgot {what}"),
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "could not prune {what}"),
                }
            }
        }
    });
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
