//! The seven CSV writers of a generated data set, writing rows as they are made.

use anju_contract::table::{self, Table};
use chrono::{Datelike, NaiveDate};
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::Path;

/// One file, written a cell at a time.
pub(super) struct Csv {
    writer: csv::Writer<BufWriter<File>>,
    rows: usize,
}

impl Csv {
    fn create(dir: &Path, table: &Table) -> io::Result<Self> {
        let file = File::create(dir.join(table.file))?;
        let mut writer = csv::Writer::from_writer(BufWriter::with_capacity(1 << 16, file));
        writer.write_record(table.columns)?;
        Ok(Self { writer, rows: 0 })
    }

    pub fn text(&mut self, s: &str) -> io::Result<&mut Self> {
        self.writer.write_field(s)?;
        Ok(self)
    }

    pub fn opt_text(&mut self, s: Option<&str>) -> io::Result<&mut Self> {
        self.text(s.unwrap_or(""))
    }

    pub fn int(&mut self, n: u64) -> io::Result<&mut Self> {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        let mut n = n;
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.writer.write_field(&buf[i..])?;
        Ok(self)
    }

    pub fn opt_int(&mut self, n: Option<u64>) -> io::Result<&mut Self> {
        match n {
            Some(n) => self.int(n),
            None => self.text(""),
        }
    }

    pub fn boolean(&mut self, b: bool) -> io::Result<&mut Self> {
        self.text(if b { "true" } else { "false" })
    }

    /// A decimal in Rust's shortest round-trip form, as export writes it.
    pub fn decimal(&mut self, x: f64) -> io::Result<&mut Self> {
        self.text(&x.to_string())
    }

    pub fn opt_decimal(&mut self, x: Option<f64>) -> io::Result<&mut Self> {
        match x {
            Some(x) => self.decimal(x),
            None => self.text(""),
        }
    }

    pub fn date(&mut self, d: NaiveDate) -> io::Result<&mut Self> {
        self.writer.write_field(iso(d))?;
        Ok(self)
    }

    pub fn opt_date(&mut self, d: Option<NaiveDate>) -> io::Result<&mut Self> {
        match d {
            Some(d) => self.date(d),
            None => self.text(""),
        }
    }

    /// Ends the row.
    pub fn end(&mut self) -> io::Result<()> {
        self.writer.write_record(None::<&[u8]>)?;
        self.rows += 1;
        Ok(())
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    fn finish(mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

/// `YYYY-MM-DD` for years 0–9999.
pub(super) fn iso(d: NaiveDate) -> [u8; 10] {
    let mut out = *b"0000-00-00";
    let year = d.year().clamp(0, 9999) as u32;
    for (i, v) in [
        (0, year / 100),
        (2, year % 100),
        (5, d.month()),
        (8, d.day()),
    ] {
        out[i] = b'0' + (v / 10) as u8;
        out[i + 1] = b'0' + (v % 10) as u8;
    }
    out
}

/// The seven files.
pub(super) struct Sink {
    pub areas: Csv,
    pub sites: Csv,
    pub works: Csv,
    pub households: Csv,
    pub members: Csv,
    pub employments: Csv,
    pub homesteads: Csv,
}

impl Sink {
    pub fn create(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            areas: Csv::create(dir, &table::AREAS)?,
            sites: Csv::create(dir, &table::SITES)?,
            works: Csv::create(dir, &table::SITE_WORKS)?,
            households: Csv::create(dir, &table::HOUSEHOLDS)?,
            members: Csv::create(dir, &table::MEMBERS)?,
            employments: Csv::create(dir, &table::EMPLOYMENTS)?,
            homesteads: Csv::create(dir, &table::HOMESTEADS)?,
        })
    }

    pub fn finish(self) -> io::Result<()> {
        for csv in [
            self.areas,
            self.sites,
            self.works,
            self.households,
            self.members,
            self.employments,
            self.homesteads,
        ] {
            csv.finish()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_dates() {
        let d = NaiveDate::from_ymd_opt(2019, 6, 3).unwrap_or_default();
        assert_eq!(&iso(d), b"2019-06-03");
        assert_eq!(&iso(d), d.to_string().as_bytes());
    }
}
