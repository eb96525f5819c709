//! Watch lists (CONTRACT §7): households to follow up on a date, each with the reasons it is
//! listed and since when. Membership is SQL over one household row, built from the indicators'
//! definitions ([`super::indicators::define`]); ZERO_EMPLOYMENT is exactly the gap of
//! householdEmployment. The reasons are worked out afterwards, per listed household, from its
//! members and employments.

use super::drilldown::{definition, Part};
use super::indicators::define::{self as d, AS_OF};
use super::indicators::read::{ensure_allowed, not_found};
use super::indicators::{scope_exists, Target};
use super::pagination::{keyset_page, KeyKind, Page, PageRequest};
use super::periods::Indicator;
use super::reads::{Batched, Reads};
use super::scope::Scope;
use crate::error::Result;
use chrono::{Days, NaiveDate};
use entity::enums::LaborCapacity;
use entity::{employment, household, member};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Value};
use std::collections::HashMap;

pub use crate::config::DEFAULT_LOW_INCOME_LINE_YUAN;

/// How far back JOB_LOST looks: an employment that ended in the 90 days up to `asOf`.
pub const JOB_LOST_DAYS: u64 = 90;

/// A watch list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchKind {
    /// 零就业家庭: at least one laborer, none employed.
    ZeroEmployment,
    /// Income per person from active employments below the line.
    LowIncome,
    /// Registered-poor households fallen back into poverty.
    Relapsed,
    /// A laborer whose employment ended in the last 90 days and who has none now.
    JobLost,
}

impl WatchKind {
    /// Every list.
    pub const ALL: [WatchKind; 4] = [
        WatchKind::ZeroEmployment,
        WatchKind::LowIncome,
        WatchKind::Relapsed,
        WatchKind::JobLost,
    ];

    /// The schema's name, which downloads take too (`ZERO_EMPLOYMENT`).
    pub fn name(self) -> &'static str {
        match self {
            WatchKind::ZeroEmployment => "ZERO_EMPLOYMENT",
            WatchKind::LowIncome => "LOW_INCOME",
            WatchKind::Relapsed => "RELAPSED",
            WatchKind::JobLost => "JOB_LOST",
        }
    }

    /// The list by its schema name.
    pub fn from_name(name: &str) -> Option<WatchKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The list's official name.
    pub fn official_name(self) -> &'static str {
        match self {
            WatchKind::ZeroEmployment => "零就业家庭",
            WatchKind::LowIncome => "低收入家庭",
            WatchKind::Relapsed => "返贫家庭",
            WatchKind::JobLost => "失业返乡",
        }
    }
}

/// What the lists are judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatchSettings {
    /// LOW_INCOME's line, in yuan a year per person.
    pub low_income_line_yuan: u32,
}

impl Default for WatchSettings {
    fn default() -> Self {
        Self {
            low_income_line_yuan: DEFAULT_LOW_INCOME_LINE_YUAN,
        }
    }
}

/// Named placeholders of the lists' own values (none is a prefix of another, or of
/// [`AS_OF`] and [`SCOPE`]).
const LINE: &str = ":line";
const LOST_FROM: &str = ":lost_from";

/// The yearly income of household `h` from its members' employments active on `asOf`
/// (unrecorded incomes count as nothing).
fn yearly_income(h: &str) -> String {
    format!(
        "(SELECT COALESCE(SUM(wi.monthly_income_yuan), 0) * 12 FROM members wm \
         JOIN employments wi ON wi.member_id_number = wm.id_number \
         WHERE wm.household_code = {h}.code AND {active})",
        active = d::active("wi")
    )
}

/// The condition a household row (`households`) meets to be on `kind`'s list in `target`.
pub fn predicate(kind: WatchKind, target: &Target) -> String {
    let site = d::site_in_target(target, "households.site_code");
    match kind {
        WatchKind::ZeroEmployment => {
            definition(Indicator::HouseholdEmployment, target).predicate(Part::Gap)
        }
        WatchKind::LowIncome => format!(
            "{site} AND {income} < {LINE} * households.persons",
            income = yearly_income("households")
        ),
        WatchKind::Relapsed => format!("{site} AND {}", d::relapsed("households")),
        WatchKind::JobLost => format!(
            "{site} AND EXISTS (SELECT 1 FROM members wm \
             JOIN employments wj ON wj.member_id_number = wm.id_number \
             WHERE wm.household_code = households.code AND {laborer} \
             AND wj.ended_on >= {LOST_FROM} AND wj.ended_on <= {AS_OF} AND NOT {employed})",
            laborer = d::laborer("wm"),
            employed = d::employed("wm"),
        ),
    }
}

