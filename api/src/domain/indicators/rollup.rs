//! The indicators pre-aggregated as dated changes (`indicator_deltas`), so that a scope's value on
//! a date is `SUM(delta) WHERE on_date <= asOf` over a few rows of its own.
//!
//! Every indicator counts (or sums) things whose state flips on known dates: a work counts from
//! its `completed_on`, a household from its `moved_in_on`, a stable exit from `poverty_exit_on`
//! until the day before `relapsed_on`, an employed laborer on the days covered by the union of
//! his employments. Each becomes `+n` on the day it starts counting and `−n` on the day it stops;
//! a denominator is a delta on [`SENTINEL`], a date before every `asOf`.
//!
//! Rows are kept per site (`site`: the site's own indicators, its origin side being the homesteads
//! of its households) and per area (`area`: everything in the area's subtree — sites located in
//! it, homesteads in its villages). [`rebuild`] recomputes all of them from the register with
//! `INSERT … SELECT`; the import calls it inside its transaction, so readers never see rollups
//! that disagree with the register. Rows are inserted in key order, so that one scope's rows lie
//! together on disk and a large scope reads few pages.

use crate::db::stmt;
use chrono::NaiveDate;
use entity::enums::{LaborCapacity, WorkCategory};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement, Value};

use super::Scope;

/// The date of every denominator's delta: before any date an indicator is asked for.
pub(super) const SENTINEL: NaiveDate = match NaiveDate::from_ymd_opt(1, 1, 1) {
    Some(day) => day,
    None => NaiveDate::MIN,
};

/// The `scope_kind` of a site's own rows.
const SITE: &str = "site";
/// The `scope_kind` of an area subtree's rows.
const AREA: &str = "area";

/// The origin-side metrics (homesteads), summed over villages rather than sites for areas.
const ORIGIN_METRICS: &str = "'homesteads', 'demolished', 'reclaimed'";

/// The one statement reading a scope's indicators on `as_of`: one row per metric, `n` summing the
/// counts and `amount` the amounts (reclaimed area) of every delta up to that date.
pub(super) fn read(backend: DbBackend, scope: &Scope, as_of: NaiveDate) -> Statement {
    let kind = match scope {
        Scope::Area(_) => AREA,
        Scope::Site(_) => SITE,
    };
    stmt(
        backend,
        "SELECT d.metric AS metric, CAST(SUM(d.delta_count) AS BIGINT) AS n, \
         CAST(SUM(d.delta_amount) AS DOUBLE PRECISION) AS amount \
         FROM indicator_deltas d \
         WHERE d.scope_kind = $1 AND d.scope_code = $2 AND d.on_date <= $3 \
         GROUP BY d.metric",
        [
            Value::from(kind),
            Value::from(scope.code()),
            Value::from(as_of),
        ],
    )
}

/// Recomputes every rollup from the register. Runs inside the caller's transaction; reads and
/// writes only in the database.
pub async fn rebuild<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    db.execute_unprepared("DELETE FROM indicator_deltas")
        .await?;
    db.execute_raw(stmt(
        backend,
        &site_rows(backend, None),
        [Value::from(SENTINEL)],
    ))
    .await?;
    db.execute_unprepared(&area_site_side_rows()).await?;
    db.execute_raw(stmt(backend, &area_origin_rows(), [Value::from(SENTINEL)]))
        .await?;
    Ok(())
}

/// After a write that may have touched anything (an import, a migration that adds the
/// rollups): rebuilds the rollups and raises the global cache generation, in the caller's
/// transaction, so every cached aggregate becomes unreachable when it commits.
pub async fn refresh_all<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    rebuild(db).await?;
    crate::cache::generation::bump(db, &[crate::cache::GenScope::Global]).await
}

