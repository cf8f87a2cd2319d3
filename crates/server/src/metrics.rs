//! Prometheus text exposition for request counts and latencies, kept in process. Written by hand:
//! the server needs two metric families, not a metrics framework with a global recorder.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

#[derive(Default)]
struct Series {
    count: u64,
    seconds: f64,
}

/// Route template, method and status code.
type SeriesKey = (String, String, u16);

/// Request counters keyed by (route, method, status).
#[derive(Clone, Default)]
pub struct Metrics {
    series: Arc<Mutex<BTreeMap<SeriesKey, Series>>>,
}

impl Metrics {
    fn record(&self, route: String, method: String, status: u16, elapsed: Duration) {
        if let Ok(mut series) = self.series.lock() {
            let entry = series.entry((route, method, status)).or_default();
            entry.count += 1;
            entry.seconds += elapsed.as_secs_f64();
        }
    }

    /// The exposition text, with the ledger size gauge appended by the caller.
    pub fn render(&self, ledger_entries: Option<u64>) -> String {
        let mut out = String::new();
        out.push_str("# HELP warden_build_info Warden version.\n# TYPE warden_build_info gauge\n");
        let _ = writeln!(
            out,
            "warden_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );
        out.push_str(
            "# HELP warden_http_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE warden_http_requests_total counter\n");
        let snapshot: Vec<(String, String, u16, u64, f64)> = self
            .series
            .lock()
            .map(|series| {
                series
                    .iter()
                    .map(|((r, m, s), v)| (r.clone(), m.clone(), *s, v.count, v.seconds))
                    .collect()
            })
            .unwrap_or_default();
        for (route, method, status, count, _) in &snapshot {
            let _ = writeln!(
                out,
                "warden_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {count}"
            );
        }
        out.push_str(
            "# HELP warden_http_request_duration_seconds Time spent answering requests.\n",
        );
        out.push_str("# TYPE warden_http_request_duration_seconds summary\n");
        for (route, method, status, count, seconds) in &snapshot {
            let labels = format!("route=\"{route}\",method=\"{method}\",status=\"{status}\"");
            let _ = writeln!(
                out,
                "warden_http_request_duration_seconds_sum{{{labels}}} {seconds}"
            );
            let _ = writeln!(
                out,
                "warden_http_request_duration_seconds_count{{{labels}}} {count}"
            );
        }
        if let Some(entries) = ledger_entries {
            out.push_str("# HELP warden_ledger_entries Entries in the transparency ledger.\n");
            out.push_str("# TYPE warden_ledger_entries gauge\n");
            let _ = writeln!(out, "warden_ledger_entries {entries}");
        }
        out
    }
}

/// The method as a label: one of the standard methods, else `other`, so a client cannot create
/// series by inventing methods.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Middleware recording every request under its route template (never the raw path, which
/// would let clients create unbounded series; a path no route matches is `unmatched`) and its
/// method (`other` for a non-standard one).
pub async fn track(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let method = method_label(request.method()).to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics.record(route, method, response.status().as_u16(), started.elapsed());
    response
}
