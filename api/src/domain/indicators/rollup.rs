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
use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement, Value};
use std::collections::{BTreeMap, BTreeSet};

use super::Target;

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
const ORIGIN_METRICS: [&str; 3] = ["homesteads", "demolished", "reclaimed"];

/// [`ORIGIN_METRICS`] as an SQL list: `'homesteads', …`.
fn origin_metrics_sql() -> String {
    ORIGIN_METRICS.map(|m| format!("'{m}'")).join(", ")
}

/// The one statement reading a scope's indicators on `as_of`: one row per metric, `n` summing the
/// counts and `amount` the amounts (reclaimed area) of every delta up to that date.
pub(super) fn read(backend: DbBackend, scope: &Target, as_of: NaiveDate) -> Statement {
    let kind = match scope {
        Target::Area(_) => AREA,
        Target::Site(_) => SITE,
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
///
/// On PostgreSQL the rows are written into a fresh table without an index, which is indexed
/// once at the end and then takes the old table's place: readers keep reading the old rows
/// until the transaction commits, and two million rows are not inserted one by one into a
/// B-tree. SQLite (a county's register) rewrites the table in place.
pub async fn rebuild<C: ConnectionTrait>(db: &C) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let swap = backend == DbBackend::Postgres;
    let table = if swap {
        // The sorts of a whole register fit in memory (for the rest of this transaction only).
        db.execute_unprepared(
            "SET LOCAL work_mem = '256MB'; \
             DROP TABLE IF EXISTS indicator_deltas_next; \
             CREATE TABLE indicator_deltas_next (LIKE indicator_deltas INCLUDING DEFAULTS)",
        )
        .await?;
        "indicator_deltas_next"
    } else {
        db.execute_unprepared("DELETE FROM indicator_deltas")
            .await?;
        "indicator_deltas"
    };
    let insert = format!(
        "INSERT INTO {table} \
         (scope_kind, scope_code, metric, on_date, delta_count, delta_amount) \
         SELECT '{SITE}', s.code, s.metric, s.on_date, s.n, s.amount FROM ({}) s \
         ORDER BY s.code, s.metric, s.on_date",
        site_select(backend, None)
    );
    db.execute_raw(stmt(backend, &insert, [Value::from(SENTINEL)]))
        .await?;
    // Each area's site-side rows from its own sites' rows and its children's rows, deepest
    // areas first: every site row is summed once, not once per ancestor.
    let deepest: Option<i64> = db
        .query_one_raw(stmt(
            backend,
            "SELECT CAST(MAX(depth) AS BIGINT) AS deepest FROM area_closure",
            [],
        ))
        .await?
        .map(|row| row.try_get::<Option<i64>>("", "deepest"))
        .transpose()?
        .flatten();
    let sql = area_site_side_rows(table);
    for depth in (0..=deepest.unwrap_or(-1)).rev() {
        db.execute_raw(stmt(backend, &sql, [Value::from(depth)]))
            .await?;
    }
    db.execute_raw(stmt(
        backend,
        &area_origin_rows(table),
        [Value::from(SENTINEL)],
    ))
    .await?;
    if swap {
        db.execute_unprepared(
            "ALTER TABLE indicator_deltas_next ADD CONSTRAINT indicator_deltas_next_pkey \
               PRIMARY KEY (scope_kind, scope_code, metric, on_date); \
             DROP TABLE indicator_deltas; \
             ALTER TABLE indicator_deltas_next RENAME TO indicator_deltas; \
             ALTER TABLE indicator_deltas \
               RENAME CONSTRAINT indicator_deltas_next_pkey TO indicator_deltas_pkey",
        )
        .await?;
    }
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

/// The areas whose rollups a [`refresh`] may have changed: every ancestor-or-self of the touched
/// sites' townships and of the touched villages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reach {
    pub areas: BTreeSet<String>,
}

/// One rollup row's key: scope kind, scope code, metric, date.
type Key = (&'static str, String, String, NaiveDate);

/// After a write, in the writing transaction: brings the rollups of what it `touched` back to
/// what a [`rebuild`] would give, reading and writing only what differs.
///
/// The touched sites' rows are recomputed from the register and compared with the stored ones
/// (the same for the touched villages' homesteads, stored as the villages' own area rows); only
/// the differences are added, to the site's or village's rows and to every ancestor's, and rows
/// that come to nothing are removed. A work's completion date moving changes two or three rows
/// per scope, however large the site.
pub async fn refresh<C: ConnectionTrait>(db: &C, touched: &Touched) -> Result<Reach, DbErr> {
    let pending = pending(db, touched).await?;
    apply(db, &pending).await?;
    Ok(pending.reach)
}

/// What a write will change in the rollups, computed from the register as it now stands (the
/// write done) and the rollups as they still are: the difference [`apply`] adds.
#[derive(Debug, Clone, Default)]
pub struct Pending {
    change: BTreeMap<Key, (i64, f64)>,
    reach: Reach,
}

/// One change to an area's rollups: `metric` moves by `count` (and `amount`) from `on_date` on.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaChange<'a> {
    pub area: &'a str,
    pub metric: &'a str,
    pub on_date: NaiveDate,
    pub count: i64,
    pub amount: f64,
}

impl AreaChange<'_> {
    /// Whether the change comes to nothing.
    pub fn is_zero(&self) -> bool {
        self.count == 0 && self.amount.abs() <= EPSILON
    }
}

