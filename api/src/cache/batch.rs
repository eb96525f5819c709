//! Shared reads of generation counters across concurrent requests.
//!
//! Every cached lookup first needs the current generations. Under load, thousands of requests a
//! second would each pay that read; here one task does the reads back to back, and each read
//! answers every request that was already waiting when it started. A read that starts after a
//! request arrived sees every write committed before that request, so sharing it keeps the
//! freshness guarantee exactly.

use super::generation::GenScope;
use super::redis_backend::RedisBackend;
use sea_orm::{DatabaseConnection, DbErr};
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

type Reply = oneshot::Sender<Result<Vec<i64>, String>>;

/// The handle through which requests ask for generations.
#[derive(Clone)]
pub struct GenerationReader {
    tx: mpsc::UnboundedSender<(Vec<GenScope>, Reply)>,
}

impl GenerationReader {
    /// Starts the reading task; it ends when the last handle is dropped.
    pub fn start(db: DatabaseConnection, redis: Option<Arc<RedisBackend>>, prefix: String) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<(Vec<GenScope>, Reply)>();
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
                let result = super::read_generations(&db, redis.as_deref(), &prefix, &scopes).await;
                for (asked, reply) in waiting {
                    let answer = match &result {
                        Ok(values) => Ok(asked
                            .iter()
                            .map(|a| {
                                scopes
                                    .binary_search(a)
                                    .ok()
                                    .and_then(|i| values.get(i).copied())
                                    .unwrap_or(0)
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
    pub async fn read(&self, scopes: &[GenScope]) -> Result<Vec<i64>, DbErr> {
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
