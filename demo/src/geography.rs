//! The places of a generated data set: Shanxi province, its cities, the counties (Yushe first,
//! then synthetic ones as the size grows), their townships, villages and resettlement sites with
//! their works.

use super::names;
use super::sink::{Csv, Sink};
use super::{day, days_after};
use chrono::NaiveDate;
use entity::enums::{AreaLevel, Placement, SiteSetting, WorkCategory};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::Rng;
use std::io;

pub(super) const PROVINCE: (&str, &str) = ("140000", "山西省");

/// Shanxi's cities; Yushe lies in Jinzhong.
const CITIES: [(&str, &str); 11] = [
    ("140100", "太原市"),
    ("140200", "大同市"),
    ("140300", "阳泉市"),
    ("140400", "长治市"),
    ("140500", "晋城市"),
    ("140600", "朔州市"),
    ("140700", "晋中市"),
    ("140800", "运城市"),
    ("140900", "忻州市"),
    ("141000", "临汾市"),
    ("141100", "吕梁市"),
];
const JINZHONG: usize = 6;

/// Yushe county and its nine townships (镇 numbered from 100, 乡 from 200).
const YUSHE: (&str, &str) = ("140721", "榆社县");
const YUSHE_TOWNSHIPS: [(&str, &str); 9] = [
    ("100", "箕城镇"),
    ("101", "云竹镇"),
    ("102", "郝北镇"),
    ("103", "社城镇"),
    ("200", "河峪乡"),
    ("201", "北寨乡"),
    ("202", "西马乡"),
    ("203", "岚峪乡"),
    ("204", "讲堂乡"),
];
const YUSHE_CENTRE: (f64, f64) = (37.0712, 112.9758);

/// Synthetic county codes use the suffixes 31–99 of each city.
const FIRST_SUFFIX: usize = 31;
const SUFFIXES: usize = 99 - FIRST_SUFFIX + 1;
const MAX_CITIES: usize = 99;

/// Households per county as the data set grows, and per resettlement site.
pub(super) const HOUSEHOLDS_PER_COUNTY: usize = 4000;
const HOUSEHOLDS_PER_SITE: usize = 200;

/// A county's place in the province, decided before any of it is generated.
#[derive(Debug, Clone)]
pub(super) struct CountySlot {
    pub index: usize,
    pub city: usize,
    pub code: String,
    pub name: String,
    pub households: usize,
    pub persons: usize,
    /// Resettlement sites: at least one, at most 999 and no more than the households.
    pub sites: usize,
}

fn city(index: usize) -> (String, String) {
    match CITIES.get(index) {
        Some((code, name)) => ((*code).to_owned(), (*name).to_owned()),
        None => {
            let code = 141_200 + (index - CITIES.len()) * 100;
            (
                code.to_string(),
                format!("{}市", names::place_stem(index * 13 + 5)),
            )
        }
    }
}

/// Splits `households` (with `persons` people, and `sites` sites when given, otherwise one per
/// [`HOUSEHOLDS_PER_SITE`]) over counties of about [`HOUSEHOLDS_PER_COUNTY`] households each;
/// Yushe is always the first.
pub(super) fn counties(households: usize, persons: usize, sites: Option<usize>) -> Vec<CountySlot> {
    let max = 1 + MAX_CITIES * SUFFIXES;
    let n = ((households + HOUSEHOLDS_PER_COUNTY / 2) / HOUSEHOLDS_PER_COUNTY).clamp(1, max);
    let cities = n
        .saturating_sub(1)
        .div_ceil(SUFFIXES)
        .clamp(CITIES.len(), MAX_CITIES);
    let share = |total: usize, upto: usize| (total as u128 * upto as u128 / n as u128) as usize;
    (0..n)
        .map(|i| {
            let (city, code, name) = if i == 0 {
                (JINZHONG, YUSHE.0.to_owned(), YUSHE.1.to_owned())
            } else {
                let j = i - 1;
                let c = j % cities;
                let code = format!("{}{:02}", &city(c).0[..4], FIRST_SUFFIX + j / cities);
                (
                    c,
                    code,
                    format!(
                        "{}县",
                        names::place_stem((i * 7 + 3) % names::place_stems())
                    ),
                )
            };
            let households = share(households, i + 1) - share(households, i);
            let wanted = match sites {
                Some(total) => share(total, i + 1) - share(total, i),
                None => (households + HOUSEHOLDS_PER_SITE / 2) / HOUSEHOLDS_PER_SITE,
            };
            CountySlot {
                index: i,
                city,
                code,
                name,
                households,
                persons: share(persons, i + 1) - share(persons, i),
                sites: wanted.clamp(1, households.clamp(1, 999)),
            }
        })
        .collect()
}

