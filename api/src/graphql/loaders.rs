//! DataLoaders: every reference and child list on a page is fetched in one statement per kind,
//! however many parents the page holds. Loaders are created per request, so nothing is cached
//! across requests, and read through the scoped finders of [`crate::domain::find`] with the
//! request's scope: a record the caller may not see is never loaded.

use crate::auth::scope::Access;
use crate::cache::{Cache, GenScope, Generation};
use crate::domain::find::{self, Child, Keyed};
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use async_graphql::{Context, Request};
use entity::{area, employment, homestead, household, member, site, site_work};
use sea_orm::{DatabaseConnection, DbErr};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::error::Error;

/// Loads the records of `E` the caller may see by key, through [`find::by_keys`]. `ROLE`
/// tells apart loaders of one entity that serve different fields (a site's township, a
/// household's origin village, …): each then fires exactly one batch per level of the query,
/// so a page's statement count is the same every time.
pub struct ByKey<E, const ROLE: u8 = 0> {
    db: DatabaseConnection,
    access: Arc<Access>,
    kind: PhantomData<E>,
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

/// Loads the records of `E` the caller may see grouped by their parent's key (a household's
/// members, …), through [`find::by_parents`].
pub struct GroupedBy<E> {
    db: DatabaseConnection,
    access: Arc<Access>,
    kind: PhantomData<E>,
}

impl<E, const ROLE: u8> Loader<String> for ByKey<E, ROLE>
where
    E: Keyed<Key = String>,
    E::Model: Send + Sync,
{
    // Shared: every row of a page that refers to one record gets the same, not a copy.
    type Value = Arc<E::Model>;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, Arc<E::Model>>, Self::Error> {
        let scope = self.access.scope().await?;
        let rows = find::by_keys::<E, _>(&self.db, &scope, keys).await?;
        Ok(rows
            .into_iter()
            .map(|m| (E::key(&m), Arc::new(m)))
            .collect())
    }
}

impl<E> Loader<String> for GroupedBy<E>
where
    E: Child,
    E::Model: Send + Sync,
{
    // Shared: a parent's children are handed to its resolver as counted references, not copied.
    type Value = Vec<Arc<E::Model>>;
    type Error = Arc<DbErr>;

    async fn load(
        &self,
        keys: &[String],
    ) -> Result<HashMap<String, Vec<Arc<E::Model>>>, Self::Error> {
        let scope = self.access.scope().await?;
        let rows = find::by_parents::<E, _>(&self.db, &scope, keys).await?;
        Ok(grouped::<E>(keys.iter().cloned(), rows))
    }
}

/// Children by parent. Every parent of `parents` gets an entry, an empty one when it has no
/// children, so the request's loader remembers that too and never asks again.
fn grouped<E: Child>(
    parents: impl IntoIterator<Item = String>,
    rows: impl IntoIterator<Item = E::Model>,
) -> HashMap<String, Vec<Arc<E::Model>>> {
    let mut groups: HashMap<String, Vec<Arc<E::Model>>> =
        parents.into_iter().map(|p| (p, Vec::new())).collect();
    for row in rows {
        groups
            .entry(E::parent(&row))
            .or_default()
            .push(Arc::new(row));
    }
    groups
}

/// Reads cache generation counters for a request, all the keys of a batch in one round trip.
/// Cached for the request, so one request sees one consistent snapshot; the register's own,
/// which the request read before anything else, is not read again.
pub struct Generations {
    cache: Cache,
    register: Option<Generation>,
}

impl Loader<GenScope> for Generations {
    type Value = Generation;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[GenScope]) -> Result<HashMap<GenScope, Generation>, Self::Error> {
        let mut found = HashMap::with_capacity(keys.len());
        let mut unknown = Vec::with_capacity(keys.len());
        for key in keys {
            match (key, self.register) {
                (GenScope::Register, Some(g)) => {
                    found.insert(key.clone(), g);
                }
                _ => unknown.push(key.clone()),
            }
        }
        if !unknown.is_empty() {
            let values = self.cache.generations(&unknown).await?;
            found.extend(unknown.into_iter().zip(values));
        }
        Ok(found)
    }
}

