//! Cached aggregates: a process-local layer in front of an optional shared Redis layer.
//!
//! Freshness is by construction, not by expiry. Every write moves the scopes it touches to new
//! generations in the database inside its own transaction ([`generation`]); every cache key
//! carries the generation tokens of the scopes its value depends on. A committed write
//! therefore makes every older entry unreachable, and since a token is never issued twice in a
//! register's history, no entry is ever reached from another state, not even after a restore.
//! Every Redis key also carries the register's identity ([`Namespace`]), so two databases behind
//! one Redis never share an entry, whatever the configured prefix.
//!
//! With Redis, the generations are mirrored there after each commit (and reconciled from the
//! database every second, which also brings the mirror back to a restored database), so a
//! lookup costs one Redis round trip; without Redis, they are read from the database, which is
//! what a single process on SQLite wants anyway.
//!
//! Redis is best-effort: each call has a short timeout and a circuit breaker, and any failure
//! falls back to the database. Concurrent lookups of one cold key compute it once per process
//! (the local layer coalesces them) and, with Redis, once across processes (a short lock).

mod batch;
mod breaker;
pub mod generation;
pub mod hints;
mod metrics;
mod redis_backend;

use crate::config::CacheConfig;
pub use generation::{GenScope, Generation};
use metrics::Metrics;
pub use redis_backend::{RedisBackend, Unavailable};
use sea_orm::{DatabaseConnection, DbErr};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How long a shared entry lives (entries are never stale, this only bounds memory).
pub const SHARED_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a cross-process compute lock is held at most: a dead holder blocks nobody longer.
const LOCK_TTL: Duration = Duration::from_secs(3);
/// How often a waiter looks for the value another process is computing.
const LOCK_POLL: Duration = Duration::from_millis(10);

/// A cached value's key: what it is, which generations it depends on, and its value type.
pub trait CacheKey {
    /// The cached value.
    type Value: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;
    /// The kind of value, part of the key.
    const KIND: &'static str;
    /// The value's shape version: raise it when `Value` changes, so no deploy reads old entries.
    const VERSION: u32;
    /// What identifies this entry among its kind.
    fn id(&self) -> String;
    /// The generation counters the value depends on.
    fn depends_on(&self) -> Vec<GenScope>;
}

/// The cache, shared by every request of a process.
#[derive(Clone)]
pub struct Cache {
    inner: Arc<Inner>,
    /// Where this handle reads generations, when not from the mirror or the primary: the
    /// standby a request reads its data from (see [`Cache::reading_tokens_from`]).
    tokens_from: Option<DatabaseConnection>,
}

struct Inner {
    db: DatabaseConnection,
    local: moka::future::Cache<String, Local>,
    redis: Option<Arc<RedisBackend>>,
    prefix: String,
    namespace: Namespace,
    metrics: Arc<Metrics>,
    reader: batch::GenerationReader,
    /// Set once this process has brought the Redis mirror in step with the database: until
    /// then the mirror may still hold another state's generations (a restored backup), and
    /// generations are read from the database.
    synced: Arc<std::sync::atomic::AtomicBool>,
    /// Tells live subscriptions, in every replica, which generations moved.
    hints: hints::Hints,
}

/// The start of every Redis key that depends on the register's data: the configured prefix and
/// the register's identity. It changes only if the database behind the process turns out to
/// hold another register (another database's dump restored in its place).
#[derive(Clone)]
pub(crate) struct Namespace {
    prefix: Arc<str>,
    current: Arc<std::sync::RwLock<Arc<str>>>,
}

impl Namespace {
    fn new(prefix: &str, identity: &str) -> Namespace {
        Namespace {
            prefix: prefix.into(),
            current: Arc::new(std::sync::RwLock::new(
                format!("{prefix}:r{identity}").into(),
            )),
        }
    }

    /// `prefix:r<identity>`.
    pub(crate) fn get(&self) -> Arc<str> {
        match self.current.read() {
            Ok(ns) => ns.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Moves to another register's identity; true if it differs from the current one.
    fn set_identity(&self, identity: &str) -> bool {
        let wanted = format!("{}:r{identity}", self.prefix);
        let mut current = match self.current.write() {
            Ok(ns) => ns,
            Err(poisoned) => poisoned.into_inner(),
        };
        if **current == *wanted {
            return false;
        }
        *current = wanted.into();
        true
    }

    /// The Redis hash that mirrors the register's generations.
    pub(crate) fn generations_key(&self) -> String {
        format!("{}:gen", self.get())
    }
}

/// An entry of the process-local layer: the decoded value, so a hit costs no decoding, and the
/// size of its encoding, which bounds the layer's memory.
#[derive(Clone)]
struct Local {
    value: Arc<dyn std::any::Any + Send + Sync>,
    weight: u32,
}

impl Local {
    fn new<T: Send + Sync + 'static>(value: T, encoded_len: usize) -> Self {
        Local {
            value: Arc::new(value),
            weight: u32::try_from(encoded_len).unwrap_or(u32::MAX),
        }
    }

    fn get<T: Clone + 'static>(&self) -> Option<T> {
        self.value.downcast_ref::<T>().cloned()
    }
}