/// Writes the province and the cities that have counties.
pub(super) fn write_top(sink: &mut Sink, slots: &[CountySlot]) -> io::Result<usize> {
    area(
        &mut sink.areas,
        PROVINCE.0,
        PROVINCE.1,
        AreaLevel::Province,
        None,
        (false, false),
    )?;
    let mut cities: Vec<usize> = slots.iter().map(|s| s.city).collect();
    cities.sort_unstable();
    cities.dedup();
    for c in &cities {
        let (code, name) = city(*c);
        area(
            &mut sink.areas,
            &code,
            &name,
            AreaLevel::City,
            Some(PROVINCE.0),
            (false, false),
        )?;
    }
    Ok(1 + cities.len())
}

fn area(
    out: &mut Csv,
    code: &str,
    name: &str,
    level: AreaLevel,
    parent: Option<&str>,
    (poverty, whole): (bool, bool),
) -> io::Result<()> {
    out.text(code)?
        .text(name)?
        .text(level.code())?
        .opt_text(parent)?
        .boolean(poverty)?
        .boolean(whole)?
        .end()
}

#[derive(Debug)]
pub(super) struct Township {
    pub code: String,
    pub name: String,
    /// Indexes into [`County::villages`].
    pub villages: std::ops::Range<usize>,
    pub town: bool,
}

#[derive(Debug)]
pub(super) struct Village {
    pub code: String,
    pub name: String,
    pub township: usize,
    pub poverty: bool,
    pub whole: bool,
}

#[derive(Debug)]
pub(super) struct Site {
    pub code: String,
    pub name: String,
    pub township: usize,
    pub placement: Placement,
    pub setting: SiteSetting,
    pub households: usize,
    pub persons: usize,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub started_on: Option<NaiveDate>,
    /// When the last main work was completed; `None` while one is unfinished.
    pub ready_on: Option<NaiveDate>,
}

/// One county, generated.
#[derive(Debug)]
pub(super) struct County {
    pub slot: CountySlot,
    pub townships: Vec<Township>,
    pub villages: Vec<Village>,
    pub sites: Vec<Site>,
    /// Household sizes, site by site (the first `sites[0].households` belong to site 0, …).
    pub sizes: Vec<u8>,
}

/// Generates a county's places and sites, and its households' sizes.
pub(super) fn county(rng: &mut impl Rng, slot: CountySlot) -> County {
    let yushe = slot.index == 0;
    let mut stems: Vec<usize> = (0..names::place_stems()).collect();
    stems.shuffle(rng);
    let township_names: Vec<(String, String, bool)> = if yushe {
        YUSHE_TOWNSHIPS
            .iter()
            .map(|(suffix, name)| {
                (
                    format!("{}{suffix}", slot.code),
                    (*name).to_owned(),
                    suffix.starts_with('1'),
                )
            })
            .collect()
    } else {
        let n = rng.random_range(8..=12);
        let towns = rng.random_range(3..=5);
        (0..n)
            .map(|i| {
                let town = i < towns;
                let (number, suffix) = if town {
                    (100 + i, "镇")
                } else {
                    (200 + i - towns, "乡")
                };
                let name = if i == 0 {
                    "城关镇".to_owned()
                } else {
                    format!("{}{suffix}", names::place_stem(stems[i]))
                };
                (format!("{}{number}", slot.code), name, town)
            })
            .collect()
    };

    let mut village_names: Vec<usize> = (0..names::villages()).collect();
    village_names.shuffle(rng);
    let mut townships = Vec::with_capacity(township_names.len());
    let mut villages = Vec::new();
    for (t, (code, name, town)) in township_names.into_iter().enumerate() {
        let start = villages.len();
        for k in 0..rng.random_range(22..=38) {
            let poverty = rng.random_bool(0.38);
            villages.push(Village {
                code: format!("{code}{:03}", 200 + k),
                name: names::village(village_names[villages.len() % village_names.len()]),
                township: t,
                poverty,
                whole: poverty && rng.random_bool(0.22),
            });
        }
        townships.push(Township {
            code,
            name,
            villages: start..villages.len(),
            town,
        });
    }

    let centre = if yushe {
        YUSHE_CENTRE
    } else {
        (rng.random_range(35.0..39.8), rng.random_range(110.9..113.9))
    };
    let site_count = slot.sites;
    let mut sites = Vec::with_capacity(site_count);
    let mut weights = Vec::with_capacity(site_count);
    for i in 0..site_count {
        let (site, weight) = site(rng, &slot, &townships, centre, i, site_count);
        sites.push(site);
        weights.push(weight);
    }
    let counts = apportion(slot.households, &weights);
    let sizes = sizes(rng, slot.households, slot.persons);
    let mut next = 0;
    for (site, count) in sites.iter_mut().zip(counts) {
        site.households = count;
        site.persons = sizes[next..next + count]
            .iter()
            .map(|s| usize::from(*s))
            .sum();
        next += count;
    }
    County {
        slot,
        townships,
        villages,
        sites,
        sizes,
    }
}

