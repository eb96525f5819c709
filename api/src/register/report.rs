//! Collects breaches while an import reads and checks a data set.

use super::{table, Breach};

/// Every breach found so far.
#[derive(Debug, Default)]
pub(crate) struct Breaches(Vec<Breach>);

impl Breaches {
    /// Records a breach at `file:line`, in `column`.
    pub fn add(&mut self, file: &str, line: u64, column: &str, reason: impl Into<String>) {
        self.0.push(Breach {
            file: file.to_owned(),
            line,
            column: column.to_owned(),
            reason: reason.into(),
        });
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The breaches by file (in the contract's order), line and column (in the file's contract
    /// order; other names such as `row` last); breaches of one cell keep the order they were
    /// found in.
    pub fn into_sorted(mut self) -> Vec<Breach> {
        self.0.sort_by_cached_key(|b| {
            let file = table::order(&b.file);
            let column = table::ALL
                .get(file)
                .and_then(|t| t.columns.iter().position(|c| *c == b.column))
                .unwrap_or(usize::MAX);
            (file, b.line, column)
        });
        self.0
    }
}