impl Cache {
    /// Builds the cache named by `config` over `db`, the register whose identity is `identity`
    /// (see [`generation::register_identity`]). Never fails: an unreachable Redis only makes the
    /// cache degraded.
    pub fn new(db: DatabaseConnection, config: &CacheConfig, identity: &str) -> Cache {
        let metrics = Arc::new(Metrics::default());
        let redis = config
            .redis_url
            .as_ref()
            .filter(|u| !u.is_empty())
            .map(|url| {
                RedisBackend::start(
                    url.clone(),
                    Duration::from_millis(config.redis_timeout_ms),
                    Duration::from_millis(config.breaker_open_ms),
                    metrics.clone(),
                )
            });
        // Half the in-process memory; whole responses, kept at the HTTP edge, get the other.
        let local = moka::future::Cache::builder()
            .max_capacity(config.local_capacity_mb.saturating_mul(512 * 1024))
            .weigher(|k: &String, v: &Local| {
                u32::try_from(k.len())
                    .unwrap_or(u32::MAX)
                    .saturating_add(v.weight)
            })
            .time_to_idle(Duration::from_secs(3600))
            .build();
        let namespace = Namespace::new(&config.prefix, identity);
        let hints = hints::Hints::start(
            db.clone(),
            config.redis_url.as_deref().filter(|u| !u.is_empty()),
            &namespace.get(),
            Duration::from_millis(config.hint_sweep_ms),
        );
        let synced = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = batch::GenerationReader::start(
            db.clone(),
            redis.clone(),
            namespace.clone(),
            synced.clone(),
        );
        Cache {
            inner: Arc::new(Inner {
                db,
                local,
                redis,
                prefix: config.prefix.clone(),
                namespace,
                metrics,
                reader,
                synced,
                hints,
            }),
            tokens_from: None,
        }
    }

    /// This cache, for a request that reads its data from `db` (a standby, which replays the
    /// primary's writes a little behind it): its generations are read from `db` too, before the
    /// data, never from the mirror or the primary, which may already know of writes the standby
    /// has not replayed. A value computed from that data is then stored under a state no newer
    /// than its own. Everything else (the layers, the entries) is shared with `self`.
    pub fn reading_tokens_from(&self, db: DatabaseConnection) -> Cache {
        Cache {
            inner: self.inner.clone(),
            tokens_from: Some(db),
        }
    }

    /// Builds the cache named by `config` over `db`, reading the register's identity from it.
    pub async fn open(db: DatabaseConnection, config: &CacheConfig) -> Result<Cache, DbErr> {
        let identity = generation::register_identity(&db).await?;
        Ok(Cache::new(db, config, &identity))
    }

