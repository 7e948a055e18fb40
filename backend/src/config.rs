//! Typed configuration, read once at start from flags or environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};

use crate::domain::Provider;
use crate::telemetry::LogFormat;

/// Settings of the `serve` command (the same names serve make, docker-compose and the chart).
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    #[command(flatten)]
    pub db: DbConfig,
    #[command(flatten)]
    pub webhooks: WebhookConfig,
    #[command(flatten)]
    pub github: GithubConfig,
    #[command(flatten)]
    pub security: SecurityConfig,
    /// Address to listen on.
    #[arg(long, env = "CICD_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Name shown in the UI's environment badge (dev, staging, prod…).
    #[arg(long, env = "CICD_ENVIRONMENT", default_value = "dev")]
    pub environment: String,
    /// Bootstrap admin token (any string; compared by hash). Create further tokens with it.
    #[arg(long, env = "CICD_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<SecretString>,
    /// Bootstrap token with the `operator` scope (any string; compared by hash), for the Kubernetes
    /// operator: the admin token cannot manage what Kubernetes owns. The chart gives the same value
    /// to the operator.
    #[arg(long, env = "CICD_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<SecretString>,
    /// Let anyone read dashboards and runs without a token (fine on a laptop, not on the internet).
    #[arg(long, env = "CICD_PUBLIC_READ", default_value_t = true, action = clap::ArgAction::Set)]
    pub public_read: bool,
    /// Where the built single-page app lives.
    #[arg(long, env = "CICD_STATIC_DIR", default_value = "frontend/dist")]
    pub static_dir: PathBuf,
    /// Writer tasks committing ingest batches in parallel.
    #[arg(long, env = "CICD_INGEST_WRITERS", default_value_t = 2)]
    pub ingest_writers: usize,
    /// Most events written in one group-commit transaction.
    #[arg(long, env = "CICD_INGEST_MAX_BATCH", default_value_t = 500)]
    pub ingest_max_batch: usize,
    /// Key that seals secrets stored in the database (webhook secrets, integration URLs); at least
    /// 32 characters, e.g. `openssl rand -base64 32`. Without it, such secrets cannot be stored.
    #[arg(long, env = "CICD_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<SecretString>,
    /// The address users reach the dashboard at (links in notifications), e.g. https://cicd.example.com.
    #[arg(long, env = "CICD_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// A Slack incoming webhook that becomes the integration named `slack`, notified by rules that
    /// name no integration. The URL stays in the environment.
    #[arg(long, env = "SLACK_WEBHOOK_URL", hide_env_values = true)]
    pub slack_webhook_url: Option<SecretString>,
    /// Seconds between evaluations of every alert rule (window rules, groupWait, repeats).
    #[arg(long, env = "CICD_ALERT_TICK", default_value_t = 15)]
    pub alert_tick: u64,
    /// Seconds between retention passes (deleting runs and rollups older than the settings'
    /// `retention_days` and `rollup_retention_days`); 0 turns retention off on this replica.
    #[arg(long, env = "CICD_RETENTION_INTERVAL", default_value_t = 3600)]
    pub retention_interval: u64,
    /// Hours after which a job still reported queued or running is taken for lost: it leaves the
    /// runners' live counts and is reported as stale.
    #[arg(long, env = "CICD_STALE_JOB_HOURS", default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=8760))]
    pub stale_job_hours: u32,
    /// The initial price table, as JSON (`{"ubuntu-latest": 0.008}`): stored in the settings at
    /// start when none is stored yet (the settings then win).
    #[arg(long, env = "CICD_RUNNER_PRICES")]
    pub runner_prices: Option<String>,
    /// The initial currency of the price table, with the same rule.
    #[arg(long, env = "CICD_CURRENCY")]
    pub currency: Option<String>,
    /// The initial environments that count as production (names or globs, comma-separated), with
    /// the same rule.
    #[arg(long, env = "CICD_PRODUCTION_ENVIRONMENTS")]
    pub production_environments: Option<String>,
    /// Log format.
    #[arg(long, env = "CICD_LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,
}