/// `$first, $first+1, …`: `n` placeholders.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Adds `sign` times the grouped rows of `select` (columns: kind, code, metric, date, count,
/// amount) to the stored rows with the same key, inserting those not there yet.
fn add_rows(select: &str, sign: i32) -> String {
    format!(
        "INSERT INTO indicator_deltas (scope_kind, scope_code, metric, on_date, delta_count, delta_amount) \
         SELECT t.k, t.code, t.metric, t.on_date, t.n * {sign}, t.amount * {sign} FROM ({select}) t \
         WHERE true \
         ON CONFLICT (scope_kind, scope_code, metric, on_date) DO UPDATE SET \
         delta_count = indicator_deltas.delta_count + excluded.delta_count, \
         delta_amount = indicator_deltas.delta_amount + excluded.delta_amount"
    )
}

/// The site-side rows of `n` sites (`$1`…), summed per ancestor-or-self of their townships.
fn site_side_of(n: usize) -> String {
    format!(
        "SELECT '{AREA}' AS k, c.ancestor_code AS code, d.metric AS metric, d.on_date AS on_date, \
         SUM(d.delta_count) AS n, SUM(d.delta_amount) AS amount \
         FROM indicator_deltas d \
         JOIN sites s ON s.code = d.scope_code \
         JOIN area_closure c ON c.descendant_code = s.township_code \
         WHERE d.scope_kind = '{SITE}' AND d.scope_code IN ({}) AND d.metric NOT IN ({ORIGIN_METRICS}) \
         GROUP BY c.ancestor_code, d.metric, d.on_date",
        placeholders(1, n)
    )
}

/// The origin-side events of the homesteads in `n` villages (`$2`…; `$1` is [`SENTINEL`]),
/// summed per ancestor-or-self of each village.
fn origin_side_of(n: usize) -> String {
    format!(
        "SELECT '{AREA}' AS k, c.ancestor_code AS code, hs.metric AS metric, hs.on_date AS on_date, \
         SUM(hs.n) AS n, SUM(hs.amount) AS amount \
         FROM ({homesteads}) hs JOIN area_closure c ON c.descendant_code = hs.village_code \
         WHERE hs.village_code IN ({}) \
         GROUP BY c.ancestor_code, hs.metric, hs.on_date",
        placeholders(2, n),
        homesteads = homestead_events(),
    )
}

/// What a write changes in the rollups: the sites whose own rows it touches (the site of every
/// work, household, member, employment or homestead it writes, before and after) and the
/// villages of the homesteads it writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    pub sites: Vec<String>,
    pub villages: Vec<String>,
}

impl Touched {
    fn values(codes: &[String]) -> impl Iterator<Item = Value> + '_ {
        codes.iter().map(|c| Value::from(c.as_str()))
    }
}

/// Before a write: takes what `touched` contributes out of the rollups (the sites' own rows are
/// deleted and subtracted from their areas' rows; the villages' homesteads are subtracted from
/// theirs). [`restore`] puts it back, computed from the register as written. Together they
/// keep the rollups equal to a [`rebuild`] while reading only the touched sites and villages.
/// Both run in the writing transaction.
pub async fn retract<C: ConnectionTrait>(db: &C, touched: &Touched) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    if !touched.sites.is_empty() {
        let n = touched.sites.len();
        db.execute_raw(stmt(
            backend,
            &add_rows(&site_side_of(n), -1),
            Touched::values(&touched.sites),
        ))
        .await?;
        db.execute_raw(stmt(
            backend,
            &format!(
                "DELETE FROM indicator_deltas WHERE scope_kind = '{SITE}' AND scope_code IN ({})",
                placeholders(1, n)
            ),
            Touched::values(&touched.sites),
        ))
        .await?;
    }
    if !touched.villages.is_empty() {
        let values =
            std::iter::once(Value::from(SENTINEL)).chain(Touched::values(&touched.villages));
        db.execute_raw(stmt(
            backend,
            &add_rows(&origin_side_of(touched.villages.len()), -1),
            values,
        ))
        .await?;
    }
    Ok(())
}