/// One site and its share weight of the county's households.
fn site(
    rng: &mut impl Rng,
    slot: &CountySlot,
    townships: &[Township],
    centre: (f64, f64),
    i: usize,
    count: usize,
) -> (Site, f64) {
    use SiteSetting::*;
    let setting = if i == 0 {
        CountyTown
    } else {
        *[
            CountyTown,
            MarketTown,
            MarketTown,
            CentralVillage,
            CentralVillage,
            IndustrialPark,
            TourismArea,
            Other,
        ]
        .choose(rng)
        .unwrap_or(&Other)
    };
    let towns: Vec<usize> = (1..townships.len())
        .filter(|t| townships[*t].town)
        .collect();
    let township = match setting {
        CountyTown | IndustrialPark => 0,
        MarketTown => towns.choose(rng).copied().unwrap_or(0),
        _ => rng.random_range(0..townships.len()),
    };
    let dispersed = match setting {
        CentralVillage => rng.random_bool(0.5),
        Other => rng.random_bool(0.7),
        _ => false,
    };
    // The last of five or more sites, and a few others, are still being built.
    let unfinished = (i + 1 == count && count >= 5) || (i > 0 && rng.random_bool(0.02));
    let started_on = (!dispersed || rng.random_bool(0.5))
        .then(|| days_after(day(2016, 3, 1), rng.random_range(0..800)));
    let base = started_on.unwrap_or_else(|| days_after(day(2016, 6, 1), rng.random_range(0..700)));
    let ready_on = (!unfinished).then(|| {
        days_after(base, rng.random_range(330..900)).clamp(day(2017, 3, 1), day(2020, 10, 31))
    });
    let town_name = &townships[township].name;
    let name = if dispersed {
        format!("{town_name}分散安置点{:02}", i + 1)
    } else {
        format!(
            "{town_name}{}",
            names::SITE_NAMES[(i + slot.index) % names::SITE_NAMES.len()]
        )
    };
    let located = !dispersed || rng.random_bool(0.5);
    let (latitude, longitude) = if located {
        let lat = (centre.0 * 10_000.0 + rng.random_range(-1500.0..1500.0)).round() / 10_000.0;
        let lon = (centre.1 * 10_000.0 + rng.random_range(-1500.0..1500.0)).round() / 10_000.0;
        (Some(lat), Some(lon))
    } else {
        (None, None)
    };
    let mut weight = match setting {
        CountyTown => 3.0,
        MarketTown => 1.5,
        IndustrialPark | TourismArea => 1.2,
        CentralVillage => 1.0,
        Other => 0.8,
    };
    if dispersed {
        weight *= 0.6;
    }
    if unfinished {
        weight *= 0.25;
    }
    let site = Site {
        code: format!("{}AZ{:03}", slot.code, i + 1),
        name,
        township,
        placement: if dispersed {
            Placement::Dispersed
        } else {
            Placement::Centralized
        },
        setting,
        households: 0,
        persons: 0,
        latitude,
        longitude,
        started_on,
        ready_on,
    };
    (site, weight)
}

/// Splits `total` in proportion to `weights` (largest remainders), at least one each while
/// there are enough.
fn apportion(total: usize, weights: &[f64]) -> Vec<usize> {
    let floor = usize::from(total >= weights.len());
    let rest = total - floor * weights.len();
    let sum: f64 = weights.iter().sum();
    let exact: Vec<f64> = weights.iter().map(|w| rest as f64 * w / sum).collect();
    let mut counts: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| {
        (exact[*b] - exact[*b].floor()).total_cmp(&(exact[*a] - exact[*a].floor()))
    });
    let short = rest - counts.iter().sum::<usize>();
    for i in order.into_iter().cycle().take(short) {
        counts[i] += 1;
    }
    counts.iter().map(|c| c + floor).collect()
}

