//! The state every request handler shares.

use crate::cache::Cache;
use crate::db::StatementCounter;
use crate::graphql;
use sea_orm::DatabaseConnection;

/// Shared state of a running server.
#[derive(Clone)]
pub struct AppState {
    /// The primary: every write, the audit of reads, and the reads the standby cannot take.
    pub db: DatabaseConnection,
    /// Where queries read: the standby when one is configured, else the primary.
    pub reads: crate::db::read::ReadRouter,
    /// Where principals' last writes stand, so their next reads see them.
    pub last_writes: std::sync::Arc<super::read_route::LastWrites>,
    /// A small pool for housekeeping reads (the feed's lag), apart from requests'.
    pub housekeeping: DatabaseConnection,
    pub engine: graphql::Engine,
    pub statements: StatementCounter,
    pub cache: Cache,
    /// Resolves each request's caller.
    pub auth: crate::auth::Authenticator,
    pub graphiql: bool,
    /// Request metrics for `/metrics`.
    pub metrics: std::sync::Arc<super::metrics::RequestMetrics>,
    /// Set once shutdown has begun: readiness then fails while in-flight requests finish.
    pub shutting_down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The documents allowed to run, when the deployment restricts them.
    pub allow_list: super::persisted::AllowList,
    /// Longest a request may run.
    pub request_timeout: std::time::Duration,
    /// How long loaders gather keys before a batch.
    pub loader_delay: std::time::Duration,
    /// Where principals' areas stand in the tree, per state of the register.
    pub standings: std::sync::Arc<crate::auth::scope::Standings>,
    /// Whole responses kept for reuse.
    pub responses: super::response_store::ResponseStore,
    /// Registered persisted queries.
    pub persisted: super::persisted::PersistedStore,
    /// Keys of the whole-response cache.
    pub response_keys: super::response_cache::ResponseKeys,
    /// The cacheable executions under way (see [`super::response_cache::InFlight`]).
    pub in_flight: std::sync::Arc<super::response_cache::InFlight>,
    /// Every caller's rate-limit bucket.
    pub limiter: std::sync::Arc<crate::ratelimit::Limiter>,
    /// Longest a request body may take to arrive.
    pub body_read_timeout: Option<std::time::Duration>,
    /// The connections open, out of the most allowed.
    pub connections: std::sync::Arc<super::serve::Connections>,
    /// What the watch lists are judged by.
    pub watch: crate::domain::watch::WatchSettings,
    /// How subscription sockets are limited.
    pub ws: super::ws::WsSettings,
    /// The subscription sockets open, by principal.
    pub sockets: std::sync::Arc<super::ws::Sockets>,
}
