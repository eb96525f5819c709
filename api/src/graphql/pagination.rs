//! Relay connections: argument validation, opaque cursors, and `totalCount`.
//!
//! Cursors are the record's key, base64url-encoded behind a version tag, so that clients treat
//! them as opaque and a later change of format can be told apart.

use super::errors::GqlResult;
use crate::domain::pagination::{Page, PageRequest, Total, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use crate::error::Error;
use async_graphql::connection::PageInfo;
use async_graphql::{Context, Object, OutputType, Result, TypeName};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sea_orm::DatabaseConnection;
use std::borrow::Cow;

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

/// Marks a cursor key that was sealed because it is personal data.
const SEALED_TAG: &str = "s:";

/// The cursor key for a record whose key is personal data (a member's ID number): sealed, so
/// that the cursor reveals nothing (see [`crate::auth::opaque`]).
pub fn sealed_key(sealer: &crate::auth::opaque::Sealer, key: &str) -> String {
    format!("{SEALED_TAG}{}", sealer.seal(key))
}

/// The page arguments of a connection field, as the client gave them.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

impl PageArgs {
    /// The arguments of one connection field.
    pub fn new(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Self {
        Self {
            first,
            after,
            last,
            before,
        }
    }
}

/// Turns cursors over sealed keys back into plain ones for the page query.
pub fn unseal(ctx: &Context<'_>, args: PageArgs) -> Result<PageArgs> {
    let sealer = ctx.data::<crate::auth::opaque::Sealer>()?;
    let open = |name: &str, cursor: Option<String>| -> Result<Option<String>> {
        let Some(cursor) = cursor else {
            return Ok(None);
        };
        let plain = decode_cursor(&cursor)
            .and_then(|k| k.strip_prefix(SEALED_TAG).and_then(|s| sealer.open(s)))
            .ok_or_else(|| bad_cursor(name, &cursor))
            .gql()?;
        Ok(Some(encode_cursor(&plain)))
    };
    Ok(PageArgs {
        after: open("after", args.after)?,
        before: open("before", args.before)?,
        ..args
    })
}

fn bad_cursor(name: &str, cursor: &str) -> Error {
    Error::BadInput(format!(
        "`{name}` is not a cursor this API issued: `{cursor}`"
    ))
}

/// Validates the page arguments: `first` or `last` (1–100; `first` 20 when neither is given,
/// never both), and decodes `after` and `before`.
pub fn page_request(args: PageArgs) -> Result<PageRequest> {
    let size = |name: &str, n: i32| {
        if n >= 1 && n as u64 <= MAX_PAGE_SIZE {
            Ok(n as u64)
        } else {
            Err(Error::BadInput(format!(
                "`{name}` must be between 1 and {MAX_PAGE_SIZE}, not {n}"
            )))
            .gql()
        }
    };
    let (size, backward) = match (args.first, args.last) {
        (Some(_), Some(_)) => {
            return Err(Error::BadInput("give `first` or `last`, not both".into())).gql()
        }
        (None, None) => (DEFAULT_PAGE_SIZE, false),
        (Some(n), None) => (size("first", n)?, false),
        (None, Some(n)) => (size("last", n)?, true),
    };
    let decode = |name: &str, cursor: Option<String>| -> Result<Option<String>> {
        cursor
            .map(|c| decode_cursor(&c).ok_or_else(|| bad_cursor(name, &c)).gql())
            .transpose()
    };
    Ok(PageRequest {
        after: decode("after", args.after)?,
        before: decode("before", args.before)?,
        size,
        backward,
        count_only: false,
    })
}

/// One page of a list in the Relay connection form (`XConnection` in the schema).
pub struct Conn<T> {
    edges: Vec<Edge<T>>,
    has_previous_page: bool,
    has_next_page: bool,
    total: Total,
}

impl<T> Conn<T> {
    /// The records of the page.
    pub fn items(&self) -> impl Iterator<Item = &T> {
        self.edges.iter().map(|e| &e.node)
    }

    /// Marks the record keys as personal data (a member's ID number): cursors carry them sealed
    /// (see [`sealed_key`]).
    pub fn sealed(mut self) -> Self {
        for edge in &mut self.edges {
            edge.sealed = true;
        }
        self
    }
}

/// Whether the selection below a connection field asks, on its records, for the field at
/// `path` (each step through `nodes` or `edges { node }`, and through nested connections the
/// same way when a step is a connection).
pub fn selects(look: &async_graphql::Lookahead<'_>, path: &[&str]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return look.exists();
    };
    [look.field("nodes"), look.field("edges").field("node")]
        .iter()
        .any(|records| {
            let step = records.field(first);
            step.exists() && (rest.is_empty() || selects(&step, rest))
        })
}

/// One record of a page with its cursor (`XEdge` in the schema). The cursor is made from the
/// record key when asked for: a page read through `nodes` never seals or encodes one.
pub struct Edge<T> {
    key: String,
    sealed: bool,
    node: T,
}

impl<T> Edge<T> {
    fn make_cursor(&self, ctx: &Context<'_>) -> Result<String> {
        if self.sealed {
            let sealer = ctx.data::<crate::auth::opaque::Sealer>()?;
            Ok(encode_cursor(&sealed_key(sealer, &self.key)))
        } else {
            Ok(encode_cursor(&self.key))
        }
    }
}

impl<T: OutputType> TypeName for Conn<T> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Connection", T::type_name()).into()
    }
}

