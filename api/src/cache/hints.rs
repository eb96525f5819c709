//! Hints: which generations moved, told to every replica so live subscriptions recompute.
//!
//! A hint names generations and their new values (`stamp:token`), never any of the register's
//! data. A write hands the scopes it raised to [`Hints::raised`] after its commit; a task of the
//! process reads their generations from the database, tells this process's listeners at once and
//! publishes the hint on a Redis channel (when Redis is configured), where the other replicas'
//! listeners receive it. Nothing of this is on the write's path: the queue is bounded, and a
//! hint it cannot take is dropped (the sweep below repairs it).
//!
//! Hints can be missed (Redis down, a queue full, a write made by another process without
//! Redis, such as `anju import`), so each process also sweeps: it compares every generation in
//! the database with what it last saw and hints what moved. It sweeps every few seconds, and at
//! once whenever its Redis subscription (re)connects, so a replica that missed hints during a
//! Redis outage catches up as soon as Redis is back.
//!
//! Redis Cluster delivers a classic PUBLISH to subscribers on every node, so one ordinary
//! connection to one configured node is enough for both publishing and subscribing.

use super::generation::{self, GenScope, Generation};
use futures::StreamExt;
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

/// Scopes waiting to be hinted, at most this many writes' worth.
const QUEUE: usize = 1024;
/// Hints a slow listener may fall behind by before it is told to re-check everything.
const BACKLOG: usize = 4096;
/// Longest a Redis call of the bus may take.
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the subscription connection is probed (a silent network drop ends no stream).
const PROBE_EVERY: Duration = Duration::from_secs(5);

/// What a listener hears.
#[derive(Debug, Clone)]
pub enum Hint {
    /// These generations moved to these values.
    Moved(Arc<HashMap<String, Generation>>),
    /// Hints may have been lost: re-check whatever you depend on.
    Recheck,
}

impl Hint {
    /// The new generation of `scope`, if this hint says it moved.
    pub fn moved(&self, scope: &GenScope) -> Option<Generation> {
        match self {
            Hint::Moved(gens) => gens.get(&scope.name()).copied(),
            Hint::Recheck => None,
        }
    }
}

/// The hint bus of one process.
#[derive(Clone)]
pub struct Hints {
    inner: Arc<Inner>,
}

/// The Redis servers hints travel through: the one server of `REDIS_URL`, or the nodes it
/// names of a Redis Cluster, where a PUBLISH on any node reaches subscribers on every node.
/// Hints use one node at a time and move to the next when it fails.
struct Nodes {
    clients: Vec<redis::Client>,
    current: std::sync::atomic::AtomicUsize,
}

