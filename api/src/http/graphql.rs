//! The GraphQL endpoint and its neighbours.

use super::persisted;
use super::protocol::{self, MediaType, Rejection};
use super::response_cache::Turn;
use super::response_store::{CachedResponse, PersonalResponse};
use super::throttle;
use super::AppState;
use crate::auth::audit::{self, ReadAudit};
use crate::auth::scope::Access;
use crate::auth::{AuthError, Caller};
use crate::cache::{GenScope, Generation};
use crate::error::Code;
use crate::graphql::cost::Meter;
use crate::graphql::{loaders, RequestId, ResponseCachePolicy, Reuse};
use async_graphql::http::GraphiQLSource;
use async_graphql::parser::types::OperationType;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{header, Extensions, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use sea_orm::ConnectionTrait;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Who is asking, as far as a shared response can depend on it: part of every whole-response
/// cache key, so one client is never served what was computed for another. A shared response
/// depends on the caller's role, area, site and personal-data grant, never on who the caller is
/// otherwise; a response that read personal records is kept under [`caller_scope`] instead.
fn response_scope(caller: &Caller) -> String {
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
fn caller_scope(caller: &Caller) -> Option<String> {
    let p = caller.principal()?;
    Some(format!("{}|caller:{}", response_scope(caller), p.actor))
}

/// Whether the client asked for a fresh answer (`Cache-Control: no-cache`, or `Pragma: no-cache`
/// from an HTTP/1.0 client): the response is then executed, never taken from the cache.
fn wants_fresh(headers: &HeaderMap) -> bool {
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

/// Runs one GraphQL request per the GraphQL-over-HTTP specification. Every error leaves with an
/// `extensions.code` and the request id; the schema codes the engine's errors as well as its own
/// (see `graphql::errors`), so one that arrives here without a code is an unplanned failure and
/// is masked as `INTERNAL`.
pub async fn execute(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    connection: Extensions,
    Query(query): Query<HashMap<String, String>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let request_id = RequestId::new();
    let body = match body {
        Ok(body) => body,
        Err(rejection) if super::serve::is_body_timeout(&rejection) => {
            tracing::info!(request_id = %request_id.0, "request body not received in time");
            let mut response = reject(
                &state,
                protocol::negotiate(&headers).unwrap_or(MediaType::Json),
                &request_id,
                Rejection {
                    status: StatusCode::REQUEST_TIMEOUT,
                    code: Code::BodyTimeout,
                    message: "the request body did not arrive in time".into(),
                },
            );
            // The rest of the body may still come: the connection cannot carry another request.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
        Err(rejection) => return rejection.into_response(),
    };
    let Some(media) = protocol::negotiate(&headers) else {
        return reject(
            &state,
            MediaType::Json,
            &request_id,
            Rejection {
                status: StatusCode::NOT_ACCEPTABLE,
                code: Code::NotAcceptable,
                message: "accept `application/graphql-response+json` or `application/json`".into(),
            },
        );
    };
    let caller = match state.auth.authenticate(&headers).await {
        Ok(caller) => caller,
        Err(e) => {
            tracing::info!(request_id = %request_id.0, reason = %e, "credentials refused");
            let mut response = reject(
                &state,
                media,
                &request_id,
                Rejection {
                    status: StatusCode::UNAUTHORIZED,
                    code: Code::Unauthenticated,
                    message: match e {
                        AuthError::Required => "credentials are required".into(),
                        AuthError::Unavailable => "the credentials could not be checked".into(),
                        _ => "the credentials are invalid, expired or revoked".into(),
                    },
                },
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"anju\""),
            );
            return response;
        }
    };
    let purpose = headers
        .get("anju-purpose")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(200).collect::<String>());
    let params = if method == Method::GET {
        protocol::from_query_string(query)
    } else {
        protocol::from_body(&headers, &body)
    };
    let mut params = match params {
        Ok(p) => p,
        Err(rejection) => return reject(&state, media, &request_id, rejection),
    };
    if let Err(rejection) =
        persisted::resolve(&mut params, &state.persisted, &state.allow_list).await
    {
        return reject(&state, media, &request_id, rejection);
    }
    let started = std::time::Instant::now();
    // The whole-response cache: keyed by everything the response depends on, under the
    // generation every write raises. Only error-free queries are stored, so a hit is always a
    // 200 for a query, valid for these very limits. A response that read personal records is
    // looked up for this very caller, and its unmasked reads are audited again.
    let cache_key = state.response_keys.key(&params, &response_scope(&caller));
    let caller_key = caller_scope(&caller).map(|scope| state.response_keys.key(&params, &scope));
    let generation = state
        .cache
        .generations(&[GenScope::Register])
        .await
        .ok()
        .and_then(|g| g.first().copied());
    let meter = throttle::meter(&state, &caller, &connection);
    // Looked up before the document is even parsed: a hit is the common case and needs no more.
    let looks = generation.filter(|_| !wants_fresh(&headers));
    if let Some(generation) = looks {
        let key = (caller_key.as_deref(), cache_key.as_str());
        if let Some(hit) = lookup(&state, key, generation, purpose.as_deref()).await {
            return serve_hit(&state, &caller, media, &request_id, &meter, started, hit).await;
        }
    }
    let mut request = async_graphql::Request::new(params.query);
    // Parsed once here (the engine reuses the parsed document) to refuse mutations over GET and
    // to name the operation in the metrics.
    let selected = request
        .parsed_query()
        .ok()
        .and_then(|doc| protocol::selected_operation(doc, params.operation_name.as_deref()));
    if method == Method::GET
        && selected
            .as_ref()
            .is_some_and(|(_, ty)| *ty == OperationType::Mutation)
    {
        let mut response = reject(
            &state,
            media,
            &request_id,
            Rejection {
                status: StatusCode::METHOD_NOT_ALLOWED,
                code: Code::MethodNotAllowed,
                message: "mutations are only accepted over POST".into(),
            },
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let named = params
        .operation_name
        .clone()
        .or(selected.as_ref().and_then(|(name, _)| name.clone()));
    let operation = state.metrics.operation_label(named.as_deref());
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(vars) = params.variables {
        request = request.variables(async_graphql::Variables::from_json(Value::Object(vars)));
    }
    if let Some(ext) = params.extensions {
        for (k, v) in ext {
            if let Ok(v) = async_graphql::Value::from_json(v) {
                request.extensions.insert(k, v);
            }
        }
    }
    let cacheable_operation = selected
        .as_ref()
        .is_some_and(|(_, ty)| *ty == OperationType::Query);
    // Held until this query's response is stored: identical queries arriving meanwhile wait for
    // it rather than execute it again. Mutations never wait on one another here.
    let mut _lead = None;
    if let (Some(generation), true) = (looks, cacheable_operation) {
        // Look once more whatever the turn: the execution just waited for, or one that finished
        // between the first look and the lead, may have stored the response.
        if let Turn::Lead(lead) = state.in_flight.join(&cache_key).await {
            _lead = Some(lead);
        }
        let key = (caller_key.as_deref(), cache_key.as_str());
        if let Some(hit) = lookup(&state, key, generation, purpose.as_deref()).await {
            return serve_hit(&state, &caller, media, &request_id, &meter, started, hit).await;
        }
        state.responses.missed();
    }
    let read_audit = Arc::new(ReadAudit::default());
    let policy = ResponseCachePolicy::default();
    let request = loaders::attach(
        request
            .data(request_id.clone())
            .data(policy.clone())
            .data(read_audit.clone())
            .data(meter.clone()),
        &state.db,
        &state.cache,
        Access::new(state.db.clone(), caller.clone()),
        state.loader_delay,
    );
    let Ok(mut response) =
        tokio::time::timeout(state.request_timeout, state.schema.execute(request)).await
    else {
        tracing::warn!(request_id = %request_id.0, timeout = ?state.request_timeout, "request timed out");
        return reject(
            &state,
            media,
            &request_id,
            Rejection {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: Code::Timeout,
                message: format!(
                    "the request took longer than {:?} and was stopped",
                    state.request_timeout
                ),
            },
        );
    };
    let read = read_audit.take();
    if let Some(who) = caller.principal() {
        if let Err(rejection) =
            audit_reads(&state, who, &request_id, purpose.as_deref(), &read).await
        {
            return reject(&state, media, &request_id, rejection);
        }
    }
    for error in &mut response.errors {
        let ext = error.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            tracing::error!(request_id = %request_id.0, message = %error.message, "uncoded error masked as INTERNAL");
            error.message = "internal error".into();
            ext.set("code", Code::Internal.as_str());
        }
        ext.set("requestId", request_id.0.clone());
    }
    let error_free = response.errors.is_empty();
    let codes: Vec<&str> = response
        .errors
        .iter()
        .filter_map(|e| e.extensions.as_ref()?.get("code"))
        .filter_map(|v| match v {
            async_graphql::Value::String(s) => Some(s.as_str()),
            _ => None,
        })
        .collect();
    state
        .metrics
        .executed(&operation, started.elapsed().as_secs_f64(), &codes);
    // A request error (the document did not parse or validate) happened before execution: the
    // response then has no `data`, and the specification's media type gets a 400.
    let request_error = !response.errors.is_empty()
        && response.data == async_graphql::Value::Null
        && response.errors.iter().all(|e| e.path.is_empty());
    let data = (!request_error).then_some(&response.data);
    // A database out of reach fails the request as a whole, however much of it was answered:
    // the client is to send it again shortly.
    let unavailable = codes.contains(&Code::DatabaseUnavailable.as_str());
    let status = if unavailable {
        StatusCode::SERVICE_UNAVAILABLE
    } else if request_error && media == MediaType::GraphqlResponse {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    // The response as it may be stored (without its cost, which is per request) and as it leaves.
    let store =
        generation.is_some() && cacheable_operation && error_free && response.extensions.is_empty();
    let cost = meter.report().await;
    // A body without extensions of its own (every storable one) is rendered without the cost,
    // which is then spliced in; one with its own gets the cost beside them as it is rendered.
    let own_extensions = !response.extensions.is_empty();
    let rendered = render(
        data,
        &response.errors,
        &response.extensions,
        own_extensions.then_some(&cost),
    );
    let rendered = match rendered {
        Ok(bytes) => Bytes::from(bytes),
        Err(e) => {
            tracing::error!(request_id = %request_id.0, error = %e, "response not serializable");
            return reject(&state, media, &request_id, Rejection::internal());
        }
    };
    if let (true, Some(generation)) = (store, generation) {
        let entry = CachedResponse {
            operation: named,
            cost: meter.requested_cost().unwrap_or(0),
            body: rendered.clone(),
        };
        // Whatever showed a record unmasked is personal, however the resolvers marked it.
        let reuse = if read.is_empty() {
            policy.reuse()
        } else {
            policy.reuse().max(Reuse::Caller)
        };
        match (reuse, &caller_key) {
            (Reuse::Shared, _) => state.responses.put(&cache_key, generation, entry).await,
            (Reuse::Caller, Some(key)) => {
                let entry = PersonalResponse {
                    response: entry,
                    reads: read,
                };
                state.responses.personal_put(key, generation, entry).await
            }
            // Personal records are shown to an anonymous caller as nothing at all; such an
            // answer is not worth keeping per caller.
            (Reuse::Caller, None) | (Reuse::Never, _) => {}
        }
    }
    let body = if own_extensions {
        rendered
    } else {
        with_cost(rendered, cost)
    };
    let mut response = json_response(status, media, body);
    if unavailable {
        retry_after(&mut response);
    }
    throttle::finish(&meter, response)
}

/// How long a client told the database is unavailable waits before sending again, in seconds:
/// the pool reconnects as soon as the database answers.
const RETRY_AFTER_SECS: &str = "1";

fn retry_after(response: &mut Response) {
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECS),
    );
}

/// Audits the records a response shows unmasked, before it leaves: personal data leaves only on
/// record, so when the audit cannot be written the response is withheld. A connection lost
/// under the insert (a database restart, a killed backend) is retried once: the pool checks a
/// connection before handing it out, so the retry runs on a live one. When the database still
/// cannot be reached the client is told to come back (503, `Retry-After`).
async fn audit_reads(
    state: &AppState,
    who: &crate::auth::Principal,
    request_id: &RequestId,
    purpose: Option<&str>,
    reads: &[(&'static str, String)],
) -> Result<(), Rejection> {
    if reads.is_empty() {
        return Ok(());
    }
    let record = || audit::record_reads(&state.db, who, &request_id.0, purpose, reads);
    let outcome = match record().await {
        Err(e) if crate::error::is_unavailable(&e) => {
            tracing::warn!(request_id = %request_id.0, error = %e, "audit of unmasked reads lost its connection; retrying");
            record().await
        }
        outcome => outcome,
    };
    outcome.map_err(|e| {
        tracing::error!(request_id = %request_id.0, error = %e, "cannot audit unmasked reads; response withheld");
        if crate::error::is_unavailable(&e) {
            Rejection::database_unavailable()
        } else {
            Rejection::internal()
        }
    })
}

/// A whole response found in the cache, and what serving it again involves.
struct Hit<'a> {
    response: CachedResponse,
    /// The caller's own entry, for a response that read personal records: the records it shows
    /// unmasked are audited again before it leaves.
    personal: Option<Arc<PersonalResponse>>,
    /// The purpose the client stated for this request.
    purpose: Option<&'a str>,
}

/// The cached response to this request, if any: under `(caller_key, cache_key)`, the caller's
/// own first, then the one shared by its scope; to be served for `purpose`.
async fn lookup<'a>(
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
async fn serve_hit(
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

/// A response body: `data` when given, `errors` when there are any, and `extensions` (the
/// response's own, then `cost` when given) when there are any. Serialized straight from the
/// engine's values.
fn render(
    data: Option<&async_graphql::Value>,
    errors: &[async_graphql::ServerError],
    extensions: &std::collections::BTreeMap<String, async_graphql::Value>,
    cost: Option<&async_graphql::Value>,
) -> serde_json::Result<Vec<u8>> {
    use serde::ser::{SerializeMap, Serializer};
    struct Extensions<'a> {
        own: &'a std::collections::BTreeMap<String, async_graphql::Value>,
        cost: Option<&'a async_graphql::Value>,
    }
    impl serde::Serialize for Extensions<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(None)?;
            for (k, v) in self.own.iter().filter(|(k, _)| k.as_str() != "cost") {
                map.serialize_entry(k, v)?;
            }
            if let Some(cost) = self.cost {
                map.serialize_entry("cost", cost)?;
            }
            map.end()
        }
    }
    let mut out = Vec::with_capacity(4096);
    let mut ser = serde_json::Serializer::new(&mut out);
    let mut map = ser.serialize_map(None)?;
    if let Some(data) = data {
        map.serialize_entry("data", data)?;
    }
    if !errors.is_empty() {
        map.serialize_entry("errors", errors)?;
    }
    if !extensions.is_empty() || cost.is_some() {
        map.serialize_entry(
            "extensions",
            &Extensions {
                own: extensions,
                cost,
            },
        )?;
    }
    map.end()?;
    Ok(out)
}

/// `body` (a JSON object without top-level `extensions`, as [`render`] writes it without
/// extensions) with `extensions.cost` added, by appending the member before its closing brace.
fn with_cost(body: Bytes, cost: async_graphql::Value) -> Bytes {
    let Ok(cost) = serde_json::to_vec(&cost) else {
        return body;
    };
    let trimmed = body.trim_ascii_end();
    let Some(open) = trimmed.strip_suffix(b"}") else {
        return body;
    };
    let empty = open.trim_ascii_end().ends_with(b"{");
    let mut out = Vec::with_capacity(body.len() + cost.len() + 32);
    out.extend_from_slice(open);
    if !empty {
        out.push(b',');
    }
    out.extend_from_slice(b"\"extensions\":{\"cost\":");
    out.extend_from_slice(&cost);
    out.extend_from_slice(b"}}");
    Bytes::from(out)
}

/// A JSON response with the negotiated media type.
fn json_response(status: StatusCode, media: MediaType, body: Bytes) -> Response {
    (status, [(header::CONTENT_TYPE, media.content_type())], body).into_response()
}

/// Answers a request that never reached GraphQL execution.
fn reject(
    state: &AppState,
    media: MediaType,
    request_id: &RequestId,
    rejection: Rejection,
) -> Response {
    state.metrics.rejected(rejection.code.as_str());
    let body = serde_json::json!({
        "errors": [{
            "message": rejection.message,
            "extensions": { "code": rejection.code.as_str(), "requestId": request_id.0 },
        }]
    });
    let mut response = (
        rejection.status,
        [(header::CONTENT_TYPE, media.content_type())],
        Json(body),
    )
        .into_response();
    if rejection.code == Code::DatabaseUnavailable {
        retry_after(&mut response);
    }
    response
}

/// GraphiQL, when enabled.
pub async fn graphiql(State(state): State<AppState>) -> Response {
    if !state.graphiql {
        return StatusCode::NOT_FOUND.into_response();
    }
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .title("Anju GraphQL")
            .finish(),
    )
    .into_response()
}

