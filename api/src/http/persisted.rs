//! Automatic persisted queries (the Apollo APQ protocol) and the allow-list mode.
//!
//! A client sends `extensions.persistedQuery = { version: 1, sha256Hash }`, first without the
//! query text; when the server does not know the hash it answers `PERSISTED_QUERY_NOT_FOUND`
//! and the client sends text and hash together, which registers the text for every replica
//! (in Redis when configured, in process otherwise). In allow-list mode only documents loaded at
//! start (`--persisted-queries FILE`) run, and clients cannot register new ones.

use super::protocol::{Params, Rejection};
use crate::cache::Cache;
use axum::http::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;

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

fn refusal(status: StatusCode, code: &'static str, message: impl Into<String>) -> Rejection {
    Rejection {
        status,
        code,
        message: message.into(),
    }
}

/// Resolves `params.query` from the persisted-query extension and the allow-list.
pub async fn resolve(
    params: &mut Params,
    cache: &Cache,
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
                    "BAD_REQUEST",
                    "only persisted-query version 1 is supported",
                ));
            }
            match pq.get("sha256Hash").and_then(Value::as_str) {
                Some(h) => Some(h.to_ascii_lowercase()),
                None => {
                    return Err(refusal(
                        StatusCode::BAD_REQUEST,
                        "BAD_REQUEST",
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
                "PERSISTED_QUERY_NOT_ALLOWED",
                "this server runs registered documents only",
            )),
        };
    }
    let Some(hash) = hash else { return Ok(()) };
    if params.query.is_empty() {
        return match cache.persisted_get(&hash).await {
            Some(text) => {
                params.query = text;
                Ok(())
            }
            // The protocol's own words, which clients match on, with 200 so they retry.
            None => Err(refusal(
                StatusCode::OK,
                "PERSISTED_QUERY_NOT_FOUND",
                "PersistedQueryNotFound",
            )),
        };
    }
    if sha256_hex(&params.query) != hash {
        return Err(refusal(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "provided sha does not match query",
        ));
    }
    debug_assert!(!allow.is_enforced());
    cache.persisted_put(&hash, &params.query).await;
    Ok(())
}
