//! The households of one county, written as they are made: each household row, then its
//! members, their employments and the household's old homesteads.

use super::geography::{County, Site};
use super::sink::{iso, Sink};
use super::{day, days_after, names};
use anju_contract::id_number;
use chrono::{Datelike, NaiveDate};
use entity::enums::{EmploymentLocation, EmploymentPath, LaborCapacity, ReclaimedUse, Relation};
use rand::seq::IndexedRandom;
use rand::Rng;
use std::collections::HashMap;
use std::io;

/// Ages are drawn as of this day (the middle of the campaign).
fn census_day() -> NaiveDate {
    day(2018, 6, 30)
}

/// One person of a household.
struct Person {
    name: String,
    id_number: [u8; 18],
    birth_date: NaiveDate,
    male: bool,
    age: i64,
    relation: Relation,
    labor: LaborCapacity,
}

/// Hands out ID numbers unique within the county: per birth date and sex, sequence codes from
/// 001 to 998 with the parity of the sex.
#[derive(Default)]
struct IdNumbers {
    issued: HashMap<(NaiveDate, bool), u16>,
}

impl IdNumbers {
    const PER_DAY: u16 = 499;

    /// An ID number for someone of `county` born on `birth_date`; `None` when that day is full.
    fn issue(&mut self, county: &str, birth_date: NaiveDate, male: bool) -> Option<[u8; 18]> {
        let count = self.issued.entry((birth_date, male)).or_insert(0);
        if *count >= Self::PER_DAY {
            return None;
        }
        let offset =
            (birth_date.num_days_from_ce().unsigned_abs() * 37 % u32::from(Self::PER_DAY)) as u16;
        let seq = 2 * ((offset + *count) % Self::PER_DAY) + if male { 1 } else { 2 };
        *count += 1;
        let mut id = [b'0'; 18];
        id[..6].copy_from_slice(county.as_bytes().get(..6)?);
        let date = iso(birth_date);
        id[6..10].copy_from_slice(&date[0..4]);
        id[10..12].copy_from_slice(&date[5..7]);
        id[12..14].copy_from_slice(&date[8..10]);
        id[14] = b'0' + (seq / 100) as u8;
        id[15] = b'0' + (seq / 10 % 10) as u8;
        id[16] = b'0' + (seq % 10) as u8;
        id[17] = id_number::check_char(&id[..17])? as u8;
        Some(id)
    }
}