/// Ready when the database answers and shutdown has not begun; the cache may be degraded
/// (requests then go to the database), which the body says.
pub async fn ready(State(state): State<AppState>) -> Response {
    let (backend, healthy) = state.cache.status().await;
    let cache = if healthy { "ok" } else { "degraded" };
    if state
        .shutting_down
        .load(std::sync::atomic::Ordering::Acquire)
    {
        let body = serde_json::json!({ "status": "shutting down", "cache": cache, "cacheBackend": backend });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    match state.db.execute_unprepared("SELECT 1").await {
        Ok(_) => {
            let body = serde_json::json!({ "status": "ready", "database": "ok", "cache": cache, "cacheBackend": backend });
            (StatusCode::OK, Json(body)).into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            let body = serde_json::json!({ "status": "unavailable", "database": "unavailable", "cache": cache });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

/// Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut body = format!(
        "# HELP anju_sql_statements_total SQL statements executed.\n\
         # TYPE anju_sql_statements_total counter\n\
         anju_sql_statements_total {}\n",
        state.statements.get()
    );
    body.push_str(&state.cache.metrics_text().await);
    body.push_str(&state.responses.metrics_text());
    body.push_str(&state.metrics.render());
    body.push_str(&pool_text(&state.db));
    body.push_str(&format!(
        "# HELP anju_http_connections Client connections open.\n\
         # TYPE anju_http_connections gauge\n\
         anju_http_connections {}\n\
         # HELP anju_http_connections_max Most client connections open at once.\n\
         # TYPE anju_http_connections_max gauge\n\
         anju_http_connections_max {}\n",
        state.connections.open(),
        state.connections.max()
    ));
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
        .into_response()
}

/// Connection-pool figures.
fn pool_text(db: &sea_orm::DatabaseConnection) -> String {
    let (size, idle) = match db.get_database_backend() {
        sea_orm::DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        sea_orm::DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => return String::new(),
    };
    let idle = u32::try_from(idle).unwrap_or(u32::MAX);
    format!(
        "# HELP anju_db_pool_connections Database connections in the pool, by state.\n\
         # TYPE anju_db_pool_connections gauge\n\
         anju_db_pool_connections{{state=\"idle\"}} {idle}\n\
         anju_db_pool_connections{{state=\"in_use\"}} {}\n",
        size.saturating_sub(idle)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{Name, ServerError, Value as GqlValue};
    use std::collections::BTreeMap;

    fn cost() -> GqlValue {
        let mut m = async_graphql::indexmap::IndexMap::new();
        m.insert(Name::new("requested"), GqlValue::from(3));
        GqlValue::Object(m)
    }

    fn parse(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).expect("JSON")
    }

    #[test]
    fn the_cost_is_added_to_a_rendered_body() {
        let data = GqlValue::from_json(serde_json::json!({ "a": [1, "x"] })).expect("value");
        let plain = render(Some(&data), &[], &BTreeMap::new(), None).expect("render");
        assert_eq!(
            parse(&plain),
            serde_json::json!({ "data": { "a": [1, "x"] } })
        );
        let body = with_cost(Bytes::from(plain), cost());
        assert_eq!(
            parse(&body),
            serde_json::json!({ "data": { "a": [1, "x"] }, "extensions": { "cost": { "requested": 3 } } })
        );
        assert_eq!(
            parse(&with_cost(Bytes::from_static(b"{ }"), cost())),
            serde_json::json!({ "extensions": { "cost": { "requested": 3 } } })
        );
    }

    #[test]
    fn errors_and_own_extensions_render_beside_the_cost() {
        let errors = vec![ServerError::new("no", None)];
        let mut own = BTreeMap::new();
        own.insert("trace".to_owned(), GqlValue::from(true));
        own.insert("cost".to_owned(), GqlValue::from("stale"));
        let body = render(None, &errors, &own, Some(&cost())).expect("render");
        assert_eq!(
            parse(&body),
            serde_json::json!({
                "errors": [{ "message": "no" }],
                "extensions": { "trace": true, "cost": { "requested": 3 } }
            })
        );
    }
}