/// The first day of JOB_LOST's window ending on `as_of`.
fn lost_from(as_of: NaiveDate) -> NaiveDate {
    as_of
        .checked_sub_days(Days::new(JOB_LOST_DAYS - 1))
        .unwrap_or(NaiveDate::MIN)
}

fn select(
    db: &DatabaseConnection,
    scope: &Scope,
    target: &Target,
    as_of: NaiveDate,
    kind: WatchKind,
    settings: WatchSettings,
) -> sea_orm::Select<household::Entity> {
    let cond = d::bind(
        db.get_database_backend(),
        &d::with_target_literal(&predicate(kind, target), target),
        &[
            (AS_OF, Value::from(as_of)),
            (LINE, Value::from(i64::from(settings.low_income_line_yuan))),
            (LOST_FROM, Value::from(lost_from(as_of))),
        ],
    );
    household::Entity::find()
        .filter(cond)
        .filter(scope.households())
}

/// Checks that the caller may read `target`'s lists: `NOT_FOUND` as for an unknown target.
pub async fn ensure_readable<B: Batched>(reads: &Reads<'_, B>, target: &Target) -> Result<()> {
    ensure_allowed(reads, target).await?;
    if !scope_exists(reads.db, target).await? {
        return Err(not_found(target));
    }
    Ok(())
}

/// One page of `kind`'s list in `target` on `as_of`, by household code.
pub async fn list<B: Batched>(
    reads: &Reads<'_, B>,
    target: &Target,
    as_of: NaiveDate,
    kind: WatchKind,
    settings: WatchSettings,
    req: &PageRequest,
) -> Result<Page<household::Model>> {
    ensure_readable(reads, target).await?;
    let q = select(reads.db, reads.scope, target, as_of, kind, settings);
    Ok(keyset_page(reads.db, q, household::Column::Code, KeyKind::Text, req).await?)
}

/// One listed household, with why and since when.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchEntry {
    pub household: household::Model,
    pub kind: WatchKind,
    /// Why the household is listed, one sentence per fact.
    pub reasons: Vec<String>,
    /// Since when the facts have held, where the register tells.
    pub since: Option<NaiveDate>,
}

/// The whole of `kind`'s list with reasons, for downloads: the caller must have passed
/// [`ensure_readable`]. Reads the list by pages of 1,000 and each page's members and
/// employments in one statement each.
pub async fn entries(
    db: &DatabaseConnection,
    scope: &Scope,
    target: &Target,
    as_of: NaiveDate,
    kind: WatchKind,
    settings: WatchSettings,
) -> std::result::Result<Vec<WatchEntry>, DbErr> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let req = PageRequest::forward(1_000, after.take());
        let q = select(db, scope, target, as_of, kind, settings);
        let page = keyset_page(db, q, household::Column::Code, KeyKind::Text, &req).await?;
        let codes: Vec<String> = page.items.iter().map(|h| h.code.clone()).collect();
        let members = member::Entity::find()
            .filter(member::Column::HouseholdCode.is_in(codes))
            .filter(scope.members())
            .all(db)
            .await?;
        let ids: Vec<String> = members.iter().map(|m| m.id_number.clone()).collect();
        let jobs = employment::Entity::find()
            .filter(employment::Column::MemberIdNumber.is_in(ids))
            .all(db)
            .await?;
        let mut by_household: HashMap<&str, Vec<&member::Model>> = HashMap::new();
        for m in &members {
            by_household.entry(&m.household_code).or_default().push(m);
        }
        let mut by_member: HashMap<&str, Vec<&employment::Model>> = HashMap::new();
        for e in &jobs {
            by_member.entry(&e.member_id_number).or_default().push(e);
        }
        for h in &page.items {
            let ms = by_household.remove(h.code.as_str()).unwrap_or_default();
            let household_jobs: Vec<(&member::Model, Vec<&employment::Model>)> = ms
                .into_iter()
                .map(|m| {
                    (
                        m,
                        by_member
                            .get(m.id_number.as_str())
                            .cloned()
                            .unwrap_or_default(),
                    )
                })
                .collect();
            out.push(explain(kind, as_of, settings, h, &household_jobs));
        }
        if !page.has_next {
            break;
        }
        after = page.items.last().map(|h| h.code.clone());
    }
    Ok(out)
}

fn is_laborer(m: &member::Model) -> bool {
    matches!(
        m.labor_capacity,
        LaborCapacity::Full | LaborCapacity::Partial
    )
}

fn is_active(e: &employment::Model, as_of: NaiveDate) -> bool {
    e.started_on <= as_of && e.ended_on.is_none_or(|end| end >= as_of)
}

fn day_after(d: NaiveDate) -> NaiveDate {
    d.succ_opt().unwrap_or(d)
}

