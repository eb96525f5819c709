//! The relocation register as CSV: import and export per the interchange contract (§1).
//!
//! # What an import means
//!
//! A data set is the register's current truth for every record it names, and says nothing about
//! the records it does not name. So an import
//!
//! - inserts each row whose key is new, and updates each row whose key exists (all contract
//!   columns are replaced, `version` goes up by one, `updated_at` becomes the import time,
//!   `created_at` stays);
//! - for every household in `households.csv`, deletes its stored members and homesteads that the
//!   data set does not list (the household's rows in `members.csv` and `homesteads.csv` are all it
//!   has);
//! - for every member in `members.csv`, deletes its stored employments that the data set does not
//!   list (and a deleted member's employments go with it);
//! - leaves everything else alone: areas, sites, works and households that are not named are
//!   kept, and members, employments and homesteads whose parent is only in the register are
//!   upserted without deleting their siblings.
//!
//! Employments are matched by their natural key (member, path, employer, start date) and
//! homesteads by (household, village, seq), `seq` numbering a household's homesteads in one
//! village in data-set order from 1, so both keep their ids across imports.
//!
//! A member may move to another household. The member rules (`persons` equals the number of
//! members, exactly one `head`, whose ID is `head_id_number`) hold for the register as it will be:
//! for a household in `households.csv` that is its rows in `members.csv`; for a household only in
//! the register whose members change (it gains rows, or a member moves out) it is its stored
//! members merged with the data set's changes, and a breach names the `members.csv` row involved.
//!
//! Every rule is checked before anything is written, against the data set and against the
//! register as read inside the import's transaction, and every breach found is reported. Only a
//! data set without breaches is written, in that same transaction, with multi-row upserts in
//! dependency order.

mod dataset;
mod export;
pub use crate::domain::id_number;
mod locked;
mod lookup;
mod membership;
mod parse;
mod reader;
mod report;
pub mod spreadsheet;
pub(crate) use anju_contract::table;
mod validate;
mod write;

use crate::domain::scope::Scope;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait};
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
        write!(
            f,
            "{}:{}: {}: {}",
            self.file, self.line, self.column, self.reason
        )
    }
}

/// Why an import wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The data set breaks the contract; every breach found is listed.
    #[error("the data set has {} error(s):\n{}", .0.len(), .0.iter().map(|b| b.to_string()).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Breach>),
    /// The data set would change the figures of approved months (CONTRACT §6); every row
    /// that would is listed, and nothing was written.
    #[error("PERIOD_LOCKED: the data set changes approved months, {} row(s) refused:\n{}", .0.len(), .0.iter().map(|b| b.to_string()).collect::<Vec<_>>().join("\n"))]
    Locked(Vec<Breach>),
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// The database failed; the transaction was rolled back.
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

/// Imports the data set in `dir` in one transaction: every row lands, or nothing changes.
pub async fn import_dir(db: &DatabaseConnection, dir: &Path) -> Result<ImportSummary, ImportError> {
    let mut phase = Phases::start();
    let mut breaches = report::Breaches::default();
    let Some(set) = dataset::read(dir, &mut breaches)? else {
        return Err(ImportError::Invalid(breaches.into_sorted()));
    };
    phase.done("read and checked the files");
    let txn = db.begin().await?;
    crate::db::lock_writers(&txn).await?;
    let stale = validate::check(&txn, &set, &mut breaches).await?;
    if !breaches.is_empty() {
        txn.rollback().await?;
        return Err(ImportError::Invalid(breaches.into_sorted()));
    }
    phase.done("checked against the register");
    // Approved months stay as approved (see `domain::periods`): the locked areas' rollups are
    // compared before and after, and the rows behind a difference named.
    use crate::domain::{indicators::rollup, periods};
    let locks = periods::locks_in_force(&txn, None).await?;
    let locked_areas: Vec<String> = locks
        .iter()
        .map(|(a, _)| a.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let before = if locks.is_empty() {
        None
    } else {
        Some((
            rollup::area_rows(&txn, &locked_areas).await?,
            locked::stored(&txn, &set).await?,
        ))
    };
    let summary = write::write(&txn, &set, &stale).await?;
    phase.done("wrote the records");
    // An import may touch anything.
    rollup::refresh_all(&txn).await?;
    phase.done("computed the rollups");
    if let Some((rows, stored)) = before {
        let after = rollup::area_rows(&txn, &locked_areas).await?;
        let change = rollup::area_difference(&rows, &after);
        let violations = periods::violations(
            change
                .iter()
                .map(|(a, m, d, n, x)| (a.as_str(), m.as_str(), *d, *n, *x)),
            &locks,
        );
        if !violations.is_empty() {
            let breaches = locked::attribute(&txn, &set, &stored, &violations).await?;
            txn.rollback().await?;
            return Err(ImportError::Locked(breaches));
        }
    }
    txn.commit().await?;
    phase.done("committed");
    // Fresh planner statistics after a bulk load, so the first queries use the indexes (a
    // server that analyzes on its own would catch up only later). Best-effort: the data is in.
    if let Err(e) = db.execute_unprepared("ANALYZE").await {
        tracing::warn!(error = %e, "ANALYZE after import failed");
    }
    phase.done("analyzed");
    Ok(summary)
}

/// Logs how long each phase of an import took.
struct Phases(std::time::Instant);

impl Phases {
    fn start() -> Self {
        Self(std::time::Instant::now())
    }

    fn done(&mut self, what: &str) {
        tracing::info!(seconds = self.0.elapsed().as_secs_f64(), "import: {what}");
        self.0 = std::time::Instant::now();
    }
}

/// Writes the whole register to `dir` as the contract's seven CSV files (creating `dir` if
/// needed), and returns how many rows each file got. Every value is written exactly as stored,
/// for programs to read back; files for people to open are made with [`spreadsheet::defang`].
pub async fn export_dir(db: &DatabaseConnection, dir: &Path) -> Result<ImportSummary, ExportError> {
    export::export(db, dir, &Scope::everything()).await
}

/// Writes what `scope` sees of the register to `dir`, as [`export_dir`] writes the whole of it:
/// each file holds exactly the records of its kind that the API shows a caller of that scope
/// (CONTRACT §4), the ancestors of the scope's area among the areas. Values are written
/// unmasked.
pub async fn export_scope(
    db: &DatabaseConnection,
    dir: &Path,
    scope: &Scope,
) -> Result<ImportSummary, ExportError> {
    export::export(db, dir, scope).await
}
