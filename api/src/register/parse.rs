//! Cell parsers. Each returns the value or the reason the cell breaks the contract, worded for
//! the clerk who has to fix the file.

use crate::domain::rules;
use chrono::NaiveDate;
use entity::enums::{
    AreaLevel, EmploymentLocation, EmploymentPath, Gender, LaborCapacity, Placement, ReclaimedUse,
    Relation, SiteSetting, WorkCategory,
};

/// A parsed cell, or why it is not acceptable.
pub(crate) type Parsed<T> = Result<T, String>;

/// An ISO 8601 calendar date written as `YYYY-MM-DD`.
pub(crate) fn date(s: &str) -> Parsed<NaiveDate> {
    let b = s.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    let parsed = shaped
        .then(|| {
            NaiveDate::from_ymd_opt(
                s[0..4].parse().ok()?,
                s[5..7].parse().ok()?,
                s[8..10].parse().ok()?,
            )
        })
        .flatten();
    parsed.ok_or_else(|| format!("\"{s}\" is not a date (expected YYYY-MM-DD)"))
}

/// `true` or `false`.
pub(crate) fn boolean(s: &str) -> Parsed<bool> {
    match s {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("\"{s}\" is not a boolean (expected true or false)")),
    }
}

/// A whole number of at least `min` (0 or 1), written in plain digits.
pub(crate) fn whole(min: i32) -> impl Fn(&str) -> Parsed<i32> {
    move |s| {
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse::<i64>().ok())
            .flatten()
            .and_then(|n| rules::whole(n, min).ok())
            .ok_or_else(|| rules::not_whole(s, min))
    }
}

/// A finite decimal number.
fn decimal(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// A homestead's area in mu (see [`rules::homestead_area`]).
pub(crate) fn homestead_area(s: &str) -> Parsed<f64> {
    match decimal(s) {
        Some(x) => rules::homestead_area(x).map_err(|_| rules::not_homestead_area(x, s)),
        None => Err(rules::not_positive_decimal(s)),
    }
}

/// Decimal degrees of latitude.
pub(crate) fn latitude(s: &str) -> Parsed<f64> {
    decimal(s)
        .and_then(|x| rules::latitude(x).ok())
        .ok_or_else(|| rules::not_latitude(s))
}

/// Decimal degrees of longitude.
pub(crate) fn longitude(s: &str) -> Parsed<f64> {
    decimal(s)
        .and_then(|x| rules::longitude(x).ok())
        .ok_or_else(|| rules::not_longitude(s))
}

/// An administrative division code: 6, 9 or 12 digits.
pub(crate) fn division_code(s: &str) -> Parsed<()> {
    if matches!(s.len(), 6 | 9 | 12) && s.bytes().all(|c| c.is_ascii_digit()) {
        Ok(())
    } else {
        Err(format!(
            "\"{s}\" is not an administrative division code (6, 9 or 12 digits)"
        ))
    }
}

/// How many digits the code of an area of `level` has.
pub(crate) fn code_digits(level: AreaLevel) -> usize {
    match level {
        AreaLevel::Province | AreaLevel::City | AreaLevel::County => 6,
        AreaLevel::Township => 9,
        AreaLevel::Village => 12,
    }
}

/// Position of a level in the tree, the root's first; a parent's rank is lower than its child's.
pub(crate) fn level_rank(level: AreaLevel) -> usize {
    AreaLevel::ALL
        .iter()
        .position(|l| *l == level)
        .unwrap_or(usize::MAX)
}

/// The contract's enumerations, parsed from their lower-case codes.
pub(crate) trait Coded: Sized {
    fn from_code(code: &str) -> Option<Self>;
    fn codes() -> String;
}

macro_rules! coded {
    ($($t:ty),+) => {$(
        impl Coded for $t {
            fn from_code(code: &str) -> Option<Self> {
                <$t>::from_code(code)
            }
            fn codes() -> String {
                <$t>::codes()
            }
        }
    )+};
}

coded!(
    AreaLevel,
    Placement,
    SiteSetting,
    WorkCategory,
    Relation,
    Gender,
    LaborCapacity,
    EmploymentPath,
    EmploymentLocation,
    ReclaimedUse
);

/// One of an enumeration's codes.
pub(crate) fn coded<E: Coded>(s: &str) -> Parsed<E> {
    E::from_code(s).ok_or_else(|| format!("\"{s}\" is not one of: {}", E::codes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_strict_iso() {
        assert_eq!(
            date("2019-06-30").ok(),
            NaiveDate::from_ymd_opt(2019, 6, 30)
        );
        for bad in [
            "2019-6-30",
            "2019/06/30",
            "2019-02-30",
            "20190630",
            " 2019-06-30",
            "2019-06-3x",
        ] {
            assert_eq!(
                date(bad),
                Err(format!("\"{bad}\" is not a date (expected YYYY-MM-DD)"))
            );
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(whole(0)("0"), Ok(0));
        assert_eq!(whole(1)("0"), Err("\"0\" is not a whole number ≥ 1".into()));
        assert_eq!(
            whole(0)("-3"),
            Err("\"-3\" is not a whole number ≥ 0".into())
        );
        assert_eq!(
            whole(0)("+3"),
            Err("\"+3\" is not a whole number ≥ 0".into())
        );
        assert_eq!(
            whole(0)("99999999999"),
            Err("\"99999999999\" is not a whole number ≥ 0".into())
        );
        assert_eq!(
            homestead_area("0"),
            Err("\"0\" is not a decimal > 0".into())
        );
        assert!(homestead_area("inf").is_err());
        assert_eq!(homestead_area("0.35"), Ok(0.35));
        assert_eq!(
            homestead_area("1e308"),
            Err("\"1e308\" mu is more than any homestead has: at most 1000 mu".into())
        );
        assert!(homestead_area("1000.01").is_err());
        assert!(homestead_area("NaN").is_err());
        assert_eq!(latitude("37.07"), Ok(37.07));
        assert!(latitude("91").is_err());
        assert!(longitude("-181").is_err());
    }

    #[test]
    fn codes_are_listed_when_unknown() {
        assert_eq!(coded::<Gender>("male"), Ok(Gender::Male));
        assert_eq!(
            coded::<Gender>("M"),
            Err("\"M\" is not one of: male, female".into())
        );
        assert_eq!(division_code("140721"), Ok(()));
        assert!(division_code("14072").is_err());
        assert!(division_code("14072110A").is_err());
    }
}
