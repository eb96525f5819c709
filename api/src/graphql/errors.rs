//! How errors reach clients as GraphQL errors, each with its `extensions.code` (a [`Code`]): the
//! domain's [`Error`], and the refusals of a request or a field.

use crate::error::{is_unavailable, Code, Error, Result};
use async_graphql::{ErrorExtensions, ServerError};
use sea_orm::DbErr;

impl ErrorExtensions for Error {
    fn extend(&self) -> async_graphql::Error {
        if let Error::Database(cause) = self {
            let source = std::error::Error::source(cause);
            if is_unavailable(cause) {
                tracing::warn!(error = %cause, ?source, "database unavailable");
            } else {
                tracing::error!(error = %cause, ?source, "database error");
            }
        }
        coded(self.to_string(), self.code())
    }
}

/// Converts a domain result into a GraphQL result with the error's code attached.
pub trait GqlResult<T> {
    /// Maps the error through [`ErrorExtensions::extend`].
    fn gql(self) -> async_graphql::Result<T>;
}

impl<T> GqlResult<T> for Result<T> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| e.extend())
    }
}

impl<T> GqlResult<T> for std::result::Result<T, DbErr> {
    fn gql(self) -> async_graphql::Result<T> {
        self.map_err(|e| Error::Database(e).extend())
    }
}

/// An error with `code`, as a resolver returns it.
pub fn coded(message: impl Into<String>, code: Code) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, ext| ext.set("code", code.as_str()))
}

/// A refusal of the request, or of a field: an error with `code` (and no location or path).
pub fn refusal(message: String, code: Code) -> ServerError {
    let mut err = ServerError::new(message, None);
    give_code(&mut err, code);
    err
}

/// Gives `err` the code `code`, unless it carries a code already.
fn give_code(err: &mut ServerError, code: Code) {
    let ext = err.extensions.get_or_insert_with(Default::default);
    if ext.get("code").is_none() {
        ext.set("code", code.as_str());
    }
}
