//! The records as the API shows them (the fields that hold every CSV column), and the row each
//! becomes in its file: cells written by the contract's own formatting, so a row reads exactly
//! as `anju export` writes it.

use anju_contract::file::{boolean, number, text};
use anju_contract::table::{self, Table};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

/// The GraphQL fragments that ask for every field a row needs, one per kind of record (a
/// document may hold only the fragments it uses).
pub mod fragment {
    pub const AREA: &str = "fragment MirrorArea on Area { id version code name level parentCode povertyVillage wholeVillageRelocation }";
    pub const SITE: &str = "fragment MirrorSite on ResettlementSite { id version code name townshipCode placement setting plannedHouseholds plannedPersons latitude longitude constructionStartedOn }";
    pub const WORK: &str =
        "fragment MirrorWork on SiteWork { id version siteCode code category name completedOn }";
    pub const HOUSEHOLD: &str = "fragment MirrorHousehold on Household { id version code headName headIdNumber phone originVillageCode siteCode persons registeredPoor movedInOn povertyExitOn relapsedOn }";
    pub const MEMBER: &str = "fragment MirrorMember on Member { id version householdCode idNumber name relation birthDate gender laborCapacity }";
    pub const EMPLOYMENT: &str = "fragment MirrorEmployment on Employment { id version memberIdNumber path employer location startedOn endedOn monthlyIncomeYuan }";
    pub const HOMESTEAD: &str = "fragment MirrorHomestead on Homestead { id version householdCode villageCode seq areaMu exempt demolishedOn reclaimedOn reclaimedUse }";
    /// All of them.
    pub const ALL: [&str; 7] = [AREA, SITE, WORK, HOUSEHOLD, MEMBER, EMPLOYMENT, HOMESTEAD];
}

/// A kind of record, and the file its rows go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    Area,
    Site,
    SiteWork,
    Household,
    Member,
    Employment,
    Homestead,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Area,
        Kind::Site,
        Kind::SiteWork,
        Kind::Household,
        Kind::Member,
        Kind::Employment,
        Kind::Homestead,
    ];

    pub fn table(self) -> &'static Table {
        match self {
            Kind::Area => &table::AREAS,
            Kind::Site => &table::SITES,
            Kind::SiteWork => &table::SITE_WORKS,
            Kind::Household => &table::HOUSEHOLDS,
            Kind::Member => &table::MEMBERS,
            Kind::Employment => &table::EMPLOYMENTS,
            Kind::Homestead => &table::HOMESTEADS,
        }
    }
}

/// One record as a row of its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub kind: Kind,
    /// The record's version, as the API showed it.
    pub version: i32,
    /// Where the row goes in its file: the order export writes (by key; employments by member,
    /// path, employer and start; homesteads by household, village and `seq`).
    pub order: (Vec<String>, i32),
    /// The cells, in the contract's column order.
    pub cells: Vec<String>,
}

/// A record of any kind, with its global id.
pub struct Record {
    pub id: String,
    pub row: Row,
}

/// An enum cell: the API's upper-case name is the contract's lower-case code.
fn code(s: &str) -> String {
    s.to_ascii_lowercase()
}

fn opt_code(s: Option<&str>) -> String {
    s.map(code).unwrap_or_default()
}

