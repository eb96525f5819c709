//! The relocation register as CSV: import and export per the interchange contract (§1).

use sea_orm::{DatabaseConnection, DbErr};
use std::path::Path;

/// How many records of each kind an import wrote (inserted or updated).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub areas: usize,
    pub sites: usize,
    pub site_works: usize,
    pub households: usize,
    pub members: usize,
    pub employments: usize,
    pub homesteads: usize,
}

/// One breach of the contract's rules, reported as `file:line: column: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    pub file: String,
    pub line: u64,
    pub column: String,
    pub reason: String,
}

impl std::fmt::Display for Breach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}: {}", self.file, self.line, self.column, self.reason)
    }
}

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The data set breaks the contract; every breach found is listed.
    #[error("the data set has {} error(s):\n{}", .0.len(), .0.iter().map(|b| b.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Breach>),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// The database failed; the transaction was rolled back.
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

/// Imports the data set in `dir` in one transaction: every row lands, or nothing changes.
pub async fn import_dir(_db: &DatabaseConnection, _dir: &Path) -> Result<ImportSummary, ImportError> {
    todo!("register import")
}

/// Writes the whole register to `dir` as the contract's seven CSV files.
pub async fn export_dir(_db: &DatabaseConnection, _dir: &Path) -> Result<ImportSummary, ExportError> {
    todo!("register export")
}
