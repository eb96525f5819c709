//! `area_closure`: every (ancestor, descendant) pair of the area tree, including each area with
//! itself at depth 0. Scope filters join on it instead of walking the tree at query time.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "area_closure")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub ancestor_code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub descendant_code: String,
    pub depth: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
