//! A circuit breaker: after repeated failures, stop calling the backend for a while, then let
//! one call through to see whether it has recovered.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Consecutive failures that open the circuit.
const FAILURE_THRESHOLD: u32 = 3;

/// Shared breaker state; cheap to consult on every call.
#[derive(Debug)]
pub struct Breaker {
    failures: AtomicU32,
    /// Milliseconds since `epoch` until which the circuit stays open; 0 when closed.
    open_until_ms: AtomicU64,
    open_for: Duration,
    epoch: Instant,
}

impl Breaker {
    /// A closed breaker that stays open for `open_for` once tripped.
    pub fn new(open_for: Duration) -> Self {
        Self {
            failures: AtomicU32::new(0),
            open_until_ms: AtomicU64::new(0),
            open_for,
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Whether a call may go through now.
    pub fn allows(&self) -> bool {
        let until = self.open_until_ms.load(Ordering::Acquire);
        until == 0 || self.now_ms() >= until
    }

    /// Whether the circuit is open (calls are being skipped).
    pub fn is_open(&self) -> bool {
        !self.allows()
    }

    /// Records a success; returns true when this closed an open or half-open circuit.
    pub fn success(&self) -> bool {
        self.failures.store(0, Ordering::Release);
        self.open_until_ms.swap(0, Ordering::AcqRel) != 0
    }

    /// Records a failure; returns true when this opened the circuit.
    pub fn failure(&self) -> bool {
        let n = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if n >= FAILURE_THRESHOLD {
            let until = self.now_ms() + self.open_for.as_millis() as u64;
            let previous = self.open_until_ms.swap(until.max(1), Ordering::AcqRel);
            return previous == 0;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_three_failures_and_half_opens_after_the_interval() {
        let b = Breaker::new(Duration::from_millis(30));
        assert!(b.allows());
        assert!(!b.failure());
        assert!(!b.failure());
        assert!(b.failure(), "the third failure opens the circuit");
        assert!(!b.allows());
        std::thread::sleep(Duration::from_millis(40));
        assert!(b.allows(), "half-open after the interval");
        assert!(b.success(), "a success closes it");
        assert!(b.allows());
        assert!(!b.success(), "closing a closed circuit is no transition");
    }
}
