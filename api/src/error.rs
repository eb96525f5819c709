//! Errors, and how they reach clients.
//!
//! Policy: domain code returns [`Error`]; the GraphQL layer turns it into a GraphQL error with
//! `extensions.code` from one catalogue: `NOT_FOUND`, `BAD_USER_INPUT`, `DATABASE_UNAVAILABLE`,
//! `INTERNAL` (and, from the HTTP layer, `GRAPHQL_PARSE_FAILED` / `GRAPHQL_VALIDATION_FAILED`).
//! A database error never shows its cause to the client: it is logged once on the server, with
//! its source chain and the request id, and the client gets a fixed message plus that request
//! id. A database that could not be reached (a connection lost, refused or not to be had from
//! the pool in time: see [`is_unavailable`]) is `DATABASE_UNAVAILABLE`, which the HTTP layer
//! answers with 503 and `Retry-After`, since the same request will most likely succeed a moment
//! later; any other database error is `INTERNAL`. Any error that reaches the HTTP layer without
//! a code is treated as internal (see `http::graphql`).

use async_graphql::ErrorExtensions;
use sea_orm::{DbErr, RuntimeErr};

/// The code of an error caused by the database being out of reach for a moment.
pub const DATABASE_UNAVAILABLE: &str = "DATABASE_UNAVAILABLE";

/// Whether `err` means the database could not be reached, rather than that it refused or failed
/// a statement: the connection was lost (reset, closed, or terminated by the server, as in a
/// restart), could not be opened, or no pooled connection was free in time. Such a failure is
/// the database's state, not the request's: the same statement will most likely succeed on a
/// fresh connection a moment later.
pub fn is_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => connection_lost(e),
        _ => false,
    }
}

fn connection_lost(err: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error;
    match err {
        Error::Io(_) | Error::Tls(_) | Error::PoolTimedOut | Error::PoolClosed => true,
        Error::WorkerCrashed => true,
        // PostgreSQL's class 08 (connection exception), and a backend shut down by an
        // administrator, a crash or a starting server (57P01, 57P02, 57P03).
        Error::Database(e) => e
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

/// What a client is told of a database error.
fn database_message(cause: &DbErr) -> &'static str {
    if is_unavailable(cause) {
        "the database is unavailable; try again shortly"
    } else {
        "internal error"
    }
}

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
    #[error("{}", database_message(.0))]
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
            Error::Database(cause) if is_unavailable(cause) => DATABASE_UNAVAILABLE,
            Error::Database(_) => "INTERNAL",
        }
    }
}

/// Shorthand for domain results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

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

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::ConnAcquireErr;
    use std::sync::Arc;

    fn sqlx(e: sea_orm::sqlx::Error) -> RuntimeErr {
        RuntimeErr::SqlxError(Arc::new(e))
    }

    #[test]
    fn lost_connections_and_an_exhausted_pool_are_unavailable() {
        let reset =
            || sea_orm::sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        for err in [
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
            DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
            DbErr::Exec(sqlx(reset())),
            DbErr::Query(sqlx(reset())),
            DbErr::Conn(sqlx(sea_orm::sqlx::Error::PoolTimedOut)),
        ] {
            assert!(is_unavailable(&err), "{err:?}");
            assert_eq!(Error::Database(err).code(), DATABASE_UNAVAILABLE);
        }
    }

    #[test]
    fn other_database_errors_stay_internal() {
        for err in [
            DbErr::Custom("broken".into()),
            DbErr::RecordNotFound("x".into()),
            DbErr::Query(sqlx(sea_orm::sqlx::Error::RowNotFound)),
            DbErr::Query(sqlx(sea_orm::sqlx::Error::Protocol("odd".into()))),
        ] {
            assert!(!is_unavailable(&err), "{err:?}");
            let e = Error::Database(err);
            assert_eq!(e.code(), "INTERNAL");
            assert_eq!(e.to_string(), "internal error");
        }
    }
}
