//! Shared reads of generations across concurrent requests.
//!
//! Every cached lookup first needs the current generations. Under load, thousands of requests a
//! second would each pay that read; here one task does the reads back to back, and each read
//! answers every request that was already waiting when it started. A read that starts after a
//! request arrived sees every write committed before that request, so sharing it keeps the
//! freshness guarantee exactly.
//!
//! The task also keeps, per scope, the latest generation this process has read (its floor). A
//! mirrored generation older than the floor is a mirror that missed a raise (Redis was frozen
//! or unreachable while a write committed, and this process read the newer generation from the
//! database meanwhile): the database is asked instead, and the mirror repaired, so no answer
//! this process gives ever goes back to an older state than one it already gave. The database
//! always has the last word, even when it is older than the floor: that is a restore. Nor is
//! the mirror read at all before this process has reconciled it with the database once.

use super::generation::{self, GenScope, Generation};
use super::redis_backend::RedisBackend;
use super::Namespace;
use sea_orm::{DatabaseConnection, DbErr};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

type Reply = oneshot::Sender<Result<Vec<Generation>, String>>;

/// The handle through which requests ask for generations.
#[derive(Clone)]
pub struct GenerationReader {
    tx: mpsc::UnboundedSender<(Vec<GenScope>, Reply)>,
}

/// The reading task's state.
struct Reading {
    db: DatabaseConnection,
    redis: Option<Arc<RedisBackend>>,
    namespace: Namespace,
    /// Whether this process has reconciled the mirror with the database yet (see
    /// `Cache::publish_generations`); the mirror is not read before.
    synced: Arc<AtomicBool>,
    /// The stamp of the latest generation read, per scope name.
    floors: HashMap<String, i64>,
}

impl Reading {
    /// The current generations of `scopes`: from Redis when it answers, knows them all and none
    /// is older than this process has seen; otherwise from the database (then mirrored).
    async fn read(&mut self, scopes: &[GenScope]) -> Result<Vec<Generation>, DbErr> {
        let names: Vec<String> = scopes.iter().map(GenScope::name).collect();
        let synced = self.synced.load(Ordering::Acquire);
        if let Some(redis) = self.redis.as_ref().filter(|_| synced) {
            let hash = self.namespace.generations_key();
            if let Ok(values) = redis.hash_get(&hash, &names).await {
                let mirrored: Option<Vec<Generation>> = values
                    .iter()
                    .map(|v| v.as_deref().and_then(Generation::decode))
                    .collect();
                if let Some(mirrored) = mirrored.filter(|m| self.not_behind(&names, m)) {
                    self.lift(&names, &mirrored);
                    return Ok(mirrored);
                }
                let truth = generation::read(&self.db, scopes).await?;
                let pairs: Vec<(String, String)> = names
                    .iter()
                    .zip(&truth)
                    .map(|(n, g)| (n.clone(), g.encode()))
                    .collect();
                let _ = redis.raise(&hash, &pairs).await;
                self.settle(&names, &truth);
                return Ok(truth);
            }
        }
        let truth = generation::read(&self.db, scopes).await?;
        self.settle(&names, &truth);
        Ok(truth)
    }

    /// Whether none of `mirrored` is older than what this process has read before.
    fn not_behind(&self, names: &[String], mirrored: &[Generation]) -> bool {
        names
            .iter()
            .zip(mirrored)
            .all(|(n, g)| g.stamp >= self.floors.get(n).copied().unwrap_or(i64::MIN))
    }

    /// Raises the floors to generations read from the mirror.
    fn lift(&mut self, names: &[String], read: &[Generation]) {
        for (name, g) in names.iter().zip(read) {
            let floor = self.floors.entry(name.clone()).or_insert(g.stamp);
            *floor = (*floor).max(g.stamp);
        }
    }

    /// Sets the floors to generations read from the database, the truth, lower or not.
    fn settle(&mut self, names: &[String], read: &[Generation]) {
        for (name, g) in names.iter().zip(read) {
            self.floors.insert(name.clone(), g.stamp);
        }
    }
}

impl GenerationReader {
    /// Starts the reading task; it ends when the last handle is dropped.
    pub(super) fn start(
        db: DatabaseConnection,
        redis: Option<Arc<RedisBackend>>,
        namespace: Namespace,
        synced: Arc<AtomicBool>,
    ) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<(Vec<GenScope>, Reply)>();
        let mut reading = Reading {
            db,
            redis,
            namespace,
            synced,
            floors: HashMap::new(),
        };
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                // Everyone who is waiting now shares the read that starts now.
                let mut waiting = vec![first];
                while let Ok(next) = rx.try_recv() {
                    waiting.push(next);
                }
                let scopes: Vec<GenScope> = waiting
                    .iter()
                    .flat_map(|(s, _)| s.iter().cloned())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                let result = reading.read(&scopes).await;
                for (asked, reply) in waiting {
                    let answer = match &result {
                        Ok(values) => Ok(asked
                            .iter()
                            .map(|a| {
                                scopes
                                    .binary_search(a)
                                    .ok()
                                    .and_then(|i| values.get(i).copied())
                                    .unwrap_or(Generation::NONE)
                            })
                            .collect()),
                        Err(e) => Err(e.to_string()),
                    };
                    let _ = reply.send(answer);
                }
            }
        });
        GenerationReader { tx }
    }

    /// The current generations of `scopes`, in order.
    pub async fn read(&self, scopes: &[GenScope]) -> Result<Vec<Generation>, DbErr> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((scopes.to_vec(), reply))
            .map_err(|_| DbErr::Custom("the generation reader has stopped".into()))?;
        answer
            .await
            .map_err(|_| DbErr::Custom("the generation reader has stopped".into()))?
            .map_err(DbErr::Custom)
    }
}