/// Why `household` (with its members and their employments) is on `kind`'s list on `as_of`.
pub fn explain(
    kind: WatchKind,
    as_of: NaiveDate,
    settings: WatchSettings,
    household: &household::Model,
    members: &[(&member::Model, Vec<&employment::Model>)],
) -> WatchEntry {
    let laborers: Vec<&(&member::Model, Vec<&employment::Model>)> =
        members.iter().filter(|(m, _)| is_laborer(m)).collect();
    let (reasons, since) = match kind {
        WatchKind::ZeroEmployment => {
            let last_end = laborers
                .iter()
                .flat_map(|(_, jobs)| jobs.iter())
                .filter_map(|e| e.ended_on.filter(|end| *end < as_of))
                .max();
            let mut reasons = vec![format!(
                "{} laborer(s), none employed on {as_of}",
                laborers.len()
            )];
            match last_end {
                Some(end) => reasons.push(format!("the last laborer's employment ended on {end}")),
                None => reasons.push("no laborer has held an employment by then".into()),
            }
            (reasons, last_end.map(day_after).or(household.moved_in_on))
        }
        WatchKind::LowIncome => {
            let active: Vec<&employment::Model> = members
                .iter()
                .flat_map(|(_, jobs)| jobs.iter().copied())
                .filter(|e| is_active(e, as_of))
                .collect();
            let monthly: i64 = active
                .iter()
                .map(|e| i64::from(e.monthly_income_yuan.unwrap_or(0)))
                .sum();
            let persons = i64::from(household.persons.max(1));
            let mut reasons = vec![format!(
                "{} yuan a year per person ({} active employment(s), {monthly} yuan a month, {} person(s)), below the line of {} yuan",
                monthly * 12 / persons,
                active.len(),
                household.persons,
                settings.low_income_line_yuan
            )];
            let unrecorded = active
                .iter()
                .filter(|e| e.monthly_income_yuan.is_none())
                .count();
            if unrecorded > 0 {
                reasons.push(format!(
                    "{unrecorded} active employment(s) without a recorded income"
                ));
            }
            // Since the household's employments last changed: a start, or the day after an end.
            let since = members
                .iter()
                .flat_map(|(_, jobs)| jobs.iter())
                .flat_map(|e| {
                    [
                        Some(e.started_on),
                        e.ended_on.filter(|end| *end < as_of).map(day_after),
                    ]
                })
                .flatten()
                .filter(|d| *d <= as_of)
                .max()
                .or(household.moved_in_on);
            (reasons, since)
        }
        WatchKind::Relapsed => {
            let mut reasons = Vec::new();
            if let Some(exit) = household.poverty_exit_on {
                reasons.push(format!("exited poverty on {exit}"));
            }
            if let Some(relapsed) = household.relapsed_on {
                reasons.push(format!("fell back into poverty on {relapsed}"));
            }
            (reasons, household.relapsed_on)
        }
        WatchKind::JobLost => {
            let from = lost_from(as_of);
            let mut reasons = Vec::new();
            let mut since: Option<NaiveDate> = None;
            for (_, jobs) in &laborers {
                if jobs.iter().any(|e| is_active(e, as_of)) {
                    continue;
                }
                let ended = jobs
                    .iter()
                    .filter_map(|e| e.ended_on.map(|end| (end, e)))
                    .filter(|(end, _)| *end >= from && *end <= as_of)
                    .max_by_key(|(end, _)| *end);
                if let Some((end, e)) = ended {
                    reasons.push(format!(
                        "a laborer's {} employment ended on {end}; none active on {as_of}",
                        e.path.code()
                    ));
                    let first_day = day_after(end);
                    since = Some(since.map_or(first_day, |s| s.min(first_day)));
                }
            }
            (reasons, since)
        }
    };
    WatchEntry {
        household: household.clone(),
        kind,
        reasons,
        since,
    }
}

/// Whether `scope` may read `target`'s lists and the target exists: an area of the caller's
/// subtree (not for a site manager), or a site it sees. For callers without a request's batched
/// reads (downloads); the same rule as [`ensure_readable`].
pub async fn readable(
    db: &DatabaseConnection,
    scope: &Scope,
    target: &Target,
) -> std::result::Result<bool, DbErr> {
    use entity::{area, site};
    Ok(match target {
        Target::Area(code) => {
            scope.site_only().is_none()
                && area::Entity::find()
                    .filter(area::Column::Code.eq(code.clone()))
                    .filter(scope.areas_below())
                    .one(db)
                    .await?
                    .is_some()
        }
        Target::Site(code) => site::Entity::find()
            .filter(site::Column::Code.eq(code.clone()))
            .filter(scope.sites())
            .one(db)
            .await?
            .is_some(),
    })
}
