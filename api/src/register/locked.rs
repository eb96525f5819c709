//! Which rows of a data set alter an approved month (see [`crate::domain::periods`]).
//!
//! Whether an import alters a locked month is decided exactly, on the locked areas' rollups
//! before and after it. This module names the rows behind it: for each row it compares the
//! record as stored (read before the import writes) with the row, and finds the days on which
//! the record now counts differently (a date moved from `a` to `b`: the days from the earlier to
//! the later; a record added, dropped from a denominator or moved to another site or village:
//! every day). A row is refused for a locked month of area A when the record lies in A (as
//! stored or as imported) and one of those days falls in the month.

use super::dataset::{DataSet, EmploymentKey, HomesteadKey};
use super::lookup::CHUNK;
use super::Breach;
use crate::domain::periods::{indicator_of_metric, Violation};
use chrono::NaiveDate;
use entity::enums::{LaborCapacity, WorkCategory};
use entity::{area, employment, homestead, household, member, site, site_work};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use std::collections::{BTreeSet, HashMap, HashSet};

/// The days on which a record counts differently: from `from` to the day before `to` (none:
/// for good).
#[derive(Debug, Clone, Copy)]
struct Span {
    from: NaiveDate,
    to: Option<NaiveDate>,
}

/// Every day.
const ALWAYS: Span = Span {
    from: NaiveDate::MIN,
    to: None,
};

/// The days on which "counts from `date` on" differs between `old` and `new` (none: never).
fn moved(old: Option<NaiveDate>, new: Option<NaiveDate>) -> Option<Span> {
    match (old, new) {
        (a, b) if a == b => None,
        (Some(a), Some(b)) => Some(Span {
            from: a.min(b),
            to: Some(a.max(b)),
        }),
        (Some(a), None) | (None, Some(a)) => Some(Span { from: a, to: None }),
        (None, None) => None,
    }
}

fn day_after(d: Option<NaiveDate>) -> Option<NaiveDate> {
    d.and_then(|d| d.succ_opt())
}

/// What the register held before the import, for the records the data set names.
#[derive(Debug, Default)]
pub(crate) struct Stored {
    sites: HashMap<String, String>,
    areas: HashMap<String, Option<String>>,
    works: HashMap<String, (String, WorkCategory, Option<NaiveDate>)>,
    households: HashMap<String, household::Model>,
    members: HashMap<String, (String, LaborCapacity)>,
    employments: HashMap<EmploymentKey, Option<NaiveDate>>,
    homesteads: HashMap<HomesteadKey, homestead::Model>,
}

/// Reads [`Stored`] for `set`, in the import's transaction before it writes.
pub(crate) async fn stored<C: ConnectionTrait>(db: &C, set: &DataSet) -> Result<Stored, DbErr> {
    let mut out = Stored::default();
    let codes = |it: &mut dyn Iterator<Item = String>| -> Vec<String> {
        it.collect::<BTreeSet<_>>().into_iter().collect()
    };
    for chunk in codes(&mut set.areas.iter().map(|r| r.code.clone())).chunks(CHUNK) {
        for a in area::Entity::find()
            .filter(area::Column::Code.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            out.areas.insert(a.code, a.parent_code);
        }
    }
    for chunk in codes(&mut set.works.iter().map(|r| r.code.clone())).chunks(CHUNK) {
        for w in site_work::Entity::find()
            .filter(site_work::Column::Code.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            out.works
                .insert(w.code, (w.site_code, w.category, w.completed_on));
        }
    }
    let household_codes = codes(
        &mut set
            .households
            .iter()
            .map(|r| r.code.clone())
            .chain(set.members.iter().map(|r| r.household_code.clone()))
            .chain(set.homesteads.iter().map(|r| r.household_code.clone())),
    );
    for chunk in household_codes.chunks(CHUNK) {
        for h in household::Entity::find()
            .filter(household::Column::Code.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            out.households.insert(h.code.clone(), h);
        }
        for hs in homestead::Entity::find()
            .filter(homestead::Column::HouseholdCode.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            out.homesteads.insert(
                (hs.household_code.clone(), hs.village_code.clone(), hs.seq),
                hs,
            );
        }
    }
    let member_ids = codes(
        &mut set
            .members
            .iter()
            .map(|r| r.id_number.clone())
            .chain(set.employments.iter().map(|r| r.member_id_number.clone())),
    );
    for chunk in member_ids.chunks(CHUNK) {
        for m in member::Entity::find()
            .filter(member::Column::IdNumber.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            out.members
                .insert(m.id_number, (m.household_code, m.labor_capacity));
        }
        for e in employment::Entity::find()
            .filter(employment::Column::MemberIdNumber.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            out.employments.insert(
                (e.member_id_number, e.path, e.employer, e.started_on),
                e.ended_on,
            );
        }
    }
    let site_codes = codes(
        &mut set
            .sites
            .iter()
            .map(|r| r.code.clone())
            .chain(set.works.iter().map(|r| r.site_code.clone()))
            .chain(set.households.iter().map(|r| r.site_code.clone()))
            .chain(out.works.values().map(|w| w.0.clone()))
            .chain(out.households.values().map(|h| h.site_code.clone())),
    );
    for chunk in site_codes.chunks(CHUNK) {
        for s in site::Entity::find()
            .filter(site::Column::Code.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            out.sites.insert(s.code, s.township_code);
        }
    }
    Ok(out)
}

