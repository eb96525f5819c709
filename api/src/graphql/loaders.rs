//! DataLoaders: every reference and child list on a page is fetched in one statement per kind,
//! however many parents the page holds. Loaders are created per request, so nothing is cached
//! across requests.

use crate::cache::{Cache, GenScope, Generation};
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use async_graphql::{Context, Request};
use entity::{area, employment, homestead, household, member, site, site_work};
use sea_orm::{DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;

/// Loads records of `E` by a unique key column. `ROLE` tells apart loaders of one entity that
/// serve different fields (a site's township, a household's origin village, …): each then fires
/// exactly one batch per level of the query, so a page's statement count is the same every time.
pub struct ByKey<E: EntityTrait, const ROLE: u8 = 0> {
    db: DatabaseConnection,
    column: E::Column,
    key: fn(&E::Model) -> String,
}

/// Loader roles for areas.
pub mod role {
    /// `Area.parent`, `area(code:)`.
    pub const AREA: u8 = 0;
    /// `ResettlementSite.township`.
    pub const TOWNSHIP: u8 = 1;
    /// `Household.originVillage`.
    pub const ORIGIN_VILLAGE: u8 = 2;
    /// `Homestead.village`.
    pub const HOMESTEAD_VILLAGE: u8 = 3;
}

/// Loads the records of `E` grouped by a parent key column (a household's members, …).
pub struct GroupedBy<E: EntityTrait> {
    db: DatabaseConnection,
    column: E::Column,
    key: fn(&E::Model) -> String,
}

impl<E, const ROLE: u8> Loader<String> for ByKey<E, ROLE>
where
    E: EntityTrait,
    E::Model: Send + Sync + Clone,
{
    type Value = E::Model;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, E::Model>, Self::Error> {
        let rows = E::find()
            .filter(crate::db::key_in(&self.db, self.column, keys))
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|m| ((self.key)(&m), m)).collect())
    }
}

impl<E> Loader<String> for GroupedBy<E>
where
    E: EntityTrait,
    E::Model: Send + Sync + Clone,
{
    type Value = Vec<E::Model>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Vec<E::Model>>, Self::Error> {
        let rows = E::find()
            .filter(crate::db::key_in(&self.db, self.column, keys))
            .all(&self.db)
            .await?;
        // Every parent gets an entry, an empty one when it has no children, so the request's
        // loader remembers that too and never asks again.
        let mut groups: HashMap<String, Vec<E::Model>> =
            keys.iter().map(|k| (k.clone(), Vec::new())).collect();
        for row in rows {
            groups.entry((self.key)(&row)).or_default().push(row);
        }
        Ok(groups)
    }
}

/// Reads cache generation counters for a request, all the keys of a batch in one round trip.
/// Cached for the request, so one request sees one consistent snapshot.
pub struct Generations(Cache);

impl Loader<GenScope> for Generations {
    type Value = Generation;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[GenScope]) -> Result<HashMap<GenScope, Generation>, Self::Error> {
        let values = self.0.generations(keys).await?;
        Ok(keys.iter().cloned().zip(values).collect())
    }
}

/// The generation counters of `scopes` for this request, in order.
pub async fn generations(
    ctx: &Context<'_>,
    scopes: &[GenScope],
) -> async_graphql::Result<Vec<Generation>> {
    let loader = ctx.data::<DataLoader<Generations, HashMapCache>>()?;
    let found = loader
        .load_many(scopes.iter().cloned())
        .await
        .map_err(db_error)?;
    Ok(scopes
        .iter()
        .map(|s| found.get(s).copied().unwrap_or(Generation::NONE))
        .collect())
}

/// Loaders keep what they loaded for the rest of the request, so a page can load everything
/// its records refer to in one batch up front (see [`prefetch`]) and each reference is then
/// answered from memory.
fn loader<T: Loader<String>>(l: T, delay: Duration) -> DataLoader<T, HashMapCache> {
    DataLoader::with_cache(l, tokio::spawn, HashMapCache::default()).delay(delay)
}

