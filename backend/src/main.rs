use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cicd_monitor::cli::run(cicd_monitor::cli::Cli::parse()).await
}