/// One row's change: its file, line, the column and the days it alters, and the areas (sites'
/// townships and villages) the record lies in, as stored and as imported.
struct RowChange {
    file: &'static str,
    line: u64,
    column: &'static str,
    span: Span,
    places: Vec<String>,
}

/// Every indicator-relevant change the rows of `set` make, against `old`.
fn changes(set: &DataSet, old: &Stored) -> Vec<RowChange> {
    let new_sites: HashMap<&str, &str> = set
        .sites
        .iter()
        .map(|r| (r.code.as_str(), r.township_code.as_str()))
        .collect();
    let township = |site: &str| -> Vec<String> {
        new_sites
            .get(site)
            .map(|t| (*t).to_owned())
            .into_iter()
            .chain(old.sites.get(site).cloned())
            .collect()
    };
    let new_households: HashMap<&str, &str> = set
        .households
        .iter()
        .map(|r| (r.code.as_str(), r.site_code.as_str()))
        .collect();
    let household_places = |code: &str| -> Vec<String> {
        let mut out: Vec<String> = new_households
            .get(code)
            .map(|s| township(s))
            .unwrap_or_default();
        if let Some(h) = old.households.get(code) {
            out.extend(township(&h.site_code));
        }
        out
    };
    let mut out = Vec::new();
    let mut push = |file, line, column, span: Option<Span>, places: &Vec<String>| {
        if let Some(span) = span {
            out.push(RowChange {
                file,
                line,
                column,
                span,
                places: places.clone(),
            });
        }
    };
    for r in &set.areas {
        if let Some(parent) = old.areas.get(&r.code) {
            if *parent != r.parent_code {
                let places = vec![r.code.clone()]
                    .into_iter()
                    .chain(parent.iter().cloned())
                    .collect();
                push("areas.csv", r.line, "parent_code", Some(ALWAYS), &places);
            }
        }
    }
    for r in &set.sites {
        if let Some(t) = old.sites.get(&r.code) {
            if *t != r.township_code {
                let places = vec![t.clone(), r.township_code.clone()];
                push("sites.csv", r.line, "township_code", Some(ALWAYS), &places);
            }
        }
    }
    for r in &set.works {
        let mut places = township(&r.site_code);
        match old.works.get(&r.code) {
            None => push("site_works.csv", r.line, "code", Some(ALWAYS), &places),
            Some((site, category, completed)) => {
                places.extend(township(site));
                if *site != r.site_code {
                    push("site_works.csv", r.line, "site_code", Some(ALWAYS), &places);
                } else if Some(*category) != r.category {
                    push("site_works.csv", r.line, "category", Some(ALWAYS), &places);
                } else {
                    let span = moved(*completed, r.completed_on);
                    push("site_works.csv", r.line, "completed_on", span, &places);
                }
            }
        }
    }
    for r in &set.households {
        let places = household_places(&r.code);
        let f = "households.csv";
        let Some(h) = old.households.get(&r.code) else {
            push(f, r.line, "code", Some(ALWAYS), &places);
            continue;
        };
        if h.site_code != r.site_code {
            push(f, r.line, "site_code", Some(ALWAYS), &places);
        }
        if Some(h.persons) != r.persons {
            push(f, r.line, "persons", Some(ALWAYS), &places);
        }
        if h.registered_poor != r.registered_poor {
            push(f, r.line, "registered_poor", Some(ALWAYS), &places);
        }
        push(
            f,
            r.line,
            "moved_in_on",
            moved(h.moved_in_on, r.moved_in_on),
            &places,
        );
        push(
            f,
            r.line,
            "poverty_exit_on",
            moved(h.poverty_exit_on, r.poverty_exit_on),
            &places,
        );
        push(
            f,
            r.line,
            "relapsed_on",
            moved(h.relapsed_on, r.relapsed_on),
            &places,
        );
    }
    let laborer =
        |c: Option<LaborCapacity>| matches!(c, Some(LaborCapacity::Full | LaborCapacity::Partial));
    for r in &set.members {
        let mut places = household_places(&r.household_code);
        let f = "members.csv";
        match old.members.get(&r.id_number) {
            None if laborer(r.labor_capacity) => {
                push(f, r.line, "id_number", Some(ALWAYS), &places)
            }
            None => {}
            Some((household, capacity)) => {
                places.extend(household_places(household));
                if laborer(Some(*capacity)) != laborer(r.labor_capacity) {
                    push(f, r.line, "labor_capacity", Some(ALWAYS), &places);
                } else if *household != r.household_code && laborer(r.labor_capacity) {
                    push(f, r.line, "household_code", Some(ALWAYS), &places);
                }
            }
        }
    }
    let member_household: HashMap<&str, &str> = set
        .members
        .iter()
        .map(|r| (r.id_number.as_str(), r.household_code.as_str()))
        .collect();
    for r in &set.employments {
        let household = member_household
            .get(r.member_id_number.as_str())
            .map(|h| (*h).to_owned())
            .or_else(|| old.members.get(&r.member_id_number).map(|m| m.0.clone()));
        let places = household.map(|h| household_places(&h)).unwrap_or_default();
        let f = "employments.csv";
        match r.key().and_then(|k| old.employments.get(&k).copied()) {
            None => {
                let span = r.started_on.map(|from| Span {
                    from,
                    to: day_after(r.ended_on),
                });
                push(f, r.line, "started_on", span, &places);
            }
            Some(ended) => {
                let span = moved(day_after(ended), day_after(r.ended_on));
                push(f, r.line, "ended_on", span, &places);
            }
        }
    }
    for r in &set.homesteads {
        let places = vec![r.village_code.clone()];
        let f = "homesteads.csv";
        match old.homesteads.get(&r.key()) {
            None if !r.exempt => push(f, r.line, "village_code", Some(ALWAYS), &places),
            None => {}
            Some(h) => {
                if h.exempt != r.exempt {
                    push(f, r.line, "exempt", Some(ALWAYS), &places);
                    continue;
                }
                if r.exempt {
                    continue;
                }
                push(
                    f,
                    r.line,
                    "demolished_on",
                    moved(h.demolished_on, r.demolished_on),
                    &places,
                );
                push(
                    f,
                    r.line,
                    "reclaimed_on",
                    moved(h.reclaimed_on, r.reclaimed_on),
                    &places,
                );
                if (h.area_mu - r.area_mu).abs() > 1e-9 && h.reclaimed_on == r.reclaimed_on {
                    let span = r.reclaimed_on.map(|from| Span { from, to: None });
                    push(f, r.line, "area_mu", span, &places);
                }
            }
        }
    }
    out
}

