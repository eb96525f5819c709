//! Cache counters, exposed at `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

/// How cache lookups ended.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Answered from this process's memory.
    pub local_hits: AtomicU64,
    /// Answered from Redis.
    pub shared_hits: AtomicU64,
    /// Computed from the database.
    pub misses: AtomicU64,
    /// Redis calls that failed or timed out.
    pub errors: AtomicU64,
    /// Redis calls skipped because it is unreachable or its breaker is open.
    pub bypasses: AtomicU64,
    /// Shared entries that did not decode: computed again and overwritten.
    pub unreadable: AtomicU64,
}

impl Metrics {
    pub fn local_hit(&self) {
        self.local_hits.fetch_add(1, Ordering::Relaxed);
    }
    pub fn shared_hit(&self) {
        self.shared_hits.fetch_add(1, Ordering::Relaxed);
    }
    pub fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }
    pub fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }
    pub fn unreadable(&self) {
        self.unreadable.fetch_add(1, Ordering::Relaxed);
    }
    pub fn bypass(&self) {
        self.bypasses.fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text for these counters.
    pub fn render(&self, backend: &str, healthy: bool) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "# HELP anju_cache_lookups_total Cache lookups by outcome.\n\
             # TYPE anju_cache_lookups_total counter\n\
             anju_cache_lookups_total{{outcome=\"local_hit\"}} {}\n\
             anju_cache_lookups_total{{outcome=\"shared_hit\"}} {}\n\
             anju_cache_lookups_total{{outcome=\"miss\"}} {}\n\
             # HELP anju_cache_errors_total Shared-cache calls that failed or timed out.\n\
             # TYPE anju_cache_errors_total counter\n\
             anju_cache_errors_total {}\n\
             # HELP anju_cache_bypasses_total Shared-cache calls skipped while it is unreachable.\n\
             # TYPE anju_cache_bypasses_total counter\n\
             anju_cache_bypasses_total {}\n\
             # HELP anju_cache_unreadable_total Shared-cache entries that did not decode, computed again and overwritten.\n\
             # TYPE anju_cache_unreadable_total counter\n\
             anju_cache_unreadable_total {}\n\
             # HELP anju_cache_healthy Whether the configured cache backend is usable (1) or degraded (0).\n\
             # TYPE anju_cache_healthy gauge\n\
             anju_cache_healthy{{backend=\"{backend}\"}} {}\n",
            get(&self.local_hits),
            get(&self.shared_hits),
            get(&self.misses),
            get(&self.errors),
            get(&self.bypasses),
            get(&self.unreadable),
            u8::from(healthy),
        )
    }
}
