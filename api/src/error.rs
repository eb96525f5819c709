//! Errors, and how they reach clients.
//!
//! Policy: domain code returns [`Error`]; the GraphQL layer turns it into a GraphQL error with
//! `extensions.code` from one catalogue: `NOT_FOUND`, `BAD_USER_INPUT`, `INTERNAL` (and, from the
//! HTTP layer, `GRAPHQL_PARSE_FAILED` / `GRAPHQL_VALIDATION_FAILED`). An internal error never
//! shows its cause to the client: it is logged once on the server, with its source chain and the
//! request id, and the client gets `internal error` plus that request id. Any error that reaches
//! the HTTP layer without a code is treated as internal (see `http::graphql`).

use async_graphql::ErrorExtensions;
use sea_orm::DbErr;

/// A failure in Anju's domain logic.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The named record does not exist (or is outside what the caller may see).
    #[error("{what} `{key}` was not found")]
    NotFound { what: &'static str, key: String },
    /// The caller's input is invalid; the message says which argument and why.
    #[error("{0}")]
    BadInput(String),
    /// The database failed; the cause stays on the server.
    #[error("internal error")]
    Database(#[from] DbErr),
}

impl Error {
    /// Shorthand for [`Error::NotFound`].
    pub fn not_found(what: &'static str, key: impl Into<String>) -> Self {
        Error::NotFound {
            what,
            key: key.into(),
        }
    }

    /// The `extensions.code` clients see.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound { .. } => "NOT_FOUND",
            Error::BadInput(_) => "BAD_USER_INPUT",
            Error::Database(_) => "INTERNAL",
        }
    }
}

/// Shorthand for domain results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl ErrorExtensions for Error {
    fn extend(&self) -> async_graphql::Error {
        if let Error::Database(cause) = self {
            tracing::error!(error = %cause, source = ?std::error::Error::source(cause), "database error");
        }
        async_graphql::Error::new(self.to_string())
            .extend_with(|_, ext| ext.set("code", self.code()))
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
