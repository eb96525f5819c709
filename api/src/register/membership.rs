//! The member rules of a household: its members number `persons`, exactly one is the `head`,
//! and the head's ID is the household's `head_id_number`.

use super::dataset::{DataSet, MemberRow};
use super::lookup::{StoredHousehold, StoredMember};
use super::report::Breaches;
use super::table::{HOUSEHOLDS, MEMBERS};
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
        if let Some(persons) = h.persons {
            if usize::try_from(persons).ok() != Some(rows.len()) {
                let reason = format!(
                    "persons is {persons}, but members.csv has {} row(s) for this household",
                    rows.len()
                );
                breaches.add(HOUSEHOLDS.file, h.line, "persons", reason);
            }
        }
        let heads: Vec<&&MemberRow> = rows
            .iter()
            .filter(|m| m.relation == Some(Relation::Head))
            .collect();
        match heads.as_slice() {
            [] => breaches.add(
                HOUSEHOLDS.file,
                h.line,
                "head_id_number",
                "no member of this household has relation head",
            ),
            [head] => {
                if head.id_number != h.head_id_number && !h.head_id_number.is_empty() {
                    let reason = format!(
                        "\"{}\" is not the ID number of the household's head (\"{}\", members.csv line {})",
                        h.head_id_number, head.id_number, head.line
                    );
                    breaches.add(HOUSEHOLDS.file, h.line, "head_id_number", reason);
                }
            }
            [first, more @ ..] => {
                for extra in more {
                    let reason = format!(
                        "household \"{}\" already has a head on line {}",
                        h.code, first.line
                    );
                    breaches.add(MEMBERS.file, extra.line, "relation", reason);
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
        if usize::try_from(household.persons).ok() != Some(members.len()) {
            report(format!(
                "would have {} member(s), but its persons is {}",
                members.len(),
                household.persons
            ));
        }
        let heads: Vec<&str> = members
            .iter()
            .filter(|(_, r)| *r == Some(Relation::Head))
            .map(|(id, _)| *id)
            .collect();
        match heads.as_slice() {
            [] => report("would have no member with relation head".to_owned()),
            [head] if *head != household.head_id_number => report(format!(
                "would have head \"{head}\", but its head_id_number is \"{}\"",
                household.head_id_number
            )),
            [_] => {}
            more => report(format!(
                "would have {} members with relation head",
                more.len()
            )),
        }
    }
}