/// `households` sizes from 1 to 8 adding up to exactly `persons`.
fn sizes(rng: &mut impl Rng, households: usize, persons: usize) -> Vec<u8> {
    const SHARES: [(u8, f64); 6] = [
        (1, 0.32),
        (2, 0.30),
        (3, 0.17),
        (4, 0.13),
        (5, 0.06),
        (6, 0.02),
    ];
    let mut sizes: Vec<u8> = (0..households)
        .map(|_| {
            let mut x: f64 = rng.random();
            for (size, share) in SHARES {
                if x < share {
                    return size;
                }
                x -= share;
            }
            1
        })
        .collect();
    let target = persons.clamp(households, households * 8);
    let mut sum: usize = sizes.iter().map(|s| usize::from(*s)).sum();
    while sum != target && households > 0 {
        let i = rng.random_range(0..households);
        if sum < target && sizes[i] < 8 {
            sizes[i] += 1;
            sum += 1;
        } else if sum > target && sizes[i] > 1 {
            sizes[i] -= 1;
            sum -= 1;
        }
    }
    sizes
}

/// Writes a county's areas, sites and works; returns how many areas.
pub(super) fn write_county(
    rng: &mut impl Rng,
    sink: &mut Sink,
    county: &County,
) -> io::Result<usize> {
    let (city_code, _) = city(county.slot.city);
    area(
        &mut sink.areas,
        &county.slot.code,
        &county.slot.name,
        AreaLevel::County,
        Some(&city_code),
        (false, false),
    )?;
    for t in &county.townships {
        area(
            &mut sink.areas,
            &t.code,
            &t.name,
            AreaLevel::Township,
            Some(&county.slot.code),
            (false, false),
        )?;
    }
    for v in &county.villages {
        let parent = &county.townships[v.township].code;
        area(
            &mut sink.areas,
            &v.code,
            &v.name,
            AreaLevel::Village,
            Some(parent),
            (v.poverty, v.whole),
        )?;
    }
    for site in &county.sites {
        sink.sites
            .text(&site.code)?
            .text(&site.name)?
            .text(&county.townships[site.township].code)?
            .text(site.placement.code())?
            .text(site.setting.code())?
            .int(site.households as u64)?
            .int(site.persons as u64)?
            .opt_decimal(site.latitude)?
            .opt_decimal(site.longitude)?
            .opt_date(site.started_on)?
            .end()?;
        write_works(rng, &mut sink.works, site)?;
    }
    Ok(1 + county.townships.len() + county.villages.len())
}

fn write_works(rng: &mut impl Rng, out: &mut Csv, site: &Site) -> io::Result<()> {
    let ready = site.ready_on;
    let base = ready.or(site.started_on).unwrap_or_else(|| day(2018, 6, 1));
    let mut n = 0;
    let mains = rng.random_range(1..=3);
    let groups: [(WorkCategory, &[&str], usize); 4] = [
        (WorkCategory::Main, names::MAIN_WORKS, mains),
        (
            WorkCategory::Infrastructure,
            names::INFRASTRUCTURE_WORKS,
            rng.random_range(2..=3),
        ),
        (
            WorkCategory::PublicFacility,
            names::PUBLIC_WORKS,
            rng.random_range(1..=2),
        ),
        (
            WorkCategory::Ancillary,
            names::ANCILLARY_WORKS,
            rng.random_range(1..=2),
        ),
    ];
    for (category, works, count) in groups {
        for (k, name) in works.choose_multiple(rng, count).enumerate() {
            let completed = match (category, ready) {
                // The site is ready when its last main work is; an unfinished site's last main
                // work is open.
                (WorkCategory::Main, Some(ready)) if k + 1 == count => Some(ready),
                (WorkCategory::Main, Some(ready)) => {
                    Some(days_after(ready, -rng.random_range(0..200)).max(day(2017, 1, 1)))
                }
                (WorkCategory::Main, None) if k + 1 == count => None,
                (_, None) if rng.random_bool(0.5) => None,
                (_, _) if rng.random_bool(0.08) => None,
                _ => Some(
                    days_after(base, rng.random_range(-200..200))
                        .clamp(day(2017, 1, 1), day(2020, 12, 31)),
                ),
            };
            n += 1;
            out.text(&site.code)?
                .text(&format!("{}-{n:02}", site.code))?
                .text(category.code())?
                .text(name)?
                .opt_date(completed)?
                .end()?;
        }
    }
    Ok(())
}
