//! The rules one record must keep on its own, whoever writes it. The CSV import
//! (`crate::register`) and the GraphQL mutations both call these functions, so each rule of
//! CONTRACT §1 is written once and a breach reads the same whichever way the record came in.
//!
//! Each rule returns the reason a value breaks it, worded for the clerk who has to fix it; the
//! caller says where (`file:line: column` for an import, the input field for a mutation). Rules
//! that concern several columns name the column each breach belongs to, in the contract's
//! snake_case.

use super::id_number::{self, IdInfo};
use chrono::NaiveDate;
use entity::enums::{AreaLevel, ReclaimedUse, Relation};

/// A breach of a rule spanning several columns: the column it is reported at, and why.
pub type Breach = (&'static str, String);

/// A cell's value as read: `None` when the cell itself could not be read (already reported, so
/// rules that need it stay silent), `Some(None)` when it is empty.
pub type Cell<T> = Option<Option<T>>;

/// The reason `shown` is not a whole number of at least `min`.
pub fn not_whole(shown: &str, min: i32) -> String {
    format!("\"{shown}\" is not a whole number ≥ {min}")
}

/// A whole number of at least `min` (0 for counts, 1 for `persons`) that fits the register.
pub fn whole(n: i64, min: i32) -> Result<i32, String> {
    i32::try_from(n)
        .ok()
        .filter(|n| *n >= min)
        .ok_or_else(|| not_whole(&n.to_string(), min))
}

/// The largest area a homestead may have, in mu (亩; 1 mu = 666.7 m²). A rural homestead
/// (宅基地) is allotted a fraction of one mu; a thousand (some 67 hectares) is far beyond any
/// homestead with its yard, so a larger figure is a slip of the keyboard or of the unit, and it
/// would swamp the reclaimed area (`reclaimedAreaMu`) of every scope it counts in.
pub const MAX_HOMESTEAD_MU: f64 = 1000.0;

/// The reason `shown` is not a decimal greater than zero.
pub fn not_positive_decimal(shown: &str) -> String {
    format!("\"{shown}\" is not a decimal > 0")
}

/// The reason `x`, written `shown`, is not a homestead's area.
pub fn not_homestead_area(x: f64, shown: &str) -> String {
    if x.is_finite() && x > 0.0 {
        format!("\"{shown}\" mu is more than any homestead has: at most {MAX_HOMESTEAD_MU} mu")
    } else {
        not_positive_decimal(shown)
    }
}

/// A homestead's area in mu: finite, greater than zero, at most [`MAX_HOMESTEAD_MU`].
pub fn homestead_area(x: f64) -> Result<f64, String> {
    if x.is_finite() && x > 0.0 && x <= MAX_HOMESTEAD_MU {
        Ok(x)
    } else {
        Err(not_homestead_area(x, &shown(x)))
    }
}

/// A number as a clerk would write it, in scientific notation when it is huge.
fn shown(x: f64) -> String {
    if x.is_finite() && x.abs() < 1e15 {
        x.to_string()
    } else {
        format!("{x:e}")
    }
}

/// A name a person reads (a household head's or member's, a site's, a work's, an area's, an
/// employer's) is plain text: no control character (C0, DEL or C1: tab, line breaks, ESC and
/// the terminal sequences it starts, NUL…). Such characters do not belong in a name, break the
/// lists and files the name is shown in, and can rewrite a terminal that prints it. Every other
/// character, CJK text, spaces and the middle dot of minority and foreign names included, is
/// fine.
pub fn name(s: &str) -> Result<(), String> {
    match s.chars().find(|c| c.is_control()) {
        None => Ok(()),
        Some(c) => Err(format!(
            "\"{}\" holds the control character U+{:04X}: a name is plain text",
            s.escape_debug(),
            u32::from(c)
        )),
    }
}

/// Today's date in China Standard Time (UTC+8), the register's calendar.
pub fn today() -> NaiveDate {
    let now = chrono::Utc::now();
    chrono::FixedOffset::east_opt(8 * 3600)
        .map(|cst| now.with_timezone(&cst).date_naive())
        .unwrap_or_else(|| now.date_naive())
}

/// A birth date is not after `today`.
pub fn born_by(born: NaiveDate, today: NaiveDate) -> Result<(), String> {
    if born <= today {
        Ok(())
    } else {
        Err(format!("{born} is in the future (today is {today})"))
    }
}

/// The reason `shown` is not a latitude.
pub fn not_latitude(shown: &str) -> String {
    format!("\"{shown}\" is not a latitude (decimal degrees from -90 to 90)")
}

/// Decimal degrees of latitude.
pub fn latitude(x: f64) -> Result<f64, String> {
    if x.is_finite() && (-90.0..=90.0).contains(&x) {
        Ok(x)
    } else {
        Err(not_latitude(&x.to_string()))
    }
}

/// The reason `shown` is not a longitude.
pub fn not_longitude(shown: &str) -> String {
    format!("\"{shown}\" is not a longitude (decimal degrees from -180 to 180)")
}

/// Decimal degrees of longitude.
pub fn longitude(x: f64) -> Result<f64, String> {
    if x.is_finite() && (-180.0..=180.0).contains(&x) {
        Ok(x)
    } else {
        Err(not_longitude(&x.to_string()))
    }
}

/// A resident ID number with a valid GB 11643 checksum, and what it says about its holder.
pub fn id_number(id: &str) -> Result<IdInfo, String> {
    id_number::parse(id)
}

/// A member's birth date is the one in the member's ID number.
pub fn birth_date(id: &IdInfo, born: NaiveDate) -> Result<(), String> {
    if id.birth_date == born {
        Ok(())
    } else {
        Err(format!(
            "{born} differs from the birth date in the ID number ({})",
            id.birth_date
        ))
    }
}

/// A household's poverty dates: a 同步搬迁户 (`registered_poor` false) has neither an exit nor a
/// relapse; a relapse needs an exit and comes after it.
pub fn poverty_dates(
    registered_poor: Option<bool>,
    exit: Cell<NaiveDate>,
    relapse: Cell<NaiveDate>,
) -> Vec<Breach> {
    let mut breaches = Vec::new();
    if registered_poor == Some(false) {
        if let Some(Some(_)) = exit {
            breaches.push((
                "poverty_exit_on",
                "must be empty when registered_poor is false".to_owned(),
            ));
        }
        if let Some(Some(_)) = relapse {
            breaches.push((
                "relapsed_on",
                "must be empty when registered_poor is false".to_owned(),
            ));
        }
    } else if let Some(Some(relapsed)) = relapse {
        match exit {
            Some(Some(exited)) if relapsed <= exited => breaches.push((
                "relapsed_on",
                format!("{relapsed} is not after poverty_exit_on {exited}"),
            )),
            Some(None) => breaches.push((
                "relapsed_on",
                "a relapse needs a poverty_exit_on".to_owned(),
            )),
            _ => {}
        }
    }
    breaches
}

/// An employment ends (its last day worked) on or after the day it started.
pub fn employment_dates(started: NaiveDate, ended: Option<NaiveDate>) -> Result<(), String> {
    match ended {
        Some(ended) if ended < started => Err(format!("{ended} is before started_on {started}")),
        _ => Ok(()),
    }
}

/// A homestead's state: an exempt one is kept (no demolition or reclamation date); reclamation
/// needs a demolition and comes on or after it; a reclaimed use only once reclaimed.
pub fn homestead_state(
    exempt: Option<bool>,
    demolished: Cell<NaiveDate>,
    reclaimed: Cell<NaiveDate>,
    reclaimed_use: Cell<ReclaimedUse>,
) -> Vec<Breach> {
    let mut breaches = Vec::new();
    if exempt == Some(true) {
        if let Some(Some(_)) = demolished {
            breaches.push((
                "demolished_on",
                "an exempt homestead is kept: it has no demolition date".to_owned(),
            ));
        }
        if let Some(Some(_)) = reclaimed {
            breaches.push((
                "reclaimed_on",
                "an exempt homestead is kept: it has no reclamation date".to_owned(),
            ));
        }
    } else if let Some(Some(reclaimed_on)) = reclaimed {
        match demolished {
            Some(Some(demolished_on)) if reclaimed_on < demolished_on => breaches.push((
                "reclaimed_on",
                format!("{reclaimed_on} is before demolished_on {demolished_on}"),
            )),
            Some(None) => breaches.push((
                "reclaimed_on",
                "a reclaimed homestead needs a demolished_on".to_owned(),
            )),
            _ => {}
        }
    }
    if let (Some(Some(_)), Some(None)) = (reclaimed_use, reclaimed) {
        breaches.push((
            "reclaimed_use",
            "must be empty unless reclaimed_on is set".to_owned(),
        ));
    }
    breaches
}

/// An area referred to (a site's township, a household's origin village, a homestead's village)
/// is of the level the reference needs.
pub fn area_level(code: &str, level: AreaLevel, want: AreaLevel) -> Result<(), String> {
    if level == want {
        Ok(())
    } else {
        Err(format!("area \"{code}\" is a {level}, not a {want}"))
    }
}

/// How a household's members break the member rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipBreach {
    /// `persons` differs from the number of members.
    Persons { persons: i32, members: usize },
    /// No member has relation `head`.
    NoHead,
    /// The head's ID is not the household's `head_id_number`; `head` indexes the members.
    HeadIdNumber { head: usize },
    /// More than one head: `extra` indexes the second and later, `first` the first.
    ExtraHead { first: usize, extra: usize },
}

