//! Request latency of API routes, measured over HTTP against a running backend.

use std::time::Instant;

use anyhow::bail;
use chrono::{TimeDelta, Utc};

use crate::server::Server;

/// One scenario's latency.
pub struct Latency {
    pub name: &'static str,
    /// The route and query, as requested (after `/api/`).
    pub query: String,
    pub p50: f64,
    pub p95: f64,
    pub max: f64,
}

/// Times `requests` sequential GETs of each scenario after 10 warm-up requests. A scenario is
/// `(name, route and query after /api/, a JSON pointer into the answer that must not be zero)`;
/// `{d365}`, `{d90}`, `{d30}` and `{d1}` in a query stand for as many days before now.
pub async fn measure(
    server: &Server,
    scenarios: &[(&'static str, String, &'static str)],
    requests: usize,
) -> anyhow::Result<Vec<Latency>> {
    let client = reqwest::Client::new();
    let mut out = Vec::new();
    for (name, q, nonzero) in scenarios {
        let now = Utc::now();
        let ago = |days: i64| {
            (now - TimeDelta::days(days))
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string()
        };
        let q = [365, 90, 30, 1]
            .into_iter()
            .fold(q.clone(), |q, d| q.replace(&format!("{{d{d}}}"), &ago(d)));
        let url = format!("{}/api/{q}", server.base);
        let mut times = Vec::with_capacity(requests);
        for i in 0..requests + 10 {
            let t = Instant::now();
            let res = client.get(&url).send().await?.error_for_status()?;
            let body: serde_json::Value = res.json().await?;
            if i >= 10 {
                times.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            if i == 0
                && body
                    .pointer(nonzero)
                    .and_then(serde_json::Value::as_f64)
                    .unwrap_or(0.0)
                    == 0.0
            {
                bail!("{name}: nothing counted at {nonzero}");
            }
        }
        times.sort_by(f64::total_cmp);
        let pick = |q: f64| times[((times.len() as f64 * q).ceil() as usize).saturating_sub(1)];
        out.push(Latency {
            name,
            query: q,
            p50: pick(0.5),
            p95: pick(0.95),
            max: pick(1.0),
        });
    }
    Ok(out)
}
