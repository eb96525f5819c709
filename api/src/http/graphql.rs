//! The GraphQL endpoint: admits a request, answers it from the whole-response cache or runs it,
//! audits what it showed unmasked, and stores what may be reused.
use super::cached::{caller_scope, lookup, response_scope, serve_hit, wants_fresh};
use super::persisted;
use super::protocol::{self, MediaType, Rejection};
use super::read_audit::audit_reads;
use super::read_route::{self, Route};
use super::respond::{codes, finish_errors, json_response, reject, render, retry_after, with_cost};
use super::response_cache::Turn;
use super::response_store::{CachedResponse, PersonalResponse};
use super::throttle;
use super::AppState;
use crate::auth::audit::ReadAudit;
use crate::auth::scope::Access;
use crate::auth::{AuthError, Caller};
use crate::cache::GenScope;
use crate::error::Code;
use crate::graphql::{loaders, RequestId, ResponseCachePolicy, Reuse};
use async_graphql::parser::types::OperationType;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{header, Extensions, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// A request let in: its answer's media type, the caller, the stated purpose and the GraphQL
/// parameters (a persisted query already resolved).
struct Admitted {
    media: MediaType,
    caller: Caller,
    purpose: Option<String>,
    params: protocol::Params,
}

/// A document ready to run, and what the endpoint learned of it on the way.
struct Prepared {
    request: async_graphql::Request,
    /// The operation's name, as given or as the document names its one operation.
    named: Option<String>,
    /// The operation's label in the metrics.
    operation: String,
    /// A query (not a mutation): its response may be stored.
    query: bool,
    /// The document reads the change feed, which is read from the primary.
    feed: bool,
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
    let admitted = match admit(&state, &method, &headers, query, body, &request_id).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let Admitted {
        media,
        caller,
        purpose,
        params,
    } = admitted;
    let started = std::time::Instant::now();
    // The whole-response cache: keyed by everything the response depends on, under the
    // generation every write raises. Only error-free queries are stored, so a hit is always a
    // 200 for a query, valid for these very limits. A response that read personal records is
    // looked up for this very caller, and its unmasked reads are audited again.
    let cache_key = state.response_keys.key(&params, &response_scope(&caller));
    let caller_key = caller_scope(&caller).map(|scope| state.response_keys.key(&params, &scope));
    // Where the request reads, and the state its response is cached under, read from that very
    // database before the data: a standby's state may be older than the primary's, never newer
    // than what it then reads.
    let (mut route, mut generation) = route_and_generation(&state, &caller).await;
    let meter = throttle::meter(&state, &caller, &connection);
    // Looked up before the document is even parsed: a hit is the common case and needs no more.
    let looks = generation.filter(|_| !wants_fresh(&headers));
    let key = (caller_key.as_deref(), cache_key.as_str());
    if let Some(generation) = looks {
        if let Some(hit) = lookup(&state, key, generation, purpose.as_deref()).await {
            return serve_hit(&state, &caller, media, &request_id, &meter, started, hit).await;
        }
    }
    // Kept to run the query again on the primary should the standby fail under it.
    let again = route.standby.then(|| params.clone());
    let prepared = match prepare(&state, &method, media, &request_id, params) {
        Ok(prepared) => prepared,
        Err(response) => return *response,
    };
    if (!prepared.query || prepared.feed) && route.standby {
        route = read_route::primary(&state);
        generation = primary_generation(&state).await;
    }
    // Held until this query's response is stored: identical queries arriving meanwhile wait for
    // it rather than execute it again. Mutations never wait on one another here.
    let mut _lead = None;
    if let (Some(generation), true) = (looks, prepared.query) {
        // Look once more whatever the turn: the execution just waited for, or one that finished
        // between the first look and the lead, may have stored the response.
        if let Turn::Lead(lead) = state.in_flight.join(&cache_key).await {
            _lead = Some(lead);
        }
        if let Some(hit) = lookup(&state, key, generation, purpose.as_deref()).await {
            return serve_hit(&state, &caller, media, &request_id, &meter, started, hit).await;
        }
        state.responses.missed();
    }
    // A query reads the register as it found it; a mutation changes it, and what its response
    // reads afterwards reads the state it left.
    let found =
        |generation: Option<crate::cache::Generation>| generation.filter(|_| prepared.query);
    let (mut executed, mut read_audit, mut policy) = run(
        &state,
        prepared.request,
        (&route, found(generation)),
        &caller,
        &request_id,
        &meter,
    )
    .await;
    if route.standby {
        match &executed {
            Ok(response) if !standby_failed(response) => {}
            outcome => {
                // The standby went away, refused a statement or hung: the query is read again
                // from the primary, under the primary's state.
                let why = match outcome {
                    Ok(response) => response
                        .errors
                        .first()
                        .map(|e| e.message.clone())
                        .unwrap_or_default(),
                    Err(_) => format!("no answer within {:?}", state.request_timeout),
                };
                state.reads.standby_failed(&why);
                tracing::info!(request_id = %request_id.0, error = %why, "a read on the standby failed; reading from the primary");
                route = read_route::primary(&state);
                generation = primary_generation(&state).await;
                if let Some(params) = again {
                    if let Ok(retry) = prepare(&state, &method, media, &request_id, params) {
                        (executed, read_audit, policy) = run(
                            &state,
                            retry.request,
                            (&route, found(generation)),
                            &caller,
                            &request_id,
                            &meter,
                        )
                        .await;
                    }
                }
            }
        }
    }
    if !prepared.query {
        read_route::wrote(&state, &caller).await;
    }
    let Ok(mut response) = executed else {
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
    finish_errors(&mut response.errors, &request_id);
    let codes = codes(&response.errors);
    state
        .metrics
        .executed(&prepared.operation, started.elapsed().as_secs_f64(), &codes);
    let status = status_of(&response, &codes, media);
    // The response as it may be stored (without its cost, which is per request) and as it leaves.
    let store = generation.is_some()
        && prepared.query
        && response.errors.is_empty()
        && response.extensions.is_empty();
    let cost = meter.report().await;
    // A body without extensions of its own (every storable one) is rendered without the cost,
    // which is then spliced in; one with its own gets the cost beside them as it is rendered.
    let own_extensions = !response.extensions.is_empty();
    let data = (!is_request_error(&response)).then_some(&response.data);
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
            operation: prepared.named,
            cost: meter.requested_cost().unwrap_or(0),
            body: rendered.clone(),
        };
        keep(
            &state,
            (caller_key.as_deref(), &cache_key),
            generation,
            entry,
            policy.reuse(),
            read,
        )
        .await;
    }
    let body = if own_extensions {
        rendered
    } else {
        with_cost(rendered, cost)
    };
    let mut response = json_response(status, media, body);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        retry_after(&mut response);
    }
    throttle::finish(&meter, response)
}