/// The rows of `set` behind `violations`, each as `file:line: column: reason`; read in the
/// import's transaction (after it wrote, for the tree as imported).
pub(crate) async fn attribute<C: ConnectionTrait>(
    db: &C,
    set: &DataSet,
    old: &Stored,
    violations: &[Violation],
) -> Result<Vec<Breach>, DbErr> {
    let mut below: HashMap<&str, HashSet<String>> = HashMap::new();
    for v in violations {
        let rows: Vec<String> = entity::area_closure::Entity::find()
            .filter(entity::area_closure::Column::AncestorCode.eq(v.area.clone()))
            .all(db)
            .await?
            .into_iter()
            .map(|c| c.descendant_code)
            .collect();
        below.entry(&v.area).or_default().extend(rows);
    }
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for change in changes(set, old) {
        for v in violations {
            let inside = below
                .get(v.area.as_str())
                .is_some_and(|set| change.places.iter().any(|p| set.contains(p)));
            let overlaps = change.span.from <= v.month.last_day()
                && change.span.to.is_none_or(|to| to > v.month.first_day());
            if inside && overlaps && seen.insert((change.file, change.line, change.column)) {
                out.push(Breach {
                    file: change.file.to_owned(),
                    line: change.line,
                    column: change.column.to_owned(),
                    reason: format!(
                        "{} of area \"{}\" is APPROVED and locked: this row changes its \
                         figures as of a day of that month",
                        v.month, v.area
                    ),
                });
            }
        }
    }
    if out.is_empty() {
        // The change comes from records the data set removes (members, employments or
        // homesteads of listed households and members that it no longer lists).
        for v in violations {
            out.push(Breach {
                file: "households.csv".to_owned(),
                line: 1,
                column: "code".to_owned(),
                reason: format!(
                    "{} of area \"{}\" is APPROVED and locked: the records this data set \
                     removes change `{}` of it as of {}",
                    v.month,
                    v.area,
                    indicator_of_metric(&v.metric),
                    v.day
                ),
            });
        }
    }
    Ok(out)
}
