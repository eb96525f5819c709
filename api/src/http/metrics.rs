//! Request metrics in Prometheus text. Labels stay few: operation names are kept only when they
//! look like names and only for the first 100 seen; the rest count as `other`.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};
use std::collections::HashSet;
use std::sync::Mutex;

/// Most distinct operation names given their own label.
const MAX_OPERATIONS: usize = 100;

/// The request metrics of one server.
pub struct RequestMetrics {
    registry: Registry,
    requests: IntCounterVec,
    errors: IntCounterVec,
    rejections: IntCounterVec,
    duration: HistogramVec,
    seen: Mutex<HashSet<String>>,
    /// Subscription WebSockets open now.
    pub ws_open: IntGauge,
    /// Subscriptions active now, over every WebSocket.
    pub ws_subscriptions: IntGauge,
    /// WebSocket messages, by direction (`received`, `sent`).
    pub ws_messages: IntCounterVec,
    /// WebSockets closed by the server, by close code.
    pub ws_closed: IntCounterVec,
}

impl RequestMetrics {
    /// Fresh metrics.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "anju_graphql_requests_total",
                "GraphQL requests executed, by operation name.",
            ),
            &["operation"],
        )?;
        let errors = IntCounterVec::new(
            Opts::new(
                "anju_graphql_errors_total",
                "GraphQL errors returned, by operation name and code.",
            ),
            &["operation", "code"],
        )?;
        let rejections = IntCounterVec::new(
            Opts::new(
                "anju_http_rejections_total",
                "Requests refused before execution, by code.",
            ),
            &["code"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "anju_graphql_request_duration_seconds",
                "GraphQL execution time, by operation name.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ]),
            &["operation"],
        )?;
        let ws_open = IntGauge::new(
            "anju_ws_connections",
            "Subscription WebSockets open (graphql-transport-ws).",
        )?;
        let ws_subscriptions = IntGauge::new(
            "anju_ws_subscriptions",
            "Subscriptions active over every WebSocket.",
        )?;
        let ws_messages = IntCounterVec::new(
            Opts::new(
                "anju_ws_messages_total",
                "WebSocket messages, by direction (received, sent).",
            ),
            &["direction"],
        )?;
        let ws_closed = IntCounterVec::new(
            Opts::new(
                "anju_ws_closed_total",
                "WebSockets the server closed, by close code.",
            ),
            &["code"],
        )?;
        registry.register(Box::new(ws_open.clone()))?;
        registry.register(Box::new(ws_subscriptions.clone()))?;
        registry.register(Box::new(ws_messages.clone()))?;
        registry.register(Box::new(ws_closed.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(errors.clone()))?;
        registry.register(Box::new(rejections.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Self {
            registry,
            requests,
            errors,
            rejections,
            duration,
            seen: Mutex::new(HashSet::new()),
            ws_open,
            ws_subscriptions,
            ws_messages,
            ws_closed,
        })
    }

    /// The label for an operation name.
    pub fn operation_label(&self, name: Option<&str>) -> String {
        let Some(name) = name else {
            return "anonymous".into();
        };
        let well_formed = !name.is_empty()
            && name.len() <= 64
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !well_formed {
            return "other".into();
        }
        let Ok(mut seen) = self.seen.lock() else {
            return "other".into();
        };
        if seen.contains(name) || seen.len() < MAX_OPERATIONS {
            seen.insert(name.to_owned());
            name.to_owned()
        } else {
            "other".into()
        }
    }

    /// Records one executed request.
    pub fn executed(&self, operation: &str, seconds: f64, error_codes: &[&str]) {
        self.requests.with_label_values(&[operation]).inc();
        self.duration
            .with_label_values(&[operation])
            .observe(seconds);
        for code in error_codes {
            self.errors.with_label_values(&[operation, code]).inc();
        }
    }

    /// Records a request refused before execution.
    pub fn rejected(&self, code: &str) {
        self.rejections.with_label_values(&[code]).inc();
    }

    /// The metrics in Prometheus text.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
