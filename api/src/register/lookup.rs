//! What the database already holds about the keys a data set names, fetched in batches of
//! [`CHUNK`] keys per query (`IN (...)`), never one query per row.

use super::dataset::{EmploymentKey, HomesteadKey};
use chrono::NaiveDate;
use entity::enums::{AreaLevel, EmploymentPath, Relation};
use entity::{area, employment, homestead, household, member, site};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect};
use std::collections::{HashMap, HashSet};

/// Keys per lookup query. Far below the bound-parameter limits, and small enough that a query's
/// parameters fit in one TLS record (16 KiB): a message split over several records can wait
/// on a delayed ACK (Nagle's algorithm; the driver does not set TCP_NODELAY) for tens of
/// milliseconds per query.
pub(crate) const CHUNK: usize = 500;

/// Whether `E`'s table has no rows (then no lookup in it can find anything).
pub(crate) async fn is_empty<E: EntityTrait, C: ConnectionTrait>(db: &C) -> Result<bool, DbErr> {
    let any = E::find()
        .select_only()
        .expr(Expr::val(1))
        .limit(1)
        .into_tuple::<i32>()
        .one(db)
        .await?;
    Ok(any.is_none())
}

fn decode<T>(what: &str, value: &str, parse: impl FnOnce(&str) -> Option<T>) -> Result<T, DbErr> {
    parse(value)
        .ok_or_else(|| DbErr::Type(format!("unknown {what} code \"{value}\" in the database")))
}

/// Levels of the areas among `codes` that exist.
pub(crate) async fn area_levels<C: ConnectionTrait>(
    db: &C,
    codes: &[&str],
) -> Result<HashMap<String, AreaLevel>, DbErr> {
    let mut found = HashMap::new();
    for chunk in codes.chunks(CHUNK) {
        let rows: Vec<(String, String)> = area::Entity::find()
            .select_only()
            .columns([area::Column::Code, area::Column::Level])
            .filter(area::Column::Code.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        for (code, level) in rows {
            let level = decode("area level", &level, AreaLevel::from_code)?;
            found.insert(code, level);
        }
    }
    Ok(found)
}

/// Codes of the areas without a parent.
pub(crate) async fn roots<C: ConnectionTrait>(db: &C) -> Result<Vec<String>, DbErr> {
    area::Entity::find()
        .select_only()
        .column(area::Column::Code)
        .filter(area::Column::ParentCode.is_null())
        .into_tuple()
        .all(db)
        .await
}

/// The sites among `codes` that exist.
pub(crate) async fn sites<C: ConnectionTrait>(
    db: &C,
    codes: &[&str],
) -> Result<HashSet<String>, DbErr> {
    let mut found = HashSet::new();
    for chunk in codes.chunks(CHUNK) {
        let rows: Vec<String> = site::Entity::find()
            .select_only()
            .column(site::Column::Code)
            .filter(site::Column::Code.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        found.extend(rows);
    }
    Ok(found)
}

/// A household as the member rules need it.
#[derive(Debug)]
pub(crate) struct StoredHousehold {
    pub persons: i32,
    pub head_id_number: String,
}

/// The households among `codes` that exist.
pub(crate) async fn households<C: ConnectionTrait>(
    db: &C,
    codes: &[&str],
) -> Result<HashMap<String, StoredHousehold>, DbErr> {
    let mut found = HashMap::new();
    for chunk in codes.chunks(CHUNK) {
        let rows: Vec<(String, i32, String)> = household::Entity::find()
            .select_only()
            .columns([
                household::Column::Code,
                household::Column::Persons,
                household::Column::HeadIdNumber,
            ])
            .filter(household::Column::Code.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        for (code, persons, head_id_number) in rows {
            found.insert(
                code,
                StoredHousehold {
                    persons,
                    head_id_number,
                },
            );
        }
    }
    Ok(found)
}

/// A member as stored.
#[derive(Debug)]
pub(crate) struct StoredMember {
    pub id_number: String,
    pub household_code: String,
    pub relation: Relation,
}

async fn members_where<C: ConnectionTrait>(
    db: &C,
    column: member::Column,
    keys: &[&str],
) -> Result<Vec<StoredMember>, DbErr> {
    let mut found = Vec::new();
    for chunk in keys.chunks(CHUNK) {
        let rows: Vec<(String, String, String)> = member::Entity::find()
            .select_only()
            .columns([
                member::Column::IdNumber,
                member::Column::HouseholdCode,
                member::Column::Relation,
            ])
            .filter(column.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        for (id_number, household_code, relation) in rows {
            let relation = decode("relation", &relation, Relation::from_code)?;
            found.push(StoredMember {
                id_number,
                household_code,
                relation,
            });
        }
    }
    Ok(found)
}

/// The members among `id_numbers` that exist.
pub(crate) async fn members_by_id<C: ConnectionTrait>(
    db: &C,
    id_numbers: &[&str],
) -> Result<Vec<StoredMember>, DbErr> {
    members_where(db, member::Column::IdNumber, id_numbers).await
}

/// Every member of the households `codes`.
pub(crate) async fn members_of<C: ConnectionTrait>(
    db: &C,
    codes: &[&str],
) -> Result<Vec<StoredMember>, DbErr> {
    members_where(db, member::Column::HouseholdCode, codes).await
}

/// Ids and natural keys of every employment of the members `id_numbers`.
pub(crate) async fn employments_of<C: ConnectionTrait>(
    db: &C,
    id_numbers: &[&str],
) -> Result<Vec<(i64, EmploymentKey)>, DbErr> {
    let mut found = Vec::new();
    for chunk in id_numbers.chunks(CHUNK) {
        let rows: Vec<(i64, String, String, String, NaiveDate)> = employment::Entity::find()
            .select_only()
            .columns([
                employment::Column::Id,
                employment::Column::MemberIdNumber,
                employment::Column::Path,
                employment::Column::Employer,
                employment::Column::StartedOn,
            ])
            .filter(employment::Column::MemberIdNumber.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        for (id, member, path, employer, started_on) in rows {
            let path = decode("employment path", &path, EmploymentPath::from_code)?;
            found.push((id, (member, path, employer, started_on)));
        }
    }
    Ok(found)
}

/// Ids and natural keys of every homestead of the households `codes`.
pub(crate) async fn homesteads_of<C: ConnectionTrait>(
    db: &C,
    codes: &[&str],
) -> Result<Vec<(i64, HomesteadKey)>, DbErr> {
    let mut found = Vec::new();
    for chunk in codes.chunks(CHUNK) {
        let rows: Vec<(i64, String, String, i32)> = homestead::Entity::find()
            .select_only()
            .columns([
                homestead::Column::Id,
                homestead::Column::HouseholdCode,
                homestead::Column::VillageCode,
                homestead::Column::Seq,
            ])
            .filter(homestead::Column::HouseholdCode.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(db)
            .await?;
        found.extend(rows.into_iter().map(|(id, h, v, seq)| (id, (h, v, seq))));
    }
    Ok(found)
}
