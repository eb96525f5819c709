//! Drill-down (CONTRACT §7): from a figure to the records behind it. Each indicator is one
//! [`Definition`] over one register table, built from the predicates of
//! [`super::indicators::define`] that the figures are computed with; a list, and the count that
//! answers its `totalCount`, are both one `SELECT` of that definition narrowed to the part
//! asked for and to the caller's scope.

use super::indicators::define::{self as d, AS_OF};
use super::indicators::read::{ensure_allowed, not_found};
use super::indicators::{scope_exists, Target};
use super::pagination::{keyset_page, KeyKind, Page, PageRequest};
use super::periods::Indicator;
use super::reads::{Batched, Reads};
use crate::error::Result;
use chrono::NaiveDate;
use entity::{homestead, household, member, site, site_work};
use sea_orm::sea_query::Expr;
use sea_orm::{DbBackend, EntityTrait, QueryFilter, Value};

/// Which part of a ratio to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// What is counted.
    Numerator,
    /// What it is counted out of.
    Denominator,
    /// In the denominator, not in the numerator.
    Gap,
}

impl Part {
    /// Every part.
    pub const ALL: [Part; 3] = [Part::Numerator, Part::Denominator, Part::Gap];
}

/// The register table an indicator counts rows of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Sites,
    Works,
    Households,
    Members,
    Homesteads,
}

impl Table {
    /// The table's name, which the definitions' predicates use for its row.
    pub fn name(self) -> &'static str {
        match self {
            Table::Sites => "sites",
            Table::Works => "site_works",
            Table::Households => "households",
            Table::Members => "members",
            Table::Homesteads => "homesteads",
        }
    }
}

/// What one indicator counts in one target: the rows of `table` meeting every predicate of
/// `universe` (the denominator), and of those, the rows meeting `counted` (the numerator).
#[derive(Debug, Clone)]
pub struct Definition {
    pub table: Table,
    pub universe: Vec<String>,
    pub counted: String,
    /// `counted` is a test of existence, never unknown: a part is then the test itself or its
    /// negation, which the planner turns into a (semi- or anti-) join it can stop early in.
    pub known: bool,
}

/// The definition of `indicator` in `target` (CONTRACT §2).
pub fn definition(indicator: Indicator, target: &Target) -> Definition {
    use Indicator as I;
    let (table, universe, counted) = match indicator {
        I::ConstructionCompletion => (
            Table::Sites,
            vec![
                d::site_in_target(target, "sites.code"),
                d::site_has_main_works("sites"),
            ],
            d::site_main_works_done("sites"),
        ),
        I::WorksCompletion => (
            Table::Works,
            vec![d::site_in_target(target, "site_works.site_code")],
            d::work_done("site_works"),
        ),
        // occupancyPersons counts these households' persons.
        I::Occupancy | I::OccupancyPersons => (
            Table::Households,
            vec![d::site_in_target(target, "households.site_code")],
            d::moved_in("households"),
        ),
        I::StablePovertyExit => (
            Table::Households,
            vec![
                d::site_in_target(target, "households.site_code"),
                d::registered_poor("households"),
            ],
            d::stably_exited("households"),
        ),
        I::HouseholdEmployment => (
            Table::Households,
            vec![
                d::site_in_target(target, "households.site_code"),
                d::has_laborer("households"),
            ],
            d::laborer_employed("households"),
        ),
        I::Employment => (
            Table::Members,
            vec![
                d::household_in_target(target, "members.household_code"),
                d::laborer("members"),
            ],
            d::employed("members"),
        ),
        I::Demolition | I::Reclamation => (
            Table::Homesteads,
            vec![
                d::homestead_in_target(target, "homesteads"),
                d::not_exempt("homesteads"),
            ],
            if indicator == I::Demolition {
                d::demolished("homesteads")
            } else {
                d::reclaimed("homesteads")
            },
        ),
    };
    let known = matches!(
        indicator,
        I::ConstructionCompletion | I::HouseholdEmployment | I::Employment
    );
    Definition {
        table,
        universe,
        counted,
        known,
    }
}

impl Definition {
    /// The condition a row meets to be in `part`, with the named placeholders of
    /// [`super::indicators::define`].
    pub fn predicate(&self, part: Part) -> String {
        let mut all: Vec<String> = self.universe.iter().map(|p| format!("({p})")).collect();
        if self.known {
            match part {
                Part::Numerator => all.push(format!("({})", self.counted)),
                Part::Denominator => {}
                Part::Gap => all.push(format!("NOT ({})", self.counted)),
            }
        } else {
            let counted = d::holds(&self.counted);
            match part {
                Part::Numerator => all.push(format!("{counted} = 1")),
                Part::Denominator => {}
                Part::Gap => all.push(format!("{counted} = 0")),
            }
        }
        all.join(" AND ")
    }

    /// [`Self::predicate`] as an expression with `target` and `as_of` bound.
    pub fn condition(
        &self,
        backend: DbBackend,
        part: Part,
        target: &Target,
        as_of: NaiveDate,
    ) -> Expr {
        d::bind(
            backend,
            &d::with_target_literal(&self.predicate(part), target),
            &[(AS_OF, Value::from(as_of))],
        )
    }
}

/// One page of the records a ratio part counts, of the kind the indicator counts.
#[derive(Debug)]
pub enum Listing {
    Sites(Page<site::Model>),
    Works(Page<site_work::Model>),
    Households(Page<household::Model>),
    Members(Page<member::Model>),
    Homesteads(Page<homestead::Model>),
}

/// The records `part` of `indicator` counts in `target` on `as_of`, one page by key, for the
/// caller of `reads`: `NOT_FOUND` for a target that is unknown or that the caller may not see.
/// The rows are narrowed to the caller's scope as well (a target it may see lies wholly in it).
pub async fn drill_down<B: Batched>(
    reads: &Reads<'_, B>,
    target: &Target,
    as_of: NaiveDate,
    indicator: Indicator,
    part: Part,
    req: &PageRequest,
) -> Result<Listing> {
    ensure_allowed(reads, target).await?;
    if !scope_exists(reads.db, target).await? {
        return Err(not_found(target));
    }
    let db = reads.db;
    let scope = reads.scope;
    let def = definition(indicator, target);
    let cond = def.condition(db.get_database_backend(), part, target, as_of);
    Ok(match def.table {
        Table::Sites => {
            let q = site::Entity::find().filter(cond).filter(scope.sites());
            Listing::Sites(keyset_page(db, q, site::Column::Code, KeyKind::Text, req).await?)
        }
        Table::Works => {
            let q = site_work::Entity::find()
                .filter(cond)
                .filter(scope.site_works());
            Listing::Works(keyset_page(db, q, site_work::Column::Code, KeyKind::Text, req).await?)
        }
        Table::Households => {
            let q = household::Entity::find()
                .filter(cond)
                .filter(scope.households());
            Listing::Households(
                keyset_page(db, q, household::Column::Code, KeyKind::Text, req).await?,
            )
        }
        Table::Members => {
            let q = member::Entity::find().filter(cond).filter(scope.members());
            Listing::Members(
                keyset_page(db, q, member::Column::IdNumber, KeyKind::Text, req).await?,
            )
        }
        Table::Homesteads => {
            let q = homestead::Entity::find()
                .filter(cond)
                .filter(scope.homesteads());
            Listing::Homesteads(
                keyset_page(db, q, homestead::Column::Id, KeyKind::Integer, req).await?,
            )
        }
    })
}