/// After a write: recomputes the touched sites' own rows from the register and adds them, and
/// the touched villages' homesteads, to their areas' rows (see [`retract`]); area rows that
/// came to nothing are removed.
pub async fn restore<C: ConnectionTrait>(db: &C, touched: &Touched) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    if !touched.sites.is_empty() {
        let n = touched.sites.len();
        let only = format!("site_code IN ({})", placeholders(2, n));
        let values = std::iter::once(Value::from(SENTINEL)).chain(Touched::values(&touched.sites));
        db.execute_raw(stmt(backend, &site_rows(backend, Some(&only)), values))
            .await?;
        db.execute_raw(stmt(
            backend,
            &add_rows(&site_side_of(n), 1),
            Touched::values(&touched.sites),
        ))
        .await?;
    }
    if !touched.villages.is_empty() {
        let values =
            std::iter::once(Value::from(SENTINEL)).chain(Touched::values(&touched.villages));
        db.execute_raw(stmt(
            backend,
            &add_rows(&origin_side_of(touched.villages.len()), 1),
            values,
        ))
        .await?;
    }
    let areas = touched.sites.len() + touched.villages.len();
    if areas > 0 {
        let sql = format!(
            "DELETE FROM indicator_deltas WHERE scope_kind = '{AREA}' AND delta_count = 0 \
             AND delta_amount > -1e-9 AND delta_amount < 1e-9 \
             AND scope_code IN (SELECT c.ancestor_code FROM area_closure c \
               WHERE c.descendant_code IN (SELECT s.township_code FROM sites s WHERE s.code IN ({})) \
               OR c.descendant_code IN ({}))",
            placeholders(1, touched.sites.len().max(1)),
            placeholders(1 + touched.sites.len().max(1), touched.villages.len().max(1)),
        );
        let pad = |codes: &[String]| {
            if codes.is_empty() {
                vec![Value::from("")]
            } else {
                Touched::values(codes).collect()
            }
        };
        let values = pad(&touched.sites)
            .into_iter()
            .chain(pad(&touched.villages));
        db.execute_raw(stmt(backend, &sql, values)).await?;
    }
    Ok(())
}

/// The day after the date `expr`.
fn next_day(backend: DbBackend, expr: &str) -> String {
    match backend {
        DbBackend::Sqlite => format!("date({expr}, '+1 day')"),
        _ => format!("({expr} + 1)"),
    }
}

/// `IN (…)` list of the labor capacities that make a laborer.
fn laborer_capacities() -> String {
    format!(
        "('{}', '{}')",
        LaborCapacity::Full.code(),
        LaborCapacity::Partial.code()
    )
}

