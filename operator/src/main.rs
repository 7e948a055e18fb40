//! `cicd-monitor-operator`: parse the configuration, start logging, run the operator.

use std::process::ExitCode;

use cicd_monitor_operator::{config::Config, run, telemetry};
use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    telemetry::init(config.log_format);
    match run::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "cicd-monitor-operator stopped");
            ExitCode::FAILURE
        }
    }
}