impl<T: OutputType> TypeName for Edge<T> {
    fn type_name() -> Cow<'static, str> {
        format!("{}Edge", T::type_name()).into()
    }
}

/// One page of a list, in the Relay connection form: `edges` (or `nodes`), `pageInfo` and
/// `totalCount`. Pass `pageInfo.endCursor` as `after` to read the next page, or
/// `pageInfo.startCursor` as `before` (with `last`) to read the previous one.
#[Object(name_type)]
impl<T: OutputType> Conn<T> {
    /// The records of this page, each with its cursor.
    async fn edges(&self) -> &[Edge<T>] {
        &self.edges
    }
    /// The records of this page, without cursors.
    async fn nodes(&self) -> Vec<&T> {
        self.edges.iter().map(|e| &e.node).collect()
    }
    /// Where this page stands in the whole list.
    async fn page_info(&self, ctx: &Context<'_>) -> Result<PageInfo> {
        Ok(PageInfo {
            has_previous_page: self.has_previous_page,
            has_next_page: self.has_next_page,
            start_cursor: self.edges.first().map(|e| e.make_cursor(ctx)).transpose()?,
            end_cursor: self.edges.last().map(|e| e.make_cursor(ctx)).transpose()?,
        })
    }
    /// How many records match, over all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let request = super::reads::Request::of(ctx).await?;
        crate::domain::pagination::total(&request.reads()?, &self.total)
            .await
            .gql()
    }
}

/// One record of a page, with the cursor that resumes the list after it.
#[Object(name_type)]
impl<T: OutputType> Edge<T> {
    /// Opaque position of this record in the list; pass it as `after` or `before`.
    async fn cursor(&self, ctx: &Context<'_>) -> Result<String> {
        self.make_cursor(ctx)
    }
    /// The record.
    async fn node(&self) -> &T {
        &self.node
    }
}

/// Whether the connection being resolved asks for its records (`edges`, `nodes`, or `pageInfo`,
/// whose cursors are record keys), not only for `totalCount`.
pub fn selects_records(ctx: &Context<'_>) -> bool {
    asks_records(&ctx.look_ahead())
}

/// Whether `connection`, a connection field's selection, asks for its records (see
/// [`selects_records`]).
pub fn asks_records(connection: &async_graphql::Lookahead<'_>) -> bool {
    ["edges", "nodes", "pageInfo"]
        .iter()
        .any(|f| connection.field(f).exists())
}

/// Validates the page arguments, fetches one page with `fetch`, and builds its connection.
pub async fn fetch_connection<T, N, F, Fut>(
    ctx: &Context<'_>,
    args: PageArgs,
    fetch: F,
    key: impl Fn(&T) -> String,
    node: impl Fn(T) -> N,
) -> Result<Conn<N>>
where
    N: OutputType,
    F: FnOnce(DatabaseConnection, PageRequest) -> Fut,
    Fut: std::future::Future<Output = std::result::Result<Page<T>, sea_orm::DbErr>>,
{
    let mut req = page_request(args)?;
    // `{ totalCount }` alone (a per-site household count, say) costs no page fetch.
    req.count_only = !selects_records(ctx);
    let db = ctx.data::<DatabaseConnection>()?.clone();
    let page = fetch(db, req).await.gql()?;
    Ok(connection(page, key, node))
}

/// A connection asked only for its `totalCount`, which is `total`.
pub fn counted<N: OutputType>(total: u64) -> Conn<N> {
    Conn {
        edges: Vec::new(),
        has_previous_page: false,
        has_next_page: false,
        total: Total::Known(total),
    }
}

/// Builds a connection from a page; `key` gives each item's cursor key (see [`Conn::sealed`]
/// for keys that are personal data).
pub fn connection<T, N>(page: Page<T>, key: impl Fn(&T) -> String, node: impl Fn(T) -> N) -> Conn<N>
where
    N: OutputType,
{
    Conn {
        edges: page
            .items
            .into_iter()
            .map(|item| Edge {
                key: key(&item),
                sealed: false,
                node: node(item),
            })
            .collect(),
        has_previous_page: page.has_previous,
        has_next_page: page.has_next,
        total: page.total,
    }
}
