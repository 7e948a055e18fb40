//! The `cicd-monitor` command line.

use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;

use crate::auth::Scope;
use crate::config::{Config, DbConfig, GithubConfig};
use crate::telemetry::Metrics;
use crate::telemetry::{self, LogFormat};
use crate::writer::Writer;
use crate::{auth, db, demo, github_sync};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "cicd-monitor",
    version,
    about = "Records CI/CD pipeline runs; serves the dashboard API and alerts"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Migrate the database and serve the API and the dashboard.
    Serve(Box<Config>),
    /// Apply pending database migrations and exit.
    Migrate(DbConfig),
    /// Write a realistic demo history (idempotent for the same seed and day).
    Demo(DemoArgs),
    /// Fetch workflow runs from the GitHub Actions API once (the gaps missed webhooks left) and exit.
    GithubSync(GithubSyncArgs),
    /// Print the OpenAPI document (the dashboard's API types are generated from it).
    Openapi,
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Exit 0 when the local `serve` answers `GET /health` with 200, 1 otherwise: the container
    /// image's HEALTHCHECK (the image has no shell and no curl).
    Healthcheck(HealthcheckArgs),
}

#[derive(Debug, clap::Args)]
pub struct HealthcheckArgs {
    /// The address `serve` listens on; an unspecified address (0.0.0.0, ::) is checked on loopback.
    #[arg(long, env = "CICD_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// The path to ask for.
    #[arg(long, default_value = "/health")]
    pub path: String,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 3)]
    pub timeout: u64,
}

/// The URL `healthcheck` asks: the listen address, with an unspecified IP replaced by loopback.
pub fn health_url(listen: SocketAddr, path: &str) -> String {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}{path}", SocketAddr::new(ip, listen.port()))
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub db: DbConfig,
    /// Days of history.
    #[arg(long, default_value_t = 30)]
    pub days: i64,
    /// Random seed (the same seed gives the same history).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

#[derive(Debug, clap::Args)]
pub struct GithubSyncArgs {
    #[command(flatten)]
    pub db: DbConfig,
    #[command(flatten)]
    pub github: GithubConfig,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (it is shown once).
    Create {
        #[command(flatten)]
        db: DbConfig,
        /// What the token is for.
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        scope: Scope,
    },
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(config) => {
            telemetry::init_tracing(config.log_format);
            crate::serve(*config).await
        }
        Command::Migrate(db_config) => {
            telemetry::init_tracing(LogFormat::Pretty);
            // Migrations hold a session-level lock: on the direct connection when there is one.
            let pool = db::connect(db_config.direct_url().expose_secret(), 2).await?;
            db::migrate_when_ready(&pool).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Demo(args) => {
            telemetry::init_tracing(LogFormat::Pretty);
            let pool = db::connect(args.db.database_url.expose_secret(), 4).await?;
            db::migrate_when_ready(&pool).await?;
            let n = demo::load(&pool, &demo::Spec::demo(args.days), args.seed, chrono::Utc::now()).await?;
            println!(
                "wrote {} demo run events, {} jobs and {} test reports ({} results); {} deployment statuses, \
                 {} pushes ({} commits) and {} incidents",
                n.runs,
                n.jobs,
                n.reports,
                n.test_results,
                n.delivery.deployment_statuses,
                n.delivery.pushes,
                n.delivery.commits,
                n.delivery.incidents
            );
            Ok(())
        }
        Command::GithubSync(args) => {
            telemetry::init_tracing(LogFormat::Pretty);
            let token = args
                .github
                .github_token
                .clone()
                .ok_or_else(|| anyhow::anyhow!("set GITHUB_TOKEN (or --github-token)"))?;
            anyhow::ensure!(
                !args.github.github_repos.is_empty(),
                "name the repositories: CICD_GITHUB_REPOS=owner/name,… (or --github-repos)"
            );
            let pool = db::connect(args.db.database_url.expose_secret(), 4).await?;
            db::migrate_when_ready(&pool).await?;
            let writer = Writer::start(pool.clone(), Arc::new(Metrics::new()), 1, 500, None, None);
            let poller = github_sync::Poller::new(&args.github, token, pool, writer)?;
            let Some(reports) = poller.sync(&args.github.github_repos).await? else {
                anyhow::bail!("another process is syncing GitHub runs right now; try again shortly");
            };
            println!("{}", serde_json::to_string_pretty(&reports)?);
            let failed = reports.iter().filter(|r| r.outcome == "failed").count();
            anyhow::ensure!(failed == 0, "{failed} of {} repositories failed", reports.len());
            Ok(())
        }
        Command::Openapi => {
            println!("{}", crate::http::openapi::document().to_pretty_json()?);
            Ok(())
        }
        Command::Token(TokenCommand::Create {
            db: db_config,
            name,
            scope,
        }) => {
            let pool = db::connect(db_config.database_url.expose_secret(), 2).await?;
            db::migrate_when_ready(&pool).await?;
            let (secret, info) = auth::create(&pool, &name, scope).await?;
            eprintln!(
                "created token {} ({}, scope {}); it is shown once:",
                info.id, info.name, info.scope
            );
            println!("{secret}");
            Ok(())
        }
        Command::Healthcheck(args) => {
            let url = health_url(args.listen, &args.path);
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(args.timeout))
                .build()?;
            let status = client.get(&url).send().await?.status();
            anyhow::ensure!(status.is_success(), "{url} answered {status}");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthcheck_asks_loopback_when_serve_listens_on_every_address() {
        let url = |listen: &str| health_url(listen.parse().expect("address"), "/health");
        assert_eq!(url("0.0.0.0:8000"), "http://127.0.0.1:8000/health");
        assert_eq!(url("[::]:8080"), "http://[::1]:8080/health");
        assert_eq!(url("10.1.2.3:9000"), "http://10.1.2.3:9000/health");
    }
}