/// Where `caller`'s request reads (see [`read_route`]) and the whole-response cache's state for
/// it, read from that same database; the primary when the standby cannot be asked.
async fn route_and_generation(
    state: &AppState,
    caller: &Caller,
) -> (Route, Option<crate::cache::Generation>) {
    let route = read_route::for_query(state, caller).await;
    if !route.standby {
        return (route, primary_generation(state).await);
    }
    match route.cache.generations(&[GenScope::Register]).await {
        Ok(g) => (route, g.first().copied()),
        Err(e) => {
            state.reads.standby_failed(&e);
            (read_route::primary(state), primary_generation(state).await)
        }
    }
}

/// The whole-response cache's state on the primary (through the mirror when there is one).
async fn primary_generation(state: &AppState) -> Option<crate::cache::Generation> {
    state
        .cache
        .generations(&[GenScope::Register])
        .await
        .ok()
        .and_then(|g| g.first().copied())
}

/// Whether a response executed on the standby failed for the standby's sake (it is down, cut
/// off, or refused a statement): such a query is read again from the primary. A query's own
/// faults (bad input, not found, limits) are the same on either database and are not.
fn standby_failed(response: &async_graphql::Response) -> bool {
    codes(&response.errors)
        .iter()
        .any(|c| *c == Code::DatabaseUnavailable.as_str() || *c == Code::Internal.as_str())
}

/// Executes `request` on `route`, whose register the query found at `generation`, with this
/// request's data and loaders, within the request timeout; returns the outcome with the
/// unmasked reads it gathered and the reuse its resolvers allowed, both the run's own.
async fn run(
    state: &AppState,
    request: async_graphql::Request,
    (route, generation): (&Route, Option<crate::cache::Generation>),
    caller: &Caller,
    request_id: &RequestId,
    meter: &Arc<crate::graphql::cost::Meter>,
) -> (
    Result<async_graphql::Response, tokio::time::error::Elapsed>,
    Arc<ReadAudit>,
    ResponseCachePolicy,
) {
    let read_audit = Arc::new(ReadAudit::default());
    let policy = ResponseCachePolicy::default();
    let mut access = Access::new(route.db.clone(), caller.clone());
    if let Some(at) = generation {
        access = access.remembering(state.standings.clone(), at);
    }
    let request = loaders::attach(
        request
            .data(request_id.clone())
            .data(policy.clone())
            .data(read_audit.clone())
            .data(meter.clone())
            .data(route.db.clone())
            .data(route.cache.clone()),
        (&route.db, &route.cache),
        generation,
        access,
        state.loader_delay,
    );
    let executed = tokio::time::timeout(
        state.request_timeout,
        state
            .engine
            .execute(request, caller.principal().is_some(), meter),
    )
    .await;
    (executed, read_audit, policy)
}

