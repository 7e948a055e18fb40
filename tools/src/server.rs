//! The release backend as a child process, for `cicd-bench` and `cicd-faults`: started on a free
//! port next to the calling binary, signalled, restarted on the same port, its memory read from /proc.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use sqlx::{Connection, PgConnection};

pub const ADMIN: &str = "bench-admin-token";

pub struct Server {
    child: Child,
    pub base: String,
    port: u16,
    database_url: String,
    env: Vec<(String, String)>,
}

impl Server {
    /// Starts `cicd-monitor serve` with `env` added to its environment.
    pub async fn start_with(database_url: &str, env: &[(&str, &str)]) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let child = spawn(database_url, port, &env)?;
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
            port,
            database_url: database_url.to_owned(),
            env,
        };
        server.wait_ready(Duration::from_secs(20)).await?;
        Ok(server)
    }

    pub async fn wait_ready(&self, limit: Duration) -> anyhow::Result<()> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if client
                .get(format!("{}/ready", self.base))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("the server did not become ready within {limit:?}")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`KILL`, `TERM`) to the server.
    pub fn signal(&self, name: &str) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()?;
        anyhow::ensure!(status.success(), "kill -{name} failed");
        Ok(())
    }

    /// Waits for the process to exit; returns its exit code (None when killed by a signal).
    pub async fn wait_exit(&mut self, limit: Duration) -> anyhow::Result<Option<i32>> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status.code());
            }
            if Instant::now() > deadline {
                bail!("the server did not exit within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts the server again on the same port, after it exited.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.child = spawn(&self.database_url, self.port, &self.env)?;
        self.wait_ready(Duration::from_secs(30)).await
    }

    /// Resident memory now (VmRSS) or at its peak (VmHWM), in MiB.
    pub fn rss_mib(&self, peak: bool) -> f64 {
        let field = if peak { "VmHWM:" } else { "VmRSS:" };
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }

    /// A new token of `scope`, created with the bootstrap admin token.
    pub async fn token(&self, scope: &str) -> anyhow::Result<String> {
        let body: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/api/tokens", self.base))
            .bearer_auth(ADMIN)
            .json(&serde_json::json!({"name": format!("bench-{scope}"), "scope": scope}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(body["token"].as_str().context("no token")?.to_owned())
    }
}

fn spawn(database_url: &str, port: u16, env: &[(String, String)]) -> anyhow::Result<Child> {
    let exe = std::env::current_exe()?.with_file_name("cicd-monitor");
    Command::new(&exe)
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("CICD_LISTEN", format!("127.0.0.1:{port}"))
        .env("CICD_ADMIN_TOKEN", ADMIN)
        // The fake receivers listen on loopback.
        .env("CICD_OUTBOUND_ALLOW", "127.0.0.0/8,::1")
        .env(
            "RUST_LOG",
            std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A new, empty database `name` next to the one `admin_url` names; returns its URL.
pub async fn fresh_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    let mut conn = PgConnection::connect(admin_url).await?;
    sqlx::query(&format!("drop database if exists {name} with (force)"))
        .execute(&mut conn)
        .await?;
    sqlx::query(&format!("create database {name}"))
        .execute(&mut conn)
        .await?;
    let (base, _) = admin_url
        .rsplit_once('/')
        .context("DATABASE_URL has no database name")?;
    Ok(format!("{base}/{name}"))
}
