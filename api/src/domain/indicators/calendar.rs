//! Month ends, the points of an indicator series.

use chrono::{Datelike, Months, NaiveDate};

/// The month ends in `[from, to]`, in order (empty when `from > to`).
pub fn month_ends(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    let mut ends = Vec::new();
    let mut month = from.with_day(1);
    while let Some(first) = month {
        let next = first.checked_add_months(Months::new(1));
        let Some(end) = next.and_then(|n| n.pred_opt()) else {
            break;
        };
        if end > to {
            break;
        }
        if end >= from {
            ends.push(end);
        }
        month = next;
    }
    ends
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn every_month_end_in_range() {
        assert_eq!(
            month_ends(d(2019, 1, 15), d(2019, 3, 31)),
            vec![d(2019, 1, 31), d(2019, 2, 28), d(2019, 3, 31)]
        );
    }

    #[test]
    fn leap_years() {
        assert_eq!(
            month_ends(d(2020, 2, 1), d(2020, 3, 1)),
            vec![d(2020, 2, 29)]
        );
        // Divisible by 100 but not 400: not a leap year; by 400: a leap year.
        assert_eq!(
            month_ends(d(2100, 2, 1), d(2100, 2, 28)),
            vec![d(2100, 2, 28)]
        );
        assert_eq!(
            month_ends(d(2000, 2, 1), d(2000, 2, 29)),
            vec![d(2000, 2, 29)]
        );
        assert_eq!(month_ends(d(2000, 2, 1), d(2000, 2, 28)), vec![]);
    }

    #[test]
    fn bounds_are_inclusive() {
        assert_eq!(
            month_ends(d(2019, 1, 31), d(2019, 1, 31)),
            vec![d(2019, 1, 31)]
        );
        assert_eq!(
            month_ends(d(2019, 1, 31), d(2019, 2, 27)),
            vec![d(2019, 1, 31)]
        );
        assert_eq!(month_ends(d(2019, 2, 1), d(2019, 2, 27)), vec![]);
    }

    #[test]
    fn across_a_year_end() {
        let ends = month_ends(d(2019, 11, 30), d(2020, 2, 29));
        assert_eq!(
            ends,
            vec![
                d(2019, 11, 30),
                d(2019, 12, 31),
                d(2020, 1, 31),
                d(2020, 2, 29)
            ]
        );
        assert_eq!(month_ends(d(2019, 1, 1), d(2019, 12, 31)).len(), 12);
    }

    #[test]
    fn empty_when_reversed() {
        assert_eq!(month_ends(d(2020, 3, 31), d(2020, 1, 31)), vec![]);
    }
}
