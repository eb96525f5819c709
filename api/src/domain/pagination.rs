//! Keyset pagination: pages ordered by each record's key, resumed after the last key seen, so a
//! page costs one indexed range scan however deep the client reads.

use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, Select, Statement, Value,
};
use std::str::FromStr;

/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: u64 = 100;
/// Page size when the client names none.
pub const DEFAULT_PAGE_SIZE: u64 = 20;

/// A validated page request: up to `first` records whose key is greater than `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<String>,
    pub first: u64,
    /// Only the total is wanted: the page's records are not fetched.
    pub count_only: bool,
}

/// How a record's total is obtained: already known, or by a count statement run only when a
/// client asks for `totalCount`.
#[derive(Debug, Clone)]
pub enum Total {
    Known(u64),
    Query(Statement),
}

/// One page of records.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_next: bool,
    pub has_previous: bool,
    pub total: Total,
}

/// The kind of a table's key, to read a cursor back into a bound value.
#[derive(Debug, Clone, Copy)]
pub enum KeyKind {
    Text,
    Integer,
}

impl KeyKind {
    fn value(self, key: &str) -> Option<Value> {
        match self {
            KeyKind::Text => Some(key.to_owned().into()),
            KeyKind::Integer => key.parse::<i64>().ok().map(Into::into),
        }
    }
}

/// Runs `select` as one page ordered by `key`. The count statement is prepared, not run.
pub async fn keyset_page<E, C>(
    db: &C,
    select: Select<E>,
    key: E::Column,
    kind: KeyKind,
    req: &PageRequest,
) -> Result<Page<E::Model>, DbErr>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let backend = db.get_database_backend();
    let count = Query::select()
        .expr_as(Expr::cust("COUNT(*)"), "n")
        .from_subquery(select.as_query().to_owned(), "t")
        .to_owned();
    let total = Total::Query(backend.build(&count));
    if req.count_only {
        return Ok(Page {
            items: vec![],
            has_next: false,
            has_previous: req.after.is_some(),
            total,
        });
    }
    let mut query = select;
    if let Some(after) = &req.after {
        match kind.value(after) {
            Some(v) => query = query.filter(key.gt(v)),
            // A cursor that cannot be a key of this table is past every key.
            None => {
                return Ok(Page {
                    items: vec![],
                    has_next: false,
                    has_previous: true,
                    total,
                })
            }
        }
    }
    let mut items = query.order_by_asc(key).limit(req.first + 1).all(db).await?;
    let has_next = items.len() as u64 > req.first;
    items.truncate(req.first as usize);
    Ok(Page {
        items,
        has_next,
        has_previous: req.after.is_some(),
        total,
    })
}

/// Pages a list already in memory (a household's members, a site's works), ordered by `key`.
pub fn memory_page<T, K>(mut items: Vec<T>, key: impl Fn(&T) -> K, req: &PageRequest) -> Page<T>
where
    K: Ord + FromStr,
{
    let total = Total::Known(items.len() as u64);
    items.sort_by_key(|a| key(a));
    let start = match &req.after {
        None => 0,
        Some(after) => match after.parse::<K>() {
            Ok(after) => items.partition_point(|i| key(i) <= after),
            Err(_) => items.len(),
        },
    };
    let end = (start + req.first as usize).min(items.len());
    let has_next = end < items.len();
    let items = items.drain(start..end).collect();
    Page {
        items,
        has_next,
        has_previous: req.after.is_some(),
        total,
    }
}

/// Runs a prepared count statement.
pub async fn run_count<C: ConnectionTrait>(db: &C, stmt: Statement) -> Result<u64, DbErr> {
    let row = db.query_one_raw(stmt).await?;
    let n: i64 = match row {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    Ok(n.max(0) as u64)
}