impl Nodes {
    fn open(url: &str) -> redis::RedisResult<Nodes> {
        use super::redis_backend::Target;
        let urls = match Target::parse(url) {
            Target::Single(url) => vec![url],
            Target::Cluster(nodes) => nodes,
        };
        let clients = urls
            .iter()
            .map(|u| redis::Client::open(u.as_str()))
            .collect::<redis::RedisResult<Vec<_>>>()?;
        if clients.is_empty() {
            return Err(redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "no Redis node in the URL",
            )));
        }
        Ok(Nodes {
            clients,
            current: Default::default(),
        })
    }

    /// The node in use.
    fn client(&self) -> redis::Client {
        let i = self.current.load(std::sync::atomic::Ordering::Relaxed);
        self.clients[i % self.clients.len()].clone()
    }

    /// Moves to the next node, after the one in use failed.
    fn next(&self) {
        self.current
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

struct Inner {
    db: DatabaseConnection,
    local: broadcast::Sender<Hint>,
    queue: mpsc::Sender<Vec<GenScope>>,
    /// This process, so it ignores its own hints coming back from Redis.
    origin: String,
    /// The channel, `prefix:hints`.
    channel: String,
    redis: Option<Nodes>,
    /// The connection hints are published on, made at the first hint and again after a fault.
    publisher: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    /// The generations this process last saw or hinted, by scope name.
    seen: Mutex<HashMap<String, Generation>>,
    /// Counters for `/metrics`.
    published: std::sync::atomic::AtomicU64,
    received: std::sync::atomic::AtomicU64,
}

/// A hint as it travels through Redis.
#[derive(serde::Serialize, serde::Deserialize)]
struct Wire {
    from: String,
    gens: HashMap<String, String>,
}

impl Hints {
    /// The bus over `db`, publishing on `prefix:hints` of `redis_url` when given. Starts its
    /// tasks (hinting, Redis subscription, sweeping every `sweep`); they end when the last
    /// handle is dropped.
    pub fn start(
        db: DatabaseConnection,
        redis_url: Option<&str>,
        prefix: &str,
        sweep: Duration,
    ) -> Hints {
        let (local, _) = broadcast::channel(BACKLOG);
        let (queue, pending) = mpsc::channel(QUEUE);
        let redis = redis_url.and_then(|url| match Nodes::open(url) {
            Ok(nodes) => Some(nodes),
            Err(e) => {
                tracing::warn!(error = %e, "hints: the Redis URL is unusable; hints stay in process");
                None
            }
        });
        let hints = Hints {
            inner: Arc::new(Inner {
                db,
                local,
                queue,
                origin: uuid::Uuid::new_v4().simple().to_string(),
                channel: format!("{prefix}:hints"),
                redis,
                publisher: tokio::sync::Mutex::new(None),
                seen: Mutex::new(HashMap::new()),
                published: Default::default(),
                received: Default::default(),
            }),
        };
        let weak = Arc::downgrade(&hints.inner);
        tokio::spawn(hint_writes(weak.clone(), pending));
        tokio::spawn(sweep_every(weak.clone(), sweep));
        if hints.inner.redis.is_some() {
            tokio::spawn(listen(weak));
        }
        hints
    }

    /// Hears every hint from now on.
    pub fn listen(&self) -> broadcast::Receiver<Hint> {
        self.inner.local.subscribe()
    }

    /// Tells the bus that a committed write raised `scopes` (and the register). Never waits: a
    /// hint the queue cannot take is left to the next sweep.
    pub fn raised(&self, scopes: &[GenScope]) {
        let mut scopes = scopes.to_vec();
        scopes.push(GenScope::Register);
        if self.inner.queue.try_send(scopes).is_err() {
            tracing::debug!("hints: queue full; the next sweep will tell");
        }
    }

    /// Hints every generation that moved since this process last looked (for a command that
    /// wrote in its own process, such as an import, and has no listeners of its own), and
    /// waits until the hint is published.
    pub async fn announce(&self) {
        sweep(&self.inner, true).await;
    }

    /// Hints published to Redis and received from it, for `/metrics`.
    pub fn counts(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.inner.published.load(Relaxed),
            self.inner.received.load(Relaxed),
        )
    }
}

impl Inner {
    /// Keeps what moved past what was seen, and returns it.
    fn advance(&self, gens: HashMap<String, Generation>) -> HashMap<String, Generation> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let mut moved = HashMap::new();
        for (scope, g) in gens {
            if seen.get(&scope).is_none_or(|old| g.is_after(old)) {
                seen.insert(scope.clone(), g);
                moved.insert(scope, g);
            }
        }
        moved
    }

    /// Tells this process, and publishes to Redis when `publish`.
    async fn hint(&self, gens: HashMap<String, Generation>, publish: bool) {
        let moved = self.advance(gens);
        if moved.is_empty() {
            return;
        }
        // This process first: a slow or absent Redis never holds its own subscriptions back.
        let moved = Arc::new(moved);
        let _ = self.local.send(Hint::Moved(moved.clone()));
        if publish {
            self.publish(&moved).await;
        }
    }

    async fn publish(&self, gens: &HashMap<String, Generation>) {
        let Some(nodes) = &self.redis else {
            return;
        };
        let wire = Wire {
            from: self.origin.clone(),
            gens: gens.iter().map(|(s, g)| (s.clone(), g.encode())).collect(),
        };
        let Ok(text) = serde_json::to_string(&wire) else {
            return;
        };
        let mut publisher = self.publisher.lock().await;
        // A kept connection may have died with a Redis restart: one more try on a fresh one.
        for _ in 0..2 {
            let sent = tokio::time::timeout(REDIS_TIMEOUT, async {
                if publisher.is_none() {
                    *publisher = Some(nodes.client().get_multiplexed_async_connection().await?);
                }
                match publisher.as_mut() {
                    Some(conn) => {
                        redis::cmd("PUBLISH")
                            .arg(&self.channel)
                            .arg(&text)
                            .query_async::<i64>(conn)
                            .await
                    }
                    None => Ok(0),
                }
            })
            .await;
            match sent {
                Ok(Ok(_)) => {
                    self.published
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return;
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "hints: publish failed"),
                Err(_) => tracing::debug!("hints: publish timed out"),
            }
            *publisher = None;
            nodes.next();
        }
    }
}

