//! Citizen identity numbers (公民身份号码) as GB 11643-1999 defines them: a 6-digit address code,
//! the 8-digit birth date, a 3-digit sequence (odd for men, even for women) and a check
//! character computed with ISO 7064 MOD 11-2.

use chrono::NaiveDate;

/// The weights of the first 17 digits (2^(18-i) mod 11).
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// The check character for each weighted sum modulo 11.
const CHECK: [u8; 11] = *b"10X98765432";

/// What a valid ID number says about its holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdInfo {
    /// The birth date encoded in characters 7–14.
    pub birth_date: NaiveDate,
    /// Whether the sequence code is odd (a man).
    pub male: bool,
}

/// The check character of the first 17 characters, or `None` when one of them is not a digit.
pub fn check_char(first17: &[u8]) -> Option<char> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (byte, weight) in first17.iter().zip(WEIGHTS) {
        if !byte.is_ascii_digit() {
            return None;
        }
        sum += u32::from(byte - b'0') * weight;
    }
    Some(char::from(CHECK[(sum % 11) as usize]))
}

/// Checks an ID number; the error says what is wrong, in words for a data clerk.
pub fn parse(id: &str) -> Result<IdInfo, String> {
    let bytes = id.as_bytes();
    if id.chars().count() != 18 || bytes.len() != 18 {
        return Err(format!(
            "\"{id}\" is not an ID number: it must have 18 characters"
        ));
    }
    if !bytes[..17].iter().all(u8::is_ascii_digit) {
        return Err(format!(
            "\"{id}\" is not an ID number: the first 17 characters must be digits"
        ));
    }
    let digits = &id[6..14];
    let number = |range: std::ops::Range<usize>| id[range].parse::<u32>().unwrap_or(0);
    let birth_date = i32::try_from(number(6..10))
        .ok()
        .and_then(|year| NaiveDate::from_ymd_opt(year, number(10..12), number(12..14)))
        .ok_or_else(|| {
            format!("\"{id}\" is not an ID number: its birth date {digits} is not a date")
        })?;
    let expected = check_char(&bytes[..17]).unwrap_or('?');
    let given = char::from(bytes[17]);
    if given != expected {
        return Err(if given.is_ascii_digit() || given == 'X' {
            format!("\"{id}\" fails the GB 11643 checksum: the last character should be {expected}")
        } else {
            format!("\"{id}\" is not an ID number: the last character must be a digit or X, and should be {expected}")
        });
    }
    let male = (bytes[16] - b'0') % 2 == 1;
    Ok(IdInfo { birth_date, male })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn check_characters_of_known_numbers() {
        // The first is the standard's own example.
        assert_eq!(check_char(b"11010519491231002"), Some('X'));
        assert_eq!(check_char(b"44052418800101001"), Some('4'));
        assert_eq!(check_char(b"14072119800101001"), Some('4'));
        assert_eq!(check_char(b"14072119800101002"), Some('2'));
        assert_eq!(check_char(b"1407211980010100A"), None);
        assert_eq!(check_char(b"1407211980"), None);
    }

    #[test]
    fn parses_a_valid_number() {
        assert_eq!(
            parse("11010519491231002X"),
            Ok(IdInfo {
                birth_date: date(1949, 12, 31),
                male: false
            })
        );
        assert_eq!(
            parse("140721198001010014"),
            Ok(IdInfo {
                birth_date: date(1980, 1, 1),
                male: true
            })
        );
    }

    #[test]
    fn explains_what_is_wrong() {
        assert_eq!(
            parse("140721198001010013"),
            Err("\"140721198001010013\" fails the GB 11643 checksum: the last character should be 4".into())
        );
        assert_eq!(
            parse("11010519491231002x"),
            Err("\"11010519491231002x\" is not an ID number: the last character must be a digit or X, and should be X"
                .into())
        );
        assert_eq!(
            parse("14072119800101001"),
            Err("\"14072119800101001\" is not an ID number: it must have 18 characters".into())
        );
        assert_eq!(
            parse("1407211980010100１2"),
            Err("\"1407211980010100１2\" is not an ID number: it must have 18 characters".into())
        );
        assert_eq!(
            parse("14072119800A010012"),
            Err("\"14072119800A010012\" is not an ID number: the first 17 characters must be digits".into())
        );
        assert_eq!(
            parse("140721198002300012"),
            Err(
                "\"140721198002300012\" is not an ID number: its birth date 19800230 is not a date"
                    .into()
            )
        );
    }

    #[test]
    fn every_check_character_is_reachable() {
        let mut seen = std::collections::BTreeSet::new();
        for seq in 0..40u32 {
            let first17 = format!("14072119800101{seq:03}");
            if let Some(c) = check_char(first17.as_bytes()) {
                seen.insert(c);
                let id = format!("{first17}{c}");
                assert!(parse(&id).is_ok(), "{id}");
            }
        }
        assert_eq!(seen.len(), 11);
    }
}
