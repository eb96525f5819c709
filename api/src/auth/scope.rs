//! Area scope: what one request's caller may see (CONTRACT §4).
//!
//! A principal sees its area's subtree, plus the names and codes of its ancestors; a site
//! manager, additionally, only its site. [`Access::scope`] turns the caller into the domain's
//! [`Scope`], which every finder, list, lookup and write applies in SQL: whatever is outside
//! is answered as if it did not exist.

use super::{Caller, Principal};
use crate::domain::scope::Scope;
use crate::domain::unscoped::{self, Standing};
use sea_orm::{DatabaseConnection, DbErr};
use tokio::sync::OnceCell;

/// One request's view of the register.
pub struct Access {
    caller: Caller,
    db: DatabaseConnection,
    standing: OnceCell<Standing>,
}

impl Access {
    /// The access of `caller`.
    pub fn new(db: DatabaseConnection, caller: Caller) -> Self {
        Self {
            caller,
            db,
            standing: OnceCell::new(),
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
            .get_or_try_init(|| unscoped::standing(&self.db, &p.area_code))
            .await?;
        Ok(match &p.site_code {
            Some(site) => Scope::site(p.area_code.clone(), site.clone()),
            None if standing.is_root() => Scope::everything(),
            None => Scope::subtree(p.area_code.clone()),
        })
    }
}