impl Config {
    /// A configuration for tests that run the app in-process: the declared defaults where they fit,
    /// nothing read from the environment, no token, secret or key (a test adds the ones it needs
    /// with `..Config::for_tests()`), no rate limit, outbound calls to loopback allowed, and no
    /// background retention.
    pub fn for_tests() -> Self {
        Config {
            db: DbConfig {
                database_url: "postgres://unused".into(),
                db_max_connections: 4,
                database_direct_url: None,
                database_read_url: None,
                read_max_wait_ms: 200,
            },
            webhooks: WebhookConfig::default(),
            github: GithubConfig::default(),
            // Integrations may call loopback, where the tests' fake receivers listen, and Slack's
            // name, which is then never resolved to be checked.
            security: SecurityConfig {
                outbound_allow: ["127.0.0.0/8", "::1", "hooks.slack.com"]
                    .map(|a| a.parse().expect("an allow-list entry"))
                    .into(),
                ..SecurityConfig::unlimited()
            },
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            environment: "test".into(),
            admin_token: None,
            operator_token: None,
            public_read: true,
            static_dir: PathBuf::from("/nonexistent"),
            ingest_writers: 2,
            ingest_max_batch: 200,
            secret_key: None,
            public_url: None,
            slack_webhook_url: None,
            alert_tick: 15,
            retention_interval: 0,
            stale_job_hours: 24,
            runner_prices: None,
            currency: None,
            production_environments: None,
            log_format: LogFormat::Pretty,
        }
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct DbConfig {
    /// PostgreSQL connection URL.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: SecretString,
    /// Most database connections this process opens.
    #[arg(long, env = "CICD_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,
    /// A direct connection URL (not through a transaction-mode pooler such as PgBouncer), for what
    /// needs a session of its own: migrations and `LISTEN`. Defaults to `DATABASE_URL`.
    #[arg(long, env = "DATABASE_DIRECT_URL", hide_env_values = true)]
    pub database_direct_url: Option<SecretString>,
    /// A streaming replica's URL: dashboard and API reads go there once it has replayed what they
    /// must see (writes, locks, `LISTEN` and the outbox stay on the primary). Unset: every read
    /// goes to the primary.
    #[arg(long, env = "DATABASE_READ_URL", hide_env_values = true)]
    pub database_read_url: Option<SecretString>,
    /// Longest wait, in milliseconds, for the replica to replay what a read must see; past it the
    /// primary serves the read.
    #[arg(long, env = "CICD_READ_MAX_WAIT_MS", default_value_t = 200)]
    pub read_max_wait_ms: u64,
}

impl DbConfig {
    /// The URL of connections that need a session of their own.
    pub fn direct_url(&self) -> &SecretString {
        self.direct().unwrap_or(&self.database_url)
    }

    /// `DATABASE_DIRECT_URL`, unless unset or empty (as `env.production` leaves it).
    pub fn direct(&self) -> Option<&SecretString> {
        non_empty(&self.database_direct_url)
    }

    /// `DATABASE_READ_URL`, unless unset or empty.
    pub fn read_url(&self) -> Option<&SecretString> {
        non_empty(&self.database_read_url)
    }
}

fn non_empty(url: &Option<SecretString>) -> Option<&SecretString> {
    url.as_ref().filter(|u| !u.expose_secret().trim().is_empty())
}

/// Secrets of the provider webhooks given by environment (more can be stored in the database).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct WebhookConfig {
    /// Secret(s) of GitHub webhooks; several, separated by commas, while rotating.
    #[arg(long, env = "GITHUB_WEBHOOK_SECRET", hide_env_values = true)]
    pub github_webhook_secret: Option<SecretString>,
    /// Token(s) GitLab webhooks send in X-Gitlab-Token; several, separated by commas, while rotating.
    #[arg(long, env = "GITLAB_WEBHOOK_TOKEN", hide_env_values = true)]
    pub gitlab_webhook_token: Option<SecretString>,
}

impl WebhookConfig {
    /// The environment's secret(s) of a provider whose webhooks carry one.
    pub fn secret(&self, provider: Provider) -> Option<&SecretString> {
        match provider {
            Provider::Github => self.github_webhook_secret.as_ref(),
            Provider::Gitlab => self.gitlab_webhook_token.as_ref(),
            Provider::Generic | Provider::Jenkins | Provider::Cdevents => None,
        }
    }
}

/// The GitHub Actions API poller (`github-sync`, and in the background of `serve`).
#[derive(Debug, Clone, clap::Args)]
pub struct GithubConfig {
    /// Token for the GitHub REST API (a fine-grained token with read access to Actions).
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true)]
    pub github_token: Option<SecretString>,
    /// Repositories to poll, `owner/name`, separated by commas. Empty: no polling.
    #[arg(long, env = "CICD_GITHUB_REPOS", value_delimiter = ',')]
    pub github_repos: Vec<String>,
    /// Seconds between polls in the background of `serve`; 0 turns the poller off.
    #[arg(long, env = "CICD_GITHUB_POLL_INTERVAL", default_value_t = 300)]
    pub github_poll_interval: u64,
    /// How far back each poll looks, in hours.
    #[arg(long, env = "CICD_GITHUB_LOOKBACK_HOURS", default_value_t = 48)]
    pub github_lookback_hours: u32,
    /// Base URL of the GitHub REST API (GitHub Enterprise Server: https://HOST/api/v3).
    #[arg(long, env = "GITHUB_API_URL", default_value = "https://api.github.com")]
    pub github_api_url: String,
}

