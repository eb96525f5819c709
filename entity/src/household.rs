//! `households`: relocated households (搬迁户), keyed by their 建档立卡 number.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "households")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    pub head_name: String,
    pub head_id_number: String,
    pub phone: Option<String>,
    pub origin_village_code: String,
    pub site_code: String,
    pub persons: i32,
    pub registered_poor: bool,
    pub moved_in_on: Option<Date>,
    pub poverty_exit_on: Option<Date>,
    pub relapsed_on: Option<Date>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