/// Lets a request in, or answers why not: its body arrived in time, an answer's media type is
/// acceptable, its credentials hold, and its parameters (or persisted query) are well formed.
async fn admit(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    query: HashMap<String, String>,
    body: Result<Bytes, BytesRejection>,
    request_id: &RequestId,
) -> Result<Admitted, Response> {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if super::serve::is_body_timeout(&rejection) => {
            tracing::info!(request_id = %request_id.0, "request body not received in time");
            let mut response = reject(
                state,
                protocol::negotiate(headers).unwrap_or(MediaType::Json),
                request_id,
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
            return Err(response);
        }
        Err(rejection) => return Err(rejection.into_response()),
    };
    let Some(media) = protocol::negotiate(headers) else {
        return Err(reject(
            state,
            MediaType::Json,
            request_id,
            Rejection {
                status: StatusCode::NOT_ACCEPTABLE,
                code: Code::NotAcceptable,
                message: "accept `application/graphql-response+json` or `application/json`".into(),
            },
        ));
    };
    let caller = match state.auth.authenticate(headers).await {
        Ok(caller) => caller,
        Err(e) => {
            tracing::info!(request_id = %request_id.0, reason = %e, "credentials refused");
            let mut response = reject(
                state,
                media,
                request_id,
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
            return Err(response);
        }
    };
    let purpose = headers
        .get("anju-purpose")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(200).collect::<String>());
    let params = if *method == Method::GET {
        protocol::from_query_string(query)
    } else {
        protocol::from_body(headers, &body)
    };
    let mut params = params.map_err(|rejection| reject(state, media, request_id, rejection))?;
    persisted::resolve(&mut params, &state.persisted, &state.allow_list)
        .await
        .map_err(|rejection| reject(state, media, request_id, rejection))?;
    Ok(Admitted {
        media,
        caller,
        purpose,
        params,
    })
}

/// Builds the engine's request: the document (parsed once here, and reused by the engine, to
/// refuse mutations over GET and to name the operation in the metrics), its operation name,
/// variables and extensions.
fn prepare(
    state: &AppState,
    method: &Method,
    media: MediaType,
    request_id: &RequestId,
    params: protocol::Params,
) -> Result<Prepared, Box<Response>> {
    let mut request = async_graphql::Request::new(params.query);
    let selected = request
        .parsed_query()
        .ok()
        .and_then(|doc| protocol::selected_operation(doc, params.operation_name.as_deref()));
    let kind = selected.as_ref().map(|(_, ty)| *ty);
    let feed = request
        .parsed_query()
        .is_ok_and(protocol::reads_change_feed);
    if *method == Method::GET && kind == Some(OperationType::Mutation) {
        let mut response = reject(
            state,
            media,
            request_id,
            Rejection {
                status: StatusCode::METHOD_NOT_ALLOWED,
                code: Code::MethodNotAllowed,
                message: "mutations are only accepted over POST".into(),
            },
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return Err(Box::new(response));
    }
    let named = params
        .operation_name
        .clone()
        .or(selected.and_then(|(name, _)| name));
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
    Ok(Prepared {
        request,
        named,
        operation,
        query: kind == Some(OperationType::Query),
        feed,
    })
}

/// A request error (the document did not parse or validate) happened before execution: the
/// response then has no `data`.
fn is_request_error(response: &async_graphql::Response) -> bool {
    !response.errors.is_empty()
        && response.data == async_graphql::Value::Null
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// The response's status: 503 when the database was out of reach (the request fails as a
/// whole, however much of it was answered: the client is to send it again shortly); 400 for a
/// request error under the specification's media type; else 200.
fn status_of(response: &async_graphql::Response, codes: &[&str], media: MediaType) -> StatusCode {
    if codes.contains(&Code::DatabaseUnavailable.as_str()) {
        StatusCode::SERVICE_UNAVAILABLE
    } else if is_request_error(response) && media == MediaType::GraphqlResponse {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    }
}

/// Keeps an executed query's response: shared by everyone of the caller's scope, or, when it
/// showed personal records (whatever the resolvers marked, if anything was read unmasked), for
/// this caller alone with the reads to audit again.
async fn keep(
    state: &AppState,
    (caller_key, cache_key): (Option<&str>, &str),
    generation: crate::cache::Generation,
    entry: CachedResponse,
    reuse: Reuse,
    read: Vec<(&'static str, String)>,
) {
    let reuse = if read.is_empty() {
        reuse
    } else {
        reuse.max(Reuse::Caller)
    };
    match (reuse, caller_key) {
        (Reuse::Shared, _) => state.responses.put(cache_key, generation, entry).await,
        (Reuse::Caller, Some(key)) => {
            let entry = PersonalResponse {
                response: entry,
                reads: read,
            };
            state.responses.personal_put(key, generation, entry).await
        }
        // Personal records are shown to an anonymous caller as nothing at all; such an answer is
        // not worth keeping per caller.
        (Reuse::Caller, None) | (Reuse::Never, _) => {}
    }
}
