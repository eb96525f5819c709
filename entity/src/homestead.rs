//! `homesteads`: the old houses (宅基地) households left behind. The CSV has no key column, so
//! the natural key is (household, village, seq), `seq` numbering a household's homesteads in one
//! village in data-set order; `id` is the stable surrogate the API exposes.

use super::enums::ReclaimedUse;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "homesteads")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub household_code: String,
    pub village_code: String,
    pub seq: i32,
    pub area_mu: f64,
    pub exempt: bool,
    pub demolished_on: Option<Date>,
    pub reclaimed_on: Option<Date>,
    pub reclaimed_use: Option<ReclaimedUse>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
