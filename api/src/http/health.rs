//! GraphiQL, readiness and the metrics page.
use super::AppState;
use async_graphql::http::GraphiQLSource;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use sea_orm::ConnectionTrait;

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
    let (published, received) = state.cache.hints().counts();
    body.push_str(&format!(
        "# HELP anju_hints_total Generation hints for subscriptions through Redis, by direction.\n\
         # TYPE anju_hints_total counter\n\
         anju_hints_total{{direction=\"published\"}} {published}\n\
         anju_hints_total{{direction=\"received\"}} {received}\n"
    ));
    // What holds the change feed back: changes committed after the oldest open transaction that
    // wrote wait for it to end. Unknown (absent) when the database does not answer.
    if let Ok(lag) = crate::domain::changes::lag_seconds(&state.housekeeping).await {
        body.push_str(&format!(
            "# HELP anju_change_feed_lag_seconds Age of the oldest open writing transaction, \
             which holds the change feed back.\n\
             # TYPE anju_change_feed_lag_seconds gauge\n\
             anju_change_feed_lag_seconds {lag}\n"
        ));
    }
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
