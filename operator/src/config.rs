//! Operator configuration, read once from flags and the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use secrecy::SecretString;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One JSON object per line (production).
    Json,
    /// Human-readable (development).
    Pretty,
}

/// `cicd-monitor-operator` flags; every flag also reads an environment variable.
#[derive(Debug, Clone, Parser)]
#[command(name = "cicd-monitor-operator", version, about)]
pub struct Config {
    /// Base URL of the ci-cd-monitor backend, e.g. `http://cicd-monitor:8080`.
    #[arg(long, env = "CICD_BACKEND_URL")]
    pub backend_url: reqwest::Url,
    /// A backend token with the `operator` scope.
    #[arg(long, env = "CICD_OPERATOR_TOKEN", hide_env_values = true)]
    pub operator_token: Option<SecretString>,
    /// A file holding the token (a mounted Secret); used when `--operator-token` is not set.
    #[arg(long, env = "CICD_OPERATOR_TOKEN_FILE")]
    pub operator_token_file: Option<PathBuf>,
    /// Namespaces to watch, comma-separated; empty watches all namespaces.
    #[arg(long, env = "WATCH_NAMESPACES", value_delimiter = ',', default_value = "")]
    pub watch_namespaces: Vec<String>,
    /// How often every resource is written to the backend again, undoing drift.
    #[arg(long, env = "CICD_OPERATOR_RESYNC", default_value = "10m", value_parser = humantime::parse_duration)]
    pub resync: Duration,
    /// Timeout of one backend request.
    #[arg(long, env = "CICD_BACKEND_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub backend_timeout: Duration,
    /// Address of `/healthz`, `/readyz` and `/metrics`.
    #[arg(long, env = "CICD_OPERATOR_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Elect one active replica through a Lease (set when running more than one replica).
    #[arg(long, env = "LEADER_ELECTION", default_value_t = false)]
    pub leader_election: bool,
    /// Name of the Lease used for leader election.
    #[arg(long, env = "LEASE_NAME", default_value = "cicd-monitor-operator")]
    pub lease_name: String,
    /// Namespace of the Lease (usually the operator's own, from the downward API).
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    pub lease_namespace: String,
    /// This replica's identity in the Lease and in Events (the pod name).
    #[arg(long, env = "POD_NAME")]
    pub pod_name: Option<String>,
    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
}

impl Config {
    /// The namespaces to watch, without blanks; empty means all.
    pub fn namespaces(&self) -> Vec<String> {
        self.watch_namespaces
            .iter()
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .collect()
    }

    /// The operator token, from the flag or the file.
    pub fn token(&self) -> anyhow::Result<SecretString> {
        if let Some(t) = &self.operator_token {
            return Ok(t.clone());
        }
        let Some(path) = &self.operator_token_file else {
            anyhow::bail!(
                "set CICD_OPERATOR_TOKEN or CICD_OPERATOR_TOKEN_FILE (a token with the operator scope)"
            );
        };
        let token = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading the operator token from {}: {e}", path.display()))?;
        let token = token.trim();
        anyhow::ensure!(!token.is_empty(), "{} is empty", path.display());
        Ok(token.to_owned().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn parse(args: &[&str]) -> Config {
        let mut all = vec!["cicd-monitor-operator", "--backend-url", "http://backend:8080"];
        all.extend_from_slice(args);
        Config::try_parse_from(all).expect("valid flags")
    }

    #[test]
    fn defaults_watch_all_namespaces_and_resync_every_ten_minutes() {
        let c = parse(&[]);
        assert!(c.namespaces().is_empty());
        assert_eq!(c.resync, Duration::from_secs(600));
        assert!(!c.leader_election);
        assert_eq!(c.log_format, LogFormat::Json);
    }

    #[test]
    fn watch_namespaces_is_a_comma_list() {
        let c = parse(&["--watch-namespaces", "team-a, team-b,"]);
        assert_eq!(c.namespaces(), vec!["team-a", "team-b"]);
    }

    #[test]
    fn the_token_comes_from_a_file_when_not_given() {
        let dir = std::env::temp_dir().join(format!("op-token-{}", std::process::id()));
        std::fs::write(&dir, "tok-123\n").expect("write");
        let c = parse(&["--operator-token-file", dir.to_str().expect("utf-8")]);
        assert_eq!(c.token().expect("token").expose_secret(), "tok-123");
        std::fs::remove_file(dir).ok();
        assert!(parse(&[]).token().is_err());
    }
}