/// Per-site rows, every metric. `$1` is [`SENTINEL`].
///
/// Employment: each laborer's employments (and each household's laborers' employments, and each
/// laborer's employments on one path) are merged into spells — maximal runs of days covered by
/// at least one of them — with window functions: ordered by start, an employment opens a new
/// spell unless an earlier one is open-ended or ends on or after the day before it starts.
/// A spell is `+1` on its first day and `−1` on the day after its last.
///
/// With `sites` (a condition on `site_code`), only the households and works of those sites are
/// read: a household's members, employments and homesteads are all counted at its own site.
fn site_rows(backend: DbBackend, sites: Option<&str>) -> String {
    let (hh, ww) = match sites {
        None => ("households".to_owned(), "site_works".to_owned()),
        Some(c) => (
            format!("(SELECT * FROM households WHERE {c})"),
            format!("(SELECT * FROM site_works WHERE {c})"),
        ),
    };
    let laborer = laborer_capacities();
    let main = WorkCategory::Main.code();
    let after_end = next_day(backend, "e.ended_on");
    format!(
        "INSERT INTO indicator_deltas (scope_kind, scope_code, metric, on_date, delta_count, delta_amount) \
         WITH jobs AS ( \
           SELECT h.site_code AS site_code, m.id_number AS member, m.household_code AS household, \
                  e.path AS path, e.id AS id, e.started_on AS s, {after_end} AS x \
           FROM employments e \
           JOIN members m ON m.id_number = e.member_id_number \
           JOIN {hh} h ON h.code = m.household_code \
           WHERE m.labor_capacity IN {laborer} AND (e.ended_on IS NULL OR e.ended_on >= e.started_on) \
         ), intervals AS ( \
           SELECT site_code, 'laborers_employed' AS metric, member AS unit, id, s, x FROM jobs \
           UNION ALL SELECT site_code, 'laborer_households_employed', household, id, s, x FROM jobs \
           UNION ALL SELECT site_code, 'path_' || path, member, id, s, x FROM jobs \
         ), marked AS ( \
           SELECT site_code, metric, unit, id, s, x, \
                  CASE WHEN MAX(CASE WHEN x IS NULL THEN 1 ELSE 0 END) OVER earlier = 1 THEN 0 \
                       WHEN MAX(x) OVER earlier >= s THEN 0 \
                       ELSE 1 END AS opens \
           FROM intervals \
           WINDOW earlier AS (PARTITION BY metric, unit ORDER BY s, id \
                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) \
         ), numbered AS ( \
           SELECT site_code, metric, unit, s, x, \
                  SUM(opens) OVER (PARTITION BY metric, unit ORDER BY s, id ROWS UNBOUNDED PRECEDING) AS spell \
           FROM marked \
         ), spells AS ( \
           SELECT site_code, metric, MIN(s) AS s, CASE WHEN COUNT(x) = COUNT(*) THEN MAX(x) END AS x \
           FROM numbered GROUP BY site_code, metric, unit, spell \
         ), events AS ( \
           SELECT w.site_code AS site_code, 'works_total' AS metric, $1 AS on_date, 1 AS n, 0.0 AS amount \
             FROM {ww} w \
           UNION ALL SELECT w.site_code, 'works_done', w.completed_on, 1, 0.0 \
             FROM {ww} w WHERE w.completed_on IS NOT NULL \
           UNION ALL SELECT w.site_code, 'works_' || w.category || '_total', $1, 1, 0.0 FROM {ww} w \
           UNION ALL SELECT w.site_code, 'works_' || w.category || '_done', w.completed_on, 1, 0.0 \
             FROM {ww} w WHERE w.completed_on IS NOT NULL \
           UNION ALL SELECT w.site_code, 'construction_total', $1, 1, 0.0 \
             FROM {ww} w WHERE w.category = '{main}' GROUP BY w.site_code \
           UNION ALL SELECT w.site_code, 'construction_done', MAX(w.completed_on), 1, 0.0 \
             FROM {ww} w WHERE w.category = '{main}' GROUP BY w.site_code \
             HAVING COUNT(w.completed_on) = COUNT(*) \
           UNION ALL SELECT h.site_code, 'households', $1, 1, 0.0 FROM {hh} h \
           UNION ALL SELECT h.site_code, 'persons', $1, h.persons, 0.0 FROM {hh} h \
           UNION ALL SELECT h.site_code, 'households_moved_in', h.moved_in_on, 1, 0.0 \
             FROM {hh} h WHERE h.moved_in_on IS NOT NULL \
           UNION ALL SELECT h.site_code, 'persons_moved_in', h.moved_in_on, h.persons, 0.0 \
             FROM {hh} h WHERE h.moved_in_on IS NOT NULL \
           UNION ALL SELECT h.site_code, 'registered_poor', $1, 1, 0.0 \
             FROM {hh} h WHERE h.registered_poor \
           UNION ALL SELECT h.site_code, 'stably_exited', h.poverty_exit_on, 1, 0.0 \
             FROM {hh} h WHERE h.registered_poor AND h.poverty_exit_on IS NOT NULL \
             AND (h.relapsed_on IS NULL OR h.relapsed_on > h.poverty_exit_on) \
           UNION ALL SELECT h.site_code, 'stably_exited', h.relapsed_on, -1, 0.0 \
             FROM {hh} h WHERE h.registered_poor AND h.poverty_exit_on IS NOT NULL \
             AND h.relapsed_on > h.poverty_exit_on \
           UNION ALL SELECT h.site_code, 'laborers', $1, 1, 0.0 \
             FROM members m JOIN {hh} h ON h.code = m.household_code \
             WHERE m.labor_capacity IN {laborer} \
           UNION ALL SELECT h.site_code, 'laborer_households', $1, 1, 0.0 \
             FROM {hh} h WHERE EXISTS (SELECT 1 FROM members m \
               WHERE m.household_code = h.code AND m.labor_capacity IN {laborer}) \
           UNION ALL SELECT site_code, metric, s, 1, 0.0 FROM spells \
           UNION ALL SELECT site_code, metric, x, -1, 0.0 FROM spells WHERE x IS NOT NULL \
           UNION ALL SELECT h.site_code, metric, on_date, n, amount \
             FROM ({homesteads}) hs JOIN {hh} h ON h.code = hs.household_code \
         ) \
         SELECT '{SITE}', site_code, metric, on_date, SUM(n), SUM(amount) FROM events \
         GROUP BY site_code, metric, on_date HAVING SUM(n) <> 0 OR SUM(amount) <> 0 \
         ORDER BY site_code, metric, on_date",
        homesteads = homestead_events(),
    )
}

