//! `cicd-monitor-operator`: parse the configuration, start logging, run the operator.

use cicd_monitor_operator::{config::Config, telemetry};
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    telemetry::init(config.log_format);
    anyhow::bail!("the controllers are not wired up yet")
}