impl Default for GithubConfig {
    fn default() -> Self {
        GithubConfig {
            github_token: None,
            github_repos: Vec::new(),
            github_poll_interval: 300,
            github_lookback_hours: 48,
            github_api_url: "https://api.github.com".into(),
        }
    }
}

/// Rate limits, trusted proxies and CORS.
#[derive(Debug, Clone, clap::Args)]
pub struct SecurityConfig {
    /// Requests per second each token, and each client address, may make to the ingest routes
    /// (`/api/events`, `/api/events/batch`, `/api/webhooks/*`); 0 turns the limit off.
    #[arg(long, env = "CICD_RATE_LIMIT_INGEST", default_value_t = 10_000)]
    pub rate_limit_ingest: u32,
    /// Requests above that rate a token or address may send at once before being slowed down.
    #[arg(long, env = "CICD_RATE_LIMIT_INGEST_BURST", default_value_t = 20_000)]
    pub rate_limit_ingest_burst: u32,
    /// Failed authentications (401s) per minute a client address may cause before its requests to
    /// `/api` are refused with 429 until the budget refills; 0 turns the limit off.
    #[arg(long, env = "CICD_RATE_LIMIT_AUTH_FAILURES", default_value_t = 30)]
    pub rate_limit_auth_failures: u32,
    /// Proxies (CIDR list, e.g. `10.0.0.0/8,127.0.0.1/32`) whose `X-Forwarded-For` is believed;
    /// otherwise the client address is the socket peer.
    #[arg(long, env = "CICD_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Origins (comma list, e.g. `https://dash.example.com`) whose pages may call the API from the
    /// browser (CORS). Empty: no cross-origin access.
    #[arg(long, env = "CICD_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Non-public addresses and hosts that URLs supplied by users and namespaces (Slack and
    /// webhook integrations) may reach anyway: CIDRs, addresses and host names (`*.` for
    /// subdomains), comma-separated, e.g. `10.20.0.0/16,hooks.internal.example`.
    #[arg(long, env = "CICD_OUTBOUND_ALLOW", value_delimiter = ',')]
    pub outbound_allow: Vec<crate::outbound::Allowed>,
    /// When set, the only host names such URLs may name (comma list, `*.` for subdomains), e.g.
    /// `hooks.slack.com`.
    #[arg(long, env = "CICD_OUTBOUND_HOSTS", value_delimiter = ',')]
    pub outbound_hosts: Vec<String>,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            rate_limit_ingest: 10_000,
            rate_limit_ingest_burst: 20_000,
            rate_limit_auth_failures: 30,
            trusted_proxies: Vec::new(),
            cors_origins: Vec::new(),
            outbound_allow: Vec::new(),
            outbound_hosts: Vec::new(),
        }
    }
}

impl SecurityConfig {
    /// Every rate limit off (tests that send many requests from one place).
    pub fn unlimited() -> Self {
        SecurityConfig {
            rate_limit_ingest: 0,
            rate_limit_auth_failures: 0,
            ..SecurityConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_database_urls_count_as_unset() {
        // `env.production` leaves them empty, and docker compose passes them on as such.
        let db = DbConfig {
            database_url: "postgres://primary".into(),
            db_max_connections: 4,
            database_direct_url: Some("".into()),
            database_read_url: Some(" ".into()),
            read_max_wait_ms: 200,
        };
        assert_eq!(db.direct_url().expose_secret(), "postgres://primary");
        assert!(db.direct().is_none() && db.read_url().is_none());
        let db = DbConfig {
            database_direct_url: Some("postgres://direct".into()),
            database_read_url: Some("postgres://replica".into()),
            ..db
        };
        assert_eq!(db.direct_url().expose_secret(), "postgres://direct");
        assert_eq!(
            db.read_url().map(|u| u.expose_secret()),
            Some("postgres://replica")
        );
    }
}
