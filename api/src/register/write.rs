//! Writes a checked data set: multi-row upserts (`INSERT … ON CONFLICT (key) DO UPDATE`) in
//! dependency order, then the deletions the data set implies. Runs inside the caller's
//! transaction.

use super::dataset::{
    AreaRow, DataSet, EmploymentRow, HomesteadRow, HouseholdRow, MemberRow, SiteRow, WorkRow,
};
use super::lookup::CHUNK;
use super::parse::level_rank;
use super::validate::Stale;
use super::ImportSummary;
use crate::db;
use chrono::{DateTime, Utc};
use entity::{area, employment, homestead, household, member, site, site_work};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, IdenStatic,
    Iterable, QueryFilter, QueryTrait, Set, Statement,
};

/// Bound parameters per statement, under each backend's limit (SQLite 32,766, PostgreSQL
/// 65,535). Few large statements beat many small ones: each costs a round trip, and over TLS a
/// large one may also wait once on a delayed ACK.
fn max_params(backend: DbBackend) -> usize {
    match backend {
        DbBackend::Sqlite => 32_000,
        _ => 65_000,
    }
}

/// A value the checks guarantee; its absence is a bug, reported rather than panicking.
fn known<T>(value: Option<T>, what: &str) -> Result<T, DbErr> {
    value.ok_or_else(|| {
        DbErr::Custom(format!(
            "import invariant broken: {what} missing after validation"
        ))
    })
}

/// `ON CONFLICT (keys) DO UPDATE` every other column from the new row, except that
/// `created_at` is kept and `version` goes up by one; `None` for a table that was `empty`.
///
/// Into an empty table the rows are inserted without `ON CONFLICT`: their keys are unique (the
/// checks refuse a repeated key) and nothing else writes while an import holds the writers'
/// lock, so no row can conflict, and a plain insert skips the speculative insertion an upsert
/// makes for every row (about a tenth of the write phase of a province).
fn upsert_on<E: EntityTrait>(
    empty: bool,
    keys: &[E::Column],
    version: E::Column,
) -> Option<OnConflict> {
    if empty {
        return None;
    }
    let kept = |c: &E::Column| {
        let name = c.as_str();
        name == "id"
            || name == "created_at"
            || name == "version"
            || keys.iter().any(|k| k.as_str() == name)
    };
    Some(
        OnConflict::columns(keys.iter().copied())
            .update_columns(E::Column::iter().filter(|c| !kept(c)))
            .value(version, Expr::col((E::default(), version)).add(1))
            .to_owned(),
    )
}

/// Upserts `rows` converted by `model` (plainly inserts them without `on_conflict`), as many per
/// statement as the parameter limit allows.
///
/// Each statement is built while the database writes the one before it: the writes of one
/// transaction are serial, and building tens of thousands of rows' values is a sixth of the
/// time the database spends on them.
async fn upsert<C, R, A>(
    db: &C,
    rows: &[R],
    on_conflict: Option<OnConflict>,
    model: impl Fn(&R) -> Result<A, DbErr>,
) -> Result<usize, DbErr>
where
    C: ConnectionTrait,
    A: ActiveModelTrait,
{
    let backend = db.get_database_backend();
    let columns = <A::Entity as EntityTrait>::Column::iter().count();
    let per_statement = (max_params(backend) / columns).max(1);
    let build = |chunk: &[R]| -> Result<Statement, DbErr> {
        let models = chunk
            .iter()
            .map(&model)
            .collect::<Result<Vec<A>, DbErr>>()?;
        let insert = <A::Entity as EntityTrait>::insert_many(models);
        Ok(match &on_conflict {
            Some(on) => insert.on_conflict(on.clone()).build(backend),
            None => insert.build(backend),
        })
    };
    let mut chunks = rows.chunks(per_statement);
    let mut next = chunks.next().map(build).transpose()?;
    while let Some(statement) = next.take() {
        // `join` sends the statement before it builds the next one.
        let (written, built) = futures::join!(db.execute_raw(statement), async {
            chunks.next().map(build).transpose()
        });
        written?;
        next = built?;
    }
    Ok(rows.len())
}

