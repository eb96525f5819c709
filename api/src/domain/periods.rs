//! Reporting periods and monthly bulletins (逐月通报, CONTRACT §6).
//!
//! Every month each township submits its figures, the county approves them, and the county's
//! own month is approved once all its townships' are (DHIS2's data approval, bottom-up). An
//! approval publishes a bulletin: the indicators of the area and of each child at the month's
//! last day, frozen as a new vintage that later corrections never touch.
//!
//! # The lock rule
//!
//! While the month M of area A is approved, a write is refused when it changes any indicator of
//! A as of any day of M, unless an admin's lock exception for A and M is still in force. The
//! rule is decided on the indicator rollups (`indicator_deltas`, see
//! [`super::indicators::rollup`]), which hold every indicator of every area as dated changes
//! (a count moves by `n` on a date, a denominator on a date before all dates): a write changes
//! indicator I of A as of day d exactly when the running sum, up to d, of the changes it makes to
//! A's rows of I is not zero. [`violations`] checks that for every day of every locked month.
//! So the rule follows the indicator definitions themselves, whatever the write: a move-in dated
//! in M or before it (it counts from then on), a homestead demolished or reclaimed by then, an
//! employment whose days overlap M differently (and only when the laborer's employed days
//! change: a second job on days already worked changes nothing), a work completed, a household
//! added, removed, moved to another site or given other `persons` (denominators have no date:
//! they change as of every day), a member's labour capacity. Both the record's old and new
//! positions count, since the rollups of both change, and every ancestor of them, since an
//! area's rows cover its subtree. A change that nets out within A (a household moving between
//! two sites of one township, its dates unchanged) leaves A's indicators alone and is allowed.
//!
//! Mutations compute the rollup change before applying it ([`super::indicators::rollup::pending`])
//! and are refused with `PERIOD_LOCKED`; an import compares the locked areas' rollups before and
//! after it and names each row of the data set that makes a locked change.