/// The origin-side events of every non-exempt homestead, with its `household_code` and
/// `village_code`. `$1` is [`SENTINEL`].
fn homestead_events() -> String {
    "SELECT hs.household_code, hs.village_code, 'homesteads' AS metric, $1 AS on_date, 1 AS n, \
            0.0 AS amount FROM homesteads hs WHERE NOT hs.exempt \
     UNION ALL SELECT hs.household_code, hs.village_code, 'demolished', hs.demolished_on, 1, 0.0 \
       FROM homesteads hs WHERE NOT hs.exempt AND hs.demolished_on IS NOT NULL \
     UNION ALL SELECT hs.household_code, hs.village_code, 'reclaimed', hs.reclaimed_on, 1, hs.area_mu \
       FROM homesteads hs WHERE NOT hs.exempt AND hs.reclaimed_on IS NOT NULL"
        .to_owned()
}

/// Per-area rows of the site-side metrics: the sums of the site rows over the sites located in
/// the area's subtree. Reads the site rows written by [`site_rows`].
fn area_site_side_rows() -> String {
    format!(
        "INSERT INTO indicator_deltas (scope_kind, scope_code, metric, on_date, delta_count, delta_amount) \
         SELECT '{AREA}', c.ancestor_code, d.metric, d.on_date, SUM(d.delta_count), SUM(d.delta_amount) \
         FROM indicator_deltas d \
         JOIN sites s ON s.code = d.scope_code \
         JOIN area_closure c ON c.descendant_code = s.township_code \
         WHERE d.scope_kind = '{SITE}' AND d.metric NOT IN ({ORIGIN_METRICS}) \
         GROUP BY c.ancestor_code, d.metric, d.on_date \
         HAVING SUM(d.delta_count) <> 0 OR SUM(d.delta_amount) <> 0 \
         ORDER BY c.ancestor_code, d.metric, d.on_date"
    )
}

/// Per-area rows of the origin-side metrics: homesteads whose village lies in the area's
/// subtree. `$1` is [`SENTINEL`].
fn area_origin_rows() -> String {
    format!(
        "INSERT INTO indicator_deltas (scope_kind, scope_code, metric, on_date, delta_count, delta_amount) \
         WITH villages AS ( \
           SELECT hs.village_code AS village_code, hs.metric AS metric, hs.on_date AS on_date, \
                  SUM(hs.n) AS n, SUM(hs.amount) AS amount \
           FROM ({homesteads}) hs GROUP BY hs.village_code, hs.metric, hs.on_date \
         ) \
         SELECT '{AREA}', c.ancestor_code, v.metric, v.on_date, SUM(v.n), SUM(v.amount) \
         FROM villages v JOIN area_closure c ON c.descendant_code = v.village_code \
         GROUP BY c.ancestor_code, v.metric, v.on_date \
         HAVING SUM(v.n) <> 0 OR SUM(v.amount) <> 0 \
         ORDER BY c.ancestor_code, v.metric, v.on_date",
        homesteads = homestead_events(),
    )
}