impl Pending {
    /// The changes to areas' rollups, by area, metric and date.
    pub fn area_changes(&self) -> impl Iterator<Item = AreaChange<'_>> {
        self.change
            .iter()
            .filter(|((kind, ..), _)| *kind == AREA)
            .map(|((_, area, metric, on_date), (count, amount))| AreaChange {
                area,
                metric,
                on_date: *on_date,
                count: *count,
                amount: *amount,
            })
    }

    /// The areas whose rollups the change reaches.
    pub fn reach(&self) -> &Reach {
        &self.reach
    }
}

/// The rollup rows of the areas `areas` (their `area` rows), as stored now: what
/// [`area_difference`] compares a later state with. Read in the caller's transaction.
pub async fn area_rows<C: ConnectionTrait>(
    db: &C,
    areas: &[String],
) -> Result<BTreeMap<(String, String, NaiveDate), (i64, f64)>, DbErr> {
    let backend = db.get_database_backend();
    let mut rows = BTreeMap::new();
    for chunk in areas.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT scope_code AS code, metric, on_date, delta_count AS n, \
             CAST(delta_amount AS DOUBLE PRECISION) AS amount FROM indicator_deltas \
             WHERE scope_kind = '{AREA}' AND scope_code IN ({})",
            placeholders(1, chunk.len())
        );
        for row in db
            .query_all_raw(stmt(backend, &sql, Touched::values(chunk)))
            .await?
        {
            let (code, metric, on_date, n, amount) = delta(&row)?;
            rows.insert((code, metric, on_date), (n, amount));
        }
    }
    Ok(rows)
}

/// `after − before` of two [`area_rows`] readings, as [`AreaChange`]s without the zeros.
pub fn area_difference(
    before: &BTreeMap<(String, String, NaiveDate), (i64, f64)>,
    after: &BTreeMap<(String, String, NaiveDate), (i64, f64)>,
) -> Vec<(String, String, NaiveDate, i64, f64)> {
    let mut change: BTreeMap<(String, String, NaiveDate), (i64, f64)> = after.clone();
    for (key, (n, amount)) in before {
        let slot = change.entry(key.clone()).or_insert((0, 0.0));
        slot.0 -= n;
        slot.1 -= amount;
    }
    change
        .into_iter()
        .filter(|(_, (n, amount))| *n != 0 || amount.abs() > EPSILON)
        .map(|((area, metric, on_date), (n, amount))| (area, metric, on_date, n, amount))
        .collect()
}

