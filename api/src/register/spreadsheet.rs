//! Cells for people: what every file a person downloads to open in a spreadsheet (bulletins,
//! lists) writes instead of the raw value.
//!
//! A spreadsheet program reads a cell that begins with `=`, `+`, `-` or `@` as a formula, and
//! one that begins with a tab or carriage return may be read as one after the program strips
//! it. A name or employer typed as `=HYPERLINK("http://…","点击")` or `@SUM(1+1)*cmd|' /C calc'!A0`
//! would then run on the reader's machine (CSV or formula injection). Following the OWASP
//! advice, such a cell is written with a single quote (`'`) in front: spreadsheets show the rest
//! as text and hide the quote.
//!
//! `anju export` does not use this: its files are the interchange format of CONTRACT §1, read
//! back by programs (`anju import`, the provincial system), and must hold every value exactly as
//! stored. They are not meant to be opened in a spreadsheet.

use std::borrow::Cow;

/// The characters that make a spreadsheet read a cell as a formula when it begins with one.
const TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `cell` as it may be shown to a person in a spreadsheet: with a `'` in front when it begins
/// with `=`, `+`, `-`, `@`, a tab or a carriage return; unchanged (and not copied) otherwise.
/// A negative number becomes text too, which is the price of never guessing.
pub fn defang(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(TRIGGERS) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// Every cell of a row, [`defang`]ed.
pub fn defang_row<'a, I>(cells: I) -> Vec<Cow<'a, str>>
where
    I: IntoIterator<Item = &'a str>,
{
    cells.into_iter().map(defang).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_evaluate_get_a_quote() {
        for (raw, shown) in [
            ("=1+1", "'=1+1"),
            ("+86 138", "'+86 138"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\t=1+1", "'\t=1+1"),
            ("\r=1+1", "'\r=1+1"),
            (
                "=HYPERLINK(\"http://evil.example\",\"点击\")",
                "'=HYPERLINK(\"http://evil.example\",\"点击\")",
            ),
            ("-12.5", "'-12.5"),
        ] {
            assert_eq!(defang(raw), shown, "{raw:?}");
        }
    }

    #[test]
    fn other_cells_are_left_as_they_are() {
        for raw in [
            "",
            "王建国",
            "阿依古丽·买买提",
            "0.35",
            "2020-06-30",
            "1407212002010001",
            "a=b",
            " =1+1",
            "'=1+1",
            "北京顺达物流有限公司",
        ] {
            assert!(
                matches!(defang(raw), Cow::Borrowed(s) if s == raw),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn a_defanged_row_written_as_csv_keeps_its_quote_inside_the_cell() {
        let mut out = csv::Writer::from_writer(Vec::new());
        let row = defang_row(["H01", "=cmd|' /C calc'!A0", "王建国", "-1"]);
        out.write_record(row.iter().map(|c| c.as_bytes())).unwrap();
        let text = String::from_utf8(out.into_inner().unwrap()).unwrap();
        assert_eq!(text, "H01,'=cmd|' /C calc'!A0,王建国,'-1\n");
        let file = format!("a,b,c,d\n{text}");
        let mut back = csv::Reader::from_reader(file.as_bytes());
        let record = back.records().next().unwrap().unwrap();
        assert_eq!(&record[1], "'=cmd|' /C calc'!A0");
    }
}
