//! Reads one CSV file of a data set: checks its header, then hands each row to the caller with
//! its physical line number and cells addressed by the contract's column names.

use super::report::Breaches;
use super::table::Table;
use super::ImportError;
use csv::{ByteRecord, StringRecord};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// An open file whose header holds exactly the contract's columns.
pub(crate) struct Source {
    table: &'static Table,
    path: PathBuf,
    reader: csv::Reader<BufReader<File>>,
    /// For each contract column, its position in the file.
    index: Vec<usize>,
}

fn io_error(path: &Path, source: std::io::Error) -> ImportError {
    ImportError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn csv_error(path: &Path, error: csv::Error) -> ImportError {
    let source = match error.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{other:?}")),
    };
    io_error(path, source)
}

/// Opens `table`'s file in `dir` and checks its header. Header breaches are recorded and give
/// `None`: rows under a wrong header cannot be read reliably.
pub(crate) fn open(
    dir: &Path,
    table: &'static Table,
    breaches: &mut Breaches,
) -> Result<Option<Source>, ImportError> {
    let path = dir.join(table.file);
    let file = File::open(&path).map_err(|e| io_error(&path, e))?;
    let mut buffered = BufReader::new(file);
    if buffered
        .fill_buf()
        .map_err(|e| io_error(&path, e))?
        .starts_with(UTF8_BOM)
    {
        buffered.consume(UTF8_BOM.len());
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(buffered);
    let mut header = ByteRecord::new();
    if !reader
        .read_byte_record(&mut header)
        .map_err(|e| csv_error(&path, e))?
    {
        breaches.add(
            table.file,
            1,
            "header",
            "the file is empty; it needs at least a header row",
        );
        return Ok(None);
    }
    let before = breaches.len();
    let mut names: Vec<String> = Vec::with_capacity(header.len());
    for raw in header.iter() {
        let name = String::from_utf8_lossy(raw).into_owned();
        if !table.columns.contains(&name.as_str()) {
            breaches.add(table.file, 1, &name, "unknown column");
        } else if names.contains(&name) {
            breaches.add(table.file, 1, &name, "duplicate column");
        }
        names.push(name);
    }
    let mut index = Vec::with_capacity(table.columns.len());
    for column in table.columns {
        match names.iter().position(|n| n == column) {
            Some(i) => index.push(i),
            None => breaches.add(table.file, 1, column, "missing column"),
        }
    }
    if breaches.len() > before {
        return Ok(None);
    }
    Ok(Some(Source {
        table,
        path,
        reader,
        index,
    }))
}

impl Source {
    /// Hands every data row to `each`. Rows that cannot be split into the header's cells (wrong
    /// number of cells, invalid UTF-8) are reported here and not handed on; a NUL character is
    /// reported here and removed before the row is handed on.
    pub fn rows(
        mut self,
        breaches: &mut Breaches,
        mut each: impl FnMut(&mut Row<'_>),
    ) -> Result<(), ImportError> {
        let mut raw = ByteRecord::new();
        let width = self.index.len();
        while self
            .reader
            .read_byte_record(&mut raw)
            .map_err(|e| csv_error(&self.path, e))?
        {
            let line = raw.position().map_or(0, |p| p.line());
            if raw.len() != width {
                let reason = format!("the row has {} cells but the header has {width}", raw.len());
                breaches.add(self.table.file, line, "row", reason);
                continue;
            }
            let record = match StringRecord::from_byte_record(std::mem::take(&mut raw)) {
                Ok(record) => record,
                Err(e) => {
                    breaches.add(self.table.file, line, "row", "the row is not valid UTF-8");
                    raw = e.into_byte_record();
                    continue;
                }
            };
            // PostgreSQL cannot store NUL in text: each cell holding one is reported, and the
            // row is read without it, so no statement (the register's lookups included) carries
            // it and the row's other rules still run. Nothing is written while a breach stands.
            let mut record = record;
            if record.iter().any(|cell| cell.contains('\0')) {
                for (column, position) in self.table.columns.iter().zip(&self.index) {
                    if record
                        .get(*position)
                        .is_some_and(|cell| cell.contains('\0'))
                    {
                        let reason =
                            "holds a NUL character (U+0000), which the register cannot store";
                        breaches.add(self.table.file, line, column, reason);
                    }
                }
                record = record.iter().map(|cell| cell.replace('\0', "")).collect();
            }
            let mut row = Row {
                table: self.table,
                line,
                record: &record,
                index: &self.index,
                breaches: &mut *breaches,
            };
            each(&mut row);
            raw = record.into_byte_record();
        }
        Ok(())
    }
}

/// One data row: its cells by contract column name, and a place to report what is wrong.
pub(crate) struct Row<'a> {
    table: &'static Table,
    line: u64,
    record: &'a StringRecord,
    index: &'a [usize],
    breaches: &'a mut Breaches,
}

impl Row<'_> {
    pub fn line(&self) -> u64 {
        self.line
    }

    /// The cell of `column` as written.
    pub fn raw(&self, column: &str) -> &str {
        let position = self.table.columns.iter().position(|c| *c == column);
        debug_assert!(
            position.is_some(),
            "{} has no column {column}",
            self.table.file
        );
        position
            .and_then(|p| self.record.get(self.index[p]))
            .unwrap_or("")
    }

    /// Records a breach in `column` of this row.
    pub fn breach(&mut self, column: &str, reason: impl Into<String>) {
        self.breaches
            .add(self.table.file, self.line, column, reason);
    }

    /// A required text cell, as written; an empty one is reported.
    pub fn text(&mut self, column: &str) -> String {
        let value = self.raw(column).to_owned();
        if value.is_empty() {
            self.breach(column, "a value is required");
        }
        value
    }

    /// An optional text cell.
    pub fn optional_text(&self, column: &str) -> Option<String> {
        Some(self.raw(column))
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    }

    /// A required cell parsed by `parse`; `None` (and a breach) when empty or invalid.
    pub fn value<T>(
        &mut self,
        column: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let raw = self.raw(column);
        if raw.is_empty() {
            self.breach(column, "a value is required");
            return None;
        }
        match parse(raw) {
            Ok(v) => Some(v),
            Err(reason) => {
                self.breach(column, reason);
                None
            }
        }
    }

    /// An optional cell parsed by `parse`: `Some(None)` when empty, `None` (and a breach) when
    /// invalid.
    pub fn optional<T>(
        &mut self,
        column: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<Option<T>> {
        let raw = self.raw(column);
        if raw.is_empty() {
            return Some(None);
        }
        match parse(raw) {
            Ok(v) => Some(Some(v)),
            Err(reason) => {
                self.breach(column, reason);
                None
            }
        }
    }
}
