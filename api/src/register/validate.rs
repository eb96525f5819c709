//! The rules that span rows, files and the database: unique keys, references, area levels, the
//! single root, and the member rules of each household, checked against the register as it
//! will be once the data set is written. Also works out what the write must delete.

use super::dataset::{DataSet, EmploymentKey, EmploymentRow, HomesteadKey};
use super::lookup::{self, StoredMember};
use super::membership;
use super::parse::level_rank;
use super::report::Breaches;
use super::table::{AREAS, EMPLOYMENTS, HOMESTEADS, HOUSEHOLDS, MEMBERS, SITES, SITE_WORKS};
use crate::domain::rules;
use entity::enums::AreaLevel;
use entity::{area, employment, homestead, household, member, site, site_work};
use sea_orm::{ConnectionTrait, DbErr};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The tables that held no row when the data set was checked. An import holds the writers' lock,
/// so they hold none until it writes them.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Empty {
    pub areas: bool,
    pub sites: bool,
    pub site_works: bool,
    pub households: bool,
    pub members: bool,
    pub employments: bool,
    pub homesteads: bool,
}

/// What the write must know of the register as checked: the records the data set replaces, to
/// be deleted once it is written, and the tables that are still empty.
#[derive(Debug, Default)]
pub(crate) struct Stale {
    /// The tables that held no row.
    pub empty: Empty,
    /// Employments of the data set's members (or of stale members) that it no longer lists.
    pub employment_ids: Vec<i64>,
    /// Homesteads of the data set's households that it no longer lists.
    pub homestead_ids: Vec<i64>,
    /// Members of the data set's households that it no longer lists.
    pub member_ids: Vec<String>,
}

/// Indexes rows by key, reporting every repeated key at the repeating row.
fn unique<'a, R>(
    rows: &'a [R],
    key: impl Fn(&R) -> &str,
    line: impl Fn(&R) -> u64,
    (file, column, what): (&str, &str, &str),
    breaches: &mut Breaches,
) -> HashMap<&'a str, &'a R> {
    let mut index: HashMap<&str, &R> = HashMap::with_capacity(rows.len());
    for row in rows {
        let k = key(row);
        if k.is_empty() {
            continue;
        }
        match index.get(k) {
            Some(first) => breaches.add(
                file,
                line(row),
                column,
                format!("duplicate {what} \"{k}\" (first on line {})", line(first)),
            ),
            None => {
                index.insert(k, row);
            }
        }
    }
    index
}

/// What is known of an area a row refers to.
enum AreaRef {
    Missing,
    /// Named in the data set with an invalid level (already reported).
    Unknown,
    Level(AreaLevel),
}

