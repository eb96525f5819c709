//! Keyset pagination: pages ordered by each record's key, resumed after the last key seen (or,
//! reading backward, before the first key seen), so a page costs one indexed range scan however
//! deep the client reads.

use entity::positional::{self, ByPosition};
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

/// A validated page request: up to `size` records whose key lies between `after` and `before`
/// (both exclusive), the first ones of that range or, `backward`, the last ones. Records come
/// back in key order either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<String>,
    pub before: Option<String>,
    pub size: u64,
    /// The page is taken from the end of the range (`last`), not its start (`first`).
    pub backward: bool,
    /// Only the total is wanted: the page's records are not fetched.
    pub count_only: bool,
}

impl PageRequest {
    /// The first `size` records after `after`.
    pub fn forward(size: u64, after: Option<String>) -> Self {
        Self {
            after,
            before: None,
            size,
            backward: false,
            count_only: false,
        }
    }

    /// Whether records were skipped at the start of the range by `after`, or at its end by
    /// `before`: the page then has neighbours on that side, as far as the client can tell.
    fn bounded(&self) -> (bool, bool) {
        (self.after.is_some(), self.before.is_some())
    }

    /// `has_previous` and `has_next` of a page, given whether more records than `size` were
    /// found in the direction read.
    fn flags(&self, more: bool) -> (bool, bool) {
        let (after, before) = self.bounded();
        if self.backward {
            (more, before)
        } else {
            (after, more)
        }
    }
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
    E: EntityTrait<Model: ByPosition>,
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
            has_previous: false,
            total,
        });
    }
    let mut query = select;
    for (bound, after) in [(&req.after, true), (&req.before, false)] {
        let Some(bound) = bound else { continue };
        match kind.value(bound) {
            Some(v) if after => query = query.filter(key.gt(v)),
            Some(v) => query = query.filter(key.lt(v)),
            // A cursor that cannot be a key of this table lies outside every key.
            None => {
                let (has_previous, has_next) = req.flags(false);
                return Ok(Page {
                    items: vec![],
                    has_next,
                    has_previous,
                    total,
                });
            }
        }
    }
    let query = if req.backward {
        query.order_by_desc(key)
    } else {
        query.order_by_asc(key)
    };
    let mut items = positional::all(query.limit(req.size + 1), db).await?;
    let more = items.len() as u64 > req.size;
    items.truncate(req.size as usize);
    if req.backward {
        items.reverse();
    }
    let (has_previous, has_next) = req.flags(more);
    Ok(Page {
        items,
        has_next,
        has_previous,
        total,
    })
}

/// Pages a list already in memory (a household's members, a site's works), ordered by `key`.
pub fn memory_page<T, K>(mut items: Vec<T>, key: impl Fn(&T) -> K, req: &PageRequest) -> Page<T>
where
    K: Ord + FromStr,
{
    let total = Total::Known(items.len() as u64);
    // Each item's key is made once (a key may be an owned copy, as an ID number is).
    items.sort_by_cached_key(|a| key(a));
    // A cursor that is no key of this kind lies outside every key: nothing is in range.
    let start = match &req.after {
        None => Some(0),
        Some(after) => after
            .parse::<K>()
            .ok()
            .map(|after| items.partition_point(|i| key(i) <= after)),
    };
    let end = match &req.before {
        None => Some(items.len()),
        Some(before) => before
            .parse::<K>()
            .ok()
            .map(|before| items.partition_point(|i| key(i) < before)),
    };
    let (start, end) = match (start, end) {
        (Some(s), Some(e)) if s < e => (s, e),
        _ => (0, 0),
    };
    let size = req.size as usize;
    let (from, to) = if req.backward {
        (end.saturating_sub(size).max(start), end)
    } else {
        (start, (start + size).min(end))
    };
    let more = if req.backward { from > start } else { to < end };
    let (has_previous, has_next) = req.flags(more);
    let items = items.drain(from..to).collect();
    Page {
        items,
        has_next,
        has_previous,
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

/// A cache key made from a statement (hashed, so the caller's scope, which narrows the
/// statement, is part of it), for a value of type `V` that any write may change: a list's
/// total (`count`), a page of sites' household counts, ….
pub struct StatementKey<'a, V> {
    kind: &'static str,
    stmt: &'a Statement,
    value: std::marker::PhantomData<V>,
}

impl<'a, V> StatementKey<'a, V> {
    pub fn new(kind: &'static str, stmt: &'a Statement) -> Self {
        Self {
            kind,
            stmt,
            value: std::marker::PhantomData,
        }
    }
}

impl<V> crate::cache::CacheKey for StatementKey<'_, V>
where
    V: serde::Serialize + serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
{
    type Value = V;
    const KIND: &'static str = "statement";
    const VERSION: u32 = 1;

    fn id(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(self.kind.as_bytes());
        hasher.update([0]);
        hasher.update(self.stmt.sql.as_bytes());
        hasher.update(format!("{:?}", self.stmt.values).as_bytes());
        hex::encode(hasher.finalize())
    }

    fn depends_on(&self) -> Vec<crate::cache::GenScope> {
        vec![crate::cache::GenScope::Register]
    }
}

/// How many records a list holds over all its pages: known with the page, or counted by the
/// page's count statement through the aggregate cache.
pub async fn total<B: super::reads::Batched>(
    reads: &super::reads::Reads<'_, B>,
    total: &Total,
) -> crate::error::Result<i64> {
    use crate::cache::CacheKey;
    match total {
        Total::Known(n) => Ok(*n as i64),
        Total::Query(stmt) => {
            let key = StatementKey::<i64>::new("count", stmt);
            let gens = reads.batched.generations(&key.depends_on()).await?;
            let db = reads.db;
            Ok(reads
                .cache
                .get_or_compute(&key, &gens, || async {
                    run_count(db, stmt.clone()).await.map(|n| n as i64)
                })
                .await?)
        }
    }
}
