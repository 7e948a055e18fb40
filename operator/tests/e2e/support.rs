//! What the end-to-end scenario stands on: kubectl against the cluster, child processes that are
//! killed when dropped (so a failing test leaves nothing running), the real backend, and polling.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub fn root() -> PathBuf {
    cicd_monitor_crds::crdgen::workspace_root()
}

/// A free port on the loopback interface.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// kubectl with a given kubeconfig (the admin's unless said otherwise).
#[derive(Clone)]
pub struct Kubectl {
    bin: String,
    kubeconfig: PathBuf,
}

impl Kubectl {
    /// The admin's kubectl. Panics (the test is run on purpose, with `--include-ignored`) without
    /// `KUBECONFIG`, or when it names a server that is not on the loopback interface.
    pub fn admin() -> Kubectl {
        let kubeconfig = std::env::var_os("KUBECONFIG").expect(
            "KUBECONFIG is not set: run this test under scripts/with-control-plane.sh (make test-e2e)",
        );
        let k = Kubectl {
            bin: std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into()),
            kubeconfig: kubeconfig.into(),
        };
        let server = k.ok(&[
            "config",
            "view",
            "--minify",
            "-o",
            "jsonpath={.clusters[0].cluster.server}",
        ]);
        let local = ["https://127.0.0.1:", "https://localhost:", "https://[::1]:"]
            .iter()
            .any(|p| server.starts_with(p));
        assert!(
            local || std::env::var("CICD_E2E_ANY_CLUSTER").as_deref() == Ok("1"),
            "KUBECONFIG names {server}, not a loopback server; set CICD_E2E_ANY_CLUSTER=1 to test against it"
        );
        k
    }

    /// The same kubectl with another kubeconfig.
    pub fn with_kubeconfig(&self, kubeconfig: &Path) -> Kubectl {
        Kubectl {
            bin: self.bin.clone(),
            kubeconfig: kubeconfig.to_owned(),
        }
    }

    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .current_dir(root())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.bin));
        if let Some(input) = stdin {
            use std::io::Write;
            let mut pipe = child.stdin.take().expect("stdin");
            pipe.write_all(input.as_bytes()).expect("write to kubectl");
        }
        child.wait_with_output().expect("kubectl output")
    }

    /// Runs kubectl, expecting success; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `kubectl apply -f -` of a YAML text, expecting success.
    pub fn apply(&self, yaml: &str) {
        let out = self.run(&["apply", "-f", "-"], Some(yaml));
        assert!(
            out.status.success(),
            "kubectl apply failed:\n{}\n{yaml}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `kubectl get KIND NAME -n NS -o json`; `None` when it does not exist.
    pub fn get(&self, kind: &str, ns: &str, name: &str) -> Option<Value> {
        let out = self.run(&["get", kind, name, "-n", ns, "-o", "json"], None);
        if out.status.success() {
            return Some(serde_json::from_slice(&out.stdout).expect("kubectl printed JSON"));
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("NotFound"), "kubectl get {kind} {name}: {stderr}");
        None
    }
}

/// The `Ready` condition of a resource as `(status, reason, message)`, if written for its current
/// generation.
pub fn ready(obj: &Value) -> Option<(String, String, String)> {
    let generation = &obj["metadata"]["generation"];
    let c = obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")?;
    if &c["observedGeneration"] != generation || &obj["status"]["observedGeneration"] != generation {
        return None;
    }
    let s = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
    Some((s("status"), s("reason"), s("message")))
}

/// Polls `check` every 200 ms until it gives `Ok`, or panics after `timeout` with its last `Err`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        match check().await {
            Ok(v) => {
                eprintln!("  ok after {:.1} s: {what}", start.elapsed().as_secs_f64());
                return v;
            }
            Err(last) if start.elapsed() > timeout => {
                panic!("not within {timeout:?}: {what}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// A child process killed (SIGKILL) when dropped; its output goes to a log file that is printed
/// when the test fails.
pub struct Process {
    pub name: &'static str,
    child: Option<Child>,
    log: PathBuf,
}

impl Process {
    pub fn spawn(name: &'static str, mut cmd: Command, log: PathBuf) -> Process {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        cmd.stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Process {
            name,
            child: Some(child),
            log,
        }
    }

    /// Kills it now (SIGKILL: a crash, not a shutdown).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().ok();
            c.wait().ok();
        }
    }

    /// Sends SIGTERM and waits for the exit; its exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .ok();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(status)) = c.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        c.kill().ok();
        c.wait().ok();
        None
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!("--- last lines of {} ({}):", self.name, self.log.display());
            for line in tail.into_iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// The real backend (`cicd-monitor serve`) on a fresh database of the PostgreSQL at `DATABASE_URL`.
pub struct Backend {
    pub url: String,
    pub admin: String,
    http: reqwest::Client,
    _process: Process,
}

/// The backend binary: `CICD_BIN`, else one built in this target directory.
fn backend_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("CICD_BIN") {
        return bin.into();
    }
    let target = Path::new(env!("CARGO_BIN_EXE_cicd-monitor-operator"))
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_owned();
    ["release", "debug"]
        .iter()
        .map(|p| target.join(p).join("cicd-monitor"))
        .find(|p| p.exists())
        .expect("set CICD_BIN to the backend binary, or build it: cargo build -p cicd-monitor")
}

