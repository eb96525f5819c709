//! The indicator SQL. Written once for SQLite and PostgreSQL: booleans are only tested
//! (`CASE WHEN flag`, `NOT flag`), dates are bound values compared with `<=` (ISO text on
//! SQLite), and every aggregate is cast so one Rust type reads it on both backends.
//!
//! Each group of indicators is an aggregate subquery returning exactly one row; the statement
//! cross-joins them. Target filters are `IN (subquery)` predicates on indexed columns, so a
//! township reads only its own sites' rows and a province lets the planner switch to hash joins.

use crate::db::stmt;
use chrono::NaiveDate;
use entity::enums::{EmploymentPath, WorkCategory};
use sea_orm::{DbBackend, Statement, Value};

use super::define::{self as d, AS_OF, SCOPE};
use super::Target;

/// Looks the scope's code up in `areas` or `sites`.
pub(super) fn scope_exists(backend: DbBackend, scope: &Target) -> Statement {
    let sql = match scope {
        Target::Area(_) => "SELECT 1 AS found FROM areas WHERE code = $1",
        Target::Site(_) => "SELECT 1 AS found FROM sites WHERE code = $1",
    };
    stmt(backend, sql, [Value::from(scope.code())])
}

/// The `(numerator, denominator)` columns of a works category.
pub(super) fn category_columns(category: WorkCategory) -> (String, String) {
    (
        format!("works_{}_done", category.code()),
        format!("works_{}_total", category.code()),
    )
}

/// The column counting the laborers employed on `path`.
pub(super) fn path_column(path: EmploymentPath) -> String {
    format!("path_{}", path.code())
}

/// The one statement computing every indicator.
pub(super) fn indicators(backend: DbBackend, scope: &Target, as_of: NaiveDate) -> Statement {
    let sql = format!(
        "SELECT * FROM ({works}) works CROSS JOIN ({construction}) construction \
         CROSS JOIN ({households}) households CROSS JOIN ({employment}) employment \
         CROSS JOIN ({homesteads}) homesteads",
        works = works(scope),
        construction = construction(scope),
        households = households(scope),
        employment = employment(scope),
        homesteads = homesteads(scope),
    );
    let (sql, values) = number_placeholders(
        &sql,
        vec![
            (AS_OF, Value::from(as_of)),
            (SCOPE, Value::from(scope.code())),
        ],
    );
    stmt(backend, &sql, values)
}

/// Replaces named placeholders with `$1, $2, …` numbered in order of first use, as
/// [`stmt`] requires, and orders the values to match. Names that do not occur are dropped.
pub(crate) fn number_placeholders(sql: &str, params: Vec<(&str, Value)>) -> (String, Vec<Value>) {
    let mut used: Vec<(usize, &str, Value)> = params
        .into_iter()
        .filter_map(|(name, value)| sql.find(name).map(|at| (at, name, value)))
        .collect();
    used.sort_by_key(|(at, _, _)| *at);
    let mut sql = sql.to_owned();
    let mut values = Vec::with_capacity(used.len());
    for (n, (_, name, value)) in used.into_iter().enumerate() {
        sql = sql.replace(name, &format!("${}", n + 1));
        values.push(value);
    }
    (sql, values)
}

/// `COUNT` of the rows meeting `condition`, as a BIGINT (0 over no rows).
fn count_if(condition: &str, column: &str) -> String {
    sum_if(condition, "1", column)
}

/// `SUM` of `value` over the rows meeting `condition`, as a BIGINT (0 over no rows).
fn sum_if(condition: &str, value: &str, column: &str) -> String {
    format!("CAST(COALESCE(SUM(CASE WHEN {condition} THEN {value} ELSE 0 END), 0) AS BIGINT) AS {column}")
}

/// worksCompletion and worksByCategory.
fn works(scope: &Target) -> String {
    let done = d::work_done("w");
    let mut columns = vec![
        "CAST(COUNT(*) AS BIGINT) AS works_total".to_owned(),
        count_if(&done, "works_done"),
    ];
    for &category in WorkCategory::ALL {
        let (done_column, total_column) = category_columns(category);
        let in_category = format!("w.category = '{}'", category.code());
        columns.push(count_if(&in_category, &total_column));
        columns.push(count_if(&format!("{in_category} AND {done}"), &done_column));
    }
    format!(
        "SELECT {} FROM site_works w WHERE {}",
        columns.join(", "),
        d::site_in_target(scope, "w.site_code")
    )
}

