//! Prometheus metrics of the controllers, served on `/metrics`.

use std::time::Instant;

use prometheus::{Encoder, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry, TextEncoder};

/// Reconcile counters and durations, labelled by `kind` (`AlertRule`, `Integration`).
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub reconciliations: IntCounterVec,
    pub errors: IntCounterVec,
    pub duration: HistogramVec,
}

impl Default for Metrics {
    fn default() -> Self {
        let registry = Registry::new();
        let reconciliations = IntCounterVec::new(
            Opts::new("reconciliations_total", "Reconciliations started"),
            &["kind"],
        )
        .expect("valid metric");
        let errors = IntCounterVec::new(
            Opts::new(
                "reconcile_errors_total",
                "Reconciliations that did not leave the resource Ready, by reason",
            ),
            &["kind", "reason"],
        )
        .expect("valid metric");
        let duration = HistogramVec::new(
            HistogramOpts::new("reconcile_duration_seconds", "Time one reconciliation took")
                .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
            &["kind"],
        )
        .expect("valid metric");
        for c in [
            Box::new(reconciliations.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(errors.clone()),
            Box::new(duration.clone()),
        ] {
            registry.register(c).expect("registered once");
        }
        Metrics {
            registry,
            reconciliations,
            errors,
            duration,
        }
    }
}

impl Metrics {
    /// Counts a reconciliation and measures it until the guard drops.
    pub fn start(&self, kind: &str) -> ReconcileTimer {
        self.reconciliations.with_label_values(&[kind]).inc();
        ReconcileTimer {
            histogram: self.duration.with_label_values(&[kind]),
            start: Instant::now(),
        }
    }

    /// Counts a reconciliation that ended with a problem.
    pub fn failure(&self, kind: &str, reason: &str) {
        self.errors.with_label_values(&[kind, reason]).inc();
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding never fails");
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// Observes the duration of a reconciliation when dropped.
pub struct ReconcileTimer {
    histogram: prometheus::Histogram,
    start: Instant,
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        self.histogram.observe(self.start.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciliations_errors_and_durations_are_exposed() {
        let m = Metrics::default();
        drop(m.start("AlertRule"));
        m.failure("AlertRule", "InvalidSpec");
        let text = m.render();
        assert!(
            text.contains("reconciliations_total{kind=\"AlertRule\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("reconcile_errors_total{kind=\"AlertRule\",reason=\"InvalidSpec\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("reconcile_duration_seconds_count{kind=\"AlertRule\"} 1"),
            "{text}"
        );
    }
}
