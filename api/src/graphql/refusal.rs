//! Refusals of a request before or while it runs (its document's limits and cost, a gate on a
//! field): GraphQL errors carrying their code.

use async_graphql::{ErrorExtensionValues, ServerError};

/// A refusal: an error with `code` in its extensions.
pub(super) fn refusal(message: String, code: &str) -> ServerError {
    let mut err = ServerError::new(message, None);
    let mut ext = ErrorExtensionValues::default();
    ext.set("code", code);
    err.extensions = Some(ext);
    err
}
