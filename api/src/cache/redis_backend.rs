//! The Redis backend: shared by every replica. Every call is bounded by a timeout and guarded by
//! a circuit breaker; a failure is reported to the caller, which falls back to the database.
//!
//! One Redis server, or a Redis Cluster when the URL names several nodes (see [`Target`]). No
//! command or script of Anju's touches more than one key, so none needs its keys to share a
//! cluster slot; a master that fails over is a few failed calls, which the breaker and the
//! database's fallback absorb.

use super::breaker::Breaker;
use super::metrics::Metrics;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncCommands, Cmd, Pipeline, RedisFuture, Script, Value};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::RwLock;

/// Why a Redis call gave no answer.
#[derive(Debug)]
pub enum Unavailable {
    /// Not connected, or the breaker is open: the call was not made.
    Bypassed,
    /// The call failed or timed out.
    Failed,
}

/// Mirrors generations into one hash (field: scope, value: `stamp:token`), each only upward by
/// its stamp, so that a late or repeated mirror never lowers a newer one. A value that does not
/// read as `stamp:…` counts as lower than any. ARGV holds field, value pairs.
const RAISE_SCRIPT: &str = r#"
for i = 1, #ARGV, 2 do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  local have = -1
  if current then have = tonumber(string.match(current, '^(%d+):')) or -1 end
  local want = tonumber(string.match(ARGV[i + 1], '^(%d+):')) or -1
  if have < want then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 1
"#;

/// Replaces mirrored generations that still hold what the caller read (compare and set), even
/// with lower ones: how a mirror is brought back to a restored database. ARGV holds field,
/// expected value, new value triples.
const SWAP_SCRIPT: &str = r#"
local swapped = 0
for i = 1, #ARGV, 3 do
  if (redis.call('HGET', KEYS[1], ARGV[i]) or '') == ARGV[i + 1] then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
    swapped = swapped + 1
  end
end
return swapped
"#;

/// Deletes a lock only if it still holds our token.
const UNLOCK_SCRIPT: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

/// Where the shared cache lives, read from `REDIS_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One server: `redis://HOST:PORT[/DB]`.
    Single(String),
    /// A Redis Cluster, by some of its nodes: several URLs separated by commas
    /// (`redis://h:7001,redis://h:7002`), or `redis+cluster://h:7001,h:7002` (the cluster
    /// learns the rest of its nodes from any one of them).
    Cluster(Vec<String>),
}

impl Target {
    /// Reads a `REDIS_URL`.
    pub fn parse(url: &str) -> Target {
        let url = url.trim();
        if let Some(hosts) = url.strip_prefix("redis+cluster://") {
            return Target::Cluster(
                hosts
                    .split(',')
                    .map(str::trim)
                    .filter(|h| !h.is_empty())
                    .map(|h| format!("redis://{h}"))
                    .collect(),
            );
        }
        if url.contains(',') {
            return Target::Cluster(
                url.split(',')
                    .map(str::trim)
                    .filter(|u| !u.is_empty())
                    .map(str::to_owned)
                    .collect(),
            );
        }
        Target::Single(url.to_owned())
    }
}

/// A connection to one server or to a cluster; either multiplexes every call and reconnects by
/// itself.
#[derive(Clone)]
pub enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(c) => c.req_packed_command(cmd),
            Connection::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(c) => c.get_db(),
            Connection::Cluster(c) => c.get_db(),
        }
    }
}

pub struct RedisBackend {
    target: Target,
    conn: RwLock<Option<Connection>>,
    timeout: Duration,
    breaker: Breaker,
    metrics: Arc<Metrics>,
    raise: Script,
    swap: Script,
    unlock: Script,
}

