//! Area scope: what one request's caller may see (CONTRACT §4).
//!
//! A principal sees its area's subtree, plus the names and codes of its ancestors; a site
//! manager, additionally, only its site. Lists are narrowed in SQL by the [`Scope`] of
//! [`Access::scope`]; single records reached by key or by reference are checked with
//! [`Access::area_within`] and friends, batched per request. Whatever is outside is answered as if it did not exist.

use super::{Caller, Principal};
use crate::domain::scope::Scope;
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::area_closure;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// Where the principal's area stands in the tree.
#[derive(Debug, Default)]
struct Tree {
    /// The area is the root of the tree (the subtree is everything).
    root: bool,
    /// Codes of the area's ancestors.
    ancestors: HashSet<String>,
}

/// Answers "is this area in the principal's subtree?" for a batch of areas at once.
pub struct WithinLoader {
    db: DatabaseConnection,
    area: String,
}

impl Loader<String> for WithinLoader {
    type Value = bool;
    type Error = Arc<DbErr>;

    async fn load(&self, keys: &[String]) -> Result<HashMap<String, bool>, Self::Error> {
        let rows = area_closure::Entity::find()
            .filter(area_closure::Column::AncestorCode.eq(self.area.clone()))
            .filter(crate::db::key_in(
                &self.db,
                area_closure::Column::DescendantCode,
                keys,
            ))
            .all(&self.db)
            .await?;
        let found: HashSet<String> = rows.into_iter().map(|r| r.descendant_code).collect();
        Ok(keys
            .iter()
            .map(|k| (k.clone(), found.contains(k)))
            .collect())
    }
}

/// One request's view of the register.
pub struct Access {
    caller: Caller,
    db: DatabaseConnection,
    within: Option<DataLoader<WithinLoader, HashMapCache>>,
    tree: OnceCell<Tree>,
}

fn db_error(e: Arc<DbErr>) -> DbErr {
    Arc::try_unwrap(e).unwrap_or_else(|shared| DbErr::Custom(shared.to_string()))
}

impl Access {
    /// The access of `caller`; loaders wait `delay` to gather a batch.
    pub fn new(db: DatabaseConnection, caller: Caller, delay: std::time::Duration) -> Self {
        let within = caller.principal().map(|p| {
            DataLoader::with_cache(
                WithinLoader {
                    db: db.clone(),
                    area: p.area_code.clone(),
                },
                tokio::spawn,
                HashMapCache::default(),
            )
            .delay(delay)
        });
        Self {
            caller,
            db,
            within,
            tree: OnceCell::new(),
        }
    }

    /// Who is asking.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// The principal, if any.
    pub fn principal(&self) -> Option<&Principal> {
        self.caller.principal()
    }

    /// The one site a site manager is limited to.
    pub fn site_only(&self) -> Option<&str> {
        self.principal().and_then(|p| p.site_code.as_deref())
    }

    async fn tree(&self, p: &Principal) -> Result<&Tree, DbErr> {
        self.tree
            .get_or_try_init(|| async {
                let rows = area_closure::Entity::find()
                    .filter(area_closure::Column::DescendantCode.eq(p.area_code.clone()))
                    .all(&self.db)
                    .await?;
                let exists = !rows.is_empty();
                let ancestors: HashSet<String> = rows
                    .into_iter()
                    .filter(|r| r.depth > 0)
                    .map(|r| r.ancestor_code)
                    .collect();
                Ok(Tree {
                    root: exists && ancestors.is_empty(),
                    ancestors,
                })
            })
            .await
    }

    /// What the caller may see, for every finder, list and write of the domain: everything for
    /// an anonymous caller (whose public reads show no personal record at all) and for a
    /// principal at the tree's root; else its area's subtree, or its one site.
    pub async fn scope(&self) -> Result<Scope, DbErr> {
        let Some(p) = self.principal() else {
            return Ok(Scope::everything());
        };
        let tree = self.tree(p).await?;
        Ok(match &p.site_code {
            Some(site) => Scope::site(p.area_code.clone(), site.clone()),
            None if tree.root => Scope::everything(),
            None => Scope::subtree(p.area_code.clone()),
        })
    }

    /// Whether area `code` lies in the caller's subtree (everything, for an anonymous caller).
    pub async fn area_within(&self, code: &str) -> Result<bool, DbErr> {
        let (Some(p), Some(loader)) = (self.principal(), &self.within) else {
            return Ok(true);
        };
        if self.tree(p).await?.root {
            return Ok(true);
        }
        Ok(loader
            .load_one(code.to_owned())
            .await
            .map_err(db_error)?
            .unwrap_or(false))
    }

    /// Whether area `code` may be shown: in the subtree, or one of the principal's ancestors.
    pub async fn area_visible(&self, code: &str) -> Result<bool, DbErr> {
        if let Some(p) = self.principal() {
            if self.tree(p).await?.ancestors.contains(code) {
                return Ok(true);
            }
        }
        self.area_within(code).await
    }

    /// Whether a site located in township `township_code` may be shown.
    pub async fn site_visible(&self, site_code: &str, township_code: &str) -> Result<bool, DbErr> {
        if self.site_only().is_some_and(|only| only != site_code) {
            return Ok(false);
        }
        self.area_within(township_code).await
    }
}
