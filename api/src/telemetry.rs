//! Logging: human-readable by default, JSON lines when the log format is `json`; the level comes
//! from the log filter (default `info`).

use crate::config::LogConfig;
use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global subscriber once; later calls are no-ops (tests start many servers).
pub fn init(config: &LogConfig) {
    let filter = config
        .filter
        .as_deref()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new("info,sqlx=warn"));
    let json = config.format.as_deref() == Some("json");
    let result = if json {
        fmt()
            .with_env_filter(filter)
            .json()
            .with_writer(std::io::stderr)
            .try_init()
    } else {
        fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init()
    };
    // An already-installed subscriber is fine: it is the one a test harness or an earlier call set.
    let _ = result;
}