/// Counts the households the caller sees on each site of a batch: a page of sites asking for
/// `households { totalCount }` costs one grouped statement (or one cache entry), not one
/// count per site.
pub struct HouseholdCounts {
    db: DatabaseConnection,
    cache: Cache,
    access: Arc<Access>,
    generations: Arc<DataLoader<Generations, HashMapCache>>,
}

impl Loader<String> for HouseholdCounts {
    type Value = u64;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, u64>, Self::Error> {
        let scope = self.access.scope().await?;
        let depends_on = crate::domain::register::household_counts_depend_on();
        let found = self
            .generations
            .load_many(depends_on.iter().cloned())
            .await?;
        let gens: Vec<Generation> = depends_on
            .iter()
            .map(|s| found.get(s).copied().unwrap_or(Generation::NONE))
            .collect();
        Ok(
            crate::domain::register::household_counts(&self.db, &self.cache, &gens, &scope, keys)
                .await?,
        )
    }
}

/// Answers "does this area lie in the caller's subtree?" for a batch of areas at once.
pub struct AreasBelow {
    db: DatabaseConnection,
    access: Arc<Access>,
}

impl Loader<String> for AreasBelow {
    type Value = bool;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, bool>, Self::Error> {
        let scope = self.access.scope().await?;
        let below = find::areas_below(&self.db, &scope, keys).await?;
        Ok(keys
            .iter()
            .map(|k| (k.clone(), below.contains(k)))
            .collect())
    }
}

/// Loaders keep what they loaded for the rest of the request, so a page can load everything
/// its records refer to in one batch up front (see [`prefetch`]) and each reference is then
/// answered from memory.
fn loader<T: Loader<String>>(l: T, delay: Duration) -> DataLoader<T, HashMapCache> {
    DataLoader::with_cache(l, tokio::spawn, HashMapCache::default()).delay(delay)
}

/// A request's loader, and every answer it gave kept beside it by key (an absent record as
/// such). The rows of a page ask again, one by one, for what the page loaded in one batch: such
/// a question is answered here with a read lock, one hash of the borrowed key and a counted
/// reference, where the loader would copy the key and build a set and a map for it.
pub struct Loaded<T: Loader<String>> {
    loader: DataLoader<T, HashMapCache>,
    known: RwLock<HashMap<String, Option<T::Value>>>,
}

impl<T: Loader<String>> Loaded<T> {
    fn new(loader: DataLoader<T, HashMapCache>) -> Self {
        Self {
            loader,
            known: RwLock::default(),
        }
    }

    /// The value for `key`, if there is one.
    pub async fn one(&self, key: &str) -> Result<Option<T::Value>, T::Error> {
        if let Some(known) = self.read().get(key) {
            return Ok(known.clone());
        }
        let found = self.loader.load_one(key.to_owned()).await?;
        self.write().insert(key.to_owned(), found.clone());
        Ok(found)
    }

    /// The values for `keys` there are, in one batch. The batch is whole already, so it is
    /// loaded at once, not queued behind the loader's delay, and kept here only: the rows of
    /// the page that asked for it find their answers beside the loader.
    pub async fn many(
        &self,
        keys: impl IntoIterator<Item = String>,
    ) -> Result<HashMap<String, T::Value>, T::Error> {
        let (mut found, unknown) = self.split(keys);
        if unknown.is_empty() {
            return Ok(found);
        }
        let mut loaded = self.loader.loader().load(&unknown).await?;
        let mut known = self.write();
        for key in unknown {
            let value = loaded.remove(&key);
            if let Some(value) = &value {
                found.insert(key.clone(), value.clone());
            }
            known.insert(key, value);
        }
        Ok(found)
    }

    /// Of `keys`, the answers already given (none for a key known to have none), and the keys
    /// not asked yet, each once.
    fn split(
        &self,
        keys: impl IntoIterator<Item = String>,
    ) -> (HashMap<String, T::Value>, Vec<String>) {
        let mut found = HashMap::new();
        let mut unknown = Vec::new();
        let known = self.read();
        for key in keys {
            match known.get(&key) {
                Some(Some(value)) => {
                    found.insert(key, value.clone());
                }
                Some(None) => {}
                None => unknown.push(key),
            }
        }
        unknown.sort_unstable();
        unknown.dedup();
        (found, unknown)
    }

