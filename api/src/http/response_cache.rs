//! Keys of the whole-response cache.
//!
//! A cached response is found by a hash of everything its body depends on: the document text
//! (after persisted-query resolution), the operation name, the variables and remaining
//! extensions (as canonical JSON), who asks (the access scope), today's date in China Standard
//! Time (the default `asOf`), and the deployment's fingerprint (schema and limits, so replicas
//! of another version or configuration sharing Redis never answer for each other). The
//! generation it was computed under is added by the cache itself.

use super::protocol::Params;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::sync::{OwnedRwLockWriteGuard, RwLock};

/// What every response key of this deployment shares.
#[derive(Debug, Clone)]
pub struct ResponseKeys {
    fingerprint: [u8; 32],
}

impl ResponseKeys {
    /// Keys for a server with this schema (SDL) and these settings.
    pub fn new(sdl: &str, limits: &crate::graphql::limits::Limits, production: bool) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(sdl.as_bytes());
        hasher.update(format!("{limits:?} production={production}").as_bytes());
        ResponseKeys {
            fingerprint: hasher.finalize().into(),
        }
    }

    /// The key of the response to `params` for a client of `scope`.
    pub fn key(&self, params: &Params, scope: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.fingerprint);
        field(&mut hasher, scope.as_bytes());
        field(
            &mut hasher,
            crate::graphql::indicators::today().to_string().as_bytes(),
        );
        field(&mut hasher, params.query.as_bytes());
        match &params.operation_name {
            None => hasher.update([0]),
            Some(name) => {
                hasher.update([1]);
                field(&mut hasher, name.as_bytes());
            }
        }
        let mut json = Vec::new();
        canonical_object(params.variables.as_ref(), &mut json);
        field(&mut hasher, &json);
        json.clear();
        canonical_object(params.extensions.as_ref(), &mut json);
        field(&mut hasher, &json);
        hex::encode(hasher.finalize())
    }
}

/// Hashes one length-prefixed field, so no two field lists hash alike by shifting bytes.
fn field(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

/// An optional object as canonical JSON (absent and empty alike).
fn canonical_object(map: Option<&Map<String, Value>>, out: &mut Vec<u8>) {
    match map {
        None => out.extend_from_slice(b"{}"),
        Some(m) => canonical_map(m, out),
    }
}

/// JSON with object keys sorted at every level, so equal values give equal bytes whatever the
/// order the client wrote them in.
fn canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(m) => canonical_map(m, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(item, out);
            }
            out.push(b']');
        }
        scalar => {
            let _ = serde_json::to_writer(&mut *out, scalar);
        }
    }
}

fn canonical_map(map: &Map<String, Value>, out: &mut Vec<u8>) {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    out.push(b'{');
    for (i, (k, v)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = serde_json::to_writer(&mut *out, k);
        out.push(b':');
        canonical(v, out);
    }
    out.push(b'}');
}

/// The cacheable executions under way, by response key: when several requests for one uncached
/// response arrive together, the first executes it and the others wait for it to finish, then
/// look in the cache again. A burst of identical requests is then one execution, not one each
/// (and not one in-flight copy of the engine's work per request). A follower whose response
/// was not stored (it had errors, or read personal records) executes its own, unhindered.
#[derive(Debug, Default)]
pub struct InFlight {
    running: std::sync::Mutex<std::collections::HashMap<String, Arc<RwLock<()>>>>,
}

/// What [`InFlight::join`] makes of a request.
pub enum Turn {
    /// The first for its key: execute, store, then drop the lead so that the followers look.
    Lead(Lead),
    /// Another request for the key has finished executing: look in the cache again.
    Followed,
}

/// The first request's claim on a key; dropping it (however the request ends) lets the
/// followers go.
pub struct Lead {
    key: String,
    flight: Arc<InFlight>,
    _running: OwnedRwLockWriteGuard<()>,
}

impl Drop for Lead {
    fn drop(&mut self) {
        if let Ok(mut running) = self.flight.running.lock() {
            running.remove(&self.key);
        }
    }
}

impl InFlight {
    /// Leads the execution of `key`, or waits for the one under way to finish.
    pub async fn join(self: &Arc<Self>, key: &str) -> Turn {
        let under_way = {
            let Ok(mut running) = self.running.lock() else {
                return Turn::Followed;
            };
            match running.get(key) {
                Some(lock) => lock.clone(),
                None => {
                    let lock = Arc::new(RwLock::new(()));
                    let Ok(guard) = lock.clone().try_write_owned() else {
                        return Turn::Followed;
                    };
                    running.insert(key.to_owned(), lock);
                    return Turn::Lead(Lead {
                        key: key.to_owned(),
                        flight: self.clone(),
                        _running: guard,
                    });
                }
            }
        };
        drop(under_way.read().await);
        Turn::Followed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(query: &str, variables: Value) -> Params {
        Params {
            query: query.into(),
            operation_name: None,
            variables: variables.as_object().cloned(),
            extensions: None,
        }
    }

    #[test]
    fn keys_ignore_key_order_and_tell_everything_else_apart() {
        let keys = ResponseKeys::new("type Query { a: Int }", &Default::default(), false);
        let k = |q: &str, v: Value| keys.key(&params(q, v), "public");
        assert_eq!(
            k("{ a }", json!({ "x": 1, "y": { "b": 2, "a": [1, 2] } })),
            k("{ a }", json!({ "y": { "a": [1, 2], "b": 2 }, "x": 1 }))
        );
        assert_ne!(k("{ a }", json!({ "x": 1 })), k("{ a }", json!({ "x": 2 })));
        assert_ne!(k("{ a }", json!({})), k("{ a  }", json!({})));
        assert_eq!(
            k("{ a }", json!({})),
            keys.key(&params("{ a }", Value::Null), "public")
        );
        assert_ne!(
            keys.key(&params("{ a }", json!({})), "public"),
            keys.key(&params("{ a }", json!({})), "county:140721")
        );
        let mut named = params("{ a }", json!({}));
        named.operation_name = Some("A".into());
        assert_ne!(keys.key(&named, "public"), k("{ a }", json!({})));
        let other = ResponseKeys::new("type Query { a: Int }", &Default::default(), true);
        assert_ne!(
            other.key(&params("{ a }", json!({})), "public"),
            k("{ a }", json!({}))
        );
    }
}
