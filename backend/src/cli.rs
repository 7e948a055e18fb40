//! The `cicd-monitor` command line.

use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;

use crate::auth::Scope;
use crate::config::{Config, DbConfig, GithubConfig};
use crate::telemetry::Metrics;
use crate::telemetry::{self, LogFormat};
use crate::writer::Writer;
use crate::{auth, db, demo, github_sync};
use std::sync::Arc;

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
            let pool = db::connect(db_config.database_url.expose_secret(), 2).await?;
            db::migrate_when_ready(&pool).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Demo(args) => {
            telemetry::init_tracing(LogFormat::Pretty);
            let pool = db::connect(args.db.database_url.expose_secret(), 4).await?;
            db::migrate_when_ready(&pool).await?;
            let n = demo::load(&pool, &demo::Spec::demo(args.days), args.seed, chrono::Utc::now()).await?;
            println!("wrote {n} demo run events");
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
            let writer = Writer::start(pool.clone(), Arc::new(Metrics::new()), 1, 500, None);
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
    }
}
