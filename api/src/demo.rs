//! A deterministic generator of data sets shaped like Yushe county (榆社县), at any size.

use std::path::Path;

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Households to generate; 4,029 (with 9,614 people) is Yushe itself.
    pub households: usize,
    /// Seed of the random generator: the same options always give the same data set.
    pub seed: u64,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self { households: 4029, seed: 20_170_101 }
    }
}

/// Counts of what was generated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DemoSummary {
    pub areas: usize,
    pub sites: usize,
    pub households: usize,
    pub persons: usize,
}

/// Writes the data set as the contract's seven CSV files in `dir`.
pub fn write_csv(_opts: &DemoOptions, _dir: &Path) -> std::io::Result<DemoSummary> {
    todo!("demo generator")
}