/// A decimal read from the JSON text of the number itself, so it comes out exactly as the
/// server's `f64` (a JSON reader's best-effort float parsing may differ in the last bit).
fn decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let raw = Box::<RawValue>::deserialize(d)?;
    match raw.get() {
        "null" => Ok(None),
        text => text
            .parse()
            .map(Some)
            .map_err(|e| D::Error::custom(format!("`{text}` is not a decimal: {e}"))),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Area {
    id: String,
    version: i32,
    code: String,
    name: String,
    level: String,
    parent_code: Option<String>,
    poverty_village: bool,
    whole_village_relocation: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Site {
    id: String,
    version: i32,
    code: String,
    name: String,
    township_code: String,
    placement: String,
    setting: String,
    planned_households: i64,
    planned_persons: i64,
    #[serde(deserialize_with = "decimal")]
    latitude: Option<f64>,
    #[serde(deserialize_with = "decimal")]
    longitude: Option<f64>,
    construction_started_on: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Work {
    id: String,
    version: i32,
    site_code: String,
    code: String,
    category: String,
    name: String,
    completed_on: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Household {
    id: String,
    version: i32,
    code: String,
    head_name: String,
    head_id_number: String,
    phone: Option<String>,
    origin_village_code: String,
    site_code: String,
    persons: i64,
    registered_poor: bool,
    moved_in_on: Option<String>,
    poverty_exit_on: Option<String>,
    relapsed_on: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    id: String,
    version: i32,
    household_code: String,
    id_number: String,
    name: String,
    relation: String,
    birth_date: String,
    gender: String,
    labor_capacity: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Employment {
    id: String,
    version: i32,
    member_id_number: String,
    path: String,
    employer: String,
    location: String,
    started_on: String,
    ended_on: Option<String>,
    monthly_income_yuan: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Homestead {
    id: String,
    version: i32,
    household_code: String,
    village_code: String,
    seq: i32,
    #[serde(deserialize_with = "decimal")]
    area_mu: Option<f64>,
    exempt: bool,
    demolished_on: Option<String>,
    reclaimed_on: Option<String>,
    reclaimed_use: Option<String>,
}

fn by_key(key: &str) -> (Vec<String>, i32) {
    (vec![key.to_owned()], 0)
}

impl From<Area> for Record {
    fn from(r: Area) -> Self {
        Record {
            id: r.id,
            row: Row {
                kind: Kind::Area,
                version: r.version,
                order: by_key(&r.code),
                cells: vec![
                    r.code,
                    r.name,
                    code(&r.level),
                    text(r.parent_code.as_deref()),
                    boolean(r.poverty_village),
                    boolean(r.whole_village_relocation),
                ],
            },
        }
    }
}

impl From<Site> for Record {
    fn from(r: Site) -> Self {
        Record {
            id: r.id,
            row: Row {
                kind: Kind::Site,
                version: r.version,
                order: by_key(&r.code),
                cells: vec![
                    r.code,
                    r.name,
                    r.township_code,
                    code(&r.placement),
                    code(&r.setting),
                    number(Some(r.planned_households)),
                    number(Some(r.planned_persons)),
                    number(r.latitude),
                    number(r.longitude),
                    text(r.construction_started_on.as_deref()),
                ],
            },
        }
    }
}

impl From<Work> for Record {
    fn from(r: Work) -> Self {
        Record {
            id: r.id,
            row: Row {
                kind: Kind::SiteWork,
                version: r.version,
                order: by_key(&r.code),
                cells: vec![
                    r.site_code,
                    r.code,
                    code(&r.category),
                    r.name,
                    text(r.completed_on.as_deref()),
                ],
            },
        }
    }
}

impl From<Household> for Record {
    fn from(r: Household) -> Self {
        Record {
            id: r.id,
            row: Row {
                kind: Kind::Household,
                version: r.version,
                order: by_key(&r.code),
                cells: vec![
                    r.code,
                    r.head_name,
                    r.head_id_number,
                    text(r.phone.as_deref()),
                    r.origin_village_code,
                    r.site_code,
                    number(Some(r.persons)),
                    boolean(r.registered_poor),
                    text(r.moved_in_on.as_deref()),
                    text(r.poverty_exit_on.as_deref()),
                    text(r.relapsed_on.as_deref()),
                ],
            },
        }
    }
}

impl From<Member> for Record {
    fn from(r: Member) -> Self {
        Record {
            id: r.id,
            row: Row {
                kind: Kind::Member,
                version: r.version,
                order: by_key(&r.id_number),
                cells: vec![
                    r.household_code,
                    r.id_number,
                    r.name,
                    code(&r.relation),
                    r.birth_date,
                    code(&r.gender),
                    code(&r.labor_capacity),
                ],
            },
        }
    }
}

impl From<Employment> for Record {
    fn from(r: Employment) -> Self {
        let path = code(&r.path);
        Record {
            id: r.id,
            row: Row {
                kind: Kind::Employment,
                version: r.version,
                order: (
                    vec![
                        r.member_id_number.clone(),
                        path.clone(),
                        r.employer.clone(),
                        r.started_on.clone(),
                    ],
                    0,
                ),
                cells: vec![
                    r.member_id_number,
                    path,
                    r.employer,
                    code(&r.location),
                    r.started_on,
                    text(r.ended_on.as_deref()),
                    number(r.monthly_income_yuan),
                ],
            },
        }
    }
}

impl From<Homestead> for Record {
    fn from(r: Homestead) -> Self {
        Record {
            id: r.id,
            row: Row {
                kind: Kind::Homestead,
                version: r.version,
                order: (
                    vec![r.household_code.clone(), r.village_code.clone()],
                    r.seq,
                ),
                cells: vec![
                    r.household_code,
                    r.village_code,
                    number(r.area_mu),
                    boolean(r.exempt),
                    text(r.demolished_on.as_deref()),
                    text(r.reclaimed_on.as_deref()),
                    opt_code(r.reclaimed_use.as_deref()),
                ],
            },
        }
    }
}

/// A record of the change feed (`record` of a change): its `__typename` says which.
pub fn from_node(raw: &RawValue) -> Result<Option<Record>, serde_json::Error> {
    #[derive(Deserialize)]
    struct Typename {
        #[serde(rename = "__typename")]
        typename: String,
    }
    let text = raw.get();
    let Typename { typename } = serde_json::from_str(text)?;
    Ok(Some(match typename.as_str() {
        "Area" => serde_json::from_str::<Area>(text)?.into(),
        "ResettlementSite" => serde_json::from_str::<Site>(text)?.into(),
        "SiteWork" => serde_json::from_str::<Work>(text)?.into(),
        "Household" => serde_json::from_str::<Household>(text)?.into(),
        "Member" => serde_json::from_str::<Member>(text)?.into(),
        "Employment" => serde_json::from_str::<Employment>(text)?.into(),
        "Homestead" => serde_json::from_str::<Homestead>(text)?.into(),
        _ => return Ok(None),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_homestead_becomes_the_row_export_writes() -> Result<(), serde_json::Error> {
        let raw: Box<RawValue> = serde_json::from_str(
            r#"{"__typename":"Homestead","id":"x","version":2,"householdCode":"H01",
                "villageCode":"522732102201","seq":1,"areaMu":0.35,"exempt":false,
                "demolishedOn":"2019-08-01","reclaimedOn":null,"reclaimedUse":null}"#,
        )?;
        let record = from_node(&raw)?.map(|r| r.row.cells);
        assert_eq!(
            record,
            Some(
                ["H01", "522732102201", "0.35", "false", "2019-08-01", "", ""]
                    .map(String::from)
                    .to_vec()
            )
        );
        Ok(())
    }
}
