//! Writes the register, or what one scope sees of it, as the contract's seven files: columns in
//! the contract's order, rows in key order, read a page at a time (keyset paging on the key), all
//! from one read transaction so the files agree with each other. Each table is narrowed by the
//! scope's condition for its kind, exactly as every read of the API is.

use super::table::{self, Table};
use super::{ExportError, ImportSummary};
use crate::domain::scope::Scope;
use anju_contract::file::{boolean, date, number, text, TableWriter};
use entity::{area, employment, homestead, household, member, site, site_work};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    AccessMode, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend,
    EntityTrait, IsolationLevel, QueryFilter, QueryOrder, QuerySelect, Select, TransactionTrait,
};
use std::path::Path;

/// Rows per query.
const PAGE: u64 = 5000;

/// Exports every table, as far as `scope` sees it, into `dir`.
pub(crate) async fn export(
    db: &DatabaseConnection,
    dir: &Path,
    scope: &Scope,
) -> Result<ImportSummary, ExportError> {
    std::fs::create_dir_all(dir).map_err(|source| ExportError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let txn = match db.get_database_backend() {
        // SQLite reads inside a transaction from one snapshot already.
        DbBackend::Sqlite => db.begin().await?,
        _ => {
            db.begin_with_config(
                Some(IsolationLevel::RepeatableRead),
                Some(AccessMode::ReadOnly),
            )
            .await?
        }
    };
    let db = &txn;

    let areas = dump::<area::Entity, _>(
        db,
        dir,
        &table::AREAS,
        scope.areas(),
        |q| q.order_by_asc(area::Column::Code),
        |q, m: &area::Model| q.filter(area::Column::Code.gt(m.code.as_str())),
        |m: &area::Model| {
            vec![
                m.code.clone(),
                m.name.clone(),
                m.level.code().to_owned(),
                text(m.parent_code.as_deref()),
                boolean(m.poverty_village),
                boolean(m.whole_village_relocation),
            ]
        },
    )
    .await?;
    let sites = dump::<site::Entity, _>(
        db,
        dir,
        &table::SITES,
        scope.sites(),
        |q| q.order_by_asc(site::Column::Code),
        |q, m: &site::Model| q.filter(site::Column::Code.gt(m.code.as_str())),
        |m: &site::Model| {
            vec![
                m.code.clone(),
                m.name.clone(),
                m.township_code.clone(),
                m.placement.code().to_owned(),
                m.setting.code().to_owned(),
                number(Some(m.planned_households)),
                number(Some(m.planned_persons)),
                number(m.latitude),
                number(m.longitude),
                date(m.construction_started_on),
            ]
        },
    )
    .await?;
    let site_works = dump::<site_work::Entity, _>(
        db,
        dir,
        &table::SITE_WORKS,
        scope.site_works(),
        |q| q.order_by_asc(site_work::Column::Code),
        |q, m: &site_work::Model| q.filter(site_work::Column::Code.gt(m.code.as_str())),
        |m: &site_work::Model| {
            vec![
                m.site_code.clone(),
                m.code.clone(),
                m.category.code().to_owned(),
                m.name.clone(),
                date(m.completed_on),
            ]
        },
    )
    .await?;
    let households = dump::<household::Entity, _>(
        db,
        dir,
        &table::HOUSEHOLDS,
        scope.households(),
        |q| q.order_by_asc(household::Column::Code),
        |q, m: &household::Model| q.filter(household::Column::Code.gt(m.code.as_str())),
        |m: &household::Model| {
            vec![
                m.code.clone(),
                m.head_name.clone(),
                m.head_id_number.clone(),
                text(m.phone.as_deref()),
                m.origin_village_code.clone(),
                m.site_code.clone(),
                number(Some(m.persons)),
                boolean(m.registered_poor),
                date(m.moved_in_on),
                date(m.poverty_exit_on),
                date(m.relapsed_on),
            ]
        },
    )
    .await?;
    let members = dump::<member::Entity, _>(
        db,
        dir,
        &table::MEMBERS,
        scope.members(),
        |q| q.order_by_asc(member::Column::IdNumber),
        |q, m: &member::Model| q.filter(member::Column::IdNumber.gt(m.id_number.as_str())),
        |m: &member::Model| {
            vec![
                m.household_code.clone(),
                m.id_number.clone(),
                m.name.clone(),
                m.relation.code().to_owned(),
                date(Some(m.birth_date)),
                m.gender.code().to_owned(),
                m.labor_capacity.code().to_owned(),
            ]
        },
    )
    .await?;
    let employments = dump::<employment::Entity, _>(
        db,
        dir,
        &table::EMPLOYMENTS,
        scope.employments(),
        |q| {
            q.order_by_asc(employment::Column::MemberIdNumber)
                .order_by_asc(employment::Column::Path)
                .order_by_asc(employment::Column::Employer)
                .order_by_asc(employment::Column::StartedOn)
        },
        |q, m: &employment::Model| {
            q.filter(
                Expr::tuple([
                    Expr::col(employment::Column::MemberIdNumber),
                    Expr::col(employment::Column::Path),
                    Expr::col(employment::Column::Employer),
                    Expr::col(employment::Column::StartedOn),
                ])
                .gt(Expr::tuple([
                    Expr::val(m.member_id_number.as_str()),
                    Expr::val(m.path.code()),
                    Expr::val(m.employer.as_str()),
                    Expr::val(m.started_on),
                ])),
            )
        },
        |m: &employment::Model| {
            vec![
                m.member_id_number.clone(),
                m.path.code().to_owned(),
                m.employer.clone(),
                m.location.code().to_owned(),
                date(Some(m.started_on)),
                date(m.ended_on),
                number(m.monthly_income_yuan),
            ]
        },
    )
    .await?;
    let homesteads = dump::<homestead::Entity, _>(
        db,
        dir,
        &table::HOMESTEADS,
        scope.homesteads(),
        |q| {
            q.order_by_asc(homestead::Column::HouseholdCode)
                .order_by_asc(homestead::Column::VillageCode)
                .order_by_asc(homestead::Column::Seq)
        },
        |q, m: &homestead::Model| {
            q.filter(
                Expr::tuple([
                    Expr::col(homestead::Column::HouseholdCode),
                    Expr::col(homestead::Column::VillageCode),
                    Expr::col(homestead::Column::Seq),
                ])
                .gt(Expr::tuple([
                    Expr::val(m.household_code.as_str()),
                    Expr::val(m.village_code.as_str()),
                    Expr::val(m.seq),
                ])),
            )
        },
        |m: &homestead::Model| {
            vec![
                m.household_code.clone(),
                m.village_code.clone(),
                number(Some(m.area_mu)),
                boolean(m.exempt),
                date(m.demolished_on),
                date(m.reclaimed_on),
                m.reclaimed_use
                    .map(|u| u.code().to_owned())
                    .unwrap_or_default(),
            ]
        },
    )
    .await?;
    txn.commit().await?;
    Ok(ImportSummary {
        areas,
        sites,
        site_works,
        households,
        members,
        employments,
        homesteads,
    })
}

/// Writes one table: the rows `visible` lets through, in pages of [`PAGE`] rows in `order`,
/// each page starting `after` the last row of the one before.
async fn dump<E, C>(
    db: &C,
    dir: &Path,
    table: &Table,
    visible: Condition,
    order: impl Fn(Select<E>) -> Select<E>,
    after: impl Fn(Select<E>, &E::Model) -> Select<E>,
    cells: impl Fn(&E::Model) -> Vec<String>,
) -> Result<usize, ExportError>
where
    E: EntityTrait,
    C: ConnectionTrait,
{
    let path = dir.join(table.file);
    let io = |source: std::io::Error| ExportError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut writer = TableWriter::create(dir, table).map_err(io)?;
    let mut last: Option<E::Model> = None;
    loop {
        let mut query = order(E::find().filter(visible.clone()));
        if let Some(last) = &last {
            query = after(query, last);
        }
        let page = query.limit(PAGE).all(db).await?;
        for model in &page {
            writer.row(cells(model)).map_err(io)?;
        }
        if (page.len() as u64) < PAGE {
            break;
        }
        last = page.into_iter().last();
    }
    writer.finish().map_err(io)
}
