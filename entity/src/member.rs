//! `members`: the people of a household, keyed by resident ID number.

use super::enums::{Gender, LaborCapacity, Relation as Kinship};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "members")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id_number: String,
    pub household_code: String,
    pub name: String,
    pub relation: Kinship,
    pub birth_date: Date,
    pub gender: Gender,
    pub labor_capacity: LaborCapacity,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