/// Generates and writes the county's households, site by site.
pub(super) fn write(rng: &mut impl Rng, sink: &mut Sink, county: &County) -> io::Result<()> {
    // Households come mostly from poverty villages, most of all from whole-village relocations.
    let mut cumulative = Vec::with_capacity(county.villages.len());
    let mut total = 0.0;
    for v in &county.villages {
        total += if v.whole {
            6.0
        } else if v.poverty {
            3.0
        } else {
            0.6
        };
        cumulative.push(total);
    }
    let mut per_village = vec![0u32; county.villages.len()];
    let mut ids = IdNumbers::default();
    let mut sizes = county.sizes.iter();
    for site in &county.sites {
        for _ in 0..site.households {
            let size = sizes.next().copied().unwrap_or(1);
            let x = rng.random_range(0.0..total);
            let village = cumulative
                .partition_point(|c| *c <= x)
                .min(county.villages.len() - 1);
            per_village[village] += 1;
            let code = format!(
                "{}{:04}",
                county.villages[village].code, per_village[village]
            );
            household(rng, sink, county, site, village, &code, size, &mut ids)?;
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn household(
    rng: &mut impl Rng,
    sink: &mut Sink,
    county: &County,
    site: &Site,
    village: usize,
    code: &str,
    size: u8,
    ids: &mut IdNumbers,
) -> io::Result<()> {
    let people = members(rng, &county.slot.code, usize::from(size), ids);
    let Some(head) = people.first() else {
        return Ok(());
    };

    let moved_in_on = site
        .ready_on
        .filter(|_| rng.random_bool(0.985))
        .map(|ready| days_after(ready, rng.random_range(0..180)).min(day(2020, 12, 31)));
    let registered_poor = rng.random_bool(0.93);
    let exit = (registered_poor && rng.random_bool(if moved_in_on.is_some() { 0.97 } else { 0.5 }))
        .then(|| {
            let from = moved_in_on.unwrap_or(day(2017, 1, 1));
            days_after(from, rng.random_range(30..400)).clamp(day(2017, 3, 1), day(2020, 11, 30))
        });
    let relapsed_on = exit
        .filter(|_| rng.random_bool(0.012))
        .map(|e| days_after(e, rng.random_range(60..500)));
    let phone = rng.random_bool(0.86).then(|| {
        let second = [b'3', b'5', b'8', b'7', b'9']
            .choose(rng)
            .copied()
            .unwrap_or(b'3');
        let mut phone = vec![b'1', second];
        phone.extend((0..9).map(|_| b'0' + rng.random_range(0..10u8)));
        phone
    });

    sink.households
        .text(code)?
        .text(&head.name)?
        .text(as_str(&head.id_number))?
        .opt_text(phone.as_deref().map(as_str))?
        .text(&county.villages[village].code)?
        .text(&site.code)?
        .int(people.len() as u64)?
        .boolean(registered_poor)?
        .opt_date(moved_in_on)?
        .opt_date(exit)?
        .opt_date(relapsed_on)?
        .end()?;
    for p in &people {
        sink.members
            .text(code)?
            .text(as_str(&p.id_number))?
            .text(&p.name)?
            .text(p.relation.code())?
            .date(p.birth_date)?
            .text(if p.male { "male" } else { "female" })?
            .text(p.labor.code())?
            .end()?;
        employments(rng, sink, county, village, p)?;
    }
    homesteads(rng, sink, county, village, code, moved_in_on)
}

fn as_str(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or("")
}

/// The people of a household of `size`: the head first.
fn members(rng: &mut impl Rng, county: &str, size: usize, ids: &mut IdNumbers) -> Vec<Person> {
    let head_male = rng.random_bool(0.82);
    let head_age: i64 = match size {
        1 => rng.random_range(48..=88),
        2 => rng.random_range(30..=80),
        _ => rng.random_range(28..=62),
    };
    let head_surname = names::surname(rng);
    let mut plan: Vec<(Relation, bool, i64)> = vec![(Relation::Head, head_male, head_age)];
    let mut spouse_surname = None;
    if size > 1 && rng.random_bool(0.85) {
        let age = (head_age + rng.random_range(-6..=6)).max(20);
        plan.push((Relation::Spouse, !head_male, age));
        spouse_surname = Some(names::surname(rng));
    }
    if plan.len() < size && head_age <= 62 && rng.random_bool(0.3) {
        plan.push((
            Relation::Parent,
            rng.random_bool(0.4),
            (head_age + rng.random_range(22..=32)).min(96),
        ));
    }
    while plan.len() < size {
        if head_age >= 58 && rng.random_bool(0.35) {
            plan.push((
                Relation::Other,
                rng.random_bool(0.5),
                rng.random_range(0..=14),
            ));
        } else {
            plan.push((
                Relation::Child,
                rng.random_bool(0.52),
                (head_age - rng.random_range(20..=38)).max(0),
            ));
        }
    }
    // Children carry the father's surname.
    let family = if head_male {
        head_surname
    } else {
        spouse_surname.unwrap_or(head_surname)
    };

    let mut people = Vec::with_capacity(size);
    for (relation, male, age) in plan {
        let surname = match relation {
            Relation::Head => head_surname,
            Relation::Spouse => spouse_surname.unwrap_or(head_surname),
            Relation::Parent if male && head_male => head_surname,
            Relation::Parent => names::surname(rng),
            Relation::Child | Relation::Other => family,
        };
        let mut birth_date = days_after(census_day(), -(age * 365 + rng.random_range(0..365)));
        let id_number = loop {
            if let Some(id) = ids.issue(county, birth_date, male) {
                break id;
            }
            birth_date = days_after(birth_date, 1);
        };
        let age = i64::from(census_day().year() - birth_date.year());
        people.push(Person {
            name: names::person(rng, surname, male),
            id_number,
            birth_date,
            male,
            age,
            relation,
            labor: labor(rng, age),
        });
    }
    people
}

fn labor(rng: &mut impl Rng, age: i64) -> LaborCapacity {
    let x: f64 = rng.random();
    let (full, partial) = match age {
        ..16 => (0.0, 0.0),
        16..=59 => (0.80, 0.12),
        60..=69 => (0.12, 0.50),
        _ => (0.0, 0.20),
    };
    if x < full {
        LaborCapacity::Full
    } else if x < full + partial {
        LaborCapacity::Partial
    } else {
        LaborCapacity::None
    }
}

/// A labourer's jobs: most have one, some ended, and some of those found another.
fn employments(
    rng: &mut impl Rng,
    sink: &mut Sink,
    county: &County,
    village: usize,
    p: &Person,
) -> io::Result<()> {
    let chance = match p.labor {
        LaborCapacity::Full => 0.78,
        LaborCapacity::Partial => 0.5,
        LaborCapacity::None => 0.0,
    };
    if !(16..=64).contains(&p.age) || !rng.random_bool(chance) {
        return Ok(());
    }
    let mut started_on = days_after(day(2016, 9, 1), rng.random_range(0..1750));
    loop {
        let x: f64 = rng.random();
        let path = match p.labor {
            LaborCapacity::Full if x < 0.35 => EmploymentPath::DirectedExport,
            LaborCapacity::Full if x < 0.70 => EmploymentPath::Local,
            LaborCapacity::Full if x < 0.80 => EmploymentPath::HomeFlexible,
            LaborCapacity::Full => EmploymentPath::PublicWelfarePost,
            _ if x < 0.5 => EmploymentPath::PublicWelfarePost,
            _ if x < 0.8 => EmploymentPath::HomeFlexible,
            _ => EmploymentPath::Local,
        };
        let pick = |rng: &mut dyn rand::RngCore, list: &[&'static str]| {
            list.choose(rng).copied().unwrap_or("")
        };
        let (employer, location, income) = match path {
            EmploymentPath::DirectedExport => {
                if rng.random_bool(0.6) {
                    let employer = format!(
                        "{}{}",
                        pick(rng, names::EXPORT_CITIES_OUT),
                        pick(rng, names::COMPANIES)
                    );
                    (
                        employer,
                        EmploymentLocation::OutOfProvince,
                        rng.random_range(64..=130),
                    )
                } else {
                    let employer = format!(
                        "{}{}",
                        pick(rng, names::EXPORT_CITIES_IN),
                        pick(rng, names::COMPANIES)
                    );
                    (
                        employer,
                        EmploymentLocation::InProvince,
                        rng.random_range(60..=110),
                    )
                }
            }
            EmploymentPath::Local => {
                let location = if rng.random_bool(0.85) {
                    EmploymentLocation::InCounty
                } else {
                    EmploymentLocation::InProvince
                };
                (
                    format!("{}{}", county.slot.name, pick(rng, names::LOCAL_EMPLOYERS)),
                    location,
                    rng.random_range(36..=76),
                )
            }
            EmploymentPath::HomeFlexible => (
                pick(rng, names::HOME_WORK).to_owned(),
                EmploymentLocation::InCounty,
                rng.random_range(12..=44),
            ),
            EmploymentPath::PublicWelfarePost => {
                let employer = format!(
                    "{}{}",
                    county.villages[village].name,
                    pick(rng, names::WELFARE_POSTS)
                );
                (
                    employer,
                    EmploymentLocation::InCounty,
                    rng.random_range(10..=20),
                )
            }
        };
        let ended_on = rng.random_bool(0.22).then(|| {
            days_after(started_on, rng.random_range(60..720))
                .min(day(2021, 12, 31))
                .max(started_on)
        });
        let income = rng.random_bool(0.9).then_some(income * 50);
        sink.employments
            .text(as_str(&p.id_number))?
            .text(path.code())?
            .text(&employer)?
            .text(location.code())?
            .date(started_on)?
            .opt_date(ended_on)?
            .opt_int(income)?
            .end()?;
        match ended_on {
            Some(ended) if rng.random_bool(0.5) => {
                started_on = days_after(ended, rng.random_range(10..200))
            }
            _ => return Ok(()),
        }
    }
}

/// The household's old homesteads: mostly one in the origin village, some a second one there or
/// in a neighbouring village; most demolished, many reclaimed, a few legally kept.
fn homesteads(
    rng: &mut impl Rng,
    sink: &mut Sink,
    county: &County,
    village: usize,
    household: &str,
    moved_in_on: Option<NaiveDate>,
) -> io::Result<()> {
    let x: f64 = rng.random();
    let count = if x < 0.03 {
        0
    } else if x < 0.85 {
        1
    } else {
        2
    };
    let township = &county.townships[county.villages[village].township];
    for k in 0..count {
        let at = if k == 0 || rng.random_bool(0.55) {
            village
        } else {
            rng.random_range(township.villages.clone())
        };
        let exempt = rng.random_bool(0.04);
        let demolished_on = match moved_in_on {
            Some(moved) if !exempt && rng.random_bool(0.94) => {
                Some(days_after(moved, rng.random_range(30..400)).min(day(2020, 12, 31)))
            }
            _ => None,
        };
        let reclaimed_on = demolished_on.filter(|_| rng.random_bool(0.78)).map(|d| {
            days_after(d, rng.random_range(20..360))
                .min(day(2021, 10, 31))
                .max(d)
        });
        let reclaimed_use = reclaimed_on.map(|_| {
            let x: f64 = rng.random();
            if x < 0.68 {
                ReclaimedUse::Cropland
            } else if x < 0.84 {
                ReclaimedUse::Forest
            } else if x < 0.93 {
                ReclaimedUse::Grassland
            } else {
                ReclaimedUse::Other
            }
        });
        sink.homesteads
            .text(household)?
            .text(&county.villages[at].code)?
            .decimal(f64::from(rng.random_range(12..=65u32)) / 100.0)?
            .boolean(exempt)?
            .opt_date(demolished_on)?
            .opt_date(reclaimed_on)?
            .opt_text(reclaimed_use.map(ReclaimedUse::code))?
            .end()?;
    }
    Ok(())
}
