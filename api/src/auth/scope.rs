//! Area scope: what one request's caller may see (CONTRACT §4).
//!
//! A principal sees its area's subtree, plus the names and codes of its ancestors; a site
//! manager, additionally, only its site. [`Access::scope`] turns the caller into the domain's
//! [`Scope`], which every finder, list, lookup and write applies in SQL: whatever is outside
//! is answered as if it did not exist.

use super::{Caller, Principal};
use crate::cache::Generation;
use crate::domain::scope::Scope;
use crate::domain::unscoped::{self, Standing};
use sea_orm::{DatabaseConnection, DbErr};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tokio::sync::OnceCell;

/// One request's view of the register.
pub struct Access {
    caller: Caller,
    db: DatabaseConnection,
    standing: OnceCell<Arc<Standing>>,
    /// Where areas stand at the register's state the request reads, as earlier requests of
    /// this process found it.
    known: Option<(Arc<Standings>, Generation)>,
}

/// Where the principals' areas stand in the tree, kept by the process for the register's state
/// each was read at. The tree changes only with an import, which raises that state in the
/// transaction that writes the tree: a request that read the state first and then finds an
/// entry of that very state finds the tree it would read itself, and saves a statement.
#[derive(Default)]
pub struct Standings {
    known: RwLock<HashMap<String, (Generation, Arc<Standing>)>>,
}

impl Standings {
    /// At most this many areas are remembered; past it, the map starts again empty.
    const MOST: usize = 4096;

    /// Where `area` stands at state `at`, if known.
    fn get(&self, area: &str, at: Generation) -> Option<Arc<Standing>> {
        let known = self.known.read().unwrap_or_else(|e| e.into_inner());
        known
            .get(area)
            .filter(|(state, _)| *state == at)
            .map(|(_, standing)| standing.clone())
    }

    /// Remembers where `area` stands at state `at`.
    fn put(&self, area: &str, at: Generation, standing: Arc<Standing>) {
        let mut known = self.known.write().unwrap_or_else(|e| e.into_inner());
        if known.len() >= Self::MOST && !known.contains_key(area) {
            known.clear();
        }
        known.insert(area.to_owned(), (at, standing));
    }
}

impl Access {
    /// The access of `caller`.
    pub fn new(db: DatabaseConnection, caller: Caller) -> Self {
        Self {
            caller,
            db,
            standing: OnceCell::new(),
            known: None,
        }
    }

    /// The same access, reading where the principal's area stands from `standings` when they
    /// hold it for state `at` of the register (which the request read before anything else),
    /// and telling them what it read otherwise.
    pub fn remembering(mut self, standings: Arc<Standings>, at: Generation) -> Self {
        self.known = Some((standings, at));
        self
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

    /// What the caller may see, for every finder, list, lookup and write of the domain:
    /// everything for an anonymous caller (whose public reads show no personal record at all)
    /// and for a principal at the tree's root; else its area's subtree, or its one site. The
    /// principal's place in the tree is read once per request.
    pub async fn scope(&self) -> Result<Scope, DbErr> {
        let Some(p) = self.principal() else {
            return Ok(Scope::everything());
        };
        let standing = self
            .standing
            .get_or_try_init(|| async {
                let known = self.known.as_ref();
                if let Some(found) = known.and_then(|(s, at)| s.get(&p.area_code, *at)) {
                    return Ok(found);
                }
                let read = Arc::new(unscoped::standing(&self.db, &p.area_code).await?);
                if let Some((standings, at)) = known {
                    standings.put(&p.area_code, *at, read.clone());
                }
                Ok::<_, DbErr>(read)
            })
            .await?;
        Ok(match &p.site_code {
            Some(site) => Scope::site(p.area_code.clone(), site.clone()),
            None if standing.is_root() => Scope::everything(),
            None => Scope::subtree(p.area_code.clone()),
        })
    }
}
