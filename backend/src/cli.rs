//! The `cicd-monitor` command line.

use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;

use crate::auth::Scope;
use crate::config::{Config, DbConfig};
use crate::telemetry::{self, LogFormat};
use crate::{auth, db, demo};

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
