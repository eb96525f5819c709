//! Automatic persisted queries (the Apollo APQ protocol) and the allow-list mode.
//!
//! A client sends `extensions.persistedQuery = { version: 1, sha256Hash }`, first without the
//! query text; when the server does not know the hash it answers `PERSISTED_QUERY_NOT_FOUND`
//! and the client sends text and hash together, which registers the text for every replica
//! (in Redis when configured, in process otherwise). In allow-list mode only documents loaded at
//! start (`--persisted-queries FILE`) run, and clients cannot register new ones.

use super::protocol::{Params, Rejection};
use crate::cache::{Cache, RedisBackend};
use crate::error::Code;
use axum::http::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

/// How long a registered persisted query is kept after its last registration.
const PERSISTED_TTL: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);
/// Memory for the texts of persisted queries in this process.
const LOCAL_BYTES: u64 = 16 * 1024 * 1024;

/// Registered persisted queries: their texts by hash, in this process and, with Redis, for
/// every replica. A text does not depend on the register's data, so every register under one
/// prefix shares them.
#[derive(Clone)]
pub struct PersistedStore {
    prefix: Arc<str>,
    shared: Option<Arc<RedisBackend>>,
    local: moka::future::Cache<String, Arc<str>>,
}

impl PersistedStore {
    /// A store in this process and in `cache`'s Redis, if it has one.
    pub fn new(cache: &Cache) -> Self {
        PersistedStore {
            prefix: cache.prefix().into(),
            shared: cache.redis(),
            local: moka::future::Cache::builder()
                .max_capacity(LOCAL_BYTES)
                .weigher(|k: &String, v: &Arc<str>| {
                    u32::try_from(k.len() + v.len()).unwrap_or(u32::MAX)
                })
                .build(),
        }
    }

    fn key(&self, hash: &str) -> String {
        format!("{}:apq:{hash}", self.prefix)
    }

    /// A persisted query's text by hash: from this process, else from Redis.
    pub async fn get(&self, hash: &str) -> Option<String> {
        let key = self.key(hash);
        if let Some(text) = self.local.get(&key).await {
            return Some(text.to_string());
        }
        let shared = self.shared.as_ref()?;
        let text = String::from_utf8(shared.get_bytes(&key).await.ok()??).ok()?;
        self.local.insert(key, text.as_str().into()).await;
        Some(text)
    }

    /// Registers a persisted query (its hash already checked) for every replica.
    pub async fn put(&self, hash: &str, text: &str) {
        let key = self.key(hash);
        if let Some(shared) = &self.shared {
            let _ = shared.set_bytes(&key, text.as_bytes(), PERSISTED_TTL).await;
        }
        self.local.insert(key, text.into()).await;
    }
}

/// The documents a deployment allows, by SHA-256 hash, when it runs in allow-list mode.
#[derive(Debug, Clone, Default)]
pub struct AllowList(Option<Arc<HashMap<String, String>>>);

impl AllowList {
    /// No allow-list: any document may run.
    pub fn open() -> Self {
        AllowList(None)
    }

    /// Only these documents may run.
    pub fn only(documents: impl IntoIterator<Item = String>) -> Self {
        let map = documents.into_iter().map(|d| (sha256_hex(&d), d)).collect();
        AllowList(Some(Arc::new(map)))
    }

    /// Reads a JSON file: either an array of documents or an object of `hash: document`
    /// (the hash is recomputed, so a wrong one cannot smuggle a document in).
    pub fn from_file(path: &std::path::Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)?;
        let docs: Vec<String> = match serde_json::from_str::<Value>(&text)? {
            Value::Array(items) => items
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            Value::Object(map) => map
                .into_values()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
            _ => anyhow::bail!(
                "{}: expected a JSON array or object of documents",
                path.display()
            ),
        };
        Ok(AllowList::only(docs))
    }

    fn is_enforced(&self) -> bool {
        self.0.is_some()
    }
}

/// Hex SHA-256 of a document, as the APQ protocol writes it.
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn refusal(status: StatusCode, code: Code, message: impl Into<String>) -> Rejection {
    Rejection {
        status,
        code,
        message: message.into(),
    }
}

/// Resolves `params.query` from the persisted-query extension and the allow-list.
pub async fn resolve(
    params: &mut Params,
    store: &PersistedStore,
    allow: &AllowList,
) -> Result<(), Rejection> {
    let hash = match params
        .extensions
        .as_mut()
        .and_then(|e| e.remove("persistedQuery"))
    {
        None => None,
        Some(pq) => {
            if pq.get("version").and_then(Value::as_i64) != Some(1) {
                return Err(refusal(
                    StatusCode::BAD_REQUEST,
                    Code::BadRequest,
                    "only persisted-query version 1 is supported",
                ));
            }
            match pq.get("sha256Hash").and_then(Value::as_str) {
                Some(h) => Some(h.to_ascii_lowercase()),
                None => {
                    return Err(refusal(
                        StatusCode::BAD_REQUEST,
                        Code::BadRequest,
                        "`persistedQuery.sha256Hash` is missing",
                    ))
                }
            }
        }
    };
    if let Some(docs) = &allow.0 {
        let key = hash.clone().unwrap_or_else(|| sha256_hex(&params.query));
        return match docs.get(&key) {
            Some(doc) if params.query.is_empty() || *doc == params.query => {
                params.query = doc.clone();
                Ok(())
            }
            _ => Err(refusal(
                StatusCode::FORBIDDEN,
                Code::PersistedQueryNotAllowed,
                "this server runs registered documents only",
            )),
        };
    }
    let Some(hash) = hash else { return Ok(()) };
    if params.query.is_empty() {
        return match store.get(&hash).await {
            Some(text) => {
                params.query = text;
                Ok(())
            }
            // The protocol's own words, which clients match on, with 200 so they retry.
            None => Err(refusal(
                StatusCode::OK,
                Code::PersistedQueryNotFound,
                "PersistedQueryNotFound",
            )),
        };
    }
    if sha256_hex(&params.query) != hash {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            Code::BadRequest,
            "provided sha does not match query",
        ));
    }
    debug_assert!(!allow.is_enforced());
    store.put(&hash, &params.query).await;
    Ok(())
}
