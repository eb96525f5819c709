//! The contract's indicators (§2), computed by aggregate SQL over a scope.
//!
//! [`compute`] reads the rollups of [`rollup`] (dated changes per scope, rebuilt by every import
//! in its transaction): one statement summing a few rows per indicator. One statement means one
//! snapshot, so an import committing halfway through never yields a set mixing old and new data.
//!
//! [`compute_direct`] computes the same values straight from the register: an aggregate subquery
//! per group of indicators (works, construction, households, employment, homesteads), each
//! returning a single row, cross-joined into one row. It is the definition the rollups are
//! checked against.

mod calendar;
pub mod define;
mod query;
pub mod read;
pub mod rollup;

use chrono::NaiveDate;
use entity::enums::{EmploymentPath, WorkCategory};
use sea_orm::{ConnectionTrait, DbErr};
use std::collections::HashMap;

pub use calendar::month_ends;

/// What an indicator covers: an area's subtree, or one resettlement site.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    Area(String),
    Site(String),
}

impl Target {
    /// The area or site code.
    pub fn code(&self) -> &str {
        match self {
            Target::Area(code) | Target::Site(code) => code,
        }
    }
}

/// numerator / denominator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Ratio {
    pub numerator: i64,
    pub denominator: i64,
}

impl Ratio {
    /// A ratio of `numerator` out of `denominator`.
    pub const fn new(numerator: i64, denominator: i64) -> Self {
        Ratio {
            numerator,
            denominator,
        }
    }

    /// `None` when the denominator is 0.
    pub fn rate(&self) -> Option<f64> {
        (self.denominator != 0).then(|| self.numerator as f64 / self.denominator as f64)
    }
}

/// Every indicator for one scope and date.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IndicatorValues {
    pub as_of: NaiveDate,
    pub construction_completion: Ratio,
    pub works_completion: Ratio,
    /// One entry per category, in `WorkCategory::ALL` order, zeros included.
    pub works_by_category: Vec<(WorkCategory, Ratio)>,
    pub occupancy: Ratio,
    pub occupancy_persons: Ratio,
    pub stable_poverty_exit: Ratio,
    pub employment: Ratio,
    pub household_employment: Ratio,
    /// One entry per path, in `EmploymentPath::ALL` order, zeros included.
    pub employment_by_path: Vec<(EmploymentPath, i64)>,
    pub demolition: Ratio,
    pub reclamation: Ratio,
    pub reclaimed_area_mu: f64,
}

/// Whether the scope names an existing area or site.
pub async fn scope_exists<C: ConnectionTrait>(db: &C, scope: &Target) -> Result<bool, DbErr> {
    let found = db
        .query_one_raw(query::scope_exists(db.get_database_backend(), scope))
        .await?;
    Ok(found.is_some())
}

/// Computes every indicator for `scope` on `as_of` from the rollups (one statement).
///
/// A scope naming no area or site yields all zeros; callers that must tell the two apart check
/// [`scope_exists`] first.
pub async fn compute<C: ConnectionTrait>(
    db: &C,
    scope: &Target,
    as_of: NaiveDate,
) -> Result<IndicatorValues, DbErr> {
    let rows = db
        .query_all_raw(crate::db::tag_aggregate(rollup::read(
            db.get_database_backend(),
            scope,
            as_of,
        )))
        .await?;
    let mut sums = HashMap::with_capacity(rows.len());
    for row in rows {
        let metric: String = row.try_get("", "metric")?;
        let count = row.try_get::<Option<i64>>("", "n")?.unwrap_or(0);
        let amount = row.try_get::<Option<f64>>("", "amount")?.unwrap_or(0.0);
        sums.insert(metric, (count, amount));
    }
    assemble(
        as_of,
        |metric| Ok(sums.get(metric).map_or(0, |&(count, _)| count)),
        sums.get("reclaimed").map_or(0.0, |&(_, amount)| amount),
    )
}

/// Computes every indicator for `scope` on `as_of` straight from the register, with one
/// aggregate statement and no rollups. Slower than [`compute`] on large scopes; the two agree.
pub async fn compute_direct<C: ConnectionTrait>(
    db: &C,
    scope: &Target,
    as_of: NaiveDate,
) -> Result<IndicatorValues, DbErr> {
    let row = db
        .query_one_raw(crate::db::tag_aggregate(query::indicators(
            db.get_database_backend(),
            scope,
            as_of,
        )))
        .await?
        .ok_or_else(|| DbErr::Custom("the indicator aggregate returned no row".into()))?;
    let reclaimed_area_mu = row
        .try_get::<Option<f64>>("", "reclaimed_area_mu")?
        .unwrap_or(0.0);
    assemble(
        as_of,
        |column| Ok(row.try_get::<Option<i64>>("", column)?.unwrap_or(0)),
        reclaimed_area_mu,
    )
}

/// Builds the indicator set from `count`, which gives each metric's value by its name (the
/// column names of [`query::indicators`], which are also the rollups' metric names).
fn assemble(
    as_of: NaiveDate,
    count: impl Fn(&str) -> Result<i64, DbErr>,
    reclaimed_area_mu: f64,
) -> Result<IndicatorValues, DbErr> {
    let ratio = |numerator: &str, denominator: &str| -> Result<Ratio, DbErr> {
        Ok(Ratio::new(count(numerator)?, count(denominator)?))
    };

    let works_by_category = WorkCategory::ALL
        .iter()
        .map(|&category| {
            let (done, total) = query::category_columns(category);
            Ok((category, ratio(&done, &total)?))
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    let employment_by_path = EmploymentPath::ALL
        .iter()
        .map(|&path| Ok((path, count(&query::path_column(path))?)))
        .collect::<Result<Vec<_>, DbErr>>()?;

    Ok(IndicatorValues {
        as_of,
        construction_completion: ratio("construction_done", "construction_total")?,
        works_completion: ratio("works_done", "works_total")?,
        works_by_category,
        occupancy: ratio("households_moved_in", "households")?,
        occupancy_persons: ratio("persons_moved_in", "persons")?,
        stable_poverty_exit: ratio("stably_exited", "registered_poor")?,
        employment: ratio("laborers_employed", "laborers")?,
        household_employment: ratio("laborer_households_employed", "laborer_households")?,
        employment_by_path,
        demolition: ratio("demolished", "homesteads")?,
        reclamation: ratio("reclaimed", "homesteads")?,
        reclaimed_area_mu,
    })
}