/// Writes `set` and deletes what it replaces.
pub(crate) async fn write<C: ConnectionTrait>(
    db: &C,
    set: &DataSet,
    stale: &Stale,
) -> Result<ImportSummary, DbErr> {
    let now = Utc::now();
    let mut summary = ImportSummary::default();

    // Parents before children: the parent_code foreign key is checked per statement.
    let mut areas: Vec<&AreaRow> = set.areas.iter().collect();
    areas.sort_by_key(|r| (r.level.map_or(usize::MAX, level_rank), r.line));
    let on = upsert_on::<area::Entity>(
        stale.empty.areas,
        &[area::Column::Code],
        area::Column::Version,
    );
    summary.areas = upsert(db, &areas, on, |r| area_model(r, now)).await?;
    if !areas.is_empty() {
        db::rebuild_area_closure(db).await?;
    }

    let on = upsert_on::<site::Entity>(
        stale.empty.sites,
        &[site::Column::Code],
        site::Column::Version,
    );
    summary.sites = upsert(db, &set.sites, on, |r| site_model(r, now)).await?;
    let on = upsert_on::<site_work::Entity>(
        stale.empty.site_works,
        &[site_work::Column::Code],
        site_work::Column::Version,
    );
    summary.site_works = upsert(db, &set.works, on, |r| work_model(r, now)).await?;
    let on = upsert_on::<household::Entity>(
        stale.empty.households,
        &[household::Column::Code],
        household::Column::Version,
    );
    summary.households = upsert(db, &set.households, on, |r| household_model(r, now)).await?;
    let on = upsert_on::<member::Entity>(
        stale.empty.members,
        &[member::Column::IdNumber],
        member::Column::Version,
    );
    summary.members = upsert(db, &set.members, on, |r| member_model(r, now)).await?;

    // Stale employments go before their members (foreign key), and before the upsert so a
    // replaced row never meets its replacement.
    for chunk in stale.employment_ids.chunks(CHUNK) {
        employment::Entity::delete_many()
            .filter(employment::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    for chunk in stale.homestead_ids.chunks(CHUNK) {
        homestead::Entity::delete_many()
            .filter(homestead::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await?;
    }
    for chunk in stale.member_ids.chunks(CHUNK) {
        member::Entity::delete_many()
            .filter(member::Column::IdNumber.is_in(chunk.iter().map(String::as_str)))
            .exec(db)
            .await?;
    }

    let on = upsert_on::<employment::Entity>(
        stale.empty.employments,
        &[
            employment::Column::MemberIdNumber,
            employment::Column::Path,
            employment::Column::Employer,
            employment::Column::StartedOn,
        ],
        employment::Column::Version,
    );
    summary.employments = upsert(db, &set.employments, on, |r| employment_model(r, now)).await?;
    let on = upsert_on::<homestead::Entity>(
        stale.empty.homesteads,
        &[
            homestead::Column::HouseholdCode,
            homestead::Column::VillageCode,
            homestead::Column::Seq,
        ],
        homestead::Column::Version,
    );
    summary.homesteads = upsert(db, &set.homesteads, on, |r| homestead_model(r, now)).await?;
    Ok(summary)
}

fn area_model(r: &AreaRow, now: DateTime<Utc>) -> Result<area::ActiveModel, DbErr> {
    Ok(area::ActiveModel {
        code: Set(r.code.clone()),
        name: Set(r.name.clone()),
        level: Set(known(r.level, "area level")?),
        parent_code: Set(r.parent_code.clone()),
        poverty_village: Set(r.poverty_village),
        whole_village_relocation: Set(r.whole_village_relocation),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    })
}

fn site_model(r: &SiteRow, now: DateTime<Utc>) -> Result<site::ActiveModel, DbErr> {
    Ok(site::ActiveModel {
        code: Set(r.code.clone()),
        name: Set(r.name.clone()),
        township_code: Set(r.township_code.clone()),
        placement: Set(known(r.placement, "placement")?),
        setting: Set(known(r.setting, "setting")?),
        planned_households: Set(r.planned_households),
        planned_persons: Set(r.planned_persons),
        latitude: Set(r.latitude),
        longitude: Set(r.longitude),
        construction_started_on: Set(r.construction_started_on),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    })
}

fn work_model(r: &WorkRow, now: DateTime<Utc>) -> Result<site_work::ActiveModel, DbErr> {
    Ok(site_work::ActiveModel {
        code: Set(r.code.clone()),
        site_code: Set(r.site_code.clone()),
        category: Set(known(r.category, "work category")?),
        name: Set(r.name.clone()),
        completed_on: Set(r.completed_on),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    })
}

fn household_model(r: &HouseholdRow, now: DateTime<Utc>) -> Result<household::ActiveModel, DbErr> {
    Ok(household::ActiveModel {
        code: Set(r.code.clone()),
        head_name: Set(r.head_name.clone()),
        head_id_number: Set(r.head_id_number.clone()),
        phone: Set(r.phone.clone()),
        origin_village_code: Set(r.origin_village_code.clone()),
        site_code: Set(r.site_code.clone()),
        persons: Set(known(r.persons, "persons")?),
        registered_poor: Set(r.registered_poor),
        moved_in_on: Set(r.moved_in_on),
        poverty_exit_on: Set(r.poverty_exit_on),
        relapsed_on: Set(r.relapsed_on),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    })
}

fn member_model(r: &MemberRow, now: DateTime<Utc>) -> Result<member::ActiveModel, DbErr> {
    Ok(member::ActiveModel {
        id_number: Set(r.id_number.clone()),
        household_code: Set(r.household_code.clone()),
        name: Set(r.name.clone()),
        relation: Set(known(r.relation, "relation")?),
        birth_date: Set(known(r.birth_date, "birth date")?),
        gender: Set(known(r.gender, "gender")?),
        labor_capacity: Set(known(r.labor_capacity, "labor capacity")?),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    })
}

fn employment_model(
    r: &EmploymentRow,
    now: DateTime<Utc>,
) -> Result<employment::ActiveModel, DbErr> {
    Ok(employment::ActiveModel {
        id: Default::default(),
        member_id_number: Set(r.member_id_number.clone()),
        path: Set(known(r.path, "employment path")?),
        employer: Set(r.employer.clone()),
        location: Set(known(r.location, "employment location")?),
        started_on: Set(known(r.started_on, "started_on")?),
        ended_on: Set(r.ended_on),
        monthly_income_yuan: Set(r.monthly_income_yuan),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    })
}

fn homestead_model(r: &HomesteadRow, now: DateTime<Utc>) -> Result<homestead::ActiveModel, DbErr> {
    Ok(homestead::ActiveModel {
        id: Default::default(),
        household_code: Set(r.household_code.clone()),
        village_code: Set(r.village_code.clone()),
        seq: Set(r.seq),
        area_mu: Set(r.area_mu),
        exempt: Set(r.exempt),
        demolished_on: Set(r.demolished_on),
        reclaimed_on: Set(r.reclaimed_on),
        reclaimed_use: Set(r.reclaimed_use),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
    })
}
