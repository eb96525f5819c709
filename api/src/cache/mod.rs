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
mod metrics;
mod redis_backend;

use crate::config::CacheConfig;
pub use generation::{GenScope, Generation};
use metrics::Metrics;
pub(crate) use redis_backend::RedisBackend;
use sea_orm::{DatabaseConnection, DbErr};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How long a shared entry lives (entries are never stale, this only bounds memory).
const SHARED_TTL: Duration = Duration::from_secs(24 * 3600);
/// The shape version of cached whole responses: raise it when their encoding changes.
const RESPONSE_VERSION: u32 = 2;
/// How long a registered persisted query is kept after its last registration.
const PERSISTED_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
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
}

struct Inner {
    db: DatabaseConnection,
    local: moka::future::Cache<String, Local>,
    /// Responses that read personal records, each for the one caller it was made for; `None`
    /// when they are not kept.
    personal: Option<moka::future::Cache<String, Arc<PersonalResponse>>>,
    redis: Option<Arc<RedisBackend>>,
    prefix: String,
    namespace: Namespace,
    metrics: Arc<Metrics>,
    reader: batch::GenerationReader,
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

/// A whole GraphQL response as cached: the JSON body, identical whichever JSON media type is
/// negotiated, and the operation name it answered (for the request metrics, so a hit needs no
/// parsing). Only error-free query responses are stored, so the status is always 200.
#[derive(Debug, Clone)]
pub struct CachedResponse {
    /// The operation name, given or read from the document.
    pub operation: Option<String>,
    /// What the document cost when it was executed: a hit is charged the same.
    pub cost: u64,
    /// The response body, without `extensions.cost` (each answer carries its own).
    pub body: axum::body::Bytes,
}

impl CachedResponse {
    /// The shared layer's encoding: the cost, a newline, the operation name (GraphQL names hold
    /// no newline), a newline, the body.
    fn encode(&self) -> Vec<u8> {
        let name = self.operation.as_deref().unwrap_or("");
        let cost = self.cost.to_string();
        let mut out = Vec::with_capacity(cost.len() + name.len() + 2 + self.body.len());
        out.extend_from_slice(cost.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
        out.extend_from_slice(&self.body);
        out
    }

    fn decode(bytes: Vec<u8>) -> Option<CachedResponse> {
        let first = bytes.iter().position(|b| *b == b'\n')?;
        let cost = std::str::from_utf8(&bytes[..first]).ok()?.parse().ok()?;
        let second = first + 1 + bytes[first + 1..].iter().position(|b| *b == b'\n')?;
        let name = std::str::from_utf8(&bytes[first + 1..second])
            .ok()?
            .to_owned();
        let body = axum::body::Bytes::from(bytes).slice(second + 1..);
        Some(CachedResponse {
            operation: (!name.is_empty()).then_some(name),
            cost,
            body,
        })
    }
}

/// A whole response that read personal records, kept in this process only and served only to
/// the caller it was made for: the response and the records it showed unmasked, which each
/// reuse audits again.
#[derive(Debug, Clone)]
pub struct PersonalResponse {
    pub response: CachedResponse,
    /// The records shown unmasked, as the audit log names them.
    pub reads: Vec<(&'static str, String)>,
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
        let local = moka::future::Cache::builder()
            .max_capacity(config.local_capacity_mb.saturating_mul(1024 * 1024))
            .weigher(|k: &String, v: &Local| {
                u32::try_from(k.len())
                    .unwrap_or(u32::MAX)
                    .saturating_add(v.weight)
            })
            .time_to_idle(Duration::from_secs(3600))
            .build();
        // Personal responses get a quarter of the local layer's memory and a short life, so
        // unmasked data lingers in memory no longer than a screen stays open.
        let personal = (config.personal_ttl_secs > 0).then(|| {
            moka::future::Cache::builder()
                .max_capacity(config.local_capacity_mb.saturating_mul(256 * 1024))
                .weigher(|k: &String, v: &Arc<PersonalResponse>| {
                    let reads: usize = v.reads.iter().map(|(_, key)| key.len() + 16).sum();
                    u32::try_from(k.len() + v.response.body.len() + reads).unwrap_or(u32::MAX)
                })
                .time_to_live(Duration::from_secs(config.personal_ttl_secs))
                .build()
        });
        let namespace = Namespace::new(&config.prefix, identity);
        let reader = batch::GenerationReader::start(db.clone(), redis.clone(), namespace.clone());
        Cache {
            inner: Arc::new(Inner {
                db,
                local,
                personal,
                redis,
                prefix: config.prefix.clone(),
                namespace,
                metrics,
                reader,
            }),
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

    /// A persisted query's text by hash: from this process, else from Redis.
    pub async fn persisted_get(&self, hash: &str) -> Option<String> {
        let key = format!("{}:apq:{hash}", self.inner.prefix);
        if let Some(text) = self
            .inner
            .local
            .get(&key)
            .await
            .and_then(|l| l.get::<String>())
        {
            return Some(text);
        }
        let redis = self.inner.redis.as_ref()?;
        let text = String::from_utf8(redis.get_bytes(&key).await.ok()??).ok()?;
        self.inner
            .local
            .insert(key, Local::new(text.clone(), text.len()))
            .await;
        Some(text)
    }

    /// Registers a persisted query (its hash already checked) for every replica.
    pub async fn persisted_put(&self, hash: &str, text: &str) {
        let key = format!("{}:apq:{hash}", self.inner.prefix);
        if let Some(redis) = &self.inner.redis {
            let _ = redis.set_bytes(&key, text.as_bytes(), PERSISTED_TTL).await;
        }
        self.inner
            .local
            .insert(key, Local::new(text.to_owned(), text.len()))
            .await;
    }

    fn response_key(&self, id: &str, generation: Generation) -> String {
        format!(
            "{}:response:v{RESPONSE_VERSION}:{id}:g{generation}",
            self.inner.namespace.get()
        )
    }

    /// The whole response cached as `id` (a hash of everything the response depends on) under
    /// `generation`, the current value of [`GenScope::Register`]: from this process, else from
    /// Redis.
    pub async fn response_get(&self, id: &str, generation: Generation) -> Option<CachedResponse> {
        let key = self.response_key(id, generation);
        if let Some(found) = self
            .inner
            .local
            .get(&key)
            .await
            .and_then(|l| l.get::<CachedResponse>())
        {
            self.inner.metrics.response_local_hit();
            return Some(found);
        }
        if let Some(redis) = &self.inner.redis {
            if let Ok(Some(bytes)) = redis.get_bytes(&key).await {
                let len = bytes.len();
                if let Some(found) = CachedResponse::decode(bytes) {
                    self.inner.metrics.response_shared_hit();
                    self.inner
                        .local
                        .insert(key, Local::new(found.clone(), len))
                        .await;
                    return Some(found);
                }
                // Executed again, and stored over the unreadable entry.
                self.inner.metrics.unreadable();
                tracing::warn!(key = %key, "unreadable cached response: executing it again");
            }
        }
        None
    }

    /// Counts a query whose response was looked for and not found, so executed.
    pub fn response_missed(&self) {
        self.inner.metrics.response_miss();
    }

    /// Stores a whole response as `id` under `generation` (see [`response_get`](Self::response_get)).
    pub async fn response_put(&self, id: &str, generation: Generation, response: CachedResponse) {
        let key = self.response_key(id, generation);
        let encoded = response.encode();
        if let Some(redis) = &self.inner.redis {
            let _ = redis.set_bytes(&key, &encoded, SHARED_TTL).await;
        }
        self.inner
            .local
            .insert(key, Local::new(response, encoded.len()))
            .await;
    }

    /// The key of a personal response (held in this process only, so without the prefix that
    /// Redis keys carry).
    fn personal_key(id: &str, generation: Generation) -> String {
        format!("{id}:g{generation}")
    }

    /// The response cached as `id` for one caller (see [`PersonalResponse`]) under
    /// `generation`; `id` must name the caller.
    pub async fn personal_get(
        &self,
        id: &str,
        generation: Generation,
    ) -> Option<Arc<PersonalResponse>> {
        let found = self
            .inner
            .personal
            .as_ref()?
            .get(&Self::personal_key(id, generation))
            .await;
        if found.is_some() {
            self.inner.metrics.response_caller_hit();
        }
        found
    }

    /// Keeps a response for one caller (see [`personal_get`](Self::personal_get)); nothing when
    /// personal responses are not kept.
    pub async fn personal_put(&self, id: &str, generation: Generation, response: PersonalResponse) {
        if let Some(personal) = &self.inner.personal {
            personal
                .insert(Self::personal_key(id, generation), Arc::new(response))
                .await;
        }
    }

    /// The shared Redis backend, if configured (the rate limiter keeps its buckets there too,
    /// behind the same timeout and breaker).
    pub(crate) fn redis(&self) -> Option<Arc<RedisBackend>> {
        self.inner.redis.clone()
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
        let _ = redis.raise(&hash, &raise).await;
        Ok(())
    }

    /// Keeps the Redis mirror of the generation counters in step with the database.
    pub fn spawn_reconciler(&self, every: Duration) {
        if self.inner.redis.is_none() {
            return;
        }
        let cache = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                if let Err(e) = cache.publish_generations().await {
                    tracing::debug!(error = %e, "generation reconcile skipped");
                }
            }
        });
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