impl RedisBackend {
    /// A backend for `url`; connects in the background, so a Redis that is down at start delays
    /// nothing.
    pub fn start(
        url: String,
        timeout: Duration,
        open_for: Duration,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        let backend = Arc::new(Self {
            target: Target::parse(&url),
            conn: RwLock::new(None),
            timeout,
            breaker: Breaker::new(open_for),
            metrics,
            raise: Script::new(RAISE_SCRIPT),
            swap: Script::new(SWAP_SCRIPT),
            unlock: Script::new(UNLOCK_SCRIPT),
        });
        let weak = Arc::downgrade(&backend);
        tokio::spawn(async move {
            let mut warned = false;
            while let Some(backend) = weak.upgrade() {
                if backend.conn.read().await.is_some() {
                    return;
                }
                match backend.connect().await {
                    Ok(conn) => {
                        *backend.conn.write().await = Some(conn);
                        tracing::info!("cache: connected to Redis");
                        return;
                    }
                    Err(e) => {
                        if !warned {
                            tracing::warn!(error = %e, "cache degraded: cannot connect to Redis; serving from the database");
                            warned = true;
                        }
                    }
                }
                drop(backend);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        backend
    }

    async fn connect(&self) -> redis::RedisResult<Connection> {
        let connect_timeout = self.timeout.max(Duration::from_millis(200));
        let connecting = async {
            match &self.target {
                Target::Single(url) => {
                    let client = redis::Client::open(url.as_str())?;
                    let config = ConnectionManagerConfig::new()
                        .set_connection_timeout(Some(connect_timeout))
                        .set_response_timeout(Some(self.timeout))
                        .set_number_of_retries(1)
                        .set_max_delay(Duration::from_millis(500));
                    ConnectionManager::new_with_config(client, config)
                        .await
                        .map(Connection::Single)
                }
                Target::Cluster(nodes) => {
                    // One retry within the call's own timeout: a slot that moved (MOVED, ASK)
                    // is followed at once; a master that is failing over fails the call, and
                    // the breaker takes it from there.
                    let client = ClusterClient::builder(nodes.iter().map(String::as_str))
                        .connection_timeout(connect_timeout)
                        .response_timeout(self.timeout)
                        .retries(1)
                        .min_retry_wait(5)
                        .max_retry_wait(20)
                        .build()?;
                    client.get_async_connection().await.map(Connection::Cluster)
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(2), connecting)
            .await
            .map_err(|_| redis::RedisError::from((redis::ErrorKind::Io, "connect timed out")))?
    }

    /// Whether the backend talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.target, Target::Cluster(_))
    }

    /// Whether the backend is connected and its breaker closed.
    pub async fn healthy(&self) -> bool {
        self.conn.read().await.is_some() && !self.breaker.is_open()
    }

    /// Runs one Redis call with the timeout and the breaker.
    pub async fn call<T, F, Fut>(&self, f: F) -> Result<T, Unavailable>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if !self.breaker.allows() {
            self.metrics.bypass();
            return Err(Unavailable::Bypassed);
        }
        let Some(conn) = self.conn.read().await.clone() else {
            self.metrics.bypass();
            return Err(Unavailable::Bypassed);
        };
        match tokio::time::timeout(self.timeout, f(conn)).await {
            Ok(Ok(v)) => {
                if self.breaker.success() {
                    tracing::info!("cache recovered: Redis answers again");
                }
                Ok(v)
            }
            outcome => {
                self.metrics.error();
                let why = match outcome {
                    Ok(Err(e)) => e.to_string(),
                    _ => format!("no answer within {:?}", self.timeout),
                };
                if self.breaker.failure() {
                    tracing::warn!(error = %why, "cache degraded: Redis keeps failing; bypassing it for a while");
                } else {
                    tracing::debug!(error = %why, "Redis call failed");
                }
                Err(Unavailable::Failed)
            }
        }
    }

    /// HMGET of several fields of one hash.
    pub async fn hash_get(
        &self,
        key: &str,
        fields: &[String],
    ) -> Result<Vec<Option<String>>, Unavailable> {
        if fields.is_empty() {
            return Ok(vec![]);
        }
        self.call(|mut c| async move { c.hmget(key, fields).await })
            .await
    }

    /// HGETALL of one hash.
    pub async fn hash_all(
        &self,
        key: &str,
    ) -> Result<std::collections::HashMap<String, String>, Unavailable> {
        self.call(|mut c| async move { c.hgetall(key).await }).await
    }

    /// GET of a byte value.
    pub async fn get_bytes(&self, key: &str) -> Result<Option<Vec<u8>>, Unavailable> {
        self.call(|mut c| async move { c.get(key).await }).await
    }

    /// SET with an expiry.
    pub async fn set_bytes(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), Unavailable> {
        let secs = ttl.as_secs().max(1);
        self.call(|mut c| async move { c.set_ex(key, value, secs).await })
            .await
    }

    /// Raises mirrored generations in the hash `key` (see [`RAISE_SCRIPT`]); `pairs` are field,
    /// `stamp:token` value.
    pub async fn raise(&self, key: &str, pairs: &[(String, String)]) -> Result<(), Unavailable> {
        if pairs.is_empty() {
            return Ok(());
        }
        let script = &self.raise;
        self.call(|mut c| async move {
            let mut invocation = script.key(key);
            for (field, value) in pairs {
                invocation.arg(field).arg(value);
            }
            invocation.invoke_async::<i64>(&mut c).await.map(|_| ())
        })
        .await
    }

    /// Replaces mirrored generations that still hold the expected value (see [`SWAP_SCRIPT`]);
    /// `triples` are field, expected, new. Returns how many were replaced.
    pub async fn swap(
        &self,
        key: &str,
        triples: &[(String, String, String)],
    ) -> Result<i64, Unavailable> {
        if triples.is_empty() {
            return Ok(0);
        }
        let script = &self.swap;
        self.call(|mut c| async move {
            let mut invocation = script.key(key);
            for (field, expected, new) in triples {
                invocation.arg(field).arg(expected).arg(new);
            }
            invocation.invoke_async(&mut c).await
        })
        .await
    }

    /// Writes a short-lived probe key: whether Redis accepts writes now (a Redis out of memory
    /// answers reads but refuses writes).
    pub async fn probe_write(&self, key: &str) -> Result<(), Unavailable> {
        self.call(|mut c| async move { c.set_ex(key, "1", 5).await })
            .await
    }

    /// Takes a short lock (SET NX PX); true when this caller holds it.
    pub async fn lock(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, Unavailable> {
        let ms = ttl.as_millis() as u64;
        self.call(|mut c| async move {
            let set: Option<String> = redis::cmd("SET")
                .arg(key)
                .arg(token)
                .arg("NX")
                .arg("PX")
                .arg(ms)
                .query_async(&mut c)
                .await?;
            Ok(set.is_some())
        })
        .await
    }

    /// Releases a lock this caller holds.
    pub async fn unlock(&self, key: &str, token: &str) -> Result<(), Unavailable> {
        let script = &self.unlock;
        self.call(|mut c| async move {
            script
                .key(key)
                .arg(token)
                .invoke_async::<i64>(&mut c)
                .await
                .map(|_| ())
        })
        .await
    }
}
