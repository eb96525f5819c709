//! What the file downloads (bulletins, watch lists) share: who may download, and how a refusal
//! reads — JSON with its code, as a GraphQL error would.

use super::AppState;
use crate::auth::{Caller, Principal};
use crate::error::Code;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// A refusal as JSON with its code (`UNAUTHENTICATED` also names the `Bearer` scheme).
pub(super) fn refuse(status: StatusCode, code: Code, message: String) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code.as_str() } }]
    });
    let mut response = (status, axum::Json(body)).into_response();
    if code == Code::Unauthenticated {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// Bad input, saying where and why.
pub(super) fn bad(message: String) -> Response {
    refuse(StatusCode::BAD_REQUEST, Code::BadUserInput, message)
}

/// A database failure while preparing `what`: logged, and answered without its words.
pub(super) fn database(what: &str, e: sea_orm::DbErr) -> Response {
    tracing::error!(error = %e, "{what} download failed");
    let code = if crate::error::is_unavailable(&e) {
        Code::DatabaseUnavailable
    } else {
        Code::Internal
    };
    refuse(
        StatusCode::SERVICE_UNAVAILABLE,
        code,
        "internal error".into(),
    )
}

/// A file that could not be written: logged, and answered without its words.
pub(super) fn unwritten(what: &str, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "{what} failed");
    refuse(
        StatusCode::INTERNAL_SERVER_ERROR,
        Code::Internal,
        "internal error".into(),
    )
}

/// The caller, who must have credentials to download `what`.
pub(super) async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    what: &str,
) -> Result<(Caller, Principal), Response> {
    let caller = state.auth.authenticate(headers).await.ok();
    match caller.and_then(|c| c.principal().cloned().map(|who| (c, who))) {
        Some(known) => Ok(known),
        None => Err(refuse(
            StatusCode::UNAUTHORIZED,
            Code::Unauthenticated,
            format!("valid credentials are required to download {what}"),
        )),
    }
}