impl Backend {
    pub async fn start(dir: &Path) -> Backend {
        let base = std::env::var("DATABASE_URL")
            .expect("DATABASE_URL (make test-e2e runs this under scripts/with-postgres.sh)");
        // A database of its own, so that a shared server's other data cannot interfere.
        let db = format!("cicd_e2e_{}", std::process::id());
        let pool = sqlx::PgPool::connect(&base)
            .await
            .expect("connect to DATABASE_URL");
        sqlx::query(&format!("drop database if exists {db} with (force)"))
            .execute(&pool)
            .await
            .expect("drop database");
        sqlx::query(&format!("create database {db}"))
            .execute(&pool)
            .await
            .expect("create database");
        pool.close().await;
        let (server, _) = base.rsplit_once('/').expect("DATABASE_URL ends with /DATABASE");
        let port = free_port();
        let admin = format!("e2e-admin-{}", uuid::Uuid::new_v4());
        let mut cmd = Command::new(backend_bin());
        cmd.arg("serve")
            .env("DATABASE_URL", format!("{server}/{db}"))
            .env("CICD_LISTEN", format!("127.0.0.1:{port}"))
            .env("CICD_ADMIN_TOKEN", &admin)
            .env("CICD_SECRET_KEY", "e2e-secret-key-0123456789abcdef0123456789")
            // The Integrations name Slack: allowed without resolving the name.
            .env("CICD_OUTBOUND_ALLOW", "hooks.slack.com")
            .env("CICD_PUBLIC_READ", "false")
            .env("CICD_STATIC_DIR", dir.join("no-dashboard"))
            .env("CICD_GITHUB_POLL_INTERVAL", "0")
            .env("RUST_LOG", "info,sqlx=warn");
        let process = Process::spawn("backend", cmd, dir.join("backend.log"));
        let backend = Backend {
            url: format!("http://127.0.0.1:{port}"),
            admin,
            http: reqwest::Client::new(),
            _process: process,
        };
        eventually("the backend answers /health", Duration::from_secs(60), || async {
            match backend.http.get(format!("{}/health", backend.url)).send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(r.status().to_string()),
                Err(e) => Err(e.to_string()),
            }
        })
        .await;
        backend
    }

    /// A new token with the `operator` scope, created with the admin token (`POST /api/tokens`).
    pub async fn operator_token(&self) -> String {
        let res = self
            .http
            .post(format!("{}/api/tokens", self.url))
            .bearer_auth(&self.admin)
            .json(&json!({"name": "e2e-operator", "scope": "operator"}))
            .send()
            .await
            .expect("POST /api/tokens");
        assert_eq!(res.status(), 201, "POST /api/tokens");
        let body: Value = res.json().await.expect("json");
        body["token"].as_str().expect("token").to_owned()
    }

    /// `GET /api/{what}` (admin): the item named `name`, if any.
    pub async fn find(&self, what: &str, name: &str) -> Result<Option<Value>, String> {
        let res = self
            .http
            .get(format!("{}/api/{what}", self.url))
            .bearer_auth(&self.admin)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("GET /api/{what}: {}", res.status()));
        }
        let body: Value = res.json().await.map_err(|e| e.to_string())?;
        let items = body
            .as_array()
            .or_else(|| body["items"].as_array())
            .ok_or_else(|| format!("GET /api/{what}: not a list: {body}"))?;
        Ok(items.iter().find(|i| i["name"] == name).cloned())
    }
}
