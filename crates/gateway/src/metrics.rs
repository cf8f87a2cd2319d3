//! Prometheus metrics: gateway overhead (total time minus time waiting on the upstream) and
//! total latency as histograms, and requests by action. No ids, users or content.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use crate::decision::Decision;

/// Bucket upper bounds in seconds.
const BUCKETS: [f64; 14] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
    10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bound, count) in BUCKETS.iter().zip(self.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        for (bound, count) in BUCKETS.iter().zip(self.counts) {
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum {}\n{name}_count {}", self.sum, self.count);
    }
}

#[derive(Default)]
struct Inner {
    overhead: Histogram,
    total: Histogram,
    actions: BTreeMap<String, u64>,
}

/// The gateway's metrics.
#[derive(Default)]
pub struct Metrics(Mutex<Inner>);

impl Metrics {
    /// Count one finished request.
    pub fn observe(&self, decision: &Decision) {
        if let Ok(mut inner) = self.0.lock() {
            inner.overhead.observe(decision.overhead_us() as f64 / 1e6);
            inner.total.observe(decision.total_us as f64 / 1e6);
            *inner.actions.entry(decision.action.clone()).or_default() += 1;
        }
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Ok(inner) = self.0.lock() {
            inner.overhead.render(
                &mut out,
                "warden_gateway_overhead_seconds",
                "Time spent in the gateway per request: total minus time waiting on the upstream.",
            );
            inner.total.render(
                &mut out,
                "warden_gateway_request_seconds",
                "Total time per request.",
            );
            let _ = writeln!(
                out,
                "# HELP warden_gateway_requests_total Requests by what the gateway did.\n# TYPE warden_gateway_requests_total counter"
            );
            for (action, count) in &inner.actions {
                let _ = writeln!(
                    out,
                    "warden_gateway_requests_total{{action=\"{action}\"}} {count}"
                );
            }
        }
        out
    }
}