/// Attaches a fresh set of loaders to one request.
pub fn attach(
    request: Request,
    db: &DatabaseConnection,
    cache: &Cache,
    delay: Duration,
) -> Request {
    let db = || db.clone();
    request
        .data(
            DataLoader::with_cache(
                Generations(cache.clone()),
                tokio::spawn,
                HashMapCache::default(),
            )
            .delay(delay),
        )
        .data(loader(
            ByKey::<area::Entity, { role::AREA }> {
                db: db(),
                column: area::Column::Code,
                key: |m| m.code.clone(),
            },
            delay,
        ))
        .data(loader(
            ByKey::<area::Entity, { role::TOWNSHIP }> {
                db: db(),
                column: area::Column::Code,
                key: |m| m.code.clone(),
            },
            delay,
        ))
        .data(loader(
            ByKey::<area::Entity, { role::ORIGIN_VILLAGE }> {
                db: db(),
                column: area::Column::Code,
                key: |m| m.code.clone(),
            },
            delay,
        ))
        .data(loader(
            ByKey::<area::Entity, { role::HOMESTEAD_VILLAGE }> {
                db: db(),
                column: area::Column::Code,
                key: |m| m.code.clone(),
            },
            delay,
        ))
        .data(loader(
            ByKey::<site::Entity> {
                db: db(),
                column: site::Column::Code,
                key: |m| m.code.clone(),
            },
            delay,
        ))
        .data(loader(
            ByKey::<household::Entity> {
                db: db(),
                column: household::Column::Code,
                key: |m| m.code.clone(),
            },
            delay,
        ))
        .data(loader(
            ByKey::<member::Entity> {
                db: db(),
                column: member::Column::IdNumber,
                key: |m| m.id_number.clone(),
            },
            delay,
        ))
        .data(loader(
            GroupedBy::<member::Entity> {
                db: db(),
                column: member::Column::HouseholdCode,
                key: |m| m.household_code.clone(),
            },
            delay,
        ))
        .data(loader(
            GroupedBy::<employment::Entity> {
                db: db(),
                column: employment::Column::MemberIdNumber,
                key: |m| m.member_id_number.clone(),
            },
            delay,
        ))
        .data(loader(
            GroupedBy::<homestead::Entity> {
                db: db(),
                column: homestead::Column::HouseholdCode,
                key: |m| m.household_code.clone(),
            },
            delay,
        ))
        .data(loader(
            GroupedBy::<site_work::Entity> {
                db: db(),
                column: site_work::Column::SiteCode,
                key: |m| m.site_code.clone(),
            },
            delay,
        ))
}

fn db_error(e: Arc<DbErr>) -> async_graphql::Error {
    use async_graphql::ErrorExtensions;
    // A copy keeps what the error was (a lost connection is told apart from a failure).
    let cause = Arc::try_unwrap(e).unwrap_or_else(|shared| (*shared).clone());
    Error::Database(cause).extend()
}

/// Loads one record by key through the request's loader.
pub async fn one<E>(ctx: &Context<'_>, key: &str) -> async_graphql::Result<Option<E::Model>>
where
    E: EntityTrait,
    E::Model: Send + Sync + Clone,
{
    one_as::<E, 0>(ctx, key).await
}

/// Loads one record by key through the request's loader for `ROLE`.
pub async fn one_as<E, const ROLE: u8>(
    ctx: &Context<'_>,
    key: &str,
) -> async_graphql::Result<Option<E::Model>>
where
    E: EntityTrait,
    E::Model: Send + Sync + Clone,
{
    let loader = ctx.data::<DataLoader<ByKey<E, ROLE>, HashMapCache>>()?;
    loader.load_one(key.to_owned()).await.map_err(db_error)
}

/// Like [`one`], for references the database guarantees (foreign keys): absence is an error.
pub async fn required<E, const ROLE: u8>(
    ctx: &Context<'_>,
    what: &'static str,
    key: &str,
) -> async_graphql::Result<E::Model>
where
    E: EntityTrait,
    E::Model: Send + Sync + Clone,
{
    use async_graphql::ErrorExtensions;
    one_as::<E, ROLE>(ctx, key)
        .await?
        .ok_or_else(|| Error::not_found(what, key).extend())
}

/// Loads the children of one parent through the request's loader.
pub async fn children<E>(ctx: &Context<'_>, parent: &str) -> async_graphql::Result<Vec<E::Model>>
where
    E: EntityTrait,
    E::Model: Send + Sync + Clone,
{
    let loader = ctx.data::<DataLoader<GroupedBy<E>, HashMapCache>>()?;
    Ok(loader
        .load_one(parent.to_owned())
        .await
        .map_err(db_error)?
        .unwrap_or_default())
}

/// Loads the records of `E` with these keys in one statement and keeps them for the request:
/// a page calls this for what its rows refer to, so the references cost one statement however
/// the rows' resolvers interleave under load.
pub async fn prefetch<E, const ROLE: u8>(
    ctx: &Context<'_>,
    keys: impl IntoIterator<Item = String>,
) -> async_graphql::Result<HashMap<String, E::Model>>
where
    E: EntityTrait,
    E::Model: Send + Sync + Clone,
{
    let loader = ctx.data::<DataLoader<ByKey<E, ROLE>, HashMapCache>>()?;
    loader.load_many(keys).await.map_err(db_error)
}

/// Loads the children of these parents in one statement and keeps them for the request;
/// returns them by parent.
pub async fn prefetch_children<E>(
    ctx: &Context<'_>,
    parents: impl IntoIterator<Item = String>,
) -> async_graphql::Result<HashMap<String, Vec<E::Model>>>
where
    E: EntityTrait,
    E::Model: Send + Sync + Clone,
{
    let loader = ctx.data::<DataLoader<GroupedBy<E>, HashMapCache>>()?;
    loader.load_many(parents).await.map_err(db_error)
}
