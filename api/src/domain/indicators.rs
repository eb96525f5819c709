//! The contract's indicators (§2), computed by aggregate SQL over a scope.

use chrono::NaiveDate;
use entity::enums::{EmploymentPath, WorkCategory};
use sea_orm::{ConnectionTrait, DbErr};

/// What an indicator covers: an area's subtree, or one resettlement site.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    Area(String),
    Site(String),
}

/// numerator / denominator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ratio {
    pub numerator: i64,
    pub denominator: i64,
}

impl Ratio {
    /// `None` when the denominator is 0.
    pub fn rate(&self) -> Option<f64> {
        (self.denominator != 0).then(|| self.numerator as f64 / self.denominator as f64)
    }
}

/// Every indicator for one scope and date.
#[derive(Debug, Clone, PartialEq)]
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
pub async fn scope_exists<C: ConnectionTrait>(_db: &C, _scope: &Scope) -> Result<bool, DbErr> {
    todo!("scope_exists")
}

/// Computes every indicator for `scope` on `as_of` with aggregate SQL.
pub async fn compute<C: ConnectionTrait>(_db: &C, _scope: &Scope, _as_of: NaiveDate) -> Result<IndicatorValues, DbErr> {
    todo!("indicators")
}

/// The month ends in `[from, to]`, in order.
pub fn month_ends(_from: NaiveDate, _to: NaiveDate) -> Vec<NaiveDate> {
    todo!("month_ends")
}
