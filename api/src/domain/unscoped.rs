//! The reads that no caller's scope narrows, gathered here so that they are few and named:
//! where a principal's area stands in the tree (what its scope is built from), and whether
//! the register holds anything at all (startup). The whole-register tools read whole tables
//! too: the import's key lookups (`register::lookup`) and the export (`register::export`),
//! both for the tree's root only.

use entity::{area_closure, household};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait, QueryFilter};

/// Where an area stands in the tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Standing {
    /// The area exists.
    pub exists: bool,
    /// Codes of its ancestors, nearest last (empty for the root).
    pub ancestors: Vec<String>,
}

impl Standing {
    /// The area is the tree's root: its subtree is everything.
    pub fn is_root(&self) -> bool {
        self.exists && self.ancestors.is_empty()
    }
}

/// Where area `code` stands: the scope of a principal of that area is built from this.
pub async fn standing<C: ConnectionTrait>(db: &C, code: &str) -> Result<Standing, DbErr> {
    let mut rows = area_closure::Entity::find()
        .filter(area_closure::Column::DescendantCode.eq(code))
        .all(db)
        .await?;
    let exists = !rows.is_empty();
    rows.sort_by_key(|r| std::cmp::Reverse(r.depth));
    Ok(Standing {
        exists,
        ancestors: rows
            .into_iter()
            .filter(|r| r.depth > 0)
            .map(|r| r.ancestor_code)
            .collect(),
    })
}

/// Whether the register holds no household.
pub async fn register_is_empty<C: ConnectionTrait>(db: &C) -> Result<bool, DbErr> {
    Ok(household::Entity::find().count(db).await? == 0)
}
