//! A CPU profile of the whole machine (the backend, PostgreSQL and the load generator) while a load
//! runs, with Linux `perf`: kept as folded stacks, a flame graph (SVG) and a table of where the
//! samples fell. Skipped, with a note, where `perf` is missing or not permitted.

use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use inferno::collapse::Collapse;
use tokio::process::{Child, Command};

/// A `perf record` running for a load.
pub struct Profile {
    child: Option<Child>,
    dir: PathBuf,
    name: String,
    backend: u32,
}

/// Samples per second and CPU.
const FREQUENCY: &str = "199";

impl Profile {
    /// Records every CPU for `seconds` into `dir/<name>.perf.data`; `backend` is the pid of the
    /// server under test. Records nothing when `perf` cannot start.
    pub fn start(dir: &Path, name: &str, seconds: u64, backend: u32) -> Self {
        let _ = std::fs::create_dir_all(dir);
        let data = dir.join(format!("{name}.perf.data"));
        let child = Command::new("perf")
            .args([
                "record",
                "-a",
                "-F",
                FREQUENCY,
                "--call-graph",
                "dwarf,16384",
                "-o",
            ])
            .arg(&data)
            .args(["--", "sleep", &seconds.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| eprintln!("  no profile: perf did not start ({e})"))
            .ok();
        Profile {
            child,
            dir: dir.to_owned(),
            name: name.to_owned(),
            backend,
        }
    }

    /// Waits for the recording, then writes `<name>.folded`, `<name>.svg` and returns a Markdown
    /// table of the share of samples per process and per area of the code (`None` without a
    /// profile).
    pub async fn finish(self) -> Option<String> {
        let status = self.child?.wait().await.ok()?;
        let data = self.dir.join(format!("{}.perf.data", self.name));
        if !status.success() || !data.exists() {
            eprintln!("  no profile: perf record failed (perf_event_paranoid, or no permission)");
            return None;
        }
        let script = Command::new("perf")
            .args(["script", "--no-inline", "-F", "+pid", "-i"])
            .arg(&data)
            .stderr(Stdio::null())
            .output()
            .await
            .ok()?;
        let _ = std::fs::remove_file(&data);
        let mut folded = Vec::new();
        let mut options = inferno::collapse::perf::Options::default();
        options.include_pid = true;
        inferno::collapse::perf::Folder::from(options)
            .collapse(BufReader::new(&script.stdout[..]), &mut folded)
            .ok()?;
        let folded = String::from_utf8_lossy(&folded).into_owned();
        std::fs::write(self.dir.join(format!("{}.folded", self.name)), &folded).ok()?;
        let mut options = inferno::flamegraph::Options::default();
        options.title = format!("{}: CPU of the whole machine", self.name);
        let svg = std::fs::File::create(self.dir.join(format!("{}.svg", self.name))).ok()?;
        inferno::flamegraph::from_lines(&mut options, folded.lines(), svg).ok()?;
        Some(summary(&folded, self.backend))
    }
}

/// Areas of the code per process, in the order a stack is tested against them: the first with a
/// pattern that appears in a frame of the stack takes the sample.
const BACKEND_AREAS: [(&str, &[&str]); 7] = [
    ("alert evaluation", &["cicd_monitor::alerting"]),
    (
        "JSON (serde)",
        &["serde_json", "serde_path_to_error", "serde_core"],
    ),
    (
        "writer and SQL parameters",
        &["cicd_monitor::writer", "cicd_monitor::db::"],
    ),
    ("sqlx (protocol, pool)", &["sqlx_"]),
    ("HTTP routing and middleware (axum, tower)", &["axum::", "tower"]),
    (
        "HTTP protocol and sockets (hyper, kernel)",
        &["hyper", "tcp_", "sock_"],
    ),
    ("memory allocation", &["malloc", "cfree", "_int_free", "realloc"]),
];
const POSTGRES_AREAS: [(&str, &[&str]); 7] = [
    (
        "commit (WAL flush, fsync)",
        &["RecordTransactionCommit", "XLogFlush"],
    ),
    ("index inserts", &["btinsert"]),
    (
        "conflict checks and index lookups",
        &["ExecCheckIndexConstraints", "index_getnext"],
    ),
    (
        "heap writes",
        &["heap_insert", "heap_update", "heap_multi_insert"],
    ),
    ("executor start (plan set-up)", &["standard_ExecutorStart"]),
    ("aggregation", &["ExecAgg"]),
    (
        "client protocol",
        &["pq_getbyte", "secure_read", "secure_write", "exec_bind_message"],
    ),
];

/// Share of samples per process (the root frame is `command-pid`) and per area, as Markdown.
fn summary(folded: &str, backend: u32) -> String {
    let (backend, bench) = (format!("-{backend}"), format!("-{}", std::process::id()));
    let (mut total, mut by_area) = (0u64, BTreeMap::new());
    for line in folded.lines() {
        let Some((stack, count)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(count) = count.parse::<u64>() else { continue };
        total += count;
        let root = stack.split(';').next().unwrap_or("?");
        let (process, areas): (&str, &[(&str, &[&str])]) = match root {
            r if r.ends_with(&backend) => ("backend", &BACKEND_AREAS),
            r if r.ends_with(&bench) => ("load generator", &[]),
            r if r.starts_with("postgres") => ("PostgreSQL", &POSTGRES_AREAS),
            r if r.starts_with("swapper") => ("idle", &[]),
            _ => ("other processes and kernel threads", &[]),
        };
        let area = areas
            .iter()
            .find(|(_, patterns)| patterns.iter().any(|p| stack.contains(p)))
            .map_or(if areas.is_empty() { "" } else { "other" }, |(name, _)| *name);
        *by_area.entry((process, area)).or_insert(0u64) += count;
    }
    let share = |n: u64| 100.0 * n as f64 / total.max(1) as f64;
    let mut processes: BTreeMap<&str, u64> = BTreeMap::new();
    for ((p, _), n) in &by_area {
        *processes.entry(p).or_default() += n;
    }
    let mut md =
        String::from("| process | area (first match in the stack) | share of samples |\n|---|---|---:|\n");
    let mut rows: Vec<_> = processes.into_iter().collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.1));
    for (p, n) in rows {
        md.push_str(&format!("| **{p}** | | **{:.1}%** |\n", share(n)));
        let mut areas: Vec<_> = by_area
            .iter()
            .filter(|((q, a), _)| *q == p && !a.is_empty())
            .collect();
        areas.sort_by_key(|a| std::cmp::Reverse(*a.1));
        for ((_, a), n) in areas {
            md.push_str(&format!("| | {a} | {:.1}% |\n", share(*n)));
        }
    }
    md
}