    /// Keeps answers read with another kind's batch as this loader's; an answer already given
    /// for a key stays.
    fn keep(&self, answers: impl IntoIterator<Item = (String, Option<T::Value>)>) {
        let mut known = self.write();
        for (key, value) in answers {
            known.entry(key).or_insert(value);
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Option<T::Value>>> {
        self.known.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Option<T::Value>>> {
        self.known.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Attaches a fresh set of loaders, and the caller's access they read through, to one request
/// that read the register's generation `register` (when it could) before anything else.
pub fn attach(
    request: Request,
    (db, cache): (&DatabaseConnection, &Cache),
    register: Option<Generation>,
    access: Access,
    delay: Duration,
) -> Request {
    let access = Arc::new(access);
    macro_rules! by_key {
        ($entity:ty, $role:expr) => {
            Loaded::new(loader(
                ByKey::<$entity, { $role }> {
                    db: db.clone(),
                    access: access.clone(),
                    kind: PhantomData,
                },
                delay,
            ))
        };
    }
    macro_rules! grouped {
        ($entity:ty) => {
            Loaded::new(loader(
                GroupedBy::<$entity> {
                    db: db.clone(),
                    access: access.clone(),
                    kind: PhantomData,
                },
                delay,
            ))
        };
    }
    let generations = Arc::new(
        DataLoader::with_cache(
            Generations {
                cache: cache.clone(),
                register,
            },
            tokio::spawn,
            HashMapCache::default(),
        )
        .delay(delay),
    );
    request
        .data(Loaded::new(loader(
            HouseholdCounts {
                db: db.clone(),
                cache: cache.clone(),
                access: access.clone(),
                generations: generations.clone(),
            },
            delay,
        )))
        .data(generations)
        .data(by_key!(area::Entity, role::AREA))
        .data(by_key!(area::Entity, role::TOWNSHIP))
        .data(by_key!(area::Entity, role::ORIGIN_VILLAGE))
        .data(by_key!(area::Entity, role::HOMESTEAD_VILLAGE))
        .data(by_key!(site::Entity, 0))
        .data(by_key!(household::Entity, 0))
        .data(by_key!(member::Entity, 0))
        .data(grouped!(member::Entity))
        .data(grouped!(employment::Entity))
        .data(grouped!(homestead::Entity))
        .data(grouped!(site_work::Entity))
        .data(
            DataLoader::with_cache(
                AreasBelow {
                    db: db.clone(),
                    access: access.clone(),
                },
                tokio::spawn,
                HashMapCache::default(),
            )
            .delay(delay),
        )
        .data(access)
}

/// The database error a loader shared among its waiters.
pub(super) fn unshared(e: Arc<DbErr>) -> Error {
    // A copy keeps what the error was (a lost connection is told apart from a failure).
    Error::Database(Arc::try_unwrap(e).unwrap_or_else(|shared| (*shared).clone()))
}

fn db_error(e: Arc<DbErr>) -> async_graphql::Error {
    use async_graphql::ErrorExtensions;
    unshared(e).extend()
}

/// Loads one record by key through the request's loader.
pub async fn one<E>(ctx: &Context<'_>, key: &str) -> async_graphql::Result<Option<Arc<E::Model>>>
where
    E: Keyed<Key = String>,
    E::Model: Send + Sync,
{
    one_as::<E, 0>(ctx, key).await
}

/// Loads one record by key through the request's loader for `ROLE`.
pub async fn one_as<E, const ROLE: u8>(
    ctx: &Context<'_>,
    key: &str,
) -> async_graphql::Result<Option<Arc<E::Model>>>
where
    E: Keyed<Key = String>,
    E::Model: Send + Sync,
{
    let loader = ctx.data::<Loaded<ByKey<E, ROLE>>>()?;
    loader.one(key).await.map_err(db_error)
}

/// Like [`one`], for references the database guarantees (foreign keys): absence is an error.
pub async fn required<E, const ROLE: u8>(
    ctx: &Context<'_>,
    what: &'static str,
    key: &str,
) -> async_graphql::Result<Arc<E::Model>>
where
    E: Keyed<Key = String>,
    E::Model: Send + Sync,
{
    use async_graphql::ErrorExtensions;
    one_as::<E, ROLE>(ctx, key)
        .await?
        .ok_or_else(|| Error::not_found(what, key).extend())
}

/// How many households the caller sees on site `code`, counted with the other sites of the
/// same batch.
pub async fn household_count(ctx: &Context<'_>, code: &str) -> async_graphql::Result<u64> {
    let loader = ctx.data::<Loaded<HouseholdCounts>>()?;
    Ok(loader.one(code).await.map_err(db_error)?.unwrap_or(0))
}

/// Counts the households the caller sees on each of these sites in one batch, and keeps the
/// counts for the request: a page of sites whose rows ask for their count calls this first.
pub async fn prefetch_household_counts(
    ctx: &Context<'_>,
    sites: impl IntoIterator<Item = String>,
) -> async_graphql::Result<()> {
    let loader = ctx.data::<Loaded<HouseholdCounts>>()?;
    loader.many(sites).await.map_err(db_error)?;
    Ok(())
}

/// Loads the children of one parent through the request's loader.
pub async fn children<E>(
    ctx: &Context<'_>,
    parent: &str,
) -> async_graphql::Result<Vec<Arc<E::Model>>>
where
    E: Child,
    E::Model: Send + Sync,
{
    let loader = ctx.data::<Loaded<GroupedBy<E>>>()?;
    Ok(loader
        .one(parent)
        .await
        .map_err(db_error)?
        .unwrap_or_default())
}

/// Loads the members of these households and the members' employments in one statement, and
/// keeps both for the request as the answers of the members' and the employments' loaders.
pub async fn prefetch_members_with_employments(
    ctx: &Context<'_>,
    households: impl IntoIterator<Item = String>,
) -> async_graphql::Result<()> {
    let members = ctx.data::<Loaded<GroupedBy<member::Entity>>>()?;
    let employments = ctx.data::<Loaded<GroupedBy<employment::Entity>>>()?;
    let (_, households) = members.split(households);
    if households.is_empty() {
        return Ok(());
    }
    // Read where the members' loader reads, with its caller's scope.
    let GroupedBy { db, access, .. } = members.loader.loader();
    let scope = access.scope().await.map_err(|e| db_error(Arc::new(e)))?;
    let rows = find::members_with_employments(db, &scope, &households)
        .await
        .map_err(|e| db_error(Arc::new(e)))?;
    // Every household and every member gets an answer, an empty one when it has nothing.
    let mut read = Vec::with_capacity(rows.len());
    let mut by_member = Vec::with_capacity(rows.len());
    for (member, jobs) in rows {
        by_member.push((
            member.id_number.clone(),
            Some(jobs.into_iter().map(Arc::new).collect()),
        ));
        read.push(member);
    }
    let by_household = grouped::<member::Entity>(households, read);
    members.keep(by_household.into_iter().map(|(h, m)| (h, Some(m))));
    employments.keep(by_member);
    Ok(())
}

/// Loads the records of `E` with these keys in one statement and keeps them for the request:
/// a page calls this for what its rows refer to, so the references cost one statement however
/// the rows' resolvers interleave under load.
pub async fn prefetch<E, const ROLE: u8>(
    ctx: &Context<'_>,
    keys: impl IntoIterator<Item = String>,
) -> async_graphql::Result<HashMap<String, Arc<E::Model>>>
where
    E: Keyed<Key = String>,
    E::Model: Send + Sync,
{
    let loader = ctx.data::<Loaded<ByKey<E, ROLE>>>()?;
    loader.many(keys).await.map_err(db_error)
}

/// Loads the children of these parents in one statement and keeps them for the request;
/// returns them by parent.
pub async fn prefetch_children<E>(
    ctx: &Context<'_>,
    parents: impl IntoIterator<Item = String>,
) -> async_graphql::Result<HashMap<String, Vec<Arc<E::Model>>>>
where
    E: Child,
    E::Model: Send + Sync,
{
    let loader = ctx.data::<Loaded<GroupedBy<E>>>()?;
    loader.many(parents).await.map_err(db_error)
}
