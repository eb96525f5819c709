//! Serving a request from the whole-response cache: the keys a response is kept under, the
//! lookup, and serving a hit (charged and audited like the execution it stands for).
use super::protocol::MediaType;
use super::read_audit::audit_reads;
use super::respond::{json_response, reject, with_cost};
use super::response_store::{CachedResponse, PersonalResponse};
use super::throttle;
use super::AppState;
use crate::auth::Caller;
use crate::cache::Generation;
use crate::error::Code;
use crate::graphql::cost::Meter;
use crate::graphql::RequestId;
use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use std::sync::Arc;

/// Who is asking, as far as a shared response can depend on it: part of every whole-response
/// cache key, so one client is never served what was computed for another. A shared response
/// depends on the caller's role, area, site and personal-data grant, never on who the caller is
/// otherwise; a response that read personal records is kept under [`caller_scope`] instead.
pub(super) fn response_scope(caller: &Caller) -> String {
    match caller.principal() {
        None => "anonymous".to_owned(),
        Some(p) => format!(
            "{}|{}|{}|{}",
            p.role,
            p.area_code,
            p.site_code.as_deref().unwrap_or("-"),
            if p.pii { "pii" } else { "masked" }
        ),
    }
}

/// The scope of a response that read personal records: the one caller it was made for.
pub(super) fn caller_scope(caller: &Caller) -> Option<String> {
    let p = caller.principal()?;
    Some(format!("{}|caller:{}", response_scope(caller), p.actor))
}

/// Whether the client asked for a fresh answer (`Cache-Control: no-cache`, or `Pragma: no-cache`
/// from an HTTP/1.0 client): the response is then executed, never taken from the cache.
pub(super) fn wants_fresh(headers: &HeaderMap) -> bool {
    let says_no_cache = |name: header::HeaderName| {
        headers.get_all(name).iter().any(|v| {
            v.to_str().is_ok_and(|v| {
                v.split(',')
                    .any(|d| d.trim().eq_ignore_ascii_case("no-cache"))
            })
        })
    };
    says_no_cache(header::CACHE_CONTROL) || says_no_cache(header::PRAGMA)
}

/// A whole response found in the cache, and what serving it again involves.
pub(super) struct Hit<'a> {
    response: CachedResponse,
    /// The caller's own entry, for a response that read personal records: the records it shows
    /// unmasked are audited again before it leaves.
    personal: Option<Arc<PersonalResponse>>,
    /// The purpose the client stated for this request.
    purpose: Option<&'a str>,
}

/// The cached response to this request, if any: under `(caller_key, cache_key)`, the caller's
/// own first, then the one shared by its scope; to be served for `purpose`.
pub(super) async fn lookup<'a>(
    state: &AppState,
    (caller_key, cache_key): (Option<&str>, &str),
    generation: Generation,
    purpose: Option<&'a str>,
) -> Option<Hit<'a>> {
    if let Some(key) = caller_key {
        if let Some(p) = state.responses.personal_get(key, generation).await {
            return Some(Hit {
                response: p.response.clone(),
                personal: Some(p),
                purpose,
            });
        }
    }
    let response = state.responses.get(cache_key, generation).await?;
    Some(Hit {
        response,
        personal: None,
        purpose,
    })
}

/// Serves a cached response: charged what its document cost when it was executed, and its
/// unmasked reads audited under this request before it leaves.
pub(super) async fn serve_hit(
    state: &AppState,
    caller: &Caller,
    media: MediaType,
    request_id: &RequestId,
    meter: &Meter,
    started: std::time::Instant,
    hit: Hit<'_>,
) -> Response {
    let operation = state
        .metrics
        .operation_label(hit.response.operation.as_deref());
    if let Err(refused) = meter.pay(hit.response.cost).await {
        let code = refused
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .and_then(|v| match v {
                async_graphql::Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_else(|| Code::Throttled.as_str().into());
        state.metrics.executed(
            &operation,
            started.elapsed().as_secs_f64(),
            &[code.as_str()],
        );
        let body = serde_json::json!({
            "errors": [{
                "message": refused.message,
                "extensions": { "code": code, "requestId": request_id.0 },
            }],
        });
        let body = Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
        let status = if media == MediaType::GraphqlResponse {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        let body = with_cost(body, meter.report().await);
        return throttle::finish(meter, json_response(status, media, body));
    }
    let reads = hit
        .personal
        .as_ref()
        .map_or(&[][..], |p| p.reads.as_slice());
    if let Some(who) = caller.principal() {
        if let Err(rejection) = audit_reads(state, who, request_id, hit.purpose, reads).await {
            return reject(state, media, request_id, rejection);
        }
    }
    state
        .metrics
        .executed(&operation, started.elapsed().as_secs_f64(), &[]);
    let body = with_cost(hit.response.body, meter.report().await);
    throttle::finish(meter, json_response(StatusCode::OK, media, body))
}
