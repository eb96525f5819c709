//! Which database a request reads from: the standby (`DATABASE_READ_URL`) unless the caller has
//! just written, or the standby is failing; the primary otherwise (see `db::read`).
//!
//! After a principal's write, the primary's log position is remembered for a while
//! (`ANJU_READ_YOUR_WRITES_SECS`), in this process and in Redis, since the balancer may send
//! the principal's next request to another replica. A read of that principal goes to the
//! standby only once the standby has replayed up to it.

use super::AppState;
use crate::auth::Caller;
use crate::cache::{Cache, RedisBackend};
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use std::time::Duration;

/// Where one request reads.
#[derive(Clone)]
pub(super) struct Route {
    /// The connection the request's data is read from.
    pub db: DatabaseConnection,
    /// The cache, its generations read from `db` when that is the standby.
    pub cache: Cache,
    /// Whether `db` is the standby.
    pub standby: bool,
}

/// The log positions of principals' last writes.
pub struct LastWrites {
    local: moka::future::Cache<String, String>,
    redis: Option<Arc<RedisBackend>>,
    prefix: String,
    ttl: Duration,
}

impl LastWrites {
    /// Remembered for `ttl`, in process and in `cache`'s Redis when there is one.
    pub fn new(cache: &Cache, ttl: Duration) -> LastWrites {
        LastWrites {
            local: moka::future::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
            redis: cache.redis(),
            prefix: cache.prefix().to_owned(),
            ttl,
        }
    }

    fn key(&self, actor: &str) -> String {
        format!("{}:lastwrite:{actor}", self.prefix)
    }

    async fn remember(&self, actor: &str, position: String) {
        if let Some(redis) = &self.redis {
            let _ = redis
                .set_bytes(&self.key(actor), position.as_bytes(), self.ttl)
                .await;
        }
        self.local.insert(actor.to_owned(), position).await;
    }

    /// The position of `actor`'s last write, when it is recent: this process's memory, else
    /// the one another replica left in Redis.
    async fn recall(&self, actor: &str) -> Option<String> {
        if let Some(found) = self.local.get(actor).await {
            return Some(found);
        }
        let redis = self.redis.as_ref()?;
        let bytes = redis.get_bytes(&self.key(actor)).await.ok()??;
        String::from_utf8(bytes).ok()
    }
}

/// The primary, for writes and whatever the standby cannot answer.
pub(super) fn primary(state: &AppState) -> Route {
    Route {
        db: state.reads.primary().clone(),
        cache: state.cache.clone(),
        standby: false,
    }
}

/// Where `caller`'s query reads: the standby, unless there is none, its breaker is open, or the
/// caller wrote lately and the standby has not replayed that write within the bounded wait.
pub(super) async fn for_query(state: &AppState, caller: &Caller) -> Route {
    let Some(standby) = state.reads.standby() else {
        return primary(state);
    };
    if let Some(p) = caller.principal() {
        if let Some(position) = state.last_writes.recall(&p.actor).await {
            if !state.reads.caught_up(&position).await {
                return primary(state);
            }
        }
    }
    Route {
        db: standby.clone(),
        cache: state.cache.reading_tokens_from(standby.clone()),
        standby: true,
    }
}

/// Remembers where the primary's log stands after `caller`'s write, so that its next reads,
/// through any replica, see the write.
pub(super) async fn wrote(state: &AppState, caller: &Caller) {
    let Some(p) = caller.principal() else {
        return;
    };
    match state.reads.primary_position().await {
        Ok(Some(position)) => state.last_writes.remember(&p.actor, position).await,
        Ok(None) => {}
        // The write stands; only its reader may now see the standby's older state for a moment.
        Err(e) => tracing::warn!(error = %e, "the primary's log position after a write is unknown"),
    }
}