/// The member rules of one household: its members number `persons` (when known), exactly one is
/// the `head`, and the head's ID is `head_id_number` (when given). `members` are each member's
/// ID number and relation (`None` when unreadable).
pub fn membership(
    persons: Option<i32>,
    head_id_number: &str,
    members: &[(&str, Option<Relation>)],
) -> Vec<MembershipBreach> {
    let mut breaches = Vec::new();
    if let Some(persons) = persons {
        if usize::try_from(persons).ok() != Some(members.len()) {
            breaches.push(MembershipBreach::Persons {
                persons,
                members: members.len(),
            });
        }
    }
    let heads: Vec<usize> = members
        .iter()
        .enumerate()
        .filter(|(_, (_, r))| *r == Some(Relation::Head))
        .map(|(i, _)| i)
        .collect();
    match heads.as_slice() {
        [] => breaches.push(MembershipBreach::NoHead),
        [head] => {
            if members[*head].0 != head_id_number && !head_id_number.is_empty() {
                breaches.push(MembershipBreach::HeadIdNumber { head: *head });
            }
        }
        [first, more @ ..] => {
            for extra in more {
                breaches.push(MembershipBreach::ExtraHead {
                    first: *first,
                    extra: *extra,
                });
            }
        }
    }
    breaches
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    #[test]
    fn numbers_and_degrees() {
        assert_eq!(whole(0, 0), Ok(0));
        assert_eq!(whole(0, 1), Err("\"0\" is not a whole number ≥ 1".into()));
        assert_eq!(whole(-3, 0), Err("\"-3\" is not a whole number ≥ 0".into()));
        assert!(whole(i64::from(i32::MAX) + 1, 0).is_err());
        assert_eq!(
            latitude(91.0),
            Err("\"91\" is not a latitude (decimal degrees from -90 to 90)".into())
        );
        assert!(longitude(-181.0).is_err());
        assert_eq!(longitude(112.5), Ok(112.5));
    }

    #[test]
    fn homestead_areas_are_bounded() {
        assert_eq!(homestead_area(0.35), Ok(0.35));
        assert_eq!(homestead_area(MAX_HOMESTEAD_MU), Ok(MAX_HOMESTEAD_MU));
        assert_eq!(
            homestead_area(1e308),
            Err("\"1e308\" mu is more than any homestead has: at most 1000 mu".into())
        );
        assert_eq!(
            homestead_area(1000.5),
            Err("\"1000.5\" mu is more than any homestead has: at most 1000 mu".into())
        );
        assert_eq!(
            homestead_area(0.0),
            Err("\"0\" is not a decimal > 0".into())
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(homestead_area(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_plain_text() {
        for good in [
            "王建国",
            "阿依古丽·买买提",
            "Zhang San",
            "吴老太",
            "O'Neil-Smith",
            "a\u{3000}b",
        ] {
            assert_eq!(name(good), Ok(()), "{good}");
        }
        assert_eq!(
            name("王\u{1b}[31m建国"),
            Err(
                "\"王\\u{1b}[31m建国\" holds the control character U+001B: a name is plain text"
                    .into()
            )
        );
        for bad in [
            "a\tb",
            "a\nb",
            "a\rb",
            "a\u{0}",
            "a\u{7f}",
            "a\u{85}",
            "a\u{9b}31m",
            "\u{1}",
        ] {
            assert!(name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn birth_dates_are_not_in_the_future() {
        let today = day("2024-05-01");
        assert_eq!(born_by(today, today), Ok(()));
        assert_eq!(born_by(day("1938-07-07"), today), Ok(()));
        assert_eq!(
            born_by(day("2024-05-02"), today),
            Err("2024-05-02 is in the future (today is 2024-05-01)".into())
        );
    }

    #[test]
    fn poverty_dates_follow_registration() {
        let exit = Some(Some(day("2020-06-30")));
        assert_eq!(
            poverty_dates(Some(false), exit, Some(None)),
            vec![(
                "poverty_exit_on",
                "must be empty when registered_poor is false".to_owned()
            )]
        );
        assert_eq!(
            poverty_dates(Some(true), exit, Some(Some(day("2020-06-30")))),
            vec![(
                "relapsed_on",
                "2020-06-30 is not after poverty_exit_on 2020-06-30".to_owned()
            )]
        );
        assert_eq!(
            poverty_dates(Some(true), Some(None), Some(Some(day("2020-06-30"))))[0].1,
            "a relapse needs a poverty_exit_on"
        );
        assert!(poverty_dates(Some(true), exit, Some(Some(day("2020-07-01")))).is_empty());
        // An unreadable exit date says nothing about the relapse.
        assert!(poverty_dates(Some(true), None, Some(Some(day("2020-07-01")))).is_empty());
    }

    #[test]
    fn homestead_states() {
        let d = |s| Some(Some(day(s)));
        assert_eq!(
            homestead_state(Some(true), d("2019-01-01"), Some(None), Some(None)).len(),
            1
        );
        assert_eq!(
            homestead_state(Some(false), d("2019-02-01"), d("2019-01-01"), Some(None)),
            vec![(
                "reclaimed_on",
                "2019-01-01 is before demolished_on 2019-02-01".to_owned()
            )]
        );
        assert_eq!(
            homestead_state(Some(false), Some(None), d("2019-01-01"), Some(None))[0].1,
            "a reclaimed homestead needs a demolished_on"
        );
        assert_eq!(
            homestead_state(
                Some(false),
                Some(None),
                Some(None),
                Some(Some(ReclaimedUse::Forest))
            )[0]
            .0,
            "reclaimed_use"
        );
        assert!(
            homestead_state(Some(false), d("2019-01-01"), d("2019-01-01"), Some(None)).is_empty()
        );
    }

    #[test]
    fn membership_rules() {
        let head = Some(Relation::Head);
        let child = Some(Relation::Child);
        assert!(membership(Some(2), "A", &[("A", head), ("B", child)]).is_empty());
        assert_eq!(
            membership(Some(3), "A", &[("A", head), ("B", child)]),
            vec![MembershipBreach::Persons {
                persons: 3,
                members: 2
            }]
        );
        assert_eq!(
            membership(Some(1), "A", &[("B", child)]),
            vec![MembershipBreach::NoHead]
        );
        assert_eq!(
            membership(None, "A", &[("B", head)]),
            vec![MembershipBreach::HeadIdNumber { head: 0 }]
        );
        assert_eq!(
            membership(None, "A", &[("A", head), ("B", head)]),
            vec![MembershipBreach::ExtraHead { first: 0, extra: 1 }]
        );
    }
}