/// Computes what a write that `touched` these sites and villages changes in the rollups,
/// without changing them (see [`refresh`]).
pub async fn pending<C: ConnectionTrait>(db: &C, touched: &Touched) -> Result<Pending, DbErr> {
    let backend = db.get_database_backend();
    let (site_areas, village_areas) = ancestors(db, touched).await?;
    let mut change: BTreeMap<Key, (i64, f64)> = BTreeMap::new();
    let mut add = |key: Key, n: i64, amount: f64| {
        let slot = change.entry(key).or_insert((0, 0.0));
        slot.0 += n;
        slot.1 += amount;
    };
    if !touched.sites.is_empty() {
        let n = touched.sites.len();
        let only = format!("site_code IN ({})", placeholders(2, n));
        let sql = difference(
            &site_select(backend, Some(&only)),
            &format!(
                "scope_kind = '{SITE}' AND scope_code IN ({})",
                placeholders(2, n)
            ),
        );
        let values = std::iter::once(Value::from(SENTINEL)).chain(Touched::values(&touched.sites));
        for row in db.query_all_raw(stmt(backend, &sql, values)).await? {
            let (code, metric, on_date, n, amount) = delta(&row)?;
            // Areas count the origin side by village (below), not by site.
            if !ORIGIN_METRICS.contains(&metric.as_str()) {
                for area in site_areas.get(&code).into_iter().flatten() {
                    add((AREA, area.clone(), metric.clone(), on_date), n, amount);
                }
            }
            add((SITE, code, metric, on_date), n, amount);
        }
    }
    if !touched.villages.is_empty() {
        let n = touched.villages.len();
        let sql = difference(
            &format!(
                "SELECT hs.village_code AS code, hs.metric AS metric, hs.on_date AS on_date, \
                 hs.n AS n, hs.amount AS amount FROM ({}) hs",
                homestead_events(&format!("hs.village_code IN ({})", placeholders(2, n)))
            ),
            &format!(
                "scope_kind = '{AREA}' AND metric IN ({}) AND scope_code IN ({})",
                origin_metrics_sql(),
                placeholders(2, n)
            ),
        );
        let values =
            std::iter::once(Value::from(SENTINEL)).chain(Touched::values(&touched.villages));
        for row in db.query_all_raw(stmt(backend, &sql, values)).await? {
            let (code, metric, on_date, n, amount) = delta(&row)?;
            for area in village_areas.get(&code).into_iter().flatten() {
                add((AREA, area.clone(), metric.clone(), on_date), n, amount);
            }
        }
    }
    change.retain(|_, (n, amount)| *n != 0 || amount.abs() > EPSILON);
    Ok(Pending {
        change,
        reach: Reach {
            areas: site_areas
                .into_values()
                .chain(village_areas.into_values())
                .flatten()
                .collect(),
        },
    })
}

/// Adds a [`pending`] change to the rollups.
pub async fn apply<C: ConnectionTrait>(db: &C, pending: &Pending) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let keys: Vec<(&Key, &(i64, f64))> = pending.change.iter().collect();
    for chunk in keys.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "INSERT INTO indicator_deltas \
             (scope_kind, scope_code, metric, on_date, delta_count, delta_amount) VALUES {} \
             ON CONFLICT (scope_kind, scope_code, metric, on_date) DO UPDATE SET \
             delta_count = indicator_deltas.delta_count + excluded.delta_count, \
             delta_amount = indicator_deltas.delta_amount + excluded.delta_amount",
            tuples(chunk.len(), 6)
        );
        let values = chunk
            .iter()
            .flat_map(|((kind, code, metric, on_date), (n, amount))| {
                [
                    Value::from(*kind),
                    Value::from(code.as_str()),
                    Value::from(metric.as_str()),
                    Value::from(*on_date),
                    Value::from(*n),
                    Value::from(*amount),
                ]
            });
        db.execute_raw(stmt(backend, &sql, values)).await?;
        let sql = format!(
            "DELETE FROM indicator_deltas WHERE delta_count = 0 \
             AND delta_amount > -{EPSILON:e} AND delta_amount < {EPSILON:e} \
             AND (scope_kind, scope_code, metric, on_date) IN (VALUES {})",
            tuples(chunk.len(), 4)
        );
        let values = chunk.iter().flat_map(|((kind, code, metric, on_date), _)| {
            [
                Value::from(*kind),
                Value::from(code.as_str()),
                Value::from(metric.as_str()),
                Value::from(*on_date),
            ]
        });
        db.execute_raw(stmt(backend, &sql, values)).await?;
    }
    Ok(())
}

/// Amounts closer to zero than this are zero (sums of reclaimed areas in mu).
const EPSILON: f64 = 1e-9;