/// Checks every cross-row rule, reading what it needs from `db`, and returns what to delete.
pub(crate) async fn check<C: ConnectionTrait>(
    db: &C,
    set: &DataSet,
    breaches: &mut Breaches,
) -> Result<Stale, DbErr> {
    let areas = unique(
        &set.areas,
        |r| &r.code,
        |r| r.line,
        (AREAS.file, "code", "code"),
        breaches,
    );
    let sites = unique(
        &set.sites,
        |r| &r.code,
        |r| r.line,
        (SITES.file, "code", "code"),
        breaches,
    );
    unique(
        &set.works,
        |r| &r.code,
        |r| r.line,
        (SITE_WORKS.file, "code", "code"),
        breaches,
    );
    let households = unique(
        &set.households,
        |r| &r.code,
        |r| r.line,
        (HOUSEHOLDS.file, "code", "code"),
        breaches,
    );
    let members = unique(
        &set.members,
        |r| &r.id_number,
        |r| r.line,
        (MEMBERS.file, "id_number", "ID number"),
        breaches,
    );
    let employment_keys = unique_employments(&set.employments, breaches);

    // What the database holds about the keys named here. A fresh register skips the lookups.
    let empty = Empty {
        areas: lookup::is_empty::<area::Entity, _>(db).await?,
        sites: lookup::is_empty::<site::Entity, _>(db).await?,
        site_works: lookup::is_empty::<site_work::Entity, _>(db).await?,
        households: lookup::is_empty::<household::Entity, _>(db).await?,
        members: lookup::is_empty::<member::Entity, _>(db).await?,
        employments: lookup::is_empty::<employment::Entity, _>(db).await?,
        homesteads: lookup::is_empty::<homestead::Entity, _>(db).await?,
    };

    let mut area_codes: Vec<&str> = areas.keys().copied().collect();
    let referenced = set
        .areas
        .iter()
        .filter_map(|r| r.parent_code.as_deref())
        .chain(set.sites.iter().map(|r| r.township_code.as_str()))
        .chain(
            set.households
                .iter()
                .map(|r| r.origin_village_code.as_str()),
        )
        .chain(set.homesteads.iter().map(|r| r.village_code.as_str()));
    area_codes.extend(missing(referenced, |k| areas.contains_key(k)));
    let (stored_levels, stored_roots) = if empty.areas {
        (HashMap::new(), Vec::new())
    } else {
        (
            lookup::area_levels(db, &area_codes).await?,
            lookup::roots(db).await?,
        )
    };
    let site_refs = set
        .works
        .iter()
        .map(|r| r.site_code.as_str())
        .chain(set.households.iter().map(|r| r.site_code.as_str()));
    let site_codes = missing(site_refs, |k| sites.contains_key(k));
    let stored_sites = if site_codes.is_empty() {
        HashSet::new()
    } else {
        lookup::sites(db, &site_codes).await?
    };

    // Stored members: those of the listed households (the data set replaces them), then those
    // of its members and of its employments' members found elsewhere (a member may move).
    let listed: Vec<&str> = households.keys().copied().collect();
    let of_listed = if empty.members {
        Vec::new()
    } else {
        lookup::members_of(db, &listed).await?
    };
    let found: HashSet<&str> = of_listed.iter().map(|m| m.id_number.as_str()).collect();
    let others = missing(
        set.members
            .iter()
            .map(|r| r.id_number.as_str())
            .chain(set.employments.iter().map(|r| r.member_id_number.as_str())),
        |k| found.contains(k),
    );
    let by_id = if empty.members || others.is_empty() {
        Vec::new()
    } else {
        lookup::members_by_id(db, &others).await?
    };
    let stored_members: HashMap<&str, &StoredMember> = of_listed
        .iter()
        .chain(&by_id)
        .map(|m| (m.id_number.as_str(), m))
        .collect();

    // Households outside households.csv whose members change: those receiving members.csv rows,
    // and those a member moves out of.
    let mut touched: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for m in &set.members {
        if !households.contains_key(m.household_code.as_str()) && !m.household_code.is_empty() {
            touched.entry(&m.household_code).or_default().push(m.line);
        }
        if let Some(old) = stored_members.get(m.id_number.as_str()) {
            if old.household_code != m.household_code
                && !households.contains_key(old.household_code.as_str())
            {
                touched.entry(&old.household_code).or_default().push(m.line);
            }
        }
    }
    let mut household_codes: Vec<&str> = touched.keys().copied().collect();
    household_codes.extend(missing(
        set.homesteads.iter().map(|r| r.household_code.as_str()),
        |k| households.contains_key(k) || touched.contains_key(k),
    ));
    let stored_households = if empty.households || household_codes.is_empty() {
        HashMap::new()
    } else {
        lookup::households(db, &household_codes).await?
    };
    let touched_codes: Vec<&str> = touched.keys().copied().collect();
    let of_touched = if empty.members || touched_codes.is_empty() {
        Vec::new()
    } else {
        lookup::members_of(db, &touched_codes).await?
    };

    let level_of = |code: &str| match areas.get(code) {
        Some(row) => row.level.map_or(AreaRef::Unknown, AreaRef::Level),
        None => stored_levels
            .get(code)
            .map_or(AreaRef::Missing, |l| AreaRef::Level(*l)),
    };
    let expect =
        |b: &mut Breaches, (file, line, column): (&str, u64, &str), code: &str, want: AreaLevel| {
            if code.is_empty() {
                return;
            }
            match level_of(code) {
                AreaRef::Missing => b.add(
                    file,
                    line,
                    column,
                    format!("no area \"{code}\" in areas.csv or the register"),
                ),
                AreaRef::Level(level) => {
                    if let Err(reason) = rules::area_level(code, level, want) {
                        b.add(file, line, column, reason);
                    }
                }
                AreaRef::Unknown => {}
            }
        };

    // Areas: levels never change, parents sit above their children, one root.
    let mut roots: Vec<String> = stored_roots
        .iter()
        .filter(|code| !areas.contains_key(code.as_str()))
        .map(|code| format!("\"{code}\" in the register"))
        .collect();
    for row in &set.areas {
        if let (Some(level), Some(stored)) = (row.level, stored_levels.get(&row.code)) {
            if level != *stored {
                let reason = format!(
                    "\"{}\" is a {stored} in the register; an area's level cannot change",
                    row.code
                );
                breaches.add(AREAS.file, row.line, "level", reason);
            }
        }
        match &row.parent_code {
            None => {
                if let Some(root) = roots.first() {
                    let reason =
                        format!("only the root has no parent_code, and the root is {root}");
                    breaches.add(AREAS.file, row.line, "parent_code", reason);
                }
                roots.push(format!("\"{}\" on line {}", row.code, row.line));
            }
            Some(parent) => match (level_of(parent), row.level) {
                (AreaRef::Missing, _) => {
                    breaches.add(
                        AREAS.file,
                        row.line,
                        "parent_code",
                        format!("no area \"{parent}\" in areas.csv or the register"),
                    );
                }
                (AreaRef::Level(above), Some(level)) if level_rank(above) >= level_rank(level) => {
                    let reason =
                        format!("\"{parent}\" is a {above}, which cannot contain a {level}");
                    breaches.add(AREAS.file, row.line, "parent_code", reason);
                }
                _ => {}
            },
        }
    }

    for row in &set.sites {
        expect(
            breaches,
            (SITES.file, row.line, "township_code"),
            &row.township_code,
            AreaLevel::Township,
        );
    }
    let site_exists =
        |code: &str| code.is_empty() || sites.contains_key(code) || stored_sites.contains(code);
    for row in &set.works {
        if !site_exists(&row.site_code) {
            let reason = format!("no site \"{}\" in sites.csv or the register", row.site_code);
            breaches.add(SITE_WORKS.file, row.line, "site_code", reason);
        }
    }
    for row in &set.households {
        expect(
            breaches,
            (HOUSEHOLDS.file, row.line, "origin_village_code"),
            &row.origin_village_code,
            AreaLevel::Village,
        );
        if !site_exists(&row.site_code) {
            let reason = format!("no site \"{}\" in sites.csv or the register", row.site_code);
            breaches.add(HOUSEHOLDS.file, row.line, "site_code", reason);
        }
    }
    let household_exists = |code: &str| {
        code.is_empty() || households.contains_key(code) || stored_households.contains_key(code)
    };
    for row in &set.members {
        if !household_exists(&row.household_code) {
            let reason = format!(
                "no household \"{}\" in households.csv or the register",
                row.household_code
            );
            breaches.add(MEMBERS.file, row.line, "household_code", reason);
        }
    }
    for row in &set.homesteads {
        if !household_exists(&row.household_code) {
            let reason = format!(
                "no household \"{}\" in households.csv or the register",
                row.household_code
            );
            breaches.add(HOMESTEADS.file, row.line, "household_code", reason);
        }
        expect(
            breaches,
            (HOMESTEADS.file, row.line, "village_code"),
            &row.village_code,
            AreaLevel::Village,
        );
    }
    for row in &set.employments {
        let id = row.member_id_number.as_str();
        if id.is_empty() || members.contains_key(id) {
            continue;
        }
        match stored_members.get(id) {
            None => breaches.add(
                EMPLOYMENTS.file,
                row.line,
                "member_id_number",
                format!("no member \"{id}\" in members.csv or the register"),
            ),
            Some(m) if households.contains_key(m.household_code.as_str()) => {
                let reason = format!(
                    "member \"{id}\" is removed by this data set: household \"{}\" is in households.csv without it",
                    m.household_code
                );
                breaches.add(EMPLOYMENTS.file, row.line, "member_id_number", reason);
            }
            Some(_) => {}
        }
    }

    membership::check_listed(set, breaches);
    membership::check_touched(
        set,
        &touched,
        &stored_households,
        &of_touched,
        &members,
        breaches,
    );

    // What the data set replaces.
    let mut stale = Stale {
        empty,
        ..Stale::default()
    };
    for m in &of_listed {
        if !members.contains_key(m.id_number.as_str()) {
            stale.member_ids.push(m.id_number.clone());
        }
    }
    // Only stored members can have stored employments.
    let mut owners: Vec<&str> = members
        .keys()
        .copied()
        .filter(|id| stored_members.contains_key(id))
        .collect();
    owners.extend(stale.member_ids.iter().map(String::as_str));
    if !empty.employments && !owners.is_empty() {
        let stale_members: HashSet<&str> = stale.member_ids.iter().map(String::as_str).collect();
        for (id, key) in lookup::employments_of(db, &owners).await? {
            if stale_members.contains(key.0.as_str()) || !employment_keys.contains(&key) {
                stale.employment_ids.push(id);
            }
        }
    }
    if !empty.homesteads && !listed.is_empty() {
        let keys: HashSet<HomesteadKey> = set.homesteads.iter().map(|r| r.key()).collect();
        for (id, key) in lookup::homesteads_of(db, &listed).await? {
            if !keys.contains(&key) {
                stale.homestead_ids.push(id);
            }
        }
    }
    Ok(stale)
}

/// The keys among `refs` that `known` does not know, each once.
fn missing<'a>(refs: impl Iterator<Item = &'a str>, known: impl Fn(&str) -> bool) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    refs.filter(|k| !k.is_empty() && !known(k) && seen.insert(*k))
        .collect()
}

/// Employments' natural keys, reporting repeats.
fn unique_employments(rows: &[EmploymentRow], breaches: &mut Breaches) -> HashSet<EmploymentKey> {
    let mut first: HashMap<EmploymentKey, u64> = HashMap::with_capacity(rows.len());
    for row in rows {
        if let Some(key) = row.key() {
            if let Some(line) = first.get(&key) {
                let reason = format!("duplicate employment: same member, path, employer and started_on as line {line}");
                breaches.add(EMPLOYMENTS.file, row.line, "member_id_number", reason);
            } else {
                first.insert(key, row.line);
            }
        }
    }
    first.into_keys().collect()
}
