//! The mirror's copy: every record it holds, by global id, with the cursor the feed resumes
//! from. It lives in the folder beside the seven files (`.mirror.json`), so a restart continues
//! where the last run stopped; the files are written from it.

use crate::records::{Kind, Record, Row};
use crate::Error;
use anju_contract::file::TableWriter;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The state file's name inside the folder.
pub const STATE_FILE: &str = ".mirror.json";

/// Raised when the state file's layout changes; a state of another format is copied afresh.
const FORMAT: u32 = 1;

/// The copy.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Store {
    format: u32,
    /// Where the feed resumes.
    pub cursor: String,
    /// Every record held, by global id.
    records: BTreeMap<String, Row>,
    /// Kinds whose file no longer matches the records.
    #[serde(skip)]
    dirty: BTreeSet<Kind>,
}

impl Store {
    /// An empty copy that follows the feed from `cursor`; every file is to be written.
    pub fn new(cursor: String) -> Store {
        Store {
            format: FORMAT,
            cursor,
            records: BTreeMap::new(),
            dirty: Kind::ALL.into_iter().collect(),
        }
    }

    /// The copy kept in `dir`, if there is one this version can continue.
    pub fn load(dir: &Path) -> Result<Option<Store>, Error> {
        let path = dir.join(STATE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        match serde_json::from_str::<Store>(&text) {
            Ok(store) if store.format == FORMAT => Ok(Some(store)),
            Ok(_) => Ok(None),
            Err(e) => {
                tracing::warn!(error = %e, "the mirror's state is unreadable; copying afresh");
                Ok(None)
            }
        }
    }

    /// The version held of record `id`.
    pub fn version(&self, id: &str) -> Option<i32> {
        self.records.get(id).map(|r| r.version)
    }

    /// Holds `record`, replacing what was held under its id.
    pub fn put(&mut self, record: Record) {
        self.dirty.insert(record.row.kind);
        if let Some(old) = self.records.insert(record.id, record.row) {
            self.dirty.insert(old.kind);
        }
    }

    /// Drops record `id`; whether it was held.
    pub fn remove(&mut self, id: &str) -> bool {
        match self.records.remove(id) {
            Some(old) => {
                self.dirty.insert(old.kind);
                true
            }
            None => false,
        }
    }

    /// How many records of each kind are held.
    pub fn counts(&self) -> BTreeMap<Kind, usize> {
        let mut counts = BTreeMap::new();
        for row in self.records.values() {
            *counts.entry(row.kind).or_insert(0) += 1;
        }
        counts
    }

    /// Writes the files of the kinds that changed, each whole and renamed into place, then
    /// the state: a crash between the two leaves a state behind the files, and replaying the
    /// feed from it converges on the same files.
    pub fn save(&mut self, dir: &Path) -> Result<(), Error> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        for kind in std::mem::take(&mut self.dirty) {
            let mut rows: Vec<&Row> = self.records.values().filter(|r| r.kind == kind).collect();
            rows.sort_by(|a, b| a.order.cmp(&b.order));
            let table = kind.table();
            let path = dir.join(table.file);
            let mut writer = TableWriter::create(dir, table).map_err(|e| Error::io(&path, e))?;
            for row in rows {
                writer.row(&row.cells).map_err(|e| Error::io(&path, e))?;
            }
            writer.finish().map_err(|e| Error::io(&path, e))?;
        }
        let path = dir.join(STATE_FILE);
        let temp = dir.join(format!("{STATE_FILE}.tmp"));
        let text = serde_json::to_vec(self).map_err(|e| Error::io(&path, e.into()))?;
        std::fs::write(&temp, text).map_err(|e| Error::io(&temp, e))?;
        std::fs::rename(&temp, &path).map_err(|e| Error::io(&path, e))?;
        Ok(())
    }
}
