//! A data set read into typed rows, with every rule that concerns one row alone checked on the
//! way (formats, codes, ranges, date order within the row, ID checksums).
//!
//! A cell that breaks a rule is reported and read as `None` (or a neutral default for cells no
//! other rule looks at), so that later rules still run on the rest; nothing is written while
//! any breach stands, so those placeholders never reach the database.

use super::parse::{
    boolean, code_digits, coded, date, division_code, homestead_area, latitude, longitude, whole,
};
use super::reader::{self, Row};
use super::report::Breaches;
use super::{table, ImportError};
use crate::domain::rules;
use chrono::NaiveDate;
use entity::enums::{
    AreaLevel, EmploymentLocation, EmploymentPath, Gender, LaborCapacity, Placement, ReclaimedUse,
    Relation, SiteSetting, WorkCategory,
};
use std::collections::HashMap;
use std::path::Path;

#[derive(Debug)]
pub(crate) struct AreaRow {
    pub line: u64,
    pub code: String,
    pub name: String,
    pub level: Option<AreaLevel>,
    pub parent_code: Option<String>,
    pub poverty_village: bool,
    pub whole_village_relocation: bool,
}

#[derive(Debug)]
pub(crate) struct SiteRow {
    pub line: u64,
    pub code: String,
    pub name: String,
    pub township_code: String,
    pub placement: Option<Placement>,
    pub setting: Option<SiteSetting>,
    pub planned_households: i32,
    pub planned_persons: i32,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub construction_started_on: Option<NaiveDate>,
}

#[derive(Debug)]
pub(crate) struct WorkRow {
    pub line: u64,
    pub site_code: String,
    pub code: String,
    pub category: Option<WorkCategory>,
    pub name: String,
    pub completed_on: Option<NaiveDate>,
}

#[derive(Debug)]
pub(crate) struct HouseholdRow {
    pub line: u64,
    pub code: String,
    pub head_name: String,
    pub head_id_number: String,
    pub phone: Option<String>,
    pub origin_village_code: String,
    pub site_code: String,
    pub persons: Option<i32>,
    pub registered_poor: bool,
    pub moved_in_on: Option<NaiveDate>,
    pub poverty_exit_on: Option<NaiveDate>,
    pub relapsed_on: Option<NaiveDate>,
}

#[derive(Debug)]
pub(crate) struct MemberRow {
    pub line: u64,
    pub household_code: String,
    pub id_number: String,
    pub name: String,
    pub relation: Option<Relation>,
    pub birth_date: Option<NaiveDate>,
    pub gender: Option<Gender>,
    pub labor_capacity: Option<LaborCapacity>,
}

#[derive(Debug)]
pub(crate) struct EmploymentRow {
    pub line: u64,
    pub member_id_number: String,
    pub path: Option<EmploymentPath>,
    pub employer: String,
    pub location: Option<EmploymentLocation>,
    pub started_on: Option<NaiveDate>,
    pub ended_on: Option<NaiveDate>,
    pub monthly_income_yuan: Option<i32>,
}

impl EmploymentRow {
    /// The natural key (member, path, employer, start date), when every part of it was read.
    pub fn key(&self) -> Option<EmploymentKey> {
        Some((
            self.member_id_number.clone(),
            self.path?,
            self.employer.clone(),
            self.started_on?,
        ))
    }
}

/// An employment's natural key.
pub(crate) type EmploymentKey = (String, EmploymentPath, String, NaiveDate);

#[derive(Debug)]
pub(crate) struct HomesteadRow {
    pub line: u64,
    pub household_code: String,
    pub village_code: String,
    /// Numbers the household's homesteads in one village, in data-set order, from 1.
    pub seq: i32,
    pub area_mu: f64,
    pub exempt: bool,
    pub demolished_on: Option<NaiveDate>,
    pub reclaimed_on: Option<NaiveDate>,
    pub reclaimed_use: Option<ReclaimedUse>,
}

/// A homestead's natural key.
pub(crate) type HomesteadKey = (String, String, i32);

impl HomesteadRow {
    pub fn key(&self) -> HomesteadKey {
        (
            self.household_code.clone(),
            self.village_code.clone(),
            self.seq,
        )
    }
}