/// constructionCompletion: per site with main works, how many are not completed yet.
fn construction(scope: &Target) -> String {
    format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS construction_total, {done} \
         FROM (SELECT w.site_code, SUM({unfinished}) AS unfinished \
               FROM site_works w WHERE w.category = '{main}' AND {filter} GROUP BY w.site_code) mw",
        done = count_if("mw.unfinished = 0", "construction_done"),
        main = WorkCategory::Main.code(),
        unfinished = d::holds(&d::work_unfinished("w")),
        filter = d::site_in_target(scope, "w.site_code"),
    )
}

/// occupancy, occupancyPersons and stablePovertyExit.
fn households(scope: &Target) -> String {
    let moved_in = d::moved_in("h");
    let stable = d::stably_exited("h");
    format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS households, {moved}, \
         CAST(COALESCE(SUM(h.persons), 0) AS BIGINT) AS persons, {moved_persons}, {poor}, {stable} \
         FROM households h WHERE {filter}",
        moved = count_if(&moved_in, "households_moved_in"),
        moved_persons = sum_if(&moved_in, "h.persons", "persons_moved_in"),
        poor = count_if(&d::registered_poor("h"), "registered_poor"),
        stable = count_if(&stable, "stably_exited"),
        filter = d::site_in_target(scope, "h.site_code"),
    )
}

/// employment, householdEmployment and employmentByPath, in three levels: one row per laborer
/// with flags for "employed" and "employed on path p" (several jobs still make one row), then one
/// row per household with a laborer, then the totals. Grouping by household rather than counting
/// distinct households keeps a province's aggregation in hash tables instead of large sorts.
fn employment(scope: &Target) -> String {
    let mut laborer = vec!["MAX(CASE WHEN e.id IS NULL THEN 0 ELSE 1 END) AS employed".to_owned()];
    let mut household = vec![
        "COUNT(*) AS laborers".to_owned(),
        "SUM(l.employed) AS employed".to_owned(),
        "MAX(l.employed) AS employed_any".to_owned(),
    ];
    let mut totals = vec![
        "CAST(COUNT(*) AS BIGINT) AS laborer_households".to_owned(),
        "CAST(COALESCE(SUM(lh.employed_any), 0) AS BIGINT) AS laborer_households_employed"
            .to_owned(),
        "CAST(COALESCE(SUM(lh.laborers), 0) AS BIGINT) AS laborers".to_owned(),
        "CAST(COALESCE(SUM(lh.employed), 0) AS BIGINT) AS laborers_employed".to_owned(),
    ];
    for &path in EmploymentPath::ALL {
        let column = path_column(path);
        laborer.push(format!(
            "MAX(CASE WHEN e.path = '{}' THEN 1 ELSE 0 END) AS {column}",
            path.code()
        ));
        household.push(format!("SUM(l.{column}) AS {column}"));
        totals.push(format!(
            "CAST(COALESCE(SUM(lh.{column}), 0) AS BIGINT) AS {column}"
        ));
    }
    format!(
        "SELECT {totals} FROM (\
           SELECT l.household_code, {household} FROM (\
             SELECT m.id_number, m.household_code, {laborer} \
             FROM members m \
             JOIN households h ON h.code = m.household_code \
             LEFT JOIN employments e ON e.member_id_number = m.id_number \
               AND {active} \
             WHERE {is_laborer} AND {filter} \
             GROUP BY m.id_number, m.household_code) l \
           GROUP BY l.household_code) lh",
        totals = totals.join(", "),
        household = household.join(", "),
        laborer = laborer.join(", "),
        active = d::active("e"),
        is_laborer = d::laborer("m"),
        filter = d::site_in_target(scope, "h.site_code"),
    )
}

/// demolition, reclamation and reclaimedAreaMu, over non-exempt homesteads on the origin side:
/// homesteads in the area's villages, or those of the site's households.
fn homesteads(scope: &Target) -> String {
    let filter = d::homestead_in_target(scope, "hs");
    let reclaimed = d::reclaimed("hs");
    format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS homesteads, {demolished}, {reclaimed_count}, \
         CAST(COALESCE(SUM(CASE WHEN {reclaimed} THEN hs.area_mu ELSE 0 END), 0) AS DOUBLE PRECISION) \
         AS reclaimed_area_mu \
         FROM homesteads hs WHERE {not_exempt} AND {filter}",
        not_exempt = d::not_exempt("hs"),
        demolished = count_if(&d::demolished("hs"), "demolished"),
        reclaimed_count = count_if(&reclaimed, "reclaimed"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order_of_first_use() {
        let (sql, values) = number_placeholders(
            "a = :scope AND b <= :as_of AND c = :scope",
            vec![
                (AS_OF, Value::from(1i64)),
                (SCOPE, Value::from(2i64)),
                (":unused", Value::from(3i64)),
            ],
        );
        assert_eq!(sql, "a = $1 AND b <= $2 AND c = $1");
        assert_eq!(values, vec![Value::from(2i64), Value::from(1i64)]);
    }
}
