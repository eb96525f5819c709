//! Whole responses kept at the HTTP edge: shared ones (in this process, and in Redis for every
//! replica) and a caller's own (this process only), each under the `register` generation it was
//! made at (see the README's Caching section). The aggregate cache below knows nothing of them.

use crate::cache::{Cache, Generation, RedisBackend, SHARED_TTL};
use crate::config::CacheConfig;
use axum::body::Bytes;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The shape version of cached whole responses: raise it when their encoding changes.
const RESPONSE_VERSION: u32 = 2;

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
    pub body: Bytes,
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
        let body = Bytes::from(bytes).slice(second + 1..);
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

/// How whole-response lookups ended, for `/metrics`.
#[derive(Debug, Default)]
struct Lookups {
    local_hits: AtomicU64,
    shared_hits: AtomicU64,
    caller_hits: AtomicU64,
    misses: AtomicU64,
}

/// The whole-response store of one process.
#[derive(Clone)]
pub struct ResponseStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The aggregate cache: its Redis backend and the register's key namespace.
    cache: Cache,
    shared: Option<Arc<RedisBackend>>,
    local: moka::future::Cache<String, CachedResponse>,
    /// `None` when personal responses are not kept.
    personal: Option<moka::future::Cache<String, Arc<PersonalResponse>>>,
    lookups: Lookups,
}

impl ResponseStore {
    /// A store beside `cache`, sized by `config`: half the in-process memory (the aggregates
    /// have the other half) for shared responses, and a quarter more for personal ones, which
    /// live `personal_ttl_secs` at most, so unmasked data lingers in memory no longer than a
    /// screen stays open.
    pub fn new(cache: &Cache, config: &CacheConfig) -> Self {
        let local = moka::future::Cache::builder()
            .max_capacity(config.local_capacity_mb.saturating_mul(512 * 1024))
            .weigher(|k: &String, v: &CachedResponse| {
                u32::try_from(k.len() + v.body.len()).unwrap_or(u32::MAX)
            })
            .time_to_idle(Duration::from_secs(3600))
            .build();
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
        ResponseStore {
            inner: Arc::new(Inner {
                cache: cache.clone(),
                shared: cache.redis(),
                local,
                personal,
                lookups: Lookups::default(),
            }),
        }
    }

    fn key(&self, id: &str, generation: Generation) -> String {
        format!(
            "{}:response:v{RESPONSE_VERSION}:{id}:g{generation}",
            self.inner.cache.namespace()
        )
    }

    /// The whole response cached as `id` (a hash of everything the response depends on) under
    /// `generation`, the current `register` generation: from this process, else from Redis. An
    /// entry Redis holds that does not decode is counted and missed, so the response is
    /// executed again and stored over it.
    pub async fn get(&self, id: &str, generation: Generation) -> Option<CachedResponse> {
        let key = self.key(id, generation);
        if let Some(found) = self.inner.local.get(&key).await {
            self.inner
                .lookups
                .local_hits
                .fetch_add(1, Ordering::Relaxed);
            return Some(found);
        }
        let shared = self.inner.shared.as_ref()?;
        let bytes = shared.get_bytes(&key).await.ok()??;
        match CachedResponse::decode(bytes) {
            Some(found) => {
                self.inner
                    .lookups
                    .shared_hits
                    .fetch_add(1, Ordering::Relaxed);
                self.inner.local.insert(key, found.clone()).await;
                Some(found)
            }
            None => {
                self.inner.cache.count_unreadable();
                tracing::warn!(key = %key, "unreadable cached response: executing it again");
                None
            }
        }
    }

    /// Counts a query whose response was looked for and not found, so executed.
    pub fn missed(&self) {
        self.inner.lookups.misses.fetch_add(1, Ordering::Relaxed);
    }

    /// Stores a whole response as `id` under `generation` (see [`get`](Self::get)).
    pub async fn put(&self, id: &str, generation: Generation, response: CachedResponse) {
        let key = self.key(id, generation);
        if let Some(shared) = &self.inner.shared {
            let _ = shared.set_bytes(&key, &response.encode(), SHARED_TTL).await;
        }
        self.inner.local.insert(key, response).await;
    }

    /// The key of a personal response (held in this process only, so without the namespace
    /// that Redis keys carry).
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
            self.inner
                .lookups
                .caller_hits
                .fetch_add(1, Ordering::Relaxed);
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

    /// Prometheus text for the store.
    pub fn metrics_text(&self) -> String {
        let l = &self.inner.lookups;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "# HELP anju_response_cache_lookups_total Whole-response cache lookups by outcome.\n\
             # TYPE anju_response_cache_lookups_total counter\n\
             anju_response_cache_lookups_total{{outcome=\"local_hit\"}} {}\n\
             anju_response_cache_lookups_total{{outcome=\"shared_hit\"}} {}\n\
             anju_response_cache_lookups_total{{outcome=\"caller_hit\"}} {}\n\
             anju_response_cache_lookups_total{{outcome=\"miss\"}} {}\n",
            get(&l.local_hits),
            get(&l.shared_hits),
            get(&l.caller_hits),
            get(&l.misses),
        )
    }
}