/// Every row of a data set, in file order.
#[derive(Debug, Default)]
pub(crate) struct DataSet {
    pub areas: Vec<AreaRow>,
    pub sites: Vec<SiteRow>,
    pub works: Vec<WorkRow>,
    pub households: Vec<HouseholdRow>,
    pub members: Vec<MemberRow>,
    pub employments: Vec<EmploymentRow>,
    pub homesteads: Vec<HomesteadRow>,
}

/// Reads the seven files in `dir`. `None` when a header is wrong (the header breaches are
/// recorded); otherwise every row, with the breaches of single rows recorded.
pub(crate) fn read(dir: &Path, breaches: &mut Breaches) -> Result<Option<DataSet>, ImportError> {
    let mut sources = Vec::with_capacity(table::ALL.len());
    for t in table::ALL {
        sources.push(reader::open(dir, t, breaches)?);
    }
    let Some(sources) = sources.into_iter().collect::<Option<Vec<_>>>() else {
        return Ok(None);
    };
    let mut set = DataSet::default();
    let mut seqs: HashMap<(String, String), i32> = HashMap::new();
    let today = rules::today();
    for (t, source) in table::ALL.iter().zip(sources) {
        match t.file {
            "areas.csv" => source.rows(breaches, |row| set.areas.push(area(row)))?,
            "sites.csv" => source.rows(breaches, |row| set.sites.push(site(row)))?,
            "site_works.csv" => source.rows(breaches, |row| set.works.push(work(row)))?,
            "households.csv" => source.rows(breaches, |row| set.households.push(household(row)))?,
            "members.csv" => source.rows(breaches, |row| set.members.push(member(row, today)))?,
            "employments.csv" => {
                source.rows(breaches, |row| set.employments.push(employment(row)))?
            }
            _ => source.rows(breaches, |row| {
                set.homesteads.push(homestead(row, &mut seqs))
            })?,
        }
    }
    Ok(Some(set))
}

fn area(row: &mut Row<'_>) -> AreaRow {
    let code = row.text("code");
    let code_ok = !code.is_empty() && check(row, "code", division_code(&code));
    let level = row.value("level", coded::<AreaLevel>);
    if let (true, Some(level)) = (code_ok, level) {
        let digits = code_digits(level);
        if code.len() != digits {
            row.breach(
                "code",
                format!(
                    "\"{code}\" has {} digits, but a {level} code has {digits}",
                    code.len()
                ),
            );
        }
    }
    AreaRow {
        line: row.line(),
        name: name(row, "name"),
        parent_code: row.optional_text("parent_code"),
        poverty_village: row.value("poverty_village", boolean).unwrap_or_default(),
        whole_village_relocation: row
            .value("whole_village_relocation", boolean)
            .unwrap_or_default(),
        code,
        level,
    }
}

fn site(row: &mut Row<'_>) -> SiteRow {
    SiteRow {
        line: row.line(),
        code: row.text("code"),
        name: name(row, "name"),
        township_code: row.text("township_code"),
        placement: row.value("placement", coded),
        setting: row.value("setting", coded),
        planned_households: row
            .value("planned_households", whole(0))
            .unwrap_or_default(),
        planned_persons: row.value("planned_persons", whole(0)).unwrap_or_default(),
        latitude: row.optional("latitude", latitude).flatten(),
        longitude: row.optional("longitude", longitude).flatten(),
        construction_started_on: row.optional("construction_started_on", date).flatten(),
    }
}

fn work(row: &mut Row<'_>) -> WorkRow {
    WorkRow {
        line: row.line(),
        site_code: row.text("site_code"),
        code: row.text("code"),
        category: row.value("category", coded),
        name: name(row, "name"),
        completed_on: row.optional("completed_on", date).flatten(),
    }
}

