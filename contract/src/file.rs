//! Writing the data set's files: how values are written in cells, and a file written whole
//! (into a temporary file beside it, renamed into place when complete), so that a reader of
//! the folder never sees half a file. Export and every program that writes a data set use it,
//! so they write the same bytes for the same rows.

use crate::table::Table;
use chrono::NaiveDate;
use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

/// A date cell: ISO 8601 (`2019-06-30`), empty for none.
pub fn date(d: Option<NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_default()
}

/// A number cell in Rust's shortest round-trip form (`0.35`, `25.983`, `3200`), empty for
/// none.
pub fn number<T: ToString>(x: Option<T>) -> String {
    x.map(|x| x.to_string()).unwrap_or_default()
}

/// A text cell, empty for none.
pub fn text(s: Option<&str>) -> String {
    s.unwrap_or_default().to_owned()
}

/// A boolean cell: `true` or `false`.
pub fn boolean(b: bool) -> String {
    b.to_string()
}

/// One file of a data set, being written.
pub struct TableWriter {
    /// Taken by `finish`.
    writer: Option<csv::Writer<BufWriter<File>>>,
    temp: PathBuf,
    path: PathBuf,
    rows: usize,
}

impl TableWriter {
    /// Starts `table`'s file in `dir`, with its header row.
    pub fn create(dir: &Path, table: &Table) -> io::Result<Self> {
        let path = dir.join(table.file);
        let temp = dir.join(format!(".{}.tmp", table.file));
        let file = File::create(&temp)?;
        let mut writer = csv::Writer::from_writer(BufWriter::with_capacity(1 << 16, file));
        writer
            .write_record(table.columns)
            .map_err(io::Error::other)?;
        Ok(Self {
            writer: Some(writer),
            temp,
            path,
            rows: 0,
        })
    }

    /// The path the file takes when finished.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes one row, its cells in the table's column order.
    pub fn row<I, T>(&mut self, cells: I) -> io::Result<()>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let writer = self
            .writer
            .as_mut()
            .ok_or_else(|| io::Error::other("the file is finished"))?;
        writer.write_record(cells).map_err(io::Error::other)?;
        self.rows += 1;
        Ok(())
    }

    /// Completes the file and moves it into place, replacing any earlier one; returns the
    /// rows written.
    pub fn finish(mut self) -> io::Result<usize> {
        let writer = self
            .writer
            .take()
            .ok_or_else(|| io::Error::other("the file is finished"))?;
        let buffered = writer.into_inner().map_err(|e| e.into_error())?;
        let file = buffered.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.temp, &self.path)?;
        Ok(self.rows)
    }
}

impl Drop for TableWriter {
    fn drop(&mut self) {
        // A file abandoned half-written leaves no temporary file behind (after `finish` it is
        // gone already, and this does nothing).
        let _ = std::fs::remove_file(&self.temp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_appears_whole_with_quoted_cells() -> io::Result<()> {
        let dir = std::env::temp_dir().join(format!("anju-contract-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mut w = TableWriter::create(&dir, &crate::table::SITE_WORKS)?;
        assert!(!w.path().exists());
        w.row(["S1", "W1", "main", "a, \"b\"", &date(None)])?;
        assert_eq!(w.finish()?, 1);
        let text = std::fs::read_to_string(dir.join("site_works.csv"))?;
        assert_eq!(
            text,
            "site_code,code,category,name,completed_on\nS1,W1,main,\"a, \"\"b\"\"\",\n"
        );
        assert!(!dir.join(".site_works.csv.tmp").exists());
        std::fs::remove_dir_all(&dir)
    }
}