/// Rows per statement when rollup rows are written by value (6 parameters each).
const ROWS_PER_STATEMENT: usize = 500;

/// `($1, …, $width), ($width+1, …)`: `rows` tuples of `width` placeholders.
fn tuples(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholders(1 + r * width, width)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rows of `fresh` (columns: code, metric, on_date, n, amount) minus the stored rows
/// matching `stored` (a condition on `indicator_deltas`), keeping those that differ.
fn difference(fresh: &str, stored: &str) -> String {
    format!(
        "SELECT t.code AS code, t.metric AS metric, t.on_date AS on_date, \
         CAST(SUM(t.n) AS BIGINT) AS n, CAST(SUM(t.amount) AS DOUBLE PRECISION) AS amount \
         FROM (SELECT f.code AS code, f.metric AS metric, f.on_date AS on_date, f.n AS n, \
                      f.amount AS amount FROM ({fresh}) f \
               UNION ALL SELECT scope_code, metric, on_date, -delta_count, -delta_amount \
               FROM indicator_deltas WHERE {stored}) t \
         GROUP BY t.code, t.metric, t.on_date \
         HAVING SUM(t.n) <> 0 OR SUM(t.amount) > {EPSILON:e} OR SUM(t.amount) < -{EPSILON:e}"
    )
}

/// One row of [`difference`].
fn delta(row: &QueryResult) -> Result<(String, String, NaiveDate, i64, f64), DbErr> {
    Ok((
        row.try_get("", "code")?,
        row.try_get("", "metric")?,
        row.try_get("", "on_date")?,
        row.try_get("", "n")?,
        row.try_get("", "amount")?,
    ))
}

/// Codes of areas, by the site or village they are the ancestors-or-self of.
type AncestorMap = BTreeMap<String, Vec<String>>;

/// The ancestors-or-self of every touched site's township and of every touched village.
async fn ancestors<C: ConnectionTrait>(
    db: &C,
    touched: &Touched,
) -> Result<(AncestorMap, AncestorMap), DbErr> {
    let backend = db.get_database_backend();
    let mut sites = AncestorMap::new();
    let mut villages = AncestorMap::new();
    if touched.sites.is_empty() && touched.villages.is_empty() {
        return Ok((sites, villages));
    }
    let pad = |codes: &[String]| -> Vec<Value> {
        if codes.is_empty() {
            vec![Value::from("")]
        } else {
            Touched::values(codes).collect()
        }
    };
    let site_values = pad(&touched.sites);
    let village_values = pad(&touched.villages);
    let sql = format!(
        "SELECT 'site' AS k, s.code AS code, c.ancestor_code AS ancestor FROM sites s \
         JOIN area_closure c ON c.descendant_code = s.township_code WHERE s.code IN ({}) \
         UNION ALL SELECT 'village', c.descendant_code, c.ancestor_code FROM area_closure c \
         WHERE c.descendant_code IN ({})",
        placeholders(1, site_values.len()),
        placeholders(1 + site_values.len(), village_values.len()),
    );
    let rows = db
        .query_all_raw(stmt(
            backend,
            &sql,
            site_values.into_iter().chain(village_values),
        ))
        .await?;
    for row in rows {
        let kind: String = row.try_get("", "k")?;
        let code: String = row.try_get("", "code")?;
        let ancestor: String = row.try_get("", "ancestor")?;
        let map = if kind == "site" {
            &mut sites
        } else {
            &mut villages
        };
        map.entry(code).or_default().push(ancestor);
    }
    Ok((sites, villages))
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

/// Per-site rows, every metric (columns: code, metric, on_date, n, amount). `$1` is
/// [`SENTINEL`].
///
/// Employment: each laborer's employments (and each household's laborers' employments, and each
/// laborer's employments on one path) are merged into spells — maximal runs of days covered by
/// at least one of them — with window functions: ordered by start, an employment opens a new
/// spell unless an earlier one is open-ended or ends on or after the day before it starts.
/// A spell is `+1` on its first day and `−1` on the day after its last.
///
/// With `sites` (a condition on `site_code`), only the households and works of those sites are
/// read: a household's members, employments and homesteads are all counted at its own site.
fn site_select(backend: DbBackend, sites: Option<&str>) -> String {
    let (hh, ww, homesteads) = match sites {
        None => (
            "households".to_owned(),
            "site_works".to_owned(),
            homestead_events("true"),
        ),
        Some(c) => (
            format!("(SELECT * FROM households WHERE {c})"),
            format!("(SELECT * FROM site_works WHERE {c})"),
            homestead_events(&format!(
                "hs.household_code IN (SELECT code FROM households WHERE {c})"
            )),
        ),
    };
    let laborer = laborer_capacities();
    let main = WorkCategory::Main.code();
    let after_end = next_day(backend, "e.ended_on");
    format!(
        "WITH jobs AS ( \
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
         SELECT site_code AS code, metric, on_date, SUM(n) AS n, SUM(amount) AS amount FROM events \
         GROUP BY site_code, metric, on_date HAVING SUM(n) <> 0 OR SUM(amount) <> 0",
    )
}

/// The origin-side events of every non-exempt homestead meeting `condition` (on `hs`, `true` for
/// all), with its `household_code` and `village_code`. `$1` is [`SENTINEL`]. The condition is
/// repeated in each branch so that an index can serve it.
fn homestead_events(condition: &str) -> String {
    format!(
        "SELECT hs.household_code, hs.village_code, 'homesteads' AS metric, $1 AS on_date, 1 AS n, \
                0.0 AS amount FROM homesteads hs WHERE NOT hs.exempt AND {condition} \
         UNION ALL SELECT hs.household_code, hs.village_code, 'demolished', hs.demolished_on, 1, 0.0 \
           FROM homesteads hs WHERE NOT hs.exempt AND hs.demolished_on IS NOT NULL AND {condition} \
         UNION ALL SELECT hs.household_code, hs.village_code, 'reclaimed', hs.reclaimed_on, 1, \
                hs.area_mu FROM homesteads hs \
           WHERE NOT hs.exempt AND hs.reclaimed_on IS NOT NULL AND {condition}"
    )
}

/// Per-area rows of the site-side metrics, into `table`, for the areas `$1` levels below the
/// root: the sums of the site rows of the sites located in each such area and of the rows of
/// its children, which must be in `table` already (so deeper levels go first).
fn area_site_side_rows(table: &str) -> String {
    format!(
        "INSERT INTO {table} (scope_kind, scope_code, metric, on_date, delta_count, delta_amount) \
         WITH level AS ( \
           SELECT c.descendant_code AS code FROM area_closure c \
           JOIN areas r ON r.code = c.ancestor_code \
           WHERE r.parent_code IS NULL AND c.depth = $1 \
         ), parts AS ( \
           SELECT s.township_code AS code, d.metric AS metric, d.on_date AS on_date, \
                  d.delta_count AS n, d.delta_amount AS amount \
           FROM {table} d JOIN sites s ON s.code = d.scope_code \
           WHERE d.scope_kind = '{SITE}' AND d.metric NOT IN ({origin}) \
             AND s.township_code IN (SELECT code FROM level) \
           UNION ALL \
           SELECT a.parent_code, d.metric, d.on_date, d.delta_count, d.delta_amount \
           FROM {table} d JOIN areas a ON a.code = d.scope_code \
           WHERE d.scope_kind = '{AREA}' AND d.metric NOT IN ({origin}) \
             AND a.parent_code IN (SELECT code FROM level) \
         ) \
         SELECT '{AREA}', p.code, p.metric, p.on_date, SUM(p.n), SUM(p.amount) FROM parts p \
         GROUP BY p.code, p.metric, p.on_date \
         HAVING SUM(p.n) <> 0 OR SUM(p.amount) <> 0 \
         ORDER BY p.code, p.metric, p.on_date",
        origin = origin_metrics_sql(),
    )
}

/// Per-area rows of the origin-side metrics, into `table`: homesteads whose village lies in the
/// area's subtree. `$1` is [`SENTINEL`].
fn area_origin_rows(table: &str) -> String {
    format!(
        "INSERT INTO {table} (scope_kind, scope_code, metric, on_date, delta_count, delta_amount) \
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
        homesteads = homestead_events("true"),
    )
}