fn household(row: &mut Row<'_>) -> HouseholdRow {
    let head_id_number = row.text("head_id_number");
    if !head_id_number.is_empty() {
        check(row, "head_id_number", rules::id_number(&head_id_number));
    }
    let registered_poor = row.value("registered_poor", boolean);
    let exit = row.optional("poverty_exit_on", date);
    let relapse = row.optional("relapsed_on", date);
    for (column, reason) in rules::poverty_dates(registered_poor, exit, relapse) {
        row.breach(column, reason);
    }
    HouseholdRow {
        line: row.line(),
        code: row.text("code"),
        head_name: name(row, "head_name"),
        head_id_number,
        phone: row.optional_text("phone"),
        origin_village_code: row.text("origin_village_code"),
        site_code: row.text("site_code"),
        persons: row.value("persons", whole(1)),
        registered_poor: registered_poor.unwrap_or_default(),
        moved_in_on: row.optional("moved_in_on", date).flatten(),
        poverty_exit_on: exit.flatten(),
        relapsed_on: relapse.flatten(),
    }
}

fn member(row: &mut Row<'_>, today: NaiveDate) -> MemberRow {
    let household_code = row.text("household_code");
    let id_number = row.text("id_number");
    let id = if id_number.is_empty() {
        None
    } else {
        ok(row, "id_number", rules::id_number(&id_number))
    };
    let birth_date = row.value("birth_date", date);
    if let Some(born) = birth_date {
        check(row, "birth_date", rules::born_by(born, today));
    }
    if let (Some(id), Some(born)) = (id, birth_date) {
        check(row, "birth_date", rules::birth_date(&id, born));
    }
    MemberRow {
        line: row.line(),
        household_code,
        id_number,
        name: name(row, "name"),
        relation: row.value("relation", coded),
        birth_date,
        gender: row.value("gender", coded),
        labor_capacity: row.value("labor_capacity", coded),
    }
}

fn employment(row: &mut Row<'_>) -> EmploymentRow {
    let started_on = row.value("started_on", date);
    let ended_on = row.optional("ended_on", date).flatten();
    if let Some(started) = started_on {
        check(row, "ended_on", rules::employment_dates(started, ended_on));
    }
    EmploymentRow {
        line: row.line(),
        member_id_number: row.text("member_id_number"),
        path: row.value("path", coded),
        employer: name(row, "employer"),
        location: row.value("location", coded),
        started_on,
        ended_on,
        monthly_income_yuan: row.optional("monthly_income_yuan", whole(0)).flatten(),
    }
}

fn homestead(row: &mut Row<'_>, seqs: &mut HashMap<(String, String), i32>) -> HomesteadRow {
    let household_code = row.text("household_code");
    let village_code = row.text("village_code");
    let exempt = row.value("exempt", boolean);
    let demolished = row.optional("demolished_on", date);
    let reclaimed = row.optional("reclaimed_on", date);
    let reclaimed_use = row.optional("reclaimed_use", coded::<ReclaimedUse>);
    for (column, reason) in rules::homestead_state(exempt, demolished, reclaimed, reclaimed_use) {
        row.breach(column, reason);
    }
    let seq = seqs
        .entry((household_code.clone(), village_code.clone()))
        .or_insert(0);
    *seq += 1;
    HomesteadRow {
        line: row.line(),
        seq: *seq,
        household_code,
        village_code,
        area_mu: row.value("area_mu", homestead_area).unwrap_or(1.0),
        exempt: exempt.unwrap_or_default(),
        demolished_on: demolished.flatten(),
        reclaimed_on: reclaimed.flatten(),
        reclaimed_use: reclaimed_use.flatten(),
    }
}

/// A required name cell (see [`rules::name`]), as written; an empty or unfit one is reported.
fn name(row: &mut Row<'_>, column: &str) -> String {
    let value = row.text(column);
    if !value.is_empty() {
        check(row, column, rules::name(&value));
    }
    value
}

/// Records `result`'s breach, if any; whether the cell is fine.
fn check<T>(row: &mut Row<'_>, column: &str, result: Result<T, String>) -> bool {
    ok(row, column, result).is_some()
}

/// `result`'s value, or `None` with its breach recorded.
fn ok<T>(row: &mut Row<'_>, column: &str, result: Result<T, String>) -> Option<T> {
    result.map_err(|reason| row.breach(column, reason)).ok()
}
