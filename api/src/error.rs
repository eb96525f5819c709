//! Errors, and how they reach clients.
//!
//! Policy: domain code returns [`Error`]; the GraphQL layer turns it into a GraphQL error whose
//! `extensions.code` is one of [`Code`], the one catalogue of codes clients can see (every layer
//! that answers a client takes its codes from there). A database error never shows its cause to
//! the client: it is logged once on the server, with its source chain and the request id, and
//! the client gets a fixed message plus that request id. A database that could not be reached (a
//! connection lost, refused or not to be had from the pool in time: see [`is_unavailable`]) is
//! `DATABASE_UNAVAILABLE`, which the HTTP layer answers with 503 and `Retry-After`, since the
//! same request will most likely succeed a moment later; any other database error is `INTERNAL`.
//! Any error that reaches the HTTP layer without a code is treated as internal (see
//! `http::graphql`).

use sea_orm::{DbErr, RuntimeErr};
use std::fmt;

/// Declares [`Code`] from one list: each variant with the text clients see.
macro_rules! codes {
    ($($(#[doc = $doc:literal])* $variant:ident => $text:literal,)*) => {
        /// The `extensions.code` of an error, as clients see it: every code the service answers
        /// with, each spelt in one place.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Code {
            $($(#[doc = $doc])* $variant,)*
        }

        impl Code {
            /// Every code.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as clients see it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Code::$variant => $text,)*
                }
            }
        }
    };
}

codes! {
    /// A record named does not exist, or lies outside what the caller may see.
    NotFound => "NOT_FOUND",
    /// An invalid argument or input.
    BadUserInput => "BAD_USER_INPUT",
    /// The database could not be reached; the same request will most likely succeed shortly.
    DatabaseUnavailable => "DATABASE_UNAVAILABLE",
    /// Anything that failed on the server; the cause stays in the log.
    Internal => "INTERNAL",
    /// Credentials missing where required, or invalid, expired or revoked.
    Unauthenticated => "UNAUTHENTICATED",
    /// The caller may not do this.
    Forbidden => "FORBIDDEN",
    /// The document is not valid GraphQL syntax.
    GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
    /// The document does not fit the schema, or does not say which of its operations to run.
    GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
    /// The document nests fields deeper than allowed.
    QueryTooDeep => "QUERY_TOO_DEEP",
    /// The document costs more than allowed, or more than the caller's whole budget.
    QueryTooCostly => "QUERY_TOO_COSTLY",
    /// The document has more aliases than allowed.
    TooManyAliases => "TOO_MANY_ALIASES",
    /// A field of the document carries more directives than allowed.
    TooManyDirectives => "TOO_MANY_DIRECTIVES",
    /// `__schema` or `__type` asked of a server that does not describe itself.
    IntrospectionDisabled => "INTROSPECTION_DISABLED",
    /// The caller's rate-limit bucket cannot pay for the document now.
    Throttled => "THROTTLED",
    /// The request ran longer than allowed and was stopped.
    Timeout => "TIMEOUT",
    /// The request body did not arrive in time.
    BodyTimeout => "BODY_TIMEOUT",
    /// A persisted-query hash the server does not know (yet).
    PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
    /// A document outside the allow-list.
    PersistedQueryNotAllowed => "PERSISTED_QUERY_NOT_ALLOWED",
    /// Not a well-formed GraphQL-over-HTTP request.
    BadRequest => "BAD_REQUEST",
    /// A `POST` body that is not JSON in UTF-8.
    UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
    /// A mutation sent with `GET`.
    MethodNotAllowed => "METHOD_NOT_ALLOWED",
    /// An `Accept` header that allows neither JSON media type.
    NotAcceptable => "NOT_ACCEPTABLE",
    /// A change-feed cursor that can no longer be followed: copy the register again.
    ResyncRequired => "RESYNC_REQUIRED",
    /// A write or import that would change the figures of an approved reporting month.
    PeriodLocked => "PERIOD_LOCKED",
    /// A WebSocket subscription beyond the most one socket may hold at once.
    TooManySubscriptions => "TOO_MANY_SUBSCRIPTIONS",
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    /// A change-feed cursor that can no longer be followed; the message says why.
    #[error("{0}")]
    ResyncRequired(String),
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
    pub fn code(&self) -> Code {
        match self {
            Error::NotFound { .. } => Code::NotFound,
            Error::BadInput(_) => Code::BadUserInput,
            Error::ResyncRequired(_) => Code::ResyncRequired,
            Error::Database(cause) if is_unavailable(cause) => Code::DatabaseUnavailable,
            Error::Database(_) => Code::Internal,
        }
    }
}

/// Shorthand for domain results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

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
            assert_eq!(Error::Database(err).code(), Code::DatabaseUnavailable);
        }
    }

    #[test]
    fn every_code_is_spelt_once_in_capitals() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let text = code.as_str();
            assert!(seen.insert(text), "`{text}` is spelt twice");
            assert!(
                !text.is_empty() && text.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "`{text}`"
            );
            assert_eq!(code.to_string(), text);
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
            assert_eq!(e.code(), Code::Internal);
            assert_eq!(e.to_string(), "internal error");
        }
    }
}
