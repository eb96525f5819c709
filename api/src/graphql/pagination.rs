//! Relay connections: argument validation, opaque cursors, and `totalCount`.
//!
//! Cursors are the record's key, base64url-encoded behind a version tag, so that clients treat
//! them as opaque and a later change of format can be told apart.

use crate::domain::pagination::{
    run_count, Page, PageRequest, Total, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE,
};
use crate::error::{Error, GqlResult};
use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Object, OutputType, Result};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sea_orm::DatabaseConnection;

const CURSOR_TAG: &str = "k1:";

/// Encodes a record key as a cursor.
pub fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{CURSOR_TAG}{key}"))
}

fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix(CURSOR_TAG).map(str::to_owned)
}

/// Validates `first` (1–100; 20 when omitted) and decodes `after`.
pub fn page_request(first: Option<i32>, after: Option<String>) -> Result<PageRequest> {
    let first = match first {
        None => DEFAULT_PAGE_SIZE,
        Some(n) if n >= 1 && n as u64 <= MAX_PAGE_SIZE => n as u64,
        Some(n) => {
            return Err(Error::BadInput(format!(
                "`first` must be between 1 and {MAX_PAGE_SIZE}, not {n}"
            )))
            .gql()
        }
    };
    let after = match after {
        None => None,
        Some(c) => Some(
            decode_cursor(&c)
                .ok_or_else(|| {
                    Error::BadInput(format!("`after` is not a cursor this API issued: `{c}`"))
                })
                .gql()?,
        ),
    };
    Ok(PageRequest { after, first })
}

/// Fields every connection carries besides edges and page info.
pub struct ConnectionFields {
    total: Total,
}

#[Object]
impl ConnectionFields {
    /// How many records match, over all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        match &self.total {
            Total::Known(n) => Ok(*n as i64),
            Total::Query(stmt) => {
                let db = ctx.data::<DatabaseConnection>()?;
                run_count(db, stmt.clone()).await.map(|n| n as i64).gql()
            }
        }
    }
}

/// A Relay connection with `totalCount`.
pub type Conn<T> = Connection<String, T, ConnectionFields>;

/// Builds a connection from a page; `key` gives each item's cursor key.
pub fn connection<T, N>(page: Page<T>, key: impl Fn(&T) -> String, node: impl Fn(T) -> N) -> Conn<N>
where
    N: OutputType,
{
    let mut conn = Connection::with_additional_fields(
        page.has_previous,
        page.has_next,
        ConnectionFields { total: page.total },
    );
    conn.edges.extend(
        page.items
            .into_iter()
            .map(|item| Edge::new(encode_cursor(&key(&item)), node(item))),
    );
    conn
}
