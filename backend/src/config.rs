//! Typed configuration, read once at start from flags or environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::SecretString;

use crate::telemetry::LogFormat;

/// Settings of the `serve` command (the same names serve make, docker-compose and the chart).
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    #[command(flatten)]
    pub db: DbConfig,
    /// Address to listen on.
    #[arg(long, env = "CICD_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Name shown in the UI's environment badge (dev, staging, prod…).
    #[arg(long, env = "CICD_ENVIRONMENT", default_value = "dev")]
    pub environment: String,
    /// Bootstrap admin token (any string; compared by hash). Create further tokens with it.
    #[arg(long, env = "CICD_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<SecretString>,
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
    /// Log format.
    #[arg(long, env = "CICD_LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, clap::Args)]
pub struct DbConfig {
    /// PostgreSQL connection URL.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: SecretString,
    /// Most database connections this process opens.
    #[arg(long, env = "CICD_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,
}
