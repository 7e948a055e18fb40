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

/// Areas of the code per process. A sample goes to the area of the frame nearest the leaf that
/// matches one of the patterns (at one frame, the first area listed wins).
const BACKEND_AREAS: [(&str, &[&str]); 9] = [
    (
        "memory allocation",
        &["malloc", "cfree", "_int_free", "realloc", "calloc"],
    ),
    (
        "kernel: system calls (sockets, futexes, epoll)",
        &["entry_SYSCALL", "tcp_", "sock_", "do_syscall"],
    ),
    (
        "JSON (serde)",
        &["serde_json", "serde_path_to_error", "serde_core"],
    ),
    ("sqlx (protocol, pool)", &["sqlx_"]),
    ("alert evaluation", &["cicd_monitor::alerting"]),
    (
        "writer, folder and SQL parameters",
        &["cicd_monitor::writer", "cicd_monitor::db::", "cicd_monitor::fold"],
    ),
    ("ingest (parsing, validation, auth, limits)", &["cicd_monitor::"]),
    ("HTTP (hyper)", &["hyper::"]),
    (
        "routing, middleware and runtime (axum, tower, tokio)",
        &["axum::", "tower", "tokio::"],
    ),
];
const POSTGRES_AREAS: [(&str, &[&str]); 9] = [
    ("WAL flush and fsync", &["XLogFlush", "issue_xlog_fsync"]),
    ("WAL insert", &["XLogInsert"]),
    ("index inserts", &["btinsert"]),
    (
        "conflict checks and index lookups",
        &["ExecCheckIndexConstraints", "index_getnext"],
    ),
    (
        "heap writes",
        &["heap_insert", "heap_update", "heap_multi_insert", "heap_delete"],
    ),
    ("executor start (plan set-up)", &["standard_ExecutorStart"]),
    (
        "parameters (arrays, JSON)",
        &["array_recv", "ReceiveFunctionCall", "jsonb_"],
    ),
    (
        "client protocol and waiting (sockets, latches)",
        &["pq_getbyte", "secure_read", "secure_write", "WaitEventSetWait"],
    ),
    ("executor (expressions, scans, CTEs)", &["Exec"]),
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
        let area = stack
            .rsplit(';')
            .find_map(|frame| {
                areas
                    .iter()
                    .find(|(_, patterns)| patterns.iter().any(|p| frame.contains(p)))
            })
            .map_or(if areas.is_empty() { "" } else { "other" }, |(name, _)| *name);
        *by_area.entry((process, area)).or_insert(0u64) += count;
    }
    let share = |n: u64| 100.0 * n as f64 / total.max(1) as f64;
    let mut processes: BTreeMap<&str, u64> = BTreeMap::new();
    for ((p, _), n) in &by_area {
        *processes.entry(p).or_default() += n;
    }
    let mut md = String::from(
        "| process | area (the matching frame nearest the leaf) | share of samples |\n|---|---|---:|\n",
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_go_to_their_process_and_the_area_nearest_the_leaf() {
        let me = std::process::id();
        let folded = format!(
            "tokio-rt-worker-42;axum::serve;serde_json::de::from_slice 3\n\
             tokio-rt-worker-42;axum::serve;hyper::proto::h1::write;tcp_sendmsg 1\n\
             postgres-7;PostgresMain;ExecInsert;btinsert;_bt_compare 4\n\
             tokio-rt-worker-{me};reqwest::send 1\n\
             swapper-0;do_idle 1\n"
        );
        let md = summary(&folded, 42);
        assert!(md.contains("| **PostgreSQL** | | **40.0%** |"), "{md}");
        assert!(md.contains("| | index inserts | 40.0% |"), "{md}");
        assert!(md.contains("| **backend** | | **40.0%** |"), "{md}");
        assert!(md.contains("| | JSON (serde) | 30.0% |"), "{md}");
        assert!(
            md.contains("| | kernel: system calls (sockets, futexes, epoll) | 10.0% |"),
            "{md}"
        );
        assert!(md.contains("| **load generator** | | **10.0%** |"), "{md}");
        assert!(md.contains("| **idle** | | **10.0%** |"), "{md}");
    }
}
