//! The GraphQL endpoint and its neighbours.

use crate::graphql::{loaders, RequestId};
use crate::startup::AppState;
use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use sea_orm::ConnectionTrait;

/// Runs one GraphQL request. Every error leaves with an `extensions.code` and the request id;
/// one that arrives here without a code is an unplanned failure and is masked as `INTERNAL`.
pub async fn execute(State(state): State<AppState>, request: GraphQLRequest) -> GraphQLResponse {
    let request_id = RequestId::new();
    let request = loaders::attach(
        request.into_inner().data(request_id.clone()),
        &state.db,
        &state.cache,
        state.loader_delay,
    );
    let mut response = state.schema.execute(request).await;
    for error in &mut response.errors {
        let ext = error.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            match classify_uncoded(&error.message, error.path.is_empty()) {
                Some(code) => ext.set("code", code),
                None => {
                    tracing::error!(request_id = %request_id.0, message = %error.message, "uncoded error masked as INTERNAL");
                    error.message = "internal error".into();
                    ext.set("code", "INTERNAL");
                }
            }
        }
        ext.set("requestId", request_id.0.clone());
    }
    response.into()
}

/// The code of an error raised by the GraphQL engine itself rather than by Anju's resolvers,
/// or `None` when the error has no known source and must be treated as internal.
///
/// Errors without a path come from parsing or validating the document, before any resolver ran;
/// errors with a path and the engine's wording for argument coercion are bad input.
fn classify_uncoded(message: &str, pathless: bool) -> Option<&'static str> {
    if pathless {
        Some(if message.contains("-->") {
            "GRAPHQL_PARSE_FAILED"
        } else {
            "GRAPHQL_VALIDATION_FAILED"
        })
    } else if message.starts_with("Failed to parse \"")
        || message.starts_with("Invalid value for argument")
    {
        Some("BAD_USER_INPUT")
    } else {
        None
    }
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

/// Ready when the database answers; the cache may be degraded (requests then go to the
/// database), which the body says.
pub async fn ready(State(state): State<AppState>) -> Response {
    let (backend, healthy) = state.cache.status().await;
    let cache = if healthy { "ok" } else { "degraded" };
    match state.db.execute_unprepared("SELECT 1").await {
        Ok(_) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({ "status": "ready", "database": "ok", "cache": cache, "cacheBackend": backend })),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({ "status": "unavailable", "database": "unavailable", "cache": cache })),
            )
                .into_response()
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
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        body,
    )
        .into_response()
}
