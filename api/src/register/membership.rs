//! The member rules of a household: its members number `persons`, exactly one is the `head`,
//! and the head's ID is the household's `head_id_number`.

use super::dataset::{DataSet, MemberRow};
use super::lookup::{StoredHousehold, StoredMember};
use super::report::Breaches;
use super::table::{HOUSEHOLDS, MEMBERS};
use crate::domain::rules::{self, MembershipBreach};
use entity::enums::Relation;
use std::collections::{BTreeMap, HashMap, HashSet};

/// For each household in households.csv, its member rows are its members: their number is
/// `persons`, exactly one is the head, and the head's ID is `head_id_number`.
pub(crate) fn check_listed(set: &DataSet, breaches: &mut Breaches) {
    let mut by_household: HashMap<&str, Vec<&MemberRow>> = HashMap::new();
    for m in &set.members {
        by_household
            .entry(m.household_code.as_str())
            .or_default()
            .push(m);
    }
    let mut seen = HashSet::new();
    for h in &set.households {
        if !seen.insert(h.code.as_str()) {
            continue;
        }
        let rows = by_household
            .get(h.code.as_str())
            .map(Vec::as_slice)
            .unwrap_or_default();
        let relations: Vec<(&str, Option<Relation>)> = rows
            .iter()
            .map(|m| (m.id_number.as_str(), m.relation))
            .collect();
        for breach in rules::membership(h.persons, &h.head_id_number, &relations) {
            match breach {
                MembershipBreach::Persons { persons, members } => {
                    let reason = format!(
                        "persons is {persons}, but members.csv has {members} row(s) for this household"
                    );
                    breaches.add(HOUSEHOLDS.file, h.line, "persons", reason);
                }
                MembershipBreach::NoHead => breaches.add(
                    HOUSEHOLDS.file,
                    h.line,
                    "head_id_number",
                    "no member of this household has relation head",
                ),
                MembershipBreach::HeadIdNumber { head } => {
                    let head = rows[head];
                    let reason = format!(
                        "\"{}\" is not the ID number of the household's head (\"{}\", members.csv line {})",
                        h.head_id_number, head.id_number, head.line
                    );
                    breaches.add(HOUSEHOLDS.file, h.line, "head_id_number", reason);
                }
                MembershipBreach::ExtraHead { first, extra } => {
                    let reason = format!(
                        "household \"{}\" already has a head on line {}",
                        h.code, rows[first].line
                    );
                    breaches.add(MEMBERS.file, rows[extra].line, "relation", reason);
                }
            }
        }
    }
}

/// For each household only in the register whose members this data set changes, the same rules
/// on its members as they will be: the stored ones the data set leaves alone, plus its rows.
pub(crate) fn check_touched(
    set: &DataSet,
    touched: &BTreeMap<&str, Vec<u64>>,
    stored: &HashMap<String, StoredHousehold>,
    current: &[StoredMember],
    listed_members: &HashMap<&str, &MemberRow>,
    breaches: &mut Breaches,
) {
    let mut relations: HashMap<&str, Vec<(&str, Option<Relation>)>> = HashMap::new();
    for m in current {
        if touched.contains_key(m.household_code.as_str())
            && !listed_members.contains_key(m.id_number.as_str())
        {
            relations
                .entry(m.household_code.as_str())
                .or_default()
                .push((&m.id_number, Some(m.relation)));
        }
    }
    for m in &set.members {
        if touched.contains_key(m.household_code.as_str()) {
            relations
                .entry(m.household_code.as_str())
                .or_default()
                .push((&m.id_number, m.relation));
        }
    }
    for (code, lines) in touched {
        let (Some(household), Some(line)) = (stored.get(*code), lines.iter().min()) else {
            continue;
        };
        let members = relations.get(code).map(Vec::as_slice).unwrap_or_default();
        let mut report = |reason: String| {
            breaches.add(
                MEMBERS.file,
                *line,
                "household_code",
                format!("household \"{code}\" (in the register) {reason}"),
            )
        };
        let found = rules::membership(Some(household.persons), &household.head_id_number, members);
        let heads = members
            .iter()
            .filter(|(_, r)| *r == Some(Relation::Head))
            .count();
        for breach in found {
            match breach {
                MembershipBreach::Persons { persons, members } => report(format!(
                    "would have {members} member(s), but its persons is {persons}"
                )),
                MembershipBreach::NoHead => {
                    report("would have no member with relation head".to_owned())
                }
                MembershipBreach::HeadIdNumber { head } => report(format!(
                    "would have head \"{}\", but its head_id_number is \"{}\"",
                    members[head].0, household.head_id_number
                )),
                // Reported once for the household, however many heads it would have.
                MembershipBreach::ExtraHead { extra, .. } if extra == heads_last(members) => {
                    report(format!("would have {heads} members with relation head"))
                }
                MembershipBreach::ExtraHead { .. } => {}
            }
        }
    }
}

/// Index of the last member with relation head.
fn heads_last(members: &[(&str, Option<Relation>)]) -> usize {
    members
        .iter()
        .rposition(|(_, r)| *r == Some(Relation::Head))
        .unwrap_or(usize::MAX)
}
