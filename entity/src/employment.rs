//! `employments`: jobs held by members. The natural key is
//! (member, path, employer, start date); `id` is the stable surrogate the API exposes.

use super::enums::{EmploymentLocation, EmploymentPath};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize, serde::Deserialize)]
#[sea_orm(table_name = "employments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub member_id_number: String,
    pub path: EmploymentPath,
    pub employer: String,
    pub location: EmploymentLocation,
    pub started_on: Date,
    pub ended_on: Option<Date>,
    pub monthly_income_yuan: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