/// Drains the writes' queue: reads the raised generations (all that are waiting, in one read),
/// tells this process and publishes.
async fn hint_writes(inner: std::sync::Weak<Inner>, mut pending: mpsc::Receiver<Vec<GenScope>>) {
    while let Some(first) = pending.recv().await {
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let mut scopes = first;
        while let Ok(more) = pending.try_recv() {
            scopes.extend(more);
        }
        // Nobody to tell: the next sweep brings what this process saw up to date.
        if inner.redis.is_none() && inner.local.receiver_count() == 0 {
            continue;
        }
        scopes.sort();
        scopes.dedup();
        match generation::read_in_background(&inner.db, &scopes).await {
            Ok(values) => {
                let gens = scopes.iter().map(GenScope::name).zip(values).collect();
                inner.hint(gens, true).await;
            }
            Err(e) => tracing::debug!(error = %e, "hints: generations unread; the sweep will tell"),
        }
    }
}

/// Compares every generation in the database with what this process saw, and hints what moved.
/// The first sweep only learns where things stand.
async fn sweep(inner: &Inner, publish: bool) {
    match generation::all(&inner.db).await {
        Ok(all) => {
            let first = inner.seen.lock().map(|s| s.is_empty()).unwrap_or(false);
            if first && !publish {
                inner.advance(all);
            } else {
                inner.hint(all, publish).await;
            }
        }
        Err(e) => tracing::debug!(error = %e, "hints: sweep skipped"),
    }
}

async fn sweep_every(inner: std::sync::Weak<Inner>, every: Duration) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        sweep(&inner, false).await;
    }
}

/// Receives other replicas' hints from Redis, reconnecting for as long as the bus lives. Each
/// (re)connection is followed by a sweep: whatever was hinted while it was away is found there.
async fn listen(weak: std::sync::Weak<Inner>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let Some(inner) = weak.upgrade() else {
            return;
        };
        let Some(client) = inner.redis.as_ref().map(Nodes::client) else {
            return;
        };
        let channel = inner.channel.clone();
        drop(inner);
        let connected = tokio::time::timeout(REDIS_TIMEOUT, async {
            let pubsub = client.get_async_pubsub().await?;
            let (mut sink, stream) = pubsub.split();
            sink.subscribe(&channel).await?;
            Ok::<_, redis::RedisError>((sink, stream))
        })
        .await;
        let (mut sink, mut stream) = match connected {
            Ok(Ok(pair)) => pair,
            _ => {
                if let Some(nodes) = weak.upgrade().as_ref().and_then(|i| i.redis.as_ref()) {
                    nodes.next();
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        let Some(inner) = weak.upgrade() else {
            return;
        };
        tracing::debug!("hints: subscribed to Redis");
        sweep(&inner, false).await;
        drop(inner);
        let mut probe = tokio::time::interval(PROBE_EVERY);
        probe.tick().await;
        loop {
            tokio::select! {
                msg = stream.next() => {
                    let Some(msg) = msg else { break };
                    let Some(inner) = weak.upgrade() else { return };
                    let Ok(text) = msg.get_payload::<String>() else { continue };
                    let Ok(wire) = serde_json::from_str::<Wire>(&text) else { continue };
                    if wire.from == inner.origin {
                        continue;
                    }
                    inner.received.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let gens = wire
                        .gens
                        .iter()
                        .filter_map(|(s, g)| Some((s.clone(), Generation::decode(g)?)))
                        .collect();
                    inner.hint(gens, false).await;
                }
                _ = probe.tick() => {
                    let alive = tokio::time::timeout(REDIS_TIMEOUT, sink.ping::<String>()).await;
                    if !matches!(alive, Ok(Ok(_))) {
                        break;
                    }
                }
            }
        }
        tracing::debug!("hints: Redis subscription lost; reconnecting");
        // In a cluster the node may be gone for good: the next try is on the next node.
        if let Some(nodes) = weak.upgrade().as_ref().and_then(|i| i.redis.as_ref()) {
            nodes.next();
        }
    }
}
