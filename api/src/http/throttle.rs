//! The HTTP side of rate limiting: which bucket a request draws on, and the 429 answer with
//! `Retry-After` when the bucket could not pay (see [`crate::graphql::cost`]).

use super::AppState;
use crate::auth::Caller;
use crate::graphql::cost::Meter;
use axum::extract::ConnectInfo;
use axum::http::{header, Extensions, HeaderValue, StatusCode};
use axum::response::Response;
use std::net::SocketAddr;
use std::sync::Arc;

/// The meter of one request by `caller`, arriving over the connection `extensions` describe.
pub fn meter(state: &AppState, caller: &Caller, extensions: &Extensions) -> Arc<Meter> {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let (subject, budget) = state.limiter.subject(caller, peer);
    Meter::new(state.limiter.clone(), subject, budget)
}

/// `response`, turned into `429 Too Many Requests` with `Retry-After` when the request was
/// throttled.
pub fn finish(meter: &Meter, mut response: Response) -> Response {
    if let Some(seconds) = meter.retry_after() {
        *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}
