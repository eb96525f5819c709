//! Masked forms of personal data (CONTRACT §4): what a principal without the `pii` grant sees.

/// An ID number with its first and last four characters kept: `1407**********123X`.
pub fn id_number(raw: &str) -> String {
    keep_ends(raw, 4, 4)
}

/// A phone number with its first three and last four digits kept: `138****5678`.
pub fn phone(raw: &str) -> String {
    keep_ends(raw, 3, 4)
}

/// A name with the surname (first character) kept: `王**`.
pub fn name(raw: &str) -> String {
    let mut chars = raw.chars();
    match chars.next() {
        None => String::new(),
        Some(first) => {
            let rest = chars.count().max(1);
            format!("{first}{}", "*".repeat(rest))
        }
    }
}

fn keep_ends(raw: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = raw.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_numbers_keep_four_at_each_end() {
        assert_eq!(id_number("14072519800101123X"), "1407**********123X");
    }

    #[test]
    fn phones_keep_three_and_four() {
        assert_eq!(phone("13812345678"), "138****5678");
    }

    #[test]
    fn names_keep_the_surname() {
        assert_eq!(name("王小明"), "王**");
        assert_eq!(name("李四"), "李*");
        assert_eq!(name("欧"), "欧*");
    }

    #[test]
    fn short_values_are_masked_whole() {
        assert_eq!(phone("1234567"), "*******");
        assert_eq!(id_number(""), "");
    }
}