use super::indicators::{self, rollup, IndicatorValues, Ratio, Target};
use super::scope::Scope;
use crate::db::stmt;
use chrono::{Datelike, Months, NaiveDate};
use entity::enums::AreaLevel;
use sea_orm::{ConnectionTrait, DbErr, Value};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A calendar month, written `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Month {
    first: NaiveDate,
}

impl TryFrom<String> for Month {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Month::parse(&text)
    }
}

impl From<Month> for String {
    fn from(m: Month) -> String {
        m.to_string()
    }
}

impl Month {
    /// Parses `YYYY-MM` (years 1900 to 2999); the error says what is wrong.
    pub fn parse(text: &str) -> Result<Month, String> {
        let bad = || format!("\"{text}\" is not a month: write it as YYYY-MM, e.g. 2019-06");
        let (y, m) = text.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 || !(y.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u32 = m.parse().map_err(|_| bad())?;
        if !(1900..=2999).contains(&year) {
            return Err(format!(
                "\"{text}\": the year must lie between 1900 and 2999"
            ));
        }
        NaiveDate::from_ymd_opt(year, month, 1)
            .map(|first| Month { first })
            .ok_or_else(|| format!("\"{text}\": the month must lie between 01 and 12"))
    }

    /// The month's first day.
    pub fn first_day(self) -> NaiveDate {
        self.first
    }

    /// The month's last day: the date its bulletin is computed for.
    pub fn last_day(self) -> NaiveDate {
        self.first
            .checked_add_months(Months::new(1))
            .and_then(|d| d.pred_opt())
            .unwrap_or(self.first)
    }

    /// The month before.
    pub fn previous(self) -> Month {
        Month {
            first: self
                .first
                .checked_sub_months(Months::new(1))
                .unwrap_or(self.first),
        }
    }

    /// Whether `day` lies in the month.
    pub fn contains(self, day: NaiveDate) -> bool {
        day.year() == self.first.year() && day.month() == self.first.month()
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.first.year(), self.first.month())
    }
}

/// Where an area's month stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeriodState {
    /// Not submitted (or returned): figures may change.
    Open,
    /// A township's figures sent up for approval.
    Submitted,
    /// Approved: the figures as of every day of the month are locked.
    Approved,
}

impl PeriodState {
    fn code(self) -> &'static str {
        match self {
            PeriodState::Open => "open",
            PeriodState::Submitted => "submitted",
            PeriodState::Approved => "approved",
        }
    }

    fn from_code(code: &str) -> Result<Self, DbErr> {
        match code {
            "submitted" => Ok(PeriodState::Submitted),
            "approved" => Ok(PeriodState::Approved),
            "open" => Ok(PeriodState::Open),
            other => Err(DbErr::Type(format!("unknown period state \"{other}\""))),
        }
    }

    /// The state as the schema spells it.
    pub fn name(self) -> &'static str {
        match self {
            PeriodState::Open => "OPEN",
            PeriodState::Submitted => "SUBMITTED",
            PeriodState::Approved => "APPROVED",
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The states of `month` for each of `areas` (open when there is no row).
pub async fn states<C: ConnectionTrait>(
    db: &C,
    areas: &[String],
    month: Month,
) -> Result<BTreeMap<String, PeriodState>, DbErr> {
    let mut out: BTreeMap<String, PeriodState> = areas
        .iter()
        .map(|a| (a.clone(), PeriodState::Open))
        .collect();
    if areas.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT area_code, state FROM reporting_periods WHERE month = $1 AND area_code IN ({})",
        (2..2 + areas.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let values = std::iter::once(Value::from(month.to_string()))
        .chain(areas.iter().map(|a| Value::from(a.as_str())));
    for row in db
        .query_all_raw(stmt(db.get_database_backend(), &sql, values))
        .await?
    {
        let area: String = row.try_get("", "area_code")?;
        let state: String = row.try_get("", "state")?;
        out.insert(area, PeriodState::from_code(&state)?);
    }
    Ok(out)
}

/// The state of one area's month.
pub async fn state<C: ConnectionTrait>(
    db: &C,
    area: &str,
    month: Month,
) -> Result<PeriodState, DbErr> {
    Ok(states(db, &[area.to_owned()], month)
        .await?
        .remove(area)
        .unwrap_or(PeriodState::Open))
}

/// Sets one area's month to `state` (open removes the row), for `actor`, in the caller's
/// transaction.
pub async fn set_state<C: ConnectionTrait>(
    db: &C,
    area: &str,
    month: Month,
    to: PeriodState,
    actor: &str,
) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    db.execute_raw(stmt(
        backend,
        "DELETE FROM reporting_periods WHERE area_code = $1 AND month = $2",
        [Value::from(area), Value::from(month.to_string())],
    ))
    .await?;
    if to != PeriodState::Open {
        db.execute_raw(stmt(
            backend,
            "INSERT INTO reporting_periods (area_code, month, state, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5)",
            [
                Value::from(area),
                Value::from(month.to_string()),
                Value::from(to.code()),
                Value::from(now_ms()),
                Value::from(actor),
            ],
        ))
        .await?;
    }
    Ok(())
}

/// Which areas' months a reporting area's approval waits for: its children that report
/// themselves (townships and above; villages do not report).
pub fn reports(level: AreaLevel) -> bool {
    level != AreaLevel::Village
}

/// Whether areas of `level` submit their months (townships) rather than approve them
/// directly (counties and above).
pub fn submits(level: AreaLevel) -> bool {
    level == AreaLevel::Township
}

/// How the caller stands to an area it sees: its own area, or one below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Own,
    Below,
}

/// Why a step of the workflow is not open to a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The caller's role or area does not take this step.
    Forbidden(String),
    /// The area does not take part in it (a village; a county does not submit).
    NotApplicable(String),
    /// The month is not in the state the step starts from.
    Conflict(String),
}

/// What one caller may do with one area's month, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rights {
    pub may_submit: Result<(), Refusal>,
    pub may_approve: Result<(), Refusal>,
    pub may_unapprove: Result<(), Refusal>,
}

/// What decides the workflow for one area's month.
#[derive(Debug, Clone)]
pub struct Situation {
    pub area: String,
    pub level: AreaLevel,
    pub month: Month,
    pub state: PeriodState,
    /// The parent's state of the same month (none for the root).
    pub parent: Option<(String, PeriodState)>,
    /// Reporting children whose month is not approved yet.
    pub children_pending: Vec<String>,
}

/// Reads the [`Situation`] of `area`'s `month` (an area that exists).
pub async fn situation<C: ConnectionTrait>(
    db: &C,
    area: &entity::area::Model,
    month: Month,
) -> Result<Situation, DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let children: Vec<entity::area::Model> = entity::area::Entity::find()
        .filter(entity::area::Column::ParentCode.eq(area.code.clone()))
        .all(db)
        .await?;
    let reporting: Vec<String> = children
        .into_iter()
        .filter(|c| reports(c.level))
        .map(|c| c.code)
        .collect();
    let mut wanted = reporting.clone();
    wanted.push(area.code.clone());
    wanted.extend(area.parent_code.iter().cloned());
    let states = states(db, &wanted, month).await?;
    let of = |code: &str| states.get(code).copied().unwrap_or(PeriodState::Open);
    Ok(Situation {
        area: area.code.clone(),
        level: area.level,
        month,
        state: of(&area.code),
        parent: area.parent_code.as_ref().map(|p| (p.clone(), of(p))),
        children_pending: reporting
            .into_iter()
            .filter(|c| of(c) != PeriodState::Approved)
            .collect(),
    })
}

/// The roles that take part in the workflow (by name): admins and officers.
pub fn reporting_role(role: &str) -> bool {
    matches!(role, "admin" | "officer")
}

impl Situation {
    /// What a caller of `role` standing as `standing` to the area may do (see the module
    /// documentation): a township's officer submits its own month; an officer or admin above
    /// it approves and unapproves it; a county's (or higher) month is approved and unapproved by
    /// its own officers or admins, or those above, once every reporting child's is approved; a
    /// month is unapproved only while the parent's month is not approved.
    pub fn rights(&self, role: &str, standing: Standing) -> Rights {
        let month = self.month;
        let area = &self.area;
        let role_ok = || -> Result<(), Refusal> {
            if reporting_role(role) {
                Ok(())
            } else {
                Err(Refusal::Forbidden(format!(
                    "the role `{role}` takes no part in reporting periods"
                )))
            }
        };
        let may_submit = role_ok().and_then(|()| {
            if !submits(self.level) {
                return Err(Refusal::NotApplicable(format!(
                    "area \"{area}\" is a {}: only townships submit their months",
                    self.level
                )));
            }
            if standing != Standing::Own {
                return Err(Refusal::Forbidden(format!(
                    "only the officers of township \"{area}\" submit its months"
                )));
            }
            match self.state {
                PeriodState::Open => Ok(()),
                other => Err(Refusal::Conflict(format!(
                    "{month} of \"{area}\" is {}: only an OPEN month is submitted",
                    other.name()
                ))),
            }
        });
        let approver = || -> Result<(), Refusal> {
            role_ok()?;
            if !reports(self.level) {
                return Err(Refusal::NotApplicable(format!(
                    "area \"{area}\" is a village: villages have no reporting periods"
                )));
            }
            if submits(self.level) && standing == Standing::Own {
                return Err(Refusal::Forbidden(format!(
                    "the months of township \"{area}\" are approved by the level above it"
                )));
            }
            Ok(())
        };
        let may_approve = approver().and_then(|()| {
            let wanted = if submits(self.level) {
                PeriodState::Submitted
            } else {
                PeriodState::Open
            };
            if self.state != wanted {
                return Err(Refusal::Conflict(format!(
                    "{month} of \"{area}\" is {}: only a {} month is approved",
                    self.state.name(),
                    wanted.name()
                )));
            }
            if !self.children_pending.is_empty() {
                return Err(Refusal::Conflict(format!(
                    "{month} of \"{area}\" is approved only when all its areas' are: not yet \
                     approved: {}",
                    self.children_pending.join(", ")
                )));
            }
            Ok(())
        });
        let may_unapprove = approver().and_then(|()| {
            if self.state == PeriodState::Open {
                return Err(Refusal::Conflict(format!(
                    "{month} of \"{area}\" is OPEN: there is nothing to unapprove"
                )));
            }
            if let Some((parent, PeriodState::Approved)) = &self.parent {
                return Err(Refusal::Conflict(format!(
                    "{month} of \"{parent}\", the level above, is APPROVED: it must be \
                     unapproved first"
                )));
            }
            Ok(())
        });
        Rights {
            may_submit,
            may_approve,
            may_unapprove,
        }
    }

    /// The state an unapproval returns the month to: a township's approved month goes back to
    /// SUBMITTED (for its approver to approve again, or return), a submitted one back to OPEN;
    /// a higher level's to OPEN.
    pub fn unapproved(&self) -> PeriodState {
        if submits(self.level) && self.state == PeriodState::Approved {
            PeriodState::Submitted
        } else {
            PeriodState::Open
        }
    }
}

/// What a bulletin froze: the area's indicators and each child's, at the month's last day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reported {
    pub area: IndicatorValues,
    /// By child area code, in code order.
    pub children: Vec<(String, IndicatorValues)>,
}

/// One published bulletin.
#[derive(Debug, Clone, PartialEq)]
pub struct Bulletin {
    pub area: String,
    pub month: Month,
    pub vintage: i32,
    pub as_of: NaiveDate,
    pub approved_at_ms: i64,
    pub approved_by: String,
    pub reported: Reported,
}

/// Computes what an approval of `area`'s `month` reports, from the rollups in the caller's
/// transaction.
pub async fn compute_reported<C: ConnectionTrait>(
    db: &C,
    area: &str,
    month: Month,
) -> Result<Reported, DbErr> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
    let as_of = month.last_day();
    let children: Vec<String> = entity::area::Entity::find()
        .select_only()
        .column(entity::area::Column::Code)
        .filter(entity::area::Column::ParentCode.eq(area.to_owned()))
        .order_by_asc(entity::area::Column::Code)
        .into_tuple()
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(children.len());
    for child in children {
        let values = indicators::compute(db, &Target::Area(child.clone()), as_of).await?;
        out.push((child, values));
    }
    Ok(Reported {
        area: indicators::compute(db, &Target::Area(area.to_owned()), as_of).await?,
        children: out,
    })
}

/// Appends a new vintage of `area`'s `month` (the next number), in the caller's transaction.
pub async fn publish<C: ConnectionTrait>(
    db: &C,
    area: &str,
    month: Month,
    reported: &Reported,
    actor: &str,
) -> Result<i32, DbErr> {
    let backend = db.get_database_backend();
    let last = db
        .query_one_raw(stmt(
            backend,
            "SELECT CAST(MAX(vintage) AS BIGINT) AS v FROM bulletins \
             WHERE area_code = $1 AND month = $2",
            [Value::from(area), Value::from(month.to_string())],
        ))
        .await?
        .map(|r| r.try_get::<Option<i64>>("", "v"))
        .transpose()?
        .flatten()
        .unwrap_or(0);
    let vintage = i32::try_from(last + 1)
        .map_err(|_| DbErr::Custom("too many vintages of one bulletin".into()))?;
    let text = serde_json::to_string(reported)
        .map_err(|e| DbErr::Custom(format!("bulletin not serializable: {e}")))?;
    db.execute_raw(stmt(
        backend,
        "INSERT INTO bulletins (area_code, month, vintage, as_of, approved_at, approved_by, \
         reported) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [
            Value::from(area),
            Value::from(month.to_string()),
            Value::from(vintage),
            Value::from(month.last_day()),
            Value::from(now_ms()),
            Value::from(actor),
            Value::from(text),
        ],
    ))
    .await?;
    Ok(vintage)
}

/// The bulletin of `area`'s `month`: vintage `vintage`, or the latest. The caller has checked
/// that it may see the area.
pub async fn bulletin<C: ConnectionTrait>(
    db: &C,
    area: &str,
    month: Month,
    vintage: Option<i32>,
) -> Result<Option<Bulletin>, DbErr> {
    let backend = db.get_database_backend();
    let (sql, values) = match vintage {
        Some(v) => (
            "SELECT area_code, vintage, as_of, approved_at, approved_by, reported FROM bulletins \
             WHERE area_code = $1 AND month = $2 AND vintage = $3",
            vec![
                Value::from(area),
                Value::from(month.to_string()),
                Value::from(v),
            ],
        ),
        None => (
            "SELECT area_code, vintage, as_of, approved_at, approved_by, reported FROM bulletins \
             WHERE area_code = $1 AND month = $2 ORDER BY vintage DESC LIMIT 1",
            vec![Value::from(area), Value::from(month.to_string())],
        ),
    };
    let Some(row) = db.query_one_raw(stmt(backend, sql, values)).await? else {
        return Ok(None);
    };
    let text: String = row.try_get("", "reported")?;
    let reported: Reported = serde_json::from_str(&text)
        .map_err(|e| DbErr::Custom(format!("stored bulletin unreadable: {e}")))?;
    Ok(Some(Bulletin {
        area: row.try_get("", "area_code")?,
        month,
        vintage: row.try_get("", "vintage")?,
        as_of: row.try_get("", "as_of")?,
        approved_at_ms: row.try_get("", "approved_at")?,
        approved_by: row.try_get("", "approved_by")?,
        reported,
    }))
}

/// The area `code` if `scope` sees it and everything below it (the areas whose periods and
/// bulletins a caller may read), else `None`, exactly as for an unknown code.
pub async fn visible_area<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    code: &str,
) -> Result<Option<entity::area::Model>, DbErr> {
    use sea_orm::{EntityTrait, QueryFilter};
    if scope.site_only().is_some() {
        return Ok(None);
    }
    entity::area::Entity::find_by_id(code.to_owned())
        .filter(scope.areas_below())
        .one(db)
        .await
}

/// The [`Situation`] of `code`'s `month`, if `scope` sees the area.
pub async fn read_period<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    code: &str,
    month: Month,
) -> Result<Option<(entity::area::Model, Situation)>, DbErr> {
    let Some(area) = visible_area(db, scope, code).await? else {
        return Ok(None);
    };
    let situation = situation(db, &area, month).await?;
    Ok(Some((area, situation)))
}

/// A bulletin as a caller reads it, with the previous month's latest one (for rankings).
#[derive(Debug, Clone)]
pub struct BulletinRead {
    pub bulletin: Bulletin,
    pub previous: Option<Bulletin>,
}

/// The bulletin of `code`'s `month` (vintage `vintage`, or the latest), if `scope` sees the
/// area and one was published.
pub async fn read_bulletin<C: ConnectionTrait>(
    db: &C,
    scope: &Scope,
    code: &str,
    month: Month,
    vintage: Option<i32>,
) -> Result<Option<BulletinRead>, DbErr> {
    if visible_area(db, scope, code).await?.is_none() {
        return Ok(None);
    }
    let Some(found) = bulletin(db, code, month, vintage).await? else {
        return Ok(None);
    };
    let previous = bulletin(db, code, month.previous(), None).await?;
    Ok(Some(BulletinRead {
        bulletin: found,
        previous,
    }))
}

/// Whether two indicator sets hold the same figures (areas in mu compared to a billionth).
pub fn same_figures(a: &IndicatorValues, b: &IndicatorValues) -> bool {
    let mut a = a.clone();
    let mu = (a.reclaimed_area_mu - b.reclaimed_area_mu).abs() < 1e-9;
    a.reclaimed_area_mu = b.reclaimed_area_mu;
    mu && a == *b
}

/// The nine ranked indicators of CONTRACT §6, with their official names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Indicator {
    ConstructionCompletion,
    WorksCompletion,
    Occupancy,
    OccupancyPersons,
    StablePovertyExit,
    Employment,
    HouseholdEmployment,
    Demolition,
    Reclamation,
}

impl Indicator {
    /// Every ranked indicator, in the contract's order.
    pub const ALL: [Indicator; 9] = [
        Indicator::ConstructionCompletion,
        Indicator::WorksCompletion,
        Indicator::Occupancy,
        Indicator::OccupancyPersons,
        Indicator::StablePovertyExit,
        Indicator::Employment,
        Indicator::HouseholdEmployment,
        Indicator::Demolition,
        Indicator::Reclamation,
    ];

    /// The indicator's ratio in a set.
    pub fn ratio(self, v: &IndicatorValues) -> Ratio {
        match self {
            Indicator::ConstructionCompletion => v.construction_completion,
            Indicator::WorksCompletion => v.works_completion,
            Indicator::Occupancy => v.occupancy,
            Indicator::OccupancyPersons => v.occupancy_persons,
            Indicator::StablePovertyExit => v.stable_poverty_exit,
            Indicator::Employment => v.employment,
            Indicator::HouseholdEmployment => v.household_employment,
            Indicator::Demolition => v.demolition,
            Indicator::Reclamation => v.reclamation,
        }
    }

    /// The official Chinese name (CONTRACT §2).
    pub fn official_name(self) -> &'static str {
        match self {
            Indicator::ConstructionCompletion => "工程竣工率",
            Indicator::WorksCompletion => "配套工程完成率",
            Indicator::Occupancy => "搬迁入住率 (户)",
            Indicator::OccupancyPersons => "搬迁入住率 (人)",
            Indicator::StablePovertyExit => "稳定脱贫率",
            Indicator::Employment => "劳动力就业率",
            Indicator::HouseholdEmployment => "有劳动力家庭就业覆盖率 (一户一人)",
            Indicator::Demolition => "旧房拆除率",
            Indicator::Reclamation => "拆除复垦率",
        }
    }

    /// The schema's name (`OCCUPANCY`).
    pub fn name(self) -> &'static str {
        match self {
            Indicator::ConstructionCompletion => "CONSTRUCTION_COMPLETION",
            Indicator::WorksCompletion => "WORKS_COMPLETION",
            Indicator::Occupancy => "OCCUPANCY",
            Indicator::OccupancyPersons => "OCCUPANCY_PERSONS",
            Indicator::StablePovertyExit => "STABLE_POVERTY_EXIT",
            Indicator::Employment => "EMPLOYMENT",
            Indicator::HouseholdEmployment => "HOUSEHOLD_EMPLOYMENT",
            Indicator::Demolition => "DEMOLITION",
            Indicator::Reclamation => "RECLAMATION",
        }
    }
}

/// One child's place in a ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct RankEntry {
    /// 1 for the best; children with equal rates share a rank (1, 1, 3, …).
    pub rank: i32,
    pub area: String,
    pub ratio: Ratio,
    /// The child's rate in the previous month's latest bulletin of the same area; none when
    /// there is no such bulletin, the child was not in it, or its denominator was 0.
    pub previous_rate: Option<f64>,
}

/// The children of a bulletin by reported rate of `indicator`, best first: rates from high to
/// low, then children without a rate (denominator 0); equal rates by area code.
pub fn ranking(
    reported: &Reported,
    previous: Option<&Reported>,
    indicator: Indicator,
) -> Vec<RankEntry> {
    let mut rows: Vec<(String, Ratio)> = reported
        .children
        .iter()
        .map(|(code, v)| (code.clone(), indicator.ratio(v)))
        .collect();
    let order = |r: &Ratio| r.rate().map_or(f64::NEG_INFINITY, |x| x);
    rows.sort_by(|a, b| {
        order(&b.1)
            .total_cmp(&order(&a.1))
            .then_with(|| a.0.cmp(&b.0))
    });
    let mut out: Vec<RankEntry> = Vec::with_capacity(rows.len());
    for (i, (area, ratio)) in rows.into_iter().enumerate() {
        let rank = match out.last() {
            Some(last) if last.ratio.rate() == ratio.rate() => last.rank,
            _ => i32::try_from(i + 1).unwrap_or(i32::MAX),
        };
        let previous_rate = previous
            .and_then(|p| p.children.iter().find(|(c, _)| *c == area))
            .and_then(|(_, v)| indicator.ratio(v).rate());
        out.push(RankEntry {
            rank,
            area,
            ratio,
            previous_rate,
        });
    }
    out
}

/// An approved month of an area that a change would alter.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub area: String,
    pub month: Month,
    /// The first day of the month whose figures would change.
    pub day: NaiveDate,
    /// The rollup metric that would change (see [`indicator_of_metric`]).
    pub metric: String,
}

impl Violation {
    /// The refusal in words.
    pub fn message(&self) -> String {
        format!(
            "{month} of area \"{area}\" is APPROVED and locked: this would change `{field}` of \
             \"{area}\" as of {day}; have the month unapproved, or ask an admin for a lock \
             exception",
            month = self.month,
            area = self.area,
            field = indicator_of_metric(&self.metric),
            day = self.day,
        )
    }
}

/// The indicator field a rollup metric feeds.
pub fn indicator_of_metric(metric: &str) -> &'static str {
    match metric {
        m if m.starts_with("construction_") => "constructionCompletion",
        m if m.starts_with("works_") => "worksCompletion",
        "households" | "households_moved_in" => "occupancy",
        "persons" | "persons_moved_in" => "occupancyPersons",
        "registered_poor" | "stably_exited" => "stablePovertyExit",
        "laborers" | "laborers_employed" => "employment",
        "laborer_households" | "laborer_households_employed" => "householdEmployment",
        m if m.starts_with("path_") => "employmentByPath",
        "homesteads" | "demolished" => "demolition",
        "reclaimed" => "reclamation",
        _ => "indicators",
    }
}

/// The approved months without a lock exception in force, of `areas` (all areas: `None`).
pub async fn locks_in_force<C: ConnectionTrait>(
    db: &C,
    areas: Option<&[String]>,
) -> Result<Vec<(String, Month)>, DbErr> {
    let backend = db.get_database_backend();
    let mut values = vec![
        Value::from(PeriodState::Approved.code()),
        Value::from(now_ms()),
    ];
    let only = match areas {
        None => String::new(),
        Some([]) => return Ok(Vec::new()),
        Some(codes) => {
            let list = (3..3 + codes.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            values.extend(codes.iter().map(|c| Value::from(c.as_str())));
            format!(" AND p.area_code IN ({list})")
        }
    };
    let sql = format!(
        "SELECT p.area_code, p.month FROM reporting_periods p WHERE p.state = $1{only} \
         AND NOT EXISTS (SELECT 1 FROM lock_exceptions e WHERE e.area_code = p.area_code \
         AND e.month = p.month AND e.expires_at > $2) ORDER BY p.area_code, p.month"
    );
    let mut out = Vec::new();
    for row in db.query_all_raw(stmt(backend, &sql, values)).await? {
        let area: String = row.try_get("", "area_code")?;
        let month: String = row.try_get("", "month")?;
        let month = Month::parse(&month).map_err(DbErr::Type)?;
        out.push((area, month));
    }
    Ok(out)
}

/// A change to one metric on one date: count and amount.
type Dated = (NaiveDate, i64, f64);

/// The locked months that `changes` (area, metric, date, count, amount) would alter: for each
/// locked month of an area and each metric, whether the running sum of the changes is non-zero
/// on the month's first day or after any change dated inside it (the rule of the module
/// documentation). One violation per locked month, at its first altered day.
pub fn violations<'a>(
    changes: impl IntoIterator<Item = (&'a str, &'a str, NaiveDate, i64, f64)>,
    locks: &[(String, Month)],
) -> Vec<Violation> {
    let mut by_area: BTreeMap<&str, BTreeMap<&str, Vec<Dated>>> = BTreeMap::new();
    for (area, metric, day, n, amount) in changes {
        by_area
            .entry(area)
            .or_default()
            .entry(metric)
            .or_default()
            .push((day, n, amount));
    }
    let mut out = Vec::new();
    for (area, month) in locks {
        let Some(metrics) = by_area.get(area.as_str()) else {
            continue;
        };
        let (first, last) = (month.first_day(), month.last_day());
        let mut found: Option<(NaiveDate, &str)> = None;
        for (metric, rows) in metrics {
            let mut rows = rows.clone();
            rows.sort_by_key(|r| r.0);
            let nonzero = |n: i64, amount: f64| n != 0 || amount.abs() > 1e-9;
            let (mut n, mut amount) = (0i64, 0f64);
            let mut rest = rows.iter().peekable();
            while let Some((_, dn, da)) = rest.next_if(|r| r.0 <= first) {
                n += dn;
                amount += da;
            }
            let mut hit = nonzero(n, amount).then_some(first);
            if hit.is_none() {
                for (day, dn, da) in rest.take_while(|r| r.0 <= last) {
                    n += dn;
                    amount += da;
                    if nonzero(n, amount) {
                        hit = Some(*day);
                        break;
                    }
                }
            }
            if let Some(day) = hit {
                if found.is_none_or(|(d, _)| day < d) {
                    found = Some((day, metric));
                }
            }
        }
        if let Some((day, metric)) = found {
            out.push(Violation {
                area: area.clone(),
                month: *month,
                day,
                metric: metric.to_owned(),
            });
        }
    }
    out
}

/// The locked months a write's pending rollup change would alter (checked inside the write's
/// transaction, before the change is applied).
pub async fn refused<C: ConnectionTrait>(
    db: &C,
    pending: &rollup::Pending,
) -> Result<Vec<Violation>, DbErr> {
    let areas: Vec<String> = pending
        .area_changes()
        .filter(|c| !c.is_zero())
        .map(|c| c.area.to_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if areas.is_empty() {
        return Ok(Vec::new());
    }
    let locks = locks_in_force(db, Some(&areas)).await?;
    if locks.is_empty() {
        return Ok(Vec::new());
    }
    Ok(violations(
        pending
            .area_changes()
            .map(|c| (c.area, c.metric, c.on_date, c.count, c.amount))
            .collect::<Vec<_>>(),
        &locks,
    ))
}

/// Records a lock exception for `area`'s `month`, valid until `expires_at_ms`; returns its id.
pub async fn grant_exception<C: ConnectionTrait>(
    db: &C,
    area: &str,
    month: Month,
    reason: &str,
    actor: &str,
    expires_at_ms: i64,
) -> Result<i64, DbErr> {
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(stmt(
            backend,
            "INSERT INTO lock_exceptions (area_code, month, reason, granted_by, granted_at, \
             expires_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            [
                Value::from(area),
                Value::from(month.to_string()),
                Value::from(reason),
                Value::from(actor),
                Value::from(now_ms()),
                Value::from(expires_at_ms),
            ],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("the new lock exception returned no id".into()))?;
    row.try_get("", "id")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn months_parse_and_print() {
        let m = Month::parse("2020-02").unwrap();
        assert_eq!(m.to_string(), "2020-02");
        assert_eq!(m.last_day(), d(2020, 2, 29));
        assert_eq!(m.previous().to_string(), "2020-01");
        assert_eq!(
            Month::parse("2020-01").unwrap().previous().to_string(),
            "2019-12"
        );
        for bad in [
            "2020-13", "2020-6", "20-06", "2020/06", "", "2020-00", "x020-06",
        ] {
            assert!(Month::parse(bad).is_err(), "{bad}");
        }
    }

    fn lock(area: &str, month: &str) -> (String, Month) {
        (area.to_owned(), Month::parse(month).unwrap())
    }

    #[test]
    fn a_change_counts_when_its_running_sum_is_not_zero_inside_the_month() {
        let june = [lock("A", "2020-06")];
        // A move-in moved from 2020-05-10 to 2020-07-02: not counted on any day of June now.
        let moved = [
            ("A", "households_moved_in", d(2020, 5, 10), -1, 0.0),
            ("A", "households_moved_in", d(2020, 7, 2), 1, 0.0),
        ];
        let v = violations(moved, &june);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].day, d(2020, 6, 1));
        // From 2020-07-02 to 2020-08-01: June untouched.
        let later = [
            ("A", "households_moved_in", d(2020, 7, 2), -1, 0.0),
            ("A", "households_moved_in", d(2020, 8, 1), 1, 0.0),
        ];
        assert!(violations(later, &june).is_empty());
        // From 2020-06-10 to 2020-06-20: June's 10th to 19th change.
        let inside = [
            ("A", "households_moved_in", d(2020, 6, 10), -1, 0.0),
            ("A", "households_moved_in", d(2020, 6, 20), 1, 0.0),
        ];
        assert_eq!(violations(inside, &june)[0].day, d(2020, 6, 10));
        // A new denominator (dated before every day) changes every month.
        let added = [("A", "households", d(1, 1, 1), 1, 0.0)];
        assert_eq!(violations(added, &june)[0].metric, "households");
        // Another area's lock is not this one's.
        assert!(violations(added, &[lock("B", "2020-06")]).is_empty());
        // An amount alone counts too.
        let mu = [("A", "reclaimed", d(2020, 3, 1), 0, 0.25)];
        assert_eq!(violations(mu, &june).len(), 1);
    }

    #[test]
    fn rankings_put_higher_rates_first_and_share_ranks() {
        let set = |num: i64, den: i64| {
            let mut v = IndicatorValues {
                as_of: d(2020, 6, 30),
                construction_completion: Ratio::default(),
                works_completion: Ratio::default(),
                works_by_category: vec![],
                occupancy: Ratio::default(),
                occupancy_persons: Ratio::default(),
                stable_poverty_exit: Ratio::default(),
                employment: Ratio::default(),
                household_employment: Ratio::default(),
                employment_by_path: vec![],
                demolition: Ratio::default(),
                reclamation: Ratio::default(),
                reclaimed_area_mu: 0.0,
            };
            v.occupancy = Ratio::new(num, den);
            v
        };
        let reported = Reported {
            area: set(0, 0),
            children: vec![
                ("A".into(), set(1, 2)),
                ("B".into(), set(0, 0)),
                ("C".into(), set(3, 4)),
                ("D".into(), set(2, 4)),
            ],
        };
        let previous = Reported {
            area: set(0, 0),
            children: vec![("A".into(), set(1, 4))],
        };
        let r = ranking(&reported, Some(&previous), Indicator::Occupancy);
        let order: Vec<(&str, i32)> = r.iter().map(|e| (e.area.as_str(), e.rank)).collect();
        assert_eq!(order, vec![("C", 1), ("A", 2), ("D", 2), ("B", 4)]);
        assert_eq!(r[1].previous_rate, Some(0.25));
        assert_eq!(r[0].previous_rate, None);
    }
}
