//! Webhooks for integration keys (Standard Webhooks 1.0): admins register an endpoint for an
//! integration key, and each commit the key's scope sees sends it a thin notification,
//! `{"type":"changes.available","timestamp":…,"data":{"cursor":…}}`, signed with the
//! endpoint's secrets. The consumer then reads `changes` from its own cursor.
//!
//! [`store`] keeps endpoints, their secrets and deliveries; [`deliver`] finds commits to notify
//! (the dispatcher) and sends what is due (the sender); [`sign`] signs; [`target`] says where a
//! webhook may go.

pub mod deliver;
pub mod sign;
pub mod store;
pub mod target;

pub use store::*;

/// Seals secrets for storage and opens them again: the service's sealing key lives above this
/// layer, which receives it as this trait.
pub trait Seal: Send + Sync {
    /// The sealed form of `plain`.
    fn seal(&self, plain: &str) -> String;
    /// What `sealed` holds, if it was sealed by this deployment and not altered.
    fn open(&self, sealed: &str) -> Option<String>;
}

/// Milliseconds since the epoch, as the webhook tables keep times.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
