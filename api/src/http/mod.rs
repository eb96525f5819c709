//! The HTTP edge: connections, routes, request ids, body limits.

mod bulletin;
mod cached;
mod download;
mod graphql;
mod health;
pub mod metrics;
pub mod persisted;
pub mod protocol;
mod read_audit;
pub mod read_route;
mod respond;
pub mod response_cache;
pub mod response_store;
pub mod serve;
mod state;
mod throttle;
mod watch_list;
pub mod ws;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{map_request_with_state, map_response_with_state};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
pub use state::AppState;
use std::sync::atomic::Ordering;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The application's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(health::graphiql))
        .route("/graphql", get(ws::get).post(graphql::execute))
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(health::ready))
        .route("/metrics", get(health::metrics))
        .route("/bulletins/{area}/{file}", get(bulletin::download))
        .route("/watch-lists/{file}", get(watch_list::download))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(map_request_with_state(state.clone(), bound_body))
        .layer(map_response_with_state(state.clone(), close_when_draining))
        // Spans name the method and path only: a query string may carry personal data.
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
                tracing::debug_span!("http", method = %req.method(), path = %req.uri().path())
            }),
        )
        .with_state(state)
}

/// Bounds the time the request's body may take to arrive (see [`serve::bound_body`]).
async fn bound_body(State(state): State<AppState>, request: Request) -> Request {
    match state.body_read_timeout {
        Some(timeout) => serve::bound_body(request, timeout),
        None => request,
    }
}

/// Once shutdown has begun, every response closes its connection: clients (load balancers)
/// move to fresh connections, which stop being accepted at the end of the grace period, rather
/// than keep sending on one that is closed under their next request.
async fn close_when_draining(State(state): State<AppState>, mut response: Response) -> Response {
    if state.shutting_down.load(Ordering::Acquire) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
