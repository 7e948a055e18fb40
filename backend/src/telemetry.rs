//! Logs (tracing) and Prometheus metrics.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use sqlx::PgPool;
use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// Starts logging: `RUST_LOG` filters (default `info`), `json` gives one JSON object per line.
pub fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Json => registry
            .with(fmt::layer().json().flatten_event(true).with_current_span(true))
            .try_init(),
        LogFormat::Pretty => registry.with(fmt::layer()).try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// The backend's Prometheus metrics. Labels are bounded: route templates, methods, statuses and
/// providers — never ids, SHAs, URLs or user names.
pub struct Metrics {
    pub registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub runs_ingested: IntCounterVec,
    pub ingest_batch_size: Histogram,
    pub ingest_transaction: Histogram,
    /// Notification delivery attempts, by integration type, outcome and (bounded) reason.
    pub notifications: IntCounterVec,
    pub incidents_firing: IntGauge,
    /// Clients connected to `GET /api/stream`.
    pub stream_clients: IntGauge,
    db_pool: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let http_requests = IntCounterVec::new(
            Opts::new(
                "cicd_http_requests_total",
                "HTTP requests answered, by matched route, method and status.",
            ),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let http_duration = HistogramVec::new(
            HistogramOpts::new(
                "cicd_http_request_duration_seconds",
                "HTTP request latency, by matched route and method.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["route", "method"],
        )
        .expect("valid metric");
        let runs_ingested = IntCounterVec::new(
            Opts::new(
                "cicd_runs_ingested_total",
                "Run events that created or changed a run, by provider and status.",
            ),
            &["provider", "status"],
        )
        .expect("valid metric");
        let ingest_batch_size = Histogram::with_opts(
            HistogramOpts::new(
                "cicd_ingest_batch_size",
                "Events written per group-commit transaction.",
            )
            .buckets(vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0]),
        )
        .expect("valid metric");
        let ingest_transaction = Histogram::with_opts(
            HistogramOpts::new(
                "cicd_ingest_transaction_duration_seconds",
                "Time to write and commit one group-commit transaction.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
        )
        .expect("valid metric");
        let notifications = IntCounterVec::new(
            Opts::new(
                "cicd_notifications_total",
                "Notification delivery attempts, by integration type, message kind (firing, repeat, \
                 resolved, test), outcome (sent, retry, failed) and reason.",
            ),
            &["type", "kind", "outcome", "reason"],
        )
        .expect("valid metric");
        let incidents_firing = IntGauge::new(
            "cicd_alert_incidents_firing",
            "Alert incidents firing now (as of the last evaluation tick).",
        )
        .expect("valid metric");
        let stream_clients = IntGauge::new(
            "cicd_stream_clients",
            "Clients connected to the live-update stream (GET /api/stream).",
        )
        .expect("valid metric");
        let db_pool = IntGaugeVec::new(
            Opts::new(
                "cicd_db_pool_connections",
                "Database pool connections, by state (in_use, idle).",
            ),
            &["state"],
        )
        .expect("valid metric");
        for c in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(http_duration.clone()),
            Box::new(runs_ingested.clone()),
            Box::new(ingest_batch_size.clone()),
            Box::new(ingest_transaction.clone()),
            Box::new(notifications.clone()),
            Box::new(incidents_firing.clone()),
            Box::new(stream_clients.clone()),
            Box::new(db_pool.clone()),
            Box::new(prometheus::process_collector::ProcessCollector::for_self()),
        ] {
            registry.register(c).expect("metric registered once");
        }
        Metrics {
            registry,
            http_requests,
            http_duration,
            runs_ingested,
            ingest_batch_size,
            ingest_transaction,
            notifications,
            incidents_firing,
            stream_clients,
            db_pool,
        }
    }

    /// The text exposition format, with pool gauges read at scrape time.
    pub fn render(&self, pool: &PgPool) -> String {
        let idle = pool.num_idle() as i64;
        self.db_pool.with_label_values(&["idle"]).set(idle);
        self.db_pool
            .with_label_values(&["in_use"])
            .set(pool.size() as i64 - idle);
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding cannot fail");
        String::from_utf8(buf).expect("exposition is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
