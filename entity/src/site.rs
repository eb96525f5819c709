//! `sites`: resettlement sites (安置点).

use super::enums::{Placement, SiteSetting};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "sites")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    pub name: String,
    pub township_code: String,
    pub placement: Placement,
    pub setting: SiteSetting,
    pub planned_households: i32,
    pub planned_persons: i32,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub construction_started_on: Option<Date>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