    /// Waits up to `limit` for the shared backend to connect (for short-lived commands).
    pub async fn wait_connected(&self, limit: Duration) {
        let Some(redis) = &self.inner.redis else {
            return;
        };
        let deadline = tokio::time::Instant::now() + limit;
        while !redis.healthy().await && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The shared Redis backend, if configured: the HTTP edge keeps whole responses and
    /// persisted queries there, and the rate limiter its buckets, behind the same timeout and
    /// breaker.
    pub fn redis(&self) -> Option<Arc<RedisBackend>> {
        self.inner.redis.clone()
    }

    /// The hint bus: which generations moved, for live subscriptions.
    pub fn hints(&self) -> &hints::Hints {
        &self.inner.hints
    }

    /// The start of every Redis key that depends on this register's data (the prefix and the
    /// register's identity): stores kept elsewhere put their data-dependent keys under it.
    pub fn namespace(&self) -> Arc<str> {
        self.inner.namespace.get()
    }

    /// Counts a shared entry that did not decode (computed again and overwritten).
    pub fn count_unreadable(&self) {
        self.inner.metrics.unreadable();
    }

    /// The prefix of every key this cache writes to Redis.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// `"memory"` or `"redis"`, and whether it is fully usable: Redis is when it is connected,
    /// its breaker closed, and it accepts a write (one out of memory answers reads but refuses
    /// every write).
    pub async fn status(&self) -> (&'static str, bool) {
        match &self.inner.redis {
            None => ("memory", true),
            Some(r) => {
                let probe = format!("{}:probe", self.inner.prefix);
                let usable = r.healthy().await && r.probe_write(&probe).await.is_ok();
                ("redis", usable)
            }
        }
    }

    /// Prometheus text for the cache.
    pub async fn metrics_text(&self) -> String {
        let (backend, healthy) = match &self.inner.redis {
            None => ("memory", true),
            Some(r) => ("redis", r.healthy().await),
        };
        self.inner.metrics.render(backend, healthy)
    }

    /// The current generations of `scopes`: from Redis when it answers and knows them all,
    /// otherwise from the database (and then mirrored into Redis).
    ///
    /// Concurrent callers share reads: each read serves every caller that was waiting when it
    /// started, so it reflects every write committed before any of them asked (see
    /// [`batch::GenerationReader`]).
    pub async fn generations(&self, scopes: &[GenScope]) -> Result<Vec<Generation>, DbErr> {
        if let Some(db) = &self.tokens_from {
            return generation::read(db, scopes).await;
        }
        self.inner.reader.read(scopes).await
    }

    /// Brings the Redis mirror of the generations in step with the database. Run at start, and
    /// every second to repair a mirror a Redis fault interrupted or a restore left ahead.
    ///
    /// The mirror is read first, the database after: a generation is mirrored only once its
    /// write has committed, so a database read that follows finds it or a later one, unless the
    /// database itself went back (a restore). A mirrored generation the database does not have
    /// then is replaced by the database's, if the mirror still holds what was read (a write
    /// mirrored meanwhile is newer, and stays). The register's identity is read again too, in
    /// case another register's dump now fills the database.
    pub async fn publish_generations(&self) -> Result<(), DbErr> {
        let Some(redis) = &self.inner.redis else {
            return Ok(());
        };
        let identity = generation::register_identity(&self.inner.db).await?;
        if self.inner.namespace.set_identity(&identity) {
            tracing::warn!("the database holds another register than before: its cache entries are used from now on");
        }
        let hash = self.inner.namespace.generations_key();
        let Ok(mirrored) = redis.hash_all(&hash).await else {
            return Ok(());
        };
        let truth = generation::all(&self.inner.db).await?;
        let mut raise = Vec::new();
        let mut swap = Vec::new();
        for (scope, g) in &truth {
            match mirrored.get(scope) {
                Some(raw) => match Generation::decode(raw) {
                    Some(m) if m == *g => {}
                    Some(m) if !g.is_after(&m) => {
                        swap.push((scope.clone(), raw.clone(), g.encode()));
                    }
                    _ => raise.push((scope.clone(), g.encode())),
                },
                None => raise.push((scope.clone(), g.encode())),
            }
        }
        for (scope, raw) in &mirrored {
            let never_raised = Generation::decode(raw) == Some(Generation::NONE);
            if !truth.contains_key(scope) && !never_raised {
                swap.push((scope.clone(), raw.clone(), Generation::NONE.encode()));
            }
        }
        if !swap.is_empty() {
            if let Ok(n) = redis.swap(&hash, &swap).await {
                tracing::warn!(
                    generations = n,
                    "the database is behind its cache mirror (restored?): mirror brought back to it"
                );
            }
        }
        if redis.raise(&hash, &raise).await.is_ok() {
            self.inner
                .synced
                .store(true, std::sync::atomic::Ordering::Release);
        }
        Ok(())
    }

    /// Keeps the Redis mirror of the generations in step with the database, until the returned
    /// task is aborted (a server that stops must not mirror its database any longer); `None`
    /// without Redis.
    pub fn spawn_reconciler(&self, every: Duration) -> Option<tokio::task::JoinHandle<()>> {
        self.inner.redis.as_ref()?;
        let cache = self.clone();
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = cache.publish_generations().await {
                    tracing::debug!(error = %e, "generation reconcile skipped");
                }
            }
        }))
    }

    /// The value of `key`, computed by `compute` on a miss. `gens` are the current generations
    /// of `key.depends_on()`, in order ([`generations`](Self::generations) reads them; a request
    /// reads them for all its keys in one batch).
    pub async fn get_or_compute<K, F, Fut>(
        &self,
        key: &K,
        gens: &[Generation],
        compute: F,
    ) -> Result<K::Value, DbErr>
    where
        K: CacheKey,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<K::Value, DbErr>>,
    {
        let gens: Vec<String> = gens.iter().map(Generation::to_string).collect();
        let full = format!(
            "{}:{}:v{}:{}:g{}",
            self.inner.namespace.get(),
            K::KIND,
            K::VERSION,
            key.id(),
            gens.join(".")
        );
        let mut computed_here = false;
        let entry = self
            .inner
            .local
            .try_get_with(full.clone(), async {
                computed_here = true;
                let (value, len) = self.shared_or_compute::<K, _, _>(&full, compute).await?;
                Ok::<_, DbErr>(Local::new(value, len))
            })
            .await
            .map_err(|e| DbErr::Custom(format!("cache fill failed: {e}")))?;
        if !computed_here {
            self.inner.metrics.local_hit();
        }
        entry
            .get::<K::Value>()
            .ok_or_else(|| DbErr::Custom(format!("cache entry `{full}` holds another type")))
    }

    /// The value of `full` from Redis, or computed (then stored there for every replica), and
    /// the size of its encoding. An entry Redis holds that does not decode is counted, computed
    /// again and overwritten: it is never an error for the request.
    async fn shared_or_compute<K, F, Fut>(
        &self,
        full: &str,
        compute: F,
    ) -> Result<(K::Value, usize), DbErr>
    where
        K: CacheKey,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<K::Value, DbErr>>,
    {
        let encode = |v: &K::Value| {
            serde_json::to_vec(v).map_err(|e| DbErr::Custom(format!("cache encode: {e}")))
        };
        let Some(redis) = &self.inner.redis else {
            self.inner.metrics.miss();
            let value = compute().await?;
            let len = encode(&value)?.len();
            return Ok((value, len));
        };
        let decode = |bytes: Vec<u8>| match serde_json::from_slice::<K::Value>(&bytes) {
            Ok(value) => {
                self.inner.metrics.shared_hit();
                Some((value, bytes.len()))
            }
            Err(e) => {
                self.inner.metrics.unreadable();
                tracing::warn!(key = %full, error = %e, "unreadable cached value: computing it again");
                None
            }
        };
        let mut unreadable = false;
        if let Ok(Some(bytes)) = redis.get_bytes(full).await {
            match decode(bytes) {
                Some(found) => return Ok(found),
                None => unreadable = true,
            }
        }
        let lock_key = format!("{full}:lock");
        let token = uuid::Uuid::new_v4().simple().to_string();
        let held = match redis.lock(&lock_key, &token, LOCK_TTL).await {
            Ok(true) => true,
            Ok(false) if !unreadable => {
                // Another process is computing this value: wait for it, at most as long as its
                // lock can live, then compute it here after all.
                let deadline = tokio::time::Instant::now() + LOCK_TTL;
                while tokio::time::Instant::now() < deadline {
                    tokio::time::sleep(LOCK_POLL).await;
                    match redis.get_bytes(full).await {
                        Ok(Some(bytes)) => match decode(bytes) {
                            Some(found) => return Ok(found),
                            None => break,
                        },
                        Ok(None) => {}
                        Err(_) => break,
                    }
                }
                false
            }
            Ok(false) | Err(_) => false,
        };
        self.inner.metrics.miss();
        let result = async {
            let value = compute().await?;
            let bytes = encode(&value)?;
            let _ = redis.set_bytes(full, &bytes, SHARED_TTL).await;
            Ok((value, bytes.len()))
        }
        .await;
        if held {
            let _ = redis.unlock(&lock_key, &token).await;
        }
        result
    }
}

impl Cache {
    /// Mirrors the generations of `scopes` (and of the register, which every write raises too)
    /// from the database into Redis, right after the write that raised them commits, in one
    /// atomic call. Best effort, like every Redis call: the reconciler repairs a mirror a fault
    /// interrupted.
    pub async fn publish(&self, scopes: &[GenScope]) {
        let Some(redis) = &self.inner.redis else {
            return;
        };
        let scopes: Vec<GenScope> = scopes
            .iter()
            .filter(|s| **s != GenScope::Register)
            .cloned()
            .chain(std::iter::once(GenScope::Register))
            .collect();
        match generation::read(&self.inner.db, &scopes).await {
            Ok(values) => {
                let pairs: Vec<(String, String)> = scopes
                    .iter()
                    .zip(values)
                    .map(|(scope, g)| (scope.name(), g.encode()))
                    .collect();
                let _ = redis
                    .raise(&self.inner.namespace.generations_key(), &pairs)
                    .await;
            }
            Err(e) => tracing::debug!(error = %e, "generation publish skipped"),
        }
    }
}
